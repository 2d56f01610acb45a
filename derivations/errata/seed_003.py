"""Errata of seed 003 ("RNN", HSK, April 2024): softmax derivative, dL/dOmega, unrolled BPTT.

The note uses the canonical letters (U input->hidden, W recurrent, V output, b, c, h_t) and
calls the logits Omega_t; its sequence length is S. Every check below compares the note's
formula with a plainly written loss (SymPy, or NumPy finite differences from `_checks`).
Quotes and problem texts keep the note's letters; corrections and confirmed statements are
written in the canonical notation of NOTATION.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import sympy as sp

from derivations.errata._checks import (
    FD_FLOOR,
    SeedCatalogue,
    array_check,
    canonical_forward,
    canonical_gradients_bptt,
    canonical_loss,
    canonical_model,
    combine,
    exp_identity_check,
    finite_difference_gradient,
    gradient_formula_check,
    is_zero_in_exp,
    softmax,
    sympy_residual_check,
    truth_check,
)
from derivations.errata._types import CheckOutcome, Confirmation, Erratum
from rnn_sym import format_error

SEED = "003_f5a511b607786116.txt"
_CATALOGUE = SeedCatalogue(SEED)
_K = 3  # number of classes in the symbolic softmax checks


# --------------------------------------------------------------------------------------------
# Small independent references used by several checks
# --------------------------------------------------------------------------------------------


def _softmax_symbols() -> tuple[list[sp.Symbol], list[sp.Expr], sp.Matrix]:
    """Logits o_1..o_K, the softmax written out, and its Jacobian d yhat_i / d o_j."""
    o = list(sp.symbols(f"o1:{_K + 1}", real=True))
    total = sum(sp.exp(v) for v in o)
    yhat = [sp.exp(v) / total for v in o]
    jacobian = sp.Matrix(_K, _K, lambda i, j: sp.diff(yhat[i], o[j]))
    return o, yhat, jacobian


def _target_point(y: list[sp.Symbol]) -> dict[sp.Symbol, sp.Rational]:
    """Target values for counterexamples: their sum is 6/5, not 1."""
    return dict(zip(y, (sp.Rational(1, 2), sp.Rational(1, 5), sp.Rational(1, 2)), strict=True))


def _logit_point(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits, their softmax and a one-hot target (class 1 of 4)."""
    rng = np.random.default_rng(seed)
    o = rng.standard_normal(4)
    y = np.zeros(4)
    y[1] = 1.0
    return o, softmax(o), y


def _ce_grad_fd(o: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d/d o of -sum_i y_i log softmax(o)_i by central differences."""
    return finite_difference_gradient(
        lambda q: float(-np.sum(y * np.log(softmax(q["o"])))), {"o": o}, "o"
    )


def _one_hot(index: int, size: int) -> np.ndarray:
    e = np.zeros(size)
    e[index] = 1.0
    return e


def _unrolled(
    p: Mapping[str, np.ndarray],
    last: Callable[[int], np.ndarray | None],
    *,
    sign: float = 1.0,
) -> np.ndarray:
    """Eq. (10)-(14) of the note evaluated term by term, in denominator layout:

    sum_t sum_{k<=t} diag(1-h_k^2) [prod_{j=k}^{t-1} W^T diag(1-h_{j+1}^2)] V^T (sign*(yhat_t - y_t)) last(k)^T

    `last(k)` is h_{k-1} (for W), x_k (for U) or None (for b). Written with explicit matrices
    so that it shares nothing with a recursive BPTT.
    """
    forward = canonical_forward(p)
    h = forward["h"]
    T = len(p["x"])
    n_h = len(h[0])
    total = None
    for t in range(1, T + 1):
        g_o = sign * (forward["yhat"][t - 1] - _one_hot(int(p["y"][t - 1]), len(p["c"])))
        for k in range(1, t + 1):
            product = np.eye(n_h)
            for j in range(k, t):
                product = product @ (p["W"].T @ np.diag(1 - h[j + 1] ** 2))
            column = np.diag(1 - h[k] ** 2) @ product @ p["V"].T @ g_o
            row = last(k)
            term = column if row is None else np.outer(column, row)
            total = term if total is None else total + term
    return total


def _states_after(p: Mapping[str, np.ndarray], k: int, h_k: np.ndarray, t: int) -> np.ndarray:
    """h_t computed from a given h_k by running the recurrence forward (1-based times)."""
    h = h_k
    for step in range(k + 1, t + 1):
        h = np.tanh(p["b"] + p["W"] @ h + p["U"] @ p["x"][step - 1])
    return h


# --------------------------------------------------------------------------------------------
# Checks, one per erratum
# --------------------------------------------------------------------------------------------


def _check_only_diagonal_matters() -> CheckOutcome:
    # Keeping only the i = j entries of the softmax Jacobian changes dL/dOmega.
    o, yhat, y = _logit_point()
    true = _ce_grad_fd(o, y)
    jacobian = np.diag(yhat) - np.outer(yhat, yhat)
    diagonal_only = -(y / yhat) @ np.diag(np.diag(jacobian))
    full = -(y / yhat) @ jacobian
    return array_check(diagonal_only, true, full, rtol=1e-6, label="dL/dOmega, diagonal only")


def _check_quotient_rule_numerator() -> CheckOutcome:
    o, yhat, jacobian = _softmax_symbols()
    total = sum(sp.exp(v) for v in o)
    claim = sp.Matrix(
        _K, _K, lambda i, j: (sp.exp(o[i]) * total - sp.exp(o[j]) * sp.exp(o[i])) / total**2
    )
    fixed = sp.Matrix(
        _K,
        _K,
        lambda i, j: (
            (sp.KroneckerDelta(i, j) * sp.exp(o[i]) * total - sp.exp(o[j]) * sp.exp(o[i]))
            / total**2
        ),
    )
    return exp_identity_check(claim - jacobian, fixed - jacobian, o)


def _check_eq5() -> CheckOutcome:
    o, yhat, jacobian = _softmax_symbols()
    claim = sp.Matrix(_K, _K, lambda i, j: yhat[i] * (1 - yhat[j]))
    fixed = sp.Matrix(_K, _K, lambda i, j: yhat[i] * (sp.KroneckerDelta(i, j) - yhat[j]))
    return exp_identity_check(claim - jacobian, fixed - jacobian, o)


def _check_dropped_sum() -> CheckOutcome:
    o, yhat, y = _logit_point()
    true = _ce_grad_fd(o, y)
    # Line 56 per component j: -yhat_j (1 - yhat_j) * y_j / yhat_j, i.e. only the i = j term.
    claim = -yhat * (1 - yhat) * y / yhat
    jacobian = np.diag(yhat) - np.outer(yhat, yhat)
    fixed = np.array([-sum(y[i] / yhat[i] * jacobian[i, j] for i in range(4)) for j in range(4)])
    return array_check(claim, true, fixed, label="dL_t/dOmega_t (line 56 vs the full sum)")


def _check_line59() -> CheckOutcome:
    # Line 58 is the vector yhat_j y - y; line 59 rewrites it as yhat_i yhat - y.
    o, yhat, jacobian = _softmax_symbols()
    y = list(sp.symbols(f"y1:{_K + 1}", real=True))
    i, j = 0, 1
    line58 = sp.Matrix([yhat[j] * y[m] - y[m] for m in range(_K)])
    line59 = sp.Matrix([yhat[i] * yhat[m] - y[m] for m in range(_K)])
    loss = -sum(y[m] * sp.log(yhat[m]) for m in range(_K))
    true = sp.Matrix([sp.diff(loss, v) for v in o])
    fixed = sp.Matrix([yhat[m] * sum(y) - y[m] for m in range(_K)])
    return exp_identity_check(line59 - line58, true - fixed, o, _target_point(y))


def _check_needs_sum_one() -> CheckOutcome:
    o, yhat, _ = _softmax_symbols()
    y = list(sp.symbols(f"y1:{_K + 1}", real=True))
    loss = -sum(y[m] * sp.log(yhat[m]) for m in range(_K))
    true = sp.Matrix([sp.diff(loss, v) for v in o])
    claim = sp.Matrix([yhat[m] - y[m] for m in range(_K)])
    general = sp.Matrix([yhat[m] * sum(y) - y[m] for m in range(_K)])
    # With sum_i y_i = 1 imposed (y_K = 1 - the others) the short form is proven too.
    one_hot = {y[-1]: 1 - sum(y[:-1])}
    proven_with_sum_one = is_zero_in_exp((true - claim).subs(one_hot), o)
    outcome = exp_identity_check(true - claim, true - general, o, _target_point(y))
    return CheckOutcome(
        outcome.claim_refuted,
        outcome.correction_holds and proven_with_sum_one,
        f"for a target with sum y != 1: {outcome.evidence}; with sum y = 1 imposed: "
        + ("yhat - y proven" if proven_with_sum_one else "yhat - y NOT proven"),
    )


def _check_product_order() -> CheckOutcome:
    p = canonical_model(seed=11)
    h = canonical_forward(p)["h"]
    k, t = 1, 4
    jac = [None] + [np.diag(1 - h[j] ** 2) @ p["W"] for j in range(1, 5)]  # J(j) = dh_j/dh_{j-1}
    true = np.column_stack(
        [
            (
                _states_after(p, k, h[k] + 1e-6 * _one_hot(m, len(h[k])), t)
                - _states_after(p, k, h[k] - 1e-6 * _one_hot(m, len(h[k])), t)
            )
            / 2e-6
            for m in range(len(h[k]))
        ]
    )
    ascending = jac[k + 1] @ jac[k + 2] @ jac[k + 3]
    descending = jac[k + 3] @ jac[k + 2] @ jac[k + 1]
    return array_check(ascending, true, descending, rtol=1e-6, label="dh_4/dh_1")


def _check_sign_dl_dyhat() -> CheckOutcome:
    o, yhat, y = _logit_point()
    true = _ce_grad_fd(o, y)
    dl_dyhat = finite_difference_gradient(
        lambda q: float(-np.sum(y * np.log(q["p"]))), {"p": yhat}, "p"
    )
    return combine(
        array_check(y - yhat, true, yhat - y, label="dL_t/dOmega_t"),
        array_check(y - yhat, dl_dyhat, -y / yhat, label="dL_t/dyhat_t"),
    )


def _check_mislabelled_factors() -> CheckOutcome:
    p = canonical_model(seed=5)
    h = canonical_forward(p)["h"][2]
    yhat = softmax(p["c"] + p["V"] @ h)
    true = np.column_stack(
        [
            (
                softmax(p["c"] + p["V"] @ (h + 1e-6 * _one_hot(m, 4)))
                - softmax(p["c"] + p["V"] @ (h - 1e-6 * _one_hot(m, 4)))
            )
            / 2e-6
            for m in range(4)
        ]
    )
    fixed = (np.diag(yhat) - np.outer(yhat, yhat)) @ p["V"]
    return combine(
        array_check(p["V"].T, true, fixed, label="dyhat_t/dh_t as V^T"),
        array_check(p["V"], true, fixed, label="dyhat_t/dh_t as V"),
    )


def _check_recurrent_jacobian() -> CheckOutcome:
    p = canonical_model(seed=7)
    h = canonical_forward(p)["h"]
    j = 2
    true = np.column_stack(
        [
            (
                _states_after(p, j, h[j] + 1e-6 * _one_hot(m, 4), j + 1)
                - _states_after(p, j, h[j] - 1e-6 * _one_hot(m, 4), j + 1)
            )
            / 2e-6
            for m in range(4)
        ]
    )
    claim = p["W"].T @ np.diag(1 - h[j + 1] ** 2)
    fixed = np.diag(1 - h[j + 1] ** 2) @ p["W"]
    return array_check(claim, true, fixed, rtol=1e-6, label="dh_3/dh_2")


def _check_eq10() -> CheckOutcome:
    p = canonical_model(seed=1)

    def literal(q: Mapping[str, np.ndarray]) -> np.ndarray:
        # Eq. (10) read as printed: (1 - h_k^2) h_{k-1} is an elementwise product, a vector.
        h = canonical_forward(q)["h"]
        return sum((1 - h[k] ** 2) * h[k - 1] for k in range(1, len(h)))

    def note_sign(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return _unrolled(q, lambda k: canonical_forward(q)["h"][k - 1], sign=-1.0)

    def fixed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return _unrolled(q, lambda k: canonical_forward(q)["h"][k - 1])

    return combine(
        gradient_formula_check(literal, fixed, "W", params=p),
        gradient_formula_check(note_sign, fixed, "W", params=p),
    )


def _check_cites_eq6() -> CheckOutcome:
    # Eq. (6) of the note says yhat - y; line 136 quotes it as y - yhat.
    o, yhat, y = _logit_point(seed=8)
    true = _ce_grad_fd(o, y)
    return array_check(y - yhat, true, yhat - y, label="dL_t/dOmega_t quoted 'from Eq. (6)'")


def _check_dh_du() -> CheckOutcome:
    p = canonical_model(seed=2)  # n_x = 3, n_h = 4
    h = canonical_forward(p)["h"]
    # The literal elementwise product of (n_h,) and (n_x,) vectors does not exist.
    try:
        literal = (1 - h[1] ** 2) * p["x"][0]
        claim_holds = literal.shape == p["U"].shape
        literal_text = f"(1-h_1^2) x_1 has shape {literal.shape}, U has {p['U'].shape}"
    except ValueError:
        claim_holds = False
        literal_text = "(1-h_1^2) x_1 is undefined: shapes (4,) and (3,) do not combine"
    dh = canonical_gradients_bptt(p)["dh"]
    fixed = sum(np.outer((1 - h[k] ** 2) * dh[k - 1], p["x"][k - 1]) for k in range(1, len(h)))
    fd = finite_difference_gradient(canonical_loss, p, "U")
    error = float(np.max(np.abs(fixed - fd)))
    return truth_check(
        claim_holds,
        error < 1e-6,
        f"{literal_text}; sum_k diag(1-h_k^2) dL/dh_k x_k^T matches finite differences "
        f"(max abs error {format_error(error, 1e-6, floor=FD_FLOOR)})",
    )


def _check_eq12() -> CheckOutcome:
    p = canonical_model(n_x=4, seed=4)  # n_x = n_h so that the two formulas can be compared

    def eq12(q: Mapping[str, np.ndarray]) -> np.ndarray:
        # Even with its sign corrected, Eq. (12) is the W formula (last factor h_{k-1}).
        return _unrolled(q, lambda k: canonical_forward(q)["h"][k - 1])

    def fixed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return _unrolled(q, lambda k: q["x"][k - 1])

    return gradient_formula_check(eq12, fixed, "U", params=p)


def _check_eq14() -> CheckOutcome:
    p = canonical_model(seed=6)

    def eq14(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return _unrolled(q, lambda k: None, sign=-1.0)

    def fixed(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return _unrolled(q, lambda k: None)

    return gradient_formula_check(eq14, fixed, "b", params=p)


# --------------------------------------------------------------------------------------------
# Confirmations
# --------------------------------------------------------------------------------------------


def _confirm_sum_derivative() -> CheckOutcome:
    o = sp.symbols(f"o1:{_K + 1}", real=True)
    total = sum(sp.exp(v) for v in o)
    return sympy_residual_check(sp.diff(total, o[1]), sp.exp(o[1]), claim_should_hold=True)


def _confirm_eq6() -> CheckOutcome:
    o, yhat, _ = _softmax_symbols()
    loss = -sp.log(yhat[0])  # one-hot target: class 1
    true = sp.Matrix([sp.diff(loss, v) for v in o])
    claim = sp.Matrix([yhat[m] - (1 if m == 0 else 0) for m in range(_K)])
    holds = is_zero_in_exp(true - claim, o)
    return CheckOutcome(
        not holds, holds, "d(-log yhat_1)/do - (yhat - e_1) cancels to 0" if holds else "not proven"
    )


def _confirm_eq7() -> CheckOutcome:
    def eq7(q: Mapping[str, np.ndarray]) -> np.ndarray:
        f = canonical_forward(q)
        return sum(
            np.outer(f["yhat"][t] - _one_hot(int(q["y"][t]), len(q["c"])), f["h"][t + 1])
            for t in range(len(q["x"]))
        )

    return gradient_formula_check(eq7, None, "V")


def _confirm_eq8() -> CheckOutcome:
    def eq8(q: Mapping[str, np.ndarray]) -> np.ndarray:
        f = canonical_forward(q)
        return sum(f["yhat"][t] - _one_hot(int(q["y"][t]), len(q["c"])) for t in range(len(q["x"])))

    return gradient_formula_check(eq8, None, "c")


def _confirm_eq9_structure() -> CheckOutcome:
    # The sum over t of the sum over k <= t of (dL_t/dh_t)(dh_t/dh_k)(local dh_k/dW),
    # with the Jacobian product ordered from t down to k+1, is the gradient.
    def eq9(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return _unrolled(q, lambda k: canonical_forward(q)["h"][k - 1])

    return gradient_formula_check(eq9, None, "W", params=canonical_model(seed=9))


def _confirm_h4() -> CheckOutcome:
    # The nested h_4 of line 106 equals four steps of the recurrence (scalar case, SymPy).
    w, u, b, h0 = sp.symbols("W U b h_0", real=True)
    x = sp.symbols("x1:5", real=True)
    nested = sp.tanh(
        w * sp.tanh(w * sp.tanh(w * sp.tanh(w * h0 + u * x[0] + b) + u * x[1] + b) + u * x[2] + b)
        + u * x[3]
        + b
    )
    h = h0
    for t in range(4):
        h = sp.tanh(w * h + u * x[t] + b)
    return sympy_residual_check(nested, h, claim_should_hold=True)


# --------------------------------------------------------------------------------------------
# The catalogue: quotes in the note's letters, corrections in the canonical notation
# (NOTATION.md; the module docstring maps the letters).
# --------------------------------------------------------------------------------------------


_e = _CATALOGUE.erratum

ERRATA: list[Erratum] = [
    _e(
        1,
        35,
        r"Only meaningful derivatives is obtained for $i = j$ case",
        "false claim",
        "high",
        r"The off-diagonal derivatives $\partial\hat y_i/\partial\Omega_j=-\hat y_i\hat y_j$ "
        r"($i\ne j$) are not negligible: they produce the $\hat y_j$ in $\hat y_t-y_t$. "
        r"Keeping only $i=j$ (even with a one-hot target) gives the wrong gradient.",
        r"\frac{\partial L}{\partial o_j}=-\sum_i\frac{y_i}{\hat y_i}\,\hat "
        r"y_i(\delta_{ij}-\hat y_j)\quad(\text{all } i\text{, not only } i=j)",
        _check_only_diagonal_matters,
    ),
    _e(
        2,
        38,
        r"\frac{e^{\Omega_{t,i}} \sum e^{\Omega_{t,k}} - e^{\Omega_{t,j}} e^{\Omega_{t,i}}}",
        "step does not follow",
        "medium",
        r"The quotient rule is applied to arbitrary $i,j$ as if $\partial "
        r"e^{\Omega_{t,i}}/\partial\Omega_{t,j}=e^{\Omega_{t,i}}$; that derivative is "
        r"$\delta_{ij}e^{\Omega_{t,i}}$, so the first term is absent when $i\ne j$.",
        r"\frac{\partial}{\partial o_j}\frac{e^{o_i}}{\sum_k "
        r"e^{o_k}}=\frac{\delta_{ij}e^{o_i}\sum_k e^{o_k}-e^{o_j}e^{o_i}}{(\sum_k e^{o_k})^2}",
        _check_quotient_rule_numerator,
    ),
    _e(
        3,
        43,
        r"\hat{y}_{t,i} (1 - \hat{y}_{t,j}) \quad (5)",
        "wrong formula",
        "high",
        r"Eq. (5) is stated for arbitrary $i,j$ but is only the diagonal $i=j$; for $i\ne j$ "
        r"the derivative is $-\hat y_{t,i}\hat y_{t,j}$.",
        r"\frac{\partial\hat y_i}{\partial o_j}=\hat y_i(\delta_{ij}-\hat "
        r"y_j),\qquad\frac{\partial\hat y}{\partial o}=\operatorname{diag}(\hat y)-\hat y\hat "
        r"y^\top",
        _check_eq5,
        formulas=(r"\hat{y}_{t,i} (1 - \hat{y}_{t,j}) \quad (5)",),
    ),
    _e(
        4,
        56,
        r"&= -\hat{y}_{t,i} (1 - \hat{y}_{t,j}) \cdot \frac{y_t}{\hat{y}_t}",
        "step does not follow",
        "medium",
        r"The sum over $i$ of line 55 is dropped and only the diagonal term (Eq. 5) is kept; "
        r"the indices $i$, $j$ and the whole vectors $y_t$, $\hat y_t$ are then mixed in one "
        r"expression. The final $\hat y_t-y_t$ is right, but it does not follow from this "
        r"line.",
        r"\frac{\partial L}{\partial o_j}=-\sum_i\frac{y_i}{\hat y_i}\hat "
        r"y_i(\delta_{ij}-\hat y_j)=\hat y_j\sum_i y_i-y_j",
        _check_dropped_sum,
    ),
    _e(
        5,
        59,
        "&= \\hat{y}_{t,i} \\hat{y}_t - y_t \\\\",
        "step does not follow",
        "medium",
        r"From line 58, $-(y_t-\hat y_{t,j}y_t)=\hat y_{t,j}y_t-y_t$; line 59 silently turns "
        r"$\hat y_{t,j}y_t$ into $\hat y_{t,i}\hat y_t$ (a different index and $y_t$ replaced "
        r"by $\hat y_t$). The two are not equal.",
        r"\frac{\partial L}{\partial o_j}=\hat y_j\sum_i y_i-y_j",
        _check_line59,
    ),
    _e(
        6,
        61,
        r"&= (\hat{y}_t - y_t)",
        "unstated assumption",
        "medium",
        r"The step from $\hat y_{t,j}\cdot(?)$ to $\hat y_t-y_t$ (marked '(?)' by the author) "
        r"needs $\sum_i y_{t,i}=1$ (a one-hot or probability target), which the derivation "
        r"never invokes. Without it the gradient is $\hat y_t\sum_i y_{t,i}-y_t$.",
        r"\nabla_o L=\hat y\sum_i y_i-y=\hat y-y\quad\text{when }\sum_i y_i=1",
        _check_needs_sum_one,
    ),
    _e(
        7,
        114,
        r"\left(\prod_{j=k}^{t-1} \frac{\partial h_{j+1}}{\partial h_j} \right)",
        "misleading notation",
        "low",
        r"The factors are matrices, so the order of the product matters and $\prod$ does not "
        r"say it: the chain rule (and the expansion on line 110) needs $j$ descending from "
        r"$t-1$ to $k$, left to right. Read in the usual ascending order the product is wrong.",
        r"\frac{\partial h(t)}{\partial h(k)}=J(t)\,J(t-1)\cdots J(k+1),\quad "
        r"J(j)=\frac{\partial h(j)}{\partial h(j-1)}=\operatorname{diag}(1-h(j)^2)\,W",
        _check_product_order,
    ),
    _e(
        8,
        122,
        r"\frac{\partial L_t}{\partial \hat{y}_t} &= (y_t - \hat{y}_t)",
        "wrong sign",
        "high",
        r"The sign is flipped against the note's own Eq. (6), and the quantity is "
        r"mislabelled: $\hat y_t-y_t$ is $\partial L_t/\partial\Omega_t$, while $\partial "
        r"L_t/\partial\hat y_t=-y_t/\hat y_t$ (elementwise). A gradient step with this sign "
        r"climbs the loss; the sign propagates into Eqs. (10), (12) and (14).",
        r"\nabla_{o(t)}L=\hat y(t)-e_{y(t)},\qquad\nabla_{\hat y(t)}L=-e_{y(t)}/\hat y(t)\ \ "
        r"(\text{elementwise})",
        _check_sign_dl_dyhat,
        formulas=(r"\frac{\partial L_t}{\partial \hat{y}_t} &= (y_t - \hat{y}_t)",),
    ),
    _e(
        9,
        122,
        r"\frac{\partial \hat{y}_t}{\partial h_t} &= V^\top",
        "misleading notation",
        "medium",
        r"$\hat y_t=\operatorname{softmax}(Vh_t+c)$, so $\partial\hat y_t/\partial "
        r"h_t=(\operatorname{diag}\hat y_t-\hat y_t\hat y_t^\top)V$, not $V^\top$. $V^\top$ "
        r"is the transposed $\partial\Omega_t/\partial h_t$: the chain skips the softmax "
        r"(which is hidden in the mislabelled first factor). The product is right only with "
        r"both labels fixed.",
        r"\nabla_{h(t)}L(t)=V^\top\nabla_{o(t)}L=V^\top\big(\hat "
        r"y(t)-e_{y(t)}\big),\qquad\frac{\partial\hat y(t)}{\partial "
        r"h(t)}=\big(\operatorname{diag}(\hat y(t))-\hat y(t)\hat y(t)^\top\big)V",
        _check_mislabelled_factors,
        formulas=(r"\frac{\partial \hat{y}_t}{\partial h_t} &= V^\top",),
    ),
    _e(
        10,
        122,
        r"\frac{\partial h_{j+1}}{\partial h_j} &= W^\top (1 - h_{j+1}^2)",
        "wrong formula",
        "medium",
        r"The Jacobian is $\operatorname{diag}(1-h_{j+1}^2)W$. The note writes its transpose, "
        r"and without $\operatorname{diag}$: $W^\top(1-h_{j+1}^2)$ read literally is a "
        r"vector. The transposed factor $W^\top\operatorname{diag}(1-h_{j+1}^2)$ is what "
        r"appears in the denominator-layout product $(\partial h_t/\partial h_k)^\top$, but "
        r"not as $\partial h_{j+1}/\partial h_j$.",
        r"\frac{\partial h(j+1)}{\partial h(j)}=\operatorname{diag}(1-h(j+1)^2)\,W",
        _check_recurrent_jacobian,
        formulas=(r"\frac{\partial h_{j+1}}{\partial h_j} &= W^\top (1 - h_{j+1}^2)",),
    ),
    _e(
        11,
        126,
        r"(1 - h_k^2) h_{k-1} \right) \quad (10)",
        "missing transpose",
        "high",
        r"As printed, Eq. (10) ends in $(1-h_k^2)h_{k-1}$, a vector, and its factors cannot "
        r"be multiplied in the printed order; $\partial L/\partial W$ is an $n_h\times n_h$ "
        r"matrix, an outer product with $h_{k-1}^\top$. Even with the order and transpose "
        r"repaired it carries the flipped sign $(y_t-\hat y_t)$ and equals $-\partial "
        r"L/\partial W$.",
        r"\nabla_W L=\sum_{t=1}^{T}\sum_{k=1}^{t}\operatorname{diag}(1-h(k)^2)\Big(\prod_{j=k}"
        r"^{t-1}W^\top\operatorname{diag}(1-h(j+1)^2)\Big)V^\top\big(\hat "
        r"y(t)-e_{y(t)}\big)\,h(k-1)^\top",
        _check_eq10,
        formulas=(r"(y_t - \hat{y}_t) V^\top",),
    ),
    _e(
        12,
        136,
        r"\text{From Eq. (6):} \quad & \frac{\partial L_t}{\partial \hat{y}_t} = (y_t - "
        r"\hat{y}_t)",
        "copy-paste",
        "high",
        r"Cites Eq. (6) but copies it with the opposite sign (Eq. (6) says $\hat y_t-y_t$), "
        r"and as $\partial L_t/\partial\Omega_t$, not $\partial L_t/\partial\hat y_t$. "
        r"(Likewise 'From Eq. (2)' gives $\partial\Omega_t/\partial h_t$, not $\partial\hat "
        r"y_t/\partial h_t$.)",
        r"\text{Eq. (6): }\nabla_{o(t)}L=\hat y(t)-e_{y(t)}",
        _check_cites_eq6,
        formulas=(r"\frac{\partial L_t}{\partial \hat{y}_t} = (y_t - \hat{y}_t)",),
    ),
    _e(
        13,
        136,
        r"\frac{\partial h_k}{\partial U} = (1 - h_k^2) x_k",
        "missing transpose",
        "medium",
        r"$U$ is $n_h\times n_x$; the local gradient is the outer product with $x_k^\top$. "
        r"$(1-h_k^2)x_k$ is not even defined when $n_x\ne n_h$.",
        r"\nabla_U L=\sum_{t=1}^{T}\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L\,x(t)^\top",
        _check_dh_du,
    ),
    _e(
        16,
        136,
        r"\frac{\partial \hat{y}_t}{\partial h_t} = V^\top",
        "wrong formula",
        "medium",
        r"The block for $U$ repeats the two Jacobians of line 122 with their errors: "
        r"$\partial\hat y_t/\partial h_t$ is $(\operatorname{diag}\hat y_t-\hat y_t\hat "
        r"y_t^\top)V$ ($n_y\times n_h$), not $V^\top$ ($n_h\times n_y$), and "
        r"$\partial h_{j+1}/\partial h_j$ is the matrix $\operatorname{diag}(1-h_{j+1}^2)W$, "
        r"not the vector $W^\top(1-h_{j+1}^2)$.",
        r"\frac{\partial\hat y(t)}{\partial h(t)}=\big(\operatorname{diag}(\hat y(t))-\hat "
        r"y(t)\hat y(t)^\top\big)V,\qquad\frac{\partial h(j+1)}{\partial "
        r"h(j)}=\operatorname{diag}(1-h(j+1)^2)\,W",
        lambda: combine(_check_mislabelled_factors(), _check_recurrent_jacobian()),
        formulas=(
            r"\frac{\partial \hat{y}_t}{\partial h_t} = V^\top",
            r"\frac{\partial h_{j+1}}{\partial h_j} = W^\top (1 - h_{j+1}^2)",
        ),
    ),
    _e(
        14,
        140,
        r"\frac{\partial L}{\partial W} = \sum_{t=1}^S \left(\sum_{k=1}^t (y_t - \hat{y}_t) "
        r"V^\top \prod_{j=k}^{t-1} \left(W^\top (1 - h_{j+1}^2) \right) (1 - h_k^2) h_{k-1} "
        r"\right) \quad (12)",
        "copy-paste",
        "high",
        r"Section 2.6 derives $\partial L/\partial U$, but Eq. (12) is a copy of Eq. (10): "
        r"its left-hand side says $W$ and its last factor is $h_{k-1}$ instead of $x_k^\top$. "
        r"It is not the gradient with respect to $U$ (and it keeps the flipped sign).",
        r"\nabla_U L=\sum_{t=1}^{T}\sum_{k=1}^{t}\operatorname{diag}(1-h(k)^2)\Big(\prod_{j=k}"
        r"^{t-1}W^\top\operatorname{diag}(1-h(j+1)^2)\Big)V^\top\big(\hat "
        r"y(t)-e_{y(t)}\big)\,x(k)^\top",
        _check_eq12,
        formulas=(r"\frac{\partial L}{\partial W} = \sum_{t=1}^S",),
    ),
    _e(
        15,
        154,
        r"\frac{\partial L}{\partial W} = \sum_{t=1}^S \left(\sum_{k=1}^t (y_t - \hat{y}_t) "
        r"V^\top \prod_{j=k}^{t-1} \left(W^\top (1 - h_{j+1}^2) \right) (1 - h_k^2) \right) "
        r"\quad (14)",
        "copy-paste",
        "high",
        r"Eq. (14) is the gradient with respect to $b$ but its left-hand side says $W$ "
        r"(copied from Eq. (10)); its right-hand side carries the flipped sign $(y_t-\hat "
        r"y_t)$, so it equals $-\partial L/\partial b$.",
        r"\nabla_b L=\sum_{t=1}^{T}\sum_{k=1}^{t}\operatorname{diag}(1-h(k)^2)\Big(\prod_{j=k}"
        r"^{t-1}W^\top\operatorname{diag}(1-h(j+1)^2)\Big)V^\top\big(\hat y(t)-e_{y(t)}\big)",
        _check_eq14,
        formulas=(r"(1 - h_k^2) \right) \quad (14)",),
    ),
]


_c = _CATALOGUE.confirmation

CONFIRMED: list[Confirmation] = [
    _c(
        33,
        r"= e^{\Omega_{t,j}}",
        r"\frac{\partial}{\partial o_j}\sum_k e^{o_k}=e^{o_j}",
        _confirm_sum_derivative,
    ),
    _c(
        64,
        r"= (\hat{y}_t - y_t) \quad (6)",
        r"\nabla_{o(t)}L=\hat y(t)-e_{y(t)}\quad(\text{one-hot target})",
        _confirm_eq6,
        formulas=(r"\frac{\partial L_t}{\partial \hat{\Omega}_t}",),
    ),
    _c(
        78,
        r"= \sum_{t=1}^S (\hat{y}_t - y_t) \cdot h_t^\top \quad (7)",
        r"\nabla_V L=\sum_{t=1}^{T}\big(\hat y(t)-e_{y(t)}\big)\,h(t)^\top",
        _confirm_eq7,
        formulas=(r"= \sum_{t=1}^S (\hat{y}_t - y_t) \cdot h_t^\top \quad (7)",),
    ),
    _c(
        92,
        r"= \sum_{t=1}^T (\hat{y}_t - y_t) \quad (8)",
        r"\nabla_c L=\sum_{t=1}^{T}\big(\hat y(t)-e_{y(t)}\big)",
        _confirm_eq8,
        formulas=(r"= \sum_{t=1}^T (\hat{y}_t - y_t) \quad (8)",),
    ),
    _c(
        106,
        r"h_4 = \tanh(W \tanh(W \tanh(W \tanh(W h_0 + U x_1 + b)",
        r"h(4)=\tanh(W\tanh(W\tanh(W\tanh(Wh(0)+Ux(1)+b)+Ux(2)+b)+Ux(3)+b)+Ux(4)+b)",
        _confirm_h4,
    ),
    _c(
        118,
        r"\frac{\partial L}{\partial W} = \sum_{t=1}^{\mathcal{S}} \left(\sum_{k=1}^t",
        r"\frac{\partial L}{\partial W}=\sum_{t=1}^{T}\sum_{k=1}^{t}\frac{\partial "
        r"L(t)}{\partial h(t)}\frac{\partial h(t)}{\partial h(k)}\frac{\partial^+ "
        r"h(k)}{\partial W}\quad(\text{numerator layout; product ordered from }t\text{ down "
        r"to }k+1)",
        _confirm_eq9_structure,
    ),
]
