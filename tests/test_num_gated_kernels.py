"""The LSTM and GRU kernels (rnn_num/_lstm.py, _gru.py), called directly and through rnn_num.

The oracle is tests/_plain_models.py: a one-sample, one-step plain loop written from the
torch docs' equations, and central differences of it. The kernels are called here through
a small test-side driver (the kernel interface of rnn_num/_cells.py), so their gradients are
checked independently of rnn_num's own driver; then through rnn_num.loss_and_grads for the
options the driver adds (heads, tasks, reductions, initial states, float32).
"""

from __future__ import annotations

import numpy as np
import pytest
from _plain_models import plain_gradients, plain_loss

import rnn_num
from rnn_num import _buffers, _gru, _lstm
from rnn_spec import BIASES, Model, parse_model

KERNELS = {"lstm": _lstm, "gru": _gru}
N_X, N_H, N_Y = 3, 4, 3
RTOL, ATOL = 1e-6, 1e-8  # plain_gradients: central differences with step 1e-6


def _params(model: Model, seed: int):
    rng = np.random.default_rng(seed)
    n_y = N_Y if model.has_output_layer else None
    return {
        b.name: rng.normal(size=b.shape) * (0.7 if b.role != "bias" else 0.5)
        for b in model.blocks(N_X, N_H, n_y)
    }


def _cell_blocks(model: Model, params: dict) -> dict[str, np.ndarray]:
    n_y = N_Y if model.has_output_layer else None
    roles = ("input", "recurrent", "bias")
    return {
        b.name: np.ascontiguousarray(params[b.name])
        for b in model.blocks(N_X, N_H, n_y)
        if b.role in roles
    }


def _init(model: Model, B: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {name: rng.normal(size=(B, N_H)) * 0.5 for name in model.initial_states}


# --- a test-side driver of the kernel interface ---------------------------------------------


def kernel_loss_and_grads(model, params, x, y, init, buffers_level=None):
    """L and its gradients through the kernel alone, for three heads written here:
    given (y = ∂L/∂h_t), softmax-ce with integer targets and mse (½), all summed over t."""
    kern = KERNELS[model.cell]
    T, B, n_x = x.shape
    p = _cell_blocks(model, params)
    buf = None
    if buffers_level is not None:
        buf = _buffers.carve(x.dtype, kern.workspace(T, B, n_x, N_H, model, buffers_level))
    tape = kern.forward(p, x, {k: v.copy() for k, v in init.items()}, model, True, buf)
    H = tape.H
    assert H.shape == (T, B, N_H) and H.flags.c_contiguous
    grads = {}
    if model.head == "given":
        loss = float(np.vdot(y, H))
        d_h = y.copy()
    else:
        V = params["V"]
        O = H @ V.T + (params["c"] if model.output_bias else 0.0)
        if model.head == "softmax-ce":
            m = O.max(axis=-1, keepdims=True)
            log_norm = m + np.log(np.exp(O - m).sum(axis=-1, keepdims=True))
            onehot = np.eye(V.shape[0])[y]
            loss = float(np.sum(onehot * (log_norm - O)))
            d_o = np.exp(O - log_norm) - onehot
        else:  # mse, half
            d_o = O - y
            loss = 0.5 * float(np.vdot(d_o, d_o))
        d_h = d_o @ V
        grads["V"] = np.einsum("tbi,tbj->ij", d_o, H)
        if model.output_bias:
            grads["c"] = d_o.sum(axis=(0, 1))
    cell_grads, init_grads = kern.backward(p, x, tape, d_h, model, buf)
    assert list(cell_grads) == list(p)
    assert set(init_grads) == set(model.initial_states)
    grads.update(cell_grads)
    grads.update(init_grads)
    return loss, grads, tape, d_h


def _check(model, T, B, seed, buffers_level=None):
    rng = np.random.default_rng(seed + 100)
    params = _params(model, seed)
    x = rng.normal(size=(T, B, N_X))
    if model.head == "given":
        y = rng.normal(size=(T, B, N_H))
    elif model.head == "softmax-ce":
        y = rng.integers(0, N_Y, size=(T, B))
    else:
        y = rng.normal(size=(T, B, N_Y))
    init = _init(model, B, rng)
    loss, grads, _, _ = kernel_loss_and_grads(model, params, x, y, init, buffers_level)
    h0, c0 = init["h0"], init.get("c0")
    assert loss == pytest.approx(plain_loss(model, params, x, y, h0, c0), rel=1e-12, abs=1e-12)
    numeric = plain_gradients(model, params, x, y, h0, c0)
    assert set(grads) == set(numeric)
    for name, g in grads.items():
        assert g.shape == numeric[name].shape, name
        np.testing.assert_allclose(g, numeric[name], rtol=RTOL, atol=ATOL, err_msg=name)
    assert max(float(np.abs(g).max()) for g in grads.values()) > 1e-2  # not a flat loss
    return grads


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("biases", [b for b in BIASES if b != "output"])
def test_kernel_with_given_head_matches_the_plain_model(cell, biases):
    _check(Model(cell=cell, biases=biases, head="given", h0="per-sequence"), T=4, B=2, seed=1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("head", ["softmax-ce", "mse"])
@pytest.mark.parametrize("biases", ["torch", "both", "output", "none"])
def test_kernel_under_an_output_layer_matches_the_plain_model(cell, head, biases):
    _check(Model(cell=cell, biases=biases, head=head, h0="per-sequence"), T=3, B=2, seed=2)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("T", [1, 2, 6])
@pytest.mark.parametrize("level", ["grads", "all"])
def test_kernel_on_driver_buffers_matches_the_plain_model(cell, T, level):
    # "grads": the adjoints are written over the gates (the lean path); "all": their own array.
    model = Model(cell=cell, biases="torch", h0="per-sequence")
    _check(model, T=T, B=3, seed=T, buffers_level=level)


def test_gru_b_hn_gradient_is_not_b_in_s():
    # b_hn sits inside r ⊙ (W_n h + b_hn): ∇b_hn = Σ r ⊙ δā_n, ∇b_in = Σ δā_n.
    grads = _check(Model(cell="gru", biases="torch", head="given"), T=3, B=2, seed=6)
    assert not np.allclose(grads["b_hn"], grads["b_in"])
    for gate in "rz":
        np.testing.assert_allclose(grads[f"b_h{gate}"], grads[f"b_i{gate}"], rtol=1e-14)
        assert not np.shares_memory(grads[f"b_h{gate}"], grads[f"b_i{gate}"])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gates_survive_backward_unless_the_lean_path_is_asked_for(cell):
    model = Model(cell=cell, biases="torch", head="given", h0="per-sequence")
    rng = np.random.default_rng(3)
    p = _cell_blocks(model, _params(model, 3))
    x, y = rng.normal(size=(5, 2, N_X)), rng.normal(size=(5, 2, N_H))
    init = _init(model, 2, rng)
    kern = KERNELS[cell]
    before = kern.forward(p, x, init, model, True).states
    for level, survive in (("all", True), ("grads", False)):
        buf = _buffers.carve(x.dtype, kern.workspace(5, 2, N_X, N_H, model, level))
        tape = kern.forward(p, x, init, model, True, buf)
        for name, arr in tape.states.items():
            np.testing.assert_array_equal(arr, before[name], err_msg=name)
        kern.backward(p, x, tape, y.copy(), model, buf)
        gates = {k: v for k, v in tape.states.items() if k != "c"}
        same = all(np.array_equal(gates[k], before[k]) for k in gates)
        assert same == survive, level


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_states_are_the_gates_and_d_h_ends_total(cell):
    model = Model(cell=cell, head="given", h0="per-sequence")
    rng = np.random.default_rng(4)
    params = _params(model, 4)
    x, y = rng.normal(size=(4, 2, N_X)), rng.normal(size=(4, 2, N_H))
    init = _init(model, 2, rng)
    _, _, tape, d_h = kernel_loss_and_grads(model, params, x, y, init)
    st = tape.states
    assert set(st) == ({"c", "i", "f", "g", "o"} if cell == "lstm" else {"r", "z", "n"})
    for name, arr in st.items():
        assert arr.shape == (4, 2, N_H), name
    # The gates recomputed by hand at t = 1.
    x1, h_prev = x[0], init["h0"]

    def pre(q):
        return x1 @ params[f"U_{q}"].T + h_prev @ params[f"W_{q}"].T + params[f"b_{q}"]

    def sig(v):
        return 1 / (1 + np.exp(-v))

    if cell == "lstm":
        np.testing.assert_allclose(st["i"][0], sig(pre("i")), rtol=1e-12)
        np.testing.assert_allclose(st["o"][0], sig(pre("o")), rtol=1e-12)
        np.testing.assert_allclose(st["g"][0], np.tanh(pre("g")), rtol=1e-12)
        c1 = sig(pre("f")) * init["c0"] + sig(pre("i")) * np.tanh(pre("g"))
        np.testing.assert_allclose(st["c"][0], c1, rtol=1e-12)
    else:
        np.testing.assert_allclose(st["r"][0], sig(pre("r")), rtol=1e-12)
        np.testing.assert_allclose(st["z"][0], sig(pre("z")), rtol=1e-12)
    # TOTAL_D_H: d_h[t] ends as the total ∂L/∂h_{t+1}: its direct part y plus what the rest
    # of the sequence sends back, i.e. ∇h0 of the plain model run from h_1 (and c_1) on.
    assert KERNELS[cell].TOTAL_D_H
    np.testing.assert_array_equal(d_h[-1], y[-1])
    c1 = st["c"][0] if cell == "lstm" else None
    rest = plain_gradients(model, params, x[1:], y[1:], tape.H[0].copy(), c1)
    np.testing.assert_allclose(d_h[0], y[0] + rest["h0"], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_loss_only_forward_keeps_no_history_and_gives_the_same_h(cell):
    model = Model(cell=cell, biases="torch")
    rng = np.random.default_rng(5)
    p = _cell_blocks(model, _params(model, 5))
    x = rng.normal(size=(6, 3, N_X))
    init = _init(model, 3, rng)
    kern = KERNELS[cell]
    full = kern.forward(p, x, init, model, True)
    lean = kern.forward(p, x, init, model, False)
    np.testing.assert_array_equal(lean.H, full.H)
    assert lean.states == {}
    assert set(kern.workspace(6, 3, N_X, N_H, model, "loss")) == {"H_full", "G"}
    with pytest.raises(ValueError, match="keep=False"):
        kern.backward(p, x, lean, np.ones((6, 3, N_H)), model)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_saturated_gates_stay_finite_without_warnings(cell, dtype):
    # Warnings are errors in the test run: σ of ±1000 must neither overflow nor warn.
    model = Model(cell=cell, biases="none")
    params = rnn_num.init_params(N_X, N_H, N_Y, seed=0, scale=300.0, dtype=dtype, model=model)
    x = (np.random.default_rng(0).normal(size=(5, 2, N_X)) * 10).astype(dtype)
    y = np.zeros((5, 2), dtype=int)
    loss, grads = rnn_num.loss_and_grads(params, x, y, model=model)
    assert np.isfinite(loss)
    assert all(np.isfinite(g).all() for g in grads.values())


# --- through rnn_num's driver -----------------------------------------------------------------


def _driver_problem(model: Model, T: int, B: int | None, seed: int):
    rng = np.random.default_rng(seed)
    params = rnn_num.init_params(N_X, N_H, N_Y, seed=seed, scale=0.8, model=model)
    bshape = () if B is None else (B,)
    x = rng.normal(size=(T, *bshape, N_X))
    lead = (T, *bshape) if model.task == "many-to-many" else bshape
    if model.head == "softmax-ce":
        y = rng.integers(0, N_Y, size=lead)
    else:
        y = rng.normal(size=(*lead, N_Y))
    states = {}
    for name in model.initial_states:
        if model.h0 == "shared" or (model.h0 == "per-sequence" and B is None):
            states[name] = rng.normal(size=N_H) * 0.5
        elif model.h0 == "per-sequence":
            states[name] = rng.normal(size=(B, N_H)) * 0.5
    return params, x, y, states.get("h0"), states.get("c0")


DRIVER_MODELS = [
    "head=softmax-ce,biases=torch",
    "head=mse,mse_scale=one,biases=both,reduction=mean",
    "head=mse,task=many-to-one,h0=shared,biases=hidden",
    "head=softmax-ce,task=step=2,h0=per-sequence,reduction=mean-batch",
    "head=generic,biases=output,reduction=mean-time,h0=shared",
    "head=softmax-ce,biases=none,h0=per-sequence",
]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("text", DRIVER_MODELS)
@pytest.mark.parametrize("B", [None, 2])
def test_loss_and_grads_matches_the_plain_model(cell, text, B):
    model = parse_model(f"cell={cell},{text}")
    params, x, y, h0, c0 = _driver_problem(model, 4, B, seed=len(text))
    loss, grads = rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=f"cell={cell},{text}")
    assert list(grads) == list(model.gradient_names())
    assert loss == pytest.approx(plain_loss(model, params, x, y, h0, c0), rel=1e-12)
    numeric = plain_gradients(model, params, x, y, h0, c0)
    for name, g in grads.items():
        assert g.shape == numeric[name].shape, name
        np.testing.assert_allclose(g, numeric[name], rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_float32_follows_float64(cell):
    model = Model(cell=cell, biases="torch", h0="per-sequence")
    params, x, y, h0, c0 = _driver_problem(model, 8, 3, seed=9)
    loss64, g64 = rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=model)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    c32 = None if c0 is None else c0.astype(np.float32)
    loss32, g32 = rnn_num.loss_and_grads(
        p32, x.astype(np.float32), y, h0.astype(np.float32), c0=c32, model=model
    )
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for name, g in g32.items():
        assert g.dtype == np.float32, name
        np.testing.assert_allclose(g, g64[name], rtol=2e-4, atol=2e-5, err_msg=name)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_backward_reports_total_d_h_and_untouched_gates(cell):
    model = Model(cell=cell, biases="torch", h0="per-sequence")
    params, x, y, h0, c0 = _driver_problem(model, 5, 2, seed=11)
    res = rnn_num.backward(params, x, y, h0, c0=c0, model=model)
    fw = rnn_num.forward(params, x, h0, c0=c0, model=model)
    for name, arr in fw.states.items():
        np.testing.assert_array_equal(res.states[name], arr, err_msg=name)
    assert res.d_h is not None and res.d_h.shape == (6, 2, N_H)
    np.testing.assert_allclose(res.d_h[0], res.grads["h0"], rtol=1e-14)
    # ∂L/∂h_T has only the direct part Vᵀ ∇o_T.
    np.testing.assert_allclose(res.d_h[-1], res.d_o[-1] @ params["V"], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_medium_sizes_match_the_plain_model_at_a_few_entries(cell):
    # Sizes where the stacked matrices hold many rows per gate: the loss, and the gradient
    # of one random entry per block (central differences of the plain loss).
    model = Model(cell=cell, biases="torch", h0="per-sequence")
    rng = np.random.default_rng(12)
    n_x, n_h, n_y, T, B = 5, 9, 4, 7, 3
    params = rnn_num.init_params(n_x, n_h, n_y, seed=12, model=model)
    x = rng.normal(size=(T, B, n_x))
    y = rng.integers(0, n_y, size=(T, B))
    h0 = rng.normal(size=(B, n_h))
    c0 = rng.normal(size=(B, n_h)) if cell == "lstm" else None
    loss, grads = rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=model)
    assert loss == pytest.approx(plain_loss(model, params, x, y, h0, c0), rel=1e-12)
    for name, arr in params.items():
        idx = tuple(int(rng.integers(0, s)) for s in arr.shape)
        up = {k: v.copy() for k, v in params.items()}
        down = {k: v.copy() for k, v in params.items()}
        up[name][idx] += 1e-6
        down[name][idx] -= 1e-6
        fd = (plain_loss(model, up, x, y, h0, c0) - plain_loss(model, down, x, y, h0, c0)) / 2e-6
        assert grads[name][idx] == pytest.approx(fd, rel=1e-5, abs=1e-7), name
