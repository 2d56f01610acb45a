"""Shared by the LSTM, GRU and variants tests: break one step of a derivation and see it
fail there; run a derivation's cross-checks of one kind."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection

import pytest

from rnn_sym import Derivation, StepFailed


def broken(d: Derivation, index: int, **changes) -> Derivation:
    """d with step `index` (1-based) changed, e.g. broken(d, 2, expr=wrong)."""
    d.steps[index - 1] = dataclasses.replace(d.steps[index - 1], **changes)
    return d


def fails_at(d: Derivation, index: int) -> None:
    with pytest.raises(StepFailed) as info:
        d.verify()
    assert info.value.index == index


def run_checks(build: Callable[[], Derivation], kind: str, numeric: Collection[str]) -> None:
    """Every cross-check whose name contains `kind` passes, and a derivation has such checks
    exactly when its slug is in `numeric`."""
    d = build()
    checks = [c for c in d.cross_checks if kind in c.name]
    assert bool(checks) == (d.slug in numeric), d.slug
    for check in checks:
        error = check.run()
        assert error <= check.tolerance, (check.name, error)
