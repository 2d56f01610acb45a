"""Users' letters and sources: notation presets (a source's preset implies its model, --model
overrides it) and --letters maps; an unknown letter suggests both, never a silent reading."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnn_check import Status, check_formula
from rnn_check._notation import NOTATIONS, get_notation, with_letters
from rnn_derive.check import _NOTATIONS
from rnn_spec import parse_model


def test_the_cli_offers_every_notation():
    assert set(_NOTATIONS) == set(NOTATIONS)


@pytest.mark.parametrize(
    "notation, text",
    [
        ("goodfellow", r"\nabla_V L = \sum_t (\hat y_t - y_t) h_t^\top"),
        ("wildml", r"\frac{\partial E}{\partial V} = \sum_t (\hat y_t - y_t) s_t^\top"),
        ("karpathy", r"\nabla_{W_{hy}} L = \sum_t (p_t - y_t) h_t^\top"),
        (
            "cs231n",
            r"\nabla_{W_h} L = \sum_t \mathrm{diag}(1 - h_t^2) \nabla_{h_t} L\, h_{t-1}^\top",
        ),
        (
            "deeplearning-ai",
            r"\frac{\partial L}{\partial W_{aa}} = \sum_t \mathrm{diag}(1 - (a^{\langle t \rangle})^2)"
            r" \frac{\partial L}{\partial a^{\langle t \rangle}} (a^{\langle t-1 \rangle})^\top",
        ),
    ],
)
def test_each_preset_reads_its_sources_letters(notation, text):
    verdict = check_formula(text, notation=notation)
    assert verdict.status is Status.CORRECT, (verdict.summary, verdict.detail)


def test_a_preset_implies_its_sources_model_and_model_overrides_it():
    text = r"\frac{\partial E}{\partial V} = \sum_t (\hat y_t - y_t) s_t^\top"
    implied = check_formula(text, notation="wildml")
    assert implied.extra["model"] == str(parse_model("biases=none"))
    overridden = check_formula(text, notation="wildml", model="canonical")
    assert overridden.extra["model"] == str(parse_model("canonical"))
    # d2l's own formula (9.7.13: the 1/T and the generic loss l) is right in d2l's model
    # without saying --model, and wrong in the canonical one
    d2l = r"\frac{\partial L}{\partial o_t} = \frac{\partial l(o_t, y_t)}{T \cdot \partial o_t}"
    implied = check_formula(d2l, notation="d2l")
    assert implied.status is Status.CORRECT, implied.summary
    assert implied.extra["model"] == str(parse_model(NOTATIONS["d2l"].implied_model))
    assert check_formula(d2l, notation="d2l", model="canonical").status is not Status.CORRECT


def test_letters_map_yours_onto_the_notations():
    text = r"\nabla_{W_{qh}} E = \sum_t \nabla_{z_t} E\, s_t^\top"
    assert check_formula(text).status is Status.ILL_FORMED  # z, s, E, W_qh unknown… or misread
    verdict = check_formula(text, letters="E=L, s=h, z=o, W_qh=V")
    assert verdict.status is Status.CORRECT, verdict.summary
    # meanings come from the notation itself, so a swap works
    swapped = with_letters(get_notation("canonical"), "W=U,U=W")
    assert (swapped.params["W"], swapped.params["U"]) == ("U", "W")
    swap_text = r"\nabla_U L = \sum_t \mathrm{diag}(1 - h_t^2) \nabla_{h_t} L\, h_{t-1}^\top"
    assert check_formula(swap_text, letters="W=U,U=W").status is Status.CORRECT
    assert check_formula(swap_text).status is not Status.CORRECT


@pytest.mark.parametrize(
    "letters, message",
    [
        ("E=Q", "'Q' (the right side of 'E=Q') is not a letter of the notation canonical"),
        ("E", "'E' is not of the form yours=ours"),
        ("=L", "has an empty side"),
    ],
)
def test_a_bad_letters_map_is_the_callers_error(letters, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_formula(r"\nabla_c L = \sum_t (\hat y_t - y_t)", letters=letters)
    run = subprocess.run(
        [sys.executable, "-m", "rnn_derive", "check", "--letters", letters, "x"],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert message.split("(")[0].strip("' ") in run.stderr


def test_an_unknown_letter_suggests_the_map_and_the_presets():
    verdict = check_formula(r"\nabla_V L = \sum_t (\hat y_t - y_t) \psi_t^\top")
    assert verdict.status is Status.ILL_FORMED
    assert "--letters '\\psi=…'" in verdict.detail and "wildml" in verdict.detail


def test_every_source_example_of_the_dialect_page_gives_its_verdict():
    import pathlib
    import shlex

    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "dialect.md").read_text()
    table = page.split("<!-- examples: sources -->", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `rnn-derive")]
    presets = {"wildml", "goodfellow", "d2l", "deeplearning-ai", "karpathy", "cs231n"}
    shown = set()
    for row in rows:
        command, verdict = (cell.strip() for cell in row.strip("|").rsplit("|", 1))
        argv = shlex.split(command.strip("`"))
        shown |= {argv[i + 1] for i, a in enumerate(argv) if a == "--notation"}
        run = subprocess.run(
            [sys.executable, "-m", "rnn_derive", *argv[1:]],
            capture_output=True,
            text=True,
            encoding="utf-8",
        )
        assert run.stdout.startswith(verdict + ":"), (command, run.stdout, run.stderr)
    assert presets <= shown, f"presets without an example: {presets - shown}"
    assert any("--letters" in row for row in rows)


@pytest.mark.parametrize(
    "notation, wrt, text, title",
    [
        ("002", "W_ya", r"\sum_t (\hat y_t - y_t) a_t^\top", "∇_{W_{ya}} L"),
        (
            "wildml",
            None,
            r"\frac{\partial E}{\partial V} = \sum_t (\hat y_t - y_t) s_t^\top",
            "∇_V E",
        ),
        ("wildml", "h_t", r"V^\top (\hat y_t - y_t)", "∇_{s_t} E"),
        ("canonical", "V", r"\sum_t (\hat y_t - y_t) h_t^\top", "∇_V L"),
    ],
)
def test_the_verdict_names_the_gradient_in_the_users_letters(notation, wrt, text, title):
    verdict = check_formula(text, wrt, notation=notation)
    assert verdict.summary.split(": ", 1)[1].startswith(title + " "), verdict.summary


def test_rnn_derive_says_its_version():
    import tomllib
    from pathlib import Path

    declared = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    run = subprocess.run(
        [sys.executable, "-m", "rnn_derive", "--version"], capture_output=True, text=True
    )
    assert run.returncode == 0
    assert run.stdout.strip() == f"rnn-derive {declared['project']['version']}"
