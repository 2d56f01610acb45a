"""Fuzzing the formula route: the only failure it may show is the project's own error.

Random strings (LaTeX-ish tokens and arbitrary characters) and random syntax trees (printed,
parsed back and evaluated both ways). A hang would show as hypothesis' deadline, which is
set far above the time one example takes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnn_check import FormulaError, Status, check_formula, parse_formula
from rnn_check import _ast as A
from rnn_check._evaluate import Evaluator, build_context

# LaTeX-ish tokens, separated by spaces (a space token is added below)
TOKENS = (
    r"""
h_t h_{t-1} h_{t+1} x_t a_t o_t \hat{y}_t y_t \hat{y}_{t,i} W U V b c I T L k i j 0 1 2
^T ^\top ' ^2 ^{-1} _ ^ + - / = , ; . & \\ ( ) { } [ ] \left( \right) \{ \}
\sum_t \sum_{t=1}^{T} \sum_{k=1}^{t} \prod_{j=k+1}^{t} \sum_i \frac{
\frac{\partial{L}}{\partial{h_t}} \partial \nabla_{h_t}L \nabla_{o_t} \mathrm{diag}( \tanh
\tanh' \odot \cdot \, \delta_{ij} \delta_t \mathbb{1}_{i=y_t} \mathbf{1} \text{where}
\Omega_t \mathcal{L} \begin{aligned} \end{aligned} \quad(3) g_t= g_{T+1}=0; g_{t+1}
g_{t-1} \nabla_W{L}= \frac{dL}{dh_t} \otimes e_{y_t} \exp \log a^{<t>} s_t W_{aa}
""".split()
    + [" "]
)

token_strings = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)
any_strings = st.text(max_size=80)
FAST = settings(
    max_examples=150,
    deadline=10_000,  # a hang guard, not a speed target
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


@FAST
@given(st.one_of(token_strings, any_strings))
def test_random_text_parses_or_fails_with_our_error(text):
    try:
        parse_formula(text)
    except FormulaError as error:
        assert str(error)


@settings(FAST, max_examples=60)
@given(
    token_strings,
    st.sampled_from(["W", "b", "V", "h_t", "o_t", "h0", None]),
    st.sampled_from(["canonical", "001", "002", "003", "004"]),
)
def test_random_text_always_gets_a_verdict(text, wrt, notation):
    verdict = check_formula(text, wrt, notation, diagnose=False)
    assert verdict.status in set(Status)
    if verdict.status is Status.ILL_FORMED:
        assert verdict.detail


# -- random syntax trees ----------------------------------------------------------------

TIMES = st.sampled_from(
    [A.Index("t"), A.Sub(A.Index("t"), A.Num(1.0)), A.Add(A.Index("t"), A.Num(1.0)), A.Num(1.0)]
)
LEAVES = st.one_of(
    st.builds(A.Param, st.sampled_from(["U", "W", "V", "b", "c"])),
    st.builds(A.Quantity, st.sampled_from(["x", "h", "a", "o", "yhat", "y"]), TIMES),
    st.builds(A.Grad, st.sampled_from(["h", "o", "a"]), TIMES),
    st.builds(A.Num, st.sampled_from([1.0, 2.0, 0.5])),
    st.just(A.Identity()),
    st.just(A.Length()),
)


def _branches(children):
    return st.one_of(
        st.builds(A.Add, children, children),
        st.builds(A.Sub, children, children),
        st.builds(A.Neg, children),
        st.builds(A.Mul, children, children),
        st.builds(A.Hadamard, children, children),
        st.builds(A.Transpose, children),
        st.builds(A.Square, children),
        st.builds(A.Func, st.sampled_from(["diag", "tanh", "dtanh", "softmax"]), children),
        st.builds(
            A.BigOp,
            st.just("sum"),
            st.just("k"),
            st.just(A.Num(1.0)),
            st.just(A.Index("t")),
            children,
        ),
    )


TREES = st.recursive(LEAVES, _branches, max_leaves=12)
CONTEXT = build_context(3, 4, 3, 2, 7)


def _evaluate(node):
    try:
        value = Evaluator(CONTEXT).value(node, {"t": 2})
    except FormulaError as error:
        return type(error).__name__
    if value.kind == "mat":
        return np.asarray(value.data)
    return (value.kind, float(value.data))


@settings(FAST, max_examples=120)
@given(TREES)
def test_random_trees_print_parse_and_evaluate_the_same(tree):
    text = A.to_latex(tree)
    program = parse_formula(text)
    (answer,) = program.answers
    direct, parsed = _evaluate(tree), _evaluate(answer.body)
    if isinstance(direct, np.ndarray):
        assert isinstance(parsed, np.ndarray) and parsed.shape == direct.shape
        assert np.allclose(parsed, direct, equal_nan=True), text
    elif isinstance(direct, tuple):
        assert isinstance(parsed, tuple) and parsed[0] == direct[0]
        assert np.isclose(parsed[1], direct[1], equal_nan=True), text
    else:
        assert parsed == direct, text


@settings(FAST, max_examples=40)
@given(TREES, st.sampled_from(["W", "U", "b", "c", "V", "h_t"]))
def test_random_trees_always_get_a_verdict(tree, wrt):
    verdict = check_formula(A.to_latex(tree), wrt, diagnose=False)
    assert verdict.status in set(Status)
