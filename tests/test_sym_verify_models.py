"""`rnn-derive verify --model ...`: the table for the other models, exit codes 0 / 1 / 2.

The LSTM and GRU rows compare with rnn_num's gated kernels: until rnn_num has them, those
tests fail (the table says rnn_num could not compute the model, exit 1), as they should.
"""

import pytest

import rnn_num
import rnn_sym._cells as cells_module
from rnn_derive.cli import main
from rnn_spec import parse_model


def _run(capsys, *argv):
    code = main(["verify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.startswith("∇_")]


@pytest.mark.parametrize(
    "text",
    [
        "cell=lstm",
        "cell=lstm,biases=torch,head=mse,task=many-to-one",
        "cell=gru",
        "cell=gru,biases=torch,reduction=mean,h0=per-sequence",
    ],
)
def test_gated_cells_are_proven_and_agree(capsys, text):
    code, out, err = _run(capsys, "--model", text, "--T", "3", "--n-h", "2")
    assert code == 0, out + err
    assert "all agree" in out
    model = parse_model(text)
    rows = _rows(out)
    assert [r[0] for r in rows] == [f"∇_{n}" for n in model.gradient_names()]
    for row in rows:
        assert row[1] == "yes"
        assert float(row[2]) < 1e-9 and float(row[3]) < 1e-7  # vs rnn_num, vs FD
    assert "[verify]" in err and "textbook recursion" in err


@pytest.mark.parametrize(
    "text", ["activation=sigmoid,biases=torch", "activation=relu,head=mse", "head=given"]
)
def test_elman_variants_agree(capsys, text):
    code, out, err = _run(capsys, "--model", text, "--T", "2", "--n-h", "2")
    assert code == 0, out + err
    rows = _rows(out)
    assert [r[0] for r in rows] == [f"∇_{n}" for n in parse_model(text).gradient_names()]
    assert all(r[1] == "yes" for r in rows)


def test_canonical_model_keeps_the_canonical_table(capsys):
    code, out, _ = _run(capsys, "--model", "cell=rnn,activation=tanh", "--T", "2", "--n-h", "2")
    assert code == 0
    assert "ΣΠ form" in out and "expanded" in out  # the canonical machinery, unchanged
    assert [r[0] for r in _rows(out)] == ["∇_U", "∇_W", "∇_V", "∇_b", "∇_c", "∇_h0"]


def test_only_takes_the_models_names(capsys):
    code, out, _ = _run(capsys, "--model", "activation=identity,biases=torch", "--only", "b_hh,h0")
    assert code == 0
    assert [r[0] for r in _rows(out)] == ["∇_b_hh", "∇_h0"]
    code, _, err = _run(capsys, "--model", "cell=gru", "--only", "U")
    assert code == 2 and "unknown parameter name(s) ['U']" in err and "U_r" in err


def test_failed_proof_exits_1(capsys, monkeypatch):
    real = cells_module.cell_textbook

    def without_forget_path(rm):
        tb = real(rm)
        local = dict(tb.local)
        g = rm.graph
        local[("c", 1)] = local[("c", 1)] - g.node("gate_f", 2).multiply_elementwise(
            rm.adjoints[("c", 2)]
        )
        return cells_module.CellTextbook(local, tb.grads)

    monkeypatch.setattr(cells_module, "cell_textbook", without_forget_path)
    code, out, err = _run(capsys, "--model", "cell=lstm", "--T", "2", "--n-h", "2")
    assert code == 1
    assert "FAILED" in err and "grad_c(1)" in err
    assert "Traceback" not in err and out == ""


def test_numeric_disagreement_exits_1(capsys, monkeypatch):
    real = rnn_num.loss_and_grads

    def off_by_a_bit(*args, **kwargs):
        loss, grads = real(*args, **kwargs)
        return loss, grads | {"W": grads["W"] * 1.001}

    monkeypatch.setattr(rnn_num, "loss_and_grads", off_by_a_bit)
    code, out, _ = _run(capsys, "--model", "activation=sigmoid", "--T", "2", "--n-h", "2")
    assert code == 1
    assert "DISAGREEMENT" in out
    assert [line for line in out.splitlines() if "disagrees" in line][0].startswith("∇_W")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "cell=lsmt"], "cell='lsmt' is not known; cell is one of: rnn, lstm, gru"),
        (["--model", "cell"], "is not key=value"),
        (["--model", "colour=red"], "unknown model key 'colour'"),
        (["--model", "cell=lstm,activation=relu"], "does not apply to cell=lstm"),
        (["--model", "task=step=5", "--T", "3"], "1 <= K <= 3"),
        (["--model", "task=step=2", "--many-to-one"], "--many-to-one conflicts"),
        (["--model", "head=given", "--many-to-one"], "head=given"),
        (["--model", "cell=gru", "--T", "40"], "above the limit 32"),
    ],
)
def test_bad_model_exits_2_with_one_line(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and out == ""
