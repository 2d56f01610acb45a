"""From and to PyTorch: torch.nn.RNN / LSTM / GRU (+ an optional Linear head) as (Model, params).

The conversion only re-arranges arrays: torch stacks the gates of weight_ih_l0 (and of
weight_hh_l0, bias_ih_l0, bias_hh_l0) in the order i, f, g, o (LSTM) or r, z, n (GRU); each
slice becomes its own block (U_q, W_q, b_iq, b_hq). No two arrays are ever summed, so every
bias keeps its own gradient. torch is imported only when a module is handed in.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rnn_spec import Model, parse_model

_TORCH_CELLS = {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
_GATES = {"rnn": (None,), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def _cell_of(module: object) -> str:
    kind = type(module).__name__
    try:
        import torch
    except ImportError:  # pragma: no cover - a torch module exists only with torch
        raise TypeError(f"from_torch needs torch to read a {kind}; install torch") from None
    if not isinstance(module, torch.nn.RNNBase) or kind not in _TORCH_CELLS:
        raise TypeError(
            f"from_torch reads torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU; got {kind}. "
            "Fix: pass the recurrent layer itself (and its Linear head as linear=)"
        )
    if module.num_layers != 1:
        raise ValueError(
            f"from_torch reads one layer; this {kind} has num_layers={module.num_layers}. "
            f"Fix: convert each layer separately (one torch.nn.{kind} per layer)"
        )
    if module.bidirectional:
        raise ValueError(
            f"from_torch reads a unidirectional {kind}; this one is bidirectional. "
            "Fix: use bidirectional=False (rnn_spec has no bidirectional model)"
        )
    if getattr(module, "proj_size", 0):
        raise ValueError(
            f"from_torch reads an LSTM without projection; this one has proj_size="
            f"{module.proj_size}. Fix: use proj_size=0"
        )
    return _TORCH_CELLS[kind]


def _array(tensor: object) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def _model_of(module: object, linear: object | None, cell: str) -> Model:
    has_linear = linear is not None
    if has_linear:
        import torch

        if not isinstance(linear, torch.nn.Linear):
            raise TypeError(f"linear must be a torch.nn.Linear; got {type(linear).__name__}")
        if linear.in_features != module.hidden_size:
            raise ValueError(
                f"linear has in_features={linear.in_features} but the {type(module).__name__} "
                f"has hidden_size={module.hidden_size}; the head reads h_t, so they must agree"
            )
    cell_bias = bool(module.bias)
    out_bias = has_linear and linear.bias is not None
    if cell_bias and has_linear and not out_bias:
        raise ValueError(
            "a recurrent layer with biases and a Linear(bias=False) head has no model option: "
            "biases=torch carries the head's bias c too. Fix: give the Linear a bias (zero it "
            "if you like), or build the layer with bias=False"
        )
    biases = "torch" if cell_bias else ("output" if out_bias else "none")
    options: dict[str, object] = {"cell": cell, "biases": biases}
    if cell == "rnn":
        options["activation"] = module.nonlinearity
    if not has_linear:
        options["head"] = "given"
    return Model(**options)


def _blocks(module: object, linear: object | None, model: Model, grads: bool) -> dict:
    """The arrays of the blocks (or of their gradients), named by the model."""

    def take(name: str, tensor: object) -> np.ndarray:
        if grads:
            if tensor.grad is None:
                raise ValueError(
                    f"{name} has no gradient (its .grad is None); run loss.backward() before "
                    "from_torch(..., grads=True)"
                )
            return _array(tensor.grad)
        return _array(tensor)

    n_h = module.hidden_size
    w_ih = take("weight_ih_l0", module.weight_ih_l0)
    w_hh = take("weight_hh_l0", module.weight_hh_l0)
    b_ih = take("bias_ih_l0", module.bias_ih_l0) if module.bias else None
    b_hh = take("bias_hh_l0", module.bias_hh_l0) if module.bias else None
    out: dict[str, np.ndarray] = {}
    gates = _GATES[model.cell]
    for k, gate in enumerate(gates):
        rows = slice(k * n_h, (k + 1) * n_h)
        suffix = "" if gate is None else f"_{gate}"
        out[f"U{suffix}"] = w_ih[rows].copy()
        out[f"W{suffix}"] = w_hh[rows].copy()
        if b_ih is not None:
            ih, hh = ("b_ih", "b_hh") if gate is None else (f"b_i{gate}", f"b_h{gate}")
            out[ih] = b_ih[rows].copy()
            out[hh] = b_hh[rows].copy()
    if linear is not None:
        out["V"] = take("linear.weight", linear.weight)
        if linear.bias is not None:
            out["c"] = take("linear.bias", linear.bias)
    return {name: out[name] for name in model.block_names()}


def from_torch(
    module: object, linear: object | None = None, *, grads: bool = False
) -> tuple[Model, dict[str, np.ndarray]] | tuple[Model, dict, dict]:
    """(model, params) of a one-layer torch.nn.RNN, LSTM or GRU and an optional Linear head.

    The model has biases=torch when the layer has biases (none / output otherwise), the
    layer's nonlinearity for an RNN, and head=given without a Linear; the loss is not part of
    a module, so the head is softmax-ce and the reduction sum: change them with
    `model.replace(head="mse", reduction="mean")` to match your loss. batch_first does not
    change the parameters; rnn_num's x is time-major (x.transpose(1, 0, 2) a batch-first x).

    grads=True: (model, params, grads), grads converted from the tensors' .grad the same way
    (after your loss.backward()), keyed like rnn_num.loss_and_grads' grads without h0 / c0.
    Arrays keep the module's dtype.
    """
    if not isinstance(grads, bool):
        raise TypeError(f"grads must be True or False; got {grads!r}")
    cell = _cell_of(module)
    model = _model_of(module, linear, cell)
    params = _blocks(module, linear, model, grads=False)
    if not grads:
        return model, params
    return model, params, _blocks(module, linear, model, grads=True)


def to_torch(
    model: Model | str | Mapping[str, object] | None, params: Mapping[str, np.ndarray]
) -> tuple[object, object | None]:
    """(module, linear) carrying `params`: a torch.nn.RNN / LSTM / GRU and a Linear head
    (None for head=given), float64 when the params are float64, float32 otherwise.

    Each block goes to its slice of torch's stacked tensors. Models whose hidden biases are
    single (biases=both/hidden) are written with b_hh = 0, which computes the same function
    (for the GRU, b_n is the input-side bias b_in). torch.nn.RNN has only tanh and relu.
    """
    import torch

    m = parse_model(model)
    if m.cell == "rnn" and m.activation not in ("tanh", "relu"):
        raise ValueError(
            f"torch.nn.RNN has nonlinearity tanh or relu; this model has activation="
            f"{m.activation}. Fix: use activation=tanh or relu"
        )
    names = m.block_names()
    missing = [n for n in names if n not in params]
    extra = sorted(str(n) for n in params if n not in names)
    if missing or extra:
        raise ValueError(
            f"params do not fit the model {m.short()}: missing {missing or 'none'}, unknown "
            f"{extra or 'none'}; it needs exactly {', '.join(names)} "
            "(rnn_num.init_params(..., model=...) builds them)"
        )
    arrays = {k: np.asarray(params[k]) for k in names}
    gates = _GATES[m.cell]
    first = "U" if m.cell == "rnn" else f"U_{gates[0]}"
    n_h, n_x = arrays[first].shape
    dtype = torch.float64 if arrays[first].dtype == np.float64 else torch.float32
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[m.cell]
    kwargs: dict[str, object] = {"bias": m.hidden_biases}
    if m.cell == "rnn":
        kwargs["nonlinearity"] = m.activation
    module = cls(n_x, n_h, dtype=dtype, **kwargs)

    def stacked(letter: str) -> np.ndarray:
        return np.concatenate(
            [arrays[letter if g is None else f"{letter}_{g}"] for g in gates], axis=0
        )

    state = {"weight_ih_l0": stacked("U"), "weight_hh_l0": stacked("W")}
    if m.hidden_biases:
        zero = np.zeros(n_h)
        if m.biases == "torch":
            ih = [arrays["b_ih" if g is None else f"b_i{g}"] for g in gates]
            hh = [arrays["b_hh" if g is None else f"b_h{g}"] for g in gates]
        else:
            ih = [arrays["b" if g is None else f"b_{g}"] for g in gates]
            hh = [zero for _ in gates]
        state["bias_ih_l0"] = np.concatenate(ih)
        state["bias_hh_l0"] = np.concatenate(hh)
    module.load_state_dict({k: torch.tensor(v, dtype=dtype) for k, v in state.items()})
    linear = None
    if m.has_output_layer:
        V = arrays["V"]
        linear = torch.nn.Linear(n_h, V.shape[0], bias=m.output_bias, dtype=dtype)
        head_state = {"weight": torch.tensor(V, dtype=dtype)}
        if m.output_bias:
            head_state["bias"] = torch.tensor(arrays["c"], dtype=dtype)
        linear.load_state_dict(head_state)
    return module, linear
