"""`rnn-derive model`: what a --model means, read from rnn_spec (equations, blocks, shapes)."""

import json
import pathlib
import re

import pytest

from rnn_derive.cli import main


def _describe(capsys, *argv):
    assert main(["model", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_canonical_model_equations_and_blocks(capsys):
    info = _describe(capsys)
    assert info["short"] == "canonical"
    assert info["equations"][:3] == [
        "a_t = U x_t + W h_{t-1} + b",
        "h_t = tanh(a_t)",
        "o_t = V h_t + c",
    ]
    assert [(b["name"], b["shape"]) for b in info["blocks"]] == [
        ("U", [3, 2]), ("W", [3, 3]), ("V", [2, 3]), ("b", [3]), ("c", [2]),
    ]  # fmt: skip


def test_lstm_with_torch_biases(capsys):
    info = _describe(capsys, "--model", "cell=lstm,biases=torch", "--n-h", "4")
    assert "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t" in info["equations"]
    assert "f_t = σ(U_f x_t + W_f h_{t-1} + b_if + b_hf)" in info["equations"]
    # the output gate keeps o_t; the logits are written s_t
    assert "s_t = V h_t + c" in info["equations"]
    assert {b["name"]: b["shape"] for b in info["blocks"]}["W_g"] == [4, 4]
    assert info["gradients"][-2:] == ["h0", "c0"]


def test_gru_puts_b_hn_inside_the_reset_gate(capsys):
    info = _describe(capsys, "--model", "cell=gru,biases=torch,head=given")
    assert "n_t = tanh(U_n x_t + b_in + r_t ⊙ (W_n h_{t-1} + b_hn))" in info["equations"]
    assert info["equations"][-1].startswith("no output layer")
    assert not {"V", "c"} & {b["name"] for b in info["blocks"]}


@pytest.mark.parametrize(
    ("model", "line"),
    [
        ("head=mse,mse_scale=one", "ℓ_t = ‖o_t - y_t‖²      (∇_{o_t} ℓ_t = 2(o_t - y_t))"),
        ("task=step=2,reduction=mean-batch", "L = (1/B) ℓ_2   (summed over the batch)"),
        ("activation=identity,biases=none", "a_t = U x_t + W h_{t-1}"),
    ],
)
def test_options_show_in_the_equations(capsys, model, line):
    assert line in _describe(capsys, "--model", model)["equations"]


def test_bad_model_is_one_line_and_exit_2(capsys):
    assert main(["model", "--model", "cell=lstm,activation=relu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: activation='relu' does not apply to cell=lstm")
    assert len(err.strip().splitlines()) == 1


def test_text_output_lists_blocks(capsys):
    assert main(["model", "--model", "cell=gru"]) == 0
    out = capsys.readouterr().out
    assert "U_r    (3, 2)     input" in out and "gradients: U_r, U_z" in out


def _doc(name: str) -> str:
    return (pathlib.Path(__file__).parents[1] / name).read_text("utf-8")


@pytest.mark.parametrize("page", ["README.md", "docs/models.md"])
def test_the_d2l_check_example_of_the_page_is_correct(capsys, page):
    # the page shows `rnn-derive check --model <d2l> \ --wrt V "<formula>"`
    found = re.search(r'rnn-derive check --model (\S+) \\\n\s+--wrt V "([^"]+)"', _doc(page))
    assert found, f"{page} lost its d2l example"
    assert main(["check", "--model", found[1], "--wrt", "V", found[2]]) == 0
    assert capsys.readouterr().out.startswith("CORRECT")


def test_the_error_example_of_the_models_page_is_what_verify_prints(capsys):
    found = re.search(
        r"\$ (rnn-derive verify --model \S+)\n(error: .*?)\n```", _doc("docs/models.md"), re.S
    )
    assert found
    assert main(found[1].split()[1:]) == 2
    assert capsys.readouterr().err.strip() == " ".join(found[2].split())
