"""Symbolic cells for every model: reverse-mode diff = the textbook recursions, node by node;
the lambdified gradients against central differences of tests/_plain_models.py.

Small T and sizes here; `rnn-derive verify --model ...` runs larger ones.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from _plain_models import plain_gradients, plain_loss

from rnn_spec import Model, ModelError, parse_model
from rnn_sym import (
    CellTextbook,
    NumericCell,
    NumericInputError,
    SizeLimitError,
    StepFailed,
    cell_graph,
    cell_reverse_mode,
    cell_textbook,
    prove_cell_recursion,
)

# Every option value at least once, and each cell with its bias and head variants.
MODELS = [
    "",
    "activation=sigmoid",
    "activation=relu,biases=none",
    "activation=identity,biases=torch",
    "biases=hidden,head=mse",
    "biases=output,head=mse,mse_scale=one,reduction=mean-time",
    "head=generic,task=many-to-one,h0=shared",
    "head=given,biases=torch",
    "task=step=2,reduction=mean-batch,h0=per-sequence",
    "cell=lstm",
    "cell=lstm,biases=torch,head=mse",
    "cell=lstm,biases=none,head=generic,task=many-to-one,h0=shared",
    "cell=lstm,head=given,biases=hidden",
    "cell=lstm,reduction=mean,task=step=2,h0=per-sequence",
    "cell=gru",
    "cell=gru,biases=torch,head=mse,mse_scale=one",
    "cell=gru,biases=output,task=many-to-one,reduction=mean-time",
    "cell=gru,head=given,biases=none",
    "cell=gru,biases=hidden,head=generic,reduction=mean,h0=per-sequence",
]


def _batch(model: Model) -> int | None:
    return 2 if model.reduction in ("mean-batch", "mean") or model.h0 == "per-sequence" else None


def _graph(text: str, T: int, n_x: int = 2, n_h: int = 2, n_y: int = 2):
    model = parse_model(text)
    return cell_graph(
        model, T, n_x, n_h, n_y if model.has_output_layer else None, batch=_batch(model) or 1
    )


def _point(model: Model, T: int, n_x: int, n_h: int, n_y: int | None, seed: int):
    rng = np.random.default_rng(seed)
    params = {
        b.name: rng.normal(scale=0.7 if b.role != "bias" else 0.3, size=b.shape)
        for b in model.blocks(n_x, n_h, n_y)
    }
    B = _batch(model)
    batch = () if B is None else (B,)
    x = rng.normal(size=(T, *batch, n_x))
    time_axis = (T,) if model.task == "many-to-many" else ()
    if model.head == "softmax-ce":
        y = rng.integers(0, n_y, size=time_axis + batch)
    elif model.head == "given":
        y = rng.normal(size=(T, *batch, n_h))
    else:
        y = rng.normal(size=(*time_axis, *batch, n_y))
    h0 = c0 = None
    if model.h0 != "zero":
        shape = (n_h,) if model.h0 == "shared" else (B, n_h)
        h0 = rng.normal(scale=0.5, size=shape)
        c0 = rng.normal(scale=0.5, size=shape) if model.cell == "lstm" else None
    return params, x, y, h0, c0


# task=step=2 needs T >= 2 (step=K > T is a ModelError, tested below)
CASES = [(text, T) for text in MODELS for T in (1, 2, 3) if not ("step=2" in text and T < 2)]


@pytest.mark.parametrize(("text", "T"), CASES)
def test_reverse_mode_equals_textbook_node_by_node(text, T):
    model = parse_model(text)
    rm = cell_reverse_mode(_graph(text, T))
    claims = [r.claim for r in prove_cell_recursion(rm)]
    # every gradient is proven, named as the model names its blocks (never a fixed list)
    assert [c.removeprefix("grad_") for c in claims if "(" not in c] == list(model.gradient_names())
    last = max(model.loss_steps(T))
    assert sum(c.startswith("grad_h(") for c in claims) == last
    if model.cell == "lstm":
        assert sum(c.startswith("grad_c(") for c in claims) == last
        assert {f"grad_a_{q}(1)" for q in "ifgo"} <= set(claims)
    if model.cell == "gru":
        assert {f"grad_a_{q}(1)" for q in "rzn"} <= set(claims)


@pytest.mark.parametrize("text", MODELS)
def test_lambdified_gradients_match_finite_differences_of_plain_loss(text):
    model = parse_model(text)
    T, n_x, n_h = 3, 2, 2
    n_y = 2 if model.has_output_layer else None
    rm = cell_reverse_mode(_graph(text, T, n_x, n_h, 2))
    params, x, y, h0, c0 = _point(model, T, n_x, n_h, n_y, seed=3)
    expected = plain_gradients(model, params, x, y, h0, c0)
    for route in ("autodiff", "textbook"):
        loss, grads = NumericCell(rm, route)(params, x, y, h0, c0)
        assert loss == pytest.approx(plain_loss(model, params, x, y, h0, c0), rel=1e-12, abs=1e-12)
        assert list(grads) == list(model.gradient_names())
        for name, g in expected.items():
            assert grads[name].shape == g.shape, (route, name)
            np.testing.assert_allclose(grads[name], g, atol=1e-7, err_msg=f"{route} {name}")


def test_shared_initial_state_gradient_is_summed_over_the_batch():
    text = "cell=lstm,h0=shared"
    model = parse_model(text)
    rm = cell_reverse_mode(_graph(text, 2))
    rng = np.random.default_rng(0)
    params, _, _, h0, c0 = _point(model, 2, 2, 2, 2, seed=1)
    x = rng.normal(size=(2, 3, 2))  # B = 3
    y = rng.integers(0, 2, size=(2, 3))
    _, grads = NumericCell(rm)(params, x, y, h0, c0)
    expected = plain_gradients(model, params, x, y, h0, c0)
    assert grads["h0"].shape == grads["c0"].shape == (2,)
    for name in ("h0", "c0", "W_f"):
        np.testing.assert_allclose(grads[name], expected[name], atol=1e-7)


def test_relu_derivative_is_heaviside_and_numbers_hold_away_from_the_kink():
    rm = cell_reverse_mode(_graph("activation=relu", 2))
    a = rm.graph.node("a", 2)
    # the adjoint of h_1 flows back through Heaviside(a_2): SymPy's diff of Max(0, a)
    assert any(e.has(sp.Heaviside(a[0])) for e in rm.local[("h", 1)])
    model = parse_model("activation=relu")
    compared = 0
    for seed in range(4):
        params, x, y, h0, c0 = _point(model, 2, 2, 2, 2, seed)
        values = NumericCell(rm).values(params, x, y)
        pre = [values[s] for t in (1, 2) for s in rm.graph.node("a", t)]
        if min(abs(v) for v in pre) < 1e-3:
            continue  # too close to the kink for finite differences
        _, grads = NumericCell(rm)(params, x, y)
        expected = plain_gradients(model, params, x, y)
        np.testing.assert_allclose(grads["W"], expected["W"], atol=1e-7)
        compared += 1
    assert compared >= 2


def test_reduction_scale_is_exact():
    g = cell_graph("cell=gru,reduction=mean", 3, 1, 1, 2)
    assert g.scale == sp.Rational(1, 3)  # batch 1: ÷ (3 steps × B = 1)
    assert g.node("L", 2)[0].name == "L_{2}"
    g = cell_graph("reduction=mean", 3, 1, 1, 2, batch=4)
    assert g.scale == sp.Rational(1, 12)
    g = cell_graph("task=step=2", 3, 1, 1, 2)
    assert g.last == 2 and g.loss_steps == (2,)  # the graph stops at the last loss


def test_gru_single_bias_of_n_is_outside_r():
    g = _graph("cell=gru,biases=both", 1)
    b_n = g.blocks["b_n"]
    a_n = next(n for n in g.graph if n.kind == "a_n").definition
    r = g.node("gate_r", 1)
    # b_n enters a^{(n)} additively (coefficient 1), not scaled by r
    assert sp.expand(a_n[0]).coeff(b_n[0]) == 1
    assert not sp.expand(a_n[0]).has(r[0] * b_n[0])


# --- mutations: a wrong textbook term must make the proof fail -----------------------------


def _mutated(rm, key, change):
    tb = cell_textbook(rm)
    local = dict(tb.local)
    local[key] = change(rm, local[key])
    return CellTextbook(local, tb.grads)


def _mutated_grad(rm, name, change):
    tb = cell_textbook(rm)
    return CellTextbook(tb.local, tb.grads | {name: change(rm, tb.grads[name])})


def test_lstm_without_the_forget_path_fails():
    rm = cell_reverse_mode(_graph("cell=lstm", 2))
    g = rm.graph

    def drop_forget(rm, form):
        return form - g.node("gate_f", 2).multiply_elementwise(rm.adjoints[("c", 2)])

    with pytest.raises(StepFailed, match=r"grad_c\(1\)"):
        list(prove_cell_recursion(rm, _mutated(rm, ("c", 1), drop_forget)))


def test_lstm_wrong_gate_slope_fails():
    rm = cell_reverse_mode(_graph("cell=lstm", 1))
    g = rm.graph

    def tanh_slope_for_sigmoid(rm, form):  # δi = δc ⊙ g ⊙ (1 − i²): the wrong derivative
        i = g.node("gate_i", 1)
        return (
            rm.adjoints[("c", 1)]
            .multiply_elementwise(g.node("gate_g", 1))
            .multiply_elementwise(i.applyfunc(lambda e: 1 - e**2))
        )

    with pytest.raises(StepFailed, match=r"grad_a_i\(1\)"):
        list(prove_cell_recursion(rm, _mutated(rm, ("a_i", 1), tanh_slope_for_sigmoid)))


def test_gru_without_the_direct_path_fails():
    rm = cell_reverse_mode(_graph("cell=gru", 2))
    g = rm.graph

    def drop_direct(rm, form):
        return form - g.node("gate_z", 2).multiply_elementwise(rm.adjoints[("h", 2)])

    with pytest.raises(StepFailed, match=r"grad_h\(1\)"):
        list(prove_cell_recursion(rm, _mutated(rm, ("h", 1), drop_direct)))


def test_gru_hidden_bias_of_n_without_r_fails():
    rm = cell_reverse_mode(_graph("cell=gru,biases=torch", 2))

    def without_r(rm, form):
        return sum((rm.adjoints[("a_n", t)] for t in (1, 2)), sp.zeros(2, 1))

    with pytest.raises(StepFailed, match="grad_b_hn"):
        list(prove_cell_recursion(rm, _mutated_grad(rm, "b_hn", without_r)))


def test_rnn_sigmoid_with_tanh_slope_fails():
    rm = cell_reverse_mode(_graph("activation=sigmoid", 2))
    g = rm.graph
    W = g.blocks["W"]

    def tanh_slope(rm, form):
        slope = g.node("h", 2).applyfunc(lambda e: 1 - e**2)
        return (
            W.T * slope.multiply_elementwise(rm.adjoints[("h", 2)])
            + g.blocks["V"].T * rm.adjoints[("o", 1)]
        )

    with pytest.raises(StepFailed, match=r"grad_h\(1\)"):
        list(prove_cell_recursion(rm, _mutated(rm, ("h", 1), tanh_slope)))


def test_mean_time_without_the_scale_fails():
    rm = cell_reverse_mode(_graph("cell=lstm,head=mse,reduction=mean-time", 2))
    g = rm.graph

    def unscaled(rm, form):
        return g.node("o", 2) - g.targets[2]

    with pytest.raises(StepFailed, match=r"grad_o\(2\)"):
        list(prove_cell_recursion(rm, _mutated(rm, ("o", 2), unscaled)))


# --- bad input -----------------------------------------------------------------------------


def test_bad_model_and_sizes_are_clear_errors():
    with pytest.raises(ModelError, match="cell='lsmt' is not known"):
        cell_graph("cell=lsmt", 2, 1, 1, 2)
    with pytest.raises(SizeLimitError, match="pass n_y=None"):
        cell_graph("head=given", 2, 1, 1, 2)
    with pytest.raises(SizeLimitError, match="give its size n_y"):
        cell_graph("cell=lstm", 2, 1, 1)
    with pytest.raises(SizeLimitError, match="above the limit"):
        cell_graph("cell=gru", 40, 1, 1, 2)
    with pytest.raises(ModelError, match="T = 2 steps"):
        cell_graph("task=step=3", 2, 1, 1, 2)
    with pytest.raises(TypeError, match="cell_graph"):
        cell_reverse_mode("cell=lstm")


def test_numeric_input_errors_name_the_problem():
    rm = cell_reverse_mode(_graph("cell=lstm,reduction=mean-batch", 1))
    model = rm.graph.model
    params, x, y, _, _ = _point(model, 1, 2, 2, 2, seed=0)
    numeric = NumericCell(rm)
    with pytest.raises(NumericInputError, match="missing"):
        numeric({k: v for k, v in params.items() if k != "W_f"}, x, y)
    with pytest.raises(NumericInputError, match="'U_i' has shape"):
        numeric(params | {"U_i": np.zeros((3, 3))}, x, y)
    with pytest.raises(NumericInputError, match="x has shape"):
        numeric(params, np.zeros((2, 2)), y)
    with pytest.raises(NumericInputError, match="batch=3"):
        numeric(params, np.zeros((1, 3, 2)), np.zeros((1, 3), dtype=int))
    with pytest.raises(NumericInputError, match="h0 has shape"):
        numeric(params, x, y, np.zeros(5))
