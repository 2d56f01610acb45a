"""Backpropagation through time, symbolically, and the proofs that its forms agree.

Three independent ways to the gradients of the canonical RNN (NOTATION.md):

1. `reverse_mode`: the unrolled graph a_t, h_t, o_t, ŷ_t, L_t with every node value a
   symbol, differentiated node by node in reverse order by SymPy's own `diff` of each
   node's defining expression (no hand-written derivative rule). After each `diff`, the
   forward facts tanh(a_t) = h_t and exp(o_{t,k}) = S_t ŷ_{t,k} (S_t = Σ_k exp(o_{t,k}))
   put the node symbols back. The adjoints of h_t and o_t stay symbols (∇_{h_t}L,
   ∇_{o_t}L), so each expression is a small polynomial and the size is linear in T.
2. `textbook`: the recursion of NOTATION.md written down as matrix formulas.
3. `sigma_pi`: the unrolled Σ_t Σ_k Π form of seed 003, eq. 9 (corrected), with
   J(j) = diag(1 − h_j²) W and ∂h_t/∂h_k = J(t) … J(k+1).
And, for small T, 4. `expanded_loss_gradient`: SymPy's diff of the fully written-out loss
(tanh and softmax nested T deep), the naive route.

Proofs (`prove_*`) reduce differences to zero by `expand` in the polynomial ring of the
node, parameter, input and target symbols. The recursion is proven node by node, by
backward induction over t: both sides use the same symbols for the adjoints of later
nodes, which is the induction hypothesis. For small T the adjoints are also inlined and
the full polynomials compared, without any hypothesis.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import sympy as sp

from rnn_sym._errors import SizeLimitError, StepFailed
from rnn_sym._model import PARAMETER_NAMES, RnnSymbols

# Inlining the adjoints (and the Σ Π form) multiplies out products of T Jacobians: the number
# of monomials grows like n_h^T. Full (hypothesis-free) proofs are limited to this T.
MAX_T_INLINED = 5
# The naive route (diff of the fully expanded loss) grows about 3.5x per step.
MAX_T_EXPANDED = 4


@dataclass(frozen=True)
class Node:
    """One node of the unrolled graph: a column of symbols and their defining expressions."""

    kind: str  # "a", "h", "o", "yhat" or "L"
    t: int
    symbols: sp.Matrix
    definition: sp.Matrix


def _loss_symbol(t: int) -> sp.Symbol:
    return sp.Symbol(f"L_{{{t}}}", real=True)


def _normaliser(t: int) -> sp.Symbol:
    """S_t = Σ_k exp(o_{t,k}), the softmax denominator (positive)."""
    return sp.Symbol(f"S_{{{t}}}", positive=True)


def loss_steps(m: RnnSymbols, many_to_one: bool) -> list[int]:
    """The steps that carry a loss term: all of them, or only the last (many-to-one)."""
    return [m.T] if many_to_one else list(range(1, m.T + 1))


def build_graph(m: RnnSymbols, *, many_to_one: bool = False) -> list[Node]:
    """The unrolled graph in topological order; only nodes the loss depends on."""
    with_loss = set(loss_steps(m, many_to_one))
    nodes: list[Node] = []
    for t in range(1, m.T + 1):
        nodes.append(Node("a", t, m.a(t), m.b + m.W * m.h(t - 1) + m.U * m.x(t)))
        nodes.append(Node("h", t, m.h(t), m.a(t).applyfunc(sp.tanh)))
        if t not in with_loss:
            continue
        nodes.append(Node("o", t, m.o(t), m.c + m.V * m.h(t)))
        exps = m.o(t).applyfunc(sp.exp)
        total = sp.Add(*exps)
        nodes.append(Node("yhat", t, m.yhat(t), exps / total))
        loss = -sum((m.y(t)[i] * sp.log(m.yhat(t)[i]) for i in range(m.n_y)), sp.Integer(0))
        nodes.append(Node("L", t, sp.Matrix([[_loss_symbol(t)]]), sp.Matrix([[loss]])))
    return nodes


def adjoint_symbols(kind: str, t: int, size: int) -> sp.Matrix:
    """Symbols for ∇_{h_t}L or ∇_{o_t}L, entry i printed (\\nabla_{h_{t}} L)_{i}."""
    return sp.Matrix(
        size,
        1,
        lambda i, _: sp.Symbol(rf"(\nabla_{{{kind}_{{{t}}}}} L)_{{{i + 1}}}", real=True),
    )


class _LogitExps:
    """exp(n·o_{t,k}) -> (S_t ŷ_{t,k})^n; SymPy writes exp(o)² as exp(2o), so match multiples."""

    def __init__(self, m: RnnSymbols, logits: dict[int, sp.Matrix]) -> None:
        self.values: dict[sp.Basic, sp.Expr] = {}
        for t, o in logits.items():
            for k in range(m.n_y):
                self.values[sp.expand(o[k])] = _normaliser(t) * m.yhat(t)[k]

    def _exp(self, arg: sp.Expr) -> sp.Expr:
        n, primitive = sp.expand(arg).as_content_primitive()
        for sign in (1, -1):
            value = self.values.get(sign * primitive)
            if value is not None and (sign * n).is_Integer:
                return value ** (sign * n)
        raise StepFailed("forward facts", 0, "exp of something that is not a logit", sp.exp(arg))

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        return expr.replace(lambda e: isinstance(e, sp.exp), lambda e: self._exp(e.args[0]))


class _ForwardFacts:
    """Puts node symbols back after a diff: tanh(a_t) -> h_t, exp(o_t) -> S_t ŷ_t."""

    def __init__(self, m: RnnSymbols) -> None:
        self.tanh: dict[sp.Basic, sp.Basic] = {}
        self.sums: dict[sp.Basic, sp.Basic] = {}
        for t in range(1, m.T + 1):
            for i in range(m.n_h):
                self.tanh[sp.tanh(m.a(t)[i])] = m.h(t)[i]
            self.sums[sp.Add(*m.o(t).applyfunc(sp.exp))] = _normaliser(t)
        self.exps = _LogitExps(m, {t: m.o(t) for t in range(1, m.T + 1)})

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        if expr.has(sp.tanh):
            expr = expr.xreplace(self.tanh)
        if expr.has(sp.exp):
            # the whole denominator first (its terms are exps the second pass would split)
            expr = self.exps(expr.xreplace(self.sums))
        return expr


def _require_model(m: object, caller: str) -> None:
    if not isinstance(m, RnnSymbols):
        raise TypeError(
            f"{caller} takes the model's symbols: pass rnn_sym.model_symbols(T, n_x, n_h, n_y), "
            f"not {type(m).__name__}"
        )


def _require_reverse_mode(rm: object, caller: str) -> None:
    if isinstance(rm, ReverseMode):
        return
    mistake = " (the model's symbols)" if isinstance(rm, RnnSymbols) else ""
    raise TypeError(
        f"{caller} takes a differentiated graph: pass rnn_sym.reverse_mode(model_symbols(…)), "
        f"not {type(rm).__name__}{mistake}"
    )


def _require_step(m: RnnSymbols, caller: str, **steps: object) -> None:
    """Each named step an integer in 0..T (the caller adds its own order constraints)."""
    for name, value in steps.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{caller}: {name} must be an integer step, got {value!r}")
        if not 0 <= value <= m.T:
            raise ValueError(f"{caller}: {name} must be within 0 … T = {m.T}, got {name} = {value}")


@dataclass
class ReverseMode:
    """The result of differentiating the graph in reverse order.

    local_h[t], local_o[t]: the adjoint of h_t, o_t as computed by diff, in terms of the
    adjoint symbols grad_h[t+1], grad_o[t] of the nodes that consume it.
    params[name]: the gradient of each parameter (and h0), in terms of those symbols.
    """

    model: RnnSymbols
    many_to_one: bool
    graph: list[Node]
    grad_h: dict[int, sp.Matrix]
    grad_o: dict[int, sp.Matrix]
    local_h: dict[int, sp.Matrix] = field(default_factory=dict)
    local_o: dict[int, sp.Matrix] = field(default_factory=dict)
    params: dict[str, sp.Matrix] = field(default_factory=dict)
    seconds: float = 0.0


def reverse_mode(
    m: RnnSymbols,
    *,
    many_to_one: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReverseMode:
    """Differentiate the unrolled graph node by node, last node first, with SymPy's diff.

    progress: called with (steps done, steps in all) as the nodes, then the parameters, are
    done, for a progress display.
    """
    _require_model(m, "reverse_mode")
    began = time.perf_counter()
    graph = build_graph(m, many_to_one=many_to_one)
    facts = _ForwardFacts(m)
    steps = loss_steps(m, many_to_one)
    grad_h = {t: adjoint_symbols("h", t, m.n_h) for t in range(1, m.T + 1)}
    grad_o = {t: adjoint_symbols("o", t, m.n_y) for t in steps}
    kept = {("h", t): grad_h[t] for t in grad_h} | {("o", t): grad_o[t] for t in grad_o}
    # accumulated adjoint of every symbol that something depends on
    adjoint: dict[sp.Symbol, sp.Expr] = {}
    for t in steps:
        adjoint[_loss_symbol(t)] = sp.Integer(1)  # L = Σ_t L_t
    differentiable = set().union(*(p.free_symbols for p in m.params().values()))
    differentiable |= {s for node in graph for s in node.symbols}
    result = ReverseMode(m, many_to_one, graph, grad_h, grad_o)
    params = m.params()
    steps = len(graph) + len(params)
    for done, node in enumerate(reversed(graph)):
        if progress is not None:
            progress(done, steps)
        own = sp.Matrix([sp.expand(adjoint.get(s, sp.Integer(0))) for s in node.symbols])
        if (node.kind, node.t) in kept:
            (result.local_h if node.kind == "h" else result.local_o)[node.t] = own
            own = kept[(node.kind, node.t)]  # later nodes see the adjoint symbol
        for k, expr in enumerate(node.definition):
            if own[k] == 0:
                continue
            for s in sorted(expr.free_symbols, key=sp.default_sort_key):
                if s in differentiable:  # not x, y: they are data
                    partial = facts(sp.diff(expr, s))
                    adjoint[s] = adjoint.get(s, sp.Integer(0)) + own[k] * partial
    for done, (name, p) in enumerate(params.items(), start=len(graph)):
        if progress is not None:
            progress(done, steps)
        result.params[name] = p.applyfunc(lambda s: sp.expand(adjoint.get(s, sp.Integer(0))))
    result.seconds = time.perf_counter() - began
    return result


# --- the textbook recursion (NOTATION.md), written down independently of diff ---------------


def _diag(v: sp.Matrix) -> sp.Matrix:
    return sp.diag(*v)


def tanh_derivative(m: RnnSymbols, t: int) -> sp.Matrix:
    """diag(1 − h_t²)."""
    return _diag(m.h(t).applyfunc(lambda h: 1 - h**2))


class _SlopeAtoms:
    """Write every 1 − h_{t,i}² as one atom d_{t,i} (its definition), for full-size proofs.

    Multiplied out, a product of T factors (1 − h²) has 2^T monomials; with d_{t,i} it has
    one. Both sides of a comparison get the same rewriting; an identity in the ring with d
    independent implies the identity after putting d = 1 − h² back, so this is sound.
    """

    def __init__(self, m: RnnSymbols) -> None:
        self.adds: dict[sp.Basic, sp.Basic] = {}
        self.squares: dict[sp.Basic, sp.Basic] = {}
        self.back: dict[sp.Basic, sp.Basic] = {}  # d -> 1 - h², for display and numbers
        for t in range(1, m.T + 1):
            for i in range(m.n_h):
                h = m.h(t)[i]
                d = sp.Symbol(f"d_{{{t},{i + 1}}}", real=True)
                self.adds[1 - h**2] = d
                self.squares[h**2] = 1 - d
                self.back[d] = 1 - h**2

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        return sp.expand(sp.expand(expr.xreplace(self.adds)).xreplace(self.squares))

    def undo(self, expr: sp.Basic) -> sp.Basic:
        """Put 1 − h² back for every d (unexpanded, so __call__ finds the same atoms again)."""
        return expr.xreplace(self.back)


@dataclass(frozen=True)
class Textbook:
    """The textbook forms, in terms of the adjoint symbols (local) of a ReverseMode."""

    local_h: dict[int, sp.Matrix]
    local_o: dict[int, sp.Matrix]
    params: dict[str, sp.Matrix]


def textbook(rm: ReverseMode) -> Textbook:
    """The textbook recursion and parameter gradients, in the adjoint symbols of `rm`."""
    _require_reverse_mode(rm, "textbook")
    m, gh, go = rm.model, rm.grad_h, rm.grad_o
    local_o = {t: m.yhat(t) - m.y(t) for t in go}
    local_h: dict[int, sp.Matrix] = {}
    for t in range(1, m.T + 1):
        g = sp.zeros(m.n_h, 1)
        if t < m.T:
            g += m.W.T * tanh_derivative(m, t + 1) * gh[t + 1]
        if t in go:
            g += m.V.T * go[t]
        local_h[t] = g
    steps = range(1, m.T + 1)
    delta = {t: tanh_derivative(m, t) * gh[t] for t in steps}  # ∇_{a_t} L
    params = {
        "U": sum((delta[t] * m.x(t).T for t in steps), sp.zeros(m.n_h, m.n_x)),
        "W": sum((delta[t] * m.h(t - 1).T for t in steps), sp.zeros(m.n_h, m.n_h)),
        "V": sum((go[t] * m.h(t).T for t in go), sp.zeros(m.n_y, m.n_h)),
        "b": sum((delta[t] for t in steps), sp.zeros(m.n_h, 1)),
        "c": sum((go[t] for t in go), sp.zeros(m.n_y, 1)),
        "h0": m.W.T * delta[1],
    }
    return Textbook(local_h, local_o, params)


# --- the unrolled Σ_t Σ_k Π form (seed 003, eq. 9, corrected) -------------------------------


def jacobian(m: RnnSymbols, j: int) -> sp.Matrix:
    """J(j) = ∂h_j/∂h_{j−1} = diag(1 − h_j²) W."""
    _require_model(m, "jacobian")
    _require_step(m, "jacobian(m, j)", j=j)
    if j < 1:
        raise ValueError(f"jacobian(m, j) = ∂h_j/∂h_(j-1) needs 1 <= j <= T = {m.T}, got j = {j}")
    return tanh_derivative(m, j) * m.W


def hidden_jacobian(m: RnnSymbols, t: int, k: int) -> sp.Matrix:
    """∂h_t/∂h_k = J(t) J(t−1) … J(k+1); the identity when k = t."""
    _require_model(m, "hidden_jacobian")
    _require_step(m, "hidden_jacobian(m, t, k)", t=t, k=k)
    if k > t:
        raise ValueError(
            f"hidden_jacobian(m, t, k) = ∂h_t/∂h_k needs k <= t (h_t depends on earlier states "
            f"only), got t = {t}, k = {k}"
        )
    product = sp.eye(m.n_h)
    for j in range(k + 1, t + 1):
        product = jacobian(m, j) * product
    return product


def sigma_pi(
    rm: ReverseMode,
    name: str,
    *,
    grad_o: dict[int, sp.Matrix] | None = None,
    chain: Callable[[int, int], sp.Matrix] | None = None,
) -> sp.Matrix:
    """Σ_t Σ_{k≤t} diag(1 − h_k²) (∂h_t/∂h_k)ᵀ Vᵀ ∇_{o_t}L · z_kᵀ for z = h_{k−1} (W), x_k (U), 1 (b).

    For h0: Σ_t (∂h_t/∂h_0)ᵀ Vᵀ ∇_{o_t}L. `grad_o` replaces the ∇_{o_t}L symbols (e.g. by ŷ_t − y_t).
    `chain(t, k)` replaces the column (∂h_t/∂h_k)ᵀ Vᵀ ∇_{o_t}L (prove_sigma_pi_form passes
    opaque vectors, so the sums are compared without multiplying out any product).
    """
    _require_reverse_mode(rm, "sigma_pi")
    m = rm.model
    go = grad_o if grad_o is not None else rm.grad_o
    if chain is None:

        def chain(t: int, k: int) -> sp.Matrix:
            return hidden_jacobian(m, t, k).T * m.V.T * go[t]

    if name == "h0":
        return sum((chain(t, 0) for t in go), sp.zeros(m.n_h, 1))
    right = {"W": lambda k: m.h(k - 1).T, "U": lambda k: m.x(k).T, "b": lambda k: sp.eye(1)}
    if name not in right:
        raise KeyError(f"the Σ Π form exists for W, U, b and h0, not {name!r}")
    terms = [
        tanh_derivative(m, k) * chain(t, k) * right[name](k) for t in go for k in range(1, t + 1)
    ]
    # one Add per entry: adding the T² matrices one by one re-flattens every sum (quadratic)
    rows, cols = terms[0].shape
    return sp.Matrix(rows, cols, lambda i, j: sp.Add(*(term[i, j] for term in terms)))


# --- inlining adjoint symbols (small T only) --------------------------------------------------


def inline_adjoints(
    rm: ReverseMode,
    local_h: dict[int, sp.Matrix],
    local_o: dict[int, sp.Matrix] | None,
    rewrite: Callable[[sp.Expr], sp.Expr] = sp.expand,
) -> dict[sp.Symbol, sp.Expr]:
    """Map adjoint symbols to full expressions in h, ŷ, y and parameters (small T only).

    local_o None keeps the ∇_{o_t}L symbols. `rewrite` normalises each expression.
    """
    m = rm.model
    if m.T > MAX_T_INLINED:
        raise SizeLimitError(
            f"inlining the adjoints at T = {m.T} multiplies out a product of {m.T} Jacobians "
            f"(size ~ n_h^T); the limit is T <= {MAX_T_INLINED}. The node-by-node proof "
            "(prove_recursion) has no such limit"
        )
    mapping: dict[sp.Symbol, sp.Expr] = {}
    for t in local_o or {}:
        for s, e in zip(rm.grad_o[t], local_o[t], strict=True):
            mapping[s] = rewrite(e)
    for t in range(m.T, 0, -1):
        for s, e in zip(rm.grad_h[t], local_h[t], strict=True):
            mapping[s] = rewrite(rewrite(e).xreplace(mapping))
    return mapping


def inline(expr: sp.Matrix, mapping: dict[sp.Symbol, sp.Expr]) -> sp.Matrix:
    return expr.applyfunc(lambda e: sp.expand(e.xreplace(mapping)))


# --- the naive route: diff of the fully expanded loss ----------------------------------------


def expanded_loss(
    m: RnnSymbols, *, many_to_one: bool = False, max_T: int = MAX_T_EXPANDED
) -> sp.Expr:
    """L with tanh and softmax written out, nested T deep, in parameters, x and y only.

    max_T: the cap (a benchmark may raise it to time the naive route one step further).
    """
    if m.T > max_T:
        raise SizeLimitError(
            f"the fully expanded loss at T = {m.T} is too large for SymPy (it grows ~3.5x per "
            f"step); the limit is T <= {max_T}. Use the structured route "
            "(reverse_mode), which is linear in T"
        )
    h = m.h0
    total = sp.Integer(0)
    steps = set(loss_steps(m, many_to_one))
    for t in range(1, m.T + 1):
        h = (m.b + m.W * h + m.U * m.x(t)).applyfunc(sp.tanh)
        if t not in steps:
            continue
        o = m.c + m.V * h
        exps = o.applyfunc(sp.exp)
        denominator = sp.Add(*exps)
        for i in range(m.n_y):
            if m.y(t)[i] != 0:
                total += -m.y(t)[i] * sp.log(exps[i] / denominator)
    return total


class _ExpandedFacts:
    """tanh(a_t written out) -> h_t and exp(o_t written out) -> S_t ŷ_t in a diff of the expanded loss."""

    def __init__(self, m: RnnSymbols) -> None:
        self.tanh: dict[sp.Basic, sp.Basic] = {}
        h = m.h0
        for t in range(1, m.T + 1):
            a = m.b + m.W * h + m.U * m.x(t)
            for i in range(m.n_h):
                self.tanh[sp.tanh(a[i])] = m.h(t)[i]
            h = a.applyfunc(sp.tanh)
        # after the tanh pass the logits are written in the h_t symbols
        logits = {t: m.c + m.V * m.h(t) for t in range(1, m.T + 1)}
        self.sums = {sp.Add(*o.applyfunc(sp.exp)): _normaliser(t) for t, o in logits.items()}
        self.exps = _LogitExps(m, logits)

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        return self.exps(expr.xreplace(self.tanh).xreplace(self.sums))


def expanded_loss_gradient(
    m: RnnSymbols, *, many_to_one: bool = False, names: tuple[str, ...] = PARAMETER_NAMES
) -> dict[str, sp.Matrix]:
    """Each gradient by SymPy's diff of the fully expanded loss, with h_t, ŷ_t put back."""
    loss = expanded_loss(m, many_to_one=many_to_one)
    facts = _ExpandedFacts(m)
    out = {}
    for name in names:
        out[name] = m.params()[name].applyfunc(lambda s: facts(sp.diff(loss, s)))
    return out


# --- proofs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProofRecord:
    """One proven identity: what, how, and how long it took."""

    claim: str
    method: str
    seconds: float


def residual_is_zero(residual: sp.Matrix, subs: dict | None = None) -> bool:
    if subs:
        residual = residual.xreplace(subs)
    return all(sp.expand(e) == 0 for e in residual)


def _prove(
    claim: str, method: str, lhs: sp.Matrix, rhs: sp.Matrix, subs: dict | None = None
) -> ProofRecord:
    t0 = time.perf_counter()
    residual = lhs - rhs
    if subs:
        residual = residual.xreplace(subs)
    residual = residual.applyfunc(sp.expand)
    if any(e != 0 for e in residual):
        raise StepFailed(claim, 1, method, residual)
    return ProofRecord(claim, method, time.perf_counter() - t0)


def _prove_polynomial(claim: str, method: str, lhs: sp.Matrix, rhs: sp.Matrix) -> ProofRecord:
    """As _prove, decided exactly by sparse polynomials over ℚ (SymPy's expand when not polynomial)."""
    from rnn_sym._polys import is_zero_polynomial

    t0 = time.perf_counter()
    residual = lhs - rhs
    zero = is_zero_polynomial(residual)
    if zero is None:
        return _prove(claim, method, lhs, rhs)
    if not zero:
        raise StepFailed(claim, 1, method, residual.applyfunc(sp.expand))
    return ProofRecord(claim, method + " (exact, sparse polynomials)", time.perf_counter() - t0)


def prove_recursion(rm: ReverseMode, tb: Textbook | None = None) -> Iterator[ProofRecord]:
    """Node by node: diff's adjoint of o_t, h_t and each parameter equals the textbook form.

    Backward induction over t: the adjoints of later nodes are the same symbols on both
    sides (the hypothesis). ∇_{o_t}L = ŷ_t − y_t needs one-hot targets (Σ_i y_{t,i} = 1).
    """
    tb = tb or textbook(rm)
    one_hot = rm.model.one_hot_substitutions()
    for t in sorted(rm.local_o, reverse=True):
        yield _prove(f"grad_o({t})", "expand, one-hot", rm.local_o[t], tb.local_o[t], one_hot)
    for t in sorted(rm.local_h, reverse=True):
        yield _prove(f"grad_h({t})", "expand, induction", rm.local_h[t], tb.local_h[t])
    for name in PARAMETER_NAMES:
        yield _prove(f"grad_{name}", "expand, induction", rm.params[name], tb.params[name])


def prove_sigma_pi_inductive(rm: ReverseMode) -> Iterator[ProofRecord]:
    """Σ_{t≥k} (∂h_t/∂h_k)ᵀ g_t = ∇_{h_k}L for every k (g_t = Vᵀ ∇_{o_t}L), by backward induction.

    k = T: ∇_{h_T}L = g_T. Step k < T, with the hypothesis ∇_{h_{k+1}}L = Σ_{t>k} P_tᵀ g_t
    (P_t = ∂h_t/∂h_{k+1}) and ∂h_t/∂h_k = P_t J(k+1): the recursion R_k(∇_{h_{k+1}}L) must
    equal g_k + Σ_{t>k} (P_t J(k+1))ᵀ g_t. Three facts, each proven by expand, give it:
    R_k(0) = g_k (or 0 without a loss at k); R_k is affine in ∇_{h_{k+1}}L (degree <= 1);
    and, for a generic matrix Q and vector v of fresh symbols,
    R_k(Qᵀ v) − R_k(0) = (Q J(k+1))ᵀ v, which instantiates (Q = P_t, v = g_t) to every term t.
    With the exchange Σ_t Σ_{k≤t} = Σ_k Σ_{t≥k} this turns the recursion form of ∇_W, ∇_U,
    ∇_b into the Σ Π form (and ∇_{h0}: k = 0, the recursion's h0 line), for any T, in
    O(T n_h³) work.
    """
    m = rm.model
    tb = textbook(rm)
    n = m.n_h
    Q = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"Q_{{{i + 1},{j + 1}}}", real=True))
    v = sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"v_{{{i + 1}}}", real=True))
    for k in range(m.T, -1, -1):
        t0 = time.perf_counter()
        recursion = tb.params["h0"] if k == 0 else tb.local_h[k]
        g_k = m.V.T * rm.grad_o[k] if k in rm.grad_o else sp.zeros(n, 1)
        claim = f"sigma_pi_step({k})"
        if k == m.T:
            _prove(claim, "expand", recursion, g_k)
        else:
            adjoint = list(rm.grad_h[k + 1])
            base = recursion.xreplace(dict.fromkeys(adjoint, sp.Integer(0)))
            _prove(claim + " R(0)", "expand", base, g_k)
            scale = sp.Dummy("lambda")
            scaled = recursion.xreplace({a: scale * a for a in adjoint})
            for entry in scaled:  # affine: degree <= 1 in a common scale of the adjoint
                if sp.degree(sp.expand(entry), scale) > 1:
                    raise StepFailed(claim, 1, "affine in the adjoint", entry)
            # v generic (instead of Vᵀ r): the identity for all v covers v = Vᵀ ∇_{o_t}L
            generic = dict(zip(adjoint, Q.T * v, strict=True))
            _prove(
                claim,
                "expand",
                recursion.xreplace(generic) - base,
                (Q * jacobian(m, k + 1)).T * v,
            )
        yield ProofRecord(claim, "expand, induction", time.perf_counter() - t0)


def prove_sigma_pi_form(rm: ReverseMode, name: str) -> ProofRecord:
    """The Σ Π form `sigma_pi(rm, name)` equals the recursion form of ∇_name, at any sizes.

    With the lemma of prove_sigma_pi_inductive, ∇_{h_k}L = Σ_{t≥k} p_{t,k} where p_{t,k} is
    the column (∂h_t/∂h_k)ᵀ Vᵀ ∇_{o_t}L (∂h_t/∂h_k := J(t) ⋯ J(k+1), its definition). This
    proves the remaining step: substituted into the textbook ∇_W = Σ_k diag(1 − h_k²) ∇_{h_k}L
    h_{k−1}ᵀ (∇_U, ∇_b alike; ∇_{h0} is the lemma at k = 0), the sums exchanged give exactly the
    Σ_t Σ_k of sigma_pi, term by term. Each p_{t,k} is a vector of fresh symbols on both sides,
    so no product of Jacobians is multiplied out and the work is O(T² n_h²) for any T: a shifted
    index, a dropped or repeated term, or a wrong factor z_k in sigma_pi is caught.
    """
    _require_reverse_mode(rm, "prove_sigma_pi_form")
    m = rm.model
    n = m.n_h
    chains = {
        (t, k): sp.Matrix(n, 1, lambda i, _, t=t, k=k: sp.Symbol(f"p_{{{t},{k},{i + 1}}}"))
        for t in rm.grad_o
        for k in range(0, t + 1)
    }

    def unrolled_adjoint(k: int) -> sp.Matrix:
        return sum((chains[t, k] for t in rm.grad_o if t >= k), sp.zeros(n, 1))

    if name == "h0":
        recursion_form = unrolled_adjoint(0)
    else:
        tb = textbook(rm)
        if name not in ("W", "U", "b"):
            raise KeyError(f"the Σ Π form exists for W, U, b and h0, not {name!r}")
        hypothesis = {
            a: e
            for k in range(1, m.T + 1)
            for a, e in zip(rm.grad_h[k], unrolled_adjoint(k), strict=True)
        }
        recursion_form = tb.params[name].xreplace(hypothesis)
    displayed = sigma_pi(rm, name, chain=lambda t, k: chains[t, k])
    return _prove_polynomial(f"sigma_pi_form({name})", "expand, lemma", displayed, recursion_form)


def full_forms(
    rm: ReverseMode, *, one_hot: bool, keep_grad_o: bool = False
) -> tuple[dict[str, sp.Matrix], dict[str, sp.Matrix]]:
    """Each gradient fully inlined (no ∇_h symbols) by the diff route and by the textbook.

    Written with the atoms d_{t,i} = 1 − h_{t,i}² (see _SlopeAtoms). one_hot: apply
    Σ_i y_{t,i} = 1 (the textbook ∇_o = ŷ − y needs it). keep_grad_o: keep ∇_{o_t}L symbols.
    """
    tb = textbook(rm)
    subs = rm.model.one_hot_substitutions() if one_hot else {}
    atoms = _SlopeAtoms(rm.model)

    def rewrite(e: sp.Expr) -> sp.Expr:
        return atoms(e.xreplace(subs)) if subs else atoms(e)

    out = []
    for local_h, local_o, params in (
        (rm.local_h, rm.local_o, rm.params),
        (tb.local_h, tb.local_o, tb.params),
    ):
        mapping = inline_adjoints(rm, local_h, None if keep_grad_o else local_o, rewrite)
        out.append(
            {
                k: v.applyfunc(lambda e, mp=mapping: rewrite(rewrite(e).xreplace(mp)))
                for k, v in params.items()
            }
        )
    return out[0], out[1]


def slope_atoms(m: RnnSymbols) -> Callable[[sp.Expr], sp.Expr]:
    """The rewriting 1 − h_{t,i}² -> d_{t,i} then expand (with `.undo` to put 1 − h² back)."""
    return _SlopeAtoms(m)


def expanded_loss_prover(m: RnnSymbols) -> Callable[[sp.Matrix, sp.Matrix], sp.Matrix]:
    """A Derivation prover for a step from a diff of the expanded loss to a polynomial form.

    The residual: the previous matrix with h_t, ŷ_t put back (tanh(a_t written out) = h_t,
    exp(o_t written out) = S_t ŷ_t), minus the current one, both with 1 − h² as atoms.
    """
    facts, atoms = _ExpandedFacts(m), _SlopeAtoms(m)

    def prover(previous: sp.Matrix, current: sp.Matrix) -> sp.Matrix:
        return previous.applyfunc(lambda e: atoms(facts(e))) - current.applyfunc(atoms)

    return prover


def sigma_pi_full(rm: ReverseMode, name: str) -> sp.Matrix:
    """The Σ Π form with ∇_{o_t}L symbols, written with the atoms d_{t,i} = 1 − h_{t,i}²."""
    return sigma_pi(rm, name).applyfunc(_SlopeAtoms(rm.model))


def expanded_full(
    rm: ReverseMode, names: tuple[str, ...] = PARAMETER_NAMES
) -> dict[str, sp.Matrix]:
    """diff of the fully expanded loss, with h_t, ŷ_t put back, in the atoms d_{t,i}."""
    atoms = _SlopeAtoms(rm.model)
    grads = expanded_loss_gradient(rm.model, many_to_one=rm.many_to_one, names=names)
    return {k: v.applyfunc(atoms) for k, v in grads.items()}


__all__ = [
    "MAX_T_EXPANDED",
    "MAX_T_INLINED",
    "Node",
    "ProofRecord",
    "ReverseMode",
    "Textbook",
    "adjoint_symbols",
    "build_graph",
    "expanded_loss",
    "expanded_full",
    "expanded_loss_prover",
    "expanded_loss_gradient",
    "full_forms",
    "hidden_jacobian",
    "inline",
    "inline_adjoints",
    "jacobian",
    "loss_steps",
    "prove_recursion",
    "prove_sigma_pi_form",
    "prove_sigma_pi_inductive",
    "residual_is_zero",
    "reverse_mode",
    "sigma_pi",
    "sigma_pi_full",
    "slope_atoms",
    "tanh_derivative",
    "textbook",
]
