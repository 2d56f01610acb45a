"""The seed notes' gradient formulas, transcribed into the dialect, give the recorded verdicts."""

from __future__ import annotations

import pytest

from derivations.errata import SEED_FILES, seed_lines
from rnn_check import TRANSCRIPTIONS, Status
from rnn_check._transcriptions import transcriptions_for


@pytest.mark.parametrize(
    "transcription", TRANSCRIPTIONS, ids=lambda t: f"{t.seed[:3]}-{t.line}-{t.wrt}"
)
def test_transcription_quotes_its_line_and_gets_its_verdict(transcription):
    lines = seed_lines(transcription.seed)
    line = lines[transcription.line - 1]
    assert transcription.quote in line
    if not transcription.edits:
        # verbatim: the line's formula without its $$ delimiters
        assert line.strip().strip("$").strip() == transcription.latex
    verdict = transcription.check()
    assert verdict.status is transcription.expected, (verdict.summary, verdict.detail)


def test_every_seed_has_transcriptions_with_each_verdict_kind():
    assert {t.seed for t in TRANSCRIPTIONS} == set(SEED_FILES)
    assert {t.expected for t in TRANSCRIPTIONS} == set(Status)
    assert len(transcriptions_for("003", 126)) == 1


def test_seed_003_equation_10_is_the_shape_error_of_the_issue():
    (eq10,) = transcriptions_for("003", 126)
    verdict = eq10.check()
    assert "(y_t - \\hat{y}_t) is 2×1 and V^\\top is 3×2: the product needs 1 = 3" in verdict.detail


def test_seed_003_softmax_derivative_is_diagnosed():
    (eq5,) = transcriptions_for("003", 43)
    verdict = eq5.check()
    assert verdict.status is Status.WRONG
    assert "softmax-Jacobian diagonal used for all i, j" in verdict.diagnosis


def test_the_notes_shape_errors_are_diagnosed_and_keep_their_shapes():
    # seed 003 eq. (10): (y_t − ŷ_t) Vᵀ … is the chain rule in numerator order, which fails
    # as the reference with its factors swapped does
    (eq10,) = transcriptions_for("003", 126)
    verdict = eq10.check()
    assert verdict.status is Status.ILL_FORMED
    assert "is 2×1 and V^\\top is 3×2" in verdict.detail
    assert "factors in the wrong order" in verdict.diagnosis
    # seed 004 line 141: ∂L/∂y_t · h_t without its transpose
    (line141,) = transcriptions_for("004", 141)
    verdict = line141.check()
    assert verdict.status is Status.ILL_FORMED and "is 3×1" in verdict.detail
    assert verdict.diagnosis == ("transpose missing",)
    # seed 004 line 214: the elementwise factor (1 − h_t²) multiplied as a matrix
    (line214,) = transcriptions_for("004", 214)
    assert any(d.startswith("diag(…) missing") for d in line214.check().diagnosis)
