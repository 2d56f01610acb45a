"""Symbolic cells for every model of rnn_spec: the unrolled graph, as node symbols.

`cell_graph(model, T, n_x, n_h, n_y)` unrolls one sequence of any `rnn_spec.Model`
(Elman cell with any activation, LSTM, GRU; every biases option, head, reduction, task)
into a list of nodes, each a column of symbols with its defining expression in the
symbols of earlier nodes, so no expression ever inlines the graph (size linear in T).
The parameter blocks, their names and shapes come from `model.blocks(...)`.

The forward equations are torch's (tests/_plain_models.py states them executably):

    rnn   a_t = U x_t + W h_{t-1} + b (torch: + b_ih + b_hh),  h_t = f(a_t)
    lstm  a^{(q)}_t = U_q x_t + W_q h_{t-1} + b_q for q in i, f, g, o (torch: b_iq + b_hq),
          i, f, o = σ(a^{(q)}), g = tanh(a^{(g)}), c_t = f ⊙ c_{t-1} + i ⊙ g,
          τ_t = tanh(c_t), h_t = o ⊙ τ_t
    gru   a^{(r)}, a^{(z)} as the LSTM's; a^{(hn)}_t = W_n h_{t-1} + b_hn,
          a^{(n)}_t = U_n x_t + b_in + r ⊙ a^{(hn)}_t, n = tanh(a^{(n)}),
          h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}      (biases=both/hidden: b_n is the input-side one)
    head  o_t = V h_t + c;  softmax-ce: ŷ_t = softmax(o_t), L_t = −Σ_k y_{t,k} log ŷ_{t,k};
          mse: L_t = ½‖o_t − y_t‖² (mse_scale=one: ‖o_t − y_t‖²);  generic: L_t = ⟨g_t, o_t⟩
          with g_t = ∇_{o_t} l opaque symbols `(\\nabla_{o_{t}} l)_{k}`;  given: no output layer,
          L_t = ⟨g_t, h_t⟩ with g_t = ∂L/∂h_t opaque symbols `(\\nabla_{h_{t}} l)_{k}`.
    loss  L = (1 / D) Σ_{t with a loss} L_t, D = model.loss_scale_denominator(T, batch).

Batches: the graph is one symbolic sequence. A batch is the sum over its sequences of
this same graph, so only the reduction's factor 1/B depends on B: it is an exact
Rational with a concrete positive integer `batch` (default 1), fixed when the graph is
built. h0 (and c0) are symbols, whatever model.h0 says: h0 = zero is the value 0 at
evaluation time, shared / per-sequence only say how a batch's gradients are summed.

relu: h = Max(0, a), whose SymPy derivative is Heaviside(a) (½ at 0). relu has a kink at
0, where no derivative exists; compare numbers only at points where no pre-activation
is 0 (rnn_num takes f'(0) = 0).

`cell_reverse_mode(graph)` differentiates the graph node by node, last node first, by
SymPy's `diff` of each node's definition; `cell_textbook(rm)` writes the textbook
recursions of each cell as matrix formulas; `prove_cell_recursion(rm)` proves them equal
node by node (backward induction: the adjoints of later nodes are the same symbols on
both sides); `NumericCell(rm)` lambdifies them for NumPy evaluation.

    g = cell_graph("cell=lstm", T=3, n_x=2, n_h=3, n_y=2)   # or a Model, or a mapping
    g.node("c", 2), g.blocks["W_f"], g.initial["c0"]        # explicit columns of symbols
    rm = cell_reverse_mode(g)
    rm.local[("c", 1)], rm.grads["W_f"]                     # in the adjoint symbols rm.adjoints
    for record in prove_cell_recursion(rm): ...             # StepFailed if a form is wrong
    loss, grads = NumericCell(rm)(params, x, y, h0, c0)     # as rnn_num.loss_and_grads
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from rnn_spec import Block, Model, parse_model
from rnn_sym._bptt import Node, ProofRecord, _prove
from rnn_sym._errors import SizeLimitError, StepFailed
from rnn_sym._lambdify import NumericInputError, lambdify_matrix
from rnn_sym._model import MAX_T, _index, check_sizes, vector_symbols

# How each node kind prints inside symbol names (node kinds are the keys of CellGraph.nodes).
_LATEX = {
    "a": "a",
    "h": "h",
    "c": "c",
    "tanh_c": r"\tau",
    "o": "o",
    "yhat": r"\hat{y}",
    "a_hn": "a^{(hn)}",
    "gate_i": "i",
    "gate_f": "f",
    "gate_g": "g",
    "gate_o": r"o^{\mathrm{gate}}",  # not o: o_t is the output layer's logits
    "gate_r": "r",
    "gate_z": "z",
    "gate_n": "n",
}
# The nodes whose adjoints are kept as symbols (the proofs are node by node over these).
_KEPT = {
    "rnn": ("h",),
    "lstm": ("h", "c", "a_i", "a_f", "a_g", "a_o"),
    "gru": ("h", "a_r", "a_z", "a_n"),
}


def _latex(kind: str) -> str:
    if kind in _LATEX:
        return _LATEX[kind]
    if not kind.startswith("a_"):
        raise KeyError(f"no node kind {kind!r}")
    return f"a^{{({kind[2:]})}}"  # a_q: the pre-activation of gate q


def _block_symbols(block: Block) -> sp.Matrix:
    """Entries `U_{12}` (unsubscripted block) or `U_{i,12}`, `b_{hn,1}` (gated, torch)."""
    base, _, sub = block.name.partition("_")
    head = f"{base}_{{{sub}," if sub else f"{base}_{{"
    if len(block.shape) == 1:
        return sp.Matrix(block.shape[0], 1, lambda i, _: sp.Symbol(f"{head}{i + 1}}}", real=True))
    rows, cols = block.shape
    return sp.Matrix(
        rows, cols, lambda i, j: sp.Symbol(f"{head}{_index(i + 1, j + 1)}}}", real=True)
    )


def adjoint_column(kind: str, t: int, size: int) -> sp.Matrix:
    """Symbols `(\\nabla_{h_{t}} L)_{k}`, `(\\nabla_{a^{(i)}_{t}} L)_{k}`: the adjoint of a node."""
    name = _latex(kind)
    return sp.Matrix(
        size, 1, lambda i, _: sp.Symbol(rf"(\nabla_{{{name}_{{{t}}}}} L)_{{{i + 1}}}", real=True)
    )


class _Facts:
    """Puts node symbols back after a diff: tanh(z) -> s, exp(−z) -> (1 − s)/s for σ nodes,
    Σ_k exp(o_{t,k}) -> S_t and exp(n·o_{t,k}) -> (S_t ŷ_{t,k})^n for softmax nodes."""

    def __init__(self) -> None:
        self.tanh: dict[sp.Basic, sp.Basic] = {}
        self.sigmoid: dict[sp.Basic, sp.Basic] = {}
        self.sums: dict[sp.Basic, sp.Basic] = {}
        self.logits: dict[sp.Basic, sp.Expr] = {}

    def _exp(self, e: sp.Expr) -> sp.Expr:
        n, logit = e.args[0].as_coeff_Mul()
        if logit in self.logits and n.is_Integer:
            return self.logits[logit] ** n
        raise StepFailed("forward facts", 0, "exp of something that is not a logit", e)

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        if expr.has(sp.tanh):
            expr = expr.xreplace(self.tanh)
        if expr.has(sp.exp):
            exps = expr.atoms(sp.exp)
            if exps & self.sigmoid.keys():
                # σ'(z) = exp(−z)/(1 + exp(−z))² becomes s(1 − s) only once the fractions are combined
                return sp.together(expr.xreplace(self.sigmoid))
            expr = expr.xreplace(self.sums)  # the whole denominator first
            expr = expr.replace(lambda e: isinstance(e, sp.exp), self._exp)
        return expr


@dataclass
class CellGraph:
    """One unrolled sequence of a model: symbols, nodes in topological order, loss scale.

    blocks[name]: the parameter block's symbols (names from model.blocks); initial["h0"]
    (and ["c0"]): the initial states; x[t] (t = 1..T); targets[t] for each loss step
    (y_t, or the opaque g_t of the generic and given heads); nodes[(kind, t)]: a node's
    symbols (kinds: a, h / a_q, gate_q, c, tanh_c / a_hn, gate_q; o, yhat, L); S[t]: the
    softmax normaliser. The graph stops at the last step with a loss (later steps cannot
    change L).
    """

    model: Model
    T: int
    n_x: int
    n_h: int
    n_y: int | None
    batch: int
    specs: tuple[Block, ...]
    blocks: dict[str, sp.Matrix]
    initial: dict[str, sp.Matrix]
    x: dict[int, sp.Matrix]
    targets: dict[int, sp.Matrix]
    loss_steps: tuple[int, ...]
    last: int
    scale: sp.Rational
    graph: list[Node] = field(default_factory=list)
    nodes: dict[tuple[str, int], sp.Matrix] = field(default_factory=dict)
    S: dict[int, sp.Symbol] = field(default_factory=dict)
    facts: _Facts = field(default_factory=_Facts)

    def node(self, kind: str, t: int) -> sp.Matrix:
        """The symbols of node `kind` at step t; h (and c) at t = 0 are h0 (c0)."""
        if t == 0 and kind in ("h", "c"):
            return self.initial[f"{kind}0"]
        try:
            return self.nodes[(kind, t)]
        except KeyError:
            kinds = sorted({k for k, _ in self.nodes})
            raise KeyError(
                f"no node {kind!r} at t = {t} (kinds: {', '.join(kinds)}; steps 1..{self.last})"
            ) from None

    def wrt(self) -> dict[str, sp.Matrix]:
        """Everything a gradient is reported for, in model.gradient_names() order."""
        return self.blocks | self.initial

    def block(self, role: str, gate: str | None, side: str | None = None) -> sp.Matrix | None:
        """The block with this role and gate (and torch side), None if the model has none."""
        for b in self.specs:
            if b.role == role and b.gate == gate and b.side == side:
                return self.blocks[b.name]
        return None

    def biases(self, gate: str | None) -> tuple[sp.Matrix, sp.Matrix]:
        """(input-side, recurrent-side) bias of gate q's pre-activation; zeros where absent.

        A single bias (biases=both/hidden) is input-side: for the GRU's n gate it stays
        outside r, as torch's b_in does."""
        zero = sp.zeros(self.n_h, 1)
        single, ih, hh = (self.block("bias", gate, side) for side in (None, "ih", "hh"))
        x_side = single if single is not None else ih
        return (zero if x_side is None else x_side), (zero if hh is None else hh)

    def one_hot_substitutions(self) -> dict[sp.Symbol, sp.Expr]:
        """Σ_k y_{t,k} = 1 (softmax-ce targets one-hot) as y_{t,n_y} = 1 − Σ_{k<n_y} y_{t,k}."""
        if self.model.head != "softmax-ce":
            return {}
        return {y[-1]: 1 - sum(y[:-1], sp.Integer(0)) for y in self.targets.values()}

    # --- building -----------------------------------------------------------------------

    def _add(self, kind: str, t: int, definition: sp.Matrix) -> sp.Matrix:
        if kind == "L":  # the loss term of step t: one symbol L_{t}
            symbols = sp.Matrix([[sp.Symbol(f"L_{{{t}}}", real=True)]])
        else:
            symbols = vector_symbols(_latex(kind), definition.rows, t)
        self.graph.append(Node(kind, t, symbols, definition))
        self.nodes[(kind, t)] = symbols
        return symbols

    def _activation(self, kind: str, t: int, z: sp.Matrix, fn: str) -> sp.Matrix:
        """s = fn(z) entrywise, z a column of node symbols; registers the forward facts."""
        s = vector_symbols(_latex(kind), z.rows, t)
        if fn == "tanh":
            definition = z.applyfunc(sp.tanh)
            self.facts.tanh |= {sp.tanh(zi): si for zi, si in zip(z, s, strict=True)}
        elif fn == "sigmoid":
            definition = z.applyfunc(lambda e: 1 / (1 + sp.exp(-e)))
            self.facts.sigmoid |= {sp.exp(-zi): (1 - si) / si for zi, si in zip(z, s, strict=True)}
        elif fn == "relu":
            definition = z.applyfunc(lambda e: sp.Max(0, e))
        else:  # identity
            definition = sp.Matrix(z)
        self.graph.append(Node(kind, t, s, definition))
        self.nodes[(kind, t)] = s
        return s

    def _pre(self, gate: str | None, t: int, recurrent_scale: sp.Matrix | None = None) -> sp.Matrix:
        """U_q x_t + b^x_q + (W_q h_{t-1} + b^h_q), the recurrent part optionally scaled."""
        U, W = self.block("input", gate), self.block("recurrent", gate)
        bx, bh = self.biases(gate)
        recurrent = W * self.node("h", t - 1) + bh
        if recurrent_scale is not None:
            recurrent = recurrent_scale.multiply_elementwise(recurrent)
        return U * self.x[t] + bx + recurrent


def cell_graph(
    model: Model | str | Mapping[str, object] | None,
    T: int,
    n_x: int,
    n_h: int,
    n_y: int | None = None,
    *,
    batch: int = 1,
    max_T: int = MAX_T,
) -> CellGraph:
    """The unrolled graph of one sequence of `model` (a Model, CLI text or mapping).

    n_y: the output size, None exactly for head=given. batch: the B of the reduction's
    1/B (reduction=mean-batch or mean); the graph itself is one sequence.
    """
    model = parse_model(model)
    _check_sizes(model, T, n_x, n_h, n_y, max_T)
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1:
        raise SizeLimitError(f"batch must be a positive integer (the B of 1/B), got {batch!r}")
    specs = model.blocks(n_x, n_h, n_y)
    steps = model.loss_steps(T)
    g = CellGraph(
        model=model,
        T=T,
        n_x=n_x,
        n_h=n_h,
        n_y=n_y,
        batch=int(batch),
        specs=specs,
        blocks={b.name: _block_symbols(b) for b in specs},
        initial={f"{s}0": vector_symbols(s, n_h, 0) for s in model.states},
        x={t: vector_symbols("x", n_x, t) for t in range(1, T + 1)},
        targets={},
        loss_steps=steps,
        last=max(steps),
        scale=sp.Rational(1, model.loss_scale_denominator(T, int(batch))),
    )
    for t in steps:
        if model.head == "given":
            g.targets[t] = sp.Matrix(
                n_h,
                1,
                lambda i, _, t=t: sp.Symbol(rf"(\nabla_{{h_{{{t}}}}} l)_{{{i + 1}}}", real=True),
            )
        elif model.head == "generic":
            g.targets[t] = sp.Matrix(
                n_y,
                1,
                lambda i, _, t=t: sp.Symbol(rf"(\nabla_{{o_{{{t}}}}} l)_{{{i + 1}}}", real=True),
            )
        else:
            g.targets[t] = vector_symbols("y", n_y, t)
    for t in range(1, g.last + 1):
        _CELL_STEP[model.cell](g, t)
        if t in steps:
            _head(g, t)
    return g


def _check_sizes(model: Model, T: int, n_x: int, n_h: int, n_y: int | None, max_T: int) -> None:
    if model.has_output_layer:
        if n_y is None:
            raise SizeLimitError(f"head={model.head} has an output layer: give its size n_y")
        if isinstance(n_y, bool) or not isinstance(n_y, int) or n_y < 1:
            raise SizeLimitError(f"n_y must be a positive integer, got {n_y!r}")
        # check_sizes' n_y >= 2 is softmax's need; the other heads work with one output
        check_sizes(T, n_x, n_h, max(n_y, 2) if model.head != "softmax-ce" else n_y, max_T=max_T)
    else:
        if n_y is not None:
            raise SizeLimitError("head=given has no output layer: pass n_y=None")
        check_sizes(T, n_x, n_h, 2, max_T=max_T)


def _rnn_step(g: CellGraph, t: int) -> None:
    a = g._add("a", t, g._pre(None, t))
    g._activation("h", t, a, g.model.activation)


def _lstm_step(g: CellGraph, t: int) -> None:
    gates = {}
    for q in g.model.gates:  # i, f, g, o
        gates[q] = g._add(f"a_{q}", t, g._pre(q, t))
    act = {
        q: g._activation(f"gate_{q}", t, gates[q], "tanh" if q == "g" else "sigmoid") for q in gates
    }
    c = g._add(
        "c",
        t,
        act["f"].multiply_elementwise(g.node("c", t - 1)) + act["i"].multiply_elementwise(act["g"]),
    )
    tau = g._activation("tanh_c", t, c, "tanh")
    g._add("h", t, act["o"].multiply_elementwise(tau))


def _gru_step(g: CellGraph, t: int) -> None:
    a_r = g._add("a_r", t, g._pre("r", t))
    a_z = g._add("a_z", t, g._pre("z", t))
    r = g._activation("gate_r", t, a_r, "sigmoid")
    z = g._activation("gate_z", t, a_z, "sigmoid")
    # the recurrent part of the candidate, which r scales (torch: r ⊙ (W_hn h + b_hn))
    bx, bh = g.biases("n")
    hn = g._add("a_hn", t, g.block("recurrent", "n") * g.node("h", t - 1) + bh)
    a_n = g._add("a_n", t, g.block("input", "n") * g.x[t] + bx + r.multiply_elementwise(hn))
    n = g._activation("gate_n", t, a_n, "tanh")
    ones = sp.ones(g.n_h, 1)
    g._add("h", t, (ones - z).multiply_elementwise(n) + z.multiply_elementwise(g.node("h", t - 1)))


_CELL_STEP: dict[str, Callable[[CellGraph, int], None]] = {
    "rnn": _rnn_step,
    "lstm": _lstm_step,
    "gru": _gru_step,
}


def _head(g: CellGraph, t: int) -> None:
    """The output layer and loss term L_t of a step with a loss."""
    m, y, h = g.model, g.targets[t], g.node("h", t)
    if m.head == "given":
        loss = (y.T * h)[0]
    else:
        c = g.block("output-bias", None)
        o = g._add(
            "o", t, g.block("output", None) * h + (c if c is not None else sp.zeros(g.n_y, 1))
        )
        if m.head == "softmax-ce":
            exps = o.applyfunc(sp.exp)
            yhat = g._add("yhat", t, exps / sp.Add(*exps))
            g.S[t] = sp.Symbol(f"S_{{{t}}}", positive=True)
            g.facts.sums[sp.Add(*exps)] = g.S[t]
            g.facts.logits |= {o[k]: g.S[t] * yhat[k] for k in range(g.n_y)}
            loss = -sum((y[k] * sp.log(yhat[k]) for k in range(g.n_y)), sp.Integer(0))
        elif m.head == "mse":
            sq = sum(((o[k] - y[k]) ** 2 for k in range(g.n_y)), sp.Integer(0))
            loss = sq / 2 if m.mse_scale == "half" else sq
        else:  # generic: the linear surrogate ⟨g_t, o_t⟩, whose gradient is g_t
            loss = (y.T * o)[0]
    g._add("L", t, sp.Matrix([[loss]]))


# --- reverse mode -------------------------------------------------------------------------


@dataclass
class CellReverseMode:
    """The graph differentiated in reverse order by SymPy's diff of each node.

    adjoints[(kind, t)]: the symbols standing for ∇ L of a kept node (h_t, o_t; c_t and the
    gates' pre-activations of the gated cells). local[(kind, t)]: that adjoint as diff
    computed it, in the adjoint symbols of later kept nodes. grads[name]: the gradient of
    every block and of h0 (c0), in those symbols.
    """

    graph: CellGraph
    adjoints: dict[tuple[str, int], sp.Matrix]
    local: dict[tuple[str, int], sp.Matrix] = field(default_factory=dict)
    grads: dict[str, sp.Matrix] = field(default_factory=dict)
    seconds: float = 0.0


class _Partials:
    """facts(diff(expr, s)), computed once per shape of an activation entry f(s).

    An entry with one free symbol (tanh(z), σ(z), Max(0, z) of a pre-activation z) has the
    same derivative for every t and k up to renaming z and the node's own symbol: SymPy's
    diff (slow on tanh, σ) runs on the first such entry, later ones rename its result.
    """

    def __init__(self, facts: _Facts) -> None:
        self.facts = facts
        self.done: dict[sp.Basic, sp.Expr] = {}
        self.z, self.own = sp.Dummy("z", real=True), sp.Dummy("s", real=True)

    def __call__(self, expr: sp.Expr, s: sp.Symbol, own: sp.Symbol) -> sp.Expr:
        if expr.free_symbols != {s}:
            return self.facts(sp.diff(expr, s))
        key = expr.xreplace({s: self.z})
        if key not in self.done:
            partial = self.facts(sp.diff(expr, s))
            self.done[key] = partial.xreplace({s: self.z, own: self.own})
        return self.done[key].xreplace({self.z: s, self.own: own})


def kept_kinds(model: Model) -> tuple[str, ...]:
    """The node kinds whose adjoints are symbols of their own (and proven one by one)."""
    return _KEPT[model.cell] + (("o",) if model.has_output_layer else ())


def cell_reverse_mode(
    graph: CellGraph, *, progress: Callable[[int, int], None] | None = None
) -> CellReverseMode:
    """Differentiate the graph node by node, last node first, with SymPy's diff.

    progress: called with (steps done, steps in all), for a progress display.
    """
    if not isinstance(graph, CellGraph):
        raise TypeError(
            f"cell_reverse_mode takes rnn_sym.cell_graph(model, T, n_x, n_h, n_y), "
            f"not {type(graph).__name__}"
        )
    began = time.perf_counter()
    kinds = set(kept_kinds(graph.model))
    adjoints = {
        (n.kind, n.t): adjoint_column(n.kind, n.t, n.symbols.rows)
        for n in graph.graph
        if n.kind in kinds
    }
    result = CellReverseMode(graph, adjoints)
    adjoint: dict[sp.Symbol, sp.Expr] = {}
    for t in graph.loss_steps:
        adjoint[graph.node("L", t)[0]] = graph.scale  # L = (1/D) Σ_t L_t
    wrt = graph.wrt()
    partials = _Partials(graph.facts)
    differentiable = {s for p in wrt.values() for s in p}
    differentiable |= {s for n in graph.graph for s in n.symbols}
    total = len(graph.graph) + len(wrt)
    for done, node in enumerate(reversed(graph.graph)):
        if progress is not None:
            progress(done, total)
        own = sp.Matrix([sp.expand(adjoint.get(s, sp.Integer(0))) for s in node.symbols])
        key = (node.kind, node.t)
        if key in adjoints:
            result.local[key] = own
            own = adjoints[key]  # earlier nodes see the adjoint symbol
        for k, expr in enumerate(node.definition):
            if own[k] == 0:
                continue
            # diff is linear: differentiate only the terms of the definition that contain s
            # (a pre-activation has n_x + n_h + 1 terms, each symbol in one of them)
            terms = [(term, term.free_symbols) for term in sp.Add.make_args(expr)]
            for s in sorted(expr.free_symbols, key=sp.default_sort_key):
                if s in differentiable:  # not x, y, g: they are data
                    part = sp.Add(*(term for term, free in terms if s in free))
                    partial = partials(part, s, node.symbols[k])
                    adjoint[s] = adjoint.get(s, sp.Integer(0)) + own[k] * partial
    for done, (name, p) in enumerate(wrt.items(), start=len(graph.graph)):
        if progress is not None:
            progress(done, total)
        result.grads[name] = p.applyfunc(lambda s: sp.expand(adjoint.get(s, sp.Integer(0))))
    result.seconds = time.perf_counter() - began
    return result


# --- the textbook recursions, written down independently of diff -----------------------------


@dataclass
class CellTextbook:
    """The textbook forms in the adjoint symbols of a CellReverseMode (same keys)."""

    local: dict[tuple[str, int], sp.Matrix]
    grads: dict[str, sp.Matrix]


def _had(*columns: sp.Matrix) -> sp.Matrix:
    out = columns[0]
    for c in columns[1:]:
        out = out.multiply_elementwise(c)
    return out


def activation_slope(graph: CellGraph, t: int) -> sp.Matrix:
    """f'(a_t) of the Elman cell in node symbols: 1 − h², h(1 − h), Heaviside(a), 1."""
    h, a, f = graph.node("h", t), graph.node("a", t), graph.model.activation
    if f == "tanh":
        return h.applyfunc(lambda e: 1 - e**2)
    if f == "sigmoid":
        return h.applyfunc(lambda e: e * (1 - e))
    if f == "relu":
        return a.applyfunc(sp.Heaviside)  # the kink at 0 has no derivative (see the module)
    return sp.ones(graph.n_h, 1)


def cell_textbook(rm: CellReverseMode) -> CellTextbook:
    """The textbook recursions of the model's cell, in the adjoint symbols of `rm`.

    With δ_K = ∇_K L the adjoint symbol of kept node K and s the loss scale 1/D:
      head   δo_t = s(ŷ_t − y_t) | s(o_t − y_t) | 2s(o_t − y_t) | s g_t;
             direct_t = Vᵀ δo_t (head=given: s g_t) at steps with a loss, else 0
      rnn    δh_t = direct_t + Wᵀ (f'(a_{t+1}) ⊙ δh_{t+1})
      lstm   δa^{(o)}_t = δh_t ⊙ τ_t ⊙ o_t(1 − o_t)
             δc_t = δh_t ⊙ o_t ⊙ (1 − τ_t²) + f_{t+1} ⊙ δc_{t+1}
             δa^{(i)} = δc ⊙ g ⊙ i(1 − i), δa^{(f)} = δc ⊙ c_{t−1} ⊙ f(1 − f),
             δa^{(g)} = δc ⊙ i ⊙ (1 − g²);  δh_t = direct_t + Σ_q W_qᵀ δa^{(q)}_{t+1}
      gru    δa^{(n)}_t = δh_t ⊙ (1 − z_t) ⊙ (1 − n_t²), δa^{(z)}_t = δh_t ⊙ (h_{t−1} − n_t) ⊙ z(1 − z),
             δa^{(r)}_t = δa^{(n)}_t ⊙ a^{(hn)}_t ⊙ r(1 − r);
             δh_t = direct_t + z_{t+1} ⊙ δh_{t+1} (directly) + W_rᵀ δa^{(r)}_{t+1} (through r)
                    + W_zᵀ δa^{(z)}_{t+1} + W_nᵀ (r_{t+1} ⊙ δa^{(n)}_{t+1}) (the gates' W h terms)
    Blocks, with δx_q = δa_q and δh_q = δa_q (GRU n: r ⊙ δa^{(n)}, the recurrent side):
      U_q = Σ_t δx_q xᵀ, W_q = Σ_t δh_q h_{t−1}ᵀ, b_q / b_iq = Σ_t δx_q, b_hq = Σ_t δh_q,
      V = Σ δo_t h_tᵀ, c = Σ δo_t;  h0 = δh_0 without direct_0;  c0 = f_1 ⊙ δc_1.
    """
    if not isinstance(rm, CellReverseMode):
        raise TypeError(f"cell_textbook takes a CellReverseMode, not {type(rm).__name__}")
    g = rm.graph
    m, d, s, N = g.model, rm.adjoints, g.scale, g.node
    one = sp.ones(g.n_h, 1)
    local: dict[tuple[str, int], sp.Matrix] = {}
    for t in g.loss_steps:
        if not m.has_output_layer:
            continue
        if m.head == "softmax-ce":
            local[("o", t)] = s * (N("yhat", t) - g.targets[t])
        elif m.head == "mse":
            local[("o", t)] = s * (1 if m.mse_scale == "half" else 2) * (N("o", t) - g.targets[t])
        else:
            local[("o", t)] = s * g.targets[t]

    def direct(t: int) -> sp.Matrix:
        if t not in g.loss_steps:
            return sp.zeros(g.n_h, 1)
        if m.has_output_layer:
            return g.block("output", None).T * d[("o", t)]
        return s * g.targets[t]

    def sig_slope(v: sp.Matrix) -> sp.Matrix:
        return v.applyfunc(lambda e: e * (1 - e))

    def tanh_slope(v: sp.Matrix) -> sp.Matrix:
        return v.applyfunc(lambda e: 1 - e**2)

    gates = m.gates or (None,)
    dx: dict[tuple[str | None, int], sp.Matrix] = {}  # input-side adjoint of each pre-activation
    dh: dict[tuple[str | None, int], sp.Matrix] = {}  # recurrent-side (W_q h + b_hq) adjoint
    steps = range(1, g.last + 1)
    if m.cell == "rnn":
        for t in steps:
            dx[(None, t)] = dh[(None, t)] = _had(activation_slope(g, t), d[("h", t)])
    elif m.cell == "lstm":
        for t in steps:
            i, f, gg, o = (N(f"gate_{q}", t) for q in "ifgo")
            tau = N("tanh_c", t)
            local[("a_o", t)] = _had(d[("h", t)], tau, sig_slope(o))
            dc = _had(d[("h", t)], o, tanh_slope(tau))
            if t < g.last:
                dc += _had(N("gate_f", t + 1), d[("c", t + 1)])
            local[("c", t)] = dc
            local[("a_i", t)] = _had(d[("c", t)], gg, sig_slope(i))
            local[("a_f", t)] = _had(d[("c", t)], N("c", t - 1), sig_slope(f))
            local[("a_g", t)] = _had(d[("c", t)], i, tanh_slope(gg))
            for q in gates:
                dx[(q, t)] = dh[(q, t)] = d[(f"a_{q}", t)]
    else:  # gru
        for t in steps:
            r, z, n = (N(f"gate_{q}", t) for q in "rzn")
            local[("a_n", t)] = _had(d[("h", t)], one - z, tanh_slope(n))
            local[("a_z", t)] = _had(d[("h", t)], N("h", t - 1) - n, sig_slope(z))
            local[("a_r", t)] = _had(d[("a_n", t)], N("a_hn", t), sig_slope(r))
            for q in gates:
                dx[(q, t)] = dh[(q, t)] = d[(f"a_{q}", t)]
            dh[("n", t)] = _had(r, d[("a_n", t)])

    def into_previous(t: int) -> sp.Matrix:
        """What step t + 1 sends back into h_t (for t = 0: the whole of ∇_{h0} L)."""
        out = sp.zeros(g.n_h, 1)
        for q in gates:
            out += g.block("recurrent", q).T * dh[(q, t + 1)]
        if m.cell == "gru":
            out += _had(N("gate_z", t + 1), d[("h", t + 1)])
        return out

    for t in steps:
        local[("h", t)] = direct(t) + (into_previous(t) if t < g.last else sp.zeros(g.n_h, 1))

    def total(terms: list[sp.Matrix], shape: tuple[int, int]) -> sp.Matrix:
        return sum(terms, sp.zeros(*shape))

    grads: dict[str, sp.Matrix] = {}
    for b in g.specs:
        shape = (b.shape[0], b.shape[1] if len(b.shape) == 2 else 1)
        if b.role == "input":
            terms = [dx[(b.gate, t)] * g.x[t].T for t in steps]
        elif b.role == "recurrent":
            terms = [dh[(b.gate, t)] * N("h", t - 1).T for t in steps]
        elif b.role == "bias":
            side = dh if b.side == "hh" else dx
            terms = [side[(b.gate, t)] for t in steps]
        elif b.role == "output":
            terms = [d[("o", t)] * N("h", t).T for t in g.loss_steps]
        else:  # output-bias
            terms = [d[("o", t)] for t in g.loss_steps]
        grads[b.name] = total(terms, shape)
    grads["h0"] = into_previous(0)
    if m.cell == "lstm":
        grads["c0"] = _had(N("gate_f", 1), d[("c", 1)])
    return CellTextbook(local, grads)


def prove_cell_recursion(
    rm: CellReverseMode, tb: CellTextbook | None = None
) -> Iterator[ProofRecord]:
    """Node by node: diff's adjoint of every kept node, and each gradient, equals the textbook.

    Backward induction over t: the adjoints of later nodes are the same symbols on both
    sides (the hypothesis). Claims: `grad_o(t)`, `grad_c(t)`, `grad_a_i(t)`, ..., `grad_h(t)`,
    then `grad_<block>`, `grad_h0` (, `grad_c0`). softmax-ce's δo = s(ŷ − y) needs one-hot
    targets (Σ_k y_{t,k} = 1); raises StepFailed on the first claim that does not reduce to 0.
    """
    if not isinstance(rm, CellReverseMode):
        raise TypeError(f"prove_cell_recursion takes a CellReverseMode, not {type(rm).__name__}")
    tb = tb or cell_textbook(rm)
    one_hot = rm.graph.one_hot_substitutions()
    for key in rm.local:  # in the order diff reached them: last node first
        kind, t = key
        if key not in tb.local:
            raise StepFailed(
                f"grad_{kind}({t})", 1, "the textbook has no form for it", rm.local[key]
            )
        subs = one_hot if kind == "o" else None
        method = "expand, one-hot" if subs else "expand, induction"
        yield _prove(f"grad_{kind}({t})", method, rm.local[key], tb.local[key], subs)
    for name, expr in rm.grads.items():
        yield _prove(f"grad_{name}", "expand, induction", expr, tb.grads[name])


# --- numbers -----------------------------------------------------------------------------


class _Column:
    """One lambdified column: the symbols it defines, the function and its arguments.

    `cache` shares one function between columns equal up to renaming their arguments
    (the same node at different t): the graph has T copies of each step.
    """

    def __init__(self, targets: list[sp.Basic], expr: sp.Matrix, cache: dict | None = None) -> None:
        self.targets = targets
        self.args = sorted(expr.free_symbols, key=sp.default_sort_key)
        self.shape = expr.shape
        plain = [sp.Symbol(f"_v{i}") for i in range(len(self.args))]
        key = sp.ImmutableMatrix(expr.xreplace(dict(zip(self.args, plain, strict=True))))
        cache = {} if cache is None else cache
        if key not in cache:
            cache[key] = lambdify_matrix(key, plain)
        self.fn = cache[key]

    def __call__(self, values: Mapping[sp.Basic, float]) -> np.ndarray:
        out = np.asarray(self.fn(*[values[s] for s in self.args]), dtype=np.float64)
        return np.broadcast_to(out, self.shape) if out.shape != self.shape else out


class NumericCell:
    """Numeric loss and gradients of a model from its symbolic graph (lambdified, cse=True).

    route="autodiff": the adjoints as SymPy's diff computed them; route="textbook": the
    textbook recursions. Called as rnn_num.loss_and_grads: (params, x, y, h0, c0) with x
    (T, n_x) or (T, B, n_x), y as tests/_plain_models.plain_loss takes it, h0 / c0 None
    (zeros), (n_h,) shared or (B, n_h) per sequence; grads keyed by
    model.gradient_names(), h0 / c0 in the argument's shape (([B,] n_h) when None).
    A batch is evaluated sequence by sequence through the same one-sequence graph.
    """

    def __init__(self, rm: CellReverseMode, route: str = "autodiff") -> None:
        if not isinstance(rm, CellReverseMode):
            raise TypeError(f"NumericCell takes a CellReverseMode, not {type(rm).__name__}")
        if route not in ("autodiff", "textbook"):
            raise NumericInputError(f"route must be 'autodiff' or 'textbook', not {route!r}")
        self.rm, g = rm, rm.graph
        self.graph = g
        forms = rm if route == "autodiff" else cell_textbook(rm)
        cache: dict = {}
        self._forward = [_Column(list(n.symbols), n.definition, cache) for n in g.graph]
        self._losses = [g.node("L", t)[0] for t in g.loss_steps]
        # rm.local is in reverse graph order: each adjoint after those it is written in
        self._backward = [_Column(list(rm.adjoints[k]), forms.local[k], cache) for k in rm.local]
        self._grads = {name: _Column([], forms.grads[name], cache) for name in rm.grads}

    def _sequence(self, params: Mapping[str, np.ndarray], x: np.ndarray, y, h0, c0) -> dict:
        g = self.graph
        values: dict[sp.Basic, float] = {}
        for name, symbols in g.blocks.items():
            values |= dict(
                zip(symbols, map(float, np.asarray(params[name]).reshape(-1)), strict=True)
            )
        for name, v in (("h0", h0), ("c0", c0)):
            if name in g.initial:
                values |= dict(zip(g.initial[name], map(float, v), strict=True))
        for t in range(1, g.T + 1):
            values |= dict(zip(g.x[t], map(float, x[t - 1]), strict=True))
        one_target = g.model.task != "many-to-many"
        for t in g.loss_steps:
            target = np.asarray(y if one_target else y[t - 1], dtype=np.float64)
            if g.model.head == "softmax-ce" and target.ndim == 0:
                target = np.eye(g.n_y)[int(target)]  # a class index
            values |= dict(zip(g.targets[t], map(float, target.reshape(-1)), strict=True))
        for column in self._forward + self._backward:
            values |= dict(zip(column.targets, map(float, column(values).reshape(-1)), strict=True))
        return values

    def values(self, params, x, y, h0=None, c0=None) -> dict[sp.Basic, float]:
        """Every symbol's value for one (unbatched) sequence: inputs, nodes, adjoints."""
        x, y, states, _ = self._check(params, x, y, {"h0": h0, "c0": c0})
        return self._sequence(params, x[:, 0], self._one(y, 0), states["h0"][0], states["c0"][0])

    def _one(self, y: np.ndarray, s: int) -> np.ndarray:
        """Sequence s's targets from a batched y (time axis first when there is one)."""
        return y[s] if self.graph.model.task != "many-to-many" else y[:, s]

    def _check(self, params, x, y, given):
        g = self.graph
        unknown = sorted(set(params) - set(g.blocks))
        missing = [n for n in g.blocks if n not in params]
        if unknown or missing:
            raise NumericInputError(
                f"params must have exactly the blocks {list(g.blocks)} of model {g.model.short()}; "
                f"missing {missing}, unknown {unknown}"
            )
        for b in g.specs:
            if np.shape(params[b.name]) != b.shape:
                raise NumericInputError(
                    f"parameter {b.name!r} has shape {np.shape(params[b.name])}, expected {b.shape}"
                )
        x = np.asarray(x, dtype=np.float64)
        batched = x.ndim == 3
        if x.ndim not in (2, 3) or x.shape[0] != g.T or x.shape[-1] != g.n_x:
            raise NumericInputError(
                f"x has shape {x.shape}, expected (T, n_x) = {(g.T, g.n_x)} or (T, B, n_x)"
            )
        xb = x if batched else x[:, None, :]
        B = xb.shape[1]
        if g.model.reduction in ("mean-batch", "mean") and B != g.batch:
            raise NumericInputError(
                f"this graph divides by B = {g.batch} (reduction={g.model.reduction}); x has "
                f"B = {B}. Build it with cell_graph(..., batch={B})"
            )
        y = np.asarray(y)
        yb = y if batched else (y[None] if g.model.task != "many-to-many" else y[:, None])
        states = {}
        for name in g.model.initial_states:
            v = given[name]
            v = np.zeros(g.n_h) if v is None else np.asarray(v, dtype=np.float64)
            if v.shape not in ((g.n_h,), (B, g.n_h)):
                raise NumericInputError(
                    f"{name} has shape {v.shape}, expected ({g.n_h},) or (B, n_h) = {(B, g.n_h)}"
                )
            states[name] = np.broadcast_to(v, (B, g.n_h))
        states.setdefault("c0", [None] * B)
        return xb, yb, states, batched

    def __call__(self, params, x, y, h0=None, c0=None) -> tuple[float, dict[str, np.ndarray]]:
        """(loss, grads) as rnn_num.loss_and_grads(params, x, y, h0, c0=c0, model=model)."""
        g = self.graph
        given = {"h0": h0, "c0": c0}
        xb, yb, states, batched = self._check(params, x, y, given)
        B = xb.shape[1]
        loss = 0.0
        grads = {name: np.zeros(b.shape) for name, b in ((b.name, b) for b in g.specs)}
        per_seq = {name: np.zeros((B, g.n_h)) for name in g.model.initial_states}
        for s in range(B):
            values = self._sequence(
                params, xb[:, s], self._one(yb, s), states["h0"][s], states["c0"][s]
            )
            loss += sum(values[sym] for sym in self._losses) * float(g.scale)
            for name, column in self._grads.items():
                value = column(values)
                if name in per_seq:
                    per_seq[name][s] = value.reshape(-1)
                else:
                    grads[name] += value.reshape(grads[name].shape)
        for name, value in per_seq.items():
            arg = given[name]
            if arg is not None and np.ndim(arg) == 1:
                grads[name] = value.sum(axis=0)  # one state shared by the batch
            else:
                grads[name] = value if batched else value[0]
        return float(loss), grads


__all__ = [
    "CellGraph",
    "CellReverseMode",
    "CellTextbook",
    "NumericCell",
    "activation_slope",
    "adjoint_column",
    "cell_graph",
    "cell_reverse_mode",
    "cell_textbook",
    "kept_kinds",
    "prove_cell_recursion",
]
