"""One voice in every message of `rnn-derive check` (issue 12, item 6): the user's letters
everywhere, entries counted from 1 in the text and the JSON alike (code checks: NumPy indices
from 0, said so), `--show-case`, `--color`, and no fact printed twice."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import rnn_check
from rnn_check import Status, check_formula
from rnn_derive.check import _wants_color
from rnn_derive.cli import main

# -- the user's letters in every message ---------------------------------------------------

# Wrong and ill-formed formulas written in each notation's letters only; each message about
# them must use those letters too.
CORPUS_002 = [
    ("W_ya", r"\sum_t (\hat y_t - y_t) a_t"),
    ("W_ya", r"\sum_t (y_t - \hat y_t) a_t^\top"),
    ("W_aa", r"\sum_t \mathrm{diag}(1 - a_t^2) \nabla_{a_t} L\, a_{t}^\top"),
    ("W_aa", r"\sum_t \mathrm{diag}(1 - a_t^2) \nabla_{a_t} L\, x_{t}^\top"),
    ("W_ax", r"\sum_t \mathrm{diag}(1 - a_t^2) \nabla_{a_t} L\, a_{t-1}^\top"),
    ("a_t", r"W_{aa} \mathrm{diag}(1-a_{t+1}^2) \nabla_{a_{t+1}} L + W_{ya}^\top (\hat y_t - y_t)"),
    ("a_t", r"W_{ya} (\hat y_t - y_t)"),
    ("b_a", r"\sum_t (1 - a_t^2) \nabla_{a_t} L"),
    ("b_y", r"\sum_t (y_t - \hat y_t)"),
    ("h0", r"W_{aa} \nabla_{a_1} L"),
    ("W_ya", r"\sum_t (\hat y_t - y_t) a_{t,i}"),
    ("W_ya", r"(\hat y_t - y_t) a_t^\top"),
    ("W_ya", r"\sum_t (\hat y_{t} - y_{t}) a_{T+2}^\top"),
    ("", r"x_t"),
    ("Q", r"x_t"),
    (
        None,
        r"\nabla_{W_{ya}} L = \sum_t (\hat y_t - y_t) a_t^\top = \sum_t (y_t - \hat y_t) a_t^\top",
    ),
    (None, r"\nabla_{W_{ya}} L = \sum_t (\hat y_t - y_t) a_t = \sum_t (\hat y_t - y_t) a_t^\top"),
    (None, r"\frac{\partial L_3}{\partial W_{ya}} = (\hat y_3 - y_3) a_3^\top"),
    ("identity", r"\frac{\partial a_{t+1}}{\partial a_t} = \mathrm{diag}(1-a_{t+1}^2) W_{aa}^\top"),
]
CORPUS_WILDML = [
    (None, r"\frac{\partial E}{\partial V} = \sum_t (y_t - \hat y_t) s_t^\top"),
    (None, r"\frac{\partial E}{\partial V} = \sum_t (\hat y_t - y_t) s_t"),
    ("h_t", r"W \mathrm{diag}(1-s_{t+1}^2) \nabla_{s_{t+1}} E + V^\top (\hat y_t - y_t)"),
    ("W", r"\sum_t \mathrm{diag}(1 - s_t^2) \nabla_{s_t} E\, x_{t}^\top"),
    ("W", r"\sum_t \mathrm{diag}(1 - s_t^2) \nabla_{s_t} E\, s_{t}^\top"),
    ("U", r"\sum_t \nabla_{s_t} E\, x_{t}^\top"),
    ("o_t", r"y_t - \hat y_t"),
    ("h0", r"W \nabla_{s_1} E"),
    ("W", r"\sum_t \mathrm{diag}(1 - s_t^2) \nabla_{s_t} E\, s_{t+5}^\top"),
    (None, r"\frac{\partial E_3}{\partial V} = (\hat y_3 - y_3) s_3^\top"),
    (None, r"\nabla_V E = \sum_t (\hat y_t - y_t) s_t^\top = \sum_t (\hat y_t - y_t) s_{t-1}^\top"),
    ("", r"x_t"),
]
CORPUS_LETTERS = [  # canonical notation, --letters E=L,s=h,z=o,W_{qh}=V
    ("W_qh", r"\sum_t (y_t - \hat y_t) s_t^\top"),
    ("W_qh", r"\sum_t (\hat y_t - y_t) s_t"),
    ("h_t", r"W \mathrm{diag}(1-s_{t+1}^2) \nabla_{s_{t+1}} E + W_{qh}^\top (\hat y_t - y_t)"),
    ("h0", r"W \nabla_{s_1} E"),
    ("W", r"\sum_t \mathrm{diag}(1 - s_t^2) \nabla_{s_t} E\, x_{t}^\top"),
    ("o_t", r"y_t - \hat y_t"),
    (None, r"\frac{\partial E_3}{\partial W_{qh}} = (\hat y_3 - y_3) s_3^\top"),
]
CORPUS_OTHERS = {  # matrices with subscripts: never a bare U, V or W
    "cs231n": [
        ("W_h", r"\sum_t \mathrm{diag}(1 - h_t^2) \nabla_{h_t} L\, h_t^\top"),
        ("W_h", r"\sum_t \mathrm{diag}(1 - h_t^2) \nabla_{h_t} L\, x_t^\top"),
        ("h_t", r"W_h \mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}} L + W_y^\top (\hat y_t - y_t)"),
        ("W_y", r"\sum_t (\hat y_t - y_t) h_t"),
        ("", "x_t"),
    ],
    "d2l": [
        ("W_hh", r"\sum_t \nabla_{h_t} L\, h_{t}^\top"),
        ("W_hh", r"\sum_t \nabla_{h_t} L\, x_{t}^\top"),
        ("h_t", r"W_{hh} \nabla_{h_{t+1}} L + W_{qh}^\top \nabla_{o_t} L"),
        ("W_qh", r"\sum_t \nabla_{o_t} L\, h_t"),
        ("", "x_t"),
    ],
    "004": [  # y_t the logits, p_t the probabilities, c_t the class
        ("w_hy", r"\sum_t (c_t - p_t) h_t^\top"),
        ("h_t", r"w_{hh} \mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}} L + w_{hy}^\top (p_t - c_t)"),
        ("w_hy", r"\sum_t (p_t - c_t) h_t"),
        ("y_t", r"c_t - p_t"),
        ("", "x_t"),
    ],
}
LETTERS = "E=L,s=h,z=o,W_{qh}=V"


# A canonical letter in a maths position: alone (not a subscript, not inside a word or a
# command), or after ∇_. n_h, tanh, \hat and W_{aa} do not count.
def _alone(letters: str) -> str:
    return r"(?<![A-Za-z\\_{])" + letters + r"(?![A-Za-z_{])"


CANONICAL_ONLY = {
    "002": [_alone("[UVW]"), r"∇_[UVWbc]\b", _alone("h"), _alone("[bc]")],
    "wildml": [_alone("h"), r"\bL_|\} L\b|∇_\S+ L\b", r"\bo_"],
    "letters": [_alone("[hV]"), r"\bL_|\} L\b|∇_\S+ L\b", r"\bo_"],
    "cs231n": [_alone("[UVW]"), r"∇_[UVW]\b"],
    "d2l": [_alone("[UVW]"), r"∇_[UVWbc]\b"],
    "004": [_alone("[UVW]"), r"∇_[UVW]\b", r"\bo_|ŷ|∇_\{o"],
}


def _said(text: str) -> str:
    # the list of every letter the notation accepts rightly includes the canonical aliases
    return re.sub(r"Known symbols: .*?; index letters", "Known symbols: …", text)


def _cli(*argv: str, env: dict | None = None) -> tuple[int, str]:
    run = subprocess.run(
        [sys.executable, "-m", "rnn_derive", "check", *argv],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run.returncode, run.stdout


@pytest.mark.parametrize(
    "key, notation, letters, corpus",
    [
        ("002", "002", None, CORPUS_002),
        ("002", "deeplearning-ai", None, CORPUS_002),
        ("wildml", "wildml", None, CORPUS_WILDML),
        ("letters", "canonical", LETTERS, CORPUS_LETTERS),
        *((key, key, None, corpus) for key, corpus in CORPUS_OTHERS.items()),
    ],
)
def test_no_message_prints_a_canonical_letter_the_user_did_not_write(
    key, notation, letters, corpus, capsys
):
    statuses = set()
    for wrt, text in corpus:
        verdict = check_formula(text, wrt, notation=notation, letters=letters)
        statuses.add(verdict.status)
        said = [verdict.summary, verdict.detail, *verdict.diagnosis]
        said += [row.get("reason", "") for row in verdict.extra.get("lines", [])]
        argv = ["check", "--notation", notation, "--show-case", text]
        argv += [] if wrt is None else ["--wrt", wrt]
        argv += [] if letters is None else ["--letters", letters]
        main(argv)
        out = capsys.readouterr()
        said += [out.out, out.err]
        for message in said:
            for pattern in CANONICAL_ONLY[key]:
                found = re.search(pattern, _said(message))
                assert found is None, (wrt, text, found, message)
    assert {Status.WRONG, Status.ILL_FORMED} <= statuses  # the corpus reaches both


def test_swapped_letters_stay_swapped():
    # seed 001 calls the recurrent matrix U and the input matrix W: the diagnosis of a
    # missing transpose on the recurrent matrix names U, and ∇_U L (its input gradient) W
    text = r"U \mathrm{diag}(1-s_{t+1}^2) \nabla_{s_{t+1}} J + V^\top \nabla_{\hat y_t} J"
    verdict = check_formula(text, "h_t", notation="001")
    assert verdict.diagnosis == ("U where Uᵀ belongs",), verdict.summary
    assert verdict.summary.startswith("WRONG: ∇_{s_t} J ")
    other = check_formula(
        r"\sum_t \mathrm{diag}(1-s_t^2) \nabla_{s_t} J\, s_{t-1}^\top", "W", "001"
    )
    assert "the gradient of another block: ∇_U J" in other.diagnosis, other.summary


# -- entries counted from 1, and said so -----------------------------------------------------


def _truth(verdict, block: str, model=None):
    from rnn_check._evaluate import build_context

    ce = verdict.counterexample
    ctx = build_context(ce.T, ce.n_x, ce.n_h, ce.n_y, ce.seed, model=model)
    return ctx.grads[block] if block in ctx.grads else ctx.adjoint[block[0]]


@pytest.mark.parametrize(
    "wrt, text, said",
    [
        ("V", r"\sum_t (y_t - \hat y_t) h_t^\top", r"entry \((\d+), (\d+)\) is"),
        ("c", r"\sum_t (y_t - \hat y_t)", r"entry (\d+) is"),
        ("h_t", r"V^\top (y_t - \hat y_t)", r"at t = (\d+), entry (\d+) is"),
    ],
)
def test_entries_are_counted_from_one_in_the_text_and_the_json(wrt, text, said):
    verdict = check_formula(text, wrt)
    data = json.loads(verdict.to_json())
    assert data["extra"]["index_base"] == 1
    index = tuple(data["counterexample"]["index"])
    # the text names the same entry as the JSON
    assert tuple(int(i) for i in re.search(said, verdict.summary).groups()) == index
    # and it is that entry, counted from 1, of the true gradient (rnn_num's)
    truth = np.asarray(_truth(verdict, wrt))
    if wrt == "h_t":
        truth = truth  # rows are the steps 0 … T+1: step t is row t, so only i shifts
        value = truth[index[0], index[1] - 1]
    else:
        value = truth.reshape(-1) if truth.ndim == 1 else truth
        value = value[tuple(i - 1 for i in index)]
    assert value == pytest.approx(data["counterexample"]["expected"], rel=1e-12)
    for error in data["errors"]:
        assert all(i >= 1 for i in error["index"])


def test_lines_are_counted_from_one_and_said_so():
    text = r"\nabla_c L = \sum_t \nabla_{o_t} L = \sum_t (y_t - \hat y_t) = \sum_t (\hat y_t - y_t)"
    data = json.loads(check_formula(text).to_json())["extra"]
    assert data["index_base"] == 1 and data["lines_counted_from"] == 1
    assert [row["line"] for row in data["lines"]] == [1, 2, 3]
    assert data["first_broken_line"] == 2


def test_code_verdicts_name_numpy_indices_from_zero_and_say_so():
    from rnn_num import loss_and_grads

    def wrong_c(params, x, y, h0=None):
        loss, grads = loss_and_grads(params, x, y, h0=h0)
        return loss, {**grads, "c": -grads["c"]}

    verdict = rnn_check.check_backward(wrong_c)
    assert verdict.status is Status.WRONG
    data = json.loads(verdict.to_json())
    assert data["extra"]["index_base"] == 0
    cx = verdict.counterexample
    text = rnn_check.format_verdict(verdict)
    assert f"{cx.block}{list(cx.index)} should be" in text
    assert "a NumPy index, counted from 0" in text
    # the index is a NumPy index of the true gradient: 0 is a valid first entry
    case = rnn_check.make_case(cx.T, cx.n_x, cx.n_h, cx.n_y, seed=cx.seed, batch=cx.batch)
    params, x, y, h0 = case[:4]
    _, true = loss_and_grads(params, x, y, h0=h0)
    assert true[cx.block][cx.index] == pytest.approx(cx.expected, rel=1e-12)


# -- --show-case ---------------------------------------------------------------------------


def test_show_case_prints_the_counterexamples_numbers_in_the_users_letters():
    from rnn_num import loss_and_grads

    argv = [
        "--notation",
        "002",
        "--wrt",
        "W_ya",
        "--show-case",
        r"\sum_t (y_t - \hat y_t) a_t^\top",
    ]
    code, out = _cli("--json", *argv)
    assert code == 1
    data = json.loads(out)
    inputs = data["case"]["inputs"]
    assert list(inputs) == sorted(inputs)  # sorted keys: deterministic JSON
    assert {"x_t", "a_0", "W_{ax}", "W_{aa}", "W_{ya}", "b_{a}", "b_{y}"} <= set(inputs)
    assert not {"U", "W", "V", "h0", "h_0"} & set(inputs)
    # independent check: rnn_num on the shown numbers gives the counterexample's true entry
    names = {"W_{ax}": "U", "W_{aa}": "W", "W_{ya}": "V", "b_{a}": "b", "b_{y}": "c"}
    params = {names[k]: np.asarray(v) for k, v in inputs.items() if k in names}
    classes = np.asarray(inputs["y_t (class, counted from 1)"]) - 1
    _, grads = loss_and_grads(
        params, np.asarray(inputs["x_t"]), classes, h0=np.asarray(inputs["a_0"])
    )
    ce = data["counterexample"]
    entry = tuple(i - 1 for i in ce["index"])
    assert grads["V"][entry] == pytest.approx(ce["expected"], rel=1e-9)
    # the text shows the same numbers to 4 significant digits, after the verdict
    code, text = _cli(*argv)
    assert code == 1 and text.startswith("WRONG:")
    shown = text.split("the counterexample's numbers", 1)[1]
    block = shown.split("W_{ya} = ", 1)[1].split("\n  b_{a}", 1)[0]
    numbers = [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e[-+]\d+)?", block)]
    expected = [float(f"{v:.4g}") for v in np.ravel(inputs["W_{ya}"])]
    assert numbers == expected


def test_show_case_without_a_counterexample_says_so():
    code, out = _cli("--json", "--show-case", "--wrt", "c", r"\sum_t (\hat y_t - y_t)")
    assert code == 0 and json.loads(out)["case"] is None


# -- colour ----------------------------------------------------------------------------------

LINES = r"\nabla_c L = \sum_t \nabla_{o_t} L = \sum_t (y_t - \hat y_t) = \sum_t (\hat y_t - y_t)"


def test_color_always_paints_the_verdict_and_the_marks_of_the_lines():
    code, out = _cli("--color", "always", LINES)
    assert code == 1
    assert out.startswith("\033[31mWRONG\033[0m: line 2 of 3")
    assert "  \033[32m✓\033[0m line 1 of 3" in out and "  \033[31m✗\033[0m line 2 of 3" in out
    _, ok = _cli("--color", "always", "--wrt", "c", r"\sum_t (\hat y_t - y_t)")
    assert ok.startswith("\033[32mCORRECT\033[0m")
    _, bad = _cli("--color", "always", "--wrt", "c", r"\sum_t (\hat y_t - y_t) h_t")
    assert bad.startswith("\033[33mILL-FORMED\033[0m")


def test_color_never_and_json_are_plain():
    for argv in (("--color", "never"), ("--color", "always", "--json")):
        _, out = _cli(*argv, LINES)
        assert "\033[" not in out
    _, out = _cli("--color", "always", "--json", LINES)
    json.loads(out)


def test_color_auto_follows_the_terminal_and_the_environment():
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    _, piped = _cli(LINES, env=env)
    assert "\033[" not in piped
    _, forced = _cli(LINES, env={**env, "FORCE_COLOR": "1"})
    assert forced.startswith("\033[31mWRONG")

    class Terminal:
        def isatty(self) -> bool:
            return True

    class Pipe:
        def isatty(self) -> bool:
            return False

    saved = {k: os.environ.pop(k) for k in ("NO_COLOR", "FORCE_COLOR") if k in os.environ}
    try:
        assert _wants_color("auto", Terminal()) is True
        assert _wants_color("auto", Pipe()) is False
        assert _wants_color("never", Terminal()) is False
        assert _wants_color("always", Pipe()) is True
        os.environ["NO_COLOR"] = "1"
        assert _wants_color("auto", Terminal()) is False
        os.environ["FORCE_COLOR"] = "1"
        assert _wants_color("auto", Pipe()) is True
    finally:
        os.environ.pop("NO_COLOR", None)
        os.environ.pop("FORCE_COLOR", None)
        os.environ.update(saved)


def test_color_auto_on_a_real_terminal():
    pty = pytest.importorskip("pty")  # POSIX only
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    leader, follower = pty.openpty()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "rnn_derive", "check", "--wrt", "c", r"\sum_t (\hat y_t - y_t)"],
            stdout=follower,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        os.close(follower)
        follower = None
        out = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal is closed: everything was read
                break
            if not chunk:
                break
            out += chunk
    finally:
        if follower is not None:
            os.close(follower)
        os.close(leader)
    assert run.returncode == 0
    assert out.startswith(b"\033[32mCORRECT\033[0m"), out[:80]


# -- no fact printed twice -------------------------------------------------------------------

REPRESENTATIVE = [
    ("--wrt", "W", r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L\,h_{t-1}^\top"),
    ("--wrt", "V", r"\sum_t (y_t - \hat y_t) h_t^T"),
    ("--wrt", "h_t", r"W \mathrm{diag}(1-h_{t+1}^2)\nabla_{h_{t+1}}L + V^T(\hat y_t - y_t)"),
    ("--wrt", "o_t", r"\hat y_t - \mathbf{1}"),
    ("--wrt", "c", r"\sum_{t=1}^{T} (y_t - \hat{y}_t) V^\top"),
    ("--wrt", "W", r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L\,x_t^T"),
    ("--wrt", "V", r"\sum_t (\hat y_t - y_t) h_t"),
    ("--wrt", "b", r"\sum_t (1-h_t^2) \nabla_{h_t}L"),
    ("--wrt", "V", r"\sum_t (\hat y_t - y_t) \psi_t^\top"),
    ("--wrt", "W", r"\sum_t \diag(h_t"),
    ("--wrt", "Q", r"x_t"),
    ("--notation", "002", r"\nabla_{W_{ya}} L = \sum_t (y_t - \hat y_t) a_t^\top"),
    ("--notation", "wildml", r"\frac{\partial E}{\partial V} = \sum_t (\hat y_t - y_t) s_t"),
    ("--color", "never", LINES),
    (
        "--color",
        "never",
        r"\nabla_V L = \sum_t \nabla_{o_t} L\, h_t = \sum_t (\hat y_t - y_t) h_t^\top",
    ),
    ("--show-case", "--wrt", "V", r"\sum_t (y_t - \hat y_t) h_t^T"),
]


def test_no_fact_is_printed_twice(capsys):
    for argv in REPRESENTATIVE:
        main(["check", *argv])
        out = capsys.readouterr().out
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == len(set(lines)), out
        first = lines[0]
        heading = first.partition(": ")[2]
        assert not any(line.startswith(heading) for line in lines[1:]), out
        # what the summary says is not said again below it
        facts = r"the reference[^(]*\(largest relative error [0-9.e+-]+\)|looks like: .*"
        for fact in re.findall(facts, first):
            assert out.count(fact) == 1, (fact, out)
        # a broken line's own error is the summary's when it is compared with the reference
        # or with a line that matches it
        if re.search(r"line \d+ of \d+ is the first line that does not hold", first):
            row = next(line for line in lines if line.startswith("  ✗"))
            if "differs from" in row:
                assert "largest relative error" not in row, out
        for value in re.findall(r"is (-?[0-9.e+-]+), should be (-?[0-9.e+-]+)", first):
            for number in value:
                said = re.findall(rf"(?<![\d.-]){re.escape(number)}(?!\d)", out)
                assert len(said) == 1, (number, out)
        # the LaTeX of a line is shown once, in its row
        for row in re.findall(r"line \d+ of \d+: (.*?)  —", out):
            assert out.count(row) == 1, (row, out)


def test_the_show_case_example_of_the_dialect_page_runs_as_shown():
    import pathlib
    import shlex

    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "dialect.md").read_text()
    block = page.split("<!-- example: show-case -->", 1)[1].split("```console\n", 1)[1]
    command, *shown = block.split("```", 1)[0].splitlines()
    argv = shlex.split(command.removeprefix("$ "))
    assert argv[:2] == ["rnn-derive", "check"] and "--show-case" in argv
    code, out = _cli(*argv[2:])
    assert code == 1
    assert out.splitlines() == shown


@pytest.mark.parametrize(
    "spec", ["canonical", "activation=relu", "cell=lstm", "cell=gru,biases=torch"]
)
def test_the_canonical_letters_speak_every_rule_unchanged(spec):
    # speaking the canonical notation is the identity, for the Elman rules and the gated ones,
    # whose o_t (a gate) and c_t (the cell state) are not the logits and the output bias
    from rnn_check._model_references import GATED_RULES, elman_rules
    from rnn_check._mutations import RULES
    from rnn_check._notation import for_model, get_notation, speak
    from rnn_spec import parse_model

    model = parse_model(spec)
    table = for_model(get_notation("canonical"), model)
    cell_rules = elman_rules(model) if model.cell == "rnn" else GATED_RULES
    names = {rule.name for rule in (*RULES, *cell_rules)}
    assert names
    for name in sorted(names):
        assert speak(name, table) == name
    if model.cell != "rnn":  # in 002's letters too: c is b_{y} and o the logits only in Elman
        seed_002 = for_model(get_notation("002"), model)
        for name in sorted(n for n in names if "c_" in n or "o_" in n):
            assert speak(name, seed_002) == name
