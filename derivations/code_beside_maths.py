"""Which function of the NumPy reference (`rnn_num`) sits beside which derived formula.

Each entry names an `rnn_num` step function, the formula it implements (LaTeX, canonical
notation) and how its Python names print as maths. `rnn-derive build` renders the code
with latexify (`rnn_sym.code_to_latex`) and puts it next to the formula in the documents
of the derivations listed in `ATTACH`, and all of them on one page of their own.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field

from rnn_sym import CodeBeside, code_to_latex

# Python names of rnn_num's step functions -> the letters of NOTATION.md.
NAMES = {
    "h_prev": "h_{t-1}",
    "x_t": "x_t",
    "h_t": "h_t",
    "o_t": "o_t",
    "y_t": "y_t",
    "h_next": "h_{t+1}",
    "d_h_next": r"\nabla_{h_{t+1}} L",
    "d_o_t": r"\nabla_{o_t} L",
    "y_hat_t": r"\hat{y}_t",
    "e_y_t": r"e_{y_t}",
}


@dataclass(frozen=True)
class CodeSpec:
    function: str  # name in rnn_num
    formula: str  # the derived formula it implements (maths-mode LaTeX)
    lhs: str  # what the function's value is called in the maths
    names: dict[str, str] = field(default_factory=lambda: dict(NAMES))


SPECS: tuple[CodeSpec, ...] = (
    CodeSpec("forward_step", r"h_t = \tanh\left(b + W h_{t-1} + U x_t\right)", "h_t"),
    CodeSpec("output_step", r"o_t = c + V h_t", "o_t"),
    CodeSpec(
        "softmax",
        r"\hat{y}_i = \frac{e^{o_i}}{\sum_j e^{o_j}} = \frac{e^{o_i - m}}{\sum_j e^{o_j - m}}"
        r"\quad\text{for any } m \text{ (the code takes } m = \max_j o_j\text{)}",
        r"\hat{y}",
    ),
    CodeSpec(
        "cross_entropy_step",
        r"L_t = -\log \hat{y}_{t,y_t} = \log \sum_j e^{o_{t,j}} - o_{t,y_t}",
        "L_t",
    ),
    CodeSpec("output_grad_step", r"\nabla_{o_t} L = \hat{y}_t - e_{y_t}", r"\nabla_{o_t} L"),
    CodeSpec(
        "backward_step",
        r"\nabla_{h_t} L = W^\top \diag\left(1 - h_{t+1}^2\right) \nabla_{h_{t+1}} L"
        r" + V^\top \nabla_{o_t} L",
        r"\nabla_{h_t} L",
    ),
)

# Derivation slug -> the functions shown beside it. Slugs not (yet) built are ignored.
ATTACH: dict[str, tuple[str, ...]] = {
    "tanh-prime": ("backward_step",),
    "softmax-jacobian": ("softmax",),
    "softmax-jacobian-matrix": ("softmax",),
    "softmax-cross-entropy-gradient": ("cross_entropy_step", "output_grad_step"),
    "bptt-expanded-loss": ("forward_step", "output_step", "softmax", "cross_entropy_step"),
    "bptt-output-adjoint": ("output_grad_step",),
    "bptt-hidden-recursion": ("backward_step",),
}


def render(spec: CodeSpec) -> CodeBeside:
    """The rnn_num function of `spec`, rendered by latexify, beside its formula."""
    import rnn_num  # the numeric reference; imported here so `derivations` stays light

    function = getattr(rnn_num, spec.function, None)
    if function is None:
        raise LookupError(
            f"code beside maths: rnn_num has no function {spec.function!r}; "
            f"update derivations/code_beside_maths.py"
        )
    return CodeBeside(
        title=f"rnn_num.{spec.function}",
        formula=spec.formula,
        code_latex=code_to_latex(function, names=spec.names, lhs=spec.lhs),
        source=textwrap.dedent(inspect.getsource(function)),
    )


def all_code_beside() -> list[CodeBeside]:
    return [render(spec) for spec in SPECS]


def code_beside(slug: str) -> list[CodeBeside]:
    """The code blocks shown in the document of derivation `slug` (often none)."""
    by_name = {spec.function: spec for spec in SPECS}
    return [render(by_name[name]) for name in ATTACH.get(slug, ())]


__all__ = ["ATTACH", "NAMES", "SPECS", "CodeSpec", "all_code_beside", "code_beside", "render"]
