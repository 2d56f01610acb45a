"""rnn_num: the NumPy reference for the canonical RNN (no SymPy anywhere in it).

Model, shapes and conventions: NOTATION.md. Loss summed over time and batch; gradients in
denominator layout (∇_W L has the shape of W); float64 by default, float32 works.

    params = init_params(n_x, n_h, n_y, seed=0)
    loss, grads = loss_and_grads(params, x, y)        # x (T, [B,] n_x), y (T, [B])
    res = backward(params, x, y)                      # + adjoints d_o, d_h, d_a
    assert_gradients_close(params, x, y)              # finite differences
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
    "softmax",
    "train",
]
