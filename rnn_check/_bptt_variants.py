"""Known mistakes in backward passes, as data, and the NumPy BPTT that makes them.

`backward(forward_values, knobs)` is a plain BPTT for the canonical model whose every
formula has a knob; the correct algorithm is the default setting of every knob. A known
mistake is one line of `RULES`: a description and the knobs it turns. The checker computes
each rule's gradient on the same cases as the user's code and reports the rules whose block
matches the user's block everywhere. This module is written from NOTATION.md alone: it
shares no code with `rnn_num` (the truth the checker compares against), so a bug here can
only weaken a diagnosis, never turn a wrong gradient into a CORRECT verdict.

Arrays are batch-major inside: x (T, B, n_x), y (T, B) integers, h0 (B, n_h).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BLOCKS = ("U", "W", "V", "b", "c", "h0")


@dataclass(frozen=True)
class Rule:
    """A recognisable mistake: what to tell the user, and the knobs that make it."""

    description: str
    knobs: dict = field(default_factory=dict)
    # True: the mistake is made on each block's own line (`dW = …` where `dW += …`), so it
    # is judged block by block, not required to leave the other blocks alone
    per_block: bool = False


def _rule(description: str, per_block: bool = False, **knobs: object) -> Rule:
    unknown = set(knobs) - set(CORRECT_KNOBS)
    if unknown:  # a typo in the table must not silently describe the correct algorithm
        raise ValueError(f"unknown knob(s) {sorted(unknown)} in rule {description!r}")
    return Rule(description, dict(knobs), per_block)


# The correct algorithm. Meaning of each knob (and its wrong settings):
CORRECT_KNOBS: dict[str, object] = {
    "output": "softmax_ce",  # ∇o_t = ŷ_t − e_y; "diag_jacobian": only the Jacobian's diagonal;
    # "extra_factor": (ŷ_t − e_y) ⊙ ŷ_t ⊙ (1 − ŷ_t), the diagonal applied once more
    "yhat_step": "same",  # "prev": ŷ_{t−1} − e_{y_t} (Python's ps[t-1]: ŷ_0 reads ŷ_T)
    "target_step": "same",  # "prev": ŷ_t − e_{y_{t−1}} (y_0 reads y_T, as ys[t-1] does)
    "rec_matrix": "WT",  # ∇h_{t−1} gets Wᵀ(…); "W": the transpose forgotten
    "rec_deriv": "1-h^2",  # tanh' inside the recursion: "1-a^2", "1-h", "none"
    "rec_step": "same",  # ∇h_{t−1} = Wᵀ(g_t ⊙ ∇h_t); "prev": g_{t−1} used instead
    "blk_deriv": "1-h^2",  # tanh' in the parameter gradients (∇a_t = g_t ⊙ ∇h_t)
    "blk_step": "same",  # "prev": g_{t−1} in the parameter gradients
    "future": True,  # False: ∇h_t = Vᵀ∇o_t only, nothing flows back in time
    "local": "all",  # "last": only the last step's loss enters ∇h_t
    "w_state": "prev",  # ∇W = Σ ∇a_t h_{t−1}ᵀ; "current": h_t instead
    "sum_range": "full",  # Σ over t = 1…T; "stop_early": 1…T−1; "skip_first": 2…T
    "w_skip_first": False,  # True: ∇W drops its t = 1 term (the one holding h_0)
    "h0": "correct",  # ∇h0 = Wᵀ(g_1 ⊙ ∇h_1); "zero"; "no_deriv": Wᵀ∇h_1
    "sign": 1,  # −1: every gradient (and the loss) negated
    "scale": "sum",  # "T", "B", "TB": averaged over time / batch / both instead of summed
    "assign": "all",  # parameter gradients Σ over t; "first": only t = 1's term kept (`dW =`
    # where `dW +=` belongs, in a loop t = T … 1), "last": only t = T's (in a loop 1 … T)
    "truncate": None,  # K: truncated BPTT, loss step s reaches the steps k ≥ s − K only
}

# The truncation depths the table names (the battery's T = 8 and 9 show K = 1 … 7).
TRUNCATIONS = tuple(range(1, 8))

# One line per known mistake. Add a rule by adding a line (and a knob above if needed).
RULES: tuple[Rule, ...] = (
    _rule("sign flipped (ascent instead of descent, or y − ŷ for ŷ − y)", sign=-1),
    _rule("W used where Wᵀ belongs in the recursion for ∇h_t", rec_matrix="W"),
    _rule("missing tanh' factor diag(1 − h_t²) everywhere", rec_deriv="none", blk_deriv="none"),
    _rule("missing tanh' factor diag(1 − h_t²) in the recursion for ∇h_t", rec_deriv="none"),
    _rule("missing tanh' factor diag(1 − h_t²) in the parameter gradients", blk_deriv="none"),
    _rule("tanh' evaluated as 1 − a_t² (pre-activation) instead of 1 − h_t²", rec_deriv="1-a^2", blk_deriv="1-a^2"),
    _rule("tanh' written 1 − h_t (the square is missing)", rec_deriv="1-h", blk_deriv="1-h"),
    _rule("tanh applied twice: tanh' written 1 − tanh(h_t)², but h_t = tanh(a_t) already (1 − h_t² belongs)", rec_deriv="1-tanh(h)^2", blk_deriv="1-tanh(h)^2"),
    _rule("tanh' taken one step early: 1 − h_{t−1}² instead of 1 − h_t²", rec_step="prev", blk_step="prev"),
    _rule("tanh' at h_t instead of h_{t+1} in the recursion for ∇h_t", rec_step="prev"),
    _rule("h_t used where h_{t−1} belongs in ∇W", w_state="current"),
    _rule("sum over t stops one step early (t = 1 … T−1)", sum_range="stop_early"),
    _rule("sum over t starts one step late (t = 2 … T)", sum_range="skip_first"),
    _rule("∇W misses its t = 1 term, the contribution of h_0", w_skip_first=True),
    _rule("no gradient flows back in time: ∇h_t = Vᵀ∇o_t, the term Wᵀ diag(1 − h_{t+1}²) ∇h_{t+1} is missing (or `dh = …` overwrote the carried dh_next)", future=False),
    _rule("only the last step's loss reaches ∇h_t: Vᵀ∇o_t missing for t < T (`dh = dh_next` where `dh += dh_next` belongs)", local="last"),
    _rule("∇h0 missing (returned as zero)", h0="zero"),
    _rule("∇h0 missing the tanh' factor: Wᵀ∇h_1 instead of Wᵀ diag(1 − h_1²) ∇h_1", h0="no_deriv"),
    _rule("softmax Jacobian diagonal ŷ_i(1 − ŷ_i) used for all i, j in ∇o_t (its off-diagonal −ŷ_i ŷ_j dropped)", output="diag_jacobian"),
    _rule("∇o_t = (ŷ_t − y_t) ⊙ ŷ_t ⊙ (1 − ŷ_t): the softmax Jacobian's diagonal applied on top of ŷ_t − y_t, which is already ∇o_t", output="extra_factor"),
    _rule("ŷ_{t−1} where ŷ_t belongs in ∇o_t = ŷ_t − y_t (the previous step's prediction; ps[t-1])", yhat_step="prev"),
    _rule("y_{t−1} where y_t belongs in ∇o_t = ŷ_t − y_t (the previous step's target; ys[t-1])", target_step="prev"),
    _rule("`dW = …` where `dW += …` belongs: each parameter gradient keeps only the last term of its loop over t = T … 1 (t = 1)", per_block=True, assign="first"),
    _rule("`dW = …` where `dW += …` belongs: each parameter gradient keeps only the last term of its loop over t = 1 … T (t = T)", per_block=True, assign="last"),
    *(
        _rule(f"truncated BPTT after K = {K} step{'s' if K > 1 else ''} (bptt_truncate = {K}): the loss at step s reaches only the steps k ≥ s − {K}; the full gradient sums over every k ≤ s", truncate=K)
        for K in TRUNCATIONS
    ),
    _rule("averaged over T instead of summed over time", scale="T"),
    _rule("averaged over the batch instead of summed", scale="B"),
    _rule("averaged over time and batch instead of summed", scale="TB"),
)  # fmt: skip


@dataclass(frozen=True)
class Forward:
    """Forward values of one case, batch-major: a, h (T+1 states, h[0] = h0), ŷ."""

    params: dict
    x: np.ndarray  # (T, B, n_x)
    y: np.ndarray  # (T, B) integers
    a: np.ndarray  # (T, B, n_h)
    h: np.ndarray  # (T + 1, B, n_h)
    yhat: np.ndarray  # (T, B, n_y)


def forward(params: dict, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> Forward:
    U, W, V, b, c = (np.asarray(params[k], dtype=float) for k in ("U", "W", "V", "b", "c"))
    T, B, _ = x.shape
    h = np.empty((T + 1, B, W.shape[0]))
    h[0] = h0
    a = np.empty((T, B, W.shape[0]))
    for t in range(T):
        a[t] = b + h[t] @ W.T + x[t] @ U.T
        h[t + 1] = np.tanh(a[t])
    o = c + h[1:] @ V.T
    o = o - o.max(axis=-1, keepdims=True)
    e = np.exp(o)
    yhat = e / e.sum(axis=-1, keepdims=True)
    return Forward(dict(U=U, W=W, V=V, b=b, c=c), x, np.asarray(y), a, h, yhat)


def _deriv(kind: object, a: np.ndarray, h: np.ndarray) -> np.ndarray:
    if kind == "1-h^2":
        return 1.0 - h**2
    if kind == "1-a^2":
        return 1.0 - a**2
    if kind == "1-h":
        return 1.0 - h
    if kind == "1-tanh(h)^2":
        return 1.0 - np.tanh(h) ** 2
    if kind == "none":
        return np.ones_like(h)
    raise ValueError(f"unknown derivative kind {kind!r}")


def backward(fw: Forward, knobs: dict | None = None) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and gradients (U, W, V, b, c, h0) with the given mistakes switched on."""
    k = {**CORRECT_KNOBS, **(knobs or {})}
    W, V = fw.params["W"], fw.params["V"]
    T, B, n_y = fw.yhat.shape
    onehot = np.zeros_like(fw.yhat)
    np.put_along_axis(onehot, fw.y[..., None], 1.0, axis=-1)
    loss = -float(np.sum(np.log(np.take_along_axis(fw.yhat, fw.y[..., None], axis=-1))))

    # ŷ and the one-hot target ∇o_t reads: a step too early wraps round as a Python list does
    yhat = np.roll(fw.yhat, 1, axis=0) if k["yhat_step"] == "prev" else fw.yhat
    target = np.roll(onehot, 1, axis=0) if k["target_step"] == "prev" else onehot
    if k["output"] == "softmax_ce":
        do = yhat - target
    elif k["output"] == "extra_factor":
        do = (yhat - target) * yhat * (1.0 - yhat)
    else:  # diag_jacobian: ∂L/∂ŷ = −e_y/ŷ_y times ŷ(1 − ŷ) only on the diagonal
        p_y = np.sum(yhat * target, axis=-1, keepdims=True)
        do = -(1.0 - p_y) * target

    # g[t] multiplies ∇h at state t (t = 0 … T); index 0 is the tanh' of h0 (for "prev").
    # a_0 does not exist; zeros keep the table total (no rule reads 1 − a_0²).
    a_full = np.concatenate([np.zeros_like(fw.h[:1]), fw.a])
    g_rec = _deriv(k["rec_deriv"], a_full, fw.h)
    g_blk = _deriv(k["blk_deriv"], a_full, fw.h)
    shift_rec = 1 if k["rec_step"] == "prev" else 0
    shift_blk = 1 if k["blk_step"] == "prev" else 0
    M = W.T if k["rec_matrix"] == "WT" else W

    local = do @ V  # row-vector form of Vᵀ ∇o_t, shape (T, B, n_h)
    if k["local"] == "last":
        local = local.copy()
        local[:-1] = 0.0
    dh = np.zeros_like(fw.h)  # dh[t] = ∇h_t, t = 0 … T
    dh[T] = local[T - 1]
    for t in range(T, 0, -1):
        back = (g_rec[t - shift_rec] * dh[t]) @ M.T
        if t == 1:
            if k["h0"] == "correct":
                dh[0] = back
            elif k["h0"] == "no_deriv":
                dh[0] = dh[1] @ M.T
            break
        dh[t - 1] = local[t - 2] + (back if k["future"] else 0.0)

    if k["truncate"] is not None:
        dh = _truncated(local, g_rec, W, int(k["truncate"]))

    ts = np.arange(1, T + 1)
    if k["sum_range"] == "stop_early":
        ts = ts[:-1]
    elif k["sum_range"] == "skip_first":
        ts = ts[1:]
    if k["assign"] == "first":
        ts = ts[:1]
    elif k["assign"] == "last":
        ts = ts[-1:]
    da = np.stack([g_blk[t - shift_blk] * dh[t] for t in range(T + 1)])  # index t = state t
    w_ts = ts[ts > 1] if k["w_skip_first"] else ts
    w_state = 0 if k["w_state"] == "current" else 1
    grads = {
        "U": sum((da[t].T @ fw.x[t - 1] for t in ts), np.zeros_like(fw.params["U"])),
        "W": sum((da[t].T @ fw.h[t - w_state] for t in w_ts), np.zeros_like(W)),
        "V": sum((do[t - 1].T @ fw.h[t] for t in ts), np.zeros_like(V)),
        "b": sum((da[t].sum(axis=0) for t in ts), np.zeros(W.shape[0])),
        "c": sum((do[t - 1].sum(axis=0) for t in ts), np.zeros(n_y)),
        "h0": dh[0],
    }
    factor = float(k["sign"]) / {"sum": 1, "T": T, "B": B, "TB": T * B}[str(k["scale"])]
    return loss * factor, {name: value * factor for name, value in grads.items()}


def _truncated(local: np.ndarray, g: np.ndarray, W: np.ndarray, K: int) -> np.ndarray:
    """∇h_t (t = 0 … T) of truncated BPTT, as WildML's `bptt_truncate` computes it: the
    loss at step s is carried back through the steps s, s − 1, …, max(1, s − K) only;
    h_0 gets what the steps that reach step 1 carry on."""
    T = local.shape[0]
    dh = np.zeros((T + 1, *local.shape[1:]))
    for s in range(1, T + 1):
        carried = local[s - 1]
        for t in range(s, max(1, s - K) - 1, -1):
            dh[t] += carried
            carried = (g[t] * carried) @ W  # row form of Wᵀ diag(g_t) ∇h_t
        if s - K <= 1:
            dh[0] += carried
    return dh
