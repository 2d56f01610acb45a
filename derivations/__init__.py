"""derivations: the project's content, written with the rnn_sym engine.

Each content module defines `DERIVATIONS`: a list of zero-argument functions, each
returning one `rnn_sym.Derivation`. `all_derivations()` builds them in the order of
`_MODULES`, which is the order of the documents.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from rnn_sym import Derivation

# Content modules in document order. Add a module here and it is built, verified and exported.
_MODULES: list[str] = [
    "derivations.activations",
    "derivations.softmax",
    "derivations.cross_entropy",
    # BPTT modules go here (between cross_entropy and vanishing).
    "derivations.bptt",
    "derivations.unrolled",
    "derivations.many_to_one",
    "derivations.variants",
    "derivations.lstm",
    "derivations.gru",
    "derivations.vanishing",
    "derivations.appendix",
]


def derivation_builders() -> list[Callable[[], Derivation]]:
    builders: list[Callable[[], Derivation]] = []
    for name in _MODULES:
        builders.extend(importlib.import_module(name).DERIVATIONS)
    return builders


def all_derivations() -> list[Derivation]:
    """Build (not yet verify) every derivation, in document order."""
    return [build() for build in derivation_builders()]


__all__ = ["all_derivations", "derivation_builders"]
