"""Activation derivatives: every derivation verifies, its cross-checks pass, and broken
variants (wrong sign, wrong result, the seed's convention taken as a derivative) are rejected."""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from derivations import activations
from derivations.activations import p, q, relu, sigma, x
from rnn_sym import Derivation, StepFailed


def broken(d: Derivation, index: int, **changes) -> Derivation:
    """The same derivation with step `index` (1-based) changed."""
    d.steps[index - 1] = dataclasses.replace(d.steps[index - 1], **changes)
    return d


@pytest.mark.parametrize("build", activations.DERIVATIONS, ids=lambda b: b.__name__)
def test_derivation_verifies_and_cross_checks_pass(build):
    d = build()
    proof = d.verify()
    assert len(proof.steps) == len(d.steps)
    for result in d.run_cross_checks():
        assert result.ok, (result.name, result.error)


def test_results_are_the_textbook_formulas():
    assert sp.simplify(activations.tanh_prime().result - (1 - sp.tanh(x) ** 2)) == 0
    assert activations.sigmoid_prime().result == sigma(x) * (1 - sigma(x))
    assert activations.tanh_from_sigmoid().result == 2 * sigma(2 * x) - 1


def test_quotient_rule_with_wrong_sign_is_rejected():
    d = activations.tanh_prime()
    wrong = (sp.Derivative(p(x), x) * q(x) + p(x) * sp.Derivative(q(x), x)) / q(x) ** 2
    with pytest.raises(StepFailed) as info:
        broken(d, 2, expr=wrong).verify()
    assert info.value.index == 2
    assert "quotient rule" in str(info.value)


def test_tanh_prime_with_plus_sign_is_rejected():
    d = activations.tanh_prime()
    with pytest.raises(StepFailed) as info:
        broken(d, len(d.steps), expr=1 + sp.tanh(x) ** 2).verify()
    assert info.value.index == len(d.steps)


def test_sigmoid_prime_with_wrong_factor_is_rejected():
    d = activations.sigmoid_prime()
    with pytest.raises(StepFailed) as info:
        broken(d, 4, expr=sigma(x) * (1 + sigma(x))).verify()
    assert info.value.index == 4


def test_tanh_is_not_sigma_of_x_rescaled():
    d = activations.tanh_from_sigmoid()
    with pytest.raises(StepFailed) as info:
        broken(d, 4, expr=2 * sigma(x) - 1).verify()
    assert info.value.index == 4


def test_relu_prime_wrong_on_negative_side_is_rejected():
    d = activations.relu_prime()
    with pytest.raises(StepFailed) as info:
        broken(d, 1, expr=sp.Piecewise((1, x > 0), (1, x < 0))).verify()
    assert info.value.index == 1


def test_relu_is_not_differentiable_at_zero():
    # Claiming equal one-sided limits (a derivative 0 at x = 0, as seed 001's "x <= 0" reads)
    # is rejected: the right limit is 1.
    d = activations.relu_kink()
    assert d.result == sp.Matrix([1, 0])
    with pytest.raises(StepFailed) as info:
        broken(d, 2, expr=sp.Matrix([0, 0])).verify()
    assert info.value.index == 2


def test_relu_prime_leaves_zero_undefined():
    result = activations.relu_prime().result
    assert result.subs(x, 3) == 1 and result.subs(x, -3) == 0
    assert result.subs(x, 0) is sp.nan


def test_relu_definition_is_max_zero_x():
    assert activations.RELU_DEF[relu](-2) == 0 and activations.RELU_DEF[relu](2) == 2


def test_finite_difference_check_catches_a_wrong_derivative():
    check = activations._fd_check(1 + sp.tanh(x) ** 2, np.tanh)
    assert check() > 1e-2
