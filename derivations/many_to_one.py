"""Many-to-one (seed 004): the gradients when only the last step has a loss, T = 3.

L = −log ŷ_T[y]: the outputs o_t, ŷ_t for t < T do not exist in the graph. So
∇_{h_T}L = Vᵀ ∇_{o_T}L and, for t < T, ∇_{h_t}L = Wᵀ diag(1 − h_{t+1}²) ∇_{h_{t+1}}L with no
Vᵀ ∇_{o_t}L term; ∇_V L = ∇_{o_T}L h_Tᵀ, ∇_c L = ∇_{o_T}L; ∇_W, ∇_U, ∇_b still sum over every
step, through ∂h_T/∂h_k. Seed 004 instead "approximates" by letting every y equal the final
one and drops the Jacobian products; no approximation is needed, and this is the exact
gradient, proven and checked against rnn_num (many_to_one=True) and finite differences.
"""

from __future__ import annotations

from collections.abc import Callable

from derivations.bptt import (
    AUTODIFF_DISPLAY,
    INDUCTION_WHY,
    SEED_004,
    TEXTBOOK_DISPLAY,
    add_gradient_checks,
    doc_model,
)
from derivations.unrolled import sigma_pi_latex
from rnn_sym import Derivation, inline_adjoints, sigma_pi, textbook

_SUMMED_OUTPUT = {
    "V": r"\nabla_{o_3}L\, h_3^\top",
    "c": r"\nabla_{o_3}L",
}


def hidden_recursion() -> Derivation:
    rm = doc_model(many_to_one=True)
    t = 2
    d = Derivation(
        "many-to-one-hidden",
        r"Many-to-one: $\nabla_{h_t}L = W^\top \operatorname{diag}(1-h_{t+1}^2)\, \nabla_{h_{t+1}}L$ for $t < T$",
        lhs=rm.grad_h[t],
        start=rm.local_h[t],
        intro="h_2 feeds only a_3 (o_2 has no loss), so the Vᵀ∇_{o_t}L term is absent (T = 3).",
        seeds=[SEED_004],
        lhs_display=r"\nabla_{h_2}L",
        start_display=r"\Big[\sum_k \frac{\partial L}{\partial a_{3,k}} \frac{\partial a_{3,k}}{\partial h_{2,i}}\Big]_i",
    )
    d.step(
        textbook(rm).local_h[t],
        INDUCTION_WHY,
        display=r"W^\top \operatorname{diag}(1-h_3^2)\, \nabla_{h_3}L",
    )
    return d


def gradient(name: str) -> Callable[[], Derivation]:
    def build() -> Derivation:
        rm = doc_model(many_to_one=True)
        m = rm.model
        tb = textbook(rm)
        d = Derivation(
            f"many-to-one-grad-{name}",
            rf"Many-to-one: $\nabla_{{{name}}}L$ with a loss at the last step only",
            lhs=m.params()[name],
            start=rm.params[name],
            intro="SymPy's diff of the graph whose only loss node is L_3 (T = 3).",
            seeds=[SEED_004],
            lhs_display=rf"\nabla_{{{name}}}L",
            start_display=AUTODIFF_DISPLAY[name],
        )
        d.step(
            tb.params[name],
            INDUCTION_WHY,
            display=_SUMMED_OUTPUT.get(name, TEXTBOOK_DISPLAY[name].replace("{T}", "{3}")),
        )
        if name in ("W", "U", "b"):
            mapping = inline_adjoints(rm, tb.local_h, None, rewrite=lambda e: e)
            d.step(
                sigma_pi(rm, name),
                "unroll the recursion: only t = T survives in the Σ Π form; expand",
                prover=lambda previous, current: previous.xreplace(mapping) - current,
                display=sigma_pi_latex(name, m.T, lambda t: rf"\nabla_{{o_{{{t}}}}}L").split(
                    r" \\ &\quad + "
                )[-1],
            )
        add_gradient_checks(d, rm, name)
        return d

    return build


DERIVATIONS: list[Callable[[], Derivation]] = [
    hidden_recursion,
    *(gradient(name) for name in ("V", "c", "W", "U", "b", "h0")),
]
