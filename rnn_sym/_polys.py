"""Deciding polynomial identities exactly with sparse polynomials over ℚ.

`sp.expand` re-canonicalises every partial sum, which is where SymPy spends its time on
identities with thousands of terms. The question asked here — is this polynomial
identically zero? — needs only a sparse representation: a dict from monomials (sorted
tuples of (variable number, exponent)) to Fraction coefficients. Each variable costs
nothing unless it occurs, unlike dense exponent vectors (SymPy's rings, FLINT's mpoly),
which grow with the thousands of symbols a T = 32 unrolling has.

The expression is walked once (Add, Mul, non-negative integer Pow, Symbol, Rational);
anything else (a function application) makes `is_zero_polynomial` return None and the
caller falls back to SymPy. No random evaluation: a True is a proof.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import sympy as sp

Monomial = tuple[tuple[int, int], ...]
Polynomial = dict[Monomial, Fraction]


class _NotPolynomial(Exception):
    pass


def _add(a: Polynomial, b: Polynomial) -> Polynomial:
    out = dict(a)
    for monomial, coefficient in b.items():
        total = out.get(monomial, 0) + coefficient
        if total:
            out[monomial] = total
        else:
            out.pop(monomial, None)
    return out


def _times_monomial(a: Monomial, b: Monomial) -> Monomial:
    powers = dict(a)
    for variable, exponent in b:
        powers[variable] = powers.get(variable, 0) + exponent
    return tuple(sorted(powers.items()))


def _mul(a: Polynomial, b: Polynomial) -> Polynomial:
    out: Polynomial = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            monomial = _times_monomial(ma, mb)
            total = out.get(monomial, 0) + ca * cb
            if total:
                out[monomial] = total
            else:
                out.pop(monomial, None)
    return out


class _Converter:
    def __init__(self) -> None:
        self.variables: dict[sp.Symbol, int] = {}
        self.cache: dict[sp.Basic, Polynomial] = {}

    def __call__(self, expr: sp.Basic) -> Polynomial:
        hit = self.cache.get(expr)
        if hit is not None:
            return hit
        if expr.is_Symbol:
            index = self.variables.setdefault(expr, len(self.variables))
            value: Polynomial = {((index, 1),): Fraction(1)}
        elif expr.is_Rational:
            value = {(): Fraction(int(expr.p), int(expr.q))} if expr != 0 else {}
        elif expr.is_Add:
            value = {}
            for arg in expr.args:
                value = _add(value, self(arg))
        elif expr.is_Mul:
            value = {(): Fraction(1)}
            for arg in expr.args:
                value = _mul(value, self(arg))
        elif expr.is_Pow and expr.exp.is_Integer and expr.exp >= 0:
            base, value = self(expr.base), {(): Fraction(1)}
            for _ in range(int(expr.exp)):
                value = _mul(value, base)
        else:
            raise _NotPolynomial(type(expr).__name__)
        self.cache[expr] = value
        return value


def is_zero_polynomial(entries: Iterable[sp.Basic]) -> bool | None:
    """True when every entry is the zero polynomial, False when one is not, None when an
    entry is not a polynomial in its symbols (the caller decides another way)."""
    convert = _Converter()
    try:
        return all(not convert(e if isinstance(e, sp.Basic) else sp.Integer(e)) for e in entries)
    except _NotPolynomial:
        return None
