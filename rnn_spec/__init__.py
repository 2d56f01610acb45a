"""rnn_spec: the model specification every layer reads, as plain data (no NumPy, no SymPy).

from rnn_spec import Model, parse_model
m = parse_model("cell=lstm,biases=torch")       # the CLI's --model syntax
m.blocks(n_x=2, n_h=3, n_y=2)                    # names, shapes, roles of the params
m.gradient_names()                               # ('U_i', ..., 'c', 'h0', 'c0')
"""

from ._errors import ModelError
from ._model import (
    ACTIVATIONS,
    BIASES,
    CANONICAL,
    CELLS,
    GATES,
    H0S,
    HEADS,
    MSE_SCALES,
    REDUCTIONS,
    STATES,
    TASKS,
    Block,
    Model,
    parse_model,
)

__all__ = [
    "ACTIVATIONS",
    "BIASES",
    "CANONICAL",
    "CELLS",
    "GATES",
    "H0S",
    "HEADS",
    "MSE_SCALES",
    "REDUCTIONS",
    "STATES",
    "TASKS",
    "Block",
    "Model",
    "ModelError",
    "parse_model",
]
