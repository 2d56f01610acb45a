"""rnn_check: is this hand-written gradient right? Formulas, SymPy expressions and code."""

from rnn_check._verdict import BlockError, Counterexample, Status, Verdict

__all__ = ["BlockError", "Counterexample", "Status", "Verdict"]
