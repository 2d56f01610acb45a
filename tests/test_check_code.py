"""Route 3: checking backward-pass code (rnn_check.check_backward / check_block)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _bptt_mistakes import BUGGY, MISTAKES, backward_correct
from hypothesis import given, settings
from hypothesis import strategies as st

import rnn_check
import rnn_num
from rnn_check import Case, Status, check_backward, check_block, default_battery, make_case
from rnn_check import _bptt_variants as variants
from rnn_check._code import _variant


def _true(case):
    params, x, y, h0 = make_case(case.T, case.n_x, case.n_h, case.n_y, case.seed, case.batch)
    return rnn_num.loss_and_grads(params, x, y, h0=h0)


# ---------------------------------------------------------------- the battery itself


def test_battery_leaves_no_place_for_mistakes_to_hide():
    cases = default_battery()
    # T = 8 and 9 (with a batch) show BPTT truncated after up to 7 steps
    assert sorted({c.T for c in cases}) == [1, 2, 3, 4, 5, 8, 9]
    assert {c.T for c in cases if c.batch is not None} == {1, 2, 3, 9}
    assert {c.batch is None for c in cases} == {True, False}
    for case in cases:
        sizes = {case.n_x, case.n_h, case.n_y, case.batch or -1}
        assert len(sizes) == 4, f"sizes must all differ so a transpose cannot hide: {case}"
        params, x, y, h0 = make_case(case.T, case.n_x, case.n_h, case.n_y, case.seed, case.batch)
        assert np.abs(params["W"] - params["W"].T).max() > 0.1
        assert np.abs(h0).min() > 0 and np.abs(h0).max() > 0.1
    one_step = next(c for c in cases if c.T == 1)
    # with h0 = 0 this block would be exactly zero: the battery's h0 makes it informative
    assert np.abs(_true(one_step)[1]["W"]).max() > 1e-3
    assert default_battery(batch=False) == tuple(c for c in cases if c.batch is None)


def test_make_case_is_deterministic_and_validates():
    first = make_case(3, 2, 3, 4, seed=5, batch=7)
    again = make_case(3, 2, 3, 4, seed=5, batch=7)
    for a, b in zip(first[1:], again[1:], strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[1].shape == (3, 7, 2) and first[2].shape == (3, 7) and first[3].shape == (3,)
    with pytest.raises(ValueError, match="T must be a positive integer"):
        make_case(0, 2, 3, 4)
    with pytest.raises(ValueError, match="batch must be None"):
        make_case(2, 2, 3, 4, batch=0)


def test_the_mistake_table_without_mistakes_is_rnn_num():
    # Two independent implementations: the diagnosis side and the truth must agree.
    for case in default_battery():
        loss, grads = _variant(case, {})
        true_loss, true = _true(case)
        assert loss == pytest.approx(true_loss, rel=1e-12)
        for block in variants.BLOCKS:
            np.testing.assert_allclose(grads[block], true[block], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rule", variants.RULES, ids=lambda r: r.description[:40])
def test_every_rule_is_a_real_mistake(rule):
    # a rule that changes nothing on the battery could never be told apart from CORRECT
    changed = False
    for case in default_battery():
        loss, grads = _variant(case, rule.knobs)
        true_loss, true = _true(case)
        changed |= not np.isclose(loss, true_loss) or any(
            not np.allclose(grads[k], true[k]) for k in variants.BLOCKS
        )
    assert changed


def test_a_rule_with_an_unknown_knob_is_refused():
    with pytest.raises(ValueError, match="unknown knob"):
        variants._rule("typo", rec_matrx="W")


# ---------------------------------------------------------------- verdicts


def test_an_independent_correct_implementation_is_correct():
    verdict = check_backward(backward_correct)
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert verdict.exit_code == 0
    assert [e.block for e in verdict.errors] == ["loss", "U", "W", "V", "b", "c", "h0"]
    assert max(e.max_rel_error for e in verdict.errors) < 1e-10
    assert verdict.counterexample is None and verdict.diagnosis == ()
    assert "batch and no batch" in verdict.summary


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_is_wrong_with_its_diagnosis(mistake):
    fn = BUGGY[mistake]
    verdict = check_backward(fn)
    assert verdict.status is Status.WRONG and verdict.exit_code == 1
    # one mistake, one line, naming exactly the blocks that are wrong
    assert len(verdict.diagnosis) == 1 and MISTAKES[mistake] in verdict.diagnosis[0], (
        verdict.diagnosis
    )
    named = verdict.diagnosis[0].rsplit("(explains ", 1)[1].rstrip(")").split(", ")
    wrong_blocks = [
        ("the loss" if e.block == "loss" else f"∇{e.block}")
        for e in verdict.errors
        if e.max_rel_error > 1e-6
    ]
    assert named == wrong_blocks
    # the counterexample is real: rerun the user's function and the reference on it
    cx = verdict.counterexample
    assert cx is not None
    params, x, y, h0 = make_case(cx.T, cx.n_x, cx.n_h, cx.n_y, cx.seed, cx.batch)
    loss, grads = fn(params, x, y, h0=h0)
    true_loss, true = rnn_num.loss_and_grads(params, x, y, h0=h0)
    actual = loss if cx.block == "loss" else np.asarray(grads[cx.block])[cx.index]
    expected = true_loss if cx.block == "loss" else true[cx.block][cx.index]
    assert actual == pytest.approx(cx.actual, rel=1e-12)
    assert expected == pytest.approx(cx.expected, rel=1e-12)
    assert not np.isclose(actual, expected)
    assert cx.block in {e.block for e in verdict.errors if e.max_rel_error > 1e-6}


def test_counterexample_is_the_smallest_failing_case():
    verdict = check_backward(BUGGY["h_t_in_grad_W"])
    assert verdict.counterexample.T == 1  # h_1 instead of h_0 already fails at T = 1
    assert verdict.counterexample.block == "W"
    assert [e.block for e in verdict.errors if e.max_rel_error > 1e-6] == ["W"]


def test_text_report_names_block_entry_values_and_diagnosis():
    verdict = check_backward(BUGGY["W_not_transposed"])
    text = rnn_check.format_verdict(verdict)
    cx = verdict.counterexample
    assert text.startswith("WRONG:")
    assert f"{cx.block}{list(cx.index)} should be {cx.expected:.10g}, got {cx.actual:.10g}" in text
    assert "rnn_check.make_case(" in text
    assert "Diagnosis:" in text and "W used where Wᵀ belongs" in text
    data = json.loads(verdict.to_json())
    assert data["status"] == "WRONG" and data["diagnosis"] == list(verdict.diagnosis)


def test_a_mistake_nobody_listed_is_wrong_without_diagnosis():
    def odd(params, x, y, h0=None):
        loss, grads = backward_correct(params, x, y, h0)
        grads = dict(grads)
        grads["V"] = grads["V"] + 0.01 * np.arange(grads["V"].size).reshape(grads["V"].shape)
        return loss, grads

    verdict = check_backward(odd)
    assert verdict.status is Status.WRONG
    assert verdict.diagnosis == ()
    assert "no known mistake matches" in rnn_check.format_verdict(verdict)


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (lambda g: g.T, "transposed"),
        (lambda g: 2.0 * g, "constant factor 2"),
        (lambda g: np.clip(g, -0.05, 0.05), "elementwise gradient clipping"),
        (lambda g: np.zeros_like(g), "zero everywhere"),
        (lambda g: g * (1 + 1e-5 * np.cos(np.arange(g.size).reshape(g.shape))), "float32"),
    ],
    ids=["transposed", "factor", "elementwise-clip", "zero", "single-precision"],
)
def test_generic_detectors(change, phrase):
    def user(params, x, y, h0=None):
        loss, grads = backward_correct(params, x, y, h0)
        return loss, {**grads, "W": change(grads["W"])}

    verdict = check_backward(user)
    assert verdict.status is Status.WRONG
    assert any(phrase in line and "∇W" in line for line in verdict.diagnosis), verdict.diagnosis


# ---------------------------------------------------------------- ILL-FORMED


def _with(change):
    def user(params, x, y, h0=None):
        return change(*backward_correct(params, x, y, h0))

    return user


@pytest.mark.parametrize(
    ("user", "summary", "detail"),
    [
        (
            _with(lambda loss, g: (loss, {**g, "U": g["U"].T})),
            "grads['U'] has shape (5, 4), but U has shape (4, 5)",
            "transpose",
        ),
        (
            _with(lambda loss, g: (loss, {k: v for k, v in g.items() if k != "h0"})),
            "no 'h0'",
            "blocks=",
        ),
        (_with(lambda loss, g: (loss, {**g, "b": g["b"] * np.nan})), "non-finite", "grads['b']"),
        (_with(lambda loss, g: g), "must return (loss, grads)", "returned a dict"),
        (_with(lambda loss, g: (loss, list(g.values()))), "mapping", "list"),
        (_with(lambda loss, g: (np.ones(3), g)), "loss must be a scalar", "(3,)"),
        (_with(lambda loss, g: (loss, {**g, "c": "oops"})), "not an array of numbers", "str"),
    ],
    ids=["transposed-U", "missing-h0", "nan", "not-a-pair", "not-a-mapping", "vector-loss", "text"],
)
def test_ill_formed_answers_are_named(user, summary, detail):
    verdict = check_backward(user)
    assert verdict.status is Status.ILL_FORMED and verdict.exit_code == 2
    assert summary in verdict.summary
    assert detail in verdict.detail


def test_transposed_block_reports_both_shapes():
    verdict = check_backward(_with(lambda loss, g: (loss, {**g, "V": g["V"].T})))
    assert "grads['V'] has shape (4, 3), but V has shape (3, 4)" in verdict.summary


def test_an_exception_in_user_code_is_reported_with_the_case():
    def broken(params, x, y, h0=None):
        raise ZeroDivisionError("my bug")

    verdict = check_backward(broken)
    assert verdict.status is Status.ILL_FORMED
    assert "ZeroDivisionError" in verdict.summary and "T=1" in verdict.summary
    assert "my bug" in verdict.detail and "test_check_code.py" in verdict.detail


def test_no_batch_support_is_declared_with_batch_false():
    def unbatched_only(params, x, y, h0=None):
        if np.ndim(x) != 2:
            raise ValueError("x must be (T, n_x)")
        return backward_correct(params, x, y, h0)

    verdict = check_backward(unbatched_only)
    assert verdict.status is Status.ILL_FORMED
    assert "batch=False" in verdict.detail
    verdict = check_backward(unbatched_only, batch=False)
    assert verdict.status is Status.CORRECT
    assert "no batch" in verdict.summary and verdict.extra["cases"] == 6


def test_blocks_subset_allows_functions_without_h0():
    def no_h0(params, x, y, h0=None):
        loss, grads = backward_correct(params, x, y, h0)
        return loss, {k: v for k, v in grads.items() if k != "h0"}

    verdict = check_backward(no_h0, blocks=("U", "W", "V", "b", "c"))
    assert verdict.status is Status.CORRECT
    assert [e.block for e in verdict.errors] == ["loss", "U", "W", "V", "b", "c"]


def test_user_cannot_corrupt_the_reference_by_mutating_inputs():
    def vandal(params, x, y, h0=None):
        result = backward_correct(params, x, y, h0)
        params["W"] *= 0.0
        h0[:] = 0.0
        return result

    assert check_backward(vandal).status is Status.CORRECT


def test_float32_implementation_with_float32_tolerance():
    def single(params, x, y, h0=None):
        params32 = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
        loss, grads = backward_correct(params32, x.astype(np.float32), y, h0.astype(np.float32))
        return np.float32(loss), {k: v.astype(np.float32) for k, v in grads.items()}

    assert check_backward(single, rtol=1e-3).status is Status.CORRECT


def test_other_activation_is_compared_with_that_activation():
    verdict = check_backward(backward_correct, activation="sigmoid")
    assert verdict.status is Status.WRONG
    assert verdict.diagnosis == ()  # the mistake table describes tanh networks only


# ---------------------------------------------------------------- check_block


def _block_fn(mistake, block):
    fn = BUGGY[mistake] if mistake else backward_correct

    def one_block(params, x, y, h0=None):
        return fn(params, x, y, h0)[1][block]

    return one_block


def test_check_block_correct_and_wrong():
    assert check_block(_block_fn(None, "W"), "W").status is Status.CORRECT
    verdict = check_block(_block_fn("h_t_in_grad_W", "W"), "W")
    assert verdict.status is Status.WRONG
    assert verdict.diagnosis == ("h_t used where h_{t−1} belongs in ∇W (explains ∇W)",)
    assert [e.block for e in verdict.errors] == ["W"]
    verdict = check_block(_block_fn(None, "U"), "W")
    assert verdict.status is Status.ILL_FORMED and "(4, 4)" in verdict.summary


def test_check_block_with_explicit_cases():
    cases = [Case(T=2, n_x=2, n_h=3, n_y=4, seed=9)]
    verdict = check_block(_block_fn("no_h0_grad", "h0"), "h0", cases=cases)
    assert verdict.status is Status.WRONG and verdict.extra["cases"] == 1
    assert verdict.diagnosis == ("∇h0 missing (returned as zero) (explains ∇h0)",)


# ---------------------------------------------------------------- bad input to the API


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: check_backward("not code"), TypeError, "fn must be a callable"),
        (lambda: check_backward(backward_correct, blocks=("Q",)), ValueError, "blocks must be"),
        (lambda: check_backward(backward_correct, rtol=0), ValueError, "rtol must be"),
        (lambda: check_backward(backward_correct, batch="yes"), TypeError, "batch must be"),
        (
            lambda: check_backward(backward_correct, activation="gelu"),
            ValueError,
            "activation must be",
        ),
        (lambda: check_backward(backward_correct, cases=[1, 2]), TypeError, "cases must be"),
        (lambda: check_block(backward_correct, "Z"), ValueError, "block must be one of"),
        (lambda: check_block(None, "W"), TypeError, "fn must be a callable"),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------- any configuration


@settings(max_examples=12, deadline=None)
@given(
    T=st.integers(1, 4),
    n_x=st.integers(1, 4),
    n_h=st.integers(1, 4),
    n_y=st.integers(2, 4),
    seed=st.integers(0, 2**16),
    batch=st.one_of(st.none(), st.integers(1, 3)),
)
def test_any_small_configuration(T, n_x, n_h, n_y, seed, batch):
    cases = [Case(T, n_x, n_h, n_y, seed, batch)]
    assert check_backward(backward_correct, cases=cases).status is Status.CORRECT
    verdict = check_backward(BUGGY["sign_flipped"], cases=cases)
    assert verdict.status is Status.WRONG
    assert verdict.counterexample.seed == seed
