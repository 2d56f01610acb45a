"""Errata of seed 004 (many-to-one sentiment RNN, handwritten).

The note's letters: w_xh (canonical U), w_hh (W), w_hy (V), b_h (b), b_y (c), hidden state
h_t, raw outputs y (canonical logits o) and probabilities p = softmax(y); the loss is
L = -ln p_c on the LAST output only (many to one). In the checks the parameters are stored
under the canonical keys of `_checks.canonical_model`.
Quotes and problem texts keep the note's letters; corrections and confirmed statements are
written in the canonical notation of NOTATION.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import sympy as sp

from derivations.errata._checks import (
    FD_FLOOR,
    SeedCatalogue,
    array_check,
    canonical_forward,
    canonical_loss,
    canonical_model,
    combine,
    exp_identity_check,
    finite_difference_gradient,
    gradient_formula_check,
    number_check,
    softmax,
    truth_check,
)
from derivations.errata._types import CheckOutcome, Confirmation, Erratum
from rnn_sym import format_error

SEED = "004_957c386b48be8623.txt"
_CATALOGUE = SeedCatalogue(SEED)

# --------------------------------------------------------------------------------------------
# The many-to-one model, written out plainly
# --------------------------------------------------------------------------------------------


def _model(seed: int = 0, n_x: int = 3) -> dict[str, np.ndarray]:
    """Two classes ([positive, negative], as in the note), 4 hidden units, 4 words."""
    p = canonical_model(T=4, n_x=n_x, n_h=4, n_y=2, seed=seed)
    p["label"] = np.array(seed % 2)  # index of the correct class
    return p


def _final_loss(q: Mapping[str, np.ndarray]) -> float:
    """L = -ln softmax(y_n)[c] with y_n = w_hy h_n + b_y: only the last output counts."""
    return float(-np.log(canonical_forward(q)["yhat"][-1][int(q["label"])]))


def _dl_dy(q: Mapping[str, np.ndarray]) -> np.ndarray:
    """p - 1_c for the last output (confirmed separately against finite differences)."""
    g = canonical_forward(q)["yhat"][-1].copy()
    g[int(q["label"])] -= 1.0
    return g


def _dl_dh(q: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """dL/dh_t for t = 1..n (index t-1), denominator layout, by the recursion of lines 200-208:
    dL/dh_n = w_hy^T dL/dy, dL/dh_t = w_hh^T diag(1 - h_{t+1}^2) dL/dh_{t+1}."""
    h = canonical_forward(q)["h"]
    n = len(q["x"])
    grads = [np.zeros(0)] * n
    grads[n - 1] = q["V"].T @ _dl_dy(q)
    for t in range(n - 1, 0, -1):
        grads[t - 1] = q["W"].T @ ((1 - h[t + 1] ** 2) * grads[t])
    return grads


def _sum_over_t(q: Mapping[str, np.ndarray], row: Callable[[int], np.ndarray]) -> np.ndarray:
    """sum_t diag(1 - h_t^2) dL/dh_t row(t)^T (many-to-one)."""
    h = canonical_forward(q)["h"]
    dh = _dl_dh(q)
    return sum(np.outer((1 - h[t] ** 2) * dh[t - 1], row(t)) for t in range(1, len(q["x"]) + 1))


def _many_to_many_dh(q: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """dFL/dh_t for FL = sum_t L(y_t) (targets q["y"]), by the full BPTT recursion."""
    forward = canonical_forward(q)
    h = forward["h"]
    n = len(q["x"])
    grads = [np.zeros(0)] * n
    carry = np.zeros_like(h[0])
    for t in range(n, 0, -1):
        dy = forward["yhat"][t - 1].copy()
        dy[int(q["y"][t - 1])] -= 1.0
        grads[t - 1] = q["V"].T @ dy + carry
        carry = q["W"].T @ ((1 - h[t] ** 2) * grads[t - 1])
    return grads


# --------------------------------------------------------------------------------------------
# Checks, one per erratum
# --------------------------------------------------------------------------------------------


def _check_y_is_probabilities() -> CheckOutcome:
    # If [.90, .10] were y, the probabilities p = softmax(y) would not be [.90, .10].
    claimed = softmax(np.array([0.90, 0.10]))
    logits = np.array([math.log(9.0), 0.0])  # raw outputs that do give [.90, .10]
    return array_check(
        claimed, [0.90, 0.10], softmax(logits), label="p = softmax(y) for the example"
    )


def _check_label_meaning() -> CheckOutcome:
    # Negative text: c = 0 in the loss of line 103; p = softmax(y), y = [positive, negative].
    rng = np.random.default_rng(4)
    y = rng.standard_normal(2)
    c = 0

    def loss(q: Mapping[str, np.ndarray]) -> float:
        prob = softmax(q["y"])
        return float(c * -np.log(prob[0]) + (1 - c) * -np.log(1 - prob[0]))

    true = finite_difference_gradient(loss, {"y": y}, "y")
    prob = softmax(y)
    rule_with_index_c = prob - np.eye(2)[c]  # "p_i - 1 if i = c" with c = 0 as an index
    correct_class = 0 if c == 1 else 1  # position of the correct class in [pos, neg]
    fixed = prob - np.eye(2)[correct_class]
    return array_check(rule_with_index_c, true, fixed, label="dL/dy for a negative text")


def _softmax_two() -> tuple[list[sp.Symbol], sp.Expr, sp.Expr]:
    y = list(sp.symbols("y_p y_n", real=True))
    total = sp.exp(y[0]) + sp.exp(y[1])
    return y, sp.exp(y[0]) / total, total


def _check_softmax_of_scalar() -> CheckOutcome:
    y, sm, _ = _softmax_two()
    # softmax of the single number y_p is e^{y_p}/e^{y_p} = 1, whose log has derivative 0.
    softmax_of_scalar = sp.exp(y[0]) / sp.exp(y[0])
    claim = sp.Matrix([sp.diff(sp.log(softmax_of_scalar), y[0]) - sp.diff(sp.log(sm), y[0])])
    fixed = sp.Matrix([sp.diff(sp.log(sm), y[0]) - (1 - sm)])
    return exp_identity_check(claim, fixed, y)


def _check_line117() -> CheckOutcome:
    y, sm, _ = _softmax_two()
    true = sp.diff(sp.log(sm), y[0])
    claim = sp.Matrix([true - 1])  # (1 - sm)/(1 - sm) = 1
    fixed = sp.Matrix([true - (1 - sm)])
    return exp_identity_check(claim, fixed, y)


def _check_line122() -> CheckOutcome:
    y, sm, total = _softmax_two()
    c = sp.Symbol("c", real=True)
    bracket = sp.exp(y[0]) * (total - sp.exp(y[0])) / total**2
    true = sp.diff(-(1 - c) * sp.log(1 - sm), y[0])
    claim = sp.Matrix([(1 - c) / (total - sp.exp(y[0])) * bracket - true])
    fixed = sp.Matrix([(1 - c) * total / (total - sp.exp(y[0])) * bracket - true])
    return exp_identity_check(claim, fixed, y, {c: sp.Rational(0)})


def _check_dl_dwhy() -> CheckOutcome:
    p = _model(seed=1)
    h_n = canonical_forward(p)["h"][-1]
    try:
        literal = np.dot(_dl_dy(p), h_n)
        literal_text = f"dL/dy . h_n has shape {np.shape(literal)}"
        claim_holds = np.shape(literal) == p["V"].shape
    except ValueError:
        claim_holds = False
        literal_text = "dL/dy . h_n is undefined: shapes (2,) and (4,)"
    fd = finite_difference_gradient(_final_loss, p, "V")
    error = float(np.max(np.abs(np.outer(_dl_dy(p), h_n) - fd)))
    return truth_check(
        claim_holds,
        error < 1e-6,
        f"{literal_text}, while dL/dw_hy has shape {fd.shape}; (p - 1_c) h_n^T agrees with "
        f"finite differences (max abs error {format_error(error, 1e-6, floor=FD_FLOOR)})",
    )


def _check_no_recursion() -> CheckOutcome:
    p = canonical_model(T=4, n_x=3, n_h=4, n_y=2, seed=3)

    def note(q: Mapping[str, np.ndarray]) -> np.ndarray:
        # Line 166 with transposes repaired: only the direct path y_t <- h_t <- w_xh.
        forward = canonical_forward(q)
        h = forward["h"]
        total = np.zeros_like(q["U"])
        for t in range(1, len(q["x"]) + 1):
            dy = forward["yhat"][t - 1].copy()
            dy[int(q["y"][t - 1])] -= 1.0
            total += np.outer((1 - h[t] ** 2) * (q["V"].T @ dy), q["x"][t - 1])
        return total

    def fixed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        h = canonical_forward(q)["h"]
        dh = _many_to_many_dh(q)
        return sum(
            np.outer((1 - h[t] ** 2) * dh[t - 1], q["x"][t - 1]) for t in range(1, len(q["x"]) + 1)
        )

    return gradient_formula_check(note, fixed, "U", params=p, loss=canonical_loss)


def _check_not_an_approximation() -> CheckOutcome:
    p = _model(seed=2)
    # The note's "approximation": every y_t given the final target, FL = sum_t L(y_t).
    every_step = dict(p, y=np.full(len(p["x"]), int(p["label"])))
    grad_fl = finite_difference_gradient(canonical_loss, every_step, "U")
    grad_l = finite_difference_gradient(_final_loss, p, "U")
    gap = float(np.max(np.abs(grad_fl - grad_l)) / np.max(np.abs(grad_l)))
    exact = _sum_over_t(p, lambda t: p["x"][t - 1])
    error = float(np.max(np.abs(exact - grad_l)) / np.max(np.abs(grad_l)))
    return truth_check(
        gap < 0.05,
        error < 1e-6,
        f"dFL/dw_xh and dL/dw_xh differ by {gap:.2f} (relative): one does not approximate the "
        f"other; sum_t diag(1-h_t^2) dL/dh_t x_t^T is the exact dL/dw_xh (relative error "
        f"{format_error(error, 1e-6, floor=FD_FLOOR)} against finite differences)",
    )


def _check_missing_sum() -> CheckOutcome:
    p = _model(seed=3)
    n = len(p["x"])

    def one_step(q: Mapping[str, np.ndarray]) -> np.ndarray:
        h = canonical_forward(q)["h"]
        return np.outer((1 - h[n] ** 2) * _dl_dh(q)[n - 1], q["x"][n - 1])

    def fixed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return _sum_over_t(q, lambda t: q["x"][t - 1])

    return gradient_formula_check(one_step, fixed, "U", params=p, loss=_final_loss)


def _check_local_dh_dwxh() -> CheckOutcome:
    p = _model(seed=5)  # n_x = 3, n_h = 4
    h = canonical_forward(p)["h"]
    try:
        literal = (1 - h[1] ** 2) * p["x"][0]
        claim_holds = literal.shape == p["U"].shape
        literal_text = f"(1-h_1^2) x_1 has shape {literal.shape}"
    except ValueError:
        claim_holds = False
        literal_text = "(1-h_t^2) x_t is undefined: shapes (4,) and (3,)"
    fd = finite_difference_gradient(_final_loss, p, "U")
    error = float(np.max(np.abs(_sum_over_t(p, lambda t: p["x"][t - 1]) - fd)))
    return truth_check(
        claim_holds,
        error < 1e-6,
        f"{literal_text}; sum_t diag(1-h_t^2) dL/dh_t x_t^T agrees with finite differences "
        f"(max abs error {format_error(error, 1e-6, floor=FD_FLOOR)})",
    )


def _check_eq_wxh() -> CheckOutcome:
    p = _model(seed=7, n_x=4)  # n_x = n_h: the printed product exists, but is a vector

    def printed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        h = canonical_forward(q)["h"]
        dh = _dl_dh(q)
        return sum(dh[t - 1] * (1 - h[t] ** 2) * q["x"][t - 1] for t in range(1, len(q["x"]) + 1))

    def fixed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return _sum_over_t(q, lambda t: q["x"][t - 1])

    return gradient_formula_check(printed, fixed, "U", params=p, loss=_final_loss)


def _check_eq_whh() -> CheckOutcome:
    p = _model(seed=8)

    def printed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        h = canonical_forward(q)["h"]
        dh = _dl_dh(q)
        return sum(dh[t - 1] * (1 - h[t] ** 2) * h[t - 1] for t in range(1, len(q["x"]) + 1))

    def fixed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        h = canonical_forward(q)["h"]
        return _sum_over_t(q, lambda t: h[t - 1])

    return gradient_formula_check(printed, fixed, "W", params=p, loss=_final_loss)


# --------------------------------------------------------------------------------------------
# Confirmations
# --------------------------------------------------------------------------------------------


def _confirm_loss_090() -> CheckOutcome:
    return number_check(".105", -math.log(0.90), label="-ln(.90)")


def _confirm_loss_010() -> CheckOutcome:
    return number_check("2.3026", -math.log(0.10), label="-ln(.10)")


def _confirm_binary_derivative() -> CheckOutcome:
    y, sm, _ = _softmax_two()
    c = sp.Symbol("c", real=True)
    loss = c * -sp.log(sm) + (1 - c) * -sp.log(1 - sm)
    residual = sp.Matrix([sp.diff(loss, y[0]) - (c * (sm - 1) + (1 - c) * sm)])
    outcome = exp_identity_check(residual, residual, y, {c: sp.Rational(1, 3)})
    return CheckOutcome(
        outcome.claim_refuted,
        outcome.correction_holds,
        "dL/dy_p - [c(sm(y_p)-1) + (1-c) sm(y_p)] cancels to 0"
        if outcome.correction_holds
        else outcome.evidence,
    )


def _confirm_p_minus_onehot() -> CheckOutcome:
    rng = np.random.default_rng(9)
    y = rng.standard_normal(3)
    c = 2
    true = finite_difference_gradient(lambda q: float(-np.log(softmax(q["y"])[c])), {"y": y}, "y")
    return array_check(softmax(y) - np.eye(3)[c], true, label="dL/dy_i = p_i - [i = c]")


def _confirm_dl_dby() -> CheckOutcome:
    return gradient_formula_check(_dl_dy, None, "c", params=_model(seed=4), loss=_final_loss)


def _confirm_dy_dh_recursion() -> CheckOutcome:
    # dy/dh_t = dy/dh_{t+1} diag(1 - h_{t+1}^2) w_hh, starting from dy/dh_n = w_hy.
    p = _model(seed=6)
    h = canonical_forward(p)["h"]
    n = len(p["x"])
    jac = p["V"]
    for t in range(n - 1, 0, -1):
        jac = jac @ np.diag(1 - h[t + 1] ** 2) @ p["W"]
    eps = 1e-6
    true = np.zeros((2, 4))
    for m in range(4):
        bumped = []
        for sign in (1.0, -1.0):
            state = h[1] + sign * eps * np.eye(4)[m]
            for t in range(2, n + 1):
                state = np.tanh(p["b"] + p["W"] @ state + p["U"] @ p["x"][t - 1])
            bumped.append(p["c"] + p["V"] @ state)
        true[:, m] = (bumped[0] - bumped[1]) / (2 * eps)
    return array_check(jac, true, label="dy/dh_1 by the recursion of line 206")


def _confirm_dl_dbh() -> CheckOutcome:
    def formula(q: Mapping[str, np.ndarray]) -> np.ndarray:
        h = canonical_forward(q)["h"]
        dh = _dl_dh(q)
        return sum((1 - h[t] ** 2) * dh[t - 1] for t in range(1, len(q["x"]) + 1))

    return gradient_formula_check(formula, None, "b", params=_model(seed=10), loss=_final_loss)


def _check_dy_dh_needs_diag() -> CheckOutcome:
    # Read as printed, (1 - h_{t+1}^2) is a column: dy/dh_{t+1} (1 - h_{t+1}^2) is
    # output_size x 1 and cannot multiply w_hh (hidden_size x hidden_size).
    p = _model(seed=6)
    h = canonical_forward(p)["h"]
    left = p["V"] @ (1 - h[-1] ** 2)[:, None]  # dy/dh_n = w_hy, times the column
    conforms = left.shape[1] == p["W"].shape[0]
    return combine(
        truth_check(
            conforms,
            True,
            f"dy/dh_n (1 - h_n^2) is {left.shape[0]}x{left.shape[1]} and w_hh is "
            f"{p['W'].shape[0]}x{p['W'].shape[1]}: the printed product is undefined",
        ),
        _confirm_dy_dh_recursion(),
    )


def _check_dl_dbh_needs_elementwise() -> CheckOutcome:
    # dL/dh and (1 - h_t^2) are both hidden_size x 1: as a matrix product they do not conform.
    p = _model(seed=10)
    h = canonical_forward(p)["h"]
    dh, factor = _dl_dh(p)[-1][:, None], (1 - h[-1] ** 2)[:, None]
    conforms = dh.shape[1] == factor.shape[0]
    return combine(
        truth_check(
            conforms,
            True,
            f"dL/dh_t is {dh.shape[0]}x{dh.shape[1]} and (1 - h_t^2) is "
            f"{factor.shape[0]}x{factor.shape[1]}: the printed product is undefined",
        ),
        _confirm_dl_dbh(),
    )


# --------------------------------------------------------------------------------------------
# The catalogue: quotes in the note's letters, corrections in the canonical notation
# (NOTATION.md; the module docstring maps the letters).
# --------------------------------------------------------------------------------------------


_e = _CATALOGUE.erratum

ERRATA: list[Erratum] = [
    _e(
        1,
        97,
        r"y = [probability of positive, prob. of neg]",
        "misleading notation",
        "medium",
        r"Line 74 defines $y$ as the RAW outputs and $p=\operatorname{softmax}(y)$ as the "
        r"probabilities; here $y$ is called the probabilities. They are not the same: if "
        r"$y=[.90,.10]$, then $p=\operatorname{softmax}(y)\approx[.69,.31]$. The whole "
        r"derivation below differentiates with respect to the raw outputs (and line 109 "
        r"likewise calls the raw output $y_p$ a 'chance').",
        r"\hat y=\operatorname{softmax}(o)=[0.90,\,0.10]\ "
        r"\text{(probabilities)},\quad\text{e.g. }o=[\ln 9,\,0]\ \text{(raw outputs)}",
        _check_y_is_probabilities,
    ),
    _e(
        2,
        105,
        r"if c (correct label) is 1 (aka positive)",
        "misleading notation",
        "low",
        r"$c$ is used as a 0/1 indicator here (1 = positive) but as the INDEX of the correct "
        r"class on lines 78 and 128. With the order $y=[\text{pos},\text{neg}]$ of line 97 "
        r"the two readings disagree: for a negative text ($c=0$) the rule '$p_i-1$ if $i=c$' "
        r"applied with $i=c=0$ gives the gradient of the wrong class.",
        r"\nabla_o L=\hat y-e_k,\ k=\text{position of the correct class in "
        r"}[\text{pos},\text{neg}];\quad\frac{\partial L}{\partial o_{\text{pos}}}=\hat "
        r"y_{\text{pos}}-c\ \ (c\in\{0,1\})",
        _check_label_meaning,
    ),
    _e(
        3,
        113,
        r"\ln(\text{softmax}(y_p))",
        "misleading notation",
        "low",
        r"The softmax of the single number $y_p$ is $e^{y_p}/e^{y_p}=1$, whose log has "
        r"derivative 0. What is meant is the $p$-th entry of the softmax of the whole vector "
        r"$y$.",
        r"\frac{\partial}{\partial o_p}\log\operatorname{softmax}(o)_p=1-\operatorname{softmax"
        r"}(o)_p",
        _check_softmax_of_scalar,
    ),
    _e(
        4,
        117,
        r"&= \frac{1 - \text{sm}(y_p)}{1 - \text{sm}(y_p)}",
        "wrong formula",
        "medium",
        r"The last line of the derivation equals 1; the line above it simplifies to $(\sum_i "
        r"e^{y_i}-e^{y_p})/\sum_i e^{y_i}=1-\operatorname{sm}(y_p)$ (which line 120 then uses "
        r"correctly).",
        r"\frac{\partial}{\partial o_p}\log\hat y_p=1-\hat y_p",
        _check_line117,
    ),
    _e(
        5,
        122,
        r"\frac{(1-c)}{\sum_{i=1}^n e^{y_i} - e^{y_p}}",
        "step does not follow",
        "medium",
        r"Rewriting $\frac{1-c}{1-\operatorname{sm}(y_p)}$ loses a factor: "
        r"$\frac{1}{1-\operatorname{sm}(y_p)}=\frac{\sum_i e^{y_i}}{\sum_i e^{y_i}-e^{y_p}}$, "
        r"not $\frac{1}{\sum_i e^{y_i}-e^{y_p}}$; as printed the term is "
        r"$(1-c)\,e^{y_p}/(\sum_i e^{y_i})^2$, not $(1-c)\operatorname{sm}(y_p)$. (The second "
        r"line restates the first term; its leading '+' should be '='.)",
        r"\frac{(1-c)\sum_i e^{o_i}}{\sum_i e^{o_i}-e^{o_p}}\cdot\frac{e^{o_p}(\sum_i "
        r"e^{o_i}-e^{o_p})}{(\sum_i e^{o_i})^2}=(1-c)\,\hat y_p",
        _check_line122,
    ),
    _e(
        6,
        141,
        r"\therefore \frac{\partial L}{\partial w_{ny}} = \frac{\partial L}{\partial y} \cdot "
        r"h_n",
        "missing transpose",
        "high",
        r"$w_{hy}$ (printed $w_{ny}$) is output_size $\times$ hidden_size; its gradient is "
        r"the outer product of $\partial L/\partial y$ (output_size $\times 1$) with "
        r"$h_n^\top$. The product $\frac{\partial L}{\partial y}\cdot h_n$ of two column "
        r"vectors of different lengths is undefined.",
        r"\nabla_V L=(\nabla_{o(T)}L)\,h(T)^\top=\big(\hat y(T)-e_y\big)\,h(T)^\top",
        _check_dl_dwhy,
        formulas=(r"\frac{\partial L}{\partial y} \cdot h_n",),
    ),
    _e(
        7,
        166,
        r"\frac{\partial FL}{\partial w_{xh}} = \sum \frac{\partial L(y_t)}{\partial y_t} "
        r"\cdot \frac{\partial y_t}{\partial h_t} \cdot \frac{\partial h_t}{\partial w_{xh}}",
        "wrong formula",
        "high",
        r"Only the direct path $w_{xh}\to h_t\to y_t$ is counted. $h_t$ also depends on "
        r"$w_{xh}$ through $h_{t-1},h_{t-2},\dots$, and $L(y_t)$ depends on every earlier "
        r"$h_k$: backpropagation THROUGH TIME is missing, and the formula disagrees with "
        r"finite differences of $FL$.",
        r"\nabla_U L=\sum_{t=1}^{T}\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L\,x(t)^\top,\q"
        r"uad\nabla_{h(t)}L=V^\top\nabla_{o(t)}L+W^\top\operatorname{diag}(1-h(t+1)^2)\,\nabla"
        r"_{h(t+1)}L",
        _check_no_recursion,
    ),
    _e(
        8,
        168,
        r"as approximation, just have all the y 's equal the final y",
        "false claim",
        "medium",
        r"For a many-to-one RNN the loss is $L(y_n)$ alone and its gradient is computed "
        r"exactly, not as an approximation of $\partial FL/\partial w_{xh}$; the two differ a "
        r"lot (giving every step the final target changes the loss). The sum over $t$ in the "
        r"exact gradient comes from the parameter sharing, with $\partial y/\partial h_t$ the "
        r"TOTAL derivative through $h_{t+1},\dots,h_n$.",
        r"\nabla_U L=\sum_{t=1}^{T}\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L\,x(t)^\top"
        r"\\\nabla_{h(T)}L=V^\top\nabla_{o(T)}L,\ \nabla_{h(t)}L=W^\top\operatorname{diag}(1-h"
        r"(t+1)^2)\,\nabla_{h(t+1)}L\quad(\text{exact})",
        _check_not_an_approximation,
    ),
    _e(
        9,
        170,
        r"\frac{\partial L}{\partial w_{xh}} = \frac{\partial L}{\partial y} \approx "
        r"\frac{\partial y}{\partial h_t} \cdot \frac{\partial h_t}{\partial w_{xh}}",
        "wrong formula",
        "medium",
        r"The sum over $t$ is missing ($t$ is free on the right), so only one time step's "
        r"contribution is kept; '$\approx$' stands where a product is meant. The same holds "
        r"for the $w_{hh}$ and $b_h$ lines 194 and 196. Lines 210-214 restore the sum.",
        r"\nabla_U L=\sum_{t=1}^{T}\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L\,x(t)^\top"
        r"\\\nabla_{h(T)}L=V^\top\nabla_{o(T)}L,\ \nabla_{h(t)}L=W^\top\operatorname{diag}(1-h"
        r"(t+1)^2)\,\nabla_{h(t+1)}L",
        _check_missing_sum,
    ),
    _e(
        10,
        182,
        r"\frac{\partial h_t}{\partial w_{xh}} = (1 - h_t^2) x_t",
        "missing transpose",
        "medium",
        r"$\partial h_t/\partial w_{xh}$ is a third-order tensor; what the chain rule needs "
        r"is its contraction with $\partial L/\partial h_t$, the outer product "
        r"$\operatorname{diag}(1-h_t^2)\frac{\partial L}{\partial h_t}x_t^\top$. "
        r"$(1-h_t^2)x_t$ is undefined when input_size $\ne$ hidden_size (likewise "
        r"$(1-h_t^2)h_{t-1}$ on line 186 is a vector, not a matrix).",
        r"\nabla_U L\big|_{\text{step }t}=\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L\,x(t)^"
        r"\top",
        _check_local_dh_dwxh,
    ),
    _e(
        13,
        206,
        r"\cdot (1 - h_{t+1}^2) w_{hh}",
        "misleading notation",
        "medium",
        r"$(1 - h_{t+1}^2)$ is a vector. Between the Jacobians $\partial y/\partial h_{t+1}$ "
        r"(output_size $\times$ hidden_size) and $w_{hh}$ it must be the diagonal matrix "
        r"$\operatorname{diag}(1 - h_{t+1}^2)$; read as printed, the product "
        r"$\frac{\partial y}{\partial h_{t+1}}(1 - h_{t+1}^2)$ is a column and cannot multiply "
        r"$w_{hh}$. With diag the recursion is right.",
        r"\frac{\partial o(T)}{\partial h(t)}=\frac{\partial o(T)}{\partial h(t+1)}\,"
        r"\operatorname{diag}(1-h(t+1)^2)\,W",
        _check_dy_dh_needs_diag,
        formulas=(r"(1 - h_{t+1}^2) w_{hh}",),
    ),
    _e(
        11,
        210,
        r"\frac{\partial L}{\partial w_{xh}} = \sum \frac{\partial L}{\partial h} (1-h_t^2) "
        r"x_t",
        "missing transpose",
        "high",
        r"The final formula multiplies three column vectors: read as printed it is a vector "
        r"(or undefined), not the hidden_size $\times$ input_size matrix $\partial L/\partial "
        r"w_{xh}$. It needs $x_t^\top$, and $\partial L/\partial h$ must be $\partial "
        r"L/\partial h_t$ (it changes with $t$).",
        r"\nabla_U L=\sum_{t=1}^{T}\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L\,x(t)^\top"
        r"\\\nabla_{h(T)}L=V^\top\nabla_{o(T)}L,\ \nabla_{h(t)}L=W^\top\operatorname{diag}(1-h"
        r"(t+1)^2)\,\nabla_{h(t+1)}L",
        _check_eq_wxh,
        formulas=(r"\sum \frac{\partial L}{\partial h} (1-h_t^2) x_t",),
    ),
    _e(
        12,
        212,
        r"\frac{\partial L}{\partial w_{nh}} = \sum \frac{\partial L}{\partial h} (1-h_t^2) "
        r"h_{t-1}",
        "missing transpose",
        "high",
        r"Same as line 210 for $w_{hh}$ (printed $w_{nh}$): the product of column vectors is "
        r"a vector, while $\partial L/\partial w_{hh}$ is a hidden_size $\times$ hidden_size "
        r"matrix; the last factor must be $h_{t-1}^\top$.",
        r"\nabla_W L=\sum_{t=1}^{T}\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L\,h(t-1)^\top",
        _check_eq_whh,
        formulas=(r"\sum \frac{\partial L}{\partial h} (1-h_t^2) h_{t-1}",),
    ),
    _e(
        14,
        214,
        r"\frac{\partial L}{\partial b_h} = \sum \frac{\partial L}{\partial h} (1-h_t^2)",
        "misleading notation",
        "medium",
        r"$\partial L/\partial h$ and $(1-h_t^2)$ are both hidden_size $\times 1$: written "
        r"side by side they are a matrix product that does not conform. The product is "
        r"elementwise ($\odot$, or $\operatorname{diag}(1-h_t^2)$ in front); with it, and "
        r"$\partial L/\partial h_t$ inside the sum over $t$, the formula is right.",
        r"\nabla_b L=\sum_{t=1}^{T}\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L=\sum_{t=1}^{T}"
        r"(1-h(t)^2)\odot\nabla_{h(t)}L",
        _check_dl_dbh_needs_elementwise,
        formulas=(r"\sum \frac{\partial L}{\partial h} (1-h_t^2)",),
    ),
]


_c = _CATALOGUE.confirmation

CONFIRMED: list[Confirmation] = [
    _c(
        60,
        r"L = -\ln(.90) = .105",
        r"-\ln 0.90=0.105",
        _confirm_loss_090,
    ),
    _c(
        70,
        r"incurs large loss of 2.3026",
        r"-\ln 0.10=2.3026",
        _confirm_loss_010,
    ),
    _c(
        124,
        r"= c(\text{sm}(y_p) - 1) + (1-c)(\text{sm}(y_p))",
        r"\frac{\partial L}{\partial o_{\text{pos}}}=c(\hat y_{\text{pos}}-1)+(1-c)\,\hat "
        r"y_{\text{pos}}=\hat y_{\text{pos}}-c\quad(\text{two classes})",
        _confirm_binary_derivative,
    ),
    _c(
        128,
        r"p_i - 1 & \text{if } i = c",
        r"(\nabla_o L)_i=\hat y_i-1_{i=y},\quad\nabla_o L=\hat y-e_y",
        _confirm_p_minus_onehot,
        formulas=(r"p_i - 1 & \text{if } i = c",),
    ),
    _c(
        150,
        r"\therefore \frac{\partial L}{\partial b_y} = \frac{\partial L}{\partial y}",
        r"\nabla_c L=\nabla_{o(T)}L=\hat y(T)-e_y",
        _confirm_dl_dby,
        formulas=(r"\frac{\partial L}{\partial b_y} = \frac{\partial L}{\partial y}",),
    ),
    _c(
        206,
        r"= \frac{\partial y}{\partial h_{t+1}} \cdot (1 - h_{t+1}^2) w_{hh}",
        r"\frac{\partial o(T)}{\partial h(t)}=\frac{\partial o(T)}{\partial "
        r"h(t+1)}\operatorname{diag}(1-h(t+1)^2)\,W,\quad\frac{\partial o(T)}{\partial h(T)}=V",
        _confirm_dy_dh_recursion,
    ),
    _c(
        214,
        r"\frac{\partial L}{\partial b_h} = \sum \frac{\partial L}{\partial h} (1-h_t^2)",
        r"\nabla_b L=\sum_{t=1}^{T}\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L",
        _confirm_dl_dbh,
    ),
]
