"""Finite-difference gradient checking.

The numeric side evaluates the loss only (`compute_loss`, the forward pass) in float64,
whatever the dtype of the analytic gradients, so it never shares code with the backward pass
and float32 gradients are judged against an accurate reference.

Relative error of one entry: |a - n| / max(|a| + |n|, tiny).

The floor `tiny` is what finite differences can resolve at all: rounding in the loss,
~1e-16·|L|, divided by the step. By default it is DEFAULT_TINY[dtype] · max(1, |L|), so an
entry much smaller than that (e.g. a gradient of 1e-9 where L ≈ 3) is judged by its
absolute error, |a - n| ≤ rtol · tiny, instead of by digits that no difference quotient has.
A tiny of max(1, |L|) or more is refused: it would declare every entry unresolvable and
judge them all absolutely, and a large one (1e300) passes any gradient.

Tolerances (worst entry over all blocks) fit each stencil with its default step. Orders 6
(the default) and 4, step 2e-3, on the float64 loss: truncation (~eps⁶, ~eps⁴) is far below
the rounding floor:
  float64 gradients: rtol 1e-7, tiny 1e-5·max(1, |L|) (1e-10 … 1e-9 is typical)
  float32 gradients: rtol 1e-3, tiny 1e-3·max(1, |L|) (float32 rounding of the gradient
                     itself dominates; 1e-4 is the worst seen over random small problems).
Order 2 truncates at eps²/6 · |∂³L| (7e-7·|∂³L| at eps = 2e-3: far above 1e-7), so it has
its own step, 5e-6 ≈ ε_mach^(1/3), where truncation and rounding (~1e-16·|L|/eps) balance:
  float64 gradients: rtol 1e-5, tiny 1e-4·max(1, |L|) (2e-6 is the worst seen)
  float32 gradients: rtol 1e-3, tiny 1e-3·max(1, |L|).
A step chosen by hand (eps=) keeps the order's tolerances: pass an rtol (and tiny) that fit.
For ReLU keep pre-activations farther than the step from the kink at 0, or the difference
quotient straddles it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rnn_spec import Model

from . import _model
from . import _validate as v

BLOCKS = ("U", "W", "V", "b", "c", "h0")  # the canonical model's; others: model.gradient_names()
# orders 4 and 6 (step 2e-3); order 2 has its own, see the module docstring
DEFAULT_RTOL = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 1e-3}
DEFAULT_TINY = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 1e-3}  # times max(1, |L|)
DEFAULT_EPS = {2: 5e-6, 4: 2e-3, 6: 2e-3}
_ORDER2_RTOL = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 1e-3}
_ORDER2_TINY = {np.dtype(np.float64): 1e-4, np.dtype(np.float32): 1e-3}
_RTOL_HINT = " or None (the default of the stencil order and dtype, e.g. 1e-7 for float64)"


def default_rtol(order: int, dtype: np.dtype) -> float:
    """The rtol that correct gradients pass with this order's default step."""
    return (_ORDER2_RTOL if order == 2 else DEFAULT_RTOL)[np.dtype(dtype)]


def default_tiny(order: int, dtype: np.dtype) -> float:
    """The default floor of the relative error's denominator, in units of max(1, |L|)."""
    return (_ORDER2_TINY if order == 2 else DEFAULT_TINY)[np.dtype(dtype)]


@dataclass(frozen=True)
class BlockCheck:
    """The worst-checked entry (or direction) of one parameter block."""

    name: str
    index: tuple[int, ...]  # entry index; in mode="random", (direction number,)
    analytic: float
    numeric: float
    rel_error: float
    n_checked: int


@dataclass(frozen=True, eq=False)
class GradcheckReport:
    """Per block, the entry with the largest relative error; see `str(report)` for a table."""

    blocks: dict[str, BlockCheck]
    mode: str
    eps: float
    order: int
    dtype: np.dtype
    tiny: float

    @property
    def max_rel_error(self) -> float:
        return max((b.rel_error for b in self.blocks.values()), default=0.0)

    @property
    def worst(self) -> BlockCheck:
        return max(self.blocks.values(), key=lambda b: b.rel_error)

    def passed(self, rtol: float | None = None) -> bool:
        """Every block within rtol, a number in (0, 1); None: the order's default."""
        if rtol is None:
            rtol = default_rtol(self.order, self.dtype)
        else:
            rtol = v.check_tolerance("rtol", rtol, _RTOL_HINT)
        return self.max_rel_error <= rtol

    def __str__(self) -> str:
        head = (
            f"gradcheck ({self.mode}, order {self.order} central differences, eps={self.eps:g}, "
            f"gradients in {self.dtype}, tiny={self.tiny:g})"
        )
        rows = [
            head,
            f"{'block':<6} {'worst index':<14} {'analytic':>16} {'numeric':>16} {'rel.err':>10} {'n':>6}",
        ]
        for b in self.blocks.values():
            rows.append(
                f"{b.name:<6} {str(b.index):<14} {b.analytic:>16.9e} {b.numeric:>16.9e} "
                f"{b.rel_error:>10.2e} {b.n_checked:>6}"
            )
        return "\n".join(rows)


def _stencil(order: int) -> tuple[tuple[float, float], ...]:
    # (k, w): derivative = Σ w (L(θ + k eps d) - L(θ - k eps d)) / eps. Differences of
    # symmetric pairs first, so a loss that does not move gives exactly 0.
    if order == 2:
        return ((1.0, 1 / 2),)
    if order == 4:
        return ((1.0, 8 / 12), (2.0, -1 / 12))
    return ((1.0, 45 / 60), (2.0, -9 / 60), (3.0, 1 / 60))


def _check_blocks(blocks: object, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if blocks is None:
        return allowed
    if isinstance(blocks, str):  # "W" or "h0": one block, not its characters
        blocks = (blocks,)
    try:
        chosen = tuple(blocks)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"blocks must be a sequence of block names among {', '.join(allowed)}; got {blocks!r}"
        ) from None
    if not chosen:
        raise ValueError(f"blocks is empty; choose at least one of {', '.join(allowed)}")
    unknown = [b for b in chosen if b not in allowed]
    if unknown:
        raise ValueError(
            f"blocks {unknown} unknown for this model; choose from {', '.join(allowed)}"
        )
    return chosen


def gradcheck(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str | None = None,
    head: str | None = None,
    many_to_one: bool | None = None,
    *,
    c0: np.ndarray | None = None,
    model: Model | Mapping[str, object] | str | None = None,
    grads: Mapping[str, np.ndarray] | None = None,
    mode: str = "full",
    blocks: Sequence[str] | None = None,
    eps: float | None = None,
    order: int = 6,
    n_directions: int = 4,
    seed: int = 0,
    tiny: float | None = None,
) -> GradcheckReport:
    """Compare analytic gradients with central finite differences of the loss.

    model (or the legacy activation, head, many_to_one): as for `loss_and_grads`.
    blocks: the names to check, default every one of model.gradient_names() (canonical:
    U, W, V, b, c, h0). h0 and c0 are differentiated at the value given, or at zero (with
    the shape ([B,] n_h)) when None.
    eps: the step; None: DEFAULT_EPS[order] (2e-3 for orders 6 and 4, 5e-6 for order 2).
    tiny: the floor of the relative error's denominator: entries smaller than it are judged
    by their absolute error, |a - n| <= rtol·tiny. None: default_tiny(order, dtype) ·
    max(1, |L|) (see the module docstring). It must be below max(1, |L|), L the loss at the
    point: a floor at the loss's own scale judges every entry absolutely, and a large one
    (1e300) passes any gradient.
    grads: the analytic gradients to check (keys as in `blocks`); default: rnn_num's own
    `loss_and_grads` at the same point, which is how the backward pass is tested.
    mode="full" perturbs every entry; mode="random" checks `n_directions` random directions
    per block (directional derivative ⟨∇L, d⟩ against the difference quotient along d).
    """
    v.check_choice("mode", mode, ("full", "random"))
    if order not in (2, 4, 6):
        raise ValueError(f"order={order!r} is unknown; use 2, 4 or 6 (central differences)")
    if eps is None:
        eps = DEFAULT_EPS[order]
    eps = v.check_positive("eps", eps, " (the finite-difference step, e.g. 2e-3) or None")
    # A check of zero directions or zero blocks would pass without comparing anything.
    n_directions = v.check_count("n_directions", n_directions)
    seed = v.check_seed("seed", seed)
    if tiny is not None:
        tiny = v.check_positive("tiny", tiny, " or None (the default)")
    # Validates everything (params, x, h0, c0, model) and settles the model's h0 option.
    pr = _model._prepare(params, x, h0, c0, model, activation, head, many_to_one)
    m = pr.model
    blocks = _check_blocks(blocks, m.gradient_names())
    if grads is None:
        _, grads = _model.loss_and_grads(params, x, y, h0, c0=c0, model=m)
    missing = [b for b in blocks if b not in grads]
    if missing:
        raise ValueError(f"grads is missing block(s) {', '.join(missing)}")
    # Tolerances follow the precision of the gradients under test.
    single = any(np.asarray(grads[b]).dtype == np.float32 for b in blocks)
    dtype = np.dtype(np.float32) if single else pr.dtype

    # The point, in float64: parameters plus h0 (, c0), zeros of the reported shape when None.
    names = m.block_names()
    point = {k: np.array(params[k], dtype=np.float64) for k in names}
    given = {"h0": h0, "c0": c0}
    for name in m.initial_states:
        value = given[name]
        point[name] = np.zeros(pr.init_shapes[name]) if value is None else np.array(value, float)
    # The loss as a function of the initial states too: h0=zero is the same loss at 0, and
    # the point has the per-sequence shape ((B, n_h), or (n_h,) for unbatched x).
    if m.h0 == "zero":
        m = m.replace(h0="per-sequence")
    x64 = np.asarray(x, dtype=np.float64)
    y_num = np.asarray(y)
    if not np.issubdtype(y_num.dtype, np.integer):
        y_num = y_num.astype(np.float64)
    for name in blocks:
        g = np.asarray(grads[name])
        if g.shape != point[name].shape:
            raise ValueError(
                f"grads['{name}'] has shape {g.shape}; it needs the shape of {name}, {point[name].shape}"
            )

    def loss_at(pt: dict[str, np.ndarray]) -> float:
        p = {k: pt[k] for k in names}
        return _model.compute_loss(p, x64, y_num, pt["h0"], c0=pt.get("c0"), model=m)

    stencil = _stencil(order)
    scale = max(1.0, abs(loss_at(point)))
    if tiny is None:
        tiny = default_tiny(order, dtype) * scale
    elif not tiny < scale:
        raise ValueError(
            f"tiny={tiny!r} is too large: it is the floor of the relative error's denominator "
            f"and must be below max(1, |L|) = {scale:.6g} (L, the loss at this point). Entries "
            "smaller than tiny are judged by |a - n| <= rtol·tiny, so a floor this large judges "
            "every entry that way and can pass any gradient. Fix: tiny=None (the default, "
            f"{default_tiny(order, dtype):g}·max(1, |L|)) or a value far below {scale:.6g}"
        )

    def directional(name: str, direction: np.ndarray) -> float:
        base = point[name]
        total = 0.0
        for k, w in stencil:
            point[name] = base + (k * eps) * direction
            up = loss_at(point)
            point[name] = base - (k * eps) * direction
            total += w * (up - loss_at(point))
        point[name] = base
        return total / eps

    def partial(name: str, idx: tuple[int, ...]) -> float:
        # One entry moved in place: no full-size direction array per entry.
        arr = point[name]
        original = arr[idx]
        total = 0.0
        for k, w in stencil:
            arr[idx] = original + k * eps
            up = loss_at(point)
            arr[idx] = original - k * eps
            total += w * (up - loss_at(point))
        arr[idx] = original
        return total / eps

    rng = np.random.default_rng(seed)
    results: dict[str, BlockCheck] = {}
    for name in blocks:
        g = np.asarray(grads[name], dtype=np.float64)
        base = point[name]
        worst: BlockCheck | None = None
        if mode == "full":
            checks = (
                (idx, g[idx], lambda idx=idx, name=name: partial(name, idx))
                for idx in np.ndindex(base.shape)
            )
            n = base.size
        else:
            dirs = [rng.standard_normal(base.shape) for _ in range(n_directions)]
            checks = (
                ((i,), float(np.sum(g * d)), lambda d=d, name=name: directional(name, d))
                for i, d in enumerate(dirs)
            )
            n = n_directions
        for idx, a, numeric in checks:
            num = numeric()
            rel = abs(a - num) / max(abs(a) + abs(num), tiny)
            if not np.isfinite(rel):  # a NaN or inf gradient is never close
                rel = float("inf")
            if worst is None or rel > worst.rel_error:
                worst = BlockCheck(
                    name, tuple(int(i) for i in idx), float(a), float(num), float(rel), n
                )
        if worst is not None:
            results[name] = worst
    return GradcheckReport(results, mode, float(eps), order, dtype, float(tiny))


def assert_gradients_close(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str | None = None,
    head: str | None = None,
    many_to_one: bool | None = None,
    *,
    rtol: float | None = None,
    **gradcheck_kwargs: object,
) -> GradcheckReport:
    """Run `gradcheck` and raise AssertionError (with the report) if any block exceeds rtol,
    a number in (0, 1) (default: the order's, e.g. 1e-7 for float64 gradients and 1e-3 for
    float32 with the default order 6; see the module docstring). Returns the report. c0=,
    model= and the options of `gradcheck` pass through."""
    if rtol is not None:
        rtol = v.check_tolerance("rtol", rtol, _RTOL_HINT)
    report = gradcheck(params, x, y, h0, activation, head, many_to_one, **gradcheck_kwargs)
    if not report.passed(rtol):
        limit = default_rtol(report.order, report.dtype) if rtol is None else rtol
        raise AssertionError(
            f"gradients differ from finite differences: worst rel. error "
            f"{report.max_rel_error:.3e} > rtol {limit:g} (block {report.worst.name})\n{report}"
        )
    return report
