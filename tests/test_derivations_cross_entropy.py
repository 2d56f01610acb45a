"""∇_o L = ŷ - y: verifies, agrees with rnn_num and finite differences, and needs Σ_i y_i = 1
exactly at the step that uses it (the engine rejects that step without the assumption)."""

import dataclasses

import pytest
import sympy as sp

from derivations import cross_entropy
from derivations.cross_entropy import TARGET_SUM, j, y, y_hat
from rnn_sym import Derivation, StepFailed


def tail(d: Derivation, first: int) -> Derivation:
    """Steps first.. of d as their own chain, starting from step first-1's expression
    (the earlier steps are verified in the main test; this keeps the suite fast)."""
    short = Derivation(
        d.slug, d.title, lhs=d.lhs, start=d.steps[first - 2].expr, assumptions=d.assumptions
    )
    short.steps = list(d.steps[first - 1 :])
    return short


@pytest.fixture(scope="module")
def gradient():
    return cross_entropy.cross_entropy_gradient()


@pytest.mark.parametrize("build", cross_entropy.DERIVATIONS, ids=lambda b: b.__name__)
def test_derivation_verifies_and_cross_checks_pass(build):
    d = build()
    d.verify()
    results = d.run_cross_checks()
    assert any("rnn_num" in r.name for r in results)
    for result in results:
        assert result.ok, (result.name, result.error)


def test_results(gradient):
    assert gradient.result == y_hat[j] - y[j]
    general = cross_entropy.cross_entropy_gradient_any_targets()
    assert general.result == y_hat[j] * TARGET_SUM - y[j]
    assert general.assumptions[0].name == "j-in-range"  # no sum-to-one assumption stated


def test_assumption_is_used_at_the_last_step_only(gradient):
    sum_one = cross_entropy.targets_sum_to_one()
    assert [bool(s.uses and sum_one in s.uses) for s in gradient.steps] == [False] * 5 + [True]


def test_dropping_the_assumption_fails_with_the_right_residual(gradient):
    short = tail(gradient, 6)
    short.steps[0] = dataclasses.replace(short.steps[0], uses=())
    with pytest.raises(StepFailed) as info:
        short.verify()
    assert "targets sum to one" in str(info.value)
    # The residual is ŷ_j (Σ_i y_i - 1): zero exactly when the targets sum to 1.
    assert sp.simplify(info.value.residual - y_hat[j] * (TARGET_SUM - 1)) == 0


def test_same_step_with_the_assumption_passes(gradient):
    tail(gradient, 6).verify()


def test_wrong_sign_is_rejected_even_with_the_assumption(gradient):
    # Seed 003 writes ∂L/∂ŷ as (y - ŷ); the gradient with that sign does not follow.
    short = tail(gradient, 6)
    short.steps[0] = dataclasses.replace(short.steps[0], expr=y[j] - y_hat[j])
    with pytest.raises(StepFailed):
        short.verify()


def test_split_of_the_sum_with_a_dropped_delta_is_rejected(gradient):
    short = tail(gradient, 5)
    short.steps[0] = dataclasses.replace(short.steps[0], expr=y_hat[j] * TARGET_SUM)
    with pytest.raises(StepFailed) as info:
        short.verify()
    assert info.value.index == 1


def test_fd_check_catches_the_simple_form_for_targets_not_summing_to_one(gradient):
    check = cross_entropy._fd_check(gradient.result, sum_to_one=False)
    assert check() > 1e-2


def test_any_targets_cannot_be_shortened_to_the_simple_form():
    general = cross_entropy.cross_entropy_gradient_any_targets()
    general.step(y_hat[j] - y[j], "pretend the targets sum to one")
    with pytest.raises(StepFailed) as info:
        tail(general, 6).verify()
    assert "pretend" in str(info.value)
