"""Backpropagation through time: every gradient of the canonical RNN, from SymPy's diff to the textbook.

The unrolled graph (T = 3, n_x = n_h = n_y = 2) keeps a_t, h_t, o_t, ŷ_t as symbols;
SymPy differentiates each node's definition, last node first, and the forward facts
tanh(a_t) = h_t, exp(o_{t,k}) = S_t ŷ_{t,k} put the node symbols back (rnn_sym.reverse_mode).
Each derivation starts from that autodiff result and proves it equal to the textbook
form of NOTATION.md. The adjoints of later nodes are the same symbols on both sides:
that is the induction hypothesis of a backward induction over t, and the derivations of
∇_{o_t}L and ∇_{h_t}L are its steps. A last derivation starts from SymPy's diff of the
fully written-out loss (T = 2) and reaches the same textbook form without any hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

import rnn_num
from derivations._bptt_numeric import fd_gradients, random_point
from derivations._numeric import FD_TOLERANCE, RNN_NUM_TOLERANCE, relative_error
from rnn_sym import (
    Assumption,
    Derivation,
    NumericBptt,
    ReverseMode,
    expanded_loss_gradient,
    expanded_loss_prover,
    full_forms,
    model_symbols,
    reverse_mode,
    slope_atoms,
    textbook,
)

SEED_000 = "000_353fc027c1455118.txt"
SEED_003 = "003_f5a511b607786116.txt"
SEED_004 = "004_957c386b48be8623.txt"

T_DOC, N_X, N_H, N_Y = 3, 2, 2, 2
CHECK_SEEDS = (11, 12, 13)

LATEX_PARAM = {"U": "U", "W": "W", "V": "V", "b": "b", "c": "c", "h0": "h_0"}

TEXTBOOK_DISPLAY = {
    "V": r"\sum_{t=1}^{T} \nabla_{o_t}L\, h_t^\top",
    "c": r"\sum_{t=1}^{T} \nabla_{o_t}L",
    "W": r"\sum_{t=1}^{T} \operatorname{diag}(1-h_t^2)\, \nabla_{h_t}L\, h_{t-1}^\top",
    "U": r"\sum_{t=1}^{T} \operatorname{diag}(1-h_t^2)\, \nabla_{h_t}L\, x_t^\top",
    "b": r"\sum_{t=1}^{T} \operatorname{diag}(1-h_t^2)\, \nabla_{h_t}L",
    "h0": r"W^\top \operatorname{diag}(1-h_1^2)\, \nabla_{h_1}L",
}
AUTODIFF_DISPLAY = {
    "V": r"\Big[\sum_{t} \sum_{k} \frac{\partial L}{\partial o_{t,k}} \frac{\partial o_{t,k}}{\partial V_{ij}}\Big]_{ij}",
    "c": r"\Big[\sum_{t} \sum_{k} \frac{\partial L}{\partial o_{t,k}} \frac{\partial o_{t,k}}{\partial c_{i}}\Big]_{i}",
    "W": r"\Big[\sum_{t} \sum_{k} \frac{\partial L}{\partial a_{t,k}} \frac{\partial a_{t,k}}{\partial W_{ij}}\Big]_{ij}",
    "U": r"\Big[\sum_{t} \sum_{k} \frac{\partial L}{\partial a_{t,k}} \frac{\partial a_{t,k}}{\partial U_{ij}}\Big]_{ij}",
    "b": r"\Big[\sum_{t} \sum_{k} \frac{\partial L}{\partial a_{t,k}} \frac{\partial a_{t,k}}{\partial b_{i}}\Big]_{i}",
    "h0": r"\Big[\sum_{k} \frac{\partial L}{\partial a_{1,k}} \frac{\partial a_{1,k}}{\partial h_{0,i}}\Big]_{i}",
}
REVERSE_MODE_WHY = (
    "reverse mode: SymPy's diff of each node's definition, last node first; "
    "tanh(a_t) = h_t put back after each diff"
)
INDUCTION_WHY = "expand; the adjoints of later nodes are the same symbols (induction hypothesis)"


def one_hot_assumption(rm: ReverseMode) -> Assumption:
    """Σ_i y_{t,i} = 1 for every t (one-hot targets), as a substitution for the last entry."""
    return Assumption(
        "one-hot targets",
        r"\sum_{i=1}^{n_y} y_{t,i} = 1 \text{ for every } t \text{ (one-hot targets)}",
        rm.model.one_hot_substitutions(),
    )


def doc_model(*, many_to_one: bool = False) -> ReverseMode:
    return reverse_mode(model_symbols(T_DOC, N_X, N_H, N_Y), many_to_one=many_to_one)


# --- cross-checks ------------------------------------------------------------------------------


def result_check(
    rm: ReverseMode, expr: sp.Basic, name: str, *, against: str, route: str = "textbook"
) -> Callable[[], float]:
    """Largest relative error of the lambdified `expr` (gradient `name`) at CHECK_SEEDS,
    against rnn_num.loss_and_grads or against central differences of an independent loss."""
    if against not in ("rnn_num", "fd"):
        raise ValueError(f"against must be 'rnn_num' or 'fd', not {against!r}")

    def run() -> float:
        m, mto = rm.model, rm.many_to_one
        numeric = NumericBptt(rm, route)
        evaluate = numeric.evaluate(expr)
        worst = 0.0
        for seed in CHECK_SEEDS:
            params, x, y, h0 = random_point(seed, m.T, m.n_x, m.n_h, m.n_y, many_to_one=mto)
            if m.targets is not None:  # a model built for fixed class indices
                y = np.int64(m.targets[-1]) if mto else np.array(m.targets)
            mine = evaluate(params, x, y, h0)
            if against == "rnn_num":
                expected = rnn_num.loss_and_grads(params, x, y, h0, many_to_one=mto)[1][name]
            else:
                expected = fd_gradients(params, x, y, h0, many_to_one=mto)[name]
            error = relative_error(mine.reshape(np.shape(expected)), expected)
            worst = error if np.isnan(error) else max(worst, error)
        return worst

    return run


def add_gradient_checks(d: Derivation, rm: ReverseMode, name: str, route: str = "textbook") -> None:
    d.cross_check(
        f"lambdified result vs rnn_num.loss_and_grads ({len(CHECK_SEEDS)} random points, h0 ≠ 0)",
        result_check(rm, d.result, name, against="rnn_num", route=route),
        RNN_NUM_TOLERANCE,
    )
    d.cross_check(
        "lambdified result vs central differences of an independent NumPy loss",
        result_check(rm, d.result, name, against="fd", route=route),
        FD_TOLERANCE,
    )


# --- the derivations -----------------------------------------------------------------------------


def output_adjoint() -> Derivation:
    rm = doc_model()
    t = 2
    one_hot = one_hot_assumption(rm)
    d = Derivation(
        "bptt-output-adjoint",
        r"The adjoint of the logits in the unrolled graph: $\nabla_{o_t}L = \hat{y}_t - y_t$",
        lhs=rm.grad_o[t],
        start=rm.local_o[t],
        assumptions=[one_hot],
        intro=(
            "SymPy differentiates L_t = -Σ_i y_{t,i} log ŷ_{t,i} and ŷ_t = softmax(o_t) node by "
            "node; with exp(o_{t,k}) = S_t ŷ_{t,k} put back the result is ŷ_t Σ_i y_{t,i} − y_t, "
            "shown here at t = 2 of T = 3."
        ),
        seeds=[SEED_003, SEED_000],
        lhs_display=r"\nabla_{o_2}L",
        start_display=r"\hat{y}_2 \textstyle\sum_i y_{2,i} - y_2",
    )
    d.step(
        textbook(rm).local_o[t],
        "the targets are one-hot: $\\sum_i y_{2,i} = 1$",
        uses=[one_hot],
        display=r"\hat{y}_2 - y_2",
    )
    return d


def hidden_recursion(t: int) -> Callable[[], Derivation]:
    def build() -> Derivation:
        rm = doc_model()
        last = t == rm.model.T
        display = (
            rf"V^\top \nabla_{{o_{{{t}}}}}L"
            if last
            else rf"W^\top \operatorname{{diag}}(1-h_{{{t + 1}}}^2)\, \nabla_{{h_{{{t + 1}}}}}L "
            rf"+ V^\top \nabla_{{o_{{{t}}}}}L"
        )
        d = Derivation(
            f"bptt-hidden-{'last' if last else 'recursion'}",
            (
                r"The last hidden adjoint: $\nabla_{h_T}L = V^\top \nabla_{o_T}L$"
                if last
                else r"The BPTT recursion: $\nabla_{h_t}L = W^\top \operatorname{diag}(1-h_{t+1}^2)\,"
                r"\nabla_{h_{t+1}}L + V^\top \nabla_{o_t}L$"
            ),
            lhs=rm.grad_h[t],
            start=rm.local_h[t],
            intro=(
                f"h_{t} feeds o_{t}"
                + ("" if last else f" and a_{t + 1}")
                + "; the reverse-mode sum over those consumers, computed by SymPy's diff with "
                "tanh'(a) written as 1 − h² (T = 3, t = " + str(t) + ")."
            ),
            seeds=[SEED_003, SEED_000],
            lhs_display=rf"\nabla_{{h_{{{t}}}}}L",
            start_display=rf"\Big[\sum_{{c \in \{{o_{{{t}}}"
            + ("" if last else rf", a_{{{t + 1}}}")
            + rf"\}}}} \sum_k \frac{{\partial L}}{{\partial c_k}} \frac{{\partial c_k}}{{\partial h_{{{t},i}}}}\Big]_i",
        )
        d.step(textbook(rm).local_h[t], INDUCTION_WHY, display=display)
        return d

    return build


def parameter_gradient(name: str) -> Callable[[], Derivation]:
    def build() -> Derivation:
        rm = doc_model()
        p = LATEX_PARAM[name]
        d = Derivation(
            f"bptt-grad-{name}",
            rf"The gradient $\nabla_{{{p}}}L$ of the canonical RNN",
            lhs=rm.model.params()[name],
            start=rm.params[name],
            intro=(
                f"SymPy's diff of every node that reads {name}, summed (T = 3, n_x = n_h = n_y = 2); "
                "the adjoints ∇_{h_t}L, ∇_{o_t}L are those of the recursion derivations."
            ),
            seeds=[SEED_003, SEED_000],
            lhs_display=rf"\nabla_{{{p}}}L",
            start_display=AUTODIFF_DISPLAY[name],
        )
        d.step(textbook(rm).params[name], INDUCTION_WHY, display=TEXTBOOK_DISPLAY[name])
        add_gradient_checks(d, rm, name)
        return d

    return build


def expanded_loss_to_textbook() -> Derivation:
    """∇_W L from SymPy's diff of the fully written-out loss (T = 2) to the textbook form."""
    T, targets = 2, (1, 0)
    rm = reverse_mode(model_symbols(T, N_X, N_H, N_Y, targets=targets))
    expanded = expanded_loss_gradient(rm.model, names=("W",))["W"]
    atoms = slope_atoms(rm.model)
    autodiff, text = full_forms(rm, one_hot=False)  # written in d_{t,i} = 1 - h_{t,i}^2
    autodiff_w, text_w = atoms.undo(autodiff["W"]), atoms.undo(text["W"])
    d = Derivation(
        "bptt-expanded-loss",
        r"$\nabla_W L$ by differentiating the fully written-out loss, T = 2",
        lhs=rm.model.W,
        start=expanded,
        assumptions=[
            Assumption(
                "class-index targets",
                r"y_1 = e_2,\ y_2 = e_1 \text{ (class indices 1, 0)}",
            )
        ],
        intro=(
            "No intermediate symbols: L = Σ_t −log softmax(c + V tanh(b + W tanh(b + W h_0 + U x_1) "
            "+ U x_2))[y_t] written out and differentiated by SymPy in one go (the naive route). "
            "Proven equal, entry by entry, to the reverse-mode result and to the textbook form, "
            "with every ∇_h inlined, no induction hypothesis. The proofs treat each 1 − h_{t,i}² "
            "as one atom (sound: an identity with the atom free holds for its value too)."
        ),
        seeds=[SEED_003],
        lhs_display=r"\nabla_W L",
        start_display=r"\Big[\frac{\partial}{\partial W_{ij}} \sum_{t=1}^{2} -\log "
        r"\operatorname{softmax}\big(c + V h_t\big)_{y_t},\ h_1 = \tanh(b + W h_0 + U x_1),\ "
        r"h_2 = \tanh(b + W h_1 + U x_2) \text{ written out}\Big]_{ij}",
    )
    d.step(
        autodiff_w,
        "put back h_t = tanh(a_t), ŷ_t = softmax(o_t); equal to reverse mode with adjoints inlined",
        prover=expanded_loss_prover(rm.model),
        display=r"\sum_{t=1}^{2} \nabla_{a_t}L\, h_{t-1}^\top \text{ (reverse mode, adjoints inlined)}",
    )
    d.step(
        text_w,
        "the textbook recursion, unrolled",
        prover=lambda previous, current: previous.applyfunc(atoms) - current.applyfunc(atoms),
        display=TEXTBOOK_DISPLAY["W"].replace("{T}", "{2}"),
    )
    add_gradient_checks(d, rm, "W")
    return d


DERIVATIONS: list[Callable[[], Derivation]] = [
    output_adjoint,
    hidden_recursion(3),
    hidden_recursion(2),
    *(parameter_gradient(name) for name in ("V", "c", "W", "U", "b", "h0")),
    expanded_loss_to_textbook,
]
