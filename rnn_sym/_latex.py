"""LaTeX for derivations: an `align*` body with each step's justification beside it."""

from __future__ import annotations

import sympy as sp

from rnn_sym._derivation import Derivation


def expr_to_latex(expr: sp.Basic) -> str:
    # Explicit settings so that output never depends on SymPy's global printer state.
    return sp.latex(expr, mat_delim="(", mul_symbol=None)


def derivation_to_latex(derivation: Derivation) -> str:
    """`lhs &= start \\\\ &= step_1 && \\text{why}` ... as the body of an align* environment."""
    lhs = derivation.lhs_display or expr_to_latex(derivation.lhs)
    start = derivation.start_display or expr_to_latex(derivation.start)
    lines = [rf"{lhs} &= {start}"]
    for step in derivation.steps:
        body = step.display or expr_to_latex(step.expr)
        lines.append(rf"&= {body} && \text{{{_escape_text(step.why)}}}")
    return "\\begin{aligned}" + " \\\\\n".join(lines) + "\\end{aligned}"


def _escape_text(text: str) -> str:
    """Escape a plain-text justification for \\text{...}; `$...$` spans stay maths."""
    out = []
    for i, part in enumerate(text.split("$")):
        if i % 2:  # inside $...$
            out.append(f"${part}$")
        else:
            for ch, rep in (
                ("\\", r"\textbackslash{}"),
                ("&", r"\&"),
                ("%", r"\%"),
                ("#", r"\#"),
                ("_", r"\_"),
                ("{", r"\{"),
                ("}", r"\}"),
            ):
                part = part.replace(ch, rep)
            out.append(part)
    return "".join(out)
