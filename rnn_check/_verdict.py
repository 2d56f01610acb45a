"""The one verdict every way into the checker returns (formula, SymPy expression, code)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Status(StrEnum):
    CORRECT = "CORRECT"
    WRONG = "WRONG"
    ILL_FORMED = "ILL-FORMED"

    @property
    def exit_code(self) -> int:
        return {"CORRECT": 0, "WRONG": 1, "ILL-FORMED": 2}[self.value]


@dataclass(frozen=True)
class BlockError:
    block: str  # "W", "U", "h0", ...
    max_rel_error: float
    # the entry where it is largest, counted from extra["index_base"] of the verdict: 0 for
    # code checks (a NumPy index), 1 for formulas (as the formula and its text count)
    index: tuple[int, ...] = ()
    expected: float = float("nan")
    actual: float = float("nan")


@dataclass(frozen=True)
class Counterexample:
    T: int
    n_x: int
    n_h: int
    n_y: int
    seed: int
    batch: int | None
    block: str
    index: tuple[int, ...]  # counted from extra["index_base"], as BlockError.index
    expected: float
    actual: float


@dataclass(frozen=True)
class Verdict:
    status: Status
    summary: str  # one sentence for people
    errors: tuple[BlockError, ...] = ()
    counterexample: Counterexample | None = None
    diagnosis: tuple[str, ...] = ()  # recognised mutations, e.g. "transpose missing on W"
    detail: str = ""  # ILL-FORMED: the offending sub-expression and both shapes
    extra: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def to_json(self) -> str:
        data = asdict(self)
        data["status"] = self.status.value
        return json.dumps(data, sort_keys=True, default=str)
