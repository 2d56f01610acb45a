"""Errata for the five seed notes: each quoted mistake with its correction and a machine check."""

from derivations.errata._types import CATEGORIES, SEVERITIES, CheckOutcome, Erratum

__all__ = ["CATEGORIES", "SEVERITIES", "CheckOutcome", "Erratum"]
