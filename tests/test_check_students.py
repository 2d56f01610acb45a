"""Formulas written the way students and lecture notes write them, judged by the checker.

Every expected verdict here was derived by hand from NOTATION.md (denominator layout, loss
summed over time) and, where the algebra was not obvious, confirmed by the finite
differences of the `*_by_finite_differences` tests below (plain NumPy, independent of
`rnn_check` and `rnn_num`). The checker's own tests and mutation table were not consulted
when writing these cases. A diagnosis is expected only where one mistake clearly explains
the formula; the expectation is a keyword that one of the reported diagnoses must contain.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnn_check import Status, check_formula

OK, BAD, ILL = Status.CORRECT, Status.WRONG, Status.ILL_FORMED

# shorthand used only to keep the table readable
D_T = r"\mathrm{diag}(1-h_t^2)"
G_T = r"\nabla_{h_t} L"
E_T = r"(\hat y_t - y_t)"

# (formula, wrt, notation, expected verdict, keyword of the expected diagnosis or None)
CASES: list[tuple[str, str | None, str, Status, str | None]] = [
    # ---------------------------------------------------------------- W, correct
    (rf"\sum_{{t=1}}^{{T}} {D_T}\,{G_T}\,h_{{t-1}}^\top", "W", "canonical", OK, None),
    (r"\sum_t ((1-h_t^2) \odot \nabla_{h_t} L) h_{t-1}^T", "W", "canonical", OK, None),
    (
        r"\sum_t \left((1-h_t \odot h_t) \odot \frac{\partial L}{\partial h_t}\right) h_{t-1}'",
        "W",
        "canonical",
        OK,
        None,
    ),
    (
        r"\frac{\partial L}{\partial W} = \sum_{t=1}^T \delta_t h_{t-1}^\top, \quad "
        r"\delta_t = (1-h_t^2) \odot \frac{\partial L}{\partial h_t}",
        None,
        "canonical",
        OK,
        None,
    ),
    (
        r"\nabla_W L = \sum_t \delta_t h_{t-1}^T \text{ where } "
        r"\delta_t = \mathrm{diag}(1-h_t^2)\left(V^T(\hat y_t - y_t) + W^T \delta_{t+1}\right), "
        r"\delta_{T+1} = 0",
        "W",
        "canonical",
        OK,
        None,
    ),
    (r"\sum_{t=1}^{T} \frac{\partial L}{\partial a_t} h_{t-1}^{T}", "W", "canonical", OK, None),
    (r"\sum_t \nabla_{a_t} L \; h_{t-1}^{\mathsf{T}}", "W", "canonical", OK, None),
    (
        r"\nabla_W L = \sum_t \mathrm{diag}\left(1 - (h^{(t)})^2\right)"
        r"\left(\nabla_{h^{(t)}} L\right) h^{(t-1)^\top}",
        None,
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_{t=1}^{T}\sum_{k=1}^{t} \mathrm{diag}(1-h_k^2)\left(\prod_{j=k+1}^{t}"
        r" \frac{\partial h_j}{\partial h_{j-1}}\right)^\top V^\top (\hat y_t - y_t)\, h_{k-1}^\top",
        "W",
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_{t=1}^T \sum_{k=1}^t \mathrm{diag}(1-h_k^2) \left(\frac{\partial h_t}{\partial h_k}\right)^T"
        r" V^T (\hat{y}_t - y_t) h_{k-1}^T",
        "W",
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_t \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \prod_{j=k+1}^{t} \left(W^T \mathrm{diag}(1-h_j^2)\right)"
        r" V^T (\hat y_t - y_t) h_{k-1}^T",
        "W",
        "canonical",
        OK,
        None,
    ),
    (
        r"\frac{\partial L}{\partial W_{ij}} = \sum_t (1-h_{t,i}^2)\,(\nabla_{h_t} L)_i\, h_{t-1,j}",
        "W",
        "canonical",
        OK,
        None,
    ),
    (r"\sum_t (\tanh'(a_t) \odot \nabla_{h_t} L)\, h_{t-1}^T", "W", "canonical", OK, None),
    # ---------------------------------------------------------------- W, wrong
    (rf"-\sum_t {D_T}{G_T}\,h_{{t-1}}^T", "W", "canonical", BAD, "sign"),
    (rf"\sum_t {D_T}{G_T}\,h_t^T", "W", "canonical", BAD, "h_{k"),
    (rf"\sum_t {G_T}\,h_{{t-1}}^T", "W", "canonical", BAD, "diag"),
    (rf"\sum_{{t=2}}^{{T}} {D_T}{G_T}\,h_{{t-1}}^T", "W", "canonical", BAD, "bound"),
    (rf"\frac{{1}}{{T}}\sum_{{t=1}}^{{T}} {D_T}{G_T}\,h_{{t-1}}^T", "W", "canonical", BAD, "1/T"),
    (rf"\sum_t \mathrm{{diag}}(1-h_{{t-1}}^2){G_T}\,h_{{t-1}}^T", "W", "canonical", BAD, None),
    (rf"\sum_t h_{{t-1}} \left({D_T}{G_T}\right)^T", "W", "canonical", BAD, None),
    (rf"\sum_t {D_T}{G_T}\,h_{{t-1}}", "W", "canonical", ILL, None),
    (rf"\sum_t {D_T}{G_T}\,x_t^T", "W", "canonical", ILL, "swapped"),
    (
        r"\sum_t\sum_{k=1}^t \mathrm{diag}(1-h_k^2) \frac{\partial h_t}{\partial h_k} V^T (\hat y_t - y_t) h_{k-1}^T",
        "W",
        "canonical",
        BAD,
        "transpose",
    ),
    (
        r"\sum_t\sum_{k=1}^t \mathrm{diag}(1-h_k^2) \left(\frac{\partial h_t}{\partial h_k}\right)^T V^T (\hat y_t - y_t) h_k^T",
        "W",
        "canonical",
        BAD,
        "h_{k",
    ),
    (
        r"\sum_t\sum_{k=1}^{t-1} \mathrm{diag}(1-h_k^2) \left(\frac{\partial h_t}{\partial h_k}\right)^T V^T (\hat y_t - y_t) h_{k-1}^T",
        "W",
        "canonical",
        BAD,
        "bound",
    ),
    (
        r"\sum_t \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \prod_{j=k+1}^{t} \left(W \mathrm{diag}(1-h_j^2)\right)"
        r" V^T (\hat y_t - y_t) h_{k-1}^T",
        "W",
        "canonical",
        BAD,
        "W where",
    ),
    (
        r"\sum_t \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2) \prod_{j=k+1}^{t} \left(\mathrm{diag}(1-h_j^2) W^T\right)"
        r" V^T (\hat y_t - y_t) h_{k-1}^T",
        "W",
        "canonical",
        BAD,
        "order",
    ),
    (
        r"\sum_{t}\sum_{k\le t} \mathrm{diag}(1-h_k^2)\left(\frac{\partial h_t}{\partial h_k}\right)^T"
        r" V^T(\hat y_t-y_t)\, h_{k-1}^T",
        "W",
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_{t=1}^{T}\sum_{1 \leq k \leq t} \mathrm{diag}(1-h_k^2)\left(\frac{\partial h_t}{\partial h_k}\right)^T"
        r" V^T(\hat y_t-y_t)\, h_{k-1}^T",
        "W",
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_{t}\sum_{k<t} \mathrm{diag}(1-h_k^2)\left(\frac{\partial h_t}{\partial h_k}\right)^T"
        r" V^T(\hat y_t-y_t)\, h_{k-1}^T",
        "W",
        "canonical",
        BAD,
        "bound",
    ),
    (rf"\sum\limits_{{t=1}}^{{T}} {D_T}{G_T}\,h_{{t-1}}^T", "W", "canonical", OK, None),
    (
        r"\sum_t \mathrm{diag}(1 - (h^{(t)})^2)(\nabla_{h^{(t)}} L)\, h^{(t-1)\top}",
        "W",
        "canonical",
        OK,
        None,
    ),
    (
        r"\frac{\partial L}{\partial W_{ji}} = \sum_t (1-h_{t,i}^2)\,(\nabla_{h_t} L)_i\, h_{t-1,j}",
        None,
        "canonical",
        BAD,
        "transpose",
    ),
    (
        r"\sum_t \delta_t h_{t-1}^T, \delta_t = \mathrm{diag}(1-h_t^2)(V^T(\hat y_t - y_t) + W\delta_{t+1}),"
        r" \delta_{T+1} = 0",
        "W",
        "canonical",
        BAD,
        "W where",
    ),
    (
        r"\sum_t \delta_t h_{t-1}^T, \delta_t = \mathrm{diag}(1-h_t^2) V^T(\hat y_t - y_t)",
        "W",
        "canonical",
        BAD,
        "recursion",
    ),
    # ⊙ next to a matrix product: the product is taken first where the shapes say so
    (
        r"\sum_{t=1}^{T} \delta_t h_{t-1}^T, \delta_T = \tanh'(a_T)\odot V^T(\hat y_T - y_T), "
        r"\delta_t = (1-h_t^2) \odot V^T (\hat y_t - y_t) + (1-h_t^2) \odot W^T \delta_{t+1}",
        "W",
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_t \delta^{(t)} h^{(t-1)\top}, \quad \delta^{(t)} = \mathrm{diag}(1-(h^{(t)})^2)\nabla_{h^{(t)}}L",
        "W",
        "canonical",
        OK,
        None,
    ),
    (r"\sum_t (1-h_t^2) \nabla_{h_t} L\, h_{t-1}^T", "W", "canonical", ILL, None),
    # a recursion without its base case cannot be evaluated at T + 1
    (
        r"\sum_{t=1}^{T} \delta_t h_{t-1}^T, \delta_t = (1-h_t^2) \odot (V^T (\hat y_t - y_t) + W^T \delta_{t+1})",
        "W",
        "canonical",
        ILL,
        None,
    ),
    # the right gradient of the wrong block
    (r"W^T\mathrm{diag}(1-h_1^2)\nabla_{h_1}L", "b", "canonical", BAD, "another block"),
    (
        r"\frac{\partial L}{\partial W_{ij}} = \sum_t \delta_{t,i}\, h_{t-1,j}, \quad \delta_t = (1-h_t^2)\odot\nabla_{h_t}L",
        None,
        "canonical",
        OK,
        None,
    ),
    # ---------------------------------------------------------------- U
    (rf"\sum_t {D_T}\,{G_T}\,x_t^T", "U", "canonical", OK, None),
    (
        r"\sum_{t=1}^{T} \left((1-h_t^2)\odot \frac{\partial L}{\partial h_t}\right) x_t^\top",
        "U",
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_{t=1}^{T}\sum_{k=1}^{t} \mathrm{diag}(1-h_k^2)\left(\frac{\partial h_t}{\partial h_k}\right)^\top"
        r" V^\top (\hat y_t - y_t)\, x_k^\top",
        "U",
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_t \left(\left(1-\tanh^2(a_t)\right) \odot \nabla_{h_t} L\right) x_t^T",
        "U",
        "canonical",
        OK,
        None,
    ),
    (rf"\sum_t {D_T}{G_T}\,h_{{t-1}}^T", "U", "canonical", ILL, "swapped"),
    (rf"\sum_t x_t \left({D_T}{G_T}\right)^T", "U", "canonical", ILL, None),
    (rf"\sum_t \mathrm{{diag}}(1-h_{{t+1}}^2)\,{G_T}\,x_t^T", "U", "canonical", BAD, "tanh'"),
    (rf"\sum_t {D_T}\, V^T(\hat y_t - y_t)\, x_t^T", "U", "canonical", BAD, "recursion"),
    # ---------------------------------------------------------------- V
    (rf"\sum_t {E_T} h_t^T", "V", "canonical", OK, None),
    (r"\sum_{t=1}^{T} \nabla_{o_t} L \, h_t^\top", "V", "canonical", OK, None),
    (r"\sum_t (\hat y_{t,i} - \mathbb{1}_{i=y_t})\, h_{t,j}", "V", "canonical", OK, None),
    (
        r"\frac{\partial L}{\partial V} = \sum_t (\mathrm{softmax}(o_t) - y_t)\, h_t^\top",
        None,
        "canonical",
        OK,
        None,
    ),
    (r"\sum_t (\hat{\mathbf{y}}_t - \mathbf{y}_t)\,\mathbf{h}_t^\top", "V", "canonical", OK, None),
    (r"\sum_t (\hat y_t - y_t) \tanh(a_t)^T", "V", "canonical", OK, None),
    (r"\sum_t (y_t - \hat y_t) h_t^T", "V", "canonical", BAD, "sign|reversed"),
    (rf"\sum_t {E_T} h_{{t-1}}^T", "V", "canonical", BAD, "h_{k−1} where"),
    (r"\sum_t (\nabla_{o^{(t)}} L)\, h^{(t)^\top}", "V", "canonical", OK, None),
    (
        r"\frac{\partial L}{\partial V_{ij}} = \sum_t (\hat y_{t,i} - \mathbb{1}[i=y_t])\, h_{t,j}",
        None,
        "canonical",
        OK,
        None,
    ),
    (rf"\frac{{1}}{{T}}\sum_t {E_T} h_t^T", "V", "canonical", BAD, "1/T"),
    (r"\sum_t \hat y_t h_t^T", "V", "canonical", BAD, None),
    (r"\sum_t (\hat y_{t,i} - 1)\, h_{t,j}", "V", "canonical", BAD, "softmax"),
    (rf"\sum_t h_t {E_T}^T", "V", "canonical", ILL, None),
    # ---------------------------------------------------------------- b
    (rf"\sum_t {D_T}{G_T}", "b", "canonical", OK, None),
    (r"\sum_{t=1}^{T} (1-h_t^2)\odot \nabla_{h_t} L", "b", "canonical", OK, None),
    (r"\nabla_b L = \sum_t \nabla_{a_t} L", None, "canonical", OK, None),
    (
        r"\sum_{t=1}^T \sum_{k=1}^{t} \mathrm{diag}(1-h_k^2)\left(\frac{\partial h_t}{\partial h_k}\right)^T V^T(\hat y_t - y_t)",
        "b",
        "canonical",
        OK,
        None,
    ),
    (rf"\sum_t {G_T}", "b", "canonical", BAD, "diag"),
    (rf"\sum_t {D_T}\, V^T{E_T}", "b", "canonical", BAD, "recursion"),
    (rf"\sum_{{t=1}}^{{T-1}} {D_T}{G_T}", "b", "canonical", BAD, "bound"),
    # ---------------------------------------------------------------- c
    (rf"\sum_t {E_T}", "c", "canonical", OK, None),
    (r"\nabla_c L = \sum_{t=1}^T \nabla_{o_t} L", None, "canonical", OK, None),
    (r"\sum_t \frac{\partial L_t}{\partial o_t}", "c", "canonical", OK, None),
    (r"\frac{1}{T}\sum_{t=1}^{T} (\hat y_t - y_t)", "c", "canonical", BAD, "1/T"),
    (r"\sum_t (y_t - \hat y_t)", "c", "canonical", BAD, "sign|reversed"),
    (rf"\sum_t V^T {E_T}", "c", "canonical", ILL, None),
    # ---------------------------------------------------------------- h0
    (r"W^T \mathrm{diag}(1-h_1^2) \nabla_{h_1} L", "h0", "canonical", OK, None),
    (r"W^\top \nabla_{a_1} L", "h0", "canonical", OK, None),
    (
        r"\left(\frac{\partial h_1}{\partial h_0}\right)^T \nabla_{h_1} L",
        "h0",
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_{t=1}^T \left(\frac{\partial h_t}{\partial h_0}\right)^T V^T (\hat y_t - y_t)",
        "h0",
        "canonical",
        OK,
        None,
    ),
    (r"W \mathrm{diag}(1-h_1^2)\nabla_{h_1}L", "h0", "canonical", BAD, "W where"),
    (r"W^T \nabla_{h_1} L", "h0", "canonical", BAD, "diag"),
    # ---------------------------------------------------------------- h_t
    (
        r"W^T \mathrm{diag}(1-h_{t+1}^2)\nabla_{h_{t+1}}L + V^T(\hat y_t - y_t)",
        "h_t",
        "canonical",
        OK,
        None,
    ),
    (
        r"V^\top (\hat{y}_t - y_t) + W^\top \left((1-h_{t+1}^2) \odot \nabla_{h_{t+1}} L\right)",
        "h_t",
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_{k=t}^{T} \left(\frac{\partial h_k}{\partial h_t}\right)^T V^T (\hat y_k - y_k)",
        "h_t",
        "canonical",
        OK,
        None,
    ),
    (
        r"\frac{\partial L}{\partial h_t} = \left(\frac{\partial h_{t+1}}{\partial h_t}\right)^T \frac{\partial L}{\partial h_{t+1}}"
        r" + \left(\frac{\partial o_t}{\partial h_t}\right)^T \frac{\partial L}{\partial o_t}",
        "h_t",
        "canonical",
        OK,
        None,
    ),
    (r"V^T \nabla_{o_t} L + W^T \nabla_{a_{t+1}} L", "h_t", "canonical", OK, None),
    (
        r"\nabla_{h^{(t)}} L = W^\top \mathrm{diag}\left(1-(h^{(t+1)})^2\right)(\nabla_{h^{(t+1)}} L) + V^\top (\nabla_{o^{(t)}} L)",
        None,
        "canonical",
        OK,
        None,
    ),
    (r"V^T(\hat y_T - y_T)", "h_T", "canonical", OK, None),
    (
        r"W \mathrm{diag}(1-h_{t+1}^2)\nabla_{h_{t+1}}L + V^T(\hat y_t - y_t)",
        "h_t",
        "canonical",
        BAD,
        "W where",
    ),
    (
        r"W^T \mathrm{diag}(1-h_t^2)\nabla_{h_{t+1}}L + V^T(\hat y_t - y_t)",
        "h_t",
        "canonical",
        BAD,
        "tanh'",
    ),
    (r"V^T(\hat y_t - y_t)", "h_t", "canonical", BAD, "recursion"),
    (r"W^T \nabla_{h_{t+1}}L + V^T(\hat y_t - y_t)", "h_t", "canonical", BAD, "diag"),
    (
        r"W^T \mathrm{diag}(1-h_{t+1}^2)\nabla_{h_{t+1}}L - V^T(\hat y_t - y_t)",
        "h_t",
        "canonical",
        BAD,
        "sign",
    ),
    (
        r"W^T \mathrm{diag}(1-h_{t+1}^2)\nabla_{h_{t+1}}L + V(\hat y_t - y_t)",
        "h_t",
        "canonical",
        ILL,
        "transpose",
    ),
    (
        r"\sum_{k=t+1}^{T} \left(\frac{\partial h_k}{\partial h_t}\right)^T V^T (\hat y_k - y_k)",
        "h_t",
        "canonical",
        BAD,
        "bound",
    ),
    (
        r"\sum_{k=t}^{T} \frac{\partial h_k}{\partial h_t} V^T (\hat y_k - y_k)",
        "h_t",
        "canonical",
        BAD,
        "transpose",
    ),
    # ---------------------------------------------------------------- o_t
    (r"\hat y_t - y_t", "o_t", "canonical", OK, None),
    (
        r"(\nabla_{o^{(t)}} L)_i = \hat y_i^{(t)} - \mathbf{1}_{i=y^{(t)}}",
        "o_t",
        "canonical",
        OK,
        None,
    ),
    (r"\mathrm{softmax}(o_t) - y_t", "o_t", "canonical", OK, None),
    (
        r"\frac{\partial L}{\partial o_{t,i}} = \hat y_{t,i} \sum_j (y_t)_j - (y_t)_i",
        None,
        "canonical",
        OK,
        None,
    ),
    (r"\hat y_{t,i} - \mathbb{1}(y_t = i)", "o_t", "canonical", OK, None),
    (
        r"\frac{\partial L}{\partial o_i^{(t)}} = \hat y_i^{(t)} - \mathbf{1}_{i=y^{(t)}}",
        None,
        "canonical",
        OK,
        None,
    ),
    (
        r"\sum_j \hat y_{t,j}(\delta_{ij} - \hat y_{t,i}) \left(-\frac{y_{t,j}}{\hat y_{t,j}}\right)",
        "o_t",
        "canonical",
        OK,
        None,
    ),
    (
        r"\left(\mathrm{diag}(\hat y_t) - \hat y_t \hat y_t^\top\right)(-y_t / \hat y_t)",
        "o_t",
        "canonical",
        OK,
        None,
    ),
    (r"y_t - \hat y_t", "o_t", "canonical", BAD, "sign|reversed"),
    (r"\hat y_t - \mathbf{1}", "o_t", "canonical", BAD, "softmax"),
    (
        r"\sum_j \hat y_{t,j}(1 - \hat y_{t,i}) \left(-\frac{y_{t,j}}{\hat y_{t,j}}\right)",
        "o_t",
        "canonical",
        BAD,
        "softmax",
    ),
    (r"\hat y_t \odot (1 - \hat y_t)", "o_t", "canonical", BAD, None),
    # ---------------------------------------------------------------- Jacobian identities
    (
        r"\frac{\partial \hat y_{t,i}}{\partial o_{t,j}} = \hat y_{t,i}(\delta_{ij} - \hat y_{t,j})",
        None,
        "canonical",
        OK,
        None,
    ),
    (
        r"\frac{\partial \hat y_{t,i}}{\partial o_{t,j}} = \hat y_{t,i}(1 - \hat y_{t,j})",
        None,
        "canonical",
        BAD,
        "softmax",
    ),
    (
        r"\frac{\partial h_{t+1}}{\partial h_t} = \mathrm{diag}(1-h_{t+1}^2)\, W",
        None,
        "canonical",
        OK,
        None,
    ),
    (
        r"\frac{\partial h_{t+1}}{\partial h_t} = \mathrm{diag}(1-h_t^2)\, W",
        None,
        "canonical",
        BAD,
        None,
    ),
    # ---------------------------------------------------------------- seed notations
    (r"\sum_t \mathrm{diag}(1-s_t^2)\, \nabla_{s_t} J \, s_{t-1}^T", "U", "001", OK, None),
    (r"\sum_t \mathrm{diag}(1-s_t^2)\, \nabla_{s_t} J \, x_t^T", "W", "001", OK, None),
    (
        r"\sum_t \mathrm{diag}(1-s_t^2)\, \nabla_{s_t} J \, s_{t-1}^T",
        "W",
        "001",
        ILL,
        "another block",
    ),
    (r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L\,h_{t-1}^T", "W_aa", "002", OK, None),
    (r"\sum_t \mathrm{diag}(1-h_t^2)\nabla_{h_t}L\,x_t^T", "W_ax", "002", OK, None),
    (r"\sum_t (\hat y_t - y_t) h_t^T", "W_ya", "002", OK, None),
    (r"\sum_t (\hat y_t - y_t) h_t^T", "W_aa", "002", ILL, "another block"),
    (r"\sum_{t=1}^{S} (\hat y_t - y_t) h_t^T", "V", "003", OK, None),
    (r"\nabla_{\Omega_t} L = \hat y_t - y_t", None, "003", OK, None),
    (r"\sum_{t=1}^{S-1} (\hat y_t - y_t) h_t^T", "V", "003", BAD, "bound"),
    (r"\sum_t (p_t - c_t) h_t^T", "w_hy", "004", OK, None),
    (r"\sum_t (p_t - c_t)", "b_y", "004", OK, None),
    (r"\sum_t (c_t - p_t) h_t^T", "w_hy", "004", BAD, "sign|reversed"),
]


def _case_id(case: tuple) -> str:
    formula, wrt, notation, expected, _ = case
    return f"{expected.value}-{wrt or 'stated'}-{notation}-{formula[:40]}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_student_formula(case):
    formula, wrt, notation, expected, diagnosis = case
    verdict = check_formula(formula, wrt, notation)
    assert verdict.status is expected, (verdict.summary, verdict.detail)
    if expected is BAD:
        assert verdict.counterexample is not None
    if expected is ILL:
        assert verdict.detail, "an ill-formed verdict must say why"
    if diagnosis is not None:
        keywords = diagnosis.split("|")
        assert any(k.lower() in d.lower() for d in verdict.diagnosis for k in keywords), (
            verdict.diagnosis,
            verdict.summary,
        )


# What an ILL-FORMED verdict says must name the problem and the fix.
MESSAGES = [
    (r"\sum_t (1-h_t^2) \nabla_{h_t} L\, h_{t-1}^T", "W", r"\odot"),
    (
        r"\sum_{t=1}^{T} \delta_t h_{t-1}^T, \delta_t = (1-h_t^2) \odot (V^T (\hat y_t - y_t) + W^T \delta_{t+1})",
        "W",
        r"\delta_{T+1} = 0",
    ),
    (
        r"\nabla_{h_t} L = W^T \mathrm{diag}(1-h_{t+1}^2) \nabla_{h_{t+1}} L + V^T(\hat y_t - y_t) \text{ for } t < T",
        None,
        "condition",
    ),
    (
        r"\frac{\partial L}{\partial h_t} = \frac{\partial L}{\partial h_{t+1}} \frac{\partial h_{t+1}}{\partial h_t}"
        r" + \frac{\partial L}{\partial o_t}\frac{\partial o_t}{\partial h_t}",
        None,
        "denominator layout",
    ),
    (
        # the tensor first is no chain rule (∂L/∂a_t ∂a_t/∂W, the other order, is read:
        # tests/test_check_corpus.py)
        r"\frac{\partial L}{\partial W} = \sum_t \frac{\partial a_t}{\partial W} \frac{\partial L}{\partial a_t}",
        None,
        "three-index",
    ),
    (r"\sum_t \hat y_t h_t^T - y_t h_t^T", "V", "brackets"),
    (
        r"\sum_{t=1}^T \sum_{k=1}^t \frac{\partial L_t}{\partial h_t} \frac{\partial h_t}{\partial h_k}"
        r" \frac{\partial^+ h_k}{\partial W}",
        "W",
        "three-index",
    ),
    (r"\sum_{t}\sum_{k \neq t} h_k", "W", r"k \le t"),
    (
        r"\frac{\partial L}{\partial V_{ij}} = \sum_t (\hat y_{t,k} - \mathbb{1}_{k=y_t})\, h_{t,l}",
        None,
        "same letters",
    ),
]


@pytest.mark.parametrize(("formula", "wrt", "fragment"), MESSAGES)
def test_ill_formed_messages_name_the_fix(formula, wrt, fragment):
    verdict = check_formula(formula, wrt)
    assert verdict.status is ILL
    assert fragment in verdict.detail, verdict.detail


# ---------------------------------------------------------------------------------------
# The derivations behind the less obvious verdicts above, checked with plain NumPy and
# central finite differences (no rnn_check, no rnn_num): the unrolled products in both
# orders, the sum form of ∇_{h_t}L, the softmax Jacobian by components, ∇_{h_0}L, and the
# δ recursion with W in place of Wᵀ.


def _model(seed: int = 3, T: int = 4, n_x: int = 2, n_h: int = 3, n_y: int = 4):
    rng = np.random.default_rng(seed)
    p = {
        "U": rng.normal(size=(n_h, n_x)),
        "W": rng.normal(size=(n_h, n_h)),  # not symmetric
        "V": rng.normal(size=(n_y, n_h)),
        "b": rng.normal(size=n_h),
        "c": rng.normal(size=n_y),
        "h0": rng.normal(size=n_h),
    }
    xs = rng.normal(size=(T, n_x))
    ys = rng.integers(0, n_y, size=T)
    return p, xs, ys


def _forward(p, xs, ys, kick: tuple[int, np.ndarray] | None = None):
    """Loss (summed over time), states h_0 … h_T and probabilities; `kick` adds a vector to
    one state right after it is computed (for ∇_{h_t}L by finite differences)."""
    hs, ps, loss = [p["h0"] + (kick[1] if kick and kick[0] == 0 else 0.0)], [], 0.0
    for t, (x, y) in enumerate(zip(xs, ys, strict=True), start=1):
        h = np.tanh(p["b"] + p["W"] @ hs[-1] + p["U"] @ x)
        if kick and kick[0] == t:
            h = h + kick[1]
        o = p["c"] + p["V"] @ h
        e = np.exp(o - o.max())
        prob = e / e.sum()
        loss -= np.log(prob[y])
        hs.append(h)
        ps.append(prob)
    return loss, hs, ps


def _fd(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def _fd_param(p, xs, ys, name):
    def f(value):
        return _forward(p | {name: value}, xs, ys)[0]

    return _fd(f, p[name])


def _fd_state(p, xs, ys, t):
    return _fd(lambda v: _forward(p, xs, ys, (t, v))[0], np.zeros_like(p["h0"]))


def _pieces(p, xs, ys):
    _, hs, ps = _forward(p, xs, ys)
    T = len(xs)
    D = {t: np.diag(1 - hs[t] ** 2) for t in range(1, T + 1)}
    err = {t: ps[t - 1] - np.eye(len(p["c"]))[ys[t - 1]] for t in range(1, T + 1)}
    return hs, D, err, T


def _product(factors):
    out = np.eye(factors[0].shape[0]) if factors else None
    for f in factors:
        out = out @ f
    return out


def test_unrolled_products_by_finite_differences():
    p, xs, ys = _model()
    hs, D, err, T = _pieces(p, xs, ys)
    n_h, W, V = len(p["b"]), p["W"], p["V"]

    def unrolled(factor):
        total = np.zeros_like(W)
        for t in range(1, T + 1):
            for k in range(1, t + 1):
                prod = _product([factor(j) for j in range(k + 1, t + 1)]) if t > k else np.eye(n_h)
                total += np.outer(D[k] @ prod @ V.T @ err[t], hs[k - 1])
        return total

    truth = _fd_param(p, xs, ys, "W")
    # \prod_{j=k+1}^{t} (W^T diag(1-h_j^2)), left to right: correct
    assert np.allclose(unrolled(lambda j: W.T @ D[j]), truth, atol=1e-7)
    # the factors the other way round inside the product: wrong
    assert not np.allclose(unrolled(lambda j: D[j] @ W.T), truth, atol=1e-3)
    # W in place of W^T: wrong
    assert not np.allclose(unrolled(lambda j: W @ D[j]), truth, atol=1e-3)
    # ∂L/∂W_{ji} with the right side of ∂L/∂W_{ij}: the transpose, wrong (W not symmetric)
    assert not np.allclose(truth.T, truth, atol=1e-3)


def test_state_gradients_by_finite_differences():
    p, xs, ys = _model()
    hs, D, err, T = _pieces(p, xs, ys)
    W, V = p["W"], p["V"]
    J = {j: D[j] @ W for j in range(1, T + 1)}  # ∂h_j/∂h_{j-1}
    for t in range(1, T + 1):
        truth = _fd_state(p, xs, ys, t)
        chain = sum(
            _product([J[j] for j in range(k, t, -1)]).T @ V.T @ err[k] if k > t else V.T @ err[k]
            for k in range(t, T + 1)
        )
        assert np.allclose(chain, truth, atol=1e-7)  # Σ_{k≥t} (J_k … J_{t+1})ᵀ Vᵀ e_k
        if T - t >= 2:
            literal = (
                sum(
                    _product([J[j] for j in range(t + 1, k + 1)]).T @ V.T @ err[k]
                    for k in range(t + 1, T + 1)
                )
                + V.T @ err[t]
            )
            assert not np.allclose(literal, truth, atol=1e-3)  # (J_{t+1} … J_k)ᵀ: wrong
    # ∇_{h_0}L = Wᵀ diag(1-h_1²) ∇_{h_1}L, and by the unrolled sum
    g1 = _fd_state(p, xs, ys, 1)
    truth0 = _fd_state(p, xs, ys, 0)
    assert np.allclose(W.T @ D[1] @ g1, truth0, atol=1e-7)
    assert not np.allclose(W @ D[1] @ g1, truth0, atol=1e-3)


def test_delta_recursion_by_finite_differences():
    p, xs, ys = _model()
    hs, D, err, T = _pieces(p, xs, ys)
    W, V = p["W"], p["V"]
    truth = _fd_param(p, xs, ys, "W")
    for recurrent, correct in ((W.T, True), (W, False)):
        delta = {T + 1: np.zeros_like(p["b"])}
        for t in range(T, 0, -1):
            delta[t] = D[t] @ (V.T @ err[t] + recurrent @ delta[t + 1])
        total = sum(np.outer(delta[t], hs[t - 1]) for t in range(1, T + 1))
        assert np.allclose(total, truth, atol=1e-7) is correct
    # only the local term: wrong
    local = sum(np.outer(D[t] @ V.T @ err[t], hs[t - 1]) for t in range(1, T + 1))
    assert not np.allclose(local, truth, atol=1e-3)


def test_softmax_components_by_finite_differences():
    rng = np.random.default_rng(7)
    o, y = rng.normal(size=4), 2
    onehot = np.eye(4)[y]

    def loss(v):
        e = np.exp(v - v.max())
        return -np.log(e[y] / e.sum())

    truth = _fd(loss, o)
    yhat = np.exp(o) / np.exp(o).sum()
    by_components = np.array(
        [
            sum(yhat[j] * ((i == j) - yhat[i]) * (-onehot[j] / yhat[j]) for j in range(4))
            for i in range(4)
        ]
    )
    assert np.allclose(by_components, truth, atol=1e-7)
    diagonal_everywhere = np.array(
        [sum(yhat[j] * (1 - yhat[i]) * (-onehot[j] / yhat[j]) for j in range(4)) for i in range(4)]
    )
    assert np.allclose(diagonal_everywhere, yhat - 1) and not np.allclose(
        diagonal_everywhere, truth
    )
    jacobian = np.diag(yhat) - np.outer(yhat, yhat)
    assert np.allclose(jacobian @ (-onehot / yhat), truth, atol=1e-7)
