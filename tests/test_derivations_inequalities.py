"""The engine's inequality steps (relation "<=" / ">="), added for the bound on ∂h_t/∂h_k,
the Newton minimiser and gradient clipping."""

import pytest
import sympy as sp

from rnn_sym import Assumption, Derivation, DerivationError, StepFailed

a, b = sp.symbols("a b", real=True)


def test_sum_of_squares_bound_is_proven():
    d = Derivation("ineq", "ineq", lhs=2 * a * b, start=2 * a * b)
    d.step(a**2 + b**2, "AM-GM", relation="<=")
    proof = d.verify()
    assert proof.steps[0].method.startswith("nonnegative")
    assert d.relation == "<="


def test_false_inequality_is_rejected():
    d = Derivation("ineq", "ineq", lhs=a**2 + b**2, start=a**2 + b**2)
    d.step(2 * a * b, "wrong direction", relation="<=")
    with pytest.raises(StepFailed) as info:
        d.verify()
    assert info.value.index == 1


def test_inequality_that_needs_an_assumption():
    k = sp.Symbol("k", real=True)
    positive = Assumption("k-positive", "k > 0", {k: sp.Symbol("k", positive=True)})
    d = Derivation("ineq", "ineq", lhs=k * a**2, start=k * a**2, assumptions=[positive])
    d.step(sp.Integer(0), "k > 0", relation=">=", uses=[positive])
    d.verify()
    bare = Derivation("ineq", "ineq", lhs=k * a**2, start=k * a**2)
    bare.step(sp.Integer(0), "k > 0", relation=">=")
    with pytest.raises(StepFailed):
        bare.verify()


def test_mixed_directions_and_unknown_relations_are_refused():
    d = Derivation("ineq", "ineq", lhs=a, start=a)
    d.step(a, "same", relation="<=")
    with pytest.raises(DerivationError, match="mixes"):
        d.step(a, "other way", relation=">=")
    with pytest.raises(DerivationError, match="relation"):
        d.step(a, "typo", relation="=<")


def test_equality_chains_report_equality():
    d = Derivation("eq", "eq", lhs=a, start=a).step(a + 0, "nothing")
    assert d.relation == "="


def test_case_split_gaps_are_checked_entrywise():
    d = Derivation("cases", "cases", lhs=a, start=a**2)
    d.step(sp.Integer(0), "cases", relation=">=", prover=lambda prev, cur: sp.Matrix([prev, -1]))
    with pytest.raises(StepFailed):
        d.verify()


def test_nested_sums_are_evaluated_until_they_vanish():
    n = sp.Symbol("n", integer=True, positive=True)
    i, k = sp.symbols("i k", integer=True, positive=True)
    x = sp.IndexedBase("x")
    total = sp.Sum(sp.exp(x[k]), (k, 1, n + i))  # the upper bound is at least i
    d = Derivation("sum", "sum", lhs=total, start=sp.Derivative(total, x[i]))
    d.step(sp.exp(x[i]), "only the term k = i depends on x_i")
    d.verify()
