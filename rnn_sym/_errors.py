"""The exceptions of rnn_sym: one base class, one subclass per kind of failure."""

from __future__ import annotations

import sympy as sp


class RnnSymError(Exception):
    """Base class of every error rnn_sym raises on purpose."""


class DerivationError(RnnSymError):
    """A derivation is malformed (no steps, an assumption used but not stated, ...)."""


class StepFailed(RnnSymError):
    """A step of a derivation does not follow from the one before it."""

    def __init__(
        self, slug: str, index: int, why: str, residual: sp.Basic, reason: str = ""
    ) -> None:
        self.slug = slug
        self.index = index
        self.why = why
        self.residual = residual
        self.reason = reason
        hint = f" ({reason}: give the step a cheaper `prover=`)" if reason else ""
        super().__init__(
            f"{slug}: step {index} ({why}) does not follow{hint}; residual: "
            f"{sp.sstr(residual)[:500]}"
        )


class SizeLimitError(RnnSymError, ValueError):
    """A symbolic problem is too large (T, sizes): the message says the limit and the alternative."""
