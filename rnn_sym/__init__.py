"""rnn_sym: the symbolic engine. Derivations whose every step SymPy proves.

The public API is re-exported here; the modules behind it are private.
"""

from rnn_sym._derivation import (
    Assumption,
    CrossCheck,
    CrossCheckResult,
    Derivation,
    Proof,
    Step,
    StepProof,
)
from rnn_sym._errors import DerivationError, RnnSymError, SizeLimitError, StepFailed

__all__ = [
    "Assumption",
    "CrossCheck",
    "CrossCheckResult",
    "Derivation",
    "DerivationError",
    "Proof",
    "RnnSymError",
    "SizeLimitError",
    "Step",
    "StepFailed",
    "StepProof",
]
