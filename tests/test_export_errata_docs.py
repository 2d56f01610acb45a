"""Errata documents: every erratum quoted as written, what is wrong, the verified correction
and the check's result; what the note gets right; broken checks reported, not hidden."""

import os
import shutil
import subprocess

import pytest

from derivations.errata import CheckOutcome, Confirmation, Erratum
from rnn_derive._errata_docs import (
    CheckedConfirmation,
    CheckedErratum,
    errata_index_markdown,
    errata_json,
    errata_markdown,
    errata_tex,
    run_check,
)

SEED = "003_f5a511b607786116.txt"
NASTY_QUOTE = r"$$\frac{\partial L}{\partial \Omega_t} = \hat{y}_{t,j} \cdot \hat{y}_t (?) - y_t$$ 100% & #_~^ ★ Θ “x”"


def _refuted() -> CheckOutcome:
    return CheckOutcome(True, True, "residual y_1 + y_2 - 1 at y = (1/2, 1/5): 3/10 != 0")


def _not_refuted() -> CheckOutcome:
    return CheckOutcome(False, True, "the claim holds at every point tried")


def _crashes() -> CheckOutcome:
    raise ZeroDivisionError("division by zero in the check")


def erratum(eid: str, check, quote: str = NASTY_QUOTE, severity: str = "high") -> Erratum:
    return Erratum(
        id=eid,
        seed=SEED,
        line=57,
        quote=quote,
        category="step does not follow",
        severity=severity,
        problem="The step marked (?) uses $\\sum_i y_i = 1$ without saying so; 50% & more.",
        correction=r"\frac{\partial L_t}{\partial \Omega_t} = \hat{y}_t - y_t \quad \text{if } \sum_i y_{t,i} = 1",
        check=check,
    )


def checked(e: Erratum) -> CheckedErratum:
    return CheckedErratum(e, run_check(e.check))


CONFIRMATION = Confirmation(
    SEED,
    66,
    r"\hat{y}_{t,i} (1 - \hat{y}_{t,j})",
    r"\frac{\partial \hat{y}_i}{\partial o_i} = \hat{y}_i(1 - \hat{y}_i)",
    _not_refuted,
)


def test_verdicts_follow_the_check_outcome():
    assert checked(erratum("003-01", _refuted)).verdict == "confirmed"
    assert checked(erratum("003-02", _not_refuted)).verdict == "check failed"
    crashed = checked(erratum("003-03", _crashes))
    assert crashed.verdict == "check error" and "ZeroDivisionError" in crashed.result.error
    ok = CheckedConfirmation(CONFIRMATION, run_check(CONFIRMATION.check))
    assert ok.verdict == "confirmed"
    wrong = CheckedConfirmation(CONFIRMATION, run_check(_refuted))
    assert wrong.verdict == "check failed"


def test_markdown_quotes_verbatim_and_shows_problem_correction_and_check():
    items = [
        checked(erratum("003-01", _refuted)),
        checked(erratum("003-03", _crashes, severity="low")),
    ]
    md = errata_markdown(
        SEED, items, [CheckedConfirmation(CONFIRMATION, run_check(CONFIRMATION.check))]
    )
    assert f"```text\n{NASTY_QUOTE}\n```" in md  # verbatim, nothing interpreted
    assert "sum_i y_i = 1$ without saying so" in md
    assert "$$\n" + items[0].erratum.correction + "\n$$" in md
    assert "**Check:** confirmed." in md and "3/10 != 0" in md
    assert "**Check:** check error." in md and "division by zero" in md
    assert md.index("## 003-01") < md.index("## What the note gets right") < md.index("### Line 66")
    assert "2 errata (1 high, 0 medium, 1 low severity)" in md
    assert "calls the logits $\\Omega_t$" in md  # the note's letters in canonical terms


def test_tex_escapes_the_quote_and_keeps_the_maths():
    tex = errata_tex(SEED, [checked(erratum("003-01", _refuted))], [])
    assert r"\textbackslash{}frac\{\textbackslash{}partial L\}" in tex
    assert r"100\% \& \#\_\~{}\^{}" in tex
    assert r"\ensuremath{\bigstar}" in tex and r"\ensuremath{\Theta}" in tex
    assert r"$\sum_i y_i = 1$ without saying so; 50\% \& more." in tex
    assert r"\hat{y}_t - y_t \quad \text{if }" in tex
    assert tex.isascii()


def test_index_and_json():
    items = [checked(erratum("003-01", _refuted)), checked(erratum("003-02", _not_refuted))]
    index = errata_index_markdown([(SEED, items, [])])
    assert "[003: RNN, April 2024](errata-003.md) | 2 | 2 | 1 | 0 |" in index
    record = errata_json(items[1])
    assert record["verdict"] == "check failed" and record["id"] == "003-02"
    assert record["quote"] == NASTY_QUOTE and record["line"] == 57


def test_errata_tex_compiles(tmp_path):
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is not installed on CI")
        pytest.skip(
            "pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)"
        )
    items = [checked(erratum("003-01", _refuted)), checked(erratum("003-03", _crashes))]
    confirmations = [CheckedConfirmation(CONFIRMATION, run_check(CONFIRMATION.check))]
    (tmp_path / "e.tex").write_text(errata_tex(SEED, items, confirmations))
    result = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "e.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors
