"""Route 3: check a user's backward pass against the reference, over a battery of cases.

The battery is chosen so that the usual mistakes cannot hide: T = 1 … 5, 8, 9, n_x, n_h, n_y and
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
Elman variants). A WRONG verdict of a many-to-many model also gets a blame map (`_blame`):
which terms (loss step, time step) are wrong, from the user's function on prefixes of one
sequence. A function that raises on some cases is run on all the others, and every case
that raised is reported.
"""

from __future__ import annotations

import dataclasses
import functools
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
from rnn_num._model import backward as _reference_backward
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
    # declared code conventions (rnn_check._conventions) that change what is drawn/checked:
    one_hot: bool = False  # x_t one-hot (token inputs)
    input_gradient: bool = False  # ∇x is checked too (layer mode)

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
_BATCHED_LENGTHS = (1, 2, 3, 9)


def default_battery(
    batch: bool = True, seed: int = 0, model: Model | Mapping | str | None = None
) -> tuple[Case, ...]:
    """The cases `check_backward` runs: T = 1 … 5 and 8 without a batch axis, then T = 1,
    2, 3 and 9 with one (T = 8 and 9 show BPTT truncated after up to 7 steps).

    For task=step=K the lengths are K … K + 4 and K + 7 (the loss step must exist; longer
    sequences show a loss taken at the wrong step)."""
    seed = _check_seed(seed)
    m = _resolve(model).model
    first = m.step if m.task == "step" else 1
    cases = [Case(first - 1 + T, *_SIZES[T % 2], seed=seed + T) for T in (*range(1, 6), 8)]
    if batch:
        cases += [
            Case(first - 1 + T, *_SIZES[(T + 1) % 2], seed=seed + 10 + T, batch=_BATCH)
            for T in _BATCHED_LENGTHS
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
            "T/sizes; the checker needs only small cases (its battery has T <= 9, sizes <= 5 "
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
    conventions: object = None,
) -> tuple | dict:
    """The inputs (params, x, y, h0) of one case — (params, x, y, h0, c0) for a model with
    a cell state (the LSTM): reproduce a counterexample with this.

    With `conventions` (as for check_backward), a dict of the inputs as that code takes
    them, by its names (karpathy: Wxh, …, inputs, targets, hprev).

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
    if conventions is not None:
        from rnn_check._conventions import user_case

        return user_case(conventions, T, n_x, n_h, n_y, seed, batch, model)
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
    drawn = _draw(
        setting.model,
        case.T,
        case.n_x,
        case.n_h,
        case.n_y,
        case.seed,
        case.batch,
        case.targets,
    )
    if setting.one_hot:  # token inputs: x_t is the one-hot vector of a token
        params, x, *rest = drawn
        drawn = (params, np.eye(case.n_x)[np.argmax(x, axis=-1)], *rest)
    return drawn


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
    out = {k: np.array(grads[k], dtype=float) for k in m.gradient_names()}
    if setting.input_gradient:  # layer mode: ∇x_t = Uᵀ ∇a_t (the Elman cell)
        extra = {"c0": rest[0]} if rest else {}
        d_a = _reference_backward(params, x, y, h0=h0, model=m, **extra).d_a
        out["x"] = np.array(d_a @ params["U"], dtype=float)
    return float(loss), out


def _truth(
    case: Case, activation: str, head: str = "softmax", many_to_one: bool = False
) -> tuple[float, dict[str, np.ndarray]]:
    """The legacy reference (the SymPy route reads it)."""
    return _reference(case, _resolve(None, activation, head, many_to_one))


def _variant(case: Case, knobs: dict, one_hot: bool = False) -> tuple[float, dict[str, np.ndarray]]:
    """The canonical model's mistake table (`_bptt_variants`) on one case (with the
    one-hot inputs of token-input code when `one_hot`)."""
    params, x, y, h0 = _inputs(case, dataclasses.replace(_resolve(), one_hot=one_hot))
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
    def __init__(self, summary: str, detail: str, crash: tuple[str, str] | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        # the user's function raised: (the exception's text, the user's frames), the key the
        # crashes of several cases are grouped by; None for every other problem
        self.crash = crash


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
    see_case = getattr(fn, "see_case", None)
    if see_case is not None:  # an adapter of declared conventions names the case in its messages
        see_case(case)
    try:
        if setting.cell_state:
            return fn(params, x, y, h0=h0, c0=rest[0])
        return fn(params, x, y, h0=h0)
    except _IllFormed:  # an adapter of declared conventions already said what is wrong
        raise
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
            crash=(f"{type(error).__name__}: {error}", _where(error)),
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
    return texts | {s: state for s in m.initial_states} | {"x": "(T, [B,] n_x)"}


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
    per_sequence = False
    if array.shape == wanted[::-1] and len(wanted) == 2:
        hint = (
            " It is the transpose of the right shape: gradients are in denominator layout"
            f" (∇{block} L has the shape of {block}), so transpose it."
        )
    elif block in ("h0", "c0") and case.batch is not None and array.shape == (case.batch, *wanted):
        hint = f" {block} is shared by the batch, so its gradient is summed over the batch."
        per_sequence = True
    elif block in ("h0", "c0") and case.batch is not None and wanted == (case.batch, *array.shape):
        hint = (
            f" {block} is {'zero' if setting.model.h0 == 'zero' else 'one row per sequence'}"
            f" (h0={setting.model.h0}): its gradient has one row per sequence, not summed"
            " over the batch."
        )
    problem = _IllFormed(
        f"ILL-FORMED: {what} has shape {array.shape}, but {block} has shape {wanted}",
        f"{what} has shape {array.shape}; ∇{block} L must have the shape of {block}, "
        f"{_shape_texts(setting)[block]} = {wanted} for the case {case.describe()}.{hint}",
    )
    # one row per sequence is unambiguous: the function treats h0 as torch and cs231n do
    problem.per_sequence = per_sequence
    raise problem


def _wanted_shapes(case: Case, setting: _Setting) -> dict[str, tuple[int, ...]]:
    m = setting.model
    n_y = case.n_y if m.has_output_layer else None
    shapes = {b.name: b.shape for b in m.blocks(case.n_x, case.n_h, n_y)}
    per_row = m.h0 != "shared" and case.batch is not None
    for state in m.initial_states:
        shapes[state] = (case.batch, case.n_h) if per_row else (case.n_h,)
    if setting.input_gradient:
        shapes["x"] = (case.T, case.n_x) if case.batch is None else (case.T, case.batch, case.n_x)
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


def _table(setting: _Setting | None, rules: bool) -> list[tuple[str, bool, Callable]]:
    """(description, per_block, case -> (loss, grads) or None) for every rule of the
    model's table; per_block: the rule is judged block by block (`_bptt_variants.Rule`)."""
    if not rules:
        return []
    if setting is None or setting.old_table:
        return [
            (
                rule.description,
                rule.per_block,
                functools.partial(
                    _variant, knobs=rule.knobs, one_hot=setting is not None and setting.one_hot
                ),
            )
            for rule in variants.RULES
        ]
    return [
        (
            rule.description,
            rule.per_block,
            functools.partial(_model_variant, setting=setting, knobs=rule.knobs),
        )
        for rule in gated.rules_for(setting.model)
    ]


def _mutants(
    cases: Sequence[Case], setting: _Setting | None, rules: bool
) -> list[tuple[str, list, bool]]:
    """(description, [(loss, grads) or None per case], per_block) for every rule."""
    return [
        (description, [compute(case) for case in cases], per_block)
        for description, per_block, compute in _table(setting, rules)
    ]


def _clipped_mistakes(
    observed: dict[str, list[tuple[Case, np.ndarray, np.ndarray]]],
    mutants: list[tuple[str, list, bool]],
    tolerance: float,
) -> list[tuple[str, list[str]]]:
    """Rules whose gradients, clipped, are the user's: scaled by one factor ≤ 1 per case
    (clipping by the norm of all gradients together, or of each block), or clipped entry by
    entry at the user's largest entry. [(description, the blocks it explains)]."""
    blocks = [b for b in observed if b != "loss"]
    wrong = [b for b in blocks if not all(_matches(a, e, tolerance) for _, a, e in observed[b])]
    if not wrong:
        return []
    truth = [(None, {b: observed[b][i][2] for b in blocks}) for i in range(len(observed[wrong[0]]))]
    if _clipping(observed, truth, blocks, tolerance) is not None:
        return []  # the true gradient clipped: _scale_diagnosis says so
    found = []
    for description, outputs, _ in mutants:
        if any(b not in grads for _, grads in outputs for b in blocks):
            continue
        how = _clipping(observed, outputs, blocks, tolerance)
        if how is not None:
            names = [_block_name(b) for b in blocks]
            found.append((f"{description}, and then {how}", names))
    return found[:1] if len(found) > 1 else found  # the first table line: one story


def _clipping(
    observed: dict[str, list[tuple[Case, np.ndarray, np.ndarray]]],
    outputs: list,
    blocks: Sequence[str],
    tolerance: float,
) -> str | None:
    """How the user's blocks are the mutant's clipped, or None."""
    user = [[observed[b][i][1] for b in blocks] for i in range(len(outputs))]
    mine = [[grads[b] for b in blocks] for _, grads in outputs]
    # by the norm of all blocks together: one factor per case
    factors = []
    for u, m in zip(user, mine, strict=True):
        num = sum(float(np.vdot(a, b)) for a, b in zip(u, m, strict=True))
        den = sum(float(np.vdot(b, b)) for b in m)
        s = num / den if den > 0 else 1.0
        if not all(_matches(a, s * b, tolerance) for a, b in zip(u, m, strict=True)):
            factors = None
            break
        factors.append(s)
    if factors and all(0.0 < f <= 1.0 + 1e-9 for f in factors) and min(factors) < 1 - 1e-6:
        return (
            "the gradient clipped by its norm (scaled by "
            f"{min(factors):.3g} … {max(factors):.3g}): the clipping hides the mistake's "
            "size; return the raw gradient and clip in the optimiser"
        )
    # by each block's own norm, or entry by entry (np.clip(dW, -5, 5), min-char-rnn)
    per_block = entrywise = True
    scaled = False
    for u, m in zip(user, mine, strict=True):
        for a, b in zip(u, m, strict=True):
            den = float(np.vdot(b, b))
            s = float(np.vdot(a, b)) / den if den > 0 else 1.0
            per_block &= 0.0 < s <= 1.0 + 1e-9 and _matches(a, s * b, tolerance)
            scaled |= s < 1 - 1e-6
            bound = float(np.max(np.abs(a), initial=0.0))
            entrywise &= bound > 0 and _matches(a, np.clip(b, -bound, bound), tolerance)
    if per_block and scaled:
        return (
            "each gradient clipped by its own norm: the clipping hides the mistake's size; "
            "return the raw gradient and clip in the optimiser"
        )
    if entrywise and not all(
        _matches(a, b, tolerance)
        for u, m in zip(user, mine, strict=True)
        for a, b in zip(u, m, strict=True)
    ):
        return (
            "entries clipped to a bound (elementwise gradient clipping): return the raw "
            "gradient and clip in the optimiser"
        )
    return None


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

    right = {
        block
        for block, runs in observed.items()
        if all(_matches(actual, expected, rtol) for _, actual, expected in runs)
    }
    wrong = [block for block in observed if block not in right]

    def explains(per_block: bool, compute: Callable) -> set[str]:
        """The wrong blocks the rule equals on every case. A mistake that would spoil a
        gradient the user got right is not the user's gradient mistake (the loss is left
        out: many return the right loss with wrong gradients, or the wrong loss with the
        right gradients). Case by case, the smallest first: most rules drop out at once."""
        alive, spares = set(wrong), True
        for i, case in enumerate(cases):
            out = compute(case)
            if out is None:  # the mistake cannot happen on this case
                return set()
            alive = {b for b in alive if agrees_on(b, i, out)}
            if spares and not per_block:
                spares = all(agrees_on(b, i, out) for b in right if b != "loss" and b in out[1])
            alive = {b for b in alive if b == "loss" or spares or per_block}
            if not alive:
                return set()
        return alive

    def agrees_on(block: str, i: int, out: tuple) -> bool:
        loss, grads = out
        if block != "loss" and block not in grads:
            return False  # a block the table does not model (∇x of a layer)
        value = np.asarray(loss) if block == "loss" else grads[block]
        return _matches(observed[block][i][1], value, tolerance)

    table = _table(setting, rules)
    local = {description for description, per_block, _ in table if per_block}
    found = {description: explains(per_block, compute) for description, per_block, compute in table}
    explained: dict[str, list[str]] = {}
    any_hit = False
    for block in wrong:
        hits = [description for description, blocks in found.items() if block in blocks]
        any_hit |= bool(hits) and block != "loss"
        for description in hits or _scale_diagnosis(observed[block], rtol):
            explained.setdefault(description, []).append(_block_name(block))
    if not any_hit and table:  # a known mistake hidden under gradient clipping: both named
        mutants = [m for m in _mutants(cases, setting, rules) if all(o is not None for o in m[1])]
        for description, blocks in _clipped_mistakes(observed, mutants, tolerance):
            explained = {d: [b for b in bs if b not in blocks] for d, bs in explained.items()}
            explained = {d: bs for d, bs in explained.items() if bs}
            explained[description] = blocks
    # One mistake explaining more of the wrong blocks beats one explaining a part of them.
    # A mistake judged block by block (`dW =`) yields to a whole-model one with its blocks.
    kept = {
        description: blocks
        for description, blocks in explained.items()
        if not any(set(blocks) < set(other) for other in explained.values())
        and not (
            description in local
            and any(
                set(blocks) <= set(other)
                for d, other in explained.items()
                if d != description and d not in local
            )
        )
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


def _ill_formed(
    problem: _IllFormed, case: Case, extra: dict, crashes: Sequence[tuple[Case, _IllFormed]]
) -> Verdict:
    """ILL-FORMED for a result that cannot be compared (after any earlier crashes)."""
    detail = problem.detail
    if crashes:
        detail += "\n\nBefore that, it raised on " + "; ".join(
            f"{c.describe()} ({p.crash[0]})" for c, p in crashes
        )
    return Verdict(
        Status.ILL_FORMED, problem.summary, detail=detail, extra={**extra, "case": case.describe()}
    )


def _with_blame(
    verdict: Verdict, fn: Callable, cases: Sequence[Case], blocks: Sequence[str], setting: _Setting
) -> Verdict:
    """A WRONG verdict of a many-to-many model with its blame map (`_blame`) in
    extra["blame"]: the user's function is called again on the prefixes of one sequence,
    the longest without a batch axis (else the longest)."""
    if verdict.status is not Status.WRONG or setting.model.task != "many-to-many":
        return verdict
    from rnn_check import _blame  # only a WRONG verdict needs it

    case = max(cases, key=lambda c: (c.batch is None, c.T))
    names = [b for b in blocks if b in setting.model.gradient_names()]
    params, x, y, h0, *rest = _inputs(case, setting)
    c0 = rest[0] if rest else None
    see_case = getattr(fn, "see_case", None)

    def prefix(s: int) -> dict | None:
        states = {"c0": None if c0 is None else c0.copy()} if setting.cell_state else {}
        try:
            if see_case is not None:
                see_case(case)
            _, grads = fn(
                {k: v.copy() for k, v in params.items()},
                x[:s].copy(),
                y[:s].copy(),
                h0=None if h0 is None else h0.copy(),
                **states,
            )
            return {b: np.array(grads[b], dtype=float) for b in names}
        except Exception:  # no map then: the verdict stands without it
            return None

    try:
        found = _blame.blame_map(
            setting.model, params, x, y, h0, c0, names, prefix, _reference(case, setting)[1]
        )
    except (ValueError, gated.NotApplicable):
        found = None
    if found is None:
        return verdict
    found["case"] = case.describe()
    return dataclasses.replace(verdict, extra={**verdict.extra, "blame": found})


def _blame_text(verdict: Verdict) -> list[str]:
    """The blame map's lines for format_verdict (none without a map)."""
    if not verdict.extra.get("blame"):
        return []
    from rnn_check import _blame

    return _blame.blame_lines(verdict.extra["blame"])


def _ran_extra(extra: dict, runs: Sequence[tuple]) -> dict:
    """`extra` of the verdict on the cases that ran (the others raised)."""
    ran = [case for case, *_ in runs]
    return {**extra, "cases": len(ran), "battery": _battery_text(ran)}


def _crash_verdict(
    crashes: Sequence[tuple[Case, _IllFormed]], n_cases: int, ran: Verdict | None, extra: dict
) -> Verdict:
    """ILL-FORMED for a function that raised: every case that raised, grouped by the same
    exception at the same place in the user's code, and what the other cases gave."""
    groups: dict[tuple[str, str], list[tuple[Case, _IllFormed]]] = {}
    for case, problem in crashes:
        groups.setdefault(problem.crash, []).append((case, problem))
    kinds = list(dict.fromkeys(key[0].split(":", 1)[0] for key in groups))
    first = crashes[0][0].describe()
    if len(crashes) == 1:
        summary = crashes[0][1].summary
    else:
        summary = (
            f"ILL-FORMED: your function raised {' and '.join(kinds)} on {len(crashes)} of "
            f"{n_cases} cases (the first: {first})"
        )
    parts = []
    for number, members in enumerate(groups.values(), 1):
        text = members[0][1].detail  # the exception, the user's frames, the first case's call
        if len(crashes) > 1:
            which = "; ".join(c.describe() for c, _ in members)
            label = f"{number}. " if len(groups) > 1 else ""
            plural = "s" if len(members) > 1 else ""
            text = f"{label}On {len(members)} case{plural} ({which}):\n{text}"
        parts.append(text)
    if ran is not None:
        others = n_cases - len(crashes)
        line = f"The {others} other case{'s' if others != 1 else ''} ran. {ran.summary}"
        parts.append(line + "".join(f"\n  - {d}" for d in ran.diagnosis))
    out = {
        **extra,
        "case": first,
        "crashed": [{"case": c.describe(), "error": p.crash[0]} for c, p in crashes],
    }
    if ran is not None:
        out["others"] = {"status": ran.status.value, "summary": ran.summary}
    return Verdict(Status.ILL_FORMED, summary, detail="\n\n".join(parts), extra=out)


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
    names = setting.model.gradient_names() + (("x",) if setting.input_gradient else ())
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
    conventions: object = None,
    _setting: _Setting | None = None,
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

    `conventions` declares code written in another convention instead of this signature: a
    preset ("torch", "karpathy", "wildml", …), an `rnn_check.Conventions`, or a mapping of its
    fields with "preset" (docs/checking-code.md); the verdict then speaks the code's names.
    """
    if conventions is not None:
        from rnn_check._conventions import check_with_conventions

        return check_with_conventions(
            fn,
            conventions,
            blocks=blocks,
            check_loss=check_loss,
            batch=batch,
            rtol=rtol,
            cases=cases,
            model=model,
            legacy=(activation, head, many_to_one),
        )
    setting = _setting or _resolve(model, activation, head, many_to_one)
    cases, rtol = _validate_common(fn, rtol, cases, batch, setting)
    blocks, optional = _select_blocks(blocks, setting)
    if not isinstance(check_loss, bool):
        raise TypeError(f"check_loss must be True or False, got {check_loss!r}")
    extra = {
        "cases": len(cases),
        "battery": _battery_text(cases),
        "rtol": rtol,
        "blocks": list(blocks),
        "index_base": 0,  # entries such as U[2, 4] are NumPy indices, counted from 0
        **_task_extra(setting),
    }
    observed: dict[str, list] = {name: [] for name in (("loss",) if check_loss else ()) + blocks}
    crashes: list[tuple[Case, _IllFormed]] = []
    for case in cases:
        try:
            user_loss, user = _user_backward(fn, case, blocks, check_loss, setting, optional)
        except _IllFormed as problem:
            if problem.crash is not None:  # go on: every case that raises is reported
                crashes.append((case, problem))
                continue
            if getattr(problem, "per_sequence", False) and not setting.given and _setting is None:
                return _per_sequence_h0(fn, setting, blocks, check_loss, batch, rtol, cases)
            return _ill_formed(problem, case, extra, crashes)
        if optional:
            # the first case that runs settles which optional blocks the function computes
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
    if (
        crashes
        and not setting.given
        and _setting is None
        and _takes_per_sequence_h0(fn, crashes, setting)
    ):
        return _per_sequence_h0(fn, setting, blocks, check_loss, batch, rtol, cases)
    if crashes:
        ran = None
        if any(observed.values()):
            ran_extra = _ran_extra(extra, next(iter(observed.values())))
            ran = _summarise(observed, rtol, "your backward pass", ran_extra, setting=setting)
        return _crash_verdict(crashes, len(cases), ran, extra)
    verdict = _summarise(observed, rtol, "your backward pass", extra, setting=setting)
    return _with_blame(verdict, fn, cases, blocks, setting)


def _takes_per_sequence_h0(
    fn: Callable, crashes: Sequence[tuple[Case, _IllFormed]], setting: _Setting
) -> bool:
    """Whether a function that raised on the batches only runs with h0 (B, n_h) instead, and
    returns ∇h0 of that shape: then it takes h0 per sequence, unambiguously."""
    if any(case.batch is None for case, _ in crashes):
        return False
    per_sequence = dataclasses.replace(setting, model=setting.model.replace(h0="per-sequence"))
    case = crashes[0][0]
    try:
        out = _call(fn, case, per_sequence)
        return np.shape(out[1]["h0"]) == (case.batch, case.n_h)
    except Exception:  # it does not take that either: the crashes stand as reported
        return False


def _per_sequence_h0(
    fn: Callable,
    setting: _Setting,
    blocks: Sequence[str],
    check_loss: bool,
    batch: bool,
    rtol: float,
    cases: Sequence[Case],
) -> Verdict:
    """Check again with h0 one row per sequence, the convention the function's ∇h0 showed,
    and say so: the verdict is about that model, and the way to declare it is named."""
    m = setting.model.replace(h0="per-sequence")
    verdict = check_backward(
        fn, blocks=blocks, check_loss=check_loss, batch=batch, rtol=rtol, cases=cases, model=m
    )
    note = (
        "Your function returns ∇h0 with one row per sequence, (B, n_h), as torch and cs231n "
        "take h0, so it was checked with h0 per sequence: with a batch, h0 is (B, n_h). "
        f"Say so with model={_model_text(m)!r} to check it this way directly."
    )
    return dataclasses.replace(
        verdict,
        detail=note + ("\n\n" + verdict.detail if verdict.detail else ""),
        extra={**verdict.extra, "adapted": {"h0": "per-sequence"}},
    )


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
        "index_base": 0,
        **_task_extra(setting),
    }
    runs = []
    crashes: list[tuple[Case, _IllFormed]] = []
    for case in cases:
        try:
            actual = _user_block(fn, case, block, setting)
        except _IllFormed as problem:
            if problem.crash is not None:  # go on: every case that raises is reported
                crashes.append((case, problem))
                continue
            return _ill_formed(problem, case, extra, crashes)
        runs.append((case, actual, _reference(case, setting)[1][block]))
    if crashes:
        ran = None
        if runs:
            ran_extra = _ran_extra(extra, runs)
            ran = _summarise({block: runs}, rtol, f"your ∇{block}", ran_extra, setting=setting)
        return _crash_verdict(crashes, len(cases), ran, extra)
    return _summarise({block: runs}, rtol, f"your ∇{block}", extra, setting=setting)


# ---------------------------------------------------------------------------- text


def _entry_text(block: str, index: tuple[int, ...], verdict: Verdict) -> str:
    """U[2, 4] for a NumPy index (code checks), V (2, 1) for an entry counted from 1 (formulas)."""
    if not index:
        return block
    if verdict.extra.get("index_base", 0) == 0:
        return f"{block}{list(index)}"
    return f"{block} {index[0] if len(index) == 1 else index}"


def _index_note(verdict: Verdict) -> str:
    if verdict.extra.get("index_base", 0) == 0:
        return "(worst entry: a NumPy index, counted from 0)"
    return "(worst entry: counted from 1, as in the formula)"


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
            entry = _entry_text(e.block, e.index, verdict)
            lines.append(
                f"{e.block:<{width}} {e.max_rel_error:>14.3g}  {entry:<12} {e.expected:>14.8g} {e.actual:>14.8g}"
            )
        if any(e.index for e in verdict.errors):
            lines.append(_index_note(verdict))
    cx = verdict.counterexample
    if cx is not None:
        batch = "no batch" if cx.batch is None else f"batch={cx.batch}"
        entry = _entry_text(cx.block, cx.index, verdict)
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
        conventions = verdict.extra.get("conventions")
        if conventions is not None:  # the inputs as the user's code takes them
            targets += f", conventions={conventions!r}"
        if verdict.extra.get("inputs") == "rnn_check.make_case":  # other routes draw their own
            lines.append(
                f"  inputs: rnn_check.make_case(T={cx.T}, n_x={cx.n_x}, n_h={cx.n_h}, n_y={cx.n_y}, "
                f"seed={cx.seed}, batch={cx.batch}{targets})"
            )
            if conventions is not None:
                lines.append(
                    "  (it returns a dict of your code's arguments and parameters by name)"
                )
            elif model is not None and "c0" in model.initial_states:
                lines.append(
                    "  (it returns params, x, y, h0, c0; call fn(params, x, y, h0=h0, c0=c0))"
                )
    if verdict.diagnosis:
        lines += ["", "Diagnosis:"] + [f"  - {d}" for d in verdict.diagnosis]
    elif verdict.status is Status.WRONG:
        lines += ["", "Diagnosis: no known mistake matches; compare the counterexample by hand."]
    lines += _blame_text(verdict)
    return "\n".join(lines)
