r"""pytest plugin (entry point `pytest11`): fixtures for checking a user's backward pass.

    def test_my_backward(bptt_check):
        bptt_check(my_loss_and_grads)              # the whole backward pass
        bptt_check(my_lstm, model="cell=lstm")     # another model (rnn_spec / docs/models.md)
        bptt_check(lossFun, conventions="karpathy")  # code in its source's conventions
        bptt_check.layer(rnn_forward, rnn_backward, conventions="cs231n")  # ∂L/∂h from above
        bptt_check.block("W", my_grad_W)           # one block
        bptt_check.expression(expr, "W", symbols)  # a SymPy expression
        bptt_check.formula(r"\sum_t \nabla_{o_t} L", "c")  # a formula in LaTeX

A check that is not CORRECT fails the test with the verdict as text: the wrong block, the
entry, the expected and actual values, the counterexample and the diagnosis.

Kept import-light: pytest loads it in every session of every project that installs us, so
NumPy, SymPy and the checker are imported only when a test uses the fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from rnn_check._verdict import Verdict


class BpttCheck:
    """The value of the `bptt_check` fixture: each method fails the test unless CORRECT.

    Every method returns the Verdict when it is CORRECT, and passes its keyword options on
    to the checker (`rnn_check.check_backward`, `check_block`, `check_expression`,
    `check_formula`).
    """

    def __call__(self, fn: Callable, **options: Any) -> Verdict:
        __tracebackhide__ = True
        from rnn_check._code import check_backward

        return self._judge(check_backward(fn, **options))

    def layer(self, forward: Callable, backward: Callable, **options: Any) -> Verdict:
        __tracebackhide__ = True
        from rnn_check._conventions import check_layer

        return self._judge(check_layer(forward, backward, **options))

    def block(self, block: str, fn: Callable, **options: Any) -> Verdict:
        __tracebackhide__ = True
        from rnn_check._code import check_block

        return self._judge(check_block(fn, block, **options))

    def expression(self, expr: object, wrt: str, config: object, **options: Any) -> Verdict:
        __tracebackhide__ = True
        from rnn_check._sympy_route import check_expression

        return self._judge(check_expression(expr, wrt, config, **options))

    def formula(self, text: str, wrt: str | None = None, **options: Any) -> Verdict:
        __tracebackhide__ = True
        from rnn_check._formula import check_formula

        return self._judge(check_formula(text, wrt, **options))

    @staticmethod
    def _judge(verdict: Verdict) -> Verdict:
        __tracebackhide__ = True
        from rnn_check._code import format_verdict
        from rnn_check._verdict import Status

        if verdict.status is not Status.CORRECT:
            pytest.fail(format_verdict(verdict), pytrace=False)
        return verdict


@pytest.fixture
def bptt_check() -> BpttCheck:
    """Check a backward pass (or one block, or a SymPy expression) against rnn-derivations'
    reference; the test fails with the block, entry, expected and actual values and the
    diagnosis when it is not CORRECT."""
    return BpttCheck()
