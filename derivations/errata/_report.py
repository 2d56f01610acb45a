"""Running the errata checks and turning the results into plain records (for the CLI, the build)."""

from __future__ import annotations

from derivations.errata._types import CheckOutcome, Confirmation, Erratum

# The keys every JSON record of an erratum carries (the CLI's contract).
ERRATUM_KEYS = (
    "category",
    "claim_refuted",
    "correction",
    "correction_holds",
    "evidence",
    "id",
    "line",
    "problem",
    "quote",
    "seed",
    "severity",
    "verdict",
)


class UnknownSeedError(ValueError):
    """A seed name or prefix that matches no seed note (or more than one)."""


def resolve_seed(text: str, seed_files: tuple[str, ...]) -> str:
    """The seed file named by `text`: the file name itself or a prefix of it ("000", "000_35").

    Raises UnknownSeedError naming the valid seeds when nothing (or more than one) matches.
    """
    if text in seed_files:
        return text
    matches = [name for name in seed_files if name.startswith(text)] if text else []
    if len(matches) == 1:
        return matches[0]
    valid = ", ".join(seed_files)
    if not matches:
        raise UnknownSeedError(
            f"unknown seed {text!r}: give a file name or a prefix such as '000'; valid seeds: {valid}"
        )
    raise UnknownSeedError(
        f"seed prefix {text!r} is ambiguous ({', '.join(matches)}): give more characters"
    )


def run_check(item: Erratum | Confirmation) -> CheckOutcome:
    """Run an erratum's or a confirmation's check; an exception becomes a failed outcome
    (with the exception in the evidence) instead of stopping the whole catalogue."""
    try:
        outcome = item.check()
    except Exception as error:  # a broken check must show up as "check failed", not a crash
        return CheckOutcome(False, False, f"the check raised {type(error).__name__}: {error}")
    if not isinstance(outcome, CheckOutcome):
        return CheckOutcome(
            False, False, f"the check returned {type(outcome).__name__}, not a CheckOutcome"
        )
    return outcome


def confirmation_verdict(outcome: CheckOutcome) -> str:
    """A confirmation holds when its claim was NOT refuted and the statement was proven."""
    return (
        "confirmed" if (not outcome.claim_refuted and outcome.correction_holds) else "check failed"
    )


def erratum_record(erratum: Erratum, outcome: CheckOutcome) -> dict:
    """A JSON-ready record of one erratum and its check (keys: ERRATUM_KEYS)."""
    return {
        "category": erratum.category,
        "claim_refuted": bool(outcome.claim_refuted),
        "correction": erratum.correction,
        "correction_holds": bool(outcome.correction_holds),
        "evidence": outcome.evidence,
        "id": erratum.id,
        "line": erratum.line,
        "problem": erratum.problem,
        "quote": erratum.quote,
        "seed": erratum.seed,
        "severity": erratum.severity,
        "verdict": outcome.verdict,
    }


def confirmation_record(confirmation: Confirmation, outcome: CheckOutcome) -> dict:
    """A JSON-ready record of one confirmed result and its check."""
    return {
        "claim_refuted": bool(outcome.claim_refuted),
        "correction_holds": bool(outcome.correction_holds),
        "evidence": outcome.evidence,
        "line": confirmation.line,
        "quote": confirmation.quote,
        "seed": confirmation.seed,
        "statement": confirmation.statement,
        "verdict": confirmation_verdict(outcome),
    }
