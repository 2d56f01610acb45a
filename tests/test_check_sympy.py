"""Route 2: checking a SymPy expression built from the model's symbols (check_expression)."""

from __future__ import annotations

import pytest
import sympy as sp

import rnn_check
from rnn_check import Status, check_expression
from rnn_sym import model_symbols


def _tanh_prime(m, t):
    return m.h(t).applyfunc(lambda h: 1 - h**2)


def _textbook(m, *, w_state=1):
    """All six gradients by the recursion of NOTATION.md, written out in the symbols."""
    T = m.T
    do = {t: m.yhat(t) - m.y(t) for t in range(1, T + 1)}
    dh = {T: m.V.T * do[T]}
    for t in range(T - 1, 0, -1):
        dh[t] = m.W.T * _tanh_prime(m, t + 1).multiply_elementwise(dh[t + 1]) + m.V.T * do[t]
    da = {t: _tanh_prime(m, t).multiply_elementwise(dh[t]) for t in range(1, T + 1)}
    steps = range(1, T + 1)
    return {
        "U": sum((da[t] * m.x(t).T for t in steps), sp.zeros(m.n_h, m.n_x)),
        "W": sum((da[t] * m.h(t - w_state).T for t in steps), sp.zeros(m.n_h, m.n_h)),
        "V": sum((do[t] * m.h(t).T for t in steps), sp.zeros(m.n_y, m.n_h)),
        "b": sum((da[t] for t in steps), sp.zeros(m.n_h, 1)),
        "c": sum((do[t] for t in steps), sp.zeros(m.n_y, 1)),
        "h0": m.W.T * da[1],
    }


@pytest.fixture(scope="module")
def model():
    return model_symbols(T=3, n_x=2, n_h=3, n_y=4)


@pytest.mark.parametrize("block", ["U", "W", "V", "b", "c", "h0"])
def test_textbook_expressions_are_correct(model, block):
    verdict = check_expression(_textbook(model)[block], block, model)
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert verdict.errors[0].max_rel_error < 1e-10


def test_written_with_pre_activations_is_correct_too(model):
    # tanh'(a_t) = 1 − tanh(a_t)², in terms of a_t rather than h_t: another valid way to write it
    m = model_symbols(T=1, n_x=2, n_h=3, n_y=4)
    deriv = m.a(1).applyfunc(lambda a: 1 - sp.tanh(a) ** 2)
    expr = deriv.multiply_elementwise(m.V.T * (m.yhat(1) - m.y(1))) * m.h(0).T
    assert check_expression(expr, "W", m).status is Status.CORRECT


def test_h_t_for_h_t_minus_1_is_wrong_with_diagnosis(model):
    verdict = check_expression(_textbook(model, w_state=0)["W"], "W", model)
    assert verdict.status is Status.WRONG
    assert verdict.diagnosis == ("h_t used where h_{t−1} belongs in ∇W (explains ∇W)",)
    cx = verdict.counterexample
    assert (cx.T, cx.n_x, cx.n_h, cx.n_y, cx.batch) == (3, 2, 3, 4, None)


def test_sign_flip_is_diagnosed(model):
    verdict = check_expression(-_textbook(model)["b"], "b", model)
    assert verdict.status is Status.WRONG
    assert any("sign flipped" in line for line in verdict.diagnosis)


def test_concrete_targets_are_used(model):
    m = model_symbols(T=2, n_x=2, n_h=3, n_y=4, targets=(3, 1))
    assert check_expression(_textbook(m)["V"], "V", m).status is Status.CORRECT
    # the same formula with the other class at step 1 is a different number
    other = model_symbols(T=2, n_x=2, n_h=3, n_y=4, targets=(0, 1))
    expr = _textbook(other)["c"]
    assert check_expression(expr, "c", m).status is Status.WRONG


def test_transposed_answer_is_ill_formed_with_both_shapes(model):
    verdict = check_expression(_textbook(model)["U"].T, "U", model)
    assert verdict.status is Status.ILL_FORMED and verdict.exit_code == 2
    assert "2×3" in verdict.summary and "3×2" in verdict.summary
    assert "transpose" in verdict.detail


def test_row_vector_for_a_bias_is_ill_formed(model):
    verdict = check_expression(_textbook(model)["c"].T, "c", model)
    assert verdict.status is Status.ILL_FORMED and "4×1" in verdict.summary


def test_unknown_symbol_lists_known_ones_and_suggests_nearest(model):
    stray = sp.Symbol("h_{1,5}", real=True)
    verdict = check_expression(_textbook(model)["b"] + sp.Matrix([stray, 0, 0]), "b", model)
    assert verdict.status is Status.ILL_FORMED
    assert "h_{1,5}" in verdict.summary
    assert "did you mean h_{1," in verdict.detail
    assert "W_{11}" in verdict.detail and "\\hat{y}_{1,1}" in verdict.detail


def test_same_name_without_assumptions_is_our_symbol(model):
    # a user who writes sp.Symbol("b_{1}") means our b_1, even without real=True
    m = model_symbols(T=1, n_x=2, n_h=3, n_y=4)
    plain = {s: sp.Symbol(s.name) for s in m.c.free_symbols | m.V.free_symbols}
    expr = _textbook(m)["V"].xreplace(plain)
    assert check_expression(expr, "V", m).status is Status.CORRECT


def test_unknown_function_is_ill_formed(model):
    f = sp.Function("f")
    expr = _textbook(model)["c"].applyfunc(f)
    verdict = check_expression(expr, "c", model)
    assert verdict.status is Status.ILL_FORMED and "unknown function f" in verdict.summary


def test_unevaluated_derivative_is_ill_formed(model):
    h = model.h(1)[0]
    expr = sp.Matrix([sp.Derivative(h**3, h, evaluate=False)] * 4)
    verdict = check_expression(expr, "c", model)
    assert verdict.status is Status.ILL_FORMED
    assert "unevaluated Derivative" in verdict.summary and ".doit()" in verdict.detail


def test_entry_that_is_not_a_number_is_ill_formed(model):
    expr = sp.Matrix([sp.I * model.h(1)[0]] * 4)
    verdict = check_expression(expr, "c", model)
    assert verdict.status is Status.ILL_FORMED
    assert "entry [0, 0] evaluates to" in verdict.detail


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("1 - h^2", "b"), TypeError, "text is never parsed"),
        ((sp.zeros(3, 1), "B"), ValueError, "did you mean 'b'"),
        ((sp.zeros(3, 1), 3), TypeError, "wrt must be"),
        (([[1, 2]], "b"), TypeError, "expr must be a SymPy Matrix"),
    ],
)
def test_bad_arguments(model, args, error, message):
    with pytest.raises(error, match=message):
        check_expression(*args, model)


def test_bad_config():
    with pytest.raises(TypeError, match="model_symbols"):
        check_expression(sp.zeros(3, 1), "b", {"T": 2})


def test_matrix_symbol_is_refused(model):
    with pytest.raises(TypeError, match="explicit"):
        check_expression(sp.MatrixSymbol("G", 3, 3), "W", model)
