"""The small syntax tree of the formula dialect, in canonical names.

The parser (`_parser.py`) turns lark's parse tree into these nodes after resolving every
letter through a notation table, so evaluation and mutation never see a seed's letters.
Every node keeps `src`, the text it came from (in the user's letters), for error messages;
`src` takes no part in equality, so two trees that mean the same thing compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

# Canonical time-indexed quantities: x, h, a, o, yhat (probabilities), y (one-hot target).
QUANTITIES = ("x", "h", "a", "o", "yhat", "y")
PARAMS = ("U", "W", "V", "b", "c")
# quantities whose total gradient ∇_{q_t} L the reference provides
ADJOINTS = ("h", "o", "a", "yhat")


@dataclass(frozen=True)
class Node:
    src: str = field(default="", compare=False, kw_only=True)

    def children(self) -> tuple[Node, ...]:
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                out.append(value)
            elif isinstance(value, tuple):
                out.extend(v for v in value if isinstance(v, Node))
        return tuple(out)


@dataclass(frozen=True)
class Num(Node):
    value: float


@dataclass(frozen=True)
class Index(Node):
    """An index variable (t, k, i, j, ...): an integer bound by a sum, product or the caller."""

    name: str


@dataclass(frozen=True)
class Length(Node):
    """T, the length of the sequence (bound to the test case's length)."""


@dataclass(frozen=True)
class Quantity(Node):
    """x_t, h_t, a_t, o_t, ŷ_t or y_t (one-hot), optionally one component: ŷ_{t,i}."""

    name: str
    time: Node
    comp: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Target(Node):
    """y_t as a class number (inside 𝟙_{i=y_t})."""

    time: Node


@dataclass(frozen=True)
class Param(Node):
    name: str  # U, W, V, b, c


@dataclass(frozen=True)
class Identity(Node):
    """I: the identity of whatever size the context needs."""


@dataclass(frozen=True)
class Ones(Node):
    """𝟏: the all-ones vector of whatever size the context needs."""


@dataclass(frozen=True)
class Grad(Node):
    """∂L/∂q_t = ∇_{q_t} L (total loss), or ∂L_s/∂q_t (one step's loss) when step is set."""

    quantity: str  # h, o, a, yhat
    time: Node
    step: Node | None = None
    comp: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Jacobian(Node):
    """∂q_n/∂r_d in numerator layout (rows: components of q_n), optionally one entry."""

    num: str
    num_time: Node
    den: str
    den_time: Node
    comp: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Add(Node):
    left: Node
    right: Node


@dataclass(frozen=True)
class Sub(Node):
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Mul(Node):
    """Juxtaposition, \\cdot or \\times: matrix product, or scaling when one side is scalar."""

    left: Node
    right: Node


@dataclass(frozen=True)
class Hadamard(Node):
    left: Node
    right: Node


@dataclass(frozen=True)
class Either(Node):
    """A chain that mixes ⊙ with matrix products, read two ways: `first` left to right, as
    written ((a ⊙ b) c), `second` with the products first (a ⊙ (B c)). The evaluator uses
    the first reading whose shapes conform."""

    first: Node
    second: Node


@dataclass(frozen=True)
class Div(Node):
    left: Node
    right: Node


@dataclass(frozen=True)
class Transpose(Node):
    operand: Node


@dataclass(frozen=True)
class Square(Node):
    """x^2: elementwise square."""

    operand: Node


@dataclass(frozen=True)
class Power(Node):
    """M^{k}: a square matrix to a whole power k ≥ 0 (an index expression, as d2l's
    (W_{hh}^\\top)^{T-i}); ^T stays the transpose and ^2 of a vector its elementwise square."""

    operand: Node
    exponent: Node


@dataclass(frozen=True)
class Func(Node):
    """tanh, tanh' (= 1 − tanh²), diag, softmax, exp, log, applied elementwise or as stated."""

    name: str
    operand: Node


@dataclass(frozen=True)
class Component(Node):
    """(expr)_i or (expr)_{ij}: one entry of a vector or matrix."""

    operand: Node
    comp: tuple[Node, ...]


@dataclass(frozen=True)
class Kronecker(Node):
    i: Node
    j: Node


@dataclass(frozen=True)
class Indicator(Node):
    """𝟙_{lhs op rhs}: 1 when the relation holds, else 0."""

    left: Node
    op: str  # "=", "!=", "<=", ">=", "<", ">"
    right: Node


@dataclass(frozen=True)
class BigOp(Node):
    """Σ or Π over var = lower … upper (inclusive); upper None means 'to the natural end'."""

    kind: str  # "sum" | "prod"
    var: str
    lower: Node | None
    upper: Node | None
    body: Node
    # a product composed the other way (latest index leftmost); only mutations set it, to
    # name a product written in the wrong order
    reverse: bool = False


@dataclass(frozen=True)
class DefRef(Node):
    """A use of a symbol the formula defines itself (δ_t = …)."""

    name: str
    arg: Node | None = None


@dataclass(frozen=True)
class Definition(Node):
    name: str
    param: str | None  # index variable of the left side (δ_t), if any
    fixed: Node | None  # constant index of the left side (δ_{T+1} = 0), if any
    body: Node


@dataclass(frozen=True)
class Answer(Node):
    """The gradient the formula states: body, and the block its left side names, if any."""

    body: Node
    declared: str | None = None  # "W", "h0", "h_t", ... when written as ∇_W L = …
    declared_time: Node | None = None  # the time of a per-step block: t in ∇_{h_t}L = …
    lhs: Node | None = None  # an identity's left side (∂h_{t+1}/∂h_t = …), else None
    # ∂L/∂W_{ij} = …: the index letters of the entry the left side names (row, column)
    components: tuple[str, ...] = ()
    # ∂E_3/∂W = …, ∂L_T/∂W = …: the one step whose loss the left side differentiates (a
    # number or T), which the model's task must keep alone; None for the total loss L
    declared_step: Node | None = None


@dataclass(frozen=True)
class Link(Node):
    """One earlier right side of a chain ∇_W L = A = B = C: here A or B (C is the answer).

    `answer` is the index in Program.answers of the chain's answer, `line` the right side's
    place in the chain (1 for A) and `lines` how many right sides the chain has (3).
    """

    answer: int
    line: int
    lines: int
    body: Node


@dataclass(frozen=True)
class Program(Node):
    definitions: tuple[Definition, ...]
    answers: tuple[Answer, ...]
    links: tuple[Link, ...] = ()  # the earlier right sides of chains, each checked too


def walk(node: Node):
    """Every node of the tree, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


def free_indices(node: Node, bound: frozenset[str] = frozenset()) -> set[str]:
    """Index variables of `node` that no sum or product inside it binds."""
    if isinstance(node, Index):
        return set() if node.name in bound else {node.name}
    if isinstance(node, BigOp):
        out = set()
        for limit in (node.lower, node.upper):
            if limit is not None:
                out |= free_indices(limit, bound)
        return out | free_indices(node.body, bound | {node.var})
    out: set[str] = set()
    for child in node.children():
        out |= free_indices(child, bound)
    return out


def substitute_index(node: Node, var: str, value: Node) -> Node:
    """`node` with every free occurrence of the index `var` replaced by `value`."""
    if isinstance(node, Index):
        return value if node.name == var else node
    changes = {}
    for f in fields(node):
        if f.name == "src":
            continue
        old = getattr(node, f.name)
        if isinstance(node, BigOp) and node.var == var and f.name == "body":
            continue  # an inner Σ or Π over the same letter binds it afresh
        if isinstance(old, Node):
            new = substitute_index(old, var, value)
        elif isinstance(old, tuple) and any(isinstance(v, Node) for v in old):
            new = tuple(substitute_index(v, var, value) if isinstance(v, Node) else v for v in old)
        else:
            continue
        if new is not old:
            changes[f.name] = new
    return replace(node, **changes) if changes else node


def depth(node: Node) -> int:
    best, stack = 0, [(node, 1)]
    while stack:
        current, d = stack.pop()
        best = max(best, d)
        stack.extend((c, d + 1) for c in current.children())
    return best


def replace_child(node: Node, old: Node, new: Node) -> Node:
    """A copy of `node` with its direct child `old` (by identity) replaced by `new`."""
    changes = {}
    for f in fields(node):
        value = getattr(node, f.name)
        if value is old:
            changes[f.name] = new
        elif isinstance(value, tuple) and any(v is old for v in value):
            changes[f.name] = tuple(new if v is old else v for v in value)
    if not changes:
        raise ValueError("not a direct child")
    return replace(node, **changes)


class FormulaError(ValueError):
    """A formula the checker cannot judge: the message names the problem and the fix."""

    kind = "formula"


class ParseError(FormulaError):
    """The text is not in the dialect; `position` is the 0-based offset, `caret` shows it."""

    kind = "parse"

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.message = message
        self.text = text
        self.position = position
        self.caret = ""
        if position is not None and text:
            # show one line of context around the offending position, with a caret under it
            start = max(0, position - 60)
            line = text[start : position + 40].replace("\n", " ")
            self.caret = f"  {line}\n  {' ' * (position - start)}^"
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}" + (f"\n{self.caret}" if self.caret else ""))


class RangeError(FormulaError):
    """A time index outside the steps that exist (x_0, h_{-1})."""

    kind = "range"


class UnknownSymbolError(FormulaError):
    kind = "unknown symbol"


class ShapeError(FormulaError):
    """Shapes that do not conform, with the sub-expressions and both shapes.

    `failure` is the failure without the user's letters, (operation, shape, shape), and
    `operands` the two values (arrays, or None for a size-free I, 𝟏, 0): the diagnosis
    compares them with those of a mutated reference formula that fails the same way.
    """

    kind = "shape"

    def __init__(self, message: str, failure: tuple[str, ...] = (), operands: tuple = ()) -> None:
        super().__init__(message)
        self.failure = failure
        self.operands = operands


def _wrap(node: Node) -> str:
    text = to_latex(node)
    if isinstance(node, Add | Sub | Neg | Mul | Hadamard | Div | BigOp | Either):
        return f"\\left({text}\\right)"
    return text


def _index_text(node: Node) -> str:
    return "{" + to_latex(node) + "}"


_QUANTITY_LATEX = {"yhat": "\\hat{y}", **{f"gate_{g}": g for g in "ifgorzn"}}
_FUNC_LATEX = {
    "dtanh": "\\tanh'",
    "tanh": "\\tanh",
    "exp": "\\exp",
    "log": "\\log",
    "sigmoid": "\\sigma",
    "dsigmoid": "\\sigma'",
    "relu": "\\mathrm{relu}",
    "drelu": "\\mathrm{relu}'",
}


def to_latex(node: Node) -> str:
    """Canonical dialect text of a tree (parses back to an equal tree)."""
    if isinstance(node, Num):
        return str(int(node.value)) if node.value == int(node.value) else repr(node.value)
    if isinstance(node, Index):
        return node.name
    if isinstance(node, Length):
        return "T"
    if isinstance(node, Quantity):
        indices = ",".join(to_latex(i) for i in (node.time, *node.comp))
        return f"{_QUANTITY_LATEX.get(node.name, node.name)}_{{{indices}}}"
    if isinstance(node, Target):
        return f"y_{{{to_latex(node.time)}}}"
    if isinstance(node, Param):
        return node.name
    if isinstance(node, Identity):
        return "I"
    if isinstance(node, Ones):
        return "\\mathbf{1}"
    if isinstance(node, Grad):
        q = _QUANTITY_LATEX.get(node.quantity, node.quantity)
        indices = ",".join(to_latex(i) for i in (node.time, *node.comp))
        loss = "L" if node.step is None else f"L_{{{to_latex(node.step)}}}"
        return f"\\frac{{\\partial {loss}}}{{\\partial {q}_{{{indices}}}}}"
    if isinstance(node, Jacobian):
        num = _QUANTITY_LATEX.get(node.num, node.num)
        den = _QUANTITY_LATEX.get(node.den, node.den)
        ni = ",".join(to_latex(i) for i in (node.num_time, *node.comp[:1]))
        di = ",".join(to_latex(i) for i in (node.den_time, *node.comp[1:]))
        return f"\\frac{{\\partial {num}_{{{ni}}}}}{{\\partial {den}_{{{di}}}}}"
    if isinstance(node, Add):
        return f"{to_latex(node.left)} + {_wrap(node.right) if isinstance(node.right, Neg) else to_latex(node.right)}"
    if isinstance(node, Sub):
        right = node.right
        text = _wrap(right) if isinstance(right, Add | Sub | Neg) else to_latex(right)
        return f"{to_latex(node.left)} - {text}"
    if isinstance(node, Neg):
        return f"-{_wrap(node.operand)}"
    if isinstance(node, Either):
        return to_latex(node.first)
    if isinstance(node, Mul):
        return f"{_wrap(node.left)} \\, {_wrap(node.right)}"
    if isinstance(node, Hadamard):
        return f"{_wrap(node.left)} \\odot {_wrap(node.right)}"
    if isinstance(node, Div):
        return f"\\frac{{{to_latex(node.left)}}}{{{to_latex(node.right)}}}"
    if isinstance(node, Transpose):
        return f"{{{_wrap(node.operand)}}}^\\top"
    if isinstance(node, Square):
        return f"{{{_wrap(node.operand)}}}^2"
    if isinstance(node, Power):
        # in brackets, so that an exponent T is not read as the transpose
        return f"{{{_wrap(node.operand)}}}^{{({to_latex(node.exponent)})}}"
    if isinstance(node, Func):
        name = _FUNC_LATEX.get(node.name, f"\\mathrm{{{node.name}}}")
        return f"{name}\\left({to_latex(node.operand)}\\right)"
    if isinstance(node, Component):
        return f"{{{_wrap(node.operand)}}}_{{{','.join(to_latex(i) for i in node.comp)}}}"
    if isinstance(node, Kronecker):
        return f"\\delta_{{{to_latex(node.i)},{to_latex(node.j)}}}"
    if isinstance(node, Indicator):
        op = {"=": "=", "!=": "\\neq", "<=": "\\leq", ">=": "\\geq", "<": "<", ">": ">"}[node.op]
        return f"\\mathbb{{1}}_{{{to_latex(node.left)} {op} {to_latex(node.right)}}}"
    if isinstance(node, BigOp) and node.reverse:
        # the other order, in the dialect: ∏_{j=a}^{b} F_{a+b−j}
        low = node.lower if node.lower is not None else Num(1.0)
        high = node.upper if node.upper is not None else Length()
        mirrored = substitute_index(node.body, node.var, Sub(Add(low, high), Index(node.var)))
        return to_latex(replace(node, lower=low, upper=high, body=mirrored, reverse=False))
    if isinstance(node, BigOp):
        lower = "" if node.lower is None else f"={to_latex(node.lower)}"
        upper = "" if node.upper is None else f"^{{{to_latex(node.upper)}}}"
        return f"\\{node.kind}_{{{node.var}{lower}}}{upper} \\left({to_latex(node.body)}\\right)"
    if isinstance(node, DefRef):
        return node.name + ("" if node.arg is None else f"_{{{to_latex(node.arg)}}}")
    raise TypeError(f"cannot print {type(node).__name__}")
