"""`\\cdots` between two factors (or terms) of the same pattern, read as Π (or Σ).

`\\frac{\\partial h_t}{\\partial h_{t-1}} \\cdots \\frac{\\partial h_{k+1}}{\\partial h_k}` is
the product of ∂h_m/∂h_{m−1} for m = t down to k+1, written out. The two ends differ only in
their indices, each index by the same amount (t vs k+1, t−1 vs k): that gives the pattern
F(m) and the range. Which way the run goes is read from a constant distance (x_1 ⋯ x_5), the
factor next to an end (J_t J_{t−1} ⋯), or for Jacobians from the chain rule (latest step
leftmost); a sum runs from its left end. Factors before the left end that continue the run
belong to it. Anything else is an error
that says to write \\prod or \\sum with bounds: the checker never guesses a pattern.
"""

from __future__ import annotations

import dataclasses
import random

from rnn_check import _ast as A


class EllipsisError(Exception):
    """The ends of an ellipsis do not make a pattern (the builder adds the position)."""


_INDEX_NODES = (A.Num, A.Index, A.Length, A.Add, A.Sub, A.Neg)
# letters for the run's own index, in order of preference
_RUN_LETTERS = "mjlnpqrsuv"


def _is_index_expr(node: object) -> bool:
    return isinstance(node, _INDEX_NODES) and all(_is_index_expr(c) for c in node.children())


def _value(node: A.Node, env: dict[str, int]) -> int:
    if isinstance(node, A.Num):
        return int(node.value) if float(node.value).is_integer() else _no_pattern()
    if isinstance(node, A.Index):
        return env.setdefault(node.name, random.Random(f"{env['#']}:{node.name}").randrange(9, 999))
    if isinstance(node, A.Length):
        return env.setdefault("\\T", random.Random(f"{env['#']}:T").randrange(9, 999))
    if isinstance(node, A.Add):
        return _value(node.left, env) + _value(node.right, env)
    if isinstance(node, A.Sub):
        return _value(node.left, env) - _value(node.right, env)
    if isinstance(node, A.Neg):
        return -_value(node.operand, env)
    return _no_pattern()


def _no_pattern() -> int:
    raise EllipsisError("not an integer index")


def _differences(a: object, b: object, path: tuple = ()) -> list[tuple[tuple, A.Node, A.Node]]:
    """The places where `a` and `b` differ, each a pair of index expressions; EllipsisError
    if they differ anywhere else (another letter, another operator)."""
    if _is_index_expr(a) and _is_index_expr(b):
        return [] if _same(a, b) else [(path, a, b)]
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            raise EllipsisError("different shapes")
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _differences(x, y, (*path, i))
        return out
    if isinstance(a, A.Node) and isinstance(b, A.Node):
        if type(a) is not type(b):
            raise EllipsisError("different kinds")
        out = []
        for field in dataclasses.fields(a):
            if field.name == "src":
                continue
            out += _differences(getattr(a, field.name), getattr(b, field.name), (*path, field.name))
        return out
    if a != b:
        raise EllipsisError("different symbols")
    return []


def _same(a: A.Node, b: A.Node) -> bool:
    try:
        return all(_value(a, env) == _value(b, env) for env in _envs())
    except EllipsisError:
        return False


def _envs() -> list[dict[str, int]]:
    # three random assignments of the letters (seeded): a difference that is the same on all
    # three is a constant
    return [{"#": seed} for seed in range(3)]


def _constant(a: A.Node, b: A.Node) -> int | None:
    """a − b when it is the same integer for every value of the letters, else None."""
    values = set()
    for env in _envs():
        env = dict(env)
        values.add(_value(a, env) - _value(b, env))
    return values.pop() if len(values) == 1 else None


def _replace(node: object, path: tuple, new: A.Node) -> object:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(node, tuple):
        return tuple(_replace(x, rest, new) if i == head else x for i, x in enumerate(node))
    return dataclasses.replace(node, **{head: _replace(getattr(node, head), rest, new)})


def _shifted(var: str, offset: int) -> A.Node:
    base = A.Index(var, src=var)
    if offset > 0:
        return A.Add(base, A.Num(float(offset)), src=f"{var}+{offset}")
    if offset < 0:
        return A.Sub(base, A.Num(float(-offset)), src=f"{var}-{-offset}")
    return base


def _step_to(pattern: list[tuple[tuple, A.Node, A.Node]], node: A.Node, end: A.Node) -> int | None:
    """+1 or −1 if `node` is the pattern one index after or before the end `end`."""
    try:
        found = _differences(node, end)
    except EllipsisError:
        return None
    if [p for p, _, _ in found] != [p for p, _, _ in pattern]:
        return None
    steps = {_constant(x, y) for _, x, y in found}
    return steps.pop() if len(steps) == 1 and steps <= {1, -1} else None


def run(
    kind: str, left: A.Node, right: A.Node, befores: list[A.Node], src: str
) -> tuple[A.Node, int]:
    """Π (kind 'prod') or Σ ('sum') of the pattern that `left` and `right` are two ends of,
    and how many of `befores` (the factors or terms written before `left`, nearest first)
    continue the run and belong to it: J_t J_{t-1} \\cdots J_{k+1} is Π_{m=k+1}^{t} J_m,
    also where t = k (the empty product), not J_t times a run from t−1."""
    found = _differences(left, right)
    if not found:
        raise EllipsisError("both ends are the same")
    _, first_left, first_right = found[0]
    offsets = []
    for _, x, y in found:
        shift_left, shift_right = _constant(x, first_left), _constant(y, first_right)
        if shift_left is None or shift_left != shift_right:
            raise EllipsisError("the indices do not move together")
        offsets.append(shift_left)
    used = {i.name for i in A.walk(left) if isinstance(i, A.Index)}
    used |= {i.name for i in A.walk(right) if isinstance(i, A.Index)}
    var = next(letter for letter in _RUN_LETTERS if letter not in used)
    body: object = left
    for (path, _, _), offset in zip(found, offsets, strict=True):
        body = _replace(body, path, _shifted(var, offset))
    body = dataclasses.replace(body, src=f"({left.src} … {right.src})")
    distance = _constant(first_left, first_right)
    step = _step_to(found, befores[0], left) if befores else None
    if distance is not None and distance != 0:
        descending = distance > 0
    elif step is not None:
        descending = step == 1  # J_t J_{t-1} \cdots: the factor before shows the way
    elif _is_chain_rule_jacobian(body):
        descending = True  # ∂h_t/∂h_{t-1} \cdots ∂h_{k+1}/∂h_k: latest step leftmost
    elif kind == "sum":
        descending = False  # a sum's order does not matter; it runs from the left end
    else:
        raise EllipsisError(
            "which way it runs is not clear: write the factor next to an end too, as in "
            "F_t F_{t-1} \\cdots F_{k+1}"
        )
    # the factors before the left end that continue the run, one step each
    absorbed = 0
    expected = 1 if descending else -1
    while absorbed < len(befores):
        previous = befores[absorbed - 1] if absorbed else left
        if _step_to(found, befores[absorbed], previous) != expected:
            break
        absorbed += 1
    far = first_left
    if absorbed:
        far = A.Add(first_left, A.Num(float(expected * absorbed)), src=first_left.src)
    lower, upper = (first_right, far) if descending else (far, first_right)
    if kind == "sum":
        return A.BigOp("sum", var, lower, upper, body, src=src), absorbed
    # the evaluator composes a state Jacobian latest-leftmost unless told otherwise; here the
    # order is the written one
    state = isinstance(body, A.Jacobian) and body.num == "h" and body.den == "h" and not body.comp
    node = A.BigOp("prod", var, lower, upper, body, src=src, reverse=descending != state)
    return node, absorbed


def _is_chain_rule_jacobian(body: object) -> bool:
    """∂q_{m}/∂r_{m−c} with c > 0: a Jacobian from a later step to an earlier one."""
    if not isinstance(body, A.Jacobian):
        return False
    try:
        gap = _constant(body.num_time, body.den_time)
    except EllipsisError:
        return False
    return gap is not None and gap > 0
