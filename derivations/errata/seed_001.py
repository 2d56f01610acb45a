"""Errata of seed 001 (handwritten "Recurrent Neural Networks Notes").

The note's letters: W is the INPUT->hidden matrix (canonical U) and U the RECURRENT matrix
(canonical W), V hidden->output; the state is s_t and the output yhat_t = V s_t (+ c) has no
softmax; the per-step loss J_t is left unspecified. The numeric checks store the note's W
under the canonical key "U" and its U under "W" (as `_checks.canonical_model` names them) and
use the squared error J_t = 1/2 ||yhat_t - y_t||^2; the results checked (the chain-rule
structure) hold for any differentiable J_t.
Quotes and problem texts keep the note's letters; corrections and confirmed statements are
written in the canonical notation of NOTATION.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from derivations.errata._checks import (
    FD_FLOOR,
    SeedCatalogue,
    array_check,
    canonical_model,
    finite_difference_gradient,
    gradient_formula_check,
    is_zero_in_exp,
    sympy_residual_check,
    truth_check,
)
from derivations.errata._types import CheckOutcome, Confirmation, Erratum
from rnn_sym import format_error

SEED = "001_0b57e9a572fb520b.txt"
_CATALOGUE = SeedCatalogue(SEED)


# --------------------------------------------------------------------------------------------
# The note's model, written out plainly
# --------------------------------------------------------------------------------------------


def _model(seed: int = 0, T: int = 3) -> dict[str, np.ndarray]:
    """Note's W = key "U" (n_h x n_x), note's U = key "W" (n_h x n_h), V, b, c, s_0 = "h0",
    inputs x_1..x_T, real-valued targets y_1..y_T (key "targets")."""
    p = canonical_model(T=T, n_x=3, n_h=4, n_y=2, seed=seed)
    p["targets"] = np.random.default_rng(100 + seed).standard_normal((T, 2))
    return p


def _states(q: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """s_0, s_1, ..., s_T with s_t = tanh(W x_t + U s_{t-1} + b) (note's letters)."""
    s = [np.asarray(q["h0"], dtype=float)]
    for t in range(len(q["x"])):
        s.append(np.tanh(q["U"] @ q["x"][t] + q["W"] @ s[-1] + q["b"]))
    return s


def _output(q: Mapping[str, np.ndarray], s_t: np.ndarray) -> np.ndarray:
    return q["V"] @ s_t + q["c"]


def _step_loss(q: Mapping[str, np.ndarray], t: int) -> float:
    """J_t = 1/2 ||V s_t + c - y_t||^2 (1-based t)."""
    residual = _output(q, _states(q)[t]) - q["targets"][t - 1]
    return float(0.5 * residual @ residual)


def _total_loss(q: Mapping[str, np.ndarray]) -> float:
    return sum(_step_loss(q, t) for t in range(1, len(q["x"]) + 1))


def _ds_t_ds_k(q: Mapping[str, np.ndarray], t: int, k: int) -> np.ndarray:
    """ds_t/ds_k = J_t J_{t-1} ... J_{k+1}, J_m = diag(1 - s_m^2) U (identity when k = t)."""
    s = _states(q)
    product = np.eye(len(s[0]))
    for m in range(k + 1, t + 1):
        product = (np.diag(1 - s[m] ** 2) @ q["W"]) @ product
    return product


def _eq9_term(q: Mapping[str, np.ndarray], t: int, k: int, key: str) -> np.ndarray:
    """One term of Eq. (9)/(16) contracted to a matrix: the immediate dependence of s_k on the
    parameter, diag(1 - s_k^2) (ds_t/ds_k)^T V^T dJ_t/dyhat_t (row x_k or s_{k-1}).
    k = 0 contributes nothing: s_0 is the given initial state."""
    s = _states(q)
    if k == 0:
        return np.zeros_like(q[key])
    dj_dy = _output(q, s[t]) - q["targets"][t - 1]
    column = (1 - s[k] ** 2) * (_ds_t_ds_k(q, t, k).T @ q["V"].T @ dj_dy)
    row = q["x"][k - 1] if key == "U" else s[k - 1]
    return np.outer(column, row)


# --------------------------------------------------------------------------------------------
# Checks, one per erratum
# --------------------------------------------------------------------------------------------


def _check_autonomous() -> CheckOutcome:
    # An autonomous system applies the same map at every step; with an input it does not.
    p = _model(seed=1)
    state = p["h0"]

    def update(t: int) -> np.ndarray:  # the map s -> f(s, x(t)) applied to one fixed state
        return np.tanh(p["U"] @ p["x"][t - 1] + p["W"] @ state + p["b"])

    gap = float(np.max(np.abs(update(1) - update(2))))
    return truth_check(
        gap < 1e-12,
        gap > 0,
        f"the same state s is mapped to different next states at t = 1 and t = 2 (max "
        f"difference {gap:.3f}): the update depends on t through x(t), so the system is "
        f"non-autonomous",
    )


def _check_sigmoid_form() -> CheckOutcome:
    x = sp.Symbol("x", real=True)
    tanh_form = (sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x))
    sigmoid = 1 / (1 + sp.exp(-x))
    claim_value = (tanh_form - sigmoid).subs(x, 1).evalf(15)
    identity = sp.Matrix([tanh_form - (2 * sigmoid.subs(x, 2 * x) - 1)])
    proven = is_zero_in_exp(identity, [x])
    return truth_check(
        abs(claim_value) < 1e-12,
        proven,
        f"at x = 1: (e^x - e^-x)/(e^x + e^-x) - 1/(1+e^-x) = {sp.N(claim_value, 6)}; "
        + ("tanh x = 2 sigma(2x) - 1 proven" if proven else "identity NOT proven"),
    )


def _check_s0_depends_on_w() -> CheckOutcome:
    p = _model(seed=2)
    # s_0 is given: perturbing W (key "U") leaves it unchanged, so the k = 0 term is zero and
    # ds_2/dW needs only k = 1, 2.
    d_s0 = finite_difference_gradient(lambda q: float(np.sum(_states(q)[0])), p, "U")
    loss_2 = finite_difference_gradient(lambda q: _step_loss(q, 2), p, "U")
    two_terms = _eq9_term(p, 2, 1, "U") + _eq9_term(p, 2, 2, "U")
    error = float(np.max(np.abs(two_terms - loss_2)))
    return truth_check(
        bool(np.any(d_s0 != 0)),
        error < 1e-6,
        f"d s_0/dW = 0 exactly (max |entry| {np.max(np.abs(d_s0)):.1g}); the k = 1, 2 terms "
        f"alone give dJ_2/dW (max abs error {format_error(error, 1e-6, floor=FD_FLOOR)} against finite differences)",
    )


def _check_eq8_bound() -> CheckOutcome:
    p = _model(seed=3)

    def printed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum(_eq9_term(q, 2, k, "U") for k in range(0, 2))

    def fixed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum(_eq9_term(q, 2, k, "U") for k in range(0, 3))

    return gradient_formula_check(printed, fixed, "U", params=p, loss=lambda q: _step_loss(q, 2))


def _check_eq8_lhs() -> CheckOutcome:
    p = _model(seed=4)
    # The right-hand side (with k up to 2) is a matrix shaped like W; ds_2/dW is a 3-tensor.
    n_h, n_x = p["U"].shape
    ds2 = np.stack(
        [
            finite_difference_gradient(lambda q, i=i: float(_states(q)[2][i]), p, "U")
            for i in range(n_h)
        ]
    )
    rhs = sum(_eq9_term(p, 2, k, "U") for k in range(0, 3))
    dj2 = finite_difference_gradient(lambda q: _step_loss(q, 2), p, "U")
    lhs_claim = array_check(rhs, ds2, label="ds_2/dW")
    lhs_fixed = array_check(rhs, dj2, label="dJ_2/dW")
    return CheckOutcome(
        lhs_claim.claim_refuted,
        not lhs_fixed.claim_refuted,
        f"right-hand side has shape {rhs.shape}, ds_2/dW has shape {ds2.shape} "
        f"({n_h} x {n_h} x {n_x}); {lhs_fixed.evidence}",
    )


def _check_depends_on_v() -> CheckOutcome:
    p = _model(seed=5)
    t = 3
    d_v = finite_difference_gradient(lambda q: float(np.sum(_states(q)[t] ** 2)), p, "V")
    d_u = finite_difference_gradient(lambda q: float(np.sum(_states(q)[t] ** 2)), p, "W")
    return truth_check(
        bool(np.max(np.abs(d_v)) > 1e-9),
        bool(np.max(np.abs(d_u)) > 1e-3),
        f"d||s_3||^2/dV = 0 (max |entry| {np.max(np.abs(d_v)):.1g}): s_t does not depend on V; "
        f"d||s_3||^2/dU has max |entry| {np.max(np.abs(d_u)):.3f}: it depends on U",
    )


def _check_eq16_for_v() -> CheckOutcome:
    p = _model(seed=6)
    t = 3

    def eq16_as_v(q: Mapping[str, np.ndarray]) -> np.ndarray:
        # ds_k/dV = 0, so every term of Eq. (16) read for V vanishes.
        return np.zeros_like(q["V"])

    def fixed_v(q: Mapping[str, np.ndarray]) -> np.ndarray:
        s = _states(q)
        return np.outer(_output(q, s[t]) - q["targets"][t - 1], s[t])

    def eq16_as_u(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum(_eq9_term(q, t, k, "W") for k in range(0, t + 1))

    for_v = gradient_formula_check(
        eq16_as_v, fixed_v, "V", params=p, loss=lambda q: _step_loss(q, t)
    )
    for_u = gradient_formula_check(eq16_as_u, None, "W", params=p, loss=lambda q: _step_loss(q, t))
    return CheckOutcome(
        for_v.claim_refuted,
        for_v.correction_holds and not for_u.claim_refuted,
        f"Eq. (16) read for V: {for_v.evidence}; Eq. (16) read for U: {for_u.evidence}",
    )


def _check_standard_normal() -> CheckOutcome:
    exceed = sp.erfc(1 / sp.sqrt(2))  # P(|Z| > 1) for Z ~ N(0, 1)
    below = sp.erf(1 / sp.sqrt(2))
    proven = sp.simplify((exceed + below - 1).rewrite(sp.erf)) == 0
    samples = np.random.default_rng(20).standard_normal(40_000)
    fraction = float(np.mean(np.abs(samples) > 1))
    return truth_check(
        float(exceed) == 0.0,
        proven and abs(fraction - float(exceed)) < 0.01,
        f"P(|W_hh| > 1) = erfc(1/sqrt 2) = {float(exceed):.4f} for W_hh ~ N(0,1) "
        f"(sampled: {fraction:.4f}); P(|W_hh| < 1) = erf(1/sqrt 2) = {float(below):.4f}",
    )


def _check_relu() -> CheckOutcome:
    # Scalar ReLU RNN h_t = max(0, w_xh x_t + w_hh h_{t-1}) over 10 steps, w_hh = 0.5.
    w_hh, steps = 0.5, 10
    x = np.abs(np.random.default_rng(21).standard_normal(steps)) + 0.1

    def h_last(h0: float, w_xh: float) -> float:
        h = h0
        for t in range(steps):
            h = max(0.0, w_xh * x[t] + w_hh * h)
        return h

    def derivative(w_xh: float) -> float:
        eps = 1e-6
        return (h_last(1.0 + eps, w_xh) - h_last(1.0 - eps, w_xh)) / (2 * eps)

    active, inactive = derivative(0.3), derivative(-5.0)  # all units on / a unit switched off
    return truth_check(
        active > 0.1 and inactive > 0.1,
        abs(active - w_hh**steps) < 1e-8 and inactive == 0.0,
        f"ReLU, w_hh = 0.5, 10 steps: all units active gives dh_10/dh_0 = {active:.3g} = "
        f"0.5^10 (still vanishes); with inactive units it is {inactive:.1g} (f' = 0 blocks it)",
    )


def _check_loss_from_t0() -> CheckOutcome:
    p = _model(seed=12)
    z = len(p["x"])
    s = _states(p)

    def from_t0(q: Mapping[str, np.ndarray]) -> np.ndarray:
        # The printed sum has a t = 0 term: a loss on yhat_0 = V s_0 + c, an output the model
        # never emits and that has no target (y_1..y_z); any target other than yhat_0 itself
        # (here y_0 = 0) adds (yhat_0 - y_0) s_0^T to dJ/dV.
        terms = [np.outer(_output(q, s[0]), s[0])]
        terms += [np.outer(_output(q, s[t]) - q["targets"][t - 1], s[t]) for t in range(1, z + 1)]
        return sum(terms)

    def from_t1(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum(np.outer(_output(q, s[t]) - q["targets"][t - 1], s[t]) for t in range(1, z + 1))

    return gradient_formula_check(from_t0, from_t1, "V", params=p, loss=_total_loss)


def _check_total_vs_immediate() -> CheckOutcome:
    p = _model(seed=13)
    t = 2
    s = _states(p)
    dj_dy = _output(p, s[t]) - p["targets"][t - 1]

    def with_total_derivatives(q: Mapping[str, np.ndarray]) -> np.ndarray:
        # Eq. (7) with ds_k/dW read as the TOTAL derivative (the meaning Eq. (3) and line 182
        # give the symbol): each term is the gradient of g_k . s_k(W) with g_k held fixed.
        total = np.zeros_like(q["U"])
        for k in range(1, t + 1):
            g_k = _ds_t_ds_k(q, t, k).T @ q["V"].T @ dj_dy
            total += finite_difference_gradient(
                lambda r, g=g_k, k=k: float(g @ _states(r)[k]), q, "U"
            )
        return total

    def with_immediate_partials(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum(_eq9_term(q, t, k, "U") for k in range(1, t + 1))

    return gradient_formula_check(
        with_total_derivatives,
        with_immediate_partials,
        "U",
        params=p,
        loss=lambda q: _step_loss(q, t),
    )


def _check_shape_annotation() -> CheckOutcome:
    p = 3  # x_t in R^{p x 1} (line 290); the note's annotation holds only for p = 2
    rng = np.random.default_rng(22)
    w_xh, x_t = rng.standard_normal((p, 1)), rng.standard_normal((p, 1))
    w_hh, h_prev = np.array([[0.5]]), np.array([[0.7]])
    u = w_xh.T @ x_t + w_hh @ h_prev  # W_hh h_{t-1} is a PRODUCT of two 1 x 1 factors
    return truth_check(
        w_xh.T.shape == (1, 2) and x_t.shape == (2, 1),
        w_xh.T.shape == (1, p) and x_t.shape == (p, 1) and u.shape == (1, 1),
        f"p = {p}: W_xh^T has shape {w_xh.T.shape} and x_t {x_t.shape}, not (1, 2) and "
        f"(2, 1); the sum u has shape {u.shape}",
    )


# --------------------------------------------------------------------------------------------
# Confirmations
# --------------------------------------------------------------------------------------------


def _confirm_tanh_derivative() -> CheckOutcome:
    x = sp.Symbol("x", real=True)
    f = (sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x))
    holds = is_zero_in_exp(sp.Matrix([sp.diff(f, x) - (1 - f**2)]), [x])
    return CheckOutcome(not holds, holds, f"f'(x) - (1 - f(x)^2) cancels to 0: {holds}")


def _confirm_eq9() -> CheckOutcome:
    p = _model(seed=7)
    t = 3

    def eq9(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum(_eq9_term(q, t, k, "U") for k in range(0, t + 1))

    return gradient_formula_check(eq9, None, "U", params=p, loss=lambda q: _step_loss(q, t))


def _confirm_eq12() -> CheckOutcome:
    p = _model(seed=8)

    def eq12(q: Mapping[str, np.ndarray]) -> np.ndarray:
        s = _states(q)
        return sum(
            np.outer(_output(q, s[t]) - q["targets"][t - 1], s[t])
            for t in range(1, len(q["x"]) + 1)
        )

    return gradient_formula_check(eq12, None, "V", params=p, loss=_total_loss)


def _confirm_eq17() -> CheckOutcome:
    return _confirm_jacobian_chain(t=3, k=0, seed=9)


def _confirm_jacobian_chain(t: int, k: int, seed: int) -> CheckOutcome:
    """ds_t/ds_k as the product J_t ... J_{k+1} (latest leftmost) against finite differences."""
    p = _model(seed=seed)
    s = _states(p)
    eps = 1e-6

    def s_t_from(s_k: np.ndarray) -> np.ndarray:
        state = s_k
        for m in range(k + 1, t + 1):
            state = np.tanh(p["U"] @ p["x"][m - 1] + p["W"] @ state + p["b"])
        return state

    true = np.column_stack(
        [(s_t_from(s[k] + eps * e) - s_t_from(s[k] - eps * e)) / (2 * eps) for e in np.eye(4)]
    )
    factors = " ".join(f"J_{m}" for m in range(t, k, -1))
    return array_check(_ds_t_ds_k(p, t, k), true, label=f"ds_{t}/ds_{k} = {factors}")


def _confirm_eq27() -> CheckOutcome:
    w_hh, h_prev, a = sp.symbols("W_hh h_prev a", real=True)  # a stands for W_xh^T x_t
    h_t = sp.tanh(a + w_hh * h_prev)
    claim = (1 - sp.tanh(a + w_hh * h_prev) ** 2) * w_hh
    return sympy_residual_check(sp.diff(h_t, h_prev), claim, claim_should_hold=True)


def _confirm_relu_derivative() -> CheckOutcome:
    eps = 1e-6
    relu = np.vectorize(lambda v: max(0.0, v))
    points = np.array([-2.0, -0.5, 0.5, 2.0])
    fd = (relu(points + eps) - relu(points - eps)) / (2 * eps)
    return array_check(np.where(points > 0, 1.0, 0.0), fd, label="ReLU'(x) away from 0")


# --------------------------------------------------------------------------------------------
# The catalogue: quotes in the note's letters, corrections in the canonical notation
# (NOTATION.md; the module docstring maps the letters).
# --------------------------------------------------------------------------------------------


_e = _CATALOGUE.erratum

ERRATA: list[Erratum] = [
    _e(
        1,
        31,
        r"V: Autonomous Dynamical System Driven by External Signal",
        "false claim",
        "low",
        r"A system driven by an external signal $x(t)$ is NOT autonomous: its update map "
        r"$s\mapsto f(s,x(t);\theta)$ changes with $t$. 'Autonomous' (section II) means the "
        r"same map at every step.",
        r"h(t)=f\big(h(t-1),x(t);\theta\big)\ \text{is a non-autonomous (driven) dynamical "
        r"system}",
        _check_autonomous,
    ),
    _e(
        2,
        122,
        r"\text{[SIGMOID FORM]}",
        "misleading notation",
        "low",
        r"$(e^x-e^{-x})/(e^x+e^{-x})$ is the hyperbolic tangent, not the (logistic) sigmoid "
        r"$1/(1+e^{-x})$; the two are related by $\tanh x=2\sigma(2x)-1$.",
        r"\tanh x=\frac{e^x-e^{-x}}{e^x+e^{-x}}=2\sigma(2x)-1,\quad\sigma(x)=\frac{1}{1+e^{-x}"
        r"}",
        _check_sigmoid_form,
    ),
    _e(
        10,
        158,
        r"J(\underline{\theta}) = \sum_{t=0}^z J_t(\underline{\theta})",
        "wrong sum bound",
        "medium",
        r"The total loss starts at $t=0$, but there is no prediction or target at $t=0$: the "
        r"targets are $y_1,\dots,y_z$ (line 96) and the output equations hold for $1\le t\le "
        r"z$ (lines 147, 168). A $J_0$ would be a loss on $V s_0+c$, an output the model "
        r"never emits, and would add $(\hat y_0-y_0)s_0^\top$ to $\partial J/\partial V$.",
        r"L=\sum_{t=1}^{T}L(t),\qquad\nabla_V L=\sum_{t=1}^{T}\big(\nabla_{o(t)}L\big)\,"
        r"h(t)^\top",
        _check_loss_from_t0,
    ),
    _e(
        3,
        190,
        r"s_2 = s_2(s_1(\underline{w}), s_0(\underline{w}); \underline{w})",
        "false claim",
        "low",
        r"$s_0$ is the given initial state (line 55), not a function of $W$ (the note's input matrix, canonical $U$): $\partial "
        r"s_0/\partial W=0$, so the $k=0$ terms of Eqs. (6), (7), (9), (15), (16) vanish (the "
        r"same holds for $s_0(\underline v)$ in Eq. (14)).",
        r"h(2)=h(2)\big(h(1)(U);\,U\big),\qquad\frac{dh(2)}{dU}=\frac{\partial h(2)}{\partial "
        r"U}+\frac{\partial h(2)}{\partial h(1)}\frac{\partial h(1)}{\partial U}",
        _check_s0_depends_on_w,
    ),
    _e(
        11,
        198,
        r"\frac{ds_2}{d\underline{w}} = \sum_{k=0}^2 \frac{\partial s_2}{\partial s_k} "
        r"\cdot \frac{\partial s_k}{\partial \underline{w}}",
        "misleading notation",
        "medium",
        r"Eq. (3) and line 182 use $\partial s_2/\partial W$ for the TOTAL derivative of "
        r"$s_2$; in Eq. (7) the same symbol $\partial s_k/\partial W$ must be the immediate "
        r"partial ($s_{k-1}$ held fixed) while $\partial s_2/\partial s_k$ is the total "
        r"Jacobian. Read with the total derivative, as Eq. (3) defines the symbol, the sum "
        r"counts every earlier path again (the $k=2$ term alone is already the whole "
        r"gradient). Eqs. (8), (9), (15), (16) inherit the ambiguity.",
        r"\frac{dh(2)}{dU}=\sum_{k=1}^{2}\frac{\partial h(2)}{\partial h(k)}\,"
        r"\frac{\partial^+h(k)}{\partial U},\quad\frac{\partial^+h(k)_i}{\partial "
        r"U_{ij}}=\big(1-h(k)_i^2\big)\,x(k)_j\ \ (h(k-1)\text{ held fixed})",
        _check_total_vs_immediate,
    ),
    _e(
        4,
        206,
        r"\frac{\partial s_2}{\partial \underline{w}} = \sum_{k=0}^1",
        "copy-paste",
        "medium",
        r"Eq. (8) is the gradient of the loss $J_2$ (it finishes Eq. (3)), but its left-hand "
        r"side says $\partial s_2/\partial W$ and its first factor $\partial s_2/\partial\hat "
        r"y_2$, where $\partial J_2/\partial\hat y_2$ is meant. $\partial s_2/\partial W$ is "
        r"a third-order tensor, the right-hand side a matrix shaped like $W$.",
        r"\frac{\partial L(2)}{\partial U}=\sum_{k=1}^{2}\frac{\partial L(2)}{\partial "
        r"o(2)}\frac{\partial o(2)}{\partial h(2)}\frac{\partial h(2)}{\partial "
        r"h(k)}\frac{\partial^+ h(k)}{\partial U}",
        _check_eq8_lhs,
    ),
    _e(
        5,
        206,
        r"\sum_{k=0}^1",
        "wrong sum bound",
        "high",
        r"The sum stops at $k=1$ and drops the $k=2$ term $\partial s_2/\partial W$ (the "
        r"direct dependence), which the line just above computed and which is usually the "
        r"largest; Eq. (7) and Eq. (9) run to $k=t$.",
        r"\nabla_U L(2)=\sum_{k=1}^{2}\operatorname{diag}(1-h(k)^2)\Big(\frac{\partial "
        r"h(2)}{\partial h(k)}\Big)^\top V^\top\nabla_{o(2)}L(2)\,x(k)^\top\quad(k=2\text{ "
        r"included; a }k=0\text{ term would be }0)",
        _check_eq8_bound,
    ),
    _e(
        6,
        226,
        r"(i): s_t does depend on \underline{v}",
        "false claim",
        "medium",
        r"$s_t$ does not depend on $V$ (line 228 says so too, so the two items contradict "
        r"each other); it depends on the recurrent matrix $U$ (canonical $W$). Lines 218-254 write "
        r"$\underline v$ where $U$ is meant (probably a misread handwritten u): 'What about "
        r"$\partial J/\partial\underline v$ and $\partial J/\partial\underline v$?' should "
        r"ask about $U$ and $V$.",
        r"\text{(i) }h(t)\text{ depends on }W;\quad\text{(ii) }h(t)\text{ does not depend on "
        r"}V",
        _check_depends_on_v,
    ),
    _e(
        7,
        254,
        r"\frac{\partial J_t}{\partial \underline{v}} = \sum_{k=0}^t \frac{\partial "
        r"J_t}{\partial \hat{y}_t}",
        "copy-paste",
        "high",
        r"Eq. (16) is the gradient with respect to the recurrent matrix $U$ (canonical $W$) but is labelled "
        r"$\underline v$, the same symbol as Eq. (12). Read for $V$ it is wrong: $\partial "
        r"s_k/\partial V=0$ makes every term vanish, while $\partial J_t/\partial "
        r"V=\frac{\partial J_t}{\partial\hat y_t}s_t^\top\neq 0$.",
        r"\nabla_W L(t)=\sum_{k=1}^{t}\operatorname{diag}(1-h(k)^2)\Big(\frac{\partial "
        r"h(t)}{\partial h(k)}\Big)^\top V^\top\nabla_{o(t)}L(t)\,h(k-1)^\top,\qquad\nabla_V "
        r"L(t)=\big(\nabla_{o(t)}L(t)\big)\,h(t)^\top",
        _check_eq16_for_v,
    ),
    _e(
        12,
        313,
        r"_{[1 \times 2] \cdot [2 \times 1]} + \underbrace{W_{hh} \cdot h_{t-1}}_{[1 "
        r"\times 1] + [1 \times 1]}",
        "wrong number",
        "low",
        r"With $x_t\in\mathbb R^{p\times 1}$ and $W_{xh}\in\mathbb R^{p\times 1}$ (lines "
        r"290, 296) the shapes are $[1\times p]\cdot[p\times 1]$, not $[1\times "
        r"2]\cdot[2\times 1]$ (true only for $p=2$); and $W_{hh}\,h_{t-1}$ is a product, "
        r"$[1\times 1]\cdot[1\times 1]$, not a sum.",
        r"u=\underbrace{W_{xh}^\top x(t)}_{[1\times p]\cdot[p\times 1]}+\underbrace{W_{hh}"
        r"\,h(t-1)}_{[1\times 1]\cdot[1\times 1]}\in\mathbb R",
        _check_shape_annotation,
    ),
    _e(
        8,
        330,
        r"so that $W_{hh} < 1$",
        "false claim",
        "high",
        r"A standard normal sample is not bounded by 1: $|W_{hh}|>1$ with probability "
        r"$\operatorname{erfc}(1/\sqrt2)\approx 0.317$. The vanishing argument needs "
        r"$|f'(u)W_{hh}|<1$, which can fail (the gradient then explodes when $f'(u)\approx "
        r"1$).",
        r"P(|W|<1)=\operatorname{erf}(1/\sqrt2)\approx 0.683\ \ (W\sim\mathcal "
        r"N(0,1))\\\Big|\frac{\partial h(t)}{\partial "
        r"h(k)}\Big|=\prod_{m=k+1}^{t}|f'(a(m))\,W|\to 0\text{ only if }|f'(a(m))\,W|<1",
        _check_standard_normal,
    ),
    _e(
        9,
        356,
        r"prevents f' from shrinking!!!",
        "false claim",
        "medium",
        r"ReLU's derivative is 1 only on active units; on inactive ones it is 0, which blocks "
        r"the gradient completely. And the factor $W_{hh}$ remains: with $|W_{hh}|<1$ the "
        r"product $\prod f'(u_m)W_{hh}$ still vanishes geometrically.",
        r"\frac{\partial h(t)}{\partial h(k)}=\prod_{m=k+1}^{t}\mathbb "
        r"1[a(m)>0]\,W\quad(\text{vanishes if }|W|<1\text{ or a unit is inactive})",
        _check_relu,
    ),
]


_c = _CATALOGUE.confirmation

CONFIRMED: list[Confirmation] = [
    _c(
        139,
        r"\boxed{f'(x) = 1 - f^2(x)}",
        r"\tanh'(x)=1-\tanh^2(x)",
        _confirm_tanh_derivative,
    ),
    _c(
        213,
        r"\frac{\partial J_t}{\partial \underline{w}} = \sum_{k=0}^t \frac{\partial "
        r"J_t}{\partial \hat{y}_t}",
        r"\nabla_U L(t)=\sum_{k=1}^{t}\operatorname{diag}(1-h(k)^2)\Big(\frac{\partial "
        r"h(t)}{\partial h(k)}\Big)^\top V^\top\nabla_{o(t)}L(t)\,x(k)^\top\quad(\text{the "
        r"note's }W\text{ is }U)",
        _confirm_eq9,
    ),
    _c(
        232,
        r"\frac{\partial J_t}{\partial \underline{v}} = \frac{\partial J_t}{\partial "
        r"\hat{y}_t} \cdot \frac{\partial \hat{y}_t}{\partial \underline{v}} \quad (12)",
        r"\nabla_V L=\sum_t\big(\nabla_{o(t)}L(t)\big)\,h(t)^\top",
        _confirm_eq12,
    ),
    _c(
        260,
        r"\frac{\partial s_t}{\partial s_k} = \prod_{m=k+1}^t \frac{\partial s_m}{\partial "
        r"s_{m-1}}",
        r"\frac{\partial h(t)}{\partial h(k)}=\frac{\partial h(t)}{\partial "
        r"h(t-1)}\cdots\frac{\partial h(k+1)}{\partial h(k)}\quad(\text{ordered from }t\text{ "
        r"down})",
        _confirm_eq17,
        formulas=(r"\prod_{m=k+1}^t \frac{\partial s_m}{\partial s_{m-1}}",),
    ),
    _c(
        272,
        r"\frac{\partial \underline{h}_2}{\partial \underline{h}_0} = \frac{\partial "
        r"\underline{h}_2}{\partial \underline{h}_1} \cdot \frac{\partial \underline{h}_1}"
        r"{\partial \underline{h}_0}",
        r"\frac{\partial h(2)}{\partial h(0)}=\frac{\partial h(2)}{\partial h(1)}\,"
        r"\frac{\partial h(1)}{\partial h(0)}",
        lambda: _confirm_jacobian_chain(t=2, k=0, seed=10),
        formulas=(r"\frac{\partial \underline{h}_2}{\partial \underline{h}_0}",),
    ),
    _c(
        282,
        r"\prod_{m=k+1}^{m=t} \frac{\partial \underline{h}_m}{\partial \underline{h}_{m-1}}",
        r"\frac{\partial h(t)}{\partial h(k)}=\prod_{m=k+1}^{t}\frac{\partial h(m)}{\partial "
        r"h(m-1)}\quad(\text{latest factor leftmost})",
        lambda: _confirm_jacobian_chain(t=3, k=1, seed=11),
        formulas=(r"\prod_{m=k+1}^{m=t}",),
    ),
    _c(
        324,
        r"\frac{\partial h_t}{\partial h_{t-1}} = (1 - f^2(\underline{W}_{xh}^T "
        r"\underline{x}_t + W_{hh} \cdot h_{t-1})) W_{hh}",
        r"\frac{\partial h(t)}{\partial h(t-1)}=\big(1-\tanh^2(Ux(t)+Wh(t-1))\big)\,W\quad(\te"
        r"xt{scalar }h,\ U=W_{xh}^\top)",
        _confirm_eq27,
    ),
    _c(
        354,
        r"f'(x) = \begin{cases} 1, & x > 0; \\ 0, & x \leq 0. \end{cases}",
        r"\operatorname{ReLU}'(x)=\mathbb 1[x>0]\quad(x\ne 0)",
        _confirm_relu_derivative,
    ),
]
