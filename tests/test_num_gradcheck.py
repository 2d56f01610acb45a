"""The gradient checker finds wrong gradients, says where, and passes right ones."""

from __future__ import annotations

import numpy as np
import pytest

import rnn_num


@pytest.fixture
def problem():
    rng = np.random.default_rng(11)
    p = rnn_num.init_params(3, 4, 3, seed=11, scale=0.6)
    p["b"] = rng.normal(size=4) * 0.3
    x = rng.normal(size=(5, 2, 3))
    y = rng.integers(0, 3, size=(5, 2))
    h0 = rng.normal(size=(2, 4)) * 0.5
    return p, x, y, h0


def test_correct_gradients_pass_in_full_and_random_mode(problem):
    p, x, y, h0 = problem
    full = rnn_num.assert_gradients_close(p, x, y, h0)
    assert set(full.blocks) == {"U", "W", "V", "b", "c", "h0"}
    assert full.blocks["W"].n_checked == 16
    assert full.blocks["h0"].n_checked == 8
    assert full.max_rel_error < 1e-7
    rand = rnn_num.gradcheck(p, x, y, h0, mode="random", n_directions=3)
    assert rand.passed() and rand.blocks["U"].n_checked == 3


def test_a_wrong_entry_is_found_with_its_index_and_values(problem):
    p, x, y, h0 = problem
    _, grads = rnn_num.loss_and_grads(p, x, y, h0)
    wrong = {k: g.copy() for k, g in grads.items()}
    wrong["W"][2, 1] += 0.05
    report = rnn_num.gradcheck(p, x, y, h0, grads=wrong)
    assert not report.passed()
    assert report.worst.name == "W"
    assert report.worst.index == (2, 1)
    assert report.worst.analytic == pytest.approx(grads["W"][2, 1] + 0.05, rel=1e-12)
    assert report.worst.numeric == pytest.approx(grads["W"][2, 1], rel=1e-8)
    assert report.blocks["U"].rel_error < 1e-7  # the other blocks stay clean
    text = str(report)
    assert "W" in text and "(2, 1)" in text
    with pytest.raises(AssertionError, match=r"worst rel. error .* \(block W\)"):
        rnn_num.assert_gradients_close(p, x, y, h0, grads=wrong)


def test_random_mode_catches_a_transposed_gradient(problem):
    # A classic mistake: ∇W = Σ h(t-1) δ(t)ᵀ instead of δ(t) h(t-1)ᵀ.
    p, x, y, h0 = problem
    _, grads = rnn_num.loss_and_grads(p, x, y, h0)
    wrong = dict(grads, W=grads["W"].T.copy())
    report = rnn_num.gradcheck(p, x, y, h0, grads=wrong, mode="random", blocks=["W"])
    assert report.blocks["W"].rel_error > 1e-3


def test_second_order_stencil_also_works_with_its_own_step(problem):
    p, x, y, h0 = problem
    report = rnn_num.gradcheck(p, x, y, h0, order=2, eps=1e-6)
    assert report.max_rel_error < 1e-5
    assert report.order == 2


def test_zero_gradient_entries_are_not_flagged():
    # h0 = 0, T = 1: ∂L/∂W ≡ 0 and the differences are exactly 0 too.
    p = rnn_num.init_params(2, 3, 2, seed=1)
    report = rnn_num.gradcheck(p, np.ones((1, 2)), np.array([1]), np.zeros(3))
    assert report.blocks["W"].analytic == 0.0 and report.blocks["W"].numeric == 0.0
    assert report.passed()


def test_nan_in_the_gradient_under_test_fails(problem):
    p, x, y, h0 = problem
    _, grads = rnn_num.loss_and_grads(p, x, y, h0)
    wrong = dict(grads, b=np.full_like(grads["b"], np.nan))
    report = rnn_num.gradcheck(p, x, y, h0, grads=wrong, blocks=["b", "c"])
    assert report.worst.name == "b"
    assert report.max_rel_error == float("inf")
    assert not report.passed()


def test_float32_gradients_for_float64_parameters_get_float32_tolerances(problem):
    p, x, y, h0 = problem
    _, grads = rnn_num.loss_and_grads(p, x, y, h0)
    single = {k: g.astype(np.float32) for k, g in grads.items()}
    report = rnn_num.gradcheck(p, x, y, h0, grads=single, mode="random")
    assert report.dtype == np.float32
    assert report.passed()
    assert report.max_rel_error > 1e-12  # the float32 rounding is really there
