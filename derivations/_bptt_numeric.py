"""Numbers for the BPTT cross-checks: an independent loss, random points, the comparisons.

`plain_loss` is the canonical RNN loss written out again in plain NumPy (not rnn_num,
not lambdified SymPy), so central finite differences of it are an independent reference.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from derivations._numeric import central_gradient, relative_error

PARAMETER_NAMES = ("U", "W", "V", "b", "c", "h0")


def plain_loss(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray,
    *,
    many_to_one: bool = False,
) -> float:
    """Σ_t −log softmax(c + V h_t)[y_t], h_t = tanh(b + W h_{t−1} + U x_t); only t = T if many_to_one."""
    h = np.asarray(h0, dtype=np.float64)
    T = len(x)
    total = 0.0
    for t in range(T):
        h = np.tanh(params["b"] + params["W"] @ h + params["U"] @ x[t])
        if many_to_one and t < T - 1:
            continue
        o = params["c"] + params["V"] @ h
        label = int(y) if many_to_one else int(y[t])
        total += np.log(np.sum(np.exp(o - o.max()))) + o.max() - o[label]
    return float(total)


def random_point(
    seed: int, T: int, n_x: int, n_h: int, n_y: int, *, many_to_one: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """(params, x, y, h0) drawn from a fixed-seed generator; h0 nonzero."""
    rng = np.random.default_rng(seed)
    params = {
        "U": rng.normal(scale=0.6, size=(n_h, n_x)),
        "W": rng.normal(scale=0.6, size=(n_h, n_h)),
        "V": rng.normal(scale=0.6, size=(n_y, n_h)),
        "b": rng.normal(scale=0.3, size=n_h),
        "c": rng.normal(scale=0.3, size=n_y),
    }
    x = rng.normal(size=(T, n_x))
    y = np.int64(rng.integers(0, n_y)) if many_to_one else rng.integers(0, n_y, size=T)
    h0 = rng.uniform(0.2, 0.8, size=n_h) * rng.choice([-1.0, 1.0], size=n_h)
    return params, x, y, h0


def fd_gradients(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray,
    *,
    many_to_one: bool = False,
) -> dict[str, np.ndarray]:
    """Central finite differences of `plain_loss` for U, W, V, b, c and h0."""
    out = {}
    for name in PARAMETER_NAMES:
        base = h0 if name == "h0" else params[name]

        def f(value: np.ndarray, name: str = name) -> float:
            if name == "h0":
                return plain_loss(params, x, y, value, many_to_one=many_to_one)
            return plain_loss(params | {name: value}, x, y, h0, many_to_one=many_to_one)

        out[name] = central_gradient(f, base)
    return out


def _worse(a: float, b: float) -> float:
    """The larger error; NaN wins (max() would silently drop it)."""
    return float("nan") if np.isnan(a) or np.isnan(b) else max(a, b)


GradFn = Callable[..., tuple[float, dict[str, np.ndarray]]]


def max_errors(
    grads: GradFn,
    seeds: tuple[int, ...],
    T: int,
    n_x: int,
    n_h: int,
    n_y: int,
    *,
    many_to_one: bool = False,
    reference: GradFn | None = None,
) -> dict[str, tuple[float, float]]:
    """Per gradient: (max rel. error against `reference` (NaN if None), against finite differences)."""
    worst = {name: [float("nan") if reference is None else 0.0, 0.0] for name in PARAMETER_NAMES}
    for seed in seeds:
        params, x, y, h0 = random_point(seed, T, n_x, n_h, n_y, many_to_one=many_to_one)
        _, mine = grads(params, x, y, h0)
        fd = fd_gradients(params, x, y, h0, many_to_one=many_to_one)
        ref = reference(params, x, y, h0)[1] if reference is not None else None
        for name in PARAMETER_NAMES:
            if ref is not None:
                worst[name][0] = _worse(worst[name][0], relative_error(mine[name], ref[name]))
            worst[name][1] = _worse(worst[name][1], relative_error(mine[name], fd[name]))
    return {name: (v[0], v[1]) for name, v in worst.items()}


# --- every rnn_spec model (the LSTM, the GRU, the vanilla variants) ---------------------------
# Written again from the equations (torch's for the gated cells), one step and one column at
# a time, sharing nothing with rnn_num or with the symbolic graphs of derivations/_graph.py.


def _sig(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _pre(model, p: dict, gate: str | None, x: np.ndarray, h: np.ndarray) -> tuple:
    """(input side U x + b_i, recurrent side W h + b_h) of one pre-activation."""
    suffix = "" if gate is None else f"_{gate}"
    inner, outer = p[f"U{suffix}"] @ x, p[f"W{suffix}"] @ h
    if model.biases == "torch":
        ih, hh = ("b_ih", "b_hh") if gate is None else (f"b_i{gate}", f"b_h{gate}")
        inner, outer = inner + p[ih], outer + p[hh]
    elif model.hidden_biases:
        inner = inner + p[f"b{suffix}"]
    return inner, outer


def plain_model_loss(
    model, params: dict, x: np.ndarray, y: np.ndarray, h0: np.ndarray, c0: np.ndarray | None = None
) -> float:
    """L of one unbatched sequence for an rnn_spec model (heads softmax-ce with class indices,
    mse, given: y holds ∂L/∂h_t, shape (T, n_h)); divided as model.reduction says."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    h = np.asarray(h0, dtype=np.float64)
    c = np.zeros_like(h) if c0 is None else np.asarray(c0, dtype=np.float64)
    T = len(x)
    steps = model.loss_steps(T)
    total = 0.0
    for t in range(1, T + 1):
        xt = x[t - 1]
        if model.cell == "lstm":
            i, f, g, o = (sum(_pre(model, p, q, xt, h)) for q in "ifgo")
            c = _sig(f) * c + _sig(i) * np.tanh(g)
            h = _sig(o) * np.tanh(c)
        elif model.cell == "gru":
            r = _sig(sum(_pre(model, p, "r", xt, h)))
            z = _sig(sum(_pre(model, p, "z", xt, h)))
            inner, outer = _pre(model, p, "n", xt, h)
            h = (1 - z) * np.tanh(inner + r * outer) + z * h
        else:
            a = sum(_pre(model, p, None, xt, h))
            h = {
                "tanh": np.tanh,
                "sigmoid": _sig,
                "relu": lambda v: np.maximum(v, 0.0),
                "identity": lambda v: v,
            }[model.activation](a)
        if t not in steps:
            continue
        target = y[t - 1] if model.task == "many-to-many" else y
        if model.head == "given":
            total += float(np.asarray(target) @ h)
            continue
        o = p["V"] @ h + (p["c"] if model.output_bias else 0.0)
        if model.head == "mse":
            total += float((o - target) @ (o - target)) * (0.5 if model.mse_scale == "half" else 1)
        else:
            total += float(np.log(np.sum(np.exp(o - o.max()))) + o.max() - o[int(target)])
    return total / model.loss_scale_denominator(T, 1)


def random_model_point(model, seed: int, T: int, n_x: int, n_h: int, n_y: int | None) -> tuple:
    """(params keyed by model.block_names(), x, y, h0, c0) from a fixed seed; h0, c0 nonzero."""
    rng = np.random.default_rng(seed)
    params = {
        b.name: rng.normal(scale=0.3 if b.role in ("bias", "output-bias") else 0.6, size=b.shape)
        for b in model.blocks(n_x, n_h, n_y if model.has_output_layer else None)
    }
    x = rng.normal(size=(T, n_x))
    rows = T if model.task == "many-to-many" else None
    if model.head == "given":
        y = rng.normal(size=(T, n_h))
    elif model.head == "mse":
        y = rng.normal(size=(n_y,) if rows is None else (rows, n_y))
    else:
        y = np.int64(rng.integers(0, n_y)) if rows is None else rng.integers(0, n_y, size=rows)
    h0 = rng.uniform(0.2, 0.8, size=n_h) * rng.choice([-1.0, 1.0], size=n_h)
    c0 = rng.uniform(0.2, 0.8, size=n_h) * rng.choice([-1.0, 1.0], size=n_h)
    return params, x, y, h0, (c0 if model.cell == "lstm" else None)


def fd_model_gradients(
    model,
    params: dict,
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray | None,
    names: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Central differences of `plain_model_loss` for `names` (default: every block, h0 (, c0))."""
    out = {}
    for name in model.gradient_names() if names is None else names:
        if name == "h0":
            out[name] = central_gradient(lambda v: plain_model_loss(model, params, x, y, v, c0), h0)
        elif name == "c0":
            out[name] = central_gradient(lambda v: plain_model_loss(model, params, x, y, h0, v), c0)
        else:

            def f(v: np.ndarray, name: str = name) -> float:
                return plain_model_loss(model, params | {name: v}, x, y, h0, c0)

            out[name] = central_gradient(f, params[name])
    return out
