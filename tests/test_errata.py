"""The errata catalogue of the five seed notes: quotes, checks, confirmations and the CLI."""

from __future__ import annotations

import ast
import json
import pathlib
import re

import numpy as np
import pytest
import sympy as sp

from derivations import errata
from derivations.errata import _checks as ck
from derivations.errata._types import CheckOutcome, Confirmation, Erratum
from rnn_derive.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
ALL_ERRATA = errata.all_errata()
ALL_CONFIRMED = errata.all_confirmations()
REQUIRED_KEYS = {
    "id",
    "seed",
    "line",
    "quote",
    "category",
    "severity",
    "problem",
    "correction",
    "verdict",
}


def _confirmation_id(confirmation: Confirmation) -> str:
    return f"{confirmation.seed[:3]}-line{confirmation.line}-{confirmation.quote[:20]}"


# --------------------------------------------------------------------------------------------
# The catalogue's data
# --------------------------------------------------------------------------------------------


def test_the_seed_copies_are_all_there():
    for name in errata.SEED_FILES:
        assert (errata.SEEDS_DIR / name).is_file(), name


def test_the_seed_copies_equal_the_shared_notes():
    shared = ROOT.parent / "shared" / "seeds"
    if not shared.is_dir():
        pytest.skip(f"{shared} is not on this machine (only the copies in the repository are)")
    for name in errata.SEED_FILES:
        assert (errata.SEEDS_DIR / name).read_bytes() == (shared / name).read_bytes(), name


@pytest.mark.parametrize("erratum", ALL_ERRATA, ids=lambda e: e.id)
def test_quote_is_verbatim_on_its_line(erratum: Erratum):
    lines = errata.seed_lines(erratum.seed)
    assert 1 <= erratum.line <= len(lines), f"{erratum.id}: line {erratum.line} out of range"
    assert erratum.quote.strip(), f"{erratum.id}: empty quote"
    assert erratum.quote in lines[erratum.line - 1], (
        f"{erratum.id}: {erratum.quote!r} is not on line {erratum.line}: "
        f"{lines[erratum.line - 1]!r}"
    )


def test_ids_are_unique_and_name_their_seed():
    ids = [e.id for e in ALL_ERRATA]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for e in ALL_ERRATA:
        assert e.seed in errata.SEED_FILES, e.id
        assert re.fullmatch(rf"{e.seed[:3]}-\d{{2,3}}", e.id), e.id


def test_errata_come_in_seed_then_line_order():
    keys = [(errata.SEED_FILES.index(e.seed), e.line) for e in ALL_ERRATA]
    assert keys == sorted(keys)


@pytest.mark.parametrize("erratum", ALL_ERRATA, ids=lambda e: e.id)
def test_texts_are_present_and_correction_is_a_maths_body(erratum: Erratum):
    assert erratum.problem.strip() and erratum.correction.strip(), erratum.id
    # The correction is typeset inside a maths environment by the build: no $ delimiters,
    # and braces must balance (escaped \{ \} aside) or the .tex will not compile.
    assert "$" not in erratum.correction, erratum.id
    body = erratum.correction.replace(r"\{", "").replace(r"\}", "")
    assert body.count("{") == body.count("}"), erratum.id
    assert erratum.problem.count("$") % 2 == 0, f"{erratum.id}: unbalanced $ in the problem"


def test_every_seed_with_errata_has_severe_ones_and_confirmations():
    seeds_with_errata = {e.seed for e in ALL_ERRATA}
    assert "000_353fc027c1455118.txt" in seeds_with_errata
    for seed in seeds_with_errata:
        assert any(e.seed == seed and e.severity == "high" for e in ALL_ERRATA), seed
        assert any(c.seed == seed for c in ALL_CONFIRMED), seed


def test_every_seed_note_has_its_errata_and_confirmations():
    for seed in errata.SEED_FILES:
        assert any(e.seed == seed for e in ALL_ERRATA), f"no errata for {seed}"
        assert any(c.seed == seed for c in ALL_CONFIRMED), f"no confirmed results for {seed}"
    assert len(ALL_ERRATA) > 50  # the issue expects well over fifty across the five notes


def test_seed_000_catalogue_is_substantial():
    mine = [e for e in ALL_ERRATA if e.seed.startswith("000")]
    assert len(mine) >= 20
    assert len({e.category for e in mine}) >= 6


# --------------------------------------------------------------------------------------------
# Every check runs and gives its verdict
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("erratum", ALL_ERRATA, ids=lambda e: e.id)
def test_every_erratum_check_confirms_the_erratum(erratum: Erratum):
    outcome = erratum.check()  # called directly: an exception must fail the test loudly
    assert isinstance(outcome, CheckOutcome)
    assert outcome.claim_refuted, f"{erratum.id}: the note's claim was not refuted: {outcome}"
    assert outcome.correction_holds, f"{erratum.id}: the correction was not proven: {outcome}"
    assert outcome.verdict == "confirmed"
    assert outcome.evidence.strip()


@pytest.mark.parametrize("confirmation", ALL_CONFIRMED, ids=_confirmation_id)
def test_every_confirmation_holds(confirmation: Confirmation):
    lines = errata.seed_lines(confirmation.seed)
    assert confirmation.quote in lines[confirmation.line - 1]
    outcome = confirmation.check()
    assert not outcome.claim_refuted, outcome
    assert outcome.correction_holds, outcome
    assert errata.confirmation_verdict(outcome) == "confirmed"


def test_checks_never_use_the_implementation_under_test():
    # Every check's reference is written in the errata package itself (finite differences of a
    # plain loss, SymPy); the formula checker is only a second opinion, asked in _checks.py.
    for path in (ROOT / "derivations" / "errata").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            roots = {n.split(".")[0] for n in names}
            assert "rnn_num" not in roots, path
            assert "rnn_check" not in roots or path.name == "_checks.py", path


def test_formula_checker_second_opinion_can_refute():
    wrong = r"\nabla_W L = \sum_t \text{diag}(1 - h(t)^2) (\nabla_{h(t)} L) h(t)'"
    right = r"\nabla_W L = \sum_t \text{diag}(1 - h(t)^2) (\nabla_{h(t)} L) h(t-1)'"
    outcome = ck.formula_checker_check(wrong, right)
    assert outcome.claim_refuted and outcome.correction_holds, outcome
    assert not ck.formula_checker_check(right).claim_refuted


# --------------------------------------------------------------------------------------------
# The helpers can fail: a true claim is not refuted, a false correction is not proven
# --------------------------------------------------------------------------------------------


def test_sympy_residual_check_does_not_refute_a_true_identity():
    z = sp.Symbol("z", real=True)
    outcome = ck.sympy_residual_check(sp.tanh(z).diff(z), 1 - sp.tanh(z) ** 2)
    assert not outcome.claim_refuted and outcome.correction_holds


def test_sympy_residual_check_refutes_a_false_claim_and_rejects_a_false_correction():
    x = sp.Symbol("x", real=True)
    outcome = ck.sympy_residual_check(sp.sin(x) ** 2, 1 - sp.cos(x), x**2, x)
    assert outcome.claim_refuted
    assert not outcome.correction_holds
    assert outcome.verdict == "check failed"
    assert "at x = " in outcome.evidence


def test_sympy_residual_check_handles_matrices():
    a, b = sp.symbols("a b", real=True)
    m = sp.Matrix([[a, b], [0, a]])
    assert not ck.sympy_residual_check(m.T.T, m).claim_refuted
    assert ck.sympy_residual_check(m.T, m).claim_refuted
    with pytest.raises(ValueError, match="different shapes"):
        ck.sympy_residual_check(m, sp.Matrix([a, b]))


def test_counterexamples_respect_the_symbols_assumptions():
    k = sp.Symbol("k", positive=True)
    evidence = ck.numeric_counterexample(sp.sqrt(k) - k)
    assert evidence is not None and "-" not in evidence.split(":")[0]


def test_number_check_uses_the_printed_precision():
    assert not ck.number_check("0.67", 0.665241).claim_refuted
    assert ck.number_check("0.93", 0.936240).claim_refuted
    assert not ck.number_check("0.9362", 0.936240).claim_refuted
    assert ck.number_check("0.49745027539104264", 0.5025).claim_refuted
    outcome = ck.number_check("0.93", 0.936240, "0.95")
    assert outcome.claim_refuted and not outcome.correction_holds


def test_array_check_refutes_wrong_values_and_shapes():
    assert not ck.array_check([1.0, 2.0], [1.0, 2.0]).claim_refuted
    assert ck.array_check([1.0, 2.5], [1.0, 2.0]).claim_refuted
    outcome = ck.array_check(np.zeros(3), np.zeros((3, 1)), np.zeros((3, 1)))
    assert outcome.claim_refuted and outcome.correction_holds
    assert "shape" in outcome.evidence


def test_plain_bptt_agrees_with_finite_differences():
    p = ck.canonical_model(T=3, n_x=2, n_h=3, n_y=4, seed=21)
    grads = ck.canonical_gradients_bptt(p)
    for name in ("U", "W", "V", "b", "c", "h0"):
        reference = ck.finite_difference_gradient(ck.canonical_loss, p, name)
        np.testing.assert_allclose(grads[name], reference, rtol=1e-6, atol=1e-8)


def test_gradient_formula_check_accepts_the_true_gradient_and_refutes_a_transposed_one():
    p = ck.canonical_model(seed=22)
    right = ck.gradient_formula_check(lambda q: ck.canonical_gradients_bptt(q)["W"], None, "W")
    assert not right.claim_refuted and right.correction_holds
    wrong = ck.gradient_formula_check(
        lambda q: ck.canonical_gradients_bptt(q)["W"].T,
        lambda q: ck.canonical_gradients_bptt(q)["W"],
        "W",
        params=p,
    )
    assert wrong.claim_refuted and wrong.correction_holds
    shape = ck.gradient_formula_check(lambda q: np.zeros(3), None, "U", params=p)
    assert shape.claim_refuted and not shape.correction_holds


def test_combine_and_truth_check():
    good = CheckOutcome(True, True, "a")
    bad = CheckOutcome(False, False, "b")
    assert ck.combine(good, bad) == CheckOutcome(True, False, "a; b")
    assert ck.truth_check(False, True, "e") == CheckOutcome(True, True, "e")


def test_erratum_rejects_unknown_category_and_severity():
    def check() -> CheckOutcome:
        return CheckOutcome(True, True, "")

    with pytest.raises(ValueError, match="category"):
        Erratum("000-99", errata.SEED_FILES[0], 1, "x", "typo", "low", "p", "c", check)
    with pytest.raises(ValueError, match="severity"):
        Erratum("000-99", errata.SEED_FILES[0], 1, "x", "wrong sign", "fatal", "p", "c", check)


def test_run_check_turns_a_crash_into_a_failed_verdict():
    def broken() -> CheckOutcome:
        raise ZeroDivisionError("boom")

    item = Erratum("000-99", errata.SEED_FILES[0], 1, "x", "wrong sign", "low", "p", "c", broken)
    outcome = errata.run_check(item)
    assert outcome.verdict == "check failed"
    assert "ZeroDivisionError" in outcome.evidence


# --------------------------------------------------------------------------------------------
# rnn-derive errata
# --------------------------------------------------------------------------------------------


def _json_run(capsys, *argv: str) -> tuple[int, list[dict]]:
    code = main(["errata", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_cli_json_lists_every_erratum_with_the_required_keys(capsys):
    code, records = _json_run(capsys)
    assert code == 0
    assert [r["id"] for r in records] == [e.id for e in ALL_ERRATA]
    for record in records:
        assert REQUIRED_KEYS <= set(record), record.get("id")
        assert record["verdict"] == "confirmed", record
        assert list(record) == sorted(record)


def test_cli_json_for_one_seed_prefix_is_deterministic(capsys):
    main(["errata", "000", "--json"])
    first = capsys.readouterr().out
    main(["errata", "000_353fc027c1455118.txt", "--json"])
    second = capsys.readouterr().out
    assert first == second
    records = json.loads(first)
    assert records and {r["seed"] for r in records} == {"000_353fc027c1455118.txt"}


def test_cli_unknown_seed_is_a_clear_error(capsys):
    assert main(["errata", "999"]) == 2
    err = capsys.readouterr().err
    assert "unknown seed '999'" in err
    for name in errata.SEED_FILES:
        assert name in err


def test_cli_ambiguous_prefix_is_a_clear_error(capsys):
    assert main(["errata", "00"]) == 2
    assert "ambiguous" in capsys.readouterr().err


def test_cli_human_listing_groups_by_seed_with_verdicts(capsys):
    assert main(["errata", "000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== 000_353fc027c1455118.txt")
    for e in ALL_ERRATA:
        if e.seed.startswith("000"):
            assert f"[{e.id}] line {e.line} | {e.severity} | {e.category} | confirmed" in out
    assert "What the note gets right:" in out


def test_cli_exits_non_zero_when_a_check_fails(capsys, monkeypatch):
    def not_refuted() -> CheckOutcome:
        return CheckOutcome(False, True, "the claim holds after all")

    fake = Erratum(
        "000-99", errata.SEED_FILES[0], 10, "x(t)", "wrong formula", "low", "p", "c", not_refuted
    )
    monkeypatch.setattr(errata, "all_errata", lambda: [fake])
    monkeypatch.setattr(errata, "all_confirmations", lambda: [])
    code, records = _json_run(capsys, "000")
    assert code == 1
    assert records[0]["verdict"] == "check failed"
