"""The seed notes' own gradient formulas, transcribed into the dialect, with the checker's verdict.

Each transcription quotes its seed line (`quote` is a verbatim substring of that line) and
keeps the note's letters (`notation`). `latex` is the line's formula with as few edits as
possible; `edits` says what was changed and why ("" = the line verbatim, without the $$).
`expected` is the verdict `check_formula` gives; the test suite re-runs every one, so the
errata that cite these runs say what the checker says.

A transcription is named by its seed, line and quote (unique together). One whose verdict
is WRONG or ILL-FORMED carries `correction`: the erratum's corrected formula in the same
dialect and letters, which the checker must judge CORRECT. The errata catalogue
(`derivations/errata`) makes these verdicts part of its machine checks.
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
    correction: str = ""  # WRONG/ILL-FORMED only: the corrected formula, judged CORRECT

    def check(self) -> Verdict:
        from rnn_check._formula import check_formula

        return check_formula(self.latex, self.wrt, self.notation)

    def check_correction(self) -> Verdict | None:
        """The checker's verdict on `correction` (None when there is none)."""
        if not self.correction:
            return None
        from rnn_check._formula import check_formula

        return check_formula(self.correction, self.wrt, self.notation)


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

# The corrections of eqs. (10), (12), (14) in the note's own order of factors, transposed
# into denominator layout: diag(1 − h_k²) (Π_j Wᵀ diag(1 − h_{j+1}²)) Vᵀ (ŷ_t − y_t) ⊗ last.
_EQ_FIXED = (
    r"\left(\sum_{k=1}^t \mathrm{diag}(1 - h_k^2) \prod_{j=k}^{t-1} \left(W^\top \mathrm{diag}"
    r"(1 - h_{j+1}^2) \right) V^\top (\hat{y}_t - y_t) "
)
_EQ10_FIXED = (
    r"\frac{\partial L}{\partial W} = \sum_{t=1}^{\mathcal{S}} "
    + _EQ_FIXED
    + r"h_{k-1}^\top \right) \quad (10)"
)
_EQ12_FIXED = (
    r"\frac{\partial L}{\partial U} = \sum_{t=1}^S " + _EQ_FIXED + r"x_k^\top \right) \quad (12)"
)
_EQ14_FIXED = r"\frac{\partial L}{\partial b} = \sum_{t=1}^S " + _EQ_FIXED + r"\right) \quad (14)"

_DL_DOMEGA_EDITS = (
    r"one line of the aligned block; ∂ŷ_t → ∂Ω_t: the dialect takes the loss's gradient by the "
    "logits, and the note's value is the one of ∂L_t/∂Ω_t (its Eq. (6), which it restates)"
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
    Transcription(S002, 54, r"\frac{\partial \vec{g}_i}{\partial \circ_j} = \vec{g}_i (\delta_{ij} - \vec{g}_j)",
                  r"\frac{\partial \hat{y}_{t,i}}{\partial o_{t,j}} = \hat{y}_{t,i} (\delta_{ij} - \hat{y}_{t,j})", None, "002", _C,
                  edits=r"\vec{g} → \hat{y} and \circ → o (the cheatsheet's letters for them); the time index t added, "
                  "since a single subscript is a time step in the dialect; \boxed dropped"),
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
        correction=r"\frac{\partial \hat{y}_{t,i}}{\partial \Omega_{t,j}} = \hat{y}_{t,i} (\delta_{ij} - \hat{y}_{t,j}) \quad (5)",
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
    Transcription(S003, 122, r"\frac{\partial L_t}{\partial \hat{y}_t} &= (y_t - \hat{y}_t)",
                  r"\frac{\partial L_t}{\partial \Omega_t} = (y_t - \hat{y}_t)", None, "003", _W,
                  edits=_DL_DOMEGA_EDITS,
                  remark="the sign of Eq. (6) flipped: a gradient step with it climbs the loss",
                  correction=r"\frac{\partial L_t}{\partial \Omega_t} = (\hat{y}_t - y_t)"),
    Transcription(S003, 122, r"\frac{\partial \hat{y}_t}{\partial h_t} &= V^\top",
                  r"\frac{\partial \hat{y}_t}{\partial h_t} = V^\top", None, "003", _I,
                  edits="one line of the aligned block",
                  remark="∂ŷ_t/∂h_t is n_y×n_h (it is (diag(ŷ) − ŷŷᵀ)V); Vᵀ is n_h×n_y",
                  correction=r"\frac{\partial \hat{y}_t}{\partial h_t} = (\mathrm{diag}(\hat{y}_t) - \hat{y}_t \hat{y}_t^\top) V"),
    Transcription(S003, 122, r"\frac{\partial h_{j+1}}{\partial h_j} &= W^\top (1 - h_{j+1}^2)",
                  r"\frac{\partial h_{j+1}}{\partial h_j} = W^\top (1 - h_{j+1}^2)", None, "003", _I,
                  edits="one line of the aligned block",
                  remark="a matrix equated to a vector; the Jacobian is diag(1 − h_{j+1}²) W",
                  correction=r"\frac{\partial h_{j+1}}{\partial h_j} = \mathrm{diag}(1 - h_{j+1}^2) W"),
    Transcription(S003, 126, r"(y_t - \hat{y}_t) V^\top", _EQ10, None, "003", _I,
                  remark="(y_t − ŷ_t) is n_y×1 and Vᵀ is n_h×n_y: the product needs 1 = n_h",
                  correction=_EQ10_FIXED),
    Transcription(S003, 136, r"\frac{\partial L_t}{\partial \hat{y}_t} = (y_t - \hat{y}_t)",
                  r"\frac{\partial L_t}{\partial \Omega_t} = (y_t - \hat{y}_t)", None, "003", _W,
                  edits=_DL_DOMEGA_EDITS,
                  remark="'From Eq. (6)', but with the sign of Eq. (6) flipped",
                  correction=r"\frac{\partial L_t}{\partial \Omega_t} = (\hat{y}_t - y_t)"),
    Transcription(S003, 136, r"\frac{\partial \hat{y}_t}{\partial h_t} = V^\top",
                  r"\frac{\partial \hat{y}_t}{\partial h_t} = V^\top", None, "003", _I,
                  edits="one line of the aligned block (a repeat of line 122)",
                  remark="∂ŷ_t/∂h_t is n_y×n_h (it is (diag(ŷ) − ŷŷᵀ)V); Vᵀ is n_h×n_y",
                  correction=r"\frac{\partial \hat{y}_t}{\partial h_t} = (\mathrm{diag}(\hat{y}_t) - \hat{y}_t \hat{y}_t^\top) V"),
    Transcription(S003, 136, r"\frac{\partial h_{j+1}}{\partial h_j} = W^\top (1 - h_{j+1}^2)",
                  r"\frac{\partial h_{j+1}}{\partial h_j} = W^\top (1 - h_{j+1}^2)", None, "003", _I,
                  edits="one line of the aligned block (a repeat of line 122)",
                  remark="a matrix equated to a vector; the Jacobian is diag(1 − h_{j+1}²) W",
                  correction=r"\frac{\partial h_{j+1}}{\partial h_j} = \mathrm{diag}(1 - h_{j+1}^2) W"),
    Transcription(S003, 140, r"\frac{\partial L}{\partial W} = \sum_{t=1}^S", _EQ12, None, "003", _I,
                  remark="a copy of eq. (10) under the heading of U (x_k never appears)",
                  correction=_EQ12_FIXED),
    Transcription(S003, 154, r"(1 - h_k^2) \right) \quad (14)", _EQ14, None, "003", _I,
                  remark="the gradient of b, labelled ∂L/∂W, with the shape error of eq. (10)",
                  correction=_EQ14_FIXED),
    # -- seed 004: many-to-one; the loss is put at every step to match the canonical model --
    Transcription(
        S004, 128, r"p_i - 1 & \text{if } i = c",
        r"\frac{\partial L}{\partial y_{t,i}} = p_{t,i} - \mathbb{1}_{i=c_t}", "y_t", "004", _C,
        edits="the two cases written with an indicator; a time index t added to y, p and c",
    ),
    Transcription(S004, 141, r"\frac{\partial L}{\partial y} \cdot h_n",
                  r"\frac{\partial L}{\partial w_{hy}} = \sum_t \frac{\partial L}{\partial y_t} \cdot h_t", None, "004", _I,
                  edits="w_{ny} → w_{hy} (typo); one step n → the sum over t of the many-to-many model",
                  remark="h_t needs a transpose: (∂L/∂y_t) h_tᵀ",
                  correction=r"\frac{\partial L}{\partial w_{hy}} = \sum_t \frac{\partial L}{\partial y_t} \cdot h_t^\top"),
    Transcription(S004, 150, r"\frac{\partial L}{\partial b_y} = \frac{\partial L}{\partial y}",
                  r"\frac{\partial L}{\partial b_y} = \sum_t \frac{\partial L}{\partial y_t}", None, "004", _C,
                  edits="one step → the sum over t of the many-to-many model"),
    Transcription(S004, 206, r"(1 - h_{t+1}^2) w_{hh}",
                  r"\frac{\partial y_T}{\partial h_t} = \frac{\partial y_T}{\partial h_{t+1}} \cdot (1 - h_{t+1}^2) w_{hh}", None, "004", _I,
                  edits="y → y_T (the many-to-one output is the last step's)",
                  remark="(1 − h²) is a vector: it must be diag(1 − h_{t+1}²) between the Jacobians",
                  # checked at t = 0 … T-1: at t = T it would need h_{T+1}, which an identity skips
                  correction=r"\frac{\partial y_T}{\partial h_t} = \frac{\partial y_T}{\partial h_{t+1}} \cdot \mathrm{diag}(1 - h_{t+1}^2) w_{hh}"),
    Transcription(S004, 210, r"\sum \frac{\partial L}{\partial h} (1-h_t^2) x_t",
                  r"\frac{\partial L}{\partial w_{xh}} = \sum_t \frac{\partial L}{\partial h_t} (1-h_t^2) x_t", None, "004", _I,
                  edits=r"\sum → \sum_t and ∂L/∂h → ∂L/∂h_t (the step the sum runs over)",
                  remark="two column vectors multiplied: needs diag(1 − h_t²) and x_tᵀ",
                  correction=r"\frac{\partial L}{\partial w_{xh}} = \sum_t \mathrm{diag}(1-h_t^2) \frac{\partial L}{\partial h_t} x_t^\top"),
    Transcription(S004, 212, r"\sum \frac{\partial L}{\partial h} (1-h_t^2) h_{t-1}",
                  r"\frac{\partial L}{\partial w_{hh}} = \sum_t \frac{\partial L}{\partial h_t} (1-h_t^2) h_{t-1}", None, "004", _I,
                  edits=r"w_{nh} → w_{hh} (typo); \sum → \sum_t; ∂L/∂h → ∂L/∂h_t",
                  remark="two column vectors multiplied: needs diag(1 − h_t²) and h_{t-1}ᵀ",
                  correction=r"\frac{\partial L}{\partial w_{hh}} = \sum_t \mathrm{diag}(1-h_t^2) \frac{\partial L}{\partial h_t} h_{t-1}^\top"),
    Transcription(S004, 214, r"\sum \frac{\partial L}{\partial h} (1-h_t^2)",
                  r"\frac{\partial L}{\partial b_h} = \sum_t \frac{\partial L}{\partial h_t} (1-h_t^2)", None, "004", _I,
                  edits=r"\sum → \sum_t; ∂L/∂h → ∂L/∂h_t",
                  remark="the elementwise product needs ⊙ (or diag): with it the formula is right",
                  correction=r"\frac{\partial L}{\partial b_h} = \sum_t \frac{\partial L}{\partial h_t} \odot (1-h_t^2)"),
)  # fmt: skip


def transcription(seed: str, line: int, quote: str) -> Transcription:
    """The transcription of `quote` on `line` of a seed note (file name or 3-digit prefix)."""
    for candidate in transcriptions_for(seed, line):
        if candidate.quote == quote:
            return candidate
    known = "; ".join(repr(t.quote) for t in transcriptions_for(seed, line)) or "none"
    raise KeyError(
        f"no transcription of {quote!r} on line {line} of seed {seed!r} "
        f"(the transcriptions of that line: {known}); add one to rnn_check/_transcriptions.py"
    )


def transcriptions_for(seed: str, line: int | None = None) -> tuple[Transcription, ...]:
    """The transcriptions of one seed note (file name or 3-digit prefix), optionally one line."""
    return tuple(
        t
        for t in TRANSCRIPTIONS
        if (t.seed == seed or t.seed.startswith(seed)) and (line is None or t.line == line)
    )
