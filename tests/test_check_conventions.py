"""Code conventions declared, not converted (issue 12, item 4).

Each family of published backward passes is checked as published, with an adapter of one
line: the check itself. The code under test lives in tests/_min_char_rnn.py,
tests/_wildml_rnn.py and tests/_layer_code.py, transcribed from its sources; the reference
is rnn_num. Wrong versions are reported in the code's names, entries and layout.
"""

import itertools

import _layer_code as layer
import _min_char_rnn as karpathy
import _wildml_rnn as wildml
import numpy as np
import pytest

import rnn_check
from rnn_check import Conventions, ConventionsError, Status, check_backward, check_layer
from rnn_check._conventions import _Ctx, _to_canonical, _to_user

# ---------------------------------------------------------------------------- correct code, as published


def test_min_char_rnn_as_published_is_correct():
    before = {name: getattr(karpathy, name).copy() for name in ("Wxh", "Whh", "Why", "bh", "by")}
    verdict = check_backward(karpathy.lossFun, conventions="karpathy")
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert [e.block for e in verdict.errors] == ["loss", "Wxh", "Whh", "Why", "bh", "by"]
    # the module's own parameters and sizes are put back
    for name, value in before.items():
        assert np.array_equal(getattr(karpathy, name), value)
    assert karpathy.vocab_size == 65 and karpathy.hidden_size == 100


def test_wildml_bptt_untruncated_is_correct_and_the_model_is_untouched():
    model = wildml.RNNNumpy(word_dim=7, hidden_dim=5, bptt_truncate=1000)
    U = model.U.copy()
    verdict = check_backward(model.bptt, conventions="wildml")
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert np.array_equal(model.U, U) and model.word_dim == 7 and model.hidden_dim == 5


def test_wildml_default_truncation_is_wrong_from_T_beyond_the_truncation():
    verdict = check_backward(wildml.RNNNumpy(7, 5).bptt, conventions="wildml")
    assert verdict.status is Status.WRONG
    assert verdict.counterexample.T > 5  # bptt_truncate=4 is exact up to T = 5
    assert {e.block for e in verdict.errors if e.max_rel_error > 1e-6} == {"U", "W"}
    assert any("truncat" in line and "4" in line for line in verdict.diagnosis), verdict.diagnosis


def test_an_sgd_step_is_read_off_the_update():
    model = wildml.RNNNumpy(7, 5, bptt_truncate=1000)
    U = model.U.copy()
    sgd = {"preset": "wildml", "call": "sgd_step(x, y, learning_rate)", "returns": ""}
    sgd["names"] = {"lr": "learning_rate"}
    verdict = check_backward(model.sgd_step, conventions=sgd)
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert np.array_equal(model.U, U)  # the step ran on the checker's parameters only
    wrong = check_backward(wildml.RNNNumpy(7, 5).sgd_step, conventions=sgd)
    assert wrong.status is Status.WRONG


def test_cs231n_layer_as_published_is_correct():
    verdict = check_layer(layer.rnn_forward, layer.rnn_backward, conventions="cs231n")
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert [e.block for e in verdict.errors] == ["⟨dh, h⟩", "Wx", "Wh", "b", "h0", "x"]


def test_deeplearning_ai_layer_as_published_is_correct():
    verdict = check_layer(
        layer.dlai_rnn_forward, layer.dlai_rnn_backward, conventions="deeplearning-ai"
    )
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert [e.block for e in verdict.errors] == ["⟨da, a⟩", "Wax", "Waa", "ba", "a0", "x"]


@pytest.mark.parametrize(
    ("fn", "conventions"),
    [
        (layer.torch_style_loss_and_grads, "torch"),
        (layer.torch_style_batch_first, "torch,layout=batch-first"),
        (layer.torch_style_batch_first, {"preset": "torch", "layout": "batch-first"}),
    ],
)
def test_numpy_code_in_torch_names_is_correct(fn, conventions):
    verdict = check_backward(fn, conventions=conventions)
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert "bias_hh_l0" in {e.block for e in verdict.errors}


def test_torch_layouts_are_not_interchangeable():
    verdict = check_backward(
        layer.torch_style_loss_and_grads, conventions="torch,layout=batch-first"
    )
    assert verdict.status is Status.ILL_FORMED
    assert "batch B=" in verdict.summary


def test_the_fixture_takes_conventions(bptt_check):
    bptt_check(karpathy.lossFun, conventions="karpathy")
    bptt_check.layer(layer.rnn_forward, layer.rnn_backward, conventions="cs231n")


# ---------------------------------------------------------------------------- wrong code, in the code's words


def test_row_vector_transpose_bug_is_said_in_row_vector_code():
    verdict = check_layer(
        layer.rnn_forward, layer.rnn_backward_wrong_transpose, conventions="cs231n"
    )
    assert verdict.status is Status.WRONG
    text = rnn_check.format_verdict(verdict)
    assert "`dtanh @ Wh` where `dtanh @ Wh.T` belongs" in text, text
    assert "∇W" not in text.replace("∇Wx", "").replace("∇Wh", "")  # no canonical letter


def test_overwritten_accumulator_is_named_in_the_codes_gradient():
    verdict = check_layer(
        layer.dlai_rnn_forward, layer.dlai_rnn_backward_overwrite, conventions="deeplearning-ai"
    )
    assert verdict.status is Status.WRONG
    assert [e.block for e in verdict.errors if e.max_rel_error > 1e-6] == ["Wax"]
    assert any("+=" in line and "∇Wax" in line for line in verdict.diagnosis), verdict.diagnosis


def test_missing_upstream_gradient_is_wrong_in_every_block_but_the_forward():
    verdict = check_layer(layer.rnn_forward, layer.rnn_backward_no_upstream, conventions="cs231n")
    assert verdict.status is Status.WRONG
    wrong = {e.block for e in verdict.errors if e.max_rel_error > 1e-6}
    assert wrong == {"Wx", "Wh", "b", "h0", "x"}


@pytest.mark.parametrize(
    ("forward", "backward", "conventions", "correct"),
    [
        (layer.rnn_forward, layer.rnn_backward_wrong_transpose, "cs231n", layer.rnn_backward),
        (
            layer.dlai_rnn_forward,
            layer.dlai_rnn_backward_overwrite,
            "deeplearning-ai",
            layer.dlai_rnn_backward,
        ),
    ],
)
def test_the_counterexample_is_an_entry_of_the_codes_own_arrays(
    forward, backward, conventions, correct
):
    """make_case(..., conventions=) rebuilds the code's inputs; the correct code, run on
    them, has the counterexample's expected value at the counterexample's (user) index."""
    verdict = check_layer(forward, backward, conventions=conventions)
    cx = verdict.counterexample
    inputs = rnn_check.make_case(
        cx.T, cx.n_x, cx.n_h, cx.n_y, seed=cx.seed, batch=cx.batch, conventions=conventions
    )
    if conventions == "cs231n":
        _, cache = forward(inputs["x"], inputs["h0"], inputs["Wx"], inputs["Wh"], inputs["b"])
        grads = dict(zip(("x", "h0", "Wx", "Wh", "b"), correct(inputs["dh"], cache), strict=True))
        buggy = dict(zip(("x", "h0", "Wx", "Wh", "b"), backward(inputs["dh"], cache), strict=True))
    else:
        parameters = {k: inputs[k] for k in ("Wax", "Waa", "ba")}
        parameters |= {"Wya": np.zeros((cx.n_x, cx.n_h)), "by": np.zeros((cx.n_x, 1))}
        _, _, caches = forward(inputs["x"], inputs["a0"], parameters)
        grads = {k[1:]: v for k, v in correct(inputs["da"], caches).items()}
        buggy = {k[1:]: v for k, v in backward(inputs["da"], caches).items()}
    assert grads[cx.block][cx.index] == pytest.approx(cx.expected, rel=1e-9)
    assert buggy[cx.block][cx.index] == pytest.approx(cx.actual, rel=1e-9)


def test_a_gradient_of_the_wrong_shape_is_named_as_the_code_names_it():
    def transposed(dh, cache):
        dx, dh0, dWx, dWh, db = layer.rnn_backward(dh, cache)
        return dx, dh0, dWx.T, dWh, db

    verdict = check_layer(layer.rnn_forward, transposed, conventions="cs231n")
    assert verdict.status is Status.ILL_FORMED
    assert "dWx has shape (3, 5)" in verdict.summary or "dWx has shape" in verdict.summary
    assert "transposed shape" in verdict.detail


def test_a_function_with_another_signature_is_ill_formed_with_the_template():
    def two_arguments(inputs, targets):
        return karpathy.lossFun(inputs, targets, np.zeros((3, 1)))

    verdict = check_backward(two_arguments, conventions="karpathy")
    assert verdict.status is Status.ILL_FORMED
    assert "lossFun(inputs, targets, hprev)" in verdict.detail


def test_a_crash_shows_the_codes_call():
    def crashes(inputs, targets, hprev):
        raise RuntimeError("boom")

    verdict = check_backward(crashes, conventions="karpathy")
    assert verdict.status is Status.ILL_FORMED
    assert "boom" in verdict.detail and "inputs a list of" in verdict.detail


# ---------------------------------------------------------------------------- declarations


@pytest.mark.parametrize(
    ("conventions", "message"),
    [
        ("pytorch", "unknown conventions preset 'pytorch'; the presets are canonical, torch"),
        ("torch,layout=sideways", "layout='sideways' is not one of time-first"),
        ("torch,colour=red", "'colour=red' is not key=value with a key among"),
        ({"preset": "karpathy", "call": "lossFun(inputs, targets"}, "is not a call template"),
        ({"preset": "karpathy", "returns": "loss, dWxh, 3"}, "'3' is not a name"),
        (
            {"preset": "karpathy", "call": "lossFun(inputs, targets, hprev, mystery)"},
            "unknown name 'mystery'",
        ),
        ({"preset": "wildml", "returns": ""}, "takes no learning rate"),
        ({"preset": "torch", "grad_names": "d"}, "must hold '{}' once"),
        ({"preset": "torch", "colour": "red"}, "unknown conventions field(s) colour"),
    ],
)
def test_a_bad_declaration_names_the_field_and_the_fix(conventions, message):
    with pytest.raises(ConventionsError) as info:
        check_backward(karpathy.lossFun, conventions=conventions)
    assert message in str(info.value)


def test_a_layer_preset_given_to_check_backward_points_to_check_layer():
    with pytest.raises(ConventionsError, match=r"check_layer\(rnn_forward, rnn_backward"):
        check_backward(layer.rnn_backward, conventions="cs231n")
    with pytest.raises(ConventionsError, match="use check_backward"):
        check_layer(karpathy.lossFun, karpathy.lossFun, conventions="karpathy")


def test_attributes_need_a_bound_method():
    with pytest.raises(ConventionsError, match="bound method"):
        check_backward(wildml.RNNNumpy.bptt, conventions="wildml")


def test_conventions_of_any_other_type_are_refused():
    with pytest.raises(TypeError, match="conventions must be a preset name"):
        check_backward(karpathy.lossFun, conventions=3)


def test_a_custom_declaration_checks_code_of_no_preset():
    """min-char-rnn with its parameters passed in, as many copies of it do."""

    def loss_fun(p, inputs, targets, hprev):
        for name in ("Wxh", "Whh", "Why", "bh", "by"):
            setattr(karpathy, name, p[name])
        return karpathy.lossFun(inputs, targets, hprev)[:6]

    mine = Conventions(
        name="mine",
        call="loss_fun(params, inputs, targets, hprev)",
        returns="loss, dWxh, dWhh, dWhy, dbh, dby",
        names=dict(rnn_check.CONVENTIONS["karpathy"].names),
        grad_names="d{}",
        sizes={},
        bias="column",
        inputs="tokens",
        batch="never",
        equal_io=True,
        model="h0=shared",
    )
    saved = {n: getattr(karpathy, n) for n in ("Wxh", "Whh", "Why", "bh", "by", "vocab_size")}
    try:
        karpathy.vocab_size = 2  # the sizes the battery uses are set by hand here ...
        with pytest.raises(AssertionError):  # ... so a case with another vocabulary fails
            assert check_backward(loss_fun, conventions=mine).status is Status.CORRECT
        cases = [rnn_check.Case(T, 2, 3, 2, seed=T) for T in (1, 2, 5, 8)]
        verdict = check_backward(loss_fun, conventions=mine, cases=cases)
        assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    finally:
        for name, value in saved.items():
            setattr(karpathy, name, value)


# ---------------------------------------------------------------------------- the conversions


@pytest.mark.parametrize(
    ("layout", "vectors", "bias", "batch", "batched"),
    [
        (lay, vec, bias, batch, batched)
        for lay, vec, bias, batch, batched in itertools.product(
            ("time-first", "batch-first", "time-last"),
            ("column", "row"),
            ("flat", "column"),
            ("optional", "always"),
            (False, True),
        )
    ],
)
def test_every_conversion_goes_back_exactly(layout, vectors, bias, batch, batched):
    conv = Conventions(layout=layout, vectors=vectors, bias=bias, batch=batch)
    ctx = _Ctx(conv, batched)
    rng = np.random.default_rng(0)
    shapes = {
        "weight": (3, 4),
        "bias": (3,),
        "state": (5, 3) if batched else (3,),
        "seq": (2, 5, 4) if batched else (2, 4),
    }
    for kind, shape in shapes.items():
        a = rng.normal(size=shape)
        u = _to_user(kind, a, ctx)
        assert sorted(u.ravel()) == sorted(a.ravel())  # a permutation of the entries
        assert np.array_equal(_to_canonical(kind, u, shape, ctx), a)


# ---------------------------------------------------------------------------- h0 per sequence, adapted and said


def _per_sequence(params, x, y, h0=None):
    """A correct backward pass that takes h0 as torch and cs231n do: (B, n_h) with a batch."""
    import rnn_num

    return rnn_num.loss_and_grads(params, x, y, h0=h0, model="h0=per-sequence")


def test_a_function_taking_h0_per_sequence_is_checked_so_and_told():
    verdict = check_backward(_per_sequence)
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert verdict.extra["adapted"] == {"h0": "per-sequence"}
    assert "model='h0=per-sequence'" in verdict.detail


def test_the_adapted_check_still_finds_a_wrong_gradient():
    def transposed_W(params, x, y, h0=None):
        loss, grads = _per_sequence(params, x, y, h0)
        return loss, {**grads, "W": grads["W"].T}

    verdict = check_backward(transposed_W)
    assert verdict.status is Status.WRONG
    assert verdict.extra["adapted"] == {"h0": "per-sequence"}


def test_a_function_summing_h0_over_the_batch_is_not_adapted():
    import rnn_num

    verdict = check_backward(rnn_num.loss_and_grads)
    assert verdict.status is Status.CORRECT and "adapted" not in verdict.extra


def test_a_declared_model_is_never_adapted():
    verdict = check_backward(_per_sequence, model="h0=shared")
    assert verdict.status is Status.ILL_FORMED and "adapted" not in verdict.extra


# ---------------------------------------------------------------------------- the docs' examples run


def _docs_section() -> str:
    import pathlib

    text = (pathlib.Path(__file__).parent.parent / "docs" / "checking-code.md").read_text()
    start = text.index("### Code in its own conventions")
    return text[start : text.index("\n## ", start)]


def test_every_python_example_of_the_conventions_section_runs_and_is_correct(monkeypatch, tmp_path):
    import re
    import runpy
    import sys
    import types

    verdicts = []

    def recording(check):
        def run(*args, **kwargs):
            verdicts.append(check(*args, **kwargs))
            return verdicts[-1]

        return run

    proxy = types.ModuleType("rnn_check")
    proxy.check_backward = recording(check_backward)
    proxy.check_layer = recording(check_layer)
    proxy.Conventions = Conventions
    modules = {
        "rnn_check": proxy,
        "min_char_rnn": karpathy,
        "rnn_layers": types.SimpleNamespace(
            rnn_forward=layer.rnn_forward, rnn_backward=layer.rnn_backward
        ),
        "rnn_step_by_step": types.SimpleNamespace(
            rnn_forward=layer.dlai_rnn_forward, rnn_backward=layer.dlai_rnn_backward
        ),
        "rnn_tutorial": wildml,
        "my_torch_style": types.SimpleNamespace(
            loss_and_grads=layer.torch_style_loss_and_grads,
            loss_and_grads_batch_first=layer.torch_style_batch_first,
        ),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    blocks = re.findall(r"```python\n(.*?)```", _docs_section(), flags=re.S)
    assert len(blocks) == 2
    script = tmp_path / "checking_code_conventions.py"  # the docs' examples, run as a script
    script.write_text("\n".join(blocks))
    namespace = runpy.run_path(str(script))
    assert len(verdicts) == 7
    for verdict in verdicts:
        assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)

    import rnn_num

    def step(p, xs, ys, h):  # the docs' "mine": rnn_num behind other names
        canonical = {
            k: p[n] for k, n in (("U", "Wxh"), ("W", "Whh"), ("V", "Why"), ("b", "bh"), ("c", "by"))
        }
        loss, grads = rnn_num.loss_and_grads(canonical, xs, ys, h0=h)
        return loss, {
            "d" + n: grads[k]
            for k, n in (
                ("U", "Wxh"),
                ("W", "Whh"),
                ("V", "Why"),
                ("b", "bh"),
                ("c", "by"),
                ("h0", "h"),
            )
        }

    verdict = check_backward(step, conventions=namespace["mine"])
    assert verdict.status is Status.CORRECT, rnn_check.format_verdict(verdict)
    assert {e.block for e in verdict.errors} == {"loss", "Wxh", "Whh", "Why", "bh", "by", "h"}


def test_the_conventions_sections_verdict_is_the_checkers():
    import re

    shown = re.search(r"```text\n(.*?)```", _docs_section(), flags=re.S)[1]
    verdict = check_layer(
        layer.rnn_forward, layer.rnn_backward_wrong_transpose, conventions="cs231n"
    )
    actual = rnn_check.format_verdict(verdict).splitlines()
    for line in shown.splitlines():
        if line != "…":
            assert line in actual, line


def test_a_mistake_in_token_input_code_is_diagnosed_on_its_one_hot_inputs():
    """The table of mistakes runs on the same one-hot inputs as the code (min-char-rnn)."""
    verdict = check_backward(karpathy.lossFun_tanh_twice, conventions="karpathy")
    assert verdict.status is Status.WRONG
    assert len(verdict.diagnosis) == 1 and "tanh applied twice" in verdict.diagnosis[0]
    assert "(explains ∇Wxh, ∇Whh, ∇bh)" in verdict.diagnosis[0]
