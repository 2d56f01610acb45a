"""The LSTM's backpropagation through time, gate by gate (torch.nn.LSTM's equations).

    z^q_t = U_q x_t + W_q h_{t-1} + b_q   (q = i, f, g, o; torch: b_q = b_iq + b_hq)
    i, f, o = σ(z^i), σ(z^f), σ(z^o),  g = tanh(z^g)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t,     h_t = o_t ⊙ tanh(c_t)

The loss reaches h_t through γ_t = ∂L/∂h_t (the part that does not go through h_{t+1}: for
a softmax head γ_t = Vᵀ(ŷ_t − y_t), whose output-layer gradients are those of the canonical
model), i.e. the model `cell=lstm,head=given`. The unrolled graph (T = 3, n_x = 1,
n_h = 2) keeps every node value a symbol; SymPy differentiates each node's definition,
last node first (derivations/_graph.py), and each derivation proves that result equal to
the textbook formula, written down independently. δh_t, δc_t and δz^q_t = ∇_{z^q_t}L
are the adjoints of later nodes, the same symbols on both sides (backward induction). A
last derivation differentiates the fully written-out loss (T = 2) without any hypothesis.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

import rnn_num
from derivations._bptt_numeric import fd_model_gradients, random_model_point
from derivations._graph import (
    Graph,
    Reverse,
    col_sum,
    columns,
    hadamard,
    inline_adjoints,
    matrix,
    model_text,
    one_minus,
    reverse_mode,
    sigmoid,
    sigmoid_facts,
    stack,
    vector,
)
from derivations._graph import (
    stacked_check as _stacked_check,
)
from derivations._numeric import FD_TOLERANCE, RNN_NUM_TOLERANCE
from rnn_spec import Model, parse_model
from rnn_sym import Assumption, Derivation

GATES = ("i", "f", "g", "o")
T_DOC, N_X, N_H = 3, 1, 2
CHECK_SEEDS = (21, 22, 23)
MODEL = "cell=lstm,head=given,h0=shared"
TORCH_MODEL = MODEL + ",biases=torch"


@dataclass
class Lstm:
    """The symbols and the differentiated graph of one unrolled LSTM."""

    T: int
    n_x: int
    n_h: int
    model: Model
    U: dict[str, sp.Matrix]
    W: dict[str, sp.Matrix]
    b: dict[str, sp.Matrix]  # blocks keyed by their rnn_spec names (b_i, or b_ii and b_hi)
    x: dict[int, sp.Matrix]
    gamma: dict[int, sp.Matrix]
    z: dict[tuple[str, int], sp.Matrix]
    gate: dict[tuple[str, int], sp.Matrix]
    c: dict[int, sp.Matrix]  # c[0] is c_0
    h: dict[int, sp.Matrix]  # h[0] is h_0
    dh: dict[int, sp.Matrix]
    dc: dict[int, sp.Matrix]
    dz: dict[tuple[str, int], sp.Matrix]
    graph: Graph
    kept: dict
    params: dict[str, sp.Matrix]
    rm: Reverse


@functools.cache
def lstm(T: int = T_DOC, n_x: int = N_X, n_h: int = N_H, *, torch_biases: bool = False) -> Lstm:
    model = parse_model(TORCH_MODEL if torch_biases else MODEL)
    U = {q: matrix(f"U^{{{q}}}", n_h, n_x) for q in GATES}
    W = {q: matrix(f"W^{{{q}}}", n_h, n_h) for q in GATES}
    if torch_biases:
        b = {f"b_{s}{q}": vector(f"b^{{{s}{q}}}", n_h) for q in GATES for s in "ih"}
    else:
        b = {f"b_{q}": vector(f"b^{{{q}}}", n_h) for q in GATES}

    def bias(q: str) -> sp.Matrix:
        return b[f"b_i{q}"] + b[f"b_h{q}"] if torch_biases else b[f"b_{q}"]

    x = {t: vector("x", n_x, t) for t in range(1, T + 1)}
    gamma = {t: vector(r"\gamma", n_h, t) for t in range(1, T + 1)}
    h = {t: vector("h", n_h, t) for t in range(0, T + 1)}
    c = {t: vector("c", n_h, t) for t in range(0, T + 1)}
    z, gate, dz = {}, {}, {}
    dh = {t: vector(r"\delta h", n_h, t) for t in range(1, T + 1)}
    dc = {t: vector(r"\delta c", n_h, t) for t in range(1, T + 1)}
    graph = Graph()
    kept: dict = {}
    for t in range(1, T + 1):
        for q in GATES:
            z[q, t] = graph.add(
                ("z", q, t), vector(f"z^{{{q}}}", n_h, t), U[q] * x[t] + W[q] * h[t - 1] + bias(q)
            )
            dz[q, t] = kept[("z", q, t)] = vector(rf"\delta z^{{{q}}}", n_h, t)
        for q in GATES:
            add = graph.tanh if q == "g" else graph.sigmoid
            gate[q, t] = add((q, t), vector(q, n_h, t), z[q, t])
        i, f, g, o = (gate[q, t] for q in GATES)
        graph.add(("c", t), c[t], hadamard(f, c[t - 1]) + hadamard(i, g))
        graph.add(("h", t), h[t], hadamard(o, c[t].applyfunc(sp.tanh)))
        kept[("c", t)], kept[("h", t)] = dc[t], dh[t]
    params = ({f"U_{q}": U[q] for q in GATES} | {f"W_{q}": W[q] for q in GATES} | b) | {
        "h0": h[0],
        "c0": c[0],
    }
    seeds = {s: e for t in gamma for s, e in zip(h[t], gamma[t], strict=True)}
    rm = reverse_mode(graph, seeds, kept, params)
    return Lstm(
        T, n_x, n_h, model, U, W, b, x, gamma, z, gate, c, h, dh, dc, dz, graph, kept, params, rm
    )


# --- the textbook formulas, written down independently of diff ------------------------------


def tanh_c(m: Lstm, t: int) -> sp.Matrix:
    return m.c[t].applyfunc(sp.tanh)


def textbook_local(m: Lstm) -> dict:
    """The adjoint of every kept node, in the later kept symbols (the BPTT recursion)."""
    out: dict = {}
    for t in range(1, m.T + 1):
        i, f, g, o = (m.gate[q, t] for q in GATES)
        carry = hadamard(m.gate["f", t + 1], m.dc[t + 1]) if t < m.T else sp.zeros(m.n_h, 1)
        out[("c", t)] = hadamard(m.dh[t], o, one_minus(tanh_c(m, t).applyfunc(lambda e: e**2)))
        out[("c", t)] += carry
        out[("z", "i", t)] = hadamard(m.dc[t], g, i, one_minus(i))
        out[("z", "f", t)] = hadamard(m.dc[t], m.c[t - 1], f, one_minus(f))
        out[("z", "g", t)] = hadamard(m.dc[t], i, one_minus(g.applyfunc(lambda e: e**2)))
        out[("z", "o", t)] = hadamard(m.dh[t], tanh_c(m, t), o, one_minus(o))
        out[("h", t)] = m.gamma[t] + (
            col_sum([m.W[q].T * m.dz[q, t + 1] for q in GATES], m.n_h)
            if t < m.T
            else sp.zeros(m.n_h, 1)
        )
    return out


def textbook_grads(m: Lstm) -> dict[str, sp.Matrix]:
    steps = range(1, m.T + 1)
    out: dict[str, sp.Matrix] = {}
    for q in GATES:
        out[f"U_{q}"] = col_sum([m.dz[q, t] * m.x[t].T for t in steps], m.n_h, m.n_x)
        out[f"W_{q}"] = col_sum([m.dz[q, t] * m.h[t - 1].T for t in steps], m.n_h, m.n_h)
        total = col_sum([m.dz[q, t] for t in steps], m.n_h)
        for name in m.b:
            if name[-1] == q:
                out[name] = total  # torch: ∇b_iq = ∇b_hq, the same sum
    out["h0"] = col_sum([m.W[q].T * m.dz[q, 1] for q in GATES], m.n_h)
    out["c0"] = hadamard(m.gate["f", 1], m.dc[1])
    return out


# --- numbers --------------------------------------------------------------------------------


def stacked_check(
    build: Callable[[], Lstm], expr: sp.Matrix, names: tuple[str, ...], against: str
) -> Callable[[], float]:
    """Largest relative error of `expr` (the blocks `names` stacked vertically) at CHECK_SEEDS,
    against rnn_num.loss_and_grads(model=...) or central differences of an independent loss."""
    return _stacked_check(
        build,
        textbook_local,
        expr,
        names,
        against,
        CHECK_SEEDS,
        rnn_num.loss_and_grads,
        fd_model_gradients,
        random_model_point,
    )


def add_checks(d: Derivation, build: Callable[[], Lstm], names: tuple[str, ...]) -> None:
    model = build().model
    d.cross_check(
        f"lambdified result vs rnn_num.loss_and_grads (model: {model_text(model)}) "
        f"({len(CHECK_SEEDS)} random points, h0, c0 ≠ 0)",
        stacked_check(build, d.result, names, "rnn_num"),
        RNN_NUM_TOLERANCE,
    )
    d.cross_check(
        "lambdified result vs central differences of an independent NumPy loss",
        stacked_check(build, d.result, names, "fd"),
        FD_TOLERANCE,
    )


INDUCTION_WHY = "expand; the adjoints of later nodes are the same symbols (induction hypothesis)"
GATES_LATEX = r"z^q_t = U_q x_t + W_q h_{t-1} + b_q,\ i, f, o = \sigma(z^{i,f,o}),\ g = \tanh z^g"
MODEL_ASSUMPTION = Assumption(
    "torch's LSTM",
    GATES_LATEX + r",\ c_t = f_t \odot c_{t-1} + i_t \odot g_t,\ h_t = o_t \odot \tanh c_t",
)


# --- the derivations --------------------------------------------------------------------------


def sigma_on_the_value() -> Derivation:
    """∇_{z^o_t}L: σ'(z) = σ(z)(1 − σ(z)) written on the gate value o_t, not on z^o_t."""
    m = lstm()
    t = 2
    o, z = m.gate["o", t], m.z["o", t]
    h_def = m.graph.node(("h", t)).definition
    o_def = m.graph.node(("o", t)).definition
    # SymPy's diff of h_t = o_t ⊙ tanh(c_t) in o_t and of o_t = 1/(1 + e^{-z}) in z, raw
    start = sp.Matrix(
        [m.dh[t][k] * sp.diff(h_def[k], o[k]) * sp.diff(o_def[k], z[k]) for k in range(m.n_h)]
    )
    facts = Assumption(
        "forward pass",
        r"o_{2} = \sigma(z^{o}_{2}) = 1/(1 + e^{-z^{o}_{2}}),\ \text{so } e^{-z^{o}_{2,k}} = "
        r"(1 - o_{2,k})/o_{2,k}",
        {sp.exp(-z[k]): (1 - o[k]) / o[k] for k in range(m.n_h)},
    )
    d = Derivation(
        "lstm-sigma-on-the-gate-value",
        r"LSTM: $\sigma'$ is written on the gate value, $\nabla_{z^o_t}L = \delta h_t \odot "
        r"\tanh c_t \odot o_t \odot (1 - o_t)$",
        lhs=m.dz["o", t],
        start=start,
        assumptions=[MODEL_ASSUMPTION, facts],
        intro=(
            "SymPy differentiates h_2 = o_2 ⊙ tanh(c_2) in o_2 and o_2 = 1/(1 + e^{−z}) in its "
            "pre-activation z = z^o_2, and gets e^{−z}/(1 + e^{−z})². The forward pass fixes "
            "e^{−z} = (1 − o)/o, so the derivative is o(1 − o): σ' = σ(1 − σ) evaluated at "
            "the pre-activation, i.e. written on the gate VALUE o_2 the forward pass stored. "
            "The common mistake writes σ'(a) = a(1 − a) with the pre-activation a = z^o_2 "
            "where the value belongs; SymPy rejects it (tests/test_derivations_lstm.py)."
        ),
        lhs_display=r"\nabla_{z^o_2}L",
        start_display=r"\delta h_2 \odot \frac{\partial h_2}{\partial o_2} \odot "
        r"\frac{d}{dz}\frac{1}{1+e^{-z}}\Big|_{z = z^o_2} = \delta h_2 \odot \tanh c_2 \odot "
        r"\frac{e^{-z^o_2}}{(1 + e^{-z^o_2})^2}",
    )
    d.step(
        hadamard(m.dh[t], tanh_c(m, t), o, one_minus(o)),
        "forward pass: $e^{-z} = (1 - o)/o$",
        uses=[facts],
        display=r"\delta h_2 \odot \tanh c_2 \odot o_2 \odot (1 - o_2)",
        note=(
            "The same holds for i and f: $\\sigma'(z^q_t) = q_t \\odot (1 - q_t)$, and for the "
            "candidate $g = \\tanh z^g$: $\\tanh'(z^g_t) = 1 - g_t^2$."
        ),
    )
    return d


def cell_adjoint() -> Derivation:
    m = lstm()
    t = 2
    d = Derivation(
        "lstm-cell-adjoint",
        r"LSTM: the cell-state recursion $\delta c_t = \delta h_t \odot o_t \odot (1 - \tanh^2 c_t)"
        r" + f_{t+1} \odot \delta c_{t+1}$",
        lhs=m.dc[t],
        start=m.rm.local[("c", t)],
        assumptions=[MODEL_ASSUMPTION],
        intro=(
            "c_2 has two consumers: h_2 = o_2 ⊙ tanh(c_2), and the next cell state "
            "c_3 = f_3 ⊙ c_2 + i_3 ⊙ g_3. The reverse-mode sum over both, computed by SymPy's "
            "diff (T = 3, t = 2). The second term is the cell-state path: c_2 enters c_3 "
            "additively, scaled only by the forget gate (∂c_3/∂c_2 = diag(f_3)), with no "
            "weight matrix and no squashing derivative: the 'constant error carousel' along "
            "which the LSTM carries gradient over many steps. Treating c_t as feeding only h_t "
            "drops it, and SymPy rejects that (tests/test_derivations_lstm.py). At t = T there "
            "is no c_{T+1}, and δc_T = δh_T ⊙ o_T ⊙ (1 − tanh² c_T)."
        ),
        lhs_display=r"\delta c_2 = \nabla_{c_2}L",
        start_display=r"\Big[\sum_{u \in \{h_2, c_3\}} \sum_k \frac{\partial L}{\partial u_k}"
        r" \frac{\partial u_k}{\partial c_{2,j}}\Big]_j",
    )
    d.step(
        textbook_local(m)[("c", t)],
        INDUCTION_WHY,
        display=r"\delta h_2 \odot o_2 \odot (1 - \tanh^2 c_2) + f_3 \odot \delta c_3",
        note=(
            "$\\tanh^2 c_t$ is the square of the tanh of the cell state, a separate quantity "
            "from $h_t$: $1 - \\tanh^2 c_t \\neq 1 - h_t^2$ (that would be the Elman cell) and "
            "$\\neq 1 - c_t^2$."
        ),
    )
    return d


def gate_adjoints() -> Derivation:
    m = lstm()
    t = 2
    d = Derivation(
        "lstm-gate-adjoints",
        r"LSTM: the four gate pre-activation adjoints $\delta z^i_t, \delta z^f_t, \delta z^g_t,"
        r" \delta z^o_t$",
        lhs=columns([m.dz[q, t] for q in GATES]),
        start=columns([m.rm.local[("z", q, t)] for q in GATES]),
        assumptions=[MODEL_ASSUMPTION],
        intro=(
            "One column per gate (i, f, g, o), each SymPy's diff through its gate into c_2 "
            "(i, f, g) or h_2 (o), with σ' = q(1 − q) and tanh' = 1 − g² on the values "
            "(T = 3, t = 2, n_h = 2)."
        ),
        lhs_display=r"\big[\delta z^i_2\ \ \delta z^f_2\ \ \delta z^g_2\ \ \delta z^o_2\big]",
        start_display=r"\Big[\sum_k \frac{\partial L}{\partial u_k}\frac{\partial u_k}"
        r"{\partial q_{2,j}} \frac{d q_{2,j}}{d z^q_{2,j}}\Big]_{j,\,q \in (i,f,g,o)} \\ "
        r"u = c_2 \text{ for } q = i, f, g;\ u = h_2 \text{ for } q = o",
    )
    tb = textbook_local(m)
    d.step(
        columns([tb[("z", q, t)] for q in GATES]),
        INDUCTION_WHY,
        display=r"\big[\delta c_2 \odot g_2 \odot i_2 \odot (1-i_2),\ \ "
        r"\delta c_2 \odot c_1 \odot f_2 \odot (1-f_2), \\ "
        r"\delta c_2 \odot i_2 \odot (1-g_2^2),\ \ "
        r"\delta h_2 \odot \tanh c_2 \odot o_2 \odot (1-o_2)\big]",
        note=(
            "Each gate multiplies what the other factor of its product was: $i$ gets $g$, $g$ "
            "gets $i$, $f$ gets $c_{t-1}$, $o$ gets $\\tanh c_t$. Exchanging two of them (e.g. "
            "the columns of $i$ and $g$) is rejected."
        ),
    )
    return d


def hidden_adjoint() -> Derivation:
    m = lstm()
    t = 2
    d = Derivation(
        "lstm-hidden-adjoint",
        r"LSTM: $\delta h_t = \gamma_t + \sum_{q} W_q^\top \delta z^q_{t+1}$",
        lhs=m.dh[t],
        start=m.rm.local[("h", t)],
        assumptions=[MODEL_ASSUMPTION],
        intro=(
            "h_2 feeds the loss directly (γ_2 = ∂L/∂h_2 through the head, e.g. Vᵀ(ŷ_2 − y_2)) "
            "and the four pre-activations z^q_3 = U_q x_3 + W_q h_2 + b_q of the next step; "
            "it does not feed c_3 directly (T = 3, t = 2). For t = T: δh_T = γ_T."
        ),
        lhs_display=r"\delta h_2 = \nabla_{h_2}L",
        start_display=r"\gamma_2 + \Big[\sum_{q} \sum_k \frac{\partial L}{\partial z^q_{3,k}}"
        r" \frac{\partial z^q_{3,k}}{\partial h_{2,j}}\Big]_j",
    )
    d.step(
        textbook_local(m)[("h", t)],
        INDUCTION_WHY,
        display=r"\gamma_2 + W_i^\top \delta z^i_3 + W_f^\top \delta z^f_3 + W_g^\top \delta z^g_3"
        r" + W_o^\top \delta z^o_3",
    )
    return d


_FAMILY = {
    "U": r"\sum_{t=1}^{3} \delta z^q_t\, x_t^\top",
    "W": r"\sum_{t=1}^{3} \delta z^q_t\, h_{t-1}^\top",
    "b": r"\sum_{t=1}^{3} \delta z^q_t",
}


def parameter_gradients(family: str) -> Callable[[], Derivation]:
    def build() -> Derivation:
        m = lstm()
        names = tuple(f"{family}_{q}" for q in GATES)
        d = Derivation(
            f"lstm-grad-{family}",
            rf"LSTM: the gradients $\nabla_{{{family}_q}}L$ of the four gates",
            lhs=stack([m.params[n] for n in names]),
            start=stack([m.rm.grads[n] for n in names]),
            assumptions=[MODEL_ASSUMPTION],
            intro=(
                f"SymPy's diff of every pre-activation z^q_t that reads {family}_q, summed over "
                "t (T = 3, n_x = 1, n_h = 2). The four blocks are stacked in torch's order "
                "i, f, g, o (as in weight_ih_l0 / weight_hh_l0 / bias)."
            ),
            lhs_display=r"\begin{pmatrix}"
            + r"\\".join(rf"\nabla_{{{family}_{q}}}L" for q in GATES)
            + r"\end{pmatrix}",
            start_display=r"\Big[\sum_t \sum_k \frac{\partial L}{\partial z^q_{t,k}} "
            rf"\frac{{\partial z^q_{{t,k}}}}{{\partial ({family}_q)_{{\cdot}}}}\Big]_{{q \in (i,f,g,o)}}",
        )
        tb = textbook_grads(m)
        d.step(
            stack([tb[n] for n in names]),
            INDUCTION_WHY,
            display=rf"\Big[{_FAMILY[family]}\Big]_{{q \in (i,f,g,o)}}",
        )
        add_checks(d, lstm, names)
        return d

    build.__name__ = f"grad_{family}"
    return build


def initial_states() -> Derivation:
    m = lstm()
    d = Derivation(
        "lstm-grad-initial-states",
        r"LSTM: $\nabla_{h_0}L = \sum_q W_q^\top \delta z^q_1$ and $\nabla_{c_0}L = f_1 \odot "
        r"\delta c_1$",
        lhs=stack([m.h[0], m.c[0]]),
        start=stack([m.rm.grads["h0"], m.rm.grads["c0"]]),
        assumptions=[MODEL_ASSUMPTION],
        intro=(
            "h_0 feeds the four pre-activations of step 1; c_0 feeds only c_1 = f_1 ⊙ c_0 + "
            "i_1 ⊙ g_1, so its gradient is the cell-state path of step 1 (T = 3)."
        ),
        lhs_display=r"\begin{pmatrix} \nabla_{h_0}L \\ \nabla_{c_0}L \end{pmatrix}",
        start_display=r"\begin{pmatrix} \big[\sum_q \sum_k \frac{\partial L}{\partial z^q_{1,k}}"
        r" \frac{\partial z^q_{1,k}}{\partial h_{0,j}}\big]_j \\ \big[\sum_k \frac{\partial L}"
        r"{\partial c_{1,k}} \frac{\partial c_{1,k}}{\partial c_{0,j}}\big]_j \end{pmatrix}",
    )
    tb = textbook_grads(m)
    d.step(
        stack([tb["h0"], tb["c0"]]),
        INDUCTION_WHY,
        display=r"\begin{pmatrix} \sum_q W_q^\top \delta z^q_1 \\ f_1 \odot \delta c_1 "
        r"\end{pmatrix}",
    )
    add_checks(d, lstm, ("h0", "c0"))
    return d


def torch_biases() -> Derivation:
    def build() -> Lstm:
        return lstm(torch_biases=True)

    m = build()
    hh = tuple(f"b_h{q}" for q in GATES)
    ih = tuple(f"b_i{q}" for q in GATES)
    d = Derivation(
        "lstm-torch-biases",
        r"LSTM with torch's two biases: $\nabla_{b_{hq}}L = \nabla_{b_{iq}}L = \sum_t "
        r"\delta z^q_t$",
        lhs=stack([m.params[n] for n in hh]),
        start=stack([m.rm.grads[n] for n in hh]),
        assumptions=[
            Assumption(
                "torch's biases",
                r"z^q_t = U_q x_t + b_{iq} + W_q h_{t-1} + b_{hq}",
            )
        ],
        intro=(
            "torch.nn.LSTM adds two biases to each pre-activation (bias_ih and bias_hh). Both "
            "enter z^q_t with ∂z^q_t/∂b = I, so SymPy's diff gives each the same gradient: "
            "only their sum matters to the loss (T = 3)."
        ),
        lhs_display=r"\big[\nabla_{b_{hq}}L\big]_{q \in (i,f,g,o)}",
        start_display=r"\Big[\sum_t \sum_k \frac{\partial L}{\partial z^q_{t,k}} "
        r"\frac{\partial z^q_{t,k}}{\partial (b_{hq})_{\cdot}}\Big]_{q}",
    )
    d.step(
        stack([m.rm.grads[n] for n in ih]),
        "expand: $\\partial z^q_t / \\partial b_{hq} = \\partial z^q_t / \\partial b_{iq} = I$",
        display=r"\big[\nabla_{b_{iq}}L\big]_{q \in (i,f,g,o)}",
    )
    tb = textbook_grads(m)
    d.step(
        stack([tb[n] for n in hh]),
        INDUCTION_WHY,
        display=r"\Big[\sum_{t=1}^{3} \delta z^q_t\Big]_q",
    )
    add_checks(d, build, hh)
    return d


# --- the fully written-out loss, T = 2, n_h = 1: no induction hypothesis -----------------------

T_EXPANDED = 2


def _canonical(m: Lstm) -> Callable[[sp.Expr], sp.Expr]:
    """Put every quantity in one set of independent atoms: the gate values, τ_t = tanh(c_t),
    c_0, h_0, parameters, x and γ. h_t -> o_t τ_t, c_t -> f_t c_{t-1} + i_t g_t."""
    tau = {
        m.c[t][k]: sp.Symbol(f"tau_{{{t},{k + 1}}}", real=True)
        for t in range(1, m.T + 1)
        for k in range(m.n_h)
    }
    tanh_atoms = {sp.tanh(c): a for c, a in tau.items()}
    values: dict = {}
    for t in range(1, m.T + 1):
        i, f, g, o = (m.gate[q, t] for q in GATES)
        c_prev = m.c[t - 1].xreplace(values)
        for k in range(m.n_h):
            values[m.c[t][k]] = f[k] * c_prev[k] + i[k] * g[k]
            values[m.h[t][k]] = o[k] * tau[m.c[t][k]]

    def canonical(e: sp.Expr) -> sp.Expr:
        return e.xreplace(tanh_atoms).xreplace(values)

    return canonical


def _expanded(m: Lstm) -> tuple[sp.Expr, dict]:
    """L = Σ_t γ_tᵀ h_t with every node written out, and the facts that put node values back."""
    h, c = m.h[0], m.c[0]
    facts: dict = {}
    canonical_tau = {}
    loss = sp.Integer(0)
    for t in range(1, m.T + 1):
        gates = {}
        for q in GATES:
            pre = m.U[q] * m.x[t] + m.W[q] * h + m.b[f"b_{q}"]
            if q == "g":
                gates[q] = pre.applyfunc(sp.tanh)
                facts |= {sp.tanh(pre[k]): m.gate[q, t][k] for k in range(m.n_h)}
            else:
                gates[q] = pre.applyfunc(sigmoid)
                for k in range(m.n_h):
                    facts |= sigmoid_facts(pre[k], m.gate[q, t][k])
        c = hadamard(gates["f"], c) + hadamard(gates["i"], gates["g"])
        canonical_tau |= {sp.tanh(c[k]): sp.tanh(m.c[t][k]) for k in range(m.n_h)}
        h = hadamard(gates["o"], c.applyfunc(sp.tanh))
        loss += (m.gamma[t].T * h)[0]
    return loss, facts | canonical_tau


def expanded_loss() -> Derivation:
    def build() -> Lstm:
        return lstm(T_EXPANDED, 1, 1)

    m = build()
    names = (
        "U_i",
        "U_f",
        "U_g",
        "U_o",
        "W_i",
        "W_f",
        "W_g",
        "W_o",
        "b_i",
        "b_f",
        "b_g",
        "b_o",
        "h0",
        "c0",
    )
    loss, facts = _expanded(m)
    start = sp.Matrix([sp.diff(loss, m.params[n][0]) for n in names])
    canonical = _canonical(m)

    def prover(previous: sp.Matrix, current: sp.Matrix) -> sp.Matrix:
        back = previous.applyfunc(lambda e: canonical(e.xreplace(facts)))
        return back - current.applyfunc(canonical)

    tb = textbook_grads(m)
    d = Derivation(
        "lstm-expanded-loss",
        r"LSTM: every gradient by differentiating the fully written-out loss, T = 2",
        lhs=sp.Matrix([m.params[n][0] for n in names]),
        start=start,
        assumptions=[MODEL_ASSUMPTION],
        intro=(
            "No intermediate symbols and no induction hypothesis: L = γ_1 h_1 + γ_2 h_2 with "
            "h_2 written out through c_2, the gates of step 2, h_1, c_1 and the gates of step 1 "
            "(n_x = n_h = 1), differentiated by SymPy in each of the 12 parameters and h_0, "
            "c_0. Proven equal to the textbook recursion with every δ inlined. The proof puts "
            "the forward values back (e^{−z} = (1 − s)/s for a sigmoid gate s, tanh(z^g) = g) "
            "and treats τ_t = tanh(c_t) as an atom, with h_t = o_t τ_t and "
            "c_t = f_t c_{t−1} + i_t g_t (sound: an identity with the atoms free holds for "
            "their values too)."
        ),
        lhs_display=r"\nabla_\theta L",
        start_display=r"\frac{\partial}{\partial \theta} \sum_{t=1}^{2} \gamma_t\, o_t "
        r"\tanh\big(f_t c_{t-1} + i_t g_t\big) \text{ written out}, \\ "
        r"\theta \in (U_q, W_q, b_q, h_0, c_0)",
    )
    d.step(
        inline_adjoints(m, textbook_local, stack([tb[n] for n in names])),
        "put back the forward values; the textbook recursion, every δ inlined",
        prover=prover,
        display=r"\sum_t \delta z^q_t x_t,\ \sum_t \delta z^q_t h_{t-1},\ \sum_t \delta z^q_t, \\ "
        r"\sum_q W_q \delta z^q_1,\ f_1 \delta c_1 \text{ with the recursion inlined}",
    )

    add_checks(d, build, names)
    return d


DERIVATIONS: list[Callable[[], Derivation]] = [
    sigma_on_the_value,
    cell_adjoint,
    gate_adjoints,
    hidden_adjoint,
    *(parameter_gradients(f) for f in ("U", "W", "b")),
    initial_states,
    torch_biases,
    expanded_loss,
]
