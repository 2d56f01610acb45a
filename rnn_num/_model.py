"""The driver: forward pass, loss and backpropagation through time for every rnn_spec model.

Arrays are time-major: x is (T, n_x) or (T, B, n_x). Internally everything runs batched as
(T, B, ·) with B = 1 for an unbatched call, and results are squeezed back. The cell's
recurrence is its kernel's (`_cells`: `_elman`, `_lstm`, `_gru`); the output layer, the
head, the reduction and the task are shared here, each a single matmul or array operation
over all T·B rows.

Which model: `model=` (an rnn_spec.Model, a mapping, or the CLI text "cell=lstm,..."), or,
without it, the legacy keywords of the canonical cell: activation= (tanh), head="softmax" |
"mse" and many_to_one=; h0's option then follows the h0 argument (None: zero, (n_h,):
shared, (B, n_h): per-sequence). With model=, h0 (and c0) must fit model.h0.

Loss conventions (docs/models.md; tests/_plain_models.py is the executable statement):
  softmax-ce: Σ -y_i log ŷ_i, ŷ = softmax(o); integer targets mean one-hot.
  mse:        ½‖o - y‖² (mse_scale=half, ∇_o = o - y) or ‖o - y‖² (one).
  generic:    y holds g_t = ∇_{o_t} l; the loss is the surrogate Σ ⟨g_t, o_t⟩.
  given:      no output layer; y holds ∂L/∂h_t; the loss is Σ ⟨g_t, h_t⟩.
summed over the steps with a loss (all, the last, or step K) and the batch, then divided by
model.loss_scale_denominator(T, B) (1 for the default reduction=sum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from rnn_spec import CANONICAL, Model, parse_model

from . import _cells
from . import _validate as v
from ._buffers import carve as _carve

__all__ = [
    "BackwardResult",
    "ForwardResult",
    "backward",
    "compute_loss",
    "forward",
    "init_params",
    "loss_and_grads",
]


@dataclass(frozen=True, eq=False)
class ForwardResult:
    """Everything the forward pass computed. Shapes: a, h (T, [B,] n_h); o, y_hat (T, [B,] n_y).

    h holds h(1) … h(T); h0 (and c0 for the LSTM) the initial state that was used (zeros
    unless given). y_hat is softmax(o) for the softmax head and o itself otherwise. a is the
    Elman cell's pre-activation (None for the gated cells, whose per-step intermediates are
    in `states`: c, i, f, g, o for the LSTM, r, z, n for the GRU). o and y_hat are None for
    head=given (no output layer). activation and head repeat the model's (head in the
    legacy spelling "softmax" for softmax-ce).
    """

    a: np.ndarray | None
    h: np.ndarray
    h0: np.ndarray
    o: np.ndarray | None
    y_hat: np.ndarray | None
    activation: str | None = "tanh"
    head: str = "softmax"
    model: Model = CANONICAL
    states: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    c0: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class BackwardResult:
    """Loss, gradients and the intermediate adjoints of one forward+backward pass.

    d_o: ∇_{o(t)} L, shape of o (zero at steps without a loss; None for head=given).
    d_h: ∇_{h(t)} L for t = 0 … T, shape (T+1, [B,] n_h); d_h[0] = ∇_{h(0)} L.
    d_a: ∇_{a(t)} L for t = 1 … T, shape (T, [B,] n_h) (the Elman cell; None otherwise).
    grads: keyed by model.gradient_names() (canonical: U, W, V, b, c, h0); each has the
    shape of its parameter (h0, c0: the shape of the argument, or ([B,] n_h) when None).
    """

    loss: float
    grads: dict[str, np.ndarray]
    d_o: np.ndarray | None
    d_h: np.ndarray | None
    d_a: np.ndarray | None
    forward: ForwardResult = field(repr=False)
    model: Model = CANONICAL

    @property
    def states(self) -> dict[str, np.ndarray]:
        """The cell's per-step intermediates of the forward pass (ForwardResult.states)."""
        return self.forward.states


# --- parameters ---------------------------------------------------------------------------


def _check_size(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{name} must be a positive integer; got {n!r}")
    return int(n)


def init_params(
    n_x: int,
    n_h: int,
    n_y: int | None,
    seed: int = 0,
    scale: float | None = None,
    dtype: type | np.dtype = np.float64,
    *,
    model: Model | Mapping[str, object] | str | None = None,
) -> dict[str, np.ndarray]:
    """Random parameters: every block of `model.blocks(n_x, n_h, n_y)`, in that order.

    Weights are normal with standard deviation `scale`, or 1/sqrt(fan_in) when scale is None.
    Biases are zero for the canonical model (model None or rnn_spec.CANONICAL: U, W, V
    random, b, c zero, as always). For every other model they are small random values
    (normal, standard deviation 0.1), so that tests of their gradients exercise them.
    n_y is None for head=given (no output layer). Deterministic for a given seed.
    """
    m = parse_model(model)
    n_x = _check_size("n_x", n_x)
    n_h = _check_size("n_h", n_h)
    if m.has_output_layer or n_y is not None:
        n_y = _check_size("n_y", n_y)
    if scale is not None and (
        isinstance(scale, bool)
        or not isinstance(scale, int | float | np.number)
        or not np.isfinite(scale)
        or scale < 0
    ):
        raise ValueError(f"scale must be a finite number >= 0 (or None); got {scale!r}")
    seed = v.check_seed("seed", seed)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64; got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64; got {dt}")
    blocks = m.blocks(n_x, n_h, n_y)  # a ModelError for n_y with head=given
    rng = np.random.default_rng(seed)
    zero_biases = m == CANONICAL
    out: dict[str, np.ndarray] = {}
    try:
        # The weights first, in block order, then the biases: the canonical model's numbers
        # (U, W, V from one stream) are those of every earlier version.
        for b in blocks:
            if b.role in ("input", "recurrent", "output"):
                std = 1.0 / np.sqrt(b.shape[1]) if scale is None else scale
                out[b.name] = (rng.standard_normal(b.shape) * std).astype(dt)
        for b in blocks:
            if b.role in ("bias", "output-bias"):
                if zero_biases:
                    out[b.name] = np.zeros(b.shape, dtype=dt)
                else:
                    out[b.name] = (rng.standard_normal(b.shape) * 0.1).astype(dt)
    except (MemoryError, ValueError):  # NumPy: cannot allocate / larger than the address space
        count = sum(int(np.prod(b.shape)) for b in blocks)
        raise ValueError(
            f"init_params(n_x={n_x}, n_h={n_h}, n_y={n_y}) needs {count} parameters "
            f"({count * dt.itemsize / 2**30:.3g} GiB) and this machine cannot allocate them; "
            "use smaller sizes"
        ) from None
    return {b.name: out[b.name] for b in blocks}


# --- preparing a call -----------------------------------------------------------------------


@dataclass
class _Prepared:
    model: Model
    given: bool  # model= was given (not the legacy keywords)
    p: dict[str, np.ndarray]  # every block, compute dtype, C-contiguous
    cell_p: dict[str, np.ndarray]  # the cell's blocks (the kernel's p)
    x: np.ndarray  # (T, B, n_x) in the compute dtype
    init: dict[str, np.ndarray]  # "h0" (, "c0"): (B, n_h)
    init_shapes: dict[str, tuple[int, ...]]  # shapes reported for h0 (, c0) and their grads
    batched: bool
    dims: v.Dims
    dtype: np.dtype


def _prepare(
    params: Mapping,
    x: object,
    h0: object,
    c0: object,
    model: object,
    activation: object,
    head: object,
    many_to_one: object,
) -> _Prepared:
    given, m = v.resolve_model(model, activation, head, many_to_one)
    arrs, dims = v.check_params(params, m)
    xa = v.check_x_shape(x, dims)
    batched = xa.ndim == 3
    B = xa.shape[1] if batched else 1
    m, states = v.check_initial_states(h0, c0, given, m, dims, xa.shape[1] if batched else None)
    present = [a for a in states.values() if a is not None]
    dt = v.compute_dtype(*arrs.values(), xa, *present)
    # The sizes before x's entries are read (10**9 steps take seconds) or anything allocated.
    T = xa.shape[0]
    v.check_memory(T, B, dims, m, _footprint(m, T, B, dims), dt.itemsize)
    v.check_finite("x", xa)
    p = {k: np.ascontiguousarray(a, dtype=dt) for k, a in arrs.items()}
    cell_p = {k: p[k] for k in v.names(m).cell}
    x3 = np.ascontiguousarray(xa if batched else xa[:, None, :], dtype=dt)
    init: dict[str, np.ndarray] = {}
    init_shapes: dict[str, tuple[int, ...]] = {}
    for name in v.names(m).initial_states:
        arr = states.get(name)
        if arr is None:
            init_shapes[name] = (B, dims.n_h) if batched else (dims.n_h,)
            init[name] = np.zeros((B, dims.n_h), dtype=dt)
        else:
            init_shapes[name] = arr.shape
            init[name] = np.ascontiguousarray(
                np.broadcast_to(arr.astype(dt, copy=False), (B, dims.n_h))
            )
    return _Prepared(m, given is not None, p, cell_p, x3, init, init_shapes, batched, dims, dt)


def _footprint(model: Model, T: int, B: int, dims: v.Dims) -> int:
    """How many numbers the largest call (backward: every intermediate kept) allocates: the
    kernel's workspace, the gates it hands out (one (T, B, n_h) copy each), the driver's O,
    ŷ and ∇h, and the copy of x. A few multiplications."""
    n_x, n_h, n_y = dims.n_x, dims.n_h, dims.n_y or 0
    workspace = getattr(_cells.kernel(model.cell), "workspace", None)
    if workspace is None:  # a kernel without one: its states and adjoints, roughly
        kernel = 4 * (T + 1) * B * n_h
    else:
        kernel = sum(math.prod(s) for s in workspace(T, B, n_x, n_h, model, "all").values())
    gates = len(model.gates) * T * B * n_h
    return kernel + gates + 2 * T * B * n_y + (T + 1) * B * n_h + T * B * n_x


def _targets(pr: _Prepared, y: object) -> tuple[np.ndarray, bool]:
    T, B, _ = pr.x.shape
    pr.model.loss_steps(T)  # a ModelError for task=step=K with K > T
    ya, is_index = v.check_targets(
        y,
        model=pr.model,
        T=T,
        batch=B if pr.batched else None,
        n_y=pr.dims.n_y,
        n_h=pr.dims.n_h,
        legacy=not pr.given,
    )
    if not pr.batched:  # give targets the batch axis the core expects
        ya = ya[None] if pr.model.task != "many-to-many" else ya[:, None]
    if not is_index:
        ya = ya.astype(pr.dtype, copy=False)
    return ya, is_index


# --- the shared output layer, head and loss ---------------------------------------------------


@dataclass
class _Outputs:
    """o, ŷ (softmax: softmax(o), else o itself) and log Σ_j exp(o_j) (softmax only), all
    (T, B, ·)."""

    O: np.ndarray
    Y_hat: np.ndarray
    log_norm: np.ndarray | None


def _driver_shapes(pr: _Prepared, level: str) -> dict[str, tuple[int, ...]]:
    T, B, _ = pr.x.shape
    n_h, n_y = pr.dims.n_h, pr.dims.n_y
    shapes: dict[str, tuple[int, ...]] = {}
    if pr.model.has_output_layer:
        shapes["O"] = (T, B, n_y)
        if pr.model.head == "softmax-ce":
            shapes["Y_hat"] = (T, B, n_y)
    if level == "grads":
        shapes["D_h"] = (T, B, n_h)
    elif level == "all":
        shapes["D_h"] = (T + 1, B, n_h)  # D_h[0] = ∇h(0)
    return shapes


def _output_layer(
    pr: _Prepared, H: np.ndarray, buffers: Mapping[str, np.ndarray]
) -> _Outputs | None:
    model = pr.model
    if not model.has_output_layer:
        return None
    T, B, n_h = H.shape
    O = buffers["O"]
    # Vᵀ copied once: a transposed operand is slower in the matmul (see _elman).
    Vt = np.ascontiguousarray(pr.p["V"].T)
    np.matmul(H.reshape(T * B, n_h), Vt, out=O.reshape(T * B, O.shape[-1]))
    if model.output_bias:
        O += pr.p["c"]
    if model.head != "softmax-ce":
        return _Outputs(O, O, None)
    m = O.max(axis=-1, keepdims=True)
    Y_hat = np.subtract(O, m, out=buffers["Y_hat"])
    np.exp(Y_hat, out=Y_hat)
    total = Y_hat.sum(axis=-1, keepdims=True)
    Y_hat /= total
    # log Σ_j exp(o_j) = m + log Σ_j exp(o_j - m): finite for any finite logits.
    log_norm = np.log(total)
    log_norm += m
    return _Outputs(O, Y_hat, log_norm)


def _loss_and_d_o(
    model: Model,
    out: _Outputs,
    y: np.ndarray,
    is_index: bool,
    rows: slice,
    in_place: bool,
) -> tuple[float, np.ndarray]:
    """The unscaled loss and ∇_o of it at the steps with a loss ((T, B, n_y) or (1, B, n_y)).
    y is batched like the outputs (one-target tasks: without the time axis). in_place=True
    writes ∇_o over ŷ (or over o) instead of into a new array."""
    n_y = out.O.shape[-1]
    O, Y_hat = out.O[rows], out.Y_hat[rows]
    y_t = y if rows == slice(None) else y[None]
    if model.head == "mse":
        d_o = np.subtract(O, y_t, out=O if in_place else None)
        sq = float(np.vdot(d_o, d_o))
        if model.mse_scale == "half":
            return 0.5 * sq, d_o
        d_o *= 2
        return sq, d_o
    if model.head == "generic":
        # The surrogate Σ ⟨g_t, o_t⟩: its gradient with respect to o_t is g_t itself.
        loss = float(np.vdot(y_t, O))
        if not in_place:
            return loss, y_t.copy()  # y is the caller's array: never hand it out as ∇_o
        np.copyto(O, y_t)
        return loss, O
    log_norm = out.log_norm[rows]
    if is_index:
        # -log ŷ_k = log Σ_j exp(o_j) - o_k, and ∇_o = ŷ - e_k.
        idx, cols = np.arange(y_t.size), y_t.ravel()
        loss = float(np.sum(log_norm) - np.sum(O.reshape(-1, n_y)[idx, cols]))
        d_o = Y_hat if in_place else Y_hat.copy()
        d_o.reshape(-1, n_y)[idx, cols] -= 1
        return loss, d_o
    loss = float(np.sum(y_t * (log_norm - O)))
    # ∇_o of -Σ_i y_i log ŷ_i is ŷ Σ_i y_i - y: ŷ - y exactly when the target sums to 1.
    d_o = np.multiply(Y_hat, y_t.sum(axis=-1, keepdims=True), out=Y_hat if in_place else None)
    d_o -= y_t
    return loss, d_o


# --- one call -----------------------------------------------------------------------------


@dataclass
class _Run:
    tape: object
    out: _Outputs | None
    loss: float = 0.0
    grads: dict[str, np.ndarray] | None = None
    d_o: np.ndarray | None = None
    d_h: np.ndarray | None = None


def _run(pr: _Prepared, ya: np.ndarray | None, is_index: bool, level: str) -> _Run:
    """Forward pass and, for level "grads" / "all", BPTT. level: "loss" (only the loss),
    "forward" (the forward arrays), "grads" (loss and gradients; intermediates nobody will
    see are not kept or are overwritten, to save memory traffic) or "all" (everything)."""
    model = pr.model
    kern = _cells.kernel(model.cell)
    T, B, n_x = pr.x.shape
    n_h, n_y = pr.dims.n_h, pr.dims.n_y
    TB = T * B
    # Every large array of the call in one allocation (see _buffers.carve), the kernel's
    # too when it says which it needs.
    # The kernel's names must differ from the driver's (O, Y_hat, D_h; see _cells).
    workspace = getattr(kern, "workspace", None)
    kernel_shapes = {} if workspace is None else workspace(T, B, n_x, n_h, model, level)
    shapes = dict(kernel_shapes)
    shapes.update(_driver_shapes(pr, level))
    buffers = _carve(pr.dtype, shapes)
    extra: dict[str, object] = {}
    if workspace is not None:
        extra["buffers"] = {k: buffers[k] for k in kernel_shapes}
    tape = kern.forward(pr.cell_p, pr.x, pr.init, model, level != "loss", **extra)
    H = tape.H
    out = _output_layer(pr, H, buffers)
    run = _Run(tape, out)
    if level == "forward":
        return run
    denominator = 1 if model.reduction == "sum" else model.loss_scale_denominator(T, B)
    keep = level == "all"
    k = T if model.task == "many-to-many" else model.loss_steps(T)[0]  # the one step's
    if model.head == "given":
        loss = float(np.vdot(ya, H))
        d_o_part = None
    else:
        rows = slice(None) if model.task == "many-to-many" else slice(k - 1, k)
        loss, d_o_part = _loss_and_d_o(model, out, ya, is_index, rows, in_place=not keep)
    if denominator != 1:
        loss /= denominator
    run.loss = loss
    if level == "loss":
        return run

    # direct[t-1] = the part of ∇_{h(t)} L that does not come through h(t+1): Vᵀ ∇_o(t), for
    # all t in one matmul (or only at the step with a loss), or y itself for head=given.
    # The kernel adds the recurrence.
    D_h = buffers["D_h"]
    direct = D_h[1:] if keep else D_h
    scale = 1.0 / denominator
    grads_out: dict[str, np.ndarray] = {}
    if d_o_part is None:  # given
        np.copyto(direct, ya)
        if denominator != 1:
            direct *= scale
    else:
        if denominator != 1:
            d_o_part *= scale
        V = pr.p["V"]
        if model.task == "many-to-many":
            d_o = d_o_part
            d_o2 = d_o.reshape(TB, n_y)
            np.matmul(d_o2, V, out=direct.reshape(TB, n_h))
            grads_out["V"] = d_o2.T @ H.reshape(TB, n_h)
            g_c = d_o2.sum(axis=0) if model.output_bias else None
        else:
            d_o = None
            if keep:
                d_o = np.zeros_like(out.O)
                d_o[k - 1] = d_o_part[0]
            direct[: k - 1] = 0
            direct[k:] = 0
            np.matmul(d_o_part[0], V, out=direct[k - 1])
            grads_out["V"] = d_o_part[0].T @ H[k - 1]
            g_c = d_o_part[0].sum(axis=0) if model.output_bias else None
        if g_c is not None:
            grads_out["c"] = g_c
        run.d_o = d_o
    cell_grads, init_grads = kern.backward(pr.cell_p, pr.x, tape, direct, model, **extra)
    grads_out.update(cell_grads)
    names = v.names(model)
    for name in names.initial_states:
        rows_g = init_grads[name]
        shape = pr.init_shapes[name]
        if not pr.batched:
            g = rows_g[0].copy()
        elif shape == (n_h,):  # shared by the batch: the sum over its sequences
            g = rows_g.sum(axis=0)
        else:
            g = np.array(rows_g, copy=True)  # a copy, so it keeps no buffer alive
        grads_out[name] = g
    if keep:
        D_h[0] = init_grads["h0"]
        run.d_h = D_h if getattr(kern, "TOTAL_D_H", False) else None
    try:
        run.grads = {name: grads_out[name] for name in names.gradients}
    except KeyError as error:  # a kernel that does not keep the interface (_cells)
        raise RuntimeError(
            f"the {model.cell} kernel returned no gradient {error.args[0]!r}; it returned "
            f"{', '.join(cell_grads)} (needs the cell blocks of {', '.join(model.block_names())})"
        ) from None
    return run


def _squeeze(arr: np.ndarray | None, batched: bool, axis: int = 1) -> np.ndarray | None:
    if arr is None:
        return None
    return arr if batched else np.squeeze(arr, axis=axis)


def _forward_result(pr: _Prepared, run: _Run) -> ForwardResult:
    s = pr.batched
    n_h = pr.dims.n_h
    tape, out = run.tape, run.out

    def initial(name: str) -> np.ndarray | None:
        if name not in pr.init:
            return None
        # A copy: the prepared rows may be a read-only view of the caller's array.
        rows = pr.init[name]
        return rows[0].copy() if pr.init_shapes[name] == (n_h,) else _squeeze(rows, s, 0).copy()

    states = {k: _squeeze(a, s) for k, a in tape.states.items()}
    model = pr.model
    return ForwardResult(
        a=states.get("a") if model.cell == "rnn" else None,
        h=_squeeze(tape.H, s),
        h0=initial("h0"),
        o=None if out is None else _squeeze(out.O, s),
        y_hat=None if out is None else _squeeze(out.Y_hat, s),
        activation=model.activation,
        head=v._legacy_head(model.head),
        model=model,
        states=states,
        c0=initial("c0"),
    )


# --- the public functions -------------------------------------------------------------------


def forward(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str | None = None,
    head: str | None = None,
    *,
    c0: np.ndarray | None = None,
    model: Model | Mapping[str, object] | str | None = None,
) -> ForwardResult:
    """Run the model over x ((T, n_x) or (T, B, n_x)); see ForwardResult for what comes back.
    activation (tanh), head ("softmax" | "mse"): the legacy keywords (see the module docs)."""
    pr = _prepare(params, x, h0, c0, model, activation, head, None)
    return _forward_result(pr, _run(pr, None, False, "forward"))


def _prepare_all(
    params: Mapping,
    x: object,
    y: object,
    h0: object,
    c0: object,
    model: object,
    activation: object,
    head: object,
    many_to_one: object,
) -> tuple[_Prepared, np.ndarray, bool]:
    pr = _prepare(params, x, h0, c0, model, activation, head, many_to_one)
    ya, is_index = _targets(pr, y)
    return pr, ya, is_index


def compute_loss(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str | None = None,
    head: str | None = None,
    many_to_one: bool | None = None,
    *,
    c0: np.ndarray | None = None,
    model: Model | Mapping[str, object] | str | None = None,
) -> float:
    """The loss alone (forward pass only; no gradient code runs). Used by the gradient checker."""
    pr, ya, is_index = _prepare_all(params, x, y, h0, c0, model, activation, head, many_to_one)
    return _run(pr, ya, is_index, "loss").loss


def backward(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str | None = None,
    head: str | None = None,
    many_to_one: bool | None = None,
    *,
    c0: np.ndarray | None = None,
    model: Model | Mapping[str, object] | str | None = None,
) -> BackwardResult:
    """Forward pass, loss and backpropagation through time; see BackwardResult.

    y, per step with a loss (all steps: a leading T axis; task many-to-one or step=K: one
    target, no time axis), for the head:
      softmax-ce: integer classes ([T,] [B]) or one-hot ([T,] [B,] n_y) (any non-negative
        target weights are accepted: L = -Σ_i y_i log ŷ_i, ∇_o L = ŷ Σ_i y_i - y, which is
        ŷ - y only when the weights sum to 1);
      mse: float targets ([T,] [B,] n_y);  generic: ∇_{o_t} l ([T,] [B,] n_y);
      given: ∂L/∂h_t (T, [B,] n_h).
    The legacy keywords: activation= (tanh), head="softmax" | "mse", many_to_one= (False).
    """
    pr, ya, is_index = _prepare_all(params, x, y, h0, c0, model, activation, head, many_to_one)
    run = _run(pr, ya, is_index, "all")
    s = pr.batched
    return BackwardResult(
        loss=run.loss,
        grads=run.grads,
        d_o=_squeeze(run.d_o, s),
        d_h=_squeeze(run.d_h, s),
        d_a=_squeeze(getattr(run.tape, "d_a", None), s),
        forward=_forward_result(pr, run),
        model=pr.model,
    )


def loss_and_grads(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str | None = None,
    head: str | None = None,
    many_to_one: bool | None = None,
    *,
    c0: np.ndarray | None = None,
    model: Model | Mapping[str, object] | str | None = None,
) -> tuple[float, dict[str, np.ndarray]]:
    """(loss, grads) with grads keyed by model.gradient_names() (canonical: U, W, V, b, c,
    h0); see `backward` for the arguments.

    The intermediates (h, o, ŷ, ∇h, ∇a, the gates) are not kept; use `backward` to get them.
    """
    pr, ya, is_index = _prepare_all(params, x, y, h0, c0, model, activation, head, many_to_one)
    # Only (loss, grads) leave this call, so the intermediates may be overwritten.
    run = _run(pr, ya, is_index, "grads")
    return run.loss, run.grads
