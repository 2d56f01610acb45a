"""The GRU cell's kernel, with the equations of the torch.nn.GRU docs (interface: `_cells`).

    r_t = σ(U_r x_t + b_ir + W_r h_{t-1} + b_hr)
    z_t = σ(U_z x_t + b_iz + W_z h_{t-1} + b_hz)
    n_t = tanh(U_n x_t + b_in + r_t ⊙ (W_n h_{t-1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

With one bias per gate (biases=both/hidden) they are b_r, b_z and b_n, b_n on the input side
(b_hn = 0). The three gates are computed together: per call the U_q and W_q are stacked,
the input projections of all steps are one matmul and each step one more.

Backward (δ· = ∇·L; ā_q is the pre-activation of gate q):
    δā_n = δh_t ⊙ (1 − z_t) ⊙ (1 − n_t²)        δā_z = δh_t ⊙ (h_{t-1} − n_t) ⊙ z_t (1 − z_t)
    δā_r = δā_n ⊙ (W_n h_{t-1} + b_hn) ⊙ r_t (1 − r_t)
    δh_{t-1} ⊇ z_t ⊙ δh_t + W_rᵀ δā_r + W_zᵀ δā_z + W_nᵀ (r_t ⊙ δā_n)   (the three paths)
    ∇b_in = Σ_t δā_n,  ∇b_hn = Σ_t r_t ⊙ δā_n  (b_hn sits inside r_t ⊙ (…))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnn_spec import Model

_ORDER = ("r", "z", "n")


def _sigmoid_inplace(a: np.ndarray) -> None:
    # σ(a) = (1 + tanh(a/2)) / 2: no overflow of exp(-a) for very negative a.
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5


@dataclass(eq=False)
class Tape:
    """H_full: h_0 … h_T; G: the gate values r, z, n (T, B, 3·n_h); HN: W_n h_{t-1} + b_hn."""

    H_full: np.ndarray
    G: np.ndarray
    HN: np.ndarray

    @property
    def H(self) -> np.ndarray:
        return self.H_full[1:]

    @property
    def states(self) -> dict[str, np.ndarray]:
        n_h = self.HN.shape[-1]
        return {
            gate: np.ascontiguousarray(self.G[..., k * n_h : (k + 1) * n_h])
            for k, gate in enumerate(_ORDER)
        }


def _stack(p: Mapping[str, np.ndarray], letter: str) -> np.ndarray:
    return np.concatenate([p[f"{letter}_{g}"] for g in _ORDER], axis=0)


def _biases(
    p: Mapping[str, np.ndarray], model: Model, n_h: int, dtype: np.dtype
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(input-side biases of r, z, n; recurrent-side biases of r, z, n), None where absent."""
    if model.biases == "torch":
        return (
            np.concatenate([p[f"b_i{g}"] for g in _ORDER]),
            np.concatenate([p[f"b_h{g}"] for g in _ORDER]),
        )
    if model.hidden_biases:
        return np.concatenate([p[f"b_{g}"] for g in _ORDER]), None
    return None, None


def forward(
    p: Mapping[str, np.ndarray],
    x: np.ndarray,
    init: Mapping[str, np.ndarray],
    model: Model,
    keep: bool,
) -> Tape:
    T, B, n_x = x.shape
    n_h = p["W_r"].shape[0]
    dt = x.dtype
    Ut = np.ascontiguousarray(_stack(p, "U").T)  # (n_x, 3 n_h)
    Wt = np.ascontiguousarray(_stack(p, "W").T)  # (n_h, 3 n_h)
    b_in, b_h = _biases(p, model, n_h, dt)
    G = np.empty((T, B, 3 * n_h), dtype=dt)
    np.matmul(x.reshape(T * B, n_x), Ut, out=G.reshape(T * B, 3 * n_h))
    if b_in is not None:
        G += b_in
    H_full = np.empty((T + 1, B, n_h), dtype=dt)
    H_full[0] = init["h0"]
    HN = np.empty((T, B, n_h), dtype=dt)
    step = np.empty((B, 3 * n_h), dtype=dt)
    tmp = np.empty((B, n_h), dtype=dt)
    s2 = 2 * n_h
    for t in range(T):
        g_t = G[t]
        np.matmul(H_full[t], Wt, out=step)
        if b_h is not None:
            step += b_h
        g_t[:, :s2] += step[:, :s2]
        _sigmoid_inplace(g_t[:, :s2])
        r, z, n = (g_t[:, k * n_h : (k + 1) * n_h] for k in range(3))
        HN[t] = step[:, s2:]
        np.multiply(r, HN[t], out=tmp)
        n += tmp
        np.tanh(n, out=n)
        # h_t = n + z ⊙ (h_{t-1} − n)
        h = H_full[t + 1]
        np.subtract(H_full[t], n, out=h)
        h *= z
        h += n
    return Tape(H_full, G, HN)


def backward(
    p: Mapping[str, np.ndarray],
    x: np.ndarray,
    tape: Tape,
    d_h: np.ndarray,
    model: Model,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    T, B, n_x = x.shape
    n_h = p["W_r"].shape[0]
    TB = T * B
    dt = d_h.dtype
    W_all = _stack(p, "W")  # (3 n_h, n_h)
    G, HN, H_full = tape.G, tape.HN, tape.H_full
    dA = np.empty((T, B, 3 * n_h), dtype=dt)  # δā_r, δā_z, δā_n (the input-side adjoints)
    dHN = np.empty((T, B, n_h), dtype=dt)  # r ⊙ δā_n: the adjoint of W_n h_{t-1} + b_hn
    carry = np.zeros((B, n_h), dtype=dt)  # what step t+1 sends to h_t through the recurrence
    rec = np.empty((B, 3 * n_h), dtype=dt)
    step = np.empty((B, n_h), dtype=dt)
    tmp = np.empty((B, n_h), dtype=dt)
    for t in range(T - 1, -1, -1):
        dh = d_h[t]
        dh += carry
        r, z, n = (G[t][:, k * n_h : (k + 1) * n_h] for k in range(3))
        da_r, da_z, da_n = (dA[t][:, k * n_h : (k + 1) * n_h] for k in range(3))
        h_prev = H_full[t]
        # δā_n = δh ⊙ (1 − z) ⊙ (1 − n²)
        np.subtract(1, z, out=da_n)
        da_n *= dh
        np.multiply(n, n, out=tmp)
        np.subtract(1, tmp, out=tmp)
        da_n *= tmp
        # δā_z = δh ⊙ (h_{t-1} − n) ⊙ z (1 − z)
        np.subtract(h_prev, n, out=da_z)
        da_z *= dh
        np.subtract(1, z, out=tmp)
        tmp *= z
        da_z *= tmp
        # δā_r = δā_n ⊙ (W_n h_{t-1} + b_hn) ⊙ r (1 − r)
        np.multiply(da_n, HN[t], out=da_r)
        np.subtract(1, r, out=tmp)
        tmp *= r
        da_r *= tmp
        np.multiply(r, da_n, out=dHN[t])
        # carry = z ⊙ δh (direct path) + W_rᵀ δā_r + W_zᵀ δā_z + W_nᵀ (r ⊙ δā_n)
        rec[:, : 2 * n_h] = dA[t][:, : 2 * n_h]
        rec[:, 2 * n_h :] = dHN[t]
        np.matmul(rec, W_all, out=step)
        np.multiply(z, dh, out=carry)
        carry += step
    dA2 = dA.reshape(TB, 3 * n_h)
    dHN2 = dHN.reshape(TB, n_h)
    H_prev2 = H_full[:T].reshape(TB, n_h)
    g_U = dA2.T @ x.reshape(TB, n_x)
    grads: dict[str, np.ndarray] = {}
    for k, gate in enumerate(_ORDER):
        rows = slice(k * n_h, (k + 1) * n_h)
        grads[f"U_{gate}"] = np.ascontiguousarray(g_U[rows])
    g_W_rz = dA2[:, : 2 * n_h].T @ H_prev2
    grads["W_r"] = np.ascontiguousarray(g_W_rz[:n_h])
    grads["W_z"] = np.ascontiguousarray(g_W_rz[n_h:])
    grads["W_n"] = dHN2.T @ H_prev2
    if model.hidden_biases:
        g_in = dA2.sum(axis=0)
        if model.biases == "torch":
            g_hn = dHN2.sum(axis=0)
            for k, gate in enumerate(_ORDER):
                part = g_in[k * n_h : (k + 1) * n_h]
                grads[f"b_i{gate}"] = part.copy()
                grads[f"b_h{gate}"] = g_hn if gate == "n" else part.copy()
        else:
            for k, gate in enumerate(_ORDER):
                grads[f"b_{gate}"] = g_in[k * n_h : (k + 1) * n_h].copy()
    order = model.block_names()
    grads = {name: grads[name] for name in order if name in grads}
    return grads, {"h0": carry}
