"""Lambdified symbolic gradients against rnn_num and against finite differences (independent)."""

import numpy as np
import pytest
import sympy as sp

import rnn_num
from derivations._bptt_numeric import fd_gradients, plain_loss, random_point
from derivations._numeric import FD_TOLERANCE, RNN_NUM_TOLERANCE, relative_error
from rnn_sym import NumericBptt, NumericInputError, lambdify_matrix, model_symbols, reverse_mode


@pytest.fixture(scope="module")
def compiled():
    out = {}
    for mto in (False, True):
        rm = reverse_mode(model_symbols(4, 2, 3, 2), many_to_one=mto)
        out[mto] = {route: NumericBptt(rm, route) for route in ("autodiff", "textbook")}
    return out


@pytest.mark.parametrize("route", ["autodiff", "textbook"])
@pytest.mark.parametrize("many_to_one", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lambdified_matches_rnn_num_and_finite_differences(compiled, route, many_to_one, seed):
    params, x, y, h0 = random_point(seed, 4, 2, 3, 2, many_to_one=many_to_one)
    assert np.all(np.abs(h0) > 0.1)
    loss, grads = compiled[many_to_one][route](params, x, y, h0)
    ref_loss, ref = rnn_num.loss_and_grads(params, x, y, h0, many_to_one=many_to_one)
    fd = fd_gradients(params, x, y, h0, many_to_one=many_to_one)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert loss == pytest.approx(plain_loss(params, x, y, h0, many_to_one=many_to_one), rel=1e-12)
    for name in ("U", "W", "V", "b", "c", "h0"):
        assert grads[name].shape == ref[name].shape
        assert relative_error(grads[name], ref[name]) < RNN_NUM_TOLERANCE, name
        assert relative_error(grads[name], fd[name]) < FD_TOLERANCE, name


def test_comparison_detects_a_wrong_gradient(compiled):
    """The cross-check can fail: a perturbed gradient is far outside the tolerance."""
    params, x, y, h0 = random_point(5, 4, 2, 3, 2)
    _, grads = compiled[False]["autodiff"](params, x, y, h0)
    fd = fd_gradients(params, x, y, h0)
    wrong = grads["W"].T  # W instead of Wᵀ somewhere: the transpose is a different matrix
    assert relative_error(wrong, fd["W"]) > 1e-3


def test_evaluate_lambdifies_any_expression_we_built(compiled):
    numeric = compiled[False]["textbook"]
    m = numeric.model
    params, x, y, h0 = random_point(3, 4, 2, 3, 2)
    h1 = numeric.evaluate(m.h(1))(params, x, y, h0).reshape(-1)
    expected = np.tanh(params["b"] + params["W"] @ h0 + params["U"] @ x[0])
    assert np.allclose(h1, expected, rtol=1e-14)


def test_lambdify_matrix_uses_cse_and_rejects_unknown_symbols():
    a, b = sp.symbols("a b")
    f = lambdify_matrix(sp.Matrix([[sp.sin(a + b) ** 2, sp.sin(a + b)]]), [a, b])
    assert np.allclose(f(0.3, 0.4), [[np.sin(0.7) ** 2, np.sin(0.7)]])
    with pytest.raises(NumericInputError, match="not arguments"):
        lambdify_matrix(a + b, [a])


def test_bad_numeric_input_gets_clear_errors(compiled):
    numeric = compiled[False]["autodiff"]
    params, x, y, h0 = random_point(0, 4, 2, 3, 2)
    with pytest.raises(NumericInputError, match="unknown parameter name"):
        numeric(params | {"Q": np.zeros(2)}, x, y, h0)
    with pytest.raises(NumericInputError, match="'W' has shape"):
        numeric(params | {"W": np.zeros((2, 2))}, x, y, h0)
    with pytest.raises(NumericInputError, match="x has shape"):
        numeric(params, x[:2], y, h0)
    with pytest.raises(NumericInputError, match="class indices"):
        numeric(params, x, y + 5, h0)
    with pytest.raises(NumericInputError, match="integer class indices"):
        numeric(params, x, y.astype(float), h0)
    with pytest.raises(NumericInputError, match="route"):
        NumericBptt(numeric.rm, "magic")


def test_h0_defaults_to_zero(compiled):
    params, x, y, _ = random_point(0, 4, 2, 3, 2)
    loss, _ = compiled[False]["autodiff"](params, x, y)
    assert loss == pytest.approx(rnn_num.loss_and_grads(params, x, y)[0], rel=1e-12)
