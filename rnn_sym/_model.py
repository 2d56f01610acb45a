"""Symbols of the canonical RNN (NOTATION.md) with concrete small shapes.

Every parameter and every time-indexed vector is an explicit `sympy.Matrix` of real
symbols (never a MatrixSymbol: tanh must apply entrywise). Names print as the notes
print them: `W_{12}`, `h_{2,1}` (entry 1 of h_2), `\\hat{y}_{3,2}`, `x_{1,2}`.

    m = model_symbols(T=3, n_x=2, n_h=3, n_y=2)
    m.W, m.h(0), m.x(1), m.a(2), m.yhat(3), m.y(1)      # explicit column matrices
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from rnn_sym._errors import SizeLimitError

# Limits for symbolic work. The structured route is polynomial in T, but each time step adds
# graph nodes, proofs and lambdified functions; beyond these, use the numeric checker.
MAX_T = 32
MAX_SIZE = 8
PARAMETER_NAMES = ("U", "W", "V", "b", "c", "h0")

_NUMERIC_ALTERNATIVE = (
    "for larger problems use the numeric checker (rnn_num.gradcheck), which has no such limit"
)


def check_sizes(T: int, n_x: int, n_h: int, n_y: int, *, max_T: int = MAX_T) -> None:
    """Raise SizeLimitError naming the first size outside what symbolic work supports."""
    for name, value, limit in (
        ("T", T, max_T),
        ("n_x", n_x, MAX_SIZE),
        ("n_h", n_h, MAX_SIZE),
        ("n_y", n_y, MAX_SIZE),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SizeLimitError(f"{name} must be an integer, got {value!r}")
        if value < 1:
            raise SizeLimitError(f"{name} = {value}: it must be at least 1")
        if value > limit:
            raise SizeLimitError(
                f"{name} = {value} is above the limit {limit} for symbolic work; "
                f"use {name} <= {limit}, or {_NUMERIC_ALTERNATIVE}"
            )
    if n_y < 2:
        raise SizeLimitError(f"n_y = {n_y}: softmax over one class is constant; use n_y >= 2")


def _index(*indices: int) -> str:
    """`12` when every index is a single digit (as the notes write W_{12}), else `1,12`."""
    if len(indices) == 2 and all(i < 10 for i in indices) and indices[0] != 0:
        return f"{indices[0]}{indices[1]}"
    return ",".join(str(i) for i in indices)


def matrix_symbols(name: str, rows: int, cols: int) -> sp.Matrix:
    """An explicit rows x cols matrix of real symbols `name_{ij}`."""
    return sp.Matrix(
        rows,
        cols,
        lambda i, j: sp.Symbol(f"{name}_{{{_index(i + 1, j + 1)}}}", real=True),
    )


def vector_symbols(name: str, size: int, t: int | None = None) -> sp.Matrix:
    """A column of real symbols: `name_{i}`, or `name_{t,i}` for the vector at time t."""
    if t is None:
        return sp.Matrix(size, 1, lambda i, _: sp.Symbol(f"{name}_{{{i + 1}}}", real=True))
    return sp.Matrix(size, 1, lambda i, _: sp.Symbol(f"{name}_{{{t},{i + 1}}}", real=True))


def vector_latex(name: str, t: int | str) -> str:
    """LaTeX of a time-indexed vector as the notes write it: `h_{2}`, `\\hat{y}_{3}`."""
    return f"{name}_{{{t}}}"


@dataclass(frozen=True)
class RnnSymbols:
    """The symbols of one unrolled canonical RNN: parameters, inputs, targets, node values.

    Node values a_t, h_t, o_t, ŷ_t are symbols too (the structured route keeps them as
    intermediates); h_0 is a symbolic, generally nonzero, initial state.
    """

    T: int
    n_x: int
    n_h: int
    n_y: int
    U: sp.Matrix
    W: sp.Matrix
    V: sp.Matrix
    b: sp.Matrix
    c: sp.Matrix
    _x: tuple[sp.Matrix, ...]
    _y: tuple[sp.Matrix, ...]
    _a: tuple[sp.Matrix, ...]
    _h: tuple[sp.Matrix, ...]  # index 0 is h_0
    _o: tuple[sp.Matrix, ...]
    _yhat: tuple[sp.Matrix, ...]
    targets: tuple[int, ...] | None  # concrete class indices (0-based), or None: symbolic y

    def _at(self, seq: tuple[sp.Matrix, ...], t: int, first: int, what: str) -> sp.Matrix:
        if isinstance(t, bool) or not isinstance(t, numbers.Integral):
            raise TypeError(
                f"{what}(t) takes a concrete step, an integer {first} <= t <= T = {self.T}; "
                f"got {t!r} (the symbolic work unrolls time, so there is no symbolic t)"
            )
        if not first <= t <= self.T:
            raise IndexError(f"{what}(t) needs {first} <= t <= T = {self.T}, got t = {t}")
        return seq[t - first]

    def x(self, t: int) -> sp.Matrix:
        return self._at(self._x, t, 1, "x")

    def y(self, t: int) -> sp.Matrix:
        """The target of step t: one-hot symbols y_{t,i}, or a 0/1 column for a class index."""
        return self._at(self._y, t, 1, "y")

    def a(self, t: int) -> sp.Matrix:
        return self._at(self._a, t, 1, "a")

    def h(self, t: int) -> sp.Matrix:
        return self._at(self._h, t, 0, "h")

    def o(self, t: int) -> sp.Matrix:
        return self._at(self._o, t, 1, "o")

    def yhat(self, t: int) -> sp.Matrix:
        return self._at(self._yhat, t, 1, "yhat")

    @property
    def h0(self) -> sp.Matrix:
        return self._h[0]

    def params(self) -> dict[str, sp.Matrix]:
        """The six quantities a gradient is reported for, in the order of PARAMETER_NAMES."""
        return {"U": self.U, "W": self.W, "V": self.V, "b": self.b, "c": self.c, "h0": self.h0}

    def one_hot_substitutions(self) -> dict[sp.Symbol, sp.Expr]:
        """Σ_i y_{t,i} = 1 for every t, as y_{t,n_y} = 1 − Σ_{i<n_y} y_{t,i} (empty for class indices)."""
        if self.targets is not None:
            return {}
        subs: dict[sp.Symbol, sp.Expr] = {}
        for t in range(1, self.T + 1):
            y = self.y(t)
            subs[y[-1]] = 1 - sum(y[:-1], sp.Integer(0))
        return subs


def model_symbols(
    T: int,
    n_x: int,
    n_h: int,
    n_y: int,
    *,
    targets: Sequence[int] | None = None,
    max_T: int = MAX_T,
) -> RnnSymbols:
    """The symbols of the canonical model unrolled over T steps.

    targets: None for symbolic one-hot targets y_{t,i} (state the one-hot assumption where a
    proof needs it), or T concrete class indices in 0..n_y-1 (then y_t is a 0/1 column).
    """
    check_sizes(T, n_x, n_h, n_y, max_T=max_T)
    if targets is not None:
        # int() would read "01" as text and truncate 0.7 to 0: take integers only
        iterable = hasattr(targets, "__iter__") and not isinstance(targets, str | bytes)
        given = tuple(targets) if iterable else (targets,)
        if any(isinstance(k, bool) or not isinstance(k, numbers.Integral) for k in given):
            raise SizeLimitError(
                f"targets must be {T} integer class indices in 0..{n_y - 1}, got {targets!r}"
            )
        targets = tuple(int(k) for k in given)
        if len(targets) != T or any(not 0 <= k < n_y for k in targets):
            raise SizeLimitError(
                f"targets must be {T} class indices in 0..{n_y - 1}, got {list(targets)}"
            )
        ys = tuple(sp.Matrix(n_y, 1, lambda i, _, k=k: int(i == k)) for k in targets)
    else:
        ys = tuple(vector_symbols("y", n_y, t) for t in range(1, T + 1))
    steps = range(1, T + 1)
    return RnnSymbols(
        T=T,
        n_x=n_x,
        n_h=n_h,
        n_y=n_y,
        U=matrix_symbols("U", n_h, n_x),
        W=matrix_symbols("W", n_h, n_h),
        V=matrix_symbols("V", n_y, n_h),
        b=vector_symbols("b", n_h),
        c=vector_symbols("c", n_y),
        _x=tuple(vector_symbols("x", n_x, t) for t in steps),
        _y=ys,
        _a=tuple(vector_symbols("a", n_h, t) for t in steps),
        _h=tuple(vector_symbols("h", n_h, t) for t in range(0, T + 1)),
        _o=tuple(vector_symbols("o", n_y, t) for t in steps),
        _yhat=tuple(vector_symbols(r"\hat{y}", n_y, t) for t in steps),
        targets=targets,
    )
