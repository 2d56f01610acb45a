"""Regression tests for what users ran into: bad options and misuse of the Python API.

Each test reproduces one journey that used to end in a raw traceback, a hang, a check that
could not fail, or files scattered in the wrong place, and asserts the clear error (naming
the problem and the fix) that replaced it.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import rnn_check
import rnn_num
import rnn_sym
from rnn_derive import build as build_cmd
from rnn_derive.cli import main

# --------------------------------------------------------------------------- rnn-derive build


@pytest.fixture
def no_verification(monkeypatch):
    """Fail if the build starts verifying: a bad --out must be refused before minutes of work."""

    def refuse():
        raise AssertionError("the build started verifying before checking its output paths")

    monkeypatch.setattr(build_cmd, "builders", refuse)


def test_build_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, no_verification):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    assert main(["build", "--out", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and str(a_file) in err and "not a directory" in err
    assert "Traceback" not in err
    assert a_file.read_text() == "mine\n"  # untouched


def test_build_out_below_a_file_is_refused(tmp_path, capsys, no_verification):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("")
    assert main(["build", "--out", str(a_file / "sub")]) == 2
    err = capsys.readouterr().err
    assert "cannot create this directory" in err and "write to" in err


def test_build_empty_out_does_not_write_into_the_current_directory(
    tmp_path, monkeypatch, capsys, no_verification
):
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--out", ""]) == 2
    assert "--out is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_build_docs_that_is_a_file_is_refused(tmp_path, capsys, no_verification):
    a_file = tmp_path / "page.md"
    a_file.write_text("")
    status = main(["build", "--out", str(tmp_path / "out"), "--docs", str(a_file)])
    assert status == 2
    assert "--docs" in capsys.readouterr().err


# --------------------------------------------------------------------------- any subcommand


def test_output_into_a_closed_pipe_is_quiet():
    # `rnn-derive bench | head -1` used to end in a BrokenPipeError traceback
    child = subprocess.Popen(
        [sys.executable, "-m", "rnn_derive", "verify", "--T", "1", "--n-x", "1", "--n-h", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdout.close()  # the reader leaves before anything is written
    err = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err


# --------------------------------------------------------------------------- rnn-derive bench


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "1e9", "abc"])
def test_bench_min_time_out_of_range_is_a_usage_error(value, capsys):
    # 1e9 and inf used to time forever; -1, 0 and nan were accepted silently
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--quick", "--no-torch", "--min-time", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--min-time" in err and value in err


@pytest.mark.parametrize("value", ["0", "-3", "51", "2.5", "many"])
def test_bench_rounds_out_of_range_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--quick", "--no-torch", "--rounds", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--rounds" in err and value in err


# --------------------------------------------------------------------------- rnn_num


@pytest.fixture(scope="module")
def small_problem():
    params = rnn_num.init_params(2, 3, 2, seed=0)
    x = np.random.default_rng(0).normal(size=(3, 2))
    y = np.array([0, 1, 1])
    return params, x, y


def test_init_params_rejects_a_seed_that_is_not_an_integer():
    with pytest.raises(TypeError, match="seed must be an integer >= 0; got 'a'"):
        rnn_num.init_params(2, 3, 2, seed="a")
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        rnn_num.init_params(2, 3, 2, seed=-1)


def test_init_params_too_large_names_the_sizes():
    # 1e20 entries: beyond the address space, refused by NumPy before any allocation
    with pytest.raises(ValueError, match=r"n_h=10000000000.*use smaller sizes"):
        rnn_num.init_params(2, 10**10, 2)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"mode": "random", "n_directions": 0}, ValueError, "n_directions must be an integer"),
        ({"mode": "random", "n_directions": "a"}, TypeError, "n_directions must be an integer"),
        ({"mode": "random", "seed": "a"}, TypeError, "seed must be an integer"),
        ({"tiny": -1.0}, ValueError, "tiny must be a positive finite number"),
        ({"tiny": "a"}, TypeError, "tiny must be a positive finite number"),
        ({"eps": "a"}, TypeError, "eps must be a positive finite number"),
        ({"blocks": 5}, TypeError, "blocks must be a sequence of block names"),
        ({"blocks": ()}, ValueError, "blocks is empty"),
    ],
)
def test_gradcheck_rejects_bad_options_with_a_clear_error(small_problem, options, error, message):
    params, x, y = small_problem
    with pytest.raises(error, match=message):
        rnn_num.gradcheck(params, x, y, **options)


def test_gradcheck_with_zero_directions_no_longer_passes_vacuously(small_problem):
    params, x, y = small_problem
    _, grads = rnn_num.loss_and_grads(params, x, y)
    wrong = {**grads, "W": -grads["W"]}
    with pytest.raises(ValueError, match="n_directions"):
        rnn_num.gradcheck(params, x, y, grads=wrong, mode="random", n_directions=0)
    # one direction suffices to catch it
    report = rnn_num.gradcheck(params, x, y, grads=wrong, mode="random", n_directions=1)
    assert not report.passed()


def test_gradcheck_blocks_given_as_one_name(small_problem):
    params, x, y = small_problem
    # "h0" used to be taken character by character: blocks ['h', '0'] unknown
    report = rnn_num.gradcheck(params, x, y, blocks="h0")
    assert list(report.blocks) == ["h0"]


@pytest.mark.parametrize(("rtol", "error"), [("a", TypeError), (-1.0, ValueError)])
def test_assert_gradients_close_rejects_a_bad_rtol(small_problem, rtol, error):
    params, x, y = small_problem
    with pytest.raises(error, match=r"rtol must be a real number in \(0, 1\)"):
        rnn_num.assert_gradients_close(params, x, y, rtol=rtol, blocks=("c",))


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"lr": "a"}, TypeError, "lr must be a positive finite number"),
        ({"clip": -1.0}, ValueError, "clip must be a positive finite number"),  # was "max_norm"
        ({"log_every": 0, "progress": True}, ValueError, "log_every must be an integer >= 1"),
        ({"on_step": 5}, TypeError, "on_step must be a function"),
    ],
)
def test_train_rejects_bad_options(small_problem, options, error, message):
    params, x, y = small_problem
    with pytest.raises(error, match=message):
        rnn_num.train(params, x, y, steps=2, **options)


@pytest.mark.parametrize("task", [rnn_num.alternating_task, rnn_num.period3_task])
@pytest.mark.parametrize(("T", "error"), [(0, ValueError), (-1, ValueError), ("8", TypeError)])
def test_toy_tasks_name_T_when_it_is_bad(task, T, error):
    # period3_task(-1) used to say "length ... got 0", alternating_task(0) spoke of "symbols"
    with pytest.raises(error, match=rf"T must be an integer >= 1; got {T!r}"):
        task(T)


def test_optimizers_name_missing_gradient_blocks(small_problem):
    params, _, _ = small_problem
    with pytest.raises(ValueError, match="grads is missing block"):
        rnn_num.sgd(params, {"W": params["W"]}, 0.1)
    with pytest.raises(TypeError, match="state must be an AdaGradState"):
        rnn_num.adagrad(params, dict(params), 0.1)  # lr passed where the state belongs


# --------------------------------------------------------------------------- rnn_check


def test_check_backward_blocks_not_a_sequence():
    with pytest.raises(TypeError, match="blocks must be a sequence of block names"):
        rnn_check.check_backward(rnn_num.loss_and_grads, blocks=5)


@pytest.mark.parametrize("seed", ["a", -1])
def test_make_case_and_battery_name_a_bad_seed(seed):
    # used to be "invalid literal for int()" / NumPy's "expected non-negative integer"
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        rnn_check.make_case(2, 2, 3, 2, seed=seed)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        rnn_check.default_battery(seed=seed)


def test_check_block_says_when_the_function_returned_none():
    verdict = rnn_check.check_block(lambda params, x, y, h0=None: None, "W")
    assert verdict.status == rnn_check.Status.ILL_FORMED
    assert "is None" in verdict.summary  # not "holds a non-finite value"


def test_format_verdict_takes_a_verdict():
    with pytest.raises(TypeError, match="format_verdict takes the Verdict"):
        rnn_check.format_verdict("CORRECT")


# --------------------------------------------------------------------------- rnn_sym


def test_model_symbols_step_must_be_an_integer():
    m = rnn_sym.model_symbols(2, 2, 3, 2)
    with pytest.raises(TypeError, match=r"h\(t\) takes a concrete step, an integer 0 <= t <= T"):
        m.h("t")
    assert m.h(np.int64(2)).shape == (3, 1)  # NumPy integers are steps too


def test_lambdify_matrix_refuses_text():
    with pytest.raises(TypeError, match="takes a SymPy expression"):
        rnn_sym.lambdify_matrix("W[0, 0] + 1", [])


def _pythagoras_start() -> rnn_sym.Derivation:
    x = sp.Symbol("x")
    return rnn_sym.Derivation(
        "trig", "Trig", lhs=sp.Symbol("f"), start=sp.sin(x) ** 2 + sp.cos(x) ** 2
    )


@pytest.mark.parametrize("expr", ["1", None])
def test_derivation_step_that_is_not_sympy_is_refused_when_added(expr):
    # used to surface at verify() as "unsupported operand type(s) for -: 'Add' and 'str'"
    with pytest.raises(rnn_sym.DerivationError, match=r"step 1 \(simplify\) must be a SymPy"):
        _pythagoras_start().step(expr, "simplify")


def test_derivation_start_text_is_refused():
    with pytest.raises(rnn_sym.DerivationError, match="start must be a SymPy expression"):
        rnn_sym.Derivation("s", "S", lhs=sp.Symbol("f"), start="sin(x)**2")


def test_derivation_step_needs_a_justification():
    with pytest.raises(rnn_sym.DerivationError, match="why must be a short justification"):
        _pythagoras_start().step(sp.Integer(1), "")


def test_derivation_shape_change_names_the_step():
    derivation = _pythagoras_start().step(sp.Matrix([[1]]), "as a matrix")
    with pytest.raises(rnn_sym.DerivationError, match=r"step 1 \(as a matrix\) has shape \(1, 1\)"):
        derivation.verify()
    # the same chain with a scalar still proves
    assert _pythagoras_start().step(sp.Integer(1), "Pythagoras").verify().steps


@pytest.mark.parametrize("targets", ["01", [0.7, 1], (True, False), 5])
def test_model_symbols_targets_must_be_integers(targets):
    # "01" used to be read as text and 0.7 truncated to class 0, silently
    with pytest.raises(rnn_sym.SizeLimitError, match="class indices in 0..1"):
        rnn_sym.model_symbols(2, 2, 3, 2, targets=targets)
    assert rnn_sym.model_symbols(2, 2, 3, 2, targets=np.array([1, 0])).targets == (1, 0)


def test_numeric_bptt_names_what_it_takes():
    with pytest.raises(TypeError, match=r"NumericBptt takes the graph rnn_sym.reverse_mode"):
        rnn_sym.NumericBptt(rnn_sym.model_symbols(1, 1, 1, 2))  # the symbols, not the graph


# ------------------------------------------------ QA pass 2: checker, errata evidence, rnn_sym


def test_a_long_flat_sum_is_checked_not_called_nested():
    # 201 terms (under 4000 characters) used to be "nested deeper than 200 levels"
    terms = " + ".join([r"\nabla_{o_t}L"] * 201)
    verdict = rnn_check.check_formula(rf"\sum_t ({terms}) / 201", "c")
    assert verdict.status is rnn_check.Status.CORRECT, verdict.detail
    too_many = rnn_check.check_formula(r"\sum_t (" + "+".join(["h_t"] * 400) + ")", "b")
    assert too_many.status is rnn_check.Status.ILL_FORMED
    assert "too many terms (400 in one sum or product; the limit is 300)" in too_many.detail
    # real nesting is still refused, with the nesting message
    deep = rnn_check.check_formula("-" * 250 + "W", "W")
    assert "nested deeper than 200 levels" in deep.detail


@pytest.mark.parametrize(
    "text",
    [
        r"$\sum_t (\hat y_t - y_t) h_t^\top$",
        r"$$\sum_t (\hat y_t - y_t) h_t^\top$$",
        r" \[ \sum_t (\hat y_t - y_t) h_t^\top \] ",
    ],
)
def test_math_delimiters_around_the_formula_are_ignored(text):
    verdict = rnn_check.check_formula(text, "V")
    assert verdict.status is rnn_check.Status.CORRECT, verdict.detail


def test_a_stray_dollar_says_to_leave_out_math_delimiters():
    verdict = rnn_check.check_formula(r"\sum_t (\hat y_t - y_t) $h_t^\top$", "V")
    assert verdict.status is rnn_check.Status.ILL_FORMED
    assert "leave out $…$" in verdict.detail and "at position 25" in verdict.detail


@pytest.mark.parametrize("blank", [" ", "\t"])
def test_the_parse_error_caret_sits_under_the_error_in_a_long_formula(blank):
    text = (r"\sum_t (\hat y_t - y_t) h_t^\top +" + blank) * 5 + ") + V"
    with pytest.raises(rnn_check.ParseError) as raised:
        rnn_check.parse_formula(text)
    error = raised.value
    line, caret = error.caret.splitlines()
    assert caret.strip() == "^"
    assert "\t" not in line  # a tab would shift the line against the caret
    assert line[caret.index("^")] == text[error.position] == ")"


@pytest.mark.parametrize(
    ("tolerance", "kind"),
    [("a", TypeError), (None, TypeError), (True, TypeError), (-1, ValueError), (0, ValueError)]
    + [(float("nan"), ValueError), (float("inf"), ValueError)],
)
def test_check_formula_tolerance_must_be_a_positive_finite_number(tolerance, kind):
    with pytest.raises(kind, match=r"tolerance must be a real number in \(0, 1\)"):
        rnn_check.check_formula("W", "W", tolerance=tolerance)
    assert rnn_check.check_formula(r"\sum_t \nabla_{o_t}L", "c", tolerance=1e-6).exit_code == 0


def test_empty_wrt_says_so_and_nothing_about_the_formula(capsys):
    assert main(["check", "--wrt", "", "W +"]) == 2  # the formula is broken too
    out = capsys.readouterr().out
    assert "--wrt is empty; give one of U, W, V, b, c, h0, h_t" in out
    assert "formula" not in out.split("\n", 1)[1]  # no word of the formula's own error


def test_errata_evidence_cites_diagnosis_and_shape_detail_of_an_ill_formed_verdict():
    from derivations.errata import _checks

    verdict = rnn_check.check_formula(r"\nabla_V L = \sum_t h_t (\hat y_t - y_t)^\top")
    assert verdict.status is rnn_check.Status.ILL_FORMED and verdict.diagnosis
    text = _checks._verdict_text(verdict)
    assert text.startswith("ILL-FORMED (")
    assert all(d in text for d in verdict.diagnosis)
    assert "is 3×2 but ∇_V L is 2×3" in text  # the shapes, which the diagnosis used to replace


@pytest.mark.parametrize(
    "call",
    [
        lambda m: rnn_sym.reverse_mode(None),
        lambda m: rnn_sym.textbook(None),
        lambda m: rnn_sym.sigma_pi(None, "W"),
        lambda m: rnn_sym.jacobian(None, None),
        lambda m: rnn_sym.sigma_pi(m, "W"),  # the symbols instead of the graph
        lambda m: rnn_sym.textbook(m),
    ],
)
def test_rnn_sym_misuse_says_what_to_pass(call):
    m = rnn_sym.model_symbols(2, 1, 2, 2)
    with pytest.raises(TypeError, match=r"pass rnn_sym\.(reverse_mode|model_symbols)\("):
        call(m)


def test_hidden_jacobian_validates_its_own_steps():
    m = rnn_sym.model_symbols(3, 1, 2, 2)
    with pytest.raises(ValueError, match=r"hidden_jacobian\(m, t, k\): t must be within 0 … T = 3"):
        rnn_sym.hidden_jacobian(m, 5, 1)
    with pytest.raises(ValueError, match=r"needs k <= t.*t = 1, k = 2"):
        rnn_sym.hidden_jacobian(m, 1, 2)
    with pytest.raises(ValueError, match=r"needs 1 <= j <= T = 3, got j = 0"):
        rnn_sym.jacobian(m, 0)
    assert rnn_sym.hidden_jacobian(m, 2, 2) == sp.eye(2)
    assert rnn_sym.hidden_jacobian(m, 2, 0) == rnn_sym.jacobian(m, 2) * rnn_sym.jacobian(m, 1)


def test_verify_reports_progress_within_each_long_phase(capsys, monkeypatch):
    from rnn_derive import verify

    monkeypatch.setattr(verify, "_PROGRESS_EVERY", 0.0)  # as if every step took long
    assert main(["verify", "--T", "5", "--n-h", "2", "--only", "b"]) == 0
    err = capsys.readouterr().err
    for phase in (
        "nodes differentiated:",
        "adjoints proven:",
        "induction steps proven (k = T down to 0):",
    ):
        assert f"{phase} 1/" in err, err
    assert "random points compared: 3/3" in err
