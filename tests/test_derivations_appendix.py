"""Seed 000's appendix: loss gradients, the Newton step, gradient clipping."""

import dataclasses

import pytest
import sympy as sp

from derivations import appendix
from derivations.appendix import CLIP, L1, L2, NEWTON_STEP, G, N, eps, j, p, r, s, y, y_hat
from rnn_sym import Derivation, StepFailed


def broken(d: Derivation, index: int, **changes) -> Derivation:
    d.steps[index - 1] = dataclasses.replace(d.steps[index - 1], **changes)
    return d


@pytest.mark.parametrize("build", appendix.DERIVATIONS, ids=lambda b: b.__name__)
def test_derivation_verifies_and_cross_checks_pass(build):
    d = build()
    d.verify()
    for result in d.run_cross_checks():
        assert result.ok, (result.name, result.error)


def test_mse_without_the_factor_two_is_rejected():
    d = appendix.mse_gradient()
    with pytest.raises(StepFailed) as info:
        broken(d, 3, expr=(y_hat[j] - y[j]) / N).verify()
    assert info.value.index == 3


def test_bce_with_wrong_sign_is_rejected():
    d = appendix.binary_cross_entropy_gradient()
    wrong = (y[j] - appendix._sigma(appendix.z[j])) / N
    with pytest.raises(StepFailed) as info:
        broken(d, 5, expr=wrong).verify()
    assert info.value.index == 5


def test_cce_with_wrong_sign_is_rejected():
    d = appendix.categorical_cross_entropy_gradient()
    with pytest.raises(StepFailed) as info:
        broken(d, 3, expr=y[r, s] / p[r, s]).verify()
    assert info.value.index == 3


def test_newton_minimiser_needs_positive_curvature():
    d = appendix.newton_minimiser()
    assert d.relation == ">="
    with pytest.raises(StepFailed) as info:
        broken(d, 2, uses=()).verify()
    assert info.value.index == 2
    assert "L''" in str(info.value)


def test_newton_step_with_wrong_sign_is_rejected():
    d = appendix.newton_minimiser()
    minimum = appendix.L0 - L1**2 / (2 * L2)
    with pytest.raises(StepFailed) as info:
        broken(d, 1, expr=minimum + L2 / 2 * (eps + NEWTON_STEP) ** 2).verify()
    assert info.value.index == 1


def test_stationary_point_is_minus_gradient_over_curvature():
    d = appendix.newton_stationary_point()
    d.verify()
    assert sp.solve(d.result, eps) == [NEWTON_STEP]


def test_clipping_direction_needs_a_positive_factor():
    d = appendix.clipping_direction()
    with pytest.raises(StepFailed) as info:
        broken(d, 2, uses=()).verify()
    assert info.value.index == 2


def test_clipping_norm_is_not_below_the_threshold_by_half():
    d = appendix.clipping_norm()
    with pytest.raises(StepFailed) as info:
        broken(d, 3, expr=CLIP / 2).verify()
    assert info.value.index == 3


def test_clipping_norm_is_not_the_unclipped_norm():
    d = appendix.clipping_norm()
    with pytest.raises(StepFailed) as info:
        broken(d, 2, expr=G).verify()
    assert info.value.index == 2


def test_stationary_point_with_wrong_sign_is_rejected():
    d = appendix.newton_stationary_point()
    with pytest.raises(StepFailed) as info:
        broken(d, 2, expr=L2 * (eps + NEWTON_STEP)).verify()
    assert info.value.index == 2
