"""The GRU's BPTT: every derivation verifies, agrees with finite differences of an independent
loss (and rnn_num), and the mistakes are rejected: r applied to h instead of (W_n h + b_hn),
∇b_hn taken equal to ∇b_in, a path into h_{t-1} dropped, z's two roles swapped."""

import numpy as np
import pytest
import sympy as sp
from _derivation_exports import assert_markdown_deterministic, assert_tex_compiles
from _derivation_mutations import broken, fails_at, run_checks
from _plain_models import plain_loss

from derivations import gru
from derivations._bptt_numeric import plain_model_loss, random_model_point
from derivations._graph import hadamard

NUMERIC = {"gru-grad-U", "gru-grad-W", "gru-grad-b", "gru-grad-h0", "gru-expanded-loss"}


@pytest.mark.parametrize("build", gru.DERIVATIONS, ids=lambda b: b.__name__)
def test_derivation_verifies(build):
    d = build()
    assert len(d.verify().steps) == len(d.steps)


@pytest.mark.parametrize("build", gru.DERIVATIONS, ids=lambda b: b.__name__)
def test_finite_difference_cross_checks_pass(build):
    run_checks(build, "central differences", NUMERIC)


@pytest.mark.parametrize("build", gru.DERIVATIONS, ids=lambda b: b.__name__)
def test_rnn_num_cross_checks_pass(build):
    run_checks(build, "rnn_num", NUMERIC)


def test_every_block_is_derived():
    covered = {s for build in gru.DERIVATIONS for s in build().lhs.free_symbols}
    for name, block in gru.gru().params.items():
        assert set(block) <= covered, name


def test_b_hn_differs_from_b_in_and_the_others_pair_up():
    g = gru.gru()
    assert g.rm.grads["b_ir"] == g.rm.grads["b_hr"] and g.rm.grads["b_iz"] == g.rm.grads["b_hz"]
    difference = (g.rm.grads["b_hn"] - g.rm.grads["b_in"]).applyfunc(sp.expand)
    assert difference != sp.zeros(g.n_h, 1)


def test_taking_b_hn_equal_to_b_in_is_rejected():
    d = gru.parameter_gradients("b")()
    e = d.steps[0].expr  # r: rows 0-3 (b_ir, b_hr), z: 4-7, n: b_in rows 8-9, b_hn rows 10-11
    wrong = sp.Matrix.vstack(e[:10, :], e[8:10, :])
    fails_at(broken(d, 1, expr=wrong), 1)


def test_w_n_gradient_without_the_reset_gate_is_rejected():
    g = gru.gru()
    d = gru.parameter_gradients("W")()
    e = d.steps[0].expr
    plain = sum((g.da["n", t] * g.h[t - 1].T for t in range(1, g.T + 1)), sp.zeros(2, 2))
    fails_at(broken(d, 1, expr=sp.Matrix.vstack(e[:4, :], plain)), 1)


def test_reset_gate_adjoint_with_h_instead_of_m_is_rejected():
    # the "r applied to h" reading (r ⊙ W_n h, or W_n (r ⊙ h)) puts h_{t-1}, not m_t, here
    g = gru.gru()
    t = 2
    d = gru.gate_adjoints()
    e = d.steps[0].expr
    r = g.gate["r", t]
    wrong_r = hadamard(g.da["n", t], g.W["n"] * g.h[t - 1], r, gru.one_minus(r))  # b_hn lost
    fails_at(broken(d, 1, expr=sp.Matrix.hstack(e[:, 0], e[:, 1], wrong_r)), 1)


def test_update_gate_sign_swapped_is_rejected():
    g = gru.gru()
    t = 2
    d = gru.gate_adjoints()
    e = d.steps[0].expr
    z, n = g.gate["z", t], g.gate["n", t]
    wrong_z = hadamard(g.dh[t], n - g.h[t - 1], z, gru.one_minus(z))  # h = z ⊙ n + (1 − z) ⊙ h
    fails_at(broken(d, 1, expr=sp.Matrix.hstack(e[:, 0], wrong_z, e[:, 2])), 1)


def test_dropping_the_direct_path_is_rejected():
    g = gru.gru()
    d = gru.hidden_adjoint()
    direct = hadamard(g.gate["z", 3], g.dh[3])
    fails_at(broken(d, 1, expr=d.steps[0].expr - direct), 1)


def test_the_expanded_loss_catches_w_n_without_r_without_any_hypothesis(monkeypatch):
    original = gru.textbook_grads

    def without_r(g):
        out = original(g)
        out["W_n"] = sum((g.da["n", t] * g.h[t - 1].T for t in range(1, g.T + 1)), sp.zeros(1, 1))
        return out

    monkeypatch.setattr(gru, "textbook_grads", without_r)
    fails_at(gru.expanded_loss(), 1)


def test_the_independent_loss_agrees_with_the_plain_models():
    from rnn_spec import parse_model

    for text in (gru.MODEL, "cell=gru,head=given,h0=shared"):
        model = parse_model(text)
        params, x, y, h0, c0 = random_model_point(model, 4, 3, 2, 2, None)
        assert np.isclose(
            plain_model_loss(model, params, x, y, h0, c0),
            plain_loss(model, params, x, y, h0, c0),
            rtol=1e-12,
        )


def test_markdown_is_deterministic():
    assert_markdown_deterministic(gru.DERIVATIONS)


def test_tex_compiles(tmp_path):
    assert_tex_compiles(gru.DERIVATIONS, tmp_path)
