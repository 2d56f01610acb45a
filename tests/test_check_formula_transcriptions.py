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
