"""The correct formulas of every block for a model of rnn_spec, and the mistakes the
diagnosis looks for in the gated cells, as data.

`references(model)` is, for the canonical model, `_mutations.REFERENCES` itself; for any
other model the same forms with the model's pieces put in: the activation's derivative
(diag(1 − h²) only for tanh, f'(a_t) otherwise, nothing for the identity), the head's
∇_{o_t} of one step's loss (ŷ − y, o − y or 2(o − y), the opaque ∂l/∂o_t), the reduction's
1/T and the task's loss steps; the LSTM's and GRU's BPTT (torch's equations, docs/models.md)
written with the gates' adjoints. `model_mutants` applies `_mutations.RULES` and then the
rules of `GATED_RULES`, whose names are the published mistakes of LSTM derivations.
They are only used to name a mistake: a wrong reference could weaken a diagnosis, never
turn a wrong formula into a CORRECT verdict (the truth is rnn_num's).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from rnn_check import _ast as A
from rnn_check._mutations import REFERENCES, Rule, mutants
from rnn_spec import CANONICAL, Model


def _scale(model: Model) -> str:
    """The reduction's factor in front of ∇_{o_t} l, as the notes write it."""
    # one step with a loss: the mean over it divides by 1 (and the checker's B is 1)
    if model.reduction in ("mean-time", "mean") and model.task == "many-to-many":
        return r"\frac{1}{T} "
    return ""


def _head_gradient(model: Model, t: str) -> str:
    """∇_{o_t} of step t's loss (before the reduction), in the dialect."""
    if model.head == "softmax-ce":
        return rf"(\hat{{y}}_{{{t}}} - y_{{{t}}})"
    if model.head == "mse":
        return (
            rf"(\hat{{y}}_{{{t}}} - y_{{{t}}})"
            if model.mse_scale == "half"
            else rf"2 (\hat{{y}}_{{{t}}} - y_{{{t}}})"
        )
    return rf"\frac{{\partial l}}{{\partial o_{{{t}}}}}"  # generic: the opaque ∇_{o_t} l


def _output_term(model: Model, t: str, times: str = "") -> str | None:
    """∇_{h_t} of the loss through o_t (the direct term of the ∇_{h_t}L recursion)."""
    if model.head == "given":
        return rf"\nabla_{{h_{{{t}}}}} l"
    return rf"{_scale(model)}V^\top {_head_gradient(model, t)}"


def _sum_over_losses(model: Model, body: str, t: str = "t") -> str:
    """Σ over the steps with a loss of a body written with t."""
    if model.task == "many-to-many":
        return rf"\sum_{{{t}=1}}^{{T}} {body}"
    step = f"_{{{_loss_step(model)}}}"
    return body.replace(f"_{{{t}}}", step).replace(f"_{t}", step)


def _loss_step(model: Model) -> str:
    return "T" if model.task == "many-to-one" else str(model.step)


def _direct(model: Model, t: str) -> str:
    """The direct term of ∇_{h_t}L (through o_t); only at the loss step for a one-step task."""
    if model.task == "many-to-many" or model.head == "given":
        return _output_term(model, t)
    step = _loss_step(model)
    return rf"\mathbb{{1}}_{{{t}={step}}} {_output_term(model, step)}"


def _output_gradient(model: Model) -> str:
    """∇_{o_t}L, as a function of t."""
    g = rf"{_scale(model)}{_head_gradient(model, 't')}"
    if model.task == "many-to-many":
        return g
    step = _loss_step(model)
    return rf"\mathbb{{1}}_{{t={step}}} {_scale(model)}{_head_gradient(model, step)}"


def _elman_factor(model: Model, t: str) -> str:
    """diag(f'(a_t)) as the notes write it for the activation (with a trailing space)."""
    if model.activation == "tanh":
        return rf"\mathrm{{diag}}(1-h_{{{t}}}^2) "
    if model.activation == "identity":
        return ""
    return rf"\mathrm{{diag}}(f'(a_{{{t}}})) "


def _elman(model: Model) -> dict[str, tuple[str, ...]]:
    D = functools.partial(_elman_factor, model)
    out: dict[str, tuple[str, ...]] = {}
    delta = lambda t: rf"{D(t)}\nabla_{{h_{{{t}}}}} L"  # noqa: E731

    def unrolled(tail):
        return (
            rf"\sum_{{t=1}}^{{T}} \sum_{{k=1}}^{{t}} {D('k')}\left(\frac{{\partial h_t}}"
            rf"{{\partial h_k}}\right)^\top {_output_term(model, 't')}{tail}"
        )

    local = model.head != "given" and model.task == "many-to-many"
    hidden = {"U": r" \, x_t^\top", "W": r" \, h_{t-1}^\top"}
    for name, tail in hidden.items():
        forms = [rf"\sum_{{t=1}}^{{T}} {delta('t')}{tail}"]
        if local:
            forms.append(unrolled(tail.replace("_t", "_k").replace("_{t-1}", "_{k-1}")))
        out[name] = tuple(forms)
    biases = ["b"] if model.biases in ("both", "hidden") else []
    biases += ["b_ih", "b_hh"] if model.biases == "torch" else []
    for name in biases:
        forms = [rf"\sum_{{t=1}}^{{T}} {delta('t')}"]
        if local:
            forms.append(unrolled(""))
        out[name] = tuple(forms)
    if model.has_output_layer:
        g = rf"{_scale(model)}{_head_gradient(model, 't')}"
        out["V"] = (_sum_over_losses(model, rf"{g} \, h_t^\top"),)
        if model.output_bias:
            out["c"] = (_sum_over_losses(model, g),)
        out["o_t"] = (_output_gradient(model),)
    out["h0"] = (rf"W^\top {D('1')}\nabla_{{h_1}} L",)
    out["h_t"] = (rf"W^\top {D('t+1')}\nabla_{{h_{{t+1}}}} L + {_direct(model, 't')}",)
    out["a_t"] = (delta("t"),)
    return out


def _sig(q: str, t: str) -> str:
    """σ'(z) of a σ gate written with its value: q_t ⊙ (1 − q_t)."""
    return rf"{q}_{{{t}}} \odot (1 - {q}_{{{t}}})"


def _lstm(model: Model) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    # the adjoint of each gate's pre-activation, written with the adjoints of c_t and h_t
    pre = {
        "i": lambda t: rf"\nabla_{{c_{{{t}}}}} L \odot g_{{{t}}} \odot {_sig('i', t)}",
        "f": lambda t: rf"\nabla_{{c_{{{t}}}}} L \odot c_{{{t}-1}} \odot {_sig('f', t)}",
        "g": lambda t: rf"\nabla_{{c_{{{t}}}}} L \odot i_{{{t}}} \odot (1 - g_{{{t}}}^2)",
        "o": lambda t: rf"\nabla_{{h_{{{t}}}}} L \odot \tanh(c_{{{t}}}) \odot {_sig('o', t)}",
    }
    for q, delta in pre.items():
        out[f"W_{q}"] = (rf"\sum_{{t=1}}^{{T}} \left({delta('t')}\right) h_{{t-1}}^\top",)
        out[f"U_{q}"] = (rf"\sum_{{t=1}}^{{T}} \left({delta('t')}\right) x_t^\top",)
        names = [f"b_i{q}", f"b_h{q}"] if model.biases == "torch" else [f"b_{q}"]
        if model.hidden_biases:
            for name in names:
                out[name] = (rf"\sum_{{t=1}}^{{T}} \left({delta('t')}\right)",)
    out["c_t"] = (
        r"\nabla_{h_t} L \odot o_t \odot (1 - \tanh^2(c_t)) + f_{t+1} \odot \nabla_{c_{t+1}} L",
    )
    out["gate_f_t"] = (r"\nabla_{c_t} L \odot c_{t-1}",)
    out["gate_i_t"] = (r"\nabla_{c_t} L \odot g_t",)
    out["gate_g_t"] = (r"\nabla_{c_t} L \odot i_t",)
    out["gate_o_t"] = (r"\nabla_{h_t} L \odot \tanh(c_t)",)
    recurrent = " + ".join(rf"W_{q}^\top \left({pre[q]('t+1')}\right)" for q in "ifgo")
    out["h_t"] = (rf"{recurrent} + {_direct(model, 't')}",)
    first = " + ".join(rf"W_{q}^\top \left({pre[q]('1')}\right)" for q in "ifgo")
    out["h0"] = (first,)
    out["c0"] = (r"\nabla_{c_1} L \odot f_1",)
    _add_output(model, out)
    return out


def _gru(model: Model) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    dn = lambda t: rf"\nabla_{{n_{{{t}}}}} L \odot (1 - n_{{{t}}}^2)"  # noqa: E731
    pre = {
        "r": lambda t: rf"\nabla_{{r_{{{t}}}}} L \odot {_sig('r', t)}",
        "z": lambda t: rf"\nabla_{{z_{{{t}}}}} L \odot {_sig('z', t)}",
        "n": dn,
    }
    for q in "rzn":
        inner = (lambda t: rf"r_{{{t}}} \odot {dn(t)}") if q == "n" else pre[q]
        out[f"W_{q}"] = (rf"\sum_{{t=1}}^{{T}} \left({inner('t')}\right) h_{{t-1}}^\top",)
        out[f"U_{q}"] = (rf"\sum_{{t=1}}^{{T}} \left({pre[q]('t')}\right) x_t^\top",)
        if model.biases == "torch":
            out[f"b_i{q}"] = (rf"\sum_{{t=1}}^{{T}} \left({pre[q]('t')}\right)",)
            out[f"b_h{q}"] = (rf"\sum_{{t=1}}^{{T}} \left({inner('t')}\right)",)
        elif model.hidden_biases:
            out[f"b_{q}"] = (rf"\sum_{{t=1}}^{{T}} \left({pre[q]('t')}\right)",)
    out["gate_z_t"] = (r"\nabla_{h_t} L \odot (h_{t-1} - n_t)",)
    out["gate_n_t"] = (r"\nabla_{h_t} L \odot (1 - z_t)",)
    lin = r"(W_n h_{t-1} + b_{hn})" if model.biases == "torch" else r"W_n h_{t-1}"
    out["gate_r_t"] = (rf"{dn('t')} \odot {lin}",)

    def recurrent(t: str) -> str:
        return (
            rf"\nabla_{{h_{{{t}}}}} L \odot z_{{{t}}} + W_z^\top \left({pre['z'](t)}\right) + "
            rf"W_r^\top \left({pre['r'](t)}\right) + W_n^\top \left(r_{{{t}}} \odot {dn(t)}\right)"
        )

    out["h_t"] = (rf"{recurrent('t+1')} + {_direct(model, 't')}",)
    out["h0"] = (recurrent("1"),)
    _add_output(model, out)
    return out


def _add_output(model: Model, out: dict[str, tuple[str, ...]]) -> None:
    if not model.has_output_layer:
        return
    g = rf"{_scale(model)}{_head_gradient(model, 't')}"
    out["V"] = (_sum_over_losses(model, rf"{g} \, h_t^\top"),)
    if model.output_bias:
        out["c"] = (_sum_over_losses(model, g),)
    out["o_t"] = (_output_gradient(model),)


@functools.cache
def references(model: Model = CANONICAL) -> dict[str, tuple[str, ...]]:
    """block -> its correct formulas, in the canonical letters of the model (the first is the
    primary, recursive form). The canonical model's are `_mutations.REFERENCES`."""
    if model == CANONICAL:
        return REFERENCES
    return {"rnn": _elman, "lstm": _lstm, "gru": _gru}[model.cell](model)


# -- the gated cells' published mistakes ---------------------------------------------------


def _gate_of(node: A.Node) -> str | None:
    return node.name if isinstance(node, A.Quantity) and node.name.startswith("gate_") else None


def _is_one_minus(node: A.Node, inner) -> bool:
    return isinstance(node, A.Sub) and isinstance(node.left, A.Num | A.Ones) and inner(node.right)


def _sigma_prime_pair(node: A.Node) -> str | None:
    """The gate q if node is X ⊙ q_t ⊙ (1 − q_t) (a σ' written with the gate's value)."""
    if not (isinstance(node, A.Hadamard) and isinstance(node.left, A.Hadamard)):
        return None
    gate = _gate_of(node.left.right)
    if gate and _is_one_minus(node.right, lambda r: r == node.left.right):
        return gate
    return None


def _drop_sigma_prime(node: A.Node) -> list[A.Node]:
    return [node.left.left]


def _sigma_prime_of_value(node: A.Node) -> list[A.Node]:
    return [A.Hadamard(node.left.left, A.Func("dsigmoid", node.left.right))]


def _is_tanh_prime_of_c(node: A.Node) -> bool:
    def squared_tanh_c(n: A.Node) -> bool:
        return (
            isinstance(n, A.Square)
            and isinstance(n.operand, A.Func)
            and n.operand.name == "tanh"
            and isinstance(n.operand.operand, A.Quantity)
            and n.operand.operand.name == "c"
        )

    return _is_one_minus(node, squared_tanh_c)


def _mentions_cell_path(node: A.Node) -> bool:
    """f_{t+1} ⊙ ∇_{c_{t+1}}L: the term through the next cell state."""
    return any(isinstance(n, A.Grad) and n.quantity == "c" for n in A.walk(node)) and any(
        _gate_of(n) == "gate_f" for n in A.walk(node)
    )


def _drop_cell_path(node: A.Add) -> list[A.Node]:
    left, right = _mentions_cell_path(node.left), _mentions_cell_path(node.right)
    if right and not left:
        return [node.left]
    if left and not right:
        return [node.right]
    return []


def _is_gate_matrix_transpose(node: A.Node) -> bool:
    return (
        isinstance(node, A.Transpose)
        and isinstance(node.operand, A.Param)
        and node.operand.name[:2] in ("W_", "U_")
    )


# fmt: off
GATED_RULES: tuple[Rule, ...] = (
    Rule("missing f_{t+1} ⊙ ∇_{c_{t+1}}L term (the path through the next cell state)", lambda n, p: isinstance(n, A.Add), _drop_cell_path),
    Rule("σ′ applied to the gate's value instead of its pre-activation (σ′(f_t) for f_t ⊙ (1 − f_t))", lambda n, p: _sigma_prime_pair(n) is not None, _sigma_prime_of_value),
    Rule("missing σ′ factor of a gate (q_t ⊙ (1 − q_t))", lambda n, p: _sigma_prime_pair(n) is not None, _drop_sigma_prime),
    Rule("tanh′(c_t) forgotten (the factor 1 − tanh²(c_t))", lambda n, p: isinstance(n, A.Hadamard) and _is_tanh_prime_of_c(n.right), lambda n: [n.left]),
    Rule("W_q where W_qᵀ belongs", lambda n, p: _is_gate_matrix_transpose(n), lambda n: [n.operand]),
    Rule("missing r_t ⊙ (the reset gate multiplies the recurrent term of n_t)", lambda n, p: isinstance(n, A.Hadamard) and _gate_of(n.left) == "gate_r", lambda n: [n.right]),
)
# fmt: on


# -- the Elman cell with another activation -------------------------------------------------


def _is_activation_derivative(node: A.Node) -> bool:
    """diag(f'(a_t)) or f'(a_t) for an activation other than tanh (tanh's: _mutations)."""
    if isinstance(node, A.Func) and node.name == "diag":
        return _is_activation_derivative(node.operand)
    return isinstance(node, A.Func) and node.name in ("dsigmoid", "drelu")


def _tanh_prime_of(node: A.Func) -> A.Node:
    """(1 − h_t²) for f'(a_t): the tanh derivative written where another one belongs."""
    return A.Sub(A.Num(1.0), A.Square(A.Quantity("h", node.operand.time)))


def _with_tanh_prime(node: A.Grad) -> list[A.Node]:
    d = A.Func("diag", A.Sub(A.Num(1.0), A.Square(A.Quantity("h", node.time))))
    return [A.Mul(d, node)]


def _drop_activation_derivative(node: A.Node) -> list[A.Node]:
    out = []
    if isinstance(node, A.Mul | A.Hadamard):
        if _is_activation_derivative(node.left):
            out.append(node.right)
        if _is_activation_derivative(node.right):
            out.append(node.left)
    return out


def elman_rules(model: Model) -> tuple[Rule, ...]:
    """The mistakes of a derivation copied from the tanh model into another activation."""
    act = model.activation
    if act == "tanh":
        return ()
    if act == "identity":
        return (
            Rule(
                "a tanh′ factor diag(1 − h²) the identity activation does not have",
                lambda n, p: isinstance(n, A.Grad) and n.quantity == "h" and n.step is None,
                _with_tanh_prime,
            ),
        )
    return (
        Rule(
            f"missing f′(a_t) factor (the derivative of {act})",
            lambda n, p: isinstance(n, A.Mul | A.Hadamard),
            _drop_activation_derivative,
        ),
        Rule(
            f"tanh′ (1 − h²) written, but the activation is {act}",
            lambda n, p: (
                isinstance(n, A.Func)
                and n.name in ("dsigmoid", "drelu")
                and isinstance(n.operand, A.Quantity)
                and n.operand.name == "a"
            ),
            lambda n: [_tanh_prime_of(n)],
        ),
    )


def model_mutants(root: A.Node, model: Model = CANONICAL) -> Iterator[tuple[str, A.Node]]:
    """`_mutations.mutants`, then the rules of the model's cell (GATED_RULES, or
    `elman_rules` for an activation other than tanh) at every place they apply; no
    duplicates."""
    seen = {root}
    yield from mutants(root, seen=seen)
    yield from mutants(root, elman_rules(model) if model.cell == "rnn" else GATED_RULES, seen=seen)
