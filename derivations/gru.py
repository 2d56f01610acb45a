"""The GRU's backpropagation through time (torch.nn.GRU's equations, r applied to W_n h + b_hn).

    r_t = σ(a^r_t),  a^r_t = U_r x_t + b_ir + W_r h_{t-1} + b_hr
    z_t = σ(a^z_t),  a^z_t = U_z x_t + b_iz + W_z h_{t-1} + b_hz
    m_t = W_n h_{t-1} + b_hn                      (the recurrent part of the candidate)
    n_t = tanh(a^n_t), a^n_t = U_n x_t + b_in + r_t ⊙ m_t
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Pre-activations are written a^q (not z^q: z is the update gate). The loss reaches h_t
through γ_t = ∂L/∂h_t (`cell=gru,head=given`; a softmax head gives γ_t = Vᵀ(ŷ_t − y_t)).
torch's six biases are kept apart, because b_in and b_hn are NOT interchangeable: b_hn sits
inside r_t ⊙ (·), so ∇b_hn = Σ_t r_t ⊙ δa^n_t while ∇b_in = Σ_t δa^n_t. (With biases=both
the single b_n is the input-side one, ∇b_n = ∇b_in.) The unrolled graph (T = 3, n_x = 1,
n_h = 2) is differentiated node by node by SymPy (derivations/_graph.py); each derivation
proves that result equal to the textbook formula, with the adjoints of later nodes as
symbols (backward induction); the last one differentiates the written-out loss (T = 2).
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
    ones,
    reverse_mode,
    sigmoid,
    sigmoid_facts,
    stack,
    vector,
)
from derivations._graph import stacked_check as _stacked_check
from derivations._numeric import FD_TOLERANCE, RNN_NUM_TOLERANCE
from rnn_spec import Model, parse_model
from rnn_sym import Assumption, Derivation

GATES = ("r", "z", "n")
T_DOC, N_X, N_H = 3, 1, 2
CHECK_SEEDS = (31, 32, 33)
MODEL = "cell=gru,head=given,h0=shared,biases=torch"
BIASES = ("b_ir", "b_hr", "b_iz", "b_hz", "b_in", "b_hn")


@dataclass
class Gru:
    T: int
    n_x: int
    n_h: int
    model: Model
    U: dict[str, sp.Matrix]
    W: dict[str, sp.Matrix]
    b: dict[str, sp.Matrix]
    x: dict[int, sp.Matrix]
    gamma: dict[int, sp.Matrix]
    a: dict[tuple[str, int], sp.Matrix]
    gate: dict[tuple[str, int], sp.Matrix]  # r, z, n
    m: dict[int, sp.Matrix]
    h: dict[int, sp.Matrix]
    dh: dict[int, sp.Matrix]
    da: dict[tuple[str, int], sp.Matrix]
    graph: Graph
    kept: dict
    params: dict[str, sp.Matrix]
    rm: Reverse


@functools.cache
def gru(T: int = T_DOC, n_x: int = N_X, n_h: int = N_H) -> Gru:
    U = {q: matrix(f"U^{{{q}}}", n_h, n_x) for q in GATES}
    W = {q: matrix(f"W^{{{q}}}", n_h, n_h) for q in GATES}
    b = {name: vector(f"b^{{{name[2:]}}}", n_h) for name in BIASES}
    x = {t: vector("x", n_x, t) for t in range(1, T + 1)}
    gamma = {t: vector(r"\gamma", n_h, t) for t in range(1, T + 1)}
    h = {t: vector("h", n_h, t) for t in range(0, T + 1)}
    dh = {t: vector(r"\delta h", n_h, t) for t in range(1, T + 1)}
    a, gate, da, mm = {}, {}, {}, {}
    graph = Graph()
    kept: dict = {}
    for t in range(1, T + 1):
        for q in ("r", "z"):
            pre = U[q] * x[t] + b[f"b_i{q}"] + W[q] * h[t - 1] + b[f"b_h{q}"]
            a[q, t] = graph.add(("a", q, t), vector(f"a^{{{q}}}", n_h, t), pre)
            gate[q, t] = graph.sigmoid((q, t), vector(q, n_h, t), a[q, t])
        mm[t] = graph.add(("m", t), vector("m", n_h, t), W["n"] * h[t - 1] + b["b_hn"])
        pre_n = U["n"] * x[t] + b["b_in"] + hadamard(gate["r", t], mm[t])
        a["n", t] = graph.add(("a", "n", t), vector("a^{n}", n_h, t), pre_n)
        gate["n", t] = graph.tanh(("n", t), vector("n", n_h, t), a["n", t])
        z = gate["z", t]
        graph.add(("h", t), h[t], hadamard(ones(n_h) - z, gate["n", t]) + hadamard(z, h[t - 1]))
        for q in GATES:
            da[q, t] = kept[("a", q, t)] = vector(rf"\delta a^{{{q}}}", n_h, t)
        kept[("h", t)] = dh[t]
    params = {f"U_{q}": U[q] for q in GATES} | {f"W_{q}": W[q] for q in GATES} | b | {"h0": h[0]}
    seeds = {s: e for t in gamma for s, e in zip(h[t], gamma[t], strict=True)}
    rm = reverse_mode(graph, seeds, kept, params)
    return Gru(
        T,
        n_x,
        n_h,
        parse_model(MODEL),
        U,
        W,
        b,
        x,
        gamma,
        a,
        gate,
        mm,
        h,
        dh,
        da,
        graph,
        kept,
        params,
        rm,
    )


# --- the textbook formulas, written down independently of diff ------------------------------


def textbook_local(g: Gru) -> dict:
    out: dict = {}
    for t in range(1, g.T + 1):
        r, z, n = (g.gate[q, t] for q in GATES)
        out[("a", "n", t)] = hadamard(g.dh[t], one_minus(z), one_minus(n.applyfunc(lambda e: e**2)))
        out[("a", "z", t)] = hadamard(g.dh[t], g.h[t - 1] - n, z, one_minus(z))
        out[("a", "r", t)] = hadamard(g.da["n", t], g.m[t], r, one_minus(r))
        out[("h", t)] = g.gamma[t] + (hidden_paths(g, t + 1) if t < g.T else sp.zeros(g.n_h, 1))
    return out


def hidden_paths(g: Gru, t: int) -> sp.Matrix:
    """What h_{t-1} receives from step t: z_t ⊙ δh_t directly, W_rᵀ δa^r_t through the reset
    gate, W_zᵀ δa^z_t through the update gate, W_nᵀ (r_t ⊙ δa^n_t) through the candidate."""
    r, z = g.gate["r", t], g.gate["z", t]
    return (
        hadamard(z, g.dh[t])
        + g.W["r"].T * g.da["r", t]
        + g.W["z"].T * g.da["z", t]
        + g.W["n"].T * hadamard(r, g.da["n", t])
    )


def textbook_grads(g: Gru) -> dict[str, sp.Matrix]:
    steps = range(1, g.T + 1)
    # what reaches each parameter block: δa^q, except W_n and b_hn, which sit inside r ⊙ (·)
    inner = {("r", t): g.da["r", t] for t in steps} | {("z", t): g.da["z", t] for t in steps}
    inner |= {("n", t): hadamard(g.gate["r", t], g.da["n", t]) for t in steps}
    out: dict[str, sp.Matrix] = {}
    for q in GATES:
        out[f"U_{q}"] = col_sum([g.da[q, t] * g.x[t].T for t in steps], g.n_h, g.n_x)
        out[f"W_{q}"] = col_sum([inner[q, t] * g.h[t - 1].T for t in steps], g.n_h, g.n_h)
        out[f"b_i{q}"] = col_sum([g.da[q, t] for t in steps], g.n_h)
        out[f"b_h{q}"] = col_sum([inner[q, t] for t in steps], g.n_h)
    out["h0"] = hidden_paths(g, 1)
    return out


def add_checks(d: Derivation, names: tuple[str, ...], build: Callable[[], Gru] = gru) -> None:
    model = build().model
    for against, name, tolerance in (
        (
            "rnn_num",
            f"lambdified result vs rnn_num.loss_and_grads (model: {model_text(model)}) "
            f"({len(CHECK_SEEDS)} random points, h0 ≠ 0)",
            RNN_NUM_TOLERANCE,
        ),
        (
            "fd",
            "lambdified result vs central differences of an independent NumPy loss",
            FD_TOLERANCE,
        ),
    ):
        d.cross_check(
            name,
            _stacked_check(
                build,
                textbook_local,
                d.result,
                names,
                against,
                CHECK_SEEDS,
                rnn_num.loss_and_grads,
                fd_model_gradients,
                random_model_point,
            ),
            tolerance,
        )


INDUCTION_WHY = "expand; the adjoints of later nodes are the same symbols (induction hypothesis)"
MODEL_ASSUMPTION = Assumption(
    "torch's GRU",
    r"r_t = \sigma(a^r_t),\ z_t = \sigma(a^z_t),\ n_t = \tanh\big(U_n x_t + b_{in} + r_t \odot "
    r"(W_n h_{t-1} + b_{hn})\big),\ h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}",
)


# --- the derivations --------------------------------------------------------------------------


def gate_adjoints() -> Derivation:
    g = gru()
    t = 2
    d = Derivation(
        "gru-gate-adjoints",
        r"GRU: the adjoints $\delta a^n_t, \delta a^z_t, \delta a^r_t$ of the pre-activations",
        lhs=columns([g.da[q, t] for q in ("n", "z", "r")]),
        start=columns([g.rm.local[("a", q, t)] for q in ("n", "z", "r")]),
        assumptions=[MODEL_ASSUMPTION],
        intro=(
            "SymPy's diff of h_2 = (1 − z_2) ⊙ n_2 + z_2 ⊙ h_1 in n_2 and z_2, and of "
            "a^n_2 = U_n x_2 + b_in + r_2 ⊙ m_2 in r_2, through each gate's activation "
            "(σ' = q(1 − q), tanh' = 1 − n² on the values), T = 3, t = 2, n_h = 2. "
            "The update gate mixes two things, so its adjoint carries their difference "
            "h_{t−1} − n_t; the reset gate only scales m_t = W_n h_{t−1} + b_hn, so its "
            "adjoint carries m_t (not h_{t−1}, and not W_n h_{t−1} without b_hn)."
        ),
        lhs_display=r"\big[\delta a^n_2\ \ \delta a^z_2\ \ \delta a^r_2\big]",
        start_display=r"\Big[\sum_k \frac{\partial L}{\partial u_k}\frac{\partial u_k}"
        r"{\partial q_{2,j}} \frac{d q_{2,j}}{d a^q_{2,j}}\Big]_{j,\,q \in (n,z,r)} \\ "
        r"u = h_2 \text{ for } q = n, z;\ u = a^n_2 \text{ for } q = r",
    )
    tb = textbook_local(g)
    d.step(
        columns([tb[("a", q, t)] for q in ("n", "z", "r")]),
        INDUCTION_WHY,
        display=r"\big[\delta h_2 \odot (1 - z_2) \odot (1 - n_2^2),\ \ "
        r"\delta h_2 \odot (h_1 - n_2) \odot z_2 \odot (1 - z_2), \\ "
        r"\delta a^n_2 \odot m_2 \odot r_2 \odot (1 - r_2)\big]",
    )
    return d


def hidden_adjoint() -> Derivation:
    g = gru()
    t = 2
    d = Derivation(
        "gru-hidden-adjoint",
        r"GRU: the three paths into $h_{t-1}$: $\delta h_{t-1} = \gamma_{t-1} + z_t \odot \delta h_t"
        r" + W_r^\top \delta a^r_t + W_z^\top \delta a^z_t + W_n^\top (r_t \odot \delta a^n_t)$",
        lhs=g.dh[t],
        start=g.rm.local[("h", t)],
        assumptions=[MODEL_ASSUMPTION],
        intro=(
            "h_2 reaches the loss directly (γ_2) and through step 3 in three ways: directly, "
            "in h_3 = … + z_3 ⊙ h_2 (the leaky, un-squashed path that lets the GRU carry "
            "gradient); through the gates, in a^r_3 and a^z_3 (W_rᵀ, W_zᵀ); and through the "
            "candidate, in m_3 = W_n h_2 + b_hn, which a^n_3 reads scaled by r_3 (so "
            "W_nᵀ (r_3 ⊙ δa^n_3), not W_nᵀ δa^n_3). SymPy's diff, T = 3, t = 2; at t = T: "
            "δh_T = γ_T."
        ),
        lhs_display=r"\delta h_2 = \nabla_{h_2}L",
        start_display=r"\gamma_2 + \Big[\sum_{u \in \{h_3, a^r_3, a^z_3, m_3\}} \sum_k "
        r"\frac{\partial L}{\partial u_k} \frac{\partial u_k}{\partial h_{2,j}}\Big]_j",
    )
    d.step(
        textbook_local(g)[("h", t)],
        INDUCTION_WHY,
        display=r"\gamma_2 + \underbrace{z_3 \odot \delta h_3}_{\text{direct}} + "
        r"\underbrace{W_r^\top \delta a^r_3 + W_z^\top \delta a^z_3}_{\text{gates}} + "
        r"\underbrace{W_n^\top (r_3 \odot \delta a^n_3)}_{\text{candidate}}",
    )
    return d


_DISPLAY = {
    "U": r"\Big[\sum_{t=1}^{3} \delta a^q_t\, x_t^\top\Big]_{q \in (r,z,n)}",
    "W": r"\begin{pmatrix} \sum_t \delta a^r_t\, h_{t-1}^\top \\ \sum_t \delta a^z_t\, "
    r"h_{t-1}^\top \\ \sum_t (r_t \odot \delta a^n_t)\, h_{t-1}^\top \end{pmatrix}",
    "b": r"\begin{pmatrix} \sum_t \delta a^r_t \\ \sum_t \delta a^r_t \\ \sum_t \delta a^z_t "
    r"\\ \sum_t \delta a^z_t \\ \sum_t \delta a^n_t \\ \sum_t r_t \odot \delta a^n_t "
    r"\end{pmatrix}",
}


def parameter_gradients(family: str) -> Callable[[], Derivation]:
    def build() -> Derivation:
        g = gru()
        names = BIASES if family == "b" else tuple(f"{family}_{q}" for q in GATES)
        latex = [
            rf"\nabla_{{b_{{{n[2:]}}}}}L" if family == "b" else rf"\nabla_{{{n}}}L" for n in names
        ]
        d = Derivation(
            f"gru-grad-{family}",
            (
                r"GRU: torch's six biases; $\nabla_{b_{hn}}L = \sum_t r_t \odot \delta a^n_t "
                r"\neq \nabla_{b_{in}}L = \sum_t \delta a^n_t$"
                if family == "b"
                else rf"GRU: the gradients $\nabla_{{{family}_q}}L$ of the three gates"
            ),
            lhs=stack([g.params[n] for n in names]),
            start=stack([g.rm.grads[n] for n in names]),
            assumptions=[MODEL_ASSUMPTION],
            intro=(
                f"SymPy's diff of every node that reads {family}_q (T = 3, n_x = 1, n_h = 2), in "
                "torch's order r, z, n."
                + (
                    " The input-side and recurrent-side biases of r and z enter the same "
                    "pre-activation, so their gradients are equal; b_hn enters inside "
                    "r_t ⊙ (W_n h_{t−1} + b_hn), so its gradient carries the reset gate and "
                    "differs from that of b_in."
                    if family == "b"
                    else (
                        " W_n acts inside r_t ⊙ (·): its gradient carries r_t."
                        if family == "W"
                        else ""
                    )
                )
            ),
            lhs_display=r"\begin{pmatrix}" + r"\\".join(latex) + r"\end{pmatrix}",
            start_display=rf"\Big[\sum_t \sum_k \frac{{\partial L}}{{\partial u_k}} "
            rf"\frac{{\partial u_k}}{{\partial ({family}_q)_{{\cdot}}}}\Big]_{{q}}",
        )
        tb = textbook_grads(g)
        d.step(stack([tb[n] for n in names]), INDUCTION_WHY, display=_DISPLAY[family])
        add_checks(d, names)
        return d

    build.__name__ = f"grad_{family}"
    return build


def initial_state() -> Derivation:
    g = gru()
    d = Derivation(
        "gru-grad-h0",
        r"GRU: $\nabla_{h_0}L$, the three paths of step 1",
        lhs=g.h[0],
        start=g.rm.grads["h0"],
        assumptions=[MODEL_ASSUMPTION],
        intro="h_0 feeds h_1 directly (z_1 ⊙ h_0), a^r_1, a^z_1 and m_1; it has no γ_0 (T = 3).",
        lhs_display=r"\nabla_{h_0}L",
        start_display=r"\Big[\sum_{u \in \{h_1, a^r_1, a^z_1, m_1\}} \sum_k \frac{\partial L}"
        r"{\partial u_k} \frac{\partial u_k}{\partial h_{0,j}}\Big]_j",
    )
    d.step(
        textbook_grads(g)["h0"],
        INDUCTION_WHY,
        display=r"z_1 \odot \delta h_1 + W_r^\top \delta a^r_1 + W_z^\top \delta a^z_1 + "
        r"W_n^\top (r_1 \odot \delta a^n_1)",
    )
    add_checks(d, ("h0",))
    return d


# --- the fully written-out loss, T = 2, n_h = 1 ----------------------------------------------

T_EXPANDED = 2


def _expanded(g: Gru) -> tuple[sp.Expr, dict]:
    h = g.h[0]
    facts: dict = {}
    loss = sp.Integer(0)
    for t in range(1, g.T + 1):
        gates = {}
        for q in ("r", "z"):
            pre = g.U[q] * g.x[t] + g.b[f"b_i{q}"] + g.W[q] * h + g.b[f"b_h{q}"]
            gates[q] = pre.applyfunc(sigmoid)
            for k in range(g.n_h):
                facts |= sigmoid_facts(pre[k], g.gate[q, t][k])
        pre = g.U["n"] * g.x[t] + g.b["b_in"] + hadamard(gates["r"], g.W["n"] * h + g.b["b_hn"])
        n = pre.applyfunc(sp.tanh)
        facts |= {sp.tanh(pre[k]): g.gate["n", t][k] for k in range(g.n_h)}
        h = hadamard(ones(g.n_h) - gates["z"], n) + hadamard(gates["z"], h)
        loss += (g.gamma[t].T * h)[0]
    return loss, facts


def _canonical(g: Gru) -> Callable[[sp.Expr], sp.Expr]:
    """Independent atoms: gate values, h_0, parameters, x, γ; h_t and m_t written in them."""
    values: dict = {}
    for t in range(1, g.T + 1):
        prev = g.h[t - 1].xreplace(values)
        m = g.W["n"] * prev + g.b["b_hn"]
        h = hadamard(one_minus(g.gate["z", t]), g.gate["n", t]) + hadamard(g.gate["z", t], prev)
        for k in range(g.n_h):
            values[g.m[t][k]] = m[k]
            values[g.h[t][k]] = h[k]
    return lambda e: e.xreplace(values)


def expanded_loss() -> Derivation:
    def build() -> Gru:
        return gru(T_EXPANDED, 1, 1)

    g = build()
    names = ("U_n", "W_r", "W_z", "W_n", "b_in", "b_hn")
    loss, facts = _expanded(g)
    start = sp.Matrix([sp.diff(loss, g.params[n][0]) for n in names])
    canonical = _canonical(g)

    def prover(previous: sp.Matrix, current: sp.Matrix) -> sp.Matrix:
        return previous.applyfunc(lambda e: canonical(e.xreplace(facts))) - current.applyfunc(
            canonical
        )

    tb = textbook_grads(g)
    d = Derivation(
        "gru-expanded-loss",
        r"GRU: the gradients by differentiating the fully written-out loss, T = 2",
        lhs=sp.Matrix([g.params[n][0] for n in names]),
        start=start,
        assumptions=[MODEL_ASSUMPTION],
        intro=(
            "No intermediate symbols and no induction hypothesis: L = γ_1 h_1 + γ_2 h_2 with "
            "h_2 written out through its gates and h_1 (n_x = n_h = 1, torch's six biases), "
            "differentiated by SymPy in U_n, W_r, W_z, W_n, b_in and b_hn (the blocks where "
            "the reset gate's placement matters). Proven equal to "
            "the textbook recursion with every δ inlined, after putting the forward values "
            "back (e^{−a} = (1 − s)/s for a sigmoid gate s, tanh(a^n) = n) and writing h_t, "
            "m_t in the gate values."
        ),
        lhs_display=r"\nabla_\theta L",
        start_display=r"\frac{\partial}{\partial \theta} \sum_{t=1}^{2} \gamma_t \big((1 - "
        r"z_t) n_t + z_t h_{t-1}\big) \text{ written out}, \\ "
        r"\theta \in (U_n, W_r, W_z, W_n, b_{in}, b_{hn})",
    )
    d.step(
        inline_adjoints(g, textbook_local, stack([tb[n] for n in names])),
        "put back the forward values; the textbook recursion, every δ inlined",
        prover=prover,
        display=r"\text{the textbook gradients above with the recursion inlined}",
    )

    add_checks(d, names, build)
    return d


DERIVATIONS: list[Callable[[], Derivation]] = [
    gate_adjoints,
    hidden_adjoint,
    *(parameter_gradients(f) for f in ("U", "W", "b")),
    initial_state,
    expanded_loss,
]
