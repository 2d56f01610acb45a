"""Numbers for the BPTT cross-checks: an independent loss, random points, the comparisons.

`plain_loss` is the canonical RNN loss written out again in plain NumPy (not rnn_num,
not lambdified SymPy), so central finite differences of it are an independent reference.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from derivations._numeric import central_gradient, relative_error

PARAMETER_NAMES = ("U", "W", "V", "b", "c", "h0")


def plain_loss(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray,
    *,
    many_to_one: bool = False,
) -> float:
    """Σ_t −log softmax(c + V h_t)[y_t], h_t = tanh(b + W h_{t−1} + U x_t); only t = T if many_to_one."""
    h = np.asarray(h0, dtype=np.float64)
    T = len(x)
    total = 0.0
    for t in range(T):
        h = np.tanh(params["b"] + params["W"] @ h + params["U"] @ x[t])
        if many_to_one and t < T - 1:
            continue
        o = params["c"] + params["V"] @ h
        label = int(y) if many_to_one else int(y[t])
        total += np.log(np.sum(np.exp(o - o.max()))) + o.max() - o[label]
    return float(total)


def random_point(
    seed: int, T: int, n_x: int, n_h: int, n_y: int, *, many_to_one: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """(params, x, y, h0) drawn from a fixed-seed generator; h0 nonzero."""
    rng = np.random.default_rng(seed)
    params = {
        "U": rng.normal(scale=0.6, size=(n_h, n_x)),
        "W": rng.normal(scale=0.6, size=(n_h, n_h)),
        "V": rng.normal(scale=0.6, size=(n_y, n_h)),
        "b": rng.normal(scale=0.3, size=n_h),
        "c": rng.normal(scale=0.3, size=n_y),
    }
    x = rng.normal(size=(T, n_x))
    y = np.int64(rng.integers(0, n_y)) if many_to_one else rng.integers(0, n_y, size=T)
    h0 = rng.uniform(0.2, 0.8, size=n_h) * rng.choice([-1.0, 1.0], size=n_h)
    return params, x, y, h0


def fd_gradients(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray,
    *,
    many_to_one: bool = False,
) -> dict[str, np.ndarray]:
    """Central finite differences of `plain_loss` for U, W, V, b, c and h0."""
    out = {}
    for name in PARAMETER_NAMES:
        base = h0 if name == "h0" else params[name]

        def f(value: np.ndarray, name: str = name) -> float:
            if name == "h0":
                return plain_loss(params, x, y, value, many_to_one=many_to_one)
            return plain_loss(params | {name: value}, x, y, h0, many_to_one=many_to_one)

        out[name] = central_gradient(f, base)
    return out


def _worse(a: float, b: float) -> float:
    """The larger error; NaN wins (max() would silently drop it)."""
    return float("nan") if np.isnan(a) or np.isnan(b) else max(a, b)


GradFn = Callable[..., tuple[float, dict[str, np.ndarray]]]


def max_errors(
    grads: GradFn,
    seeds: tuple[int, ...],
    T: int,
    n_x: int,
    n_h: int,
    n_y: int,
    *,
    many_to_one: bool = False,
    reference: GradFn | None = None,
) -> dict[str, tuple[float, float]]:
    """Per gradient: (max rel. error against `reference` (NaN if None), against finite differences)."""
    worst = {name: [float("nan") if reference is None else 0.0, 0.0] for name in PARAMETER_NAMES}
    for seed in seeds:
        params, x, y, h0 = random_point(seed, T, n_x, n_h, n_y, many_to_one=many_to_one)
        _, mine = grads(params, x, y, h0)
        fd = fd_gradients(params, x, y, h0, many_to_one=many_to_one)
        ref = reference(params, x, y, h0)[1] if reference is not None else None
        for name in PARAMETER_NAMES:
            if ref is not None:
                worst[name][0] = _worse(worst[name][0], relative_error(mine[name], ref[name]))
            worst[name][1] = _worse(worst[name][1], relative_error(mine[name], fd[name]))
    return {name: (v[0], v[1]) for name, v in worst.items()}
