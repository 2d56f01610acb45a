"""Published gradient formulas, copied as their sources print them, and the verdict each must
get (issue 12, item 3: "what real material writes, read correctly").

The truth is rnn_num's gradient of the model the notation preset implies (its own tests check
it against finite differences), never the parser under test. Each correct formula has
deliberately broken variants next to it that must be WRONG, or a specific parse error where
the dialect says why it cannot read them.
"""

from __future__ import annotations

import pathlib

import pytest

from rnn_check import FormulaError, ParseError, Status, check_formula, parse_formula

C, W, I = "CORRECT", "WRONG", "ILL-FORMED"

# (source, notation, wrt, letters, formula as printed, verdict, part of the detail or None)
CORPUS = [
    # d2l.ai, ch. 9.7 "Backpropagation Through Time", eqs (9.7.11)-(9.7.16) (identity
    # activation, no biases, L = (1/T) Σ_t l(o_t, y_t): the d2l preset's model)
    ("d2l 9.7.11", "d2l", None, None,
     r"\frac{\partial L}{\partial \mathbf{o}_t} =  \frac{\partial l (\mathbf{o}_t, y_t)}{T \cdot \partial \mathbf{o}_t} \in \mathbb{R}^q.",
     C, None),
    ("d2l 9.7.12", "d2l", None, None,
     r"\frac{\partial L}{\partial \mathbf{W}_\textrm{qh}} = \sum_{t=1}^T \textrm{prod}\left(\frac{\partial L}{\partial \mathbf{o}_t}, \frac{\partial \mathbf{o}_t}{\partial \mathbf{W}_\textrm{qh}}\right) = \sum_{t=1}^T \frac{\partial L}{\partial \mathbf{o}_t} \mathbf{h}_t^\top,",
     C, None),
    ("d2l 9.7.12, broken: h_{t-1} for h_t", "d2l", None, None,
     r"\frac{\partial L}{\partial \mathbf{W}_\textrm{qh}} = \sum_{t=1}^T \frac{\partial L}{\partial \mathbf{o}_t} \mathbf{h}_{t-1}^\top",
     W, None),
    ("d2l 9.7.13", "d2l", None, None,
     r"\frac{\partial L}{\partial \mathbf{h}_T} = \textrm{prod}\left(\frac{\partial L}{\partial \mathbf{o}_T}, \frac{\partial \mathbf{o}_T}{\partial \mathbf{h}_T} \right) = \mathbf{W}_\textrm{qh}^\top \frac{\partial L}{\partial \mathbf{o}_T}.",
     C, None),
    ("d2l 9.7.14", "d2l", None, None,
     r"\frac{\partial L}{\partial \mathbf{h}_t} = \textrm{prod}\left(\frac{\partial L}{\partial \mathbf{h}_{t+1}}, \frac{\partial \mathbf{h}_{t+1}}{\partial \mathbf{h}_t} \right) + \textrm{prod}\left(\frac{\partial L}{\partial \mathbf{o}_t}, \frac{\partial \mathbf{o}_t}{\partial \mathbf{h}_t} \right) = \mathbf{W}_\textrm{hh}^\top \frac{\partial L}{\partial \mathbf{h}_{t+1}} + \mathbf{W}_\textrm{qh}^\top \frac{\partial L}{\partial \mathbf{o}_t}.",
     C, None),
    ("d2l 9.7.14, broken: the recursion term dropped", "d2l", None, None,
     r"\frac{\partial L}{\partial \mathbf{h}_t} = \mathbf{W}_\textrm{qh}^\top \frac{\partial L}{\partial \mathbf{o}_t}",
     W, None),
    ("d2l 9.7.15", "d2l", None, None,
     r"\frac{\partial L}{\partial \mathbf{h}_t}= \sum_{i=t}^T {\left(\mathbf{W}_\textrm{hh}^\top\right)}^{T-i} \mathbf{W}_\textrm{qh}^\top \frac{\partial L}{\partial \mathbf{o}_{T+t-i}}.",
     C, None),
    ("d2l 9.7.15, broken: W_hh where W_hh^T belongs", "d2l", None, None,
     r"\frac{\partial L}{\partial \mathbf{h}_t}= \sum_{i=t}^T {\left(\mathbf{W}_\textrm{hh}\right)}^{T-i} \mathbf{W}_\textrm{qh}^\top \frac{\partial L}{\partial \mathbf{o}_{T+t-i}}.",
     W, None),
    ("d2l 9.7.16 (first line)", "d2l", "W_hx", None,
     r"\begin{aligned} \frac{\partial L}{\partial \mathbf{W}_\textrm{hx}} &= \sum_{t=1}^T \textrm{prod}\left(\frac{\partial L}{\partial \mathbf{h}_t}, \frac{\partial \mathbf{h}_t}{\partial \mathbf{W}_\textrm{hx}}\right) = \sum_{t=1}^T \frac{\partial L}{\partial \mathbf{h}_t} \mathbf{x}_t^\top,\\ \frac{\partial L}{\partial \mathbf{W}_\textrm{hh}} &= \sum_{t=1}^T \textrm{prod}\left(\frac{\partial L}{\partial \mathbf{h}_t}, \frac{\partial \mathbf{h}_t}{\partial \mathbf{W}_\textrm{hh}}\right) = \sum_{t=1}^T \frac{\partial L}{\partial \mathbf{h}_t} \mathbf{h}_{t-1}^\top, \end{aligned}",
     C, None),
    ("d2l 9.7.16 (second line)", "d2l", "W_hh", None,
     r"\begin{aligned} \frac{\partial L}{\partial \mathbf{W}_\textrm{hx}} &= \sum_{t=1}^T \textrm{prod}\left(\frac{\partial L}{\partial \mathbf{h}_t}, \frac{\partial \mathbf{h}_t}{\partial \mathbf{W}_\textrm{hx}}\right) = \sum_{t=1}^T \frac{\partial L}{\partial \mathbf{h}_t} \mathbf{x}_t^\top,\\ \frac{\partial L}{\partial \mathbf{W}_\textrm{hh}} &= \sum_{t=1}^T \textrm{prod}\left(\frac{\partial L}{\partial \mathbf{h}_t}, \frac{\partial \mathbf{h}_t}{\partial \mathbf{W}_\textrm{hh}}\right) = \sum_{t=1}^T \frac{\partial L}{\partial \mathbf{h}_t} \mathbf{h}_{t-1}^\top, \end{aligned}",
     C, None),
    # Goodfellow, Bengio & Courville, "Deep Learning", §10.2.2, eqs (10.18)-(10.28)
    ("Goodfellow 10.18", "goodfellow", None, None,
     r"(\nabla_{\boldsymbol{o}^{(t)}} L)_i = \frac{\partial L}{\partial o_i^{(t)}} = \frac{\partial L}{\partial L^{(t)}} \frac{\partial L^{(t)}}{\partial o_i^{(t)}} = \hat y_i^{(t)} - \mathbf{1}_{i,y^{(t)}}.",
     C, None),
    ("Goodfellow 10.18, broken: the difference reversed", "goodfellow", None, None,
     r"(\nabla_{\boldsymbol{o}^{(t)}} L)_i = \mathbf{1}_{i,y^{(t)}} - \hat y_i^{(t)}",
     W, None),
    ("Goodfellow 10.19", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{h}^{(\tau)}} L = \boldsymbol{V}^\top \nabla_{\boldsymbol{o}^{(\tau)}} L.",
     C, None),
    ("Goodfellow 10.20", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{h}^{(t)}} L = \left(\frac{\partial \boldsymbol{h}^{(t+1)}}{\partial \boldsymbol{h}^{(t)}}\right)^\top (\nabla_{\boldsymbol{h}^{(t+1)}} L) + \left(\frac{\partial \boldsymbol{o}^{(t)}}{\partial \boldsymbol{h}^{(t)}}\right)^\top (\nabla_{\boldsymbol{o}^{(t)}} L)",
     C, None),
    ("Goodfellow 10.21 (corrected printing)", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{h}^{(t)}} L = \boldsymbol{W}^\top \text{diag}\left(1 - \left(\boldsymbol{h}^{(t+1)}\right)^2\right) (\nabla_{\boldsymbol{h}^{(t+1)}} L) + \boldsymbol{V}^\top (\nabla_{\boldsymbol{o}^{(t)}} L)",
     C, None),
    ("Goodfellow 10.21, broken: W where W^T belongs", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{h}^{(t)}} L = \boldsymbol{W} \text{diag}\left(1 - \left(\boldsymbol{h}^{(t+1)}\right)^2\right) (\nabla_{\boldsymbol{h}^{(t+1)}} L) + \boldsymbol{V}^\top (\nabla_{\boldsymbol{o}^{(t)}} L)",
     W, None),
    ("Goodfellow 10.22", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{c}} L = \sum_t \left(\frac{\partial \boldsymbol{o}^{(t)}}{\partial \boldsymbol{c}}\right)^\top \nabla_{\boldsymbol{o}^{(t)}} L = \sum_t \nabla_{\boldsymbol{o}^{(t)}} L",
     C, None),
    ("Goodfellow 10.23", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{b}} L = \sum_t \left(\frac{\partial \boldsymbol{h}^{(t)}}{\partial \boldsymbol{b}^{(t)}}\right)^\top \nabla_{\boldsymbol{h}^{(t)}} L = \sum_t \text{diag}\left(1 - \left(\boldsymbol{h}^{(t)}\right)^2\right) \nabla_{\boldsymbol{h}^{(t)}} L",
     C, None),
    ("Goodfellow 10.23, broken: the diag(1 - h^2) factor dropped", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{b}} L = \sum_t \nabla_{\boldsymbol{h}^{(t)}} L",
     W, None),
    ("Goodfellow 10.24", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{V}} L = \sum_t \sum_i \left(\frac{\partial L}{\partial o_i^{(t)}}\right) \nabla_{\boldsymbol{V}} o_i^{(t)} = \sum_t (\nabla_{\boldsymbol{o}^{(t)}} L) \boldsymbol{h}^{(t)^\top}",
     C, None),
    ("Goodfellow 10.26", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{W}} L = \sum_t \sum_i \left(\frac{\partial L}{\partial h_i^{(t)}}\right) \nabla_{\boldsymbol{W}^{(t)}} h_i^{(t)} = \sum_t \text{diag}\left(1 - \left(\boldsymbol{h}^{(t)}\right)^2\right) (\nabla_{\boldsymbol{h}^{(t)}} L) \boldsymbol{h}^{(t-1)^\top}",
     C, None),
    ("Goodfellow 10.28", "goodfellow", None, None,
     r"\nabla_{\boldsymbol{U}} L = \sum_t \sum_i \left(\frac{\partial L}{\partial h_i^{(t)}}\right) \nabla_{\boldsymbol{U}^{(t)}} h_i^{(t)} = \sum_t \text{diag}\left(1 - \left(\boldsymbol{h}^{(t)}\right)^2\right) (\nabla_{\boldsymbol{h}^{(t)}} L) \boldsymbol{x}^{(t)^\top}",
     C, None),
    ("Goodfellow 10.18's L^{(t)}: one step's loss by its logits", "goodfellow", None, None,
     r"\frac{\partial L^{(t)}}{\partial o^{(t)}} = \hat y^{(t)} - y^{(t)}",
     C, None),
    # WildML (Denny Britz), "Recurrent Neural Networks Tutorial, Part 3 - Backpropagation
    # Through Time and Vanishing Gradients": s_t = tanh(U x_t + W s_{t-1}), ŷ_t = softmax(V s_t)
    ("WildML part 3, dE3/dV", "wildml", None, None,
     r"\begin{aligned} \frac{\partial E_3}{\partial V} &=\frac{\partial E_3}{\partial \hat{y}_3}\frac{\partial\hat{y}_3}{\partial V}\\ &=\frac{\partial E_3}{\partial \hat{y}_3}\frac{\partial\hat{y}_3}{\partial z_3}\frac{\partial z_3}{\partial V}\\ &=(\hat{y}_3 - y_3) \otimes s_3 \\ \end{aligned}",
     C, None),
    ("WildML part 3, dE3/dV, broken: s_2 for s_3", "wildml", None, None,
     r"\frac{\partial E_3}{\partial V} = (\hat{y}_3 - y_3) \otimes s_2",
     W, None),
    ("WildML part 3, dE3/dW with s_2 held constant (the text says it is incomplete)", "wildml",
     None, None,
     r"\frac{\partial E_3}{\partial W} = \frac{\partial E_3}{\partial \hat{y}_3}\frac{\partial\hat{y}_3}{\partial s_3}\frac{\partial s_3}{\partial W}",
     W, None),
    ("WildML part 3, dE3/dW", "wildml", None, None,
     r"\frac{\partial E_3}{\partial W} = \sum\limits_{k=0}^{3} \frac{\partial E_3}{\partial \hat{y}_3}\frac{\partial\hat{y}_3}{\partial s_3}\frac{\partial s_3}{\partial s_k}\frac{\partial s_k}{\partial W}",
     C, None),
    ("WildML part 3, dE3/dW, broken: the sum stops at k = 2", "wildml", None, None,
     r"\frac{\partial E_3}{\partial W} = \sum\limits_{k=0}^{2} \frac{\partial E_3}{\partial \hat{y}_3}\frac{\partial\hat{y}_3}{\partial s_3}\frac{\partial s_3}{\partial s_k}\frac{\partial s_k}{\partial W}",
     W, None),
    ("WildML part 3, dE3/dW with the Jacobian product", "wildml", None, None,
     r"\frac{\partial E_3}{\partial W} = \sum\limits_{k=0}^{3} \frac{\partial E_3}{\partial \hat{y}_3}\frac{\partial\hat{y}_3}{\partial s_3}\left(\prod\limits_{j=k+1}^{3} \frac{\partial s_j}{\partial s_{j-1}}\right)\frac{\partial s_k}{\partial W}",
     C, None),
    # CS224n lecture notes, part V (language models, RNNs), eqs (5)-(7); their y_t is the
    # prediction (--letters y=\hat{y}) and E_t the step's loss
    ("CS224n notes eq. 6", "canonical", None, r"E=L,y=\hat{y}",
     r"\frac{\partial E_t}{\partial W} = \sum_{k=1}^{t} \frac{\partial E_t}{\partial y_t}\frac{\partial y_t}{\partial h_t}\frac{\partial h_t}{\partial h_k}\frac{\partial h_k}{\partial W}",
     C, None),
    ("CS224n notes eq. 7", "canonical", None, None,
     r"\frac{\partial h_t}{\partial h_k} = \prod_{j=k+1}^{t} \frac{\partial h_j}{\partial h_{j-1}}",
     C, None),
    ("CS224n notes eq. 7, written out with \\cdots", "canonical", None, None,
     r"\frac{\partial h_t}{\partial h_k} = \frac{\partial h_t}{\partial h_{t-1}} \frac{\partial h_{t-1}}{\partial h_{t-2}} \cdots \frac{\partial h_{k+1}}{\partial h_k}",
     C, None),
    ("CS224n notes eq. 7 with \\cdots, broken: the factors in the wrong order", "canonical",
     None, None,
     r"\frac{\partial h_t}{\partial h_k} = \frac{\partial h_{k+1}}{\partial h_k} \cdots \frac{\partial h_t}{\partial h_{t-1}}",
     W, None),
    # deeplearning.ai, "Building your Recurrent Neural Network - Step by Step" (course 5,
    # week 1), the basic RNN cell and its backward pass
    ("deeplearning.ai rnn_cell_forward", "deeplearning-ai", None, None,
     r"a^{\langle t \rangle} = \tanh(W_{ax} x^{\langle t \rangle} + W_{aa} a^{\langle t-1 \rangle} + b_{a})\tag{-}",
     C, None),
    ("deeplearning.ai, tanh's derivative", "deeplearning-ai", None, None,
     r"\tanh'(x) = 1 - \tanh^2(x)",
     C, None),
    ("deeplearning.ai, tanh's derivative at the cell's pre-activation", "canonical", None, None,
     r"\tanh'(a_t) = 1 - \tanh^2(a_t)",
     C, None),
    # cs231n assignment 3, rnn_layers.py: "the derivative of tanh is 1 - tanh^2"
    ("cs231n rnn_step_backward comment", "cs231n", None, None,
     r"\tanh'(a_t) = 1 - h_t^2",
     C, None),
    ("cs231n comment, broken: 1 - h instead of 1 - h^2", "cs231n", None, None,
     r"\tanh'(a_t) = 1 - h_t",
     W, None),
    ("logistic sigmoid's derivative (lecture notes)", "canonical", None, None,
     r"\sigma'(a) = \sigma(a)(1-\sigma(a))",
     C, None),
    ("logistic sigmoid's derivative, broken: a plus sign", "canonical", None, None,
     r"\sigma'(a) = \sigma(a)(1+\sigma(a))",
     W, None),
    # karpathy's min-char-rnn.py: "dhraw = (1 - hs[t] * hs[t]) * dh # backprop through tanh
    # nonlinearity", "dbh += dhraw", "dWhy += np.dot(dy, hs[t].T)", as notes write them
    ("min-char-rnn dbh", "karpathy", None, None,
     r"\nabla_{b_h} L = \sum_t (1 - h_t \odot h_t) \odot \nabla_{h_t} L",
     C, None),
    ("min-char-rnn dWhy", "karpathy", None, None,
     r"\nabla_{W_{hy}} L = \sum_t (p_t - y_t) h_t^\top",
     C, None),
    ("min-char-rnn dWhy as accumulated in the loop", "karpathy", None, None,
     r"\nabla_{W_{hy}} L += (p_t - y_t) h_t^\top",
     I, "accumulates"),
]  # fmt: skip

IDS = [row[0] for row in CORPUS]


@pytest.mark.parametrize("source, notation, wrt, letters, text, status, detail", CORPUS, ids=IDS)
def test_each_published_formula_gets_its_verdict(
    source, notation, wrt, letters, text, status, detail
):
    verdict = check_formula(text, wrt, notation, letters=letters)
    assert verdict.status.value == status, (source, verdict.summary, verdict.detail)
    if detail is not None:
        assert detail in verdict.detail, (source, verdict.detail)


def test_the_corpus_has_what_the_issue_asks_for():
    sources = {row[0].split()[0].rstrip(",") for row in CORPUS}
    assert {"d2l", "Goodfellow", "WildML", "CS224n", "deeplearning.ai", "cs231n"} <= sources
    assert sum(row[5] == C for row in CORPUS) >= 25
    broken = [row for row in CORPUS if row[5] != C]
    assert len(broken) >= 8


@pytest.mark.parametrize("source, notation, wrt, letters, text, status, detail", CORPUS, ids=IDS)
def test_no_corpus_formula_nor_a_piece_of_one_raises_anything_but_our_errors(
    source, notation, wrt, letters, text, status, detail
):
    # every prefix (as typed, or cut off in a paste) and the text with its brackets dropped
    pieces = [text[:cut] for cut in range(0, len(text), 5)]
    pieces += [text.replace("{", ""), text.replace("}", ""), text.replace("\\", "")]
    for piece in pieces:
        try:
            parse_formula(piece, notation)
        except FormulaError:
            pass
    for piece in pieces[:: max(1, len(pieces) // 6)]:
        verdict = check_formula(piece, wrt, notation, letters=letters)
        assert verdict.status in (Status.CORRECT, Status.WRONG, Status.ILL_FORMED)
        assert "bug in rnn-derivations" not in verdict.detail, (piece, verdict.detail)
        assert "the checker failed" not in verdict.detail, (piece, verdict.detail)


def test_the_published_examples_of_the_dialect_page_give_their_verdicts():
    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "dialect.md").read_text()
    table = page.split("<!-- examples: published -->", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) >= 8
    for row in rows:
        text, notation, wrt, status = (cell.strip() for cell in row.strip().strip("|").split(" | "))
        wrt = None if wrt == "—" else wrt
        verdict = check_formula(text.strip("`"), wrt, notation)
        assert verdict.status.value == status, (text, verdict.summary, verdict.detail)


# -- the constructs one by one ------------------------------------------------------------


def _parse_error(text: str, notation: str = "canonical") -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_formula(text, notation)
    return caught.value


@pytest.mark.parametrize(
    "text",
    [
        r"\nabla_{W_\textrm{qh}} L = \sum_t \nabla_{o_t} L\, h_t^\top",
        r"\nabla_{W_{\textrm{qh}}} L = \sum_t \nabla_{o_t} L\, h_t^\top",
        r"\nabla_{\mathbf{W}_\mathrm{qh}} L = \sum_t \nabla_{o_t} L\, h_t^\top",
        r"\nabla_{W_\text{qh}} L = \sum_t \nabla_{o_t} L\, h_t^\top",
        r"\nabla_{W_{\operatorname{qh}}} L = \sum_t \nabla_{o_t} L\, h_t^\top",
    ],
)
def test_an_upright_subscript_is_the_subscript(text):
    assert check_formula(text, notation="d2l").status is Status.CORRECT
    # and W_qh is V there: the same text with h_{t-1} is wrong, not unreadable
    wrong = check_formula(text.replace("h_t^", "h_{t-1}^"), notation="d2l")
    assert wrong.status is Status.WRONG


def test_an_upright_subscript_keeps_the_caret_on_the_users_text():
    text = r"\nabla_{W_\textrm{qh}} L = \sum_t \nabla_{o_t} L\, h_t^\top + )"
    error = _parse_error(text, "d2l")
    assert error.position == text.index(")") and r"W_\textrm{qh}" in error.caret


@pytest.mark.parametrize(
    "text, status",
    [
        (r"\nabla_V L = \underbrace{\sum_t (\hat y_t - y_t) h_t^\top}_{\text{one term per step}}", C),
        (r"\nabla_V L = \underbrace{\sum_t (\hat y_t - y_t) h_t^\top}_{= G}", C),
        (r"\nabla_V L = \overbrace{\sum_t (\hat y_t - y_t)}^{\delta^o_t} h_t^\top", I),
        (r"\nabla_V L = \sum_t \overbrace{(\hat y_t - y_t)}^{\delta^o_t} h_t^\top", C),
        (r"\nabla_V L = \sum_t \underset{n_y \times 1}{(\hat y_t - y_t)}\, h_t^\top", C),
        (r"\large \nabla_V L = \Large\sum_t \Big(\hat y_t - y_t\Big) \bigg. h_t^\top", C),
        (r"\nabla_V L = \displaystyle\sum_t \left.(\hat y_t - y_t)\right| h_t^\top \, \; \!", C),
        (r"\begin{aligned}\nabla_V L &= \sum_t (\hat y_t - y_t) h_t^\top \nonumber \\ &= \sum_t (\hat y_t - y_t)\, h_t^\top \tag{3} \label{eq:v}\\ \end{aligned}", C),
        (r"\nabla_V L = \underbrace{\sum_t (y_t - \hat y_t) h_t^\top}_{\text{one term per step}}", W),
    ],
)  # fmt: skip
def test_decorations_change_nothing(text, status):
    verdict = check_formula(text)
    assert verdict.status.value == status, (verdict.summary, verdict.detail)


def test_an_evaluation_bar_with_a_point_is_not_dropped():
    verdict = check_formula(r"\nabla_V L = \sum_t \left.(\hat y_t - y_t)\right|_{t} h_t^\top")
    assert verdict.status is Status.ILL_FORMED


@pytest.mark.parametrize(
    "text, status",
    [
        # runs down from the factor next to the left end; that factor belongs to the run,
        # so at k = t the product is I
        (r"\frac{\partial h_t}{\partial h_k} = \frac{\partial h_t}{\partial h_{t-1}} \frac{\partial h_{t-1}}{\partial h_{t-2}} \cdots \frac{\partial h_{k+1}}{\partial h_k}", C),
        (r"\frac{\partial h_t}{\partial h_k} = \frac{\partial h_t}{\partial h_{t-1}} \cdots \frac{\partial h_{k+1}}{\partial h_k}", C),
        # a pattern of two factors
        (r"\frac{\partial h_t}{\partial h_k} = \mathrm{diag}(1-h_t^2) W \, \mathrm{diag}(1-h_{t-1}^2) W \cdots \mathrm{diag}(1-h_{k+1}^2) W", C),
        (r"\frac{\partial h_t}{\partial h_k} = \mathrm{diag}(1-h_{k+1}^2) W \, \mathrm{diag}(1-h_{k+2}^2) W \cdots \mathrm{diag}(1-h_{t}^2) W", W),
        # the transposed product, written upward as the denominator layout needs it
        (r"\left(\frac{\partial h_t}{\partial h_k}\right)^\top = W^\top \mathrm{diag}(1-h_{k+1}^2)\, W^\top \mathrm{diag}(1-h_{k+2}^2) \cdots W^\top \mathrm{diag}(1-h_t^2)", C),
        (r"\frac{\partial h_t}{\partial h_k} = \frac{\partial h_t}{\partial h_{t-1}} \cdots \frac{\partial h_{k}}{\partial h_{k-1}}", W),
        # a sum, and a constant distance
        (r"\nabla_V L = (\hat y_1 - y_1) h_1^\top + (\hat y_2 - y_2) h_2^\top + \cdots + (\hat y_T - y_T) h_T^\top", C),
        (r"\nabla_V L = (\hat y_1 - y_1) h_1^\top + \dots + (\hat y_T - y_T) h_T^\top", C),
        (r"\nabla_V L = (\hat y_1 - y_1) h_1^\top + \ldots + (\hat y_{T-1} - y_{T-1}) h_{T-1}^\top", W),
        (r"\nabla_V L = (\hat y_1 - y_1) h_1^\top + … + (\hat y_T - y_T) h_T^\top", C),
    ],
)  # fmt: skip
def test_an_ellipsis_between_two_ends_of_one_pattern_is_the_run(text, status):
    verdict = check_formula(text)
    assert verdict.status.value == status, (verdict.summary, verdict.detail)


@pytest.mark.parametrize(
    "text, says",
    [
        (r"\frac{\partial h_t}{\partial h_k} = W^\top \mathrm{diag}(1-h_t^2) \cdots W^\top \mathrm{diag}(1-h_{k+1}^2)", "which way it runs is not clear"),
        (r"\nabla_V L = (\hat y_1 - y_1) h_1^\top + \cdots + (\hat y_T - y_T) h_{T-1}^\top", "do not move together"),
        (r"\nabla_W L = \sum_t W^\top h_t \cdots x_t", "\\prod"),
        (r"\nabla_W L = \sum_t W^\top h_t \cdots", "ellipsis"),
        (r"\nabla_W L = \cdots", "ellipsis"),
    ],
)  # fmt: skip
def test_an_ellipsis_that_is_no_run_says_to_write_the_bounds(text, says):
    error = _parse_error(text)
    assert "ellipsis" in str(error) and says in str(error), str(error)
    assert check_formula(text).status is Status.ILL_FORMED


def test_accumulation_is_explained_not_guessed():
    error = _parse_error(r"\nabla_W L += \delta_t h_{t-1}^\top")
    assert "accumulates" in str(error) and "\\sum_{t=1}^{T}" in str(error)
    assert error.position == len(r"\nabla_W L ")
    assert "accumulates" in str(_parse_error(r"dW -= \delta_t h_{t-1}^\top"))
    # a relation in a subscript is not an accumulation
    assert (
        check_formula(r"\sum_t (\hat y_{t,i} - \mathbb{1}_{i=y_t}) h_{t,j}", "V").status
        is Status.CORRECT
    )


@pytest.mark.parametrize(
    "text, status",
    [
        (r"\tanh'(a_t) = 1 - h_t^2", C),
        (r"\tanh'(a_t) = 1 - \tanh^2(a_t)", C),
        (r"\tanh'(a) = 1 - h^2", C),
        (r"\sigma'(a_t) = \sigma(a_t) \odot (1-\sigma(a_t))", C),
        (r"\sigma'(a_{t,i}) = \sigma(a_{t,i})(1-\sigma(a_{t,i}))", C),
        (r"\tanh'(a_t) = 1 - h_t", W),
        (r"\tanh'(a_t) = 1 - h_{t-1}^2", W),
        (r"\tanh'(a) = 1 - \tanh(a)", W),
        (r"\sigma'(a_t) = \sigma(a_t) \odot (1+\sigma(a_t))", W),
        # two column vectors side by side stay an error (write ⊙) when the letters have a time
        (r"\sigma'(a_t) = \sigma(a_t)(1-\sigma(a_t))", I),
    ],
)
def test_scalar_and_elementwise_identities(text, status):
    verdict = check_formula(text)
    assert verdict.status.value == status, (verdict.summary, verdict.detail)
    if status == C:
        assert "identity holds" in verdict.summary


@pytest.mark.parametrize(
    "text, status, says",
    [
        (r"\frac{\partial L_t}{\partial V} = (\hat y_t - y_t) h_t^\top", C, "every step t = 1 … 5"),
        (r"\frac{\partial L_t}{\partial c} = \hat y_t - y_t", C, "every step"),
        (r"\frac{\partial L_t}{\partial V} = (\hat y_t - y_t) h_{t-1}^\top", W, "at t = 1"),
        (r"\frac{\partial L_t}{\partial W} = \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \left(\frac{\partial h_t}{\partial h_k}\right)^\top V^\top (\hat y_t - y_t) h_{k-1}^\top", C, "every step"),
        # the recursion through earlier steps dropped: right at t = 1 only
        (r"\frac{\partial L_t}{\partial W} = \mathrm{diag}(1-h_t^2) V^\top (\hat y_t - y_t) h_{t-1}^\top", W, "at t = 2"),
        (r"\frac{\partial E_3}{\partial V} = (\hat y_3 - y_3) h_3^\top", C, "task=step=3"),
        (r"\nabla_W L_T = \mathrm{diag}(1-h_T^2) V^\top (\hat y_T - y_T) h_{T-1}^\top", W, "task=many-to-one"),
    ],
)  # fmt: skip
def test_one_steps_loss_on_the_left(text, status, says):
    verdict = check_formula(text)
    assert verdict.status.value == status, (verdict.summary, verdict.detail)
    assert says in verdict.summary, verdict.summary


@pytest.mark.parametrize(
    "text, status",
    [
        (r"\frac{\partial E_3}{\partial U} = \sum_{k=1}^{3} \frac{\partial E_3}{\partial \hat y_3}\frac{\partial \hat y_3}{\partial s_3}\frac{\partial s_3}{\partial s_k}\frac{\partial s_k}{\partial U}", C),
        (r"\frac{\partial E_3}{\partial U} = \sum_{k=1}^{3} \frac{\partial E_3}{\partial \hat y_3}\frac{\partial \hat y_3}{\partial s_3}\frac{\partial s_3}{\partial s_k}\frac{\partial s_{k-1}}{\partial U}", W),
        (r"\frac{\partial E_3}{\partial V} = \frac{\partial E_3}{\partial \hat y_3}\frac{\partial \hat y_3}{\partial V}", C),
        (r"\frac{\partial E_3}{\partial V} = \frac{\partial E_3}{\partial \hat y_3}\frac{\partial \hat y_3}{\partial z_3}\frac{\partial z_3}{\partial V}", C),
        (r"\frac{\partial E_3}{\partial W} = \sum_{k=0}^{3} \frac{\partial E_3}{\partial \hat y_3}\frac{\partial \hat y_3}{\partial s_3}\frac{\partial s_3}{\partial s_k}\frac{\partial s_k}{\partial U}", I),
    ],
)  # fmt: skip
def test_the_row_vector_chain_rule_with_the_immediate_partial(text, status):
    verdict = check_formula(text, notation="wildml")
    assert verdict.status.value == status, (verdict.summary, verdict.detail)


def test_the_shortest_row_vector_chain_rule_is_read_too():
    # ∂L/∂a_t ∂⁺a_t/∂W: the row ∇_{a_t}Lᵀ contracts the immediate partial to ∇_{a_t}L h_{t-1}ᵀ
    text = r"\frac{\partial L}{\partial W} = \sum_t \frac{\partial L}{\partial a_t} \frac{\partial a_t}{\partial W}"
    assert check_formula(text).status is Status.CORRECT
    assert (
        check_formula(text.replace("a_t}{\\partial W", "a_t}{\\partial U")).status
        is not Status.CORRECT
    )
    assert check_formula(text, model="activation=relu").status is Status.CORRECT


def test_an_immediate_partial_elsewhere_is_explained():
    for text in (
        r"\nabla_W L = \sum_k \frac{\partial h_k}{\partial W}",
        r"\nabla_W L = \sum_k \frac{\partial h_k}{\partial W} \frac{\partial L}{\partial h_k}",
    ):
        error = _parse_error(text)
        assert "immediate partial" in str(error) and "row-vector chain rule" in str(error)
    # in the user's letters
    error = _parse_error(r"\nabla_W E = \sum_k \frac{\partial s_k}{\partial W}", "wildml")
    assert "∂⁺s_k/∂W" in str(error) and "h_k" not in str(error)
    # ∂L/∂h_k ∂⁺h_k/∂W, the shortest chain rule: the row ∂L/∂h_k contracts it
    text = r"\nabla_W L = \sum_{k=1}^{T} \frac{\partial L}{\partial h_k} \frac{\partial h_k}{\partial W}"
    assert check_formula(text).status is Status.CORRECT
    assert check_formula(text.replace("{T}", "{T-1}")).status is Status.WRONG
