"""A derivation: an ordered chain of expressions, each step proven equal to the one before.

    d = Derivation("tanh-prime", "The derivative of tanh", lhs=Derivative(tanh(x), x),
                   start=Derivative(tanh(x), x), assumptions=[...])
    d.step(expr, "quotient rule", rewrite={...}, uses=[one_hot])
    proof = d.verify()        # raises StepFailed naming the step and showing the residual

Every step claims `previous == expr`. The claim is proven by SymPy: the residual
`previous - expr`, after the step's definitional rewrites and the substitutions of the
assumptions it uses, must reduce to exactly zero (structurally, by expand, by cancel,
or by simplify, tried in that order, cheapest first). Nothing is ever checked by
printing or by sampling numbers.

A step may instead claim an inequality, `relation="<="` (previous <= expr) or `">="`
(previous >= expr), for scalar expressions. It is proven when SymPy's assumption system
shows the gap (`expr - previous`, resp. `previous - expr`; with a custom prover, what the
prover returns, a Matrix meaning "every entry", e.g. one gap per case) nonnegative, e.g.
a sum of squares of real symbols, or a positive symbol times a square. A chain may mix "="
with "<=" or with ">=", never both directions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import sympy as sp

from rnn_sym._errors import DerivationError, StepFailed

Expr = sp.Basic  # a scalar expression or an explicit Matrix

# A custom prover takes (previous, current) and returns the residual that must be zero
# (for an inequality step: the gap that must be nonnegative).
Prover = Callable[[Expr, Expr], Expr]

# What a chain may hold: SymPy expressions and matrices the caller built (and plain numbers);
# never text, which would need parsing.
_EXPR_TYPES = (sp.Basic, sp.MatrixBase, int, float)


def _require_expr(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, _EXPR_TYPES):
        raise DerivationError(
            f"{what} must be a SymPy expression or Matrix built from symbols, got a "
            f"{type(value).__name__} ({value!r:.60}); text is never parsed"
        )


def _shape(value: object) -> tuple[int, ...]:
    return tuple(value.shape) if isinstance(value, sp.MatrixBase) else ()


RELATIONS = ("=", "<=", ">=")


@dataclass(frozen=True)
class Assumption:
    """A stated assumption, and how a proof that uses it may apply it.

    `statement` is LaTeX (shown before the result in every export). `substitutions`
    maps symbols to expressions that the assumption makes equal (e.g. for one-hot
    targets of size 3: {y_3: 1 - y_1 - y_2}); a step that `uses` the assumption applies
    them to its residual before trying to reduce it to zero.
    """

    name: str
    statement: str
    substitutions: Mapping[sp.Basic, sp.Basic] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    expr: Expr
    why: str
    uses: tuple[Assumption, ...] = ()
    rewrite: Mapping[sp.Basic, sp.Basic] = field(default_factory=dict)
    prover: Prover | None = None
    note: str = ""  # optional prose shown under the step in documents
    # LaTeX shown instead of the printed `expr` (e.g. the compact matrix form of a step whose
    # proof runs on explicit matrices of symbols); empty: print `expr`.
    display: str = ""
    # "=" (previous == expr), "<=" (previous <= expr) or ">=" (previous >= expr).
    relation: str = "="


@dataclass(frozen=True)
class CrossCheck:
    """A numeric check of a derivation's result against something independent.

    `run` returns the largest relative error found (e.g. lambdified result against
    rnn_num, or against central finite differences, at random points).
    """

    name: str
    run: Callable[[], float]
    tolerance: float


@dataclass(frozen=True)
class CrossCheckResult:
    name: str
    error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.error <= self.tolerance  # NaN compares False: a NaN error fails


@dataclass(frozen=True)
class StepProof:
    index: int  # 1-based position of the step in the chain
    why: str
    method: str  # how the residual was reduced to zero
    seconds: float


@dataclass(frozen=True)
class Proof:
    """The record of a successful verification: one entry per step."""

    slug: str
    steps: tuple[StepProof, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return True  # a Proof only exists when every step was proven


# Residuals larger than this (in SymPy operations) are not given to `simplify`; a step whose
# proof needs more gets a `prover=` that reduces it cheaply (e.g. polynomial identities).
SIMPLIFY_LIMIT = 500  # the project's own derivations need at most ~30


def _is_zero(residual: Expr) -> tuple[bool, str]:
    """Reduce `residual` to zero with increasingly expensive SymPy tools."""
    if isinstance(residual, sp.MatrixBase):
        methods: list[str] = []
        for entry in residual:
            ok, method = _is_zero(entry)
            if not ok:
                return False, method
            methods.append(method)
        order = ["structural", "doit", "expand", "cancel", "simplify"]
        return True, max(methods, key=order.index) if methods else "structural"
    if residual == 0:
        return True, "structural"
    # doit may leave new Sums behind (the derivative of a Sum is a Sum of KroneckerDeltas):
    # evaluate again until nothing changes, a few rounds at most.
    for _ in range(3):
        if not residual.has(sp.Derivative, sp.Sum, sp.Product):
            break
        evaluated = residual.doit()
        if evaluated == residual:
            break
        residual = evaluated
    if residual == 0:
        return True, "doit"
    if sp.expand(residual) == 0:
        return True, "expand"
    if sp.cancel(sp.together(residual)) == 0:
        return True, "cancel"
    # simplify can run for minutes on a large false residual: refuse rather than hang.
    if sp.count_ops(residual) > SIMPLIFY_LIMIT:
        return False, "too large for simplify"
    try:
        if sp.simplify(residual) == 0:
            return True, "simplify"
    except RecursionError:  # SymPy's polynomial code recurses per variable
        return False, "too large for simplify"
    return False, "simplify"


def _is_nonnegative(gap: Expr) -> tuple[bool, str]:
    """Show `gap >= 0` with SymPy's assumptions, trying cheap rewritings first."""
    if isinstance(gap, sp.MatrixBase):
        # Entrywise: a custom prover may return one gap per case of a case split.
        methods = []
        for entry in gap:
            ok, method = _is_nonnegative(entry)
            if not ok:
                return False, method
            methods.append(method)
        return True, max(methods, key=len) if methods else "nonnegative"
    if gap.has(sp.Derivative, sp.Sum, sp.Product):
        gap = gap.doit()
    for method, rewrite in (
        ("nonnegative", lambda e: e),
        ("nonnegative:expand", sp.expand),
        ("nonnegative:factor", sp.factor),
        ("nonnegative:simplify", sp.simplify),
    ):
        if rewrite(gap).is_nonnegative is True:
            return True, method
    return False, "nonnegative:simplify"


def _substitute(expr: Expr, mapping: Mapping[sp.Basic, sp.Basic]) -> Expr:
    if not mapping:
        return expr
    return expr.subs(dict(mapping))


class Derivation:
    """An ordered chain of expressions from `start` to the result, each step justified.

    lhs: the quantity being derived, for display (e.g. Derivative(L, o_t)).
    start: the first expression of the chain (often the definition of `lhs`).
    assumptions: every assumption the result needs, stated before it in documents.
    """

    def __init__(
        self,
        slug: str,
        title: str,
        *,
        lhs: Expr,
        start: Expr,
        assumptions: Iterable[Assumption] = (),
        intro: str = "",
        seeds: Iterable[str] = (),
        lhs_display: str = "",
        start_display: str = "",
    ) -> None:
        if not isinstance(slug, str) or not slug.replace("-", "").replace("_", "").isalnum():
            raise DerivationError(f"slug {slug!r} must be letters, digits, '-' or '_'")
        _require_expr(lhs, f"{slug}: lhs")
        _require_expr(start, f"{slug}: start")
        self.slug = slug
        self.title = title
        self.lhs = lhs
        self.start = start
        self.assumptions: tuple[Assumption, ...] = tuple(assumptions)
        self.intro = intro
        self.seeds = tuple(seeds)  # seed files whose content this derivation corrects or confirms
        # LaTeX shown instead of the printed lhs / start; empty: print the expression.
        self.lhs_display = lhs_display
        self.start_display = start_display
        self.steps: list[Step] = []
        self.cross_checks: list[CrossCheck] = []

    def step(
        self,
        expr: Expr,
        why: str,
        *,
        uses: Iterable[Assumption] = (),
        rewrite: Mapping[sp.Basic, sp.Basic] | None = None,
        prover: Prover | None = None,
        note: str = "",
        display: str = "",
        relation: str = "=",
    ) -> Derivation:
        """Append a step claiming `previous == expr` (or `<=`, `>=`); returns self."""
        uses = tuple(uses)
        if not isinstance(why, str) or not why.strip():
            raise DerivationError(
                f"{self.slug}: step {len(self.steps) + 1}: why must be a short justification "
                f"such as 'chain rule', got {why!r}"
            )
        _require_expr(expr, f"{self.slug}: step {len(self.steps) + 1} ({why})")
        if relation not in RELATIONS:
            raise DerivationError(
                f"{self.slug}: step {len(self.steps) + 1} ({why!r}): relation {relation!r} "
                f"is not one of {RELATIONS}"
            )
        directions = {s.relation for s in self.steps} | {relation}
        if {"<=", ">="} <= directions:
            raise DerivationError(
                f"{self.slug}: step {len(self.steps) + 1} ({why!r}) mixes '<=' and '>=' in "
                "one chain; split it into two derivations"
            )
        unknown = [a.name for a in uses if a not in self.assumptions]
        if unknown:
            raise DerivationError(
                f"{self.slug}: step {len(self.steps) + 1} ({why!r}) uses assumption(s) "
                f"{unknown} that the derivation does not state; add them to `assumptions=`"
            )
        self.steps.append(
            Step(expr, why, uses, dict(rewrite or {}), prover, note, display, relation)
        )
        return self

    def cross_check(self, name: str, run: Callable[[], float], tolerance: float) -> Derivation:
        """Register a numeric check of the result; `run_cross_checks` runs them."""
        self.cross_checks.append(CrossCheck(name, run, tolerance))
        return self

    def run_cross_checks(self) -> list[CrossCheckResult]:
        return [CrossCheckResult(c.name, float(c.run()), c.tolerance) for c in self.cross_checks]

    @property
    def relation(self) -> str:
        """How `lhs` relates to `result`: "=" unless some step is an inequality."""
        for step in self.steps:
            if step.relation != "=":
                return step.relation
        return "="

    @property
    def result(self) -> Expr:
        return self.steps[-1].expr if self.steps else self.start

    def verify(self) -> Proof:
        """Prove every step; raise StepFailed at the first one that does not follow."""
        if not self.steps:
            raise DerivationError(f"{self.slug}: a derivation needs at least one step")
        began = time.perf_counter()
        proofs = []
        previous = self.start
        for index, step in enumerate(self.steps, start=1):
            t0 = time.perf_counter()
            if step.prover is None and _shape(previous) != _shape(step.expr):
                raise DerivationError(
                    f"{self.slug}: step {index} ({step.why}) has shape {_shape(step.expr) or 'scalar'}"
                    f" but the expression before it has shape {_shape(previous) or 'scalar'}"
                )
            if step.prover is not None:
                residual = step.prover(previous, step.expr)
                method = "custom"
            elif step.relation == "<=":
                residual = step.expr - previous  # the gap that must be nonnegative
                method = ""
            elif step.relation == ">=":
                residual = previous - step.expr
                method = ""
            else:
                residual = previous - step.expr
                method = ""
            residual = _substitute(residual, step.rewrite)
            for assumption in step.uses:
                residual = _substitute(residual, assumption.substitutions)
            if step.relation == "=":
                ok, how = _is_zero(residual)
            else:
                ok, how = _is_nonnegative(residual)
            if not ok:
                reason = how if how == "too large for simplify" else ""
                raise StepFailed(self.slug, index, step.why, residual, reason)
            proofs.append(
                StepProof(
                    index, step.why, f"{method}+{how}" if method else how, time.perf_counter() - t0
                )
            )
            previous = step.expr
        return Proof(self.slug, tuple(proofs), time.perf_counter() - began)

    def _repr_latex_(self) -> str:
        from rnn_sym._latex import derivation_to_latex  # local: printing is optional

        return "$$" + derivation_to_latex(self) + "$$"

    def __repr__(self) -> str:
        return f"Derivation({self.slug!r}, {len(self.steps)} steps)"
