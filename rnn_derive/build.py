"""`rnn-derive build`: verify every derivation and write the documents.

For every derivation (in document order): prove each step with SymPy, run its numeric
cross-checks, and write a standalone `.tex` and a `.md`; run the machine check of every
erratum and confirmation and write one errata document per seed note (`.md` and `.tex`);
write `index.md` and `report.json`. `--pdf` compiles the `.tex` files, `--docs DIR` also
writes the generated pages of the documentation site.

Output files are deterministic (no dates, timings or paths in them); timings appear on the
terminal only. The exit status is 0 when every step, cross-check and erratum check passed,
1 when any failed (each failure is named), 2 when --out/--docs is not a usable directory or a
file could not be written (one line names it), 3 when `--pdf` was asked for but no LaTeX
compiler is installed or a document did not compile.

Writing is safe to interrupt and never removes a user's files: see `rnn_derive/_output.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rnn_derive._output import OutputError, OutputFolder, folder_problem

NAME = "build"
HELP = "verify every derivation and errata check, and write .tex/.md documents and report.json"

DERIVATIONS_DIR = "derivations"
ERRATA_DIR = "errata"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Writes DIR/derivations/*.tex|.md, DIR/errata/errata-NNN.tex|.md, "
        "DIR/code-beside-maths.tex|.md, DIR/index.md and DIR/report.json. Exit status: 0 when "
        "every step, cross-check and erratum check passed; 1 when any failed (each is named "
        "on stderr); 2 when --out or --docs is not a usable directory or a file could not be "
        "written; 3 when --pdf could not make every PDF. Only files an earlier build recorded in "
        "DIR/.rnn-derive-manifest.json are ever removed."
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="build",
        help="directory for the documents and report.json (default: build)",
    )
    parser.add_argument(
        "--pdf",
        action="store_true",
        help="also compile each .tex with latexmk or pdflatex (exit 3 if neither is installed)",
    )
    parser.add_argument(
        "--docs",
        metavar="DIR",
        default=None,
        help="also write the generated pages of the docs site into DIR (e.g. docs/generated)",
    )


# --------------------------------------------------------------------------- records


@dataclass
class DerivationRecord:
    """One derivation's verification; `seconds` is shown on the terminal, never written."""

    position: int
    slug: str
    title: str
    derivation: object | None = None  # rnn_sym.Derivation, or None if its builder failed
    verification: object | None = None  # rnn_sym.Verification
    code: list = field(default_factory=list)  # rnn_sym.CodeBeside blocks
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _verify(position: int, total: int, builder: Callable[[], object]) -> DerivationRecord:
    from rnn_sym import Derivation, StepFailed, Verification

    began = time.perf_counter()
    name = getattr(builder, "__name__", repr(builder))
    record = DerivationRecord(position, name, name)
    try:
        derivation = builder()
    except Exception as error:  # a broken builder is reported, the others still run
        record.failures.append(
            f"{name}: building the derivation failed: {type(error).__name__}: {error}"
        )
        record.seconds = time.perf_counter() - began
        return record
    if not isinstance(derivation, Derivation):
        record.failures.append(f"{name}: returned {type(derivation).__name__}, not a Derivation")
        return record
    record.derivation, record.slug, record.title = derivation, derivation.slug, derivation.title
    _progress(
        f"[{position}/{total}] {derivation.slug}: proving {len(derivation.steps)} step(s) ..."
    )
    proof, failure = None, ""
    try:
        proof = derivation.verify()
    except StepFailed as error:
        failure = str(error)
    except Exception as error:  # a malformed derivation or a crash in SymPy: report it
        failure = f"{derivation.slug}: verification failed: {type(error).__name__}: {error}"
    if failure:
        record.failures.append(failure)
    checks: tuple = ()
    try:
        checks = tuple(derivation.run_cross_checks())
    except Exception as error:
        record.failures.append(
            f"{derivation.slug}: a cross-check raised {type(error).__name__}: {error}"
        )
    for check in checks:
        if not check.ok:
            record.failures.append(
                f"{derivation.slug}: cross-check '{check.name}' error {check.error:.3g} "
                f"above tolerance {check.tolerance:.3g}"
            )
    record.verification = Verification(proof, failure, checks)
    try:
        from derivations.code_beside_maths import code_beside

        record.code = code_beside(derivation.slug)
    except Exception as error:
        record.failures.append(
            f"{derivation.slug}: rendering the code beside the maths failed: {error}"
        )
    record.seconds = time.perf_counter() - began
    status = "ok" if record.ok else "FAILED"
    _progress(f"[{position}/{total}] {derivation.slug}: {status} ({record.seconds:.2f} s)")
    return record


@dataclass
class ErrataRecords:
    per_seed: list = field(default_factory=list)  # (seed, [CheckedErratum], [CheckedConfirmation])
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _check_errata() -> ErrataRecords:
    from rnn_derive._errata_docs import CheckedConfirmation, CheckedErratum, run_check

    records = ErrataRecords()
    began = time.perf_counter()
    try:
        from derivations.errata import SEED_FILES, all_confirmations, all_errata

        errata = all_errata()
        confirmations = all_confirmations()
    except Exception as error:
        records.failures.append(
            f"errata: loading the catalogue failed: {type(error).__name__}: {error}"
        )
        return records
    total = len(errata) + len(confirmations)
    _progress(
        f"errata: running {len(errata)} erratum and {len(confirmations)} confirmation check(s) ..."
    )
    done = 0
    for seed in SEED_FILES:
        checked_errata = []
        for erratum in (e for e in errata if e.seed == seed):
            item = CheckedErratum(erratum, run_check(erratum.check))
            checked_errata.append(item)
            if not item.ok:
                records.failures.append(
                    f"erratum {erratum.id} ({seed} line {erratum.line}): {item.verdict}"
                    + (f": {item.result.error}" if item.result.error else "")
                )
        checked_confirmations = []
        for confirmation in (c for c in confirmations if c.seed == seed):
            item = CheckedConfirmation(confirmation, run_check(confirmation.check))
            checked_confirmations.append(item)
            if not item.ok:
                records.failures.append(
                    f"confirmation {seed} line {confirmation.line}: {item.verdict}"
                    + (f": {item.result.error}" if item.result.error else "")
                )
        done += len(checked_errata) + len(checked_confirmations)
        records.per_seed.append((seed, checked_errata, checked_confirmations))
        _progress(f"errata: {seed[:3]} done ({done}/{total})")
    records.seconds = time.perf_counter() - began
    return records


# --------------------------------------------------------------------------- writing


def _derivations_index_md(records: Sequence[DerivationRecord], link_prefix: str) -> str:
    from rnn_sym._export import md_table

    rows = []
    for r in records:
        steps = len(r.derivation.steps) if r.derivation is not None else 0
        checks = len(r.verification.cross_checks) if r.verification is not None else 0
        title = f"[{r.title}]({link_prefix}{r.slug}.md)" if r.derivation is not None else r.title
        rows.append((title, str(steps), str(checks), "proven" if r.ok else "FAILED"))
    return md_table(("derivation", "steps", "cross-checks", "status"), rows)


def _index_md(records: Sequence[DerivationRecord], errata: ErrataRecords) -> str:
    total_errata = sum(len(e) for _, e, _ in errata.per_seed)
    ok = all(r.ok for r in records) and not errata.failures
    return (
        "# rnn-derivations: the documents\n\n"
        + (
            "Every step below was proven by SymPy and every numeric cross-check and "
            "erratum check passed.\n\n"
            if ok
            else "**Some checks FAILED**: see `report.json` and the pages marked FAILED.\n\n"
        )
        + "## Derivations\n\n"
        + _derivations_index_md(records, f"{DERIVATIONS_DIR}/")
        + "\n## Errata of the lecture notes\n\n"
        + f"{total_errata} errata, one document per note: see [the errata]({ERRATA_DIR}/index.md).\n"
        + "\n## The code beside the maths\n\n"
        + "The NumPy step functions rendered by latexify next to their formulas: "
        + "[code-beside-maths.md](code-beside-maths.md).\n"
    )


def _round(value: float) -> float | str:
    """Three significant digits (stable from run to run); NaN/inf as strings for JSON."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    return float(f"{value:.2e}")


def _claim_latex(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else text[:limit] + " ... (truncated)"


def _report(records: Sequence[DerivationRecord], errata: ErrataRecords) -> dict:
    from rnn_derive._errata_docs import confirmation_json, errata_json
    from rnn_sym._latex import derivation_lines, relation_latex, step_latex

    derivations = []
    for r in records:
        entry: dict = {"slug": r.slug, "title": r.title, "ok": r.ok, "failures": r.failures}
        d, v = r.derivation, r.verification
        if d is not None:
            proofs = {p.index: p for p in v.proof.steps} if v is not None and v.proof else {}
            lines = derivation_lines(d)
            entry["lhs"] = _claim_latex(lines[0][0])
            entry["start"] = _claim_latex(lines[0][2])
            entry["result"] = _claim_latex(f"{lines[0][0]} {lines[-1][1]} {lines[-1][2]}")
            entry["assumptions"] = [
                {"name": a.name, "statement": a.statement} for a in d.assumptions
            ]
            entry["steps"] = [
                {
                    "index": i,
                    "why": step.why,
                    "relation": getattr(step, "relation", "="),
                    "claim": _claim_latex(f"{relation_latex(step)} {step_latex(step)}"),
                    "uses": [a.name for a in step.uses],
                    "proven": i in proofs,
                    "method": proofs[i].method if i in proofs else None,
                }
                for i, step in enumerate(d.steps, start=1)
            ]
            entry["cross_checks"] = [
                {
                    "name": c.name,
                    "error": _round(c.error),
                    "tolerance": c.tolerance,
                    "ok": c.ok,
                }
                for c in (v.cross_checks if v is not None else ())
            ]
        derivations.append(entry)
    return {
        "ok": all(r.ok for r in records) and not errata.failures,
        "derivations": derivations,
        "errata": [errata_json(e) for _, items, _ in errata.per_seed for e in items],
        "confirmations": [confirmation_json(c) for _, _, items in errata.per_seed for c in items],
        "failures": [f for r in records for f in r.failures] + errata.failures,
    }


def _write_documents(
    writer: OutputFolder,
    records: Sequence[DerivationRecord],
    errata: ErrataRecords,
    *,
    tex: bool,
) -> None:
    from rnn_derive._errata_docs import errata_index_markdown, errata_markdown, errata_tex
    from rnn_sym._export import (
        code_beside_md,
        code_beside_tex,
        derivation_to_markdown,
        derivation_to_tex,
        tex_document,
    )

    for r in records:
        if r.derivation is None or f"{DERIVATIONS_DIR}/{r.slug}.md" in writer.staged:
            continue  # no document, or a repeated slug (reported as a failure): the first wins
        writer.stage(
            f"{DERIVATIONS_DIR}/{r.slug}.md",
            derivation_to_markdown(r.derivation, r.verification, r.code),
        )
        if tex:
            writer.stage(
                f"{DERIVATIONS_DIR}/{r.slug}.tex",
                derivation_to_tex(r.derivation, r.verification, r.code),
            )
    for seed, items, confirmations in errata.per_seed:
        name = f"{ERRATA_DIR}/errata-{seed[:3]}"
        writer.stage(f"{name}.md", errata_markdown(seed, items, confirmations))
        if tex:
            writer.stage(f"{name}.tex", errata_tex(seed, items, confirmations))
    writer.stage(f"{ERRATA_DIR}/index.md", errata_index_markdown(errata.per_seed))
    code = _all_code()
    writer.stage("code-beside-maths.md", code_beside_md(code, heading="#"))
    if tex:
        writer.stage(
            "code-beside-maths.tex",
            tex_document("The code beside the maths", code_beside_tex(code)),
        )


def _all_code() -> list:
    from derivations.code_beside_maths import all_code_beside

    return all_code_beside()


def _write_docs(docs_root: pathlib.Path, records, errata) -> list[pathlib.Path]:
    """The generated pages of the documentation site (same content as build/ plus extras)."""
    from rnn_derive._docs_pages import (
        api_reference_markdown,
        cli_reference_markdown,
        gradient_norms_svg,
        vanishing_page_markdown,
    )

    writer = OutputFolder(docs_root)
    _write_documents(writer, records, errata, tex=False)
    writer.stage(
        f"{DERIVATIONS_DIR}/index.md",
        "# Derivations\n\nEvery step proven by SymPy; every result cross-checked against the "
        "NumPy reference and finite differences by `rnn-derive build`.\n\n"
        + _derivations_index_md(records, ""),
    )
    writer.stage("cli.md", cli_reference_markdown())
    writer.stage("api.md", api_reference_markdown())
    writer.stage("gradient-norms.svg", gradient_norms_svg())
    writer.stage("vanishing-exploding.md", vanishing_page_markdown("gradient-norms.svg"))
    return writer.commit()


# --------------------------------------------------------------------------- PDF


# pdfTeX writes the current date into a PDF unless told otherwise: same input, same PDF.
_REPRODUCIBLE_TEX = {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}


def _compile_pdfs(folder: OutputFolder, sources: Sequence[str]) -> tuple[int, list[str], int]:
    """Compile each .tex in a scratch folder and install only its PDF beside it.

    Returns (exit status, failures, PDFs made). The .aux/.log/.out files stay in the scratch
    folder, and a PDF is replaced only by a complete one.
    """
    latexmk, pdflatex = shutil.which("latexmk"), shutil.which("pdflatex")
    if pdflatex is None:
        _progress(
            "--pdf: no PDF made: pdflatex is not installed. Install it with\n"
            "  apt-get install texlive-latex-base texlive-latex-recommended\n"
            "(the .tex files are written and compile with it)."
        )
        return 3, ["--pdf: pdflatex is not installed"], 0
    failures, made = [], 0
    for index, relative in enumerate(sources, start=1):
        source = folder.root / relative
        _progress(f"pdf [{index}/{len(sources)}] {source.name}")
        if latexmk:
            commands = [
                [
                    latexmk,
                    "-pdf",
                    "-interaction=nonstopmode",
                    "-halt-on-error",
                    "-quiet",
                    source.name,
                ]
            ]
        else:  # twice, so that longtable widths and references settle
            command = [pdflatex, "-interaction=nonstopmode", "-halt-on-error", source.name]
            commands = [command, command]
        with tempfile.TemporaryDirectory(prefix="rnn-derive-pdf-") as scratch:
            shutil.copyfile(source, pathlib.Path(scratch) / source.name)
            for command in commands:
                result = subprocess.run(
                    command,
                    cwd=scratch,
                    env={**os.environ, **_REPRODUCIBLE_TEX},
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=300,
                )
                if result.returncode != 0:
                    tail = "\n".join(
                        line for line in result.stdout.splitlines() if line.startswith("!")
                    )[:500]
                    failures.append(f"{source.name} did not compile: {tail or 'no message'}")
                    break
            else:
                pdf = pathlib.Path(scratch) / source.with_suffix(".pdf").name
                folder.install(str(pathlib.PurePosixPath(relative).with_suffix(".pdf")), pdf)
                made += 1
    return (3 if failures else 0), failures, made


# --------------------------------------------------------------------------- main


def _summary(records: Sequence[DerivationRecord], errata: ErrataRecords) -> str:
    rows = [("derivation", "steps", "proven", "cross-checks", "max error", "time", "status")]
    for r in records:
        d, v = r.derivation, r.verification
        steps = len(d.steps) if d is not None else 0
        proven = len(v.proof.steps) if v is not None and v.proof else 0
        checks = v.cross_checks if v is not None else ()
        passed = sum(1 for c in checks if c.ok)
        worst = max((c.error for c in checks), default=None)
        rows.append(
            (
                r.slug,
                str(steps),
                f"{proven}/{steps}",
                f"{passed}/{len(checks)}",
                "-" if worst is None else f"{worst:.1e}",
                f"{r.seconds:.2f}s",
                "ok" if r.ok else "FAILED",
            )
        )
    for seed, items, confirmations in errata.per_seed:
        ok_e = sum(1 for e in items if e.ok)
        ok_c = sum(1 for c in confirmations if c.ok)
        rows.append(
            (
                f"errata {seed[:3]}",
                str(len(items) + len(confirmations)),
                f"{ok_e}/{len(items)}",
                f"{ok_c}/{len(confirmations)}",
                "-",
                "",
                "ok" if ok_e == len(items) and ok_c == len(confirmations) else "FAILED",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def builders() -> list[Callable[[], object]]:
    """The derivation builders in document order (a seam for tests)."""
    from derivations import derivation_builders

    return list(derivation_builders())


def _is_pdf_of_generated_tex(generated: set[str]) -> Callable[[str], bool]:
    """A recorded PDF stays while its .tex is still generated (`--pdf` may be off this time)."""

    def keep(relative: str) -> bool:
        path = pathlib.PurePosixPath(relative)
        return path.suffix == ".pdf" and str(path.with_suffix(".tex")) in generated

    return keep


def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    # every argument is checked before anything is created or the minutes of proofs begin
    for option, value in (("--out", args.out), ("--docs", args.docs)):
        problem = None if value is None else folder_problem(value, option)
        if problem is not None:
            print(f"rnn-derive build: {problem}", file=sys.stderr)
            return 2
    out = pathlib.Path(args.out)
    try:
        todo = builders()
    except Exception as error:
        print(
            f"rnn-derive build: cannot load the derivations: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return 1
    records = [_verify(i, len(todo), b) for i, b in enumerate(todo, start=1)]
    seen: dict[str, int] = {}
    for record in records:
        if record.derivation is not None and record.slug in seen:
            # two documents would overwrite each other
            record.failures.append(
                f"{record.slug}: the slug of derivation {record.position} repeats that of "
                f"derivation {seen[record.slug]}; slugs must be unique"
            )
        seen.setdefault(record.slug, record.position)
    errata = _check_errata()

    # Everything is rendered in memory first, then written in one commit: see _output.py.
    writer = OutputFolder(out)
    failures = [f for r in records for f in r.failures] + errata.failures
    try:
        _write_documents(writer, records, errata, tex=True)
        writer.stage("index.md", _index_md(records, errata))
    except Exception as error:
        failures.append(f"rendering the documents failed: {type(error).__name__}: {error}")
    report = _report(records, errata)
    report["failures"] = failures
    report["ok"] = not failures
    writer.stage(
        "report.json", json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    generated = set(writer.staged)
    try:
        written = writer.commit(last=("report.json",), keep=_is_pdf_of_generated_tex(generated))
        docs_files = []
        if args.docs:
            docs_files = _write_docs(pathlib.Path(args.docs), records, errata)
            _progress(f"docs: {len(docs_files)} generated page(s) in {args.docs}")
        pdf_status, pdf_failures, pdfs = 0, [], 0
        if args.pdf:
            sources = sorted(f for f in generated if f.endswith(".tex"))
            pdf_status, pdf_failures, pdfs = _compile_pdfs(writer, sources)
    except OutputError as error:
        print(f"rnn-derive build: {error}", file=sys.stderr)
        return 2

    print(_summary(records, errata))
    made = f" and {pdfs} PDF(s)" if args.pdf else ""
    print(
        f"\n{len(written)} file(s){made} written under {out}/ "
        f"in {time.perf_counter() - began:.1f} s (report: {out / 'report.json'})"
    )
    if failures or pdf_failures:
        print(f"\n{len(failures) + len(pdf_failures)} FAILURE(S):", file=sys.stderr)
        for failure in failures + pdf_failures:
            print(f"  - {failure}", file=sys.stderr)
    if failures:
        return 1
    return pdf_status
