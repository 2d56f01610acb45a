"""The code route of the checker is strict (issue 13): nothing lost, nothing falsely passed.

Each test here failed on the code before the fix: a correct backward pass that reuses its
output buffers was judged WRONG; complex, text, object and bool results were read as
numbers; tolerances that can never fail were accepted and np.float32(1e-3) refused; absurd
sizes were allocated before any check; a mock.patch of rnn_num.loss_and_grads became the
checker's truth.
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from _bptt_mistakes import BUGGY, backward_correct

import rnn_check._code as code
import rnn_num
from rnn_check import (
    Case,
    Status,
    check_backward,
    check_block,
    check_expression,
    check_formula,
    make_case,
)
from rnn_check.pytest_plugin import BpttCheck
from rnn_sym import model_symbols

# A few cases, two of each shape: a reused buffer then holds another case's numbers.
CASES = (
    Case(1, 5, 4, 3, seed=1),
    Case(3, 5, 4, 3, seed=2),
    Case(2, 2, 3, 4, seed=3, batch=7),
    Case(4, 2, 3, 4, seed=4, batch=7),
)
# The real reference, captured before any test patches the public name.
REAL_LOSS_AND_GRADS = rnn_num.loss_and_grads


# ---------------------------------------------------------------- 1. buffers reused


def _reusing(backward, buffers: dict):
    """`backward` returning its results in preallocated buffers, overwritten on every call
    (as code that avoids allocations does): the same ndarray objects each time."""

    def reusing(params, x, y, h0=None):
        loss, grads = backward(params, x, y, h0)
        out = {}
        for name, value in grads.items():
            buffer = buffers.setdefault((name, np.shape(value)), np.empty(np.shape(value)))
            buffer[...] = value
            out[name] = buffer
        loss_buffer = buffers.setdefault("loss", np.empty(()))  # a 0-d array, reused too
        loss_buffer[...] = loss
        return loss_buffer, out

    return reusing


_MODULE_BUFFERS: dict = {}  # module-level, as such code keeps them


def test_a_correct_backward_reusing_its_buffers_is_correct():
    fn = _reusing(backward_correct, _MODULE_BUFFERS)
    verdict = check_backward(fn, cases=CASES)
    assert verdict.status is Status.CORRECT, code.format_verdict(verdict)
    assert check_backward(fn).status is Status.CORRECT  # the default battery too


def test_a_wrong_backward_reusing_its_buffers_is_still_wrong():
    verdict = check_backward(_reusing(BUGGY["W_not_transposed"], {}), cases=CASES)
    assert verdict.status is Status.WRONG
    assert any("W used where Wᵀ belongs" in d for d in verdict.diagnosis)


def test_a_reused_zero_d_loss_is_read_at_once():
    buffers: dict = {}

    def loss_in_a_buffer(params, x, y, h0=None):
        loss, grads = backward_correct(params, x, y, h0)
        buffer = buffers.setdefault("loss", np.empty(()))
        buffer[...] = loss
        return buffer, grads

    assert check_backward(loss_in_a_buffer, cases=CASES).status is Status.CORRECT


def test_check_block_with_a_reused_buffer_is_correct():
    buffers: dict = {}

    def grad_W(params, x, y, h0=None):
        buffer = buffers.setdefault(np.shape(params["W"]), np.empty(np.shape(params["W"])))
        buffer[...] = backward_correct(params, x, y, h0)[1]["W"]
        return buffer

    verdict = check_block(grad_W, "W", cases=CASES)
    assert verdict.status is Status.CORRECT, code.format_verdict(verdict)


def test_the_fixture_with_reused_buffers_passes(bptt_check):
    verdict = bptt_check(_reusing(backward_correct, {}), cases=CASES)  # fails the test if not
    assert verdict.status is Status.CORRECT
    buffers: dict = {}

    def grad_b(params, x, y, h0=None):
        buffer = buffers.setdefault(np.shape(params["b"]), np.empty(np.shape(params["b"])))
        buffer[...] = backward_correct(params, x, y, h0)[1]["b"]
        return buffer

    assert bptt_check.block("b", grad_b, cases=CASES).status is Status.CORRECT


# ---------------------------------------------------------------- 2. results that are not real numbers


def _returning(change):
    """The correct backward pass with its result changed by `change(loss, grads)`."""

    def backward(params, x, y, h0=None):
        loss, grads = backward_correct(params, x, y, h0)
        return change(loss, dict(grads))

    return backward


def _with(block, make):
    def change(loss, grads):
        grads[block] = make(grads[block])
        return loss, grads

    return change


def _none_first(v):
    entries = list(np.ravel(v))
    entries[0] = None
    return np.array(entries, dtype=object).reshape(np.shape(v))


ILL_FORMED_RESULTS = {
    "complex gradient": (_with("W", lambda v: v + 1e-9j), "grads['W'] has dtype complex128"),
    "complex with zero imaginary part": (
        _with("U", lambda v: v.astype(complex)),
        "grads['U'] has dtype complex128",
    ),
    "gradient as text": (_with("b", lambda v: v.astype(str)), "grads['b'] holds text"),
    "gradient entries as strings": (
        _with("c", lambda v: [str(e) for e in v]),
        "grads['c'] holds text",
    ),
    "object array of numbers": (
        _with("V", lambda v: v.astype(object)),
        "grads['V'] is an object array",
    ),
    "None entry": (_with("b", _none_first), "grads['b'] holds None"),
    "None inside a list": (
        _with("c", lambda v: [None, *list(v)[1:]]),
        "grads['c'] holds None",
    ),
    "bool gradient": (_with("W", lambda v: v > 0), "grads['W'] has dtype bool"),
    "loss as a string": (lambda loss, grads: (str(loss), grads), "the loss is a str, not an"),
    "loss as bytes": (lambda loss, grads: (str(loss).encode(), grads), "the loss is a bytes"),
    "loss complex": (lambda loss, grads: (complex(loss), grads), "the loss has dtype complex128"),
    "loss a bool": (lambda loss, grads: (True, grads), "the loss has dtype bool"),
    "loss a 0-d string array": (
        lambda loss, grads: (np.array(str(loss)), grads),
        "the loss holds text",
    ),
    "gradient a dict": (_with("h0", lambda v: {"h0": v}), "grads['h0'] is a dict"),
}


@pytest.mark.parametrize("name", ILL_FORMED_RESULTS)
def test_results_that_are_not_real_numbers_are_ill_formed(name):
    change, message = ILL_FORMED_RESULTS[name]
    verdict = check_backward(_returning(change), cases=CASES[:1])
    assert verdict.status is Status.ILL_FORMED, verdict.summary
    assert message in verdict.summary
    assert verdict.summary.startswith("ILL-FORMED: ")
    text = code.format_verdict(verdict)
    assert "return " in verdict.summary  # the fix is said
    assert "T=1, n_x=5" in text  # and the case


def test_complex_block_and_fixture_are_ill_formed():
    def grad_W(params, x, y, h0=None):
        return backward_correct(params, x, y, h0)[1]["W"] + 0j

    verdict = check_block(grad_W, "W", cases=CASES[:1])
    assert verdict.status is Status.ILL_FORMED
    assert "the value returned for ∇W has dtype complex128" in verdict.summary
    with pytest.raises(pytest.fail.Exception, match="ILL-FORMED: .*dtype complex128"):
        BpttCheck().block("W", grad_W, cases=CASES[:1])


def test_integer_results_are_numbers():
    # Integers are real numbers (exact in float64): read as such, as the route always did.
    # An all-zero integer ∇W is WRONG with the "never accumulated" diagnosis, not ILL-FORMED.
    verdict = check_backward(
        _returning(_with("W", lambda v: np.zeros(np.shape(v), dtype=np.int64))), cases=CASES
    )
    assert verdict.status is Status.WRONG
    assert verdict.diagnosis == (
        "zero everywhere: this gradient is never accumulated (explains ∇W)",
    )

    def int_loss(loss, grads):  # rounded to an int the loss is wrong, but still a number
        return int(round(loss)), grads

    verdict = check_backward(_returning(int_loss), cases=CASES)
    assert verdict.status is Status.WRONG and [e.block for e in verdict.errors][0] == "loss"


def test_a_raising_function_is_one_clear_ill_formed():
    def raises(params, x, y, h0=None):
        raise KeyError("V")

    verdict = check_backward(raises, cases=CASES[:1])
    assert verdict.status is Status.ILL_FORMED
    assert verdict.summary == (
        "ILL-FORMED: your function raised KeyError on the case "
        "T=1, n_x=5, n_h=4, n_y=3, seed=1, no batch"
    )
    assert "Traceback" not in code.format_verdict(verdict)


# ---------------------------------------------------------------- 3. tolerances


def _expression(tol):
    m = model_symbols(T=1, n_x=2, n_h=3, n_y=4)
    return check_expression(m.yhat(1) - m.y(1), "c", m, rtol=tol)  # ∇c for T = 1


TOLERANCE_CALLS = {
    "check_backward": lambda tol: check_backward(backward_correct, cases=CASES, rtol=tol),
    "check_block": lambda tol: check_block(
        lambda p, x, y, h0=None: backward_correct(p, x, y, h0)[1]["c"], "c", cases=CASES, rtol=tol
    ),
    "bptt_check": lambda tol: BpttCheck()(backward_correct, cases=CASES, rtol=tol),
    "check_formula": lambda tol: check_formula(r"\sum_t \nabla_{o_t} L", "c", tolerance=tol),
    "check_expression": _expression,
}
_NAME = {"check_formula": "tolerance"}


@pytest.mark.parametrize("route", TOLERANCE_CALLS)
def test_a_float32_tolerance_is_accepted(route):
    verdict = TOLERANCE_CALLS[route](np.float32(1e-3))
    assert verdict.status is Status.CORRECT
    if "rtol" in verdict.extra:  # recorded as a plain float: the JSON report stays a number
        assert type(verdict.extra["rtol"]) is float and math.isclose(
            verdict.extra["rtol"], 1e-3, rel_tol=1e-6
        )


@pytest.mark.parametrize("route", TOLERANCE_CALLS)
@pytest.mark.parametrize(
    ("tolerance", "error", "reason"),
    [
        (1e300, ValueError, "can never fail"),
        (10, ValueError, "can never fail"),
        (1, ValueError, "can never fail"),
        (np.float64(1.0), ValueError, "can never fail"),
        (0, ValueError, "greater than 0"),
        (-1e-6, ValueError, "greater than 0"),
        (float("nan"), ValueError, "finite"),
        (float("inf"), ValueError, "finite"),
        ("1e-3", TypeError, ""),
        (True, TypeError, ""),
        (None, TypeError, ""),
    ],
)
def test_tolerances_that_cannot_work_are_refused(route, tolerance, error, reason):
    name = _NAME.get(route, "rtol")
    with pytest.raises(error, match=rf"{name} must be a real number in \(0, 1\).*{reason}"):
        TOLERANCE_CALLS[route](tolerance)


# ---------------------------------------------------------------- 4. sizes


ABSURD = {
    "T = 10**9": dict(T=10**9, n_x=2, n_h=3, n_y=4),
    "n_h = 10**6": dict(T=2, n_x=2, n_h=10**6, n_y=4),
    "batch = 10**8": dict(T=2, n_x=2, n_h=3, n_y=4, batch=10**8),
    "n_x = 10**12 as a NumPy int": dict(T=2, n_x=np.int64(10**12), n_h=3, n_y=4),
    "everything astronomical": dict(T=10**400, n_x=10**400, n_h=10**400, n_y=10**400),
}


@pytest.mark.parametrize("name", ABSURD)
def test_absurd_sizes_are_refused_before_allocating(name):
    sizes = ABSURD[name]
    message = r"needs about .* above the checker's memory budget of 1 GiB.*use smaller T/sizes"
    with pytest.raises(ValueError, match=message):
        make_case(**sizes)
    case = Case(**sizes, seed=0)
    with pytest.raises(ValueError, match=r"cases: T=.*" + message):
        check_backward(backward_correct, cases=[case])
    with pytest.raises(ValueError, match=message):
        check_block(backward_correct, "W", cases=[case])
    with pytest.raises(ValueError, match=message):
        BpttCheck()(backward_correct, cases=[case])
    with pytest.raises(ValueError, match=message):
        make_case(**sizes, model="cell=lstm")


def test_the_budget_is_a_module_constant_and_the_estimate_is_sane(monkeypatch):
    assert code.MEMORY_BUDGET == 2**30
    case = dict(T=50, n_x=20, n_h=30, n_y=10, batch=40)
    params, x, y, h0 = make_case(**case)
    held = sum(a.nbytes for a in (*params.values(), x, y, h0))
    # the estimate covers at least what make_case returns, and is not wildly above it
    estimate = code.case_bytes(**case)
    assert held <= estimate <= 20 * held
    lstm = code.case_bytes(**case, model="cell=lstm")
    assert lstm > estimate  # four gates, two states
    monkeypatch.setattr(code, "MEMORY_BUDGET", held // 2)
    with pytest.raises(ValueError, match=r"above the checker's memory budget of .* KiB"):
        make_case(**case)
    assert make_case(2, 2, 3, 4)[1].shape == (2, 2)  # small cases still pass


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("T", 0),
        ("T", 2.5),
        ("T", "3"),
        ("n_x", 0),
        ("n_h", -3),
        ("n_y", True),
        ("n_h", 3.0),
        ("batch", 0),
        ("batch", 2.0),
        ("batch", True),
        ("seed", -1),
        ("seed", 1.5),
    ],
)
def test_case_fields_must_be_positive_integers(field, value):
    sizes = dict(T=2, n_x=2, n_h=3, n_y=4, seed=0, batch=None) | {field: value}
    with pytest.raises(ValueError, match=rf"cases: .*{field} must be .*integer.*got {value!r}"):
        check_backward(backward_correct, cases=[Case(**sizes)])
    with pytest.raises(ValueError, match=rf"{field} must be .*integer.*got {value!r}"):
        make_case(**sizes)


# ---------------------------------------------------------------- 5. the reference is the checker's own


def _garbage(*args, **kwargs):
    _, grads = REAL_LOSS_AND_GRADS(*args, **kwargs)
    return 123.0, {name: np.full(np.shape(value), 7.0) for name, value in grads.items()}


def _real(model=None, negate=None):
    """rnn_num's own backward pass (captured before the patch): correct; with `negate` one
    block's sign flipped: wrong."""

    def backward(params, x, y, h0=None, **states):
        loss, grads = REAL_LOSS_AND_GRADS(params, x, y, h0=h0, model=model, **states)
        if negate is not None:
            grads = {**grads, negate: -grads[negate]}
        return loss, grads

    return backward


PATCHES = ("rnn_num.loss_and_grads", "rnn_num._model.loss_and_grads", "rnn_num.backward")
LSTM = "cell=lstm,biases=torch"


@pytest.mark.parametrize("target", PATCHES)
def test_patching_rnn_num_does_not_change_the_checkers_truth(target):
    with mock.patch(target, _garbage):
        assert check_backward(backward_correct, cases=CASES).status is Status.CORRECT
        verdict = check_backward(BUGGY["h_t_in_grad_W"], cases=CASES)
        assert verdict.status is Status.WRONG and verdict.summary.startswith("WRONG: ∇W differs")
        assert check_backward(_real(), cases=CASES).status is Status.CORRECT
        verdict = check_backward(_real(negate="V"), cases=CASES)
        assert verdict.status is Status.WRONG and verdict.summary.startswith("WRONG: ∇V differs")

        def grad_c(params, x, y, h0=None):
            return _real()(params, x, y, h0)[1]["c"]

        assert check_block(grad_c, "c", cases=CASES).status is Status.CORRECT
        assert check_backward(_real(LSTM), model=LSTM, cases=CASES).status is Status.CORRECT
        verdict = check_backward(_real(LSTM, negate="W_f"), model=LSTM, cases=CASES)
        assert verdict.status is Status.WRONG and verdict.summary.startswith("WRONG: ∇W_f differs")


def test_the_reference_survives_a_patch_made_before_the_checker_is_used():
    with mock.patch("rnn_num.loss_and_grads", _garbage):
        loss, grads = code._reference(CASES[0], code._resolve())
    true_loss, true = REAL_LOSS_AND_GRADS(*make_case(1, 5, 4, 3, seed=1))
    assert loss == true_loss
    np.testing.assert_array_equal(grads["W"], true["W"])


@pytest.mark.parametrize("target", ["rnn_num.loss_and_grads", "rnn_num._model.loss_and_grads"])
def test_patching_rnn_num_does_not_change_the_formula_routes_truth(target):
    from rnn_check import _formula, check_formula

    _formula._context.cache_clear()  # so the truth is computed under the patch
    try:
        with mock.patch(target, _garbage):
            right = check_formula(r"\frac{\partial L}{\partial c} = \sum_t (\hat y_t - y_t)")
            wrong = check_formula(r"\frac{\partial L}{\partial c} = \sum_t (y_t - \hat y_t)")
    finally:
        _formula._context.cache_clear()  # no context computed under the patch is kept
    assert right.status is Status.CORRECT, right.summary
    assert wrong.status is Status.WRONG, wrong.summary


# --------------------------------------------------------------------------- a crashing function


def _helper_that_fails(params):
    return params["not-a-block"]


def test_a_signature_that_cannot_take_the_call_is_named_with_the_fix():
    def backward(params, x, y):  # no h0
        raise AssertionError("never called with these arguments")

    verdict = check_backward(backward, cases=CASES)
    assert verdict.status is Status.ILL_FORMED
    assert verdict.summary == (
        "ILL-FORMED: your function's signature does not fit the checker's call"
    )
    assert "backward(params, x, y) cannot take the call fn(params, x, y, h0=h0)" in verdict.detail
    assert "lambda params, x, y, h0=None: backward(params, x, y)" in verdict.detail


def test_a_crash_shows_the_users_own_frames_not_the_checkers():
    def backward(params, x, y, h0=None):
        return _helper_that_fails(params)

    verdict = check_backward(backward, cases=CASES)
    assert verdict.status is Status.ILL_FORMED and "raised KeyError" in verdict.summary
    frames = verdict.detail.split("in your code:\n", 1)[1].splitlines()[:2]
    assert "in backward: return _helper_that_fails(params)" in frames[0]
    assert 'in _helper_that_fails: return params["not-a-block"]' in frames[1]
    assert "rnn_check" not in verdict.detail.split("It was called")[0]
