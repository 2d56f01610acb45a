"""A small unrolled graph, differentiated node by node by SymPy, for the gated cells and variants.

rnn_sym.reverse_mode knows the canonical model only; the LSTM, the GRU and the vanilla
variants are written here as graphs of nodes whose values are symbols (z^f_{2,1}, f_{2,1},
c_{2,1}, ...), each defined by a small expression in the symbols of earlier nodes. SymPy's
`diff` of each definition, last node first, gives the adjoints (no hand-written derivative
rule). After each diff the forward facts put the node symbols back: tanh(z) = g for a tanh
node and, for a sigmoid node s = 1/(1 + e^{-z}), e^{-z} = (1 − s)/s, which turns SymPy's
e^{-z}/(1 + e^{-z})² into s(1 − s): σ' written on the gate VALUE.

The adjoints of chosen nodes (δh_t, δc_t, the pre-activations) are kept as symbols: the
later nodes see the symbol, which is the induction hypothesis of a backward induction over
t, exactly as in derivations/bptt.py. `Numeric` evaluates a result at numbers: the forward
pass from the node definitions, then the kept adjoints from the textbook formulas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

Key = tuple  # a node's key, e.g. ("z", "f", 2) or ("h", 2)


def rsym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    """rows x cols real symbols `name_{ij}` (name may carry a superscript: `U^{f}`)."""
    return sp.Matrix(rows, cols, lambda i, j: rsym(f"{name}_{{{i + 1}{j + 1}}}"))


def vector(name: str, size: int, t: int | None = None) -> sp.Matrix:
    """A column `name_{i}`, or `name_{t,i}` for the vector at step t."""
    index = (lambda i: f"{i + 1}") if t is None else (lambda i: f"{t},{i + 1}")
    return sp.Matrix(size, 1, lambda i, _: rsym(f"{name}_{{{index(i)}}}"))


def sigmoid(z: sp.Expr) -> sp.Expr:
    """The logistic sigmoid written out, so that SymPy's diff (not a rule of ours) applies."""
    return 1 / (1 + sp.exp(-z))


def sigmoid_facts(z: sp.Expr, s: sp.Symbol) -> dict[sp.Basic, sp.Basic]:
    """The forward fact s = 1/(1 + e^{-z}) as replacements: (1 + e^{-z})^{-k} -> s^k (the
    powers SymPy's diff produces) and e^{-z} -> (1 - s)/s; the result is a polynomial in s."""
    base = 1 + sp.exp(-z)
    out: dict[sp.Basic, sp.Basic] = {base**-k: s**k for k in (1, 2, 3)}
    out[sp.exp(-z)] = (1 - s) / s
    return out


def hadamard(*factors: sp.Matrix) -> sp.Matrix:
    out = factors[0]
    for f in factors[1:]:
        out = out.multiply_elementwise(f)
    return out


def ones(n: int) -> sp.Matrix:
    return sp.ones(n, 1)


def one_minus(v: sp.Matrix) -> sp.Matrix:
    """1 − v entrywise, for a column v."""
    return ones(v.rows) - v


def stack(parts: list[sp.Matrix]) -> sp.Matrix:
    """Columns one above the other (the gates' blocks, in torch's order)."""
    return sp.Matrix.vstack(*parts)


def columns(parts: list[sp.Matrix]) -> sp.Matrix:
    """Columns side by side (one per gate)."""
    return sp.Matrix.hstack(*parts)


def col_sum(terms: Sequence[sp.Matrix], rows: int, cols: int = 1) -> sp.Matrix:
    return sum(terms, sp.zeros(rows, cols))


@dataclass(frozen=True)
class Node:
    key: Key
    symbols: sp.Matrix
    definition: sp.Matrix


@dataclass
class Graph:
    """Nodes in topological order, and the forward facts that put node symbols back."""

    nodes: list[Node] = field(default_factory=list)
    facts: dict[sp.Basic, sp.Basic] = field(default_factory=dict)

    def add(self, key: Key, symbols: sp.Matrix, definition: sp.Matrix) -> sp.Matrix:
        self.nodes.append(Node(key, symbols, definition))
        return symbols

    def sigmoid(self, key: Key, symbols: sp.Matrix, pre: sp.Matrix) -> sp.Matrix:
        for s, z in zip(symbols, pre, strict=True):
            self.facts |= sigmoid_facts(z, s)
        return self.add(key, symbols, pre.applyfunc(sigmoid))

    def tanh(self, key: Key, symbols: sp.Matrix, pre: sp.Matrix) -> sp.Matrix:
        for s, z in zip(symbols, pre, strict=True):
            self.facts[sp.tanh(z)] = s
        return self.add(key, symbols, pre.applyfunc(sp.tanh))

    def node(self, key: Key) -> Node:
        for n in self.nodes:
            if n.key == key:
                return n
        raise KeyError(f"no node {key!r} in the graph")

    def forward_facts(self, expr: sp.Expr) -> sp.Expr:
        if not self.facts:
            return expr
        return sp.cancel(expr.xreplace(self.facts)) if expr.has(sp.exp, sp.tanh) else expr


@dataclass
class Reverse:
    """local[key]: the adjoint of a kept node as diff computed it (in later kept symbols);
    grads[name]: the gradient of each parameter (or initial state)."""

    local: dict[Key, sp.Matrix]
    grads: dict[str, sp.Matrix]


def reverse_mode(
    graph: Graph,
    seeds: Mapping[sp.Symbol, sp.Expr],
    kept: Mapping[Key, sp.Matrix],
    params: Mapping[str, sp.Matrix],
) -> Reverse:
    """Differentiate the graph, last node first. seeds: ∂L/∂s of the symbols the loss reads
    directly (e.g. γ_{t,i} for h_{t,i}, or ∇_{o_t}L symbols for the logits)."""
    adjoint: dict[sp.Symbol, sp.Expr] = dict(seeds)
    differentiable = {s for p in params.values() for s in p}
    differentiable |= {s for n in graph.nodes for s in n.symbols}
    local: dict[Key, sp.Matrix] = {}
    for node in reversed(graph.nodes):
        own = sp.Matrix([sp.expand(adjoint.get(s, sp.Integer(0))) for s in node.symbols])
        if node.key in kept:
            local[node.key] = own
            own = kept[node.key]  # later nodes see the adjoint symbol: the hypothesis
        for k, expr in enumerate(node.definition):
            if own[k] == 0:
                continue
            for s in sorted(expr.free_symbols, key=sp.default_sort_key):
                if s in differentiable:
                    partial = graph.forward_facts(sp.diff(expr, s))
                    adjoint[s] = adjoint.get(s, sp.Integer(0)) + own[k] * partial
    grads = {
        name: p.applyfunc(lambda s: sp.expand(adjoint.get(s, sp.Integer(0))))
        for name, p in params.items()
    }
    return Reverse(local, grads)


def expand_matrix(m: sp.Matrix) -> sp.Matrix:
    return m.applyfunc(sp.expand)


class Numeric:
    """A symbolic result at numbers: forward pass from the node definitions, then the kept
    adjoints from the given (textbook) formulas, last node first."""

    def __init__(
        self,
        graph: Graph,
        kept: Mapping[Key, sp.Matrix],
        formulas: Mapping[Key, sp.Matrix],
        outputs: Sequence[tuple[sp.Matrix, sp.Matrix]] = (),
    ) -> None:
        """outputs: (symbols, formula) pairs evaluated after the forward pass, before the
        adjoints (e.g. the seeds ∇_{o_t}L = softmax(o_t) − y_t)."""
        self.graph = graph
        self.outputs = tuple(outputs)
        self.order = [(n.key, kept[n.key], formulas[n.key]) for n in graph.nodes if n.key in kept]
        self.order.reverse()

    @staticmethod
    def _compile(expr: sp.Matrix) -> tuple[list[sp.Symbol], Callable]:
        args = sorted(expr.free_symbols, key=sp.default_sort_key)
        # lambdify only expressions this project built (never user text). The symbol names are
        # LaTeX, not Python identifiers: rename them all in one pass (lambdify's own dummify
        # substitutes one argument at a time, which made compiling most of a check's time).
        safe = [sp.Symbol(f"v{i}") for i in range(len(args))]
        renamed = expr.xreplace(dict(zip(args, safe, strict=True)))
        return args, sp.lambdify(safe, renamed, modules="numpy")

    def _program(self) -> list[tuple[list[sp.Symbol], list[sp.Symbol], Callable]]:
        if not hasattr(self, "_steps"):
            pairs = [(n.symbols, n.definition) for n in self.graph.nodes]
            pairs += list(self.outputs) + [(symbols, formula) for _, symbols, formula in self.order]
            self._steps = [(list(s), *self._compile(f)) for s, f in pairs]
        return self._steps

    def values(self, inputs: Mapping[sp.Symbol, float]) -> dict[sp.Basic, float]:
        """Every node value and kept adjoint at the given inputs (float64)."""
        vals: dict[sp.Basic, float] = {s: float(v) for s, v in inputs.items()}
        for symbols, args, f in self._program():
            out = np.asarray(f(*(vals[a] for a in args)), dtype=np.float64).ravel()
            vals.update(zip(symbols, (float(v) for v in out), strict=True))
        return vals

    def evaluate(self, expr: sp.Matrix, inputs: Mapping[sp.Symbol, float]) -> np.ndarray:
        vals = self.values(inputs)
        key = sp.ImmutableMatrix(expr)
        compiled = self.__dict__.setdefault("_results", {})
        if key not in compiled:  # a result is evaluated at several points by several checks
            compiled[key] = self._compile(expr)
        args, f = compiled[key]
        return np.asarray(f(*(vals[a] for a in args)), dtype=np.float64)


def numeric_for(
    cell: object,
    local: Callable[[object], Mapping[Key, sp.Matrix]],
    outputs: Callable[[object], Sequence[tuple[sp.Matrix, sp.Matrix]]] | None = None,
) -> Numeric:
    """The Numeric of a (cached) cell, compiled once: every cross-check of a cell reuses it."""
    cache = cell.__dict__.setdefault("_numeric", {})
    key = (local, outputs)
    if key not in cache:
        cache[key] = Numeric(
            cell.graph, cell.kept, local(cell), outputs(cell) if outputs is not None else ()
        )
    return cache[key]


def assign(symbols: sp.Matrix, values: np.ndarray) -> dict[sp.Symbol, float]:
    """{symbol: number} for a matrix of symbols and an array of the same number of entries."""
    flat = np.asarray(values, dtype=np.float64).reshape(symbols.shape)
    return {
        symbols[i, j]: float(flat[i, j]) for i in range(symbols.rows) for j in range(symbols.cols)
    }


def worst_error(errors: Sequence[float]) -> float:
    """The largest error; NaN wins (max() would drop it)."""
    return float("nan") if any(np.isnan(e) for e in errors) else float(max(errors))


Check = Callable[[], float]


def cell_inputs(m, params: Mapping, x: np.ndarray, y: np.ndarray, h0, c0=None) -> dict:
    """{symbol: number} for a cell's symbols (m.params, m.x, m.gamma, m.h[0], m.c[0] if any)
    from a point of derivations._bptt_numeric.random_model_point (head=given: y is γ)."""
    vals: dict = {}
    for name, value in params.items():
        vals |= assign(m.params[name], value)
    for t in range(1, m.T + 1):
        vals |= assign(m.x[t], x[t - 1]) | assign(m.gamma[t], y[t - 1])
    vals |= assign(m.h[0], h0)
    if c0 is not None:
        vals |= assign(m.c[0], c0)
    return vals


def stacked_check(
    build: Callable[[], object],
    local: Callable[[object], Mapping],
    expr: sp.Matrix,
    names: tuple[str, ...],
    against: str,
    seeds: Sequence[int],
    reference: Callable[..., tuple[float, dict]],
    fd: Callable[..., dict],
    point: Callable[..., tuple],
) -> Callable[[], float]:
    """Largest relative error of `expr` (the gradients `names`, each reshaped to n_h rows,
    stacked vertically) at `seeds`: against `reference` (rnn_num.loss_and_grads) or `fd`
    (central differences of an independent loss)."""
    if against not in ("rnn_num", "fd"):
        raise ValueError(f"against must be 'rnn_num' or 'fd', not {against!r}")

    def run() -> float:
        m = build()
        numeric = numeric_for(m, local)
        errors = []
        for seed in seeds:
            params, x, y, h0, c0 = point(m.model, seed, m.T, m.n_x, m.n_h, None)
            mine = numeric.evaluate(expr, cell_inputs(m, params, x, y, h0, c0))
            if against == "rnn_num":
                grads = reference(params, x, y, h0, c0=c0, model=m.model)[1]
            else:
                grads = fd(m.model, params, x, y, h0, c0, names)
            expected = np.vstack([np.reshape(grads[n], (m.n_h, -1)) for n in names])
            errors.append(_relative(mine.reshape(expected.shape), expected))
        return worst_error(errors)

    return run


def _relative(actual: np.ndarray, expected: np.ndarray) -> float:
    from derivations._numeric import relative_error

    return relative_error(actual, expected)


def inline_adjoints(cell: object, local: Callable[[object], Mapping], expr: sp.Matrix) -> sp.Matrix:
    """expr with every kept adjoint symbol of `cell` replaced by its formula in `local(cell)`
    (the textbook recursion), last node first, so no adjoint symbol is left."""
    formulas = local(cell)
    mapping: dict = {}
    for node in reversed(cell.graph.nodes):
        if node.key in cell.kept:
            for s, e in zip(cell.kept[node.key], formulas[node.key], strict=True):
                mapping[s] = e.xreplace(mapping)
    return expr.xreplace(mapping)


def model_text(model: object) -> str:
    """The model's options as the documents print them: `cell=gru, head=given, ...` (with
    spaces, so that a long one can break in a table cell)."""
    return ", ".join(model.short().split(","))
