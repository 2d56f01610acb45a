"""The derivation engine proves true steps and rejects false ones, naming the step."""

import pytest
import sympy as sp

from rnn_sym import Assumption, Derivation, DerivationError, StepFailed

x = sp.Symbol("x", real=True)


def test_true_chain_is_proven():
    d = Derivation("sq", "square", lhs=sp.Derivative(x**2, x), start=sp.Derivative(x**2, x))
    d.step(2 * x, "power rule")
    proof = d.verify()
    assert [s.index for s in proof.steps] == [1]


def test_false_step_names_step_and_residual():
    d = Derivation("sq", "square", lhs=sp.Derivative(x**2, x), start=sp.Derivative(x**2, x))
    d.step(2 * x, "power rule").step(3 * x, "a mistake")
    with pytest.raises(StepFailed) as info:
        d.verify()
    assert info.value.index == 2
    assert "a mistake" in str(info.value)
    assert sp.simplify(info.value.residual + x) == 0


def test_assumption_substitution_is_needed_and_used():
    y1, y2 = sp.symbols("y1 y2")
    one_hot = Assumption("one-hot", r"y_1 + y_2 = 1", {y2: 1 - y1})
    d = Derivation("a", "a", lhs=y1 + y2, start=y1 + y2, assumptions=[one_hot])
    d.step(sp.Integer(1), "targets sum to one", uses=[one_hot])
    d.verify()
    bare = Derivation("b", "b", lhs=y1 + y2, start=y1 + y2)
    bare.step(sp.Integer(1), "targets sum to one")
    with pytest.raises(StepFailed):
        bare.verify()


def test_unstated_assumption_is_rejected():
    y1, y2 = sp.symbols("y1 y2")
    one_hot = Assumption("one-hot", r"y_1 + y_2 = 1", {y2: 1 - y1})
    d = Derivation("c", "c", lhs=y1, start=y1)
    with pytest.raises(DerivationError, match="does not state"):
        d.step(y1, "same", uses=[one_hot])


def test_matrix_steps_are_checked_entrywise():
    a, b = sp.symbols("a b")
    m = sp.Matrix([[a + b, a], [b, 0]])
    ok = Derivation("m", "m", lhs=m, start=m).step(sp.Matrix([[b + a, a], [b, 0]]), "reorder")
    ok.verify()
    bad = Derivation("m2", "m2", lhs=m, start=m).step(sp.Matrix([[a + b, b], [b, 0]]), "swap")
    with pytest.raises(StepFailed):
        bad.verify()


def test_large_false_step_fails_fast_instead_of_hanging():
    # A false identity among many nested tanh terms: simplify could run for minutes on it.
    xs = sp.symbols("x0:30", real=True)
    terms = [sp.tanh(sp.tanh(a) + b) for a in xs for b in xs[:10] if a != b]
    start = sp.Add(*terms)
    d = Derivation("big", "big", lhs=start, start=start).step(start + start / 3, "a mistake")
    with pytest.raises(StepFailed, match="too large for simplify"):
        d.verify()
