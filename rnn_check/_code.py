"""Route 3: check a user's backward-pass code against the reference, over a battery of cases.

The battery is chosen so that the usual mistakes cannot hide: T = 1 … 5, n_x, n_h, n_y and
the batch size all different (a missing transpose changes a shape or mixes two axes), W
drawn at random (never symmetric), h_0 nonzero (with h_0 = 0 and T = 1 the gradient of W
is zero and proves nothing), biases nonzero, with and without a batch axis.

The truth is `rnn_num.loss_and_grads`. The diagnosis compares the user's wrong blocks with
the gradients of known mistakes (`_bptt_variants.RULES`, one line each), computed by an
independent NumPy BPTT from the forward values of the same cases.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rnn_check import _bptt_variants as variants
from rnn_check._verdict import BlockError, Counterexample, Status, Verdict

BLOCKS: tuple[str, ...] = variants.BLOCKS
_ACTIVATIONS = ("tanh", "sigmoid", "relu")
_HEADS = ("softmax", "mse")
_SHAPE_OF = {
    "U": "(n_h, n_x)",
    "W": "(n_h, n_h)",
    "V": "(n_y, n_h)",
    "b": "(n_h,)",
    "c": "(n_y,)",
    "h0": "(n_h,)",
}


@dataclass(frozen=True)
class Case:
    """One input of the battery; its arrays are a pure function of these numbers."""

    T: int
    n_x: int
    n_h: int
    n_y: int
    seed: int
    batch: int | None = None  # None: no batch axis
    targets: tuple[int, ...] | None = None  # fixed classes y_1 … y_T instead of random ones

    def describe(self) -> str:
        batch = "no batch" if self.batch is None else f"batch B={self.batch}"
        targets = "" if self.targets is None else f", targets={list(self.targets)}"
        return (
            f"T={self.T}, n_x={self.n_x}, n_h={self.n_h}, n_y={self.n_y}, "
            f"seed={self.seed}, {batch}{targets}"
        )


# Sizes all different from each other, from every T and from the batch size.
_SIZES = ((2, 3, 4), (5, 4, 3))
_BATCH = 7


def default_battery(batch: bool = True, seed: int = 0) -> tuple[Case, ...]:
    """The cases `check_backward` runs: T = 1 … 5 without a batch axis, then with one."""
    seed = _check_seed(seed)
    cases = [Case(T, *_SIZES[T % 2], seed=seed + T) for T in range(1, 6)]
    if batch:
        cases += [
            Case(T, *_SIZES[(T + 1) % 2], seed=seed + 10 + T, batch=_BATCH) for T in (1, 2, 3, 5)
        ]
    return tuple(cases)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def make_case(
    T: int,
    n_x: int,
    n_h: int,
    n_y: int,
    seed: int = 0,
    batch: int | None = None,
    targets: Sequence[int] | None = None,
    head: str = "softmax",
    many_to_one: bool = False,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """The inputs (params, x, y, h0) of one case: reproduce a counterexample with this.

    x has shape (T, n_x) or (T, batch, n_x); h0 has shape (n_h,) and is shared by the whole
    batch. y is what `rnn_num.loss_and_grads` takes for the head and the task: integer
    classes of shape (T,) or (T, batch) for head="softmax" (or the given `targets`, T
    classes, without a batch), float targets (T, [batch,] n_y) for head="mse"; with
    many_to_one=True only the last step's, so without the T axis.
    """
    for name, value in (("T", T), ("n_x", n_x), ("n_h", n_h), ("n_y", n_y)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if batch is not None and (not isinstance(batch, int | np.integer) or batch < 1):
        raise ValueError(f"batch must be None (no batch axis) or a positive integer, got {batch!r}")
    seed = _check_seed(seed)
    _check_task(head, many_to_one)
    if targets is not None and (head != "softmax" or many_to_one):
        raise ValueError(
            "targets fixes the T classes of a many-to-many softmax case; it cannot be given "
            f"with head={head!r}, many_to_one={many_to_one}"
        )
    rng = np.random.default_rng([int(seed), T, n_x, n_h, n_y, batch or 0])
    params = {
        "U": rng.normal(0.0, 0.7, (n_h, n_x)),
        "W": rng.normal(0.0, 0.7, (n_h, n_h)),
        "V": rng.normal(0.0, 0.7, (n_y, n_h)),
        "b": rng.normal(0.0, 0.3, n_h),
        "c": rng.normal(0.0, 0.3, n_y),
    }
    lead = (T,) if batch is None else (T, batch)
    x = rng.normal(0.0, 1.0, (*lead, n_x))
    target_lead = lead[1:] if many_to_one else lead  # many-to-one: the last step's only
    if head == "softmax":
        y = rng.integers(0, n_y, target_lead)
    else:
        y = rng.normal(0.0, 1.0, (*target_lead, n_y))
    h0 = rng.uniform(-0.8, 0.8, n_h)
    if targets is not None:
        y = np.asarray(targets, dtype=int)
        if batch is not None or y.shape != (T,) or not ((0 <= y) & (y < n_y)).all():
            raise ValueError(
                f"targets must be {T} classes in 0 … {n_y - 1} (no batch), got {y.tolist()}"
            )
    return params, x, y, h0


def _check_task(head: object, many_to_one: object) -> None:
    if head not in _HEADS:
        raise ValueError(f"head must be one of {', '.join(_HEADS)}, got {head!r}")
    if not isinstance(many_to_one, bool):
        raise TypeError(f"many_to_one must be True or False, got {many_to_one!r}")


def _copy_inputs(
    case: Case, head: str = "softmax", many_to_one: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    return make_case(
        case.T,
        case.n_x,
        case.n_h,
        case.n_y,
        case.seed,
        case.batch,
        case.targets,
        head=head,
        many_to_one=many_to_one,
    )


def _truth(
    case: Case, activation: str, head: str = "softmax", many_to_one: bool = False
) -> tuple[float, dict[str, np.ndarray]]:
    try:
        from rnn_num import loss_and_grads
    except ImportError as error:  # pragma: no cover - only while rnn_num is being written
        raise RuntimeError("rnn_check needs rnn_num.loss_and_grads as its reference") from error
    params, x, y, h0 = _copy_inputs(case, head, many_to_one)
    try:
        loss, grads = loss_and_grads(
            params, x, y, h0=h0, activation=activation, head=head, many_to_one=many_to_one
        )
    except (TypeError, ValueError) as error:
        raise ValueError(f"cases: the reference cannot run {case.describe()}: {error}") from None
    return float(loss), {k: np.asarray(grads[k], dtype=float) for k in BLOCKS}


def _variant(case: Case, knobs: dict) -> tuple[float, dict[str, np.ndarray]]:
    params, x, y, h0 = _copy_inputs(case)
    if case.batch is None:
        x, y = x[:, None, :], y[:, None]
    h0_rows = np.broadcast_to(h0, (x.shape[1], h0.shape[0]))
    loss, grads = variants.backward(variants.forward(params, x, y, h0_rows), knobs)
    grads["h0"] = grads["h0"].sum(axis=0)  # h0 is shared by the batch
    return loss, grads


# ---------------------------------------------------------------------------- errors


def _relative_errors(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """|a − e| / max(|e|, |a|, 10⁻³·max|e| over the block, 10⁻¹²), entry by entry.

    The floor keeps an entry whose true value is nearly zero from turning rounding noise
    into a large relative error.
    """
    floor = max(1e-3 * float(np.max(np.abs(expected), initial=0.0)), 1e-12)
    scale = np.maximum(np.maximum(np.abs(expected), np.abs(actual)), floor)
    return np.abs(actual - expected) / scale


def _worst(block: str, actual: np.ndarray, expected: np.ndarray) -> BlockError:
    rel = _relative_errors(actual, expected)
    index = np.unravel_index(int(np.argmax(rel)), rel.shape) if rel.size else ()
    return BlockError(
        block=block,
        max_rel_error=float(rel[index]) if rel.size else 0.0,
        index=tuple(int(i) for i in index),
        expected=float(expected[index]) if rel.size else math.nan,
        actual=float(actual[index]) if rel.size else math.nan,
    )


def _matches(actual: np.ndarray, expected: np.ndarray, rtol: float) -> bool:
    return (
        actual.shape == expected.shape
        and float(np.max(_relative_errors(actual, expected), initial=0.0)) <= rtol
    )


# ---------------------------------------------------------------------------- calling the user


class _IllFormed(Exception):
    def __init__(self, summary: str, detail: str) -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {last.filename}:{last.lineno}, in {last.name})"


def _batch_hint(case: Case, head: str, many_to_one: bool) -> str:
    if case.batch is None:
        return ""
    y_shape = ("" if many_to_one else "T, ") + ("B" if head == "softmax" else "B, n_y")
    return (
        f"\nThis case has a batch axis: x is (T, B, n_x), y is ({y_shape}), h0 is (n_h,) "
        "shared by the batch. If your function does not support batches, pass batch=False."
    )


def _call(fn: Callable, case: Case, head: str, many_to_one: bool) -> object:
    params, x, y, h0 = _copy_inputs(case, head, many_to_one)
    try:
        return fn(params, x, y, h0=h0)
    except Exception as error:
        raise _IllFormed(
            f"ILL-FORMED: your function raised {type(error).__name__} on the case {case.describe()}",
            f"{type(error).__name__}: {error}{_where(error)}\n"
            f"It was called as fn(params, x, y, h0=h0) with x of shape {x.shape}, y of shape "
            f"{y.shape}, h0 of shape {h0.shape}." + _batch_hint(case, head, many_to_one),
        ) from error


def _as_array(value: object, what: str, case: Case) -> np.ndarray:
    if value is None:  # NumPy would read None as NaN: say what really happened
        raise _IllFormed(
            f"ILL-FORMED: {what} is None",
            f"{what} is None (a missing return statement?); case {case.describe()}.",
        )
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise _IllFormed(
            f"ILL-FORMED: {what} is not an array of numbers",
            f"{what} is a {type(value).__name__}, which NumPy cannot turn into float numbers "
            f"({error}); case {case.describe()}.",
        ) from None
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise _IllFormed(
            f"ILL-FORMED: {what} holds a non-finite value",
            f"{what}{list(where) if where else ''} is {array[where] if where else array}; "
            f"case {case.describe()}.",
        )
    return array


def _check_shape(
    block: str, array: np.ndarray, wanted: tuple[int, ...], what: str, case: Case
) -> None:
    if array.shape == wanted:
        return
    hint = ""
    if array.shape == wanted[::-1] and len(wanted) == 2:
        hint = (
            " It is the transpose of the right shape: gradients are in denominator layout"
            f" (∇{block} L has the shape of {block}), so transpose it."
        )
    elif block == "h0" and case.batch is not None and array.shape == (case.batch, *wanted):
        hint = " h0 is shared by the batch, so its gradient is summed over the batch."
    raise _IllFormed(
        f"ILL-FORMED: {what} has shape {array.shape}, but {block} has shape {wanted}",
        f"{what} has shape {array.shape}; ∇{block} L must have the shape of {block}, "
        f"{_SHAPE_OF[block]} = {wanted} for the case {case.describe()}.{hint}",
    )


def _wanted_shapes(case: Case) -> dict[str, tuple[int, ...]]:
    return {
        "U": (case.n_h, case.n_x),
        "W": (case.n_h, case.n_h),
        "V": (case.n_y, case.n_h),
        "b": (case.n_h,),
        "c": (case.n_y,),
        "h0": (case.n_h,),
    }


def _user_backward(
    fn: Callable,
    case: Case,
    blocks: Sequence[str],
    check_loss: bool,
    head: str = "softmax",
    many_to_one: bool = False,
):
    out = _call(fn, case, head, many_to_one)
    if not isinstance(out, tuple | list) or len(out) != 2:
        got = f"a {type(out).__name__}" + (
            f" of length {len(out)}" if isinstance(out, tuple | list) else ""
        )
        raise _IllFormed(
            "ILL-FORMED: your function must return (loss, grads)",
            f"It returned {got}; return a pair (loss, grads) where grads maps each of "
            f"{', '.join(BLOCKS)} to its gradient, like rnn_num.loss_and_grads.",
        )
    loss, grads = out
    if not isinstance(grads, Mapping):
        raise _IllFormed(
            "ILL-FORMED: grads must be a mapping from block name to array",
            f"The second value returned is a {type(grads).__name__}; return a dict with keys "
            f"{', '.join(blocks)}.",
        )
    missing = [k for k in blocks if k not in grads]
    if missing:
        raise _IllFormed(
            f"ILL-FORMED: grads has no {', '.join(repr(k) for k in missing)}",
            f"grads has the keys {sorted(map(str, grads))}, but the checked blocks are "
            f"{list(blocks)}. Add the missing gradients, or check fewer blocks with "
            f"blocks={tuple(k for k in blocks if k not in missing)!r}.",
        )
    user_loss = None
    if check_loss:
        loss_array = _as_array(loss, "the loss", case)
        if loss_array.size != 1:
            raise _IllFormed(
                "ILL-FORMED: the loss must be a scalar",
                f"The loss returned has shape {loss_array.shape}; the loss is summed over time"
                " and batch into one number.",
            )
        user_loss = float(loss_array.reshape(()))
    wanted = _wanted_shapes(case)
    user = {}
    for block in blocks:
        array = _as_array(grads[block], f"grads[{block!r}]", case)
        _check_shape(block, array, wanted[block], f"grads[{block!r}]", case)
        user[block] = array
    return user_loss, user


def _user_block(
    fn: Callable, case: Case, block: str, head: str = "softmax", many_to_one: bool = False
) -> np.ndarray:
    out = _call(fn, case, head, many_to_one)
    array = _as_array(out, f"the value returned for ∇{block}", case)
    _check_shape(
        block, array, _wanted_shapes(case)[block], f"the value returned for ∇{block}", case
    )
    return array


# ---------------------------------------------------------------------------- diagnosis


def _scale_diagnosis(runs: list[tuple[Case, np.ndarray, np.ndarray]], rtol: float) -> list[str]:
    """Recognise a block that is the true one times a factor, transposed, zero, or clipped."""
    if all(_matches(actual, expected, max(rtol, 1e-3)) for _, actual, expected in runs):
        return [
            "agrees only to about single precision: computed in float32? pass rtol=1e-3 for float32"
        ]
    if all(not np.any(actual) for _, actual, _ in runs):
        return ["zero everywhere: this gradient is never accumulated"]
    factors = []
    for _, actual, expected in runs:
        denom = float(np.vdot(expected, expected))
        if denom == 0.0:
            continue
        s = float(np.vdot(actual, expected)) / denom
        if not _matches(actual, s * expected, max(rtol, 1e-9)):
            factors = None
            break
        factors.append(s)
    found = []
    if factors:
        if all(abs(s - 1.0) <= 1e-9 for s in factors):
            pass
        elif all(abs(s - factors[0]) <= 1e-6 * abs(factors[0]) for s in factors):
            found.append(f"the true value times a constant factor {factors[0]:.6g}")
        elif all(0.0 < s <= 1.0 + 1e-12 for s in factors):
            found.append(
                "the true gradient scaled down by a factor"
                f" that changes from case to case "
                f"({min(factors):.3g} … {max(factors):.3g}): looks like gradient clipping by norm; "
                "return the raw gradient and clip in the optimiser"
            )
    if all(
        actual.ndim == 2
        and actual.shape[0] == actual.shape[1]
        and _matches(actual, expected.T, max(rtol, 1e-9))
        for _, actual, expected in runs
    ):
        found.append(
            "transposed: gradients are in denominator layout (∇W L has the shape of W, entry [i, j] is ∂L/∂W_ij)"
        )
    clipped = []
    for _, actual, expected in runs:
        bound = float(np.max(np.abs(actual), initial=0.0))
        clipped.append(
            bound > 0.0
            and _matches(actual, np.clip(expected, -bound, bound), max(rtol, 1e-9))
            and float(np.max(np.abs(expected), initial=0.0)) > bound * (1 + 1e-6)
        )
    if any(clipped) and all(
        c or _matches(actual, expected, rtol)
        for c, (_, actual, expected) in zip(clipped, runs, strict=True)
    ):
        found.append("entries clipped to a bound (elementwise gradient clipping)")
    return found


def _block_name(block: str) -> str:
    return "the loss" if block == "loss" else f"∇{block}"


def _diagnose(
    observed: dict[str, list[tuple[Case, np.ndarray, np.ndarray]]], rtol: float, rules: bool = True
) -> tuple[str, ...]:
    """Rules whose block equals the user's block on every case, for each wrong block.

    One line per recognised mistake, naming the wrong blocks it explains. rules=False skips
    the table of BPTT mistakes (it describes tanh networks with a softmax output at every
    step) and keeps the checks that need no model: a factor, a transpose, zero, clipping.
    """
    cases = [case for case, _, _ in next(iter(observed.values()))]
    tolerance = max(rtol, 1e-7)
    mutants = [
        (rule, [_variant(case, rule.knobs) for case in cases])
        for rule in (variants.RULES if rules else ())
    ]
    explained: dict[str, list[str]] = {}
    for block, runs in observed.items():
        if all(_matches(actual, expected, rtol) for _, actual, expected in runs):
            continue
        hits = []
        for rule, outputs in mutants:
            values = [
                np.asarray(loss) if block == "loss" else grads[block] for loss, grads in outputs
            ]
            pairs = zip(runs, values, strict=True)
            if all(_matches(actual, value, tolerance) for (_, actual, _), value in pairs):
                hits.append(rule.description)
        for description in hits or _scale_diagnosis(runs, rtol):
            explained.setdefault(description, []).append(_block_name(block))
    # One mistake explaining more of the wrong blocks beats one explaining a part of them.
    kept = {
        description: blocks
        for description, blocks in explained.items()
        if not any(set(blocks) < set(other) for other in explained.values())
    }
    return tuple(
        f"{description} (explains {', '.join(blocks)})" for description, blocks in kept.items()
    )


# ---------------------------------------------------------------------------- verdicts


def _summarise(
    observed: dict[str, list[tuple[Case, np.ndarray, np.ndarray]]],
    rtol: float,
    subject: str,
    extra: dict,
    rules: bool = True,
) -> Verdict:
    errors = []
    for block, runs in observed.items():
        worst = max(
            (_worst(block, actual, expected) for _, actual, expected in runs),
            key=lambda e: e.max_rel_error,
        )
        errors.append(worst)
    wrong = [e for e in errors if not e.max_rel_error <= rtol]
    if not wrong:
        largest = max(errors, key=lambda e: e.max_rel_error)
        return Verdict(
            Status.CORRECT,
            f"CORRECT: {subject} agrees with the reference on {extra['cases']} case{'s' if extra['cases'] != 1 else ''} "
            f"({extra['battery']}); largest relative error {largest.max_rel_error:.2g} ({largest.block}).",
            errors=tuple(errors),
            extra=extra,
        )
    # The counterexample: the first (smallest) case that fails, at its worst block.
    counterexample = None
    n_cases = len(next(iter(observed.values())))
    for i in range(n_cases):
        failing = [
            _worst(block, runs[i][1], runs[i][2])
            for block, runs in observed.items()
            if not _matches(runs[i][1], runs[i][2], rtol)
        ]
        if failing:
            case = next(iter(observed.values()))[i][0]
            bad = max(failing, key=lambda e: e.max_rel_error)
            counterexample = Counterexample(
                case.T,
                case.n_x,
                case.n_h,
                case.n_y,
                case.seed,
                case.batch,
                bad.block,
                bad.index,
                bad.expected,
                bad.actual,
            )
            break
    diagnosis = _diagnose(observed, rtol, rules)
    extra = {**extra, "inputs": "rnn_check.make_case"}  # how to rebuild the counterexample
    names = ", ".join(_block_name(e.block) for e in wrong)
    first = max(wrong, key=lambda e: e.max_rel_error)
    return Verdict(
        Status.WRONG,
        f"WRONG: {names} {'differs' if len(wrong) == 1 else 'differ'} from the true value "
        f"(largest relative error {first.max_rel_error:.3g} in {first.block}).",
        errors=tuple(errors),
        counterexample=counterexample,
        diagnosis=diagnosis,
        extra=extra,
    )


def _validate_common(
    fn: object,
    rtol: object,
    activation: object,
    cases: object,
    batch: object,
    head: object = "softmax",
    many_to_one: object = False,
) -> tuple[Case, ...]:
    if not callable(fn):
        raise TypeError(
            f"fn must be a callable like rnn_num.loss_and_grads(params, x, y, h0=None), got a {type(fn).__name__}"
        )
    if isinstance(rtol, bool) or not isinstance(rtol, int | float) or not 0 < rtol < 1:
        raise ValueError(
            f"rtol must be a number in (0, 1), got {rtol!r}; use 1e-6 for float64, 1e-3 for float32"
        )
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got {activation!r}")
    if not isinstance(batch, bool):
        raise TypeError(f"batch must be True or False, got {batch!r}")
    _check_task(head, many_to_one)
    if cases is None:
        return default_battery(batch)
    if isinstance(cases, Case):
        cases = (cases,)
    if not isinstance(cases, Iterable) or isinstance(cases, str):
        raise TypeError(
            "cases must be a sequence of rnn_check.Case (or None for the default battery)"
        )
    cases = tuple(cases)
    if not cases or not all(isinstance(c, Case) for c in cases):
        raise TypeError(
            "cases must be a non-empty sequence of rnn_check.Case (or None for the default battery)"
        )
    for case in cases:
        _copy_inputs(case, head, many_to_one)  # validates the sizes (and fixed targets)
    return cases


def _task_extra(activation: str, head: str, many_to_one: bool) -> dict:
    """What the verdict records of the task (in `extra`), for the report and the recipe."""
    return {"activation": activation, "head": head, "many_to_one": many_to_one}


def _rules_apply(activation: str, head: str, many_to_one: bool) -> bool:
    # The rule table (`_bptt_variants`) describes tanh networks with a softmax output and a
    # target at every step; for other tasks only the model-free diagnoses are tried.
    return activation == "tanh" and head == "softmax" and not many_to_one


def _battery_text(cases: Sequence[Case]) -> str:
    Ts = sorted({c.T for c in cases})
    batch = any(c.batch is not None for c in cases)
    unbatched = any(c.batch is None for c in cases)
    which = "batch and no batch" if batch and unbatched else ("batch only" if batch else "no batch")
    return f"T = {', '.join(map(str, Ts))}; {which}"


def check_backward(
    fn: Callable,
    *,
    blocks: Sequence[str] | None = None,
    check_loss: bool = True,
    batch: bool = True,
    rtol: float = 1e-6,
    activation: str = "tanh",
    cases: Sequence[Case] | None = None,
    head: str = "softmax",
    many_to_one: bool = False,
) -> Verdict:
    """Check a backward pass with the signature of `rnn_num.loss_and_grads`.

    fn(params, x, y, h0=h0) must return (loss, grads): the loss summed over time and batch
    and a mapping with the gradients U, W, V, b, c, h0, each of the shape of its parameter.
    It is called on every case of the battery (`default_battery`), with fresh copies of the
    inputs. `blocks` limits the blocks checked (default: all six); `batch=False` leaves out
    the cases with a batch axis, for functions that only take x of shape (T, n_x); `rtol`
    bounds the relative error of every entry (1e-6 suits float64, use about 1e-3 for
    float32); `activation` names the hidden nonlinearity the function implements. `head`
    ("softmax" with cross-entropy, or "mse": linear outputs and ½‖o − y‖²) and `many_to_one`
    (one target, at the last step) choose the task, as in `rnn_num.loss_and_grads`; y is
    then given in that task's format (see `make_case`). The table of known BPTT mistakes
    describes tanh networks with a softmax target at every step; for other tasks the
    diagnosis recognises only a factor, a transpose, zero or clipping.
    """
    cases = _validate_common(fn, rtol, activation, cases, batch, head, many_to_one)
    if blocks is None:
        blocks = BLOCKS
    if isinstance(blocks, str):
        blocks = (blocks,)
    try:
        blocks = tuple(blocks)
    except TypeError:
        raise TypeError(
            f"blocks must be a sequence of block names among {', '.join(BLOCKS)}, "
            f'e.g. ("U", "W"); got {blocks!r}'
        ) from None
    unknown = [b for b in blocks if b not in BLOCKS]
    if unknown or not blocks:
        raise ValueError(
            f"blocks must be a non-empty selection of {', '.join(BLOCKS)}; got {list(blocks)}"
        )
    if not isinstance(check_loss, bool):
        raise TypeError(f"check_loss must be True or False, got {check_loss!r}")
    extra = {
        "cases": len(cases),
        "battery": _battery_text(cases),
        "rtol": rtol,
        "blocks": list(blocks),
        **_task_extra(activation, head, many_to_one),
    }
    observed: dict[str, list] = {name: [] for name in (("loss",) if check_loss else ()) + blocks}
    for case in cases:
        try:
            user_loss, user = _user_backward(fn, case, blocks, check_loss, head, many_to_one)
        except _IllFormed as problem:
            return Verdict(
                Status.ILL_FORMED,
                problem.summary,
                detail=problem.detail,
                extra={**extra, "case": case.describe()},
            )
        true_loss, true = _truth(case, activation, head, many_to_one)
        if check_loss:
            observed["loss"].append((case, np.asarray(user_loss), np.asarray(true_loss)))
        for block in blocks:
            observed[block].append((case, user[block], true[block]))
    rules = _rules_apply(activation, head, many_to_one)
    return _summarise(observed, rtol, "your backward pass", extra, rules=rules)


def check_block(
    fn: Callable,
    block: str,
    *,
    batch: bool = True,
    rtol: float = 1e-6,
    activation: str = "tanh",
    cases: Sequence[Case] | None = None,
    head: str = "softmax",
    many_to_one: bool = False,
) -> Verdict:
    """Check a function that computes one gradient block.

    fn(params, x, y, h0=h0) must return ∇_block L, an array of the shape of the block
    (`block` is one of U, W, V, b, c, h0), for the same battery and options as
    `check_backward`.
    """
    if not isinstance(block, str) or block not in BLOCKS:
        raise ValueError(f"block must be one of {', '.join(BLOCKS)}, got {block!r}")
    cases = _validate_common(fn, rtol, activation, cases, batch, head, many_to_one)
    extra = {
        "cases": len(cases),
        "battery": _battery_text(cases),
        "rtol": rtol,
        "blocks": [block],
        **_task_extra(activation, head, many_to_one),
    }
    runs = []
    for case in cases:
        try:
            actual = _user_block(fn, case, block, head, many_to_one)
        except _IllFormed as problem:
            return Verdict(
                Status.ILL_FORMED,
                problem.summary,
                detail=problem.detail,
                extra={**extra, "case": case.describe()},
            )
        runs.append((case, actual, _truth(case, activation, head, many_to_one)[1][block]))
    rules = _rules_apply(activation, head, many_to_one)
    return _summarise({block: runs}, rtol, f"your ∇{block}", extra, rules=rules)


# ---------------------------------------------------------------------------- text


def format_verdict(verdict: Verdict) -> str:
    """The verdict as text for people: summary, per-block errors, counterexample, diagnosis."""
    if not isinstance(verdict, Verdict):
        raise TypeError(
            f"format_verdict takes the Verdict a check returned, got a {type(verdict).__name__}"
        )
    lines = [verdict.summary]
    if verdict.detail:
        lines += ["", verdict.detail]
    if verdict.errors:
        lines += [
            "",
            f"{'block':<6} {'max rel. error':>14}  {'worst entry':<12} {'expected':>14} {'actual':>14}",
        ]
        for e in verdict.errors:
            entry = f"{e.block}{list(e.index)}" if e.index else e.block
            lines.append(
                f"{e.block:<6} {e.max_rel_error:>14.3g}  {entry:<12} {e.expected:>14.8g} {e.actual:>14.8g}"
            )
    cx = verdict.counterexample
    if cx is not None:
        batch = "no batch" if cx.batch is None else f"batch={cx.batch}"
        entry = f"{cx.block}{list(cx.index)}" if cx.index else cx.block
        fixed = verdict.extra.get("targets")
        targets = "" if fixed is None else f", targets={list(fixed)}"
        if verdict.extra.get("head", "softmax") != "softmax":
            targets += f", head={verdict.extra['head']!r}"
        if verdict.extra.get("many_to_one"):
            targets += ", many_to_one=True"
        lines += [
            "",
            f"Counterexample: T={cx.T}, n_x={cx.n_x}, n_h={cx.n_h}, n_y={cx.n_y}, seed={cx.seed}, {batch}:",
            f"  {entry} should be {cx.expected:.10g}, got {cx.actual:.10g}",
        ]
        if verdict.extra.get("inputs") == "rnn_check.make_case":  # other routes draw their own
            lines.append(
                f"  inputs: rnn_check.make_case(T={cx.T}, n_x={cx.n_x}, n_h={cx.n_h}, n_y={cx.n_y}, "
                f"seed={cx.seed}, batch={cx.batch}{targets})"
            )
    if verdict.diagnosis:
        lines += ["", "Diagnosis:"] + [f"  - {d}" for d in verdict.diagnosis]
    elif verdict.status is Status.WRONG:
        lines += ["", "Diagnosis: no known mistake matches; compare the counterexample by hand."]
    return "\n".join(lines)
