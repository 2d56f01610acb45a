"""The seed notes' own gradient formulas, transcribed into the dialect, with the checker's verdict.

Each transcription quotes its seed line (`quote` is a verbatim substring of that line) and
keeps the note's letters (`notation`). `latex` is the line's formula with as few edits as
possible; `edits` says what was changed and why ("" = the line verbatim, without the $$).
`expected` is the verdict `check_formula` gives; the test suite re-runs every one, so the
errata that cite these runs say what the checker says.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnn_check._verdict import Status, Verdict

S000 = "000_353fc027c1455118.txt"
S001 = "001_0b57e9a572fb520b.txt"
S002 = "002_1986c8a8192cb80b.txt"
S003 = "003_f5a511b607786116.txt"
S004 = "004_957c386b48be8623.txt"


@dataclass(frozen=True)
class Transcription:
    seed: str  # file name in derivations/errata/seeds/
    line: int  # 1-based
    quote: str  # verbatim substring of that line
    latex: str  # the formula in the dialect
    wrt: str | None  # the block, in the note's letters (None: the formula states it)
    notation: str
    expected: Status
    edits: str = ""  # what was changed against the line ("" = verbatim)
    remark: str = ""  # what the verdict means for the note

    def check(self) -> Verdict:
        from rnn_check._formula import check_formula

        return check_formula(self.latex, self.wrt, self.notation)


_L126 = (
    r"\delta_t^y \equiv \frac{\partial L_t}{\partial o_t} = \hat{y}_t - y_t, \delta_{T+1}^u "
    r"\equiv 0, \delta_t^h \equiv \frac{\partial \mathcal{L}}{\partial h_t} = W_{ya}^\top "
    r"\delta_t^y + W_{aa}^\top \delta_{t+1}^u, \delta_t^u \equiv \frac{\partial \mathcal{L}}"
    r"{\partial u_t} = (1 - h_t^2) \odot \delta_t^h."
)
_L128 = (
    r"\frac{\partial \mathcal{L}}{\partial W_{ya}} = \sum_{t=1}^T \delta_t^y h_t^\top, "
    r"\frac{\partial \mathcal{L}}{\partial b_y} = \sum_{t=1}^T \delta_t^y, \frac{\partial "
    r"\mathcal{L}}{\partial W_{aa}} = \sum_{t=1}^T \delta_t^u h_{t-1}^\top, \frac{\partial "
    r"\mathcal{L}}{\partial W_{ax}} = \sum_{t=1}^T \delta_t^u x_t^\top, \frac{\partial "
    r"\mathcal{L}}{\partial b_a} = \sum_{t=1}^T \delta_t^u."
)
_L153 = (
    r"\begin{aligned} \nabla_{h(t)} L &= \left( \frac{\partial h(t+1)}{\partial h(t)} \right)' "
    r"(\nabla_{h(t+1)} L) + \left( \frac{\partial o(t)}{\partial h(t)} \right)' (\nabla_{o(t)} L)"
    r" \\ &= W' \text{diag}(1 - h(t+1)^2) (\nabla_{h(t+1)} L) + V' (\nabla_{o(t)} L) \end{aligned}"
)
_L157 = (
    r"\begin{aligned} \nabla_c L &= \sum_t^T \left( \frac{\partial o(t)}{\partial c} \right)' "
    r"\nabla_{o(t)} L = \sum_t^T \nabla_{o(t)} L \\ \nabla_b L &= \sum_t^T \left( \frac{\partial "
    r"h(t)}{\partial b} \right)' \nabla_{h(t)} L = \sum_t^T \text{diag}(1 - h(t)^2) \nabla_{h(t)} L"
    r" \\ \nabla_V L &= \sum_t^T \sum_i^N \frac{\partial L}{\partial o_i(t)} \nabla_{V_i} o_i(t) = "
    r"\sum_t^T (\nabla_{o(t)} L) h(t)' \\ \nabla_W L &= \sum_t^T \sum_i^N \frac{\partial L}"
    r"{\partial h_i(t)} \nabla_{W_i} h_i(t) = \sum_t^T \text{diag}(1 - h(t)^2) (\nabla_{h(t)} L) "
    r"h(t-1)' \end{aligned}"
)
_L159 = (
    r"\nabla_U L = \sum_t \sum_i^N \frac{\partial L}{\partial h_i(t)} \nabla_{U_i} h_i(t) = "
    r"\sum_t \text{diag}(1 - h(t)^2) (\nabla_{h(t)} L) x(t)'"
)
_EQ10 = (
    r"\frac{\partial L}{\partial W} = \sum_{t=1}^{\mathcal{S}} \left(\sum_{k=1}^t (y_t - "
    r"\hat{y}_t) V^\top \prod_{j=k}^{t-1} \left(W^\top (1 - h_{j+1}^2) \right) (1 - h_k^2) "
    r"h_{k-1} \right) \quad (10)"
)
_EQ12 = (
    r"\frac{\partial L}{\partial W} = \sum_{t=1}^S \left(\sum_{k=1}^t (y_t - \hat{y}_t) V^\top "
    r"\prod_{j=k}^{t-1} \left(W^\top (1 - h_{j+1}^2) \right) (1 - h_k^2) h_{k-1} \right) \quad (12)"
)
_EQ14 = (
    r"\frac{\partial L}{\partial W} = \sum_{t=1}^S \left(\sum_{k=1}^t (y_t - \hat{y}_t) V^\top "
    r"\prod_{j=k}^{t-1} \left(W^\top (1 - h_{j+1}^2) \right) (1 - h_k^2) \right) \quad (14)"
)

_C, _W, _I = Status.CORRECT, Status.WRONG, Status.ILL_FORMED

TRANSCRIPTIONS: tuple[Transcription, ...] = (
    # -- seed 000: the BPTT formulas of §1.4 are right ------------------------------------
    Transcription(
        S000, 134, r"\hat{y}_i(t) - 1_{i=y(t)}",
        r"(\nabla_{o(t)} L)_i = \frac{\partial L}{\partial o_i(t)} = \frac{\partial L}{\partial L(t)} \frac{\partial L(t)}{\partial o_i(t)} = \hat{y}_i(t) - 1_{i=y(t)}",
        None, "000", _C,
    ),
    Transcription(S000, 149, r"\nabla_{h(T)} L = V' \nabla_{o(T)} L", r"\nabla_{h(T)} L = V' \nabla_{o(T)} L", None, "000", _C),
    Transcription(S000, 153, r"W' \text{diag}(1 - h(t+1)^2)", _L153, None, "000", _C),
    Transcription(S000, 157, r"\nabla_c L", _L157, "c", "000", _C),
    Transcription(S000, 157, r"\nabla_b L", _L157, "b", "000", _C),
    Transcription(S000, 157, r"\nabla_V L", _L157, "V", "000", _C),
    Transcription(S000, 157, r"\nabla_W L", _L157, "W", "000", _C),
    Transcription(S000, 159, r"\nabla_U L", _L159, None, "000", _C),
    # -- seed 001: the Jacobian chain, in chain-rule order ----------------------------------
    Transcription(
        S001, 260, r"\prod_{m=k+1}^t \frac{\partial s_m}{\partial s_{m-1}}",
        r"\frac{\partial s_t}{\partial s_k} = \prod_{m=k+1}^t \frac{\partial s_m}{\partial s_{m-1}} \quad (17)",
        None, "001", _C,
        remark="holds when the product is composed latest step leftmost (the dialect's rule for Jacobian products)",
    ),
    Transcription(
        S001, 272, r"\frac{\partial \underline{h}_2}{\partial \underline{h}_0}",
        r"\frac{\partial \underline{h}_2}{\partial \underline{h}_0} = \frac{\partial \underline{h}_2}{\partial \underline{h}_1} \cdot \frac{\partial \underline{h}_1}{\partial \underline{h}_0} \quad [18]",
        None, "001", _C,
    ),
    Transcription(
        S001, 282, r"\prod_{m=k+1}^{m=t}",
        r"\frac{\partial \underline{h}_t}{\partial \underline{h}_k} = \prod_{m=k+1}^{m=t} \frac{\partial \underline{h}_m}{\partial \underline{h}_{m-1}} \quad [20]",
        None, "001", _C,
    ),
    # -- seed 002: the cheatsheet's δ recursion and parameter gradients are right -------------
    Transcription(S002, 94, r"\hat{y}_{t,i} (\delta_{ij} - \hat{y}_{t,j})",
                  r"\frac{\partial \hat{y}_{t,i}}{\partial \theta_{t,j}} = \hat{y}_{t,i} (\delta_{ij} - \hat{y}_{t,j})", None, "002", _C),
    Transcription(S002, 102, r"= \hat{y}_{t,j} - y_{t,j}",
                  r"\frac{\partial L_t}{\partial \theta_{t,j}} = \hat{y}_{t,j} - y_{t,j}", None, "002", _C,
                  edits="left side taken from line 96 (the line continues that chain)"),
    Transcription(S002, 104, r"\hat{y}_t - y_t = \delta_t^y",
                  r"\frac{\partial L_t}{\partial \theta_t} = \hat{y}_t - y_t = \delta_t^y", None, "002", _C),
    Transcription(S002, 126, r"\delta_t^y \equiv", _L126, "o_t", "002", _C),
    Transcription(S002, 126, r"\delta_t^h \equiv", _L126, "h_t", "002", _C),
    Transcription(S002, 126, r"\delta_t^u \equiv", _L126, "u_t", "002", _C),
    *(
        Transcription(S002, 128, quote, _L126 + " " + _L128, wrt, "002", _C,
                      edits="the definitions of line 126 put in front (the line uses them)")
        for quote, wrt in (
            (r"{\partial W_{ya}}", "W_ya"),
            (r"{\partial b_y}", "b_y"),
            (r"{\partial W_{aa}}", "W_aa"),
            (r"{\partial W_{ax}}", "W_ax"),
            (r"{\partial b_a}", "b_a"),
        )
    ),
    # -- seed 003 ------------------------------------------------------------------------
    Transcription(
        S003, 43, r"\hat{y}_{t,i} (1 - \hat{y}_{t,j}) \quad (5)",
        r"\frac{\partial \hat{y}_{t,i}}{\partial \Omega_{t,j}} = \hat{y}_{t,i} (1 - \hat{y}_{t,j}) \quad (5)",
        None, "003", _W,
        edits="left side from line 29, with the time index ŷ_i → ŷ_{t,i}",
        remark="the diagonal entry ŷ_i(1 − ŷ_i) used for every i, j; off the diagonal it is −ŷ_i ŷ_j",
    ),
    Transcription(S003, 64, r"\frac{\partial L_t}{\partial \hat{\Omega}_t}",
                  r"\frac{\partial L_t}{\partial \Omega_t} = (\hat{y}_t - y_t) \quad (6)", None, "003", _C,
                  edits=r"\hat{\Omega}_t → \Omega_t (a hat on the logits is a typo)"),
    Transcription(S003, 78, r"= \sum_{t=1}^S (\hat{y}_t - y_t) \cdot h_t^\top \quad (7)",
                  r"\frac{\partial L}{\partial V} = \sum_{t=1}^S (\hat{y}_t - y_t) \cdot h_t^\top \quad (7)", None, "003", _C,
                  edits="left side from line 71"),
    Transcription(S003, 92, r"= \sum_{t=1}^T (\hat{y}_t - y_t) \quad (8)",
                  r"\frac{\partial L}{\partial c} = \sum_{t=1}^T (\hat{y}_t - y_t) \quad (8)", None, "003", _C,
                  edits="left side from line 85"),
    Transcription(S003, 122, r"\frac{\partial \hat{y}_t}{\partial h_t} &= V^\top",
                  r"\frac{\partial \hat{y}_t}{\partial h_t} = V^\top", None, "003", _I,
                  edits="one line of the aligned block",
                  remark="∂ŷ_t/∂h_t is n_y×n_h (it is (diag(ŷ) − ŷŷᵀ)V); Vᵀ is n_h×n_y"),
    Transcription(S003, 122, r"\frac{\partial h_{j+1}}{\partial h_j} &= W^\top (1 - h_{j+1}^2)",
                  r"\frac{\partial h_{j+1}}{\partial h_j} = W^\top (1 - h_{j+1}^2)", None, "003", _I,
                  edits="one line of the aligned block",
                  remark="a matrix equated to a vector; the Jacobian is diag(1 − h_{j+1}²) W"),
    Transcription(S003, 126, r"(y_t - \hat{y}_t) V^\top", _EQ10, None, "003", _I,
                  remark="(y_t − ŷ_t) is n_y×1 and Vᵀ is n_h×n_y: the product needs 1 = n_h"),
    Transcription(S003, 140, r"\frac{\partial L}{\partial W} = \sum_{t=1}^S", _EQ12, None, "003", _I,
                  remark="a copy of eq. (10) under the heading of U (x_k never appears)"),
    Transcription(S003, 154, r"(1 - h_k^2) \right) \quad (14)", _EQ14, None, "003", _I,
                  remark="the gradient of b, labelled ∂L/∂W, with the shape error of eq. (10)"),
    # -- seed 004: many-to-one; the loss is put at every step to match the canonical model --
    Transcription(
        S004, 128, r"p_i - 1 & \text{if } i = c",
        r"\frac{\partial L}{\partial y_{t,i}} = p_{t,i} - \mathbb{1}_{i=c_t}", "y_t", "004", _C,
        edits="the two cases written with an indicator; a time index t added to y, p and c",
    ),
    Transcription(S004, 141, r"\frac{\partial L}{\partial y} \cdot h_n",
                  r"\frac{\partial L}{\partial w_{hy}} = \sum_t \frac{\partial L}{\partial y_t} \cdot h_t", None, "004", _I,
                  edits="w_{ny} → w_{hy} (typo); one step n → the sum over t of the many-to-many model",
                  remark="h_t needs a transpose: (∂L/∂y_t) h_tᵀ"),
    Transcription(S004, 150, r"\frac{\partial L}{\partial b_y} = \frac{\partial L}{\partial y}",
                  r"\frac{\partial L}{\partial b_y} = \sum_t \frac{\partial L}{\partial y_t}", None, "004", _C,
                  edits="one step → the sum over t of the many-to-many model"),
    Transcription(S004, 206, r"(1 - h_{t+1}^2) w_{hh}",
                  r"\frac{\partial y_T}{\partial h_t} = \frac{\partial y_T}{\partial h_{t+1}} \cdot (1 - h_{t+1}^2) w_{hh}", None, "004", _I,
                  edits="y → y_T (the many-to-one output is the last step's)",
                  remark="(1 − h²) is a vector: it must be diag(1 − h_{t+1}²) between the Jacobians"),
    Transcription(S004, 210, r"\sum \frac{\partial L}{\partial h} (1-h_t^2) x_t",
                  r"\frac{\partial L}{\partial w_{xh}} = \sum_t \frac{\partial L}{\partial h_t} (1-h_t^2) x_t", None, "004", _I,
                  edits=r"\sum → \sum_t and ∂L/∂h → ∂L/∂h_t (the step the sum runs over)",
                  remark="two column vectors multiplied: needs diag(1 − h_t²) and x_tᵀ"),
    Transcription(S004, 212, r"\sum \frac{\partial L}{\partial h} (1-h_t^2) h_{t-1}",
                  r"\frac{\partial L}{\partial w_{hh}} = \sum_t \frac{\partial L}{\partial h_t} (1-h_t^2) h_{t-1}", None, "004", _I,
                  edits=r"w_{nh} → w_{hh} (typo); \sum → \sum_t; ∂L/∂h → ∂L/∂h_t"),
    Transcription(S004, 214, r"\sum \frac{\partial L}{\partial h} (1-h_t^2)",
                  r"\frac{\partial L}{\partial b_h} = \sum_t \frac{\partial L}{\partial h_t} (1-h_t^2)", None, "004", _I,
                  edits=r"\sum → \sum_t; ∂L/∂h → ∂L/∂h_t",
                  remark="the elementwise product needs ⊙ (or diag): with it the formula is right"),
    Transcription(S004, 214, r"\sum \frac{\partial L}{\partial h} (1-h_t^2)",
                  r"\frac{\partial L}{\partial b_h} = \sum_t \frac{\partial L}{\partial h_t} \odot (1-h_t^2)", None, "004", _C,
                  edits=r"as above, and the product written as ⊙ (how the note means it)"),
)  # fmt: skip


def transcriptions_for(seed: str, line: int | None = None) -> tuple[Transcription, ...]:
    """The transcriptions of one seed note (file name or 3-digit prefix), optionally one line."""
    return tuple(
        t
        for t in TRANSCRIPTIONS
        if (t.seed == seed or t.seed.startswith(seed)) and (line is None or t.line == line)
    )
