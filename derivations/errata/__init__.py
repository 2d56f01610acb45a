"""Errata for the five seed notes: each quoted mistake with its correction and a machine check.

One module per seed, `derivations/errata/seed_NNN.py`, defines `ERRATA: list[Erratum]` and
`CONFIRMED: list[Confirmation]`. The notes themselves are copied in `seeds/`.
"""

from __future__ import annotations

import importlib
import pathlib

from derivations.errata._report import (
    ERRATUM_KEYS,
    UnknownSeedError,
    confirmation_record,
    confirmation_verdict,
    erratum_record,
    run_check,
)
from derivations.errata._report import resolve_seed as _resolve_seed
from derivations.errata._types import (
    CATEGORIES,
    SEVERITIES,
    CheckOutcome,
    Confirmation,
    Erratum,
)

SEEDS_DIR = pathlib.Path(__file__).resolve().parent / "seeds"
SEED_FILES = (
    "000_353fc027c1455118.txt",
    "001_0b57e9a572fb520b.txt",
    "002_1986c8a8192cb80b.txt",
    "003_f5a511b607786116.txt",
    "004_957c386b48be8623.txt",
)


def _seed_modules():
    for name in SEED_FILES:
        try:
            yield importlib.import_module(f"derivations.errata.seed_{name[:3]}")
        except ModuleNotFoundError as error:
            if error.name != f"derivations.errata.seed_{name[:3]}":
                raise


def all_errata() -> list[Erratum]:
    """Every erratum, in seed order then line order."""
    return [e for module in _seed_modules() for e in module.ERRATA]


def all_confirmations() -> list[Confirmation]:
    return [c for module in _seed_modules() for c in module.CONFIRMED]


def resolve_seed(text: str) -> str:
    """The seed file named by a file name or a prefix ("000"); UnknownSeedError otherwise."""
    return _resolve_seed(text, SEED_FILES)


def seed_lines(seed: str) -> list[str]:
    """The lines of a seed note (index 0 is line 1)."""
    return (SEEDS_DIR / seed).read_text(encoding="utf-8").splitlines()


__all__ = [
    "CATEGORIES",
    "ERRATUM_KEYS",
    "SEEDS_DIR",
    "SEED_FILES",
    "SEVERITIES",
    "CheckOutcome",
    "Confirmation",
    "Erratum",
    "UnknownSeedError",
    "all_confirmations",
    "all_errata",
    "confirmation_record",
    "confirmation_verdict",
    "erratum_record",
    "resolve_seed",
    "run_check",
    "seed_lines",
]
