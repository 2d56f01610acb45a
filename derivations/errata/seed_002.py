"""Errata of seed 002 (RNN cheatsheet + handwritten softmax/cross-entropy, BPTT, clipping).

The note's letters: W_ax (canonical U), W_aa (W), W_ya (V), b_a (b), b_y (c), hidden state
a<t> / h_t, logits o_t (also written theta_t or a circle), probabilities yhat_t (also g).
In the numeric checks the parameters are stored under the canonical keys of
`_checks.canonical_model`.
Quotes and problem texts keep the note's letters; corrections and confirmed statements are
written in the canonical notation of NOTATION.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import sympy as sp

from derivations.errata._checks import (
    SeedCatalogue,
    array_check,
    canonical_forward,
    canonical_model,
    combine,
    exp_identity_check,
    finite_difference_gradient,
    gradient_formula_check,
    is_zero_in_exp,
    softmax,
    truth_check,
)
from derivations.errata._types import CheckOutcome, Confirmation, Erratum

SEED = "002_1986c8a8192cb80b.txt"
_CATALOGUE = SeedCatalogue(SEED)
_K = 3  # classes in the symbolic softmax checks


def _softmax_symbols() -> tuple[list[sp.Symbol], list[sp.Expr], sp.Expr, sp.Matrix]:
    """Logits o_1..o_K, softmax g_i = e^{o_i}/S, S, and the Jacobian d g_i / d o_j."""
    o = list(sp.symbols(f"o1:{_K + 1}", real=True))
    total = sum(sp.exp(v) for v in o)
    g = [sp.exp(v) / total for v in o]
    return o, g, total, sp.Matrix(_K, _K, lambda i, j: sp.diff(g[i], o[j]))


def _logits(seed: int = 2, size: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(size)


def _output_grads(q: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """delta_t^y = yhat_t - y_t for every step (one-hot targets)."""
    out = []
    for t, yhat in enumerate(canonical_forward(q)["yhat"]):
        g = yhat.copy()
        g[int(q["y"][t])] -= 1.0
        out.append(g)
    return out


def _line126_deltas(q: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """delta_t^u of line 126, t = 1..T (index t-1), by its backward recursion."""
    h = canonical_forward(q)["h"]
    dy = _output_grads(q)
    T = len(dy)
    du: list[np.ndarray] = [np.zeros(0)] * T
    after = np.zeros_like(h[0])  # delta^u_{T+1} = 0
    for t in range(T, 0, -1):
        dh = q["V"].T @ dy[t - 1] + q["W"].T @ after
        du[t - 1] = (1 - h[t] ** 2) * dh
        after = du[t - 1]
    return du


# --------------------------------------------------------------------------------------------
# Checks, one per erratum
# --------------------------------------------------------------------------------------------


def _check_w_ya_shared() -> CheckOutcome:
    # If W_ya were not shared, its gradient would be one step's term; it is the sum over t.
    p = canonical_model(seed=12)
    h = canonical_forward(p)["h"]
    dy = _output_grads(p)

    def last_step_only(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.outer(dy[-1], h[-1])

    def shared(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum(np.outer(dy[t], h[t + 1]) for t in range(len(dy)))

    return gradient_formula_check(last_step_only, shared, "V", params=p)


def _check_line44() -> CheckOutcome:
    o, g, total, jacobian = _softmax_symbols()
    i = 0
    claim = sp.Matrix([sp.exp(o[i]) * (total - sp.exp(o[i]) * sp.exp(o[i])) / total**2])
    fixed = sp.Matrix([sp.exp(o[i]) * (total - sp.exp(o[i])) / total**2])
    truth = sp.Matrix([jacobian[i, i]])
    return exp_identity_check(claim - truth, fixed - truth, o)


def _check_first_order() -> CheckOutcome:
    x, d = sp.symbols("x delta", real=True)
    f = sp.exp
    remainder = f(x + d) - f(x) - sp.diff(f(x), x) * d
    value = remainder.subs({x: 0, d: sp.Rational(1, 10)})
    ratio_limit = sp.limit(remainder / d, d, 0)
    return truth_check(
        value == 0,
        sp.simplify(ratio_limit) == 0,
        f"f = exp, x = 0, delta = 1/10: f(x+delta) - f(x) - f'(x) delta = {sp.N(value, 6)} != 0; "
        f"the remainder over delta tends to {ratio_limit} (first order only)",
    )


def _check_missing_sum_j() -> CheckOutcome:
    o = _logits(seed=3)
    direction = np.random.default_rng(30).standard_normal(4)
    eps = 1e-6
    true = (softmax(o + eps * direction) - softmax(o - eps * direction)) / (2 * eps)
    yhat = softmax(o)
    jacobian = np.diag(yhat) - np.outer(yhat, yhat)
    i, j = 0, 1
    one_term = jacobian[i, j] * direction[j]
    summed = jacobian[i] @ direction
    return array_check(one_term, true[i], summed, label="delta yhat_1 for a change of every o_j")


def _check_line70() -> CheckOutcome:
    o, g, _, jacobian = _softmax_symbols()
    m = 0
    claim = sp.Matrix([[-g[m] * g[j] for j in range(_K)]])
    fixed = sp.Matrix([[g[m] * (sp.KroneckerDelta(m, j) - g[j]) for j in range(_K)]])
    truth = jacobian[m, :]
    return exp_identity_check(claim - truth, fixed - truth, o)


def _check_line72() -> CheckOutcome:
    o, g, _, jacobian = _softmax_symbols()
    n, j = 0, 1  # an off-diagonal entry, where -g_n g_j is right
    claim = sp.Matrix([g[n] * g[j] - jacobian[n, j]])
    fixed = sp.Matrix([-g[n] * g[j] - jacobian[n, j]])
    return exp_identity_check(claim, fixed, o)


def _check_line74() -> CheckOutcome:
    o = _logits(seed=4)
    n = 2
    true = finite_difference_gradient(lambda q: float(-np.log(softmax(q["o"])[n])), {"o": o}, "o")
    return array_check(softmax(o), true, softmax(o) - np.eye(4)[n], label="dL/do_j")


def _check_line80() -> CheckOutcome:
    yhat = softmax(_logits(seed=5))
    y = np.eye(4)[1]
    true = finite_difference_gradient(
        lambda q: float(-np.sum(y * np.log(q["p"]))), {"p": yhat}, "p"
    )
    return array_check(y / yhat, true, -y / yhat, label="dL/dyhat_i")


def _check_line90() -> CheckOutcome:
    yhat = softmax(_logits(seed=6, size=_K))
    y = np.eye(_K)[2]
    printed = -sum(y[i] * np.log(yhat[i]) for i in range(_K) for _j in range(_K))
    fixed = -sum(y[i] * np.log(yhat[i]) for i in range(_K))
    true = -np.log(yhat[2])
    return truth_check(
        abs(printed - true) < 1e-12,
        abs(fixed - true) < 1e-12,
        f"K = {_K}: the double sum gives {printed:.6f} = K x {true:.6f}; the sum over i alone "
        f"gives {fixed:.6f} = -log yhat_c",
    )


def _check_sigmoid_tanh() -> CheckOutcome:
    z = sp.Symbol("z", real=True)
    claim = sp.Matrix([1 / (1 + sp.exp(-sp.tanh(z))) - sp.tanh(sp.tanh(z))])
    value = claim[0].subs(z, sp.Rational(1, 2)).evalf(15)
    identity = sp.Matrix([(sp.tanh(z) - (2 / (1 + sp.exp(-2 * z)) - 1)).rewrite(sp.exp)])
    proven = is_zero_in_exp(identity, [z])
    return truth_check(
        abs(value) < 1e-12,
        proven,
        f"at z = 1/2: sigma(tanh z) - tanh(tanh z) = {sp.N(value, 6)}; "
        + ("tanh z = 2 sigma(2z) - 1 proven" if proven else "identity NOT proven"),
    )


def _check_transposed_jacobian() -> CheckOutcome:
    p = canonical_model(seed=13)
    h = canonical_forward(p)["h"]
    j = 2
    eps = 1e-6

    def step(prev: np.ndarray) -> np.ndarray:
        return np.tanh(p["b"] + p["W"] @ prev + p["U"] @ p["x"][j - 1])

    true = np.column_stack(
        [(step(h[j - 1] + eps * e) - step(h[j - 1] - eps * e)) / (2 * eps) for e in np.eye(4)]
    )
    d_j = np.diag(1 - h[j] ** 2)
    outcome = array_check(p["W"].T @ d_j, true, d_j @ p["W"], label="dh_2/dh_1")
    norms = (np.linalg.norm(p["W"].T @ d_j, 2), np.linalg.norm(d_j @ p["W"], 2))
    return CheckOutcome(
        outcome.claim_refuted,
        outcome.correction_holds,
        f"{outcome.evidence}; spectral norms equal ({norms[0]:.6f} vs {norms[1]:.6f})",
    )


def _check_d_j() -> CheckOutcome:
    rng = np.random.default_rng(14)
    u = rng.standard_normal(4)
    h = np.tanh(u)
    log_norm_grad = finite_difference_gradient(
        lambda q: float(np.log(np.linalg.norm(q["h"]))), {"h": h}, "h"
    )
    eps = 1e-6
    tanh_jacobian = np.column_stack(
        [(np.tanh(u + eps * e) - np.tanh(u - eps * e)) / (2 * eps) for e in np.eye(4)]
    )
    claimed = np.diag(log_norm_grad)  # even read as a diagonal matrix
    return array_check(claimed, tanh_jacobian, np.diag(1 - h**2), label="D_j")


def _check_norm_bound() -> CheckOutcome:
    h = np.tanh(np.full(4, 2.0))
    norm = float(np.linalg.norm(h))
    rng = np.random.default_rng(15)
    samples = np.tanh(3 * rng.standard_normal((200, 4)))
    inf_ok = bool(np.all(np.max(np.abs(samples), axis=1) < 1))
    two_ok = bool(np.all(np.linalg.norm(samples, axis=1) < 2.0))
    return truth_check(
        norm <= 1,
        inf_ok and two_ok and norm < 2.0,
        f"u = (2,2,2,2): ||tanh u||_2 = {norm:.4f} > 1; every entry of h lies in (-1, 1), so "
        f"||h||_inf < 1 and ||h||_2 < sqrt(n_h) = 2 (200 random states)",
    )


def _check_logit_weight_derivative() -> CheckOutcome:
    p = canonical_model(seed=14)
    t = 2
    h_t = canonical_forward(p)["h"][t]  # h(t) does not depend on W_ya (key "V")
    n_y, n_h = p["V"].shape
    # true[k, j, i] = d theta_{t,k} / d (W_ya)_{ji} by finite differences of theta = W_ya h + b_y
    true = np.stack(
        [
            finite_difference_gradient(lambda q, k=k: float((q["V"] @ h_t + q["c"])[k]), p, "V")
            for k in range(n_y)
        ]
    )
    kronecker = np.eye(n_y)[:, :, None] * np.ones((1, 1, n_h))  # delta_kj for every i
    claimed = kronecker * 1.0  # delta_kj (1_n)_j: the note's factor is a one
    corrected = kronecker * h_t[None, None, :]  # delta_kj h_{t,i}
    return array_check(claimed, true, corrected, label="d theta_k / d (W_ya)_ji")


def _check_dtheta_dtheta() -> CheckOutcome:
    rng = np.random.default_rng(15)
    logits = {"o": rng.standard_normal(_K)}
    label = 1
    y = np.eye(_K)[label]
    jacobian = np.stack(
        [
            finite_difference_gradient(lambda q, k=k: float(q["o"][k]), logits, "o")
            for k in range(_K)
        ]
    )
    dl_do = finite_difference_gradient(
        lambda q: float(-np.log(softmax(q["o"])[label])), logits, "o"
    )
    delta_y = softmax(logits["o"]) - y
    as_written = array_check(delta_y, jacobian, label="d theta_t / d theta_t (the identity)")
    meant = array_check(delta_y, dl_do, label="d L_t / d theta_t")
    return CheckOutcome(
        as_written.claim_refuted,
        not meant.claim_refuted,
        f"{as_written.evidence}; {meant.evidence}",
    )


# --------------------------------------------------------------------------------------------
# Confirmations
# --------------------------------------------------------------------------------------------


def _confirm_dl_dg() -> CheckOutcome:
    yhat = softmax(_logits(seed=7))
    y = np.eye(4)[0]
    true = finite_difference_gradient(
        lambda q: float(-np.sum(y * np.log(q["p"]))), {"p": yhat}, "p"
    )
    return array_check(-y / yhat, true, label="dL/dg_i = -y_i/g_i")


def _confirm_softmax_jacobian() -> CheckOutcome:
    o, g, _, jacobian = _softmax_symbols()
    claim = sp.Matrix(_K, _K, lambda i, j: g[i] * (sp.KroneckerDelta(i, j) - g[j]))
    holds = is_zero_in_exp(claim - jacobian, o)
    return CheckOutcome(not holds, holds, f"g_i(delta_ij - g_j) - dg_i/do_j cancels to 0: {holds}")


def _confirm_output_gradient() -> CheckOutcome:
    o = _logits(seed=8)
    y = np.eye(4)[3]
    true = finite_difference_gradient(
        lambda q: float(-np.sum(y * np.log(softmax(q["o"])))), {"o": o}, "o"
    )
    return array_check(softmax(o) - y, true, label="dL_t/dtheta_t = yhat_t - y_t")


def _confirm_bptt() -> CheckOutcome:
    p = canonical_model(seed=16)
    h = canonical_forward(p)["h"]
    dy = _output_grads(p)
    du = _line126_deltas(p)
    T = len(dy)
    formulas: dict[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]] = {
        "V": lambda q: sum(np.outer(dy[t], h[t + 1]) for t in range(T)),
        "c": lambda q: sum(dy),
        "W": lambda q: sum(np.outer(du[t], h[t]) for t in range(T)),
        "U": lambda q: sum(np.outer(du[t], p["x"][t]) for t in range(T)),
        "b": lambda q: sum(du),
    }
    return combine(
        *(gradient_formula_check(f, None, name, params=p) for name, f in formulas.items())
    )


def _confirm_line126() -> CheckOutcome:
    # delta_t^u of the recursion equals dL/du_t, found by bumping u_t inside the forward pass.
    p = canonical_model(seed=19)
    T = len(p["x"])
    t_bump = 2

    def loss_with_bump(q: Mapping[str, np.ndarray]) -> float:
        h = p["h0"]
        total = 0.0
        for t in range(1, T + 1):
            u = p["W"] @ h + p["U"] @ p["x"][t - 1] + p["b"] + (q["bump"] if t == t_bump else 0)
            h = np.tanh(u)
            total -= np.log(softmax(p["V"] @ h + p["c"])[int(p["y"][t - 1])])
        return float(total)

    true = finite_difference_gradient(loss_with_bump, {"bump": np.zeros(4)}, "bump")
    return array_check(_line126_deltas(p)[t_bump - 1], true, label="delta_2^u = dL/du_2")


def _confirm_submultiplicative() -> CheckOutcome:
    rng = np.random.default_rng(17)
    worst = -np.inf
    for _ in range(200):
        a, d = rng.standard_normal((2, 4, 4))
        for order in (2, "fro"):
            lhs = np.linalg.norm(a @ d, order)
            rhs = np.linalg.norm(a, order) * np.linalg.norm(d, order)
            worst = max(worst, lhs - rhs)
    ok = worst <= 1e-12
    return CheckOutcome(
        not ok, ok, f"||AD|| - ||A|| ||D|| <= {worst:.3g} over 200 random pairs (2-norm, Frobenius)"
    )


def _confirm_clipping() -> CheckOutcome:
    rng = np.random.default_rng(18)
    ok = True
    for scale in (0.1, 10.0):
        g = scale * rng.standard_normal(5)
        threshold = 1.0
        clipped = g * min(1.0, threshold / np.linalg.norm(g))
        ok &= bool(np.isclose(np.linalg.norm(clipped), min(np.linalg.norm(g), threshold)))
        ok &= bool(np.isclose(clipped @ g, np.linalg.norm(clipped) * np.linalg.norm(g)))
    return CheckOutcome(
        not ok, ok, "the clipped vector keeps the direction of g and has norm min(||g||, C)"
    )


# --------------------------------------------------------------------------------------------
# The catalogue: quotes in the note's letters, corrections in the canonical notation
# (NOTATION.md; the module docstring maps the letters).
# --------------------------------------------------------------------------------------------


_e = _CATALOGUE.erratum

ERRATA: list[Erratum] = [
    _e(
        1,
        13,
        r"where W_{ax} , W_{aa} , b_y , b_a are coefficients that are shared temporally",
        "false claim",
        "low",
        r"The list of parameters shared over time leaves out $W_{ya}$, which is also the same "
        r"at every step; that is why its gradient is a sum over $t$ (line 128).",
        r"U,\ W,\ V,\ b,\ c\ \text{are shared over time};\quad\nabla_V "
        r"L=\sum_{t=1}^{T}(\nabla_{o(t)}L)\,h(t)^\top",
        _check_w_ya_shared,
    ),
    _e(
        2,
        44,
        r"\frac{e^{\circ_i} (S - e^{\circ_i} e^{\circ_i})}{S^2}",
        "wrong formula",
        "medium",
        r"After factoring out $e^{o_i}$ the bracket must be $S-e^{o_i}$; $S-e^{o_i}e^{o_i}$ "
        r"is wrong. The next expression on the line is right again.",
        r"\frac{\partial\hat y_i}{\partial o_i}=\frac{e^{o_i}S-e^{o_i}e^{o_i}}{S^2}=\frac{e^{o"
        r"_i}(S-e^{o_i})}{S^2},\quad S=\sum_k e^{o_k}",
        _check_line44,
    ),
    _e(
        3,
        56,
        r"f(x+o^2) - f(x) = f'(x) o^2",
        "misleading notation",
        "low",
        r"The linearisation $f(x+\delta)-f(x)\approx f'(x)\,\delta$ is written as an "
        r"equality; it holds only to first order (the change is also written $o^2$, which "
        r"reads as a square).",
        r"f(x+\delta)-f(x)=f'(x)\,\delta+r(\delta),\quad\frac{r(\delta)}{\delta}\to 0\ \ "
        r"(\delta\to 0)",
        _check_first_order,
    ),
    _e(
        4,
        58,
        r"\delta \hat{y}_i = \frac{\partial \hat{y}_i}{\partial o_j} \delta o_j",
        "misleading notation",
        "low",
        r"A change of the logits changes $\hat y_i$ through every $o_j$; the sum over $j$ is "
        r"missing (the note writes its sums explicitly elsewhere, e.g. line 78, so no "
        r"summation convention is in force). Line 66 repeats it.",
        r"\delta\hat y_i=\sum_{j=1}^{K}\frac{\partial\hat y_i}{\partial o_j}\,\delta o_j",
        _check_missing_sum_j,
    ),
    _e(
        5,
        70,
        r"\frac{\partial \hat{y}_m}{\partial o_j} = -\hat{y}_m \hat{y}_j",
        "unstated assumption",
        "medium",
        r"This is the derivative only for $j\ne m$; for $j=m$ it is $\hat y_m(1-\hat y_m)$. "
        r"Lines 72-74 then use it for every $j$, which loses the $j=m$ term.",
        r"\frac{\partial\hat y_m}{\partial o_j}=\hat y_m(\delta_{mj}-\hat y_j)=-\hat y_m\hat "
        r"y_j\ \text{ only when } j\ne m",
        _check_line70,
    ),
    _e(
        6,
        72,
        r"\delta \hat{y}_n = \hat{y}_m \cdot \hat{y}_j \cdot \delta o_j",
        "wrong sign",
        "medium",
        r"The minus sign of line 70 is dropped (and the indices $n$ and $m$ are mixed); line "
        r"74 then has the sign the minus would have given, so it does not follow from this "
        r"line.",
        r"\delta\hat y_n=\sum_j\hat y_n(\delta_{nj}-\hat y_j)\,\delta o_j",
        _check_line72,
    ),
    _e(
        7,
        74,
        r"\delta L = \hat{y}_j \cdot \delta o_j",
        "wrong formula",
        "high",
        r"This says $\partial L/\partial o_j=\hat y_j$ for every $j$; the $j=n$ term (the "
        r"correct class) is missing its $-1$, because line 70's off-diagonal formula was used "
        r"for $j=n$ too.",
        r"\delta L=\sum_j(\hat y_j-\delta_{jn})\,\delta o_j,\qquad\nabla_o L=\hat y-e_n",
        _check_line74,
    ),
    _e(
        8,
        80,
        r"= \sum_{i=1}^k \left(\frac{y_i}{\hat{y}_i} \right) \cdot \delta \hat{y}_i",
        "wrong sign",
        "medium",
        r"$\partial L/\partial\hat y_i=-y_i/\hat y_i$ (boxed on line 32); the minus sign is "
        r"missing here. Line 82 has it again.",
        r"\delta L=-\sum_{i=1}^{K}\frac{y_i}{\hat y_i}\,\delta\hat y_i",
        _check_line80,
    ),
    _e(
        9,
        90,
        r"L_t = - \sum_{i,j} y_{t,i} \log(\hat{y}_{t,i})",
        "wrong sum bound",
        "medium",
        r"The summand does not depend on $j$, so summing over $i$ AND $j$ gives $K$ times the "
        r"cross-entropy. The sum is over $i$ only (as line 124 writes it).",
        r"L(t)=-\sum_{i=1}^{K}y_i(t)\log\hat y_i(t)",
        _check_line90,
    ),
    _e(
        14,
        108,
        r"\frac{\partial \theta_t}{\partial (w_{t,j})_i} = \delta_{kj} (\mathbf{1}_n)_j",
        "wrong formula",
        "medium",
        r"The logit $\theta_{t,k}=\sum_i (w_k)_i h_{t,i}+b_{y,k}$ is linear in the weights "
        r"with coefficient $h_{t,i}$, so $\partial\theta_{t,k}/\partial(w_j)_i=\delta_{kj}"
        r"h_{t,i}$: the factor is the hidden state, not a one (nor a weight, as lines 110-114 "
        r"then write $(w_k)_i$, $(w_k)_j$). The result on line 116, "
        r"$\delta^y h^\top$, does not follow from these lines.",
        r"\frac{\partial o_k(t)}{\partial V_{ji}}=\delta_{kj}\,h_i(t),\qquad\frac{\partial "
        r"L(t)}{\partial V_{ji}}=\big(\nabla_{o(t)}L\big)_j\,h_i(t)",
        _check_logit_weight_derivative,
    ),
    _e(
        15,
        108,
        r"\frac{\partial \theta_t}{\partial \theta_t} = (\delta_t^y)_k",
        "copy-paste",
        "low",
        r"$\partial\theta_t/\partial\theta_t$ is the identity matrix; the quantity equal to "
        r"$(\delta^y_t)_k=(\hat y_t-y_t)_k$ is $\partial L_t/\partial\theta_{t,k}$ (line 104). "
        r"The left-hand side names the wrong numerator.",
        r"\frac{\partial L(t)}{\partial o_k(t)}=\big(\hat y(t)-e_{y(t)}\big)_k,\qquad"
        r"\frac{\partial o(t)}{\partial o(t)}=I",
        _check_dtheta_dtheta,
    ),
    _e(
        10,
        122,
        r"\frac{1}{1+e^{-\tanh(z)}} = \tanh(\tanh(z))",
        "false claim",
        "high",
        r"The logistic sigmoid of $\tanh z$ is not $\tanh(\tanh z)$ (at $z=1/2$ they differ "
        r"by about 0.18). The true relation between the two functions is $\tanh "
        r"z=2\sigma(2z)-1$.",
        r"\tanh(z)=2\sigma(2z)-1=\frac{2}{1+e^{-2z}}-1",
        _check_sigmoid_tanh,
    ),
    _e(
        11,
        140,
        r"J_j = w_m^\top D_j \quad (\text{Jacobian})",
        "misleading notation",
        "low",
        r"$W_{aa}^\top D_j$ is the TRANSPOSE of the Jacobian $\partial h_j/\partial "
        r"h_{j-1}=D_jW_{aa}$ (it is the factor backpropagation multiplies by). Their norms "
        r"agree, so the vanishing-gradient bound is unaffected.",
        r"J(j)=\frac{\partial h(j)}{\partial h(j-1)}=\operatorname{diag}(1-h(j)^2)\,W,\qquad "
        r"J(j)^\top=W^\top\operatorname{diag}(1-h(j)^2),\ \ \|J(j)^\top\|_2=\|J(j)\|_2",
        _check_transposed_jacobian,
    ),
    _e(
        12,
        147,
        r"D_j = \frac{\partial \log(\|h_j\|)}{\partial h_j}",
        "wrong formula",
        "high",
        r"$D_j$ is the derivative of the activation, $\partial h_j/\partial "
        r"u_j=\operatorname{diag}(1-h_j^2)$; $\partial\log\|h_j\|/\partial h_j=h_j/\|h_j\|^2$ "
        r"is an unrelated vector.",
        r"D(j)=\frac{\partial h(j)}{\partial a(j)}=\operatorname{diag}(1-h(j)^2),\qquad "
        r"0<D(j)_{ii}\le 1",
        _check_d_j,
    ),
    _e(
        13,
        149,
        r"0 \leq \|h_j\| \leq 1, \quad h = \tanh(u)",
        "false claim",
        "medium",
        r"Each ENTRY of $h=\tanh(u)$ lies in $(-1,1)$, but the Euclidean norm of the vector "
        r"can reach $\sqrt{n_h}$: $u=(2,2,2,2)$ gives $\|h\|_2\approx 1.93$.",
        r"|h_i(j)|<1\ \forall i,\quad\|h(j)\|_\infty<1,\quad\|h(j)\|_2<\sqrt{n_h}",
        _check_norm_bound,
    ),
]


_c = _CATALOGUE.confirmation

CONFIRMED: list[Confirmation] = [
    _c(
        32,
        r"\boxed{\frac{\partial L}{\partial g_i} = -\frac{y_i}{g_i}}",
        r"\frac{\partial L}{\partial\hat y_i}=-\frac{y_i}{\hat y_i}",
        _confirm_dl_dg,
    ),
    _c(
        54,
        r"\boxed{\frac{\partial \vec{g}_i}{\partial \circ_j} = \vec{g}_i (\delta_{ij} - "
        r"\vec{g}_j)}",
        r"\frac{\partial\hat y_i}{\partial o_j}=\hat y_i(\delta_{ij}-\hat y_j)",
        _confirm_softmax_jacobian,
        formulas=(
            r"\frac{\partial \vec{g}_i}{\partial \circ_j} = \vec{g}_i (\delta_{ij} - \vec{g}_j)",
        ),
    ),
    _c(
        94,
        r"\frac{\partial \hat{y}_{t,i}}{\partial \theta_{t,j}} = \hat{y}_{t,i} (\delta_{ij} - "
        r"\hat{y}_{t,j})",
        r"\frac{\partial\hat y_i(t)}{\partial o_j(t)}=\hat y_i(t)\,(\delta_{ij}-\hat y_j(t))",
        _confirm_softmax_jacobian,
        formulas=(r"\hat{y}_{t,i} (\delta_{ij} - \hat{y}_{t,j})",),
    ),
    _c(
        102,
        r"= \hat{y}_{t,j} - y_{t,j}",
        r"(\nabla_{o(t)}L)_j=\hat y_j(t)-y_j(t)",
        _confirm_output_gradient,
        formulas=(r"= \hat{y}_{t,j} - y_{t,j}",),
    ),
    _c(
        104,
        r"\frac{\partial L_t}{\partial \theta_t} = \hat{y}_t - y_t = \delta_t^y",
        r"\nabla_{o(t)}L=\hat y(t)-e_{y(t)}\quad(\text{one-hot target, line 28})",
        _confirm_output_gradient,
        formulas=(r"\hat{y}_t - y_t = \delta_t^y",),
    ),
    _c(
        126,
        r"\delta_t^h \equiv \frac{\partial \mathcal{L}}{\partial h_t} = W_{ya}^\top "
        r"\delta_t^y + W_{aa}^\top \delta_{t+1}^u",
        r"\nabla_{o(t)}L=\hat y(t)-e_{y(t)},\quad"
        r"\nabla_{h(t)}L=V^\top\nabla_{o(t)}L+W^\top\nabla_{a(t+1)}L,\\"
        r"\nabla_{a(t)}L=\operatorname{diag}(1-h(t)^2)\,\nabla_{h(t)}L,\quad\nabla_{a(T+1)}L=0",
        _confirm_line126,
        formulas=(
            r"\delta_t^y \equiv",
            r"\delta_t^h \equiv",
            r"\delta_t^u \equiv",
        ),
    ),
    _c(
        128,
        r"\frac{\partial \mathcal{L}}{\partial W_{aa}} = \sum_{t=1}^T \delta_t^u h_{t-1}^\top",
        r"\nabla_V L=\sum_t(\nabla_{o(t)}L)\,h(t)^\top,\ \ \nabla_W "
        r"L=\sum_t(\nabla_{a(t)}L)\,h(t-1)^\top\\\nabla_U "
        r"L=\sum_t(\nabla_{a(t)}L)\,x(t)^\top,\ \ \nabla_c L=\sum_t\nabla_{o(t)}L,\ \ "
        r"\nabla_b L=\sum_t\nabla_{a(t)}L",
        _confirm_bptt,
        formulas=(
            r"{\partial W_{ya}}",
            r"{\partial b_y}",
            r"{\partial W_{aa}}",
            r"{\partial W_{ax}}",
            r"{\partial b_a}",
        ),
    ),
    _c(
        134,
        r"\|AD\| \leq \|A\| \|D\|",
        r"\|AD\|\le\|A\|\,\|D\|\quad(\text{operator and Frobenius norms})",
        _confirm_submultiplicative,
    ),
    _c(
        163,
        r"\delta_{\text{clip}} = g \cdot \min\left(1, \frac{C}{\|g\|}\right)",
        r"g_{\text{clip}}=g\,\min\Big(1,\frac{C}{\|g\|}\Big),\qquad\|g_{\text{clip}}\|=\min(\|"
        r"g\|,C)",
        _confirm_clipping,
    ),
]
