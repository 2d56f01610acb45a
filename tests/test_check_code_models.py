"""The code route for every model: check_backward(fn, model=...), the gated cells' mistake
table (rnn_check._gated_variants) and its diagnoses.

Three implementations meet here and share no code: the checker's truth (rnn_num), the
mistake table's independent BPTT (`_gated_variants.variant`), and central differences of
the plain-loop loss of tests/_plain_models.py. A cs231n-style LSTM written below (stacked
gates, batch-first, row vectors) is a fourth.
"""

from __future__ import annotations

import functools
import re
import textwrap

import numpy as np
import pytest
from _bptt_mistakes import backward_correct
from _plain_models import plain_gradients, plain_loss

import rnn_check._code  # noqa: F401  (loaded before pytester runs: see tests/test_plugin.py)
import rnn_check._gated_variants  # noqa: F401
import rnn_num
from rnn_check import (
    Status,
    check_backward,
    check_block,
    default_battery,
    format_verdict,
    make_case,
)
from rnn_check import _gated_variants as gated
from rnn_spec import Model, ModelError, parse_model

pytest_plugins = ["pytester"]

# Models whose every mistake is diagnosed: both gated cells with each bias layout and
# initial state, and Elman variants of each activation, head, task and reduction.
MODELS = (
    "cell=lstm,h0=shared",
    "cell=lstm,biases=torch,h0=per-sequence,reduction=mean",
    "cell=gru,biases=torch,h0=shared",
    "cell=gru,head=mse,task=step=2,h0=per-sequence",
    "activation=relu,biases=torch,h0=shared",
    "activation=sigmoid,head=mse,task=many-to-one,h0=shared",
    "activation=identity,biases=none,head=generic,reduction=mean-time",
    "h0=per-sequence,reduction=mean-batch,task=step=3",
)
PAIRS = [(text, rule) for text in MODELS for rule in gated.rules_for(parse_model(text))]


def _as_user(model: Model, knobs: dict | None = None):
    """A variant of the table written as a user's backward pass, in the model's signature."""
    if model.cell == "lstm":

        def user(params, x, y, h0=None, c0=None):
            return gated.variant(model, params, x, y, h0, c0, knobs)

    else:

        def user(params, x, y, h0=None):
            return gated.variant(model, params, x, y, h0, None, knobs)

    return user


def _reference(model: Model):
    return functools.partial(rnn_num.loss_and_grads, model=model)


def _recipe(verdict) -> dict:
    """The keywords of the printed `inputs: rnn_check.make_case(...)` line."""
    text = format_verdict(verdict)
    call = re.search(r"inputs: rnn_check\.make_case\((.*)\)", text).group(1)
    out: dict = {}
    for key, value in re.findall(r"(\w+)=('[^']*'|[^,]+)", call):
        if value.startswith("'"):
            out[key] = value.strip("'")
        else:
            out[key] = None if value == "None" else int(value)
    return out


# ---------------------------------------------------------------- the mistake table's BPTT


ALL_MODELS = MODELS + (
    "cell=lstm",
    "cell=gru",
    "cell=gru,biases=hidden,head=given,h0=per-sequence",
    "cell=lstm,biases=output,head=mse,mse_scale=one,task=many-to-one,reduction=mean-batch",
    "activation=tanh,biases=torch,head=generic,h0=shared",
)


@pytest.mark.parametrize("text", ALL_MODELS)
@pytest.mark.parametrize("batch", [None, 3])
def test_the_unmutated_variant_is_the_plain_models_gradient(text, batch):
    model = parse_model(text)
    params, x, y, h0, *rest = make_case(3, 2, 3, 4, seed=5, batch=batch, model=model)
    c0 = rest[0] if rest else None
    loss, grads = gated.variant(model, params, x, y, h0, c0)
    assert loss == pytest.approx(plain_loss(model, params, x, y, h0, c0), rel=1e-12)
    numeric = plain_gradients(model, params, x, y, h0, c0)
    assert list(grads) == list(model.gradient_names()) and set(numeric) == set(grads)
    for name, value in numeric.items():
        np.testing.assert_allclose(grads[name], value, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize(
    ("text", "rule"), PAIRS, ids=lambda v: str(getattr(v, "description", v))[:40]
)
def test_every_rule_is_a_real_mistake(text, rule):
    # a rule that changes nothing on the battery could never be told apart from CORRECT
    model = parse_model(text)
    changed = False
    for case in default_battery(model=model):
        params, x, y, h0, *rest = make_case(
            case.T, case.n_x, case.n_h, case.n_y, case.seed, case.batch, model=model
        )
        c0 = rest[0] if rest else None
        try:
            loss, grads = gated.variant(model, params, x, y, h0, c0, rule.knobs)
        except gated.NotApplicable:
            continue
        true_loss, true = gated.variant(model, params, x, y, h0, c0)
        changed |= not np.isclose(loss, true_loss) or any(
            not np.allclose(grads[k], true[k]) for k in true
        )
    assert changed


def test_a_rule_with_an_unknown_knob_is_refused():
    with pytest.raises(ValueError, match="unknown knob"):
        gated._rule("typo", gated._any, cell_pth=False)


# ---------------------------------------------------------------- verdicts


@pytest.mark.parametrize("text", MODELS + ("cell=lstm", "cell=gru"))
def test_a_correct_backward_is_correct(text):
    model = parse_model(text)
    for fn in (_reference(model), _as_user(model)):
        verdict = check_backward(fn, model=model)
        assert verdict.status is Status.CORRECT, format_verdict(verdict)
        assert [e.block for e in verdict.errors] == ["loss", *model.gradient_names()]
        assert verdict.extra["model"] == str(model) and verdict.extra["model_given"]


@pytest.mark.parametrize(
    ("text", "rule"), PAIRS, ids=lambda v: str(getattr(v, "description", v))[:40]
)
def test_each_mistake_is_wrong_with_exactly_its_diagnosis(text, rule):
    model = parse_model(text)
    fn = _as_user(model, rule.knobs)
    verdict = check_backward(fn, model=text)
    assert verdict.status is Status.WRONG, format_verdict(verdict)
    assert len(verdict.diagnosis) == 1, verdict.diagnosis
    assert verdict.diagnosis[0].startswith(rule.description + " (explains "), verdict.diagnosis
    # the counterexample is real: its printed recipe (naming the model) rebuilds the inputs
    cx = verdict.counterexample
    recipe = _recipe(verdict)
    assert parse_model(recipe.pop("model")) == model
    assert recipe == dict(T=cx.T, n_x=cx.n_x, n_h=cx.n_h, n_y=cx.n_y, seed=cx.seed, batch=cx.batch)
    params, x, y, h0, *rest = make_case(**recipe, model=model)
    states = {"c0": rest[0]} if rest else {}
    loss, grads = fn(params, x, y, h0=h0, **states)
    true_loss, true = rnn_num.loss_and_grads(params, x, y, h0, model=model, **states)
    actual = loss if cx.block == "loss" else np.asarray(grads[cx.block])[cx.index]
    expected = true_loss if cx.block == "loss" else true[cx.block][cx.index]
    assert actual == pytest.approx(cx.actual, rel=1e-12)
    assert expected == pytest.approx(cx.expected, rel=1e-9)
    assert not np.isclose(actual, expected)


def test_the_summed_torch_bias_given_to_one_side_is_named():
    model = parse_model("activation=relu,biases=torch,h0=shared")
    truth = _reference(model)

    def hh_zero(params, x, y, h0=None):  # b_ih + b_hh treated as one bias b = b_ih
        loss, grads = truth(params, x, y, h0)
        return loss, {**grads, "b_hh": np.zeros_like(grads["b_hh"])}

    verdict = check_backward(hh_zero, model=model)
    assert verdict.diagnosis == (
        "∇b_hh missing: the recurrent-side biases b_h· get no gradient (returned as zero)"
        " (explains ∇b_hh)",
    )


def test_a_sum_where_the_model_averages_over_time_is_a_missing_factor_one_over_t():
    model = parse_model("activation=identity,biases=none,head=generic,reduction=mean-time")
    summed = _reference(model.replace(reduction="sum"))  # a real backward, of the other model
    verdict = check_backward(summed, model=model)
    assert verdict.status is Status.WRONG
    assert len(verdict.diagnosis) == 1
    assert verdict.diagnosis[0].startswith("a factor 1/T missing: the loss summed over time")


def test_the_last_steps_loss_where_the_task_is_step_k_is_named():
    model = parse_model("task=step=3,h0=shared")
    last = _reference(model.replace(task="many-to-one"))
    verdict = check_backward(last, model=model)
    assert verdict.status is Status.WRONG
    assert verdict.diagnosis[0].startswith("task=step=K: the loss taken at the last step T")
    assert sorted({c.T for c in default_battery(model=model)}) == [3, 4, 5, 6, 7, 10, 11]
    assert verdict.counterexample.T == 4  # at T = K both are the same loss


def test_check_block_with_a_model():
    model = parse_model("cell=gru,biases=torch,h0=shared")
    wrong = _as_user(model, {"bhn": "outside"})
    verdict = check_block(lambda *a, **k: wrong(*a, **k)[1]["b_hn"], "b_hn", model=model)
    assert verdict.status is Status.WRONG
    assert verdict.diagnosis[0].startswith("∇b_hn treated like ∇b_in")
    right = _reference(model)
    assert check_block(lambda *a, **k: right(*a, **k)[1]["W_z"], "W_z", model=model).status is (
        Status.CORRECT
    )
    with pytest.raises(ValueError, match="block must be one of U_r"):
        check_block(right, "W", model=model)


# ---------------------------------------------------------------- inputs and conventions


def test_make_case_follows_the_model():
    params, x, y, h0, c0 = make_case(3, 2, 4, 5, seed=1, batch=6, model="cell=lstm,h0=per-sequence")
    assert list(params) == list(Model(cell="lstm").block_names())
    assert params["U_i"].shape == (4, 2) and params["W_o"].shape == (4, 4)
    assert x.shape == (3, 6, 2) and y.shape == (3, 6) and h0.shape == c0.shape == (6, 4)
    params, x, y, h0 = make_case(3, 2, 4, 5, batch=6, model="cell=gru,head=given")
    assert "V" not in params and y.shape == (3, 6, 4) and h0 is None
    _, _, y, _ = make_case(3, 2, 4, 5, model="head=mse,task=step=2")
    assert y.shape == (5,)
    with pytest.raises(ModelError, match="step=4"):
        make_case(3, 2, 4, 5, model="task=step=4")
    # the legacy keywords describe the canonical model with a shared h0: the same numbers
    legacy = make_case(3, 2, 4, 5, seed=1, batch=6)
    named = make_case(3, 2, 4, 5, seed=1, batch=6, model="h0=shared")
    for a, b in zip(legacy[1:], named[1:], strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(np.array_equal(legacy[0][k], named[0][k]) for k in legacy[0])


def test_the_lstm_is_called_with_c0_and_the_others_without():
    seen = []

    def spy(params, x, y, h0=None, **states):
        seen.append(sorted(states))
        return _reference(parse_model("cell=lstm,h0=shared"))(params, x, y, h0, **states)

    assert check_backward(spy, model="cell=lstm,h0=shared").status is Status.CORRECT
    assert seen and all(s == ["c0"] for s in seen)


def test_with_a_zero_initial_state_its_gradients_may_be_left_out():
    model = parse_model("cell=lstm")  # h0=zero: h0 and c0 are None, no argument
    truth = _reference(model)

    def no_states(params, x, y, h0=None, c0=None):
        assert h0 is None and c0 is None
        loss, grads = truth(params, x, y)
        return loss, {k: v for k, v in grads.items() if k not in ("h0", "c0")}

    verdict = check_backward(no_states, model=model)
    assert verdict.status is Status.CORRECT
    assert "h0" not in verdict.extra["blocks"] and "c0" not in verdict.extra["blocks"]
    # a shared h0 is an argument: its gradient is part of the answer
    shared = check_backward(no_states, model="cell=lstm,h0=shared")
    assert shared.status is Status.ILL_FORMED


def test_a_per_sequence_gradient_summed_over_the_batch_gets_a_hint():
    model = parse_model("cell=gru,h0=per-sequence")
    truth = _reference(model)

    def summed(params, x, y, h0=None):
        loss, grads = truth(params, x, y, h0)
        return loss, {**grads, "h0": grads["h0"].sum(axis=0) if np.ndim(x) == 3 else grads["h0"]}

    verdict = check_backward(summed, model=model)
    assert verdict.status is Status.ILL_FORMED
    assert "one row per sequence" in verdict.detail


def test_the_legacy_keywords_map_onto_the_model_and_conflicts_are_errors():
    assert check_backward(backward_correct, model="h0=shared").status is Status.CORRECT
    verdict = check_backward(backward_correct, model="h0=shared", activation="tanh", head="softmax")
    assert verdict.status is Status.CORRECT
    for options, words in [
        ({"activation": "sigmoid"}, "activation='sigmoid' .the model has tanh"),
        ({"head": "mse"}, "head='mse' .the model has head=softmax-ce"),
        ({"many_to_one": True}, "many_to_one=True .the model has task=many-to-many"),
    ]:
        with pytest.raises(ValueError, match=words):
            check_backward(backward_correct, model="h0=shared", **options)
    with pytest.raises(ValueError, match="conflicts with model="):
        check_backward(backward_correct, model="cell=lstm", activation="tanh")
    with pytest.raises(ModelError, match="cell='lsm' is not known"):
        check_backward(backward_correct, model="cell=lsm")
    with pytest.raises(TypeError, match="model must be an rnn_spec.Model"):
        check_backward(backward_correct, model=3)
    with pytest.raises(ValueError, match="blocks must be a non-empty selection of U_i"):
        check_backward(backward_correct, model="cell=lstm", blocks=("U",))


# ---------------------------------------------------------------- a real-world-style LSTM
#
# The conventions of cs231n's assignment 3 (and of deeplearning.ai's course): batch-first
# arrays (N, T, D), row vectors, the four gates stacked in one Wx (D, 4H), Wh (H, 4H), b (4H)
# in the order i, f, o, g, a temporal affine layer w (H, M), and a softmax loss averaged
# over the minibatch. Written here from those conventions, not from either of ours.


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i, f, o, g = (
        _sig(a[:, :H]),
        _sig(a[:, H : 2 * H]),
        _sig(a[:, 2 * H : 3 * H]),
        np.tanh(a[:, 3 * H :]),
    )
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache, forget_dnext_c=False):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_h * o * (1 - tc**2) + (0.0 if forget_dnext_c else dnext_c)
    di, df, do, dg = dc * g, dc * prev_c, dnext_h * tc, dc * i
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)])
    return da.dot(Wx.T), da.dot(Wh.T), dc * f, x.T.dot(da), prev_h.T.dot(da), da.sum(axis=0)


def lstm_forward_backward(x, h0, c0, Wx, Wh, b, w, b_out, y, forget_dnext_c=False):
    """x (N, T, D), y (N, T) classes; loss = −Σ log p / N. Returns loss and the gradients."""
    N, T, _ = x.shape
    h, c, caches, hs = h0, c0, [], []
    for t in range(T):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        caches.append(cache)
        hs.append(h)
    scores = np.stack(hs, axis=1).dot(w) + b_out  # (N, T, M)
    p = np.exp(scores - scores.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    loss = -np.sum(np.log(p[np.arange(N)[:, None], np.arange(T)[None, :], y])) / N
    dscores = p.copy()
    dscores[np.arange(N)[:, None], np.arange(T)[None, :], y] -= 1
    dscores /= N
    dw = np.einsum("nth,ntm->hm", np.stack(hs, axis=1), dscores)
    db_out = dscores.sum(axis=(0, 1))
    dhs = dscores.dot(w.T)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(T)):
        _, dh, dc, dWx_t, dWh_t, db_t = lstm_step_backward(
            dhs[:, t] + dh, dc, caches[t], forget_dnext_c
        )
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return loss, dWx, dWh, db, dw, db_out, dh, dc


CS231N_MODEL = "cell=lstm,reduction=mean-batch,h0=per-sequence"


def cs231n_adapter(forget_dnext_c=False, order="ifog"):
    """Our signature around the cs231n-style code: stack our blocks, transpose to rows,
    put the batch first. `order` is the order the adapter (un)stacks the gates in."""

    def loss_and_grads(params, x, y, h0=None, c0=None):
        batched = np.ndim(x) == 3
        xb = np.swapaxes(x, 0, 1) if batched else np.asarray(x)[None]
        yb = np.swapaxes(y, 0, 1) if batched else np.asarray(y)[None]
        rows = lambda v: np.atleast_2d(v)  # noqa: E731  (one sequence: (1, H))
        Wx = np.hstack([params[f"U_{q}"].T for q in order])
        Wh = np.hstack([params[f"W_{q}"].T for q in order])
        b = np.concatenate([params[f"b_{q}"] for q in order])
        loss, dWx, dWh, db, dw, db_out, dh0, dc0 = lstm_forward_backward(
            xb, rows(h0), rows(c0), Wx, Wh, b, params["V"].T, params["c"], yb, forget_dnext_c
        )
        H = dh0.shape[1]
        grads = {}
        for k, q in enumerate(order):
            grads[f"U_{q}"] = dWx[:, k * H : (k + 1) * H].T
            grads[f"W_{q}"] = dWh[:, k * H : (k + 1) * H].T
            grads[f"b_{q}"] = db[k * H : (k + 1) * H]
        grads["V"], grads["c"] = dw.T, db_out
        grads["h0"], grads["c0"] = (dh0, dc0) if batched else (dh0[0], dc0[0])
        return loss, grads

    return loss_and_grads


def test_a_cs231n_style_lstm_is_correct():
    verdict = check_backward(cs231n_adapter(), model=CS231N_MODEL)
    assert verdict.status is Status.CORRECT, format_verdict(verdict)


def test_the_cs231n_lstms_most_common_bug_is_diagnosed():
    # forgetting to add the upstream dnext_c to dc in lstm_step_backward
    verdict = check_backward(cs231n_adapter(forget_dnext_c=True), model=CS231N_MODEL)
    assert verdict.status is Status.WRONG
    assert verdict.counterexample.T >= 2  # with one step there is no later c to forget
    assert len(verdict.diagnosis) == 1
    assert verdict.diagnosis[0].startswith("the cell-state path is missing")


def test_an_adapter_that_reads_cs231ns_gate_order_as_torchs_is_diagnosed():
    # the code stacks i, f, o, g; an adapter written for torch's i, f, g, o gets the gates
    # wrong in the forward pass too, so take the right forward and swap the gradients only
    right = cs231n_adapter()

    def swapped(params, x, y, h0=None, c0=None):
        loss, grads = right(params, x, y, h0, c0)
        out = dict(grads)
        for base in ("U", "W", "b"):
            out[f"{base}_g"], out[f"{base}_o"] = grads[f"{base}_o"], grads[f"{base}_g"]
        return loss, out

    verdict = check_backward(swapped, model=CS231N_MODEL)
    assert verdict.status is Status.WRONG
    assert len(verdict.diagnosis) == 1 and "g ↔ o swapped" in verdict.diagnosis[0]


# ---------------------------------------------------------------- the pytest plugin


@pytest.mark.parametrize(
    ("model", "knobs", "block", "phrase"),
    [
        (
            "activation=relu,biases=torch,h0=shared",
            {"torch_bias": "ih_only"},
            "b_hh",
            "∇b_hh missing",
        ),
        ("cell=lstm,h0=shared", {"cell_path": False}, "*", "the cell-state path is missing"),
    ],
    ids=["rnn-torch", "lstm"],
)
def test_the_fixture_takes_the_model_and_fails_naming_block_entry_and_diagnosis(
    pytester, model, knobs, block, phrase
):
    pytester.makepyfile(
        test_user=textwrap.dedent(
            f"""
            import functools
            from rnn_spec import parse_model
            from rnn_check._gated_variants import variant

            MODEL = parse_model({model!r})

            def backward(params, x, y, h0=None, knobs=None, **states):
                return variant(MODEL, params, x, y, h0, states.get("c0"), knobs)

            def test_correct(bptt_check):
                assert bptt_check(backward, model={model!r}).status == "CORRECT"

            def test_buggy(bptt_check):
                bptt_check(functools.partial(backward, knobs={knobs!r}), model={model!r})
            """
        )
    )
    quiet = ("no:cacheprovider", "no:hypothesispytest", "no:benchmark")
    result = pytester.runpytest(*(arg for plugin in quiet for arg in ("-p", plugin)))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*WRONG: *∇{block}*differ* from the true value*",
            "*Counterexample: T=*",
            "*[[]*[]] should be *, got *",
            f"*inputs: rnn_check.make_case(*model='{parse_model(model).short()}')*",
            "*Diagnosis:*",
            f"*{phrase}*",
        ]
    )
    assert "rnn_check/_code.py" not in result.stdout.str()
