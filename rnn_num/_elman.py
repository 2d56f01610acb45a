"""The Elman cell's kernel: a_t = U x_t + W h_{t-1} + b, h_t = f(a_t).

f is tanh, sigmoid, relu (f'(0) taken as 0) or identity. b is model.biases' hidden bias:
b (both, hidden), b_ih + b_hh (torch: added in the forward pass, each reported with its
own gradient, which is the same for both), or none. The interface is `_cells`'s.

Only the two recurrences (h forward, ∇h backward) loop over t: U x_t + b for all t is one
matmul before the loop, and the parameter gradients are single matmuls over all T·B rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnn_spec import Model

from ._buffers import carve

TOTAL_D_H = True  # backward leaves the total ∂L/∂h_t in d_h (unless it overwrites it with ∇a)


@dataclass(eq=False)
class Tape:
    """H_full holds h_0 … h_T in one buffer, so h_{t-1} for all t is one contiguous slice
    and ∇W is a single matmul. A (the pre-activations) is None when they were not kept.
    d_a (∇_{a_t} L) is set by backward."""

    H_full: np.ndarray
    A: np.ndarray | None
    d_a: np.ndarray | None = None

    @property
    def H(self) -> np.ndarray:
        return self.H_full[1:]

    @property
    def states(self) -> dict[str, np.ndarray]:
        return {} if self.A is None else {"a": self.A}


def workspace(
    T: int, B: int, n_x: int, n_h: int, model: Model, level: str
) -> dict[str, tuple[int, ...]]:
    """The large arrays of a call. Without "A", a_t is built inside h_t's buffer; without
    "d_a", ∇a_t overwrites the d_h handed to backward (nobody will look at either)."""
    shapes: dict[str, tuple[int, ...]] = {"H_full": (T + 1, B, n_h)}
    if level in ("forward", "all"):
        shapes["A"] = (T, B, n_h)
    if level == "all":
        shapes["d_a"] = (T, B, n_h)
    return shapes


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
    elif name == "relu":
        np.maximum(a, 0, out=out)
    else:  # identity (the caller skips it when a and out are the same buffer)
        np.copyto(out, a)


def _act_derivative(name: str, h: np.ndarray, out: np.ndarray) -> None:
    """out = f'(a), written through h = f(a) (no pre-activation needed)."""
    if name == "tanh":  # 1 - h²
        np.multiply(h, h, out=out)
        np.subtract(1, out, out=out)
    elif name == "sigmoid":  # h (1 - h)
        np.subtract(1, h, out=out)
        out *= h
    else:  # relu: h > 0 exactly where a > 0; the derivative at the kink a = 0 is taken as 0
        np.greater(h, 0, out=out, casting="unsafe")


def _hidden_bias(p: Mapping[str, np.ndarray], model: Model) -> np.ndarray | None:
    if model.biases == "torch":
        return p["b_ih"] + p["b_hh"]
    if model.hidden_biases:
        return p["b"]
    return None


def forward(
    p: Mapping[str, np.ndarray],
    x: np.ndarray,
    init: Mapping[str, np.ndarray],
    model: Model,
    keep: bool,
    buffers: Mapping[str, np.ndarray] | None = None,
) -> Tape:
    """h_1 … h_T. With `buffers` (from `workspace`), a_t is kept exactly when "A" is there;
    without, when keep is True."""
    T, B, n_x = x.shape
    n_h = p["W"].shape[0]
    if buffers is None:
        buffers = carve(x.dtype, workspace(T, B, n_x, n_h, model, "forward" if keep else "loss"))
    H_full = buffers["H_full"]
    H_full[0] = init["h0"]
    H = H_full[1:]
    # A transposed operand costs ~25% per small per-step matmul and 5-10% on the large ones
    # over all steps, so Uᵀ and Wᵀ are copied once (they are small).
    Ut = np.ascontiguousarray(p["U"].T)
    Wt = np.ascontiguousarray(p["W"].T)
    kept = "A" in buffers
    A = buffers["A"] if kept else H
    # U x_t + b for every t in one matmul; the loop only adds W h_{t-1}.
    np.matmul(x.reshape(T * B, n_x), Ut, out=A.reshape(T * B, n_h))
    b = _hidden_bias(p, model)
    if b is not None:
        A += b
    activation = model.activation
    apply = kept or activation != "identity"  # identity in h_t's own buffer: nothing to do
    step = np.empty((B, n_h), dtype=x.dtype)
    for t in range(T):
        np.matmul(H_full[t], Wt, out=step)
        A[t] += step
        if apply:
            _act_forward(activation, A[t], H[t])
    return Tape(H_full, A if kept else None)


def backward(
    p: Mapping[str, np.ndarray],
    x: np.ndarray,
    tape: Tape,
    d_h: np.ndarray,
    model: Model,
    buffers: Mapping[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """BPTT: ∇h_t = d_h[t] + Wᵀ ∇a_{t+1}, ∇a_t = f'(a_t) ⊙ ∇h_t, then the gradients.

    d_h ends holding the total ∇h_t, unless `buffers` has no "d_a": then ∇a_t is written
    over d_h (the driver's lean path, which reports neither)."""
    T, B, n_x = x.shape
    n_h = p["W"].shape[0]
    TB = T * B
    if buffers is None:
        d_a = np.empty_like(d_h)
    else:
        d_a = buffers.get("d_a", d_h)
    activation = model.activation
    identity = activation == "identity"
    W = p["W"]
    step = np.empty((B, n_h), dtype=d_h.dtype)
    f_prime = np.empty((B, n_h), dtype=d_h.dtype)
    H = tape.H
    for t in range(T, 0, -1):  # t is the 1-based time step; H, d_a and d_h start at t = 1
        d_h_t = d_h[t - 1]
        if t < T:
            np.matmul(d_a[t], W, out=step)
            d_h_t += step
        if identity:
            if d_a is not d_h:
                d_a[t - 1] = d_h_t
        else:
            # f'(a_t) from h_t in a small per-step buffer (a full (T, B, n_h) array of f'
            # would be one more large array to write and read).
            _act_derivative(activation, H[t - 1], out=f_prime)
            np.multiply(d_h_t, f_prime, out=d_a[t - 1])
    g_h0 = d_a[0] @ W
    tape.d_a = d_a
    # h_{t-1} for t = 1..T are the first T steps of H_full: ∇W needs no term for h_0 apart.
    d_a2 = d_a.reshape(TB, n_h)
    grads = {
        "U": d_a2.T @ x.reshape(TB, n_x),
        "W": d_a2.T @ tape.H_full[:T].reshape(TB, n_h),
    }
    if model.hidden_biases:
        g_b = d_a2.sum(axis=0)
        if model.biases == "torch":
            # b_ih and b_hh enter a_t alike: the same gradient, each in its own array.
            grads["b_ih"] = g_b
            grads["b_hh"] = g_b.copy()
        else:
            grads["b"] = g_b
    return grads, {"h0": g_h0}
