"""The toy next-symbol tasks of seed 000, examples 1–3.

Symbols are 0 and 1, fed as one-hot vectors as in the notes: character "0" = [1, 0],
character "1" = [0, 1]. The target at step t is the symbol at step t + 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate as v

ALTERNATING = (1, 0)  # 1, 0, 1, 0, …           (examples 1 and 2)
PERIOD_3 = (1, 1, 0)  # 1, 1, 0, 1, 1, 0, …     (example 3)


def repeat_pattern(pattern: Sequence[int], length: int) -> np.ndarray:
    """The pattern repeated to `length` symbols."""
    if isinstance(length, bool) or not isinstance(length, int | np.integer) or length < 1:
        raise ValueError(f"length must be a positive integer; got {length!r}")
    if len(pattern) == 0:
        raise ValueError("pattern must hold at least one symbol")
    reps = -(-length // len(pattern))
    return np.tile(np.asarray(pattern, dtype=np.intp), reps)[:length]


def next_symbol_task(symbols: Sequence[int], n_symbols: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Inputs x (T, n_symbols) one-hot of symbols[:-1] and integer targets y (T,) = symbols[1:]."""
    s = np.asarray(symbols)
    if s.ndim != 1 or s.size < 2:
        raise ValueError(
            f"symbols has shape {s.shape}; it needs a 1-D sequence of at least 2 symbols"
        )
    if not np.issubdtype(s.dtype, np.integer) or s.min() < 0 or s.max() >= n_symbols:
        raise ValueError(f"symbols must be integers in 0..{n_symbols - 1}")
    x = np.eye(n_symbols)[s[:-1]]
    return x, s[1:].astype(np.intp)


def alternating_task(T: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Predict the next symbol of 1, 0, 1, 0, …: x (T, 2), y (T,)."""
    T = v.check_count("T", T)
    return next_symbol_task(repeat_pattern(ALTERNATING, T + 1))


def period3_task(T: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Predict the next symbol of 1, 1, 0, 1, 1, 0, …: x (T, 2), y (T,). The input 1 must be
    followed by 1 after a 0 and by 0 after a 1, so only the hidden state can tell."""
    T = v.check_count("T", T)
    return next_symbol_task(repeat_pattern(PERIOD_3, T + 1))


def first_and_second_one(T: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Time indices (into x of `period3_task(T)`) where the input is the first 1 of a pair,
    and where it is the second."""
    T = v.check_count("T", T)
    s = repeat_pattern(PERIOD_3, T + 1)[:T]
    phase = np.arange(T) % len(PERIOD_3)
    return np.flatnonzero((s == 1) & (phase == 0)), np.flatnonzero((s == 1) & (phase == 1))
