"""Property-based tests (hypothesis) over random shapes, seeds and options."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnn_num

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, heads=("softmax", "mse"), activations=("tanh", "sigmoid")):
    T = draw(st.integers(1, 6))
    batch = draw(st.sampled_from([None, 1, 3]))
    n_x, n_h, n_y = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    head = draw(st.sampled_from(heads))
    activation = draw(st.sampled_from(activations))
    many_to_one = draw(st.booleans())
    rng = np.random.default_rng(seed)
    p = rnn_num.init_params(n_x, n_h, n_y, seed=seed, scale=0.7)
    p["b"] = rng.normal(size=n_h) * 0.5
    p["c"] = rng.normal(size=n_y) * 0.5
    bshape = () if batch is None else (batch,)
    x = rng.normal(size=(T, *bshape, n_x))
    h0 = rng.normal(size=(*bshape, n_h)) if draw(st.booleans()) else None
    lead = bshape if many_to_one else (T, *bshape)
    y = rng.normal(size=(*lead, n_y)) if head == "mse" else rng.integers(0, n_y, size=lead)
    return {
        "params": p,
        "x": x,
        "y": y,
        "h0": h0,
        "activation": activation,
        "head": head,
        "many_to_one": many_to_one,
    }


@SETTINGS
@given(problems())
def test_gradients_match_finite_differences(problem):
    report = rnn_num.gradcheck(**problem)
    assert report.max_rel_error < 1e-7, str(report)


@SETTINGS
@given(problems())
def test_float32_gradients_pass_with_the_documented_float32_tolerance(problem):
    def f32(a):
        return None if a is None else np.asarray(a).astype(np.float32)

    problem = dict(problem, x=f32(problem["x"]), h0=f32(problem["h0"]))
    problem["params"] = {k: f32(v) for k, v in problem["params"].items()}
    loss, grads = rnn_num.loss_and_grads(**problem)
    assert all(g.dtype == np.float32 for g in grads.values())
    report = rnn_num.gradcheck(**problem, grads=grads)
    assert report.dtype == np.float32
    assert report.passed(), str(report)  # rtol DEFAULT_RTOL[float32] = 1e-3


@SETTINGS
@given(problems())
def test_shapes_of_everything(problem):
    res = rnn_num.backward(**problem)
    x, p = problem["x"], problem["params"]
    lead = x.shape[:-1]
    n_h, n_y = p["W"].shape[0], p["V"].shape[0]
    assert res.forward.h.shape == res.forward.a.shape == res.d_a.shape == (*lead, n_h)
    assert res.forward.o.shape == res.d_o.shape == (*lead, n_y)
    assert res.d_h.shape == (lead[0] + 1, *lead[1:], n_h)
    for k in ("U", "W", "V", "b", "c"):
        assert res.grads[k].shape == p[k].shape
    assert res.grads["h0"].shape == res.forward.h0.shape
    np.testing.assert_array_equal(res.grads["h0"], res.d_h[0])


@SETTINGS
@given(problems(heads=("softmax",)))
def test_batch_is_the_sum_of_its_sequences(problem):
    x, y, h0 = problem["x"], problem["y"], problem["h0"]
    if x.ndim == 2:
        return
    kw = {k: problem[k] for k in ("params", "activation", "head", "many_to_one")}
    whole = rnn_num.loss_and_grads(x=x, y=y, h0=h0, **kw)
    total, summed = 0.0, None
    for s in range(x.shape[1]):
        ys = y[s] if problem["many_to_one"] else y[:, s]
        loss, g = rnn_num.loss_and_grads(x=x[:, s], y=ys, h0=None if h0 is None else h0[s], **kw)
        total += loss
        g = {k: v for k, v in g.items() if k != "h0"}
        summed = g if summed is None else {k: summed[k] + g[k] for k in g}
    assert np.isclose(whole[0], total, rtol=1e-12)
    for k in summed:
        np.testing.assert_allclose(whole[1][k], summed[k], rtol=1e-10, atol=1e-13)


@SETTINGS
@given(st.integers(1, 5), st.integers(0, 10**6), st.floats(0.0, 3.0))
def test_clipping_never_exceeds_the_bound_and_keeps_direction(n, seed, bound):
    rng = np.random.default_rng(seed)
    grads = {"U": rng.normal(size=(n, 2)), "b": rng.normal(size=n)}
    c = bound + 0.1
    clipped = rnn_num.clip_by_norm(grads, c)
    assert rnn_num.global_norm(clipped) <= c * (1 + 1e-12)
    ratio = clipped["U"].ravel()[0] / grads["U"].ravel()[0]
    for k in grads:
        np.testing.assert_allclose(clipped[k], ratio * grads[k], rtol=1e-12)
