"""`check_formula`: is a gradient written in the LaTeX dialect right?

The formula is evaluated on a battery of small cases (T = 1 … 5, n_x ≠ n_h ≠ n_y, a
non-symmetric W, h0 ≠ 0, several seeds) of the model it is about (`model=`, an rnn_spec
model; the canonical one by default) and compared with the true gradient from `rnn_num`.
The verdict is CORRECT, WRONG (with the largest relative error, a small counterexample and a
diagnosis from `_mutations` and `_model_references`) or ILL-FORMED (unparsable, unknown symbol, shapes that do not
conform: the sub-expressions and both shapes).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnn_check import _ast as A
from rnn_check._evaluate import Context, Evaluator, build_context, free_indices
from rnn_check._model_references import model_mutants, references
from rnn_check._notation import (
    LSTM_LOGITS,
    NOTATIONS,
    Notation,
    for_model,
    get_notation,
    shown,
    speak,
    with_letters,
)
from rnn_check._parser import block_of, parse_expression, parse_formula
from rnn_check._verdict import BlockError, Counterexample, Status, Verdict
from rnn_num._validate import check_tolerance
from rnn_spec import CANONICAL, Model, parse_model

# (T, n_x, n_h, n_y, seed): sizes all different so that a missing transpose cannot hide
BATTERY: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 4, 3, 2, 0),
    (2, 2, 3, 4, 1),
    (3, 4, 3, 2, 2),
    (4, 3, 4, 2, 3),
    (5, 2, 3, 4, 4),
    (3, 5, 2, 3, 5),
)
TOLERANCE = 1e-9
_FILTER_CASE = 2  # the case mutants are screened on before the whole battery
MAX_PAIR_EVALUATIONS = 1500

BLOCK_SHAPES = {
    "U": ("n_h", "n_x"),
    "W": ("n_h", "n_h"),
    "V": ("n_y", "n_h"),
    "b": ("n_h",),
    "c": ("n_y",),
    "h0": ("n_h",),
    "h_t": ("n_h",),
    "o_t": ("n_y",),
    "a_t": ("n_h",),
}
BLOCK_TITLES = {
    "h0": "∇_{h_0} L",
    "h_t": "∇_{h_t} L",
    "o_t": "∇_{o_t} L",
    "a_t": "∇_{a_t} L",
}


Case = tuple[int, int, int, int, int]


def _fit(case: Case, model: Model) -> Case:
    """The case with a sequence long enough for the model's task (step=K needs T ≥ K)."""
    T, n_x, n_h, n_y, seed = case
    if model.task == "step" and T < model.step:
        T = model.step + (T - 1) % 3  # still several lengths, all ≥ K
    return (T, n_x, n_h, n_y, seed)


@functools.cache
def _battery(model: Model, cases: tuple[Case, ...] | None = None) -> tuple[Case, ...]:
    return tuple(_fit(c, model) for c in (BATTERY if cases is None else cases))


@functools.cache
def _context(case: Case, model: Model = CANONICAL) -> Context:
    return build_context(*case, model=model)


_QUANTITY_WORDS = {"yhat": "\\hat y", **{f"gate_{g}": g for g in "ifgorzn"}}


def _title(block: str, model: Model = CANONICAL) -> str:
    if block in BLOCK_TITLES and not (block == "o_t" and model.cell == "lstm"):
        return BLOCK_TITLES[block]
    if block == "c0":
        return "∇_{c_0} L"
    if block.endswith("_t"):
        q = block[:-2]
        letter = LSTM_LOGITS if q == "o" else _QUANTITY_WORDS.get(q, q)
        return f"∇_{{{letter}_t}} L"
    base, _, sub = block.partition("_")
    return f"∇_{{{base}_{{{sub}}}}} L" if sub else f"∇_{block} L"


def _title_in(block: str, table: Notation | None, model: Model = CANONICAL) -> str:
    """The gradient's name in the notation's own letters (∇_{W_{aa}} L for 002's W, ∇_V E for
    WildML's, ∇_{a_0} L for 002's h0): the verdict speaks the user's letters, not the
    canonical ones. Without a table: the canonical name in `model`."""
    if table is None:
        return _title(block, model)
    canonical = _title(block, table.model)
    loss = table.losses[0] if table.losses else "L"
    name = block[:-2] if block.endswith("_t") else block
    if block in ("h0", "c0"):
        name = block[0]
    letter = table.surface(name)
    if letter == name:
        return canonical if loss == "L" else canonical.removesuffix(" L") + f" {loss}"
    if block.endswith("_t"):
        return f"∇_{{{letter}_t}} {loss}"
    if block in ("h0", "c0"):
        return f"∇_{{{letter}_0}} {loss}"
    return f"∇_{letter} {loss}" if len(letter) == 1 else f"∇_{{{letter}}} {loss}"


def block_letters(block: str, table: Notation) -> str:
    """A block's own letter in the notation (W_{ya} for 002's V; a_0 for its h0)."""
    if block in ("h0", "c0"):
        letter = table.surface(block[0])
        return block if letter == block[0] else f"{letter}_0"
    if block.endswith("_t"):
        return f"{table.surface(block[:-2])}_t"
    return table.surface(block)


class _WrtError(A.FormulaError):
    """The caller's wrt names no block (the formula itself may be fine)."""

    kind = "wrt"


def _wrt_block(wrt: str, notation: Notation) -> tuple[str, A.Node | None]:
    """(block, time): ('W', None), ('h0', None), ('h_t', Index t), ('h_t', T) ..."""
    if not isinstance(wrt, str):
        raise A.FormulaError(f"wrt must be a string such as 'W' or 'h_t', not {wrt!r}")
    text = wrt.strip()
    model = notation.model
    if not text:
        letters = {}
        for letter, canonical in notation.params.items():
            letters.setdefault(canonical, letter)  # the notation's first letter for each
        steps = ["h_t", "o_t", "a_t"] if model.cell == "rnn" else ["h_t", "c_t"]
        if not model.has_output_layer:  # head=given: no logits
            steps = [s for s in steps if s != "o_t"]
        names = [letters[p] for p in model.block_names() if p in letters]
        names += [block_letters(b, notation) for b in (*model.initial_states, *steps)]
        raise _WrtError(f"--wrt is empty; give one of {', '.join(names)}")
    if text in ("h0", "h_0", "h(0)"):
        return "h0", None
    if text in ("c0", "c_0", "c(0)") and model.cell == "lstm":
        return "c0", None
    if text == "identity":
        return "identity", None
    # W_aa, b_y, w_hh: a multi-letter subscript belongs to the name
    text = re.sub(r"^(\\?[A-Za-z]+)_([A-Za-z0-9]{2,})$", r"\1_{\2}", text)
    found = None
    try:
        found = block_of(parse_expression(text, notation))
    except A.FormulaError as error:
        first_error = error
    else:
        first_error = None
    if found is None and notation.key != "canonical":
        # a name the notation does not have: read it in the canonical letters
        try:
            found = block_of(parse_expression(text, for_model(get_notation("canonical"), model)))
        except A.FormulaError:
            pass
    if found is None:
        steps = " or ".join(
            block_letters(b, notation)
            for b in (
                ("h_t", "o_t" if model.has_output_layer else "a_t")
                if model.cell == "rnn"
                else ("h_t", "c_t")
            )
        )
        raise _WrtError(
            f"--wrt {wrt!r} is not a block{': ' + str(first_error) if first_error else ''}; give a "
            f"block of the model ({', '.join(block_letters(b, notation) for b in model.gradient_names())}), "
            f"or a per-step adjoint such as {steps}"
        )
    return found


_ROLE_SHAPES = {
    "input": ("n_h", "n_x"),
    "recurrent": ("n_h", "n_h"),
    "output": ("n_y", "n_h"),
    "bias": ("n_h",),
    "output-bias": ("n_y",),
}


def _shape_names(block: str, model: Model) -> tuple[str, ...]:
    """The block's shape in size names: ('n_h', 'n_x') for U, ('n_y',) for o_t."""
    if block in BLOCK_SHAPES and model.cell == "rnn" and block in model.gradient_names():
        return BLOCK_SHAPES[block]
    for b in model.blocks(1, 1, 1 if model.has_output_layer else None):
        if b.name == block:
            return _ROLE_SHAPES[b.role]
    if block in ("h0", "c0"):
        return ("n_h",)
    q = block[:-2]
    return {"x": ("n_x",), "o": ("n_y",), "yhat": ("n_y",)}.get(q, ("n_h",))


def _dims(block: str, ctx: Context) -> tuple[int, ...]:
    return tuple(getattr(ctx, n) for n in _shape_names(block, ctx.model))


@dataclass(frozen=True)
class _Target:
    block: str
    time_var: str | None  # per-step block as a function of this index (t = 1 … T)
    components: tuple[str, ...]  # free index letters naming rows (and columns)
    fixed_time: A.Node | None = None  # per-step block at one time only (∇_{h_T}L)
    model: Model = CANONICAL
    # the user's letters, for messages only (not part of what the target is)
    table: Notation | None = dataclasses.field(default=None, compare=False, repr=False)


def _same_block(answer: A.Answer, block: str, time: A.Node | None) -> bool:
    if answer.declared != block:
        return False
    if block.endswith("_t"):
        return _time_key(answer.declared_time) == _time_key(time)
    return True


def _time_key(time: A.Node | None):
    # ∇_{h_t}L and ∇_{h_k}L both mean "as a function of the step"; a fixed T is different
    if isinstance(time, A.Index) or time is None:
        return "var"
    return time


def _choose_answer(
    program: A.Program,
    block: str | None,
    time: A.Node | None = None,
    model: Model = CANONICAL,
    table: Notation | None = None,
) -> A.Answer:
    answers = program.answers
    if not answers:
        raise A.FormulaError("the text only defines symbols: add the gradient itself")
    if block is not None:
        matching = [a for a in answers if _same_block(a, block, time)]
        if matching:
            return matching[-1]
        undeclared = [a for a in answers if a.declared is None]
        if undeclared:
            return undeclared[-1]
        stated = ", ".join(_title_in(a.declared, table, model) for a in answers)
        raise A.FormulaError(f"the formula states {stated}, not {_title_in(block, table, model)}")
    return answers[-1]


def _walk_bound(root: A.Node):
    """(node, indices bound by the sums around it) for every node."""
    stack = [(root, frozenset())]
    while stack:
        node, bound = stack.pop()
        yield node, bound
        inner = bound | {node.var} if isinstance(node, A.BigOp) else bound
        for child in node.children():
            stack.append((child, inner if child is getattr(node, "body", None) else bound))


def _target(
    answer: A.Answer,
    block: str,
    time: A.Node | str | None,
    model: Model = CANONICAL,
    table: Notation | None = None,
) -> _Target:
    free = free_indices(answer.body)
    fixed_time = None
    time_var = time if isinstance(time, str) else None
    if isinstance(time, A.Index):
        time_var = time.name
    elif isinstance(time, A.Node):
        if A.free_indices(time):
            raise A.FormulaError(f"the time {time.src} of the block is not a fixed step")
        fixed_time = time
    if time_var is None and fixed_time is None and block.endswith("_t"):
        time_var = "t"
    if fixed_time is not None:
        free.discard("t")  # references write the step as t
    if time_var is not None:
        free.discard(time_var)
    for node, bound in _walk_bound(answer.body):
        times = [getattr(node, f, None) for f in ("time", "num_time", "den_time", "step")]
        for time in times:
            if isinstance(time, A.Node) and (A.free_indices(time) - bound) & free:
                var = sorted((A.free_indices(time) - bound) & free)[0]
                summed = any(isinstance(n, A.BigOp) and n.var == var for n in A.walk(answer.body))
                if not summed:
                    raise A.FormulaError(
                        f"index {var} is free in {answer.body.src or 'the formula'}: "
                        f"{_title_in(block, table, model)} does not depend on a step, so sum over it, as in "
                        f"\\sum_{{{var}=1}}^{{T}} …"
                    )
                raise A.FormulaError(
                    f"index {var} is not bound where it is used, in {node.src or var}: a sum "
                    "covers only the product right after it, so put its terms in brackets, "
                    f"as in \\sum_{var} (\\hat y_{var} - y_{var})"
                )
    rank = len(_shape_names(block, model))
    if free and len(free) > rank:
        raise A.FormulaError(
            f"indices {', '.join(sorted(free))} are free in {answer.body.src or 'the formula'}: "
            f"{_title_in(block, table, model)} has {rank} index{'es' if rank > 1 else ''}; "
            "bind the others with a sum"
        )
    if free and len(free) < rank:
        raise A.FormulaError(
            f"{_title_in(block, table, model)} is a matrix: a formula for one entry needs two free indices "
            f"(rows, columns), found only {', '.join(sorted(free))}"
        )
    if answer.components and free and set(answer.components) != free:
        raise A.FormulaError(
            f"the left side names the entry ({', '.join(answer.components)}) but the free "
            f"indices of the right side are {', '.join(sorted(free))}: use the same letters"
        )
    if answer.components and set(answer.components) == free:
        order = answer.components  # ∂L/∂W_{ji} = …: the left side says which is the row
    else:
        order = tuple(sorted(free)) if free != {"i", "j"} else ("i", "j")
    return _Target(block, time_var, order, fixed_time, model, table)


def evaluate_block(
    program: A.Program, answer: A.Answer, target: _Target, ctx: Context
) -> np.ndarray:
    """The formula's value on one case: the block's shape, or (T, n) for a per-step block."""
    # overflow or log(0) in a wrong formula gives inf/nan, which the comparison reports
    with np.errstate(all="ignore"):
        try:
            return _evaluate_block(program, answer, target, ctx)
        except RecursionError:
            raise A.FormulaError("the formula nests too deeply to evaluate") from None


def _evaluate_block(
    program: A.Program, answer: A.Answer, target: _Target, ctx: Context
) -> np.ndarray:
    dims = _dims(target.block, ctx)
    if target.fixed_time is not None:
        step = Evaluator(ctx).index(target.fixed_time, {})
        if not 1 <= step <= ctx.T:
            raise A.FormulaError(f"step {target.fixed_time.src} = {step} is outside 1 … {ctx.T}")
    times = list(range(1, ctx.T + 1)) if target.time_var else [None]
    results = []
    for t in times:
        env = {} if t is None else {target.time_var: t}
        if target.fixed_time is not None:
            env = {"t": step}
        evaluator = Evaluator(
            ctx, program.definitions, base_env=dict(env), words=_words(target.table)
        )
        if target.components:
            out = np.zeros(dims)
            for entry in np.ndindex(*dims):
                inner = dict(env)
                inner.update({v: i + 1 for v, i in zip(target.components, entry, strict=True)})
                value = evaluator.value(answer.body, inner)
                if value.kind != "scalar":
                    raise A.ShapeError(
                        f"one entry of {_title_in(target.block, target.table, ctx.model)} must be a scalar, but "
                        f"{answer.body.src or 'the formula'} is not"
                    )
                out[entry] = value.data
        else:
            value = evaluator.value(answer.body, env)
            out = _as_block(value, dims, target.block, answer.body.src, ctx.model, target.table)
        results.append(out)
    return np.stack(results) if target.time_var else results[0]


def _as_block(
    value,
    dims: tuple[int, ...],
    block: str,
    src: str,
    model: Model = CANONICAL,
    table: Notation | None = None,
) -> np.ndarray:
    if value.kind == "zero":
        return np.zeros(dims)
    shape = (dims[0], dims[1] if len(dims) == 2 else 1)
    if value.kind == "eye" and shape[0] == shape[1]:
        return np.eye(shape[0]) * value.data
    if value.kind == "ones" and shape[1] == 1:
        return np.full(dims, value.data)
    if value.kind == "mat" and value.data.shape == shape:
        return value.data.reshape(dims)
    if value.kind == "scalar" and value.data == 0:
        return np.zeros(dims)
    got = f"{value.data.shape[0]}×{value.data.shape[1]}" if value.kind == "mat" else "a scalar"
    want = "×".join(str(d) for d in shape)
    names = "×".join(_shape_names(block, model)) + ("" if len(dims) == 2 else "×1")
    raise A.ShapeError(
        f"the formula {src or ''} is {got} but {_title_in(block, table, model)} is {want} ({names})".replace(
            "formula  is", "formula is"
        ),
        failure=("result", got, want),
        operands=(
            np.asarray(value.data) if value.kind == "mat" else np.full((1, 1), value.data),
            None,
        )
        if value.kind in ("mat", "scalar")
        else (None, None),
    )


def _truth(target: _Target, ctx: Context) -> np.ndarray:
    block = target.block
    if block in ctx.grads:
        return np.asarray(ctx.grads[block], dtype=float).reshape(_dims(block, ctx))
    q = block[:-2]
    if target.fixed_time is not None:
        return np.asarray(ctx.adjoint[q][Evaluator(ctx).index(target.fixed_time, {})])
    return np.asarray(ctx.adjoint[q][1 : ctx.T + 1])


def _rel_error(actual: np.ndarray, expected: np.ndarray) -> float:
    if not expected.size:
        return 0.0
    if not np.all(np.isfinite(actual)):
        return float("inf")
    scale = max(float(np.max(np.abs(expected))), 1e-12)
    return float(np.max(np.abs(actual - expected))) / scale


def _ill_formed(error: A.FormulaError, case=None) -> Verdict:
    where = ""
    if case is not None:
        T, n_x, n_h, n_y, seed = case
        where = f" (with T = {T}, n_x = {n_x}, n_h = {n_h}, n_y = {n_y})"
    kind = getattr(error, "kind", "formula")
    summary = {
        "parse": "ILL-FORMED: the formula cannot be parsed",
        "shape": "ILL-FORMED: shapes do not conform",
        "unknown symbol": "ILL-FORMED: unknown symbol",
        "wrt": "ILL-FORMED: --wrt names no block",
    }.get(kind, "ILL-FORMED: the formula cannot be evaluated")
    return Verdict(
        Status.ILL_FORMED,
        summary,
        detail=f"{error}{where}",
        extra={"error": kind},
    )


def check_formula(
    text: str,
    wrt: str | None = None,
    notation: str = "canonical",
    *,
    model: Model | Mapping[str, object] | str | None = None,
    diagnose: bool = True,
    tolerance: float = TOLERANCE,
    letters: str | None = None,
) -> Verdict:
    """Judge a hand-written gradient formula (the dialect of docs/dialect.md).

    `wrt` names the block in the notation's letters (W, U, V, b, c, h0, h_t, o_t, a_t; with
    notation "002" e.g. W_aa; W_f, c_t, f_t for an LSTM); it may be omitted when the formula
    says `\\nabla_W L = …`. `model` (an rnn_spec Model, a mapping or the CLI text
    "cell=lstm,biases=torch"; None: the canonical model) fixes the reference gradients, the
    letters that exist and what they mean (f'(a_t), ∂h_t/∂h_{t-1}, ∇_{o_t}L, the 1/T).
    Unparsable text, an unknown symbol or non-conforming shapes give ILL-FORMED, never an
    exception; a model that does not exist raises rnn_spec.ModelError (a ValueError naming
    the key, the value and the fix), as a bad tolerance raises.

    A notation preset of a source (`d2l`, `wildml`, ...) implies that source's model when
    `model` is None; `model` overrides it. `letters` ("E=L,s=h,z=o,W_{qh}=V") adds the
    user's own letters to the notation's; a map that names no letter of it raises ValueError.
    """
    tolerance = _check_tolerance(tolerance)
    if model is None and isinstance(notation, str) and notation in NOTATIONS:
        model = NOTATIONS[notation].implied_model
    m = parse_model(model)
    if letters is not None and isinstance(notation, str) and notation in NOTATIONS:
        with_letters(for_model(get_notation(notation), m), letters)  # the caller's mistake: raise
    # overflow or log(0) in a wrong formula gives inf/nan, which the comparison reports
    with np.errstate(all="ignore"):
        try:
            return _check_formula(text, wrt, notation, diagnose, tolerance, m, letters)
        except RecursionError:
            return _ill_formed(A.FormulaError("the formula nests too deeply to evaluate"))
        except Exception as error:  # a bug of ours must not reach the user as a traceback
            verdict = _ill_formed(
                A.FormulaError(
                    f"the checker failed on this formula ({type(error).__name__}: {error}); "
                    "this is a bug in rnn-derivations: please report it with the formula"
                )
            )
            return dataclasses.replace(verdict, extra={**verdict.extra, "error": "internal"})


def _check_tolerance(tolerance: object) -> float:
    # a caller's mistake, not the formula's: raise instead of returning a verdict; a
    # relative error is at most 1, so a tolerance >= 1 (it could never fail) is refused
    return check_tolerance("tolerance", tolerance, " such as 1e-9")


def _check_formula(
    text: str,
    wrt: str | None,
    notation: str,
    diagnose: bool,
    tolerance: float,
    model: Model,
    letters: str | None = None,
) -> Verdict:
    try:
        table = with_letters(for_model(get_notation(notation), model), letters)
        # the caller's --wrt first, so a mistake there is not mixed up with the formula's
        block, time = _wrt_block(wrt, table) if wrt is not None else (None, None)
        program = parse_formula(text, table)
        answer = _choose_answer(program, block, time, model, table)
        if answer.declared == "identity" and block in (None, "identity"):
            return _check_identity(program, answer, table, tolerance)
        if block is None:
            block, time = answer.declared, answer.declared_time
            if block is None:
                raise A.FormulaError(
                    "say which gradient this is: pass wrt (e.g. --wrt W) or write \\nabla_W L = …"
                )
        elif answer.declared == block and time is not None and answer.declared_time is not None:
            time = answer.declared_time  # the formula's own letter for the step
        _check_block_exists(block, model, table)
        step = answer.declared_step
        if step is not None and A.free_indices(step):
            if block.endswith("_t") or block in ("h0", "c0"):
                # ∂L_t/∂o_t is read as ∇_{o_t}L (one step's quantity), as before
                answer = dataclasses.replace(answer, declared_step=None)
            else:  # ∂L_t/∂V at a generic t: the loss of step t alone, at every t
                return _check_each_step(
                    program, answer, block, time, notation, letters, model, diagnose, tolerance
                )
        elif isinstance(step, A.Num | A.Length) and model.task == "many-to-many":
            # ∂E_3/∂W (∂L_T/∂W): the loss of step 3 (of the last step) alone, so that is the
            # model's task, as if --model task=step=3 were given; the verdict names the model
            if isinstance(step, A.Num):
                model = dataclasses.replace(model, task="step", step=int(step.value))
            else:
                model = dataclasses.replace(model, task="many-to-one")
            table = with_letters(for_model(get_notation(notation), model), letters)
        _check_declared_step(answer, model, table)
        target = _target(answer, block, time, model, table)
    except A.FormulaError as error:
        return _ill_formed(error)
    except ValueError as error:  # an unknown notation key
        return _ill_formed(A.FormulaError(str(error)))
    verdict = _judge(program, answer, target, table, block, model, diagnose, tolerance)
    lines = [link for link in program.links if program.answers[link.answer] is answer]
    if not lines or verdict.extra.get("error") == "reference":
        return verdict
    return _judge_lines(program, answer, lines, target, table, model, diagnose, tolerance, verdict)


def _judge(
    program: A.Program,
    answer: A.Answer,
    target: _Target,
    table: Notation,
    block: str,
    model: Model,
    diagnose: bool,
    tolerance: float,
) -> Verdict:
    """The verdict on one answer: its values on the battery against the reference."""
    battery = _battery(model)
    try:
        _context(battery[0], model)
    except NotImplementedError as error:  # rnn_num has no kernel for the cell here
        return Verdict(
            Status.ILL_FORMED,
            "ILL-FORMED: no reference gradients for this model",
            detail=f"{error} (the formula itself was read fine)",
            extra={"error": "reference"},
        )
    actual: list[np.ndarray] = []
    for case in battery:
        ctx = _context(case, model)
        try:
            actual.append(evaluate_block(program, answer, target, ctx))
        except A.ShapeError as error:
            verdict = _ill_formed(error, case)
            if not diagnose:
                return verdict
            # the right gradient of another block is diagnosis enough to skip pairs of rules
            other = _other_block(program, answer, target, table)
            verdict = _with_shape_diagnosis(verdict, program, answer, target, pairs=not other)
            return _add_diagnosis(verdict, (other,)) if other else verdict
        except A.FormulaError as error:
            return _ill_formed(error, case)

    errors = [
        _rel_error(a, _truth(target, _context(c, model)))
        for a, c in zip(actual, battery, strict=True)
    ]
    extra = {
        "wrt": block,
        "notation": table.key,
        "model": str(model),
        "cases": len(battery),
        "max_rel_error": max(errors),
        "wrt_letters": block_letters(block, table),
        "index_base": 1,  # entries (i, j) and lines are counted from 1, as the text says
    }
    worst = int(np.argmax(errors))
    index, expected, got = _entry(actual[worst], _truth(target, _context(battery[worst], model)))
    block_error = BlockError(block, errors[worst], _from_one(index), expected, got)
    lengths = sorted({c[0] for c in battery})
    in_model = "" if model == CANONICAL else f" in the model {model.short()}"
    if max(errors) <= tolerance:
        return Verdict(
            Status.CORRECT,
            f"CORRECT: {_title_in(block, table)}{_at_step(target)} matches the reference{in_model} on all "
            f"{len(battery)} cases (T = {lengths[0]} … {lengths[-1]}; largest relative error "
            f"{max(errors):.1e})",
            errors=(block_error,),
            extra=extra,
        )
    first = next(i for i, e in enumerate(errors) if e > tolerance)
    case = battery[first]
    index, expected, got = _entry(actual[first], _truth(target, _context(case, model)))
    T, n_x, n_h, n_y, seed = case
    counterexample = Counterexample(
        T, n_x, n_h, n_y, seed, None, block, _from_one(index), expected, got
    )
    diagnosis: tuple[str, ...] = ()
    if diagnose:
        other = _other_block(program, answer, target, table)
        diagnosis = _spoken(_diagnose(block, target, actual, pairs=not other), table)
        diagnosis += (other,) if other else ()
    extra["diagnosis_rules"] = list(diagnosis)
    where = _entry_words(_from_one(index), target)
    summary = (
        f"WRONG: {_title_in(block, table)}{_at_step(target)} differs from the reference{in_model} (largest relative error "
        f"{max(errors):.3g}); e.g. T = {T}, n_x = {n_x}, n_h = {n_h}, n_y = {n_y}, seed {seed}: "
        f"{where} is {got:.6g}, should be {expected:.6g}"
    )
    if diagnosis:
        summary += "; looks like: " + "; ".join(diagnosis)
    return Verdict(
        Status.WRONG,
        summary,
        errors=(block_error,),
        counterexample=counterexample,
        diagnosis=diagnosis,
        extra=extra,
    )


def _words(table: Notation | None) -> dict[str, str]:
    """The notation's letter of each quantity, where it is not the canonical one (h -> s)."""
    if table is None:
        return {}
    out = {}
    for quantity in dict.fromkeys(table.quantities.values()):
        letter = shown(table.surface(quantity))
        if letter != quantity:
            out[quantity] = letter
    return out


def _from_one(index: tuple[int, ...]) -> tuple[int, ...]:
    """A NumPy index counted from 1, as the text of a formula verdict and its JSON say it."""
    return tuple(i + 1 for i in index)


def _entry_words(entry: tuple[int, ...], target: _Target) -> str:
    """'entry (2, 1)', 'at t = 2, entry 3' for a per-step block (its rows are the steps)."""
    if not entry:
        return "the value"
    if target.time_var is not None and len(entry) >= 2:
        step, rest = entry[0], entry[1:]
        return f"at t = {step}, entry {rest[0] if len(rest) == 1 else rest}"
    return f"entry {entry[0] if len(entry) == 1 else entry}"


def _spoken(rules: tuple[str, ...], table: Notation | None) -> tuple[str, ...]:
    """The rules' names (written in the canonical letters) in the notation's letters."""
    return rules if table is None else tuple(speak(rule, table) for rule in rules)


def _at_step(target: _Target) -> str:
    """' at t = T' for a per-step block stated at one step (∇_{h_T}L, or ∇_{h_τ}L: τ is T)."""
    if target.fixed_time is None:
        return ""
    return f" at t = {'T' if isinstance(target.fixed_time, A.Length) else A.to_latex(target.fixed_time)}"


def _judge_lines(
    program: A.Program,
    answer: A.Answer,
    lines: list[A.Link],
    target: _Target,
    table: Notation,
    model: Model,
    diagnose: bool,
    tolerance: float,
    final: Verdict,
) -> Verdict:
    """A chain ∇_W L = A = B = C: every line, not only the last, must hold.

    Line 1 is compared with the reference, each later line with the line before it (the
    student's own), so that a mistake carried forward is reported once, where it was made;
    after an ill-formed line the next one is compared with the reference again. The first
    line that does not hold decides the verdict, with the diagnosis of that line.
    """
    battery = _battery(model)
    truth = [_truth(target, _context(case, model)) for case in battery]
    count = lines[-1].lines
    rows: list[dict] = []
    previous, against = truth, "the reference"
    for link in lines:
        row = {"line": link.line, "latex": link.src, "against": against}
        line_answer = dataclasses.replace(answer, body=link.body)
        try:
            values = [
                evaluate_block(program, line_answer, target, _context(case, model))
                for case in battery
            ]
        except A.FormulaError as error:  # shapes that do not conform, among others
            row.update(status="ill-formed", reason=str(error))
            rows.append(row)
            previous, against = truth, "the reference"
            continue
        step = max(_rel_error(v, w) for v, w in zip(values, previous, strict=True))
        overall = max(_rel_error(v, w) for v, w in zip(values, truth, strict=True))
        row.update(
            status="holds" if step <= tolerance else "wrong",
            max_rel_error=step,
            matches_reference=bool(overall <= tolerance),
        )
        rows.append(row)
        previous, against = values, f"line {link.line}"
    detail = "\n".join(_line_text(row, count) for row in rows)
    broken = next((row for row in rows if row["status"] != "holds"), None)
    extra = {**final.extra, "lines": rows, "lines_counted_from": 1}
    if broken is None:
        return dataclasses.replace(
            final, summary=f"{final.summary}; all {count} lines hold", detail=detail, extra=extra
        )
    extra["first_broken_line"] = broken["line"]
    where = f"line {broken['line']} of {count}"  # its LaTeX is in the detail, one row a line
    if broken["line"] == count and final.status is not Status.CORRECT:
        judged = final  # the last line is the first broken one: the answer's own verdict
    else:
        link = next(link for link in lines if link.line == broken["line"])
        line_answer = dataclasses.replace(answer, body=link.body)
        judged = _judge(
            program, line_answer, target, table, target.block, model, diagnose, tolerance
        )
    if broken["status"] == "ill-formed":
        summary = judged.summary.removeprefix("ILL-FORMED: ")
        if judged.status is not Status.ILL_FORMED:
            summary = "it cannot be evaluated"  # the reason is in its row of the detail
        return dataclasses.replace(
            judged,
            status=Status.ILL_FORMED,
            summary=f"ILL-FORMED: {where}: {summary}",
            detail=detail,
            extra={**judged.extra, **extra, "error": "line"},
        )
    reason = judged.summary.removeprefix("WRONG: ")
    if broken["against"] != "the reference" and judged.status is not Status.WRONG:
        reason = f"it does not follow from {broken['against']}"
    before = rows[rows.index(broken) - 1] if rows.index(broken) else None
    if judged.status is Status.WRONG and (
        broken["against"] == "the reference" or (before or {}).get("matches_reference")
    ):
        # the summary gives this line's error against the reference, which here is its error
        # against the line before: the row does not say it again
        detail = "\n".join(_line_text(row, count, said=row is broken) for row in rows)
    return dataclasses.replace(
        judged,
        status=Status.WRONG,
        summary=f"WRONG: {where} is the first line that does not hold: {reason}",
        detail=detail,
        extra={**judged.extra, **extra},
    )


def _line_text(row: dict, count: int, said: bool = False) -> str:
    head = f"line {row['line']} of {count}: {row['latex']}"
    if row["status"] == "ill-formed":
        return f"  ✗ {head}  — ill-formed: {row['reason']}"
    against = row["against"]
    if row["status"] == "holds":
        return f"  ✓ {head}  — equals {against}"
    again = "; it matches the reference" if row["matches_reference"] else ""
    if said:  # its largest relative error is in the summary
        return f"  ✗ {head}  — differs from {against}{again}"
    return (
        f"  ✗ {head}  — differs from {against} (largest relative error "
        f"{row['max_rel_error']:.3g}){again}"
    )


def _check_block_exists(block: str, model: Model, table: Notation | None = None) -> None:
    names = model.gradient_names()
    if block in names or block.endswith("_t"):
        return
    said = (lambda b: b) if table is None else (lambda b: block_letters(b, table))
    raise _WrtError(
        f"{said(block)} is not a block of the model ({model.short()}); its blocks are "
        f"{', '.join(map(said, names))}"
    )


def _check_each_step(
    program: A.Program,
    answer: A.Answer,
    block: str,
    time: A.Node | None,
    notation: str,
    letters: str | None,
    model: Model,
    diagnose: bool,
    tolerance: float,
) -> Verdict:
    """∂L_t/∂V = … at a generic t: for each step K of the longest case, the formula with
    t = K against the gradient of L_K alone (task=step=K); the first step that fails is
    the verdict."""
    var = sorted(A.free_indices(answer.declared_step))[0]
    longest = max(case[0] for case in BATTERY)
    worst = 0.0
    for step in range(1, longest + 1):
        value = A.Num(float(step), src=str(step))
        fixed = dataclasses.replace(
            answer,
            body=A.substitute_index(answer.body, var, value),
            declared_step=value,
        )
        at_step = dataclasses.replace(
            program, answers=tuple(fixed if a is answer else a for a in program.answers)
        )
        step_model = dataclasses.replace(model, task="step", step=step)
        table = with_letters(for_model(get_notation(notation), step_model), letters)
        try:
            target = _target(fixed, block, time, step_model, table)
        except A.FormulaError as error:
            return _ill_formed(error)
        verdict = _judge(at_step, fixed, target, table, block, step_model, diagnose, tolerance)
        if verdict.status is not Status.CORRECT:
            return dataclasses.replace(
                verdict, summary=f"{verdict.summary} (at {var} = {step}: the loss of step {step})"
            )
        worst = max([worst, *(e.max_rel_error for e in verdict.errors)])
    words = (
        f"the gradient of L_{var} (the loss of step {var} alone) matches the reference at "
        f"every step {var} = 1 … {longest} (task=step={var}; largest relative error {worst:.1e})"
    )
    return dataclasses.replace(verdict, summary="CORRECT: " + speak(words, table))


def _loss_words(model: Model) -> str:
    if model.task == "many-to-many":
        return "Σ_t L_t (task=many-to-many)"
    if model.task == "many-to-one":
        return "L_T alone (task=many-to-one)"
    return f"L_{model.step} alone (task=step={model.step})"


def _check_declared_step(answer: A.Answer, model: Model, table: Notation | None = None) -> None:
    """∂E_3/∂W = … states the gradient of step 3's loss alone: the model must say so."""
    step = answer.declared_step
    if step is None:
        return
    if isinstance(step, A.Length) and model.task == "many-to-one":
        return
    if isinstance(step, A.Num) and model.task == "step" and step.value == model.step:
        return
    said = A.to_latex(step)
    fix = "task=many-to-one" if isinstance(step, A.Length) else f"task=step={said}"
    words = f"(L_{{{said}}}), but the model's loss is {_loss_words(model)}"
    raise A.FormulaError(
        f"the left side differentiates the loss of step {said} alone "
        f"{words if table is None else speak(words, table)}. Fix: --model {fix}"
        + ("" if model == CANONICAL else f" (with the other options: {model.short()})")
    )


def _entry(actual: np.ndarray, expected: np.ndarray) -> tuple[tuple[int, ...], float, float]:
    diff = np.abs(actual - expected)
    index = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return tuple(int(i) for i in index), float(expected[index]), float(actual[index])


# -- diagnosis ---------------------------------------------------------------------------


def _values(program: A.Program, answer: A.Answer, target: _Target, cases) -> list | None:
    out = []
    for case in _battery(target.model, tuple(cases)):
        try:
            out.append(evaluate_block(program, answer, target, _context(case, target.model)))
        except A.FormulaError:
            return None
    return out


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(
        x.shape == y.shape and np.allclose(x, y, rtol=1e-7, atol=1e-10)
        for x, y in zip(a, b, strict=True)
    )


@functools.cache
def _reference_programs(
    block: str, model: Model = CANONICAL
) -> tuple[tuple[A.Program, A.Answer, _Target], ...]:
    """The correct formulas of the block in the model (parsed), whose mutations diagnose."""
    out = []
    table = for_model(get_notation("canonical"), model)
    for text in references(model).get(block, ()):
        program = parse_formula(text, table)
        answer = program.answers[-1]
        out.append((program, answer, _target(answer, block, None, model)))
    return tuple(out)


# Cases where every size is the same, so that every product conforms: a formula that is
# ill-formed only because of a swapped or missing factor can then be recognised.
SQUARE_CASES: tuple[tuple[int, int, int, int, int], ...] = ((3, 3, 3, 3, 21), (4, 3, 3, 3, 22))


# Cases whose sizes tell n_x, n_h and n_y apart (4, 3, 2 and 2, 3, 4): a shape failure that
# is the same on both is the same in letters (n_y×1 times n_h×1), not by a coincidence of sizes.
SHAPE_CASES: tuple[tuple[int, int, int, int, int], ...] = BATTERY[:2]


def _with_shape_diagnosis(
    verdict: Verdict, program: A.Program, answer: A.Answer, target: _Target, pairs: bool = True
) -> Verdict:
    """Add the recognised mistakes to a shape error: the mutations of a correct formula that
    fail the same way (`_same_failure`), then those that give the user's values on cases
    where all sizes are equal, so that a missing transpose conforms."""
    if not references(target.model).get(target.block):
        return verdict
    by_failure = _same_failure(program, answer, target)
    by_values: tuple[str, ...] = ()
    values = _values(program, answer, target, SQUARE_CASES)
    if values is not None:
        by_values = _diagnose(target.block, target, values, SQUARE_CASES, pairs=pairs)
    by_values, by_failure = _spoken(by_values, target.table), _spoken(by_failure, target.table)
    diagnosis = by_values + tuple(d for d in by_failure if d not in by_values)
    if not diagnosis:
        return verdict
    how = {d: "same values where all sizes are equal" for d in by_values}
    how |= {d: "same shape failure" for d in by_failure if d not in how}
    return dataclasses.replace(
        verdict,
        summary=verdict.summary + "; looks like: " + "; ".join(diagnosis),
        diagnosis=diagnosis,
        extra=verdict.extra | {"diagnosis_rules": list(diagnosis), "diagnosis_by": how},
    )


def _failures(program: A.Program, answer: A.Answer, target: _Target) -> list | None:
    """How the formula fails on each of SHAPE_CASES: (failure, operands) of its shape error,
    or None where it evaluates; None overall when it fails in another way somewhere."""
    out = []
    for case in _battery(target.model, SHAPE_CASES):
        try:
            evaluate_block(program, answer, target, _context(case, target.model))
        except A.ShapeError as error:
            if not error.failure:
                return None
            out.append((error.failure, error.operands))
        except A.FormulaError:
            return None
        else:
            out.append(None)
    return out


def _close(a, b, sign: float = 1.0) -> bool:
    return (
        a is not None
        and b is not None
        and a.shape == b.shape
        and bool(np.allclose(a, sign * b, rtol=1e-7, atol=1e-10))
    )


def _operand_score(user: list, theirs: list) -> int:
    """How closely a mutant's shape failures resemble the user's: 3 when both operands have
    the user's values in the user's order, else the number of the user's operands that are,
    up to sign, one of the mutant's operands (0, 1 or 2) on every failing case."""
    failing = [(a[1], b[1]) for a, b in zip(user, theirs, strict=True) if a is not None]
    if all(
        len(mine) == len(other)
        and all((x is None and y is None) or _close(x, y) for x, y in zip(mine, other, strict=True))
        for mine, other in failing
    ):
        return 3
    return min(
        sum(any(_close(x, y) or _close(x, y, -1.0) for y in other) for x in mine if x is not None)
        for mine, other in failing
    )


def _same_failure(program: A.Program, answer: A.Answer, target: _Target) -> tuple[str, ...]:
    """Single mutations of the block's correct formulas that fail as the user's formula
    does: the same operation on the same shapes, on cases that tell every size apart, with
    at least one operand that has a value of the user's (up to sign), so that a failure of
    the same shapes alone, between unrelated terms, names nothing. Only the closest
    matches are named (see `_operand_score`)."""
    user = _failures(program, answer, target)
    if user is None or all(f is None for f in user):
        return ()
    scores: dict[str, int] = {}
    for reference, ref_answer, _ in _reference_programs(target.block, target.model):
        for name, mutated in model_mutants(ref_answer.body, target.model):
            mutated_answer = A.Answer(mutated, None)
            mutated_target = _mutant_target(mutated_answer, target)
            if mutated_target is None:
                continue
            theirs = _failures(reference, mutated_answer, mutated_target)
            if theirs is None or any(
                (a is None) != (b is None) or (a is not None and a[0] != b[0])
                for a, b in zip(user, theirs, strict=True)
            ):
                continue
            scores[name] = max(scores.get(name, 0), _operand_score(user, theirs))
    best = max(scores.values(), default=0)
    return tuple(name for name, score in scores.items() if score == best) if best else ()


def _add_diagnosis(verdict: Verdict, more: tuple[str, ...]) -> Verdict:
    """The verdict with `more` recognised mistakes after those it already names."""
    joiner = "; " if verdict.diagnosis else "; looks like: "
    diagnosis = verdict.diagnosis + more
    extra = verdict.extra | {"diagnosis_rules": list(diagnosis)}
    if verdict.status is Status.ILL_FORMED:
        how = verdict.extra.get("diagnosis_by", {})
        extra["diagnosis_by"] = how | {d: "another block's gradient on every case" for d in more}
    return dataclasses.replace(
        verdict,
        summary=verdict.summary + joiner + "; ".join(more),
        diagnosis=diagnosis,
        extra=extra,
    )


def _other_block(
    program: A.Program, answer: A.Answer, target: _Target, table: Notation
) -> str | None:
    """'the gradient of another block (∇_V L, V in this notation)' if the formula is exactly
    the correct gradient of another block: the right answer to a different question."""
    model = target.model
    whole = model.gradient_names()  # the whole-model blocks it may be the gradient of
    if target.block not in whole or target.fixed_time is not None:
        return None
    for other in whole:
        if other == target.block:
            continue
        try:
            other_target = _target(answer, other, None, model)
        except A.FormulaError:
            continue
        values = _values(program, answer, other_target, BATTERY)
        if values is None:
            continue
        truths = [_truth(other_target, _context(c, model)) for c in _battery(model)]
        if all(v.shape == t.shape for v, t in zip(values, truths, strict=True)) and all(
            _rel_error(v, t) <= TOLERANCE for v, t in zip(values, truths, strict=True)
        ):
            # in the notation's letters (∇_{W_{ax}} L for 002's U), as every message
            return f"the gradient of another block: {_title_in(other, table, model)}"
    return None


def _mutant_target(answer: A.Answer, target: _Target) -> _Target | None:
    """The user's target for a mutated reference (references use t for the step)."""
    try:
        ref = _target(answer, target.block, target.fixed_time or None, target.model)
    except A.FormulaError:
        return None
    return ref


def _diagnose(
    block: str,
    target: _Target,
    actual: list[np.ndarray],
    cases: tuple[tuple[int, int, int, int, int], ...] = BATTERY,
    pairs: bool = True,
) -> tuple[str, ...]:
    """Rules (or pairs of rules) whose mutated reference reproduces the user's numbers."""
    model = target.model
    screen_index = _FILTER_CASE if len(cases) > _FILTER_CASE else len(cases) - 1
    screen = [cases[screen_index]]
    truth = [_truth(target, _context(c, model)) for c in _battery(model, tuple(cases))]
    found: list[str] = []
    singles: list[tuple[str, A.Program, A.Answer, _Target]] = []
    for program, answer, _ in _reference_programs(block, model):
        for name, mutated in model_mutants(answer.body, model):
            mutated_answer = A.Answer(mutated, None)
            mutated_target = _mutant_target(mutated_answer, target)
            if mutated_target is None:
                continue
            singles.append((name, program, mutated_answer, mutated_target))
            values = _values(program, mutated_answer, mutated_target, screen)
            if values is None or not _same(values, [actual[screen_index]]):
                continue
            full = _values(program, mutated_answer, mutated_target, cases)
            if full is not None and _same(full, actual) and not _same(full, truth):
                if name not in found:
                    found.append(name)
    if found or not pairs:
        return _most_specific(found)
    budget = MAX_PAIR_EVALUATIONS
    for first_name, program, first_answer, _ in singles:
        for second_name, mutated in model_mutants(first_answer.body, model):
            if budget <= 0:
                return tuple(found)
            budget -= 1
            answer = A.Answer(mutated, None)
            mutated_target = _mutant_target(answer, target)
            if mutated_target is None:
                continue
            values = _values(program, answer, mutated_target, screen)
            if values is None or not _same(values, [actual[screen_index]]):
                continue
            full = _values(program, answer, mutated_target, cases)
            if full is not None and _same(full, actual) and not _same(full, truth):
                pair = " + ".join(sorted({first_name, second_name}))
                if pair not in found:
                    found.append(pair)
    return tuple(found)


def _most_specific(names: list[str]) -> tuple[str, ...]:
    """Drop a rule when a refinement of it explains the same numbers: "sign flipped" and
    "sign flipped (a difference reversed)" both match y − ŷ written for ŷ − y, and the
    second says more."""
    return tuple(n for n in names if not any(o.startswith(n + " (") for o in names))


# -- identities between Jacobians: ∂h_{t+1}/∂h_t = … --------------------------------------


def _array(value, like: np.ndarray | None = None) -> np.ndarray:
    if value.kind == "mat":
        return np.asarray(value.data)
    if value.kind == "scalar":
        return np.full((1, 1), value.data)
    shape = like.shape if like is not None else (1, 1)
    if value.kind == "zero":
        return np.zeros(shape)
    if value.kind == "eye":
        return np.eye(shape[0], shape[1]) * value.data
    return np.full(shape, value.data)


def _in_domain(lhs: A.Node, evaluator: Evaluator, env: dict[str, int]) -> bool:
    """Steps where the left side means something: ∂q_n/∂r_d with n ≥ d."""
    for node in A.walk(lhs):
        if isinstance(node, A.Jacobian):
            if evaluator.index(node.num_time, env) < evaluator.index(node.den_time, env):
                return False
    return True


def _check_identity(
    program: A.Program, answer: A.Answer, table: Notation, tolerance: float
) -> Verdict:
    """Both sides of `∂q_n/∂r_d = …` on every case and every step where the left side exists."""
    lhs, rhs = answer.lhs, answer.body
    free = sorted(A.free_indices(lhs) | A.free_indices(rhs))
    name = lhs.src or "the left side"
    if len(free) > 3:
        return _ill_formed(A.FormulaError(f"too many free indices ({', '.join(free)})"))
    worst = None
    first_bad = None
    checked = 0
    points: list[tuple[tuple[int, int, int, int, int], dict[str, int], np.ndarray]] = []
    timed = set()  # indices used as a time (the others number components)
    for side in (lhs, rhs):
        for node in A.walk(side):
            for attr in ("time", "num_time", "den_time", "step", "lower", "upper"):
                value = getattr(node, attr, None)
                if isinstance(value, A.Node):
                    timed |= A.free_indices(value)
    model = table.model
    battery = _battery(model)
    words = _words(table)
    for case in battery:
        ctx = _context(case, model)
        ranges = [
            range(ctx.T + 1) if var in timed else range(1, max(ctx.n_x, ctx.n_h, ctx.n_y) + 1)
            for var in free
        ]
        for values in itertools.product(*ranges):
            env = dict(zip(free, values, strict=True))
            evaluator = Evaluator(
                ctx, program.definitions, base_env=dict(env), strict_end=True, words=words
            )
            try:
                if not _in_domain(lhs, evaluator, env):
                    continue
                left = _array(evaluator.value(lhs, env))
            except A.RangeError:
                continue  # a step where the left side does not exist (h_{-1}, x_0, ...)
            except A.FormulaError as error:
                return _ill_formed(error, case)
            try:
                right_value = Evaluator(
                    ctx, program.definitions, base_env=dict(env), strict_end=True, words=words
                ).value(rhs, env)
            except A.RangeError:
                # the right side needs a step that does not exist here (h_{-1}, h_{T+1}):
                # an identity is checked only where every quantity in it exists
                continue
            except A.FormulaError as error:
                return _ill_formed(error, case)
            right = _array(right_value, left)
            if right.shape != left.shape:
                shape = lambda a: f"{a.shape[0]}×{a.shape[1]}"  # noqa: E731
                return _ill_formed(
                    A.ShapeError(
                        f"{name} is {shape(left)} but {rhs.src or 'the right side'} is "
                        f"{shape(right)}"
                    ),
                    case,
                )
            checked += 1
            points.append((case, env, right))
            error = _rel_error(right, left)
            record = (error, case, env, *_entry(right, left))
            if worst is None or error > worst[0]:
                worst = record
            if error > tolerance and first_bad is None:
                first_bad = record
    if checked == 0 or worst is None:
        return _ill_formed(A.FormulaError(f"{name} exists at no step of the test cases"))
    error, case, env, index, expected, got = worst
    block_error = BlockError(name, error, _from_one(index), expected, got)
    extra = {
        "wrt": "identity",
        "notation": table.key,
        "cases": len(battery),
        "max_rel_error": error,
        "index_base": 1,
    }
    if first_bad is None:
        return Verdict(
            Status.CORRECT,
            f"CORRECT: the identity holds on all {len(battery)} cases at every step where "
            f"all its quantities exist ({checked} checks; largest relative error {error:.1e})",
            errors=(block_error,),
            extra=extra,
        )
    _, case, env, index, expected, got = first_bad
    T, n_x, n_h, n_y, seed = case
    steps = ", ".join(f"{k} = {v}" for k, v in env.items())
    diagnosis = _spoken(_diagnose_identity(lhs, points, model), table)
    summary = (
        f"WRONG: the two sides differ (largest relative error {error:.3g}); e.g. T = {T}, "
        f"n_x = {n_x}, n_h = {n_h}, n_y = {n_y}, seed {seed}, {steps}: entry "
        f"{_from_one(index)} of {name} is {expected:.6g}, the right side gives "
        f"{got:.6g}"
    )
    if diagnosis:
        summary += "; looks like: " + "; ".join(diagnosis)
    return Verdict(
        Status.WRONG,
        summary,
        errors=(block_error,),
        counterexample=Counterexample(
            T, n_x, n_h, n_y, seed, None, name, _from_one(index), expected, got
        ),
        diagnosis=diagnosis,
        extra=extra | {"steps": env, "diagnosis_rules": list(diagnosis)},
    )


def _state_jacobian_text(model: Model, m: str) -> str | None:
    """J_m = ∂h_m/∂h_{m-1} of the Elman cell, as the notes write it for the activation."""
    if model.cell != "rnn":
        return None  # a gated cell's J_m has no short form the notes share
    factor = {
        "tanh": rf"\mathrm{{diag}}(1-h_{{{m}}}^2) ",
        "identity": "",
    }.get(model.activation, rf"\mathrm{{diag}}(f'(a_{{{m}}})) ")
    return factor + "W"


def _identity_reference(lhs: A.Node, model: Model = CANONICAL) -> A.Node | None:
    """The correct right side for the Jacobians the notes write out, in the lhs's indices."""
    if not isinstance(lhs, A.Jacobian):
        return None
    table = for_model(get_notation("canonical"), model)
    n = A.to_latex(lhs.num_time)
    one_step = _state_jacobian_text(model, n)
    if (lhs.num, lhs.den) == ("h", "h") and not lhs.comp and lhs.num_time == _shifted(lhs.den_time):
        if one_step is None:
            return None
        text = one_step
    elif model.head != "softmax-ce" and (lhs.num, lhs.den) == ("yhat", "o"):
        return None
    elif (lhs.num, lhs.den) == ("yhat", "o") and lhs.num_time == lhs.den_time:
        if len(lhs.comp) == 2:
            i, j = (A.to_latex(c) for c in lhs.comp)
            text = rf"\hat y_{{{n},{i}}} (\delta_{{{i},{j}}} - \hat y_{{{n},{j}}})"
        elif not lhs.comp:
            text = rf"\mathrm{{diag}}(\hat y_{{{n}}}) - \hat y_{{{n}}} \hat y_{{{n}}}^\top"
        else:
            return None
    elif (lhs.num, lhs.den) == ("h", "h") and not lhs.comp:
        # ∂h_t/∂h_k = J_t … J_{k+1}: written out, so that a product in the other order,
        # a W where Wᵀ belongs or a tanh' at the wrong step can be named
        d = A.to_latex(lhs.den_time)
        factor = _state_jacobian_text(model, "m")
        if factor is None:
            return None
        text = rf"\prod_{{m={d}+1}}^{{{n}}} \left({factor}\right)"
        body = parse_formula(text, table).answers[0].body
        return dataclasses.replace(body, reverse=True) if isinstance(body, A.BigOp) else None
    else:
        return None
    return parse_formula(text, table).answers[0].body


def _shifted(time: A.Node) -> A.Node:
    """time + 1, in the form the parser builds (t-1 + 1 → t)."""
    if isinstance(time, A.Sub) and time.right == A.Num(1.0):
        return time.left
    return A.Add(time, A.Num(1.0))


def _diagnose_identity(lhs: A.Node, points, model: Model = CANONICAL) -> tuple[str, ...]:
    """Rules whose mutated right side gives the user's right side at every checked step."""
    reference = _identity_reference(lhs, model)
    if reference is None:
        return ()
    found: list[str] = []
    for rule, mutated in model_mutants(reference, model):
        if rule in found:
            continue
        for case, env, expected in points:
            try:
                value = Evaluator(_context(case, model)).value(mutated, env)
            except A.FormulaError:
                break
            got = _array(value, expected)
            if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-7, atol=1e-10):
                break
        else:
            found.append(rule)
    return tuple(found)


# -- the counterexample's inputs (`rnn-derive check --show-case`) --------------------------


def case_inputs(
    counterexample: Counterexample,
    model: Model | Mapping[str, object] | str | None = None,
    notation: str = "canonical",
    letters: str | None = None,
) -> dict[str, np.ndarray]:
    """The numbers of the case a WRONG verdict's counterexample was found on, named in the
    notation's letters, in order: the inputs x_t (row t−1 is step t), the initial state(s),
    every parameter block, then what the loss compares with (the target classes counted from
    1, the targets of MSE, or the gradient handed in for head=generic / given)."""
    m = parse_model(model)
    table = with_letters(for_model(get_notation(notation), m), letters)
    ce = counterexample
    ctx = _context((ce.T, ce.n_x, ce.n_h, ce.n_y, ce.seed), m)
    T = ctx.T
    out: dict[str, np.ndarray] = {f"{table.surface('x')}_t": ctx.series["x"][1 : T + 1]}
    for state in m.initial_states:
        out[block_letters(state, table)] = ctx.series[state[0]][0]
    for block in m.block_names():
        out[table.surface(block)] = ctx.params[block]
    steps = list(ctx.loss_steps)
    y = shown(table.surface("y"))
    if m.head == "softmax-ce":
        out[f"{y}_t (class, counted from 1)"] = ctx.target[steps] + 1
    elif m.head == "mse":
        out[f"{y}_t"] = ctx.series["y"][steps]
    else:
        seen = "o" if m.head == "generic" else "h"
        loss = table.step_losses[0] if table.step_losses else "l"
        out[f"∇_{{{table.surface(seen)}_t}} {loss}"] = ctx.engine.targets[steps]
    return out
