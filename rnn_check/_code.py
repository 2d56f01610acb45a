"""Route 3: check a user's backward pass against the reference, over a battery of cases.

The battery is chosen so that the usual mistakes cannot hide: T = 1 … 5, n_x, n_h, n_y and
the batch size all different (a missing transpose changes a shape or mixes two axes), W
drawn at random (never symmetric), h_0 nonzero (with h_0 = 0 and T = 1 the gradient of W
is zero and proves nothing), biases nonzero, with and without a batch axis.

The model (`rnn_spec.Model`, a mapping or the CLI text `cell=lstm,biases=torch`) fixes the
blocks, the targets, the initial states and how the function is called; without one, the
legacy keywords (activation=, head=, many_to_one=) describe an Elman model whose h0 is one
(n_h,) vector shared by the batch, as this checker always did.

The truth is `rnn_num.loss_and_grads`, bound when this module is imported (a test's
`mock.patch("rnn_num.loss_and_grads", ...)` cannot become the checker's truth). Whatever the
user's function returns is copied at once (it may reuse its buffers from call to call) and
must be real numbers; a case is checked against MEMORY_BUDGET before it is drawn. The
diagnosis compares the user's wrong blocks with the gradients of known mistakes, computed by
independent NumPy implementations from the same cases: `_bptt_variants.RULES` for the
canonical model, `_gated_variants.RULES` for every other model (the LSTM, the GRU, the
Elman variants).
"""

from __future__ import annotations

import inspect
import math
import pathlib
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rnn_check import _bptt_variants as variants
from rnn_check import _gated_variants as gated
from rnn_check._verdict import BlockError, Counterexample, Status, Verdict
from rnn_num._model import loss_and_grads as _reference_loss_and_grads
from rnn_num._validate import check_tolerance
from rnn_spec import Model, parse_model

BLOCKS: tuple[str, ...] = variants.BLOCKS
_ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
_HEADS = ("softmax", "mse")
_HEAD_OF = {"softmax": "softmax-ce", "mse": "mse"}
# The model the legacy keywords always described: h0 one (n_h,) vector shared by the batch.
_LEGACY = Model(h0="shared")
_ROLE_SHAPE = {
    "input": "(n_h, n_x)",
    "recurrent": "(n_h, n_h)",
    "output": "(n_y, n_h)",
    "bias": "(n_h,)",
    "output-bias": "(n_y,)",
}


@dataclass(frozen=True)
class _Setting:
    """The model a check is about, and whether the caller named it (model=) or described
    it with the legacy keywords (the counterexample's recipe repeats what was given)."""

    model: Model
    given: bool = False

    @property
    def old_table(self) -> bool:
        # _bptt_variants describes exactly the canonical model with a shared h0
        return self.model == _LEGACY

    @property
    def cell_state(self) -> bool:
        return "c0" in self.model.initial_states


def _resolve(
    model: object = None,
    activation: object = None,
    head: object = None,
    many_to_one: object = None,
) -> _Setting:
    """The model from model= or from the legacy keywords; both given must agree."""
    if activation is not None and activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got {activation!r}")
    if head is not None and head not in _HEADS:
        raise ValueError(
            f"head must be one of {', '.join(_HEADS)}, got {head!r}"
            " (other heads: model='head=generic' or 'head=given', see docs/models.md)"
        )
    if many_to_one is not None and not isinstance(many_to_one, bool):
        raise TypeError(f"many_to_one must be True or False, got {many_to_one!r}")
    if model is None:
        return _Setting(
            _LEGACY.replace(
                activation=activation or "tanh",
                head=_HEAD_OF[head or "softmax"],
                task="many-to-one" if many_to_one else "many-to-many",
            )
        )
    if not isinstance(model, Model | Mapping | str):
        raise TypeError(
            "model must be an rnn_spec.Model, a mapping of its keys, or the text "
            f"'cell=lstm,biases=torch' (docs/models.md); got a {type(model).__name__}"
        )
    m = parse_model(model)  # a ModelError (a ValueError) names the key, the value and the fix
    conflicts = []
    if activation is not None and m.activation != activation:
        has = "no activation (a gated cell)" if m.activation is None else m.activation
        conflicts.append(f"activation={activation!r} (the model has {has})")
    if head is not None and (m.head != _HEAD_OF[head] or (head == "mse" and m.mse_scale != "half")):
        conflicts.append(f"head={head!r} (the model has head={m.head})")
    if many_to_one is not None and many_to_one != (m.task == "many-to-one"):
        conflicts.append(f"many_to_one={many_to_one} (the model has task={m.task_text})")
    elif many_to_one is False and m.task != "many-to-many":
        conflicts.append(f"many_to_one=False (the model has task={m.task_text})")
    if conflicts:
        raise ValueError(
            f"{'; '.join(conflicts)} conflicts with model={str(m)!r}. Fix: drop the keyword "
            "and say it in the model (keys activation, head, task), or drop model="
        )
    return _Setting(m, given=True)


def _model_text(model: Model) -> str:
    """The shortest text parse_model reads back as this model."""
    short = model.short()
    return str(model) if short == "canonical" else short


@dataclass(frozen=True)
class Case:
    """One input of the battery; its arrays are a pure function of these numbers (and of
    the model of the check: `make_case(..., model=)`)."""

    T: int
    n_x: int
    n_h: int
    n_y: int  # not used by a model without an output layer (head=given)
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


def default_battery(
    batch: bool = True, seed: int = 0, model: Model | Mapping | str | None = None
) -> tuple[Case, ...]:
    """The cases `check_backward` runs: T = 1 … 5 without a batch axis, then with one.

    For task=step=K the lengths are K … K + 4 (the loss step must exist; longer sequences
    show a loss taken at the wrong step)."""
    seed = _check_seed(seed)
    m = _resolve(model).model
    first = m.step if m.task == "step" else 1
    cases = [Case(first - 1 + T, *_SIZES[T % 2], seed=seed + T) for T in range(1, 6)]
    if batch:
        cases += [
            Case(first - 1 + T, *_SIZES[(T + 1) % 2], seed=seed + 10 + T, batch=_BATCH)
            for T in (1, 2, 3, 5)
        ]
    return tuple(cases)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# The most memory one case may need, in bytes. The battery's cases need kilobytes; a case
# above this is a mistake (T = 10**9) and is refused before anything is allocated.
MEMORY_BUDGET = 2**30


def _check_sizes(
    T: object, n_x: object, n_h: object, n_y: object, batch: object, seed: object
) -> tuple[int, int, int, int, int | None, int]:
    """The sizes of a case as Python ints (NumPy integers accepted), or one ValueError."""
    for name, value in (("T", T), ("n_x", n_x), ("n_h", n_h), ("n_y", n_y)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if batch is not None and (
        isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1
    ):
        raise ValueError(f"batch must be None (no batch axis) or a positive integer, got {batch!r}")
    return (
        int(T),
        int(n_x),
        int(n_h),
        int(n_y),
        None if batch is None else int(batch),
        _check_seed(seed),
    )


def _case_bytes(m: Model, T: int, n_x: int, n_h: int, n_y: int, batch: int | None) -> int:
    """An estimate of the bytes one case needs (float64), from its sizes alone (exact ints,
    so no size can overflow it)."""
    rows = T * (batch or 1)
    n_out = n_y if m.has_output_layer else 0
    params = sum(
        math.prod(b.shape) for b in m.blocks(n_x, n_h, n_y if m.has_output_layer else None)
    )
    target = n_h if m.head == "given" else 1 if m.head == "softmax-ce" else n_y
    # per step and sequence: x_t, the target, the states and the gate values (a_t for an
    # Elman cell), o_t and ŷ_t; the backward pass holds an adjoint of each of them too
    hidden = (len(m.states) + max(len(m.gates), 1)) * n_h
    per_row = n_x + target + 2 * (hidden + 2 * n_out)
    initial = len(m.initial_states) * (batch or 1) * n_h
    return 8 * (rows * per_row + 2 * params + 2 * initial)  # + the gradients of all of them


def case_bytes(
    T: int,
    n_x: int,
    n_h: int,
    n_y: int,
    batch: int | None = None,
    model: Model | Mapping | str | None = None,
) -> int:
    """The estimate of the memory (bytes) a case of these sizes needs, which the checker
    compares with MEMORY_BUDGET before it draws the case: x, the targets, the parameters,
    the states of all T steps, their adjoints and the gradients, in float64."""
    T, n_x, n_h, n_y, batch, _ = _check_sizes(T, n_x, n_h, n_y, batch, 0)
    return _case_bytes(_resolve(model).model, T, n_x, n_h, n_y, batch)


def _bytes_text(n: int) -> str:
    if n.bit_length() > 1000:  # beyond a float: the power of ten says it
        return f"10^{int(math.log10(n))} bytes"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.3g} {unit}"
    return f"{n} bytes"


def _check_budget(m: Model, T: int, n_x: int, n_h: int, n_y: int, batch: int | None) -> None:
    need = _case_bytes(m, T, n_x, n_h, n_y, batch)
    if need > MEMORY_BUDGET:
        raise ValueError(
            f"this case needs about {_bytes_text(need)} (x, targets, parameters, the states "
            "of all T steps and the gradients, float64), above the checker's memory budget of "
            f"{_bytes_text(MEMORY_BUDGET)} (rnn_check._code.MEMORY_BUDGET). Fix: use smaller "
            "T/sizes; the checker needs only small cases (its battery has T <= 5, sizes <= 5 "
            f"and batch {_BATCH})"
        )


def make_case(
    T: int,
    n_x: int,
    n_h: int,
    n_y: int,
    seed: int = 0,
    batch: int | None = None,
    targets: Sequence[int] | None = None,
    head: str | None = None,
    many_to_one: bool | None = None,
    model: Model | Mapping | str | None = None,
) -> tuple:
    """The inputs (params, x, y, h0) of one case — (params, x, y, h0, c0) for a model with
    a cell state (the LSTM): reproduce a counterexample with this.

    params has the model's blocks (`model.block_names()`); x has shape (T, n_x) or
    (T, batch, n_x). y is what `rnn_num.loss_and_grads` takes for the head and the task:
    integer classes (T,) or (T, batch) for softmax cross-entropy (or the given `targets`, T
    classes, without a batch), float targets (T, [batch,] n_y) for mse, ∇_{o_t} l of the
    same shape for head=generic, ∂L/∂h_t (T, [batch,] n_h) for head=given; with
    task=many-to-one or step=K only that step's, so without the T axis. h0 (and c0) follow
    the model's h0 option: None (zero), (n_h,) (shared, the legacy keywords' choice), or
    (batch, n_h) (per-sequence; (n_h,) without a batch). n_y is unused for head=given.
    """
    T, n_x, n_h, n_y, batch, seed = _check_sizes(T, n_x, n_h, n_y, batch, seed)
    setting = _resolve(model, None, head, many_to_one)
    _check_budget(setting.model, T, n_x, n_h, n_y, batch)  # before anything is allocated
    return _draw(setting.model, T, n_x, n_h, n_y, seed, batch, targets)


def _draw(
    m: Model,
    T: int,
    n_x: int,
    n_h: int,
    n_y: int,
    seed: int,
    batch: int | None,
    targets: Sequence[int] | None,
) -> tuple:
    m.loss_steps(T)  # a ModelError when step=K is beyond T
    if targets is not None and (m.head != "softmax-ce" or m.task != "many-to-many"):
        raise ValueError(
            "targets fixes the T classes of a many-to-many softmax case; it cannot be given "
            f"with head={m.head}, task={m.task_text}"
        )
    rng = np.random.default_rng([int(seed), T, n_x, n_h, n_y, batch or 0])
    # Block order and distributions as they always were for the canonical U, W, V, b, c, so
    # that the legacy cases (and every recipe printed so far) keep their numbers.
    params = {
        block.name: rng.normal(0.0, 0.3 if "bias" in block.role else 0.7, block.shape)
        for block in m.blocks(n_x, n_h, n_y if m.has_output_layer else None)
    }
    lead = (T,) if batch is None else (T, batch)
    x = rng.normal(0.0, 1.0, (*lead, n_x))
    target_lead = lead if m.task == "many-to-many" else lead[1:]
    if m.head == "softmax-ce":
        y = rng.integers(0, n_y, target_lead)
    elif m.head == "given":
        y = rng.normal(0.0, 1.0, (*lead, n_h))
    else:
        y = rng.normal(0.0, 1.0, (*target_lead, n_y))
    states = []
    for _ in m.initial_states:
        if m.h0 == "zero":
            states.append(None)
        elif m.h0 == "shared" or batch is None:
            states.append(rng.uniform(-0.8, 0.8, n_h))
        else:
            states.append(rng.uniform(-0.8, 0.8, (batch, n_h)))
    if targets is not None:
        y = np.asarray(targets, dtype=int)
        if batch is not None or y.shape != (T,) or not ((0 <= y) & (y < n_y)).all():
            raise ValueError(
                f"targets must be {T} classes in 0 … {n_y - 1} (no batch), got {y.tolist()}"
            )
    return (params, x, y, *states)


def _inputs(case: Case, setting: _Setting) -> tuple:
    return _draw(
        setting.model,
        case.T,
        case.n_x,
        case.n_h,
        case.n_y,
        case.seed,
        case.batch,
        case.targets,
    )


def _copy_inputs(
    case: Case, head: str = "softmax", many_to_one: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """The legacy (params, x, y, h0) of a case (the SymPy route reads these)."""
    return _inputs(case, _resolve(None, None, head, many_to_one))


def _legacy_keywords(m: Model) -> dict | None:
    """rnn_num's old keywords for a model they can say, None otherwise."""
    if (
        m.cell == "rnn"
        and m.activation in ("tanh", "sigmoid", "relu")
        and m.biases == "both"
        and (m.head == "softmax-ce" or (m.head == "mse" and m.mse_scale == "half"))
        and m.task in ("many-to-many", "many-to-one")
        and m.reduction == "sum"
        and m.h0 == "shared"
    ):
        return {
            "activation": m.activation,
            "head": "softmax" if m.head == "softmax-ce" else "mse",
            "many_to_one": m.task == "many-to-one",
        }
    return None


def _reference(case: Case, setting: _Setting) -> tuple[float, dict[str, np.ndarray]]:
    """rnn_num's loss and gradients (keyed by the model's gradient names) on one case."""
    loss_and_grads = _reference_loss_and_grads  # bound at import: patching rnn_num cannot reach it
    m = setting.model
    params, x, y, h0, *rest = _inputs(case, setting)
    legacy = _legacy_keywords(m)
    try:
        if legacy is not None:  # the models rnn_num always knew: the very same call as ever
            loss, grads = loss_and_grads(params, x, y, h0=h0, **legacy)
        else:
            extra = {"c0": rest[0]} if rest else {}
            loss, grads = loss_and_grads(params, x, y, h0=h0, model=m, **extra)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cases: the reference cannot run {case.describe()}: {error}") from None
    except NotImplementedError as error:  # an installation without that cell's kernel
        raise RuntimeError(
            f"rnn_num cannot compute the reference for model={_model_text(m)!r}: {error}"
        ) from None
    # copies: the comparison runs after all cases, so nothing kept may be shared
    return float(loss), {k: np.array(grads[k], dtype=float) for k in m.gradient_names()}


def _truth(
    case: Case, activation: str, head: str = "softmax", many_to_one: bool = False
) -> tuple[float, dict[str, np.ndarray]]:
    """The legacy reference (the SymPy route reads it)."""
    return _reference(case, _resolve(None, activation, head, many_to_one))


def _variant(case: Case, knobs: dict) -> tuple[float, dict[str, np.ndarray]]:
    """The canonical model's mistake table (`_bptt_variants`) on one case."""
    params, x, y, h0 = _copy_inputs(case)
    if case.batch is None:
        x, y = x[:, None, :], y[:, None]
    h0_rows = np.broadcast_to(h0, (x.shape[1], h0.shape[0]))
    loss, grads = variants.backward(variants.forward(params, x, y, h0_rows), knobs)
    grads["h0"] = grads["h0"].sum(axis=0)  # h0 is shared by the batch
    return loss, grads


def _model_variant(
    case: Case, setting: _Setting, knobs: dict
) -> tuple[float, dict[str, np.ndarray]] | None:
    """Every other model's mistake table (`_gated_variants`) on one case; None where the
    mistake cannot happen on this case (a loss step beyond T)."""
    params, x, y, h0, *rest = _inputs(case, setting)
    try:
        return gated.variant(setting.model, params, x, y, h0, rest[0] if rest else None, knobs)
    except gated.NotApplicable:
        return None


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


# frames in these folders are not the user's: the checker's own and NumPy's internals
_NOT_YOURS = (str(pathlib.Path(__file__).resolve().parent), str(pathlib.Path(np.__file__).parent))


def _where(error: BaseException) -> str:
    """The user's own frames of a traceback (the checker's are left out), innermost last."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not str(pathlib.Path(f.filename).resolve()).startswith(_NOT_YOURS)
    ]
    if not frames:
        return ""
    lines = [
        f"  {f.filename}:{f.lineno}, in {f.name}" + (f": {f.line}" if f.line else "")
        for f in frames[-3:]
    ]
    return "\nin your code:\n" + "\n".join(lines)


def _signature_problem(fn: Callable, setting: _Setting) -> str | None:
    """Why fn cannot take the checker's call at all, from its signature; None if it can."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or C function: let the call say
        return None
    keywords = {"h0": None, "c0": None} if setting.cell_state else {"h0": None}
    try:
        signature.bind(None, None, None, **keywords)
    except TypeError as error:
        name = getattr(fn, "__name__", "fn")
        extra = ", c0=None" if setting.cell_state else ""
        return (
            f"the signature {name}{signature} cannot take the call {_call_text(setting)} "
            f"({error}). Fix: give it the parameters (params, x, y, h0=None{extra}), or wrap it, "
            f"e.g. lambda params, x, y, h0=None{extra}: {name}(params, x, y)"
        )
    return None


def _y_text(m: Model, batched: bool) -> str:
    axes = [] if m.task != "many-to-many" and m.head != "given" else ["T"]
    if batched:
        axes.append("B")
    if m.head == "given":
        axes.append("n_h")
    elif m.head != "softmax-ce":
        axes.append("n_y")
    return f"({', '.join(axes)})" if axes else "()"


def _state_text(m: Model, batched: bool) -> str:
    names = " and ".join(m.initial_states)
    if m.h0 == "zero":
        return f"{names} None (zero)"
    if m.h0 == "shared":
        return f"{names} (n_h,) shared by the batch"
    return f"{names} ({'B, ' if batched else ''}n_h,) per sequence"


def _call_text(setting: _Setting) -> str:
    return "fn(params, x, y, h0=h0, c0=c0)" if setting.cell_state else "fn(params, x, y, h0=h0)"


def _batch_hint(case: Case, setting: _Setting) -> str:
    if case.batch is None:
        return ""
    m = setting.model
    return (
        f"\nThis case has a batch axis: x is (T, B, n_x), y is {_y_text(m, True)}, "
        f"{_state_text(m, True)}. If your function does not support batches, pass batch=False."
    )


def _shape_of(value: object) -> str:
    return "None" if value is None else str(np.shape(value))


def _call(fn: Callable, case: Case, setting: _Setting) -> object:
    params, x, y, h0, *rest = _inputs(case, setting)
    try:
        if setting.cell_state:
            return fn(params, x, y, h0=h0, c0=rest[0])
        return fn(params, x, y, h0=h0)
    except Exception as error:
        problem = _signature_problem(fn, setting) if isinstance(error, TypeError) else None
        if problem is not None:
            raise _IllFormed(
                "ILL-FORMED: your function's signature does not fit the checker's call",
                problem,
            ) from error
        states = f"h0 {_shape_of(h0)}" + (f", c0 {_shape_of(rest[0])}" if rest else "")
        raise _IllFormed(
            f"ILL-FORMED: your function raised {type(error).__name__} on the case {case.describe()}",
            f"{type(error).__name__}: {error}{_where(error)}\n"
            f"It was called as {_call_text(setting)} with x of shape {x.shape}, y of shape "
            f"{y.shape}, {states} (model {_model_text(setting.model)})."
            + _batch_hint(case, setting),
        ) from error


def _odd_entry(array: np.ndarray) -> str:
    """Where an object array holds its first entry that is not a real number."""
    for index, entry in np.ndenumerate(array):
        if entry is None or isinstance(entry, str | bytes | complex | np.complexfloating):
            where = list(index) if index else ""
            name = "None" if entry is None else f"a {type(entry).__name__}"
            return f" holds {name}{f' at {where}' if where else ''}"
    return " is an object array"


def _as_array(
    value: object, what: str, case: Case, wanted: str = "a real floating-point array"
) -> np.ndarray:
    """A fresh float64 copy of a number or array the user's function returned.

    A copy, because the comparison runs after all cases and a function may return the same
    buffers every time, overwritten in place. Only real numbers pass: NumPy would read text
    as numbers, drop an imaginary part (with a warning), and read bools and None as numbers.
    Integers are real numbers (exact in float64 at these sizes) and pass.
    """
    if value is None:  # NumPy would read None as NaN: say what really happened
        raise _IllFormed(
            f"ILL-FORMED: {what} is None: return {wanted}",
            f"{what} is None (a missing return statement?); case {case.describe()}.",
        )
    where = f"case {case.describe()}"
    if isinstance(value, str | bytes):
        raise _IllFormed(
            f"ILL-FORMED: {what} is a {type(value).__name__}, not an array of numbers: "
            f"return {wanted}",
            f"{what} is a {type(value).__name__}, the text {value[:40]!r}: return the number "
            f"itself, not its text; {where}.",
        )
    try:
        raw = np.asarray(value)
    except Exception as error:  # ragged lists, objects whose __array__ fails: the user's value
        raise _IllFormed(
            f"ILL-FORMED: {what} is not an array of numbers: return {wanted}",
            f"{what} is a {type(value).__name__}, which NumPy cannot turn into an array "
            f"({type(error).__name__}: {error}); {where}.",
        ) from None
    kind = raw.dtype.kind
    if kind not in "fiu":
        if kind in "US":
            problem = f" holds text (dtype {raw.dtype})"
        elif kind == "O" and raw.ndim == 0 and not isinstance(value, np.ndarray):
            problem = f" is a {type(value).__name__}"  # NumPy wrapped it whole
        elif kind == "O":
            problem = _odd_entry(raw)
        else:  # complex, bool, dates, structured
            problem = f" has dtype {raw.dtype}"
        hint = {
            "c": " (if the imaginary part is zero, return its .real)",
            "b": " (a bool array is a mask, not a gradient)",
        }.get(kind, "")
        raise _IllFormed(
            f"ILL-FORMED: {what}{problem}: return {wanted}",
            f"{what}{problem}: NumPy reads the {type(value).__name__} returned as dtype "
            f"{raw.dtype}. The checker compares real numbers only (floats or integers): return "
            f"{wanted}{hint}; {where}.",
        )
    array = np.array(raw, dtype=np.float64)  # always a copy
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise _IllFormed(
            f"ILL-FORMED: {what} holds a non-finite value",
            f"{what}{list(where) if where else ''} is {array[where] if where else array}; "
            f"case {case.describe()}.",
        )
    return array


def _shape_texts(setting: _Setting) -> dict[str, str]:
    m = setting.model
    texts = {b.name: _ROLE_SHAPE[b.role] for b in m.blocks(1, 1, 1 if m.has_output_layer else None)}
    state = {
        "shared": "(n_h,)",
        "per-sequence": "(B, n_h) with a batch, (n_h,) without",
        "zero": "([B,] n_h): one row per sequence",
    }[m.h0]
    return texts | {s: state for s in m.initial_states}


def _check_shape(
    block: str,
    array: np.ndarray,
    wanted: tuple[int, ...],
    what: str,
    case: Case,
    setting: _Setting,
) -> None:
    if array.shape == wanted:
        return
    hint = ""
    if array.shape == wanted[::-1] and len(wanted) == 2:
        hint = (
            " It is the transpose of the right shape: gradients are in denominator layout"
            f" (∇{block} L has the shape of {block}), so transpose it."
        )
    elif block in ("h0", "c0") and case.batch is not None and array.shape == (case.batch, *wanted):
        hint = f" {block} is shared by the batch, so its gradient is summed over the batch."
    elif block in ("h0", "c0") and case.batch is not None and wanted == (case.batch, *array.shape):
        hint = (
            f" {block} is {'zero' if setting.model.h0 == 'zero' else 'one row per sequence'}"
            f" (h0={setting.model.h0}): its gradient has one row per sequence, not summed"
            " over the batch."
        )
    raise _IllFormed(
        f"ILL-FORMED: {what} has shape {array.shape}, but {block} has shape {wanted}",
        f"{what} has shape {array.shape}; ∇{block} L must have the shape of {block}, "
        f"{_shape_texts(setting)[block]} = {wanted} for the case {case.describe()}.{hint}",
    )


def _wanted_shapes(case: Case, setting: _Setting) -> dict[str, tuple[int, ...]]:
    m = setting.model
    n_y = case.n_y if m.has_output_layer else None
    shapes = {b.name: b.shape for b in m.blocks(case.n_x, case.n_h, n_y)}
    per_row = m.h0 != "shared" and case.batch is not None
    for state in m.initial_states:
        shapes[state] = (case.batch, case.n_h) if per_row else (case.n_h,)
    return shapes


def _user_backward(
    fn: Callable,
    case: Case,
    blocks: Sequence[str],
    check_loss: bool,
    setting: _Setting,
    optional: Sequence[str] = (),
) -> tuple[float | None, dict[str, np.ndarray]]:
    """The user's loss and blocks; a block in `optional` may be absent (and is then left out)."""
    out = _call(fn, case, setting)
    if not isinstance(out, tuple | list) or len(out) != 2:
        got = f"a {type(out).__name__}" + (
            f" of length {len(out)}" if isinstance(out, tuple | list) else ""
        )
        raise _IllFormed(
            "ILL-FORMED: your function must return (loss, grads)",
            f"It returned {got}; return a pair (loss, grads) where grads maps each of "
            f"{', '.join(blocks)} to its gradient, like rnn_num.loss_and_grads.",
        )
    loss, grads = out
    if not isinstance(grads, Mapping):
        raise _IllFormed(
            "ILL-FORMED: grads must be a mapping from block name to array",
            f"The second value returned is a {type(grads).__name__}; return a dict with keys "
            f"{', '.join(blocks)}.",
        )
    missing = [k for k in blocks if k not in grads and k not in optional]
    if missing:
        raise _IllFormed(
            f"ILL-FORMED: grads has no {', '.join(repr(k) for k in missing)}",
            f"grads has the keys {sorted(map(str, grads))}, but the checked blocks are "
            f"{list(blocks)}. Add the missing gradients, or check fewer blocks with "
            f"blocks={tuple(k for k in blocks if k not in missing)!r}.",
        )
    user_loss = None
    if check_loss:
        loss_array = _as_array(loss, "the loss", case, "the loss as a real number (a float)")
        if loss_array.size != 1:
            raise _IllFormed(
                "ILL-FORMED: the loss must be a scalar",
                f"The loss returned has shape {loss_array.shape}; the loss is summed over time"
                " and batch into one number.",
            )
        user_loss = float(loss_array.reshape(()))
    wanted = _wanted_shapes(case, setting)
    user = {}
    for block in blocks:
        if block not in grads:
            continue  # an optional block the function does not compute
        array = _as_array(grads[block], f"grads[{block!r}]", case)
        _check_shape(block, array, wanted[block], f"grads[{block!r}]", case, setting)
        user[block] = array
    return user_loss, user


def _user_block(fn: Callable, case: Case, block: str, setting: _Setting) -> np.ndarray:
    out = _call(fn, case, setting)
    what = f"the value returned for ∇{block}"
    array = _as_array(out, what, case)
    _check_shape(block, array, _wanted_shapes(case, setting)[block], what, case, setting)
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


def _mutants(
    cases: Sequence[Case], setting: _Setting | None, rules: bool
) -> list[tuple[str, list]]:
    """(description, [(loss, grads) or None per case]) for every rule of the model's table."""
    if not rules:
        return []
    if setting is None or setting.old_table:
        return [
            (rule.description, [_variant(case, rule.knobs) for case in cases])
            for rule in variants.RULES
        ]
    return [
        (rule.description, [_model_variant(case, setting, rule.knobs) for case in cases])
        for rule in gated.rules_for(setting.model)
    ]


def _diagnose(
    observed: dict[str, list[tuple[Case, np.ndarray, np.ndarray]]],
    rtol: float,
    rules: bool = True,
    setting: _Setting | None = None,
) -> tuple[str, ...]:
    """Rules whose block equals the user's block on every case, for each wrong block.

    One line per recognised mistake, naming the wrong blocks it explains. The table is the
    model's (`_bptt_variants` for the canonical model, `_gated_variants` for the others);
    rules=False skips it and keeps the checks that need no model: a factor, a transpose,
    zero, clipping. Without a setting the model is the legacy canonical one.
    """
    cases = [case for case, _, _ in next(iter(observed.values()))]
    tolerance = max(rtol, 1e-7)

    def agrees(block: str, outputs: list) -> bool:
        """The mistake's block equals the user's on every case."""
        values = [np.asarray(loss) if block == "loss" else grads[block] for loss, grads in outputs]
        pairs = zip(observed[block], values, strict=True)
        return all(_matches(actual, value, tolerance) for (_, actual, _), value in pairs)

    right = {
        block
        for block, runs in observed.items()
        if all(_matches(actual, expected, rtol) for _, actual, expected in runs)
    }
    mutants = [
        # a mistake that would spoil a gradient the user got right is not the user's
        # gradient mistake (the loss is left out: many return the right loss with wrong
        # gradients, or the wrong loss with the right gradients)
        (description, outputs, all(agrees(b, outputs) for b in right if b != "loss"))
        for description, outputs in _mutants(cases, setting, rules)
        if all(output is not None for output in outputs)
    ]
    explained: dict[str, list[str]] = {}
    for block, runs in observed.items():
        if block in right:
            continue
        hits = [
            description
            for description, outputs, spares_the_rest in mutants
            if (spares_the_rest or block == "loss") and agrees(block, outputs)
        ]
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
    setting: _Setting | None = None,
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
    diagnosis = _diagnose(observed, rtol, rules, setting)
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
    fn: object, rtol: object, cases: object, batch: object, setting: _Setting
) -> tuple[tuple[Case, ...], float]:
    """(the cases, rtol as a float), or the one error naming what is wrong."""
    if not callable(fn):
        raise TypeError(
            f"fn must be a callable like rnn_num.loss_and_grads(params, x, y, h0=None), got a {type(fn).__name__}"
        )
    rtol = check_tolerance("rtol", rtol, " (1e-6 suits float64, 1e-3 float32)")
    if not isinstance(batch, bool):
        raise TypeError(f"batch must be True or False, got {batch!r}")
    if cases is None:
        return default_battery(batch, model=setting.model), rtol
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
        try:
            sizes = _check_sizes(case.T, case.n_x, case.n_h, case.n_y, case.batch, case.seed)
            _check_budget(setting.model, *sizes[:5])  # before anything is allocated
            _inputs(case, setting)  # validates the step and fixed targets
        except ValueError as error:  # ModelError included
            raise ValueError(f"cases: {case.describe()}: {error}") from None
    return cases, rtol


def _task_extra(setting: _Setting) -> dict:
    """What the verdict records of the model (in `extra`), for the report and the recipe."""
    m = setting.model
    out: dict = {"model": str(m), "model_given": setting.given}
    if not setting.given:  # the legacy keywords the check was given, as it always recorded
        out["activation"] = m.activation
        out["head"] = "softmax" if m.head == "softmax-ce" else m.head
        out["many_to_one"] = m.task == "many-to-one"
    return out


def _battery_text(cases: Sequence[Case]) -> str:
    Ts = sorted({c.T for c in cases})
    batch = any(c.batch is not None for c in cases)
    unbatched = any(c.batch is None for c in cases)
    which = "batch and no batch" if batch and unbatched else ("batch only" if batch else "no batch")
    return f"T = {', '.join(map(str, Ts))}; {which}"


def _select_blocks(blocks: object, setting: _Setting) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the blocks to check, those of them the function may leave out)."""
    names = setting.model.gradient_names()
    if blocks is None:
        # With h0=zero the initial states are no argument: their gradients are checked
        # when the function returns them, and may be left out.
        optional = setting.model.initial_states if setting.model.h0 == "zero" else ()
        return names, optional
    if isinstance(blocks, str):
        blocks = (blocks,)
    try:
        blocks = tuple(blocks)
    except TypeError:
        raise TypeError(
            f"blocks must be a sequence of block names among {', '.join(names)}, "
            f'e.g. ("{names[0]}", "{names[1]}"); got {blocks!r}'
        ) from None
    unknown = [b for b in blocks if b not in names]
    if unknown or not blocks:
        raise ValueError(
            f"blocks must be a non-empty selection of {', '.join(names)}; got {list(blocks)}"
            + (f" (model {_model_text(setting.model)})" if setting.given else "")
        )
    return blocks, ()


def check_backward(
    fn: Callable,
    *,
    blocks: Sequence[str] | None = None,
    check_loss: bool = True,
    batch: bool = True,
    rtol: float = 1e-6,
    activation: str | None = None,
    cases: Sequence[Case] | None = None,
    head: str | None = None,
    many_to_one: bool | None = None,
    model: Model | Mapping | str | None = None,
) -> Verdict:
    """Check a backward pass with the signature of `rnn_num.loss_and_grads`.

    fn(params, x, y, h0=h0) — fn(params, x, y, h0=h0, c0=c0) for the LSTM — must return
    (loss, grads): the loss and a mapping with the gradient of every block of the model and
    of h0 (and c0), each of the shape of its argument. It is called on every case of the
    battery (`default_battery`), with fresh copies of the inputs (`make_case`).

    `model` (an rnn_spec.Model, a mapping or the text "cell=lstm,biases=torch") fixes the
    blocks (`model.gradient_names()`), the targets, the initial states (h0=zero: h0 and c0
    are None and their gradients may be left out; shared: (n_h,); per-sequence: (B, n_h))
    and the reference, `rnn_num.loss_and_grads(..., model=model)`. Without it, the legacy
    keywords describe an Elman model with h0 (n_h,) shared by the batch: `activation`
    (tanh, sigmoid, relu, identity), `head` ("softmax" with cross-entropy, or "mse":
    ½‖o − y‖²) and `many_to_one`; given with a model they must agree with it.

    `blocks` limits the blocks checked; `batch=False` leaves out the cases with a batch
    axis; `rtol` bounds the relative error of every entry (1e-6 suits float64, about 1e-3
    float32). A WRONG verdict has a counterexample and a diagnosis: the known mistakes of
    the model (docs/checking-code.md) whose numbers equal the user's.
    """
    setting = _resolve(model, activation, head, many_to_one)
    cases, rtol = _validate_common(fn, rtol, cases, batch, setting)
    blocks, optional = _select_blocks(blocks, setting)
    if not isinstance(check_loss, bool):
        raise TypeError(f"check_loss must be True or False, got {check_loss!r}")
    extra = {
        "cases": len(cases),
        "battery": _battery_text(cases),
        "rtol": rtol,
        "blocks": list(blocks),
        **_task_extra(setting),
    }
    observed: dict[str, list] = {name: [] for name in (("loss",) if check_loss else ()) + blocks}
    for index, case in enumerate(cases):
        try:
            user_loss, user = _user_backward(fn, case, blocks, check_loss, setting, optional)
        except _IllFormed as problem:
            return Verdict(
                Status.ILL_FORMED,
                problem.summary,
                detail=problem.detail,
                extra={**extra, "case": case.describe()},
            )
        if index == 0 and optional:
            # the first case settles which optional blocks the function computes
            blocks = tuple(b for b in blocks if b in user or b not in optional)
            optional = ()
            extra["blocks"] = list(blocks)
            for name in list(observed):
                if name != "loss" and name not in blocks:
                    del observed[name]
        true_loss, true = _reference(case, setting)
        if check_loss:
            observed["loss"].append((case, np.asarray(user_loss), np.asarray(true_loss)))
        for block in blocks:
            observed[block].append((case, user[block], true[block]))
    return _summarise(observed, rtol, "your backward pass", extra, setting=setting)


def check_block(
    fn: Callable,
    block: str,
    *,
    batch: bool = True,
    rtol: float = 1e-6,
    activation: str | None = None,
    cases: Sequence[Case] | None = None,
    head: str | None = None,
    many_to_one: bool | None = None,
    model: Model | Mapping | str | None = None,
) -> Verdict:
    """Check a function that computes one gradient block.

    fn(params, x, y, h0=h0) (with c0=c0 for the LSTM) must return ∇_block L, an array of the
    shape of the block (`block` is one of the model's gradient names: U, W, V, b, c, h0 for
    the canonical model), for the same battery and options as `check_backward`.
    """
    setting = _resolve(model, activation, head, many_to_one)
    names = setting.model.gradient_names()
    if not isinstance(block, str) or block not in names:
        raise ValueError(f"block must be one of {', '.join(names)}, got {block!r}")
    cases, rtol = _validate_common(fn, rtol, cases, batch, setting)
    extra = {
        "cases": len(cases),
        "battery": _battery_text(cases),
        "rtol": rtol,
        "blocks": [block],
        **_task_extra(setting),
    }
    runs = []
    for case in cases:
        try:
            actual = _user_block(fn, case, block, setting)
        except _IllFormed as problem:
            return Verdict(
                Status.ILL_FORMED,
                problem.summary,
                detail=problem.detail,
                extra={**extra, "case": case.describe()},
            )
        runs.append((case, actual, _reference(case, setting)[1][block]))
    return _summarise({block: runs}, rtol, f"your ∇{block}", extra, setting=setting)


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
        width = max(6, *(len(e.block) for e in verdict.errors))
        lines += [
            "",
            f"{'block':<{width}} {'max rel. error':>14}  {'worst entry':<12} {'expected':>14} {'actual':>14}",
        ]
        for e in verdict.errors:
            entry = f"{e.block}{list(e.index)}" if e.index else e.block
            lines.append(
                f"{e.block:<{width}} {e.max_rel_error:>14.3g}  {entry:<12} {e.expected:>14.8g} {e.actual:>14.8g}"
            )
    cx = verdict.counterexample
    if cx is not None:
        batch = "no batch" if cx.batch is None else f"batch={cx.batch}"
        entry = f"{cx.block}{list(cx.index)}" if cx.index else cx.block
        fixed = verdict.extra.get("targets")
        targets = "" if fixed is None else f", targets={list(fixed)}"
        model = None
        if verdict.extra.get("model_given"):
            model = parse_model(verdict.extra["model"])
            targets += f", model={_model_text(model)!r}"
        else:
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
            if model is not None and "c0" in model.initial_states:
                lines.append(
                    "  (it returns params, x, y, h0, c0; call fn(params, x, y, h0=h0, c0=c0))"
                )
    if verdict.diagnosis:
        lines += ["", "Diagnosis:"] + [f"  - {d}" for d in verdict.diagnosis]
    elif verdict.status is Status.WRONG:
        lines += ["", "Diagnosis: no known mistake matches; compare the counterexample by hand."]
    return "\n".join(lines)
