"""The vanilla RNN's variants (rnn_spec options): what each one changes in the gradients.

    a_t = U x_t + W h_{t-1} + b,  h_t = f(a_t),  o_t = V h_t + c

- activation=relu: f' = 1[a > 0]; ReLU has no derivative at a = 0 (the kink), where code
  (rnn_num, torch) takes 0.
- activation=identity, biases=none (d2l's model): no diag factor, so
  δh_t = Σ_{k≥t} (Wᵀ)^{k−t} Vᵀ ∇_{o_k}L, powers of Wᵀ.
- reduction=mean-time: L = (1/T) Σ_t L_t puts exactly 1/T in every ∇_{o_t}L, and so in
  every gradient.
- task=step=K: only L_K; ∇_{o_t}L = 0 for t ≠ K and δh_t = 0 for t > K, so every sum over
  t stops at K. (K = T is many-to-one: derivations/many_to_one.py.)
- head=mse: (1/2)‖o − y‖² has ∇_o = o − y; without the 1/2, ∇_o = 2(o − y).
- biases=torch: b_ih and b_hh both enter a_t with ∂a_t/∂b = I, so ∇b_ih = ∇b_hh.

Each derivation starts from SymPy's diff of the unrolled graph (derivations/_graph.py,
node values as symbols, T = 3, n_x = 1, n_h = 2, n_y = 2) and proves the textbook form; the
gradients are cross-checked against rnn_num.loss_and_grads(model=...) and against central
differences of an independent NumPy loss.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

import rnn_num
from derivations._bptt_numeric import fd_model_gradients, random_model_point
from derivations._graph import (
    Graph,
    Reverse,
    assign,
    col_sum,
    hadamard,
    matrix,
    model_text,
    numeric_for,
    reverse_mode,
    vector,
    worst_error,
)
from derivations._numeric import FD_TOLERANCE, RNN_NUM_TOLERANCE, relative_error, rng
from rnn_spec import Model, parse_model
from rnn_sym import Assumption, Derivation

T_DOC, N_X, N_H, N_Y = 3, 1, 2, 2
CHECK_SEEDS = (41, 42, 43)
INDUCTION_WHY = "expand; the adjoints of later nodes are the same symbols (induction hypothesis)"


@dataclass
class Rnn:
    """One unrolled Elman RNN for a model of rnn_spec, differentiated by SymPy."""

    text: str
    model: Model
    T: int
    n_x: int
    n_h: int
    n_y: int
    params: dict[str, sp.Matrix]  # blocks, then h0
    x: dict[int, sp.Matrix]
    y: dict[int, sp.Matrix]
    a: dict[int, sp.Matrix]
    h: dict[int, sp.Matrix]
    o: dict[int, sp.Matrix]
    dh: dict[int, sp.Matrix]
    go: dict[int, sp.Matrix]  # ∇_{o_t}L of the steps with a loss, as symbols
    graph: Graph
    kept: dict
    rm: Reverse

    def activation(self, a: sp.Expr) -> sp.Expr:
        f = self.model.activation
        return {"tanh": sp.tanh, "relu": lambda v: sp.Max(0, v), "identity": lambda v: v}[f](a)

    def slope(self, t: int) -> sp.Matrix:
        """f'(a_t) as the textbook writes it: 1 − h_t², 1[a_t > 0] (taken 0 at 0), or 1."""
        f = self.model.activation
        if f == "tanh":
            return self.h[t].applyfunc(lambda e: 1 - e**2)
        if f == "relu":
            return self.a[t].applyfunc(lambda e: sp.Heaviside(e, 0))
        return sp.ones(self.n_h, 1)


@functools.cache
def rnn(text: str, T: int = T_DOC) -> Rnn:
    model = parse_model(text)
    n_x, n_h, n_y = N_X, N_H, N_Y
    blocks = {b.name: b for b in model.blocks(n_x, n_h, n_y)}
    params: dict[str, sp.Matrix] = {}
    for name, block in blocks.items():
        base, _, side = name.partition("_")  # b_ih prints as b^{ih}_{i}
        label = f"{base}^{{{side}}}" if side else base
        params[name] = (
            matrix(label, *block.shape) if len(block.shape) == 2 else vector(label, block.shape[0])
        )
    params["h0"] = vector("h", n_h, 0)
    hidden = sp.zeros(n_h, 1)
    for name in ("b", "b_ih", "b_hh"):
        if name in params:
            hidden += params[name]
    x = {t: vector("x", n_x, t) for t in range(1, T + 1)}
    y = {t: vector("y", n_y, t) for t in range(1, T + 1)}
    h = {0: params["h0"]}
    a, o, dh, go = {}, {}, {}, {}
    graph = Graph()
    kept: dict = {}
    m = Rnn(text, model, T, n_x, n_h, n_y, params, x, y, a, h, o, dh, go, graph, kept, None)
    steps = model.loss_steps(T)
    for t in range(1, T + 1):
        pre = params["U"] * x[t] + params["W"] * h[t - 1] + hidden
        a[t] = graph.add(("a", t), vector("a", n_h, t), pre)
        h[t] = vector("h", n_h, t)
        if model.activation == "tanh":
            graph.tanh(("h", t), h[t], a[t])
        else:
            graph.add(("h", t), h[t], a[t].applyfunc(m.activation))
        dh[t] = kept[("h", t)] = vector(r"\delta h", n_h, t)
        if t in steps:
            out = params["V"] * h[t] + (params["c"] if model.output_bias else sp.zeros(n_y, 1))
            o[t] = graph.add(("o", t), vector("o", n_y, t), out)
            go[t] = vector(r"\nabla o", n_y, t)
    seeds = {s: e for t in go for s, e in zip(o[t], go[t], strict=True)}
    m.rm = reverse_mode(graph, seeds, kept, params)
    return m


def textbook_local(m: Rnn) -> dict:
    """δh_t = Wᵀ (f'(a_{t+1}) ⊙ δh_{t+1}) + Vᵀ ∇_{o_t}L (each term where it exists)."""
    out = {}
    for t in range(1, m.T + 1):
        g = sp.zeros(m.n_h, 1)
        if t < m.T:
            g += m.params["W"].T * hadamard(m.slope(t + 1), m.dh[t + 1])
        if t in m.go:
            g += m.params["V"].T * m.go[t]
        out[("h", t)] = g
    return out


def textbook_grads(m: Rnn) -> dict[str, sp.Matrix]:
    steps = range(1, m.T + 1)
    delta = {t: hadamard(m.slope(t), m.dh[t]) for t in steps}  # ∇_{a_t}L
    out = {
        "U": col_sum([delta[t] * m.x[t].T for t in steps], m.n_h, m.n_x),
        "W": col_sum([delta[t] * m.h[t - 1].T for t in steps], m.n_h, m.n_h),
        "V": col_sum([m.go[t] * m.h[t].T for t in m.go], m.n_y, m.n_h),
        "h0": m.params["W"].T * delta[1],
    }
    for name in ("b", "b_ih", "b_hh"):
        if name in m.params:
            out[name] = col_sum([delta[t] for t in steps], m.n_h)
    if "c" in m.params:
        out["c"] = col_sum([m.go[t] for t in m.go], m.n_y)
    return out


# --- numbers --------------------------------------------------------------------------------


def output_gradient(m: Rnn, t: int) -> sp.Matrix:
    """∇_{o_t}L at numbers: the head's per-step gradient, divided as the reduction says."""
    scale = sp.Integer(1) / m.model.loss_scale_denominator(m.T, 1)
    if m.model.head == "mse":
        factor = 1 if m.model.mse_scale == "half" else 2
        return (factor * scale) * (m.o[t] - m.y[t])
    exps = m.o[t].applyfunc(sp.exp)
    return scale * (exps / sp.Add(*exps) - m.y[t])


def _inputs(m: Rnn, params: dict, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> dict:
    vals: dict = {}
    for name, value in params.items():
        vals |= assign(m.params[name], value)
    vals |= assign(m.params["h0"], h0)
    for t in range(1, m.T + 1):
        vals |= assign(m.x[t], x[t - 1])
    rows = {t: y[t - 1] for t in m.go} if m.model.task == "many-to-many" else {t: y for t in m.go}
    for t, target in rows.items():
        vals |= assign(m.y[t], target if m.model.head == "mse" else np.eye(m.n_y)[int(target)])
    return vals


def outputs(m: Rnn) -> list[tuple[sp.Matrix, sp.Matrix]]:
    return [(m.go[t], output_gradient(m, t)) for t in m.go]


def gradient_check(text: str, expr: sp.Matrix, name: str, against: str) -> Callable[[], float]:
    def run() -> float:
        m = rnn(text)
        numeric = numeric_for(m, textbook_local, outputs)
        errors = []
        for seed in CHECK_SEEDS:
            params, x, y, h0, _ = random_model_point(m.model, seed, m.T, m.n_x, m.n_h, m.n_y)
            mine = numeric.evaluate(expr, _inputs(m, params, x, y, h0))
            if against == "rnn_num":
                expected = rnn_num.loss_and_grads(params, x, y, h0, model=m.model)[1][name]
            else:
                expected = fd_model_gradients(m.model, params, x, y, h0, None, (name,))[name]
            errors.append(relative_error(mine.reshape(np.shape(expected)), expected))
        return worst_error(errors)

    return run


def add_checks(d: Derivation, text: str, name: str) -> None:
    model = parse_model(text)
    d.cross_check(
        f"lambdified result vs rnn_num.loss_and_grads (model: {model_text(model)}) "
        f"({len(CHECK_SEEDS)} random points, h0 ≠ 0)",
        gradient_check(text, d.result, name, "rnn_num"),
        RNN_NUM_TOLERANCE,
    )
    d.cross_check(
        "lambdified result vs central differences of an independent NumPy loss",
        gradient_check(text, d.result, name, "fd"),
        FD_TOLERANCE,
    )


# --- ReLU ----------------------------------------------------------------------------------

RELU = "activation=relu,h0=shared"


def _off_the_kink(m: Rnn) -> Assumption:
    """a_{t,i} ≠ 0: there SymPy's Heaviside(a) (1/2 at 0) and 1[a > 0] agree."""
    return Assumption(
        "off the kink",
        r"a_{t,i} \neq 0 \text{ for every } t, i \text{ (ReLU has no derivative at 0; code takes "
        r"} f'(0) = 0\text{)}",
        {sp.Heaviside(e): sp.Heaviside(e, 0) for t in m.a for e in m.a[t]},
    )


def relu_hidden() -> Derivation:
    m = rnn(RELU)
    t = 2
    kink = _off_the_kink(m)
    d = Derivation(
        "variant-relu-hidden",
        r"ReLU: $\nabla_{h_t}L = W^\top \big(\mathbb{1}[a_{t+1} > 0] \odot \nabla_{h_{t+1}}L\big)"
        r" + V^\top \nabla_{o_t}L$",
        lhs=m.dh[t],
        start=m.rm.local[("h", t)],
        assumptions=[kink],
        intro=(
            "With h_t = max(0, a_t), SymPy's diff gives the Heaviside step θ(a): f'(a) = 1 for "
            "a > 0 and 0 for a < 0. At a = 0 ReLU has a kink and no derivative "
            "(derivation relu-at-zero): SymPy's θ(0) = 1/2 is a convention, rnn_num and torch "
            "take 0, i.e. f'(a) = 1[a > 0]. The two agree wherever a_t ≠ 0, which is the "
            "assumption (T = 3, t = 2). Since h > 0 exactly when a > 0, 1[a > 0] = 1[h > 0]: "
            "the backward pass may read the stored h_t."
        ),
        lhs_display=r"\nabla_{h_2}L",
        start_display=r"\Big[\sum_{u \in \{o_2, a_3\}} \sum_k \frac{\partial L}{\partial u_k} "
        r"\frac{\partial u_k}{\partial h_{2,j}}\Big]_j",
    )
    d.step(
        textbook_local(m)[("h", t)],
        INDUCTION_WHY + "; $\\theta(a) = \\mathbb{1}[a > 0]$ for $a \\neq 0$",
        uses=[kink],
        display=r"W^\top \big(\mathbb{1}[a_3 > 0] \odot \nabla_{h_3}L\big) + V^\top \nabla_{o_2}L",
    )
    return d


def relu_grad_w() -> Derivation:
    m = rnn(RELU)
    kink = _off_the_kink(m)
    d = Derivation(
        "variant-relu-grad-W",
        r"ReLU: $\nabla_W L = \sum_t \big(\mathbb{1}[a_t > 0] \odot \nabla_{h_t}L\big)\, "
        r"h_{t-1}^\top$",
        lhs=m.params["W"],
        start=m.rm.grads["W"],
        assumptions=[kink],
        intro="SymPy's diff of every a_t that reads W (T = 3); 1[a_t > 0] in place of 1 − h_t².",
        lhs_display=r"\nabla_W L",
        start_display=r"\Big[\sum_t \sum_k \frac{\partial L}{\partial a_{t,k}} "
        r"\frac{\partial a_{t,k}}{\partial W_{ij}}\Big]_{ij}",
    )
    d.step(
        textbook_grads(m)["W"],
        INDUCTION_WHY + "; $\\theta(a) = \\mathbb{1}[a > 0]$ for $a \\neq 0$",
        uses=[kink],
        display=r"\sum_{t=1}^{3} \big(\mathbb{1}[a_t > 0] \odot \nabla_{h_t}L\big)\, h_{t-1}^\top",
    )
    add_checks(d, RELU, "W")
    return d


# --- identity, no biases (d2l) --------------------------------------------------------------

IDENTITY = "activation=identity,biases=none,h0=shared"


def identity_grad_w() -> Derivation:
    m = rnn(IDENTITY)
    W, V = m.params["W"], m.params["V"]
    tb = textbook_grads(m)
    local = textbook_local(m)
    mapping: dict = {}
    for t in range(m.T, 0, -1):
        for s, e in zip(m.dh[t], local[("h", t)], strict=True):
            mapping[s] = sp.expand(e.xreplace(mapping))
    powers = {
        t: col_sum([(W.T) ** (k - t) * V.T * m.go[k] for k in range(t, m.T + 1)], m.n_h)
        for t in range(1, m.T + 1)
    }
    unrolled = col_sum([powers[t] * m.h[t - 1].T for t in range(1, m.T + 1)], m.n_h, m.n_h)
    d = Derivation(
        "variant-identity-grad-W",
        r"Identity activation, no biases (d2l): $\nabla_W L = \sum_t \sum_{k \ge t} "
        r"(W^\top)^{k-t} V^\top \nabla_{o_k}L\, h_{t-1}^\top$",
        lhs=W,
        start=m.rm.grads["W"],
        intro=(
            "d2l's model h_t = W h_{t−1} + U x_t, o_t = V h_t (no b, no c, f = identity): "
            "f' = 1, so the recursion is δh_t = Wᵀ δh_{t+1} + Vᵀ ∇_{o_t}L with no diagonal "
            "factor, and unrolled it is a sum of powers of Wᵀ: their eigenvalues alone decide "
            "whether long-range gradients vanish or explode (T = 3)."
        ),
        lhs_display=r"\nabla_W L",
        start_display=r"\Big[\sum_t \sum_k \frac{\partial L}{\partial a_{t,k}} "
        r"\frac{\partial a_{t,k}}{\partial W_{ij}}\Big]_{ij}",
    )
    d.step(tb["W"], INDUCTION_WHY, display=r"\sum_{t=1}^{3} \nabla_{h_t}L\, h_{t-1}^\top")
    d.step(
        unrolled,
        "unroll $\\nabla_{h_t}L = W^\\top \\nabla_{h_{t+1}}L + V^\\top \\nabla_{o_t}L$; expand",
        prover=lambda previous, current: (previous.xreplace(mapping) - current).applyfunc(
            sp.expand
        ),
        display=r"\sum_{t=1}^{3} \sum_{k=t}^{3} (W^\top)^{k-t}\, V^\top \nabla_{o_k}L\, "
        r"h_{t-1}^\top",
    )
    add_checks(d, IDENTITY, "W")
    return d


# --- the mean over time ---------------------------------------------------------------------

MEAN = "reduction=mean-time,h0=shared"


def mean_output_adjoint() -> Derivation:
    T, t, n_y = T_DOC, 2, N_Y
    o = {s: vector("o", n_y, s) for s in range(1, T + 1)}
    y = {s: vector("y", n_y, s) for s in range(1, T + 1)}

    def ce(s: int) -> sp.Expr:
        exps = o[s].applyfunc(sp.exp)
        return -sum((y[s][k] * sp.log(exps[k] / sp.Add(*exps)) for k in range(n_y)), sp.Integer(0))

    loss = sp.Rational(1, T) * sum((ce(s) for s in range(1, T + 1)), sp.Integer(0))
    exps = o[t].applyfunc(sp.exp)
    one_hot = Assumption(
        "one-hot targets",
        r"\sum_{k} y_{t,k} = 1",
        {y[s][-1]: 1 - sum(y[s][:-1], sp.Integer(0)) for s in y},
    )
    d = Derivation(
        "variant-mean-time-output-adjoint",
        r"The mean over time: $\nabla_{o_t}L = \frac{1}{T}(\hat{y}_t - y_t)$",
        lhs=o[t],
        start=o[t].applyfunc(lambda e: sp.diff(loss, e)),
        assumptions=[one_hot],
        intro=(
            "L = (1/T) Σ_t L_t (reduction=mean-time): SymPy's diff of the written-out mean in "
            "o_2 (T = 3, n_y = 2). Only L_2 reads o_2, and it carries the factor 1/T: the mean "
            "puts exactly 1/T into ∇_{o_t}L. Everything before o_t in the backward pass is "
            "linear in the ∇_{o_t}L, so the 1/T reaches every gradient unchanged (next "
            "derivation)."
        ),
        lhs_display=r"\nabla_{o_2}L",
        start_display=r"\frac{\partial}{\partial o_2} \frac{1}{3} \sum_{t=1}^{3} -\sum_k y_{t,k}"
        r" \log \softmax(o_t)_k",
    )
    d.step(
        sp.Rational(1, T) * (exps / sp.Add(*exps) - y[t]),
        "the targets are one-hot",
        uses=[one_hot],
        display=r"\frac{1}{3}\big(\softmax(o_2) - y_2\big) = \frac{1}{3}(\hat{y}_2 - y_2)",
    )

    def run() -> float:
        z = rng(5).normal(size=(T, n_y))
        labels = (0, 1, 1)

        def plain(v: np.ndarray) -> float:
            full = z.copy()
            full[t - 1] = v
            return float(
                np.mean([np.log(np.exp(r).sum()) - r[k] for r, k in zip(full, labels, strict=True)])
            )

        from derivations._numeric import central_gradient

        values = {e: float(z[s - 1][k]) for s in o for k, e in enumerate(o[s])}
        values |= {e: float(labels[s - 1] == k) for s in y for k, e in enumerate(y[s])}
        mine = np.array(d.result.xreplace(values).evalf().tolist(), dtype=float).ravel()
        return relative_error(mine, central_gradient(plain, z[t - 1]))

    d.cross_check(
        "lambdified result vs central differences of numpy's mean cross-entropy", run, FD_TOLERANCE
    )
    return d


def _inlined(m: Rnn, local: dict) -> dict:
    """δh_t -> its formula in `local`, with the later δh inlined (no hypothesis left)."""
    mapping: dict = {}
    for t in range(m.T, 0, -1):
        for s, e in zip(m.dh[t], local[("h", t)], strict=True):
            mapping[s] = sp.expand(e.xreplace(mapping))
    return mapping


def mean_grad_w() -> Derivation:
    m = rnn(MEAN)
    ell = {t: vector(r"\nabla \ell", m.n_y, t) for t in m.go}
    mean = Assumption(
        "the mean over time",
        r"\nabla_{o_t}L = \tfrac{1}{T} \nabla_{o_t}\ell_t \text{ (previous derivation; } "
        r"\nabla_{o_t}\ell_t = \hat{y}_t - y_t\text{)}",
        {s: e / m.T for t in m.go for s, e in zip(m.go[t], ell[t], strict=True)},
    )
    # the summed loss's own hidden adjoints ∇_{h_t}l, and its recursion (in ∇l_t), for the proof
    dl = {t: vector(r"\delta h^{\ell}", m.n_h, t) for t in range(1, m.T + 1)}
    rename = {s: e for t in m.go for s, e in zip(m.go[t], ell[t], strict=True)}
    rename |= {s: e for t in dl for s, e in zip(m.dh[t], dl[t], strict=True)}
    local = textbook_local(m)
    recursion: dict = {}
    for t in range(m.T, 0, -1):
        for s, e in zip(dl[t], local[("h", t)].xreplace(rename), strict=True):
            recursion[s] = sp.expand(e.xreplace(recursion))
    autodiff = m.rm.grads["W"].xreplace(_inlined(m, m.rm.local))
    summed = textbook_grads(m)["W"].xreplace(rename)
    d = Derivation(
        "variant-mean-time-grad-W",
        r"The mean over time: $\nabla_W L$ is $\frac{1}{T}$ times the gradient of the summed loss",
        lhs=m.params["W"],
        start=autodiff,
        assumptions=[mean],
        intro=(
            "The backward pass is linear in the output adjoints. SymPy's diff of the graph, "
            "with every ∇_{h_t}L inlined (no hypothesis), in the output adjoints ∇_{o_t}L; with "
            "∇_{o_t}L = (1/T) $\\nabla_{o_t}\\ell_t$ (previous derivation) it is 1/T times the textbook "
            "gradient of the summed loss $\\sum_t \\ell_t$ ($\\ell_t = L_t$), and likewise every other gradient (T = 3)."
        ),
        lhs_display=r"\nabla_W L",
        start_display=r"\Big[\sum_t \sum_k \frac{\partial L}{\partial a_{t,k}} "
        r"\frac{\partial a_{t,k}}{\partial W_{ij}}\Big]_{ij} \text{ (every adjoint inlined)}",
    )
    d.step(
        summed / m.T,
        "the mean's $\\frac{1}{T}$ in every output adjoint; the recursion is linear; expand",
        uses=[mean],
        prover=lambda previous, current: previous - current.xreplace(recursion),
        display=r"\frac{1}{3} \sum_{t=1}^{3} \diag(1 - h_t^2)\, \nabla_{h_t}\ell\, h_{t-1}^\top,"
        r"\quad \nabla_{h_t}\ell = W^\top \diag(1 - h_{t+1}^2) \nabla_{h_{t+1}}\ell + V^\top "
        r"\nabla_{o_t}\ell_t",
        note=(
            "$\\nabla_{h_t}\\ell$ is the hidden adjoint of the "
            "summed loss: the mean's gradient is the sum's, divided by $T$."
        ),
    )
    # numbers: the result is written in ∇l_t; the summed model's ∇_{o_t}L is exactly ∇l_t
    sum_model = rnn("h0=shared")
    back = {e: s for t in m.go for s, e in zip(sum_model.go[t], ell[t], strict=True)}
    back |= {e: s for t in dl for s, e in zip(sum_model.dh[t], dl[t], strict=True)}
    expr = d.result.xreplace(back)
    d.cross_check(
        f"lambdified result vs rnn_num.loss_and_grads (model: {model_text(m.model)}) "
        f"({len(CHECK_SEEDS)} random points)",
        _mean_check(expr, "rnn_num"),
        RNN_NUM_TOLERANCE,
    )
    d.cross_check(
        "lambdified result vs central differences of an independent NumPy loss (divided by T)",
        _mean_check(expr, "fd"),
        FD_TOLERANCE,
    )
    return d


def _mean_check(expr: sp.Matrix, against: str) -> Callable[[], float]:
    """`expr` is written in the summed model's symbols: evaluate it there, compare with the
    mean-time model's gradient."""

    def run() -> float:
        m, mean = rnn("h0=shared"), parse_model(MEAN)
        numeric = numeric_for(m, textbook_local, outputs)
        errors = []
        for seed in CHECK_SEEDS:
            params, x, y, h0, _ = random_model_point(mean, seed, m.T, m.n_x, m.n_h, m.n_y)
            mine = numeric.evaluate(expr, _inputs(m, params, x, y, h0))
            if against == "rnn_num":
                expected = rnn_num.loss_and_grads(params, x, y, h0, model=mean)[1]["W"]
            else:
                expected = fd_model_gradients(mean, params, x, y, h0, None, ("W",))["W"]
            errors.append(relative_error(mine, expected))
        return worst_error(errors)

    return run


# --- a loss at step K only -------------------------------------------------------------------

STEP = "task=step=2,h0=shared"


def step_k_grad_w() -> Derivation:
    m = rnn(STEP)
    K = m.model.step
    tb = textbook_grads(m)
    after = {
        s: e
        for t in range(K + 1, m.T + 1)
        for s, e in zip(m.dh[t], m.rm.local[("h", t)], strict=True)
    }
    no_loss_after = Assumption(
        "nothing after K reaches the loss (SymPy's diff of the graph gives 0 there)",
        rf"\nabla_{{h_t}}L = 0 \text{{ for }} t > K = {K}",
        after,
    )
    steps_k = range(1, K + 1)
    stopped = col_sum([hadamard(m.slope(t), m.dh[t]) * m.h[t - 1].T for t in steps_k], m.n_h, m.n_h)
    d = Derivation(
        "variant-step-K-grad-W",
        r"A loss at step $K$ only: $\nabla_W L = \sum_{t=1}^{K} \diag(1 - h_t^2)\, \nabla_{h_t}L"
        r"\, h_{t-1}^\top$",
        lhs=m.params["W"],
        start=m.rm.grads["W"],
        assumptions=[no_loss_after],
        intro=(
            f"task=step=K keeps L_K alone (T = 3, K = {K}): ∇_{{o_t}}L = 0 for t ≠ K, the "
            "steps after K reach no loss term, so δh_t = 0 for t > K (SymPy's diff finds "
            "exactly 0 there) and the sums over t stop at K. Between 1 and K every step still "
            "contributes, through ∂h_K/∂h_t. K = T is many-to-one "
            "(derivations many-to-one-*)."
        ),
        lhs_display=r"\nabla_W L",
        start_display=r"\Big[\sum_t \sum_k \frac{\partial L}{\partial a_{t,k}} "
        r"\frac{\partial a_{t,k}}{\partial W_{ij}}\Big]_{ij}",
    )
    d.step(
        tb["W"],
        INDUCTION_WHY,
        display=r"\sum_{t=1}^{3} \diag(1 - h_t^2)\, \nabla_{h_t}L\, h_{t-1}^\top",
    )
    d.step(
        stopped,
        "$\\nabla_{h_3}L = 0$: the sum stops at $K = 2$",
        uses=[no_loss_after],
        display=r"\sum_{t=1}^{2} \diag(1 - h_t^2)\, \nabla_{h_t}L\, h_{t-1}^\top",
        note="$\\nabla_{h_2}L = V^\\top \\nabla_{o_2}L$ here: $h_2$ feeds $a_3$, but nothing after it has a loss.",
    )
    add_checks(d, STEP, "W")
    return d


# --- MSE with and without 1/2 -----------------------------------------------------------------


def mse_output_adjoint(scale: str) -> Callable[[], Derivation]:
    def build() -> Derivation:
        n_y = N_Y
        o, y = vector("o", n_y), vector("y", n_y)
        factor = sp.Rational(1, 2) if scale == "half" else sp.Integer(1)
        loss = factor * sum(((o[k] - y[k]) ** 2 for k in range(n_y)), sp.Integer(0))
        result = (o - y) if scale == "half" else 2 * (o - y)
        d = Derivation(
            f"variant-mse-{scale}",
            (
                r"MSE with $\tfrac12$: $\nabla_o \tfrac12\|o - y\|^2 = o - y$"
                if scale == "half"
                else r"MSE without $\tfrac12$: $\nabla_o \|o - y\|^2 = 2(o - y)$"
            ),
            lhs=o,
            start=o.applyfunc(lambda e: sp.diff(loss, e)),
            intro=(
                "head=mse, mse_scale="
                + scale
                + ": SymPy's diff of the squared error in each logit (n_y = 2). The 1/2 exists "
                "only to cancel the 2 of the square; without it every gradient of the model "
                "is twice as large (the factor passes through the whole backward pass, as the "
                "1/T of a mean does)."
            ),
            lhs_display=r"\nabla_o \ell",
            start_display=(
                r"\frac{\partial}{\partial o} "
                + (r"\tfrac12 " if scale == "half" else "")
                + r"\sum_k (o_k - y_k)^2"
            ),
        )
        d.step(result, "power rule", display=r"o - y" if scale == "half" else r"2(o - y)")
        model = parse_model(f"head=mse,mse_scale={scale},h0=shared")
        d.cross_check(
            f"lambdified result vs rnn_num.loss_and_grads (model: {model_text(model)})['c'] at T = 1 "
            "(∇_c L = ∇_{o_1}L)",
            _mse_check(d.result, o, y, model, "rnn_num"),
            RNN_NUM_TOLERANCE,
        )
        d.cross_check(
            "lambdified result vs central differences of the NumPy loss in c at T = 1",
            _mse_check(d.result, o, y, model, "fd"),
            FD_TOLERANCE,
        )
        return d

    build.__name__ = f"mse_output_adjoint_{scale}"
    return build


def _mse_check(expr, o, y, model: Model, against: str) -> Callable[[], float]:
    def run() -> float:
        errors = []
        for seed in CHECK_SEEDS:
            params, x, target, h0, _ = random_model_point(model, seed, 1, N_X, N_H, N_Y)
            # the forward pass of one step, written out here: o_1 = V tanh(U x_1 + W h_0 + b) + c
            h1 = np.tanh(params["U"] @ x[0] + params["W"] @ h0 + params["b"])
            logits = params["V"] @ h1 + params["c"]
            values = assign(o, logits) | assign(y, target[0])
            mine = np.array(expr.xreplace(values).evalf().tolist(), dtype=float).ravel()
            if against == "rnn_num":
                expected = rnn_num.loss_and_grads(params, x, target, h0, model=model)[1]["c"]
            else:
                expected = fd_model_gradients(model, params, x, target, h0, None, ("c",))["c"]
            errors.append(relative_error(mine, expected))
        return worst_error(errors)

    return run


# --- torch's two biases ---------------------------------------------------------------------

TORCH = "biases=torch,h0=shared"


def torch_biases() -> Derivation:
    m = rnn(TORCH)
    tb = textbook_grads(m)
    d = Derivation(
        "variant-torch-biases",
        r"torch's two biases: $\nabla_{b_{hh}}L = \nabla_{b_{ih}}L = \sum_t \diag(1 - h_t^2)\,"
        r" \nabla_{h_t}L$",
        lhs=m.params["b_hh"],
        start=m.rm.grads["b_hh"],
        assumptions=[Assumption("torch's biases", r"a_t = U x_t + b_{ih} + W h_{t-1} + b_{hh}")],
        intro=(
            "torch.nn.RNN adds bias_ih and bias_hh to the same pre-activation; both have "
            "∂a_t/∂b = I, so SymPy's diff gives them the same gradient, that of the single b of "
            "the canonical model. Only b_ih + b_hh is identifiable (T = 3)."
        ),
        lhs_display=r"\nabla_{b_{hh}}L",
        start_display=r"\Big[\sum_t \sum_k \frac{\partial L}{\partial a_{t,k}} "
        r"\frac{\partial a_{t,k}}{\partial (b_{hh})_i}\Big]_i",
    )
    d.step(
        m.rm.grads["b_ih"],
        "expand: $\\partial a_t/\\partial b_{hh} = \\partial a_t/\\partial b_{ih} = I$",
        display=r"\nabla_{b_{ih}}L",
    )
    d.step(tb["b_hh"], INDUCTION_WHY, display=r"\sum_{t=1}^{3} \diag(1 - h_t^2)\, \nabla_{h_t}L")
    add_checks(d, TORCH, "b_hh")
    d.cross_check(
        "the same result vs rnn_num's gradient of b_ih",
        gradient_check(TORCH, d.result, "b_ih", "rnn_num"),
        RNN_NUM_TOLERANCE,
    )
    return d


DERIVATIONS: list[Callable[[], Derivation]] = [
    relu_hidden,
    relu_grad_w,
    identity_grad_w,
    mean_output_adjoint,
    mean_grad_w,
    step_k_grad_w,
    mse_output_adjoint("half"),
    mse_output_adjoint("one"),
    torch_biases,
]
