"""Derivatives of the activation functions: tanh, the logistic sigmoid σ and ReLU.

tanh'(x) = 1 - tanh²(x) is what lets backpropagation reuse the forward pass
(tanh'(a(t)) = 1 - h(t)²); σ' = σ(1 - σ) does the same for σ; tanh(x) = 2σ(2x) - 1
relates the two; ReLU' is 1 or 0 and does not exist at x = 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from derivations._numeric import FD_TOLERANCE, central_gradient, relative_error, rng
from rnn_sym import Assumption, Derivation

x = sp.Symbol("x", real=True)
_u = sp.Symbol("u", real=True)
_eps = sp.Symbol("epsilon", real=True)
p = sp.Function("p")
q = sp.Function("q")
sigma = sp.Function("sigma")
relu = sp.Function("ReLU")

# Definitions, used as `rewrite=` at the steps that invoke them.
P_DEF = sp.exp(x) - sp.exp(-x)
Q_DEF = sp.exp(x) + sp.exp(-x)
PQ_DEF = {p(x): P_DEF, q(x): Q_DEF}
TANH_DEF = {sp.tanh(x): P_DEF / Q_DEF}
SIGMA_DEF = {sigma: sp.Lambda(_u, 1 / (1 + sp.exp(-_u)))}
RELU_DEF = {relu: sp.Lambda(_u, sp.Max(0, _u))}

SEED_000 = "000_353fc027c1455118.txt"
SEED_001 = "001_0b57e9a572fb520b.txt"
SEED_002 = "002_1986c8a8192cb80b.txt"

_SAMPLE_POINTS = rng(1).uniform(-4.0, 4.0, size=25)


def _fd_check(
    result: sp.Expr, reference: Callable[[np.ndarray], np.ndarray]
) -> Callable[[], float]:
    """Lambdified `result` against central differences of an independent NumPy function."""

    def run() -> float:
        derivative = sp.lambdify(x, result, "numpy")
        expected = np.array(
            [central_gradient(lambda v: float(reference(v)), xi) for xi in _SAMPLE_POINTS]
        )
        return relative_error(derivative(_SAMPLE_POINTS), expected)

    return run


def tanh_prime() -> Derivation:
    q_positive = Assumption(
        "q-positive",
        r"q(x) = e^{x} + e^{-x} > 0 \text{ for every real } x",
    )
    d = Derivation(
        "tanh-prime",
        "The derivative of tanh by the quotient rule",
        lhs=sp.Derivative(sp.tanh(x), x),
        start=sp.Derivative(sp.tanh(x), x),
        assumptions=[q_positive],
        intro=(
            "Backpropagation through $h(t) = \\tanh(a(t))$ needs $\\tanh'$. Writing tanh as a "
            "quotient $p/q$ of two exponential sums and applying the quotient rule shows that "
            "$\\tanh' = 1 - \\tanh^2$: the derivative is a function of the value, so the "
            "backward pass uses $1 - h(t)^2$ and never recomputes $a(t)$. Seed 001 takes this "
            "route; here every line is checked, and the condition that makes the quotient rule "
            "applicable ($q > 0$) is stated."
        ),
        seeds=[SEED_001, SEED_000],
    )
    d.step(
        sp.Derivative(p(x) / q(x), x),
        "definition of tanh: $\\tanh x = p(x)/q(x)$ with $p = e^{x} - e^{-x}$, $q = e^{x} + e^{-x}$",
        rewrite=TANH_DEF | PQ_DEF,
        display=r"\frac{d}{dx} \frac{p(x)}{q(x)}",
    )
    d.step(
        (sp.Derivative(p(x), x) * q(x) - p(x) * sp.Derivative(q(x), x)) / q(x) ** 2,
        "quotient rule $(p/q)' = (p'q - pq')/q^2$, valid where $q \\neq 0$",
        uses=[q_positive],
        display=r"\frac{p'(x)\, q(x) - p(x)\, q'(x)}{q(x)^{2}}",
        note="$q(x) = e^{x} + e^{-x} \\geq 2$, so the quotient rule applies at every real $x$.",
    )
    d.step(
        (q(x) ** 2 - p(x) ** 2) / q(x) ** 2,
        "$p' = e^{x} + e^{-x} = q$ and $q' = e^{x} - e^{-x} = p$",
        rewrite=PQ_DEF,
        display=r"\frac{q(x)^{2} - p(x)^{2}}{q(x)^{2}}",
    )
    d.step(
        1 - p(x) ** 2 / q(x) ** 2,
        "split the fraction: $q^2/q^2 = 1$",
        display=r"1 - \frac{p(x)^{2}}{q(x)^{2}}",
    )
    d.step(
        1 - p(x) ** 2 / q(x) ** 2,
        "$p^2/q^2 = (p/q)^2$",
        display=r"1 - \left(\frac{p(x)}{q(x)}\right)^{2}",
    )
    d.step(
        1 - sp.tanh(x) ** 2,
        "$p/q = \\tanh x$ (the definition, read backwards)",
        rewrite=TANH_DEF | PQ_DEF,
        note=(
            "Since $\\tanh^2 x \\in [0, 1)$, $\\tanh'(x) \\in (0, 1]$, with the maximum 1 at "
            "$x = 0$ only. This is the factor $1 - h(t)^2$ of every backward step."
        ),
    )
    d.cross_check(
        "lambdified 1 - tanh^2 against central differences of numpy.tanh",
        _fd_check(d.result, np.tanh),
        FD_TOLERANCE,
    )
    return d


def sigmoid_prime() -> Derivation:
    d = Derivation(
        "sigmoid-prime",
        "The derivative of the logistic sigmoid",
        lhs=sp.Derivative(sigma(x), x),
        start=sp.Derivative(sigma(x), x),
        intro=(
            "The logistic sigmoid $\\sigma(x) = 1/(1 + e^{-x})$ has, like tanh, a derivative "
            "that is a function of its value: $\\sigma' = \\sigma(1 - \\sigma)$. Its maximum "
            "is $1/4$ (at $x = 0$), four times smaller than that of tanh."
        ),
        seeds=[SEED_000],
    )
    d.step(
        sp.Derivative((1 + sp.exp(-x)) ** -1, x),
        "definition $\\sigma(x) = (1 + e^{-x})^{-1}$",
        rewrite=SIGMA_DEF,
    )
    d.step(
        sp.exp(-x) / (1 + sp.exp(-x)) ** 2,
        "chain rule: $(u^{-1})' = -u^{-2} u'$ with $u = 1 + e^{-x}$, $u' = -e^{-x}$",
        display=r"-\left(1 + e^{-x}\right)^{-2} \cdot \left(-e^{-x}\right)",
    )
    d.step(
        1 / (1 + sp.exp(-x)) * (1 - 1 / (1 + sp.exp(-x))),
        "$\\frac{e^{-x}}{1 + e^{-x}} = \\frac{(1 + e^{-x}) - 1}{1 + e^{-x}} = 1 - \\frac{1}{1 + e^{-x}}$",
    )
    d.step(sigma(x) * (1 - sigma(x)), "definition of $\\sigma$, read backwards", rewrite=SIGMA_DEF)
    d.cross_check(
        "lambdified sigma(1 - sigma) against central differences of 1/(1 + exp(-x))",
        _fd_check(d.result.subs(SIGMA_DEF), lambda v: 1.0 / (1.0 + np.exp(-v))),
        FD_TOLERANCE,
    )
    return d


def tanh_from_sigmoid() -> Derivation:
    d = Derivation(
        "tanh-from-sigmoid",
        "tanh is a shifted and scaled sigmoid",
        lhs=sp.tanh(x),
        start=sp.tanh(x),
        intro=(
            "The two S-shaped activations are one function: $\\tanh x = 2\\sigma(2x) - 1$. "
            "tanh is centred at 0 and has range $(-1, 1)$; $\\sigma$ has range $(0, 1)$. "
            "Seed 002 writes $\\frac{1}{1 + e^{-\\tanh z}} = \\tanh(\\tanh z)$, which is "
            "false (its left side is $\\sigma(\\tanh z)$); this is the correct relation between the two functions."
        ),
        seeds=[SEED_002, SEED_000],
    )
    d.step(P_DEF / Q_DEF, "definition of tanh", rewrite=TANH_DEF)
    d.step(
        (1 - sp.exp(-2 * x)) / (1 + sp.exp(-2 * x)),
        "multiply numerator and denominator by $e^{-x}$",
    )
    d.step(
        2 / (1 + sp.exp(-2 * x)) - 1,
        "$1 - u = 2 - (1 + u)$ with $u = e^{-2x}$, then split the fraction",
    )
    d.step(2 * sigma(2 * x) - 1, "$\\sigma(2x) = 1/(1 + e^{-2x})$", rewrite=SIGMA_DEF)

    def run() -> float:
        via_sigma = sp.lambdify(x, d.result.subs(SIGMA_DEF), "numpy")
        return relative_error(via_sigma(_SAMPLE_POINTS), np.tanh(_SAMPLE_POINTS))

    d.cross_check("lambdified 2 sigma(2x) - 1 against numpy.tanh", run, 1e-14)
    return d


def _by_sign_of_x(definitions: dict) -> Callable[[sp.Basic, sp.Basic], sp.Basic]:
    """A case split: prove `previous == current` separately for x > 0 and for x < 0."""
    positive = sp.Symbol("x", positive=True)
    negative = sp.Symbol("x", negative=True)

    def prover(previous: sp.Basic, current: sp.Basic) -> sp.Basic:
        residual = (previous - current).subs(definitions)
        return sp.Matrix([residual.subs(x, positive).doit(), residual.subs(x, negative).doit()])

    return prover


def relu_prime() -> Derivation:
    nonzero = Assumption("x-nonzero", r"x \neq 0")
    d = Derivation(
        "relu-prime",
        "The derivative of ReLU, away from 0",
        lhs=sp.Derivative(relu(x), x),
        start=sp.Derivative(relu(x), x),
        assumptions=[nonzero],
        intro=(
            "$\\operatorname{ReLU}(x) = \\max(0, x)$ is linear on each side of 0, so its "
            "derivative is 1 for $x > 0$ and 0 for $x < 0$. At $x = 0$ it has no derivative "
            "(next derivation). Seed 001 writes $f'(x) = 0$ for $x \\leq 0$: true for "
            "$x < 0$, and at $x = 0$ only a convention."
        ),
        seeds=[SEED_001, SEED_000],
    )
    d.step(
        sp.Piecewise((1, x > 0), (0, x < 0)),
        "case split: $\\operatorname{ReLU}(x) = x$ for $x > 0$, $= 0$ for $x < 0$",
        uses=[nonzero],
        prover=_by_sign_of_x(RELU_DEF),
        note="Each case is proven separately (SymPy differentiates $\\max(0, x)$ with the sign of $x$ known).",
    )

    def run() -> float:
        points = _SAMPLE_POINTS[
            np.abs(_SAMPLE_POINTS) > 0.1
        ]  # central differences straddle no kink
        derivative = sp.lambdify(x, d.result, "numpy")
        expected = np.array(
            [central_gradient(lambda v: float(np.maximum(0.0, v)), xi) for xi in points]
        )
        return relative_error(derivative(points), expected)

    d.cross_check(
        "lambdified ReLU' against central differences of numpy.maximum(0, x)", run, FD_TOLERANCE
    )
    return d


def _one_sided_limits(previous: sp.Basic, current: sp.Basic) -> sp.Basic:
    return (previous.subs(RELU_DEF) - current.subs(RELU_DEF)).doit()


def relu_kink() -> Derivation:
    quotient = (relu(_eps) - relu(0)) / _eps
    d = Derivation(
        "relu-at-zero",
        "ReLU has no derivative at 0",
        lhs=sp.Matrix([sp.Limit(quotient, _eps, 0, "+"), sp.Limit(quotient, _eps, 0, "-")]),
        start=sp.Matrix([sp.Limit(quotient, _eps, 0, "+"), sp.Limit(quotient, _eps, 0, "-")]),
        lhs_display=r"\begin{pmatrix} \text{right limit} \\ \text{left limit} \end{pmatrix}",
        intro=(
            "A derivative at 0 exists when the difference quotient "
            "$(\\operatorname{ReLU}(\\epsilon) - \\operatorname{ReLU}(0))/\\epsilon$ has one "
            "limit as $\\epsilon \\to 0$. Its right and left limits are 1 and 0, so "
            "$\\operatorname{ReLU}'(0)$ does not exist. Code still needs a number there: "
            "rnn_num (like PyTorch) uses 0. Every value in $[0, 1]$ is a subgradient, so the "
            "choice is a convention, not a result."
        ),
        seeds=[SEED_001],
    )
    d.step(
        sp.Matrix([sp.Limit(_eps / _eps, _eps, 0, "+"), sp.Limit(0 / _eps, _eps, 0, "-")]),
        "$\\operatorname{ReLU}(\\epsilon) = \\epsilon$ for $\\epsilon > 0$, $= 0$ for $\\epsilon < 0$; $\\operatorname{ReLU}(0) = 0$",
        prover=_one_sided_limits,
        display=(
            r"\begin{pmatrix} \lim_{\epsilon \to 0^+} \epsilon/\epsilon \\"
            r" \lim_{\epsilon \to 0^-} 0/\epsilon \end{pmatrix}"
        ),
    )
    d.step(
        sp.Matrix([1, 0]),
        "limits of the constants 1 and 0",
        prover=_one_sided_limits,
        note="$1 \\neq 0$: the one-sided limits differ, so ReLU is not differentiable at 0.",
    )
    return d


DERIVATIONS = [tanh_prime, sigmoid_prime, tanh_from_sigmoid, relu_prime, relu_kink]
