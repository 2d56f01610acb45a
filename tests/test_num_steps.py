"""The one-step functions (rendered beside the maths) compute what the fast batched
implementation computes: step by step, for every sequence of a batch."""

from __future__ import annotations

import numpy as np
import pytest

import rnn_num


@pytest.fixture
def problem():
    rng = np.random.default_rng(42)
    p = rnn_num.init_params(4, 5, 3, seed=3)
    p["b"] = rng.normal(size=5) * 0.3
    p["c"] = rng.normal(size=3) * 0.3
    x = rng.normal(size=(6, 2, 4))
    y = rng.integers(0, 3, size=(6, 2))
    h0 = rng.normal(size=(2, 5))
    return p, x, y, h0


def test_forward_step_and_output_step_and_softmax_match_forward(problem):
    p, x, _, h0 = problem
    fwd = rnn_num.forward(p, x, h0)
    for s in range(x.shape[1]):
        h = h0[s]
        for t in range(x.shape[0]):
            h = rnn_num.forward_step(h, x[t, s], p["U"], p["W"], p["b"])
            o = rnn_num.output_step(h, p["V"], p["c"])
            np.testing.assert_allclose(fwd.h[t, s], h, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(fwd.a[t, s], np.arctanh(h), rtol=1e-9)
            np.testing.assert_allclose(fwd.o[t, s], o, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(fwd.y_hat[t, s], rnn_num.softmax(o), rtol=1e-13)


def test_loss_is_the_sum_of_cross_entropy_steps(problem):
    p, x, y, h0 = problem
    res = rnn_num.backward(p, x, y, h0)
    total = sum(
        rnn_num.cross_entropy_step(res.forward.o[t, s], y[t, s])
        for t in range(x.shape[0])
        for s in range(x.shape[1])
    )
    assert res.loss == pytest.approx(total, rel=1e-13)


def test_backward_step_and_output_grad_step_reproduce_the_adjoints(problem):
    p, x, y, h0 = problem
    res = rnn_num.backward(p, x, y, h0)
    T, n_y = x.shape[0], p["V"].shape[0]
    for s in range(x.shape[1]):
        h = res.forward.h[:, s]
        d_o = [
            rnn_num.output_grad_step(res.forward.y_hat[t, s], np.eye(n_y)[y[t, s]])
            for t in range(T)
        ]
        np.testing.assert_allclose(res.d_o[:, s], np.array(d_o), rtol=1e-13, atol=1e-15)
        d_h = p["V"].T @ d_o[T - 1]  # ∇_{h(T)} L
        np.testing.assert_allclose(res.d_h[T, s], d_h, rtol=1e-12, atol=1e-15)
        for t in range(T - 1, 0, -1):  # d_h is ∇_{h(t)} L, indexed from t = 0
            d_h = rnn_num.backward_step(d_h, h[t], d_o[t - 1], p["W"], p["V"])
            np.testing.assert_allclose(res.d_h[t, s], d_h, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(
            res.d_a[:, s], (1 - h**2) * res.d_h[1:, s], rtol=1e-13, atol=1e-15
        )
        # ∇_{h(0)} L: the same step with no output at t = 0.
        d_h0 = rnn_num.backward_step(d_h, h[0], np.zeros(n_y), p["W"], p["V"])
        np.testing.assert_allclose(res.d_h[0, s], d_h0, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(res.grads["h0"][s], d_h0, rtol=1e-11, atol=1e-14)


def test_softmax_is_stable_for_huge_logits():
    p = rnn_num.softmax(np.array([1e4, 0.0, -1e4]))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p, [1.0, 0.0, 0.0])
    assert rnn_num.cross_entropy_step(np.array([1e4, 0.0]), 1) == pytest.approx(1e4)
