"""`rnn-derive build`: the real build is deterministic, compiles, and keeps the docs fresh;
a failing step or check makes it exit non-zero and say which."""

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import sympy as sp

from rnn_derive import build as build_module
from rnn_derive.cli import main
from rnn_sym import Derivation

ROOT = pathlib.Path(__file__).resolve().parents[1]
GENERATED = ROOT / "docs" / "generated"


def _files(root: pathlib.Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def real_build(tmp_path_factory):
    """One full build of every derivation and erratum (with the docs pages), shared here."""
    out = tmp_path_factory.mktemp("build")
    docs = tmp_path_factory.mktemp("docs")
    status = main(["build", "--out", str(out), "--docs", str(docs)])
    return status, out, docs


def test_real_build_passes_and_reports_every_step(real_build):
    status, out, _ = real_build
    report = json.loads((out / "report.json").read_text())
    assert status == 0, "build failed:\n" + "\n".join(report["failures"])
    assert report["ok"] is True and report["failures"] == []
    assert report["derivations"], "no derivation was built"
    for entry in report["derivations"]:
        assert entry["steps"], entry["slug"]
        for step in entry["steps"]:
            assert step["proven"] and step["method"], (entry["slug"], step["index"])
        for check in entry["cross_checks"]:
            assert check["ok"] and check["error"] <= check["tolerance"]
        assert (out / "derivations" / f"{entry['slug']}.tex").is_file()
        assert (out / "derivations" / f"{entry['slug']}.md").is_file()
    for erratum in report["errata"]:
        assert erratum["verdict"] == "confirmed", erratum["id"]
    assert (out / "index.md").is_file()


def test_code_sits_beside_derivations_that_exist(real_build):
    from derivations.code_beside_maths import ATTACH

    _, out, _ = real_build
    slugs = {d["slug"] for d in json.loads((out / "report.json").read_text())["derivations"]}
    assert set(ATTACH) <= slugs, f"ATTACH names unknown derivations: {set(ATTACH) - slugs}"
    page = (out / "derivations" / "bptt-hidden-recursion.md").read_text()
    assert "`rnn_num.backward_step`" in page and r"{W}^{\top}" in page


def test_errata_documents_per_seed(real_build):
    _, out, _ = real_build
    from derivations.errata import SEED_FILES, all_errata

    for seed in SEED_FILES:
        for suffix in (".md", ".tex"):
            assert (out / "errata" / f"errata-{seed[:3]}{suffix}").is_file()
    errata = all_errata()
    for erratum in errata[
        :: max(1, len(errata) // 10)
    ]:  # a sample: each quote and id is in its document
        md = (out / "errata" / f"errata-{erratum.seed[:3]}.md").read_text()
        assert erratum.id in md and erratum.quote in md


def test_build_is_byte_identical_on_a_second_run(real_build, tmp_path):
    _, out, docs = real_build
    status = main(["build", "--out", str(tmp_path / "out"), "--docs", str(tmp_path / "docs")])
    assert status == real_build[0]
    first, second = _files(out), _files(tmp_path / "out")
    assert first.keys() == second.keys()
    changed = [name for name in first if first[name] != second[name]]
    assert not changed, f"files differ between two builds: {changed}"
    assert _files(docs) == _files(tmp_path / "docs")


def test_committed_generated_docs_are_not_stale(real_build):
    _, _, docs = real_build
    fresh, committed = _files(docs), _files(GENERATED)
    hint = "run `rnn-derive build --docs docs/generated` and commit the result"
    assert fresh.keys() == committed.keys(), f"generated pages added or removed: {hint}"
    # the SVG's bytes depend on the matplotlib version; its determinism is tested above
    stale = [n for n in fresh if not n.endswith(".svg") and fresh[n] != committed[n]]
    assert not stale, f"stale generated pages {stale}: {hint}"


# A number printed at rounding level (1e-13 and below) has last digits that differ with the
# BLAS build; the pages print such errors as a bound ("< 1e-14") so that they are the same on
# every machine. Tolerances (1.00e-14) are set, not measured; the norms of the
# vanishing-gradient table are true values, not errors.
_ROUNDING_NOISE = re.compile(r"\b(?!1\.00e)\d\.\d+e-(?:1[3-9]|[2-9]\d)\b")
_TRUE_SMALL_VALUES = {"vanishing-exploding.md"}


def test_committed_pages_print_no_rounding_noise():
    noisy = {
        str(page.relative_to(GENERATED)): _ROUNDING_NOISE.findall(page.read_text("utf-8"))
        for page in GENERATED.rglob("*.md")
        if page.name not in _TRUE_SMALL_VALUES
    }
    noisy = {name: found for name, found in noisy.items() if found}
    assert not noisy, f"pages printing rounding-level digits: {noisy}"


def _pdflatex_or_skip() -> str:
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is not installed on CI: every exported .tex must be compiled")
        pytest.skip(
            "pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)"
        )
    return pdflatex


def test_every_exported_tex_compiles_with_pdflatex(real_build, tmp_path):
    pdflatex = _pdflatex_or_skip()
    _, out, _ = real_build
    sources = sorted(out.rglob("*.tex"))
    assert sources, "the build wrote no .tex file"
    failures = []
    for source in sources:
        work = tmp_path / source.stem
        work.mkdir()
        shutil.copy(source, work)
        result = subprocess.run(
            [pdflatex, "-interaction=nonstopmode", "-halt-on-error", source.name],
            cwd=work,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=300,
        )
        log = (work / (source.stem + ".log")).read_text(errors="replace")
        errors = [line for line in log.splitlines() if line.startswith("!")]
        if result.returncode != 0 or errors or not (work / (source.stem + ".pdf")).is_file():
            failures.append(f"{source.relative_to(out)}: {errors[:3] or result.returncode}")
        overfull = [float(w) for w in _OVERFULL.findall(log) if float(w) > MAX_OVERFULL_PT]
        if overfull:
            failures.append(f"{source.relative_to(out)}: lines {max(overfull)}pt past the margin")
    assert not failures, "exported .tex files that do not compile cleanly:\n" + "\n".join(failures)


# A line that sticks out by a few points is invisible in print; 10pt starts to show (two
# tables and an equation once stuck out by 12 to 49pt).
MAX_OVERFULL_PT = 10.0
_OVERFULL = re.compile(r"^Overfull \\hbox \(([0-9.]+)pt too wide\)", re.MULTILINE)


# --------------------------------------------------------------------------- failures


def _good() -> Derivation:
    x = sp.Symbol("x", real=True)
    d = Derivation(
        "good-one", "A true derivation", lhs=sp.Derivative(x**2, x), start=sp.Derivative(x**2, x)
    )
    return d.step(2 * x, "power rule").cross_check("exact", lambda: 0.0, 1e-12)


def _bad_step() -> Derivation:
    x = sp.Symbol("x", real=True)
    d = Derivation("bad-step", "A false step", lhs=x * (x + 1), start=x * (x + 1))
    return d.step(x**2 + x, "expand").step(x**2 + 2 * x, "a wrong simplification")


def _bad_check() -> Derivation:
    x = sp.Symbol("x", real=True)
    d = Derivation("bad-check", "A failing cross-check", lhs=x, start=x).step(x, "same")
    return d.cross_check("disagrees", lambda: 0.5, 1e-9)


def _raises() -> Derivation:
    raise RuntimeError("builder crashed")


@pytest.fixture
def fake_content(monkeypatch):
    """Replace the content by small derivations and skip the real errata (fast, isolated)."""

    def use(*builders):
        monkeypatch.setattr(build_module, "builders", lambda: list(builders))
        monkeypatch.setattr(build_module, "_check_errata", build_module.ErrataRecords)

    return use


def test_a_failing_step_makes_the_build_fail_and_names_it(fake_content, tmp_path, capsys):
    fake_content(_good, _bad_step, _bad_check, _raises, _good)
    status = main(["build", "--out", str(tmp_path)])
    assert status == 1
    err = capsys.readouterr().err
    assert "bad-step: step 2 (a wrong simplification) does not follow" in err
    assert "bad-check: cross-check 'disagrees'" in err
    assert "builder crashed" in err
    assert "good-one: the slug of derivation 5 repeats that of derivation 1" in err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] is False
    by_slug = {d["slug"]: d for d in report["derivations"]}
    assert [d["ok"] for d in report["derivations"] if d["slug"] == "good-one"] == [True, False]
    assert [s["proven"] for s in by_slug["bad-step"]["steps"]] == [False, False]
    assert by_slug["bad-check"]["cross_checks"][0]["ok"] is False
    assert "NOT PROVEN" in (tmp_path / "derivations" / "bad-step.md").read_text()
    assert "FAILED" in (tmp_path / "index.md").read_text()


def test_all_good_content_exits_zero_and_prints_a_summary(fake_content, tmp_path, capsys):
    fake_content(_good)
    assert main(["build", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "good-one" in captured.out and "1/1" in captured.out
    assert "[1/1] good-one" in captured.err  # progress goes to stderr
    report = (tmp_path / "report.json").read_text()
    assert "seconds" not in report and "time" not in report  # timings stay on the terminal


def test_pdf_without_pdflatex_says_so_and_exits_3(fake_content, tmp_path, capsys, monkeypatch):
    fake_content(_good)
    monkeypatch.setattr(build_module.shutil, "which", lambda name: None)
    assert main(["build", "--out", str(tmp_path), "--pdf"]) == 3
    assert "pdflatex is not installed" in capsys.readouterr().err
    assert (tmp_path / "derivations" / "good-one.tex").is_file()  # the documents are still written


def test_pdf_compiles_each_document(fake_content, tmp_path):
    _pdflatex_or_skip()
    fake_content(_good)
    assert main(["build", "--out", str(tmp_path), "--pdf"]) == 0
    assert (tmp_path / "derivations" / "good-one.pdf").is_file()
    assert (tmp_path / "code-beside-maths.pdf").is_file()


def _other() -> Derivation:
    x = sp.Symbol("x", real=True)
    return Derivation("other-one", "Another", lhs=x + x, start=x + x).step(2 * x, "collect")


def test_docs_pages_replace_stale_generated_pages_only(fake_content, tmp_path):
    docs = tmp_path / "docs"
    fake_content(_good, _other)
    assert main(["build", "--out", str(tmp_path / "out"), "--docs", str(docs)]) == 0
    assert (docs / "derivations" / "other-one.md").is_file()
    # the user's own files, in the folders the build writes into and beside them
    (docs / "derivations" / "my-notes.md").write_text("# mine\n")
    (docs / "hand-written.md").write_text("# mine\n")
    (tmp_path / "out" / "derivations" / "my-draft.tex").write_text("% mine\n")
    fake_content(_good)  # other-one is no longer a derivation: its pages are stale
    assert main(["build", "--out", str(tmp_path / "out"), "--docs", str(docs)]) == 0
    assert not (docs / "derivations" / "other-one.md").exists()
    assert not (tmp_path / "out" / "derivations" / "other-one.tex").exists()
    assert (docs / "derivations" / "my-notes.md").read_text() == "# mine\n"
    assert (docs / "hand-written.md").read_text() == "# mine\n"
    assert (tmp_path / "out" / "derivations" / "my-draft.tex").read_text() == "% mine\n"
    for page in (
        "derivations/good-one.md",
        "derivations/index.md",
        "errata/index.md",
        "cli.md",
        "api.md",
    ):
        assert (docs / page).is_file(), page
    assert (docs / "gradient-norms.svg").read_bytes().startswith(b"<?xml")


# an escaped subscript in prose (not in a dotted code name such as rnn_num.backward().d_o)
_ESCAPED_SUBSCRIPT = re.compile(r"(?<![A-Za-z\\.])[A-Za-z]\\_\{?[0-9A-Za-z]")
# typewriter text is literal on purpose: file and code names, the notes' quoted lines
_TEXTTT = re.compile(
    r"\\texttt\{(?:[^{}]|\{[^{}]*\})*\}|\\begin\{quote\}\\small\\ttfamily.*?\\end\{quote\}",
    re.S,
)


def test_prose_mathematics_is_typeset_as_mathematics(real_build):
    """No `h\\_2` (an escaped subscript printed as text) and no `[U+…]` in any document's
    prose; quotes of the notes and code names stay literal, in typewriter type."""
    _, out, _ = real_build
    bad = {}
    for path in sorted(out.rglob("*.tex")):
        text = _TEXTTT.sub("", path.read_text(encoding="utf-8"))  # file and code names
        found = _ESCAPED_SUBSCRIPT.findall(text) + re.findall(r"\[U\+[0-9A-F]{4}\]", text)
        if found:
            bad[path.name] = found[:5]
    assert not bad, f"prose printed as escaped text: {bad}"
