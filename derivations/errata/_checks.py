"""Shared machine checks for errata: SymPy residuals, numeric gradients, recomputed numbers.

Every helper returns a `CheckOutcome` whose two flags are decided independently:

* ``claim_refuted``: the note's statement was shown false (a nonzero residual with a concrete
  counterexample, a gradient that disagrees with finite differences, a printed number that
  disagrees with the recomputed one beyond its printed precision);
* ``correction_holds``: the corrected statement was proven (SymPy) or confirmed (NumPy).

The same helpers confirm what a note gets right (`Confirmation`): there the "claim" is the
note's own (correct) statement, so ``claim_refuted`` must come out False.

The reference side of every numeric check is written here in plain NumPy (a loss written
out directly and central finite differences of it), so the checks never share code with
`rnn_num`, the implementation under test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from derivations._numeric import central_gradient
from derivations.errata._types import CheckOutcome, Confirmation, Erratum
from rnn_sym import format_error

__all__ = [
    "array_check",
    "canonical_gradients_bptt",
    "canonical_loss",
    "canonical_forward",
    "canonical_model",
    "combine",
    "finite_difference_gradient",
    "gradient_formula_check",
    "is_identically_zero",
    "number_check",
    "numeric_counterexample",
    "softmax",
    "sympy_residual_check",
    "truth_check",
]

# Deterministic sample points for counterexamples: small rationals away from 0 and 1 so that
# an identity that fails generically fails visibly here.
_SAMPLE_VALUES = (
    Fraction(3, 7),
    Fraction(-2, 5),
    Fraction(5, 11),
    Fraction(7, 13),
    Fraction(-3, 17),
    Fraction(11, 19),
    Fraction(2, 23),
    Fraction(-13, 29),
)


# --------------------------------------------------------------------------------------------
# SymPy
# --------------------------------------------------------------------------------------------


def _as_matrix(expr: Any) -> sp.Matrix:
    if isinstance(expr, sp.MatrixBase):
        return sp.Matrix(expr)
    return sp.Matrix([[expr]])


def is_identically_zero(expr: Any) -> bool:
    """True when SymPy proves `expr` (scalar or matrix) identically zero."""
    matrix = _as_matrix(expr)
    for entry in matrix:
        entry = sp.expand(entry)
        if entry == 0:
            continue
        simplified = sp.simplify(entry)
        if simplified == 0:
            continue
        if sp.simplify(sp.expand(sp.expand_trig(simplified))) == 0:
            continue
        return False
    return True


def numeric_counterexample(
    expr: Any, symbols: Sequence[sp.Symbol] | None = None, substitutions: Mapping | None = None
) -> str | None:
    """A substitution at which `expr` (scalar or matrix) is nonzero, described in one line.

    Tries a few deterministic rational points (after applying `substitutions`); returns None
    when `expr` vanished at all of them.
    """
    matrix = _as_matrix(expr)
    if substitutions:
        matrix = matrix.subs(dict(substitutions))
    free = sorted(
        symbols if symbols is not None else matrix.free_symbols, key=lambda s: s.sort_key()
    )
    for shift in range(len(_SAMPLE_VALUES)):
        point = {
            symbol: _sample_value(symbol, _SAMPLE_VALUES[(i + shift) % len(_SAMPLE_VALUES)], i)
            for i, symbol in enumerate(free)
        }
        values = matrix.subs(point).evalf(30)
        for index, value in enumerate(values):
            try:
                magnitude = abs(complex(value))
            except TypeError:  # still symbolic: cannot decide at this point
                continue
            if magnitude > 1e-12:
                where = ", ".join(f"{s} = {v}" for s, v in point.items()) or "(no symbols)"
                entry = "" if len(values) == 1 else f" (entry {index})"
                return f"at {where}: residual{entry} = {sp.N(value, 6)}"
    return None


def _fraction(value: Fraction) -> tuple[int, int]:
    return value.numerator, value.denominator


def _sample_value(symbol: sp.Symbol, value: Fraction, index: int) -> sp.Rational:
    """A sample point that respects the symbol's assumptions (integer, positive, ...)."""
    if symbol.is_integer:
        return sp.Integer(2 + index + value.denominator % 5)
    if symbol.is_positive or symbol.is_nonnegative:
        return sp.Rational(abs(value.numerator), value.denominator)
    if symbol.is_negative or symbol.is_nonpositive:
        return sp.Rational(-abs(value.numerator), value.denominator)
    return sp.Rational(value.numerator, value.denominator)


def sympy_residual_check(
    claim_lhs: Any,
    claim_rhs: Any,
    correct_lhs: Any | None = None,
    correct_rhs: Any | None = None,
    *,
    substitutions: Mapping | None = None,
    claim_should_hold: bool = False,
) -> CheckOutcome:
    """Check a symbolic claim `claim_lhs = claim_rhs` and its correction with SymPy.

    The claim is refuted when the residual `claim_lhs - claim_rhs` is not identically zero
    AND a concrete rational point makes it nonzero (the point is the evidence). The
    correction holds when SymPy proves `correct_lhs - correct_rhs` identically zero
    (if no correction is given, the claim itself is the statement checked, as for a
    `Confirmation`: then ``correction_holds`` says whether the claim was proven).
    Scalars and SymPy matrices are accepted on both sides; `substitutions` is applied
    to both residuals first (e.g. to tie a symbol to a definition).

    `claim_should_hold` is for confirmations: it only changes the evidence wording.
    """
    claim_residual = _residual(claim_lhs, claim_rhs, substitutions)
    counterexample = None
    if not is_identically_zero(claim_residual):
        counterexample = numeric_counterexample(claim_residual)
    claim_refuted = counterexample is not None
    if correct_lhs is None and correct_rhs is None:
        correction_holds = not claim_refuted and is_identically_zero(claim_residual)
        correction_text = "proven identically" if correction_holds else "not proven"
    else:
        correct_residual = _residual(correct_lhs, correct_rhs, substitutions)
        correction_holds = is_identically_zero(correct_residual)
        correction_text = (
            "correction proven: residual simplifies to 0"
            if correction_holds
            else "correction NOT proven: residual does not simplify to 0"
        )
    if claim_refuted:
        claim_text = f"claim false {counterexample}"
    elif claim_should_hold or (correct_lhs is None and correct_rhs is None and correction_holds):
        claim_text = "claim holds: residual simplifies to 0"
    else:
        claim_text = "claim NOT refuted: no nonzero residual found"
    return CheckOutcome(claim_refuted, correction_holds, f"{claim_text}; {correction_text}")


def _residual(lhs: Any, rhs: Any, substitutions: Mapping | None) -> Any:
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        left, right = _as_matrix(lhs), _as_matrix(rhs)
        if left.shape != right.shape:
            raise ValueError(
                f"the two sides have different shapes {left.shape} and {right.shape}: "
                "compare like with like (a shape mismatch is itself a refutation; "
                "use truth_check to record it)"
            )
        residual = left - right
    else:
        residual = sp.Add(lhs, -rhs)  # both built by the checks, never user text
    if substitutions:
        residual = residual.subs(dict(substitutions))
    return residual


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def _printed_tolerance(printed: float | str, rel_tol: float) -> float:
    """Half a unit in the last printed digit (so 0.76 stands for anything in [0.755, 0.765])."""
    text = str(printed).strip().lower()
    if "e" in text:
        mantissa, exponent = text.split("e")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        unit = 10.0 ** (int(exponent) - decimals)
    else:
        decimals = len(text.split(".")[1]) if "." in text else 0
        unit = 10.0**-decimals
    return max(0.5 * unit * (1 + 1e-9), rel_tol * abs(float(printed)))


def number_check(
    printed: float | str,
    recomputed: float,
    corrected: float | str | None = None,
    *,
    rel_tol: float = 0.0,
    label: str = "value",
) -> CheckOutcome:
    """Compare a number printed in a note with the value recomputed independently.

    `printed` and `corrected` may be given as strings exactly as written ("0.76") so that the
    tolerance is half a unit in their last printed digit (plus `rel_tol` relative slack for
    notes that round loosely). The claim is refuted when `printed` is outside that band around
    `recomputed`; the correction holds when `corrected` is inside its band. Without
    `corrected` (a `Confirmation`), ``correction_holds`` means the printed number is right.
    """
    printed_value = float(printed)
    claim_refuted = bool(abs(printed_value - recomputed) > _printed_tolerance(printed, rel_tol))
    if corrected is None:
        correction_holds = not claim_refuted
        corrected_text = ""
    else:
        correction_holds = bool(
            abs(float(corrected) - recomputed) <= _printed_tolerance(corrected, rel_tol)
        )
        corrected_text = f", corrected {corrected}"
    evidence = f"{label}: printed {printed}, recomputed {recomputed:.6g}{corrected_text}"
    return CheckOutcome(claim_refuted, correction_holds, evidence)


def array_check(
    claimed: Any,
    true: Any,
    corrected: Any | None = None,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    label: str = "value",
) -> CheckOutcome:
    """Compare arrays: the note's `claimed` value, the independently computed `true` one and
    the erratum's `corrected` one. A shape mismatch refutes the claim (and fails a
    correction). Without `corrected`, ``correction_holds`` means the claim is right."""
    true_array = np.asarray(true, dtype=float)

    def agrees(value: Any) -> tuple[bool, str]:
        array = np.asarray(value, dtype=float)
        if array.shape != true_array.shape:
            return False, f"shape {array.shape} but the true value has shape {true_array.shape}"
        error = float(np.max(np.abs(array - true_array))) if array.size else 0.0
        scale = float(np.max(np.abs(true_array))) if true_array.size else 0.0
        tolerance = atol + rtol * scale
        return error <= tolerance, f"max abs error {format_error(error, tolerance)}"

    claim_ok, claim_text = agrees(claimed)
    if corrected is None:
        return CheckOutcome(not claim_ok, claim_ok, f"{label}: claim {claim_text}")
    fixed_ok, fixed_text = agrees(corrected)
    return CheckOutcome(
        not claim_ok, fixed_ok, f"{label}: claim {claim_text}; correction {fixed_text}"
    )


def truth_check(claim_is_true: bool, correction_is_true: bool, evidence: str) -> CheckOutcome:
    """Wrap a check computed by hand (e.g. a shape argument or a counterexample built
    explicitly): pass the truth of the claim and of the correction, and the evidence."""
    return CheckOutcome(not bool(claim_is_true), bool(correction_is_true), evidence)


def combine(*outcomes: CheckOutcome) -> CheckOutcome:
    """Several checks of one erratum: refuted if any part is refuted, correction holds only
    if every part holds (for confirmations: refuted if any part is)."""
    return CheckOutcome(
        any(o.claim_refuted for o in outcomes),
        all(o.correction_holds for o in outcomes),
        "; ".join(o.evidence for o in outcomes),
    )


# --------------------------------------------------------------------------------------------
# Numeric gradients (plain NumPy, independent of rnn_num)
# --------------------------------------------------------------------------------------------


def softmax(o: np.ndarray) -> np.ndarray:
    shifted = np.exp(o - np.max(o))
    return shifted / shifted.sum()


def canonical_model(
    T: int = 4, n_x: int = 3, n_h: int = 4, n_y: int = 3, seed: int = 0, scale: float = 0.5
) -> dict[str, np.ndarray]:
    """A random instance of the canonical model of NOTATION.md (float64, deterministic).

    Keys: U (n_h,n_x), W (n_h,n_h), V (n_y,n_h), b (n_h,), c (n_y,), h0 (n_h,), x (T,n_x),
    y (T,) integer targets.
    """
    rng = np.random.default_rng(seed)
    return {
        "U": scale * rng.standard_normal((n_h, n_x)),
        "W": scale * rng.standard_normal((n_h, n_h)),
        "V": scale * rng.standard_normal((n_y, n_h)),
        "b": scale * rng.standard_normal(n_h),
        "c": scale * rng.standard_normal(n_y),
        "h0": scale * rng.standard_normal(n_h),
        "x": rng.standard_normal((T, n_x)),
        "y": rng.integers(0, n_y, size=T),
    }


def canonical_forward(p: Mapping[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Forward pass of the canonical model: lists h (h[0] = h(0)), a, o, yhat (index t-1)."""
    h = [np.asarray(p["h0"], dtype=float)]
    a_list, o_list, yhat_list = [], [], []
    for t in range(len(p["x"])):
        a = p["b"] + p["W"] @ h[-1] + p["U"] @ p["x"][t]
        h.append(np.tanh(a))
        o = p["c"] + p["V"] @ h[-1]
        a_list.append(a)
        o_list.append(o)
        yhat_list.append(softmax(o))
    return {"h": h, "a": a_list, "o": o_list, "yhat": yhat_list}


def canonical_loss(p: Mapping[str, np.ndarray]) -> float:
    """L = sum_t -log softmax(c + V h(t))[y(t)], written out directly."""
    forward = canonical_forward(p)
    return float(sum(-np.log(yhat[int(p["y"][t])]) for t, yhat in enumerate(forward["yhat"])))


def canonical_gradients_bptt(p: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A plain BPTT of the canonical model (NOTATION.md's reference results), for checks that
    need dL/do(t) or dL/dh(t) themselves. Its agreement with finite differences is tested."""
    forward = canonical_forward(p)
    T = len(p["x"])
    h = forward["h"]
    grads = {k: np.zeros_like(np.asarray(p[k], dtype=float)) for k in ("U", "W", "V", "b", "c")}
    dh_next = np.zeros_like(h[0])
    do_list: list[np.ndarray] = [np.zeros(0)] * T
    dh_list: list[np.ndarray] = [np.zeros(0)] * T
    for t in reversed(range(T)):
        do = forward["yhat"][t].copy()
        do[int(p["y"][t])] -= 1.0
        do_list[t] = do
        dh = p["V"].T @ do + dh_next
        dh_list[t] = dh
        da = (1 - h[t + 1] ** 2) * dh
        grads["c"] += do
        grads["V"] += np.outer(do, h[t + 1])
        grads["b"] += da
        grads["W"] += np.outer(da, h[t])
        grads["U"] += np.outer(da, p["x"][t])
        dh_next = p["W"].T @ da
    grads["h0"] = dh_next
    grads["do"] = np.array(do_list)
    grads["dh"] = np.array(dh_list)
    return grads


# Central differences at step 1e-6 carry rounding noise near 1e-10 that varies with the
# machine: their errors are printed with no bound below 1e-8 (rnn_sym.format_error's floor).
FD_FLOOR = -8


def finite_difference_gradient(
    loss: Callable[[Mapping[str, np.ndarray]], float],
    params: Mapping[str, np.ndarray],
    name: str,
    eps: float = 1e-6,
) -> np.ndarray:
    """Central differences of `loss(params)` with respect to the array `params[name]`.

    `loss` is any plain function of the parameter dict (write the note's own loss there when
    it differs from the canonical one). The result has the shape of `params[name]`
    (denominator layout).
    """
    base = {k: np.array(v, dtype=float, copy=True) for k, v in params.items()}
    return central_gradient(lambda value: loss(base | {name: value}), base[name], eps)


def gradient_formula_check(
    claimed: Callable[[Mapping[str, np.ndarray]], np.ndarray],
    corrected: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None,
    name: str,
    *,
    params: Mapping[str, np.ndarray] | None = None,
    loss: Callable[[Mapping[str, np.ndarray]], float] = canonical_loss,
    rtol: float = 1e-5,
) -> CheckOutcome:
    """Compare a note's gradient formula with finite differences of a plainly written loss.

    `claimed` and `corrected` are small NumPy functions of the parameter dict returning the
    gradient of `loss` with respect to `params[name]` as the note (resp. the correction)
    writes it. `params` defaults to `canonical_model()`. The claim is refuted when it differs
    from the finite-difference gradient (or has the wrong shape); the correction holds when
    it agrees to `rtol` relative to the gradient's size. For a `Confirmation` pass the note's
    (correct) formula as `claimed` and None as `corrected`.
    """
    p = dict(canonical_model() if params is None else params)
    reference = finite_difference_gradient(loss, p, name)
    scale = max(float(np.max(np.abs(reference))), 1e-12)

    def compare(formula: Callable) -> tuple[bool, str]:
        value = np.asarray(formula(p), dtype=float)
        if value.shape != reference.shape:
            return False, f"shape {value.shape}, but d L/d {name} has shape {reference.shape}"
        error = float(np.max(np.abs(value - reference))) / scale
        return error <= rtol, (
            f"max relative error {format_error(error, rtol)} against finite differences"
        )

    claim_ok, text = compare(claimed)
    parts = [f"claim: {text}"]
    if corrected is None:
        correction_ok = claim_ok
    else:
        correction_ok, text = compare(corrected)
        parts.append(f"correction: {text}")
    return CheckOutcome(not claim_ok, correction_ok, f"d L/d {name}: " + "; ".join(parts))


# --------------------------------------------------------------------------------------------
# Fast exact proofs for softmax identities (added for seeds 001-004)
# --------------------------------------------------------------------------------------------


def is_zero_in_exp(residual: Any, logits: Sequence[sp.Symbol]) -> bool:
    """Prove that a residual built from exp(o_i) (and other symbols) vanishes identically.

    Replacing each exp(o_i) by a positive symbol E_i makes every entry a rational function,
    and `cancel` decides whether a rational function is zero exactly, in milliseconds where
    `simplify` on the exponential form takes seconds.
    """
    exps = {sp.exp(o): sp.Symbol(f"E_{i + 1}", positive=True) for i, o in enumerate(logits)}
    return all(sp.cancel(sp.expand(entry).subs(exps)) == 0 for entry in _as_matrix(residual))


def exp_identity_check(
    claim_residual: Any,
    correction_residual: Any,
    logits: Sequence[sp.Symbol],
    point: Mapping | None = None,
) -> CheckOutcome:
    """Softmax-type claim `claim_residual = 0` refuted at a concrete point, correction proven.

    The point gives every logit a value from the deterministic samples unless `point` sets it
    (set every other free symbol there, e.g. target entries). The correction is proven by
    `is_zero_in_exp`.
    """
    values_at = {o: sp.Rational(*_fraction(_SAMPLE_VALUES[i])) for i, o in enumerate(logits)}
    values_at.update(dict(point or {}))
    values = [complex(entry.subs(values_at).evalf(30)) for entry in _as_matrix(claim_residual)]
    worst = max(range(len(values)), key=lambda i: abs(values[i]))
    refuted = abs(values[worst]) > 1e-12
    holds = is_zero_in_exp(correction_residual, logits)
    where = ", ".join(f"{s} = {v}" for s, v in values_at.items())
    entry = "" if len(values) == 1 else f" (entry {worst})"
    return CheckOutcome(
        refuted,
        holds,
        f"claim {'false' if refuted else 'NOT refuted'} at {where}: residual{entry} = "
        f"{values[worst].real:.6g}; "
        + ("correction proven: residual cancels to 0" if holds else "correction NOT proven"),
    )


__all__ += ["exp_identity_check", "is_zero_in_exp"]


# --------------------------------------------------------------------------------------------
# A second opinion from the project's formula checker (rnn_check.check_formula)
# --------------------------------------------------------------------------------------------


def _formula_checker() -> Callable | None:
    try:
        import rnn_check
    except ImportError:
        return None
    check_formula = getattr(rnn_check, "check_formula", None)
    if check_formula is None:  # not re-exported yet: the function itself
        try:
            from rnn_check._formula import check_formula
        except ImportError:
            return None
    return check_formula


def _verdict_text(verdict: Any) -> str:
    """`STATUS (diagnosis; shape detail)`: how the checker's verdict is cited in evidence.

    An ILL-FORMED verdict keeps its detail (which sub-expressions do not conform, with both
    shapes) next to any diagnosis: the diagnosis says what was meant, the detail what is wrong.
    """
    status = str(verdict.status)
    parts = list(verdict.diagnosis or ())
    if verdict.detail and (not parts or status == "ILL-FORMED"):
        parts.append(verdict.detail)
    why = "; ".join(parts)
    return f"{status} ({why})" if why else status


def formula_checker_check(
    claim: str,
    correction: str | None = None,
    wrt: str | None = None,
    notation: str = "canonical",
    *,
    ill_formed_refutes: bool = False,
) -> CheckOutcome:
    """What `rnn_check.check_formula` says of a gradient formula written as in the note.

    The checker compares the formula, on its battery of small cases, with `rnn_num`'s
    gradient: a reference independent of the finite differences used elsewhere here, so
    combining both makes an erratum say what the project's checker says.
    The claim is refuted when the checker says WRONG, or ILL-FORMED because shapes do not
    conform if `ill_formed_refutes` (for a claim that is a shape error, e.g. a missing
    transpose making a product non-conformable); any other ILL-FORMED refutes nothing, so a formula the checker
    cannot read makes the check fail visibly. The correction holds when the checker says
    CORRECT. Without `correction` (a `Confirmation`), ``correction_holds`` means the claim
    was judged CORRECT.
    """
    check_formula = _formula_checker()
    if check_formula is None:
        return CheckOutcome(False, False, "rnn_check.check_formula is not available")
    claim_verdict = check_formula(claim, wrt, notation)
    return _checker_outcome(
        claim_verdict,
        None if correction is None else check_formula(correction, wrt, notation),
        ill_formed_refutes=ill_formed_refutes,
        wrt=wrt,
    )


def _checker_outcome(
    claim_verdict: Any,
    correction_verdict: Any | None,
    *,
    ill_formed_refutes: bool,
    wrt: str | None = None,
) -> CheckOutcome:
    claim_status = str(claim_verdict.status)
    # ILL-FORMED refutes only a shape error (two factors that do not conform), never a
    # formula the checker could not parse or evaluate
    shape_error = claim_status == "ILL-FORMED" and claim_verdict.extra.get("error") == "shape"
    refuted = claim_status == "WRONG" or (ill_formed_refutes and shape_error)
    command = "rnn-derive check" if wrt is None else f"rnn-derive check --wrt {wrt}"
    evidence = f"{command}: {_verdict_text(claim_verdict)}"
    if correction_verdict is None:
        holds_ = claim_status == "CORRECT"
    else:
        holds_ = str(correction_verdict.status) == "CORRECT"
        evidence += f"; on the correction: {_verdict_text(correction_verdict)}"
    return CheckOutcome(refuted, holds_, evidence)


__all__ += ["formula_checker_check"]


# --------------------------------------------------------------------------------------------
# The notes' own formulas through the checker (rnn_check/_transcriptions.py)
# --------------------------------------------------------------------------------------------


def note_formula_check(seed: str, line: int, quote: str, *, erratum: bool) -> CheckOutcome:
    """The checker's verdict on the transcription of `quote` (seed, line) as a CheckOutcome.

    For an erratum the note's formula must be WRONG, or ILL-FORMED with a shape error (two
    factors that do not conform; an unparsable transcription refutes nothing), and the transcription's `correction` CORRECT; for a confirmation the formula must be
    CORRECT (then ``correction_holds`` is True and ``claim_refuted`` False).
    """
    try:
        from rnn_check._transcriptions import transcription
    except ImportError:
        return CheckOutcome(False, False, "rnn_check's transcriptions are not available")
    note = transcription(seed, line, quote)
    claim_verdict = note.check()
    if not erratum:
        return _checker_outcome(claim_verdict, None, ill_formed_refutes=True, wrt=note.wrt)
    if not note.correction:
        return CheckOutcome(
            str(claim_verdict.status) != "CORRECT",
            False,
            f"rnn-derive check: {_verdict_text(claim_verdict)}; the transcription has no "
            "corrected formula to check (add `correction` in rnn_check/_transcriptions.py)",
        )
    return _checker_outcome(
        claim_verdict, note.check_correction(), ill_formed_refutes=True, wrt=note.wrt
    )


@dataclass(frozen=True)
class NoteFormulaCheck:
    """An erratum's or confirmation's check that also asks the formula checker.

    `independent` is the check written in the errata package (SymPy, finite differences);
    `quotes` name the transcriptions of the same seed and line (`rnn_check/_transcriptions`)
    whose verdicts become part of the outcome. Both must agree: for an erratum the claim is
    refuted only when the checker AND the independent check refute it; for a confirmation it
    holds only when both confirm it. The tests read `seed`, `line` and `quotes` to match every
    transcription with exactly one erratum or confirmation.
    """

    independent: Callable[[], CheckOutcome]
    seed: str
    line: int
    quotes: tuple[str, ...]
    erratum: bool

    def __call__(self) -> CheckOutcome:
        runs = [
            note_formula_check(self.seed, self.line, quote, erratum=self.erratum)
            for quote in self.quotes
        ]
        own = self.independent()
        parts = [*runs, own]
        evidence = "; ".join(o.evidence for o in parts)
        if self.erratum:
            return CheckOutcome(
                all(o.claim_refuted for o in parts),
                all(o.correction_holds for o in parts),
                evidence,
            )
        return CheckOutcome(
            any(o.claim_refuted for o in parts), all(o.correction_holds for o in parts), evidence
        )


def with_note_formula(
    check: Callable[[], CheckOutcome], seed: str, line: int, *quotes: str, erratum: bool
) -> NoteFormulaCheck:
    """`check` combined with the checker's runs on the note's transcribed formula(s)."""
    if not quotes:
        raise ValueError("name at least one transcription quote")
    return NoteFormulaCheck(check, seed, line, tuple(quotes), erratum)


__all__ += ["NoteFormulaCheck", "note_formula_check", "with_note_formula"]


class SeedCatalogue:
    """Builds the Errata and Confirmations of one seed, numbering ids "<prefix>-NN".

    `formulas=` names transcriptions (in `rnn_check`) of the note's formula on that line;
    the formula checker's verdicts on them then join the entry's machine check.
    """

    def __init__(self, seed: str) -> None:
        self.seed = seed

    def erratum(
        self,
        number: int,
        line: int,
        quote: str,
        category: str,
        severity: str,
        problem: str,
        correction: str,
        check: Callable[[], CheckOutcome],
        *,
        formulas: tuple[str, ...] = (),
    ) -> Erratum:
        if formulas:
            check = with_note_formula(check, self.seed, line, *formulas, erratum=True)
        return Erratum(
            f"{self.seed[:3]}-{number:02d}",
            self.seed,
            line,
            quote,
            category,
            severity,
            problem,
            correction,
            check,
        )

    def confirmation(
        self,
        line: int,
        quote: str,
        statement: str,
        check: Callable[[], CheckOutcome],
        *,
        formulas: tuple[str, ...] = (),
    ) -> Confirmation:
        if formulas:
            check = with_note_formula(check, self.seed, line, *formulas, erratum=False)
        return Confirmation(self.seed, line, quote, statement, check)


__all__ += ["SeedCatalogue"]
