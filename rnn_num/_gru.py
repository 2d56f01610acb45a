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

from ._buffers import carve
from ._lstm import _sigmoid_inplace

_ORDER = ("r", "z", "n")

TOTAL_D_H = True  # backward leaves the total ∂L/∂h_t in d_h


@dataclass(eq=False)
class Tape:
    """H_full: h_0 … h_T; G: the gate values r, z, n (T, B, 3·n_h); HN: W_n h_{t-1} + b_hn
    (None when only the loss was wanted); W_all: the stacked W_q (3·n_h, n_h).

    backward() writes ∇ of n's pre-activation over HN (HN is not a reported state), and,
    given buffers without "dA", its adjoints over G: a tape serves one backward pass."""

    H_full: np.ndarray
    G: np.ndarray
    HN: np.ndarray | None
    W_all: np.ndarray

    @property
    def H(self) -> np.ndarray:
        return self.H_full[1:]

    @property
    def states(self) -> dict[str, np.ndarray]:
        if self.HN is None:
            return {}
        n_h = self.H_full.shape[-1]
        return {
            gate: np.ascontiguousarray(self.G[..., k * n_h : (k + 1) * n_h])
            for k, gate in enumerate(_ORDER)
        }


def workspace(
    T: int, B: int, n_x: int, n_h: int, model: Model, level: str
) -> dict[str, tuple[int, ...]]:
    """The large arrays of a call (see `_cells`). "loss": no W_n h_{t-1} + b_hn history;
    "all": the adjoints in their own array, so the gates survive backward for the caller."""
    shapes: dict[str, tuple[int, ...]] = {"H_full": (T + 1, B, n_h), "G": (T, B, 3 * n_h)}
    if level != "loss":
        shapes["HN"] = (T, B, n_h)
    if level == "all":
        shapes["dA"] = (T, B, 3 * n_h)
    return shapes


def _stack(p: Mapping[str, np.ndarray], letter: str) -> np.ndarray:
    return np.concatenate([p[f"{letter}_{g}"] for g in _ORDER], axis=0)


def _biases(
    p: Mapping[str, np.ndarray], model: Model
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(the biases added before the loop: b_ir + b_hr, b_iz + b_hz, b_in; b_hn), None where
    absent. b_hn is added inside the loop: it sits inside r ⊙ (W_n h + b_hn)."""
    if model.biases == "torch":
        pre = np.concatenate([p["b_ir"] + p["b_hr"], p["b_iz"] + p["b_hz"], p["b_in"]])
        return pre, p["b_hn"]
    if model.hidden_biases:
        return np.concatenate([p[f"b_{g}"] for g in _ORDER]), None
    return None, None


def forward(
    p: Mapping[str, np.ndarray],
    x: np.ndarray,
    init: Mapping[str, np.ndarray],
    model: Model,
    keep: bool,
    buffers: Mapping[str, np.ndarray] | None = None,
) -> Tape:
    """h_1 … h_T. With `buffers` (from `workspace`), W_n h_{t-1} + b_hn is kept exactly
    when "HN" is there; without, when keep is True."""
    T, B, n_x = x.shape
    n_h = p["W_r"].shape[0]
    dt = x.dtype
    if buffers is None:
        buffers = carve(dt, workspace(T, B, n_x, n_h, model, "forward" if keep else "loss"))
    # Uᵀ, Wᵀ stacked and copied once per call (transposed operands are slower, see _elman).
    Ut = np.ascontiguousarray(_stack(p, "U").T)  # (n_x, 3 n_h)
    W_all = _stack(p, "W")  # (3 n_h, n_h)
    Wt = np.ascontiguousarray(W_all.T)  # (n_h, 3 n_h)
    b_pre, b_hn = _biases(p, model)
    G = buffers["G"]
    np.matmul(x.reshape(T * B, n_x), Ut, out=G.reshape(T * B, 3 * n_h))
    if b_pre is not None:
        G += b_pre
    H_full = buffers["H_full"]
    H_full[0] = init["h0"]
    kept = "HN" in buffers
    HN = buffers["HN"] if kept else None
    step = np.empty((B, 3 * n_h), dtype=dt)
    tmp = np.empty((B, n_h), dtype=dt)
    s2 = 2 * n_h
    for t in range(T):
        g_t = G[t]
        np.matmul(H_full[t], Wt, out=step)
        g_t[:, :s2] += step[:, :s2]
        _sigmoid_inplace(g_t[:, :s2])
        r, z, n = (g_t[:, k * n_h : (k + 1) * n_h] for k in range(3))
        hn = step[:, s2:]  # W_n h_{t-1} (+ b_hn)
        if b_hn is not None:
            hn += b_hn
        if kept:
            HN[t] = hn
        np.multiply(r, hn, out=tmp)
        n += tmp
        np.tanh(n, out=n)
        # h_t = n + z ⊙ (h_{t-1} − n)
        h = H_full[t + 1]
        np.subtract(H_full[t], n, out=h)
        h *= z
        h += n
    return Tape(H_full, G, HN, W_all)


def backward(
    p: Mapping[str, np.ndarray],
    x: np.ndarray,
    tape: Tape,
    d_h: np.ndarray,
    model: Model,
    buffers: Mapping[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """BPTT; d_h ends holding the total ∇h_t.

    dA[t] = (δā_r, δā_z, r ⊙ δā_n): the adjoints of the three products W_q h_{t-1} (+ b_hq),
    so one matmul per step sends them all back to h_{t-1}, and ∇W is one matmul. δā_n itself
    (the adjoint of U_n x_t + b_in) goes over HN, which is read for the last time just before.
    With `buffers` lacking "dA", dA is written over the gates G."""
    T, B, n_x = x.shape
    n_h = p["W_r"].shape[0]
    TB = T * B
    dt = d_h.dtype
    if tape.HN is None:
        raise ValueError("this GRU tape kept no W_n h + b_hn (forward with keep=False)")
    W_all = tape.W_all
    G, HN, H_full = tape.G, tape.HN, tape.H_full
    if buffers is None:
        dA = np.empty((T, B, 3 * n_h), dtype=dt)
    else:
        dA = buffers.get("dA", G)
    DN = HN  # δā_n replaces W_n h_{t-1} + b_hn step by step
    carry = np.zeros((B, n_h), dtype=dt)  # what step t+1 sends to h_t through the recurrence
    step = np.empty((B, n_h), dtype=dt)
    tmp = np.empty((B, n_h), dtype=dt)
    tmp2 = np.empty((B, n_h), dtype=dt)
    tmp3 = np.empty((B, n_h), dtype=dt)
    for t in range(T - 1, -1, -1):
        dh = d_h[t]
        dh += carry
        r, z, n = (G[t][:, k * n_h : (k + 1) * n_h] for k in range(3))
        da_r, da_z, d_hn = (dA[t][:, k * n_h : (k + 1) * n_h] for k in range(3))
        # Each slot of dA[t] is written after the last read of the gate it may overwrite.
        # δā_n = δh ⊙ (1 − z) ⊙ (1 − n²)  -> tmp
        np.subtract(1, z, out=tmp)
        tmp *= dh
        np.multiply(n, n, out=tmp2)
        np.subtract(1, tmp2, out=tmp2)
        tmp *= tmp2
        # the direct path z ⊙ δh; the matmul part is added below
        np.multiply(z, dh, out=carry)
        # δā_z = δh ⊙ (h_{t-1} − n) ⊙ z (1 − z)   (z's and n's last use)
        np.subtract(H_full[t], n, out=tmp2)
        tmp2 *= dh
        np.subtract(1, z, out=tmp3)
        tmp3 *= z
        np.multiply(tmp2, tmp3, out=da_z)
        # δā_r = δā_n ⊙ (W_n h_{t-1} + b_hn) ⊙ r (1 − r);  r ⊙ δā_n   (r's last use)
        np.subtract(1, r, out=tmp3)
        tmp3 *= r
        tmp3 *= HN[t]
        np.multiply(r, tmp, out=d_hn)
        np.multiply(tmp3, tmp, out=da_r)
        np.copyto(DN[t], tmp)
        # the three gates' paths back to h_{t-1} in one matmul
        np.matmul(dA[t], W_all, out=step)
        carry += step
    dA2 = dA.reshape(TB, 3 * n_h)
    DN2 = DN.reshape(TB, n_h)
    x2 = x.reshape(TB, n_x)
    g_W = dA2.T @ H_full[:T].reshape(TB, n_h)
    g_U_rz = dA2[:, : 2 * n_h].T @ x2
    grads: dict[str, np.ndarray] = {
        "U_r": g_U_rz[:n_h],
        "U_z": g_U_rz[n_h:],
        "U_n": DN2.T @ x2,
    }
    for k, gate in enumerate(_ORDER):
        grads[f"W_{gate}"] = g_W[k * n_h : (k + 1) * n_h]
    if model.hidden_biases:
        g_rec = dA2.sum(axis=0)  # r, z: the pre-activation's; n: b_hn's (inside r ⊙ …)
        g_in = {"r": g_rec[:n_h], "z": g_rec[n_h : 2 * n_h], "n": DN2.sum(axis=0)}
        if model.biases == "torch":
            for gate in _ORDER:
                grads[f"b_i{gate}"] = g_in[gate]
                grads[f"b_h{gate}"] = g_rec[2 * n_h :] if gate == "n" else g_in[gate].copy()
        else:
            for gate in _ORDER:
                grads[f"b_{gate}"] = g_in[gate]  # b_n is the input-side bias
    order = model.block_names()
    grads = {name: grads[name] for name in order if name in grads}
    return grads, {"h0": carry}
