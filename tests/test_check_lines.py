"""Every line of a derivation is checked: a chain ∇_W L = A = B = C, an aligned environment,
one equation per line. Line 1 against the reference, each later line against the line before
it, so a mistake carried forward is reported once, where it was made."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from rnn_check import Status, check_formula

GRAD_O = r"\sum_t \nabla_{o_t} L"
RIGHT_C = r"\sum_t (\hat y_t - y_t)"
WRONG_C = r"\sum_t (y_t - \hat y_t)"
RECURSION = r"V^\top \nabla_{o_t} L + W^\top \mathrm{diag}(1 - h_{t+1}^2) \nabla_{h_{t+1}} L"
RECURSION_W = r"V^\top \nabla_{o_t} L + W \mathrm{diag}(1 - h_{t+1}^2) \nabla_{h_{t+1}} L"

# Three student derivations whose last line is right and whose middle line is not: before
# this, each was judged CORRECT on its last line alone.
WRONG_MIDDLE = {
    "a sign": (rf"\nabla_c L = {GRAD_O} = {WRONG_C} = {RIGHT_C}", 2, Status.WRONG),
    "a transpose missing, shapes do not conform": (
        r"\nabla_V L = \sum_t \nabla_{o_t} L\, h_t = \sum_t (\hat y_t - y_t) h_t^\top",
        1,
        Status.ILL_FORMED,
    ),
    "W for W^T": (
        rf"\nabla_{{h_t}} L = {RECURSION_W} = {RECURSION}",
        1,
        Status.WRONG,
    ),
}


@pytest.mark.parametrize("name", sorted(WRONG_MIDDLE))
def test_a_wrong_middle_line_is_reported_as_that_line(name):
    text, line, status = WRONG_MIDDLE[name]
    verdict = check_formula(text)
    assert verdict.status is status, verdict.summary
    assert verdict.extra["first_broken_line"] == line
    count = verdict.extra["lines"][-1]["line"]
    assert re.match(rf"{status.value}: line {line} of {count}[ :]", verdict.summary)
    # the line's LaTeX is said once, in its row of the detail, not again in the summary
    latex = verdict.extra["lines"][line - 1]["latex"]
    assert latex not in verdict.summary
    assert f"✗ line {line} of {count}: {latex}" in verdict.detail
    assert verdict.exit_code != 0
    # the last line, right on its own, is listed as matching the reference
    last = verdict.extra["lines"][-1]
    assert last["status"] == "ill-formed" or last["matches_reference"] is True


def test_the_diagnosis_is_that_of_the_broken_line():
    verdict = check_formula(WRONG_MIDDLE["W for W^T"][0])
    assert verdict.diagnosis, verdict.summary
    assert any("transpose" in d or "W" in d for d in verdict.diagnosis), verdict.diagnosis
    shapes = check_formula(WRONG_MIDDLE["a transpose missing, shapes do not conform"][0])
    assert "transpose missing" in shapes.summary


def test_a_mistake_carried_forward_is_reported_once_at_its_origin():
    verdict = check_formula(rf"\nabla_c L = {WRONG_C} = -{RIGHT_C} = -\sum_t \hat y_t + \sum_t y_t")
    assert verdict.status is Status.WRONG
    rows = verdict.extra["lines"]
    assert [r["status"] for r in rows] == ["wrong", "holds", "holds"]
    assert [r["against"] for r in rows] == ["the reference", "line 1", "line 2"]
    assert verdict.extra["first_broken_line"] == 1
    assert verdict.detail.count("✗") == 1


def test_every_line_holding_is_correct_and_says_so():
    verdict = check_formula(rf"\nabla_c L = {GRAD_O} = {RIGHT_C}")
    assert verdict.status is Status.CORRECT
    assert verdict.summary.endswith("all 2 lines hold")
    assert [r["status"] for r in verdict.extra["lines"]] == ["holds", "holds"]


def test_a_wrong_last_line_after_right_ones_keeps_the_answers_diagnosis():
    verdict = check_formula(rf"\nabla_c L = {GRAD_O} = {WRONG_C}")
    assert verdict.status is Status.WRONG
    assert verdict.extra["first_broken_line"] == 2
    assert "line 2 of 2" in verdict.summary and "differs from the reference" in verdict.summary


@pytest.mark.parametrize(
    "text",
    [
        # align with \nonumber and \label, a trailing \\ before \end
        "\\begin{align} \\nabla_c L &= "
        + GRAD_O
        + " \\nonumber \\\\ &= "
        + WRONG_C
        + " \\label{eq:c} \\\\ \\end{align}",
        "\\begin{aligned} \\nabla_c L &= " + GRAD_O + " \\\\ &= " + WRONG_C + " \\tag{3}"
        " \\end{aligned}",
        # one equation per line, as from a file or stdin
        "\\nabla_c L = " + GRAD_O + "\n= " + WRONG_C + "\n",
    ],
    ids=["align-nonumber-label-trailing", "aligned-tag", "one-per-line"],
)
def test_environments_and_one_equation_per_line(text):
    verdict = check_formula(text)
    assert verdict.status is Status.WRONG, verdict.summary
    assert [r["line"] for r in verdict.extra["lines"]] == [1, 2]
    assert verdict.extra["first_broken_line"] == 2


def test_a_right_side_that_restates_the_derivative_is_not_a_line():
    verdict = check_formula(rf"\nabla_c L = \frac{{\partial L}}{{\partial c}} = {RIGHT_C}")
    assert verdict.status is Status.CORRECT
    assert "lines" not in verdict.extra  # one right side: nothing to chain


def test_the_cli_exits_1_prints_every_line_and_lists_them_in_json():
    text = WRONG_MIDDLE["a sign"][0]
    run = subprocess.run(
        [sys.executable, "-m", "rnn_derive", "check", text],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert run.returncode == 1, run.stderr
    assert "✗ line 2 of 3" in run.stdout and "✓ line 1 of 3" in run.stdout
    run = subprocess.run(
        [sys.executable, "-m", "rnn_derive", "check", "--json", text],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    data = json.loads(run.stdout)
    assert data["extra"]["lines_counted_from"] == 1
    assert [r["status"] for r in data["extra"]["lines"]] == ["holds", "wrong", "wrong"]


def test_the_example_in_the_dialect_page_runs_as_shown():
    import pathlib
    import re
    import shlex

    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "dialect.md").read_text()
    block = page.split("<!-- example: lines -->", 1)[1].split("```console\n", 1)[1]
    block = block.split("```", 1)[0]
    command, *shown = block.splitlines()
    argv = shlex.split(command.removeprefix("$ "))
    assert argv[:2] == ["rnn-derive", "check"]
    run = subprocess.run(
        [sys.executable, "-m", "rnn_derive", *argv[1:]],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert run.returncode == 1
    printed = run.stdout.splitlines()
    # the per-line table exactly; the summary up to the elided numbers
    assert [line for line in printed if line.startswith("  ")] == shown[1:]
    head, tail = shown[0].split("(…)")
    assert printed[0].startswith(head) and printed[0].endswith(tail)
    assert re.search(r"largest relative error [0-9.]+\)", printed[0])


# --------------------------------------------------------------------------- no traceback


@pytest.mark.parametrize(
    "text",
    [
        r"\nabla_{a^{\langle t \rangle}} L = \mathrm{diag}(1-h_t^2) \nabla_{h_t} L",
        r"\frac{\partial L}{\partial a^{\langle t \rangle}} = \mathrm{diag}(1-h_t^2) \nabla_{h_t} L",
        r"\frac{\partial L}{\partial a^{<t>}} = \mathrm{diag}(1-h_t^2) \nabla_{h_t} L",
    ],
)
def test_deeplearning_ai_angle_brackets_in_every_form(text):
    # \langle t \rangle raised IndexError in _split_time_sup (the <t> form did not)
    verdict = check_formula(text)
    assert verdict.status is Status.CORRECT, verdict.summary


def test_a_bug_of_ours_is_an_ill_formed_verdict_not_a_traceback(monkeypatch):
    from rnn_check import _formula, _parser, parse_formula

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(_parser._Builder, "program", broken)
    with pytest.raises(_parser.ParseError, match="KeyError.*bug in rnn-derivations"):
        parse_formula(RIGHT_C)
    monkeypatch.undo()
    monkeypatch.setattr(_formula, "_judge", broken)
    verdict = check_formula(rf"\nabla_c L = {RIGHT_C}")
    assert verdict.status is Status.ILL_FORMED
    assert verdict.extra["error"] == "internal" and "bug in rnn-derivations" in verdict.detail


# --------------------------------------------------------------------------- no silent misreads


@pytest.mark.parametrize(
    "text, status",
    [
        # Goodfellow 10.19: τ is the length, the formula holds at the last step only
        (r"\nabla_{h^{(\tau)}} L = V^\top \nabla_{o^{(\tau)}} L", Status.CORRECT),
        (r"\nabla_c L = \sum_{t=1}^{\tau} (\hat y_t - y_t)", Status.CORRECT),
        # a τ that a sum binds is still an index
        (r"\nabla_c L = \sum_{\tau=1}^{T} (\hat y_\tau - y_\tau)", Status.CORRECT),
        # and the last step's formula is still wrong at a generic step
        (r"\nabla_{h_t} L = V^\top \nabla_{o_t} L", Status.WRONG),
    ],
)
def test_tau_is_the_sequence_length_unless_bound(text, status):
    verdict = check_formula(text)
    assert verdict.status is status, verdict.summary


def test_the_last_steps_gradient_says_at_which_step():
    verdict = check_formula(r"\nabla_{h_\tau} L = V^\top \nabla_{o_\tau} L")
    assert "∇_{h_t} L at t = T matches" in verdict.summary


def test_the_indicator_with_two_subscripts_is_not_the_ones_vector():
    right = check_formula(r"(\nabla_{o_t} L)_i = \hat y_{t,i} - \mathbf{1}_{i, y_t}")
    assert right.status is Status.CORRECT, right.summary
    wrong = check_formula(r"(\nabla_{o_t} L)_i = \mathbf{1}_{i, y_t} - \hat y_{t,i}")
    assert wrong.status is Status.WRONG


def test_the_adjoint_bar_is_the_gradient_not_the_forward_value():
    assert check_formula(r"\nabla_W L = \sum_t \bar a_t h_{t-1}^\top").status is Status.CORRECT
    assert check_formula(r"\nabla_W L = \sum_t \bar a_t h_t^\top").status is Status.WRONG
    verdict = check_formula(r"\nabla_{a_t} L = \mathrm{diag}(1 - h_t^2)\, \overline{h}_t")
    assert verdict.status is Status.CORRECT, verdict.summary
    refused = check_formula(r"\nabla_{h_t} L = \bar h_t^\top")
    assert refused.status is Status.ILL_FORMED
    assert "a bar marks an adjoint" in refused.detail
