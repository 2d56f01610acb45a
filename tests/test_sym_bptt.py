"""BPTT symbolically: reverse-mode diff = textbook recursion = Σ Π form = diff of the expanded loss.

Small T exhaustively here; larger T in `rnn-derive verify` and benchmarks/bench_sym.py.
"""

import pytest
import sympy as sp

from rnn_sym import (
    MAX_T_EXPANDED,
    PARAMETER_NAMES,
    SizeLimitError,
    StepFailed,
    expanded_loss,
    model_symbols,
    prove_recursion,
    prove_sigma_pi_inductive,
    reverse_mode,
    sigma_pi,
    tanh_derivative,
    textbook,
)
from rnn_sym._bptt import (
    _prove,
    expanded_full,
    full_forms,
    inline_adjoints,
    residual_is_zero,
    sigma_pi_full,
)


@pytest.mark.parametrize("n_h", [2, 3])
@pytest.mark.parametrize("T", [1, 2, 3, 4])
@pytest.mark.parametrize("many_to_one", [False, True])
def test_reverse_mode_equals_recursion_node_by_node(T, n_h, many_to_one):
    rm = reverse_mode(model_symbols(T, 2, n_h, 2), many_to_one=many_to_one)
    claims = [r.claim for r in prove_recursion(rm)]
    assert {f"grad_{n}" for n in PARAMETER_NAMES} <= set(claims)
    assert sum(c.startswith("grad_h(") for c in claims) == T


@pytest.mark.parametrize("n_h", [2, 3])
@pytest.mark.parametrize("T", [1, 2, 3, 6])
def test_sigma_pi_induction_holds(T, n_h):
    rm = reverse_mode(model_symbols(T, 2, n_h, 2))
    assert len(list(prove_sigma_pi_inductive(rm))) == T + 1


# T = 4 (and n_h = 3 at T = 3) take several seconds each: `rnn-derive verify --T 4` runs them.
@pytest.mark.parametrize(("T", "n_h"), [(1, 3), (2, 3), (1, 2), (2, 2), (3, 2)])
def test_full_polynomials_agree_without_hypothesis(T, n_h):
    """Adjoints inlined: diff route = textbook (one-hot) and textbook = Σ Π, as polynomials."""
    rm = reverse_mode(model_symbols(T, 2, n_h, 2))
    autodiff, text = full_forms(rm, one_hot=True)
    for name in PARAMETER_NAMES:
        assert residual_is_zero(autodiff[name] - text[name]), name
    _, text_o = full_forms(rm, one_hot=False, keep_grad_o=True)
    for name in ("W", "U", "b", "h0"):
        assert residual_is_zero(sigma_pi_full(rm, name) - text_o[name]), name


def test_textbook_o_gradient_needs_one_hot_targets():
    rm = reverse_mode(model_symbols(1, 1, 1, 2))
    autodiff, text = full_forms(rm, one_hot=False)
    assert not residual_is_zero(autodiff["c"] - text["c"])


@pytest.mark.parametrize(
    ("T", "n_h", "targets", "names"),
    [
        (1, 2, None, PARAMETER_NAMES),  # symbolic one-hot y
        (1, 3, (1,), PARAMETER_NAMES),
        (2, 3, (1, 0), ("W", "h0")),
        (3, 2, (0, 1, 1), ("W",)),
    ],
)
def test_diff_of_expanded_loss_equals_reverse_mode(T, n_h, targets, names):
    rm = reverse_mode(model_symbols(T, 2, n_h, 2, targets=targets))
    autodiff, _ = full_forms(rm, one_hot=False)
    naive = expanded_full(rm, names=names)
    for name in names:
        assert residual_is_zero(naive[name] - autodiff[name]), name


def test_expanded_many_to_one_equals_reverse_mode():
    rm = reverse_mode(model_symbols(2, 2, 2, 2, targets=(0, 1)), many_to_one=True)
    autodiff, _ = full_forms(rm, one_hot=False)
    naive = expanded_full(rm, names=("W", "V"))
    assert residual_is_zero(naive["W"] - autodiff["W"])
    assert residual_is_zero(naive["V"] - autodiff["V"])


def test_expanded_loss_is_written_out_and_capped():
    m = model_symbols(2, 1, 1, 2)
    loss = expanded_loss(m)
    assert loss.has(sp.tanh) and loss.has(sp.exp)
    assert not (loss.free_symbols & set(m.h(1)))  # no intermediate symbols
    with pytest.raises(SizeLimitError, match=f"T <= {MAX_T_EXPANDED}"):
        expanded_loss(model_symbols(MAX_T_EXPANDED + 1, 1, 1, 2))
    with pytest.raises(SizeLimitError, match="prove_recursion"):
        full_forms(reverse_mode(model_symbols(6, 1, 1, 2)), one_hot=True)


def test_reverse_mode_uses_tanh_prime_as_one_minus_h_squared():
    m = model_symbols(2, 1, 2, 2)
    rm = reverse_mode(m)
    for expr in rm.local_h[1]:
        assert not expr.has(sp.tanh, sp.exp, sp.cosh)
    # ∂L/∂h_{1,1} reaches W_{11} through a_2: the factor 1 - h_{2,1}^2, multiplied out
    assert sp.expand(rm.local_h[1][0]).coeff(rm.grad_h[2][0] * m.W[0, 0]) == 1 - m.h(2)[0] ** 2


# --- the prover can fail: deliberately wrong recursions are rejected -----------------------------


def _wrong_recursion(rm, *, transpose: bool = True, slope: bool = True):
    m = rm.model
    forms = textbook(rm)
    t = 1
    W = m.W.T if transpose else m.W
    D = tanh_derivative(m, t + 1) if slope else sp.eye(m.n_h)
    return W * D * rm.grad_h[t + 1] + m.V.T * rm.grad_o[t], forms.local_h[t]


@pytest.mark.parametrize(("transpose", "slope"), [(False, True), (True, False)])
def test_wrong_recursion_is_rejected(transpose, slope):
    rm = reverse_mode(model_symbols(2, 2, 2, 2))
    wrong, right = _wrong_recursion(rm, transpose=transpose, slope=slope)
    _prove("right", "expand", rm.local_h[1], right)  # the right one passes
    with pytest.raises(StepFailed) as info:
        _prove("wrong", "expand", rm.local_h[1], wrong)
    assert any(e != 0 for e in info.value.residual)


def test_wrong_parameter_gradient_is_rejected():
    rm = reverse_mode(model_symbols(2, 2, 2, 2))
    m = rm.model
    # x_t^T where h_{t-1}^T belongs: ∇_W with ∇_U's right factor (n_x = n_h = 2 fits)
    wrong = sum((tanh_derivative(m, t) * rm.grad_h[t] * m.x(t).T for t in (1, 2)), sp.zeros(2, 2))
    with pytest.raises(StepFailed):
        _prove("wrong W", "expand", rm.params["W"], wrong)


def test_wrong_sigma_pi_is_rejected():
    """The notes' product order (Jacobians not transposed) fails the full comparison."""
    rm = reverse_mode(model_symbols(3, 2, 2, 2))
    m = rm.model
    tb = textbook(rm)
    mapping = inline_adjoints(rm, tb.local_h, None)
    unrolled = tb.params["W"].xreplace(mapping)
    right = sigma_pi(rm, "W")
    assert residual_is_zero(unrolled - right)
    from rnn_sym import hidden_jacobian

    wrong = sum(
        (
            tanh_derivative(m, k) * hidden_jacobian(m, t, k) * m.V.T * rm.grad_o[t] * m.h(k - 1).T
            for t in (1, 2, 3)
            for k in range(1, t + 1)
        ),
        sp.zeros(2, 2),
    )
    assert not residual_is_zero(unrolled - wrong)


def test_sigma_pi_only_for_w_u_b_h0():
    rm = reverse_mode(model_symbols(1, 1, 1, 2))
    with pytest.raises(KeyError, match="not 'V'"):
        sigma_pi(rm, "V")


def test_expression_size_is_linear_in_T():
    """Reverse mode keeps adjoints as symbols: the gradient of W grows linearly with T."""
    sizes = []
    for T in (4, 8):
        rm = reverse_mode(model_symbols(T, 2, 2, 2))
        sizes.append(sum(sp.count_ops(e) for e in rm.params["W"]))
    assert sizes[1] <= 2.2 * sizes[0]
