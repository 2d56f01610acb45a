"""One time step of the canonical RNN, written as plainly as the maths.

These functions take column-vector (1-D) arguments exactly as in NOTATION.md, so they can
be rendered with latexify beside the derived formulas. The fast batched implementation in
`_model.py` computes the same quantities for all t and all sequences at once; the tests
prove that the two agree step by step.
"""

from __future__ import annotations

import numpy as np


def forward_step(
    h_prev: np.ndarray, x_t: np.ndarray, U: np.ndarray, W: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """h(t) = tanh(b + W h(t-1) + U x(t))."""
    return np.tanh(b + W @ h_prev + U @ x_t)


def output_step(h_t: np.ndarray, V: np.ndarray, c: np.ndarray) -> np.ndarray:
    """o(t) = c + V h(t)."""
    return c + V @ h_t


def softmax(o: np.ndarray) -> np.ndarray:
    """ŷ = softmax(o) for one logit vector, shifted by max(o) so that exp never overflows."""
    return np.exp(o - np.max(o)) / np.sum(np.exp(o - np.max(o)))


def cross_entropy_step(o_t: np.ndarray, y_t: int) -> float:
    """L(t) = -log softmax(o(t))[y(t)] = log Σ_j exp(o_j) - o_y, via log-sum-exp."""
    return np.max(o_t) + np.log(np.sum(np.exp(o_t - np.max(o_t)))) - o_t[y_t]


def output_grad_step(y_hat_t: np.ndarray, e_y_t: np.ndarray) -> np.ndarray:
    """∇_{o(t)} L = ŷ(t) - e_{y(t)} (softmax + cross-entropy, one-hot target e_{y(t)})."""
    return y_hat_t - e_y_t


def backward_step(
    d_h_next: np.ndarray, h_next: np.ndarray, d_o_t: np.ndarray, W: np.ndarray, V: np.ndarray
) -> np.ndarray:
    """∇_{h(t)} L = Wᵀ diag(1 - h(t+1)²) ∇_{h(t+1)} L + Vᵀ ∇_{o(t)} L."""
    return W.T @ ((1 - h_next**2) * d_h_next) + V.T @ d_o_t
