"""Recognisable mistakes, generated from the correct formula's syntax tree by a table of rules.

`RULES` is data: one line per rule (name, where it applies, what it rewrites to). A rule is
applied at every node where it applies, to every reference formula of the block; the
diagnosis of a wrong formula is the set of rules (or pairs of rules) whose mutated
reference gives the user's numbers on every test case. Nothing here knows any particular
user input: a new rule is one more line in `RULES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from rnn_check import _ast as A

# The correct formulas of each block, in the canonical dialect (NOTATION.md). The first one
# is the primary (recursive) form; the others are equivalent forms whose mutations cover
# mistakes the primary form cannot show (unrolled Σ Π, with ∂h_t/∂h_k and with the product
# of its factors written out, so that a W or an order inside the product can be named; the
# softmax Jacobian by components).
REFERENCES: dict[str, tuple[str, ...]] = {
    "W": (
        r"\sum_{t=1}^{T} \mathrm{diag}(1-h_t^2) \nabla_{h_t} L \, h_{t-1}^\top",
        r"\sum_{t=1}^{T} \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \left(\frac{\partial h_t}{\partial h_k}\right)^\top V^\top (\hat{y}_t - y_t) \, h_{k-1}^\top",
        r"\sum_{t=1}^{T} \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \prod_{j=k+1}^{t} \left(W^\top \mathrm{diag}(1-h_j^2)\right) V^\top (\hat{y}_t - y_t) \, h_{k-1}^\top",
    ),
    "U": (
        r"\sum_{t=1}^{T} \mathrm{diag}(1-h_t^2) \nabla_{h_t} L \, x_t^\top",
        r"\sum_{t=1}^{T} \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \left(\frac{\partial h_t}{\partial h_k}\right)^\top V^\top (\hat{y}_t - y_t) \, x_k^\top",
        r"\sum_{t=1}^{T} \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \prod_{j=k+1}^{t} \left(W^\top \mathrm{diag}(1-h_j^2)\right) V^\top (\hat{y}_t - y_t) \, x_k^\top",
    ),
    "b": (
        r"\sum_{t=1}^{T} \mathrm{diag}(1-h_t^2) \nabla_{h_t} L",
        r"\sum_{t=1}^{T} \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \left(\frac{\partial h_t}{\partial h_k}\right)^\top V^\top (\hat{y}_t - y_t)",
        r"\sum_{t=1}^{T} \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \prod_{j=k+1}^{t} \left(W^\top \mathrm{diag}(1-h_j^2)\right) V^\top (\hat{y}_t - y_t)",
    ),
    "V": (r"\sum_{t=1}^{T} (\hat{y}_t - y_t) \, h_t^\top",),
    "c": (r"\sum_{t=1}^{T} (\hat{y}_t - y_t)",),
    "h0": (
        r"W^\top \mathrm{diag}(1-h_1^2) \nabla_{h_1} L",
        r"\sum_{t=1}^{T} \left(\frac{\partial h_t}{\partial h_0}\right)^\top V^\top (\hat{y}_t - y_t)",
    ),
    "h_t": (
        r"W^\top \mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}} L + V^\top (\hat{y}_t - y_t)",
        r"\sum_{s=t}^{T} \left(\frac{\partial h_s}{\partial h_t}\right)^\top V^\top (\hat{y}_s - y_s)",
        r"\sum_{s=t}^{T} \prod_{j=t+1}^{s} \left(W^\top \mathrm{diag}(1-h_j^2)\right) V^\top (\hat{y}_s - y_s)",
    ),
    "o_t": (
        r"\hat{y}_t - y_t",
        r"\sum_{i} \left(-\frac{y_{t,i}}{\hat{y}_{t,i}}\right) \hat{y}_{t,i} (\delta_{ij} - \hat{y}_{t,j})",
    ),
    "a_t": (r"\mathrm{diag}(1-h_t^2) \nabla_{h_t} L",),
}


# -- small predicates and rewrites the table is written with ------------------------------


def _is_tanh_derivative(node: A.Node) -> bool:
    """diag(1 − h²), (1 − h²), tanh'(a): the factor tanh' contributes."""
    if isinstance(node, A.Func) and node.name == "diag":
        return _is_tanh_derivative(node.operand)
    if isinstance(node, A.Func) and node.name == "dtanh":
        return True
    return (
        isinstance(node, A.Sub)
        and isinstance(node.left, A.Num | A.Ones)
        and isinstance(node.right, A.Square)
        and isinstance(node.right.operand, A.Quantity)
        and node.right.operand.name == "h"
    )


def _shift(time: A.Node, by: int) -> A.Node:
    """time + by, simplified where it is of the form X ± 1."""
    if isinstance(time, A.Add) and isinstance(time.right, A.Num):
        total = time.right.value + by
    elif isinstance(time, A.Sub) and isinstance(time.right, A.Num):
        total = -time.right.value + by
    else:
        total, time = float(by), A.Add(time, A.Num(0.0))
    base = time.left
    if total == 0:
        return base
    return A.Add(base, A.Num(total)) if total > 0 else A.Sub(base, A.Num(-total))


def _h_at(node: A.Node, offset: int) -> bool:
    """h_{X+offset} (offset +1: h_{t+1}; −1: h_{t−1})."""
    if not (isinstance(node, A.Quantity) and node.name == "h" and not node.comp):
        return False
    kind = A.Add if offset > 0 else A.Sub
    return (
        isinstance(node.time, kind)
        and isinstance(node.time.right, A.Num)
        and node.time.right.value == 1
    )


def _is_state(node: A.Node) -> bool:
    return isinstance(node, A.Quantity) and node.name == "h" and not node.comp


def _retime(node: A.Quantity, by: int, name: str | None = None) -> A.Quantity:
    return A.Quantity(name or node.name, _shift(node.time, by), node.comp)


def _bound_variants(node: A.BigOp) -> list[A.Node]:
    if node.kind != "sum":
        return []
    lower = node.lower if node.lower is not None else A.Num(1.0)
    upper = node.upper if node.upper is not None else A.Length()
    return [
        A.BigOp(node.kind, node.var, lower, _shift(upper, -1), node.body),
        A.BigOp(node.kind, node.var, _shift(lower, +1), upper, node.body),
        A.BigOp(node.kind, node.var, _shift(lower, -1), upper, node.body),
    ]


def _drop_factor(node: A.Node) -> list[A.Node]:
    out = []
    if isinstance(node, A.Mul | A.Hadamard):
        if _is_tanh_derivative(node.left):
            out.append(node.right)
        if _is_tanh_derivative(node.right):
            out.append(node.left)
    return out


def _is_total_state_gradient(node: A.Node) -> bool:
    return isinstance(node, A.Grad) and node.quantity == "h" and node.step is None and not node.comp


def _local_term(node: A.Grad) -> list[A.Node]:
    """∇_{h_t}L → ∇_{h_t}L_t = Vᵀ(ŷ_t − y_t): the path through h_{t+1} forgotten."""
    return [A.Grad("h", node.time, node.time)]


def _mentions_next_state(node: A.Node) -> bool:
    return any(
        isinstance(n, A.Grad | A.Jacobian | A.DefRef) or (isinstance(n, A.Param) and n.name == "W")
        for n in A.walk(node)
    )


def _drop_recursion(node: A.Add) -> list[A.Node]:
    """Wᵀ D ∇_{h_{t+1}}L + Vᵀ(ŷ_t − y_t) → Vᵀ(ŷ_t − y_t)."""
    left, right = _mentions_next_state(node.left), _mentions_next_state(node.right)
    if left and not right:
        return [node.right]
    if right and not left:
        return [node.left]
    return []


def _one(node: A.Node) -> list[A.Node]:
    return [A.Num(1.0)]


def _is_leaf_value(node: A.Node, parent: A.Node | None) -> bool:
    return (
        isinstance(node, A.Param | A.Quantity | A.Grad)
        and not isinstance(parent, A.Transpose | A.Square | A.Component)
        and not getattr(node, "comp", ())
    )


@dataclass(frozen=True)
class Rule:
    name: str  # what a student did, as the diagnosis says it
    applies: Callable[[A.Node, A.Node | None], bool]  # (node, parent) -> bool
    rewrite: Callable[[A.Node], list[A.Node]]  # node -> its replacements


# fmt: off
RULES: tuple[Rule, ...] = (
    Rule("sign flipped", lambda n, p: p is None, lambda n: [A.Neg(n)]),
    Rule("sign flipped (a difference reversed)", lambda n, p: isinstance(n, A.Sub) and not _is_tanh_derivative(n), lambda n: [A.Sub(n.right, n.left)]),
    Rule("sign of one term flipped", lambda n, p: isinstance(n, A.Add | A.Sub) and not _is_tanh_derivative(n), lambda n: [(A.Sub if isinstance(n, A.Add) else A.Add)(n.left, n.right)]),
    Rule("factors in the wrong order", lambda n, p: isinstance(n, A.Mul), lambda n: [A.Mul(n.right, n.left)]),
    Rule("W where Wᵀ belongs", lambda n, p: isinstance(n, A.Transpose) and n.operand == A.Param("W"), lambda n: [n.operand]),
    Rule("transpose missing", lambda n, p: isinstance(n, A.Transpose), lambda n: [n.operand]),
    Rule("transpose extra", lambda n, p: _is_leaf_value(n, p) or p is None, lambda n: [A.Transpose(n)]),
    Rule("tanh' taken at h_t instead of h_{t+1}", lambda n, p: isinstance(n, A.Quantity) and n.name == "h" and isinstance(p, A.Square), lambda n: [_retime(n, -1)]),
    Rule("tanh' taken one step late (at h_{t+1} instead of h_t)", lambda n, p: isinstance(n, A.Quantity) and n.name == "h" and isinstance(p, A.Square), lambda n: [_retime(n, +1)]),
    Rule("sum bound off by one", lambda n, p: isinstance(n, A.BigOp), _bound_variants),
    Rule("product of Jacobians in the wrong order", lambda n, p: isinstance(n, A.BigOp) and n.kind == "prod", lambda n: [dataclasses.replace(n, reverse=not n.reverse)]),
    Rule("missing diag(1 − h²) factor", lambda n, p: isinstance(n, A.Mul | A.Hadamard), _drop_factor),
    Rule("h_k where h_{k−1} belongs", lambda n, p: _h_at(n, -1), lambda n: [_retime(n, +1)]),
    Rule("h_{k−1} where h_k belongs", lambda n, p: _is_state(n) and not _h_at(n, -1) and isinstance(p, A.Transpose), lambda n: [_retime(n, -1)]),
    Rule("missing recursion term (only the loss at the same step)", lambda n, p: _is_total_state_gradient(n), _local_term),
    Rule("missing recursion term (only the loss at the same step)", lambda n, p: isinstance(n, A.Add), _drop_recursion),
    Rule("x and h swapped", lambda n, p: isinstance(n, A.Quantity) and n.name == "x", lambda n: [_retime(n, -1, "h")]),
    Rule("x and h swapped", lambda n, p: _h_at(n, -1) and isinstance(p, A.Transpose), lambda n: [_retime(n, +1, "x")]),
    Rule("factor 1/T (averaging instead of summing)", lambda n, p: p is None, lambda n: [A.Div(n, A.Length())]),
    Rule("factor T too many", lambda n, p: p is None, lambda n: [A.Mul(A.Length(), n)]),
    Rule("softmax-Jacobian diagonal used for all i, j", lambda n, p: isinstance(n, A.Kronecker), _one),
    Rule("softmax-Jacobian diagonal used for all i, j", lambda n, p: isinstance(n, A.Quantity) and n.name == "y" and not n.comp, lambda n: [A.Ones()]),
    Rule("diag(…) missing (an elementwise factor multiplied as a matrix)", lambda n, p: isinstance(n, A.Func) and n.name == "diag", lambda n: [n.operand]),
)
# fmt: on


def _paths(root: A.Node) -> Iterator[list[A.Node]]:
    """Root-to-node paths of every node (by identity)."""
    stack = [[root]]
    while stack:
        path = stack.pop()
        yield path
        for child in reversed(_value_children(path[-1])):
            stack.append(path + [child])


def _value_children(node: A.Node) -> tuple[A.Node, ...]:
    """Children that are values, not indices: mutations never rewrite h_{t-1} into h_{1-t}."""
    if isinstance(node, A.Quantity | A.Grad | A.Jacobian | A.Target | A.Kronecker | A.Indicator):
        return ()
    if isinstance(node, A.BigOp):
        return (node.body,)
    if isinstance(node, A.Component):
        return (node.operand,)
    return node.children()


def _rebuild(path: list[A.Node], new: A.Node) -> A.Node:
    for parent, old in zip(reversed(path[:-1]), reversed(path[1:]), strict=True):
        new = A.replace_child(parent, old, new)
        old = parent
    return new


def mutants(
    root: A.Node, rules: Iterable[Rule] | None = None, *, seen: set[A.Node] | None = None
) -> Iterator[tuple[str, A.Node]]:
    """(rule name, mutated tree) for every rule (default RULES) at every place it applies; no
    duplicates, also across calls that share `seen`."""
    seen = {root} if seen is None else seen
    for rule in RULES if rules is None else rules:
        for path in _paths(root):
            node = path[-1]
            parent = path[-2] if len(path) > 1 else None
            if not rule.applies(node, parent):
                continue
            for replacement in rule.rewrite(node):
                mutated = _rebuild(path, replacement) if len(path) > 1 else replacement
                if mutated in seen:
                    continue
                seen.add(mutated)
                yield rule.name, mutated
