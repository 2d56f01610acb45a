"""Softmax Jacobian: proofs for symbolic N verify, cross-checks pass, and the broken variants
(seed 003's diagonal formula used off the diagonal, a dropped assumption, a wrong sign) are
rejected with StepFailed naming the step."""

import dataclasses

import pytest
import sympy as sp

from derivations import softmax
from derivations.softmax import S, delta, i, j, o, y_hat
from rnn_sym import Derivation, StepFailed


def broken(d: Derivation, index: int, **changes) -> Derivation:
    d.steps[index - 1] = dataclasses.replace(d.steps[index - 1], **changes)
    return d


@pytest.mark.parametrize("build", softmax.DERIVATIONS, ids=lambda b: b.__name__)
def test_derivation_verifies_and_cross_checks_pass(build):
    d = build()
    d.verify()
    for result in d.run_cross_checks():
        assert result.ok, (result.name, result.error)


def test_results():
    assert softmax.softmax_jacobian().result == y_hat[i] * (delta - y_hat[j])
    assert softmax.softmax_jacobian_diagonal().result == y_hat[i] * (1 - y_hat[i])
    assert softmax.softmax_jacobian_off_diagonal().result == -y_hat[i] * y_hat[j]


def test_general_formula_is_proven_with_a_symbolic_number_of_classes():
    d = softmax.softmax_jacobian()
    assert softmax.N in d.start.free_symbols  # the sum runs to a symbol, not a number
    assert all(not isinstance(step.expr, sp.MatrixBase) for step in d.steps)


@pytest.mark.parametrize("n", [2, 4, 5])
def test_explicit_jacobian_for_other_sizes(n):
    softmax.softmax_jacobian_explicit(n).verify()


def test_seed_003_diagonal_formula_off_the_diagonal_is_rejected():
    # Seed 003, eq. 5: ŷ_i (1 - ŷ_j) for every i, j.
    d = softmax.softmax_jacobian_off_diagonal()
    seed_formula = sp.exp(o[i]) / S * (1 - sp.exp(o[j]) / S)
    with pytest.raises(StepFailed) as info:
        broken(d, 3, expr=seed_formula).verify()
    assert info.value.index == 3
    assert "delta" in str(info.value)


def test_off_diagonal_needs_i_ne_j():
    d = softmax.softmax_jacobian_off_diagonal()
    with pytest.raises(StepFailed) as info:
        broken(d, 3, uses=()).verify()
    assert info.value.index == 3
    assert info.value.residual.has(sp.KroneckerDelta)


def test_sum_derivative_needs_the_index_range():
    # Without 1 <= j <= N SymPy cannot drop the case "j outside the sum".
    d = softmax.softmax_jacobian()
    with pytest.raises(StepFailed) as info:
        broken(d, 2, uses=()).verify()
    assert info.value.index == 2


def test_wrong_sign_in_the_jacobian_is_rejected():
    d = softmax.softmax_jacobian()
    with pytest.raises(StepFailed) as info:
        broken(d, 4, expr=y_hat[i] * (delta + y_hat[j])).verify()
    assert info.value.index == 4


def test_matrix_form_with_wrong_sign_is_rejected():
    d = softmax.softmax_jacobian_matrix()
    with pytest.raises(StepFailed) as info:
        broken(d, 1, expr=delta * y_hat[i] + y_hat[i] * y_hat[j]).verify()
    assert info.value.index == 1


def test_explicit_jacobian_rejects_outer_product_minus_diagonal():
    d = softmax.softmax_jacobian_explicit(3)
    wrong = -d.steps[0].expr
    with pytest.raises(StepFailed):
        broken(d, 1, expr=wrong).verify()


def test_jacobian_check_catches_a_wrong_formula():
    check = softmax._jacobian_check(y_hat[i] * (1 - y_hat[j]), 3, against_rnn_num=False)
    assert check() > 1e-2


def test_off_diagonal_formula_on_the_diagonal_is_rejected():
    d = softmax.softmax_jacobian_diagonal()
    with pytest.raises(StepFailed) as info:
        broken(d, 4, expr=-y_hat[i] * y_hat[i]).verify()
    assert info.value.index == 4
