"""check_formula reads the model: which quantities exist, what f'(a_t), ∂h_t/∂h_{t-1},
∇_{o_t}L and the 1/T mean, the LSTM's and GRU's letters, and the task's loss steps.

The truth is rnn_num's gradients (the reference of every verdict). For the gated cells,
while rnn_num has no kernel for them in this installation, the `reference` fixture puts in
central differences of tests/_plain_models.py instead (an independent plain-loop forward
pass), with a tolerance for their truncation error; the formulas' own evaluation
(rnn_check._model_eval, forward-mode tangents of the model's equations) shares no code
with either.
"""

from __future__ import annotations

import json
import pathlib
import re

import numpy as np
import pytest
from _plain_models import plain_gradients, plain_loss

import rnn_check._evaluate as evaluate
import rnn_check._formula as formula
import rnn_num
from rnn_check import Status, check_formula, parse_formula
from rnn_check._evaluate import Evaluator, build_context
from rnn_check._model_eval import Engine
from rnn_check._model_references import references
from rnn_derive.cli import main
from rnn_spec import ModelError, parse_model

D2L = "activation=identity,biases=none,head=generic,reduction=mean-time"
LSTM = "cell=lstm"
GRU = "cell=gru,biases=torch"


@pytest.fixture
def reference():
    """The tolerance to check formulas with (the checker's own: rnn_num is the reference)."""
    formula._context.cache_clear()
    yield formula.TOLERANCE
    formula._context.cache_clear()


# -- the numbers a formula refers to ------------------------------------------------------

MODELS = (
    "canonical",
    "activation=sigmoid,task=many-to-one",
    "activation=relu,biases=torch,head=mse,mse_scale=one",
    D2L,
    "cell=lstm,biases=torch,task=step=2",
    "cell=gru,head=given,biases=hidden",
    "cell=gru,biases=both",
)


@pytest.mark.parametrize("spec", MODELS)
def test_the_evaluator_forward_pass_and_adjoints_are_the_models(spec):
    """Its loss is the plain loop's, and its adjoints of h0 (c0) are central differences."""
    model = parse_model(spec).replace(h0="shared")
    rng = np.random.default_rng(3)
    T, n_x, n_h, n_y = 3, 2, 3, 2
    blocks = model.blocks(n_x, n_h, n_y if model.has_output_layer else None)
    params = {b.name: rng.normal(0, 0.6, b.shape) for b in blocks}
    x, h0, c0 = rng.normal(size=(T, n_x)), rng.normal(0, 0.5, n_h), rng.normal(0, 0.5, n_h)
    c0 = c0 if model.cell == "lstm" else None
    steps = model.loss_steps(T)
    rows = np.zeros((T + 1, n_h if model.head == "given" else n_y))
    classes = rng.integers(0, n_y, T)
    for s in steps:
        if model.head == "softmax-ce":
            rows[s, classes[s - 1]] = 1.0
        else:
            rows[s] = rng.normal(size=rows.shape[1])
    if model.head == "softmax-ce":
        y = classes if model.task == "many-to-many" else classes[steps[0] - 1]
    else:
        y = rows[1:] if model.task == "many-to-many" else rows[steps[0]]
    engine = Engine(model, params, x, h0, c0, rows)
    assert engine.loss() == pytest.approx(plain_loss(model, params, x, y, h0, c0), abs=1e-12)
    fd = plain_gradients(model, params, x, y, h0, c0)
    assert np.allclose(engine.adjoint("h", 0), fd["h0"], atol=1e-8)
    if model.cell == "lstm":
        assert np.allclose(engine.adjoint("c", 0), fd["c0"], atol=1e-8)


def test_the_canonical_adjoints_are_rnn_nums():
    ctx = build_context(4, 3, 4, 2, 1)
    result = rnn_num.backward(
        ctx.params, ctx.series["x"][1:5], ctx.target[1:5], h0=ctx.series["h"][0]
    )
    assert np.allclose(ctx.adjoint["h"][:5], result.d_h, atol=1e-12)
    assert np.allclose(ctx.adjoint["a"][1:5], result.d_a, atol=1e-12)
    assert np.allclose(ctx.adjoint["o"][1:5], result.d_o, atol=1e-12)


@pytest.mark.parametrize("spec", [m for m in MODELS if "cell" not in m] + [LSTM, GRU])
def test_every_reference_formula_of_every_model_is_correct(spec, reference):
    """The formulas the diagnosis mutates, per model, check CORRECT against the truth."""
    model = parse_model(spec)
    refs = references(model)
    assert set(model.gradient_names()) <= set(refs)  # every block has one
    for block, texts in refs.items():
        wrt = {"h0": "h_0", "c0": "c_0"}.get(block, block)
        if block.endswith("_t"):
            q = block[:-2]
            wrt = {"yhat": "\\hat y", "o": "s" if model.cell == "lstm" else "o"}.get(
                q, q.replace("gate_", "")
            ) + "_t"
        for text in texts:
            verdict = check_formula(text, wrt, model=model, tolerance=reference)
            assert verdict.status is Status.CORRECT, (block, text, verdict.summary, verdict.detail)


# -- d2l's BPTT section, in d2l's model -------------------------------------------------

D2L_CORRECT = (
    # as d2l prints it (9.7.13), with bold vectors
    (
        r"\frac{\partial L}{\partial \mathbf{o}_t} = "
        r"\frac{\partial l (\mathbf{o}_t, y_t)}{T \cdot \partial \mathbf{o}_t}",
        None,
    ),
    (r"\frac{\partial L}{\partial o_t} = \frac{1}{T} \frac{\partial l(o_t, y_t)}{\partial o_t}", None),
    (r"\frac{\partial L}{\partial W_{qh}} = \sum_{t=1}^{T} \frac{\partial L}{\partial o_t} h_t^\top", None),
    (r"\frac{\partial L}{\partial h_T} = W_{qh}^\top \frac{\partial L}{\partial o_T}", None),
    (
        r"\frac{\partial L}{\partial h_t} = W_{hh}^\top \frac{\partial L}{\partial h_{t+1}} "
        r"+ W_{qh}^\top \frac{\partial L}{\partial o_t}",
        None,
    ),
    (
        r"\frac{\partial L}{\partial h_t} = \sum_{i=t}^{T} \left(W_{hh}^\top\right)^{T-i} "
        r"W_{qh}^\top \frac{\partial L}{\partial o_{T+t-i}}",
        None,
    ),
    (r"\frac{\partial L}{\partial W_{hx}} = \sum_{t=1}^{T} \frac{\partial L}{\partial h_t} x_t^\top", None),
    (r"\frac{\partial L}{\partial W_{hh}} = \sum_{t=1}^{T} \frac{\partial L}{\partial h_t} h_{t-1}^\top", None),
    (r"\sum_{t=1}^{T} \frac{1}{T} \nabla_{o_t} l \, h_t^\top", "W_qh"),
)  # fmt: skip


@pytest.mark.parametrize(("text", "wrt"), D2L_CORRECT)
def test_d2l_formulas_are_correct_in_d2ls_model(text, wrt):
    verdict = check_formula(text, wrt, notation="d2l", model=D2L)
    assert verdict.status is Status.CORRECT, (verdict.summary, verdict.detail)


@pytest.mark.parametrize(
    ("text", "wrt", "said"),
    [
        (D2L_CORRECT[0][0], None, "factor 1/T (averaging instead of summing)"),
        (D2L_CORRECT[1][0], None, "factor 1/T (averaging instead of summing)"),
        (D2L_CORRECT[4][0], None, "missing diag(1 − h²) factor"),
        (D2L_CORRECT[7][0], None, "missing diag(1 − h²) factor"),
    ],
)
def test_d2l_formulas_are_wrong_in_the_canonical_model(text, wrt, said):
    """tanh and Σ (not 1/T) in the canonical model: the same text is WRONG, and says why."""
    verdict = check_formula(text, wrt, notation="d2l", model="canonical")
    assert verdict.status is Status.WRONG, verdict.summary
    assert said in verdict.diagnosis


def test_canonical_formulas_are_wrong_in_d2ls_model():
    wrong = check_formula(
        r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t}L\, h_{t-1}^\top", "W", model=D2L
    )
    assert wrong.status is Status.WRONG
    # the canonical ∇_V L, ŷ − y, does not even exist there: the loss is left abstract
    missing = check_formula(r"\sum_t (\hat y_t - y_t) h_t^\top", "V", model=D2L)
    assert missing.status is Status.ILL_FORMED and "head=generic" in missing.detail
    # without d2l's 1/T the output gradient is T times too large
    no_mean = check_formula(r"\sum_t \nabla_{o_t} l \, h_t^\top", "V", model=D2L)
    assert no_mean.status is Status.WRONG


def test_matrix_power_is_the_repeated_product():
    ctx = build_context(4, 3, 4, 2, 2)
    (answer,) = parse_formula(r"(W^\top)^{T-1} V^\top").answers
    value = Evaluator(ctx).value(answer.body, {})
    W, V = ctx.params["W"], ctx.params["V"]
    assert np.allclose(value.data, W.T @ W.T @ W.T @ V.T)
    # ^T stays the transpose, and a power of a non-square matrix is a shape error
    assert check_formula(r"\sum_t (\hat y_t - y_t) h_t^T", "V").status is Status.CORRECT
    assert "square" in check_formula(r"U^{2-1}", "U").detail


# -- the activation, the head, the reduction, the task -------------------------------------


@pytest.mark.parametrize(
    ("model", "text", "wrt", "status"),
    [
        ("activation=relu", r"\sum_t \mathrm{diag}(\mathrm{relu}'(a_t)) \nabla_{h_t} L", "b", "CORRECT"),
        ("activation=relu", r"\sum_t f'(a_t) \odot \nabla_{h_t} L", "b", "CORRECT"),
        ("canonical", r"\sum_t f'(a_t) \odot \nabla_{h_t} L", "b", "CORRECT"),  # f is tanh
        ("activation=relu", r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t} L", "b", "WRONG"),
        ("activation=sigmoid", r"\sum_t h_t \odot (1-h_t) \odot \nabla_{h_t} L", "b", "CORRECT"),
        ("activation=sigmoid", r"\frac{\partial h_{t+1}}{\partial h_t} = \mathrm{diag}(\sigma'(a_{t+1})) W", None, "CORRECT"),
        ("activation=sigmoid", r"\frac{\partial h_{t+1}}{\partial h_t} = \mathrm{diag}(1-h_{t+1}^2) W", None, "WRONG"),
        ("activation=identity", r"\frac{\partial h_t}{\partial h_k} = W^{t-k}", None, "CORRECT"),
        ("head=mse,mse_scale=one", r"\nabla_c L = \sum_t 2(o_t - y_t)", None, "CORRECT"),
        ("head=mse", r"\nabla_c L = \sum_t 2(o_t - y_t)", None, "WRONG"),
        ("head=mse", r"\nabla_c L = \sum_t (\hat y_t - y_t)", None, "CORRECT"),
        ("reduction=mean-time", r"\nabla_c L = \frac{1}{T} \sum_t (\hat y_t - y_t)", None, "CORRECT"),
        ("reduction=mean-time", r"\nabla_c L = \sum_t (\hat y_t - y_t)", None, "WRONG"),
        ("biases=torch", r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L", "b_hh", "CORRECT"),
        ("biases=torch", r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L", "b_ih", "CORRECT"),
        ("head=given,biases=none", r"W^\top \mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}} L + \frac{\partial L_t}{\partial h_t}", "h_t", "CORRECT"),
        ("head=given,biases=none", r"W^\top \mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}} L", "h_t", "WRONG"),
        ("task=many-to-one", r"\nabla_V L = (\hat y_T - y_T) h_T^\top", None, "CORRECT"),
        ("task=many-to-one", r"\nabla_V L = \sum_t (\hat y_t - y_t) h_t^\top", None, "ILL-FORMED"),
        ("task=step=3", r"\frac{\partial E_3}{\partial V} = (\hat y_3 - y_3) h_3^\top", None, "CORRECT"),
        (
            "task=step=3",
            r"\frac{\partial E_3}{\partial W} = \sum_{k=1}^{3} \mathrm{diag}(1-h_k^2) "
            r"\left(\frac{\partial h_3}{\partial h_k}\right)^\top V^\top (\hat y_3 - y_3) h_{k-1}^\top",
            None,
            "CORRECT",
        ),
        # one step's loss on the left decides the task (task=step=3), as the verdict says
        ("canonical", r"\frac{\partial E_3}{\partial V} = (\hat y_3 - y_3) h_3^\top", None, "CORRECT"),
        ("task=many-to-one", r"\frac{\partial E_3}{\partial V} = (\hat y_3 - y_3) h_3^\top", None, "ILL-FORMED"),
    ],
)  # fmt: skip
def test_the_model_decides_the_meaning(model, text, wrt, status):
    verdict = check_formula(text, wrt, model=model)
    assert verdict.status.value == status, (verdict.summary, verdict.detail)


def test_a_step_loss_on_the_left_sets_the_task_or_says_the_fix():
    verdict = check_formula(r"\frac{\partial E_3}{\partial V} = (\hat y_3 - y_3) h_3^\top")
    assert verdict.status is Status.CORRECT and "task=step=3" in verdict.summary
    other = check_formula(
        r"\frac{\partial E_3}{\partial V} = (\hat y_3 - y_3) h_3^\top", model="task=many-to-one"
    )
    assert "step 3 alone" in other.detail and "Fix: --model task=step=3" in other.detail
    many_to_one = check_formula(
        r"\nabla_V L = \sum_t (\hat y_t - y_t) h_t^\top", model="task=many-to-one"
    )
    assert "target only at t =" in many_to_one.detail


def test_step_tasks_get_sequences_long_enough():
    verdict = check_formula(r"\nabla_c L = \hat y_4 - y_4", model="task=step=4")
    assert verdict.status is Status.CORRECT and "T = 4 … 6" in verdict.summary


# -- symbols the model does not have --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "text", "wrt", "named", "why"),
    [
        ("canonical", r"\sum_t f_t \odot \nabla_{h_t} L", "b", "f_t", "forget gate"),
        ("canonical", r"\sum_t W_f h_t", "W", "W_{f}", "cell=lstm"),
        ("canonical", r"\sum_t b_{ih}", "b", "b_{ih}", "biases=torch"),
        ("canonical", r"\sum_t \tilde c_t", "b", "\\tilde{c}", "LSTM"),
        ("biases=none", r"\sum_t (\hat y_t - y_t) + c", "V", "c", "output bias"),
        ("biases=none", r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L + b", "W", "b", "hidden bias"),
        ("head=generic", r"\sum_t (\hat y_t - y_t) h_t^T", "V", "\\hat{y}", "head=generic"),
        ("head=given,biases=none", r"\sum_t V^\top", "W", "V", "no output layer"),
        (LSTM, r"\sum_t a_t", "b_f", "a_t", "pre-activation"),
        (LSTM, r"\sum_t W \nabla_{h_t} L", "W_f", "W", "one per gate"),
        (LSTM, r"\sum_t r_t", "b_f", "r_t", "reset gate"),
        (LSTM, r"\sum_t f(c_t)", "b_f", "f", "activation"),
        (GRU, r"\sum_t c_t", "b_ir", "c_t", "cell state"),
        (GRU, r"\sum_t b_r", "b_ir", "b_{r}", "two biases per gate"),
    ],
)
def test_a_symbol_the_model_lacks_is_ill_formed_naming_it_and_why(model, text, wrt, named, why):
    verdict = check_formula(text, wrt, model=model)
    assert verdict.status is Status.ILL_FORMED, verdict.summary
    assert f"unknown symbol {named}" in verdict.detail and why in verdict.detail, verdict.detail


def test_a_wrt_the_model_lacks_names_its_blocks():
    verdict = check_formula(r"\sum_t h_t", "W", model=LSTM)
    assert verdict.status is Status.ILL_FORMED and "W_i, W_f, W_g, W_o" in verdict.detail


def test_a_model_that_does_not_exist_raises_naming_key_and_fix():
    with pytest.raises(ModelError, match="activation='relu' does not apply to cell=lstm"):
        check_formula("h_t", "h_t", model="cell=lstm,activation=relu")
    with pytest.raises(ModelError, match="unknown model key 'cel'"):
        check_formula("h_t", "h_t", model={"cel": "lstm"})


# -- LSTM and GRU ---------------------------------------------------------------------------

LSTM_DC = (
    r"\frac{\partial L}{\partial c_t} = \frac{\partial L}{\partial h_t} \odot o_t \odot "
    r"(1 - \tanh^2(c_t)) + f_{t+1} \odot \frac{\partial L}{\partial c_{t+1}}"
)
LSTM_WF = (
    r"\nabla_{W_f} L = \sum_t (\nabla_{c_t} L \odot c_{t-1} \odot f_t \odot (1 - f_t)) h_{t-1}^\top"
)


@pytest.mark.parametrize(
    ("text", "wrt"),
    [
        (LSTM_DC, None),
        (
            r"\delta c_t \equiv \frac{\partial L}{\partial c_t} = \nabla_{h_t}L \odot o_t \odot "
            r"(1-\tanh^2(c_t)) + f_{t+1} \odot \delta c_{t+1}; \delta c_{T+1} = 0",
            "c_t",
        ),
        (LSTM_WF, None),
        (r"\sum_t (\nabla_{c_t} L \odot c_{t-1} \odot \sigma'(U_f x_t + W_f h_{t-1} + b_f)) x_t^\top", "U_f"),
        (r"\sum_t (\nabla_{c_t} L \odot c_{t-1} \odot f_t \odot (1 - f_t)) h_{t-1}^\top", "W_hf"),
        (r"\nabla_{\tilde c_t} L = \nabla_{c_t} L \odot i_t", None),
        (r"\nabla_{o_t} L = \nabla_{h_t} L \odot \tanh(c_t)", None),  # o_t: the output gate
        (r"\nabla_{s_t} L = \hat y_t - y_t", None),  # s_t: the logits
        (r"\sum_t (\hat y_t - y_t) h_t^\top", "V"),
        (r"\nabla_{c_0} L = f_1 \odot \nabla_{c_1} L", None),
    ],
)  # fmt: skip
def test_lstm_formulas_are_correct(text, wrt, reference):
    verdict = check_formula(text, wrt, model=LSTM, tolerance=reference)
    assert verdict.status is Status.CORRECT, (verdict.summary, verdict.detail)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            r"\nabla_{c_t} L = \nabla_{h_t}L \odot o_t \odot (1-\tanh^2(c_t))",
            "missing f_{t+1} ⊙ ∇_{c_{t+1}}L term (the path through the next cell state)",
        ),
        (
            r"\nabla_{c_t} L = \nabla_{h_t}L \odot o_t + f_{t+1} \odot \nabla_{c_{t+1}} L",
            "tanh′(c_t) forgotten (the factor 1 − tanh²(c_t))",
        ),
        (
            r"\nabla_{W_f} L = \sum_t (\nabla_{c_t} L \odot c_{t-1} \odot \sigma'(f_t)) h_{t-1}^\top",
            "σ′ applied to the gate's value instead of its pre-activation (σ′(f_t) for f_t ⊙ (1 − f_t))",
        ),
        (
            r"\nabla_{W_f} L = \sum_t (\nabla_{c_t} L \odot c_{t-1}) h_{t-1}^\top",
            "missing σ′ factor of a gate (q_t ⊙ (1 − q_t))",
        ),
    ],
)
def test_published_lstm_mistakes_are_wrong_and_named(text, said, reference):
    verdict = check_formula(text, model=LSTM, tolerance=reference)
    assert verdict.status is Status.WRONG, verdict.summary
    assert verdict.diagnosis == (said,), verdict.diagnosis


def test_a_transposed_lstm_gradient_is_ill_formed_or_named(reference):
    swapped = r"\sum_t h_{t-1} (\nabla_{c_t} L \odot c_{t-1} \odot f_t \odot (1 - f_t))^\top"
    verdict = check_formula(swapped, "W_f", model=LSTM, tolerance=reference)
    assert verdict.status is Status.WRONG  # n_h × n_h either way: the values tell
    assert "transpose extra" in verdict.diagnosis
    wide = r"\sum_t (\nabla_{c_t} L \odot c_{t-1} \odot f_t \odot (1 - f_t)) x_t"
    assert check_formula(wide, "U_f", model=LSTM, tolerance=reference).status is Status.ILL_FORMED


def test_lstm_formula_is_wrong_as_an_elman_formula_and_back(reference):
    elman = r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L\, h_{t-1}^\top"
    assert check_formula(elman, "W", tolerance=reference).status is Status.CORRECT
    # every letter exists in the LSTM too, but it is not the forget gate's gradient
    assert check_formula(elman, "W_f", model=LSTM, tolerance=reference).status is Status.WRONG
    assert check_formula(LSTM_WF, model=None).status is Status.ILL_FORMED  # no W_f, c_t here


@pytest.mark.parametrize(
    ("text", "status"),
    [
        (r"\nabla_{W_n} L = \sum_t (r_t \odot \nabla_{n_t}L \odot (1 - n_t^2)) h_{t-1}^\top", "CORRECT"),
        (r"\nabla_{b_{hn}} L = \sum_t r_t \odot \nabla_{n_t}L \odot (1 - n_t^2)", "CORRECT"),
        (r"\nabla_{b_{in}} L = \sum_t \nabla_{\tilde h_t}L \odot (1 - \tilde h_t^2)", "CORRECT"),
        (r"\nabla_{z_t} L = \nabla_{h_t} L \odot (h_{t-1} - n_t)", "CORRECT"),
        (r"\nabla_{W_n} L = \sum_t (\nabla_{n_t}L \odot (1 - n_t^2)) h_{t-1}^\top", "WRONG"),
        (r"\nabla_{b_{hn}} L = \sum_t \nabla_{n_t}L \odot (1 - n_t^2)", "WRONG"),
        (r"\nabla_{z_t} L = \nabla_{h_t} L \odot (n_t - h_{t-1})", "WRONG"),
    ],
)  # fmt: skip
def test_gru_formulas(text, status, reference):
    verdict = check_formula(text, model=GRU, tolerance=reference)
    assert verdict.status.value == status, (verdict.summary, verdict.detail)


def test_gru_sign_mistake_is_named(reference):
    verdict = check_formula(
        r"\nabla_{z_t} L = \nabla_{h_t} L \odot (n_t - h_{t-1})", model=GRU, tolerance=reference
    )
    assert "sign flipped (a difference reversed)" in verdict.diagnosis


# -- the command line -----------------------------------------------------------------------


def test_cli_checks_in_the_model(capsys):
    code = main(
        ["check", "--model", D2L, "--notation", "d2l", "--wrt", "W_hh", "--json",
         r"\sum_t \frac{\partial L}{\partial h_t} h_{t-1}^\top"]
    )  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "CORRECT"
    assert (
        main(["check", "--wrt", "W", r"\sum_t \frac{\partial L}{\partial h_t} h_{t-1}^\top"]) == 1
    )


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("cell=lsm", "cell='lsm' is not known; cell is one of: rnn, lstm, gru"),
        ("cell=lstm,activation=relu", "Fix: drop activation, or use cell=rnn"),
        ("cell", "is not key=value"),
        ("colour=red", "unknown model key 'colour'"),
    ],
)
def test_cli_bad_model_is_one_line_and_exit_2(capsys, spec, said):
    assert main(["check", "--model", spec, "--wrt", "W", "h_t"]) == 2
    err = capsys.readouterr().err
    assert said in err and f"--model {spec}" in err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
    assert "Traceback" not in err


# -- the page ---------------------------------------------------------------------------------

_MODEL_ROW = re.compile(
    r"^\| `(.+)` \| `([^`]*)` \| (\S+) \| (\S+) \| (CORRECT|WRONG|ILL-FORMED)(?: — (.+))? \|$"
)


def test_the_dialect_page_model_examples_give_the_verdicts_they_show(reference):
    page = pathlib.Path(__file__).parents[1] / "docs" / "dialect.md"
    text = page.read_text(encoding="utf-8")
    section = text.split("## Examples in other models", 1)[1].split("\n## ", 1)[0]
    rows = [_MODEL_ROW.match(line) for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) >= 8 and all(rows), "an example row the test cannot read"
    for latex, model, notation, wrt, status, shown in (row.groups() for row in rows):
        verdict = check_formula(
            latex,
            None if wrt == "—" else wrt,
            notation=notation,
            model=model or None,
            tolerance=reference,
        )
        assert verdict.status.value == status, (latex, verdict.summary, verdict.detail)
        if status == "WRONG" and shown:
            assert shown == "; ".join(verdict.diagnosis), (latex, verdict.diagnosis)
        elif status == "ILL-FORMED" and shown:
            assert shown in verdict.detail, (latex, verdict.detail)


def test_per_step_targets_of_the_gated_cells(reference):
    assert check_formula(
        r"\nabla_{c_t} L \odot c_{t-1}", "f_t", model=LSTM, tolerance=reference
    ).status is (Status.CORRECT)
    assert check_formula(
        r"f_1 \odot \nabla_{c_1} L", "c0", model=LSTM, tolerance=reference
    ).status is (Status.CORRECT)
    assert check_formula(
        r"\nabla_{c_t} L \odot g_t", "i_t", model=LSTM, tolerance=reference
    ).status is (Status.CORRECT)


def test_a_class_indicator_needs_class_targets():
    verdict = check_formula(
        r"\sum_t (\hat y_{t,i} - \mathbb{1}_{i=y_t}) h_{t,j}", "V", model="head=mse"
    )
    assert verdict.status is Status.ILL_FORMED and "real vector" in verdict.detail


def test_a_model_without_reference_kernel_is_said_not_raised(monkeypatch):
    def missing(*args):
        raise NotImplementedError("cell=lstm has no NumPy kernel in this installation")

    formula._context.cache_clear()
    monkeypatch.setattr(evaluate, "reference_gradients", missing)
    try:
        verdict = check_formula(LSTM_WF, model=LSTM)
    finally:
        formula._context.cache_clear()
    assert verdict.status is Status.ILL_FORMED
    assert "no reference gradients" in verdict.summary and "no NumPy kernel" in verdict.detail


@pytest.mark.parametrize(
    ("text", "status"),
    [
        # between states of two steps the other state is held: the notes' ∂c_t/∂c_{t-1}
        (r"\frac{\partial c_t}{\partial c_{t-1}} = \mathrm{diag}(f_t)", "CORRECT"),
        (
            r"\frac{\partial h_t}{\partial c_t} = \mathrm{diag}(o_t \odot (1-\tanh^2(c_t)))",
            "CORRECT",
        ),
        (r"\frac{\partial c_t}{\partial h_{t-1}} = \mathrm{diag}(f_t)", "WRONG"),
        # ... while the adjoint ∇_{c_t}L is the total gradient, through h_t too
        (r"\nabla_{c_t} L = f_{t+1} \odot \nabla_{c_{t+1}} L", "WRONG"),
    ],
)
def test_lstm_jacobians_and_adjoints(text, status, reference):
    verdict = check_formula(text, model=LSTM, tolerance=reference)
    assert verdict.status.value == status, (verdict.summary, verdict.detail)


@pytest.mark.parametrize(
    ("model", "text", "wrt", "said"),
    [
        (
            "activation=sigmoid",
            r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t}L\, h_{t-1}^\top",
            "W",
            "tanh′ (1 − h²) written, but the activation is sigmoid",
        ),
        (
            "activation=relu",
            r"\sum_t \nabla_{h_t}L\, h_{t-1}^\top",
            "W",
            "missing f′(a_t) factor (the derivative of relu)",
        ),
        (
            D2L,
            r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t}L\, h_{t-1}^\top",
            "W",
            "a tanh′ factor diag(1 − h²) the identity activation does not have",
        ),
        (D2L, r"\sum_t \nabla_{o_t} l \, h_t^\top", "V", "factor T too many"),
    ],
)
def test_a_derivation_copied_from_another_model_is_named(model, text, wrt, said):
    verdict = check_formula(text, wrt, model=model)
    assert verdict.status is Status.WRONG and verdict.diagnosis == (said,), verdict.diagnosis


def test_gru_reset_gate_forgotten_is_named(reference):
    verdict = check_formula(
        r"\nabla_{W_n} L = \sum_t (\nabla_{n_t}L \odot (1 - n_t^2)) h_{t-1}^\top",
        model=GRU,
        tolerance=reference,
    )
    assert verdict.diagnosis == (
        "missing r_t ⊙ (the reset gate multiplies the recurrent term of n_t)",
    ), verdict.diagnosis
