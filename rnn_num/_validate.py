"""Input checks: every bad argument becomes a ValueError/TypeError that names the argument,
the shape (or value) it got and what it needs, before NumPy sees it. The model (rnn_spec)
decides which parameter blocks, initial states and targets a call needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rnn_spec import ACTIVATIONS, CANONICAL, Block, Model, parse_model
from rnn_spec import HEADS as SPEC_HEADS

PARAM_KEYS = ("U", "W", "V", "b", "c")  # the canonical model's blocks
HEADS = ("softmax", "mse")  # the legacy head= keyword; model= takes rnn_spec.HEADS
_LEGACY_HEADS = {"softmax": "softmax-ce", "mse": "mse"}


@lru_cache(maxsize=512)
def layout(model: Model, n_x: int, n_h: int, n_y: int | None) -> tuple[Block, ...]:
    """model.blocks(...), cached: the driver asks for it on every call (Models are frozen)."""
    return model.blocks(n_x, n_h, n_y)


@dataclass(frozen=True)
class Names:
    blocks: tuple[str, ...]
    gradients: tuple[str, ...]
    cell: tuple[str, ...]  # the kernel's blocks: U*, W*, b*
    initial_states: tuple[str, ...]


@lru_cache(maxsize=256)
def names(model: Model) -> Names:
    blocks = layout(model, 1, 1, 1 if model.has_output_layer else None)
    return Names(
        tuple(b.name for b in blocks),
        model.gradient_names(),
        tuple(b.name for b in blocks if b.role in ("input", "recurrent", "bias")),
        model.initial_states,
    )


@dataclass(frozen=True)
class Dims:
    n_x: int
    n_h: int
    n_y: int | None  # None: head=given, no output layer


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} is unknown; use one of {', '.join(map(repr, choices))}")
    return value


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """An integer option such as n_directions: an int (not bool) >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_seed(name: str, value: object) -> int:
    """A random seed: a non-negative int, so the same seed always gives the same numbers."""
    return check_count(name, value, minimum=0)


def check_tolerance(name: str, value: object, hint: str = "") -> float:
    """A relative tolerance: a finite real number in (0, 1), of any Python or NumPy real type.

    The relative error |a - e| / (|a| + |e|) never exceeds 1, so a tolerance >= 1 could never
    fail a check: it is refused, as is anything that is not a real number (bool included).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number in (0, 1){hint}; got {value!r}")
    number = float(value)
    if not (np.isfinite(number) and 0.0 < number < 1.0):
        reason = (
            "a tolerance of 1 or more can never fail (a relative error is at most 1)"
            if np.isfinite(number) and number >= 1.0
            else "it must be greater than 0"
            if np.isfinite(number)
            else "it must be finite"
        )
        raise ValueError(f"{name} must be a real number in (0, 1){hint}; got {value!r}: {reason}")
    return number


def check_positive(name: str, value: object, hint: str = "") -> float:
    """A tolerance or step: a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a positive finite number{hint}; got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number{hint}; got {value!r}")
    return float(value)


def _as_real_array(name: str, value: object) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(
            f"{name} must be a real numeric array; got {type(value).__name__}: {exc}"
        ) from None
    if arr.dtype.kind not in "fiub":  # float, signed/unsigned int, bool
        raise TypeError(
            f"{name} must be a real numeric array (float32/float64 or integers); got dtype {arr.dtype}"
        )
    return arr


def check_finite(name: str, arr: np.ndarray) -> None:
    # A finite sum proves every entry finite (NaN and ±inf propagate); only when the sum is
    # not finite (bad entry, or a harmless overflow) is the exact, slower check needed.
    if arr.dtype.kind != "f" or np.isfinite(np.add.reduce(arr, axis=None)):
        return
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name} contains NaN or inf (first at index {where}, value {arr[where]}); "
            "all entries must be finite"
        )


def compute_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 when every floating input is float32 (or smaller); float64 otherwise."""
    dt = np.result_type(np.float32, *[a.dtype for a in arrays])
    return np.dtype(np.float32) if dt == np.float32 else np.dtype(np.float64)


_SYMBOLIC = {
    "input": "(n_h, n_x)",
    "recurrent": "(n_h, n_h)",
    "output": "(n_y, n_h)",
    "bias": "(n_h,)",
    "output-bias": "(n_y,)",
}


def model_text(model: Model) -> str:
    """How messages name a model: "the canonical model" or "model biases=torch"."""
    short = model.short()
    return "the canonical model" if short == "canonical" else f"model {short}"


def _init_hint(model: Model) -> str:
    if model == CANONICAL:
        return "rnn_num.init_params(n_x, n_h, n_y)"
    n_y = "n_y" if model.has_output_layer else "None"
    return f"rnn_num.init_params(n_x, n_h, {n_y}, model={model.short()!r})"


def check_params(params: object, model: Model = CANONICAL) -> tuple[dict[str, np.ndarray], Dims]:
    """The blocks of `model` (exactly those, each of its shape), as arrays, and the sizes.

    n_h and n_x come from the first input block (U, or U_i / U_r), n_y from V."""
    keys = names(model).blocks
    first = keys[0]  # U, U_i or U_r
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a mapping with keys {', '.join(keys)} (see rnn_num.init_params); "
            f"got {type(params).__name__}"
        )
    missing = [k for k in keys if k not in params]
    extra = sorted(str(k) for k in params if k not in keys)
    if missing or extra:
        symbolic = layout(model, 1, 1, 1 if model.has_output_layer else None)
        needs = ", ".join(f"{b.name} {_SYMBOLIC[b.role]}" for b in symbolic)
        parts = []
        if missing:
            parts.append(f"params is missing key(s) {', '.join(missing)}")
        if extra:
            parts.append(f"{'it' if missing else 'params'} has unknown key(s) {', '.join(extra)}")
        fix = f"build params with {_init_hint(model)}"
        if extra:
            fix += ", or pass the model= they were built for"
        raise ValueError(
            f"{' and '.join(parts)}; {model_text(model)} needs exactly {needs}. Fix: {fix}"
        )
    arrs = {k: _as_real_array(f"params['{k}']", params[k]) for k in keys}
    U = arrs[first]
    if U.ndim != 2:
        raise ValueError(f"params['{first}'] has shape {U.shape}; it needs shape (n_h, n_x)")
    n_h, n_x = U.shape
    if n_h == 0 or n_x == 0:
        raise ValueError(f"params['{first}'] has shape {U.shape}; n_h and n_x must be at least 1")
    n_y: int | None = None
    if model.has_output_layer:
        V = arrs["V"]
        if V.ndim != 2 or V.shape[1] != n_h or V.shape[0] == 0:
            raise ValueError(
                f"params['V'] has shape {V.shape}; it needs shape (n_y, n_h) = (n_y, {n_h}), "
                f"n_y >= 1 (n_h from {first})"
            )
        n_y = V.shape[0]
    for block in layout(model, n_x, n_h, n_y):
        shape = arrs[block.name].shape
        if shape != block.shape:
            source = f"n_h, n_x from {first}" if block.role == "input" else f"n_h from {first}"
            if block.role == "output-bias":
                source = "n_y from V"
            raise ValueError(
                f"params['{block.name}'] has shape {shape}; it needs shape "
                f"{_SYMBOLIC[block.role]} = {block.shape} ({source})"
            )
    for k in keys:
        check_finite(f"params['{k}']", arrs[k])
    return arrs, Dims(n_x, n_h, n_y)


def check_x(x: object, dims: Dims) -> np.ndarray:
    arr = check_x_shape(x, dims)
    check_finite("x", arr)
    return arr


def check_x_shape(x: object, dims: Dims) -> np.ndarray:
    """x as an array of shape (T, n_x) or (T, B, n_x), T, B >= 1; its entries are not read
    (check_finite does that), so the sizes can be checked first (check_memory)."""
    arr = _as_real_array("x", x)
    if arr.ndim not in (2, 3) or arr.shape[-1] != dims.n_x:
        raise ValueError(
            f"x has shape {arr.shape}; it needs shape (T, n_x) = (T, {dims.n_x}) "
            f"or (T, B, n_x) = (T, B, {dims.n_x}), time first"
        )
    if arr.shape[0] == 0:
        raise ValueError(
            f"x has shape {arr.shape}: T = 0 time steps; it needs at least one (T >= 1)"
        )
    if arr.ndim == 3 and arr.shape[1] == 0:
        raise ValueError(f"x has shape {arr.shape}: batch size B = 0; it needs B >= 1")
    return arr


# The most memory one call of forward / compute_loss / loss_and_grads / backward may ask for
# (its states, the kernel's workspace, the outputs and the copy of x), in bytes. Checked
# before anything of size T·B is read or allocated: 10**9 steps would otherwise fill the
# machine (or take a minute to fail). Raise it here if the machine has the memory.
MEMORY_BUDGET = 4 * 2**30


def check_memory(T: int, B: int, dims: Dims, model: Model, floats: int, itemsize: int) -> None:
    """Refuse a call whose arrays, `floats` numbers of `itemsize` bytes, exceed MEMORY_BUDGET
    (read at call time, so it can be changed)."""
    budget = MEMORY_BUDGET
    need = floats * itemsize
    if need <= budget:
        return
    batch = "" if B == 1 else f" and B = {B} sequences"
    gib = need / 2**30
    raise ValueError(
        f"x has T = {T} steps{batch}: with n_h = {dims.n_h} and cell={model.cell} this call "
        f"needs about {f'{gib:,.0f}' if gib >= 100 else f'{gib:.3g}'} GiB for its states and "
        f"work arrays ({8 * itemsize}-bit floats), above rnn_num's memory budget of "
        f"{budget / 2**30:.3g} GiB. Fix: use a shorter sequence (split it into chunks, as "
        "truncated BPTT does), a smaller batch B or fewer hidden units n_h; or raise "
        "rnn_num._validate.MEMORY_BUDGET (bytes) if this machine has the memory"
    )


@lru_cache(maxsize=256)
def _legacy_model(activation: str, head: str, many_to_one: bool, h0: str) -> Model:
    # Cached: building a Model validates it, and the legacy path runs on every call.
    task = "many-to-one" if many_to_one else "many-to-many"
    return Model(activation=activation, head=_LEGACY_HEADS[head], task=task, h0=h0)


def resolve_model(
    model: object, activation: object, head: object, many_to_one: object
) -> tuple[Model | None, Model]:
    """(the model given, or None; the model without its h0 option settled).

    Without model=, the legacy keywords (None: tanh, softmax, many-to-many) build it, and
    h0's option is inferred from the h0 argument later. With model=, a legacy keyword may
    only repeat what the model says."""
    if many_to_one is not None and not isinstance(many_to_one, bool):
        raise TypeError(f"many_to_one must be True or False; got {many_to_one!r}")
    if activation is not None:
        check_choice("activation", activation, ACTIVATIONS)
    if head is not None:
        if isinstance(head, str) and head in SPEC_HEADS and head not in HEADS:
            raise ValueError(
                f"head={head!r} is a model option, not a value of the legacy head= keyword "
                f"({', '.join(map(repr, HEADS))}). Fix: pass model='head={head}' instead"
            )
        check_choice("head", head, HEADS)
    if model is None:
        return None, _legacy_model(
            activation or "tanh", head or "softmax", bool(many_to_one), "zero"
        )
    m = parse_model(model)  # a ModelError (a ValueError) names the bad key or value
    conflicts = []
    if activation is not None and activation != m.activation:
        conflicts.append(f"activation={activation!r} (the model has activation={m.activation})")
    if head is not None and _LEGACY_HEADS[head] != m.head:
        conflicts.append(f"head={head!r} (the model has head={m.head})")
    if many_to_one is not None and many_to_one != (m.task == "many-to-one"):
        conflicts.append(f"many_to_one={many_to_one} (the model has task={m.task_text})")
    if conflicts:
        raise ValueError(
            f"{' and '.join(conflicts)} conflict(s) with model={str(m)!r}. Fix: say it in "
            "model= only (e.g. model='activation=relu,head=mse,task=many-to-one'), or drop "
            "model= and use the keywords"
        )
    return m, m


def _check_state(name: str, value: object, dims: Dims, batch: int | None) -> np.ndarray:
    arr = _as_real_array(name, value)
    ok = arr.shape == (dims.n_h,) or (batch is not None and arr.shape == (batch, dims.n_h))
    if not ok:
        need = (
            f"({dims.n_h},)"
            if batch is None
            else f"({dims.n_h},) or (B, n_h) = ({batch}, {dims.n_h})"
        )
        raise ValueError(f"{name} has shape {arr.shape}; it needs shape {need}")
    check_finite(name, arr)
    return arr


def check_h0(h0: object, dims: Dims, batch: int | None) -> np.ndarray | None:
    """None, or h0 of shape (n_h,) (shared by every sequence) or (B, n_h) for batched x."""
    return None if h0 is None else _check_state("h0", h0, dims, batch)


def _option_of(arr: np.ndarray | None) -> str:
    if arr is None:
        return "zero"
    return "shared" if arr.ndim == 1 else "per-sequence"


def check_initial_states(
    h0: object, c0: object, given: Model | None, model: Model, dims: Dims, batch: int | None
) -> tuple[Model, dict[str, np.ndarray | None]]:
    """(the model with its h0 option, {"h0": …, "c0": …} as given, checked).

    given is None (no model=): h0's option follows the argument (None: zero, (n_h,): shared,
    (B, n_h): per-sequence). Otherwise the arguments must fit model.h0; c0 (the LSTM's
    cell state) follows the same option. For unbatched x a per-sequence state is the one
    sequence's, (n_h,)."""
    if "c0" not in model.initial_states and c0 is not None:
        raise ValueError(
            f"c0 is the LSTM's initial cell state, and {model_text(model)} (cell={model.cell}) "
            "has none. Fix: drop c0, or use cell=lstm"
        )
    if given is None:
        h0a = check_h0(h0, dims, batch)
        option = _option_of(h0a)
        legacy = _legacy_model(
            model.activation, _legacy_head(model.head), model.task == "many-to-one", option
        )
        return legacy, {"h0": h0a}
    states: dict[str, np.ndarray | None] = {}
    values = {"h0": h0, "c0": c0}
    for name in given.initial_states:
        states[name] = _fit_state(name, values[name], given, dims, batch)
    return given, states


def _legacy_head(head: str) -> str:
    return "softmax" if head == "softmax-ce" else head


def _fit_state(
    name: str, value: object, model: Model, dims: Dims, batch: int | None
) -> np.ndarray | None:
    option = model.h0
    n_h = dims.n_h
    shapes = {
        "shared": (n_h,),
        "per-sequence": (n_h,) if batch is None else (batch, n_h),
    }
    if option == "zero":
        if value is None:
            return None
        arr = _as_real_array(name, value)
        raise ValueError(
            f"{name} given (shape {arr.shape}), but model h0=zero starts from {name} = 0. "
            f"Fix: pass {name}=None, or use h0=shared ({name} of shape ({n_h},)) or "
            f"h0=per-sequence ((B, n_h)) in the model"
        )
    need = shapes[option]
    what = "one state for every sequence" if option == "shared" else "one state per sequence"
    if value is None:
        raise ValueError(
            f"{name} is None, but model h0={option} needs {name} of shape {need} ({what}). "
            f"Fix: pass {name}, or use h0=zero in the model"
        )
    arr = _as_real_array(name, value)
    if arr.shape != need:
        extra = (
            " (unbatched x: the one sequence's state)"
            if option == "per-sequence" and batch is None
            else ""
        )
        raise ValueError(
            f"{name} has shape {arr.shape}; model h0={option} needs shape {need} ({what}){extra}"
        )
    check_finite(name, arr)
    return arr


def check_targets(
    y: object,
    *,
    model: Model,
    T: int,
    batch: int | None,
    n_y: int | None,
    n_h: int,
    legacy: bool = True,
) -> tuple[np.ndarray, bool]:
    """Return (targets, is_index). Index targets are int class numbers; others are float arrays
    of the outputs' shape (one-hot/probabilities for softmax, regression targets for mse,
    ∇_o l for generic) or of h's shape (∂L/∂h_t for given)."""
    arr = _as_real_array("y", y)
    one = model.task != "many-to-many"
    lead = () if one else (T,)
    lead = lead + (() if batch is None else (batch,))
    lead_txt = ("" if one else "T, ") + ("" if batch is None else "B, ")
    shown = tuple(lead)
    if model.task == "many-to-one":
        task_hint = (
            f" ({'many_to_one' if legacy else 'task=many-to-one'}: one target, for the last step)"
        )
    elif model.task == "step":
        task_hint = f" (task=step={model.step}: one target, for step {model.step})"
    else:
        task_hint = ""
    if model.head == "given":
        need = shown + (n_h,)
        if arr.shape != need:
            raise ValueError(
                f"y has shape {arr.shape}; head=given needs ∂L/∂h_t for every step, shape "
                f"({lead_txt}n_h) = {need}"
            )
        check_finite("y", arr)
        return arr, False
    if model.head in ("mse", "generic"):
        need = shown + (n_y,)
        if arr.shape != need:
            what = (
                "float targets of the outputs' shape"
                if model.head == "mse"
                else "∇_{o_t} l (floats) of the outputs' shape"
            )
            raise ValueError(
                f"y has shape {arr.shape}; head='{model.head}' needs {what} "
                f"({lead_txt}n_y) = {need}{task_hint}"
            )
        check_finite("y", arr)
        return arr, False
    if arr.shape == shown and arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() >= n_y):
            bad = arr[(arr < 0) | (arr >= n_y)].flat[0]
            raise ValueError(
                f"y contains class index {int(bad)}, out of range; class indices must be in 0..{n_y - 1} (n_y = {n_y})"
            )
        return arr.astype(np.intp, copy=False), True
    if arr.shape == shown:
        raise TypeError(
            f"y has shape {arr.shape} and dtype {arr.dtype}: class indices must be integers "
            f"(e.g. y.astype(int)), or give one-hot targets of shape ({lead_txt}n_y) = {shown + (n_y,)}"
        )
    if arr.shape == shown + (n_y,):
        check_finite("y", arr)
        if (arr < 0).any():
            raise ValueError(
                "y (one-hot/probability targets) has negative entries; they must be >= 0"
            )
        return arr, False
    raise ValueError(
        f"y has shape {arr.shape}; it needs integer class indices of shape {shown} "
        f"or one-hot targets of shape ({lead_txt}n_y) = {shown + (n_y,)}" + task_hint
    )
