"""The errata say what the formula checker says: every transcribed formula of a seed note is
part of exactly one erratum's or confirmation's machine check, and the two agree."""

from __future__ import annotations

import pytest

from derivations import errata
from derivations.errata import _checks as ck
from derivations.errata._types import CheckOutcome, Confirmation, Erratum
from rnn_check import TRANSCRIPTIONS, Status
from rnn_check._transcriptions import transcription

ITEMS: list[Erratum | Confirmation] = [*errata.all_errata(), *errata.all_confirmations()]
LINKED = [item for item in ITEMS if isinstance(item.check, ck.NoteFormulaCheck)]


def _key(seed: str, line: int, quote: str) -> tuple[str, int, str]:
    return seed, line, quote


def _items_citing(t) -> list[Erratum | Confirmation]:
    return [
        item
        for item in LINKED
        if _key(item.seed, item.line, "") == _key(t.seed, t.line, "")
        and t.quote in item.check.quotes
    ]


def _name(item: Erratum | Confirmation) -> str:
    return item.id if isinstance(item, Erratum) else f"confirmation {item.seed[:3]}:{item.line}"


def _transcription_id(t) -> str:
    return f"{t.seed[:3]}-{t.line}-{t.wrt or t.quote[:24]}"


def test_transcriptions_are_named_uniquely_by_seed_line_and_quote():
    keys = [_key(t.seed, t.line, t.quote) for t in TRANSCRIPTIONS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("note", TRANSCRIPTIONS, ids=_transcription_id)
def test_every_transcription_belongs_to_one_erratum_or_confirmation_of_the_right_kind(note):
    items = _items_citing(note)
    assert len(items) == 1, (
        f"{note.seed}:{note.line} {note.quote!r} is cited by {[_name(i) for i in items]}: "
        "exactly one erratum or confirmation on that line must pass it to with_note_formula"
    )
    (item,) = items
    if note.expected is Status.CORRECT:
        assert isinstance(item, Confirmation), f"a CORRECT formula is cited by {_name(item)}"
        assert not note.correction, "a CORRECT formula needs no correction"
    else:
        assert isinstance(item, Erratum), f"a {note.expected} formula is cited by {_name(item)}"
        assert note.correction, "the erratum's correction must be transcribed too"


def test_every_cited_transcription_exists_on_the_items_own_line():
    for item in LINKED:
        link = item.check
        assert (link.seed, link.line) == (item.seed, item.line), _name(item)
        assert link.erratum is isinstance(item, Erratum), _name(item)
        for quote in link.quotes:
            note = transcription(item.seed, item.line, quote)  # KeyError if it does not exist
            assert quote in errata.seed_lines(item.seed)[item.line - 1]
            assert note.seed == item.seed


@pytest.mark.parametrize("note", TRANSCRIPTIONS, ids=_transcription_id)
def test_the_items_verdict_agrees_with_the_checker(note):
    verdict = note.check()
    assert verdict.status is note.expected, (verdict.summary, verdict.detail)
    (item,) = _items_citing(note)
    outcome = item.check()
    command = "rnn-derive check" if note.wrt is None else f"rnn-derive check --wrt {note.wrt}"
    assert f"{command}: {verdict.status}" in outcome.evidence, outcome.evidence
    if isinstance(item, Erratum):
        if verdict.status is Status.ILL_FORMED:
            assert verdict.extra.get("error") == "shape", verdict.detail
        fixed = note.check_correction()
        assert fixed is not None and fixed.status is Status.CORRECT, (fixed.summary, fixed.detail)
        assert f"on the correction: {Status.CORRECT}" in outcome.evidence
        assert outcome.verdict == "confirmed", outcome
    else:
        assert errata.confirmation_verdict(outcome) == "confirmed", outcome


def test_every_seed_has_checker_backed_items():
    assert {item.seed for item in LINKED} == set(errata.SEED_FILES)
    assert any(isinstance(item, Erratum) for item in LINKED)


# --------------------------------------------------------------------------------------------
# The wiring can fail: disagreement between the checker and the independent check shows
# --------------------------------------------------------------------------------------------


def _refuting() -> CheckOutcome:
    return CheckOutcome(True, True, "independent check refutes")


def _confirming() -> CheckOutcome:
    return CheckOutcome(False, True, "independent check confirms")


def test_an_erratum_on_a_formula_the_checker_calls_correct_is_not_confirmed():
    note = next(t for t in TRANSCRIPTIONS if t.expected is Status.CORRECT)
    link = ck.with_note_formula(_refuting, note.seed, note.line, note.quote, erratum=True)
    outcome = link()
    assert not outcome.claim_refuted
    assert outcome.verdict == "check failed"
    assert "rnn-derive check" in outcome.evidence and "CORRECT" in outcome.evidence


def test_a_confirmation_of_a_formula_the_checker_rejects_fails():
    note = next(t for t in TRANSCRIPTIONS if t.expected is Status.ILL_FORMED)
    outcome = ck.with_note_formula(_confirming, note.seed, note.line, note.quote, erratum=False)()
    assert outcome.claim_refuted
    assert errata.confirmation_verdict(outcome) == "check failed"


def test_an_erratum_the_independent_check_does_not_refute_is_not_confirmed():
    note = next(t for t in TRANSCRIPTIONS if t.expected is Status.WRONG)
    outcome = ck.with_note_formula(_confirming, note.seed, note.line, note.quote, erratum=True)()
    assert not outcome.claim_refuted


def test_ill_formed_refutes_only_a_shape_error():
    shape = r"\nabla_W L = \sum_t \mathrm{diag}(1 - h_t^2) \nabla_{h_t} L\, h_{t-1} V"
    unparsable = r"\nabla_W L = \sum_t \mathrm{diag}(1 - h_t^2"
    assert ck.formula_checker_check(shape, ill_formed_refutes=True).claim_refuted
    assert not ck.formula_checker_check(shape).claim_refuted
    assert not ck.formula_checker_check(unparsable, ill_formed_refutes=True).claim_refuted


def test_a_missing_transcription_is_a_clear_error():
    with pytest.raises(KeyError, match="add one to rnn_check/_transcriptions.py"):
        transcription("003", 126, "not on the line")
    with pytest.raises(ValueError, match="at least one"):
        ck.with_note_formula(_refuting, errata.SEED_FILES[0], 1, erratum=True)
