"""Route 2: check a SymPy expression for a gradient, built from the project's symbols.

The expression is evaluated by substituting numbers for the symbols of the configuration it
was built from (`rnn_sym.model_symbols(T, n_x, n_h, n_y)`): the parameters, x_t, y_t and the
node values a_t, h_t, o_t, ŷ_t of a forward pass. Nothing else is evaluated: a symbol we do
not know makes the answer ILL-FORMED (with the known names and the nearest one), and no
symbol name of the user's is ever turned into code (no lambdify, no sympify).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from rnn_check import _bptt_variants as variants
from rnn_check._code import BLOCKS, Case, _copy_inputs, _summarise, _truth
from rnn_check._verdict import Status, Verdict
from rnn_num._validate import check_tolerance

_ALIASES = {"h_0": "h0", "h(0)": "h0"}
_MAX_NODES = 200_000  # bound on the work: a gradient of a small model is far smaller
# SymPy walks expressions recursively (free_symbols, xreplace, evalf: 2 to 5 frames a level),
# so 200 nested functions already overflow Python's stack; a gradient written in the model's
# node symbols (h_t, a_t, ...) is a few levels deep per step
_MAX_DEPTH = 100
_SEEDS = (0, 1, 2)


def _config_error(config: object) -> TypeError:
    return TypeError(
        "config must be the symbols the expression was built from, "
        "rnn_sym.model_symbols(T, n_x, n_h, n_y); got a " + type(config).__name__
    )


def _validate_config(config: object) -> None:
    needed = ("T", "n_x", "n_h", "n_y", "params", "x", "y", "a", "h", "o", "yhat")
    if not all(hasattr(config, name) for name in needed):
        raise _config_error(config)


def _validate_wrt(wrt: object) -> str:
    if not isinstance(wrt, str):
        raise TypeError(
            f"wrt must be the name of a parameter block ({', '.join(BLOCKS)}), got {wrt!r}"
        )
    name = _ALIASES.get(wrt, wrt)
    if name not in BLOCKS:
        near = [b for b in BLOCKS if b.lower() == wrt.lower()] or difflib.get_close_matches(
            wrt, BLOCKS, n=1, cutoff=0.0
        )
        raise ValueError(
            f"wrt={wrt!r} is not a parameter block; use one of {', '.join(BLOCKS)}"
            + (f" (did you mean {near[0]!r}?)" if near else "")
        )
    return name


def _as_matrix(expr: object) -> sp.MatrixBase:
    if isinstance(expr, str):
        raise TypeError(
            "expr is a string: this route takes a SymPy expression built from the model's "
            "symbols (text is never parsed here); for LaTeX use rnn_check.check_formula"
        )
    if isinstance(expr, sp.MatrixBase):
        return expr
    if isinstance(expr, sp.MatrixExpr):
        if expr.atoms(sp.MatrixSymbol):
            raise TypeError(
                "expr holds a MatrixSymbol, whose entries are not the model's symbols; build it "
                "from the explicit matrices of rnn_sym.model_symbols (m.W, m.h(t), …)"
            )
        try:
            return sp.Matrix(expr.as_explicit())
        except Exception as error:  # MatrixSymbol has no entries to evaluate
            raise TypeError(
                f"expr is a symbolic matrix expression without explicit entries ({error}); build it "
                "from the explicit matrices of rnn_sym.model_symbols (m.W, m.h(t), …)"
            ) from None
    if isinstance(expr, sp.Basic):
        return sp.Matrix([[expr]])
    raise TypeError(
        f"expr must be a SymPy Matrix (or expression) built from rnn_sym.model_symbols, got a "
        f"{type(expr).__name__}"
    )


def _numeric_shape(config: object, block: str) -> tuple[int, ...]:
    return {
        "U": (config.n_h, config.n_x),
        "W": (config.n_h, config.n_h),
        "V": (config.n_y, config.n_h),
        "b": (config.n_h,),
        "c": (config.n_y,),
        "h0": (config.n_h,),
    }[block]


def _families(config: object) -> dict[str, list[tuple[sp.Symbol, str, int, tuple[int, ...]]]]:
    """Every symbol of the configuration: (symbol, quantity, time step, entry)."""
    found: dict[str, list] = {}

    def add(quantity: str, t: int, matrix: sp.MatrixBase) -> None:
        for i in range(matrix.rows):
            for j in range(matrix.cols):
                entry = matrix[i, j]
                if isinstance(entry, sp.Symbol):
                    found.setdefault(quantity, []).append((entry, quantity, t, (i, j)))

    for name, matrix in config.params().items():
        add(name, 0, matrix)
    for t in range(1, config.T + 1):
        for quantity in ("x", "y", "a", "h", "o", "yhat"):
            add(quantity, t, getattr(config, quantity)(t))
    return found


def _known_text(families: Mapping[str, list]) -> str:
    parts = []
    for quantity, entries in families.items():
        names = [str(entry[0]) for entry in entries]
        shown = ", ".join(names[:3]) + (f", … ({len(names)} in all)" if len(names) > 3 else "")
        parts.append(f"{quantity}: {shown}")
    return "; ".join(parts)


def _values(config: object, case: Case) -> dict[tuple[str, int], np.ndarray]:
    """Numbers for every quantity of one case (a column per vector), from a forward pass."""
    params, x, y, h0 = _copy_inputs(case)
    fw = variants.forward(params, x[:, None, :], y[:, None], h0[None, :])
    values: dict[tuple[str, int], np.ndarray] = {}
    for name in ("U", "W", "V"):
        values[(name, 0)] = params[name]
    for name in ("b", "c"):
        values[(name, 0)] = params[name].reshape(-1, 1)
    values[("h0", 0)] = h0.reshape(-1, 1)
    o = fw.h[1:, 0] @ params["V"].T + params["c"]
    for t in range(1, config.T + 1):
        onehot = np.zeros((config.n_y, 1))
        onehot[y[t - 1], 0] = 1.0
        values[("x", t)] = x[t - 1].reshape(-1, 1)
        values[("y", t)] = onehot
        values[("a", t)] = fw.a[t - 1, 0].reshape(-1, 1)
        values[("h", t)] = fw.h[t, 0].reshape(-1, 1)
        values[("o", t)] = o[t - 1].reshape(-1, 1)
        values[("yhat", t)] = fw.yhat[t - 1, 0].reshape(-1, 1)
    return values


class _Problem(Exception):
    pass


def _evaluate(matrix: sp.MatrixBase, substitutions: dict) -> np.ndarray:
    out = np.empty((matrix.rows, matrix.cols))
    for i in range(matrix.rows):
        for j in range(matrix.cols):
            try:
                value = matrix[i, j].xreplace(substitutions)
                number = complex(sp.N(value, 17))
            except Exception:  # whatever SymPy raises, the user sees which entry and why
                value = matrix[i, j]
                raise _Problem(
                    f"entry [{i}, {j}] does not evaluate to a number once every model symbol has a "
                    f"value: {sp.sstr(value)[:200]}"
                ) from None
            if abs(number.imag) > 1e-12 * max(1.0, abs(number.real)) or not math.isfinite(
                number.real
            ):
                raise _Problem(f"entry [{i}, {j}] evaluates to {number}, not a finite real number")
            out[i, j] = number.real
    return out


def _size_problem(expr: object) -> tuple[str, str] | None:
    """(summary, detail) if `expr` has too many nodes or nests too deeply, found by an
    iterative walk before anything in SymPy recurses into it; None if it is fine."""
    if isinstance(expr, sp.MatrixBase) and not isinstance(expr, sp.Basic):
        stack = [(entry, 1) for entry in expr]  # a mutable Matrix: its entries
    elif isinstance(expr, sp.Basic):
        stack = [(expr, 1)]
    else:
        return None  # not SymPy: _as_matrix says what it needs
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > _MAX_NODES:
            return (
                "the expression is too large to evaluate",
                f"It has more than {_MAX_NODES} nodes; simplify it, or check code with "
                "check_backward.",
            )
        if depth > _MAX_DEPTH:
            return (
                f"the expression is nested more than {_MAX_DEPTH} levels deep",
                f"Functions and operations inside one another more than {_MAX_DEPTH} levels "
                "deep cannot be evaluated safely; a gradient of a small model is far "
                "shallower. Write it with the model's node symbols (m.h(t), m.a(t), m.yhat(t), …) "
                "instead of unrolling the recursion, or check code with check_backward.",
            )
        args = getattr(node, "args", ())
        if isinstance(args, tuple):
            stack.extend((arg, depth + 1) for arg in args)
    return None


def _ill(summary: str, detail: str, extra: dict) -> Verdict:
    return Verdict(Status.ILL_FORMED, f"ILL-FORMED: {summary}", detail=detail, extra=extra)


def check_expression(expr: object, wrt: str, config: object, *, rtol: float = 1e-9) -> Verdict:
    """Is the SymPy expression `expr` the gradient ∇_wrt L of the configuration `config`?

    `config` is `rnn_sym.model_symbols(T, n_x, n_h, n_y)` (or with `targets=`), and `expr` an
    explicit SymPy Matrix in its symbols, e.g. for wrt="W" with T = 1:
    `(m.h(1).applyfunc(lambda h: 1 - h**2)).multiply_elementwise(m.V.T * (m.yhat(1) - m.y(1))) * m.h0.T`.
    Vectors are columns. The expression is evaluated at three random points (forward values
    for a_t, h_t, o_t, ŷ_t; one-hot y_t) and compared with rnn_num; a wrong answer gets a
    counterexample and, when it matches a known mistake, a diagnosis.
    """
    block = _validate_wrt(wrt)
    _validate_config(config)
    rtol = check_tolerance("rtol", rtol)  # np.float32 passes; >= 1 (can never fail) does not
    # Size and depth first, iteratively: everything after this recurses through SymPy.
    problem = _size_problem(expr)
    matrix = _as_matrix(expr) if problem is None else None
    targets = getattr(config, "targets", None)
    cases = [
        Case(
            config.T,
            config.n_x,
            config.n_h,
            config.n_y,
            seed=seed,
            targets=None if targets is None else tuple(targets),
        )
        for seed in _SEEDS
    ]
    extra = {
        "cases": len(cases),
        "battery": f"T = {config.T}; seeds {', '.join(map(str, _SEEDS))}",
        "rtol": rtol,
        "blocks": [block],
        "index_base": 0,  # entries [i, j] are NumPy (and SymPy Matrix) indices, from 0
    }
    if targets is not None:
        extra["targets"] = list(targets)

    if problem is not None:
        return _ill(*problem, extra)
    functions = sorted({str(f.func) for entry in matrix for f in entry.atoms(AppliedUndef)})
    if functions:
        return _ill(
            f"unknown function {', '.join(functions)}",
            "Only SymPy's own functions (tanh, exp, log, …) can be evaluated; write the "
            "function out in the model's symbols.",
            extra,
        )

    lazy = (sp.Sum, sp.Product, sp.Integral, sp.Derivative, sp.Limit)
    unevaluated = sorted({type(a).__name__ for entry in matrix for a in entry.atoms(*lazy)})
    if unevaluated:  # evaluating them numerically could take unbounded work
        return _ill(
            f"the expression holds an unevaluated {', '.join(unevaluated)}",
            "Evaluate it first (for example with .doit()), so that only the model's symbols remain.",
            extra,
        )
    families = _families(config)
    known = {entry[0]: entry for group in families.values() for entry in group}
    by_name = {str(symbol): entry for symbol, entry in known.items()}
    free = set().union(*(entry.free_symbols for entry in matrix)) if len(matrix) else set()
    unknown = sorted((s for s in free if s not in known and str(s) not in by_name), key=str)
    if unknown:
        names = [str(s) for s in unknown]
        hints = []
        for name in names:
            near = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.0)
            if near:
                hints.append(f"{name} → did you mean {near[0]}?")
        return _ill(
            f"unknown symbol{'s' if len(names) > 1 else ''} {', '.join(names)}",
            f"{'; '.join(hints)}\nThe expression may only use the symbols of the configuration "
            f"(T = {config.T}, n_x = {config.n_x}, n_h = {config.n_h}, n_y = {config.n_y}): "
            f"{_known_text(families)}.",
            extra,
        )

    shape = _numeric_shape(config, block)
    column = (shape[0], 1) if len(shape) == 1 else shape
    if (matrix.rows, matrix.cols) != column:
        hint = ""
        if (matrix.cols, matrix.rows) == column:
            hint = " It is the transpose of the right shape (gradients have the shape of their block; vectors are columns)."
        return _ill(
            f"the expression is {matrix.rows}×{matrix.cols}, but ∇{block} L is {column[0]}×{column[1]}",
            f"∇{block} L has the shape of {block}: {column[0]}×{column[1]}; the expression is "
            f"{matrix.rows}×{matrix.cols}.{hint}",
            extra,
        )

    runs = []
    for case in cases:
        values = _values(config, case)
        substitutions = {}
        for symbol in free:
            _, quantity, t, (i, j) = known.get(symbol) or by_name[str(symbol)]
            substitutions[symbol] = sp.Float(float(values[(quantity, t)][i, j]), 17)
        try:
            actual = _evaluate(matrix, substitutions).reshape(shape)
        except _Problem as problem:
            return _ill("the expression does not evaluate to numbers", str(problem), extra)
        runs.append((case, actual, _truth(case, "tanh")[1][block]))
    return _summarise({block: runs}, rtol, f"the expression for ∇{block} L", extra)
