"""The errata documents: one `.md` and one `.tex` per seed note.

Each erratum appears as the note wrote it (a verbatim quote of its line), what is wrong,
the corrected statement (proven or confirmed by the erratum's machine check) and what the
check found. After the errata, what the note gets right, confirmed by the same engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rnn_sym._export import format_number, md_display, md_table, tex_display, tex_document
from rnn_sym._latex import escape_text, text_with_math

# How each note is known, and its letters in canonical terms (NOTATION.md, "The seeds' own
# notations"): a document that quotes a note says what its letters mean.
SEED_TITLES = {
    "000": "Lecture 2, RNN",
    "001": "RNN notes (handwritten)",
    "002": "RNN cheatsheet and handwritten notes",
    "003": "RNN, April 2024",
    "004": "Many-to-one sentiment RNN",
}
SEED_NOTATION = {
    "000": "The note uses the canonical letters: $U$ input to hidden, $W$ hidden to hidden, "
    "$V$ hidden to output, biases $b, c$, state $h(t)$, logits $o(t)$.",
    "001": "The note swaps two letters: its $W$ is the canonical $U$ (input to hidden) and its "
    "$U$ is the canonical $W$ (hidden to hidden); $V$ is hidden to output, the state is $s_t$, "
    "and its output $\\hat{y}_t = V s_t$ has no softmax.",
    "002": "The note writes $W_{ax}$ for $U$, $W_{aa}$ for $W$, $W_{ya}$ for $V$, $b_a, b_y$ for "
    "$b, c$, $a^{\\langle t\\rangle}$ or $h_t$ for the state and $o_t$ (also $\\theta_t$) for "
    "the logits.",
    "003": "The note uses the canonical $U, W, V, b, c, h_t$ and calls the logits $\\Omega_t$.",
    "004": "The note writes $w_{xh}$ for $U$, $w_{hh}$ for $W$, $w_{hy}$ for $V$, $b_h, b_y$ for "
    "$b, c$; it calls the raw outputs $y$ and the probabilities $p$.",
}


@dataclass(frozen=True)
class CheckResult:
    """What running one machine check gave: its outcome, or the error it raised."""

    claim_refuted: bool = False
    correction_holds: bool = False
    evidence: str = ""
    error: str = ""  # the exception the check raised, if it did not run to the end


@dataclass(frozen=True)
class CheckedErratum:
    erratum: object  # derivations.errata.Erratum (duck-typed: this module never imports it)
    result: CheckResult

    @property
    def verdict(self) -> str:
        if self.result.error:
            return "check error"
        if self.result.claim_refuted and self.result.correction_holds:
            return "confirmed"
        return "check failed"

    @property
    def ok(self) -> bool:
        return self.verdict == "confirmed"


@dataclass(frozen=True)
class CheckedConfirmation:
    confirmation: object  # derivations.errata.Confirmation
    result: CheckResult

    @property
    def verdict(self) -> str:
        if self.result.error:
            return "check error"
        if not self.result.claim_refuted and self.result.correction_holds:
            return "confirmed"
        return "check failed"

    @property
    def ok(self) -> bool:
        return self.verdict == "confirmed"


def run_check(check: Callable[[], object]) -> CheckResult:
    """Run a machine check; an exception becomes a failed result that names it."""
    try:
        outcome = check()
    except Exception as error:  # a broken check must not stop the build: it is reported
        return CheckResult(error=f"{type(error).__name__}: {error}")
    return CheckResult(
        bool(outcome.claim_refuted), bool(outcome.correction_holds), str(outcome.evidence)
    )


def seed_prefix(seed: str) -> str:
    return seed[:3]


def seed_title(seed: str) -> str:
    return f"Errata of seed {seed_prefix(seed)}: {SEED_TITLES.get(seed_prefix(seed), seed)}"


# --------------------------------------------------------------------------- Markdown


def _md_quote(text: str) -> str:
    """A verbatim quote as a fenced block (nothing in it is interpreted)."""
    fence = "````" if "```" in text else "```"
    return f"{fence}text\n{text}\n{fence}\n"


def _md_evidence(result: CheckResult) -> str:
    text = result.error or result.evidence or "(no evidence given)"
    return _md_quote(text)


def errata_markdown(
    seed: str,
    errata: Sequence[CheckedErratum],
    confirmations: Sequence[CheckedConfirmation],
) -> str:
    prefix = seed_prefix(seed)
    parts = [f"# {seed_title(seed)}\n"]
    parts.append(
        f"The note `{seed}`, checked line by line. {SEED_NOTATION.get(prefix, '')} "
        "Quotes keep the note's letters; corrections use the canonical notation.\n"
    )
    counts = {
        s: sum(1 for e in errata if e.erratum.severity == s) for s in ("high", "medium", "low")
    }
    confirmed = sum(1 for e in errata if e.ok)
    parts.append(
        f"{len(errata)} errata ({counts['high']} high, {counts['medium']} medium, "
        f"{counts['low']} low severity); {confirmed} of them confirmed by their machine check. "
        f"{len(confirmations)} key results of the note confirmed correct.\n"
    )
    if errata:
        parts.append(
            md_table(
                ("id", "line", "category", "severity", "check"),
                (
                    (
                        f"[{e.erratum.id}](#{_anchor(e.erratum.id)})",
                        str(e.erratum.line),
                        e.erratum.category,
                        e.erratum.severity,
                        e.verdict,
                    )
                    for e in errata
                ),
            )
        )
    for item in errata:
        e = item.erratum
        parts.append(f"## {e.id}: line {e.line} {{#{_anchor(e.id)}}}\n")
        parts.append(f"*{e.category}*, severity **{e.severity}**. The note writes:\n")
        parts.append(_md_quote(e.quote))
        parts.append(f"**What is wrong.** {e.problem.strip()}\n")
        parts.append("**Corrected and verified:**\n")
        parts.append(md_display(e.correction))
        parts.append(f"**Check:** {item.verdict}.\n")
        parts.append(_md_evidence(item.result))
    parts.append("## What the note gets right\n")
    if not confirmations:
        parts.append("No key result of this note is catalogued as confirmed yet.\n")
    for item in confirmations:
        c = item.confirmation
        parts.append(f"### Line {c.line}\n")
        parts.append(_md_quote(c.quote))
        parts.append("In canonical notation:\n")
        parts.append(md_display(c.statement))
        parts.append(f"**Check:** {item.verdict}.\n")
        parts.append(_md_evidence(item.result))
    return "\n".join(parts)


def _anchor(erratum_id: str) -> str:
    return "erratum-" + "".join(ch if ch.isalnum() else "-" for ch in erratum_id.lower())


def errata_index_markdown(
    per_seed: Sequence[tuple[str, Sequence[CheckedErratum], Sequence[CheckedConfirmation]]],
) -> str:
    rows = []
    for seed, errata, confirmations in per_seed:
        rows.append(
            (
                f"[{seed_prefix(seed)}: {SEED_TITLES.get(seed_prefix(seed), seed)}]"
                f"(errata-{seed_prefix(seed)}.md)",
                str(len(errata)),
                str(sum(1 for e in errata if e.erratum.severity == "high")),
                str(sum(1 for e in errata if e.ok)),
                str(len(confirmations)),
            )
        )
    total = sum(len(e) for _, e, _ in per_seed)
    return (
        "# Errata of the five lecture notes\n\n"
        f"{total} errata in all. Every erratum quotes its line, says what is wrong, gives "
        "the corrected statement and carries a machine check (SymPy or NumPy) that runs on "
        "every build: the note's claim refuted, the correction proven or confirmed.\n\n"
        + md_table(
            ("note", "errata", "high severity", "checks confirmed", "results confirmed correct"),
            rows,
        )
    )


# --------------------------------------------------------------------------- LaTeX


def _tex_quote(text: str) -> str:
    """A verbatim quote in typewriter type; every character literal, long lines may break."""
    return (
        "\\begin{quote}\\small\\ttfamily\\raggedright\\hyphenchar\\font=-1\n"
        + escape_text(text)
        + "\n\\end{quote}\n"
    )


def _tex_check(verdict: str, result: CheckResult) -> str:
    text = result.error or result.evidence or "(no evidence given)"
    mark = verdict if verdict == "confirmed" else rf"\textbf{{{verdict}}}"
    return f"\\textbf{{Check:}} {mark}.\n" + _tex_quote(text)


def errata_tex(
    seed: str,
    errata: Sequence[CheckedErratum],
    confirmations: Sequence[CheckedConfirmation],
) -> str:
    prefix = seed_prefix(seed)
    parts = [
        f"The note \\texttt{{{escape_text(seed)}}}, checked line by line. "
        + text_with_math(SEED_NOTATION.get(prefix, ""))
        + " Quotes keep the note's letters; corrections use the canonical notation.\n"
    ]
    if errata:
        rows = "\n".join(
            rf"{escape_text(e.erratum.id)} & {e.erratum.line} & {escape_text(e.erratum.category)} & "
            rf"{e.erratum.severity} & {escape_text(e.verdict)} \\"
            for e in errata
        )
        parts.append(
            "\\begin{longtable}{@{}lrlll@{}}\n\\toprule\nid & line & category & severity & check "
            "\\\\\n\\midrule\n\\endhead\n" + rows + "\n\\bottomrule\n\\end{longtable}\n"
        )
    for item in errata:
        e = item.erratum
        parts.append(
            f"\\section*{{{escape_text(e.id)}: line {e.line}}}\n"
            f"\\emph{{{escape_text(e.category)}}}, severity \\textbf{{{escape_text(e.severity)}}}. "
            "The note writes:\n"
            + _tex_quote(e.quote)
            + "\\textbf{What is wrong.} "
            + text_with_math(e.problem.strip())
            + "\n\n\\textbf{Corrected and verified:}\n"
            + tex_display(e.correction)
            + _tex_check(item.verdict, item.result)
        )
    parts.append("\\section*{What the note gets right}\n")
    if not confirmations:
        parts.append("No key result of this note is catalogued as confirmed yet.\n")
    for item in confirmations:
        c = item.confirmation
        parts.append(
            f"\\subsection*{{Line {c.line}}}\n"
            + _tex_quote(c.quote)
            + "In canonical notation:\n"
            + tex_display(c.statement)
            + _tex_check(item.verdict, item.result)
        )
    return tex_document(seed_title(seed), "\n".join(parts))


def errata_json(item: CheckedErratum) -> dict:
    e = item.erratum
    return {
        "id": e.id,
        "seed": e.seed,
        "line": e.line,
        "quote": e.quote,
        "category": e.category,
        "severity": e.severity,
        "problem": e.problem,
        "correction": e.correction,
        "verdict": item.verdict,
        "claim_refuted": item.result.claim_refuted,
        "correction_holds": item.result.correction_holds,
        "evidence": item.result.error or item.result.evidence,
    }


def confirmation_json(item: CheckedConfirmation) -> dict:
    c = item.confirmation
    return {
        "seed": c.seed,
        "line": c.line,
        "quote": c.quote,
        "statement": c.statement,
        "verdict": item.verdict,
        "evidence": item.result.error or item.result.evidence,
    }


__all__ = [
    "CheckResult",
    "CheckedConfirmation",
    "CheckedErratum",
    "confirmation_json",
    "errata_index_markdown",
    "errata_json",
    "errata_markdown",
    "errata_tex",
    "format_number",
    "run_check",
    "seed_title",
]
