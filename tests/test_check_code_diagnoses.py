"""Diagnoses of mistakes seen in real hand-written backward passes (issue 12, item 5).

Every backward pass here is written in the test, in plain NumPy, independently of rnn_num
(the checker's truth) and of the mistake tables (`_bptt_variants`, `_gated_variants`): one
sequence at a time, column vectors, loops over time as in min-char-rnn, WildML and
cs231n, and each mistake written at the one line where people make it. The checker must
name exactly the mistake written (and nothing else), for the canonical model (legacy
keywords: `_bptt_variants`) and for the other models and tasks (`_gated_variants`).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from rnn_check import Status, check_backward, check_block, format_verdict
from rnn_spec import parse_model


def _sequence(p, x, y, h0, *, head, task, step, bug, K):
    """(loss, grads) of one sequence, summed over its loss steps; x (T, n_x)."""
    U, W, V, b, c = (np.asarray(p[k], dtype=float) for k in ("U", "W", "V", "b", "c"))
    T, n_h = x.shape[0], W.shape[0]
    hs = [np.asarray(h0, dtype=float).reshape(n_h, 1)]
    for t in range(T):
        hs.append(np.tanh(b[:, None] + W @ hs[-1] + U @ x[t][:, None]))
    real = {T - 1} if task == "many-to-one" else {step - 1} if task == "step" else set(range(T))
    losses = set(range(T)) if bug == "every_step" else real  # where ∇o_t is formed
    outs = [c[:, None] + V @ hs[t + 1] for t in range(T)]
    probs = [np.exp(o - o.max()) / np.exp(o - o.max()).sum() for o in outs]
    loss = 0.0
    dos = {}
    for t in sorted(losses):
        target = y if task != "many-to-many" else y[t]
        if head == "mse":
            diff = outs[t] - np.asarray(target, dtype=float).reshape(-1, 1)
            if t in real:
                loss += 0.5 * float(np.sum(diff**2))
            o_t = outs[t - 1] if bug == "yhat_prev" else outs[t]  # outs[-1] at t = 0
            diff = o_t - np.asarray(target, dtype=float).reshape(-1, 1)
            dos[t] = 2 * diff if bug == "mse_no_half" else diff
            continue
        cls = int(target)
        if t in real:
            loss -= float(np.log(probs[t][cls, 0]))
        p_t = probs[t - 1] if bug == "yhat_prev" else probs[t]  # ps[t-1]: ps[-1] at t = 0
        if bug == "target_prev":
            cls = int(y[t - 1])  # ys[t-1]: ys[-1] at t = 0
        onehot = np.zeros_like(p_t)
        onehot[cls, 0] = 1.0
        if bug == "softmax_diag":  # dL/dŷ = −1/ŷ_y at y, times ŷ(1 − ŷ): the diagonal only
            dos[t] = -onehot * (1.0 - p_t)
        elif bug == "softmax_extra":  # (ŷ − y) times the "derivative of the softmax" again
            dos[t] = (p_t - onehot) * p_t * (1.0 - p_t)
        else:
            dos[t] = p_t - onehot
    g = {k: np.zeros_like(v) for k, v in (("U", U), ("W", W), ("V", V))}
    g["b"], g["c"] = np.zeros((n_h, 1)), np.zeros((V.shape[0], 1))
    g["h0"] = np.zeros((n_h, 1))
    if bug == "truncate":  # WildML's bptt_truncate
        for t in reversed(range(T)):
            if t not in dos:
                continue
            g["V"] += dos[t] @ hs[t + 1].T
            g["c"] += dos[t]
            delta = (V.T @ dos[t]) * (1 - hs[t + 1] ** 2)
            for k in range(t, max(0, t - K) - 1, -1):
                g["W"] += delta @ hs[k].T
                g["U"] += delta @ x[k][None, :]
                g["b"] += delta
                if k == 0:
                    g["h0"] += W.T @ delta
                delta = (W.T @ delta) * (1 - hs[k] ** 2)
        return loss, g
    dh_next = np.zeros((n_h, 1))
    for t in reversed(range(T)):
        do = dos.get(t, np.zeros((V.shape[0], 1)))
        if bug == "assign_all":  # `dV =`, `dc =` where `+=` belongs
            g["V"], g["c"] = do @ hs[t + 1].T, do.copy()
        elif bug != "assign_V_forward":
            g["V"] += do @ hs[t + 1].T
            g["c"] += do
        dh = V.T @ do + dh_next
        h = hs[t + 1]
        twice = bug in ("tanh_twice", "clip_entries_tanh_twice")
        deriv = 1.0 - np.tanh(h) ** 2 if twice else 1.0 - h**2
        da = deriv * dh
        if bug in ("assign_all", "assign_W", "assign_V_forward"):
            g["W"] = da @ hs[t].T  # the bug: `dW = …`
        else:
            g["W"] += da @ hs[t].T
        if bug in ("assign_all", "assign_V_forward"):
            g["U"], g["b"] = da @ x[t][None, :], da.copy()
        else:
            g["U"] += da @ x[t][None, :]
            g["b"] += da
        dh_next = (W if bug in ("W_not_transposed", "clip_transposed") else W.T) @ da
    if bug == "assign_V_forward":  # dV, dc computed in the forward loop with `=`: t = T − 1
        t = T - 1
        do = dos.get(t, np.zeros((V.shape[0], 1)))
        g["V"], g["c"] = do @ hs[t + 1].T, do.copy()
    g["h0"] = dh_next
    return loss, g


def plain(
    params,
    x,
    y,
    h0=None,
    *,
    head="softmax",
    task="many-to-many",
    step=None,
    reduction="sum",
    bug=None,
    K=None,
    clip=None,
):
    """The loss and gradients for x of shape (T, [B,] n_x); h0 (n_h,) shared by the batch,
    or (B, n_h) one row per sequence."""
    n_h = np.shape(params["W"])[0]
    x = np.asarray(x, dtype=float)
    h0 = np.zeros(n_h) if h0 is None else np.asarray(h0, dtype=float)
    one = functools.partial(_sequence, head=head, task=task, step=step, bug=bug, K=K)
    if x.ndim == 2:
        loss, g = one(params, x, y, h0)
        rows, B = None, 1
    else:
        B = x.shape[1]
        loss, g, rows = 0.0, None, []
        for i in range(B):
            y_i = y[:, i] if task == "many-to-many" else y[i]
            l_i, g_i = one(params, x[:, i], y_i, h0 if h0.ndim == 1 else h0[i])
            loss += l_i
            rows.append(g_i["h0"].ravel())
            g = g_i if g is None else {k: g[k] + g_i[k] for k in g}
    out = {k: v.reshape(np.shape(params[k])) for k, v in g.items() if k != "h0"}
    out["h0"] = g["h0"].ravel() if h0.ndim == 1 or rows is None else np.stack(rows)
    steps = x.shape[0] if task == "many-to-many" else 1
    scale = {"sum": 1, "mean-time": steps, "mean-batch": B, "mean": steps * B}[reduction]
    out = {k: v / scale for k, v in out.items()}
    if bug == "clip_transposed":  # clip by the norm of all gradients together (torch's way)
        norm = np.sqrt(sum(float(np.sum(v**2)) for v in out.values()))
        out = {k: v * min(1.0, clip / norm) for k, v in out.items()}
    if bug == "clip_entries_tanh_twice":  # np.clip(dparam, -5, 5) as min-char-rnn does
        out = {k: np.clip(v, -clip, clip) for k, v in out.items()}
    return loss / scale, out


def _only(verdict, phrase):
    """The verdict is WRONG with one diagnosis, starting with the phrase."""
    assert verdict.status is Status.WRONG, format_verdict(verdict)
    assert len(verdict.diagnosis) == 1, verdict.diagnosis
    assert verdict.diagnosis[0].startswith(phrase), verdict.diagnosis
    return verdict.diagnosis[0]


# Where each table is used: no model (the legacy keywords) is `_bptt_variants`; a model
# other than the legacy one (here h0 per sequence) is `_gated_variants`.
TABLES = {"canonical table": {}, "model table": {"model": "h0=per-sequence"}}


def test_the_plain_backward_without_a_bug_is_correct():
    for options in TABLES.values():
        verdict = check_backward(plain, **options)
        assert verdict.status is Status.CORRECT, format_verdict(verdict)
    # and every task and reduction below, so a WRONG verdict there is the bug's
    for model, kw in TASKS.values():
        verdict = check_backward(functools.partial(plain, **kw), model=model)
        assert verdict.status is Status.CORRECT, format_verdict(verdict)


# ---------------------------------------------------------------- 1. the new mistakes

NEW = {
    "tanh_twice": "tanh applied twice: tanh' written 1 − tanh(h_t)²",
    "softmax_diag": "softmax Jacobian diagonal ŷ_i(1 − ŷ_i) used for all i, j in ∇o_t (its off-diagonal",
    "softmax_extra": "∇o_t = (ŷ_t − y_t) ⊙ ŷ_t ⊙ (1 − ŷ_t)",
    "yhat_prev": "ŷ_{t−1} where ŷ_t belongs in ∇o_t",
    "target_prev": "y_{t−1} where y_t belongs in ∇o_t",
}


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("bug", NEW)
def test_each_new_mistake_is_named(bug, table):
    _only(check_backward(functools.partial(plain, bug=bug), **TABLES[table]), NEW[bug])


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("K", range(1, 7))
def test_truncated_bptt_is_named_with_its_k(K, table):
    fn = functools.partial(plain, bug="truncate", K=K)
    verdict = check_backward(fn, **TABLES[table])
    line = _only(verdict, f"truncated BPTT after K = {K} step")
    assert f"k ≥ s − {K}" in line
    # the blame map finds the same K, from the user's own function on prefixes
    blame = verdict.extra["blame"]
    assert (
        blame["pattern"]
        == f"each loss step s keeps only k ≥ s − {K}: BPTT truncated after K = {K} steps"
    )
    T = blame["T"]
    assert T == 8 and [len(row) for row in blame["rows"]] == list(range(1, T + 1))
    for s, row in enumerate(blame["rows"], 1):
        assert row == ["✓" if k >= s - K else "✗" for k in range(1, s + 1)]
    assert all(mark == "✓" for mark in blame["head"])  # V and c: every loss step right
    text = format_verdict(verdict)
    assert "Blame map (T=8" in text and f"BPTT truncated after K = {K} steps" in text


@pytest.mark.parametrize("table", TABLES)
def test_assignment_where_accumulation_belongs_is_named_per_block(table):
    options = TABLES[table]
    # every parameter gradient assigned in the backward loop: only t = 1's term is kept
    line = _only(check_backward(functools.partial(plain, bug="assign_all"), **options), "`dW = …`")
    assert "t = T … 1 (t = 1)" in line and "(explains ∇U, ∇W, ∇V, ∇b, ∇c)" in line
    # only `dW =`: the diagnosis names ∇W alone
    line = _only(check_backward(functools.partial(plain, bug="assign_W"), **options), "`dW = …`")
    assert line.endswith("(explains ∇W)")
    # dV, dc assigned in the forward loop (t = T) and dU, dW, db in the backward loop (t = 1)
    verdict = check_backward(functools.partial(plain, bug="assign_V_forward"), **options)
    assert verdict.status is Status.WRONG and len(verdict.diagnosis) == 2, verdict.diagnosis
    first, last = sorted(verdict.diagnosis, key=lambda d: "t = 1 … T" in d)
    assert "(t = 1) (explains ∇U, ∇W, ∇b)" in first
    assert "(t = T) (explains ∇V, ∇c)" in last


@pytest.mark.parametrize("table", TABLES)
def test_clipping_on_top_of_a_mistake_names_both(table):
    fn = functools.partial(plain, bug="clip_transposed", clip=0.5)
    line = _only(check_backward(fn, **TABLES[table]), "W used where Wᵀ belongs")
    assert "and then the gradient clipped by its norm" in line
    assert "(explains ∇U, ∇W, ∇V, ∇b, ∇c, ∇h0)" in line
    fn = functools.partial(plain, bug="clip_entries_tanh_twice", clip=0.3)
    line = _only(check_backward(fn, **TABLES[table]), NEW["tanh_twice"])
    assert "and then entries clipped to a bound (elementwise gradient clipping)" in line


def test_the_true_gradient_clipped_is_still_clipping_alone():
    def clipped(params, x, y, h0=None):
        loss, g = plain(params, x, y, h0)
        norm = np.sqrt(sum(float(np.sum(v**2)) for v in g.values()))
        return loss, {k: v * min(1.0, 0.5 / norm) for k, v in g.items()}

    verdict = check_backward(clipped)
    assert verdict.status is Status.WRONG
    assert all("and then" not in d for d in verdict.diagnosis), verdict.diagnosis
    assert any("looks like gradient clipping by norm" in d for d in verdict.diagnosis)


# ---------------------------------------------------------------- 2. every task and head

TASKS = {
    "many-to-one": ("task=many-to-one,h0=shared", {"task": "many-to-one"}),
    "mse": ("head=mse,h0=shared", {"head": "mse"}),
    "mean": ("reduction=mean,h0=shared", {"reduction": "mean"}),
    "mean-time": ("reduction=mean-time,h0=per-sequence", {"reduction": "mean-time"}),
    "step": ("task=step=3,h0=shared", {"task": "step", "step": 3}),
    "mse many-to-one": (
        "head=mse,task=many-to-one,h0=shared",
        {"head": "mse", "task": "many-to-one"},
    ),
}
PER_TASK = [
    ("many-to-one", "W_not_transposed", "W used where Wᵀ belongs"),
    ("many-to-one", "tanh_twice", NEW["tanh_twice"]),
    (
        "many-to-one",
        "every_step",
        "task=many-to-one: the target's loss gradient applied at every step",
    ),
    ("mse", "mse_no_half", "∇o_t has the other MSE scale: 2(o_t − y_t)"),
    ("mse", "yhat_prev", "ŷ_{t−1} where ŷ_t belongs in ∇o_t"),
    ("mse", "tanh_twice", NEW["tanh_twice"]),
    ("mean", "tanh_twice", NEW["tanh_twice"]),
    ("mean", "softmax_diag", NEW["softmax_diag"]),
    ("mean-time", "W_not_transposed", "W used where Wᵀ belongs"),
    ("step", "tanh_twice", NEW["tanh_twice"]),
    ("step", "W_not_transposed", "W used where Wᵀ belongs"),
    ("mse many-to-one", "mse_no_half", "∇o_t has the other MSE scale"),
]


@pytest.mark.parametrize(("task", "bug", "phrase"), PER_TASK, ids=lambda v: str(v)[:20])
def test_every_task_and_head_has_its_diagnoses(task, bug, phrase):
    model, kw = TASKS[task]
    _only(check_backward(functools.partial(plain, bug=bug, **kw), model=model), phrase)


def test_the_legacy_keywords_of_a_task_reach_its_table():
    fn = functools.partial(plain, task="many-to-one", head="mse", bug="tanh_twice")
    _only(check_backward(fn, head="mse", many_to_one=True), NEW["tanh_twice"])


@pytest.mark.parametrize("K", [1, 2, 4])
def test_truncation_in_a_step_k_task_is_named(K):
    fn = functools.partial(plain, task="step", step=6, bug="truncate", K=K)
    _only(check_backward(fn, model="task=step=6,h0=shared"), f"truncated BPTT after K = {K} step")


def test_truncation_is_blamed_under_a_mean_too():
    fn = functools.partial(plain, reduction="mean", bug="truncate", K=3)
    verdict = check_backward(fn, model="reduction=mean,h0=shared")
    _only(verdict, "truncated BPTT after K = 3 steps")
    assert verdict.extra["blame"]["pattern"].endswith("BPTT truncated after K = 3 steps")


# ---------------------------------------------------------------- 4. the blame map


def test_no_backpropagation_through_time_is_blamed_on_every_earlier_step():
    def no_bptt(params, x, y, h0=None):
        return plain(params, x, y, h0, bug="truncate", K=0)

    verdict = check_backward(no_bptt)
    blame = verdict.extra["blame"]
    assert blame["pattern"].startswith("each loss step s keeps only its own step k = s")
    assert blame["rows"][2] == ["✗", "✗", "✓"]


def test_a_mistake_inside_every_term_is_blamed_on_the_terms_themselves():
    verdict = check_backward(functools.partial(plain, bug="W_not_transposed"))
    blame = verdict.extra["blame"]
    # every loss step meets W on its way back (to h0 at least): no row is a sum of true terms
    assert all(set(row) == {"?"} for row in blame["rows"])
    assert blame["pattern"].startswith("the contribution of every loss step is no sum of the true")
    assert set(blame["head"]) == {"✓"}  # V and c do not meet W
    # block by block: the loss at step 1 reaches U, W, b without W's recursion, h0 through it
    first, second = blame["groups"]
    assert first["blocks"] == ["U", "W", "b"] and first["rows"][0] == ["✓"]
    assert all(set(row) == {"?"} for row in first["rows"][1:])
    assert second["blocks"] == ["h0"] and all(set(row) == {"?"} for row in second["rows"])


def test_an_assignment_on_one_blocks_line_is_blamed_on_that_block():
    verdict = check_backward(functools.partial(plain, bug="assign_W"))
    right, wrong = verdict.extra["blame"]["groups"]
    assert right["blocks"] == ["U", "b", "h0"] and right["pattern"].startswith("every term")
    assert wrong["blocks"] == ["W"]
    assert wrong["rows"][4] == ["✓", "✗", "✗", "✗", "✗"]
    assert wrong["pattern"].startswith("each loss step keeps only the term of step k = 1")
    text = format_verdict(verdict)
    assert "time step k) of ∇U, ∇b, ∇h0:" in text and "time step k) of ∇W:" in text


def test_no_blame_map_without_a_wrong_many_to_many_verdict():
    assert "blame" not in check_backward(plain).extra
    model, kw = TASKS["many-to-one"]
    verdict = check_backward(functools.partial(plain, bug="tanh_twice", **kw), model=model)
    assert verdict.status is Status.WRONG and "blame" not in verdict.extra
    assert "Blame map" not in format_verdict(verdict)


def test_the_user_is_called_on_prefixes_only_for_a_wrong_verdict():
    lengths = []

    def spy(params, x, y, h0=None, bug=None):
        lengths.append(x.shape[0])
        return plain(params, x, y, h0, bug=bug)

    check_backward(spy)
    battery = list(lengths)
    assert sorted(set(battery)) == [1, 2, 3, 4, 5, 8, 9]
    lengths.clear()
    check_backward(functools.partial(spy, bug="tanh_twice"))
    assert lengths[: len(battery)] == battery and lengths[len(battery) :] == list(range(1, 9))


# ---------------------------------------------------------------- 5. crashes


def test_crashes_on_some_cases_are_all_reported_grouped_and_the_rest_is_checked():
    def fails_on_long_and_batched(params, x, y, h0=None):
        if x.shape[0] >= 5:
            raise ValueError("sequences longer than 4 are not supported")
        if x.ndim == 3:
            return _batched_helper(x)
        return plain(params, x, y, h0)

    verdict = check_backward(fails_on_long_and_batched)
    assert verdict.status is Status.ILL_FORMED
    crashed = verdict.extra["crashed"]
    # every case that raised is listed: T = 5, 8 unbatched, and every batched case
    assert [c["case"].split(",")[0] for c in crashed] == [
        "T=5", "T=8", "T=1", "T=2", "T=3", "T=9",
    ]  # fmt: skip
    assert verdict.summary.startswith(
        "ILL-FORMED: your function raised ValueError and IndexError on 6 of 10 cases (the first: T=5"
    )
    detail = verdict.detail
    # grouped: one block per distinct exception at the same place in the user's code
    assert detail.count("ValueError: sequences longer than 4 are not supported") == 1
    assert "1. On 3 cases (T=5" in detail
    assert "in _batched_helper: return x[0, 0, 99]" in detail
    assert "rnn_check" not in detail.split("It was called")[0]
    # the cases that ran are still judged
    assert "The 4 other cases ran. CORRECT" in detail
    assert verdict.extra["others"]["status"] == "CORRECT"


def _batched_helper(x):
    return x[0, 0, 99]


def test_a_crash_on_some_cases_of_a_wrong_function_says_it_is_wrong_elsewhere():
    def wrong_and_fragile(params, x, y, h0=None):
        if x.shape[0] == 9:
            raise MemoryError("too long")
        return plain(params, x, y, h0, bug="tanh_twice")

    verdict = check_backward(wrong_and_fragile)
    assert verdict.status is Status.ILL_FORMED
    assert verdict.summary.startswith(
        "ILL-FORMED: your function raised MemoryError on the case T=9"
    )
    assert "The 9 other cases ran. WRONG" in verdict.detail
    assert NEW["tanh_twice"] in verdict.detail


def test_check_block_reports_its_crashes_too():
    def grad_w(params, x, y, h0=None):
        if x.ndim == 3:
            raise NotImplementedError("no batches")
        return plain(params, x, y, h0)[1]["W"]

    verdict = check_block(grad_w, "W")
    assert verdict.status is Status.ILL_FORMED
    assert len(verdict.extra["crashed"]) == 4 and "On 4 cases" in verdict.detail
    assert "If your function does not support batches, pass batch=False" in verdict.detail
    assert check_block(grad_w, "W", batch=False).status is Status.CORRECT


def test_the_two_tables_are_the_ones_meant():
    from rnn_check._code import _resolve

    assert _resolve(None).old_table  # the legacy keywords: _bptt_variants
    assert not _resolve(TABLES["model table"]["model"]).old_table  # _gated_variants
    assert parse_model(TABLES["model table"]["model"]).h0 == "per-sequence"


def test_the_docs_blame_map_is_what_the_checker_prints():
    import pathlib

    from rnn_check._code import _blame_text

    page = (pathlib.Path(__file__).parent.parent / "docs" / "checking-code.md").read_text()
    verdict = check_backward(functools.partial(plain, bug="truncate", K=3))
    printed = "\n".join(_blame_text(verdict)).strip()
    assert printed.startswith("Blame map (T=8") and printed in page


def test_the_docs_example_verdict_is_what_the_checker_prints():
    import pathlib

    from _bptt_mistakes import BUGGY

    page = (pathlib.Path(__file__).parent.parent / "docs" / "checking-code.md").read_text()
    printed = format_verdict(check_backward(BUGGY["tanh_prime_step_early"]))
    assert printed.startswith("WRONG: ∇U, ∇W, ∇b, ∇h0") and printed in page


def test_the_docs_lstm_blame_map_is_what_the_checker_prints():
    import pathlib

    from test_check_code_models import CS231N_MODEL, cs231n_adapter

    from rnn_check._code import _blame_text

    page = (pathlib.Path(__file__).parent.parent / "docs" / "checking-code.md").read_text()
    verdict = check_backward(cs231n_adapter(forget_dnext_c=True), model=CS231N_MODEL)
    printed = "\n".join(_blame_text(verdict)).strip()
    # the output gate's path does not go through c for one step: its row 2 is still right
    assert "of ∇U_o, ∇W_o, ∇b_o:" in printed and printed in page
