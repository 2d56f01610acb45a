"""The LSTM cell's kernel, with the equations of the torch.nn.LSTM docs (interface: `_cells`).

    i_t = σ(z_i), f_t = σ(z_f), g_t = tanh(z_g), o_t = σ(z_o),  z_q = U_q x_t + W_q h_{t-1} + b_q
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t,    h_t = o_t ⊙ tanh(c_t)

The four gates are computed together: per call, the U_q and W_q are stacked into one matrix
each, so the input projections of all steps are one matmul and each step one more. Inside,
the gates are stored in the order i, f, o, g (the three sigmoids side by side); the blocks
keep their own names and torch's order outside.

Backward (δ· = ∇·L):
    δo_t = δh_t ⊙ tanh(c_t)                       δz_o = δo_t ⊙ o_t (1 − o_t)
    δc_t = δh_t ⊙ o_t ⊙ (1 − tanh² c_t) + f_{t+1} ⊙ δc_{t+1}
    δz_i = δc_t ⊙ g_t ⊙ i_t (1 − i_t)           δz_f = δc_t ⊙ c_{t-1} ⊙ f_t (1 − f_t)
    δz_g = δc_t ⊙ i_t ⊙ (1 − g_t²)              δh_{t-1} ⊇ Σ_q W_qᵀ δz_q,  δc_0 = f_1 ⊙ δc_1
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnn_spec import Model

# Internal gate order: the sigmoid gates first, so one σ covers a contiguous 3·n_h slice.
_ORDER = ("i", "f", "o", "g")


def _sigmoid_inplace(a: np.ndarray) -> None:
    # σ(a) = (1 + tanh(a/2)) / 2: no overflow of exp(-a) for very negative a.
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5


@dataclass(eq=False)
class Tape:
    """H_full: h_0 … h_T; C_full: c_0 … c_T; G: the gate values (T, B, 4·n_h) in the internal
    order i, f, o, g; tanh_C: tanh(c_t) for t = 1 … T."""

    H_full: np.ndarray
    C_full: np.ndarray
    G: np.ndarray
    tanh_C: np.ndarray

    @property
    def H(self) -> np.ndarray:
        return self.H_full[1:]

    @property
    def states(self) -> dict[str, np.ndarray]:
        n_h = self.C_full.shape[-1]
        out = {"c": self.C_full[1:]}
        for k, gate in enumerate(_ORDER):
            out[gate] = np.ascontiguousarray(self.G[..., k * n_h : (k + 1) * n_h])
        return out


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
) -> Tape:
    T, B, n_x = x.shape
    n_h = p["W_i"].shape[0]
    dt = x.dtype
    Ut = np.ascontiguousarray(_stack(p, "U").T)  # (n_x, 4 n_h)
    Wt = np.ascontiguousarray(_stack(p, "W").T)  # (n_h, 4 n_h)
    G = np.empty((T, B, 4 * n_h), dtype=dt)
    np.matmul(x.reshape(T * B, n_x), Ut, out=G.reshape(T * B, 4 * n_h))
    b = _bias(p, model)
    if b is not None:
        G += b
    H_full = np.empty((T + 1, B, n_h), dtype=dt)
    C_full = np.empty((T + 1, B, n_h), dtype=dt)
    tanh_C = np.empty((T, B, n_h), dtype=dt)
    H_full[0] = init["h0"]
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
        c = C_full[t + 1]
        np.multiply(f, C_full[t], out=c)
        np.multiply(i, g, out=tmp)
        c += tmp
        np.tanh(c, out=tanh_C[t])
        np.multiply(o, tanh_C[t], out=H_full[t + 1])
    return Tape(H_full, C_full, G, tanh_C)


def backward(
    p: Mapping[str, np.ndarray],
    x: np.ndarray,
    tape: Tape,
    d_h: np.ndarray,
    model: Model,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    T, B, n_x = x.shape
    n_h = p["W_i"].shape[0]
    TB = T * B
    dt = d_h.dtype
    W_all = _stack(p, "W")  # (4 n_h, n_h): δh_{t-1} ⊇ δz (B, 4 n_h) @ W_all
    G, C_full, tanh_C = tape.G, tape.C_full, tape.tanh_C
    dZ = np.empty((T, B, 4 * n_h), dtype=dt)
    d_c = np.zeros((B, n_h), dtype=dt)  # carries f_{t+1} ⊙ δc_{t+1} into step t
    step = np.empty((B, n_h), dtype=dt)
    tmp = np.empty((B, n_h), dtype=dt)
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
        # δz_o = δh ⊙ tanh(c) ⊙ o (1 − o)
        np.multiply(dh, th, out=dz_o)
        np.subtract(1, o, out=tmp)
        tmp *= o
        dz_o *= tmp
        # δc = δh ⊙ o ⊙ (1 − tanh² c) + f_{t+1} ⊙ δc_{t+1}  (the second term is in d_c)
        np.multiply(th, th, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        d_c += tmp
        # δz_i = δc ⊙ g ⊙ i (1 − i)
        np.subtract(1, i, out=tmp)
        tmp *= i
        np.multiply(d_c, g, out=dz_i)
        dz_i *= tmp
        # δz_f = δc ⊙ c_{t-1} ⊙ f (1 − f)
        np.subtract(1, f, out=tmp)
        tmp *= f
        np.multiply(d_c, C_full[t], out=dz_f)
        dz_f *= tmp
        # δz_g = δc ⊙ i ⊙ (1 − g²)
        np.multiply(g, g, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= i
        np.multiply(d_c, tmp, out=dz_g)
        d_c *= f  # f_t ⊙ δc_t, for step t − 1
    g_h0 = dZ[0] @ W_all
    dZ2 = dZ.reshape(TB, 4 * n_h)
    g_U = dZ2.T @ x.reshape(TB, n_x)
    g_W = dZ2.T @ tape.H_full[:T].reshape(TB, n_h)
    grads: dict[str, np.ndarray] = {}
    for k, gate in enumerate(_ORDER):
        rows = slice(k * n_h, (k + 1) * n_h)
        grads[f"U_{gate}"] = np.ascontiguousarray(g_U[rows])
        grads[f"W_{gate}"] = np.ascontiguousarray(g_W[rows])
    if model.hidden_biases:
        g_b = dZ2.sum(axis=0)
        for k, gate in enumerate(_ORDER):
            part = g_b[k * n_h : (k + 1) * n_h]
            if model.biases == "torch":
                # b_iq and b_hq enter z_q alike: the same gradient, each its own array.
                grads[f"b_i{gate}"] = part.copy()
                grads[f"b_h{gate}"] = part.copy()
            else:
                grads[f"b_{gate}"] = part.copy()
    order = model.block_names()
    grads = {name: grads[name] for name in order if name in grads}
    return grads, {"h0": g_h0, "c0": d_c}
