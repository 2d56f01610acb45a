"""∇_o L = ŷ - y for softmax followed by cross-entropy, and what it is when Σ_i y_i ≠ 1.

L = -Σ_i y_i log ŷ_i with ŷ = softmax(o), for a symbolic number N of classes. The
gradient is ŷ_j Σ_i y_i - y_j for any targets; it becomes ŷ_j - y_j only where the
assumption Σ_i y_i = 1 is used, and that step fails without it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from derivations._numeric import (
    FD_TOLERANCE,
    RNN_NUM_TOLERANCE,
    central_gradient,
    relative_error,
    rng,
)
from derivations.softmax import (
    SEED_002,
    SEED_003,
    YHAT_DEF,
    N,
    S,
    i,
    index_in_range,
    j,
    o,
    show,
    y_hat,
)
from rnn_sym import Assumption, Derivation

y = sp.IndexedBase("y")
delta = sp.KroneckerDelta(i, j)
TARGET_SUM = sp.Sum(y[i], (i, 1, N))
LOSS = -sp.Sum(y[i] * sp.log(sp.exp(o[i]) / S), (i, 1, N))

SEED_000 = "000_353fc027c1455118.txt"

_N_NUMERIC = 4  # classes in the numeric cross-checks


def targets_sum_to_one() -> Assumption:
    return Assumption(
        "targets-sum-to-one",
        r"\sum_{i=1}^{N} y_i = 1 \text{ (one-hot targets, or any probability vector)}",
        {TARGET_SUM: 1},
    )


def _common_steps(d: Derivation) -> None:
    """The steps that hold for any targets: from dL/do_j to ŷ_j Σ_i y_i - y_j."""
    j_range = d.assumptions[0]
    d.step(
        -sp.Sum(y[i] * sp.Derivative(sp.log(sp.exp(o[i]) / S), o[j]), (i, 1, N)),
        "the derivative of a sum is the sum of the derivatives; $y$ does not depend on $o$",
        display=show(-sp.Sum(y[i] * sp.Derivative(sp.log(sp.exp(o[i]) / S), o[j]), (i, 1, N))),
    )
    d.step(
        -sp.Sum(y[i] * S / sp.exp(o[i]) * sp.Derivative(sp.exp(o[i]) / S, o[j]), (i, 1, N)),
        "chain rule: $\\partial \\log \\hat{y}_i / \\partial o_j = "
        "\\frac{1}{\\hat{y}_i}\\,\\partial \\hat{y}_i/\\partial o_j$",
        display=r"-\sum_{i=1}^{N} \frac{y_{i}}{\hat{y}_{i}} \frac{\partial \hat{y}_{i}}{\partial o_{j}}",
    )
    d.step(
        -sp.Sum(y[i] * (delta - sp.exp(o[j]) / S), (i, 1, N)),
        "softmax Jacobian $\\partial \\hat{y}_i/\\partial o_j = \\hat{y}_i(\\delta_{ij} - "
        "\\hat{y}_j)$; the factor $\\hat{y}_i$ cancels",
        uses=[j_range],
        display=r"-\sum_{i=1}^{N} y_{i} \left(\delta_{ij} - \hat{y}_{j}\right)",
    )
    d.step(
        -sp.Sum(y[i] * delta, (i, 1, N)) + sp.exp(o[j]) / S * TARGET_SUM,
        "split the sum; $\\hat{y}_j$ does not depend on $i$",
        display=r"-\sum_{i=1}^{N} y_{i} \delta_{ij} + \hat{y}_{j} \sum_{i=1}^{N} y_{i}",
    )
    d.step(
        y_hat[j] * TARGET_SUM - y[j],
        "$\\delta_{ij}$ keeps only the term $i = j$ of the sum",
        uses=[j_range],
        rewrite=YHAT_DEF,
    )


def _components(expr: sp.Expr, n: int) -> tuple[list[sp.Symbol], list[sp.Symbol], sp.Matrix]:
    """The n components of a j-indexed result as a Matrix in plain symbols ŷ_1.., y_1..."""
    yh = list(sp.symbols(f"yhat1:{n + 1}"))
    ys = list(sp.symbols(f"y1:{n + 1}"))
    plain = {y_hat[a + 1]: yh[a] for a in range(n)} | {y[a + 1]: ys[a] for a in range(n)}
    rows = [expr.subs({N: n, j: c + 1}).doit().subs(plain) for c in range(n)]
    return yh, ys, sp.Matrix(rows)


def _softmax_np(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def _loss_np(logits: np.ndarray, targets: np.ndarray) -> float:
    """-Σ_i y_i log softmax(o)_i via log-sum-exp (written independently of rnn_num)."""
    top = logits.max()
    return float(-np.sum(targets * (logits - top - np.log(np.sum(np.exp(logits - top))))))


def _targets(seed: int, *, sum_to_one: bool) -> np.ndarray:
    generator = rng(seed)
    if sum_to_one:
        return np.eye(_N_NUMERIC)[generator.integers(_N_NUMERIC)]
    return generator.uniform(0.1, 1.0, size=_N_NUMERIC)  # sums to about 2, not 1


def _fd_check(result: sp.Expr, *, sum_to_one: bool) -> Callable[[], float]:
    def run() -> float:
        yh, ys, grad = _components(result, _N_NUMERIC)
        grad_fn = sp.lambdify(yh + ys, grad, "numpy")
        worst = 0.0
        for seed in range(3):
            logits = rng(200 + seed).normal(size=_N_NUMERIC) * 2.0
            targets = _targets(300 + seed, sum_to_one=sum_to_one)
            symbolic = np.ravel(grad_fn(*_softmax_np(logits), *targets))
            numeric = central_gradient(lambda v, t=targets: _loss_np(v, t), logits)
            worst = max(worst, relative_error(symbolic, numeric))
        return worst

    return run


def _rnn_num_check(result: sp.Expr, *, sum_to_one: bool) -> Callable[[], float]:
    """Against rnn_num.backward(...).d_o for a one-step RNN (T = 1, nonzero h0)."""

    def run() -> float:
        import rnn_num  # local: only this check needs the reference implementation

        yh, ys, grad = _components(result, _N_NUMERIC)
        grad_fn = sp.lambdify(yh + ys, grad, "numpy")
        worst = 0.0
        for seed in range(3):
            params = rnn_num.init_params(2, 3, _N_NUMERIC, seed=seed)
            generator = rng(400 + seed)
            x = generator.normal(size=(1, 2))
            h0 = generator.normal(size=3) * 0.5
            targets = _targets(500 + seed, sum_to_one=sum_to_one)
            # The logits written out here, independently of rnn_num's forward pass.
            hidden = np.tanh(params["b"] + params["W"] @ h0 + params["U"] @ x[0])
            logits = params["c"] + params["V"] @ hidden
            symbolic = np.ravel(grad_fn(*_softmax_np(logits), *targets))
            reference = rnn_num.backward(params, x, targets[None, :], h0=h0).d_o[0]
            worst = max(worst, relative_error(symbolic, reference))
        return worst

    return run


def cross_entropy_gradient() -> Derivation:
    j_range = index_in_range(j)
    sum_one = targets_sum_to_one()
    d = Derivation(
        "softmax-cross-entropy-gradient",
        "The gradient of cross-entropy through softmax",
        lhs=sp.Derivative(sp.Symbol("L"), o[j]),
        lhs_display=r"\frac{\partial L}{\partial o_j}",
        start=sp.Derivative(LOSS, o[j]),
        start_display=(
            r"\frac{\partial}{\partial o_j}\left(-\sum_{i=1}^{N} y_{i} \log \hat{y}_{i}\right)"
        ),
        assumptions=[j_range, sum_one],
        intro=(
            "The loss of one time step is $L = -\\sum_{i=1}^{N} y_i \\log \\hat{y}_i$ with "
            "$\\hat{y} = \\operatorname{softmax}(o)$. Its gradient with respect to the logits "
            "is the starting point of backpropagation: $\\nabla_o L = \\hat{y} - y$. The "
            "simple form needs the targets to sum to 1; that assumption is used at the last "
            "step only (without it see the next derivation). Seed 003 reaches $\\hat{y} - y$ "
            "through a step marked (?) that does not follow, and seed 002 uses "
            "$\\sum_i y_i = 1$ without saying so."
        ),
        seeds=[SEED_003, SEED_002, SEED_000],
    )
    _common_steps(d)
    d.step(
        y_hat[j] - y[j],
        "the targets sum to one: $\\sum_i y_i = 1$",
        uses=[sum_one],
        note="For a one-hot target $e_{y(t)}$ this is $\\nabla_{o(t)} L = \\hat{y}(t) - e_{y(t)}$.",
    )
    d.cross_check(
        "N = 4, one-hot targets: against central differences of a NumPy loss",
        _fd_check(d.result, sum_to_one=True),
        FD_TOLERANCE,
    )
    d.cross_check(
        "N = 4, one-hot targets: against rnn_num.backward(...).d_o (T = 1, h0 nonzero)",
        _rnn_num_check(d.result, sum_to_one=True),
        RNN_NUM_TOLERANCE,
    )
    return d


def cross_entropy_gradient_any_targets() -> Derivation:
    j_range = index_in_range(j)
    d = Derivation(
        "softmax-cross-entropy-any-targets",
        "The same gradient when the targets do not sum to 1",
        lhs=sp.Derivative(sp.Symbol("L"), o[j]),
        lhs_display=r"\frac{\partial L}{\partial o_j}",
        start=sp.Derivative(LOSS, o[j]),
        start_display=(
            r"\frac{\partial}{\partial o_j}\left(-\sum_{i=1}^{N} y_{i} \log \hat{y}_{i}\right)"
        ),
        assumptions=[j_range],
        intro=(
            "Without $\\sum_i y_i = 1$ (e.g. unnormalised or summed label vectors) the same "
            "steps stop at $\\nabla_o L = \\hat{y} \\sum_i y_i - y$. Code that returns "
            "$\\hat{y} - y$ for such targets is wrong by $\\hat{y}(\\sum_i y_i - 1)$; the "
            "gradient of a loss scaled by $\\sum_i y_i$ is scaled too."
        ),
        seeds=[SEED_003, SEED_002],
    )
    _common_steps(d)
    d.cross_check(
        "N = 4, targets summing to about 2: against central differences of a NumPy loss",
        _fd_check(d.result, sum_to_one=False),
        FD_TOLERANCE,
    )
    d.cross_check(
        "N = 4, targets summing to about 2: against rnn_num.backward(...).d_o",
        _rnn_num_check(d.result, sum_to_one=False),
        RNN_NUM_TOLERANCE,
    )
    return d


DERIVATIONS = [cross_entropy_gradient, cross_entropy_gradient_any_targets]
