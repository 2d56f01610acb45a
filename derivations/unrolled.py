"""The unrolled Σ_t Σ_k Π form of ∇_W L, ∇_U L, ∇_b L (seed 003, eq. 9, corrected), T = 3.

Seed 003 groups the chain rule of ∂L_t/∂W under a Σ Π. Written in denominator layout with
the Jacobian J(j) = ∂h_j/∂h_{j−1} = diag(1 − h_j²) W it reads

    ∇_W L = Σ_{t=1}^{T} Σ_{k=1}^{t} diag(1 − h_k²) (∂h_t/∂h_k)ᵀ Vᵀ ∇_{o_t}L h_{k−1}ᵀ,
    ∂h_t/∂h_k = J(t) J(t−1) … J(k+1)   (the identity when k = t),

and with x_kᵀ (∇_U) or nothing (∇_b) in place of h_{k−1}ᵀ. Each derivation starts from the
textbook recursion form with every ∇_{h_t}L unrolled, proves it equal to the Σ Π form
written out term by term, then puts in ∇_{o_t}L = ŷ_t − y_t. (rnn_sym proves the same
identity for any T by induction: `prove_sigma_pi_inductive`, run by `rnn-derive verify`.)
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from derivations.bptt import (
    SEED_003,
    TEXTBOOK_DISPLAY,
    add_gradient_checks,
    doc_model,
    one_hot_assumption,
)
from rnn_sym import Derivation, ReverseMode, inline_adjoints, sigma_pi, textbook

RIGHT_FACTOR = {
    "W": lambda k: rf"\, h_{{{k - 1}}}^\top",
    "U": lambda k: rf"\, x_{{{k}}}^\top",
    "b": lambda k: "",
}
LATEX_NAME = {"W": "W", "U": "U", "b": "b"}


def _jacobian_product_latex(t: int, k: int) -> str:
    """(∂h_t/∂h_k)ᵀ as the notes would write it: (J(t) … J(k+1))ᵀ, nothing for k = t."""
    if k == t:
        return ""
    factors = "".join(f"J({j})" for j in range(t, k, -1))
    return rf"\big({factors}\big)^\top " if t - k > 1 else rf"J({t})^\top "


def sigma_pi_latex(name: str, T: int, grad_o: Callable[[int], str]) -> str:
    """The Σ Π form term by term: one line per t, one term per k."""
    lines = []
    for t in range(1, T + 1):
        terms = [
            rf"\operatorname{{diag}}(1-h_{{{k}}}^2)\, {_jacobian_product_latex(t, k)}V^\top {grad_o(t)}"
            + RIGHT_FACTOR[name](k)
            for k in range(1, t + 1)
        ]
        lines.append(r"\big[" + " + ".join(terms) + r"\big]")
    return r" \\ &\quad + ".join(lines)


def _unrolled_recursion(rm: ReverseMode, name: str) -> sp.Matrix:
    """The textbook form with each ∇_{h_t}L replaced by its recursion (∇_{o_t}L kept), unexpanded."""
    tb = textbook(rm)
    mapping = inline_adjoints(rm, tb.local_h, None, rewrite=lambda e: e)
    return tb.params[name].xreplace(mapping)


def unrolled_gradient(name: str) -> Callable[[], Derivation]:
    def build() -> Derivation:
        rm = doc_model()
        m = rm.model
        p = LATEX_NAME[name]
        one_hot = one_hot_assumption(rm)
        d = Derivation(
            f"unrolled-grad-{name}",
            rf"The unrolled $\Sigma\,\Pi$ form of $\nabla_{{{p}}}L$ (seed 003, eq. 9), T = 3",
            lhs=m.params()[name],
            start=_unrolled_recursion(rm, name),
            assumptions=[one_hot],  # behind ∇_{o_t}L = ŷ_t − y_t in the last step
            intro=(
                "J(j) = ∂h_j/∂h_{j−1} = diag(1 − h_j²) W, and ∂h_t/∂h_k = J(t) ⋯ J(k+1) is the "
                "identity when k = t. Seed 003 writes the product as Π W^⊤(1 − h_{j+1}²) applied "
                "from the wrong side and with the sign of ŷ − y flipped (its eq. 10); the form "
                "below is the one SymPy proves."
            ),
            seeds=[SEED_003],
            lhs_display=rf"\nabla_{{{p}}}L",
            start_display=TEXTBOOK_DISPLAY[name].replace("{T}", "{3}")
            + r",\ \nabla_{h_t}L = W^\top \operatorname{diag}(1-h_{t+1}^2)\nabla_{h_{t+1}}L + V^\top \nabla_{o_t}L",
        )
        d.step(
            sigma_pi(rm, name),
            "unroll the recursion, $\\nabla_{h_k}L = \\sum_{t \\ge k} (\\partial h_t/\\partial h_k)^\\top "
            "V^\\top \\nabla_{o_t}L$, and exchange the sums; expand",
            display=sigma_pi_latex(name, m.T, lambda t: rf"\nabla_{{o_{{{t}}}}}L"),
        )
        grad_o = {t: m.yhat(t) - m.y(t) for t in rm.grad_o}
        rewrite = {s: e for t in rm.grad_o for s, e in zip(rm.grad_o[t], grad_o[t], strict=True)}
        d.step(
            sigma_pi(rm, name, grad_o=grad_o),
            "$\\nabla_{o_t}L = \\hat{y}_t - y_t$ (derivation bptt-output-adjoint)",
            rewrite=rewrite,
            uses=[one_hot],
            display=sigma_pi_latex(name, m.T, lambda t: rf"(\hat{{y}}_{{{t}}} - y_{{{t}}})"),
        )
        add_gradient_checks(d, rm, name)
        return d

    return build


DERIVATIONS: list[Callable[[], Derivation]] = [unrolled_gradient(n) for n in ("W", "U", "b")]
