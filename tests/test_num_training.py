"""Training on seed 000's toy tasks, and the optimizers' definitions."""

from __future__ import annotations

import numpy as np
import pytest

import rnn_num


def _train(task, seed, optimizer="adagrad", lr=0.5, steps=1500, **kw):
    x, y = task
    params = rnn_num.init_params(2, 3, 2, seed=seed)
    return rnn_num.train(params, x, y, optimizer=optimizer, lr=lr, steps=steps, **kw)


def test_tasks_are_the_notes_sequences():
    x, y = rnn_num.alternating_task(4)
    np.testing.assert_array_equal(x, [[0, 1], [1, 0], [0, 1], [1, 0]])  # "1" = [0, 1]
    np.testing.assert_array_equal(y, [0, 1, 0, 1])  # fed 1,0,1,0 → predict 0,1,0,1
    x, y = rnn_num.period3_task(4)
    np.testing.assert_array_equal(x.argmax(axis=1), [1, 1, 0, 1])
    np.testing.assert_array_equal(y, [1, 0, 1, 1])  # the notes' example 3
    first, second = rnn_num.first_and_second_one(12)
    np.testing.assert_array_equal(first, [0, 3, 6, 9])
    np.testing.assert_array_equal(second, [1, 4, 7, 10])


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("optimizer,lr", [("adagrad", 0.5), ("sgd", 0.2)])
def test_alternating_sequence_is_learned(seed, optimizer, lr):
    x, y = rnn_num.alternating_task(8)
    result = _train((x, y), seed, optimizer, lr)
    assert result.losses[0] > 4.0  # untrained: about 8 · log 2
    final = rnn_num.compute_loss(result.params, x, y)
    assert final / len(y) < 0.01  # near-zero loss per step
    probs = rnn_num.forward(result.params, x).y_hat
    np.testing.assert_array_equal(probs.argmax(axis=1), y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_period3_is_learned_and_the_hidden_state_tells_first_from_second_one(seed):
    x, y = rnn_num.period3_task(12)
    result = _train((x, y), seed, steps=2000, clip=5.0)
    final = rnn_num.compute_loss(result.params, x, y)
    assert final / len(y) < 0.01
    h = rnn_num.forward(result.params, x).h
    first, second = rnn_num.first_and_second_one(12)
    # Same input (a 1), different next symbol: only h can carry the difference.
    np.testing.assert_array_equal(y[first], 1)
    np.testing.assert_array_equal(y[second], 0)
    # A linear read-out of h separates the two cases with a margin ...
    feats = np.hstack([h[np.r_[first, second]], np.ones((len(first) + len(second), 1))])
    labels = np.r_[np.ones(len(first)), -np.ones(len(second))]
    w = np.linalg.lstsq(feats, labels, rcond=None)[0]
    scores = feats @ w * labels
    assert scores.min() > 0.5
    # ... and the two groups are far apart compared with their spread.
    gap = np.linalg.norm(h[first].mean(axis=0) - h[second].mean(axis=0))
    spread = max(np.ptp(h[first], axis=0).max(), np.ptp(h[second], axis=0).max())
    assert gap > 0.5 and gap > 2 * spread


def test_untrained_period3_model_does_not_predict_the_sequence():
    # Near-zero loss above is a result of training: the untrained model is far from it.
    x, y = rnn_num.period3_task(12)
    params = rnn_num.init_params(2, 3, 2, seed=0)
    assert rnn_num.compute_loss(params, x, y) / len(y) > 0.3


def test_training_shows_progress_on_stderr(capsys):
    _train(rnn_num.alternating_task(4), 0, steps=5, progress=True, log_every=2)
    err = capsys.readouterr().err
    assert "step 1/5" in err and "step 5/5" in err


def test_sgd_is_theta_minus_eta_gradient():
    params = {"W": np.array([1.0, -2.0])}
    grads = {"W": np.array([0.5, 4.0]), "h0": np.array([9.0])}
    new = rnn_num.sgd(params, grads, lr=0.1)
    np.testing.assert_allclose(new["W"], [0.95, -2.4])
    assert set(new) == {"W"}


def test_adagrad_follows_the_notes_definition():
    # Seed 000, A.4.4: θ¹ = θ⁰ − η⁰/σ⁰ g⁰, σ⁰ = √(g⁰²);
    # θ² = θ¹ − η¹/σ¹ g¹, σ¹ = √(½ (g⁰² + g¹²)), η¹ = η/√2.
    eta, g0, g1 = 0.3, np.array([2.0, -0.5]), np.array([1.0, 1.5])
    p0 = {"W": np.array([1.0, 1.0])}
    p1, state = rnn_num.adagrad(p0, {"W": g0}, lr=eta, eps=0.0)
    np.testing.assert_allclose(p1["W"], p0["W"] - eta / np.sqrt(g0**2) * g0)
    p2, state = rnn_num.adagrad(p1, {"W": g1}, state, lr=eta, eps=0.0)
    sigma1 = np.sqrt(0.5 * (g0**2 + g1**2))
    np.testing.assert_allclose(p2["W"], p1["W"] - (eta / np.sqrt(2)) / sigma1 * g1)
    assert state.step == 2


def test_clip_by_norm_uses_the_global_norm():
    grads = {"W": np.array([3.0, 0.0]), "b": np.array([4.0])}  # ‖g‖ = 5
    clipped = rnn_num.clip_by_norm(grads, 1.0)
    assert rnn_num.global_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped["W"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], [0.8])
    same = rnn_num.clip_by_norm(grads, 10.0)
    np.testing.assert_array_equal(same["W"], grads["W"])
