"""rnn_num: the NumPy reference for every model of rnn_spec (no SymPy anywhere in it).

Model, shapes and conventions: NOTATION.md and docs/models.md. The canonical model (tanh
Elman RNN, biases b and c, softmax + cross-entropy summed over time and batch) is the
default; `model=` (an rnn_spec.Model, a mapping, or the CLI text "cell=lstm,biases=torch")
chooses any other. Gradients in denominator layout (∇_W L has the shape of W); float64 by
default, float32 works.

    params = init_params(n_x, n_h, n_y, seed=0)       # + model=... for other models
    loss, grads = loss_and_grads(params, x, y)        # x (T, [B,] n_x), y (T, [B])
    res = backward(params, x, y)                      # + adjoints d_o, d_h, d_a
    assert_gradients_close(params, x, y)              # finite differences
    loss_and_grads(init_params(2, 3, 2, model="cell=lstm"), x, y, model="cell=lstm")
"""

from ._gradcheck import (
    DEFAULT_RTOL,
    DEFAULT_TINY,
    BlockCheck,
    GradcheckReport,
    assert_gradients_close,
    gradcheck,
)
from ._model import (
    BackwardResult,
    ForwardResult,
    backward,
    compute_loss,
    forward,
    init_params,
    loss_and_grads,
)
from ._steps import (
    backward_step,
    cross_entropy_step,
    forward_step,
    output_grad_step,
    output_step,
    softmax,
)
from ._tasks import (
    ALTERNATING,
    PERIOD_3,
    alternating_task,
    first_and_second_one,
    next_symbol_task,
    period3_task,
    repeat_pattern,
)
from ._torch import from_torch, to_torch
from ._train import (
    AdaGradState,
    TrainResult,
    adagrad,
    clip_by_norm,
    global_norm,
    sgd,
    train,
)
from ._validate import ACTIVATIONS, HEADS

__all__ = [
    "ACTIVATIONS",
    "ALTERNATING",
    "AdaGradState",
    "BackwardResult",
    "BlockCheck",
    "DEFAULT_RTOL",
    "DEFAULT_TINY",
    "ForwardResult",
    "GradcheckReport",
    "HEADS",
    "PERIOD_3",
    "TrainResult",
    "adagrad",
    "alternating_task",
    "assert_gradients_close",
    "backward",
    "backward_step",
    "clip_by_norm",
    "compute_loss",
    "cross_entropy_step",
    "first_and_second_one",
    "forward",
    "forward_step",
    "from_torch",
    "global_norm",
    "gradcheck",
    "init_params",
    "loss_and_grads",
    "next_symbol_task",
    "output_grad_step",
    "output_step",
    "period3_task",
    "repeat_pattern",
    "sgd",
    "to_torch",
    "softmax",
    "train",
]
