"""rnn_num's BPTT gradients against central finite differences of an independent loss.

The oracle `_reference_loss` below is a plain per-sequence, per-step loop written here from
NOTATION.md; it shares no code with rnn_num. Its finite differences are compared with
`rnn_num.backward` for T = 1..6, with and without a batch, every activation and head,
many-to-one, integer and one-hot targets, h0 zero and random.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import rnn_num

N_X, N_H, N_Y, B = 2, 3, 2, 2
RTOL = 1e-7


def _act(name, a):
    if name == "tanh":
        return np.tanh(a)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    return np.where(a > 0, a, 0.0)


def _reference_loss(p, x, y, h0, activation, head, many_to_one, h0_shared):
    """Loop over sequences and steps; x is (T, B, n_x) here, h0 (B, n_h) or (n_h,)."""
    T, batch, _ = x.shape
    total = 0.0
    for s in range(batch):
        h = h0 if h0_shared else h0[s]
        for t in range(T):
            h = _act(activation, p["b"] + p["W"] @ h + p["U"] @ x[t, s])
            o = p["c"] + p["V"] @ h
            if many_to_one and t < T - 1:
                continue
            target = y[s] if many_to_one else y[t, s]
            if head == "mse":
                total += 0.5 * np.sum((o - target) ** 2)
            else:
                log_z = np.log(np.sum(np.exp(o - o.max()))) + o.max()
                if np.ndim(target) == 0:
                    total += log_z - o[target]
                else:
                    total += -np.sum(target * (o - log_z))
    return total


def _finite_differences(f, point, eps=1e-3):
    """Fourth-order central differences of f at every entry of every array in `point`."""
    grads = {}
    for name, arr in point.items():
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            vals = []
            for k in (2, 1, -1, -2):
                bumped = {n: a.copy() for n, a in point.items()}
                bumped[name][idx] += k * eps
                vals.append(f(bumped))
            g[idx] = (8 * (vals[1] - vals[2]) - (vals[0] - vals[3])) / (12 * eps)
        grads[name] = g
    return grads


def _rel_error(a, n):
    return np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-12))


def _problem(T, batched, activation, head, many_to_one, h0_kind, onehot, seed):
    """Random parameters (nonzero biases) and data; for ReLU, resampled until every
    pre-activation is at least 0.05 away from the kink and none is so large that the
    softmax saturates (a loss of 1e-9 leaves nothing for finite differences to measure)."""
    for attempt in range(200):
        rng = np.random.default_rng(1000 * seed + attempt)
        p = rnn_num.init_params(N_X, N_H, N_Y, seed=seed + 7 * attempt, scale=0.8)
        p["b"] = rng.normal(size=N_H) * 0.5
        p["c"] = rng.normal(size=N_Y) * 0.5
        bshape = (B,) if batched else ()
        x = rng.normal(size=(T, *bshape, N_X))
        h0 = (
            None
            if h0_kind == "none"
            else (
                np.zeros((*bshape, N_H)) if h0_kind == "zero" else rng.normal(size=(*bshape, N_H))
            )
        )
        lead = bshape if many_to_one else (T, *bshape)
        if head == "mse":
            y = rng.normal(size=(*lead, N_Y))
        else:
            y = rng.integers(0, N_Y, size=lead)
            if onehot == "weights":  # not summing to 1: ∇_o L = ŷ Σ_i y_i - y
                y = rng.uniform(0.1, 1.0, size=(*lead, N_Y))
            elif onehot:
                y = np.eye(N_Y)[y]
        if activation != "relu":
            return p, x, y, h0
        a = rnn_num.forward(p, x, h0, activation="relu").a
        if 0.05 < np.min(np.abs(a)) and np.max(np.abs(a)) < 4:
            return p, x, y, h0
    raise AssertionError("could not sample a ReLU problem away from the kinks")


def _check(T, batched, activation, head, many_to_one, h0_kind, onehot=False, seed=0):
    p, x, y, h0 = _problem(T, batched, activation, head, many_to_one, h0_kind, onehot, seed)
    res = rnn_num.backward(p, x, y, h0, activation=activation, head=head, many_to_one=many_to_one)
    x3 = x if batched else x[:, None, :]
    y3 = y if batched else (np.asarray(y)[None] if many_to_one else np.asarray(y)[:, None])
    h0_point = np.zeros((B, N_H) if batched else (N_H,)) if h0 is None else np.array(h0, float)
    h0_shared = h0_point.ndim == 1

    def f(pt):
        return _reference_loss(pt, x3, y3, pt["h0"], activation, head, many_to_one, h0_shared)

    point = {k: np.array(p[k], float) for k in ("U", "W", "V", "b", "c")}
    point["h0"] = h0_point
    assert res.loss == pytest.approx(f(point), rel=1e-12, abs=1e-12)
    numeric = _finite_differences(f, point)
    for name in ("U", "W", "V", "b", "c", "h0"):
        assert res.grads[name].shape == numeric[name].shape, name
        err = _rel_error(res.grads[name], numeric[name])
        assert err < RTOL, f"{name}: rel. error {err:.2e}"
    return res


CASES = list(
    itertools.product(range(1, 7), (False, True), ("tanh", "sigmoid", "relu"), ("zero", "random"))
)


@pytest.mark.parametrize(("T", "batched", "activation", "h0_kind"), CASES)
def test_softmax_many_to_many_matches_finite_differences(T, batched, activation, h0_kind):
    _check(T, batched, activation, "softmax", False, h0_kind, seed=T)


@pytest.mark.parametrize(("T", "batched", "activation", "h0_kind"), CASES)
def test_mse_many_to_many_matches_finite_differences(T, batched, activation, h0_kind):
    _check(T, batched, activation, "mse", False, h0_kind, seed=T + 10)


@pytest.mark.parametrize("T", range(1, 7))
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("head", ["softmax", "mse"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_many_to_one_matches_finite_differences(T, batched, head, activation):
    _check(T, batched, activation, head, True, "random", seed=T + 20)


@pytest.mark.parametrize("many_to_one", [False, True])
@pytest.mark.parametrize("batched", [False, True])
def test_one_hot_targets_match_finite_differences(many_to_one, batched):
    _check(4, batched, "tanh", "softmax", many_to_one, "random", onehot=True, seed=3)


@pytest.mark.parametrize("many_to_one", [False, True])
def test_target_weights_not_summing_to_one_match_finite_differences(many_to_one):
    res = _check(3, True, "tanh", "softmax", many_to_one, "random", onehot="weights", seed=9)
    # The loss does not change when every logit is shifted alike, so Σ_i ∂L/∂o_i = 0; the
    # ŷ - y shortcut would give 1 - Σ_i y_i ≠ 0 for these weights.
    np.testing.assert_allclose(res.d_o.sum(axis=-1), 0.0, atol=1e-14)


@pytest.mark.parametrize("many_to_one", [False, True])
@pytest.mark.parametrize("batched", [False, True])
def test_one_hot_and_integer_targets_agree(many_to_one, batched):
    p, x, y, h0 = _problem(5, batched, "tanh", "softmax", many_to_one, "random", False, 4)
    a = rnn_num.backward(p, x, y, h0, many_to_one=many_to_one)
    b = rnn_num.backward(p, x, np.eye(N_Y)[y], h0, many_to_one=many_to_one)
    assert a.loss == pytest.approx(b.loss, rel=1e-14)
    for k in a.grads:
        np.testing.assert_allclose(a.grads[k], b.grads[k], rtol=1e-13, atol=1e-15)


def test_default_h0_gets_a_gradient_of_its_shape():
    p, x, y, _ = _problem(4, True, "tanh", "softmax", False, "none", False, 5)
    res = _check(4, True, "tanh", "softmax", False, "none", seed=5)
    assert res.grads["h0"].shape == (B, N_H)
    assert np.abs(res.grads["h0"]).max() > 0
    unbatched = rnn_num.backward(p, x[:, 0], y[:, 0])
    assert unbatched.grads["h0"].shape == (N_H,)


def test_shared_h0_in_a_batch_gets_the_summed_gradient():
    p, x, y, _ = _problem(3, True, "tanh", "softmax", False, "none", False, 6)
    h0 = np.random.default_rng(0).normal(size=N_H)
    shared = rnn_num.backward(p, x, y, h0)
    per_seq = rnn_num.backward(p, x, y, np.tile(h0, (B, 1)))
    assert shared.grads["h0"].shape == (N_H,)
    np.testing.assert_allclose(shared.grads["h0"], per_seq.grads["h0"].sum(axis=0), rtol=1e-13)


def test_w_gradient_vanishes_exactly_for_zero_h0_and_one_step():
    # ∂L/∂W = Σ_t δ(t) h(t-1)ᵀ with h(0) = 0 and T = 1: identically zero (so the other
    # tests never rely on this point for W; they all have T > 1 or random h0 as well).
    p, x, y, h0 = _problem(1, False, "tanh", "softmax", False, "zero", False, 8)
    res = rnn_num.backward(p, x, y, h0)
    assert np.all(res.grads["W"] == 0)
    assert np.abs(res.grads["U"]).max() > 0


@pytest.mark.parametrize(
    ("activation", "head", "many_to_one", "onehot"),
    [
        *itertools.product(("tanh", "sigmoid", "relu"), ("softmax", "mse"), (False, True), [False]),
        ("tanh", "softmax", False, True),
        ("tanh", "softmax", True, "weights"),
    ],
)
def test_lean_loss_and_grads_matches_backward(activation, head, many_to_one, onehot):
    """loss_and_grads and compute_loss overwrite intermediates in place (backward, checked
    against finite differences above, does not): same numbers, and the grads of one call
    are not changed by the next call of the same shapes."""
    first = _problem(4, True, activation, head, many_to_one, "random", onehot, seed=3)
    second = _problem(4, True, activation, head, many_to_one, "random", onehot, seed=4)
    kw = {"activation": activation, "head": head, "many_to_one": many_to_one}
    expected = [rnn_num.backward(*prob, **kw) for prob in (first, second)]
    results = [rnn_num.loss_and_grads(*prob, **kw) for prob in (first, second)]
    for prob, exp, (loss, grads) in zip((first, second), expected, results, strict=True):
        assert loss == pytest.approx(exp.loss, rel=1e-13)
        assert rnn_num.compute_loss(*prob, **kw) == pytest.approx(exp.loss, rel=1e-13)
        for name, g in exp.grads.items():
            np.testing.assert_allclose(grads[name], g, rtol=1e-12, atol=1e-14, err_msg=name)
