"""Vanishing and exploding gradients: ∂h_t/∂h_k as a product of Jacobians, and its bound.

∂h(t)/∂h(k) = Π_{j=k+1}^{t} diag(1 - h(j)²) W is proven for n_h = 2 and t - k = 1, 2, 3 by
SymPy's own Jacobian of the explicit recurrence. The bound ‖∂h_t/∂h_k‖ ≤ (‖W‖ max_j
‖diag(1 - h_j²)‖)^{t-k} follows from submultiplicativity, proven here for the Frobenius
norm of 2×2 matrices (Lagrange's identity); the bound itself is checked numerically.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from derivations._numeric import (
    FD_TOLERANCE,
    RNN_NUM_TOLERANCE,
    central_jacobian,
    relative_error,
    rng,
)
from rnn_sym import Derivation

N_H = 2
SEED_000 = "000_353fc027c1455118.txt"
SEED_001 = "001_0b57e9a572fb520b.txt"
SEED_002 = "002_1986c8a8192cb80b.txt"

W = sp.Matrix(N_H, N_H, lambda r, c: sp.Symbol(f"W_{{{r + 1}{c + 1}}}", real=True))
h_k = sp.Matrix([sp.Symbol(f"h_{{k,{r + 1}}}", real=True) for r in range(N_H)])


def _input(step: int) -> sp.Matrix:
    """u(k+step) = U x(k+step) + b: everything in a(k+step) that does not depend on h(k)."""
    return sp.Matrix([sp.Symbol(f"u_{{k+{step},{r + 1}}}", real=True) for r in range(N_H)])


def _hidden(step: int) -> sp.Matrix:
    """Symbols for the hidden state h(k+step), as the backward pass stores it."""
    return sp.Matrix([sp.Symbol(f"h_{{k+{step},{r + 1}}}", real=True) for r in range(N_H)])


def _tanh(v: sp.Matrix) -> sp.Matrix:
    return v.applyfunc(sp.tanh)


def _diag_one_minus_square(h: sp.Matrix) -> sp.Matrix:
    return sp.diag(*[1 - e**2 for e in h])


def _product_display(span: int) -> str:
    factors = [
        rf"\operatorname{{diag}}\left(1 - h_{{k+{m}}}^{{2}}\right) W" for m in range(span, 0, -1)
    ]
    return r"\,".join(factors)


def jacobian_product(span: int = 3) -> Derivation:
    """∂h(k+span)/∂h(k) for n_h = 2, from SymPy's Jacobian of the explicit recurrence."""
    # The explicit states as functions of h(k): the fully nested tanh expressions.
    explicit = [h_k]
    for m in range(1, span + 1):
        explicit.append(_tanh(W * explicit[-1] + _input(m)))
    # The one-step Jacobians as SymPy differentiates them, evaluated along the trajectory.
    free = sp.Matrix(sp.symbols(f"v1:{N_H + 1}", real=True))
    one_step = []
    for m in range(1, span + 1):
        jac = _tanh(W * free + _input(m)).jacobian(free)
        one_step.append(jac.subs(dict(zip(free, explicit[m - 1], strict=True))))
    chained = sp.eye(N_H)
    for jac in one_step:
        chained = jac * chained
    structured = sp.eye(N_H)
    for m in range(1, span + 1):
        structured = _diag_one_minus_square(_hidden(m)) * W * structured
    # h(k+m) := tanh(a(k+m)): name every tanh atom by its hidden-state symbol, outermost
    # first, so that both sides become polynomials in h and W (expand decides them, and a
    # false step fails fast instead of sending SymPy's simplify into nested tanh).
    naming = [(explicit[m][row], _hidden(m)[row]) for m in range(span, 0, -1) for row in range(N_H)]

    def in_state_symbols(previous: sp.Matrix, current: sp.Matrix) -> sp.Matrix:
        return (previous - current).subs(naming)

    t = f"k+{span}"
    d = Derivation(
        f"hidden-jacobian-product-{span}",
        f"The Jacobian of h(t) with respect to h(k), t - k = {span}",
        lhs=sp.Derivative(sp.Symbol(f"h_{{{t}}}"), sp.Symbol("h_k")),
        lhs_display=rf"\frac{{\partial h_{{{t}}}}}{{\partial h_{{k}}}}",
        start=explicit[span].jacobian(h_k),
        start_display=(
            rf"\frac{{\partial}}{{\partial h_k}} \tanh\left(W \cdots \tanh\left(W h_k + "
            rf"u_{{k+1}}\right) \cdots + u_{{{t}}}\right)"
        ),
        intro=(
            "Every gradient that flows from step $t$ back to step $k$ is multiplied by "
            "$\\partial h(t)/\\partial h(k)$. Writing $a(j) = W h(j-1) + u(j)$ with "
            "$u(j) = U x(j) + b$, SymPy differentiates the explicit nested expression "
            f"$h({t})$ of $h(k)$ ($n_h = {N_H}$, $t - k = {span}$; the test suite repeats it "
            "for $t - k = 1, 2$) and the result is the product "
            "$\\prod_{j=k+1}^{t} \\operatorname{diag}(1 - h(j)^2)\\, W$, latest factor on the "
            "left. Seed 001 writes the scalar version $(1 - f^2)\\,W_{hh}$; seed 003 puts "
            "$W^\\top$ first, which is the transposed (backward) form."
        ),
        seeds=[SEED_001, SEED_002, "003_f5a511b607786116.txt"],
    )
    d.step(
        chained,
        "chain rule: $\\frac{\\partial h_t}{\\partial h_k} = \\frac{\\partial h_t}{\\partial "
        "h_{t-1}} \\cdots \\frac{\\partial h_{k+1}}{\\partial h_k}$",
        prover=in_state_symbols,
        note=(
            "SymPy proves this step and the next in the polynomial ring of the states: every "
            "$\\tanh(a(j))$ of the explicit expressions is named $h(j)$ first."
        ),
        display=r"\,".join(
            rf"\frac{{\partial h_{{k+{m}}}}}{{\partial h_{{k+{m - 1}}}}}".replace("k+0", "k")
            for m in range(span, 0, -1)
        ),
    )
    d.step(
        structured,
        "one step: $\\partial h(j)/\\partial h(j-1) = \\operatorname{diag}(\\tanh'(a(j)))\\,W$ "
        "and $\\tanh'(a(j)) = 1 - h(j)^2$",
        prover=in_state_symbols,
        display=_product_display(span),
        note="The backward pass needs only the stored states $h(j)$, never $a(j)$.",
    )
    d.cross_check(
        "product formula against central differences of a NumPy recurrence (n_h = 2)",
        _fd_check(structured, span),
        FD_TOLERANCE,
    )
    d.cross_check(
        "(product formula)ᵀ Vᵀ ∇_o L against rnn_num's ∇_{h0} L, many-to-one, T = t - k",
        _rnn_num_check(structured, span),
        RNN_NUM_TOLERANCE,
    )
    return d


def _lambdified(structured: sp.Matrix, span: int) -> Callable:
    args = list(W) + [s for m in range(1, span + 1) for s in _hidden(m)]
    return sp.lambdify(args, structured, "numpy")


def _trajectory(w: np.ndarray, inputs: np.ndarray, h_start: np.ndarray) -> list[np.ndarray]:
    states = [h_start]
    for u in inputs:
        states.append(np.tanh(w @ states[-1] + u))
    return states


def _fd_check(structured: sp.Matrix, span: int) -> Callable[[], float]:
    def run() -> float:
        formula = _lambdified(structured, span)
        worst = 0.0
        for seed in range(3):
            generator = rng(1000 + seed)
            w = generator.normal(size=(N_H, N_H))
            inputs = generator.normal(size=(span, N_H))
            h_start = generator.normal(size=N_H) * 0.5
            states = _trajectory(w, inputs, h_start)
            symbolic = np.array(formula(*w.ravel(), *np.concatenate(states[1:])), dtype=np.float64)
            numeric = _jacobian_by_differences(w, inputs, h_start)
            worst = max(worst, relative_error(symbolic, numeric))
        return worst

    return run


def _rnn_num_check(structured: sp.Matrix, span: int) -> Callable[[], float]:
    """With a loss at the last step only, ∇_{h(0)} L = (∂h(T)/∂h(0))ᵀ Vᵀ ∇_{o(T)} L."""

    def run() -> float:
        import rnn_num  # local: only this check needs the reference implementation

        formula = _lambdified(structured, span)
        worst = 0.0
        for seed in range(3):
            params = rnn_num.init_params(2, N_H, 2, seed=20 + seed)
            generator = rng(1100 + seed)
            x = generator.normal(size=(span, 2))
            h0 = generator.normal(size=N_H) * 0.5
            target = int(generator.integers(2))
            inputs = x @ params["U"].T + params["b"]
            states = _trajectory(params["W"], inputs, h0)
            logits = params["c"] + params["V"] @ states[-1]
            probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            d_o = probs - np.eye(2)[target]
            jac = np.array(
                formula(*params["W"].ravel(), *np.concatenate(states[1:])), dtype=np.float64
            )
            symbolic = jac.T @ params["V"].T @ d_o
            reference = rnn_num.backward(
                params, x, np.int64(target), h0=h0, many_to_one=True
            ).grads["h0"]
            worst = max(worst, relative_error(symbolic, reference))
        return worst

    return run


def frobenius_submultiplicative() -> Derivation:
    a = sp.Matrix(2, 2, lambda r, c: sp.Symbol(f"A_{{{r + 1}{c + 1}}}", real=True))
    b = sp.Matrix(2, 2, lambda r, c: sp.Symbol(f"B_{{{r + 1}{c + 1}}}", real=True))

    def frob2(m: sp.Matrix) -> sp.Expr:
        return sum(e**2 for e in m)

    squares = sum((a[r, 0] * b[1, c] - a[r, 1] * b[0, c]) ** 2 for r in range(2) for c in range(2))
    d = Derivation(
        "frobenius-submultiplicative",
        "The Frobenius norm is submultiplicative",
        lhs=sp.Symbol(r"\|AB\|_F^2"),
        lhs_display=r"\|AB\|_F^{2}",
        start=frob2(a * b),
        start_display=r"\sum_{i,j} \left(\sum_{p} A_{ip} B_{pj}\right)^{2}",
        intro=(
            "The bound on $\\partial h_t/\\partial h_k$ rests on $\\|AB\\| \\leq \\|A\\|\\,"
            "\\|B\\|$ (seed 002 uses it). For the Frobenius norm it is Cauchy-Schwarz on "
            "every entry; Lagrange's identity makes the gap an explicit sum of squares, "
            "proven here for $2 \\times 2$ matrices. Applied $t - k$ times to the product "
            "of derivation hidden-jacobian-product it gives $\\|\\partial h_t/\\partial h_k\\| "
            "\\leq \\prod_{j} \\|\\operatorname{diag}(1 - h_j^2)\\|\\,\\|W\\| \\leq (\\|W\\| "
            "\\max_j \\|\\operatorname{diag}(1 - h_j^2)\\|)^{t-k}$; the same holds for the "
            "spectral norm $\\|\\cdot\\|_2$ (a textbook fact, not proven here), for which "
            "$\\|\\operatorname{diag}(1 - h_j^2)\\|_2 = \\max_i (1 - h_{j,i}^2) \\leq 1$, so "
            "$\\|\\partial h_t/\\partial h_k\\|_2 \\leq \\|W\\|_2^{t-k}$.\n\n"
            "What it means: if $\\|W\\|_2 < 1$ the gradient that reaches step $k$ from step "
            "$t$ shrinks at least geometrically in $t - k$ (vanishing), and saturated units "
            "($h \\approx \\pm 1$, so $1 - h^2 \\approx 0$) shrink it further. Growth "
            "(exploding) needs $\\|W\\|_2 > 1$, but $\\|W\\|_2 > 1$ does not force it: the "
            "bound is an upper bound. Seed 001's argument ($w \\sim N(0, 1)$ 'so that' "
            "$w < 1$) does not hold: $|w| \\geq 1$ with probability about 0.32; what matters "
            "for matrices is the norm or the singular values of $W$. Clipping (appendix) "
            "caps exploding gradients; it does nothing against vanishing ones."
        ),
        seeds=[SEED_002, SEED_001, SEED_000],
    )
    d.step(
        frob2(a) * frob2(b) - squares,
        "Lagrange's identity for each pair (row $i$ of $A$, column $j$ of $B$)",
        display=(
            r"\|A\|_F^{2}\,\|B\|_F^{2} - \sum_{i,j} \left(A_{i1} B_{2j} - A_{i2} B_{1j}\right)^{2}"
        ),
    )
    d.step(
        frob2(a) * frob2(b),
        "a sum of squares of real numbers is $\\geq 0$",
        relation="<=",
        display=r"\|A\|_F^{2}\,\|B\|_F^{2}",
    )
    d.cross_check(
        "bound ‖∂h_t/∂h_k‖ ≤ (‖W‖ max‖diag(1-h²)‖)^(t-k), spectral and Frobenius, t-k ≤ 12",
        _bound_check,
        1e-6,
    )
    d.cross_check(
        "vanishing: ‖W‖₂ = 0.5 gives ‖∂h_30/∂h_0‖₂ ≤ 0.5^30",
        _vanishing_check,
        1e-6,
    )
    d.cross_check(
        "exploding at the fixed point h = 0: ∂h_t/∂h_0 = W^t, ‖·‖₂ = 1.5^t exactly",
        _exploding_check,
        1e-6,  # the Jacobian comes from central differences
    )
    return d


def _jacobian_by_differences(w: np.ndarray, inputs: np.ndarray, h_start: np.ndarray) -> np.ndarray:
    return central_jacobian(lambda v: _trajectory(w, inputs, v)[-1], h_start)


def _bound_violation(norm_ord: int | str, w: np.ndarray, inputs, h_start) -> float:
    """max(0, ‖J‖ / bound - 1), J by finite differences (not by the product formula)."""
    states = _trajectory(w, inputs, h_start)
    jac = _jacobian_by_differences(w, inputs, h_start)
    diag_norm = max(np.linalg.norm(np.diag(1 - s**2), norm_ord) for s in states[1:])
    bound = (np.linalg.norm(w, norm_ord) * diag_norm) ** len(inputs)
    # Finite differences carry ~1e-10 absolute error: compare with that slack.
    return max(0.0, (np.linalg.norm(jac, norm_ord) - bound - 1e-9) / max(bound, 1e-300))


def _bound_check() -> float:
    worst = 0.0
    generator = rng(1200)
    for trial in range(12):
        n_h = 3
        w = generator.normal(size=(n_h, n_h)) * (0.3 + 0.15 * trial)
        span = 1 + trial
        inputs = generator.normal(size=(span, n_h))
        h_start = generator.normal(size=n_h) * 0.5
        for norm_ord in (2, "fro"):
            worst = max(worst, _bound_violation(norm_ord, w, inputs, h_start))
    return worst


def _scaled_orthogonal(scale: float, seed: int, n_h: int = 3) -> np.ndarray:
    q, _ = np.linalg.qr(rng(seed).normal(size=(n_h, n_h)))
    return scale * q


def _vanishing_check() -> float:
    w = _scaled_orthogonal(0.5, 1300)
    inputs = rng(1301).normal(size=(30, 3))
    h_start = rng(1302).normal(size=3) * 0.5
    states = _trajectory(w, inputs, h_start)
    jac = np.eye(3)
    for s in states[1:]:  # the product, by NumPy; the bound does not use it
        jac = np.diag(1 - s**2) @ w @ jac
    return max(0.0, np.linalg.norm(jac, 2) / 0.5**30 - 1.0)


def _exploding_check() -> float:
    w = _scaled_orthogonal(1.5, 1400)
    worst = 0.0
    for span in (1, 5, 10):
        jac = _jacobian_by_differences(w, np.zeros((span, 3)), np.zeros(3))
        worst = max(worst, abs(np.linalg.norm(jac, 2) / 1.5**span - 1.0))
    return worst


def jacobian_product_3() -> Derivation:
    return jacobian_product(3)


DERIVATIONS = [jacobian_product_3, frobenius_submultiplicative]
