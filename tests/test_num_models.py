"""rnn_num for every model of rnn_spec, against tests/_plain_models.py.

The oracle is `plain_loss` (one sample, one step, one column vector at a time, written from
the equations) and `plain_gradients` (its central differences). rnn_num's batched kernels
share no code with it. The grids: a pairwise covering set of the options of each cell
(every pair of option values in at least one case), plus full products of a few axes.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from _plain_models import plain_gradients, plain_loss

import rnn_num
from rnn_spec import ACTIVATIONS, BIASES, CANONICAL, H0S, REDUCTIONS, Model, ModelError

N_X, N_H, N_Y, B = 2, 3, 3, 2
RTOL, ATOL = 1e-6, 1e-8  # plain_gradients: step 1e-6, so ~1e-10 · |L| of rounding

HEADS = ("softmax-ce", "mse-half", "mse-one", "generic", "given")
TASKS = ("many-to-many", "many-to-one", "step")
TS = (1, 2, 3, 4, 5)


# --- building a case ----------------------------------------------------------------------


def make_model(cell: str, case: dict) -> Model:
    head, scale = case["head"], None
    if head.startswith("mse-"):
        head, scale = "mse", head[4:]
    task = case["task"]
    if task == "step":  # K from 1 to T, varying with the case
        task = f"step={1 + (case['T'] * 7 + len(case['biases'])) % case['T']}"
    return Model(
        cell=cell,
        activation=case.get("activation") if cell == "rnn" else None,
        biases=case["biases"],
        head=head,
        mse_scale=scale,
        reduction=case["reduction"],
        task=task,
        h0=case["h0"],
    )


def make_problem(model: Model, T: int, batched: bool, seed: int, onehot: bool = False):
    """Random parameters (every bias nonzero), x, y for the head and task, h0 / c0 for the
    model's h0 option."""
    rng = np.random.default_rng(seed)
    n_y = N_Y if model.has_output_layer else None
    params = rnn_num.init_params(N_X, N_H, n_y, seed=seed, scale=0.8, model=model)
    for block in model.blocks(N_X, N_H, n_y):
        if block.role in ("bias", "output-bias"):
            params[block.name] = rng.normal(size=block.shape) * 0.5
            if model.activation == "relu" and block.role == "bias":
                params[block.name] = np.abs(params[block.name]) + 0.2  # keep some units alive
    bshape = (B,) if batched else ()
    x = rng.normal(size=(T, *bshape, N_X))
    lead = (T, *bshape) if model.task == "many-to-many" else bshape
    if model.head == "given":
        y = rng.normal(size=(T, *bshape, N_H))
    elif model.head == "softmax-ce":
        y = rng.integers(0, N_Y, size=lead)
        if onehot:
            y = np.eye(N_Y)[y]
    else:
        y = rng.normal(size=(*lead, N_Y))
    states = {}
    for name in model.initial_states:
        if model.h0 == "zero":
            states[name] = None
        elif model.h0 == "shared" or not batched:
            states[name] = rng.normal(size=N_H) * 0.5
        else:
            states[name] = rng.normal(size=(B, N_H)) * 0.5
    return params, x, y, states.get("h0"), states.get("c0")


def check_against_plain(model: Model, T: int, batched: bool, seed: int, onehot: bool = False):
    params, x, y, h0, c0 = make_problem(model, T, batched, seed, onehot)
    loss, grads = rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=model)
    assert list(grads) == list(model.gradient_names())
    expected_loss = plain_loss(model, params, x, y, h0, c0)
    assert loss == pytest.approx(expected_loss, rel=1e-12, abs=1e-12)
    numeric = plain_gradients(model, params, x, y, h0, c0)
    assert set(numeric) == set(grads)
    for name, g in grads.items():
        assert g.shape == numeric[name].shape, name
        assert g.dtype == np.float64, name
        np.testing.assert_allclose(g, numeric[name], rtol=RTOL, atol=ATOL, err_msg=name)
    # The loss is not trivially flat: some gradient moves (else the comparison is void).
    assert max(float(np.abs(g).max()) for g in grads.values()) > 1e-3
    return params, x, y, h0, c0


# --- the covering sets --------------------------------------------------------------------


def _feasible(case: dict) -> bool:
    """False for combinations rnn_spec refuses (head=given has no output layer, task or
    reduction). Works on partial cases too (for pairs)."""
    if case.get("head") != "given":
        return True
    return (
        case.get("biases") != "output"
        and case.get("task", "many-to-many") == "many-to-many"
        and case.get("reduction", "sum") == "sum"
    )


def covering_set(axes: dict[str, tuple], minimum: int, seed: int) -> list[dict]:
    """A deterministic set of feasible cases covering every feasible pair of option values
    (greedy: each new case covers the most pairs still missing among random candidates)."""
    names = list(axes)
    rng = random.Random(seed)

    def pairs(case: dict) -> set:
        return {((a, case[a]), (b, case[b])) for a, b in itertools.combinations(names, 2)}

    missing = set()
    for a, b in itertools.combinations(names, 2):
        for va, vb in itertools.product(axes[a], axes[b]):
            if _feasible({a: va, b: vb}):
                missing.add(((a, va), (b, vb)))
    chosen: list[dict] = []
    for _ in range(1000):
        if not missing and len(chosen) >= minimum:
            return chosen
        candidates = []
        while len(candidates) < 300:
            case = {n: rng.choice(axes[n]) for n in names}
            if _feasible(case):
                candidates.append(case)
        best = max(candidates, key=lambda c: len(pairs(c) & missing))
        chosen.append(best)
        missing -= pairs(best)
    raise AssertionError(f"no covering set found; pairs never covered: {sorted(missing)[:5]}")


def _case_id(case: dict) -> str:
    parts = [str(v) for k, v in case.items() if k not in ("batched", "T")]
    parts.append("B" if case["batched"] else "unbatched")
    parts.append(f"T{case['T']}")
    return "-".join(parts)


RNN_AXES = {
    "activation": ACTIVATIONS,
    "biases": BIASES,
    "head": HEADS,
    "reduction": REDUCTIONS,
    "task": TASKS,
    "h0": H0S,
    "batched": (False, True),
    "T": TS,
}
GATED_AXES = {k: v for k, v in RNN_AXES.items() if k != "activation"}

RNN_GRID = covering_set(RNN_AXES, minimum=60, seed=9)
LSTM_GRID = covering_set(GATED_AXES, minimum=40, seed=10)
GRU_GRID = covering_set(GATED_AXES, minimum=40, seed=11)


@pytest.mark.parametrize("case", RNN_GRID, ids=_case_id)
def test_rnn_covering_grid_matches_the_plain_model(case):
    model = make_model("rnn", case)
    check_against_plain(model, case["T"], case["batched"], seed=RNN_GRID.index(case))


@pytest.mark.parametrize("case", LSTM_GRID, ids=_case_id)
def test_lstm_covering_grid_matches_the_plain_model(case):
    model = make_model("lstm", case)
    check_against_plain(model, case["T"], case["batched"], seed=100 + LSTM_GRID.index(case))


@pytest.mark.parametrize("case", GRU_GRID, ids=_case_id)
def test_gru_covering_grid_matches_the_plain_model(case):
    model = make_model("gru", case)
    check_against_plain(model, case["T"], case["batched"], seed=200 + GRU_GRID.index(case))


# --- full products of a few axes ----------------------------------------------------------

BASE = {
    "head": "softmax-ce",
    "reduction": "sum",
    "task": "many-to-many",
    "h0": "per-sequence",
}


@pytest.mark.parametrize(("activation", "biases"), list(itertools.product(ACTIVATIONS, BIASES)))
@pytest.mark.parametrize("batched", [False, True])
def test_every_activation_with_every_bias_option(activation, biases, batched):
    case = dict(BASE, activation=activation, biases=biases, T=3)
    check_against_plain(make_model("rnn", case), 3, batched, seed=len(activation + biases))


HEAD_TASK_REDUCTION = [
    (h, t, r)
    for h, t, r in itertools.product(HEADS, TASKS, REDUCTIONS)
    if _feasible({"head": h, "task": t, "reduction": r})
]


@pytest.mark.parametrize(("head", "task", "reduction"), HEAD_TASK_REDUCTION)
def test_every_head_task_and_reduction(head, task, reduction):
    case = dict(BASE, activation="tanh", biases="both", head=head, task=task, reduction=reduction)
    case["T"] = 4
    check_against_plain(make_model("rnn", case), 4, True, seed=3)


@pytest.mark.parametrize("h0", H0S)
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("T", TS)
def test_every_h0_option_batch_and_length(h0, batched, T):
    case = dict(BASE, activation="sigmoid", biases="torch", h0=h0, T=T)
    check_against_plain(make_model("rnn", case), T, batched, seed=T)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize(("biases", "h0"), list(itertools.product(BIASES, H0S)))
def test_gated_cells_every_bias_and_h0_option(cell, biases, h0):
    case = dict(BASE, biases=biases, h0=h0, T=3)
    check_against_plain(make_model(cell, case), 3, True, seed=len(biases + h0))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("task", ["many-to-many", "many-to-one"])
def test_one_hot_targets_match_the_plain_model(cell, task):
    case = dict(BASE, activation="tanh", biases="both", task=task, T=3)
    check_against_plain(make_model(cell, case), 3, True, seed=5, onehot=True)


# --- the other entry points agree -------------------------------------------------------

AGREEMENT = [
    CANONICAL,
    Model(activation="relu", biases="torch", head="mse", reduction="mean", h0="shared"),
    Model(activation="identity", biases="none", head="generic", task="step=2", h0="per-sequence"),
    Model(biases="hidden", head="given", h0="per-sequence"),
    Model(cell="lstm", biases="torch", head="mse", task="many-to-one", h0="per-sequence"),
    Model(cell="gru", biases="both", reduction="mean-time", h0="shared"),
    Model(cell="gru", biases="torch", head="given"),
]


@pytest.mark.parametrize("model", AGREEMENT, ids=str)
@pytest.mark.parametrize("batched", [False, True])
def test_backward_compute_loss_and_loss_and_grads_agree(model, batched):
    params, x, y, h0, c0 = make_problem(model, 4, batched, seed=7)
    res = rnn_num.backward(params, x, y, h0, c0=c0, model=model)
    loss, grads = rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=model)
    assert res.model == model and res.forward.model == model
    assert loss == pytest.approx(res.loss, rel=1e-13)
    assert rnn_num.compute_loss(params, x, y, h0, c0=c0, model=model) == pytest.approx(
        res.loss, rel=1e-13
    )
    assert list(res.grads) == list(grads) == list(model.gradient_names())
    for name, g in grads.items():
        np.testing.assert_allclose(res.grads[name], g, rtol=1e-12, atol=1e-15, err_msg=name)
    fwd = rnn_num.forward(params, x, h0, c0=c0, model=model)
    np.testing.assert_allclose(fwd.h, res.forward.h, rtol=1e-14)
    lead = x.shape[:-1]
    assert fwd.h.shape == (*lead, N_H)
    if model.has_output_layer:
        assert fwd.o.shape == res.d_o.shape == (*lead, N_Y)
    else:
        assert fwd.o is None and fwd.y_hat is None and res.d_o is None
    if model.cell == "rnn":
        assert fwd.a.shape == res.d_a.shape == (*lead, N_H)
        np.testing.assert_array_equal(res.forward.states["a"], res.forward.a)
        assert res.d_h.shape == (lead[0] + 1, *lead[1:], N_H)
        # d_h[0] is ∇h(0) per sequence; a shared h0's gradient is its sum over the batch.
        rows = res.d_h[0]
        shared = h0 is not None and batched and h0.ndim == 1
        np.testing.assert_allclose(res.grads["h0"], rows.sum(axis=0) if shared else rows)
    else:
        assert fwd.a is None and res.d_a is None
        expected = {"lstm": {"c", "i", "f", "g", "o"}, "gru": {"r", "z", "n"}}[model.cell]
        assert expected <= set(res.states)
        for name in expected:
            assert res.states[name].shape == (*lead, N_H), name
    if model.cell == "lstm":
        # h_t = o ⊙ tanh(c_t): the cell state the kernel reports is the one that made h.
        np.testing.assert_allclose(
            res.forward.h, res.states["o"] * np.tanh(res.states["c"]), rtol=1e-12, atol=1e-15
        )


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_torch_biases_get_the_same_gradient_in_two_arrays(cell):
    model = Model(cell=cell, biases="torch")
    params, x, y, h0, c0 = make_problem(model, 3, True, seed=2)
    _, grads = rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=model)
    pairs = [(b.name, b.gate) for b in model.blocks(N_X, N_H, N_Y) if b.side == "ih"]
    assert pairs
    for name, gate in pairs:
        other = "b_hh" if gate is None else f"b_h{gate}"
        if (cell, gate) == ("gru", "n"):
            continue  # b_hn sits inside r ⊙ (W_n h + b_hn): its gradient differs
        np.testing.assert_allclose(grads[name], grads[other], rtol=1e-14)
        assert not np.shares_memory(grads[name], grads[other])


def test_backward_arrays_of_other_models_never_share_memory():
    model = Model(activation="sigmoid", biases="torch", head="mse", h0="per-sequence")
    params, x, y, h0, c0 = make_problem(model, 4, True, seed=1)
    r = rnn_num.backward(params, x, y, h0, model=model)
    f = r.forward
    arrays = {"a": f.a, "h": f.h, "h0": f.h0, "o": f.o, "d_o": r.d_o, "d_h": r.d_h, "d_a": r.d_a}
    arrays.update({f"grad {k}": g for k, g in r.grads.items()})
    for (n1, a1), (n2, a2) in itertools.combinations(arrays.items(), 2):
        assert not np.shares_memory(a1, a2), f"{n1} and {n2} share memory"
    for name, a in arrays.items():
        assert not np.shares_memory(a, y) and not np.shares_memory(a, h0), name


def test_generic_head_does_not_hand_out_the_callers_array():
    model = Model(head="generic")
    params, x, y, h0, _ = make_problem(model, 3, True, seed=4)
    kept = y.copy()
    res = rnn_num.backward(params, x, y, model=model)
    res.d_o[...] = 0
    rnn_num.loss_and_grads(params, x, y, model=model)
    np.testing.assert_array_equal(y, kept)


def test_float32_works_for_other_models():
    model = Model(activation="relu", biases="torch", head="mse", reduction="mean")
    p64, x, y, _, _ = make_problem(model, 4, True, seed=8)
    p32 = {k: a.astype(np.float32) for k, a in p64.items()}
    loss32, g32 = rnn_num.loss_and_grads(p32, x.astype(np.float32), y, model=model)
    loss64, g64 = rnn_num.loss_and_grads(p64, x, y, model=model)
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for k in g64:
        assert g32[k].dtype == np.float32, k
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5, err_msg=k)


# --- the legacy keywords ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("legacy", "text"),
    [
        ({}, ""),
        ({"activation": "relu"}, "activation=relu"),
        ({"activation": "identity", "head": "mse"}, "activation=identity,head=mse"),
        ({"many_to_one": True}, "task=many-to-one"),
        ({"head": "mse", "many_to_one": True}, "head=mse,task=many-to-one"),
    ],
)
@pytest.mark.parametrize("h0_option", ["zero", "shared", "per-sequence"])
def test_legacy_keywords_are_the_model_they_name(legacy, text, h0_option):
    model = Model(**dict(kv.split("=", 1) for kv in text.split(",") if kv), h0=h0_option)
    params, x, y, h0, _ = make_problem(model, 4, True, seed=6)
    params = {k: params[k] for k in ("U", "W", "V", "b", "c")}
    old = rnn_num.backward(params, x, y, h0, **legacy)
    new = rnn_num.backward(params, x, y, h0, model=text + ("," if text else "") + f"h0={h0_option}")
    assert old.model == model  # h0's option inferred from the argument
    assert old.loss == new.loss
    for k in old.grads:
        np.testing.assert_array_equal(old.grads[k], new.grads[k])
    # Keywords that repeat the model are fine.
    same = rnn_num.loss_and_grads(params, x, y, h0, model=model, **legacy)
    assert same[0] == old.loss


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"activation": "relu"}, r"activation='relu' \(the model has activation=tanh\)"),
        ({"head": "mse"}, r"head='mse' \(the model has head=softmax-ce\)"),
        ({"many_to_one": True}, r"many_to_one=True \(the model has task=many-to-many\)"),
    ],
)
def test_conflicting_legacy_keyword_and_model_is_an_error(kwargs, pattern):
    params, x, y, _, _ = make_problem(CANONICAL, 3, False, seed=0)
    with pytest.raises(ValueError, match=pattern) as info:
        rnn_num.loss_and_grads(params, x, y, model="biases=both", **kwargs)
    assert "Fix:" in str(info.value)


def test_a_model_head_given_to_the_legacy_keyword_points_to_model():
    params, x, y, _, _ = make_problem(CANONICAL, 3, False, seed=0)
    with pytest.raises(ValueError, match=r"head='generic' is a model option.*model='head=generic'"):
        rnn_num.loss_and_grads(params, x, y, head="generic")


def test_model_text_and_mapping_are_accepted():
    model = Model(activation="sigmoid", biases="none", head="mse")
    params, x, y, _, _ = make_problem(model, 3, True, seed=1)
    a = rnn_num.loss_and_grads(params, x, y, model=model)
    b = rnn_num.loss_and_grads(params, x, y, model="activation=sigmoid,biases=none,head=mse")
    c = rnn_num.loss_and_grads(
        params, x, y, model={"activation": "sigmoid", "biases": "none", "head": "mse"}
    )
    assert a[0] == b[0] == c[0]


# --- init_params --------------------------------------------------------------------------


def test_init_params_canonical_numbers_are_unchanged():
    # U, W, V from one normal stream, 1/sqrt(fan_in) scaled, zero biases: as always.
    rng = np.random.default_rng(5)
    U = rng.standard_normal((4, 2)) / np.sqrt(2)
    W = rng.standard_normal((4, 4)) / np.sqrt(4)
    V = rng.standard_normal((3, 4)) / np.sqrt(4)
    for params in (
        rnn_num.init_params(2, 4, 3, seed=5),
        rnn_num.init_params(2, 4, 3, seed=5, model=""),
    ):
        assert list(params) == ["U", "W", "V", "b", "c"]
        np.testing.assert_array_equal(params["U"], U)
        np.testing.assert_array_equal(params["W"], W)
        np.testing.assert_array_equal(params["V"], V)
        assert not params["b"].any() and not params["c"].any()


@pytest.mark.parametrize(
    "model",
    [
        Model(biases="torch"),
        Model(cell="lstm", biases="torch"),
        Model(cell="gru"),
        Model(cell="gru", biases="hidden", head="given"),
        Model(biases="none", head="mse"),
    ],
    ids=str,
)
def test_init_params_builds_every_block_of_the_model(model):
    n_y = 3 if model.has_output_layer else None
    params = rnn_num.init_params(2, 4, n_y, seed=1, model=model, dtype=np.float32)
    blocks = model.blocks(2, 4, n_y)
    assert list(params) == [b.name for b in blocks]
    for b in blocks:
        assert params[b.name].shape == b.shape and params[b.name].dtype == np.float32, b.name
        if b.role in ("bias", "output-bias"):
            assert np.all(params[b.name] != 0) and np.abs(params[b.name]).max() < 1, b.name
    again = rnn_num.init_params(2, 4, n_y, seed=1, model=model, dtype=np.float32)
    for k in params:
        np.testing.assert_array_equal(params[k], again[k])


def test_init_params_rejects_n_y_for_the_given_head():
    with pytest.raises(ModelError, match=r"n_y=3 given, but head=given has no output layer"):
        rnn_num.init_params(2, 3, 3, model="head=given")
    with pytest.raises(ValueError, match="n_y must be a positive integer"):
        rnn_num.init_params(2, 3, None)


# --- validation: every bad input class -----------------------------------------------------

TORCH = Model(biases="torch")


def _torch_problem():
    return make_problem(TORCH, 4, True, seed=3)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            lambda p: {k: v for k, v in p.items() if k != "b_hh"},
            r"params is missing key\(s\) b_hh; model biases=torch needs exactly U \(n_h, n_x\), "
            r"W \(n_h, n_h\), V \(n_y, n_h\), b_ih \(n_h,\), b_hh \(n_h,\), c \(n_y,\)\. "
            r"Fix: build params with rnn_num\.init_params\(n_x, n_h, n_y, model='biases=torch'\)",
        ),
        (
            lambda p: {**p, "b": np.zeros(3)},
            r"params has unknown key\(s\) b; .*or pass the model= they were built for",
        ),
        (
            lambda p: {
                **{k: v for k, v in p.items() if k not in ("b_ih", "b_hh")},
                "b": np.zeros(3),
            },
            r"params is missing key\(s\) b_ih, b_hh and it has unknown key\(s\) b",
        ),
        (
            lambda p: {**p, "b_hh": np.zeros(4)},
            r"params\['b_hh'\] has shape \(4,\); it needs shape \(n_h,\) = \(3,\) \(n_h from U\)",
        ),
        (
            lambda p: {**p, "W": np.zeros((3, 2))},
            r"params\['W'\] has shape \(3, 2\); it needs shape \(n_h, n_h\) = \(3, 3\)",
        ),
        (
            lambda p: {**p, "b_ih": np.array([0.0, np.nan, 0.0])},
            r"params\['b_ih'\] contains NaN",
        ),
    ],
)
def test_params_that_do_not_fit_the_model(change, pattern):
    params, x, y, h0, _ = _torch_problem()
    for entry in (rnn_num.loss_and_grads, rnn_num.compute_loss, rnn_num.backward):
        with pytest.raises(ValueError, match=pattern) as info:
            entry(change(params), x, y, h0, model=TORCH)
        assert "rnn_num" in info.traceback[-1].path.as_posix()


def test_gated_params_name_their_blocks():
    lstm = Model(cell="lstm")
    params, x, y, _, _ = make_problem(CANONICAL, 3, True, seed=0)
    with pytest.raises(
        ValueError, match=r"missing key\(s\) U_i, U_f.*unknown key\(s\) U, W, b"
    ) as info:
        rnn_num.loss_and_grads(params, x, y, model=lstm)
    assert "model cell=lstm needs exactly U_i (n_h, n_x)" in str(info.value)
    p = rnn_num.init_params(N_X, N_H, N_Y, model=lstm)
    p["U_g"] = np.zeros((N_H, N_X + 1))
    with pytest.raises(
        ValueError, match=r"params\['U_g'\] has shape \(3, 3\).*\(n_h, n_x\) = \(3, 2\)"
    ):
        rnn_num.loss_and_grads(p, x, y, model=lstm)


@pytest.mark.parametrize(
    ("model", "h0", "c0", "pattern"),
    [
        (
            "h0=zero",
            np.zeros((B, N_H)),
            None,
            r"h0 given \(shape \(2, 3\)\), but model h0=zero.*Fix: pass h0=None",
        ),
        ("h0=shared", None, None, r"h0 is None, but model h0=shared needs h0 of shape \(3,\)"),
        (
            "h0=shared",
            np.zeros((B, N_H)),
            None,
            r"h0 has shape \(2, 3\); model h0=shared needs shape \(3,\)",
        ),
        (
            "h0=per-sequence",
            np.zeros(N_H),
            None,
            r"h0 has shape \(3,\); model h0=per-sequence needs shape \(2, 3\)",
        ),
        ("", None, np.zeros(N_H), r"c0 is the LSTM's initial cell state.*cell=rnn.*Fix: drop c0"),
        (
            "cell=lstm,h0=shared",
            np.zeros(N_H),
            None,
            r"c0 is None, but model h0=shared needs c0 of shape \(3,\)",
        ),
        (
            "cell=lstm,h0=per-sequence",
            np.zeros((B, N_H)),
            np.zeros((3, N_H)),
            r"c0 has shape \(3, 3\)",
        ),
        ("cell=lstm", None, np.zeros((B, N_H)), r"c0 given .*model h0=zero"),
    ],
)
def test_initial_states_that_do_not_fit_the_model(model, h0, c0, pattern):
    m = Model(**dict(kv.split("=", 1) for kv in model.split(",") if kv))
    params, x, y, _, _ = make_problem(m.replace(h0="zero"), 3, True, seed=0)
    with pytest.raises(ValueError, match=pattern):
        rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=m)


@pytest.mark.parametrize(
    ("model", "y_shape", "error", "pattern"),
    [
        (
            "head=mse",
            (4, B),
            ValueError,
            r"head='mse' needs float targets.*\(T, B, n_y\) = \(4, 2, 3\)",
        ),
        ("head=generic", (4, B, 2), ValueError, r"head='generic' needs ∇_\{o_t\} l.*\(4, 2, 3\)"),
        (
            "head=given",
            (4, B, N_Y + 1),
            ValueError,
            r"head=given needs ∂L/∂h_t for every step.*\(4, 2, 3\)",
        ),
        (
            "task=many-to-one",
            (4, B),
            ValueError,
            r"y has shape \(4, 2\).*\(2,\).*task=many-to-one: one target",
        ),
        ("task=step=2", (4, B), ValueError, r"task=step=2: one target, for step 2"),
        ("head=mse,task=step=3", (4, B, N_Y), ValueError, r"\(B, n_y\) = \(2, 3\) \(task=step=3"),
        ("", (4, B, N_Y + 1), ValueError, r"integer class indices of shape \(4, 2\)"),
    ],
)
def test_targets_that_do_not_fit_the_head_and_task(model, y_shape, error, pattern):
    m = Model(**dict(kv.split("=", 1) for kv in model.split(",") if kv))
    params, x, _, h0, c0 = make_problem(m, 4, True, seed=0)
    with pytest.raises(error, match=pattern):
        rnn_num.loss_and_grads(params, x, np.zeros(y_shape), h0, c0=c0, model=m)


def test_step_beyond_the_sequence_is_the_model_error():
    m = Model(task="step=5")
    params, x, y, _, _ = make_problem(m, 5, True, seed=0)
    with pytest.raises(ModelError, match=r"task=step=5 .* T = 3 steps.*1 <= K <= 3"):
        rnn_num.loss_and_grads(params, x[:3], y, model=m)


def test_bad_model_text_is_the_model_error():
    params, x, y, _, _ = make_problem(CANONICAL, 3, True, seed=0)
    with pytest.raises(ModelError, match=r"cell='elman' is not known"):
        rnn_num.loss_and_grads(params, x, y, model="cell=elman")
    with pytest.raises(ModelError, match="a model is given as text"):
        rnn_num.loss_and_grads(params, x, y, model=3)


# --- gradcheck and training for any model ----------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        Model(activation="sigmoid", biases="torch", head="mse", mse_scale="one", h0="shared"),
        Model(biases="none", head="given", h0="zero"),
        Model(cell="lstm", biases="torch", h0="per-sequence"),
        Model(cell="gru", head="generic", task="many-to-one"),
    ],
    ids=str,
)
def test_gradcheck_checks_every_block_of_the_model(model):
    params, x, y, h0, c0 = make_problem(model, 3, True, seed=12)
    report = rnn_num.assert_gradients_close(params, x, y, h0, c0=c0, model=model)
    assert list(report.blocks) == list(model.gradient_names())
    _, grads = rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=model)
    name = model.gradient_names()[-2 if model.cell == "lstm" else -1]  # an initial state
    wrong = {k: g.copy() for k, g in grads.items()}
    last = model.block_names()[-1]
    wrong[last].flat[0] += 0.05
    bad = rnn_num.gradcheck(params, x, y, h0, c0=c0, model=model, grads=wrong)
    assert bad.worst.name == last and not bad.passed()
    assert bad.blocks[name].rel_error < 1e-7
    with pytest.raises(ValueError, match=r"blocks \['b'\] unknown for this model"):
        rnn_num.gradcheck(params, x, y, h0, c0=c0, model=model, blocks=["b"])


def test_training_works_for_other_models():
    model = Model(activation="relu", biases="torch", head="mse", reduction="mean")
    params, x, y, _, _ = make_problem(model, 5, True, seed=13)
    result = rnn_num.train(params, x, y, model=model, optimizer="adagrad", lr=0.05, steps=60)
    assert list(result.params) == list(model.block_names())
    assert result.losses[-1] < 0.7 * result.losses[0]
    assert rnn_num.compute_loss(result.params, x, y, model=model) < result.losses[0]


# --- the kernel interface -------------------------------------------------------------------


def test_the_driver_runs_a_kernel_without_a_workspace(monkeypatch):
    """The plain interface of _cells (forward/backward only, what the gated kernels provide)
    gives the numbers of the Elman kernel's one-allocation path."""
    import types

    from rnn_num import _cells, _elman

    plain = types.ModuleType("plain_elman")
    plain.forward = lambda p, x, init, model, keep: _elman.forward(p, x, init, model, keep)
    plain.backward = lambda p, x, tape, d_h, model: _elman.backward(p, x, tape, d_h, model)
    model = Model(activation="sigmoid", biases="torch", head="mse", task="step=2", h0="shared")
    params, x, y, h0, _ = make_problem(model, 4, True, seed=21)
    fast = rnn_num.backward(params, x, y, h0, model=model)
    monkeypatch.setitem(_cells.KERNELS._loaded, "rnn", plain)
    slow = rnn_num.backward(params, x, y, h0, model=model)
    lean = rnn_num.loss_and_grads(params, x, y, h0, model=model)
    assert slow.d_h is None  # the kernel does not say it leaves the total ∂L/∂h_t in d_h
    assert slow.loss == fast.loss == lean[0]
    for name in model.gradient_names():
        np.testing.assert_allclose(slow.grads[name], fast.grads[name], rtol=1e-14, err_msg=name)
        np.testing.assert_allclose(lean[1][name], fast.grads[name], rtol=1e-14, err_msg=name)


def test_the_registry_knows_every_cell():
    from rnn_num import _cells, _elman

    assert _cells.KERNELS["rnn"] is _elman
    assert list(_cells.KERNELS) == ["rnn", "lstm", "gru"]
    with pytest.raises(KeyError):
        _cells.KERNELS["elman"]
