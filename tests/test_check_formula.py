"""The formula route of the checker: dialect, verdicts, shape errors, diagnosis, CLI.

The truth every verdict is measured against is `rnn_num` (whose own tests check it against
finite differences); the formulas below are written by hand, in several notations.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from rnn_check import FormulaError, ParseError, Status, check_formula, parse_formula
from rnn_check._ast import to_latex
from rnn_check._formula import BATTERY
from rnn_check._mutations import REFERENCES, RULES, mutants
from rnn_derive.cli import main as cli_main

# -- correct formulas, written in many ways ------------------------------------------------

CORRECT = [
    # NOTATION.md, canonical letters
    ("W", r"\sum_{t=1}^{T} \mathrm{diag}(1-h_t^2)\,\nabla_{h_t}L\,h_{t-1}^\top", "canonical"),
    ("U", r"\sum_{t=1}^{T} \mathrm{diag}(1-h_t^2)\,\nabla_{h_t}L\,x_t^\top", "canonical"),
    ("b", r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t} L", "canonical"),
    ("V", r"\sum_{t=1}^T (\nabla_{o_t} L) h_t^T", "canonical"),
    ("c", r"\sum_t \nabla_{o_t} L", "canonical"),
    ("h0", r"W^\top \mathrm{diag}(1-h_1^2) \nabla_{h_1} L", "canonical"),
    ("h_t", r"W^T \mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}}L + V^T \nabla_{o_t}L", "canonical"),
    ("o_t", r"\hat{y}_t - y_t", "canonical"),
    # another valid order of factors, ⊙ instead of diag, an outer product written with '
    (
        "W",
        r"\sum_t \left((1-h_t^2) \odot \frac{\partial L}{\partial h_t}\right) h_{t-1}'",
        "canonical",
    ),
    (
        "W",
        r"\sum_{t=1}^{T} \mathrm{diag}(1-\tanh^2(a_t))\,\nabla_{h_t}L\,h_{t-1}^\top",
        "canonical",
    ),
    (
        "U",
        r"\sum_t \left(x_t \left(\nabla_{h_t} L \odot (1 - h_t^2)\right)^T\right)^T",
        "canonical",
    ),
    ("b", r"\sum_{t=1}^{T} \nabla_{a_t} L", "canonical"),
    ("V", r"\sum_{t=1}^{T} \left(\mathrm{softmax}(o_t) - y_t\right) h_t^\top", "canonical"),
    # δ notation introduced with a definition
    (
        "W",
        r"\delta_t = \mathrm{diag}(1-h_t^2)\nabla_{h_t}L;\; \sum_{t=1}^T \delta_t h_{t-1}^\top",
        "canonical",
    ),
    (
        "W",
        r"\sum_t \delta_t h_{t-1}^T \text{ where } \delta_t := (1-h_t^2)\odot\nabla_{h_t}L",
        "canonical",
    ),
    # a recursive δ, with its base case, as in the cheatsheet
    (
        "W",
        r"g_{T+1} = 0, g_t = V^T(\hat y_t - y_t) + W^T \mathrm{diag}(1-h_{t+1}^2) g_{t+1}, "
        r"\nabla_W L = \sum_t \mathrm{diag}(1-h_t^2) g_t h_{t-1}^T",
        "canonical",
    ),
    # the unrolled Σ Π form, three ways of writing the Jacobian product
    (
        "W",
        r"\sum_{t=1}^{T} \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \left(\frac{\partial h_t}{\partial h_k}\right)^\top V^\top \nabla_{o_t} L \; h_{k-1}^\top",
        "canonical",
    ),
    (
        "W",
        r"\sum_t \sum_{k=1}^t \mathrm{diag}(1-h_k^2) \left(\prod_{j=k+1}^{t} \frac{\partial h_j}{\partial h_{j-1}}\right)^T V^T (\hat y_t - y_t) h_{k-1}^T",
        "canonical",
    ),
    (
        "U",
        r"\sum_{t=1}^T \sum_{k=1}^t \mathrm{diag}(1-h_k^2) \prod_{j=k}^{t-1} \left(W^\top \mathrm{diag}(1 - h_{j+1}^2)\right) V^\top (\hat{y}_t - y_t)\, x_k^\top",
        "canonical",
    ),
    (
        "h0",
        r"\sum_{t=1}^{T} \left(\frac{\partial h_t}{\partial h_0}\right)^T V^T \nabla_{o_t}L",
        "canonical",
    ),
    # entrywise, with δ_ij and the indicator
    ("V", r"\sum_t (\hat y_{t,i} - \mathbb{1}_{i=y_t}) h_{t,j}", "canonical"),
    (
        "o_t",
        r"\sum_i \left(-\frac{y_{t,i}}{\hat y_{t,i}}\right) \hat y_{t,i}(\delta_{ij} - \hat y_{t,j})",
        "canonical",
    ),
    ("W", r"\sum_t \left(\nabla_{h_t} L\right)_i (1-h_{t,i}^2) h_{t-1,j}", "canonical"),
    # the seeds' letters
    ("W", r"\sum_t^T \text{diag}(1 - h(t)^2) (\nabla_{h(t)} L) h(t-1)'", "000"),
    ("W", r"\sum_t \mathrm{diag}(1-s_t^2)\,\frac{\partial J}{\partial s_t}\,x_t^T", "001"),
    ("U", r"\sum_t \mathrm{diag}(1-s_t^2)\,\frac{\partial J}{\partial s_t}\,s_{t-1}^T", "001"),
    ("V", r"\sum_t \frac{\partial J}{\partial \hat{y}_t} s_t^T", "001"),
    (
        "W_aa",
        r"\sum_{t=1}^{T} (1-(a^{<t>})^2) \odot \frac{\partial \mathcal{L}}{\partial a^{<t>}} \, (a^{<t-1>})^T",
        "002",
    ),
    ("W_ax", r"\sum_{t=1}^{T} \frac{\partial \mathcal{L}}{\partial u_t} x_t^\top", "002"),
    ("b_y", r"\sum_{t=1}^{T} (\hat y_t - y_t)", "002"),
    ("V", r"\sum_{t=1}^S (\hat{y}_t - y_t) h_t^\top", "003"),
    ("o_t", r"\mathrm{softmax}(\Omega_t) - y_t", "003"),
    ("w_hh", r"\sum_t \mathrm{diag}(1-h_t^2) \frac{\partial L}{\partial h_t} h_{t-1}^T", "004"),
    ("w_hy", r"\sum_t (p_t - c_t) h_t^T", "004"),
    ("b_y", r"\sum_{t=1}^{n} \frac{\partial L}{\partial y_t}", "004"),
    # more ways students write it: d-fractions, ⊗, e_{y_t}, Karpathy's names, code-style dW
    ("W", r"\sum_t diag(1-h_t^2) \frac{dL}{dh_t} h_{t-1}^T", "canonical"),
    (
        "b",
        r"\sum_t \frac{\mathrm{d}L}{\mathrm{d}h_t} \odot (1-h_t^2) \text{ (chain rule)}",
        "canonical",
    ),
    ("V", r"\sum_t (\hat{y}_t - y_t) \otimes h_t", "canonical"),
    ("o_t", r"\hat y_t - e_{y_t}", "canonical"),
    ("o_t", r"\hat y_t - \mathbf{1}_{y_t}", "canonical"),
    (
        "W_hh",
        r"\sum_t \mathrm{diag}(1-h_t^2)\frac{\partial L}{\partial h_t} h_{t-1}^T",
        "canonical",
    ),
    (
        None,
        r"dW = \sum_t \mathrm{diag}(1-h_t^2)\frac{\partial L}{\partial h_t} h_{t-1}^T",
        "canonical",
    ),
    (
        "W",
        r"\sum_t \text{diag}\left(1-\mathbf{h}_t^2\right) \nabla_{\mathbf{h}_t} \mathcal{L} \, \mathbf{h}_{t-1}^\mathsf{T}",
        "canonical",
    ),
    ("W", r"\sum_{t=1}^{T} \mathrm{diag}(1-h^2_t) \nabla_{h_t}L h^\top_{t-1}", "canonical"),
    (
        "W",
        r"\sum_{t=1}^T (I - \mathrm{diag}(h_t)\mathrm{diag}(h_t)) \nabla_{h_t} L \cdot h_{t-1}^T",
        "canonical",
    ),
    (
        "W",
        r"\sum_t \mathrm{diag}(1 - \tanh^2(W h_{t-1} + U x_t + b)) \nabla_{h_t} L \, h_{t-1}^T",
        "canonical",
    ),
    ("h0", r"W^T \left(\frac{\partial L}{\partial a_1}\right)", "canonical"),
    ("V", r"\sum_{t=1}^T \left(\text{softmax}(V h_t + c) - y_t\right) h_t^T", "canonical"),
    (
        "h_t",
        r"\left(\frac{\partial o_t}{\partial h_t}\right)^T \frac{\partial L}{\partial o_t} + \left(\frac{\partial h_{t+1}}{\partial h_t}\right)^T \frac{\partial L}{\partial h_{t+1}}",
        "canonical",
    ),
]


@pytest.mark.parametrize(("wrt", "text", "notation"), CORRECT)
def test_correct_formulas_are_correct(wrt, text, notation):
    verdict = check_formula(text, wrt, notation)
    assert verdict.status is Status.CORRECT, (verdict.summary, verdict.detail)
    assert verdict.exit_code == 0
    assert verdict.errors[0].max_rel_error < 1e-9


@pytest.mark.parametrize("block", sorted(REFERENCES))
def test_every_reference_formula_is_correct(block):
    # the references the diagnosis mutates must themselves match rnn_num
    for text in REFERENCES[block]:
        verdict = check_formula(text, block, diagnose=False)
        assert verdict.status is Status.CORRECT, (block, text, verdict.detail)


def test_battery_has_all_sizes_different_and_every_length():
    assert sorted({case[0] for case in BATTERY}) == [1, 2, 3, 4, 5]
    for _T, n_x, n_h, n_y, _seed in BATTERY:
        assert len({n_x, n_h, n_y}) == 3


def test_wrt_may_be_stated_by_the_formula():
    verdict = check_formula(r"\nabla_c L = \sum_t (\hat y_t - y_t)")
    assert verdict.status is Status.CORRECT
    assert verdict.extra["wrt"] == "c"


# -- wrong formulas: verdict, counterexample, diagnosis -----------------------------------

# Mistakes the way students make them, written by hand (not generated from the rule table).
STUDENT_MISTAKES = [
    ("W", r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t} L \, h_t^T", "h_k where h_{k−1} belongs"),
    (
        "h_t",
        r"W \,\mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}} L + V^T(\hat y_t - y_t)",
        "W where Wᵀ belongs",
    ),
    (
        "h_t",
        r"W^T \mathrm{diag}(1-h_t^2) \nabla_{h_{t+1}} L + V^T \nabla_{o_t} L",
        "tanh' taken at h_t instead of h_{t+1}",
    ),
    ("V", r"\sum_t (y_t - \hat y_t) h_t^T", "sign flipped (a difference reversed)"),
    ("U", r"\sum_{t=1}^{T} \nabla_{h_t}L \, x_t^T", "missing diag(1 − h²) factor"),
    ("b", r"\sum_{t=1}^{T-1} \nabla_{h_t}L \odot (1-h_t^2)", "sum bound off by one"),
    (
        "c",
        r"\frac{1}{T}\sum_{t=1}^{T} (\hat y_t - y_t)",
        "factor 1/T (averaging instead of summing)",
    ),
    ("o_t", r"\hat y_t - \mathbf{1}", "softmax-Jacobian diagonal used for all i, j"),
    (
        "h_t",
        r"\mathrm{diag}(1-h_{t+1}^2) W^T \nabla_{h_{t+1}} L + V^T(\hat y_t - y_t)",
        "factors in the wrong order",
    ),
    (
        "o_t",
        r"\sum_i \left(-\frac{y_{t,i}}{\hat y_{t,i}}\right) \hat y_{t,i}(1 - \hat y_{t,j})",
        "softmax-Jacobian diagonal used for all i, j",
    ),
    (
        "W",
        r"\sum_{t=1}^{T} h_{t-1} \left(\nabla_{h_t}L \odot (1-h_t^2)\right)^\top",
        "transpose extra",
    ),
    (
        "U",
        r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t} L \, h_{t-1}^T",
        None,
    ),  # ILL-FORMED: 3×3 vs 3×4
]


@pytest.mark.parametrize(("wrt", "text", "rule"), STUDENT_MISTAKES)
def test_student_mistakes_are_wrong_with_their_diagnosis(wrt, text, rule):
    verdict = check_formula(text, wrt)
    if rule is None:
        assert verdict.status is Status.ILL_FORMED
        assert "3×3" in verdict.detail and "3×4" in verdict.detail
        return
    assert verdict.status is Status.WRONG, (verdict.summary, verdict.detail)
    assert verdict.exit_code == 1
    assert rule in verdict.diagnosis, verdict.diagnosis
    ce = verdict.counterexample
    assert ce is not None and ce.T in range(1, 6) and len({ce.n_x, ce.n_h, ce.n_y}) == 3
    assert abs(ce.expected - ce.actual) > 1e-6
    assert verdict.errors[0].max_rel_error > 1e-6


def test_a_shape_error_from_a_swap_is_diagnosed_on_square_cases():
    verdict = check_formula(r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L\,x_t^T", "W")
    assert verdict.status is Status.ILL_FORMED
    assert "3×4" in verdict.detail and "x and h swapped" in verdict.diagnosis
    verdict = check_formula(
        r"W^T \mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}} L + V (\hat y_t - y_t)", "h_t"
    )
    assert verdict.status is Status.ILL_FORMED and "transpose missing" in verdict.diagnosis


@pytest.mark.parametrize(
    ("wrt", "text", "rule", "shapes"),
    [
        # an outer product written without its transpose never conforms, whatever the sizes
        ("V", r"\sum_t (\hat y_t - y_t) h_t", "transpose missing", ("2×1", "3×1")),
        (
            "W",
            r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t}L \, h_{t-1}",
            "transpose missing",
            ("3×1", "3×1"),
        ),
        (
            "U",
            r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t}L \, x_t",
            "transpose missing",
            ("3×1", "4×1"),
        ),
        # the factor tanh' written as a vector next to a vector (seed 004's ∂L/∂b_h)
        ("b", r"\sum_t (1-h_t^2) \nabla_{h_t}L", "diag(…) missing", ("3×1", "3×1")),
        ("h0", r"W^T (1-h_1^2) \nabla_{h_1} L", "diag(…) missing", ("3×1", "3×1")),
        # the chain written in numerator order: (ŷ − y) on the left of the Jacobians
        (
            "W",
            r"\sum_t \sum_{k=1}^t (\hat y_t - y_t) V^T \mathrm{diag}(1-h_k^2) h_{k-1}^T",
            "factors in the wrong order",
            ("2×1", "3×2"),
        ),
    ],
)
def test_a_shape_error_is_diagnosed_by_the_mutation_that_fails_the_same_way(
    wrt, text, rule, shapes
):
    verdict = check_formula(text, wrt)
    assert verdict.status is Status.ILL_FORMED and verdict.exit_code == 2
    # the shape detail stays: the sub-expressions and both shapes
    first, second = shapes
    assert f"is {first} and " in verdict.detail and f" is {second}" in verdict.detail
    assert any(d.startswith(rule) for d in verdict.diagnosis), verdict.diagnosis
    assert verdict.extra["diagnosis_by"][verdict.diagnosis[0]] == "same shape failure"
    assert "looks like: " + rule in verdict.summary


@pytest.mark.parametrize(
    ("wrt", "text"),
    [
        ("W", r"\sum_t h_t h_t"),  # the shapes of a missing transpose, but none of its values
        ("U", r"\sum_t x_t W"),
        ("V", r"\sum_t (\hat y_t - y_t) x_t"),
    ],
)
def test_a_shape_error_unrelated_to_any_mutation_names_none(wrt, text):
    verdict = check_formula(text, wrt)
    assert verdict.status is Status.ILL_FORMED and "needs" in verdict.detail
    assert verdict.diagnosis == ()


def test_shape_diagnosis_can_be_turned_off():
    verdict = check_formula(r"\sum_t (\hat y_t - y_t) h_t", "V", diagnose=False)
    assert verdict.status is Status.ILL_FORMED and verdict.diagnosis == ()


def test_numerator_layout_is_ill_formed_with_shapes():
    text = r"\frac{\partial L}{\partial o_t}\frac{\partial o_t}{\partial h_t} + \frac{\partial L}{\partial h_{t+1}}\frac{\partial h_{t+1}}{\partial h_t}"
    verdict = check_formula(text, "h_t")
    assert verdict.status is Status.ILL_FORMED
    assert "is 2×1 and" in verdict.detail and "is 2×3" in verdict.detail


def test_a_sign_and_index_mistake_together_is_diagnosed_as_a_pair():
    verdict = check_formula(r"-\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t} L \, h_t^T", "W")
    assert verdict.status is Status.WRONG
    assert any("+" in d and "sign flipped" in d and "h_k where" in d for d in verdict.diagnosis)


def test_an_unrecognisable_mistake_is_wrong_without_diagnosis():
    verdict = check_formula(r"\sum_t \mathrm{diag}(1-h_t^2) \nabla_{h_t} L \, x_t^T + I", "W")
    assert verdict.status is Status.ILL_FORMED  # n_h×n_x + I does not even conform
    verdict = check_formula(r"\sum_t (\hat y_t - y_t) \, h_t^T + 0.01\, V", "V")
    assert verdict.status is Status.WRONG
    assert verdict.diagnosis == ()


def _mutants_by_rule(per_block: int = 3) -> list[tuple[str, list[tuple[str, str]]]]:
    """For each rule of the table, the first few mutants it makes of each block's references."""
    chosen: dict[str, list[tuple[str, str]]] = {}
    for block, texts in REFERENCES.items():
        counts: dict[str, int] = {}
        for text in texts:
            body = parse_formula(text).answers[0].body
            for name, mutated in mutants(body):
                if counts.get(name, 0) < per_block:
                    counts[name] = counts.get(name, 0) + 1
                    chosen.setdefault(name, []).append((block, to_latex(mutated)))
    return sorted(chosen.items())


def test_every_rule_of_the_table_applies_to_some_reference():
    assert {name for name, _ in _mutants_by_rule()} == {rule.name for rule in RULES}


@pytest.mark.parametrize(("rule", "cases"), _mutants_by_rule(), ids=lambda v: str(v)[:40])
def test_each_mutation_rule_is_recognised(rule, cases):
    recognised = 0
    for block, text in cases:
        verdict = check_formula(text, block)
        # a transpose of a scalar or a swap of scalar factors changes nothing
        harmless = ("transpose extra", "factors in the wrong order")
        assert verdict.status is not Status.CORRECT or rule in harmless, (rule, text)
        if verdict.status is Status.ILL_FORMED:
            assert "needs" in verdict.detail or " is " in verdict.detail, verdict.detail
        if verdict.status is not Status.CORRECT and rule in verdict.diagnosis:
            recognised += 1
            break  # one recognised mutant is enough; the others only cost time
    assert recognised >= 1, (rule, cases)


# -- ill-formed: shapes, symbols, syntax ------------------------------------------------------


def test_shape_error_names_both_subexpressions_and_shapes():
    verdict = check_formula(r"\sum_{t=1}^{T} (y_t - \hat{y}_t) V^\top", "c")
    assert verdict.status is Status.ILL_FORMED and verdict.exit_code == 2
    assert (
        "(y_t - \\hat{y}_t)) is 2×1 and V^\\top is 3×2: the product needs 1 = 3" in verdict.detail
    )


def test_vector_times_vector_suggests_odot():
    verdict = check_formula(r"\sum_t \nabla_{h_t} L (1-h_t^2)", "b")
    assert verdict.status is Status.ILL_FORMED
    assert "\\odot" in verdict.detail and "3×1" in verdict.detail


def test_result_of_the_wrong_shape_is_ill_formed():
    verdict = check_formula(r"\sum_t h_{t-1} \nabla_{h_t}L^T", "U")
    assert verdict.status is Status.ILL_FORMED
    assert "∇_U L is 3×4" in verdict.detail


def test_unknown_symbol_lists_known_ones_and_suggests_the_nearest():
    verdict = check_formula(r"\sum_t \Omega_t h_t^T", "V")  # Ω is seed 003's letter
    assert verdict.status is Status.ILL_FORMED
    assert "unknown symbol \\Omega" in verdict.detail
    assert "Known symbols:" in verdict.detail and "\\hat{y}" in verdict.detail
    verdict = check_formula(r"\sum_t (\hat y_t - y_t) h_t^T", "V", notation="004")
    assert "Did you mean \\hat{y}" not in verdict.detail  # 004 has no ŷ; says what it has
    assert "p" in verdict.detail


def test_parse_error_has_position_and_caret():
    with pytest.raises(ParseError) as info:
        parse_formula(r"\sum_t (\hat y_t - y_t h_t^T")
    error = info.value
    assert error.position is not None
    assert "^" in error.caret
    assert isinstance(error, FormulaError)
    verdict = check_formula(r"\sum_t \mathrm{diag}(1-h_t^2 \nabla_{h_t} L", "b")
    assert verdict.status is Status.ILL_FORMED and "^" in verdict.detail


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\\",
        r"\frac{\partial L}{\partial W}",  # the gradient itself on the right side
        r"\sum h_t",  # a sum without an index
        r"h_t^{-1}",
        "x" * 5000,  # too long
        "(" * 60 + "h_t" + ")" * 60,  # too deep
        r"\sum_t \sum_k \sum_j \sum_i \sum_m \sum_n \sum_p \sum_q h_t",
        r"\delta_t h_t",  # an undefined δ
        r"\frac{\partial h_t}{\partial W}",  # a three-index tensor
    ],
)
def test_bad_input_gives_ill_formed_never_a_traceback(text):
    verdict = check_formula(text, "b")
    assert verdict.status is Status.ILL_FORMED
    assert verdict.detail


def test_unknown_command_gets_the_dialect_spelling():
    detail = check_formula(r"\sum_t \diag(1-h_t^2) \nabla_{h_t}L", "b").detail
    assert "\\diag" in detail and "write \\mathrm{diag}" in detail
    assert "write \\nabla" in check_formula(r"\sum_t \nabal_{h_t} L", "b").detail
    # f is the model's activation (tanh here); another letter gets the hint
    assert check_formula(r"\sum_t f'(a_t) \odot \nabla_{h_t}L", "b").status is Status.CORRECT
    assert "\\tanh'(a_t)" in check_formula(r"\sum_t g'(a_t) \odot \nabla_{h_t}L", "b").detail


def test_out_of_range_time_is_named():
    verdict = check_formula(r"\sum_{t=0}^{T} \mathrm{diag}(1-h_t^2) \nabla_{h_t} L x_t^T", "U")
    assert verdict.status is Status.ILL_FORMED
    assert "x_{0} does not exist" in verdict.detail


def test_missing_sum_and_ellipsis_are_explained():
    assert "sum over it" in check_formula(r"(\hat y_t - y_t) h_t^T", "V").detail
    verdict = check_formula(r"\sum_t \sum_{k=1}^t \prod_{j=k+1}^{t} W^T D_j \dots", "W")
    assert verdict.status is Status.ILL_FORMED and "ellipsis" in verdict.detail


def test_sum_scope_mistake_is_explained():
    verdict = check_formula(r"\sum_t \hat y_t - y_t", "c")
    assert verdict.status is Status.ILL_FORMED
    assert "brackets" in verdict.detail


# -- identities between Jacobians ------------------------------------------------------------


def test_jacobian_identities():
    right = r"\frac{\partial h_{t+1}}{\partial h_t} = \mathrm{diag}(1-h_{t+1}^2) W"
    assert check_formula(right).status is Status.CORRECT
    wrong = r"\frac{\partial h_{t+1}}{\partial h_t} = W^\top \mathrm{diag}(1-h_{t+1}^2)"
    verdict = check_formula(wrong)
    assert verdict.status is Status.WRONG and verdict.counterexample is not None
    chain = r"\frac{\partial h_t}{\partial h_k} = \prod_{m=k+1}^{t} \frac{\partial h_m}{\partial h_{m-1}}"
    assert check_formula(chain).status is Status.CORRECT
    # the product of the transposes runs the other way
    transposed = r"\left(\frac{\partial h_t}{\partial h_k}\right)^T = \prod_{m=k+1}^{t} W^T \mathrm{diag}(1-h_m^2)"
    assert check_formula(transposed).status is Status.CORRECT
    reversed_order = r"\left(\frac{\partial h_t}{\partial h_k}\right)^T = \prod_{m=k+1}^{t} \mathrm{diag}(1-h_m^2) W"
    assert check_formula(reversed_order).status is Status.WRONG
    early = r"\frac{\partial h_t}{\partial h_{t-1}} = \mathrm{diag}(1-h_{t-1}^2) W"
    assert "tanh' taken at h_t instead of h_{t+1}" in check_formula(early).diagnosis
    plus = r"\frac{\partial \hat y_t}{\partial o_t} = \mathrm{diag}(\hat y_t) + \hat y_t \hat y_t^T"
    assert "sign of one term flipped" in check_formula(plus).diagnosis


def test_an_identity_is_checked_only_where_all_its_quantities_exist():
    # the chain rule one step back: at t = T it would need h_{T+1}; taking ∂ŷ_T/∂h_{T+1} as
    # 0 there would compare ∂ŷ_T/∂h_T with 0
    chain = r"\frac{\partial \hat y_T}{\partial h_t} = \frac{\partial \hat y_T}{\partial h_{t+1}} \frac{\partial h_{t+1}}{\partial h_t}"
    verdict = check_formula(chain)
    assert verdict.status is Status.CORRECT, verdict.summary
    # steps t = 0 … T-1 of each case, not t = T
    assert f"({sum(case[0] for case in BATTERY)} checks;" in verdict.summary
    spelled = r"\frac{\partial y_T}{\partial h_t} = \frac{\partial y_T}{\partial h_{t+1}} \cdot \mathrm{diag}(1 - h_{t+1}^2) w_{hh}"
    assert check_formula(spelled, notation="004").status is Status.CORRECT
    # a mistake still shows at the steps that exist
    early = r"\frac{\partial \hat y_T}{\partial h_t} = \frac{\partial \hat y_T}{\partial h_{t+1}} \mathrm{diag}(1-h_t^2) W"
    assert check_formula(early).status is Status.WRONG
    # ∂h_{t+1}/∂h_t exists for t ≤ T - 1 only: not compared at t = T with h_{T+1} = 0
    step = r"\frac{\partial h_{t+1}}{\partial h_t} = \mathrm{diag}(1-h_{t+1}^2) W"
    assert f"({sum(case[0] for case in BATTERY)} checks;" in check_formula(step).summary
    # an identity that needs h_{T+1} at every step exists nowhere
    nowhere = r"\frac{\partial h_{T+1}}{\partial h_T} = \mathrm{diag}(1-h_{T+1}^2) W"
    verdict = check_formula(nowhere)
    assert verdict.status is Status.ILL_FORMED and "exists at no step" in verdict.detail
    # a product whose own index runs past the end is wrong, not a reason to skip the step
    chain = r"\frac{\partial h_T}{\partial h_k} = \prod_{m=k+1}^{%s} \frac{\partial h_m}{\partial h_{m-1}}"
    assert check_formula(chain % "T").status is Status.CORRECT
    assert check_formula(chain % "T+1").status is Status.WRONG


def test_a_gradient_formula_still_takes_the_adjoint_past_the_end_as_zero():
    # ∇_{h_t}L by its recursion, at t = T: h_{T+1} and ∇_{h_{T+1}}L are the zero padding
    recursion = r"W^T \mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}} L + V^T(\hat y_t - y_t)"
    assert check_formula(recursion, "h_t").status is Status.CORRECT
    # at the last step alone it is the local term plus a zero
    last = (
        r"\nabla_{h_T} L = V^T(\hat y_T - y_T) + W^T \mathrm{diag}(1-h_{T+1}^2) \nabla_{h_{T+1}} L"
    )
    assert check_formula(last).status is Status.CORRECT
    # a definition's recursion with its base case past the end
    delta = r"g_{T+1} = 0, g_t = V^T(\hat y_t - y_t) + W^T \mathrm{diag}(1-h_{t+1}^2) g_{t+1}, \nabla_{h_t} L = g_t"
    assert check_formula(delta).status is Status.CORRECT


def test_statements_about_the_model_are_checked_as_identities():
    assert check_formula(r"a_t = W h_{t-1} + U x_t + b").status is Status.CORRECT
    assert check_formula(r"a_t = W h_t + U x_t + b").status is Status.WRONG
    assert check_formula(r"\hat y_t = \mathrm{softmax}(V h_t + c)").status is Status.CORRECT
    # next to a gradient, a restated model equation does not shadow the letter h
    text = r"\sum_t \delta_t h_{t-1}^T \text{ where } \delta_t = (1-h_t^2) \odot \nabla_{h_t}L, \; h_t = \tanh(a_t)"
    assert check_formula(text, "W").status is Status.CORRECT


# -- command line ----------------------------------------------------------------------------


def test_cli_exit_codes_and_json(capsys):
    ok = r"\sum_{t=1}^{T} \mathrm{diag}(1-h_t^2)\,\nabla_{h_t}L\,h_{t-1}^\top"
    assert cli_main(["check", "--wrt", "W", ok]) == 0
    assert "CORRECT" in capsys.readouterr().out
    assert cli_main(["check", "--wrt", "V", "--json", r"\sum_t (y_t - \hat y_t) h_t^T"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "WRONG"
    assert data["diagnosis"] == ["sign flipped (a difference reversed)"]
    assert data["counterexample"]["T"] >= 1
    assert cli_main(["check", "--wrt", "W", r"\sum_t \diag(h_t"]) == 2
    assert "^" in capsys.readouterr().out
    assert cli_main(["check", "--wrt", "c", r"\sum_t (y_t - \hat y_t) V^T"]) == 2
    assert "the product needs" in capsys.readouterr().out
    assert (
        cli_main(
            [
                "check",
                "--notation",
                "003",
                "--wrt",
                "W",
                r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L h_{t-1}^T",
            ]
        )
        == 0
    )
    capsys.readouterr()


def test_cli_seed_letters_for_wrt(capsys):
    # seed 001 swaps W and U: its W is the canonical input matrix U
    text = r"\sum_t \mathrm{diag}(1-s_t^2)\,\frac{\partial J}{\partial s_t}\,x_t^T"
    assert cli_main(["check", "--notation", "001", "--wrt", "W", text]) == 0
    # the verdict speaks the note's letters: its W and its loss J, not the canonical ∇_U L
    assert "CORRECT: ∇_W J matches" in capsys.readouterr().out


# -- safety ------------------------------------------------------------------------------------


def test_formula_route_never_evaluates_user_text():
    root = pathlib.Path(__file__).resolve().parents[1]
    files = [
        "rnn_check/_parser.py",
        "rnn_check/_evaluate.py",
        "rnn_check/_formula.py",
        "rnn_check/_mutations.py",
        "rnn_check/_ast.py",
        "rnn_check/_notation.py",
        "rnn_derive/check.py",
    ]
    for name in files:
        source = (root / name).read_text(encoding="utf-8")
        for forbidden in (
            r"\beval\(",
            r"\bexec\(",
            r"\bsympify\b",
            r"\bparse_expr\b",
            r"\blambdify\b",
            r"__import__",
        ):
            assert re.search(forbidden, source) is None, (name, forbidden)


def test_bad_arguments_give_ill_formed():
    assert "must be a string" in check_formula(None, "W").detail
    assert "wrt must be a string" in check_formula("h_t", 3).detail
    assert "unknown notation '9'" in check_formula("h_t", "b", "9").detail
    assert "not a block" in check_formula(r"\sum_t h_t", "x_t").detail


def test_pasted_unicode_is_read_as_latex():
    assert check_formula("∑_t diag(1 − h_t²) ∇_{h_t}L h_{t−1}ᵀ", "W").status is Status.CORRECT
    assert check_formula("Wᵀ diag(1-h_{t+1}^2) ∂L/∂h_{t+1} + Vᵀ(ŷ_t - y_t)", "h_t").status is (
        Status.CORRECT
    )
    # One label, the most specific: not also the plain "sign flipped" it refines.
    assert check_formula("∑_t (y_t − ŷ_t) h_tᵀ", "V").diagnosis == (
        "sign flipped (a difference reversed)",
    )


_EXAMPLE_ROW = re.compile(r"^\| `(.+)` \| (\S+) \| (CORRECT|WRONG|ILL-FORMED)(?: — (.+))? \|$")


def test_the_dialect_page_examples_give_the_verdicts_they_show():
    page = pathlib.Path(__file__).parents[1] / "docs" / "dialect.md"
    section = page.read_text(encoding="utf-8").split("## Examples", 1)[1].split("\n## ", 1)[0]
    rows = [_EXAMPLE_ROW.match(line) for line in section.splitlines() if line.startswith("| `")]
    assert rows and all(rows), "an example row the test cannot read"
    # The page shows the diagnosis of a WRONG verdict and the summary of an ILL-FORMED one.
    for formula, wrt, status, shown in (row.groups() for row in rows):
        verdict = check_formula(formula, wrt)
        assert verdict.status.value == status, (formula, verdict.summary)
        if status == "WRONG":
            assert shown == "; ".join(verdict.diagnosis), (formula, verdict.diagnosis)
        elif status == "ILL-FORMED":
            assert f"{status}: {shown}" == verdict.summary, (formula, verdict.summary)


def test_the_dialect_page_quotes_a_real_shape_message():
    page = pathlib.Path(__file__).parents[1] / "docs" / "dialect.md"
    quoted = re.search(
        r"For `(.+?)` with `--wrt (\S+)` the detail line reads: `(.+?)`\.", page.read_text("utf-8")
    )
    assert quoted, "the sentence quoting a shape message is gone or reworded"
    formula, wrt, detail = quoted.groups()
    assert detail in check_formula(formula, wrt).detail
