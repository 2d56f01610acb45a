"""`rnn-derive verify --model ...` for every model other than the canonical one.

For one model of rnn_spec: reverse-mode diff of the unrolled graph (rnn_sym.cell_graph,
cell_reverse_mode), the proof node by node that it equals the cell's textbook recursions
(prove_cell_recursion), then the lambdified gradients against rnn_num and against central
finite differences of `plain_loss` below, an independent NumPy loss (neither rnn_num nor
SymPy: one step at a time, straight from the equations of docs/models.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from rnn_spec import Model

_POINTS = 3  # random points per numeric comparison
# relu has a kink at 0 (no derivative there): points with a pre-activation this close to 0
# are redrawn, so finite differences (step 1e-5) never straddle it.
_KINK_MARGIN = 1e-3


def _progress(message: str) -> None:
    print(f"[verify] {message}", file=sys.stderr, flush=True)


# --- an independent loss -----------------------------------------------------------------


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _act(name: str, v: np.ndarray) -> np.ndarray:
    return {"tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda a: np.maximum(a, 0.0)}.get(
        name, lambda a: a
    )(v)


def _gate_bias(model: Model, p: dict, gate: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(input-side, recurrent-side) bias of a pre-activation, 0 where the model has none."""
    if model.biases == "torch":
        return (p["b_ih"], p["b_hh"]) if gate is None else (p[f"b_i{gate}"], p[f"b_h{gate}"])
    if model.hidden_biases:
        return (p["b"] if gate is None else p[f"b_{gate}"]), 0.0
    return 0.0, 0.0


def plain_forward(
    model: Model, p: dict, x: np.ndarray, h: np.ndarray, c: np.ndarray | None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """h_1..h_T of one sequence, and every pre-activation (to keep relu's points off 0)."""
    hs, pre = [], []
    for xt in x:
        if model.cell == "rnn":
            bi, bh = _gate_bias(model, p, None)
            a = p["U"] @ xt + bi + p["W"] @ h + bh
            pre.append(a)
            h = _act(model.activation, a)
        elif model.cell == "lstm":
            z = {}
            for q in "ifgo":
                bi, bh = _gate_bias(model, p, q)
                z[q] = p[f"U_{q}"] @ xt + bi + p[f"W_{q}"] @ h + bh
            c = _sigmoid(z["f"]) * c + _sigmoid(z["i"]) * np.tanh(z["g"])
            h = _sigmoid(z["o"]) * np.tanh(c)
        else:
            b = {q: _gate_bias(model, p, q) for q in "rzn"}
            r = _sigmoid(p["U_r"] @ xt + b["r"][0] + p["W_r"] @ h + b["r"][1])
            z = _sigmoid(p["U_z"] @ xt + b["z"][0] + p["W_z"] @ h + b["z"][1])
            n = np.tanh(p["U_n"] @ xt + b["n"][0] + r * (p["W_n"] @ h + b["n"][1]))
            h = (1 - z) * n + z * h
        hs.append(h)
    return hs, pre


def plain_loss(model: Model, p: dict, x, y, h0=None, c0=None) -> float:
    """L of `model` for x (T, [B,] n_x) and y as rnn_num takes it (one target: no time axis)."""
    x = np.asarray(x, dtype=float)
    xb = x if x.ndim == 3 else x[:, None]
    T, B, _ = xb.shape
    n_h = p["W" if model.cell == "rnn" else f"W_{model.gates[0]}"].shape[0]
    steps = model.loss_steps(T)
    one = model.task != "many-to-many"
    y = np.asarray(y)
    yb = y if x.ndim == 3 else (y[None] if one else y[:, None])
    h_init = np.broadcast_to(np.zeros(n_h) if h0 is None else np.asarray(h0, float), (B, n_h))
    c_init = np.broadcast_to(np.zeros(n_h) if c0 is None else np.asarray(c0, float), (B, n_h))
    total = 0.0
    for s in range(B):
        hs, _ = plain_forward(model, p, xb[:, s], h_init[s], c_init[s])
        for t in steps:
            target = yb[s] if one else yb[t - 1, s]
            h = hs[t - 1]
            if model.head == "given":
                total += float(target @ h)
                continue
            o = p["V"] @ h + (p["c"] if model.output_bias else 0.0)
            if model.head == "generic":
                total += float(target @ o)
            elif model.head == "mse":
                sq = float((o - target) @ (o - target))
                total += 0.5 * sq if model.mse_scale == "half" else sq
            else:
                log_z = o.max() + np.log(np.sum(np.exp(o - o.max())))
                total += float(log_z - o[int(target)])
    return total / model.loss_scale_denominator(T, B)


# --- random points ---------------------------------------------------------------------------


def batch_size(model: Model) -> int | None:
    """B for the numeric points: 2 where the model's options are about batches, else None."""
    if model.reduction in ("mean-batch", "mean") or model.h0 == "per-sequence":
        return 2
    return None


def random_point(model: Model, seed: int, T: int, n_x: int, n_h: int, n_y: int | None):
    """(params, x, y, h0, c0) from a fixed-seed generator; h0, c0 nonzero unless h0=zero."""
    rng = np.random.default_rng(seed)
    params = {}
    for b in model.blocks(n_x, n_h, n_y):
        scale = 0.6 if b.role in ("input", "recurrent", "output") else 0.3
        params[b.name] = rng.normal(scale=scale, size=b.shape)
    B = batch_size(model)
    batch = () if B is None else (B,)
    x = rng.normal(size=(T, *batch, n_x))
    time_axis = (T,) if model.task == "many-to-many" else ()
    if model.head == "softmax-ce":
        y = rng.integers(0, n_y, size=time_axis + batch)
    elif model.head == "given":
        y = rng.normal(size=(T, *batch, n_h))
    else:
        y = rng.normal(size=(*time_axis, *batch, n_y))
    states: dict[str, np.ndarray | None] = {}
    for name in ("h0", "c0"):
        if model.h0 == "zero" or name not in model.initial_states:
            states[name] = None
        else:
            shape = (n_h,) if model.h0 == "shared" else (B, n_h)
            states[name] = rng.uniform(0.2, 0.8, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return params, x, y, states["h0"], states["c0"]


def _near_kink(model: Model, params, x, h0) -> bool:
    if model.cell != "rnn" or model.activation != "relu":
        return False
    x = np.asarray(x)
    xb = x if x.ndim == 3 else x[:, None]
    n_h = params["W"].shape[0]
    h_init = np.broadcast_to(np.zeros(n_h) if h0 is None else h0, (xb.shape[1], n_h))
    for s in range(xb.shape[1]):
        _, pre = plain_forward(model, params, xb[:, s], h_init[s], None)
        if min(float(np.min(np.abs(a))) for a in pre) < _KINK_MARGIN:
            return True
    return False


def _fd_gradients(model: Model, params, x, y, h0, c0, names, n_h: int) -> dict[str, np.ndarray]:
    from derivations._numeric import central_gradient

    B = np.asarray(x).shape[1] if np.ndim(x) == 3 else None
    default = np.zeros((n_h,) if B is None else (B, n_h))
    states = {"h0": default if h0 is None else h0, "c0": default if c0 is None else c0}
    out = {}
    for name in names:
        if name in states:

            def f(v, name=name):
                s = states | {name: v}
                return plain_loss(model, params, x, y, s["h0"], s["c0"])

            out[name] = central_gradient(f, states[name])
        else:
            out[name] = central_gradient(
                lambda v, name=name: plain_loss(model, params | {name: v}, x, y, h0, c0),
                params[name],
            )
    return out


# --- the command ---------------------------------------------------------------------------


def verify_model(
    args: argparse.Namespace,
    model: Model,
    only: tuple[str, ...],
    ticker: Callable[[str], Callable[[int, int], None]],
) -> int:
    """The table for one model; 0 if everything agrees, 1 otherwise (a failed proof raises)."""
    import rnn_num
    from derivations._numeric import FD_TOLERANCE, RNN_NUM_TOLERANCE, relative_error
    from rnn_sym import NumericCell, cell_graph, cell_reverse_mode, prove_cell_recursion

    T, n_x, n_h = args.T, args.n_x, args.n_h
    n_y = args.n_y if model.has_output_layer else None
    began = time.perf_counter()
    seconds = dict.fromkeys(only, 0.0)
    B = batch_size(model)
    sizes = f"T={T}, n_x={n_x}, n_h={n_h}" + (f", n_y={n_y}" if n_y else "")
    _progress(f"model {model.short()}: reverse-mode diff of the unrolled graph, {sizes}")
    graph = cell_graph(model, T, n_x, n_h, n_y, batch=B or 1)
    rm = cell_reverse_mode(graph, progress=ticker("nodes differentiated:"))
    _progress(f"  {len(graph.graph)} nodes and {len(rm.grads)} gradients in {rm.seconds:.2f}s")

    _progress(
        f"proving each adjoint equal to the {model.cell} textbook recursion (backward induction)"
    )
    tick = ticker("adjoints proven:")
    claims = len(rm.local) + len(rm.grads)
    nodes = 0
    for done, record in enumerate(prove_cell_recursion(rm), start=1):
        tick(done, claims)
        name = record.claim.removeprefix("grad_")
        if name in seconds:
            seconds[name] += record.seconds
        elif "(" in name:
            nodes += 1
    if model.activation == "relu":
        _progress(
            "  relu: f'(a) = Heaviside(a); there is no derivative at the kink a = 0, so the "
            f"points below keep every pre-activation at least {_KINK_MARGIN:g} away from it"
        )

    _progress("lambdifying (cse=True) and comparing with rnn_num and finite differences")
    t0 = time.perf_counter()
    numeric = NumericCell(rm)
    _progress(f"  lambdified in {time.perf_counter() - t0:.2f}s; evaluating at {_POINTS} points")
    errors = {name: [0.0, 0.0] for name in only}
    missing: str | None = None
    tick = ticker("random points compared:")
    seed, done = args.seed, 0
    while done < _POINTS:
        params, x, y, h0, c0 = random_point(model, seed, T, n_x, n_h, n_y)
        seed += 1
        if _near_kink(model, params, x, h0):
            continue
        done += 1
        _, mine = numeric(params, x, y, h0, c0)
        fd = _fd_gradients(model, params, x, y, h0, c0, only, n_h)
        try:
            _, ref = rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=model)
        except Exception as error:  # noqa: BLE001 - report any failure as a missing reference
            missing = f"{type(error).__name__}: {error}"
            ref = None
        for name in only:
            e = errors[name]
            e[0] = (
                float("nan") if ref is None else _worse(e[0], relative_error(mine[name], ref[name]))
            )
            e[1] = _worse(e[1], relative_error(mine[name], fd[name]))
        tick(done, _POINTS)
    numeric_seconds = time.perf_counter() - t0
    if missing is not None:
        _progress(f"rnn_num could not compute model {model.short()}: {missing[:300]}")

    batch_text = f" B={B}" if B else ""
    print(
        f"rnn-derive verify: model={model.short()} T={T} n_x={n_x} n_h={n_h}"
        + (f" n_y={n_y}" if n_y else "")
        + f"{batch_text} seed={args.seed}"
    )
    header = f"{'gradient':<10} {'textbook':<9} {'vs rnn_num':>11} {'vs FD':>9} {'time':>8}"
    print(header)
    print("-" * len(header))
    ok = True
    for name in only:
        e_num, e_fd = errors[name]
        row_ok = e_num <= RNN_NUM_TOLERANCE and e_fd <= FD_TOLERANCE  # NaN compares False
        ok &= row_ok
        total = seconds[name] + numeric_seconds / len(only)
        num_text = "missing" if missing is not None else _fmt(e_num)
        print(
            f"{'∇_' + name:<10} {'yes':<9} {num_text:>11} {_fmt(e_fd):>9} {total:>7.2f}s"
            + ("" if row_ok else "  <-- disagrees")
        )
    print(
        f"textbook: every gradient and {nodes} node adjoints proven equal to reverse mode "
        f"(expand to 0, backward induction); tolerances: rnn_num {RNN_NUM_TOLERANCE:.0e}, "
        f"finite differences {FD_TOLERANCE:.0e}; {_POINTS} random points; "
        f"total {time.perf_counter() - began:.2f}s"
    )
    if missing is not None:
        print(f"rnn_num could not compute this model ({missing[:120]})")
    print("all agree" if ok else "DISAGREEMENT")
    return 0 if ok else 1


def _worse(a: float, b: float) -> float:
    """The larger error; NaN wins (max() would drop it)."""
    return float("nan") if a != a or b != b else max(a, b)


def _fmt(error: float) -> str:
    return "n/a" if error != error else f"{error:.1e}"
