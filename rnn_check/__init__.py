"""rnn_check: is this hand-written gradient right? Formulas, SymPy expressions and code."""

from rnn_check._verdict import BlockError, Counterexample, Status, Verdict

# The pytest plugin lives in this package, so pytest imports this file in every session of
# every project that installs us: the routes (NumPy, SymPy, lark) load on first use only.
_LAZY = {
    "Case": "rnn_check._code",
    "check_backward": "rnn_check._code",
    "check_block": "rnn_check._code",
    "default_battery": "rnn_check._code",
    "format_verdict": "rnn_check._code",
    "make_case": "rnn_check._code",
    "check_expression": "rnn_check._sympy_route",
    "check_layer": "rnn_check._conventions",
    "CONVENTIONS": "rnn_check._conventions",
    "Conventions": "rnn_check._conventions",
    "ConventionsError": "rnn_check._conventions",
    "check_formula": "rnn_check._formula",
    "FormulaError": "rnn_check._ast",
    "ParseError": "rnn_check._ast",
    "parse_formula": "rnn_check._parser",
    "NOTATIONS": "rnn_check._notation",
    "TRANSCRIPTIONS": "rnn_check._transcriptions",
    "Transcription": "rnn_check._transcriptions",
    "transcriptions_for": "rnn_check._transcriptions",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rnn_check' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BlockError",
    "CONVENTIONS",
    "Case",
    "Conventions",
    "ConventionsError",
    "Counterexample",
    "FormulaError",
    "NOTATIONS",
    "ParseError",
    "Status",
    "TRANSCRIPTIONS",
    "Transcription",
    "Verdict",
    "check_backward",
    "check_block",
    "check_expression",
    "check_formula",
    "check_layer",
    "default_battery",
    "format_verdict",
    "make_case",
    "parse_formula",
    "transcriptions_for",
]
