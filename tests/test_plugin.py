"""The pytest plugin (entry point pytest11 `rnn_derivations`), tested with pytest's pytester."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

# pytester's in-process runs put sys.modules back after each run, and NumPy cannot be loaded
# twice in one process: import the heavy modules here, so every run finds them loaded.
import numpy  # noqa: F401

import rnn_check._formula  # noqa: F401  (with _parser and _ast: one ParseError class for all)
import rnn_check._sympy_route  # noqa: F401
import rnn_check._transcriptions  # noqa: F401
import rnn_sym._model  # noqa: F401

pytest_plugins = ["pytester"]

MISTAKES_SOURCE = (pathlib.Path(__file__).parent / "_bptt_mistakes.py").read_text()


def _project(pytester, body: str) -> None:
    pytester.makepyfile(bptt_mistakes=MISTAKES_SOURCE)
    pytester.makepyfile(test_user=textwrap.dedent(body))


def _run(pytester):
    # only our plugin matters here; the others (hypothesis, benchmark) cost seconds per run
    quiet = ("no:cacheprovider", "no:hypothesispytest", "no:benchmark")
    return pytester.runpytest(*(arg for plugin in quiet for arg in ("-p", plugin)))


def test_fixture_passes_a_correct_and_fails_a_buggy_backward(pytester):
    _project(
        pytester,
        """
        from bptt_mistakes import BUGGY, backward_correct

        def test_correct(bptt_check):
            verdict = bptt_check(backward_correct)
            assert verdict.status == "CORRECT"

        def test_buggy(bptt_check):
            bptt_check(BUGGY["W_not_transposed"])
        """,
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*WRONG: *∇W*differ from the true value*",
            "*Counterexample: T=*",
            "*[[]*[]] should be *, got *",
            "*Diagnosis:*",
            "*W used where Wᵀ belongs in the recursion*",
        ]
    )
    # the message is the verdict, not a traceback through the checker
    assert "rnn_check/_code.py" not in result.stdout.str()


def test_block_and_expression_helpers(pytester):
    _project(
        pytester,
        """
        import sympy as sp
        from rnn_sym import model_symbols
        from bptt_mistakes import BUGGY, backward_correct

        def grad_W(params, x, y, h0=None):
            return BUGGY["h_t_in_grad_W"](params, x, y, h0)[1]["W"]

        def grad_c(params, x, y, h0=None):
            return backward_correct(params, x, y, h0)[1]["c"]

        def test_block_right(bptt_check):
            bptt_check.block("c", grad_c)

        def test_block_wrong(bptt_check):
            bptt_check.block("W", grad_W)

        def test_expression_ill_formed(bptt_check):
            m = model_symbols(T=1, n_x=2, n_h=3, n_y=2)
            bptt_check.expression((m.yhat(1) - m.y(1)).T, "c", m)
        """,
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*h_t used where h_{t−1} belongs in ∇W*",
            "*ILL-FORMED: the expression is 1×2, but ∇c L is 2×1*",
        ]
    )


def test_formula_helper(pytester):
    _project(
        pytester,
        r"""
        def test_formula_right(bptt_check):
            bptt_check.formula(r"\sum_{t=1}^{T} \nabla_{o_t} L", "c")

        def test_formula_wrong(bptt_check):
            bptt_check.formula(r"-\sum_{t=1}^{T} \nabla_{o_t} L", "c")
        """,
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*WRONG*", "*Counterexample: T=*"])
    assert "make_case" not in result.stdout.str()  # the formula route draws its own inputs


def test_options_reach_the_checker(pytester):
    _project(
        pytester,
        """
        import numpy as np
        from bptt_mistakes import backward_correct

        def unbatched(params, x, y, h0=None):
            if np.ndim(x) != 2:
                raise ValueError("no batches here")
            return backward_correct(params, x, y, h0)

        def test_without_batch(bptt_check):
            bptt_check(unbatched, batch=False)

        def test_with_batch(bptt_check):
            bptt_check(unbatched)
        """,
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ILL-FORMED: your function raised ValueError*", "*batch=False*"])


def test_the_plugin_is_registered_and_import_light():
    # pytest imports the plugin in every session of every project: no NumPy, SymPy or lark then
    code = (
        "import importlib.metadata as md, sys\n"
        "eps = [e for e in md.entry_points(group='pytest11') if e.name == 'rnn_derivations']\n"
        "assert eps and eps[0].value == 'rnn_check.pytest_plugin', eps\n"
        "eps[0].load()\n"
        "heavy = sorted({'numpy', 'sympy', 'lark', 'rnn_num', 'rnn_sym'} & set(sys.modules))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
