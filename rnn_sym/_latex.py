"""LaTeX for derivations: an `align*` body with each step's justification beside it.

Also the small text helpers every document writer needs: escaping prose for LaTeX text
mode (keeping `$...$` spans as maths), mapping the Unicode characters that lecture notes
use to commands pdflatex knows, and turning a justification into `\\text{...}` pieces that
both LaTeX and MathJax typeset the same way.
"""

from __future__ import annotations

import re

import sympy as sp

from rnn_sym._derivation import Derivation

# LaTeX for the relation a step claims (Step.relation; older steps have none: "=").
RELATION_LATEX = {"=": "=", "<=": r"\le", ">=": r"\ge"}

# Text-mode characters that LaTeX treats specially, escaped one character at a time
# (a sequential str.replace would escape the braces of `\textbackslash{}` again).
_TEXT_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\^{}",
    "~": r"\~{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}

# Unicode seen in the seed notes and in the project's prose, as pdflatex-safe LaTeX
# (text mode; maths through \ensuremath, which only needs amsmath/amssymb).
UNICODE_TEXT = {
    "\u2013": "--",
    "\u2014": "---",
    "\u2018": "`",
    "\u2019": "'",
    "\u201c": "``",
    "\u201d": "''",
    "\u2022": r"\ensuremath{\bullet}",
    "\u00a0": "~",
    "\u00b7": r"\ensuremath{\cdot}",
    "\u00d7": r"\ensuremath{\times}",
    "\u2026": r"\ldots{}",
    "\u2190": r"\ensuremath{\leftarrow}",
    "\u2192": r"\ensuremath{\rightarrow}",
    "\u2193": r"\ensuremath{\downarrow}",
    "\u2191": r"\ensuremath{\uparrow}",
    "\u21b3": r"\ensuremath{\hookrightarrow}",
    "\u21d2": r"\ensuremath{\Rightarrow}",
    "\u2202": r"\ensuremath{\partial}",
    "\u2207": r"\ensuremath{\nabla}",
    "\u2211": r"\ensuremath{\sum}",
    "\u220f": r"\ensuremath{\prod}",
    "\u2212": r"\ensuremath{-}",
    "\u221a": r"\ensuremath{\surd}",
    "\u221e": r"\ensuremath{\infty}",
    "\u2234": r"\ensuremath{\therefore}",
    "\u2248": r"\ensuremath{\approx}",
    "\u2260": r"\ensuremath{\neq}",
    "\u2264": r"\ensuremath{\le}",
    "\u2265": r"\ensuremath{\ge}",
    "\u2208": r"\ensuremath{\in}",
    "\u2299": r"\ensuremath{\odot}",
    "\u229b": r"\ensuremath{\circledast}",
    "\u2297": r"\ensuremath{\otimes}",
    "\u22a4": r"\ensuremath{\top}",
    "\u2016": r"\ensuremath{\|}",
    "\u25a1": r"\ensuremath{\square}",
    "\u2605": r"\ensuremath{\bigstar}",
    "\u29bf": r"\ensuremath{\odot}",
    "\u2713": r"\ensuremath{\checkmark}",
    "\u00b2": r"\ensuremath{^2}",
    "\u00b3": r"\ensuremath{^3}",
    "\u00bd": r"\ensuremath{\tfrac{1}{2}}",
    "\u22ef": r"\ensuremath{\cdots}",
    "\u1d40": r"\ensuremath{^\top}",
    "\u0177": r"\ensuremath{\hat{y}}",
    "\u0233": r"\ensuremath{\bar{y}}",
    "\u00e9": r"\'e",
    "\u00e8": r"\`e",
    "\u00fc": r"\"u",
    "\u00f6": r"\"o",
}
_GREEK = {
    "α": r"\alpha",
    "β": r"\beta",
    "γ": r"\gamma",
    "δ": r"\delta",
    "ε": r"\varepsilon",
    "ζ": r"\zeta",
    "η": r"\eta",
    "θ": r"\theta",
    "κ": r"\kappa",
    "λ": r"\lambda",
    "μ": r"\mu",
    "ν": r"\nu",
    "ξ": r"\xi",
    "π": r"\pi",
    "ρ": r"\rho",
    "σ": r"\sigma",
    "τ": r"\tau",
    "φ": r"\phi",
    "χ": r"\chi",
    "ψ": r"\psi",
    "ω": r"\omega",
    "Γ": r"\Gamma",
    "Δ": r"\Delta",
    "Θ": r"\Theta",
    "Λ": r"\Lambda",
    "Π": r"\Pi",
    "Σ": r"\Sigma",
    "Φ": r"\Phi",
    "Ψ": r"\Psi",
    "Ω": r"\Omega",
}
UNICODE_TEXT.update({ch: rf"\ensuremath{{{cmd}}}" for ch, cmd in _GREEK.items()})
# subscript digits, as in "W₂" ("\u2080" is ₀)
UNICODE_TEXT.update({chr(0x2080 + d): rf"\ensuremath{{_{d}}}" for d in range(10)})
# Combining marks (ŷ written as y + U+0302) apply to the previous character.
_COMBINING = {"\u0302": r"\^", "\u0304": r"\=", "\u0303": r"\~", "\u0307": r"\."}


def expr_to_latex(expr: sp.Basic) -> str:
    # Explicit settings so that output never depends on SymPy's global printer state.
    return sp.latex(expr, mat_delim="(", mul_symbol=None)


def unicode_to_latex(text: str) -> str:
    """Map every non-ASCII character to LaTeX that pdflatex typesets (text mode).

    Characters without a mapping become a visible `[U+XXXX]`, never an error.
    """
    out: list[str] = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in UNICODE_TEXT:
            out.append(UNICODE_TEXT[ch])
        elif ch in _COMBINING and out:
            out[-1] = f"{_COMBINING[ch]}{{{out[-1]}}}"
        else:
            out.append(f"[U+{ord(ch):04X}]")
    return "".join(out)


def escape_text(text: str) -> str:
    """Escape plain text for LaTeX text mode (every character literal, no maths)."""
    return unicode_to_latex("".join(_TEXT_SPECIALS.get(ch, ch) for ch in text))


def _split_math(text: str) -> list[tuple[bool, str]]:
    """Split `a $x$ b` into [(False, 'a '), (True, 'x'), (False, ' b')]; `\\$` is a dollar."""
    parts: list[tuple[bool, str]] = []
    current: list[str] = []
    in_math = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] == "$":
            current.append("\\$" if in_math else "$")
            i += 2
            continue
        if ch == "$":
            parts.append((in_math, "".join(current)))
            current = []
            in_math = not in_math
        else:
            current.append(ch)
        i += 1
    if in_math:  # an unmatched $: treat the rest as text, literally
        parts.append((False, "$" + "".join(current)))
    else:
        parts.append((False, "".join(current)))
    return [(m, s) for m, s in parts if s]


# A symbol with scripts written in prose ("h_2 feeds o_2", "∇_{h_t}L", "n_x = n_h", "h_tᵀ"):
# one letter, ∇, ∂, ŷ or a Greek letter, not inside a word, a command or a dotted name
# (rnn_num.d_o), then at least one sub- or superscript, then at most one attached letter.
_SCRIPT = r"(?:[_^](?:\{[^{}$`]*\}|[0-9A-Za-z]+)|[²³ᵀ])"
_PROSE_SYMBOL = re.compile(
    r"(?<![A-Za-z0-9\\_.{])[A-Za-z∇∂ŷȳα-ωΑ-Ω]" + _SCRIPT + r"+(?:[A-Za-z](?![A-Za-z0-9_]))?"
)
_MATH_OF_TEXT = {"∇": r"\nabla ", "∂": r"\partial ", "ŷ": r"\hat{y}", "ȳ": r"\bar{y}"}
_MATH_OF_TEXT.update({"²": "^2", "³": "^3", "ᵀ": r"^\top", "−": "-", "⋯": r"\cdots "})
_MATH_OF_TEXT.update({ch: cmd + " " for ch, cmd in _GREEK.items()})


def _symbol_math(symbol: str) -> str:
    return "".join(_MATH_OF_TEXT.get(ch, ch) for ch in symbol).replace(" _", "_").replace(" ^", "^")


def prose_math(text: str) -> str:
    """`text` with the symbols written in prose marked as maths: `h_2 feeds o_2` becomes
    `$h_2$ feeds $o_2$`. Existing `$...$` spans and `code` spans are left as they are.

    Without this, LaTeX prints the escaped `h\\_2` and Markdown reads the underscores as
    emphasis (`∇_{h_t}L, ∇_{o_t}L` shows as `∇{h_t}L, ∇L`)."""
    out = []
    for is_math, piece in _split_math(text):
        if is_math:
            out.append(f"${piece}$")
            continue
        piece = piece.replace("$", "\\$")  # a literal dollar (written \$) stays one
        for index, chunk in enumerate(re.split(r"(`[^`]*`)", piece)):
            if index % 2:  # a code span
                out.append(chunk)
            else:
                out.append(_PROSE_SYMBOL.sub(lambda m: "$" + _symbol_math(m.group(0)) + "$", chunk))
    # two symbols side by side (Vᵀ∇_{o_t}L) are one span: `$$` would open display maths
    return re.sub(r"(?<!\\)\$\$", "", "".join(out))


def text_with_math(text: str) -> str:
    """Prose for LaTeX text mode: `$...$` spans (and symbols written in prose, see
    `prose_math`) are maths, everything else is escaped."""
    return "".join(
        f"${s}$" if is_math else escape_text(s) for is_math, s in _split_math(prose_math(text))
    )


def text_in_math(text: str) -> str:
    """Prose for use inside a maths environment: `\\text{...}` pieces around `$...$` spans.

    `\\text{a }x\\text{ b}` typesets the same in LaTeX (amsmath) and in MathJax (with its
    textmacros package), unlike `\\text{a $x$ b}`.
    """
    pieces = []
    for is_math, s in _split_math(prose_math(text)):
        pieces.append(f"{{{s}}}" if is_math else rf"\text{{{escape_text(s)}}}")
    return "".join(pieces)


def step_latex(step) -> str:
    """The LaTeX of a step's right-hand side: its `display` when given, else the expression."""
    return step.display or expr_to_latex(step.expr)


def relation_latex(step) -> str:
    return RELATION_LATEX[getattr(step, "relation", "=")]


def derivation_lines(derivation: Derivation) -> list[tuple[str, str, str, str]]:
    """(left, relation, right, why) per line: the start, then one line per step."""
    lhs = derivation.lhs_display or expr_to_latex(derivation.lhs)
    start = derivation.start_display or expr_to_latex(derivation.start)
    lines = [(lhs, "=", start, "definition")]
    for step in derivation.steps:
        lines.append(("", relation_latex(step), step_latex(step), step.why))
    return lines


def derivation_to_latex(derivation: Derivation) -> str:
    """`lhs &= start \\\\ &= step_1 && \\text{why}` ... as an `aligned` block."""
    rows = []
    for index, (left, rel, right, why) in enumerate(derivation_lines(derivation)):
        if index == 0:
            rows.append(rf"{left} &{rel} {right}")
        else:
            rows.append(rf"&{rel} {right} && {text_in_math(why)}")
    return "\\begin{aligned}" + " \\\\\n".join(rows) + "\\end{aligned}"
