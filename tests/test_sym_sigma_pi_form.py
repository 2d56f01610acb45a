"""The Σ Π form is proven exactly as sigma_pi() writes it, for every T that verify accepts:
a shifted index, a dropped term or a transposed factor in it is caught, by
prove_sigma_pi_form and by `rnn-derive verify` beyond the multiplied-out small path."""

from __future__ import annotations

import pytest
import sympy as sp

import rnn_sym._bptt as bptt_module
from rnn_derive.cli import main
from rnn_sym import StepFailed, model_symbols, prove_sigma_pi_form, reverse_mode
from rnn_sym._polys import is_zero_polynomial

_ORIGINAL = bptt_module.sigma_pi


def _written(right, first_k=1, transpose_w=False):
    """A sigma_pi written with one mistake (the engine's, but for the factor or the range)."""

    def sigma_pi(rm, name, *, grad_o=None, chain=None):
        m = rm.model
        if name != "W" or chain is None:
            return _ORIGINAL(rm, name, grad_o=grad_o, chain=chain)
        total = sp.zeros(*_ORIGINAL(rm, name, grad_o=grad_o, chain=chain).shape)
        for t in rm.grad_o:
            for k in range(first_k, t + 1):
                column = chain(t, k)
                d = bptt_module.tanh_derivative(m, k)
                total += (d * column * right(m, k)).T if transpose_w else d * column * right(m, k)
        return total

    return sigma_pi


MUTATIONS = {
    "h_k for h_(k-1)": _written(lambda m, k: m.h(k).T),
    "k = 1 term dropped": _written(lambda m, k: m.h(k - 1).T, first_k=2),
    "transposed": _written(lambda m, k: m.h(k - 1).T, transpose_w=True),
}


@pytest.mark.parametrize("T, n_h, many_to_one", [(3, 2, False), (5, 4, False), (6, 3, True)])
def test_the_written_form_is_proven_for_every_parameter(T, n_h, many_to_one):
    rm = reverse_mode(model_symbols(T, 2, n_h, 2), many_to_one=many_to_one)
    for name in ("W", "U", "b", "h0"):
        record = prove_sigma_pi_form(rm, name)
        assert record.claim == f"sigma_pi_form({name})"
        assert "exact" in record.method


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_a_wrong_sigma_pi_form_is_caught_with_the_step_named(mutation, monkeypatch):
    monkeypatch.setattr(bptt_module, "sigma_pi", MUTATIONS[mutation])
    rm = reverse_mode(model_symbols(5, 2, 4, 2))
    with pytest.raises(StepFailed, match=r"sigma_pi_form\(W\)"):
        prove_sigma_pi_form(rm, "W")


@pytest.mark.parametrize("argv", [["--T", "5"], ["--T", "3", "--n-h", "4"]])
def test_verify_says_no_for_a_wrong_form_beyond_the_small_path(argv, capsys, monkeypatch):
    monkeypatch.setattr(bptt_module, "sigma_pi", MUTATIONS["k = 1 term dropped"])
    assert main(["verify", *argv]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("∇_W"))
    assert row.split()[2] == "NO"


def test_sparse_polynomials_decide_exactly():
    x, y = sp.symbols("x y")
    assert is_zero_polynomial([(x + y) ** 2 - x**2 - 2 * x * y - y**2, sp.Integer(0)]) is True
    assert is_zero_polynomial([(x + y) ** 2 - x**2 - y**2]) is False
    assert is_zero_polynomial([sp.Rational(1, 3) * x * 3 - x]) is True
    assert is_zero_polynomial([x - x * (1 + sp.Rational(1, 10**30))]) is False
    assert is_zero_polynomial([sp.tanh(x) - sp.tanh(x)]) is True  # SymPy cancels it itself
    assert is_zero_polynomial([sp.tanh(x) * y - y * sp.tanh(x) + sp.exp(x)]) is None
