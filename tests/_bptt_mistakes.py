"""Backward passes written by hand for the checker's tests: one correct, and one per mistake.

Written independently of `rnn_num` and of `rnn_check._bptt_variants`: one sequence at a
time, column vectors, a loop over time, exactly the formulas of NOTATION.md. A mistake is a
branch at the one line where people make it; each `backward_*` function below makes one.
"""

from __future__ import annotations

import numpy as np


def _one_sequence(params, x, y, h0, mistake):
    U, W, V, b, c = (np.asarray(params[k], dtype=float) for k in ("U", "W", "V", "b", "c"))
    T = x.shape[0]
    n_h = W.shape[0]
    hs = [np.asarray(h0, dtype=float).reshape(n_h, 1)]
    probs = []
    loss = 0.0
    for t in range(T):
        a = b.reshape(-1, 1) + W @ hs[-1] + U @ x[t].reshape(-1, 1)
        hs.append(np.tanh(a))
        o = c.reshape(-1, 1) + V @ hs[-1]
        p = np.exp(o - o.max())
        p /= p.sum()
        probs.append(p)
        loss -= float(np.log(p[y[t], 0]))
    g = {k: np.zeros_like(v) for k, v in (("U", U), ("W", W), ("V", V))}
    g["b"] = np.zeros((n_h, 1))
    g["c"] = np.zeros((V.shape[0], 1))
    dh_next = np.zeros((n_h, 1))  # ∇h_{t+1} L  pushed back through step t+1: Wᵀ diag(1−h²) ∇h
    last = T - 2 if mistake == "sum_stops_early" else T - 1
    for t in range(T - 1, -1, -1):
        do = probs[t].copy()
        do[y[t], 0] -= 1.0
        if mistake == "only_last_loss" and t < T - 1:
            dh = dh_next
        elif mistake == "no_future":
            dh = V.T @ do
        else:
            dh = V.T @ do + dh_next
        h, h_prev = hs[t + 1], hs[t]
        deriv = 1.0 - h**2
        if mistake == "missing_tanh_prime":
            deriv = np.ones_like(h)
        elif mistake == "tanh_prime_step_early":
            deriv = 1.0 - h_prev**2
        da = deriv * dh
        if t <= last:
            g["V"] += do @ h.T
            g["c"] += do
            g["b"] += da
            g["U"] += da @ x[t].reshape(1, -1)
            g["W"] += da @ (h.T if mistake == "h_t_in_grad_W" else h_prev.T)
        if mistake == "W_not_transposed":
            dh_next = W @ da
        else:
            dh_next = W.T @ da
    g["h0"] = np.zeros((n_h, 1)) if mistake == "no_h0_grad" else dh_next
    if mistake == "sign_flipped":
        g = {k: -v for k, v in g.items()}
    if mistake == "mean_over_T":
        g = {k: v / T for k, v in g.items()}
        loss /= T
    if mistake == "loss_mean_over_T":
        loss /= T
    return loss, {k: v.reshape(np.shape(params[k]) if k != "h0" else (n_h,)) for k, v in g.items()}


def _backward(params, x, y, h0=None, mistake=None):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y)
    n_h = np.shape(params["W"])[0]
    h0 = np.zeros(n_h) if h0 is None else np.asarray(h0, dtype=float)
    if x.ndim == 2:
        total, grads = _one_sequence(params, x, y, h0, mistake)
    else:
        total, grads = 0.0, None
        for i in range(x.shape[1]):  # the loss is summed over the batch, and every gradient
            loss, g = _one_sequence(params, x[:, i], y[:, i], h0, mistake)
            total += loss
            grads = g if grads is None else {k: grads[k] + g[k] for k in g}
    if mistake == "clipped_by_norm":  # g · min(1, C/‖g‖) with C = 0.5, over all blocks
        norm = np.sqrt(sum(float(np.sum(v**2)) for v in grads.values()))
        grads = {k: v * min(1.0, 0.5 / norm) for k, v in grads.items()}
    return total, grads


def backward_correct(params, x, y, h0=None):
    return _backward(params, x, y, h0)


def _make(mistake):
    def backward(params, x, y, h0=None):
        return _backward(params, x, y, h0, mistake)

    backward.__name__ = f"backward_{mistake}"
    return backward


# mistake -> a phrase its diagnosis must contain
MISTAKES = {
    "sign_flipped": "sign flipped",
    "W_not_transposed": "W used where Wᵀ belongs",
    "missing_tanh_prime": "missing tanh' factor diag(1 − h_t²) everywhere",
    "tanh_prime_step_early": "tanh' taken one step early",
    "h_t_in_grad_W": "h_t used where h_{t−1} belongs in ∇W",
    "sum_stops_early": "sum over t stops one step early",
    "mean_over_T": "averaged over T",
    "no_h0_grad": "∇h0 missing",
    "no_future": "no gradient flows back in time",
    "only_last_loss": "only the last step's loss",
    "clipped_by_norm": "gradient clipping by norm",
    "loss_mean_over_T": "averaged over T instead of summed over time (explains the loss)",
}
BUGGY = {name: _make(name) for name in MISTAKES}
