"""rnn_num.from_torch / to_torch, and rnn_num's gated cells against torch's own autograd.

torch is an independent implementation of the same three cells: its forward outputs and
the gradients its autograd computes must equal rnn_num's on the converted parameters.
"""

import numpy as np
import pytest

import rnn_num
from rnn_spec import Model

torch = pytest.importorskip("torch")  # in the test extra; optional for users only

T, B, N_X, N_H, N_Y = 5, 3, 4, 3, 2


def _modules(kind: str, bias: bool = True, batch_first: bool = False, **kw):
    torch.manual_seed(0)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    module = cls(N_X, N_H, bias=bias, batch_first=batch_first, dtype=torch.float64, **kw)
    linear = torch.nn.Linear(N_H, N_Y, dtype=torch.float64)
    return module, linear


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, B, N_X)), rng.integers(0, N_Y, size=(T, B))


def _torch_loss_and_grads(module, linear, x, y, reduction, batch_first=False):
    module.zero_grad()
    linear.zero_grad()
    xt = torch.tensor(x.transpose(1, 0, 2) if batch_first else x)
    out, _ = module(xt)
    if batch_first:
        out = out.transpose(0, 1)
    logits = linear(out)
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, N_Y), torch.tensor(y).reshape(-1), reduction=reduction
    )
    loss.backward()
    return loss.item(), out.detach().numpy()


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_gradients_equal_torch_autograd(kind, reduction):
    module, linear = _modules(kind)
    x, y = _data()
    torch_loss, _ = _torch_loss_and_grads(module, linear, x, y, reduction)
    model, params, torch_grads = rnn_num.from_torch(module, linear, grads=True)
    assert model.biases == "torch" and model.cell == kind
    model = model.replace(reduction=reduction)
    loss, grads = rnn_num.loss_and_grads(params, x, y, model=model)
    assert loss == pytest.approx(torch_loss, rel=1e-12)
    assert set(torch_grads) == set(model.block_names())
    for name, g in torch_grads.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_hidden_states_equal_torch_forward(kind):
    module, linear = _modules(kind)
    x, y = _data(1)
    _, out = _torch_loss_and_grads(module, linear, x, y, "sum")
    model, params = rnn_num.from_torch(module, linear)
    fw = rnn_num.forward(params, x, model=model)
    np.testing.assert_allclose(fw.h, out, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("kind", "kw"), [("rnn", {"nonlinearity": "relu"}), ("lstm", {}), ("gru", {})]
)
def test_batch_first_modules_convert_alike(kind, kw):
    module, linear = _modules(kind, batch_first=True, **kw)
    x, y = _data(2)
    torch_loss, _ = _torch_loss_and_grads(module, linear, x, y, "sum", batch_first=True)
    model, params, torch_grads = rnn_num.from_torch(module, linear, grads=True)
    assert model.activation == ("relu" if kind == "rnn" else None)
    loss, grads = rnn_num.loss_and_grads(params, x, y, model=model)
    assert loss == pytest.approx(torch_loss, rel=1e-12)
    for name, g in torch_grads.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_given_head_bias_free_layer_and_initial_states_equal_torch(kind):
    # No Linear: head=given, L = Σ_t ⟨g_t, h_t⟩; bias=False: biases=none; h0 (and c0) per
    # sequence, handed to torch as its (1, B, n_h) initial state.
    module, _ = _modules(kind, bias=False)
    rng = np.random.default_rng(5)
    x, g = rng.standard_normal((T, B, N_X)), rng.standard_normal((T, B, N_H))
    init = {"h0": rng.standard_normal((B, N_H))}
    if kind == "lstm":
        init["c0"] = rng.standard_normal((B, N_H))
    states = {k: torch.tensor(v[None], requires_grad=True) for k, v in init.items()}
    arg = (states["h0"], states["c0"]) if kind == "lstm" else states["h0"]
    out, _ = module(torch.tensor(x), arg)
    (out * torch.tensor(g)).sum().backward()
    model, params, torch_grads = rnn_num.from_torch(module, grads=True)
    assert (model.head, model.biases) == ("given", "none")
    model = model.replace(h0="per-sequence")
    _, grads = rnn_num.loss_and_grads(params, x, g, init["h0"], c0=init.get("c0"), model=model)
    torch_grads.update({k: s.grad.numpy()[0] for k, s in states.items()})
    assert set(torch_grads) == set(grads)
    for name, tg in torch_grads.items():
        np.testing.assert_allclose(grads[name], tg, rtol=1e-10, atol=1e-12, err_msg=name)


def test_float32_modules_stay_float32_both_ways():
    torch.manual_seed(1)
    module, linear = torch.nn.GRU(N_X, N_H), torch.nn.Linear(N_H, N_Y)
    model, params = rnn_num.from_torch(module, linear)
    assert all(a.dtype == np.float32 for a in params.values())
    back, back_linear = rnn_num.to_torch(model, params)
    assert back.weight_ih_l0.dtype == torch.float32
    for k, v in module.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    assert torch.equal(back_linear.weight, linear.weight)


def test_gru_b_hn_gets_its_own_gradient():
    module, linear = _modules("gru")
    x, y = _data(3)
    _torch_loss_and_grads(module, linear, x, y, "sum")
    _, _, g = rnn_num.from_torch(module, linear, grads=True)
    # b_hn sits inside r ⊙ (…): its gradient differs from b_in's; the others' pairs agree
    assert not np.allclose(g["b_hn"], g["b_in"])
    np.testing.assert_allclose(g["b_hr"], g["b_ir"], rtol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bias", [True, False])
def test_round_trip_reproduces_state_dict_exactly(kind, bias):
    module, linear = _modules(kind, bias=bias)
    model, params = rnn_num.from_torch(module, linear)
    assert model.biases == ("torch" if bias else "output")
    back, back_linear = rnn_num.to_torch(model, params)
    for a, b in ((module, back), (linear, back_linear)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), k


def test_layer_without_head_is_head_given():
    module, _ = _modules("lstm")
    model, params = rnn_num.from_torch(module)
    assert model.head == "given" and "V" not in params
    back, linear = rnn_num.to_torch(model, params)
    assert linear is None and isinstance(back, torch.nn.LSTM)


def test_single_biases_go_to_torch_as_b_ih_with_zero_b_hh():
    model = Model(cell="gru")
    params = rnn_num.init_params(N_X, N_H, N_Y, seed=4, model=model)
    module, linear = rnn_num.to_torch(model, params)
    x, y = _data(4)
    torch_loss, out = _torch_loss_and_grads(module, linear, x, y, "sum")
    assert rnn_num.compute_loss(params, x, y, model=model) == pytest.approx(torch_loss, rel=1e-12)
    assert not module.bias_hh_l0.detach().numpy().any()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: (torch.nn.LSTM(2, 3, num_layers=2), None), "num_layers=2"),
        (lambda: (torch.nn.GRU(2, 3, bidirectional=True), None), "bidirectional"),
        (lambda: (torch.nn.LSTM(2, 3, proj_size=2), None), "proj_size=2"),
        (lambda: (torch.nn.Linear(2, 3), None), "got Linear"),
        (lambda: (torch.nn.RNN(2, 3), torch.nn.Linear(4, 2)), "in_features=4"),
        (lambda: (torch.nn.RNN(2, 3), torch.nn.Linear(3, 2, bias=False)), "Linear\\(bias=False\\)"),
    ],
)
def test_modules_without_a_model_are_clear_errors(make, message):
    module, linear = make()
    with pytest.raises((ValueError, TypeError), match=message):
        rnn_num.from_torch(module, linear)


def test_grads_without_backward_and_bad_params_are_clear_errors():
    module, linear = _modules("gru")
    with pytest.raises(ValueError, match="no gradient.*loss.backward"):
        rnn_num.from_torch(module, linear, grads=True)
    model, params = rnn_num.from_torch(module, linear)
    del params["b_hn"]
    with pytest.raises(ValueError, match=r"missing \['b_hn'\]"):
        rnn_num.to_torch(model, params)
    with pytest.raises(ValueError, match="activation=identity"):
        rnn_num.to_torch(Model(activation="identity"), {})


def test_rnn_num_imports_torch_only_when_a_module_is_converted():
    import subprocess
    import sys

    code = (
        "import sys, rnn_num; assert 'torch' not in sys.modules, 'imported by rnn_num'; "
        "from rnn_num import from_torch; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
