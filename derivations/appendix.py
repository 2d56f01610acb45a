"""The appendix of seed 000: loss gradients, the Newton step, gradient clipping.

MSE, binary and categorical cross-entropy are differentiated for a symbolic number of
samples N (and classes C); the Newton step is shown to minimise the quadratic model when
L'' > 0; clipping g·min(1, C/‖g‖) keeps the direction of g and caps the norm at C.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from derivations._numeric import FD_TOLERANCE, central_gradient, relative_error, rng
from rnn_sym import Assumption, Derivation

N = sp.Symbol("N", integer=True, positive=True)
C = sp.Symbol("C", integer=True, positive=True)
i, j, n, c, r, s = sp.symbols("i j n c r s", integer=True, positive=True)
_m1, _m2 = sp.symbols("m_1 m_2", integer=True, nonnegative=True)
y = sp.IndexedBase("y")
y_hat = sp.IndexedBase(r"\hat{y}")
z = sp.IndexedBase("z")
p = sp.IndexedBase("p")
delta = sp.KroneckerDelta(i, j)

SEED_000 = "000_353fc027c1455118.txt"
SEED_002 = "002_1986c8a8192cb80b.txt"

_N_NUMERIC = 4


def _sigma(arg: sp.Expr) -> sp.Expr:
    # Written out, not as an undefined function σ: SymPy cannot substitute a definition
    # for σ(z_i) inside a Sum over i. Displays show σ.
    return 1 / (1 + sp.exp(-arg))


def _in_range(index: sp.Symbol, bound: sp.Symbol, slack: sp.Symbol) -> Assumption:
    # bound = index + slack with an integer slack >= 0 says exactly index <= bound.
    return Assumption(f"{index}-in-range", rf"1 \le {index} \le {bound}", {bound: index + slack})


def _components(expr: sp.Expr, bases: dict[sp.IndexedBase, str], n_values: int):
    """The n_values components (j = 1..n) of a j-indexed result, in plain symbols."""
    plain: dict = {}
    args: list[sp.Symbol] = []
    for base, name in bases.items():
        symbols = list(sp.symbols(f"{name}1:{n_values + 1}"))
        args += symbols
        plain |= {base[a + 1]: symbols[a] for a in range(n_values)}
    rows = [expr.subs({N: n_values, j: row + 1}).doit().subs(plain) for row in range(n_values)]
    return args, sp.Matrix(rows)


def mse_gradient() -> Derivation:
    j_range = _in_range(j, N, _m1)
    loss = sp.Sum((y[i] - y_hat[i]) ** 2, (i, 1, N)) / N
    d = Derivation(
        "mse-gradient",
        "The gradient of the mean squared error",
        lhs=sp.Derivative(sp.Symbol("MSE"), y_hat[j]),
        lhs_display=r"\frac{\partial\, \mathrm{MSE}}{\partial \hat{y}_j}",
        start=sp.Derivative(loss, y_hat[j]),
        start_display=(
            r"\frac{\partial}{\partial \hat{y}_j} \frac{1}{N}\sum_{i=1}^{N} "
            r"\left(y_i - \hat{y}_i\right)^{2}"
        ),
        assumptions=[j_range],
        intro=(
            "Seed 000 defines $\\mathrm{MSE} = \\frac{1}{N}\\sum_{i=1}^{N} (y_i - \\hat{y}_i)^2$. "
            "Its gradient with respect to the predictions is $\\frac{2}{N}(\\hat{y} - y)$: "
            "proportional to the error, and divided by $N$ because the loss is a mean. (The "
            "canonical RNN loss is a sum, not a mean; rnn_num's MSE head uses "
            "$\\frac{1}{2}\\sum_i (o_i - y_i)^2$, whose gradient is $o - y$.)"
        ),
        seeds=[SEED_000],
    )
    d.step(
        sp.Sum(sp.Derivative((y[i] - y_hat[i]) ** 2, y_hat[j]), (i, 1, N)) / N,
        "the derivative of a sum is the sum of the derivatives",
        display=(
            r"\frac{1}{N}\sum_{i=1}^{N} \frac{\partial}{\partial \hat{y}_j} "
            r"\left(y_i - \hat{y}_i\right)^{2}"
        ),
    )
    d.step(
        sp.Sum(2 * (y[i] - y_hat[i]) * (-delta), (i, 1, N)) / N,
        "chain rule: $\\partial (y_i - \\hat{y}_i)^2/\\partial \\hat{y}_j = 2(y_i - \\hat{y}_i)(-\\delta_{ij})$",
        display=r"\frac{1}{N}\sum_{i=1}^{N} 2\left(y_i - \hat{y}_i\right)\left(-\delta_{ij}\right)",
    )
    d.step(
        2 * (y_hat[j] - y[j]) / N,
        "$\\delta_{ij}$ keeps only the term $i = j$",
        display=r"\frac{2}{N}\left(\hat{y}_j - y_j\right)",
        uses=[j_range],
    )

    def run() -> float:
        args, grad = _components(d.result, {y_hat: "yhat", y: "y"}, _N_NUMERIC)
        grad_fn = sp.lambdify(args, grad, "numpy")
        worst = 0.0
        for seed in range(3):
            generator = rng(600 + seed)
            pred, target = generator.normal(size=(2, _N_NUMERIC))
            symbolic = np.ravel(grad_fn(*pred, *target))
            numeric = central_gradient(lambda v, t=target: float(np.mean((t - v) ** 2)), pred)
            worst = max(worst, relative_error(symbolic, numeric))
        return worst

    d.cross_check("N = 4: against central differences of a NumPy MSE", run, FD_TOLERANCE)
    return d


def binary_cross_entropy_gradient() -> Derivation:
    j_range = _in_range(j, N, _m1)
    prob = _sigma(z[i])
    term = y[i] * sp.log(prob) + (1 - y[i]) * sp.log(1 - prob)
    d = Derivation(
        "binary-cross-entropy-gradient",
        "The gradient of binary cross-entropy through the sigmoid",
        lhs=sp.Derivative(sp.Symbol("L"), z[j]),
        lhs_display=r"\frac{\partial L}{\partial z_j}",
        start=sp.Derivative(-sp.Sum(term, (i, 1, N)) / N, z[j]),
        start_display=(
            r"\frac{\partial}{\partial z_j}\left(-\frac{1}{N}\sum_{i=1}^{N} \left[y_i \log "
            r"\sigma(z_i) + (1 - y_i) \log(1 - \sigma(z_i))\right]\right)"
        ),
        assumptions=[j_range],
        intro=(
            "Seed 000's binary cross-entropy is $L = -\\frac{1}{N}\\sum_{i=1}^{N} [y_i \\log "
            "f(\\hat{y}_i) + (1 - y_i)\\log(1 - f(\\hat{y}_i))]$ with $f$ the predicted "
            "probability. With $f = \\sigma$ applied to a logit $z_i$ the gradient is "
            "$\\frac{1}{N}(\\sigma(z_j) - y_j)$: the same 'prediction minus target' as "
            "softmax with cross-entropy. It holds for any $y_j \\in [0, 1]$; no sum "
            "condition is needed here. SymPy works with $\\sigma(z_i) = 1/(1 + e^{-z_i})$ "
            "written out; the lines show $\\sigma$."
        ),
        seeds=[SEED_000],
    )
    d.step(
        -sp.Sum(sp.Derivative(term, z[j]), (i, 1, N)) / N,
        "the derivative of a sum is the sum of the derivatives",
        display=(
            r"-\frac{1}{N}\sum_{i=1}^{N} \frac{\partial}{\partial z_j}\left[y_i \log "
            r"\sigma(z_i) + (1 - y_i) \log(1 - \sigma(z_i))\right]"
        ),
    )
    d.step(
        -sp.Sum((y[i] / prob - (1 - y[i]) / (1 - prob)) * sp.Derivative(prob, z[j]), (i, 1, N)) / N,
        "chain rule through the logarithms: $(\\log u)' = u'/u$",
        display=(
            r"-\frac{1}{N}\sum_{i=1}^{N} \left(\frac{y_i}{\sigma(z_i)} - \frac{1 - y_i}{1 - "
            r"\sigma(z_i)}\right) \frac{\partial \sigma(z_i)}{\partial z_j}"
        ),
        note=(
            "The bracket is $-N\\,\\partial L / \\partial p_i$ for the probabilities "
            "$p_i = \\sigma(z_i)$: $\\partial L/\\partial p_i = -\\frac{1}{N}(\\frac{y_i}{p_i} - "
            "\\frac{1 - y_i}{1 - p_i})$."
        ),
    )
    d.step(
        -sp.Sum((y[i] / prob - (1 - y[i]) / (1 - prob)) * delta * prob * (1 - prob), (i, 1, N)) / N,
        "$\\partial \\sigma(z_i)/\\partial z_j = \\delta_{ij}\\,\\sigma(z_i)(1 - \\sigma(z_i))$ "
        "(derivation sigmoid-prime)",
        display=(
            r"-\frac{1}{N}\sum_{i=1}^{N} \left(\frac{y_i}{\sigma(z_i)} - \frac{1 - y_i}{1 - "
            r"\sigma(z_i)}\right) \delta_{ij}\, \sigma(z_i)\left(1 - \sigma(z_i)\right)"
        ),
    )
    d.step(
        -sp.Sum((y[i] - prob) * delta, (i, 1, N)) / N,
        "multiply out: $y_i(1 - \\sigma) - (1 - y_i)\\sigma = y_i - \\sigma$",
        display=r"-\frac{1}{N}\sum_{i=1}^{N} \left(y_i - \sigma(z_i)\right) \delta_{ij}",
    )
    d.step(
        (_sigma(z[j]) - y[j]) / N,
        "$\\delta_{ij}$ keeps only the term $i = j$",
        uses=[j_range],
        display=r"\frac{1}{N}\left(\sigma(z_j) - y_j\right)",
    )

    def loss_np(logits: np.ndarray, targets: np.ndarray) -> float:
        # log σ(z) = -log(1 + e^{-z}) and log(1 - σ(z)) = -log(1 + e^{z}), written stably.
        return float(
            np.mean(targets * np.logaddexp(0, -logits) + (1 - targets) * np.logaddexp(0, logits))
        )

    def run() -> float:
        args, grad = _components(d.result, {z: "z", y: "y"}, _N_NUMERIC)
        grad_fn = sp.lambdify(args, grad, "numpy")
        worst = 0.0
        for seed in range(3):
            generator = rng(700 + seed)
            logits = generator.normal(size=_N_NUMERIC) * 2
            targets = generator.uniform(0, 1, size=_N_NUMERIC)
            symbolic = np.ravel(grad_fn(*logits, *targets))
            numeric = central_gradient(lambda v, t=targets: loss_np(v, t), logits)
            worst = max(worst, relative_error(symbolic, numeric))
        return worst

    d.cross_check(
        "N = 4: against central differences of a NumPy binary cross-entropy", run, FD_TOLERANCE
    )
    return d


def categorical_cross_entropy_gradient() -> Derivation:
    r_range = _in_range(r, N, _m1)
    s_range = _in_range(s, C, _m2)
    loss = -sp.Sum(sp.Sum(y[n, c] * sp.log(p[n, c]), (c, 1, C)), (n, 1, N))
    d = Derivation(
        "categorical-cross-entropy-gradient",
        "The gradient of categorical cross-entropy",
        lhs=sp.Derivative(sp.Symbol("L"), p[r, s]),
        lhs_display=r"\frac{\partial L}{\partial p_{rs}}",
        start=sp.Derivative(loss, p[r, s]),
        assumptions=[r_range, s_range],
        intro=(
            "Seed 000's categorical cross-entropy sums $-y_{nc} \\log p_{nc}$ over samples "
            "$n = 1..N$ and classes $c = 1..C$ (the seed writes $f(\\hat{y}_{i,j})$ for the "
            "probability $p_{nc}$). With respect to one probability only one term depends on "
            "it: $\\partial L/\\partial p_{rs} = -y_{rs}/p_{rs}$ (defined for $p_{rs} > 0$, "
            "which softmax guarantees). Through a softmax over the classes, and with "
            "$\\sum_c y_{rc} = 1$, the gradient with respect to the logits of sample $r$ is "
            "$p_r - y_r$: derivation softmax-cross-entropy-gradient."
        ),
        seeds=[SEED_000],
    )
    d.step(
        -sp.Sum(sp.Sum(y[n, c] * sp.Derivative(sp.log(p[n, c]), p[r, s]), (c, 1, C)), (n, 1, N)),
        "the derivative of a sum is the sum of the derivatives",
    )
    d.step(
        -sp.Sum(
            sp.Sum(
                y[n, c] * sp.KroneckerDelta(n, r) * sp.KroneckerDelta(c, s) / p[n, c], (c, 1, C)
            ),
            (n, 1, N),
        ),
        "$\\partial \\log p_{nc}/\\partial p_{rs} = \\delta_{nr}\\delta_{cs}/p_{nc}$",
    )
    d.step(
        -y[r, s] / p[r, s],
        "the deltas keep only the term $n = r$, $c = s$",
        uses=[r_range, s_range],
    )

    def run() -> float:
        samples, classes = 2, 3
        ps = sp.symbols(f"p1:{samples * classes + 1}")
        ys = sp.symbols(f"y1:{samples * classes + 1}")
        plain = {}
        for a in range(samples):
            for b in range(classes):
                plain[p[a + 1, b + 1]] = ps[a * classes + b]
                plain[y[a + 1, b + 1]] = ys[a * classes + b]
        grad = sp.Matrix(
            samples,
            classes,
            lambda a, b: d.result.subs({r: a + 1, s: b + 1}).subs(plain),
        )
        grad_fn = sp.lambdify(list(ps) + list(ys), grad, "numpy")
        generator = rng(800)
        probs = generator.uniform(0.05, 1.0, size=(samples, classes))
        targets = np.eye(classes)[generator.integers(classes, size=samples)]
        symbolic = np.array(grad_fn(*probs.ravel(), *targets.ravel()), dtype=np.float64)
        numeric = central_gradient(lambda v: float(-np.sum(targets * np.log(v))), probs, eps=1e-7)
        return relative_error(symbolic, numeric)

    d.cross_check(
        "N = 2 samples, C = 3 classes: against central differences of a NumPy loss",
        run,
        FD_TOLERANCE,
    )
    return d


# The Newton step: L(θ), L'(θ), L''(θ) at the current point are plain numbers here.
L0 = sp.Symbol(r"L(\theta)", real=True)
L1 = sp.Symbol(r"L'(\theta)", real=True)
L2 = sp.Symbol(r"L''(\theta)", real=True)
_L2_POSITIVE = sp.Symbol(r"L''(\theta)", positive=True)
eps = sp.Symbol("epsilon", real=True)
QUADRATIC_MODEL = L0 + L1 * eps + L2 * eps**2 / 2
NEWTON_STEP = -L1 / L2


def _curvature() -> Assumption:
    return Assumption("positive-curvature", r"L''(\theta) > 0", {L2: _L2_POSITIVE})


def _newton_check(step: sp.Expr) -> Callable[[], float]:
    """Iterate θ ← θ + ε* on a strictly convex loss; the iterates must reach its minimiser."""

    def run() -> float:
        step_fn = sp.lambdify((L1, L2), step, "numpy")
        # L(θ) = log(1 + e^θ) - 0.3 θ: L' = σ(θ) - 0.3, L'' = σ(θ)(1 - σ(θ)) > 0,
        # minimiser θ* = log(0.3 / 0.7).
        theta = 0.0
        for _ in range(8):
            sig = 1.0 / (1.0 + np.exp(-theta))
            theta += float(step_fn(sig - 0.3, sig * (1 - sig)))
        exact = float(np.log(0.3 / 0.7))
        return abs(theta - exact) / abs(exact)

    return run


def newton_stationary_point() -> Derivation:
    d = Derivation(
        "newton-stationary-point",
        "The stationary point of the quadratic model",
        lhs=sp.Derivative(sp.Symbol("m"), eps),
        lhs_display=r"m'(\epsilon)",
        start=sp.Derivative(QUADRATIC_MODEL, eps),
        intro=(
            "Newton's method replaces $L$ near $\\theta$ by its second-order Taylor model "
            "$m(\\epsilon) = L(\\theta) + L'(\\theta)\\epsilon + \\frac{1}{2}L''(\\theta)"
            "\\epsilon^2$ (seed 000, A.5). Its derivative vanishes at $\\epsilon^* = "
            "-L'(\\theta)/L''(\\theta)$ when $L''(\\theta) \\neq 0$. A stationary point is "
            "not yet a minimiser: the next derivation shows that it is one exactly when "
            "$L''(\\theta) > 0$, which the seed does not state."
        ),
        seeds=[SEED_000],
    )
    d.step(L1 + L2 * eps, "power rule, term by term")
    d.step(
        L2 * (eps - NEWTON_STEP),
        "factor out $L''(\\theta)$: the only zero is $\\epsilon^* = -L'(\\theta)/L''(\\theta)$",
        note="The factored form vanishes exactly at $\\epsilon = \\epsilon^*$ when $L'' \\neq 0$.",
    )
    return d


def newton_minimiser() -> Derivation:
    curvature = _curvature()
    minimum = L0 - L1**2 / (2 * L2)
    d = Derivation(
        "newton-minimiser",
        "The Newton step minimises the quadratic model when L'' > 0",
        lhs=sp.Symbol("m"),
        lhs_display=r"m(\epsilon)",
        start=QUADRATIC_MODEL,
        assumptions=[curvature],
        intro=(
            "Completing the square writes the model as its value at $\\epsilon^*$ plus "
            "$\\frac{1}{2}L''(\\theta)(\\epsilon - \\epsilon^*)^2$. With $L''(\\theta) > 0$ "
            "that term is $\\geq 0$ and zero only at $\\epsilon = \\epsilon^*$, so "
            "$\\epsilon^* = -L'(\\theta)/L''(\\theta)$ is the unique minimiser and the update "
            "is $\\theta_{k+1} = \\theta_k - L'(\\theta_k)/L''(\\theta_k)$. With $L'' < 0$ the "
            "same point is the maximiser and the Newton step climbs."
        ),
        seeds=[SEED_000],
    )
    d.step(
        minimum + L2 / 2 * (eps - NEWTON_STEP) ** 2,
        "complete the square (dividing by $L''(\\theta) \\neq 0$)",
        uses=[curvature],
    )
    d.step(
        minimum,
        "$\\frac{1}{2}L''(\\theta)(\\epsilon - \\epsilon^*)^2 \\geq 0$ because $L''(\\theta) > 0$",
        uses=[curvature],
        relation=">=",
        note="Equality holds only at $\\epsilon = \\epsilon^* = -L'(\\theta)/L''(\\theta)$.",
    )
    d.cross_check(
        "Newton iterates with the derived step reach the minimiser of a convex loss",
        _newton_check(NEWTON_STEP),
        1e-12,
    )
    return d


# Gradient clipping, for a gradient g in R^3 with ‖g‖ > 0 and a threshold C > 0.
_g = sp.Matrix(sp.symbols("g_1:4", real=True))
_lam = sp.Symbol("lambda", real=True)
_lam_positive = sp.Symbol("lambda", positive=True)
G = sp.Symbol(r"\|g\|", positive=True)
CLIP = sp.Symbol("C", positive=True)
_s_nonneg = sp.Symbol("s", nonnegative=True)
_s_pos = sp.Symbol("s", positive=True)


def _by_norm_cases(previous: sp.Expr, current: sp.Expr, *, gap: bool) -> sp.Matrix:
    """Case split on ‖g‖ against C: C = ‖g‖(1 + s), s >= 0 (‖g‖ <= C) and
    C = ‖g‖/(1 + s), s > 0 (‖g‖ > C)."""
    difference = current - previous if gap else previous - current
    return sp.Matrix(
        [difference.subs(CLIP, G * (1 + _s_nonneg)), difference.subs(CLIP, G / (1 + _s_pos))]
    )


def clipping_direction() -> Derivation:
    factor_positive = Assumption(
        "clip-factor-positive",
        r"\lambda = \min(1, C/\|g\|) > 0 \text{ (as } C > 0,\ g \neq 0)",
        {_lam: _lam_positive},
    )
    clipped = _lam * _g
    norm = lambda v: sp.sqrt(sum(e**2 for e in v))  # noqa: E731
    d = Derivation(
        "clipping-direction",
        "Gradient clipping keeps the direction",
        lhs=sp.Symbol(r"\cos\angle"),
        lhs_display=r"\cos\angle\left(\operatorname{clip}(g), g\right)",
        start=(clipped.T * _g)[0] / (norm(clipped) * norm(_g)),
        start_display=r"\frac{\operatorname{clip}(g)^\top g}{\|\operatorname{clip}(g)\|\,\|g\|}",
        assumptions=[factor_positive],
        intro=(
            "Clipping by norm (seed 002: $g \\cdot \\min(1, C/\\|g\\|)$; seed 000 mentions it "
            "against exploding gradients) multiplies $g$ by $\\lambda = \\min(1, C/\\|g\\|)$. "
            "Because $\\lambda > 0$ the clipped gradient points in the same direction: the "
            "cosine of the angle between them is 1 (shown for $g \\in \\mathbb{R}^3$). "
            "Clipping each component separately would not keep the direction."
        ),
        seeds=[SEED_002, SEED_000],
    )
    d.step(
        _lam / sp.Abs(_lam),
        "$\\|\\lambda g\\| = |\\lambda|\\,\\|g\\|$; cancel $\\|g\\|^2 \\neq 0$",
    )
    d.step(sp.Integer(1), "$\\lambda > 0$, so $|\\lambda| = \\lambda$", uses=[factor_positive])
    return d


def clipping_norm() -> Derivation:
    factor = sp.Min(1, CLIP / G)
    d = Derivation(
        "clipping-norm",
        "Gradient clipping caps the norm at C",
        lhs=sp.Symbol(r"\|\operatorname{clip}(g)\|"),
        lhs_display=r"\left\|g \cdot \min\left(1, \frac{C}{\|g\|}\right)\right\|",
        start=sp.Abs(factor) * G,
        start_display=r"\left|\min\left(1, \frac{C}{\|g\|}\right)\right| \|g\|",
        intro=(
            "The norm of the clipped gradient is $\\min(\\|g\\|, C) \\leq C$: small gradients "
            "pass unchanged, large ones are scaled down to norm exactly $C$. $\\|g\\|$ is "
            "positive ($g \\neq 0$; a zero gradient is left as it is) and $C > 0$."
        ),
        seeds=[SEED_002, SEED_000],
    )
    d.step(factor * G, "$\\min(1, C/\\|g\\|) > 0$ for $C > 0$, $\\|g\\| > 0$")
    d.step(
        sp.Min(G, CLIP),
        "case split: for $\\|g\\| \\leq C$ the factor is 1; for $\\|g\\| > C$ it is $C/\\|g\\|$",
        prover=lambda prev, cur: _by_norm_cases(prev, cur, gap=False),
    )
    d.step(
        CLIP,
        "$\\min(\\|g\\|, C) \\leq C$, in both cases",
        relation="<=",
        prover=lambda prev, cur: _by_norm_cases(prev, cur, gap=True),
    )

    def run() -> float:
        # Independent NumPy clipping of random gradients, small and large against C = 1.
        generator = rng(900)
        worst = 0.0
        for scale in (0.1, 0.5, 2.0, 50.0):
            g = generator.normal(size=5) * scale
            clipped = g * min(1.0, 1.0 / np.linalg.norm(g))
            cosine = clipped @ g / (np.linalg.norm(clipped) * np.linalg.norm(g))
            worst = max(worst, abs(cosine - 1.0), max(0.0, np.linalg.norm(clipped) - 1.0 - 1e-15))
            worst = max(worst, abs(np.linalg.norm(clipped) - min(np.linalg.norm(g), 1.0)))
        return worst

    d.cross_check("NumPy clipping of random gradients: norm = min(‖g‖, C), cosine 1", run, 1e-12)
    return d


DERIVATIONS = [
    mse_gradient,
    binary_cross_entropy_gradient,
    categorical_cross_entropy_gradient,
    newton_stationary_point,
    newton_minimiser,
    clipping_direction,
    clipping_norm,
]
