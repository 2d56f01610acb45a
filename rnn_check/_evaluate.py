"""Evaluate a formula's syntax tree on one test case: numbers with shapes, checked as we go.

Vectors are columns (n×1). A product of non-conforming shapes raises `ShapeError` naming
both sub-expressions (in the user's own letters) and both shapes. The numbers of the
evaluation context are those of the model the formula is about (rnn_spec): the forward
quantities (x_t, h_t, a_t, o_t, ŷ_t, y_t; c_t and the gates of an LSTM or GRU), every
Jacobian and adjoint ∇_{q_t}L come from `_model_eval` (the model's equations, differentiated
forward), the true block gradients from `rnn_num`, the project's reference. Work is
bounded: a formula that would take too long raises `FormulaError` instead of hanging.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnn_check import _ast as A
from rnn_check._model_eval import Engine, activation, activation_derivative
from rnn_num._model import init_params as _init_params
from rnn_num._model import loss_and_grads as _reference_loss_and_grads
from rnn_spec import CANONICAL, Model

# The reference is bound here, at import: a test that patches `rnn_num.loss_and_grads` (to
# test its own code) must not change what the checker calls the truth.

MAX_WORK = 100_000  # node evaluations per formula and case
_WORDS = {"x": "x", "h": "h", "a": "a", "o": "o", "yhat": "ŷ", "y": "y", "c": "c"}
_WORDS.update({f"gate_{g}": g for g in "ifgorzn"})
# quantities that exist from t = 0 (the initial states)
_STATES = ("h", "c")
_ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")


@dataclass
class Context:
    """One test case: sizes and every number a formula may refer to (time index = row)."""

    T: int
    n_x: int
    n_h: int
    n_y: int
    seed: int
    params: dict[str, np.ndarray]
    series: dict[str, np.ndarray]  # name -> (T+2, n) rows 0..T+1 (row 0 only for h, c)
    target: np.ndarray  # (T+2,) class numbers, rows 1..T
    adjoint: dict[str, np.ndarray]  # every quantity but y -> (T+2, n): ∇_{q_t} L
    grads: dict[str, np.ndarray]  # the blocks, h0 (, c0): the true gradient (rnn_num)
    model: Model = CANONICAL
    engine: Engine | None = None

    def size(self, quantity: str) -> int:
        if quantity == "y":
            return self.n_y
        return self.series[quantity].shape[1]

    def jacobian(self, num: str, n: int, den: str, d: int) -> np.ndarray:
        return self.engine.jacobian(num, n, den, d)

    def step_gradient(self, name: str, t: int, s: int) -> np.ndarray:
        if t > self.T or s > self.T:
            return np.zeros(self.size(name))
        return self.engine.step_gradient(name, t, s)

    @property
    def loss_steps(self) -> tuple[int, ...]:
        return self.engine.steps


def reference_gradients(
    model: Model,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """The true gradient of every block (and h0, c0), from rnn_num, the project's reference."""
    if model == CANONICAL:
        _, grads = _reference_loss_and_grads(params, x, y, h0=h0)
        return grads
    # the initial states are arguments here (h0 ≠ 0 so that no term vanishes); the model's
    # h0 option only says how a batch shares them, which no formula depends on
    shared = model.replace(h0="shared")
    _, grads = _reference_loss_and_grads(params, x, y, h0=h0, c0=c0, model=shared)
    return grads


def build_context(
    T: int, n_x: int, n_h: int, n_y: int, seed: int, model: Model | None = None
) -> Context:
    """A test case: random parameters with nonzero biases, h0 (and c0) ≠ 0, targets; the
    true gradients from rnn_num (`reference_gradients`)."""
    m = CANONICAL if model is None else model
    n_out = n_y if m.has_output_layer else None
    params = dict(_init_params(n_x, n_h, n_out, seed=seed, model=m))
    rng = np.random.default_rng(10_000 + seed)
    # nonzero biases and h0 so that no term can vanish by accident
    blocks = m.blocks(n_x, n_h, n_out)
    for block in blocks:
        if block.role in ("bias", "output-bias"):
            params[block.name] = rng.normal(0.0, 0.5, block.shape)
    for block in blocks:
        if block.role == "recurrent":  # a clearly non-symmetric, not-too-small recurrence
            params[block.name] = params[block.name] * 1.3
    x = rng.normal(0.0, 1.0, (T, n_x))
    steps = m.loss_steps(T)
    width = n_h if m.head == "given" else n_y
    targets = np.zeros((T + 2, width))
    classes = np.zeros(T + 2, dtype=int)
    if m.head == "softmax-ce":
        drawn = rng.integers(0, n_y, T)
        y = drawn if m.task == "many-to-many" else drawn[steps[0] - 1]
        for s in steps:
            classes[s] = drawn[s - 1]
            targets[s, drawn[s - 1]] = 1.0
    else:
        if m.head == "given":
            drawn = rng.normal(0.0, 1.0, (T, width))  # ∂L/∂h_t for every t
        else:
            drawn = rng.normal(0.0, 1.0, (len(steps), width))
        for k, s in enumerate(steps):
            targets[s] = drawn[s - 1] if m.head == "given" else drawn[k]
        y = drawn if m.task == "many-to-many" or m.head == "given" else drawn[0]
    h0 = rng.normal(0.0, 0.5, n_h)
    c0 = rng.normal(0.0, 0.5, n_h) if m.cell == "lstm" else None
    params = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    engine = Engine(m, params, x, h0, c0, targets[: T + 1])
    grads = reference_gradients(m, params, x, y, h0, c0)

    names = [k for k in engine.vals[1] if k != "lin_n"]
    series: dict[str, np.ndarray] = {}
    for name in names:
        out = np.zeros((T + 2, engine.size(name)))
        for t in range(0 if name in _STATES else 1, T + 1):
            out[t] = engine.vals[t][name]
        series[name] = out
    if m.head in ("softmax-ce", "mse"):
        series["y"] = targets
    adjoint: dict[str, np.ndarray] = {}
    for name in names:
        out = np.zeros((T + 2, engine.size(name)))
        for t in range(0 if name in _STATES else 1, T + 1):
            out[t] = engine.adjoint(name, t)
        adjoint[name] = out
    return Context(
        T=T,
        n_x=n_x,
        n_h=n_h,
        n_y=n_y,
        seed=seed,
        params=params,
        series=series,
        target=classes,
        adjoint=adjoint,
        grads={k: np.asarray(v, dtype=float) for k, v in grads.items()},
        model=m,
        engine=engine,
    )


# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Val:
    """A value: kind 'mat' (2-D array), 'scalar', or a size-free 'eye', 'ones', 'zero'
    whose size the other operand decides (data is then a scalar factor)."""

    kind: str
    data: object
    src: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape if self.kind == "mat" else (1, 1)


def _shape(v: Val) -> str:
    if v.kind == "mat":
        return f"{v.data.shape[0]}×{v.data.shape[1]}"
    return {"scalar": "a scalar", "eye": "I", "ones": "𝟏", "zero": "0"}[v.kind]


def _paren(src: str) -> str:
    src = src.strip()
    if not src:
        return "this term"
    if any(ch in src for ch in " +-") and not (src.startswith("(") and src.endswith(")")):
        return f"({src})"
    return src


def _mat(data: np.ndarray, src: str) -> Val:
    data = np.asarray(data, dtype=float)
    if data.ndim == 1:
        data = data[:, None]
    return Val("mat", data, src)


def _scalar(value: float, src: str = "") -> Val:
    return Val("scalar", float(value), src)


def _operand(v: Val) -> np.ndarray | None:
    if v.kind == "mat":
        return np.asarray(v.data)
    return np.full((1, 1), v.data) if v.kind == "scalar" else None  # I, 𝟏, 0: no size


def _failure(operation: str, a: Val, b: Val) -> dict:
    """The letter-free description of a shape failure (see `A.ShapeError`)."""
    return {
        "failure": (operation, _shape(a), _shape(b)),
        "operands": tuple(_operand(v) for v in (a, b)),
    }


def _concrete(v: Val, like: Val) -> Val:
    """Give a size-free value (I, 𝟏, 0) the size `like` needs for elementwise operations."""
    if v.kind in ("mat", "scalar"):
        return v
    if like.kind != "mat":
        return _scalar(0.0 if v.kind == "zero" else v.data, v.src)
    rows, cols = like.data.shape
    if v.kind == "zero":
        return _mat(np.zeros((rows, cols)), v.src)
    if v.kind == "ones":
        return _mat(np.full((rows, cols), v.data), v.src)
    if rows != cols:
        raise A.ShapeError(
            f"{_paren(v.src)} is an identity but {_paren(like.src)} is {_shape(like)}, not square"
        )
    return _mat(np.eye(rows) * v.data, v.src)


@dataclass
class Evaluator:
    ctx: Context
    definitions: tuple[A.Definition, ...] = ()
    base_env: dict[str, int] = field(default_factory=dict)
    # identities: a step past the end (h_{T+1}, ∂y_T/∂h_{T+1}) whose time depends on no sum
    # index does not exist (RangeError), instead of being the zero padding a gradient
    # formula's sum past the end may use
    strict_end: bool = False
    # the user's letter of each quantity (h -> s for WildML), for messages only
    words: dict[str, str] = field(default_factory=dict)
    work: int = 0
    _summing: list = field(default_factory=list)  # indices of the enclosing sums
    _memo: dict = field(default_factory=dict)
    _active: set = field(default_factory=set)

    # -- entry points --------------------------------------------------------------------
    def value(self, node: A.Node, env: dict[str, int]) -> Val:
        self.work += 1
        if self.work > MAX_WORK:
            raise A.FormulaError(
                "the formula takes too much work to evaluate (nested sums over large ranges?)"
            )
        method = getattr(self, "v_" + type(node).__name__)
        return method(node, env)

    def index(self, node: A.Node, env: dict[str, int]) -> int:
        """An index expression (t-1, T, k+1, y_t) as an integer."""
        self.work += 1
        if isinstance(node, A.Num):
            if node.value != int(node.value):
                raise A.FormulaError(f"index {node.src} is not a whole number")
            return int(node.value)
        if isinstance(node, A.Index):
            if node.name not in env:
                raise A.FormulaError(
                    f"index {node.name} is not bound: sum over it (\\sum_{node.name}) or use t"
                )
            return env[node.name]
        if isinstance(node, A.Length):
            return self.ctx.T
        if isinstance(node, A.Add):
            return self.index(node.left, env) + self.index(node.right, env)
        if isinstance(node, A.Sub):
            return self.index(node.left, env) - self.index(node.right, env)
        if isinstance(node, A.Neg):
            return -self.index(node.operand, env)
        if isinstance(node, A.Mul):
            return self.index(node.left, env) * self.index(node.right, env)
        if isinstance(node, A.Target):
            if self.ctx.model.head != "softmax-ce":
                raise A.FormulaError(
                    f"{node.src or 'y_t'}: with head={self.ctx.model.head} the target y_t is a "
                    "real vector, not a class number: 𝟙_{i=y_t} needs head=softmax-ce"
                )
            t = self.index(node.time, env)
            self._check_time("y", t, node)
            return int(self.ctx.target[t]) + 1  # classes are numbered from 1 like components
        raise A.FormulaError(f"{node.src or type(node).__name__} cannot be used as an index")

    # -- leaves --------------------------------------------------------------------------
    def v_Num(self, node: A.Num, env) -> Val:
        if node.value == 0:  # a zero takes whatever shape its context needs (δ_{T+1} = 0)
            return Val("zero", 0.0, node.src)
        return _scalar(node.value, node.src)

    def v_Index(self, node: A.Index, env) -> Val:
        return _scalar(self.index(node, env), node.src)

    def v_Length(self, node: A.Length, env) -> Val:
        return _scalar(self.ctx.T, node.src)

    def v_Target(self, node: A.Target, env) -> Val:
        return _scalar(self.index(node, env), node.src)

    def v_Identity(self, node, env) -> Val:
        return Val("eye", 1.0, node.src or "I")

    def v_Ones(self, node, env) -> Val:
        return Val("ones", 1.0, node.src or "1")

    def v_Param(self, node: A.Param, env) -> Val:
        return _mat(self.ctx.params[node.name], node.src or node.name)

    def _check_time(self, name: str, t: int, node: A.Node, time: A.Node | None = None) -> None:
        T = self.ctx.T
        first = 0 if name in _STATES else 1
        last = T if name in ("x", "y") else T + 1
        if self.strict_end and time is not None and not A.free_indices(time) & set(self._summing):
            last = T
        if not first <= t <= last:
            word = self.words.get(name) or _WORDS.get(name, name)
            raise A.RangeError(
                f"{node.src or word}: {word}_{{{t}}} does not exist; {word}_t is defined for "
                f"t = {first} … {T} (here T = {T})"
            )
        if name == "y" and t not in self.ctx.loss_steps:
            steps = self.ctx.loss_steps
            raise A.RangeError(
                f"{node.src or 'y'}: y_{{{t}}} does not exist: task={self.ctx.model.task_text} "
                f"has a target only at t = {', '.join(map(str, steps))} (here T = {T})"
            )

    def _component(self, v: Val, comp: tuple[A.Node, ...], env, node: A.Node) -> Val:
        if not comp:
            return v
        idx = [self.index(c, env) for c in comp]
        data = v.data
        if v.kind != "mat":
            raise A.FormulaError(f"{node.src}: cannot take a component of {_shape(v)}")
        if len(idx) == 1 and data.shape[1] == 1:
            idx = [idx[0], 1]
        if len(idx) != 2:
            raise A.FormulaError(f"{node.src}: a {_shape(v)} value needs two indices")
        for k, (i, n) in enumerate(zip(idx, data.shape, strict=True)):
            if not 1 <= i <= n:
                raise A.RangeError(
                    f"{node.src}: index {i} is out of range 1 … {n}"
                    + (" (rows)" if k == 0 and len(comp) > 1 else "")
                )
        return _scalar(data[idx[0] - 1, idx[1] - 1], node.src)

    def v_Quantity(self, node: A.Quantity, env) -> Val:
        t = self.index(node.time, env)
        self._check_time(node.name, t, node, node.time)
        v = _mat(self.ctx.series[node.name][t], node.src)
        return self._component(v, node.comp, env, node)

    def _adjoint(self, q: str, t: int, node) -> np.ndarray:
        self._check_time(q, t, node, node.time)
        return self.ctx.adjoint[q][t]

    def v_Grad(self, node: A.Grad, env) -> Val:
        t = self.index(node.time, env)
        if node.step is None:
            v = _mat(self._adjoint(node.quantity, t, node), node.src)
            return self._component(v, node.comp, env, node)
        s = self.index(node.step, env)
        self._check_time("o", s, node, node.step)
        self._check_time(node.quantity, t, node, node.time)
        data = self.ctx.step_gradient(node.quantity, t, s)
        return self._component(_mat(data, node.src), node.comp, env, node)

    def _jacobian(self, num: str, n: int, den: str, d: int) -> np.ndarray:
        """∂num_n/∂den_d of the model (numerator layout), zero where num_n does not
        depend on den_d; past the end (step T+1) the zero padding of a gradient formula."""
        if n > self.ctx.T or d > self.ctx.T:
            if num == den and n == d:
                return np.eye(self.ctx.size(num))
            return np.zeros((self.ctx.size(num), self.ctx.size(den)))
        self.work += 1
        return self.ctx.jacobian(num, n, den, d)

    def v_Jacobian(self, node: A.Jacobian, env) -> Val:
        n = self.index(node.num_time, env)
        d = self.index(node.den_time, env)
        self._check_time(node.num, n, node, node.num_time)
        self._check_time(node.den, d, node, node.den_time)
        v = _mat(self._jacobian(node.num, n, node.den, d), node.src)
        if len(node.comp) == 1 and v.data.shape[1] == 1:
            return self._component(v, node.comp, env, node)
        return self._component(v, node.comp, env, node) if node.comp else v

    def v_Kronecker(self, node: A.Kronecker, env) -> Val:
        return _scalar(self.index(node.i, env) == self.index(node.j, env), node.src)

    def v_Indicator(self, node: A.Indicator, env) -> Val:
        a, b = self.index(node.left, env), self.index(node.right, env)
        result = {
            "=": a == b,
            "!=": a != b,
            "<=": a <= b,
            ">=": a >= b,
            "<": a < b,
            ">": a > b,
        }[node.op]
        return _scalar(result, node.src)

    def v_Component(self, node: A.Component, env) -> Val:
        return self._component(self.value(node.operand, env), node.comp, env, node)

    # -- operators -----------------------------------------------------------------------
    def v_Add(self, node: A.Add, env) -> Val:
        return self.add(self.value(node.left, env), self.value(node.right, env), 1.0, node)

    def v_Sub(self, node: A.Sub, env) -> Val:
        return self.add(self.value(node.left, env), self.value(node.right, env), -1.0, node)

    def add(self, a: Val, b: Val, sign: float, node: A.Node) -> Val:
        src = node.src
        if b.kind == "zero":
            return Val(a.kind, a.data, src)
        if a.kind == "zero":
            return self.scale(b, sign, src)
        if a.kind == b.kind and a.kind in ("eye", "ones", "scalar"):
            return Val(a.kind, a.data + sign * b.data, src)
        a2, b2 = _concrete(a, b), _concrete(b, a)
        if a2.kind == "scalar" and b2.kind == "scalar":
            return _scalar(a2.data + sign * b2.data, src)
        if a2.kind == "mat" and b2.kind == "mat" and a2.data.shape != b2.data.shape:
            op = "+" if sign > 0 else "−"
            raise A.ShapeError(
                f"{_paren(a.src)} is {_shape(a)} and {_paren(b.src)} is {_shape(b)}: "
                f"the {'sum' if sign > 0 else 'difference'} ({op}) needs equal shapes",
                **_failure("sum", a2, b2),
            )
        return _mat(np.asarray(a2.data) + sign * np.asarray(b2.data), src)

    def scale(self, v: Val, factor: float, src: str) -> Val:
        if v.kind == "zero":
            return v
        if v.kind == "mat":
            return _mat(v.data * factor, src)
        return Val(v.kind, v.data * factor, src)

    def v_Neg(self, node: A.Neg, env) -> Val:
        return self.scale(self.value(node.operand, env), -1.0, node.src)

    def v_Mul(self, node: A.Mul, env) -> Val:
        return self.mul(self.value(node.left, env), self.value(node.right, env), node.src)

    def mul(self, a: Val, b: Val, src: str) -> Val:
        if a.kind == "zero" or b.kind == "zero":
            return Val("zero", 0.0, src)
        if a.kind == "scalar":
            return self.scale(b, a.data, src)
        if b.kind == "scalar":
            return self.scale(a, b.data, src)
        if a.kind == "eye":
            return self.scale(b, a.data, src)
        if b.kind == "eye":
            return self.scale(a, b.data, src)
        if b.kind == "ones":
            if a.kind == "ones":
                raise A.ShapeError(f"{src}: the product of two vectors of ones is not defined")
            b = _mat(np.full((a.data.shape[1], 1), b.data), b.src)
        if a.kind == "ones":
            if b.data.shape[0] != 1:
                raise A.ShapeError(
                    f"𝟏 is a column and {_paren(b.src)} is {_shape(b)}: the product needs "
                    f"1 = {b.data.shape[0]}",
                    **_failure("product", a, b),
                )
            a = _mat(np.ones((1, 1)) * a.data, a.src)
        (r1, c1), (r2, c2) = a.data.shape, b.data.shape
        if c1 != r2:
            hint = ""
            if c1 == 1 and c2 == 1 and r1 == r2:
                hint = " (for an elementwise product write \\odot or \\mathrm{diag}(…))"
            raise A.ShapeError(
                f"{_paren(a.src)} is {r1}×{c1} and {_paren(b.src)} is {r2}×{c2}: "
                f"the product needs {c1} = {r2}{hint or _layout_hint(r1, c1, r2, c2)}",
                **_failure("product", a, b),
            )
        out = a.data @ b.data
        if out.shape == (1, 1):
            return _scalar(out[0, 0], src)
        return _mat(out, src)

    def v_Either(self, node: A.Either, env) -> Val:
        try:
            return self.value(node.first, env)
        except A.ShapeError as first_error:
            try:
                return self.value(node.second, env)
            except A.ShapeError:
                raise first_error from None

    def v_Hadamard(self, node: A.Hadamard, env) -> Val:
        a, b = self.value(node.left, env), self.value(node.right, env)
        if a.kind == "zero" or b.kind == "zero":
            return Val("zero", 0.0, node.src)
        if a.kind == "scalar" or b.kind == "scalar":
            return self.mul(a, b, node.src)
        a2, b2 = _concrete(a, b), _concrete(b, a)
        if a2.kind != "mat" or b2.kind != "mat":
            raise A.ShapeError(
                f"{node.src}: cannot tell the size of {_paren(a.src)} ⊙ {_paren(b.src)}"
            )
        if a2.data.shape != b2.data.shape:
            raise A.ShapeError(
                f"{_paren(a.src)} is {_shape(a)} and {_paren(b.src)} is {_shape(b)}: "
                "the elementwise product ⊙ needs equal shapes",
                **_failure("elementwise product", a2, b2),
            )
        return _mat(a2.data * b2.data, node.src)

    def v_Div(self, node: A.Div, env) -> Val:
        a, b = self.value(node.left, env), self.value(node.right, env)
        if b.kind == "scalar":
            if b.data == 0:
                raise A.FormulaError(f"{node.src}: division by zero")
            return self.scale(a, 1.0 / b.data, node.src)
        if a.kind == "zero":
            return a
        a2 = _concrete(a, b)
        if b.kind != "mat" or a2.kind == "mat" and a2.data.shape != b.data.shape:
            raise A.ShapeError(
                f"{_paren(a.src)} is {_shape(a)} and {_paren(b.src)} is {_shape(b)}: "
                "a quotient needs a scalar below or equal shapes (elementwise)",
                **_failure("quotient", a, b),
            )
        with np.errstate(all="ignore"):
            return _mat(np.asarray(a2.data) / b.data, node.src)

    def v_Transpose(self, node: A.Transpose, env) -> Val:
        v = self.value(node.operand, env)
        if v.kind == "mat":
            return _mat(v.data.T, node.src)
        if v.kind == "ones":
            raise A.ShapeError(f"{node.src}: write the size of a row of ones as a sum instead")
        return Val(v.kind, v.data, node.src)

    def v_Square(self, node: A.Square, env) -> Val:
        v = self.value(node.operand, env)
        if v.kind == "mat" and min(v.data.shape) != 1:
            raise A.ShapeError(
                f"{_paren(node.operand.src)} is {_shape(v)}: ^2 is the elementwise square of a "
                "vector; for a matrix write the product or \\odot"
            )
        if v.kind == "mat":
            return _mat(v.data**2, node.src)
        # NumPy's square: a float's ** overflows with an OverflowError, NumPy's gives inf
        if v.kind == "eye":
            return Val("eye", float(np.float64(v.data) ** 2), node.src)
        if v.kind == "ones":
            return Val("ones", float(np.float64(v.data) ** 2), node.src)
        squared = float(np.float64(v.data) ** 2) if v.kind == "scalar" else v.data
        return Val(v.kind, squared, node.src)

    def v_Power(self, node: A.Power, env) -> Val:
        k = self.index(node.exponent, env)
        if k < 0:
            raise A.FormulaError(f"{node.src}: the power {k} is negative (a power is 0, 1, 2, …)")
        v = self.value(node.operand, env)
        if v.kind == "mat":
            rows, cols = v.data.shape
            if rows != cols:
                raise A.ShapeError(
                    f"{_paren(node.operand.src)} is {_shape(v)}: a power needs a square matrix"
                )
            self.work += k
            if self.work > MAX_WORK:
                raise A.FormulaError("the formula takes too much work to evaluate (a huge power?)")
            return _mat(np.linalg.matrix_power(v.data, k), node.src)
        # NumPy's power: a float's ** overflows with an OverflowError, NumPy's gives inf
        if v.kind == "scalar":
            return _scalar(np.float64(v.data) ** k, node.src)
        if v.kind == "eye":
            return Val("eye", float(np.float64(v.data) ** k), node.src)
        if v.kind == "zero":
            return Val("eye", 1.0, node.src) if k == 0 else v
        raise A.ShapeError(f"{node.src}: a power of a vector of ones is not defined")

    def v_Func(self, node: A.Func, env) -> Val:
        v = self.value(node.operand, env)
        name = node.name
        if name == "diag":
            if v.kind == "mat":
                rows, cols = v.data.shape
                if cols == 1:
                    return _mat(np.diag(v.data[:, 0]), node.src)
                if rows == 1:
                    return _mat(np.diag(v.data[0]), node.src)
                raise A.ShapeError(
                    f"{_paren(node.operand.src)} is {_shape(v)}: \\mathrm{{diag}} takes a vector"
                )
            if v.kind == "ones":
                return Val("eye", v.data, node.src)
            return v
        if v.kind in ("eye", "ones", "zero"):
            raise A.ShapeError(f"{node.src}: cannot tell the size of the argument of {name}")
        data = np.asarray(v.data, dtype=float)
        with np.errstate(all="ignore"):
            if name in _ACTIVATIONS:
                out = activation(name, data)
            elif name.startswith("d") and name[1:] in _ACTIVATIONS:
                out = activation_derivative(name[1:], data)
            elif name == "exp":
                out = np.exp(data)
            elif name == "log":
                out = np.log(data)
            elif name == "softmax":
                if v.kind != "mat" or v.data.shape[1] != 1:
                    raise A.ShapeError(
                        f"{node.src}: softmax takes a column vector, not {_shape(v)}"
                    )
                e = np.exp(data - data.max())
                out = e / e.sum()
            else:  # pragma: no cover - the parser only builds the names above
                raise A.FormulaError(f"unknown function {name}")
        if v.kind == "scalar":
            return _scalar(float(out), node.src)
        return _mat(out, node.src)

    # -- big operators -------------------------------------------------------------------
    def v_BigOp(self, node: A.BigOp, env) -> Val:
        lower, upper = self.bounds(node, env)
        if upper - lower > 1000:
            raise A.FormulaError(f"{node.src}: the range {lower} … {upper} is too long")
        indices = list(range(lower, upper + 1))
        if node.kind == "prod" and _is_state_jacobian(node.body) != node.reverse:
            # ∏_{m=k+1}^{t} ∂h_m/∂h_{m−1} is ∂h_t/∂h_k: latest time leftmost (chain rule)
            indices.reverse()
        acc: Val = Val(
            "zero" if node.kind == "sum" else "eye", 0.0 if node.kind == "sum" else 1.0, node.src
        )
        self._summing.append(node.var)
        try:
            for i in indices:
                inner = dict(env)
                inner[node.var] = i
                term = self.value(node.body, inner)
                if node.kind == "sum":
                    acc = self.add(acc, term, 1.0, node)
                else:
                    acc = self.mul(acc, term, node.src)
        finally:
            self._summing.pop()
        return acc

    def bounds(self, node: A.BigOp, env) -> tuple[int, int]:
        component = _component_size(node.var, node.body, self.ctx)
        lower = self.index(node.lower, env) if node.lower is not None else 1
        if node.upper is not None:
            upper = self.index(node.upper, env)
        elif component is not None:
            upper = component
        else:
            upper = self._entry_count(node.var, node.body, env) or self.ctx.T
        return lower, upper

    def _entry_count(self, var: str, body: A.Node, env) -> int | None:
        """Size of what `var` indexes in (expr)_var or δ_{t,var} when only the value tells:
        \\sum_j (y_t)_j runs over y_t's entries, not over the steps."""
        for found in A.walk(body):
            if not isinstance(found, A.Component) or isinstance(found.operand, A.Param):
                continue
            for position, c in enumerate(found.comp):
                if not (isinstance(c, A.Index) and c.name == var):
                    continue
                if var in A.free_indices(found.operand):
                    continue
                try:
                    value = self.value(found.operand, env)
                except A.FormulaError:
                    continue  # its own indices are bound deeper inside: not knowable here
                if value.kind == "mat":
                    shape = np.asarray(value.data).shape
                    if len(found.comp) == 1:
                        return shape[0] if shape[0] > 1 else shape[1]
                    return shape[position] if position < len(shape) else None
        return None

    # -- definitions ---------------------------------------------------------------------
    def v_DefRef(self, node: A.DefRef, env) -> Val:
        arg = None if node.arg is None else self.index(node.arg, env)
        key = (node.name, arg)
        if key in self._memo:
            return self._memo[key]
        candidates = [d for d in self.definitions if d.name == node.name]
        chosen = None
        for d in candidates:
            if (
                d.fixed is not None
                and arg is not None
                and self.index(d.fixed, self.base_env) == arg
            ):
                chosen = d
                break
        if chosen is None:
            for d in candidates:
                if d.fixed is None and (d.param is None) == (arg is None):
                    chosen = d
                    break
        if chosen is None:
            raise A.FormulaError(f"{node.src}: no definition covers this index ({arg})")
        if arg is not None and not -1 <= arg <= self.ctx.T + 2 or len(self._active) > 50:
            raise A.FormulaError(
                f"{node.src} recurses to index {arg} without reaching a base case: "
                "give one, as in \\delta_{T+1} = 0"
            )
        if key in self._active:
            raise A.FormulaError(f"the definition of {node.src} refers to itself at the same index")
        self._active.add(key)
        try:
            inner = dict(self.base_env)
            if chosen.param is not None:
                inner[chosen.param] = arg
            try:
                result = self.value(chosen.body, inner)
            except A.ShapeError:
                raise
            except A.FormulaError as error:
                past_end = arg is not None and not 1 <= arg <= self.ctx.T
                if chosen.fixed is None and past_end and not getattr(error, "base_case", False):
                    # δ_t = … + Wᵀ δ_{t+1} without δ_{T+1} = 0: say what is missing
                    hint = A.FormulaError(
                        f"{chosen.name}_{{{arg}}} is past the end of the sequence (T = "
                        f"{self.ctx.T}) and no base case gives it, so its general definition "
                        f"was used and failed ({error}): add one, as in "
                        f"{chosen.name}_{{T+1}} = 0"
                    )
                    hint.base_case = True
                    raise hint from None
                raise
        finally:
            self._active.discard(key)
        self._memo[key] = result
        return result


def _layout_hint(r1: int, c1: int, r2: int, c2: int) -> str:
    """A column vector times a matrix is the chain rule written with row vectors."""
    if c1 == 1 and r1 == r2 and c2 > 1:
        return (
            " (gradients are columns here, in denominator layout: the row-vector chain rule "
            "g J becomes Jᵀ g, as in (∂h_{t+1}/∂h_t)ᵀ ∇_{h_{t+1}}L)"
        )
    return ""


def _is_state_jacobian(body: A.Node) -> bool:
    return isinstance(body, A.Jacobian) and body.num == "h" and body.den == "h" and not body.comp


def _component_size(var: str, body: A.Node, ctx: Context) -> int | None:
    """If `var` indexes components somewhere in `body`, the size of those components."""
    for node in A.walk(body):
        if isinstance(node, A.BigOp) and node.var == var:
            continue
        comp = getattr(node, "comp", ())
        for position, c in enumerate(comp):
            if isinstance(c, A.Index) and c.name == var:
                if isinstance(node, A.Quantity):
                    return ctx.size(node.name)
                if isinstance(node, A.Grad):
                    return ctx.size(node.quantity)
                if isinstance(node, A.Jacobian):
                    which = node.num if position == 0 and len(comp) == 2 else node.den
                    return ctx.size(which)
                if isinstance(node, A.Component) and isinstance(node.operand, A.Param):
                    shape = ctx.params[node.operand.name].shape
                    return shape[position] if position < len(shape) else 1
    return None


free_indices = A.free_indices
