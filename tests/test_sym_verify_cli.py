"""`rnn-derive verify`: the table, exit codes 0 / 1 / 2 and the error messages."""

import pytest

import rnn_num
import rnn_sym._bptt as bptt_module
from rnn_derive.cli import main


def _run(capsys, *argv):
    code = main(["verify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("T", "n_h"), [(1, 2), (2, 2), (3, 2), (4, 2), (2, 3)])
def test_small_configuration_agrees_with_naive_route(capsys, T, n_h):
    # Issue 3: every gradient equal to SymPy's diff of the fully unrolled loss, T = 1 … 4.
    code, out, err = _run(capsys, "--T", str(T), "--n-h", str(n_h), "--seed", "4")
    assert code == 0, out + err
    assert "all agree" in out
    rows = [line for line in out.splitlines() if line.startswith("∇_")]
    assert [r.split()[0] for r in rows] == ["∇_U", "∇_W", "∇_V", "∇_b", "∇_c", "∇_h0"]
    for row in rows:
        recursion, sigma_pi, expanded = row.split()[1:4]
        assert recursion == "yes" and expanded == "yes" and sigma_pi in ("yes", "n/a")
        assert float(row.split()[4]) < 1e-9  # vs rnn_num
    assert "[verify]" in err  # progress goes to stderr


def test_larger_T_skips_only_the_naive_route(capsys):
    code, out, err = _run(capsys, "--T", "6", "--n-h", "2", "--only", "W,h0", "--many-to-one")
    assert code == 0, out + err
    assert "skipping the naive route" in err and "T <= 4" in err
    rows = [line.split() for line in out.splitlines() if line.startswith("∇_")]
    assert [r[0] for r in rows] == ["∇_W", "∇_h0"]
    assert all(r[1] == "yes" and r[2] == "yes" and r[3] == "n/a" for r in rows)


def test_numeric_disagreement_exits_1(capsys, monkeypatch):
    real = rnn_num.loss_and_grads

    def off_by_a_bit(*args, **kwargs):
        loss, grads = real(*args, **kwargs)
        return loss, grads | {"W": grads["W"] * 1.001}

    monkeypatch.setattr(rnn_num, "loss_and_grads", off_by_a_bit)
    code, out, _ = _run(capsys, "--T", "5", "--n-h", "2")
    assert code == 1
    assert "DISAGREEMENT" in out
    assert [line for line in out.splitlines() if "disagrees" in line][0].startswith("∇_W")


def test_failed_proof_exits_1(capsys, monkeypatch):
    real = bptt_module.textbook

    def missing_slope(rm):
        forms = real(rm)
        m = rm.model
        wrong = dict(forms.local_h)
        wrong[1] = m.W.T * rm.grad_h[2] + m.V.T * rm.grad_o[1]  # diag(1 - h_2^2) dropped
        return bptt_module.Textbook(wrong, forms.local_o, forms.params)

    monkeypatch.setattr(bptt_module, "textbook", missing_slope)
    code, _, err = _run(capsys, "--T", "5", "--n-h", "2")
    assert code == 1
    assert "FAILED" in err and "grad_h(1)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--T", "0"], "T = 0: it must be at least 1"),
        (["--T", "33"], "above the limit 32"),
        (["--T", "1000"], "rnn_num.gradcheck"),
        (["--n-h", "9"], "n_h = 9 is above the limit 8"),
        (["--n-x", "-1"], "n_x = -1"),
        (["--n-y", "1"], "n_y >= 2"),
        (["--only", "W,Z"], "unknown parameter name(s) ['Z']"),
        (["--seed", "-3"], "--seed must be >= 0"),
    ],
)
def test_bad_input_exits_2_with_the_limit_and_the_alternative(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_non_integer_size_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["verify", "--T", "three"])
    assert info.value.code == 2
    assert "invalid int value" in capsys.readouterr().err
