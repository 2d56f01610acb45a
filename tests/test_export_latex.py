"""LaTeX and Markdown export of derivations: structure, escaping, and what a failure shows."""

import pytest
import sympy as sp

from rnn_sym import (
    Assumption,
    CodeBeside,
    Derivation,
    StepFailed,
    Verification,
    derivation_to_latex,
    derivation_to_markdown,
    derivation_to_tex,
)
from rnn_sym._export import (
    LATEX_MACROS,
    format_error,
    format_number,
    md_cell,
    md_display,
    tex_display,
)
from rnn_sym._latex import escape_text, text_in_math, text_with_math, unicode_to_latex

x = sp.Symbol("x", real=True)
y1, y2 = sp.symbols("y1 y2")
ONE_HOT = Assumption("one-hot targets", r"y_1 + y_2 = 1", {y2: 1 - y1})


def small_derivation() -> Derivation:
    d = Derivation(
        "small",
        "A small derivation with 100% & #special_chars",
        lhs=sp.Derivative(sp.tanh(x), x) + y1 + y2,
        start=sp.Derivative(sp.tanh(x), x) + y1 + y2,
        assumptions=[ONE_HOT],
        intro="We derive $\\tanh'(x)$ — with “quotes” and Ω.",
    )
    d.step(1 - sp.tanh(x) ** 2 + y1 + y2, "derivative of tanh", note="Note with $q^2 - p^2 = 4$.")
    d.step(2 - sp.tanh(x) ** 2, "targets sum to one: $y_1 + y_2 = 1$", uses=[ONE_HOT])
    return d


def verified(d: Derivation) -> Verification:
    return Verification(d.verify(), "", tuple(d.run_cross_checks()))


def test_escape_text_escapes_every_special_character_once():
    assert escape_text("a\\b") == r"a\textbackslash{}b"  # braces of the macro not re-escaped
    assert escape_text("{}_%&#$^~") == r"\{\}\_\%\&\#\$\^{}\~{}"
    assert escape_text("plain words") == "plain words"


def test_text_with_math_keeps_math_and_escapes_the_rest():
    assert text_with_math("50% of $x_1$ & more") == r"50\% of $x_1$ \& more"
    # an unmatched dollar is literal text, never an open maths span
    assert text_with_math("costs $5") == r"costs \$5"
    assert text_in_math("rule for $x^2$ here") == r"\text{rule for }{x^2}\text{ here}"


def test_unicode_becomes_latex_pdflatex_knows():
    out = unicode_to_latex("Ω ∂ ŷ — “a” ★ \u2603")
    assert out.isascii()
    assert r"\Omega" in out and r"\partial" in out and r"\hat{y}" in out
    assert "[U+2603]" in out  # unknown characters stay visible instead of breaking pdflatex


def test_tex_document_has_assumptions_before_the_derivation_and_why_beside_each_step():
    d = small_derivation()
    tex = derivation_to_tex(d, verified(d))
    assert tex.startswith("\\documentclass")
    assert tex.rstrip().endswith("\\end{document}")
    assumptions, derivation = tex.index("Assumptions"), tex.index("\\begin{align*}")
    assert assumptions < derivation < tex.index("\\section*{Result}")
    assert "y_1 + y_2 = 1" in tex[assumptions:derivation]
    align = tex[derivation : tex.index("\\end{align*}")]
    # each step row carries its justification in the same row, after &&
    step_rows = [row for row in align.splitlines() if row.lstrip().startswith("&=")]
    assert len(step_rows) == len(d.steps)
    assert all("&&" in row for row in step_rows)
    assert "derivative of tanh" in step_rows[0]
    assert "\\intertext{" in align and "q^2 - p^2 = 4" in align
    for name in LATEX_MACROS:
        assert f"\\providecommand{{\\{name}}}" in tex
    assert r"100\% \& \#special\_chars" in tex


def test_markdown_has_the_same_content():
    d = small_derivation()
    md = derivation_to_markdown(d, verified(d))
    assert md.startswith("# A small derivation")
    assert md.index("## Assumptions") < md.index("## Derivation") < md.index("## Result")
    assert "\\begin{aligned}" in md and "$$" in md
    assert "\\text{derivative of tanh}" in md
    assert "one-hot targets" in md and "Note with $q^2 - p^2 = 4$." in md
    assert "| 2 | targets sum to one: $y_1 + y_2 = 1$ | one-hot targets |" in md


def test_failed_verification_is_shown_as_not_proven():
    d = Derivation("bad", "bad", lhs=x, start=x).step(2 * x, "a mistake")
    with pytest.raises(StepFailed) as info:
        d.verify()
    v = Verification(None, str(info.value), ())
    assert not v.ok
    assert "NOT PROVEN" in derivation_to_tex(d, v)
    assert "NOT PROVEN" in derivation_to_markdown(d, v)
    assert "a mistake" in derivation_to_markdown(d, v)


def test_display_prefers_the_step_display_over_the_printed_matrix():
    m = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"m{i}{j}"))
    d = Derivation("m", "m", lhs=sp.Symbol("M"), start=m)
    d.step(m.T.T, "transpose twice", display=r"(M^\top)^\top")
    body = derivation_to_latex(d)
    assert r"(M^\top)^\top" in body
    assert body.count("matrix") == 2  # only the start is printed as a matrix


def test_long_sums_are_broken_between_terms():
    terms = sp.symbols("z0:60")
    total = sum(t**2 for t in terms)
    d = Derivation("long", "long", lhs=sp.Symbol("S"), start=total).step(total, "same")
    tex = derivation_to_tex(d)
    align = tex[tex.index("\\begin{align*}") : tex.index("\\end{align*}")]
    rows = align.split("\\\\\n")
    assert len(rows) > 3  # broken into several rows ...
    assert max(len(r) for r in rows) < 260  # ... each of readable length
    joined = "".join(r.replace("&\\quad ", " ") for r in rows)
    for t in ("z_{0}^{2}", "z_{59}^{2}"):  # ... and nothing lost
        assert t in joined


def test_code_beside_is_in_both_documents():
    d = small_derivation()
    block = CodeBeside(
        "rnn_num.f", r"h_t = \tanh(a_t)", r"h_t = \tanh {a_t}", "def f(a_t):\n    ...\n"
    )
    tex = derivation_to_tex(d, verified(d), [block])
    md = derivation_to_markdown(d, verified(d), [block])
    assert r"\texttt{rnn\_num.f}" in tex and r"h_t = \tanh {a_t}" in tex
    assert "`rnn_num.f`" in md and "```python\ndef f(a_t):" in md


def test_environments_suit_their_content():
    assert tex_display("a = b").startswith("\\[")
    assert tex_display("a &= b \\\\ &= c").startswith("\\begin{align*}")
    assert md_display("a &= b").count("aligned") == 2
    assert md_cell(r"norm $\|W\| \le |a|$ | b") == r"norm $\Vert W\Vert \le \vert a\vert $ \| b"
    assert format_number(1.23456e-11) == "1.23e-11"
    assert format_number(float("nan")) == "nan"


def test_passing_errors_print_as_a_bound_that_rounding_noise_cannot_change():
    # 0, 1.1e-16 and 2.2e-16 are what different BLAS builds give for the same check.
    assert {format_error(e, 1e-9) for e in (0.0, 1.11e-16, 2.22e-16, 9.9e-15)} == {"< 1e-14"}
    assert format_error(4.82e-11, 1e-6) == format_error(3.3e-11, 1e-6) == "< 1e-10"
    assert format_error(1e-10, 1e-6) == "< 1e-09"  # a bound strictly above the error
    assert format_error(2.2e-16, 1e-9, tex=True) == "$< 10^{-14}$"
    # A failing error keeps its digits: the reader needs to see how far off it is.
    assert format_error(0.928, 1e-6) == "9.28e-01"
    assert format_error(float("nan"), 1e-6) == "nan"


def test_export_is_deterministic():
    first = derivation_to_tex(small_derivation(), verified(small_derivation()))
    second = derivation_to_tex(small_derivation(), verified(small_derivation()))
    assert first == second


def test_every_character_of_the_seed_notes_has_a_latex_form():
    from derivations.errata import SEED_FILES, seed_lines

    text = "\n".join(line for seed in SEED_FILES for line in seed_lines(seed))
    assert "[U+" not in unicode_to_latex(text)  # errata quote these lines verbatim


def test_symbols_written_in_prose_become_maths():
    from rnn_sym._latex import prose_math, text_in_math, text_with_math

    assert prose_math("h_2 feeds o_2 and a_3") == "$h_2$ feeds $o_2$ and $a_3$"
    assert prose_math("∇_{h_t}L, n_x = n_h") == r"$\nabla_{h_t}L$, $n_x$ = $n_h$"
    # two symbols side by side are one span ($$ would open display maths)
    assert prose_math("Vᵀ∇_{o_t}L") == r"$V^\top\nabla_{o_t}L$"
    # names of code, code spans, existing maths and escaped dollars are left alone
    for text in ("rnn_num.backward(...).d_o", "`d_o`", "$h_t$", r"costs \$5"):
        assert prose_math(text) == text
    assert text_with_math("h_2 feeds o_2") == "$h_2$ feeds $o_2$"
    assert text_in_math("h_2 feeds") == r"{h_2}\text{ feeds}"
