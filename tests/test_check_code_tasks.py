"""The code route for the other tasks: the MSE head and many-to-one, with and without a batch.

The backward passes here are written independently of rnn_num (the checker's reference):
one sequence at a time, column vectors, a plain loop over time, as in NOTATION.md.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

import rnn_num
from rnn_check import Status, check_backward, check_block, format_verdict, make_case

TASKS = [("softmax", True), ("mse", False), ("mse", True)]


def _sequence(params, x, y, h0, head, many_to_one, mse_factor, bptt):
    U, W, V, b, c = (np.asarray(params[k], dtype=float) for k in ("U", "W", "V", "b", "c"))
    T, n_h = x.shape[0], W.shape[0]
    hs = [h0.reshape(n_h, 1)]
    d_os = []
    loss = 0.0
    for t in range(T):
        hs.append(np.tanh(b[:, None] + W @ hs[-1] + U @ x[t][:, None]))
        o = c[:, None] + V @ hs[-1]
        has_target = t == T - 1 or not many_to_one
        if not has_target:
            d_os.append(np.zeros_like(o))
            continue
        target = y if many_to_one else y[t]
        if head == "mse":
            diff = o - np.asarray(target, dtype=float).reshape(-1, 1)
            loss += mse_factor * float(np.sum(diff**2))
            d_os.append(2 * mse_factor * diff)
        else:
            p = np.exp(o - o.max())
            p /= p.sum()
            loss -= float(np.log(p[int(target), 0]))
            p[int(target), 0] -= 1.0
            d_os.append(p)
    g = {k: np.zeros_like(v) for k, v in (("U", U), ("W", W), ("V", V))}
    g["b"], g["c"] = np.zeros((n_h, 1)), np.zeros((V.shape[0], 1))
    carry = np.zeros((n_h, 1))  # Wᵀ ∇a(t+1)
    for t in range(T - 1, -1, -1):
        d_h = V.T @ d_os[t] + (carry if bptt else 0.0)
        d_a = (1.0 - hs[t + 1] ** 2) * d_h
        g["V"] += d_os[t] @ hs[t + 1].T
        g["c"] += d_os[t]
        g["b"] += d_a
        g["U"] += d_a @ x[t][None, :]
        g["W"] += d_a @ hs[t].T
        carry = W.T @ d_a
    g["h0"] = carry
    return loss, {k: v.reshape(params[k].shape) if k in params else v.ravel() for k, v in g.items()}


def plain_backward(
    params, x, y, h0=None, *, head, many_to_one, mse_factor=0.5, bptt=True
) -> tuple[float, dict[str, np.ndarray]]:
    """(loss, grads) for x of shape (T, n_x) or (T, B, n_x); h0 (n_h,) shared by the batch."""
    n_h = params["W"].shape[0]
    h0 = np.zeros(n_h) if h0 is None else np.asarray(h0, dtype=float)
    if x.ndim == 2:
        return _sequence(params, x, y, h0, head, many_to_one, mse_factor, bptt)
    total, grads = 0.0, None
    for i in range(x.shape[1]):
        y_i = y[i] if many_to_one else y[:, i]
        loss, g = _sequence(params, x[:, i], y_i, h0, head, many_to_one, mse_factor, bptt)
        total += loss
        grads = g if grads is None else {k: grads[k] + g[k] for k in g}
    return total, grads


@pytest.mark.parametrize(("head", "many_to_one"), TASKS)
def test_a_correct_backward_pass_for_the_task_is_correct(head, many_to_one):
    fn = functools.partial(plain_backward, head=head, many_to_one=many_to_one)
    verdict = check_backward(fn, head=head, many_to_one=many_to_one)
    assert verdict.status is Status.CORRECT, format_verdict(verdict)
    assert verdict.extra["head"] == head and verdict.extra["many_to_one"] is many_to_one
    # The same function is wrong for the other task: the tasks are really told apart.
    if head == "mse":
        other = check_backward(fn, head="mse", many_to_one=not many_to_one)
        assert other.status is not Status.CORRECT


def test_mse_without_the_half_is_a_factor_of_two():
    fn = functools.partial(plain_backward, head="mse", many_to_one=False, mse_factor=1.0)
    verdict = check_backward(fn, head="mse")
    assert verdict.status is Status.WRONG
    assert any("constant factor 2" in d for d in verdict.diagnosis), verdict.diagnosis


def test_many_to_one_without_backpropagation_through_time_is_wrong_with_a_counterexample():
    def grad_w(params, x, y, h0=None):
        return plain_backward(params, x, y, h0, head="softmax", many_to_one=True, bptt=False)[1][
            "W"
        ]

    verdict = check_block(grad_w, "W", many_to_one=True)
    assert verdict.status is Status.WRONG
    cx = verdict.counterexample
    assert cx is not None and cx.T >= 2  # with T = 1 there is no time to backpropagate through
    # the model's own table (many-to-one, softmax) names the mistake
    assert verdict.diagnosis == (
        "no gradient flows back in time through h: ∇h_t gets its own step's loss only "
        "(explains ∇W)",
    )
    # The printed recipe rebuilds the very inputs, and rnn_num gives the expected entry.
    text = format_verdict(verdict)
    recipe = re.search(r"inputs: rnn_check\.make_case\((.*)\)", text).group(1)
    assert "many_to_one=True" in recipe and "head=" not in recipe
    params, x, y, h0 = make_case(
        cx.T, cx.n_x, cx.n_h, cx.n_y, seed=cx.seed, batch=cx.batch, many_to_one=True
    )
    assert y.shape == (() if cx.batch is None else (cx.batch,))
    grads = rnn_num.loss_and_grads(params, x, y, h0, many_to_one=True)[1]
    assert grads["W"][cx.index] == pytest.approx(cx.expected, rel=1e-12)


def test_a_flipped_sign_on_the_mse_head_is_the_models_sign_rule_not_a_softmax_one():
    def flipped(params, x, y, h0=None):
        loss, grads = plain_backward(params, x, y, h0, head="mse", many_to_one=True)
        return loss, {k: -g for k, g in grads.items()}

    verdict = check_backward(flipped, head="mse", many_to_one=True)
    assert verdict.status is Status.WRONG
    # The canonical table describes softmax at every step, so its lines must not be offered
    # here; the table of the model (MSE, many-to-one) names the sign of every gradient.
    assert verdict.diagnosis == (
        "sign flipped (ascent instead of descent, or y − ŷ for ŷ − y) "
        "(explains ∇U, ∇W, ∇V, ∇b, ∇c, ∇h0)",
    )


def test_the_targets_the_function_receives_have_the_tasks_shapes():
    seen = []

    def spy(params, x, y, h0=None):
        seen.append((x.shape, np.shape(y), np.asarray(y).dtype.kind))
        return plain_backward(params, x, y, h0, head="mse", many_to_one=True)

    check_backward(spy, head="mse", many_to_one=True)
    for x_shape, y_shape, kind in seen:
        assert y_shape == x_shape[1:-1] + (y_shape[-1],) and kind == "f"


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"head": "bce"}, ValueError, "head must be one of softmax, mse"),
        ({"many_to_one": "yes"}, TypeError, "many_to_one must be True or False"),
    ],
)
def test_an_unknown_task_is_a_clear_error(options, error, words):
    fn = functools.partial(plain_backward, head="softmax", many_to_one=False)
    with pytest.raises(error, match=words):
        check_backward(fn, **options)
    with pytest.raises(error, match=words):
        make_case(2, 3, 4, 5, **options)


def test_fixed_targets_belong_to_the_many_to_many_softmax_task_only():
    with pytest.raises(ValueError, match="targets fixes the T classes"):
        make_case(3, 2, 4, 5, targets=[0, 1, 2], head="mse")
    params, x, y, h0 = make_case(3, 2, 4, 5, targets=[0, 1, 2])
    assert y.tolist() == [0, 1, 2]
