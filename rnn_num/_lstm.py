"""The LSTM cell's kernel, with the equations of the torch.nn.LSTM docs (interface: `_cells`).

    i_t = σ(z_i), f_t = σ(z_f), g_t = tanh(z_g), o_t = σ(z_o),  z_q = U_q x_t + W_q h_{t-1} + b_q
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t,    h_t = o_t ⊙ tanh(c_t)

The four gates are computed together: per call, the U_q and W_q are stacked into one matrix
each, so the input projections of all steps are one matmul and each step one more. Inside,
the gates are stored in the order i, f, o, g (the three sigmoids side by side); the blocks
keep their own names and torch's order outside.

Backward (δ· = ∇·L):
    δz_o = δh_t ⊙ tanh(c_t) ⊙ o_t (1 − o_t)
    δc_t = δh_t ⊙ o_t ⊙ (1 − tanh² c_t) + f_{t+1} ⊙ δc_{t+1}
    δz_i = δc_t ⊙ g_t ⊙ i_t (1 − i_t)           δz_f = δc_t ⊙ c_{t-1} ⊙ f_t (1 − f_t)
    δz_g = δc_t ⊙ i_t ⊙ (1 − g_t²)              δh_{t-1} ⊇ Σ_q W_qᵀ δz_q,  δc_0 = f_1 ⊙ δc_1
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnn_spec import Model

from ._buffers import carve

# Internal gate order: the sigmoid gates first, so one σ covers a contiguous 3·n_h slice.
_ORDER = ("i", "f", "o", "g")

TOTAL_D_H = True  # backward leaves the total ∂L/∂h_t in d_h


def _sigmoid_inplace(a: np.ndarray) -> None:
    """a ← σ(a) = 1 / (1 + exp(−a)), in place.

    exp costs half of tanh in NumPy's float64 loops (σ via tanh(a/2) was the most expensive
    line of the forward pass). Clipping a from below keeps exp(−a) finite (no overflow
    warning): σ(−700) ≈ 1e-304 in float64 and σ(−80) ≈ 2e-35 in float32, 0 to the precision
    of any sum it enters, as σ of anything lower."""
    np.maximum(a, -80.0 if a.dtype == np.float32 else -700.0, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)


@dataclass(eq=False)
class Tape:
    """H_full: h_0 … h_T; G: the gate values (T, B, 4·n_h) in the internal order i, f, o, g.
    C_full (c_0 … c_T) and tanh_C (tanh c_t, t = 1 … T) are None when only the loss was
    wanted. W_all: the stacked W_q (4·n_h, n_h), for backward. A backward pass without its
    own "dZ" buffer writes the adjoints δz over G (the driver's lean path)."""

    H_full: np.ndarray
    G: np.ndarray
    C_full: np.ndarray | None
    tanh_C: np.ndarray | None
    W_all: np.ndarray

    @property
    def H(self) -> np.ndarray:
        return self.H_full[1:]

    @property
    def states(self) -> dict[str, np.ndarray]:
        if self.C_full is None:
            return {}
        n_h = self.C_full.shape[-1]
        out = {"c": self.C_full[1:]}
        for k, gate in enumerate(_ORDER):
            out[gate] = np.ascontiguousarray(self.G[..., k * n_h : (k + 1) * n_h])
        return {name: out[name] for name in ("c", "i", "f", "g", "o")}


def workspace(
    T: int, B: int, n_x: int, n_h: int, model: Model, level: str
) -> dict[str, tuple[int, ...]]:
    """The large arrays of a call (see `_cells`). "loss": no c_t or tanh c_t history;
    "all": δz in its own array, so the gates survive backward for the caller."""
    shapes: dict[str, tuple[int, ...]] = {"H_full": (T + 1, B, n_h), "G": (T, B, 4 * n_h)}
    if level != "loss":
        shapes["C_full"] = (T + 1, B, n_h)
        shapes["tanh_C"] = (T, B, n_h)
    if level == "all":
        shapes["dZ"] = (T, B, 4 * n_h)
    return shapes


def _stack(p: Mapping[str, np.ndarray], letter: str) -> np.ndarray:
    """The four U_q (or W_q) as one (4·n_h, ·) matrix, rows in the internal gate order."""
    return np.concatenate([p[f"{letter}_{g}"] for g in _ORDER], axis=0)


def _bias(p: Mapping[str, np.ndarray], model: Model) -> np.ndarray | None:
    if model.biases == "torch":
        return np.concatenate([p[f"b_i{g}"] + p[f"b_h{g}"] for g in _ORDER])
    if model.hidden_biases:
        return np.concatenate([p[f"b_{g}"] for g in _ORDER])
    return None


def forward(
    p: Mapping[str, np.ndarray],
    x: np.ndarray,
    init: Mapping[str, np.ndarray],
    model: Model,
    keep: bool,
    buffers: Mapping[str, np.ndarray] | None = None,
) -> Tape:
    """h_1 … h_T. With `buffers` (from `workspace`), the c_t history is kept exactly when
    "C_full" is there; without, when keep is True."""
    T, B, n_x = x.shape
    n_h = p["W_i"].shape[0]
    dt = x.dtype
    if buffers is None:
        buffers = carve(dt, workspace(T, B, n_x, n_h, model, "forward" if keep else "loss"))
    # Transposed operands are slower in the small per-step matmuls (see _elman): Uᵀ, Wᵀ
    # are copied once per call, stacked (all four gates in one product).
    Ut = np.ascontiguousarray(_stack(p, "U").T)  # (n_x, 4 n_h)
    W_all = _stack(p, "W")  # (4 n_h, n_h)
    Wt = np.ascontiguousarray(W_all.T)  # (n_h, 4 n_h)
    G = buffers["G"]
    np.matmul(x.reshape(T * B, n_x), Ut, out=G.reshape(T * B, 4 * n_h))
    b = _bias(p, model)
    if b is not None:
        G += b
    H_full = buffers["H_full"]
    H_full[0] = init["h0"]
    kept = "C_full" in buffers
    if kept:
        C_full, tanh_C = buffers["C_full"], buffers["tanh_C"]
    else:  # only the loss: c_{t-1}, c_t alternate in two rows, tanh c_t in one
        C_full, tanh_C = np.empty((2, B, n_h), dtype=dt), np.empty((1, B, n_h), dtype=dt)
    C_full[0] = init["c0"]
    step = np.empty((B, 4 * n_h), dtype=dt)
    tmp = np.empty((B, n_h), dtype=dt)
    s3 = 3 * n_h
    for t in range(T):
        g_t = G[t]
        np.matmul(H_full[t], Wt, out=step)
        g_t += step
        _sigmoid_inplace(g_t[:, :s3])
        np.tanh(g_t[:, s3:], out=g_t[:, s3:])
        i, f, o, g = (g_t[:, k * n_h : (k + 1) * n_h] for k in range(4))
        c_prev, c = (C_full[t], C_full[t + 1]) if kept else (C_full[t % 2], C_full[1 - t % 2])
        th = tanh_C[t] if kept else tanh_C[0]
        np.multiply(f, c_prev, out=c)
        np.multiply(i, g, out=tmp)
        c += tmp
        np.tanh(c, out=th)
        np.multiply(o, th, out=H_full[t + 1])
    if not kept:
        return Tape(H_full, G, None, None, W_all)
    return Tape(H_full, G, C_full, tanh_C, W_all)


def backward(
    p: Mapping[str, np.ndarray],
    x: np.ndarray,
    tape: Tape,
    d_h: np.ndarray,
    model: Model,
    buffers: Mapping[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """BPTT through h and c; d_h ends holding the total ∇h_t. With `buffers` lacking "dZ",
    δz is written over the tape's gates (nobody looks at them afterwards); without
    `buffers`, δz gets its own array and the tape stays intact."""
    T, B, n_x = x.shape
    n_h = p["W_i"].shape[0]
    TB = T * B
    dt = d_h.dtype
    if tape.C_full is None:
        raise ValueError("this LSTM tape kept no cell states (forward with keep=False)")
    W_all = tape.W_all  # δh_{t-1} ⊇ δz (B, 4 n_h) @ W_all (4 n_h, n_h)
    G, C_full, tanh_C = tape.G, tape.C_full, tape.tanh_C
    if buffers is None:
        dZ = np.empty((T, B, 4 * n_h), dtype=dt)
    else:
        dZ = buffers.get("dZ", G)
    d_c = np.zeros((B, n_h), dtype=dt)  # carries f_{t+1} ⊙ δc_{t+1} into step t
    step = np.empty((B, n_h), dtype=dt)
    tmp = np.empty((B, n_h), dtype=dt)
    tmp2 = np.empty((B, n_h), dtype=dt)
    for t in range(T - 1, -1, -1):  # 0-based: step t + 1
        dh = d_h[t]
        if t < T - 1:
            np.matmul(dZ[t + 1], W_all, out=step)
            dh += step
        g_t = G[t]
        i, f, o, g = (g_t[:, k * n_h : (k + 1) * n_h] for k in range(4))
        dz = dZ[t]
        dz_i, dz_f, dz_o, dz_g = (dz[:, k * n_h : (k + 1) * n_h] for k in range(4))
        th = tanh_C[t]
        # The order below lets dz be G[t] itself: each gate's slot is written only after
        # the last read of that gate's value.
        # δc = δh ⊙ o ⊙ (1 − tanh² c) + f_{t+1} ⊙ δc_{t+1}  (the second term is in d_c)
        np.multiply(th, th, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        d_c += tmp
        # δz_o = δh ⊙ tanh(c) ⊙ o (1 − o)   (o's last use)
        np.subtract(1, o, out=tmp)
        tmp *= o
        tmp *= th
        np.multiply(tmp, dh, out=dz_o)
        # δz_i = δc ⊙ g ⊙ i (1 − i), held in tmp until g and i are no longer needed
        np.subtract(1, i, out=tmp)
        tmp *= i
        tmp *= g
        tmp *= d_c
        # δz_g = δc ⊙ i ⊙ (1 − g²)   (g's and i's last use)
        np.multiply(g, g, out=dz_g)
        np.subtract(1, dz_g, out=dz_g)
        dz_g *= i
        dz_g *= d_c
        np.copyto(dz_i, tmp)
        # δz_f = δc ⊙ c_{t-1} ⊙ f (1 − f); then d_c becomes f_t ⊙ δc_t for step t − 1
        np.subtract(1, f, out=tmp2)
        tmp2 *= d_c
        tmp2 *= C_full[t]
        d_c *= f
        np.multiply(f, tmp2, out=dz_f)
    g_h0 = dZ[0] @ W_all
    dZ2 = dZ.reshape(TB, 4 * n_h)
    # All gates' parameter gradients in one matmul each, over all T·B rows.
    g_U = dZ2.T @ x.reshape(TB, n_x)
    g_W = dZ2.T @ tape.H_full[:T].reshape(TB, n_h)
    grads: dict[str, np.ndarray] = {}
    for k, gate in enumerate(_ORDER):
        rows = slice(k * n_h, (k + 1) * n_h)
        grads[f"U_{gate}"] = g_U[rows]  # row blocks: contiguous, disjoint views
        grads[f"W_{gate}"] = g_W[rows]
    if model.hidden_biases:
        g_b = dZ2.sum(axis=0)
        for k, gate in enumerate(_ORDER):
            part = g_b[k * n_h : (k + 1) * n_h]
            if model.biases == "torch":
                # b_iq and b_hq enter z_q alike: the same gradient, each its own array.
                grads[f"b_i{gate}"] = part
                grads[f"b_h{gate}"] = part.copy()
            else:
                grads[f"b_{gate}"] = part
    order = model.block_names()
    grads = {name: grads[name] for name in order if name in grads}
    return grads, {"h0": g_h0, "c0": d_c}
