"""Training: plain gradient descent (SGD), AdaGrad as in seed 000's appendix A.4, gradient
clipping by global norm (seed 002), and a small full-batch training loop."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from rnn_spec import Model

from . import _model
from . import _validate as v


def sgd(
    params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], lr: float
) -> dict[str, np.ndarray]:
    """θ ← θ − η ∇L(θ), for every block of params (grads may hold more blocks, e.g. h0)."""
    _check_blocks_present(params, grads)
    return {k: params[k] - lr * grads[k] for k in params}


def _check_blocks_present(params: Mapping[str, np.ndarray], grads: object) -> None:
    if not isinstance(grads, Mapping):
        raise TypeError(
            f"grads must be a mapping from block name to gradient (as loss_and_grads returns); "
            f"got {type(grads).__name__}"
        )
    missing = [k for k in params if k not in grads]
    if missing:
        raise ValueError(
            f"grads is missing block(s) {', '.join(missing)}; it needs one per parameter "
            f"({', '.join(params)})"
        )


@dataclass
class AdaGradState:
    """Step counter k and the running sum of squared gradients per block."""

    step: int = 0
    sum_sq: dict[str, np.ndarray] = field(default_factory=dict)


def adagrad(
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    state: AdaGradState | None = None,
    lr: float = 0.1,
    eps: float = 1e-8,
) -> tuple[dict[str, np.ndarray], AdaGradState]:
    """One AdaGrad step, per entry, as seed 000 (A.4.3–A.4.4) defines it:

        θ^{k+1} = θ^k − (η^k / σ^k) ∇L(θ^k),  η^k = η / √(k+1),
        σ^k = √( (1/(k+1)) Σ_{i=0}^{k} ∇L(θ^i)² )   (root mean square of past gradients),

    which equals η / √(Σ_i ∇L(θ^i)²). eps keeps entries with zero gradient history finite.
    Returns the new parameters and the updated state (the input state is not modified).
    """
    _check_blocks_present(params, grads)
    state = AdaGradState() if state is None else state
    if not isinstance(state, AdaGradState):
        raise TypeError(
            f"state must be an AdaGradState (or None to start); got {type(state).__name__}"
        )
    k = state.step
    new_params: dict[str, np.ndarray] = {}
    new_sum: dict[str, np.ndarray] = {}
    for name in params:
        g = grads[name]
        new_sum[name] = state.sum_sq.get(name, 0) + g * g
        eta_k = lr / np.sqrt(k + 1)
        sigma_k = np.sqrt(new_sum[name] / (k + 1))
        new_params[name] = params[name] - eta_k / (sigma_k + eps) * g
    return new_params, AdaGradState(k + 1, new_sum)


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """‖g‖ over all blocks together: √(Σ_blocks Σ_entries g²)."""
    return float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))


def clip_by_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> dict[str, np.ndarray]:
    """g · min(1, C/‖g‖) with ‖g‖ the global norm over all blocks (seed 002's clipping)."""
    max_norm = v.check_positive("max_norm", max_norm)
    norm = global_norm(grads)
    factor = 1.0 if norm <= max_norm else max_norm / norm
    return {k: g * factor for k, g in grads.items()}


@dataclass(frozen=True, eq=False)
class TrainResult:
    """The trained parameters and the loss before each step (losses[i] at step i)."""

    params: dict[str, np.ndarray]
    losses: np.ndarray


def train(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    model: Model | Mapping[str, object] | str | None = None,
    activation: str | None = None,
    head: str | None = None,
    many_to_one: bool | None = None,
    optimizer: str = "adagrad",
    lr: float = 0.1,
    steps: int = 500,
    clip: float | None = None,
    progress: bool = False,
    log_every: int = 100,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Full-batch training: at each step, loss and gradients on all of (x, y), optional
    clipping by global norm, then one SGD or AdaGrad update. With progress=True a line per
    `log_every` steps goes to stderr. model (or the legacy activation, head, many_to_one)
    as for `loss_and_grads`; every block of the model is trained, h0 and c0 are not."""
    v.check_choice("optimizer", optimizer, ("sgd", "adagrad"))
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    lr = v.check_positive("lr", lr)
    if clip is not None:
        clip = v.check_positive("clip", clip, " or None (no clipping)")
    log_every = v.check_count("log_every", log_every)
    if on_step is not None and not callable(on_step):
        raise TypeError(f"on_step must be a function (step, loss) or None; got {on_step!r}")
    # Validates params against the model and settles the model (h0's option included).
    m = _model._prepare(params, x, h0, c0, model, activation, head, many_to_one).model
    names = m.block_names()
    current = {k: np.array(params[k]) for k in names}
    state: AdaGradState | None = None
    losses = np.empty(steps)
    for step in range(steps):
        loss, grads = _model.loss_and_grads(current, x, y, h0, c0=c0, model=m)
        grads = {k: grads[k] for k in names}
        if clip is not None:
            grads = clip_by_norm(grads, clip)
        if optimizer == "sgd":
            current = sgd(current, grads, lr)
        else:
            current, state = adagrad(current, grads, state, lr)
        losses[step] = loss
        if on_step is not None:
            on_step(step, loss)
        if progress and (step % log_every == 0 or step == steps - 1):
            print(f"train: step {step + 1}/{steps}  loss {loss:.6g}", file=sys.stderr, flush=True)
    return TrainResult(current, losses)
