"""∂h_t/∂h_k as a product of Jacobians, submultiplicativity, and the numeric illustrations of
vanishing and exploding gradients."""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from derivations import vanishing
from rnn_sym import Derivation, StepFailed


def broken(d: Derivation, index: int, **changes) -> Derivation:
    d.steps[index - 1] = dataclasses.replace(d.steps[index - 1], **changes)
    return d


@pytest.mark.parametrize("build", vanishing.DERIVATIONS, ids=lambda b: b.__name__)
def test_derivation_verifies_and_cross_checks_pass(build):
    d = build()
    d.verify()
    results = d.run_cross_checks()
    assert results
    for result in results:
        assert result.ok, (result.name, result.error)


@pytest.mark.parametrize("span", [1, 2])
def test_shorter_spans_verify(span):
    d = vanishing.jacobian_product(span)
    d.verify()
    assert all(r.ok for r in d.run_cross_checks())


def _diag(m: int) -> sp.Matrix:
    return vanishing._diag_one_minus_square(vanishing._hidden(m))


def test_factors_in_the_wrong_order_are_rejected():
    # J(k+1) J(k+2) J(k+3): the order of the forward pass, not of the chain rule.
    d = vanishing.jacobian_product(3)
    wrong = _diag(1) * vanishing.W * _diag(2) * vanishing.W * _diag(3) * vanishing.W
    with pytest.raises(StepFailed) as info:
        broken(d, 2, expr=wrong).verify()
    assert info.value.index == 2


def test_transposed_recurrent_matrix_is_rejected():
    # Seed 003 writes ∂h_{j+1}/∂h_j = Wᵀ (1 - h²_{j+1}): the Jacobian is diag(1 - h²) W.
    d = vanishing.jacobian_product(2)
    wt = vanishing.W.T
    with pytest.raises(StepFailed) as info:
        broken(d, 2, expr=wt * _diag(2) * wt * _diag(1)).verify()
    assert info.value.index == 2


def test_submultiplicativity_in_the_wrong_direction_is_rejected():
    d = vanishing.frobenius_submultiplicative()
    d.steps[1] = dataclasses.replace(d.steps[1], relation=">=")
    with pytest.raises(StepFailed) as info:
        d.verify()
    assert info.value.index == 2


def test_lagrange_identity_with_a_missing_square_is_rejected():
    d = vanishing.frobenius_submultiplicative()
    a11 = sp.Symbol("A_{11}", real=True)
    with pytest.raises(StepFailed):
        broken(d, 1, expr=d.steps[0].expr + a11**2).verify()


def test_bound_check_detects_a_bound_that_is_too_small():
    generator = np.random.default_rng(5)
    w = generator.normal(size=(3, 3)) * 2
    inputs = generator.normal(size=(4, 3)) * 0.1
    h_start = np.zeros(3)
    assert vanishing._bound_violation(2, w, inputs, h_start) == 0.0
    # With W scaled down by 10 in the bound only, the true Jacobian exceeds it.
    jac = vanishing._jacobian_by_differences(w, inputs, h_start)
    too_small = (np.linalg.norm(w / 10, 2)) ** len(inputs)
    assert np.linalg.norm(jac, 2) > too_small


def test_gradient_vanishes_and_explodes_as_the_bound_says():
    assert vanishing._vanishing_check() == 0.0
    assert vanishing._exploding_check() < 1e-6
