"""Lambdify expressions the project built into plain NumPy functions (with CSE).

Only expressions that rnn_sym itself constructed are lambdified (never user text).
`NumericBptt` evaluates the symbolic graph of a `ReverseMode` numerically: each node's
defining expression and each adjoint's expression becomes one small NumPy function
(`sympy.lambdify(..., cse=True)`), called in graph order. So the numbers are the
symbolic result's, computed without rnn_num.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import And, BooleanFalse, BooleanTrue, Not, Or

from rnn_sym._bptt import ReverseMode, Textbook, textbook
from rnn_sym._errors import RnnSymError
from rnn_sym._model import PARAMETER_NAMES


class NumericInputError(RnnSymError, ValueError):
    """Numeric input to a lambdified function has the wrong keys, shape or values."""


# What lambdify may print into the code it generates: the functions rnn_sym's graphs and
# derivations are built from (tanh, exp, log for the cells and losses; Max, Heaviside and
# Piecewise for ReLU; a few elementary ones) and the operations below. An undefined
# Function is refused above all: lambdify prints its *name* into the generated source.
_FUNCTIONS = frozenset(
    {sp.tanh, sp.exp, sp.log, sp.Max, sp.Min, sp.Heaviside, sp.Piecewise, sp.Abs, sp.sign}
    | {sp.sin, sp.cos, sp.sinh, sp.cosh}
)
_STRUCTURE = (sp.Add, sp.Mul, sp.Pow, sp.Number, sp.NumberSymbol, sp.Tuple, ExprCondPair)
_LOGIC = (Relational, And, Or, Not, BooleanTrue, BooleanFalse)  # Piecewise's conditions


def _check_printable(expr: sp.Basic | sp.MatrixBase) -> None:
    """Refuse any node lambdify would print that rnn_sym does not build (iterative walk)."""
    stack = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    seen: set[sp.Basic] = set()  # shared subtrees once: a tree walk could be exponential
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, AppliedUndef):
            raise TypeError(
                f"cannot lambdify the undefined function {str(node.func)!r}: lambdify would print "
                "its name into generated code. Write it out with SymPy's own functions "
                f"({', '.join(sorted(f.__name__ for f in _FUNCTIONS))})"
            )
        if type(node) in (sp.Symbol, sp.Dummy):
            if not node.name.isidentifier() or keyword.iskeyword(node.name):
                raise ValueError(
                    f"cannot lambdify the symbol {node.name!r}: it is not among the arguments "
                    "and its name is not a Python identifier"
                )
            continue
        if type(node) not in _FUNCTIONS and not isinstance(node, _STRUCTURE + _LOGIC):
            raise TypeError(
                f"cannot lambdify {type(node).__name__} ({sp.sstr(node)[:80]}): only the "
                "arithmetic and the functions rnn_sym builds are turned into code "
                f"({', '.join(sorted(f.__name__ for f in _FUNCTIONS))})"
            )
        stack.extend(node.args)


def lambdify_matrix(expr: sp.Basic, args: Sequence[sp.Symbol]) -> Callable[..., np.ndarray]:
    """A NumPy function of `args` computing `expr` (scalar or Matrix), with CSE.

    Every free symbol of `expr` must be among `args` (distinct Symbols): a leftover symbol
    would otherwise surface as a NameError deep inside generated code. Only what rnn_sym
    builds is turned into code: +, ·, powers, numbers and the functions of `_FUNCTIONS`
    (tanh, exp, log, Max, Heaviside, Piecewise, …). An undefined Function (whose name
    lambdify would print into the code), any other function or object, or a bound Symbol
    whose name is not a Python identifier raises a TypeError/ValueError naming it.
    """
    if not isinstance(expr, sp.Basic | sp.MatrixBase):
        raise TypeError(
            f"lambdify_matrix takes a SymPy expression or Matrix that rnn_sym built, got a "
            f"{type(expr).__name__} (text is never turned into code)"
        )
    if isinstance(args, str | sp.Basic) or not all(isinstance(a, sp.Symbol) for a in args):
        raise TypeError(f"args must be a sequence of SymPy Symbols, got {args!r}")
    args = list(args)
    if len(set(args)) != len(args):
        twice = sorted({str(a) for a in args if args.count(a) > 1})
        raise ValueError(f"args must be distinct Symbols; {twice} appear more than once")
    missing = expr.free_symbols - set(args)
    if missing:
        names = sorted(str(s) for s in missing)[:5]
        raise NumericInputError(
            f"cannot lambdify: symbols {names} are not arguments; pass every free symbol of "
            "the expression in args"
        )
    # Our names (\hat{y}_{1,2}, (\nabla_{h_{3}} L)_{1}) are not Python identifiers; lambdify
    # would replace them one argument at a time (one pass over expr each). One pass instead:
    plain = [sp.Symbol(f"_v{i}") for i in range(len(args))]
    expr = expr.xreplace(dict(zip(args, plain, strict=True)))
    _check_printable(expr)  # after renaming: every name lambdify will print is ours
    # docstring_limit=0: printing the expression into a docstring costs more than the work
    return sp.lambdify(plain, expr, modules="numpy", cse=True, docstring_limit=0)


def _sorted_symbols(expr: sp.Basic) -> list[sp.Symbol]:
    return sorted(expr.free_symbols, key=sp.default_sort_key)


class _Block:
    """One lambdified column: the symbols it defines, the function and its arguments."""

    def __init__(self, targets: Sequence[sp.Basic], expr: sp.Matrix) -> None:
        self.targets = list(targets)
        self.args = _sorted_symbols(expr)
        self.fn = lambdify_matrix(expr, self.args)
        self.shape = expr.shape

    def __call__(self, values: Mapping[sp.Basic, float]) -> np.ndarray:
        out = np.asarray(self.fn(*[values[s] for s in self.args]), dtype=np.float64)
        return out.reshape(self.shape)


class NumericBptt:
    """Numeric loss and gradients of the canonical RNN from the symbolic graph.

    route="autodiff": the adjoints as SymPy's diff computed them (ReverseMode);
    route="textbook": the textbook recursion (NOTATION.md) in the same symbols.
    """

    def __init__(self, rm: ReverseMode, route: str = "autodiff") -> None:
        if not isinstance(rm, ReverseMode):
            raise TypeError(
                "NumericBptt takes the graph rnn_sym.reverse_mode(rnn_sym.model_symbols(T, n_x, "
                f"n_h, n_y)) returns, got a {type(rm).__name__}"
            )
        if route not in ("autodiff", "textbook"):
            raise NumericInputError(f"route must be 'autodiff' or 'textbook', not {route!r}")
        self.rm = rm
        m = rm.model
        self.model = m
        forms: ReverseMode | Textbook = rm if route == "autodiff" else textbook(rm)
        self._forward = [_Block(list(n.symbols), n.definition) for n in rm.graph]
        self._loss_symbols = [n.symbols[0] for n in rm.graph if n.kind == "L"]
        self._backward: list[_Block] = []
        for t in range(m.T, 0, -1):
            if t in forms.local_o:
                self._backward.append(_Block(list(rm.grad_o[t]), forms.local_o[t]))
            self._backward.append(_Block(list(rm.grad_h[t]), forms.local_h[t]))
        self._params = {name: _Block([], forms.params[name]) for name in PARAMETER_NAMES}

    # --- input ------------------------------------------------------------------------------

    def inputs(
        self,
        params: Mapping[str, np.ndarray],
        x: np.ndarray,
        y: np.ndarray | int,
        h0: np.ndarray | None = None,
    ) -> dict[sp.Basic, float]:
        """Symbol -> value for parameters, h0, inputs and one-hot targets (validated)."""
        m = self.model
        values: dict[sp.Basic, float] = {}
        shapes = {"U": (m.n_h, m.n_x), "W": (m.n_h, m.n_h), "V": (m.n_y, m.n_h)}
        shapes |= {"b": (m.n_h,), "c": (m.n_y,)}
        unknown = sorted(set(params) - set(shapes) - {"h0"})
        if unknown:
            raise NumericInputError(
                f"unknown parameter name(s) {unknown}; the parameters are {sorted(shapes)}"
            )
        for name, shape in shapes.items():
            if name not in params:
                raise NumericInputError(f"parameter {name!r} is missing (shape {shape})")
            value = np.asarray(params[name], dtype=np.float64)
            if value.shape != shape and value.shape != shape + (1,):
                raise NumericInputError(
                    f"parameter {name!r} has shape {value.shape}, expected {shape}"
                )
            symbols = getattr(m, name)
            for s, v in zip(symbols, value.reshape(-1), strict=True):
                values[s] = float(v)
        h0 = np.zeros(m.n_h) if h0 is None else np.asarray(h0, dtype=np.float64)
        if h0.shape != (m.n_h,):
            raise NumericInputError(f"h0 has shape {h0.shape}, expected ({m.n_h},)")
        values |= dict(zip(m.h0, map(float, h0), strict=True))
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (m.T, m.n_x):
            raise NumericInputError(f"x has shape {x.shape}, expected (T, n_x) = {(m.T, m.n_x)}")
        for t in range(1, m.T + 1):
            values |= dict(zip(m.x(t), map(float, x[t - 1]), strict=True))
        self._targets(values, y)
        return values

    def _targets(self, values: dict[sp.Basic, float], y: np.ndarray | int) -> None:
        m = self.model
        y = np.asarray(y)
        steps = [m.T] if self.rm.many_to_one else list(range(1, m.T + 1))
        expected = () if self.rm.many_to_one else (m.T,)
        if y.shape != expected or not np.issubdtype(y.dtype, np.integer):
            raise NumericInputError(
                f"y must be integer class indices of shape {expected}, got {y.dtype} {y.shape}"
            )
        labels = y.reshape(-1)
        if np.any(labels < 0) or np.any(labels >= m.n_y):
            raise NumericInputError(f"class indices must be in 0..{m.n_y - 1}")
        for t, label in zip(steps, labels, strict=True):
            target = m.y(t)
            if m.targets is not None:
                if m.targets[t - 1] != int(label):
                    raise NumericInputError(
                        f"this model was built for targets {list(m.targets)}; got y = {y.tolist()}"
                    )
                continue
            for i, s in enumerate(target):
                values[s] = float(i == label)

    # --- evaluation -------------------------------------------------------------------------

    def values(
        self,
        params: Mapping[str, np.ndarray],
        x: np.ndarray,
        y: np.ndarray | int,
        h0: np.ndarray | None = None,
    ) -> dict[sp.Basic, float]:
        """Every symbol's value: inputs, node values (forward) and adjoints (backward)."""
        values = self.inputs(params, x, y, h0)
        for block in self._forward + self._backward:
            for s, v in zip(block.targets, block(values).reshape(-1), strict=True):
                values[s] = float(v)
        return values

    def __call__(
        self,
        params: Mapping[str, np.ndarray],
        x: np.ndarray,
        y: np.ndarray | int,
        h0: np.ndarray | None = None,
    ) -> tuple[float, dict[str, np.ndarray]]:
        """(loss, grads) with grads keyed U, W, V, b, c, h0, as rnn_num.loss_and_grads."""
        values = self.values(params, x, y, h0)
        loss = float(sum(values[s] for s in self._loss_symbols))
        grads = {}
        for name, block in self._params.items():
            g = block(values)
            grads[name] = g.reshape(-1) if name in ("b", "c", "h0") else g
        return loss, grads

    def evaluate(self, expr: sp.Basic) -> Callable[..., np.ndarray]:
        """A NumPy function (params, x, y, h0) -> value of `expr`, an expression we built
        in the model's symbols (node values and adjoints allowed)."""
        matrix = sp.Matrix(expr) if isinstance(expr, sp.MatrixBase) else sp.Matrix([[expr]])
        block = _Block([], matrix)

        def run(params, x, y, h0=None) -> np.ndarray:
            return block(self.values(params, x, y, h0))

        return run


__all__ = ["NumericBptt", "NumericInputError", "lambdify_matrix"]
