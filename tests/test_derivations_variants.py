"""The vanilla variants: every derivation verifies and agrees with rnn_num and with finite
differences of an independent loss; the mistakes are rejected: tanh' kept for ReLU, the 1/T
of a mean forgotten, the sum over t not stopped at K, the ½ of MSE lost or doubled, a diag
factor kept for the identity activation, ∇b_hh different from ∇b_ih."""

import numpy as np
import pytest
import sympy as sp
from _derivation_exports import assert_markdown_deterministic, assert_tex_compiles
from _derivation_mutations import broken, fails_at
from _plain_models import plain_loss

from derivations import variants
from derivations._bptt_numeric import plain_model_loss, random_model_point
from derivations._graph import hadamard
from rnn_spec import parse_model


@pytest.mark.parametrize("build", variants.DERIVATIONS, ids=lambda b: b.__name__)
def test_derivation_verifies_and_cross_checks_pass(build):
    d = build()
    assert len(d.verify().steps) == len(d.steps)
    for result in d.run_cross_checks():
        assert result.ok, (result.name, result.error)


def test_gradient_derivations_check_against_rnn_num_and_finite_differences():
    for build in variants.DERIVATIONS:
        d = build()
        names = [c.name for c in d.cross_checks]
        if d.slug in ("variant-relu-hidden", "variant-mean-time-output-adjoint"):
            continue  # adjoint symbols / a loss-head identity: finite differences only, or none
        assert any("rnn_num" in n for n in names) and any("central" in n for n in names), d.slug


def test_tanh_prime_for_relu_is_rejected():
    m = variants.rnn(variants.RELU)
    d = variants.relu_grad_w()
    slope = {t: m.h[t].applyfunc(lambda e: 1 - e**2) for t in m.h if t > 0}
    wrong = sum(
        (hadamard(slope[t], m.dh[t]) * m.h[t - 1].T for t in range(1, m.T + 1)), sp.zeros(2, 2)
    )
    fails_at(broken(d, 1, expr=wrong), 1)


def test_relu_without_the_kink_assumption_does_not_follow():
    # SymPy's Heaviside(0) = 1/2 differs from 1[a > 0] at a = 0: the step needs a ≠ 0
    d = variants.relu_hidden()
    fails_at(broken(d, 1, uses=()), 1)


def test_relu_slope_is_one_above_and_zero_below_and_zero_at_the_kink():
    m = variants.rnn(variants.RELU)
    a = m.a[1][0]
    slope = m.slope(1)[0]
    assert slope.subs(a, 2) == 1 and slope.subs(a, -2) == 0 and slope.subs(a, 0) == 0


def test_identity_with_a_tanh_factor_is_rejected():
    m = variants.rnn(variants.IDENTITY)
    d = variants.identity_grad_w()
    diag = {t: m.h[t].applyfunc(lambda e: 1 - e**2) for t in range(1, m.T + 1)}
    wrong = sum(
        (hadamard(diag[t], m.dh[t]) * m.h[t - 1].T for t in range(1, m.T + 1)), sp.zeros(2, 2)
    )
    fails_at(broken(d, 1, expr=wrong), 1)
    # the powers in the wrong order ((Wᵀ)^{k−t} replaced by W^{k−t}) in the unrolled form
    W, V = m.params["W"], m.params["V"]
    powers = {
        t: sum((W ** (k - t) * V.T * m.go[k] for k in range(t, m.T + 1)), sp.zeros(2, 1))
        for t in range(1, m.T + 1)
    }
    untransposed = sum((powers[t] * m.h[t - 1].T for t in range(1, m.T + 1)), sp.zeros(2, 2))
    fails_at(broken(variants.identity_grad_w(), 2, expr=untransposed), 2)


def test_forgetting_the_mean_is_rejected():
    d = variants.mean_output_adjoint()
    fails_at(broken(d, 1, expr=d.steps[0].expr * variants.T_DOC), 1)
    d = variants.mean_grad_w()
    fails_at(broken(d, 1, expr=d.steps[0].expr * variants.T_DOC), 1)


def test_summing_past_k_is_rejected():
    m = variants.rnn(variants.STEP)
    d = variants.step_k_grad_w()
    # claiming a term of step 3 that survives (δh_3 = Vᵀ ∇o_3, as if L_3 were kept) is wrong
    assert m.rm.local[("h", 3)] == sp.zeros(2, 1)
    extra = hadamard(m.slope(3), m.params["V"].T * sp.Matrix(sp.symbols("g1 g2", real=True)))
    fails_at(broken(d, 2, expr=d.steps[1].expr + extra * m.h[2].T), 2)


@pytest.mark.parametrize("scale", ["half", "one"])
def test_mse_factor_is_exact(scale):
    d = variants.mse_output_adjoint(scale)()
    other = 2 if scale == "half" else sp.Rational(1, 2)
    fails_at(broken(d, 1, expr=d.steps[0].expr * other), 1)


def test_torch_biases_with_different_gradients_is_rejected():
    m = variants.rnn(variants.TORCH)
    d = variants.torch_biases()
    wrong = m.rm.grads["b_ih"] + m.params["b_ih"]  # anything but the same sum
    fails_at(broken(d, 1, expr=wrong), 1)


def test_finite_difference_check_catches_a_wrong_result():
    d = variants.relu_grad_w()
    check = variants.gradient_check(variants.RELU, d.result * 1.05, "W", "fd")
    assert check() > 1e-4


@pytest.mark.parametrize(
    "text",
    [
        variants.RELU,
        variants.IDENTITY,
        variants.MEAN,
        variants.STEP,
        variants.TORCH,
        "head=mse,h0=shared",
        "head=mse,mse_scale=one,h0=shared",
    ],
)
def test_the_independent_loss_agrees_with_the_plain_models(text):
    model = parse_model(text)
    params, x, y, h0, c0 = random_model_point(model, 4, 3, 2, 2, 2)
    assert np.isclose(
        plain_model_loss(model, params, x, y, h0, c0),
        plain_loss(model, params, x, y, h0, c0),
        rtol=1e-12,
    )


def test_markdown_is_deterministic():
    assert_markdown_deterministic(variants.DERIVATIONS)


def test_tex_compiles(tmp_path):
    assert_tex_compiles(variants.DERIVATIONS, tmp_path)
