"""The Jacobian of softmax, ∂ŷ_i/∂o_j = ŷ_i(δ_ij - ŷ_j), for a symbolic number N of classes.

The proofs run on SymPy's indexed symbols o_k and the unevaluated sum S = Σ_{k=1}^N e^{o_k},
so they hold for every N. The index range 1 ≤ j ≤ N is an assumption the proof needs (the
term k = j must be one of the summands); it is applied as the substitution N = j + m with
an integer m ≥ 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from derivations._numeric import FD_TOLERANCE, central_jacobian, relative_error, rng
from rnn_sym import Assumption, Derivation

N = sp.Symbol("N", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True, positive=True)
_m = sp.Symbol("m", integer=True, nonnegative=True)  # N = j + m encodes j <= N
o = sp.IndexedBase("o")
y_hat = sp.IndexedBase(r"\hat{y}")
S = sp.Sum(sp.exp(o[k]), (k, 1, N))
delta = sp.KroneckerDelta(i, j)

S_SHOWN = sp.Symbol("S", positive=True)


def show(expr: sp.Expr) -> str:
    """LaTeX of `expr` with the sum written as S (the proof still runs on the real sum)."""
    return sp.latex(expr.subs(S, S_SHOWN), mat_delim="(", mul_symbol=None)


YHAT_DEF = {y_hat[i]: sp.exp(o[i]) / S, y_hat[j]: sp.exp(o[j]) / S}
SOFTMAX_DEF = r"\hat{y}_i = e^{o_i} / S,\ S = \sum_{k=1}^{N} e^{o_k}"

SEED_000 = "000_353fc027c1455118.txt"
SEED_002 = "002_1986c8a8192cb80b.txt"
SEED_003 = "003_f5a511b607786116.txt"


def index_in_range(index: sp.Symbol) -> Assumption:
    return Assumption(
        f"{index}-in-range",
        rf"1 \le {index} \le N",
        {N: index + _m},
    )


def _quotient_rule(numerator: sp.Expr, wrt: sp.Expr) -> sp.Expr:
    return (sp.Derivative(numerator, wrt) * S - numerator * sp.Derivative(S, wrt)) / S**2


def _softmax_np(o_values: np.ndarray) -> np.ndarray:
    shifted = np.exp(o_values - o_values.max())
    return shifted / shifted.sum()


def _jacobian_check(entry: sp.Expr, n: int, *, against_rnn_num: bool) -> Callable[[], float]:
    """Evaluate the entry formula for every (i, j) of an n-class softmax at fixed random
    logits and compare with central differences of an independent softmax (NumPy, or
    rnn_num.softmax)."""

    def run() -> float:
        values = sp.symbols(f"yhat1:{n + 1}")
        jac = sp.Matrix(
            n,
            n,
            lambda r, c: entry.subs({i: r + 1, j: c + 1}).subs(
                {y_hat[a + 1]: values[a] for a in range(n)}
            ),
        )
        jac_fn = sp.lambdify(values, jac, "numpy")
        if against_rnn_num:
            import rnn_num  # local: only this check needs the reference implementation

            reference = rnn_num.softmax
        else:
            reference = _softmax_np
        worst = 0.0
        for seed in range(3):
            logits = rng(100 + seed).normal(size=n) * 2.0
            symbolic = np.array(jac_fn(*_softmax_np(logits)), dtype=np.float64)
            worst = max(worst, relative_error(symbolic, central_jacobian(reference, logits)))
        return worst

    return run


def softmax_jacobian() -> Derivation:
    j_range = index_in_range(j)
    d = Derivation(
        "softmax-jacobian",
        "The Jacobian of softmax",
        lhs=sp.Derivative(y_hat[i], o[j]),
        lhs_display=r"\frac{\partial \hat{y}_i}{\partial o_j}",
        start=sp.Derivative(sp.exp(o[i]) / S, o[j]),
        start_display=show(sp.Derivative(sp.exp(o[i]) / S, o[j])),
        assumptions=[j_range],
        intro=(
            "Softmax maps logits $o \\in \\mathbb{R}^N$ to probabilities "
            f"${SOFTMAX_DEF}$. Every output depends on every input through $S$, so the "
            "derivative is a full $N \\times N$ Jacobian. The quotient rule gives one formula "
            "for all entries, with the Kronecker delta $\\delta_{ij}$ (1 if $i = j$, else 0) "
            "separating the diagonal from the rest. $N$ is symbolic: the proof holds for any "
            "number of classes."
        ),
        seeds=[SEED_003, SEED_002, SEED_000],
    )
    d.step(
        _quotient_rule(sp.exp(o[i]), o[j]),
        "quotient rule, with $S > 0$",
        display=show(_quotient_rule(sp.exp(o[i]), o[j])),
    )
    d.step(
        (delta * sp.exp(o[i]) * S - sp.exp(o[i]) * sp.exp(o[j])) / S**2,
        "$\\partial e^{o_i}/\\partial o_j = \\delta_{ij} e^{o_i}$; in $S$ only the term "
        "$k = j$ depends on $o_j$, so $\\partial S/\\partial o_j = e^{o_j}$",
        display=show((delta * sp.exp(o[i]) * S - sp.exp(o[i]) * sp.exp(o[j])) / S**2),
        uses=[j_range],
        note="The term $k = j$ is in the sum because $1 \\le j \\le N$.",
    )
    d.step(
        sp.exp(o[i]) / S * (delta - sp.exp(o[j]) / S),
        "factor out $e^{o_i}/S$",
        display=show(sp.exp(o[i]) / S * (delta - sp.exp(o[j]) / S)),
    )
    d.step(
        y_hat[i] * (delta - y_hat[j]),
        "$e^{o_i}/S = \\hat{y}_i$ and $e^{o_j}/S = \\hat{y}_j$",
        rewrite=YHAT_DEF,
    )
    for n in (2, 3, 5):
        d.cross_check(
            f"N = {n}: the formula against central differences of a NumPy softmax",
            _jacobian_check(d.result, n, against_rnn_num=False),
            FD_TOLERANCE,
        )
    d.cross_check(
        "N = 4: the formula against central differences of rnn_num.softmax",
        _jacobian_check(d.result, 4, against_rnn_num=True),
        FD_TOLERANCE,
    )
    return d


def softmax_jacobian_diagonal() -> Derivation:
    i_range = index_in_range(i)
    d = Derivation(
        "softmax-jacobian-diagonal",
        "Softmax Jacobian, the case i = j",
        lhs=sp.Derivative(y_hat[i], o[i]),
        lhs_display=r"\frac{\partial \hat{y}_i}{\partial o_i}",
        start=sp.Derivative(sp.exp(o[i]) / S, o[i]),
        start_display=show(sp.Derivative(sp.exp(o[i]) / S, o[i])),
        assumptions=[i_range],
        intro=(
            "On the diagonal the numerator $e^{o_i}$ depends on $o_i$ too: "
            "$\\partial \\hat{y}_i / \\partial o_i = \\hat{y}_i (1 - \\hat{y}_i)$, the "
            "formula of the sigmoid. It is positive: raising a logit raises its own "
            "probability."
        ),
        seeds=[SEED_003, SEED_002],
    )
    d.step(
        _quotient_rule(sp.exp(o[i]), o[i]),
        "quotient rule, with $S > 0$",
        display=show(_quotient_rule(sp.exp(o[i]), o[i])),
    )
    d.step(
        (sp.exp(o[i]) * S - sp.exp(o[i]) * sp.exp(o[i])) / S**2,
        "$\\partial e^{o_i}/\\partial o_i = e^{o_i}$ and $\\partial S/\\partial o_i = e^{o_i}$",
        uses=[i_range],
        display=r"\frac{e^{o_{i}} S - e^{o_{i}} e^{o_{i}}}{S^{2}}",
    )
    d.step(
        sp.exp(o[i]) / S * (1 - sp.exp(o[i]) / S),
        "factor out $e^{o_i}/S$",
        display=show(sp.exp(o[i]) / S * (1 - sp.exp(o[i]) / S)),
    )
    d.step(
        y_hat[i] * (1 - y_hat[i]),
        "$e^{o_i}/S = \\hat{y}_i$",
        rewrite={y_hat[i]: YHAT_DEF[y_hat[i]]},
    )
    return d


def softmax_jacobian_off_diagonal() -> Derivation:
    j_range = index_in_range(j)
    distinct = Assumption("i-ne-j", r"i \neq j", {delta: 0})
    d = Derivation(
        "softmax-jacobian-off-diagonal",
        "Softmax Jacobian, the case i ≠ j",
        lhs=sp.Derivative(y_hat[i], o[j]),
        lhs_display=r"\frac{\partial \hat{y}_i}{\partial o_j}",
        start=sp.Derivative(sp.exp(o[i]) / S, o[j]),
        start_display=show(sp.Derivative(sp.exp(o[i]) / S, o[j])),
        assumptions=[j_range, distinct],
        intro=(
            "Off the diagonal the numerator $e^{o_i}$ does not depend on $o_j$, and only the "
            "denominator contributes: $\\partial \\hat{y}_i/\\partial o_j = -\\hat{y}_i "
            "\\hat{y}_j$, negative: raising one logit lowers every other probability. Seed "
            "003 (eq. 5) writes $\\hat{y}_i (1 - \\hat{y}_j)$ for every $i, j$; that is the "
            "diagonal formula, wrong for $i \\neq j$ (its numerator derivative "
            "$e^{o_i}$ should be 0)."
        ),
        seeds=[SEED_003, SEED_002],
    )
    d.step(
        _quotient_rule(sp.exp(o[i]), o[j]),
        "quotient rule, with $S > 0$",
        display=show(_quotient_rule(sp.exp(o[i]), o[j])),
    )
    d.step(
        (delta * sp.exp(o[i]) * S - sp.exp(o[i]) * sp.exp(o[j])) / S**2,
        "$\\partial e^{o_i}/\\partial o_j = \\delta_{ij} e^{o_i}$ and $\\partial S/\\partial o_j = e^{o_j}$",
        display=show((delta * sp.exp(o[i]) * S - sp.exp(o[i]) * sp.exp(o[j])) / S**2),
        uses=[j_range],
    )
    d.step(
        -sp.exp(o[i]) * sp.exp(o[j]) / S**2,
        "$i \\neq j$, so $\\delta_{ij} = 0$",
        display=show(-sp.exp(o[i]) * sp.exp(o[j]) / S**2),
        uses=[distinct],
    )
    d.step(
        -y_hat[i] * y_hat[j], "$e^{o_i}/S = \\hat{y}_i$, $e^{o_j}/S = \\hat{y}_j$", rewrite=YHAT_DEF
    )
    return d


def softmax_jacobian_matrix() -> Derivation:
    y_col = sp.MatrixSymbol(r"\hat{y}", N, 1)
    entry = (sp.DiagMatrix(y_col) - y_col * y_col.T)[i, j]
    d = Derivation(
        "softmax-jacobian-matrix",
        "Softmax Jacobian in matrix form",
        lhs=sp.Derivative(y_hat[i], o[j]),
        lhs_display=r"\left(\frac{\partial \hat{y}}{\partial o}\right)_{ij}",
        start=y_hat[i] * (delta - y_hat[j]),
        intro=(
            "The entry formula $\\hat{y}_i(\\delta_{ij} - \\hat{y}_j)$ is the entry $(i, j)$ "
            "of $\\operatorname{diag}(\\hat{y}) - \\hat{y}\\hat{y}^\\top$, for every $N$. The "
            "matrix is symmetric, and its rows sum to 0 because the probabilities always "
            "sum to 1."
        ),
        seeds=[SEED_000, SEED_002],
    )
    d.step(delta * y_hat[i] - y_hat[i] * y_hat[j], "multiply out")
    d.step(
        entry,
        "$(\\operatorname{diag}(\\hat{y}))_{ij} = \\delta_{ij}\\hat{y}_i$ and "
        "$(\\hat{y}\\hat{y}^\\top)_{ij} = \\hat{y}_i \\hat{y}_j$",
        rewrite={y_col[i, 0]: y_hat[i], y_col[j, 0]: y_hat[j]},
        display=r"\left(\operatorname{diag}(\hat{y}) - \hat{y}\hat{y}^\top\right)_{ij}",
        note="SymPy computes the entry of the matrix expression $\\operatorname{diag}(\\hat{y}) - \\hat{y}\\hat{y}^\\top$ for symbolic $N$.",
    )
    return d


def softmax_jacobian_explicit(n: int = 3) -> Derivation:
    """SymPy's own Jacobian of the explicit n-class softmax equals diag(ŷ) - ŷŷᵀ."""
    logits = sp.Matrix(sp.symbols(f"o_1:{n + 1}", real=True))
    probs = sp.Matrix(sp.symbols(rf"\hat{{y}}_1:{n + 1}", positive=True))
    total = sum(sp.exp(v) for v in logits)
    softmax = logits.applyfunc(lambda v: sp.exp(v) / total)
    d = Derivation(
        f"softmax-jacobian-explicit-{n}",
        f"Softmax Jacobian for N = {n}, entry by entry",
        lhs=sp.Derivative(probs, logits),
        lhs_display=r"\frac{\partial \hat{y}}{\partial o}",
        start=softmax.jacobian(logits),
        start_display=r"\left(\frac{\partial}{\partial o_j} \frac{e^{o_i}}{\sum_k e^{o_k}}\right)_{ij}",
        intro=(
            f"An independent confirmation for $N = {n}$: SymPy differentiates the explicit "
            "softmax (its own `jacobian`, no formula of ours involved) and every entry equals "
            "that of $\\operatorname{diag}(\\hat{y}) - \\hat{y}\\hat{y}^\\top$. The test suite "
            "repeats this for N = 2, 4 and 5."
        ),
        seeds=[SEED_000],
    )
    d.step(
        sp.diag(*probs) - probs * probs.T,
        "$\\hat{y}_i = e^{o_i} / \\sum_k e^{o_k}$ in every entry",
        rewrite={probs[r]: softmax[r] for r in range(n)},
        display=r"\operatorname{diag}(\hat{y}) - \hat{y}\hat{y}^\top",
    )

    def run() -> float:
        jac_fn = sp.lambdify(list(probs), d.result, "numpy")
        logits_value = rng(7).normal(size=n)
        symbolic = np.array(jac_fn(*_softmax_np(logits_value)), dtype=np.float64)
        return relative_error(symbolic, central_jacobian(_softmax_np, logits_value))

    d.cross_check(
        "diag(y) - y yᵀ against central differences of a NumPy softmax", run, FD_TOLERANCE
    )
    return d


DERIVATIONS = [
    softmax_jacobian,
    softmax_jacobian_diagonal,
    softmax_jacobian_off_diagonal,
    softmax_jacobian_matrix,
    softmax_jacobian_explicit,
]
