"""Input checks: every bad argument becomes a ValueError/TypeError that names the argument,
the shape (or value) it got and what it needs, before NumPy sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

PARAM_KEYS = ("U", "W", "V", "b", "c")
ACTIVATIONS = ("tanh", "sigmoid", "relu")
HEADS = ("softmax", "mse")


@dataclass(frozen=True)
class Dims:
    n_x: int
    n_h: int
    n_y: int


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} is unknown; use one of {', '.join(map(repr, choices))}")
    return value


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """An integer option such as n_directions: an int (not bool) >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_seed(name: str, value: object) -> int:
    """A random seed: a non-negative int, so the same seed always gives the same numbers."""
    return check_count(name, value, minimum=0)


def check_positive(name: str, value: object, hint: str = "") -> float:
    """A tolerance or step: a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a positive finite number{hint}; got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number{hint}; got {value!r}")
    return float(value)


def _as_real_array(name: str, value: object) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(
            f"{name} must be a real numeric array; got {type(value).__name__}: {exc}"
        ) from None
    if arr.dtype.kind not in "fiub":  # float, signed/unsigned int, bool
        raise TypeError(
            f"{name} must be a real numeric array (float32/float64 or integers); got dtype {arr.dtype}"
        )
    return arr


def check_finite(name: str, arr: np.ndarray) -> None:
    # A finite sum proves every entry finite (NaN and ±inf propagate); only when the sum is
    # not finite (bad entry, or a harmless overflow) is the exact, slower check needed.
    if arr.dtype.kind != "f" or np.isfinite(np.add.reduce(arr, axis=None)):
        return
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name} contains NaN or inf (first at index {where}, value {arr[where]}); "
            "all entries must be finite"
        )


def compute_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 when every floating input is float32 (or smaller); float64 otherwise."""
    dt = np.result_type(np.float32, *[a.dtype for a in arrays])
    return np.dtype(np.float32) if dt == np.float32 else np.dtype(np.float64)


def check_params(params: object) -> tuple[dict[str, np.ndarray], Dims]:
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a mapping with keys {', '.join(PARAM_KEYS)} (see rnn_num.init_params); "
            f"got {type(params).__name__}"
        )
    missing = [k for k in PARAM_KEYS if k not in params]
    if missing:
        raise ValueError(
            f"params is missing key(s) {', '.join(missing)}; it needs exactly {', '.join(PARAM_KEYS)}"
        )
    extra = sorted(str(k) for k in params if k not in PARAM_KEYS)
    if extra:
        raise ValueError(
            f"params has unknown key(s) {', '.join(extra)}; it needs exactly {', '.join(PARAM_KEYS)}"
        )
    arrs = {k: _as_real_array(f"params['{k}']", params[k]) for k in PARAM_KEYS}
    U, W, V = arrs["U"], arrs["W"], arrs["V"]
    if U.ndim != 2:
        raise ValueError(f"params['U'] has shape {U.shape}; it needs shape (n_h, n_x)")
    n_h, n_x = U.shape
    if n_h == 0 or n_x == 0:
        raise ValueError(f"params['U'] has shape {U.shape}; n_h and n_x must be at least 1")
    if W.shape != (n_h, n_h):
        raise ValueError(
            f"params['W'] has shape {W.shape}; it needs shape (n_h, n_h) = {(n_h, n_h)} (n_h from U)"
        )
    if V.ndim != 2 or V.shape[1] != n_h or V.shape[0] == 0:
        raise ValueError(
            f"params['V'] has shape {V.shape}; it needs shape (n_y, n_h) = (n_y, {n_h}), n_y >= 1"
        )
    n_y = V.shape[0]
    if arrs["b"].shape != (n_h,):
        raise ValueError(
            f"params['b'] has shape {arrs['b'].shape}; it needs shape (n_h,) = ({n_h},)"
        )
    if arrs["c"].shape != (n_y,):
        raise ValueError(
            f"params['c'] has shape {arrs['c'].shape}; it needs shape (n_y,) = ({n_y},)"
        )
    for k in PARAM_KEYS:
        check_finite(f"params['{k}']", arrs[k])
    return arrs, Dims(n_x, n_h, n_y)


def check_x(x: object, dims: Dims) -> np.ndarray:
    arr = _as_real_array("x", x)
    if arr.ndim not in (2, 3) or arr.shape[-1] != dims.n_x:
        raise ValueError(
            f"x has shape {arr.shape}; it needs shape (T, n_x) = (T, {dims.n_x}) "
            f"or (T, B, n_x) = (T, B, {dims.n_x}), time first"
        )
    if arr.shape[0] == 0:
        raise ValueError(
            f"x has shape {arr.shape}: T = 0 time steps; it needs at least one (T >= 1)"
        )
    if arr.ndim == 3 and arr.shape[1] == 0:
        raise ValueError(f"x has shape {arr.shape}: batch size B = 0; it needs B >= 1")
    check_finite("x", arr)
    return arr


def check_h0(h0: object, dims: Dims, batch: int | None) -> np.ndarray | None:
    """None, or h0 of shape (n_h,) (shared by every sequence) or (B, n_h) for batched x."""
    if h0 is None:
        return None
    arr = _as_real_array("h0", h0)
    ok = arr.shape == (dims.n_h,) or (batch is not None and arr.shape == (batch, dims.n_h))
    if not ok:
        need = (
            f"({dims.n_h},)"
            if batch is None
            else f"({dims.n_h},) or (B, n_h) = ({batch}, {dims.n_h})"
        )
        raise ValueError(f"h0 has shape {arr.shape}; it needs shape {need}")
    check_finite("h0", arr)
    return arr


def check_targets(
    y: object, *, head: str, many_to_one: bool, T: int, batch: int | None, n_y: int
) -> tuple[np.ndarray, bool]:
    """Return (targets, is_index). Index targets are int class numbers; others are float arrays
    of the outputs' shape (one-hot/probabilities for softmax, regression targets for mse)."""
    arr = _as_real_array("y", y)
    lead = () if many_to_one else (T,)
    lead = lead + (() if batch is None else (batch,))
    lead_txt = ("" if many_to_one else "T, ") + ("" if batch is None else "B, ")
    shown = tuple(lead)
    if head == "mse":
        need = shown + (n_y,)
        if arr.shape != need:
            raise ValueError(
                f"y has shape {arr.shape}; head='mse' needs float targets of the outputs' shape "
                f"({lead_txt}n_y) = {need}"
            )
        check_finite("y", arr)
        return arr, False
    if arr.shape == shown and arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() >= n_y):
            bad = arr[(arr < 0) | (arr >= n_y)].flat[0]
            raise ValueError(
                f"y contains class index {int(bad)}, out of range; class indices must be in 0..{n_y - 1} (n_y = {n_y})"
            )
        return arr.astype(np.intp, copy=False), True
    if arr.shape == shown:
        raise TypeError(
            f"y has shape {arr.shape} and dtype {arr.dtype}: class indices must be integers "
            f"(e.g. y.astype(int)), or give one-hot targets of shape ({lead_txt}n_y) = {shown + (n_y,)}"
        )
    if arr.shape == shown + (n_y,):
        check_finite("y", arr)
        if (arr < 0).any():
            raise ValueError(
                "y (one-hot/probability targets) has negative entries; they must be >= 0"
            )
        return arr, False
    raise ValueError(
        f"y has shape {arr.shape}; it needs integer class indices of shape {shown} "
        f"or one-hot targets of shape ({lead_txt}n_y) = {shown + (n_y,)}"
        + (" (many_to_one: one target, for the last step)" if many_to_one else "")
    )
