"""The canonical RNN (NOTATION.md): forward pass, loss and backpropagation through time.

Arrays are time-major: x is (T, n_x) or (T, B, n_x). Internally everything runs batched as
(T, B, ·) with B = 1 for an unbatched call, and results are squeezed back. Only the two
recurrences (h forward, ∇h backward) loop over t; the input projection, the output layer,
the softmax, ∇o and the parameter gradients are single matmuls over all T·B rows.

Loss conventions (SUMMED over time and batch, never averaged):
  head="softmax": L = Σ_t Σ_i -y_i(t) log ŷ_i(t), ŷ = softmax(o); integer targets mean one-hot.
  head="mse":     L = Σ_t ½‖o(t) - y(t)‖², linear outputs ŷ = o. The ½ makes ∇_o L = o - y.
With many_to_one=True only the last step has a target (and a loss term).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import _validate as v


@dataclass(frozen=True, eq=False)
class ForwardResult:
    """Everything the forward pass computed. Shapes: a, h (T, [B,] n_h); o, y_hat (T, [B,] n_y).

    h holds h(1) … h(T); h0 is the initial state that was used (zeros unless given).
    y_hat is softmax(o) for head="softmax" and o itself for head="mse".
    """

    a: np.ndarray
    h: np.ndarray
    h0: np.ndarray
    o: np.ndarray
    y_hat: np.ndarray
    activation: str = "tanh"
    head: str = "softmax"


@dataclass(frozen=True, eq=False)
class BackwardResult:
    """Loss, gradients and the intermediate adjoints of one forward+backward pass.

    d_o: ∇_{o(t)} L, shape of o (zero at steps without a target).
    d_h: ∇_{h(t)} L for t = 0 … T, shape (T+1, [B,] n_h); d_h[0] = ∇_{h(0)} L.
    d_a: ∇_{a(t)} L for t = 1 … T, shape (T, [B,] n_h).
    grads: keys U, W, V, b, c, h0; each has the shape of its parameter (h0: the shape of
    the h0 argument, or ([B,] n_h) when h0 was None).
    """

    loss: float
    grads: dict[str, np.ndarray]
    d_o: np.ndarray
    d_h: np.ndarray
    d_a: np.ndarray
    forward: ForwardResult = field(repr=False)


def init_params(
    n_x: int,
    n_h: int,
    n_y: int,
    seed: int = 0,
    scale: float | None = None,
    dtype: type | np.dtype = np.float64,
) -> dict[str, np.ndarray]:
    """Random parameters U (n_h,n_x), W (n_h,n_h), V (n_y,n_h) and zero biases b, c.

    Weights are normal with standard deviation `scale`, or 1/sqrt(fan_in) when scale is None.
    Deterministic for a given seed.
    """
    for name, n in (("n_x", n_x), ("n_h", n_h), ("n_y", n_y)):
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"{name} must be a positive integer; got {n!r}")
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
    rng = np.random.default_rng(seed)

    def weights(shape: tuple[int, int]) -> np.ndarray:
        std = 1.0 / np.sqrt(shape[1]) if scale is None else scale
        return (rng.standard_normal(shape) * std).astype(dt)

    try:
        return {
            "U": weights((n_h, n_x)),
            "W": weights((n_h, n_h)),
            "V": weights((n_y, n_h)),
            "b": np.zeros(n_h, dtype=dt),
            "c": np.zeros(n_y, dtype=dt),
        }
    except (MemoryError, ValueError):  # NumPy: cannot allocate / larger than the address space
        count = n_h * n_x + n_h * n_h + n_y * n_h + n_h + n_y
        raise ValueError(
            f"init_params(n_x={n_x}, n_h={n_h}, n_y={n_y}) needs {count} parameters "
            f"({count * dt.itemsize / 2**30:.3g} GiB) and this machine cannot allocate them; "
            "use smaller sizes"
        ) from None


# --- activations: f(a) written into `out`, and f'(a) from (a, h = f(a)) -------------------


def _act_forward(name: str, a: np.ndarray, out: np.ndarray) -> None:
    if name == "tanh":
        np.tanh(a, out=out)
    elif name == "sigmoid":
        # σ(a) = (1 + tanh(a/2)) / 2: no overflow of exp(-a) for very negative a.
        np.multiply(a, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
    else:  # relu
        np.maximum(a, 0, out=out)


def _act_derivative(name: str, h: np.ndarray, out: np.ndarray) -> None:
    """out = f'(a), written through h = f(a) for every step at once (one pass instead of
    three small ones per step inside the backward loop)."""
    if name == "tanh":  # 1 - h²
        np.multiply(h, h, out=out)
        np.subtract(1, out, out=out)
    elif name == "sigmoid":  # h (1 - h)
        np.subtract(1, h, out=out)
        out *= h
    else:  # relu: h > 0 exactly where a > 0; the derivative at the kink a = 0 is taken as 0
        np.greater(h, 0, out=out, casting="unsafe")


# --- the shared core --------------------------------------------------------------------


@dataclass
class _Prepared:
    p: dict[str, np.ndarray]
    x: np.ndarray  # (T, B, n_x) in the compute dtype
    h0: np.ndarray  # (B, n_h)
    h0_shape: tuple[int, ...]  # shape reported for h0 and its gradient
    batched: bool
    dims: v.Dims
    dtype: np.dtype


def _prepare(params: Mapping, x: object, h0: object, activation: str, head: str) -> _Prepared:
    v.check_choice("activation", activation, v.ACTIVATIONS)
    v.check_choice("head", head, v.HEADS)
    arrs, dims = v.check_params(params)
    xa = v.check_x(x, dims)
    batched = xa.ndim == 3
    B = xa.shape[1] if batched else 1
    h0a = v.check_h0(h0, dims, xa.shape[1] if batched else None)
    dt = v.compute_dtype(*arrs.values(), xa, *(() if h0a is None else (h0a,)))
    p = {k: np.ascontiguousarray(a, dtype=dt) for k, a in arrs.items()}
    x3 = np.ascontiguousarray(xa if batched else xa[:, None, :], dtype=dt)
    if h0a is None:
        h0_shape = (B, dims.n_h) if batched else (dims.n_h,)
        h0b = np.zeros((B, dims.n_h), dtype=dt)
    else:
        h0_shape = h0a.shape
        h0b = np.ascontiguousarray(np.broadcast_to(h0a.astype(dt, copy=False), (B, dims.n_h)))
    return _Prepared(p, x3, h0b, h0_shape, batched, dims, dt)


# Each carved array starts on a cache line, as NumPy's own allocations do.
_ALIGN = 64


def _carve(dtype: np.dtype, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Uninitialised arrays of the given shapes, all carved out of ONE allocation.

    Why: separate multi-megabyte temporaries make glibc grow the heap during a call and trim
    it again when they are freed, so every call page-faulted its working memory back in, page
    by page: about 2,900 faults and a fifth of the run time at B=32, T=64, n_h=256. One
    block is reused by malloc from call to call, or mmapped with transparent huge pages when
    large (NumPy advises them from 4 MiB); the faults drop to none.
    """
    sizes = {name: math.prod(shape) * dtype.itemsize for name, shape in shapes.items()}
    offsets: dict[str, int] = {}
    total = 0
    for name, size in sizes.items():
        offsets[name] = total
        total += -(-size // _ALIGN) * _ALIGN
    try:
        raw = np.empty(total + _ALIGN, dtype=np.uint8)
    except (MemoryError, ValueError):  # NumPy: cannot allocate / larger than the address space
        listed = ", ".join(str(shape) for shape in shapes.values())
        raise ValueError(
            f"this call needs {total / 2**30:.3g} GiB of working memory ({dtype} arrays of "
            f"shapes {listed}: (T, B, n_h) and (T, B, n_y)) and this machine cannot allocate "
            "it; use a shorter sequence (smaller T), a smaller batch B or fewer hidden units n_h"
        ) from None
    start = -raw.ctypes.data % _ALIGN
    return {
        name: raw[start + offsets[name] : start + offsets[name] + sizes[name]]
        .view(dtype)
        .reshape(shape)
        for name, shape in shapes.items()
    }


def _forward_shapes(pr: _Prepared, head: str, keep: bool) -> dict[str, tuple[int, ...]]:
    """The large arrays of a forward pass. keep=False: a(t) is built inside h(t)'s buffer."""
    T, B, _ = pr.x.shape
    n_h, n_y = pr.dims.n_h, pr.dims.n_y
    shapes: dict[str, tuple[int, ...]] = {"H_full": (T + 1, B, n_h), "O": (T, B, n_y)}
    if keep:
        shapes["A"] = (T, B, n_h)
    if head == "softmax":
        shapes["Y_hat"] = (T, B, n_y)
    return shapes


@dataclass
class _Forward:
    """Batched forward results, all (T, B, ·); log_norm = log Σ_j exp(o_j) (softmax only).

    H_full holds h(0) … h(T) in one buffer, so h(t-1) for all t is a contiguous slice and
    ∇W is a single matmul. A is None when the pre-activations were not kept.
    """

    A: np.ndarray | None
    H_full: np.ndarray
    O: np.ndarray
    Y_hat: np.ndarray
    log_norm: np.ndarray | None

    @property
    def H(self) -> np.ndarray:
        return self.H_full[1:]


def _forward3(
    pr: _Prepared, activation: str, head: str, buffers: Mapping[str, np.ndarray]
) -> _Forward:
    """The forward pass, written into `buffers` (from `_carve(_forward_shapes(...))`).
    Without an "A" buffer, a(t) is built inside the buffer of h(t) and the activation is
    applied in place (for callers that return none of the forward arrays)."""
    p, x3 = pr.p, pr.x
    T, B, n_x = x3.shape
    n_h = pr.dims.n_h
    dt = pr.dtype
    H_full = buffers["H_full"]
    H_full[0] = pr.h0
    H = H_full[1:]
    # A transposed operand costs ~25% per small per-step matmul and 5-10% on the large ones
    # over all steps, so Uᵀ, Wᵀ and Vᵀ are copied once (they are small).
    Ut, Wt, Vt = (np.ascontiguousarray(p[k].T) for k in ("U", "W", "V"))
    # U x(t) + b for every t in one matmul; the loop only adds W h(t-1).
    A = buffers.get("A", H)
    np.matmul(x3.reshape(T * B, n_x), Ut, out=A.reshape(T * B, n_h))
    A += p["b"]
    step = np.empty((B, n_h), dtype=dt)
    for t in range(T):
        np.matmul(H_full[t], Wt, out=step)
        A[t] += step
        _act_forward(activation, A[t], H[t])
    # Output layer and softmax for all steps at once.
    O = buffers["O"]
    np.matmul(H.reshape(T * B, n_h), Vt, out=O.reshape(T * B, O.shape[-1]))
    O += p["c"]
    kept_a = A if "A" in buffers else None
    if head != "softmax":
        return _Forward(kept_a, H_full, O, O, None)
    m = O.max(axis=-1, keepdims=True)
    Y_hat = np.subtract(O, m, out=buffers["Y_hat"])
    np.exp(Y_hat, out=Y_hat)
    total = Y_hat.sum(axis=-1, keepdims=True)
    Y_hat /= total
    # log Σ_j exp(o_j) = m + log Σ_j exp(o_j - m): finite for any finite logits.
    log_norm = np.log(total)
    log_norm += m
    return _Forward(kept_a, H_full, O, Y_hat, log_norm)


def _squeeze(arr: np.ndarray, batched: bool, axis: int = 1) -> np.ndarray:
    return arr if batched else np.squeeze(arr, axis=axis)


def forward(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str = "tanh",
    head: str = "softmax",
) -> ForwardResult:
    """Run the RNN over x ((T, n_x) or (T, B, n_x)); see ForwardResult for what comes back."""
    pr = _prepare(params, x, h0, activation, head)
    buffers = _carve(pr.dtype, _forward_shapes(pr, head, keep=True))
    return _forward_result(pr, _forward3(pr, activation, head, buffers), activation, head)


def _forward_result(pr: _Prepared, f: _Forward, activation: str, head: str) -> ForwardResult:
    s = pr.batched
    return ForwardResult(
        a=_squeeze(f.A, s),
        h=_squeeze(f.H, s),
        h0=pr.h0[0].copy() if pr.h0_shape == (pr.dims.n_h,) else pr.h0,
        o=_squeeze(f.O, s),
        y_hat=_squeeze(f.Y_hat, s),
        activation=activation,
        head=head,
    )


def _loss_and_d_o(
    f: _Forward, y: np.ndarray, is_index: bool, head: str, many_to_one: bool, in_place: bool
) -> tuple[float, np.ndarray]:
    """Loss and ∇_o L at the steps that have targets: all steps (T, B, n_y), or only the
    last one (1, B, n_y) for many-to-one. y is batched like the outputs. in_place=True
    writes ∇_o L over ŷ (or over o for the MSE head) instead of into a new array."""
    n_y = f.O.shape[-1]
    last = slice(-1, None) if many_to_one else slice(None)
    O, Y_hat = f.O[last], f.Y_hat[last]
    y_t = y[None] if many_to_one else y
    if head == "mse":
        d_o = np.subtract(O, y_t, out=O if in_place else None)
        return 0.5 * float(np.vdot(d_o, d_o)), d_o
    log_norm = f.log_norm[last]
    if is_index:
        # -log ŷ_k = log Σ_j exp(o_j) - o_k, and ∇_o = ŷ - e_k.
        rows, cols = np.arange(y_t.size), y_t.ravel()
        loss = float(np.sum(log_norm) - np.sum(O.reshape(-1, n_y)[rows, cols]))
        d_o = Y_hat if in_place else Y_hat.copy()
        d_o.reshape(-1, n_y)[rows, cols] -= 1
        return loss, d_o
    loss = float(np.sum(y_t * (log_norm - O)))
    # ∇_o of -Σ_i y_i log ŷ_i is ŷ Σ_i y_i - y: ŷ - y exactly when the target sums to 1.
    d_o = np.multiply(Y_hat, y_t.sum(axis=-1, keepdims=True), out=Y_hat if in_place else None)
    d_o -= y_t
    return loss, d_o


def _targets(pr: _Prepared, y: object, head: str, many_to_one: bool) -> tuple[np.ndarray, bool]:
    T, B, _ = pr.x.shape
    ya, is_index = v.check_targets(
        y,
        head=head,
        many_to_one=many_to_one,
        T=T,
        batch=B if pr.batched else None,
        n_y=pr.dims.n_y,
    )
    if not pr.batched:  # give targets the batch axis the core expects
        ya = ya[None] if many_to_one else ya[:, None]
    if not is_index:
        ya = ya.astype(pr.dtype, copy=False)
    return ya, is_index


def compute_loss(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str = "tanh",
    head: str = "softmax",
    many_to_one: bool = False,
) -> float:
    """The loss alone (forward pass only; no gradient code runs). Used by the gradient checker."""
    pr, ya, is_index = _prepare_all(params, x, y, h0, activation, head, many_to_one)
    buffers = _carve(pr.dtype, _forward_shapes(pr, head, keep=False))
    f = _forward3(pr, activation, head, buffers)
    return _loss_and_d_o(f, ya, is_index, head, many_to_one, in_place=True)[0]


def backward(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str = "tanh",
    head: str = "softmax",
    many_to_one: bool = False,
) -> BackwardResult:
    """Forward pass, loss and backpropagation through time; see BackwardResult.

    y: integer classes (T,) / (T, B) or one-hot (T, [B,] n_y) for head="softmax" (any
    non-negative target weights are accepted there: L = -Σ_i y_i log ŷ_i, ∇_o L = ŷ Σ_i y_i - y,
    which is ŷ - y only when the weights sum to 1); float
    targets (T, [B,] n_y) for head="mse". With many_to_one=True, one target for the last
    step: () / (B,) integers or ([B,] n_y) one-hot / float targets.
    """
    pr, ya, is_index = _prepare_all(params, x, y, h0, activation, head, many_to_one)
    return _bptt(pr, ya, is_index, activation, head, many_to_one, keep=True)


def _prepare_all(
    params: Mapping,
    x: object,
    y: object,
    h0: object,
    activation: str,
    head: str,
    many_to_one: object,
) -> tuple[_Prepared, np.ndarray, bool]:
    if not isinstance(many_to_one, bool):
        raise TypeError(f"many_to_one must be True or False; got {many_to_one!r}")
    pr = _prepare(params, x, h0, activation, head)
    ya, is_index = _targets(pr, y, head, many_to_one)
    return pr, ya, is_index


def _bptt(
    pr: _Prepared,
    ya: np.ndarray,
    is_index: bool,
    activation: str,
    head: str,
    many_to_one: bool,
    keep: bool,
) -> BackwardResult | tuple[float, dict[str, np.ndarray]]:
    """Forward pass and BPTT. keep=True: a BackwardResult with every intermediate array.
    keep=False: only (loss, grads); intermediates nobody will see (a, ŷ, ∇h) are not kept
    or are overwritten, to save memory traffic; the numbers are the same."""
    p = pr.p
    T, B, n_x = pr.x.shape
    n_h, n_y = pr.dims.n_h, pr.dims.n_y
    TB = T * B
    # Every large array of the call in one allocation (see _carve): the forward pass's,
    # ∇a(t) for t = 1..T and, when kept, ∇h(t) for t = 0..T.
    shapes = _forward_shapes(pr, head, keep)
    shapes["d_a"] = (T, B, n_h)
    if keep:
        shapes["d_h"] = (T + 1, B, n_h)
    buffers = _carve(pr.dtype, shapes)
    f = _forward3(pr, activation, head, buffers)
    loss, d_o_part = _loss_and_d_o(f, ya, is_index, head, many_to_one, in_place=not keep)
    H2 = f.H.reshape(TB, n_h)

    # direct[t-1] = the part of ∇_{h(t)} L that comes through o(t): Vᵀ ∇_o(t), for all t in
    # one matmul (only t = T for many-to-one); the loop then adds Wᵀ ∇_{a(t+1)} L. Kept, it is
    # d_h[1:]; otherwise it is built in d_a's buffer, each step overwritten by ∇_{a(t)} L.
    d_a = buffers["d_a"]
    direct = buffers["d_h"][1:] if keep else d_a
    if many_to_one:
        d_o = None
        if keep:
            d_o = np.zeros_like(f.O)
            d_o[-1] = d_o_part[0]
        direct[: T - 1] = 0
        np.matmul(d_o_part[0], p["V"], out=direct[T - 1])
        g_V = d_o_part[0].T @ f.H[-1]
        g_c = d_o_part[0].sum(axis=0)
    else:
        d_o = d_o_part
        d_o2 = d_o.reshape(TB, n_y)
        np.matmul(d_o2, p["V"], out=direct.reshape(TB, n_h))
        g_V = d_o2.T @ H2
        g_c = d_o2.sum(axis=0)
    # ∇_{a(t)} L = f'(a(t)) ⊙ ∇_{h(t)} L, with f'(a(t)) from h(t) in a small per-step buffer
    # (a full (T, B, n_h) array of f' would be one more large array to write and read).
    W = p["W"]
    step = np.empty((B, n_h), dtype=pr.dtype)
    f_prime = np.empty((B, n_h), dtype=pr.dtype)
    H = f.H
    for t in range(T, 0, -1):  # t is the 1-based time step; H, d_a and direct start at t = 1
        d_h_t = direct[t - 1]
        if t < T:
            np.matmul(d_a[t], W, out=step)
            d_h_t += step
        _act_derivative(activation, H[t - 1], out=f_prime)
        np.multiply(d_h_t, f_prime, out=d_a[t - 1])
    g_h0_rows = buffers["d_h"][0] if keep else step
    np.matmul(d_a[0], W, out=g_h0_rows)

    # Parameter gradients: plain 2-D matmuls over all T·B rows; h(t-1) for t = 1..T are
    # the first T steps of H_full, so ∇W needs no separate term for h(0).
    d_a2 = d_a.reshape(TB, n_h)
    # A copy, so that the gradient does not keep the whole buffer alive.
    g_h0 = g_h0_rows.sum(axis=0) if pr.h0_shape == (n_h,) else g_h0_rows.copy()
    grads = {
        "U": d_a2.T @ pr.x.reshape(TB, n_x),
        "W": d_a2.T @ f.H_full[:T].reshape(TB, n_h),
        "V": g_V,
        "b": d_a2.sum(axis=0),
        "c": g_c,
        "h0": g_h0,
    }
    if not keep:
        return loss, grads
    s = pr.batched
    return BackwardResult(
        loss=loss,
        grads=grads,
        d_o=_squeeze(d_o, s),
        d_h=_squeeze(buffers["d_h"], s),
        d_a=_squeeze(d_a, s),
        forward=_forward_result(pr, f, activation, head),
    )


def loss_and_grads(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str = "tanh",
    head: str = "softmax",
    many_to_one: bool = False,
) -> tuple[float, dict[str, np.ndarray]]:
    """(loss, grads) with grads keyed U, W, V, b, c, h0; see `backward` for the arguments.

    The intermediates (h, o, ŷ, ∇h, ∇a) are not kept; use `backward` to get them.
    """
    pr, ya, is_index = _prepare_all(params, x, y, h0, activation, head, many_to_one)
    # Only (loss, grads) leave this call, so the intermediates may be overwritten.
    return _bptt(pr, ya, is_index, activation, head, many_to_one, keep=False)
