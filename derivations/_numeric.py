"""Numeric helpers for the cross-checks of the derivations (NumPy only, no SymPy).

The cross-checks compare a lambdified symbolic result against something written
independently: a central finite difference of a plain NumPy function, or `rnn_num`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Central differences have truncation error O(eps^2) and rounding error O(1e-16 / eps);
# eps = 1e-5 balances them at about 1e-10 relative for smooth functions of size O(1).
FD_EPS = 1e-5
# What "agrees with finite differences" means for float64 and the eps above.
FD_TOLERANCE = 1e-7
# The lambdified result against rnn_num (both exact up to rounding), float64.
RNN_NUM_TOLERANCE = 1e-9


def rng(seed: int) -> np.random.Generator:
    """A fixed-seed generator: every cross-check draws the same points on every run."""
    return np.random.default_rng(seed)


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected| / max(max |expected|, 1): relative for big values, absolute near 0."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"shapes differ: {actual.shape} against {expected.shape}")
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    return float(np.max(np.abs(actual - expected), initial=0.0)) / scale


def central_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = FD_EPS
) -> np.ndarray:
    """∂f/∂x_i ≈ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for a scalar f of an array x."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def central_jacobian(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, eps: float = FD_EPS
) -> np.ndarray:
    """J[i, j] ≈ ∂f_i/∂x_j by central differences, for a vector f of a vector x."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for j in range(x.size):
        step = np.zeros_like(x)
        step[j] = eps
        columns.append((np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps))
    return np.stack(columns, axis=1)
