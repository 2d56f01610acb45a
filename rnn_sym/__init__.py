"""rnn_sym: the symbolic engine. Derivations whose every step SymPy proves.

The public API is re-exported here; the modules behind it are private.
"""

from rnn_sym._bptt import (
    MAX_T_EXPANDED,
    MAX_T_INLINED,
    ProofRecord,
    ReverseMode,
    Textbook,
    expanded_loss,
    expanded_loss_gradient,
    hidden_jacobian,
    jacobian,
    prove_recursion,
    prove_sigma_pi_inductive,
    reverse_mode,
    sigma_pi,
    tanh_derivative,
    textbook,
)
from rnn_sym._code_latex import CodeLatexError, code_to_latex
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
from rnn_sym._export import (
    CodeBeside,
    Verification,
    derivation_to_markdown,
    derivation_to_tex,
    tex_document,
)
from rnn_sym._lambdify import NumericBptt, NumericInputError, lambdify_matrix
from rnn_sym._latex import derivation_to_latex, expr_to_latex
from rnn_sym._model import MAX_SIZE, MAX_T, PARAMETER_NAMES, RnnSymbols, model_symbols

__all__ = [
    "MAX_SIZE",
    "MAX_T",
    "MAX_T_EXPANDED",
    "MAX_T_INLINED",
    "PARAMETER_NAMES",
    "NumericBptt",
    "NumericInputError",
    "ProofRecord",
    "ReverseMode",
    "RnnSymbols",
    "Textbook",
    "expanded_loss",
    "expanded_loss_gradient",
    "hidden_jacobian",
    "jacobian",
    "lambdify_matrix",
    "model_symbols",
    "prove_recursion",
    "prove_sigma_pi_inductive",
    "reverse_mode",
    "sigma_pi",
    "tanh_derivative",
    "textbook",
    "CodeBeside",
    "CodeLatexError",
    "Verification",
    "code_to_latex",
    "derivation_to_latex",
    "derivation_to_markdown",
    "derivation_to_tex",
    "expr_to_latex",
    "tex_document",
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
