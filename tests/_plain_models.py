"""An independent plain-loop forward pass and loss for every model of rnn_spec.

This is the executable statement of what each model option means. It shares no code with
rnn_num's kernels or rnn_sym's cells: one sample, one step, one column vector at a time,
written straight from the equations of docs/models.md (torch.nn.LSTM / GRU docs for the
gated cells). Tests compare rnn_num's and rnn_sym's gradients with central differences of
`plain_loss`.

Array conventions are rnn_num's: x (T, n_x) or (T, B, n_x); y as the head needs it (see
`plain_loss`); h0 / c0 None (zeros), (n_h,) shared, or (B, n_h) per sequence.
"""

from __future__ import annotations

import math

import numpy as np

from rnn_spec import Model


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return np.array([1.0 / (1.0 + math.exp(-float(e))) for e in v])


def _act(name: str, v: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(v)
    if name == "sigmoid":
        return _sigmoid(v)
    if name == "relu":
        return np.where(v > 0, v, 0.0)
    return v.copy()  # identity


def _bias(model: Model, p: dict, gate: str | None, n_h: int) -> tuple[np.ndarray, np.ndarray]:
    """(input-side bias, recurrent-side bias) of one hidden pre-activation; zeros if absent."""
    zero = np.zeros(n_h)
    if model.biases == "torch":
        if gate is None:
            return p["b_ih"], p["b_hh"]
        return p[f"b_i{gate}"], p[f"b_h{gate}"]
    if model.hidden_biases:
        return (p["b"] if gate is None else p[f"b_{gate}"]), zero
    return zero, zero


def _step(model: Model, p: dict, x: np.ndarray, h: np.ndarray, c: np.ndarray | None):
    """One step of one sample: (h_t, c_t) from x_t, h_{t-1}, c_{t-1}."""
    n_h = h.shape[0]
    if model.cell == "rnn":
        bi, bh = _bias(model, p, None, n_h)
        return _act(model.activation, p["U"] @ x + bi + p["W"] @ h + bh), None
    if model.cell == "lstm":
        pre = {}
        for g in "ifgo":
            bi, bh = _bias(model, p, g, n_h)
            pre[g] = p[f"U_{g}"] @ x + bi + p[f"W_{g}"] @ h + bh
        i, f, o = _sigmoid(pre["i"]), _sigmoid(pre["f"]), _sigmoid(pre["o"])
        g = np.tanh(pre["g"])
        c_new = f * c + i * g
        return o * np.tanh(c_new), c_new
    # gru, torch's equations: r applied to (W_hn h + b_hn)
    bir, bhr = _bias(model, p, "r", n_h)
    biz, bhz = _bias(model, p, "z", n_h)
    bin_, bhn = _bias(model, p, "n", n_h)
    r = _sigmoid(p["U_r"] @ x + bir + p["W_r"] @ h + bhr)
    z = _sigmoid(p["U_z"] @ x + biz + p["W_z"] @ h + bhz)
    n = np.tanh(p["U_n"] @ x + bin_ + r * (p["W_n"] @ h + bhn))
    return (1 - z) * n + z * h, None


def _term(model: Model, p: dict, h: np.ndarray, y: np.ndarray) -> float:
    """The loss term of one sample at one step with a target."""
    if model.head == "given":
        return float(y @ h)  # y is ∂L/∂h_t: L = Σ_t ⟨g_t, h_t⟩ has exactly that gradient
    o = p["V"] @ h + (p["c"] if model.output_bias else 0.0)
    if model.head == "generic":
        return float(y @ o)  # y is ∇_{o_t} l: a linear surrogate with that gradient
    if model.head == "mse":
        sq = float((o - y) @ (o - y))
        return 0.5 * sq if model.mse_scale == "half" else sq
    m = max(float(e) for e in o)
    log_norm = m + math.log(sum(math.exp(float(e) - m) for e in o))
    return float(-(y @ (o - log_norm)))


def plain_loss(
    model: Model,
    params: dict,
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> float:
    """L for `model`. y per step with a loss (all t, or the one step of many-to-one /
    step=K, which then has no time axis):
      softmax-ce: class indices ([B]) or one-hot / weights ([B,] n_y);  mse: ([B,] n_y);
      generic: ∇_{o_t} l ([B,] n_y);  given: ∂L/∂h_t (T, [B,] n_h).
    """
    p = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    x = np.asarray(x, dtype=float)
    batched = x.ndim == 3
    xb = x if batched else x[:, None, :]
    T, B, _ = xb.shape
    n_h = p["W" if model.cell == "rnn" else "W_" + model.gates[0]].shape[0]
    steps = model.loss_steps(T)
    yb = np.asarray(y)
    one_target = model.task != "many-to-many"
    if one_target:
        yb = yb[None]  # give it a time axis of length 1
    if not batched:
        yb = yb[:, None]
    if model.head == "softmax-ce" and yb.ndim == 2:  # class indices -> one-hot
        n_y = p["V"].shape[0]
        yb = np.eye(n_y)[yb]
    h_init = np.zeros((B, n_h)) if h0 is None else np.broadcast_to(np.asarray(h0, float), (B, n_h))
    c_init = np.zeros((B, n_h)) if c0 is None else np.broadcast_to(np.asarray(c0, float), (B, n_h))
    total = 0.0
    for s in range(B):
        h, c = h_init[s].copy(), c_init[s].copy()
        for t in range(1, T + 1):
            h, c = _step(model, p, xb[t - 1, s], h, c)
            if t in steps:
                row = steps.index(t) if one_target else t - 1
                total += _term(model, p, h, yb[row, s])
    return total / model.loss_scale_denominator(T, B)


def plain_gradients(
    model: Model,
    params: dict,
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    eps: float = 1e-6,
) -> dict[str, np.ndarray]:
    """Central differences of `plain_loss` for every block and for h0 (, c0).

    The initial states are differentiated at the value given (zeros when None), with the
    shape given ((n_h,) or (B, n_h); (n_h,) when None and x is unbatched, (B, n_h) when None
    and x is batched).
    """
    x = np.asarray(x, dtype=float)
    n_h = np.asarray(params["W" if model.cell == "rnn" else "W_" + model.gates[0]]).shape[0]
    default = (n_h,) if x.ndim == 2 else (x.shape[1], n_h)
    states = {"h0": h0, "c0": c0}
    values = {k: np.array(v, dtype=float) for k, v in params.items()}
    for name in model.initial_states:
        given = states[name]
        values[name] = np.zeros(default) if given is None else np.array(given, dtype=float)

    def loss(vals: dict) -> float:
        blocks = {k: vals[k] for k in params}
        return plain_loss(model, blocks, x, y, vals["h0"], vals.get("c0"))

    grads = {}
    for name, arr in values.items():
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = loss(values)
            arr[idx] = old - eps
            down = loss(values)
            arr[idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads[name] = g
    return grads
