"""The LSTM's BPTT: every derivation verifies, its numbers agree with finite differences of an
independent loss (and with rnn_num), and the classic mistakes make a step fail: the cell-state
path dropped, σ' written on the pre-activation, c_t for tanh(c_t), two gates swapped."""

import numpy as np
import pytest
import sympy as sp
from _derivation_exports import assert_markdown_deterministic, assert_tex_compiles
from _derivation_mutations import broken, fails_at, run_checks
from _plain_models import plain_loss

from derivations import lstm
from derivations._bptt_numeric import plain_model_loss, random_model_point
from derivations._graph import hadamard


@pytest.mark.parametrize("build", lstm.DERIVATIONS, ids=lambda b: b.__name__)
def test_derivation_verifies(build):
    d = build()
    proof = d.verify()
    assert len(proof.steps) == len(d.steps)


# The derivations whose result is a gradient of the loss (the others are in adjoint symbols).
NUMERIC = {
    "lstm-grad-U",
    "lstm-grad-W",
    "lstm-grad-b",
    "lstm-grad-initial-states",
    "lstm-torch-biases",
    "lstm-expanded-loss",
}


@pytest.mark.parametrize("build", lstm.DERIVATIONS, ids=lambda b: b.__name__)
def test_finite_difference_cross_checks_pass(build):
    run_checks(build, "central differences", NUMERIC)


@pytest.mark.parametrize("build", lstm.DERIVATIONS, ids=lambda b: b.__name__)
def test_rnn_num_cross_checks_pass(build):
    run_checks(build, "rnn_num", NUMERIC)


def test_every_parameter_block_and_initial_state_is_derived():
    covered = {s for build in lstm.DERIVATIONS for s in build().lhs.free_symbols}
    for name, block in lstm.lstm().params.items():
        assert set(block) <= covered, name
    covered = {s for s in lstm.torch_biases().lhs.free_symbols}
    for name, block in lstm.lstm(torch_biases=True).params.items():
        if name.startswith("b_h"):
            assert set(block) <= covered, name


# --- the mistakes ----------------------------------------------------------------------------


def test_dropping_the_cell_state_path_is_rejected():
    m = lstm.lstm()
    t = 2
    without = hadamard(
        m.dh[t], m.gate["o", t], lstm.one_minus(lstm.tanh_c(m, t).applyfunc(lambda e: e**2))
    )
    fails_at(broken(lstm.cell_adjoint(), 1, expr=without), 1)


def test_the_cell_state_path_is_what_diff_finds():
    m = lstm.lstm()
    t = 2
    carry = m.rm.local[("c", t)] - m.rm.local[("c", t)].subs(dict.fromkeys(m.dc[t + 1], 0))
    assert (carry - hadamard(m.gate["f", t + 1], m.dc[t + 1])).applyfunc(sp.expand) == sp.zeros(
        2, 1
    )


def test_sigma_prime_on_the_pre_activation_is_rejected():
    m = lstm.lstm()
    t = 2
    z, o = m.z["o", t], m.gate["o", t]
    on_pre = hadamard(m.dh[t], lstm.tanh_c(m, t), z, lstm.one_minus(z))
    fails_at(broken(lstm.sigma_on_the_value(), 1, expr=on_pre), 1)
    # σ'(o) = σ(o)(1 − σ(o)), the derivative evaluated at the value instead of at z: also wrong
    sig = o.applyfunc(lambda e: 1 / (1 + sp.exp(-e)))
    fails_at(
        broken(
            lstm.sigma_on_the_value(),
            1,
            expr=hadamard(m.dh[t], lstm.tanh_c(m, t), sig, lstm.one_minus(sig)),
        ),
        1,
    )
    # and in the input gate of the gate-adjoint derivation
    d = lstm.gate_adjoints()
    cols = [d.steps[0].expr[:, k] for k in range(4)]
    cols[0] = hadamard(m.dc[t], m.gate["g", t], m.z["i", t], lstm.one_minus(m.z["i", t]))
    fails_at(broken(d, 1, expr=sp.Matrix.hstack(*cols)), 1)


def test_c_for_tanh_c_is_rejected():
    m = lstm.lstm()
    t = 2
    with_c = hadamard(m.dh[t], m.gate["o", t], lstm.one_minus(m.c[t].applyfunc(lambda e: e**2)))
    with_c += hadamard(m.gate["f", t + 1], m.dc[t + 1])
    fails_at(broken(lstm.cell_adjoint(), 1, expr=with_c), 1)
    o = m.gate["o", t]
    fails_at(
        broken(lstm.sigma_on_the_value(), 1, expr=hadamard(m.dh[t], m.c[t], o, lstm.one_minus(o))),
        1,
    )


def test_swapping_two_gates_is_rejected():
    d = lstm.gate_adjoints()
    e = d.steps[0].expr
    swapped = sp.Matrix.hstack(e[:, 2], e[:, 1], e[:, 0], e[:, 3])  # i <-> g
    fails_at(broken(d, 1, expr=swapped), 1)
    d = lstm.parameter_gradients("U")()
    e = d.steps[0].expr  # blocks i, f, g, o of 2 rows each
    swapped = sp.Matrix.vstack(e[2:4, :], e[0:2, :], e[4:, :])  # i <-> f
    fails_at(broken(d, 1, expr=swapped), 1)


def test_c0_without_the_forget_gate_is_rejected():
    d = lstm.initial_states()
    m = lstm.lstm()
    wrong = sp.Matrix.vstack(d.steps[0].expr[:2, :], m.dc[1])
    fails_at(broken(d, 1, expr=wrong), 1)


def test_the_expanded_loss_catches_a_dropped_cell_path_without_any_hypothesis(monkeypatch):
    original = lstm.textbook_local

    def without_carry(m):
        out = original(m)
        for t in range(1, m.T):
            out[("c", t)] = out[("c", t)] - hadamard(m.gate["f", t + 1], m.dc[t + 1])
        return out

    monkeypatch.setattr(lstm, "textbook_local", without_carry)
    fails_at(lstm.expanded_loss(), 1)


# --- structure and numbers --------------------------------------------------------------------


def test_torch_biases_get_the_same_gradient():
    m = lstm.lstm(torch_biases=True)
    for q in lstm.GATES:
        assert m.rm.grads[f"b_i{q}"] == m.rm.grads[f"b_h{q}"]


def test_finite_difference_check_catches_a_wrong_result():
    d = lstm.parameter_gradients("W")()
    wrong = d.result.copy()
    wrong[0, 0] = wrong[0, 0] * 1.1
    check = lstm.stacked_check(lstm.lstm, wrong, tuple(f"W_{q}" for q in lstm.GATES), "fd")
    assert check() > 1e-4


@pytest.mark.parametrize("text", [lstm.MODEL, lstm.TORCH_MODEL])
def test_the_independent_loss_agrees_with_the_plain_models(text):
    from rnn_spec import parse_model

    model = parse_model(text)
    params, x, y, h0, c0 = random_model_point(model, 4, 3, 2, 2, None)
    assert np.isclose(
        plain_model_loss(model, params, x, y, h0, c0),
        plain_loss(model, params, x, y, h0, c0),
        rtol=1e-12,
    )


def test_markdown_is_deterministic():
    assert_markdown_deterministic(lstm.DERIVATIONS)


def test_tex_compiles(tmp_path):
    assert_tex_compiles(lstm.DERIVATIONS, tmp_path)
