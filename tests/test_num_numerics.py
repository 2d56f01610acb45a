"""Numerical behaviour: stability for huge logits, float32, conventions of the heads."""

from __future__ import annotations

import numpy as np
import pytest

import rnn_num


def test_logits_of_1e4_give_finite_loss_and_gradients():
    p = rnn_num.init_params(2, 3, 3, seed=0)
    p["c"] = np.array([1e4, -1e4, 0.0])
    x = np.random.default_rng(0).normal(size=(4, 2))
    y = np.array([1, 2, 0, 1])
    loss, grads = rnn_num.loss_and_grads(p, x, y)
    assert np.isfinite(loss)
    # Each wrong step costs about o_0 - o_y: 2e4 for class 1, 1e4 for class 2.
    assert loss == pytest.approx(2e4 + 1e4 + 2e4, rel=1e-3)
    for g in grads.values():
        assert np.all(np.isfinite(g))
    np.testing.assert_allclose(grads["c"], [3.0, -2.0, -1.0], atol=1e-12)  # Σ_t (ŷ - e_y)


def test_softmax_head_probabilities_sum_to_one_and_mse_head_is_linear():
    p = rnn_num.init_params(3, 4, 5, seed=1)
    x = np.random.default_rng(1).normal(size=(6, 2, 3))
    soft = rnn_num.forward(p, x)
    np.testing.assert_allclose(soft.y_hat.sum(axis=-1), 1.0, rtol=1e-14)
    lin = rnn_num.forward(p, x, head="mse")
    np.testing.assert_array_equal(lin.y_hat, lin.o)
    np.testing.assert_array_equal(lin.o, soft.o)


def test_mse_uses_the_half_convention():
    p = rnn_num.init_params(2, 3, 2, seed=2)
    x = np.random.default_rng(2).normal(size=(3, 2))
    y = np.random.default_rng(3).normal(size=(3, 2))
    res = rnn_num.backward(p, x, y, head="mse")
    o = res.forward.o
    assert res.loss == pytest.approx(0.5 * np.sum((o - y) ** 2), rel=1e-14)
    np.testing.assert_allclose(res.d_o, o - y, rtol=1e-14)


def test_many_to_one_only_the_last_step_counts():
    p = rnn_num.init_params(2, 3, 2, seed=3)
    x = np.random.default_rng(4).normal(size=(5, 2))
    res = rnn_num.backward(p, x, 1, many_to_one=True)
    assert res.loss == pytest.approx(-np.log(res.forward.y_hat[-1, 1]), rel=1e-13)
    assert np.all(res.d_o[:-1] == 0)
    assert np.any(res.d_o[-1] != 0)
    # The first steps still get gradient through the recurrence.
    assert np.abs(res.d_h[1]).max() > 0


def test_float32_in_float32_out_and_close_to_float64():
    p64 = rnn_num.init_params(3, 5, 4, seed=5)
    p32 = rnn_num.init_params(3, 5, 4, seed=5, dtype=np.float32)
    x = np.random.default_rng(5).normal(size=(7, 3, 3))
    y = np.random.default_rng(6).integers(0, 4, size=(7, 3))
    loss32, g32 = rnn_num.loss_and_grads(p32, x.astype(np.float32), y)
    loss64, g64 = rnn_num.loss_and_grads(p64, x, y)
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for k in g64:
        assert g32[k].dtype == np.float32, k
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5)
    assert rnn_num.forward(p32, x.astype(np.float32)).h.dtype == np.float32


def test_mixed_precision_computes_in_float64():
    p32 = rnn_num.init_params(2, 3, 2, dtype=np.float32)
    res = rnn_num.forward(p32, np.zeros((2, 2)))  # float64 x
    assert res.h.dtype == np.float64


def test_float32_gradients_pass_gradcheck_with_the_documented_tolerance():
    p = rnn_num.init_params(3, 4, 3, seed=7, dtype=np.float32)
    rng = np.random.default_rng(7)
    p["b"] = rng.normal(size=4).astype(np.float32)
    x = rng.normal(size=(5, 2, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=(5, 2))
    report = rnn_num.assert_gradients_close(p, x, y, np.float32(0.3) * np.ones(4, np.float32))
    assert report.dtype == np.float32
    assert report.max_rel_error <= rnn_num.DEFAULT_RTOL[np.dtype(np.float32)]


def test_integer_inputs_are_accepted_as_float64():
    p = rnn_num.init_params(2, 3, 2)
    res = rnn_num.forward(p, np.array([[0, 1], [1, 0]]))
    assert res.h.dtype == np.float64
