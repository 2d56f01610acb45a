"""What an erratum is: a quoted mistake in a seed note, its correction and a machine check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CATEGORIES = (
    "wrong formula",
    "wrong sign",
    "missing transpose",
    "wrong sum bound",
    "wrong number",
    "copy-paste",
    "false claim",
    "step does not follow",
    "unstated assumption",
    "misleading notation",
)
SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class CheckOutcome:
    """What a machine check found.

    claim_refuted: SymPy/NumPy showed the note's statement false (a counterexample or a
        nonzero residual), or for a step that does not follow, that it does not follow.
    correction_holds: the corrected statement was proven (SymPy) or confirmed (NumPy).
    evidence: one or two lines a reader can check: the counterexample or the residual.
    """

    claim_refuted: bool
    correction_holds: bool
    evidence: str

    @property
    def verdict(self) -> str:
        if self.claim_refuted and self.correction_holds:
            return "confirmed"
        return "check failed"


@dataclass(frozen=True)
class Erratum:
    id: str  # "<seed prefix>-<nn>", e.g. "003-04"
    seed: str  # file name in the seeds folder
    line: int  # 1-based
    quote: str  # verbatim substring of that line
    category: str  # one of CATEGORIES
    severity: str  # one of SEVERITIES
    problem: str  # what is wrong, plain text (inline LaTeX in $...$ allowed)
    correction: str  # the corrected statement, LaTeX (maths mode body)
    check: Callable[[], CheckOutcome]

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"erratum {self.id}: category {self.category!r} not in {CATEGORIES}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"erratum {self.id}: severity {self.severity!r} not in {SEVERITIES}")


@dataclass(frozen=True)
class Confirmation:
    """A key result a note gets right, confirmed by the same engine."""

    seed: str
    line: int  # 1-based
    quote: str  # verbatim substring of that line
    statement: str  # the result in canonical notation, LaTeX (maths mode body)
    check: Callable[[], CheckOutcome]  # claim_refuted must be False, correction_holds True
