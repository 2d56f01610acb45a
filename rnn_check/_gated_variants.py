"""Known mistakes in the backward passes of every model of rnn_spec, as data, and the NumPy
forward + backward that makes them.

`variant(model, params, x, y, h0, c0, knobs)` is a plain BPTT for the Elman, LSTM and GRU
cells (torch's equations, docs/models.md), every head, task, reduction, bias layout and
initial state, whose formulas each have a knob; the correct algorithm is the default of
every knob. A known mistake is one line of `RULES`: a description, the models it applies to
and the knobs it turns. The checker computes each applicable rule's gradients on the cases
of its battery and reports the rules that equal the user's wrong blocks on every case.

Written from docs/models.md and the torch.nn.LSTM / GRU equations alone: it shares no code
with `rnn_num` (the truth the checker compares against) nor with `_bptt_variants` (the
canonical model's table), so a bug here can only weaken a diagnosis, never turn a wrong
gradient into a CORRECT verdict. Inputs are in rnn_num's conventions (time-major x of shape
(T, [B,] n_x), y as the head and task need it, h0 / c0 None, (n_h,) or (B, n_h)); inside,
every array is batch-major rows: x_t (B, n_x), h_t (B, n_h), a pre-activation is
x_t Uᵀ + h_{t−1} Wᵀ + b.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rnn_spec import Model

# The correct algorithm. Meaning of each knob (and its wrong settings):
CORRECT_KNOBS: dict[str, object] = {
    # --- every cell
    "sign": 1,  # −1: every gradient (and the loss) negated
    "reduction": None,  # None: the model's; a reduction name: the loss reduced that way instead
    "future": True,  # False: ∇h_t = its own step's loss only, nothing flows back through h
    "rec_matrix": "WT",  # "W": ∇h_{t−1} = (…) W where (…) Wᵀ belongs (rows: a Wᵀ transposed)
    "w_state": "prev",  # "current": ∇W· = Σ δ_t h_tᵀ instead of δ_t h_{t−1}ᵀ
    "h0": "correct",  # "zero": ∇h0 returned as zero
    "torch_bias": "both",  # biases=torch: "ih_only" (∇b_h· zero), "hh_only" (∇b_i· zero),
    # "halved" (each gets half the summed bias's gradient), "sum_to_ih" (b_i· gets both, b_h· 0)
    "step": 0,  # task=step=K: the loss taken at step K + this instead of K (−1)
    "step_last": False,  # task=step=K: the loss taken at the last step T instead of K
    "assign": "all",  # parameter gradients Σ over t; "first": only t = 1's term kept (`dW =`
    # where `dW +=` belongs, in a loop t = T … 1), "last": only t = T's (a loop 1 … T)
    "truncate": None,  # K: truncated BPTT, the loss at step s reaches the steps k ≥ s − K only
    "every_step": False,  # many-to-one: the target's loss gradient applied at every step
    "sum_range": "full",  # Σ over t = 1 … T; "stop_early": 1 … T − 1; "skip_first": 2 … T
    "w_skip_first": False,  # True: ∇W· drops its t = 1 term (the one holding h_0)
    "local_last": False,  # True: only the last step's loss enters ∇h_t (V, c keep theirs)
    "h0_deriv": True,  # Elman: False: ∇h0 = ∇h_1 W, the f'(a_1) factor left out
    # --- not mistakes: one term of the gradient, for the checker's blame map
    "source": None,  # s: only the loss at step s is differentiated (its loss value stays)
    "term": None,  # k: only step k's term of each parameter gradient (h0, c0: with k = 1)
    # --- the head
    "output": "correct",  # softmax-ce: "diag_jacobian" (only ŷ_i(1 − ŷ_i), on the target's
    # row), "extra_factor" ((ŷ − y) ⊙ ŷ ⊙ (1 − ŷ)); mse: "other_scale" (the other mse_scale's
    # gradient: 2(o − y) for ½‖o − y‖², o − y for ‖o − y‖²)
    "yhat_step": "same",  # many-to-many: "prev" reads ŷ_{t−1} (o_{t−1}) in ∇o_t, ŷ_0 = ŷ_T
    "target_step": "same",  # many-to-many: "prev" reads y_{t−1} in ∇o_t, y_0 = y_T
    # --- Elman cell
    "act_deriv": "correct",  # "none": f' left out; "pre": written with a_t where h_t belongs
    # (1 − a², a(1 − a)); "1-h": tanh' as 1 − h; "value": relu' taken as relu(a) = h;
    # "twice": f' applied to h_t = f(a_t) again (1 − tanh²(h_t), σ(h_t)(1 − σ(h_t)))
    "act_step": "same",  # "prev": f' taken at h_{t−1} instead of h_t
    # --- gated cells
    "sigma_deriv": "correct",  # σ' of the gates: "pre": a(1 − a) with the pre-activation a;
    # "twice": σ(s)(1 − σ(s)) with s = σ(a) the gate value (σ' applied to the gate again)
    "gate_perm": (),  # pairs (p, q): the gradients of gate p's blocks reported as gate q's
    # --- LSTM
    "cell_path": True,  # False: δc_t misses f_{t+1} ⊙ δc_{t+1} (only the path through h_t)
    "tanh_c": True,  # False: δc_t = δh_t ⊙ o_t, tanh'(c_t) = 1 − tanh²(c_t) forgotten
    "do_tanh": True,  # False: δo_t = δh_t ⊙ c_t, tanh(c_t) confused with c_t
    "df_state": "prev",  # "current": δf_t = δc_t ⊙ c_t instead of c_{t−1}
    "g_deriv": True,  # False: the candidate's tanh' (1 − g²) forgotten
    "c0": "correct",  # "zero": ∇c0 returned as zero
    # --- GRU
    "z_swap": False,  # True: z and 1 − z swapped (h_t = z ⊙ n + (1 − z) ⊙ h_{t−1}'s backward)
    "bhn": "inside",  # "outside": ∇b_hn = Σ δa_n like ∇b_in, as if r did not multiply b_hn
    "direct": True,  # False: δh_{t−1} misses the direct path z_t ⊙ δh_t
    "r_path": True,  # False: nothing flows through r (δr = 0)
}


@dataclass(frozen=True)
class Rule:
    """A recognisable mistake: what to tell the user, where it applies, and its knobs."""

    description: str
    knobs: dict = field(default_factory=dict)
    applies: Callable[[Model], bool] = field(default=lambda model: True, compare=False)
    # True: the mistake is made on each block's own line (`dW = …` where `dW += …`), so it
    # is judged block by block, not required to leave the other blocks alone
    per_block: bool = False


def _rule(
    description: str, applies: Callable[[Model], bool], per_block: bool = False, **knobs: object
) -> Rule:
    unknown = set(knobs) - set(CORRECT_KNOBS)
    if unknown:  # a typo in the table must not silently describe the correct algorithm
        raise ValueError(f"unknown knob(s) {sorted(unknown)} in rule {description!r}")
    return Rule(description, dict(knobs), applies, per_block)


# -- where a rule applies ---------------------------------------------------------------


def _any(model: Model) -> bool:
    return True


def _cell(*cells: str) -> Callable[[Model], bool]:
    return lambda model: model.cell in cells


def _act(*names: str) -> Callable[[Model], bool]:
    return lambda model: model.cell == "rnn" and model.activation in names


def _torch(model: Model) -> bool:
    return model.biases == "torch"


def _torch_gru(model: Model) -> bool:
    return model.cell == "gru" and model.biases == "torch"


def _recurrent(model: Model) -> bool:
    # with the only loss at step 1 nothing flows back in time: the mistake cannot show
    return not (model.task == "step" and model.step == 1)


def _lstm_recurrent(model: Model) -> bool:
    return model.cell == "lstm" and _recurrent(model)


def _step_task(model: Model) -> bool:
    return model.task == "step"


def _step_after_1(model: Model) -> bool:
    # (a loss at step K + 1 cannot be told from a crash: the battery has T = K)
    return model.task == "step" and model.step > 1


def _softmax(model: Model) -> bool:
    return model.head == "softmax-ce"


def _mse(model: Model) -> bool:
    return model.head == "mse"


def _seq_output(model: Model) -> bool:
    return model.head in ("softmax-ce", "mse") and model.task == "many-to-many"


def _nonzero_h0(model: Model) -> bool:
    return model.h0 != "zero"  # with h_0 = 0 the t = 1 term of ∇W is zero


def _many_losses(model: Model) -> bool:
    return model.task == "many-to-many"


def _to_one(model: Model) -> bool:
    return model.task == "many-to-one" and model.has_output_layer


def _truncation(K: int) -> Callable[[Model], bool]:
    # the loss at step s loses the steps k < s − K: only where a loss comes after step K + 1
    # (step=K' with K' ≤ K + 1 never shows it); a ReLU chain of more than 4 steps is zero on
    # the battery (some unit is off at every step), so K ≥ 4 equals the full gradient there
    return lambda model: (
        not (model.task == "step" and model.step <= K + 1)
        and not (model.cell == "rnn" and model.activation == "relu" and K >= 4)
    )


# The truncation depths the table names (the battery's T = 8 and 9 show K = 1 … 7).
TRUNCATIONS = tuple(range(1, 8))


# One line per known mistake. Add a rule by adding a line (and a knob above if needed).
RULES: tuple[Rule, ...] = (
    _rule("sign flipped (ascent instead of descent, or y − ŷ for ŷ − y)", _any, sign=-1),
    _rule("W used where Wᵀ belongs in the recursion for ∇h_{t−1}", _any, rec_matrix="W"),
    _rule("no gradient flows back in time through h: ∇h_t gets its own step's loss only", _recurrent, future=False),
    _rule("h_t used where h_{t−1} belongs in the gradients of the recurrent weights W", _any, w_state="current"),
    _rule("∇h0 missing (returned as zero)", _any, h0="zero"),
    _rule("∇b_hh missing: the recurrent-side biases b_h· get no gradient (returned as zero)", _torch, torch_bias="ih_only"),
    _rule("∇b_ih missing: the input-side biases b_i· get no gradient (returned as zero)", _torch, torch_bias="hh_only"),
    _rule("the summed bias's gradient split in half between b_ih and b_hh (each gets the full Σ δ_t)", _torch, torch_bias="halved"),
    _rule("the summed bias's gradient given to b_ih only, twice (b_ih + b_hh is one bias, its gradient is not their sum)", _torch, torch_bias="sum_to_ih"),
    _rule("task=step=K: the loss taken at step K−1 (off by one)", _step_after_1, step=-1),
    _rule("task=step=K: the loss taken at the last step T (many-to-one) instead of step K", _step_task, step_last=True),
    _rule("`dW = …` where `dW += …` belongs: each parameter gradient keeps only the last term of its loop over t = T … 1 (t = 1)", _any, per_block=True, assign="first"),
    _rule("`dW = …` where `dW += …` belongs: each parameter gradient keeps only the last term of its loop over t = 1 … T (t = T)", _any, per_block=True, assign="last"),
    *(
        _rule(f"truncated BPTT after K = {K} step{'s' if K > 1 else ''} (bptt_truncate = {K}): the loss at step s reaches only the steps k ≥ s − {K}; the full gradient sums over every k ≤ s", _truncation(K), truncate=K)
        for K in TRUNCATIONS
    ),
    _rule("task=many-to-one: the target's loss gradient applied at every step, but the loss is at the last step only", _to_one, every_step=True),
    _rule("sum over t stops one step early (t = 1 … T−1)", _any, sum_range="stop_early"),
    _rule("sum over t starts one step late (t = 2 … T)", _any, sum_range="skip_first"),
    _rule("∇W misses its t = 1 term, the contribution of h_0", _nonzero_h0, w_skip_first=True),
    _rule("only the last step's loss reaches ∇h_t: its own step's loss missing for t < T (`dh = dh_next` where `dh += dh_next` belongs)", _many_losses, local_last=True),
    # the head
    _rule("softmax Jacobian diagonal ŷ_i(1 − ŷ_i) used for all i, j in ∇o_t (its off-diagonal −ŷ_i ŷ_j dropped)", _softmax, output="diag_jacobian"),
    _rule("∇o_t = (ŷ_t − y_t) ⊙ ŷ_t ⊙ (1 − ŷ_t): the softmax Jacobian's diagonal applied on top of ŷ_t − y_t, which is already ∇o_t", _softmax, output="extra_factor"),
    _rule("ŷ_{t−1} where ŷ_t belongs in ∇o_t (the previous step's prediction; ps[t-1], o_{t−1} for mse)", _seq_output, yhat_step="prev"),
    _rule("y_{t−1} where y_t belongs in ∇o_t (the previous step's target; ys[t-1])", _seq_output, target_step="prev"),
    _rule("∇o_t has the other MSE scale: 2(o_t − y_t) for ½‖o_t − y_t‖² (mse_scale=half), or o_t − y_t for ‖o_t − y_t‖² (mse_scale=one)", _mse, output="other_scale"),
    # the Elman cell
    _rule("missing tanh' factor (1 − h_t²)", _act("tanh"), act_deriv="none"),
    _rule("∇h0 missing the activation's derivative: ∇h_1 W instead of (∇h_1 ⊙ f'(a_1)) W", _act("tanh", "sigmoid", "relu"), h0_deriv=False),
    _rule("tanh' evaluated as 1 − a_t² (pre-activation) instead of 1 − h_t²", _act("tanh"), act_deriv="pre"),
    _rule("tanh' written 1 − h_t (the square is missing)", _act("tanh"), act_deriv="1-h"),
    _rule("tanh' taken one step early: 1 − h_{t−1}² instead of 1 − h_t²", _act("tanh"), act_step="prev"),
    _rule("tanh applied twice: tanh' written 1 − tanh(h_t)², but h_t = tanh(a_t) already (1 − h_t² belongs)", _act("tanh"), act_deriv="twice"),
    _rule("missing σ' factor h_t(1 − h_t)", _act("sigmoid"), act_deriv="none"),
    _rule("σ' evaluated as a_t(1 − a_t) (pre-activation) instead of h_t(1 − h_t)", _act("sigmoid"), act_deriv="pre"),
    _rule("σ' taken one step early: h_{t−1}(1 − h_{t−1}) instead of h_t(1 − h_t)", _act("sigmoid"), act_step="prev"),
    _rule("σ applied twice: σ' written σ(h_t)(1 − σ(h_t)), but h_t = σ(a_t) already (h_t(1 − h_t) belongs)", _act("sigmoid"), act_deriv="twice"),
    _rule("missing ReLU' factor 1[a_t > 0] (the cell differentiated as if linear)", _act("relu"), act_deriv="none"),
    _rule("ReLU' taken as ReLU(a_t) = h_t instead of the step 1[a_t > 0]", _act("relu"), act_deriv="value"),
    # the gated cells
    _rule("σ' of the gates evaluated on the pre-activation: a(1 − a) where σ(a)(1 − σ(a)) belongs", _cell("lstm", "gru"), sigma_deriv="pre"),
    _rule("σ' applied to the gate value again: σ(s)(1 − σ(s)) with s = σ(a), where s(1 − s) belongs", _cell("lstm", "gru"), sigma_deriv="twice"),
    # the LSTM
    _rule("the cell-state path is missing: δc_t lacks f_{t+1} ⊙ δc_{t+1}", _lstm_recurrent, cell_path=False),
    _rule("tanh'(c_t) forgotten: δc_t = δh_t ⊙ o_t instead of δh_t ⊙ o_t ⊙ (1 − tanh²(c_t))", _cell("lstm"), tanh_c=False),
    _rule("tanh(c_t) confused with c_t in δo_t = δh_t ⊙ tanh(c_t)", _cell("lstm"), do_tanh=False),
    _rule("c_t used where c_{t−1} belongs in δf_t = δc_t ⊙ c_{t−1}", _cell("lstm"), df_state="current"),
    _rule("the candidate's tanh' (1 − g_t²) forgotten in δg", _cell("lstm"), g_deriv=False),
    _rule("∇c0 missing (returned as zero)", _cell("lstm"), c0="zero"),
    _rule("the gradients of gates i and f swapped (∇W_i ↔ ∇W_f, ∇U_i ↔ ∇U_f, biases too)", _cell("lstm"), gate_perm=(("i", "f"),)),
    _rule("gate order mixed up: stacked as i, f, o, g (cs231n's order) but read as torch's i, f, g, o (g ↔ o swapped)", _cell("lstm"), gate_perm=(("g", "o"),)),
    # the GRU
    _rule("z and 1 − z swapped: the backward of h_t = z ⊙ n + (1 − z) ⊙ h_{t−1}, torch's is (1 − z) ⊙ n + z ⊙ h_{t−1}", _cell("gru"), z_swap=True),
    _rule("∇b_hn treated like ∇b_in: r_t multiplies (W_n h_{t−1} + b_hn), so ∇b_hn = Σ r_t ⊙ δa_n", _torch_gru, bhn="outside"),
    _rule("the direct path z_t ⊙ δh_t is missing from δh_{t−1}", _cell("gru"), direct=False),
    _rule("the path through the reset gate r is missing (δr = 0)", _cell("gru"), r_path=False),
    _rule("the gradients of gates r and z swapped (∇W_r ↔ ∇W_z, ∇U_r ↔ ∇U_z, biases too)", _cell("gru"), gate_perm=(("r", "z"),)),
)  # fmt: skip


# -- the reductions, as rules generated from the model ------------------------------------

_REDUCED_BY = {"sum": "", "mean-time": "T", "mean-batch": "B", "mean": "TB"}
_REDUCTION_TEXT = {
    "sum": "summed over time and batch",
    "mean-time": "averaged over the steps with a loss",
    "mean-batch": "averaged over the batch",
    "mean": "averaged over time and batch",
}


def _reduction_rules(model: Model) -> tuple[Rule, ...]:
    """One rule per other reduction: "a factor 1/T missing", "a factor 1/B too many", …

    T counts only where the task has more than one step with a loss (for many-to-one and
    step=K, mean-time is the sum)."""
    symbols = "TB" if model.task == "many-to-many" else "B"

    def factors(reduction: str) -> set[str]:
        return set(_REDUCED_BY[reduction]) & set(symbols)

    mine = factors(model.reduction)
    out = []
    seen = [mine]
    for other in _REDUCED_BY:
        theirs = factors(other)
        if theirs in seen:  # the same numbers as the model's, or as a rule already made
            continue
        seen.append(theirs)
        parts = [f"a factor 1/{s} missing" for s in symbols if s in mine - theirs]
        parts += [f"a factor 1/{s} too many" for s in symbols if s in theirs - mine]
        what = " and ".join(parts)
        out.append(
            _rule(
                f"{what}: the loss {_REDUCTION_TEXT[other]}, but reduction={model.reduction} "
                f"means {_REDUCTION_TEXT[model.reduction]}",
                _any,
                reduction=other,
            )
        )
    return tuple(out)


def rules_for(model: Model) -> tuple[Rule, ...]:
    """The rules that apply to `model`: the table's, then the reductions'."""
    return tuple(r for r in RULES if r.applies(model)) + _reduction_rules(model)


# -- the computation ----------------------------------------------------------------------


class NotApplicable(Exception):
    """The knobs ask for something this case does not have (a step beyond T)."""


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # no overflow of exp(−a)


def _gate_names(model: Model) -> tuple[str | None, ...]:
    return model.gates or (None,)


def _sfx(gate: str | None) -> str:
    return "" if gate is None else f"_{gate}"


def _biases(model: Model, p: dict, gate: str | None, n_h: int) -> tuple[np.ndarray, np.ndarray]:
    """(input-side, recurrent-side) bias of one pre-activation; zeros where absent."""
    zero = np.zeros(n_h)
    if model.biases == "torch":
        if gate is None:
            return p["b_ih"], p["b_hh"]
        return p[f"b_i{gate}"], p[f"b_h{gate}"]
    if model.hidden_biases:
        return p[f"b{_sfx(gate)}"], zero
    return zero, zero


def _initial(value: object, B: int, n_h: int) -> np.ndarray:
    if value is None:
        return np.zeros((B, n_h))
    return np.broadcast_to(np.asarray(value, dtype=float), (B, n_h)).copy()


def _initial_grad(grad: np.ndarray, given: object, batched: bool) -> np.ndarray:
    """∇ of an initial state in the shape of its argument (([B,] n_h) when it was None)."""
    if given is None:
        return grad if batched else grad[0]
    if np.ndim(given) == 1:  # shared by the batch: the batch's gradients add up
        return grad.sum(axis=0)
    return grad


def _sigma_prime(kind: object, s: np.ndarray, a: np.ndarray) -> np.ndarray:
    if kind == "correct":
        return s * (1.0 - s)
    if kind == "pre":
        return a * (1.0 - a)
    if kind == "twice":
        t = _sigmoid(s)
        return t * (1.0 - t)
    raise ValueError(f"unknown sigma_deriv {kind!r}")


def _act_forward(name: str, a: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(a)
    if name == "sigmoid":
        return _sigmoid(a)
    if name == "relu":
        return np.maximum(a, 0.0)
    return a.copy()


def _act_prime(name: str, kind: object, a: np.ndarray, h: np.ndarray) -> np.ndarray:
    if kind == "none":
        return np.ones_like(h)
    if name == "tanh":
        if kind == "twice":
            return 1.0 - np.tanh(h) ** 2
        return {"correct": 1.0 - h**2, "pre": 1.0 - a**2, "1-h": 1.0 - h}[kind]
    if name == "sigmoid":
        if kind == "twice":
            return _sigmoid(h) * (1.0 - _sigmoid(h))
        return {"correct": h * (1.0 - h), "pre": a * (1.0 - a)}[kind]
    if name == "relu":
        return {"correct": (a > 0).astype(float), "value": h}[kind]
    return np.ones_like(h)  # identity


@dataclass
class _Run:
    """What the backward of one cell fills in: per gate, the pre-activation gradients of
    the input side and of the recurrent side (they differ for the GRU's n), per step."""

    d_in: dict
    d_rec: dict
    dh0: np.ndarray
    dc0: np.ndarray | None = None


def _elman(model: Model, p: dict, x: np.ndarray, h0: np.ndarray, k: dict) -> tuple:
    U, W = p["U"], p["W"]
    bi, bh = _biases(model, p, None, W.shape[0])
    T = x.shape[0]
    h = [h0]
    a = [np.zeros_like(h0)]  # a_0 does not exist; "prev" reads f' of h_0 with a zero a_0
    for t in range(T):
        a.append(x[t] @ U.T + bi + h[-1] @ W.T + bh)
        h.append(_act_forward(model.activation, a[-1]))

    def backward(dh_local: list[np.ndarray], stop: int = 0) -> _Run:
        M = W if k["rec_matrix"] == "WT" else W.T
        da = [None] * (T + 1)
        carry = np.zeros_like(h0)
        for t in range(T, 0, -1):
            dh = dh_local[t] + carry
            s = t - 1 if k["act_step"] == "prev" else t
            da[t] = dh * _act_prime(model.activation, k["act_deriv"], a[s], h[s])
            back = da[t] @ M
            if t == 1 and not k["h0_deriv"]:
                back = dh @ M
            carry = back if _carried(k, t, stop) else np.zeros_like(back)
        return _Run({None: da}, {None: da}, carry)

    return h, backward


def _lstm(model: Model, p: dict, x: np.ndarray, h0: np.ndarray, c0: np.ndarray, k: dict):
    n_h = h0.shape[1]
    T = x.shape[0]
    h, c = [h0], [c0]
    pre: dict[str, list] = {q: [None] for q in "ifgo"}
    val: dict[str, list] = {q: [None] for q in "ifgo"}
    for t in range(T):
        for q in "ifgo":
            bi, bh = _biases(model, p, q, n_h)
            a = x[t] @ p[f"U_{q}"].T + bi + h[-1] @ p[f"W_{q}"].T + bh
            pre[q].append(a)
            val[q].append(np.tanh(a) if q == "g" else _sigmoid(a))
        c.append(val["f"][-1] * c[-1] + val["i"][-1] * val["g"][-1])
        h.append(val["o"][-1] * np.tanh(c[-1]))

    def backward(dh_local: list[np.ndarray], stop: int = 0) -> _Run:
        d = {q: [None] * (T + 1) for q in "ifgo"}
        carry_h = np.zeros_like(h0)
        carry_c = np.zeros_like(c0)
        dc0 = np.zeros_like(c0)
        for t in range(T, 0, -1):
            i, f, g, o = (val[q][t] for q in "ifgo")
            dh = dh_local[t] + carry_h
            tc = np.tanh(c[t])
            dc = dh * o * ((1.0 - tc**2) if k["tanh_c"] else 1.0)
            if k["cell_path"]:
                dc = dc + carry_c
            do = dh * (tc if k["do_tanh"] else c[t])
            df = dc * (c[t - 1] if k["df_state"] == "prev" else c[t])
            grads = {"i": dc * g, "f": df, "g": dc * i, "o": do}
            for q in "ifo":
                d[q][t] = grads[q] * _sigma_prime(k["sigma_deriv"], val[q][t], pre[q][t])
            d["g"][t] = grads["g"] * ((1.0 - g**2) if k["g_deriv"] else 1.0)
            carry_c = dc * f
            if t == 1:
                dc0 = carry_c
            elif t <= stop:  # truncated: nothing goes on to step t − 1
                carry_c = np.zeros_like(carry_c)
            back = sum(d[q][t] @ _rec(p[f"W_{q}"], k) for q in "ifgo")
            carry_h = back if _carried(k, t, stop) else np.zeros_like(back)
        return _Run(d, d, carry_h, dc0)

    return h, backward


def _carried(k: dict, t: int, stop: int) -> bool:
    """Whether step t's ∇ goes on to step t − 1 (to the initial state from t = 1): not
    without BPTT, nor below `stop` when truncated (the steps k ≥ stop are reached)."""
    if t == 1:
        return True
    return bool(k["future"]) and t > stop


def _rec(W: np.ndarray, k: dict) -> np.ndarray:
    # rows: a = h Wᵀ, so ∇h = δa W; W where Wᵀ belongs (columns) is δa Wᵀ here
    return W if k["rec_matrix"] == "WT" else W.T


def _gru(model: Model, p: dict, x: np.ndarray, h0: np.ndarray, k: dict):
    n_h = h0.shape[1]
    T = x.shape[0]
    b = {q: _biases(model, p, q, n_h) for q in "rzn"}
    h = [h0]
    r, z, n, hn, ar, az = ([None] for _ in range(6))
    for t in range(T):
        hp = h[-1]
        ar.append(x[t] @ p["U_r"].T + b["r"][0] + hp @ p["W_r"].T + b["r"][1])
        az.append(x[t] @ p["U_z"].T + b["z"][0] + hp @ p["W_z"].T + b["z"][1])
        r.append(_sigmoid(ar[-1]))
        z.append(_sigmoid(az[-1]))
        hn.append(hp @ p["W_n"].T + b["n"][1])
        n.append(np.tanh(x[t] @ p["U_n"].T + b["n"][0] + r[-1] * hn[-1]))
        h.append((1.0 - z[-1]) * n[-1] + z[-1] * hp)

    def backward(dh_local: list[np.ndarray], stop: int = 0) -> _Run:
        d_in = {q: [None] * (T + 1) for q in "rzn"}
        d_rec = {q: [None] * (T + 1) for q in "rzn"}
        carry = np.zeros_like(h0)
        for t in range(T, 0, -1):
            hp = h[t - 1]
            dh = dh_local[t] + carry
            if k["z_swap"]:
                dn, direct, dz = dh * z[t], dh * (1.0 - z[t]), dh * (n[t] - hp)
            else:
                dn, direct, dz = dh * (1.0 - z[t]), dh * z[t], dh * (hp - n[t])
            dan = dn * (1.0 - n[t] ** 2)
            dr = dan * hn[t] if k["r_path"] else np.zeros_like(dan)
            d_in["n"][t] = dan
            d_rec["n"][t] = dan * r[t]
            d_in["r"][t] = d_rec["r"][t] = dr * _sigma_prime(k["sigma_deriv"], r[t], ar[t])
            d_in["z"][t] = d_rec["z"][t] = dz * _sigma_prime(k["sigma_deriv"], z[t], az[t])
            back = sum(d_rec[q][t] @ _rec(p[f"W_{q}"], k) for q in "rzn")
            if k["direct"]:
                back = back + direct
            carry = back if _carried(k, t, stop) else np.zeros_like(back)
        return _Run(d_in, d_rec, carry)

    return h, backward


def _loss_steps(model: Model, T: int, k: dict) -> tuple[int, ...]:
    if model.task != "step":
        return model.loss_steps(T)
    step = T if k["step_last"] else model.step + int(k["step"])
    if not 1 <= step <= T:
        raise NotApplicable(f"step {step} outside 1 … {T}")
    return (step,)


def _targets(model: Model, y: object, batched: bool, n_y: int | None) -> np.ndarray:
    """y as (S, B, ·) float weights: one-hot rows for class indices."""
    yb = np.asarray(y)
    if model.task != "many-to-many":
        yb = yb[None]
    if not batched:
        yb = yb[:, None]
    if model.head == "softmax-ce" and yb.ndim == 2:
        return np.eye(n_y)[yb.astype(int)]
    return yb.astype(float)


def _loss_term(model: Model, o: np.ndarray, target: np.ndarray) -> float:
    if model.head == "softmax-ce":
        shifted = o - o.max(axis=-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        return -float(np.sum(target * log_p))
    if model.head == "mse":
        factor = 0.5 if model.mse_scale == "half" else 1.0
        return factor * float(np.sum((o - target) ** 2))
    return float(np.sum(target * o))  # generic: y holds ∇_{o_t} l


def _output_grad(model: Model, o: np.ndarray, target: np.ndarray, k: dict) -> np.ndarray:
    """∇o_t of one step's loss term (with the head's knobs)."""
    if model.head == "softmax-ce":
        shifted = o - o.max(axis=-1, keepdims=True)
        prob = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
        weight = target.sum(axis=-1, keepdims=True)
        if k["output"] == "diag_jacobian":  # −y_i/ŷ_i times ŷ_i(1 − ŷ_i), the diagonal only
            return -target * (1.0 - prob)
        correct = weight * prob - target
        if k["output"] == "extra_factor":
            return correct * prob * (1.0 - prob)
        return correct
    if model.head == "mse":
        factor = 0.5 if model.mse_scale == "half" else 1.0
        if k["output"] == "other_scale":
            factor = 1.0 if model.mse_scale == "half" else 0.5
        return 2.0 * factor * (o - target)
    return target


def _total(runs: list, gates: tuple, T: int, B: int, n_h: int) -> _Run:
    """The sum of backward passes (one per loss step)."""
    zero = np.zeros((B, n_h))

    def add(field: str) -> dict:
        return {
            q: [None]
            + [sum((getattr(r, field)[q][t] for r in runs), zero) for t in range(1, T + 1)]
            for q in gates
        }

    dh0 = sum((r.dh0 for r in runs), zero)
    dc0 = sum((r.dc0 for r in runs), zero) if runs and runs[0].dc0 is not None else None
    return _Run(add("d_in"), add("d_rec"), dh0, dc0)


def _denominator(reduction: str, steps: int, B: int) -> int:
    return {"sum": 1, "mean-time": steps, "mean-batch": B, "mean": steps * B}[reduction]


def variant(
    model: Model,
    params: dict,
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    knobs: dict | None = None,
) -> tuple[float, dict[str, np.ndarray]]:
    """(loss, grads keyed by model.gradient_names()) with the given mistakes switched on.

    Raises NotApplicable when the knobs ask for a loss step the case does not have."""
    k = {**CORRECT_KNOBS, **(knobs or {})}
    unknown = set(k) - set(CORRECT_KNOBS)
    if unknown:
        raise ValueError(f"unknown knob(s) {sorted(unknown)}")
    p = {name: np.asarray(v, dtype=float) for name, v in params.items()}
    x = np.asarray(x, dtype=float)
    batched = x.ndim == 3
    xb = x if batched else x[:, None, :]
    T, B, _ = xb.shape
    gates = _gate_names(model)
    n_h = p[f"W{_sfx(gates[0])}"].shape[0]
    n_y = p["V"].shape[0] if model.has_output_layer else None
    steps = _loss_steps(model, T, k)
    targets = _targets(model, y, batched, n_y)
    h_init = _initial(h0, B, n_h)

    if model.cell == "rnn":
        h, backward = _elman(model, p, xb, h_init, k)
    elif model.cell == "lstm":
        h, backward = _lstm(model, p, xb, h_init, _initial(c0, B, n_h), k)
    else:
        h, backward = _gru(model, p, xb, h_init, k)

    # The head: the loss terms and ∇h_t of each step's own loss (before any reduction).
    loss = 0.0
    dh_local = [np.zeros((B, n_h)) for _ in range(T + 1)]
    out: dict[str, np.ndarray] = {}
    if model.has_output_layer:
        out["V"] = np.zeros_like(p["V"])
        if model.output_bias:
            out["c"] = np.zeros(n_y)
    outputs = {
        t: h[t] @ p["V"].T + (p["c"] if model.output_bias else 0.0)
        for t in range(1, T + 1)
        if model.has_output_layer
    }
    # the steps whose ∇o_t is formed: the loss steps, or every step (many-to-one's target
    # applied at each one); where ∇o_t reads ŷ and y (a step early, wrapping round)
    formed = range(1, T + 1) if k["every_step"] else steps
    for row, t in enumerate(steps):
        target = targets[row if model.task == "many-to-many" else 0]
        if model.head == "given":
            loss += float(np.sum(target * h[t]))
            if k["source"] in (None, t):
                dh_local[t] = target
            continue
        loss += _loss_term(model, outputs[t], target)
    dos = {}
    for row, t in enumerate(formed if model.has_output_layer else ()):
        if k["source"] is not None and t != k["source"]:
            continue
        o_step = (t - 1 or T) if k["yhat_step"] == "prev" else t  # ŷ_0 reads ŷ_T
        y_row = row if model.task == "many-to-many" else 0
        if k["target_step"] == "prev":
            y_row = (row - 1) % len(steps)
        dos[t] = _output_grad(model, outputs[o_step], targets[y_row], k)
        dh_local[t] = dos[t] @ p["V"]
    # `dV = …` where `dV +=` belongs keeps one step's term (the first or last formed)
    kept = list(dos)
    if k["assign"] != "all":
        kept = kept[:1] if k["assign"] == "first" else kept[-1:]
    if k["term"] is not None:
        kept = [t for t in kept if t == k["term"]]
    if k["sum_range"] == "stop_early":
        kept = [t for t in kept if t < T]
    elif k["sum_range"] == "skip_first":
        kept = [t for t in kept if t > 1]
    for t in kept:
        out["V"] += dos[t].T @ h[t]
        if model.output_bias:
            out["c"] += dos[t].sum(axis=0)

    if k["local_last"]:  # the recursion gets the last step's loss only
        dh_local = [d if t == T else np.zeros_like(d) for t, d in enumerate(dh_local)]
    if k["truncate"] is None:
        run = backward(dh_local)
    else:  # one backward pass per loss step, each stopped K steps below it
        runs = []
        for s_step in sorted(dos) if dos else steps:
            only = [np.zeros((B, n_h)) for _ in range(T + 1)]
            only[s_step] = dh_local[s_step]
            runs.append(backward(only, stop=s_step - int(k["truncate"])))
        run = _total(runs, gates, T, B, n_h)
    ts = list(range(1, T + 1))
    if k["assign"] == "first":
        ts = ts[:1]
    elif k["assign"] == "last":
        ts = ts[-1:]
    if k["term"] is not None:
        ts = [t for t in ts if t == k["term"]]
    if k["sum_range"] == "stop_early":
        ts = [t for t in ts if t < T]
    elif k["sum_range"] == "skip_first":
        ts = [t for t in ts if t > 1]
    w_ts = [t for t in ts if t > 1] if k["w_skip_first"] else ts
    w_shift = 0 if k["w_state"] == "current" else 1
    for q in gates:
        s = _sfx(q)
        out[f"U{s}"] = sum(
            (run.d_in[q][t].T @ xb[t - 1] for t in ts), np.zeros((n_h, xb.shape[-1]))
        )
        out[f"W{s}"] = sum((run.d_rec[q][t].T @ h[t - w_shift] for t in w_ts), np.zeros((n_h, n_h)))
        d_in = sum((run.d_in[q][t].sum(axis=0) for t in ts), np.zeros(n_h))
        d_rec = sum((run.d_rec[q][t].sum(axis=0) for t in ts), np.zeros(n_h))
        if model.biases == "torch":
            if q == "n" and k["bhn"] == "outside":
                d_rec = d_in
            zero = np.zeros(n_h)
            ih, hh = {
                "both": (d_in, d_rec),
                "ih_only": (d_in, zero),
                "hh_only": (zero, d_rec),
                "halved": (d_in / 2, d_rec / 2),
                "sum_to_ih": (d_in + d_rec, zero),
            }[str(k["torch_bias"])]
            out["b_ih" if q is None else f"b_i{q}"] = ih
            out["b_hh" if q is None else f"b_h{q}"] = hh
        elif model.hidden_biases:
            out[f"b{s}"] = d_in
    for a, b in k["gate_perm"]:
        for name in list(out):
            base, _, rest = name.partition("_")
            if rest in (a, b) and base in ("U", "W"):
                other = f"{base}_{b if rest == a else a}"
                if name < other:
                    out[name], out[other] = out[other], out[name]
            elif base == "b" and rest[-1:] in (a, b) and len(rest) in (1, 2):
                other = f"b_{rest[:-1]}{b if rest[-1] == a else a}"
                if name < other:
                    out[name], out[other] = out[other], out[name]
    out["h0"] = _initial_grad(run.dh0, h0, batched)
    if k["h0"] == "zero":
        out["h0"] = np.zeros_like(out["h0"])
    if model.cell == "lstm":
        out["c0"] = _initial_grad(run.dc0, c0, batched)
        if k["c0"] == "zero":
            out["c0"] = np.zeros_like(out["c0"])
    if k["term"] not in (None, 1):  # the initial states belong to the term of step 1
        for name in ("h0", "c0"):
            if name in out:
                out[name] = np.zeros_like(out[name])

    reduction = model.reduction if k["reduction"] is None else str(k["reduction"])
    scale = float(k["sign"]) / _denominator(reduction, len(steps), B)
    grads = {name: np.asarray(out[name] * scale, dtype=float) for name in model.gradient_names()}
    return loss * scale, grads
