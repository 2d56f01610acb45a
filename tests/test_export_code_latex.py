"""latexify'd code: the rendered maths has the right operators, transposes and names."""

import numpy as np
import pytest

import rnn_num
from derivations.code_beside_maths import NAMES, SPECS, all_code_beside
from rnn_sym import CodeLatexError, code_to_latex


def recurrent_update(h_prev, x_t, W_hh, W_xh, b_h):
    return np.tanh(W_hh @ h_prev + W_xh @ x_t + b_h)


def two_kinds_of_product(W, a, d, lr):
    g = (1 - a**2) * d
    return W.T @ g + lr * (W @ a).T @ d


def test_matmul_is_side_by_side_never_a_dot():
    latex = code_to_latex(rnn_num.forward_step, names=NAMES, lhs="h_t")
    assert r"\cdot" not in latex
    assert "W {h_{t-1}}" in latex and "U {x_t}" in latex
    assert latex.startswith(r"h_t = \tanh")


def test_transpose_is_a_superscript_and_elementwise_product_is_odot():
    latex = code_to_latex(rnn_num.backward_step, names=NAMES)
    assert ".T" not in latex
    assert r"{W}^{\top}" in latex and r"{V}^{\top}" in latex
    assert r"\odot" in latex
    # W^T is applied to the whole elementwise product: it is bracketed
    w_t = latex.index(r"{W}^{\top}")
    assert latex[w_t:].startswith(
        r"{W}^{\top} \mathopen{}\left( \mathopen{}\left( 1 - {h_{t+1}}^{2}"
    )


def test_python_names_with_underscores_become_subscripts():
    latex = code_to_latex(recurrent_update)
    assert r"\mathrm{W\_hh}" not in latex and r"\_" not in latex.split("=", 1)[1]
    assert r"{W_{hh}} {h_{\mathrm{prev}}}" in latex
    assert "{W_{xh}} {x_{t}}" in latex
    assert r"\mathrm{recurrent\_update}" in latex  # the default left-hand side


def test_scalars_multiply_side_by_side_and_mixed_products_are_bracketed():
    latex = code_to_latex(two_kinds_of_product, scalars={"lr"})
    assert r"g = \mathopen{}\left( 1 - a^{2} \mathclose{}\right) \odot d" in latex
    # lr * X.T @ d is (lr X^T) d: a product by a scalar needs no brackets inside a matrix product
    assert r"\mathrm{lr} {\mathopen{}\left( W a \mathclose{}\right)}^{\top} d" in latex
    assert r"\\ \mathrm{two\_kinds\_of\_product}" in latex  # the value on the last row


def test_latexify_itself_is_left_unchanged():
    import latexify

    before = latexify.get_latex(rnn_num.backward_step)
    code_to_latex(rnn_num.backward_step, names=NAMES)
    assert latexify.get_latex(rnn_num.backward_step) == before
    assert "W.T" in before  # latexify's own output: what our rendering fixes


def test_a_function_without_source_gives_a_clear_error():
    with pytest.raises(CodeLatexError, match="could not"):
        code_to_latex(len)


def test_every_step_function_renders_beside_its_formula():
    blocks = all_code_beside()
    assert [b.title for b in blocks] == [f"rnn_num.{s.function}" for s in SPECS]
    for block, spec in zip(blocks, SPECS, strict=True):
        assert block.code_latex.startswith(spec.lhs + " = ")
        assert ".T" not in block.code_latex and r"\cdot" not in block.code_latex
        assert r"\mathrm{np}" not in block.code_latex
        assert f"def {spec.function}(" in block.source
