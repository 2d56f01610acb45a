"""Strict inputs (issue 13): tolerances that can never fail, sizes that cannot fit, names
that would become code, nesting that overflows the stack, bytes that are not text.

Each test here failed on the code before the fix: gradcheck accepted rtol=10 and tiny=1e300
and failed correct gradients with order=2; loss_and_grads on 10**9 broadcast steps ran for
seconds and then died of a MemoryError (or was killed); lambdify_matrix printed an undefined
Function's name into generated code; check_expression raised RecursionError at 600 nested
tanh; `rnn-derive check` crashed on undecodable stdin and on an ASCII stdout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import sympy as sp

import rnn_check
import rnn_num
import rnn_sym
from rnn_check import FormulaError, Status
from rnn_num import _model
from rnn_num import _validate as v
from rnn_spec import parse_model

# ---------------------------------------------------------------- 1. gradcheck


def _problem(model: str | None, seed: int, T: int = 5, B: int = 2):
    rng = np.random.default_rng(seed)
    p = rnn_num.init_params(3, 4, 3, seed=seed, scale=0.6, model=model)
    x = rng.normal(size=(T, B, 3))
    y = rng.integers(0, 3, size=(T, B))
    return p, x, y


@pytest.mark.parametrize("rtol", [10, 1.0, 1e300, float("inf"), 0.0, -1e-3])
def test_gradcheck_rtol_that_can_never_fail_or_never_pass_is_refused(rtol):
    p, x, y = _problem(None, 0)
    with pytest.raises(ValueError, match=r"rtol must be a real number in \(0, 1\)"):
        rnn_num.assert_gradients_close(p, x, y, rtol=rtol)
    report = rnn_num.gradcheck(p, x, y, blocks=["b"])
    with pytest.raises(ValueError, match=r"rtol must be a real number in \(0, 1\)"):
        report.passed(rtol)


def test_gradcheck_rtol_takes_numpy_reals_and_refuses_text():
    p, x, y = _problem(None, 0)
    report = rnn_num.assert_gradients_close(p, x, y, rtol=np.float32(1e-6), blocks=["W"])
    assert report.passed(np.float64(1e-6)) and report.passed(np.float32(1e-6))
    with pytest.raises(TypeError, match="rtol must be a real number"):
        rnn_num.assert_gradients_close(p, x, y, rtol="1e-7")


@pytest.mark.parametrize("tiny", [1e300, 1e6])
def test_gradcheck_tiny_that_passes_anything_is_refused(tiny):
    p, x, y = _problem(None, 0)
    _, grads = rnn_num.loss_and_grads(p, x, y)
    wrong = {k: 2 * g + 1 for k, g in grads.items()}  # wrong everywhere
    with pytest.raises(ValueError, match=r"tiny=.* too large.*below max\(1, \|L\|\)"):
        rnn_num.gradcheck(p, x, y, grads=wrong, tiny=tiny)


def test_gradcheck_tiny_below_the_loss_scale_is_still_accepted():
    p, x, y = _problem(None, 0)
    report = rnn_num.gradcheck(p, x, y, tiny=1e-6, blocks=["W"])
    assert report.tiny == 1e-6 and report.passed()


@pytest.mark.parametrize("model", [None, "cell=lstm", "cell=gru"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_order_2_passes_correct_gradients_at_its_default_tolerance(model, seed):
    p, x, y = _problem(model, seed)
    report = rnn_num.assert_gradients_close(p, x, y, model=model, order=2)
    assert report.order == 2 and report.eps == rnn_num._gradcheck.DEFAULT_EPS[2]
    assert report.passed()


@pytest.mark.parametrize("model", [None, "cell=lstm", "cell=gru"])
def test_order_2_still_fails_a_gradient_off_by_1e_3_relative(model):
    p, x, y = _problem(model, 3)
    _, grads = rnn_num.loss_and_grads(p, x, y, model=model)
    wrong = {k: g.copy() for k, g in grads.items()}
    name = max(wrong, key=lambda k: np.abs(wrong[k]).max())
    index = np.unravel_index(np.argmax(np.abs(wrong[name])), wrong[name].shape)
    wrong[name][index] *= 1 + 1e-3
    report = rnn_num.gradcheck(p, x, y, model=model, grads=wrong, order=2)
    assert not report.passed()
    assert report.worst.name == name and report.worst.index == tuple(int(i) for i in index)


def test_order_6_defaults_are_unchanged():
    assert rnn_num.DEFAULT_RTOL[np.dtype(np.float64)] == 1e-7
    assert rnn_num.gradcheck(*_problem(None, 0), blocks=["W"]).eps == 2e-3


# ---------------------------------------------------------------- 2. sizes


def _huge(model: str | None, batched: bool):
    m = parse_model(model)
    p = rnn_num.init_params(3, 4, 2, model=m)
    shape = (10**9, 2, 3) if batched else (10**9, 3)
    x = np.broadcast_to(np.zeros(3), shape)
    y = np.broadcast_to(np.zeros((), dtype=int), shape[:-1])
    return p, x, y, m


_CALLS = {
    "loss_and_grads": lambda p, x, y, m: rnn_num.loss_and_grads(p, x, y, model=m),
    "backward": lambda p, x, y, m: rnn_num.backward(p, x, y, model=m),
    "compute_loss": lambda p, x, y, m: rnn_num.compute_loss(p, x, y, model=m),
    "forward": lambda p, x, y, m: rnn_num.forward(p, x, model=m),
    "train": lambda p, x, y, m: rnn_num.train(p, x, y, model=m, steps=1),
    "gradcheck": lambda p, x, y, m: rnn_num.gradcheck(p, x, y, model=m),
}


@pytest.mark.parametrize("call", _CALLS)
@pytest.mark.parametrize(("model", "batched"), [(None, False), ("cell=lstm", True)])
def test_a_billion_broadcast_steps_are_refused_before_allocating(call, model, batched):
    # A broadcast x takes no memory; before the fix x was read (10 s) and copied (a bare
    # MemoryError, or the process killed).
    p, x, y, m = _huge(model, batched)
    message = (
        r"x has T = 1000000000 steps.*with n_h = 4 and cell=(rnn|lstm) this call needs about [\d,.]+ GiB.*memory budget "
        r"of 4 GiB\. Fix: use a shorter sequence"
    )
    with pytest.raises(ValueError, match=message) as error:
        _CALLS[call](p, x, y, m)
    assert ("B = 2 sequences" in str(error.value)) is batched


def test_the_budget_is_read_at_call_time(monkeypatch):
    p, x, y = _problem(None, 0, T=50, B=4)
    need = _model._footprint(parse_model(None), 50, 4, v.Dims(3, 4, 3)) * 8
    monkeypatch.setattr(v, "MEMORY_BUDGET", need)
    rnn_num.loss_and_grads(p, x, y)  # exactly at the budget: fine
    monkeypatch.setattr(v, "MEMORY_BUDGET", need - 1)
    with pytest.raises(ValueError, match=r"T = 50 steps and B = 4 sequences.*n_h = 4"):
        rnn_num.loss_and_grads(p, x, y)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_estimate_bounds_what_a_call_allocates(cell):
    m = parse_model(f"cell={cell}")
    T, B, n_x, n_h, n_y = 300, 4, 5, 16, 3
    p = rnn_num.init_params(n_x, n_h, n_y, model=m)
    x = np.random.default_rng(0).normal(size=(T, B, n_x))
    y = np.zeros((T, B), dtype=int)
    estimate = _model._footprint(m, T, B, v.Dims(n_x, n_h, n_y)) * 8
    peaks = {}
    for name in ("loss_and_grads", "backward", "compute_loss"):
        tracemalloc.start()
        try:
            result = _CALLS[name](p, x, y, m)
            peaks[name] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        del result
    slack = 64 * 1024  # parameter-sized arrays, per-step rows, Python objects
    assert max(peaks.values()) <= estimate + slack, (peaks, estimate)
    assert peaks["backward"] >= estimate / 2, "the estimate is far above what is used"


# ---------------------------------------------------------------- 3. lambdify_matrix


def test_lambdify_matrix_refuses_an_undefined_function_whose_name_is_code(tmp_path):
    target = tmp_path / "written"
    x = sp.Symbol("x")
    evil = sp.Function(f"(lambda *a: open({str(target)!r}, 'w'))")
    with pytest.raises(TypeError, match=r"undefined function .*lambda \*a: open"):
        fn = rnn_sym.lambdify_matrix(sp.Matrix([[evil(x) + 1]]), [x])
        fn(1.0)  # before the fix: this call wrote the file
    assert not target.exists()


def test_lambdify_matrix_refuses_an_undefined_function_even_with_a_plain_name():
    x = sp.Symbol("x")
    with pytest.raises(TypeError, match=r"undefined function 'system'"):
        rnn_sym.lambdify_matrix(sp.Function("system")(x), [x])


@pytest.mark.parametrize(
    "build",
    [
        lambda x: sp.Integral(x * sp.Symbol("q"), (sp.Symbol("q"), 0, 1)),
        lambda x: sp.Sum(x * sp.Symbol("k"), (sp.Symbol("k"), 1, 3)),
        lambda x: sp.erf(x),
        lambda x: x * sp.I,
    ],
    ids=["Integral", "Sum", "erf", "complex"],
)
def test_lambdify_matrix_refuses_what_rnn_sym_does_not_build(build):
    x = sp.Symbol("x")
    with pytest.raises(TypeError, match="cannot lambdify"):
        rnn_sym.lambdify_matrix(build(x), [x])


def test_lambdify_matrix_refuses_a_symbol_outside_args_by_name():
    x = sp.Symbol("x")
    stray = sp.Symbol("__import__('os').getcwd()")
    with pytest.raises(rnn_sym.NumericInputError, match=r"__import__\('os'\).*not arguments"):
        rnn_sym.lambdify_matrix(x + stray, [x])
    with pytest.raises(TypeError, match="sequence of SymPy Symbols"):
        rnn_sym.lambdify_matrix(x, [x + 1])
    with pytest.raises(ValueError, match="distinct"):
        rnn_sym.lambdify_matrix(x, [x, x])


def test_argument_names_never_reach_the_code(tmp_path):
    # Our own names are LaTeX; any name of an argument is renamed before printing.
    target = tmp_path / "written"
    odd = sp.Symbol(f"open({str(target)!r}, 'w')")
    fn = rnn_sym.lambdify_matrix(sp.Matrix([[2 * odd, sp.tanh(odd)]]), [odd])
    assert np.allclose(fn(0.5), [[1.0, np.tanh(0.5)]])
    assert not target.exists()


def test_lambdify_matrix_keeps_the_functions_the_engine_builds():
    a, b = sp.symbols("a b")
    relu = sp.Max(a, 0) + sp.Heaviside(a) + sp.Piecewise((a, a > 0), (0, True))
    expr = sp.Matrix([[sp.tanh(a) * sp.exp(b) + sp.log(b) / 2, relu, sp.Rational(1, 3) * a**2]])
    fn = rnn_sym.lambdify_matrix(expr, [a, b])
    want = [np.tanh(0.3) * np.exp(2.0) + np.log(2.0) / 2, 0.3 + 1 + 0.3, 0.03]
    assert np.allclose(fn(0.3, 2.0), [want])


# ---------------------------------------------------------------- 4. nesting


def _nested_tanh(m, levels: int) -> sp.Matrix:
    entry = m.W[0, 0]
    for _ in range(levels):
        entry = sp.tanh(entry, evaluate=False)  # as a user's loop builds it, unevaluated
    return sp.Matrix([[entry]])


@pytest.mark.parametrize("levels", [600, 5000])
def test_check_expression_refuses_deep_nesting_before_sympy_recurses(levels):
    m = rnn_sym.model_symbols(1, 1, 1, 2)
    verdict = rnn_check.check_expression(_nested_tanh(m, levels), "W", m)
    assert verdict.status is Status.ILL_FORMED
    assert "nested more than 100 levels deep" in verdict.summary
    assert "m.h(t)" in verdict.detail


def test_check_expression_still_evaluates_20_nested_levels():
    m = rnn_sym.model_symbols(1, 1, 1, 2)
    verdict = rnn_check.check_expression(_nested_tanh(m, 20), "W", m)
    assert verdict.status is Status.WRONG  # evaluated and compared: not the gradient


@pytest.mark.parametrize("body", [r"\tanh " * 600 + "h_t", "-" * 600 + "h_t", "h_t" + "'" * 3900])
def test_formulas_nested_too_deeply_are_refused_before_the_builder_recurses(body, monkeypatch):
    from rnn_check import _parser

    def no_builder(*args, **kwargs):
        raise AssertionError("the recursive builder ran on a formula nested too deeply")

    monkeypatch.setattr(_parser, "_Builder", no_builder)
    text = r"\nabla_{h_t} L = " + body
    with pytest.raises(FormulaError, match=r"nested deeper than 200 levels"):
        rnn_check.parse_formula(text)
    verdict = rnn_check.check_formula(text, diagnose=False)
    assert verdict.status is Status.ILL_FORMED and "nested deeper" in verdict.detail


def test_formulas_5000_levels_deep_are_refused_too():
    text = r"\nabla_{h_t} L = " + r"\tanh(" * 5000 + "h_t" + ")" * 5000
    with pytest.raises(FormulaError):
        rnn_check.parse_formula(text)
    assert rnn_check.check_formula(text, diagnose=False).status is Status.ILL_FORMED


def test_formulas_20_levels_deep_still_work():
    text = r"\nabla_{h_t} L = " + r"\tanh " * 20 + "h_t"
    assert len(rnn_check.parse_formula(text).answers) == 1
    assert rnn_check.check_formula(text, diagnose=False).status is Status.WRONG


# ---------------------------------------------------------------- 5. the check CLI

CORRECT_W = r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t} L \, h_{t-1}^\top"


def _cli(args: list[str], stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LANG")}
    environment.update({"LC_ALL": "C.UTF-8", "PYTHONUTF8": "0"} | env)
    return subprocess.run(
        [sys.executable, "-m", "rnn_derive", "check", "--no-diagnosis", *args],
        input=stdin,
        capture_output=True,
        env=environment,
        timeout=300,
    )


def test_undecodable_stdin_is_one_clear_error():
    result = _cli(["--wrt", "W", "-"], stdin=b"\xff\xfe\\sum_t h_t")
    assert result.returncode == 2, result.stderr
    err = result.stderr.decode()
    assert "Traceback" not in err
    assert "stdin is not UTF-8 text: byte 0xff at position 0; save the formula as UTF-8" in err


def test_stdin_with_a_byte_order_mark_is_read():
    result = _cli(["--wrt", "W", "-"], stdin=b"\xef\xbb\xbf" + CORRECT_W.encode())
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("CORRECT")


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_output_survives_a_stdout_without_the_characters(encoding):
    ok = _cli(["--wrt", "W", CORRECT_W], PYTHONIOENCODING=encoding)
    assert ok.returncode == 0 and b"Traceback" not in ok.stderr, ok.stderr
    assert ok.stdout.decode(encoding).startswith("CORRECT: \\u2207_W L")
    # the user's own characters come back in the ILL-FORMED detail
    bad = _cli(["--wrt", "W", "∑_t ŷ_t ✓"], PYTHONIOENCODING=encoding)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr, bad.stderr
    assert "\\u2713" in bad.stdout.decode(encoding)


def test_an_undecodable_argument_is_one_clear_error():
    # under a UTF-8 locale, a latin-1 é on the command line arrives as a lone surrogate
    result = _cli(["--wrt", "W", os.fsdecode(b"\\sum_t \xe9")])
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert "not valid text: an undecodable byte at position 7" in result.stderr.decode()
