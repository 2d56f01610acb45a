"""Document writers: a derivation as a standalone `.tex` file and as a Markdown page.

Both documents carry the same content, in this order: the title and introduction, the
assumptions (stated before the result), the chain of steps in an `align*` environment
with each step's justification beside it, the result, how each step was proven and the
numeric cross-checks, and optionally the code that computes the result (rendered by
latexify) beside the formula it implements.

Output is deterministic: no dates, timings, paths or memory addresses, and numbers are
printed with a fixed number of significant digits.

The `.tex` files use only packages of Debian's texlive-latex-base and
texlive-latex-recommended; the Markdown targets MkDocs Material with
`pymdownx.arithmatex` (generic mode) and MathJax, whose macros match `LATEX_MACROS`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rnn_sym._derivation import CrossCheckResult, Derivation, Proof
from rnn_sym._latex import (
    _split_math,
    derivation_lines,
    escape_text,
    prose_math,
    text_in_math,
    text_with_math,
)

# Macros the documents may use in any LaTeX string; defined in the .tex preamble and in the
# MathJax configuration of the docs site (docs/javascripts/mathjax.js), so both agree.
LATEX_MACROS: dict[str, str] = {
    "diag": r"\operatorname{diag}",
    "softmax": r"\operatorname{softmax}",
    "sign": r"\operatorname{sign}",
}

TEX_PACKAGES = (
    # (options, package): all in Debian texlive-latex-base / texlive-latex-recommended.
    ("utf8", "inputenc"),
    ("margin=2cm", "geometry"),
    ("", "amsmath"),
    ("", "amssymb"),
    ("", "booktabs"),
    ("", "longtable"),
    ("", "array"),
    ("hidelinks", "hyperref"),
)

# A justification longer than this goes into a narrow paragraph box beside the maths.
_SHORT_WHY = 28
# A printed expression longer than this (no `display` given) is split at its top-level
# sum, so that a line stays readable; the cut is between terms, never inside one.
_LONG_LINE = 100


_CODE_INTRO = (
    "Each function of the NumPy reference below is rendered from its source by latexify-py, "
    "under the formula it implements, so that one can see that the code computes what the "
    "maths says."
)


@dataclass(frozen=True)
class CodeBeside:
    """A function of the numeric reference shown next to the formula it implements.

    title: how the code is named in the document (e.g. `rnn_num.forward_step`).
    formula: LaTeX (maths body) of the derived formula it implements.
    code_latex: the function rendered as maths (latexify, post-processed).
    source: the Python source, shown verbatim in the Markdown page.
    """

    title: str
    formula: str
    code_latex: str
    source: str = ""


@dataclass(frozen=True)
class Verification:
    """What verifying a derivation found (for the documents; no timings in here)."""

    proof: Proof | None = None  # None when a step failed or verification did not run
    failure: str = ""  # the StepFailed (or other) message when the proof failed
    cross_checks: tuple[CrossCheckResult, ...] = ()

    @property
    def ok(self) -> bool:
        return self.proof is not None and not self.failure and all(c.ok for c in self.cross_checks)


def format_number(value: float) -> str:
    """A float with three significant digits, the same on every run (NaN and inf spelled out)."""
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return f"{value:.2e}"


def format_error(error: float, tolerance: float, tex: bool = False, floor: int = -14) -> str:
    """A cross-check's error as the documents print it.

    A passing error is printed as the power of ten above it ("< 1e-10"), and anything below
    1e-14 as "< 1e-14": its digits are rounding noise that depends on the BLAS build and the
    order of summation, and printing them made the documents differ from machine to machine
    (and whenever rnn_num's matmul layout changed). A failing error keeps its three digits.
    `floor` raises that lowest bound for errors whose noise is larger: central differences
    with step 1e-6 carry rounding noise near 1e-10 that varies with the machine, so their
    checks print no bound below 1e-8.
    """
    if error != error or error > tolerance:
        return format_number(error)
    exponent = max(floor, math.ceil(math.log10(error))) if error > 0 else floor
    if 10.0**exponent <= error:  # exactly a power of ten: the bound is the next one up
        exponent += 1
    return rf"$< 10^{{{exponent}}}$" if tex else f"< 1e{exponent:+03d}"


# --------------------------------------------------------------------------- LaTeX


def tex_preamble(title: str) -> str:
    lines = [r"\documentclass[11pt]{article}"]
    for options, package in TEX_PACKAGES:
        lines.append(
            rf"\usepackage[{options}]{{{package}}}" if options else rf"\usepackage{{{package}}}"
        )
    for name, body in LATEX_MACROS.items():
        lines.append(rf"\providecommand{{\{name}}}{{{body}}}")
    lines += [
        # \textbullet would pull in a bitmap (TS1) font under the default OT1 encoding
        r"\renewcommand{\labelitemi}{$\bullet$}",
        r"\allowdisplaybreaks",
        r"\setcounter{MaxMatrixCols}{40}",
        r"\setlength{\parindent}{0pt}",
        r"\setlength{\parskip}{0.5\baselineskip}",
        rf"\title{{{text_with_math(title)}}}",
        r"\author{rnn-derivations (every step proven by SymPy)}",
        r"\date{}",
    ]
    return "\n".join(lines) + "\n"


def tex_document(title: str, body: str) -> str:
    """A complete, standalone LaTeX document around `body`."""
    return (
        tex_preamble(title)
        + "\\begin{document}\n\\maketitle\n\n"
        + body.rstrip("\n")
        + "\n\n\\end{document}\n"
    )


def tex_display(body: str) -> str:
    """A display-maths environment suited to `body` (align* when it has columns)."""
    body = body.strip()
    breaks, _, tabs = _top_level_positions(body)
    if tabs:
        return "\\begin{align*}\n" + body + "\n\\end{align*}\n"
    if breaks:
        return "\\begin{gather*}\n" + body + "\n\\end{gather*}\n"
    return "\\[\n" + body + "\n\\]\n"


def _why_tex(why: str) -> str:
    if len(why) <= _SHORT_WHY:
        return text_in_math(why)
    return r"\parbox[t]{0.23\linewidth}{\raggedright\footnotesize " + text_with_math(why) + "}"


_PAIRS = (("\\left", 1), ("\\begin", 1), ("\\right", -1), ("\\end", -1))


def _pair_token(latex: str, i: int) -> tuple[str, int] | None:
    """`\\left`/`\\begin` (+1) or `\\right`/`\\end` (-1) at i, not `\\leftarrow` or `\\endash`."""
    for token, delta in _PAIRS:
        if latex.startswith(token, i) and not latex[i + len(token) : i + len(token) + 1].isalpha():
            return token, delta
    return None


def _top_level_positions(latex: str) -> tuple[list[int], list[int], list[int]]:
    """Where `latex` may be cut, at depth 0: (row breaks, places between terms, `&`s).

    Depth counts braces, parentheses, `\\left ... \\right` and `\\begin ... \\end`, so a cut
    never separates a pair that LaTeX needs on one row (nor enters a matrix or cases).
    """
    breaks, cuts, tabs = [], [], []
    depth = 0
    i = 0
    while i < len(latex):
        pair = _pair_token(latex, i)
        if pair:
            token, delta = pair
            depth += delta
            i += len(token)
            continue
        ch = latex[i]
        if ch == "\\" and i + 1 < len(latex):
            if depth == 0 and latex[i + 1] == "\\":
                breaks.append(i)
            i += 2  # an escaped character (\{, \\, \,) never changes the depth
            continue
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        elif depth == 0 and ch == "&":
            tabs.append(i)
        elif depth == 0 and latex.startswith((" + ", " - "), i):
            cuts.append(i)
        elif depth == 0 and latex.startswith((",\\ ", ", "), i):
            cuts.append(i + 1)  # the comma stays at the end of its row
        i += 1
    return breaks, cuts, tabs


def _cut_long(row: str) -> list[str]:
    """One row cut between terms into pieces of readable length (unchanged if short)."""
    _, cuts, _ = _top_level_positions(row)
    chunks, begin, last = [], 0, None
    for cut in [*cuts, len(row)]:
        # greedy: close a piece at the last cut that kept it within the limit
        if cut - begin > _LONG_LINE and last is not None and last > begin:
            chunks.append(row[begin:last].strip())
            begin = last
        last = cut
    chunks.append(row[begin:].strip())
    return [c for c in chunks if c]


def _split_long(right: str) -> list[str]:
    """Rows of a printed expression: its own `\\\\` row breaks (a `display` string written
    on several lines), each long row further cut between terms."""
    breaks, _, _ = _top_level_positions(right)
    rows, begin = [], 0
    for position in breaks:
        rows.append(right[begin:position].strip())
        begin = position + 2
    rows.append(right[begin:].strip())
    # continuation rows of a display come as `&\quad + ...`: the alignment is ours to add
    rows = [rows[0]] + [
        r.removeprefix("&").strip().removeprefix("\\quad").strip() for r in rows[1:]
    ]
    return [chunk for row in rows if row for chunk in _cut_long(row)]


def _rows(left: str, rel: str, right: str, why: str) -> list[str]:
    """The align rows of one line of a chain: the why beside its first row, cut rows indented."""
    chunks = _split_long(right)
    first = f"{left} &{rel} {chunks[0]}"
    if why:
        first += " && " + why
    return [first] + [rf"&\quad {chunk}" for chunk in chunks[1:]]


def derivation_align_tex(derivation: Derivation) -> str:
    """The chain as an `align*` environment: `lhs &= ... && why` per row, notes between."""
    out: list[str] = []
    separator = ""  # what goes before the next row: a row break, or nothing after \intertext
    for index, (left, rel, right, why) in enumerate(derivation_lines(derivation)):
        rows = _rows(left, rel, right, _why_tex(why) if index > 0 else "")
        out.append(separator + " \\\\\n".join(rows))
        separator = " \\\\\n"
        note = derivation.steps[index - 1].note if index > 0 else ""
        if note and index < len(derivation.steps):
            # \intertext follows a row break and takes the place of the next one
            out.append(" \\\\\n\\intertext{\\small " + text_with_math(note) + "}\n")
            separator = ""
    body = "".join(out)
    return "\\begin{align*}\n" + body + "\n\\end{align*}\n" + _last_note(derivation)


def _last_note(derivation: Derivation) -> str:
    note = derivation.steps[-1].note if derivation.steps else ""
    return ("{\\small " + text_with_math(note) + "}\n") if note else ""


def _assumptions_tex(derivation: Derivation) -> str:
    if not derivation.assumptions:
        return (
            "\\section*{Assumptions}\nNone beyond the canonical model "
            "(column vectors, parameters shared over time, loss summed over time).\n"
        )
    items = "\n".join(
        rf"\item \textbf{{{escape_text(a.name)}}}: ${a.statement}$" for a in derivation.assumptions
    )
    return "\\section*{Assumptions}\n\\begin{itemize}\n" + items + "\n\\end{itemize}\n"


def _steps_table_tex(derivation: Derivation, verification: Verification) -> str:
    proofs = {p.index: p for p in verification.proof.steps} if verification.proof else {}
    rows = []
    for index, step in enumerate(derivation.steps, start=1):
        proof = proofs.get(index)
        method = proof.method if proof else "not proven"
        uses = ", ".join(a.name for a in step.uses) or "--"
        rows.append(
            rf"{index} & {text_with_math(step.why)} & {escape_text(uses)} & "
            rf"\texttt{{{_breakable(escape_text(method))}}} \tabularnewline"
        )
    return (
        "\\begin{longtable}{@{}r>{\\raggedright}p{0.44\\linewidth}>{\\raggedright}p{0.17\\linewidth}"
        ">{\\raggedright\\arraybackslash}p{0.2\\linewidth}@{}}\n"
        "\\toprule\nstep & justification & assumptions used & proven by \\tabularnewline\n"
        "\\midrule\n\\endhead\n" + "\n".join(rows) + "\n\\bottomrule\n\\end{longtable}\n"
    )


def _breakable(code: str) -> str:
    """A proof method such as custom+nonnegative:expand, with line breaks allowed after + and :
    (a long one made the steps table wider than the page)."""
    return code.replace("+", r"+\allowbreak{}").replace(":", r":\allowbreak{}")


def _cross_checks_tex(verification: Verification) -> str:
    if not verification.cross_checks:
        return "No numeric cross-check is attached to this derivation.\n"
    failed = r"\textbf{FAILED}"
    rows = "\n".join(
        rf"{text_with_math(c.name)} & {format_error(c.error, c.tolerance, tex=True)} & "
        rf"{format_number(c.tolerance)} & "
        rf"{'passed' if c.ok else failed} \tabularnewline"
        for c in verification.cross_checks
    )
    return (
        "\\begin{longtable}{@{}>{\\raggedright}p{0.55\\linewidth}rrl@{}}\n\\toprule\n"
        "numeric cross-check & max.\\ rel.\\ error & tolerance & result \\tabularnewline\n"
        "\\midrule\n\\endhead\n" + rows + "\n\\bottomrule\n\\end{longtable}\n"
    )


def _status_text(verification: Verification) -> str:
    if verification.proof is None:
        return "NOT PROVEN: " + (verification.failure or "verification did not run")
    failed = [c.name for c in verification.cross_checks if not c.ok]
    if failed:
        return "every step proven; cross-check(s) FAILED: " + ", ".join(failed)
    return "every step proven by SymPy" + (
        "; every numeric cross-check passed" if verification.cross_checks else ""
    )


def code_beside_tex(blocks: Sequence[CodeBeside]) -> str:
    if not blocks:
        return ""
    parts = ["\\section*{The code beside the maths}\n" + escape_text(_CODE_INTRO) + "\n"]
    for block in blocks:
        parts.append(
            f"\\subsection*{{\\texttt{{{escape_text(block.title)}}}}}\n"
            "The maths:\n"
            + tex_display(block.formula)
            + "The code, rendered by latexify:\n"
            + tex_display(block.code_latex)
        )
    return "\n".join(parts)


def derivation_tex_body(
    derivation: Derivation,
    verification: Verification | None = None,
    code: Sequence[CodeBeside] = (),
) -> str:
    verification = verification or Verification()
    parts = []
    if derivation.intro:
        parts.append(text_with_math(derivation.intro) + "\n")
    if derivation.seeds:
        parts.append(
            "{\\sloppy Related lecture notes: "
            + ", ".join(rf"\texttt{{{escape_text(s)}}}" for s in derivation.seeds)
            + ".\\par}\n"
        )
    parts.append(_assumptions_tex(derivation))
    parts.append("\\section*{Derivation}\n" + derivation_align_tex(derivation))
    lhs, _, _, _ = derivation_lines(derivation)[0]
    result = derivation.steps[-1] if derivation.steps else None
    if result is not None:
        right = result.display or derivation_lines(derivation)[-1][2]
        rows = _rows(lhs, _chain_relation(derivation), right, "")
        parts.append("\\section*{Result}\n" + tex_display(" \\\\\n".join(rows)))
    parts.append(
        "\\section*{Verification}\nStatus: "
        + text_with_math(_status_text(verification))
        + ".\n\n"
        + _steps_table_tex(derivation, verification)
        + "\n"
        + _cross_checks_tex(verification)
    )
    if code:
        parts.append(code_beside_tex(code))
    return "\n".join(parts)


def _chain_relation(derivation: Derivation) -> str:
    from rnn_sym._latex import RELATION_LATEX

    return RELATION_LATEX[getattr(derivation, "relation", "=")]


def derivation_to_tex(
    derivation: Derivation,
    verification: Verification | None = None,
    code: Sequence[CodeBeside] = (),
) -> str:
    """A standalone LaTeX document for one derivation (compiles with pdflatex)."""
    return tex_document(derivation.title, derivation_tex_body(derivation, verification, code))


# --------------------------------------------------------------------------- Markdown


def md_display(body: str) -> str:
    """Display maths for arithmatex: `$$` blocks, columns wrapped in `aligned`."""
    body = body.strip()
    breaks, _, tabs = _top_level_positions(body)
    if breaks or tabs:
        body = "\\begin{aligned}\n" + body + "\n\\end{aligned}"
    return "$$\n" + body + "\n$$\n"


def md_cell(text: str) -> str:
    """Text for a Markdown table cell, on one line; a `|` must not end the cell.

    Outside maths a pipe is escaped; inside `$...$` it becomes `\\vert` (and `\\|` becomes
    `\\Vert`), since the table parser would split at an escaped pipe in maths as well.
    """
    pieces = []
    for is_math, part in _split_math(prose_math(text)):
        if is_math:
            part = part.replace("\\|", "\\Vert ").replace("|", "\\vert ")
            pieces.append(f"${part}$")
        else:
            pieces.append(part.replace("|", "\\|"))
    return " ".join("".join(pieces).split())


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def derivation_align_md(derivation: Derivation) -> str:
    """The chain as `aligned` blocks; a step's note splits the block and sits between."""
    blocks: list[str] = []
    rows: list[str] = []
    for index, (left, rel, right, why) in enumerate(derivation_lines(derivation)):
        rows.extend(_rows(left, rel, right, text_in_math(why) if index > 0 else ""))
        note = derivation.steps[index - 1].note if index > 0 else ""
        if note:
            blocks.append(md_display(" \\\\\n".join(rows)))
            blocks.append(note.strip() + "\n")
            rows = []
    if rows:
        blocks.append(md_display(" \\\\\n".join(rows)))
    return "\n".join(blocks)


def code_beside_md(blocks: Sequence[CodeBeside], heading: str = "##") -> str:
    if not blocks:
        return ""
    parts = [f"{heading} The code beside the maths\n\n" + _CODE_INTRO + "\n"]
    for block in blocks:
        parts.append(
            f"{heading}# `{block.title}`\n\nThe maths:\n\n"
            + md_display(block.formula)
            + "\nThe code, rendered by latexify:\n\n"
            + md_display(block.code_latex)
        )
        if block.source:
            parts.append("```python\n" + block.source.rstrip("\n") + "\n```\n")
    return "\n".join(parts)


def derivation_to_markdown(
    derivation: Derivation,
    verification: Verification | None = None,
    code: Sequence[CodeBeside] = (),
) -> str:
    """The same content as `derivation_to_tex`, as a MkDocs Material page."""
    verification = verification or Verification()
    parts = [f"# {derivation.title}\n"]
    if derivation.intro:
        parts.append(prose_math(derivation.intro.strip()) + "\n")
    if derivation.seeds:
        parts.append(
            "Related lecture notes: " + ", ".join(f"`{s}`" for s in derivation.seeds) + ".\n"
        )
    parts.append("## Assumptions\n")
    if derivation.assumptions:
        parts.append(
            "\n".join(f"- **{a.name}**: ${a.statement}$" for a in derivation.assumptions) + "\n"
        )
    else:
        parts.append(
            "None beyond the canonical model (column vectors, parameters shared over time, "
            "loss summed over time).\n"
        )
    parts.append("## Derivation\n")
    parts.append(derivation_align_md(derivation))
    if derivation.steps:
        lhs = derivation_lines(derivation)[0][0]
        right = derivation_lines(derivation)[-1][2]
        parts.append("## Result\n")
        parts.append(md_display(" \\\\\n".join(_rows(lhs, _chain_relation(derivation), right, ""))))
    parts.append("## Verification\n")
    parts.append(f"Status: {_status_text(verification)}.\n")
    proofs = {p.index: p for p in verification.proof.steps} if verification.proof else {}
    parts.append(
        md_table(
            ("step", "justification", "assumptions used", "proven by"),
            (
                (
                    str(i),
                    step.why,
                    ", ".join(a.name for a in step.uses) or "–",
                    f"`{proofs[i].method}`" if i in proofs else "not proven",
                )
                for i, step in enumerate(derivation.steps, start=1)
            ),
        )
    )
    if verification.cross_checks:
        parts.append(
            md_table(
                ("numeric cross-check", "max. rel. error", "tolerance", "result"),
                (
                    (
                        c.name,
                        format_error(c.error, c.tolerance),
                        format_number(c.tolerance),
                        "passed" if c.ok else "**FAILED**",
                    )
                    for c in verification.cross_checks
                ),
            )
        )
    else:
        parts.append("No numeric cross-check is attached to this derivation.\n")
    if code:
        parts.append(code_beside_md(code))
    return "\n".join(parts)
