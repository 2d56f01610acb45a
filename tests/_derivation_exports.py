"""Shared by the LSTM, GRU and variants tests: every derivation exports to .tex that pdflatex
compiles and to .md that is byte-identical when built twice."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence

import pytest

from rnn_sym import (
    CrossCheckResult,
    Derivation,
    Verification,
    derivation_to_markdown,
    derivation_to_tex,
)

# as tests/test_build.py: a line sticking out by more than this shows in print
MAX_OVERFULL_PT = 10.0
_OVERFULL = re.compile(r"^Overfull \\hbox \(([0-9.]+)pt too wide\)", re.MULTILINE)


def _verified(d: Derivation) -> Verification:
    # the proofs only: the cross-checks are tested on their own (and rnn_num's may be absent)
    return Verification(d.verify(), "", ())


def assert_markdown_deterministic(builders: Sequence[Callable[[], Derivation]]) -> None:
    for build in builders:
        first, second = build(), build()
        md1 = derivation_to_markdown(first, _verified(first))
        md2 = derivation_to_markdown(second, _verified(second))
        assert md1 == md2, first.slug
        assert md1.startswith("# ") and "## Derivation" in md1 and "NOT PROVEN" not in md1
        assert "[U+" not in derivation_to_tex(first, _verified(first)), first.slug


def assert_tex_compiles(builders: Sequence[Callable[[], Derivation]], tmp_path) -> None:
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is not installed on CI: every exported .tex must be compiled")
        pytest.skip(
            "pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)"
        )
    failures = []
    for build in builders:
        d = build()
        # every cross-check's row, with a placeholder error: the layout is what is tested here
        rows = tuple(CrossCheckResult(c.name, float("nan"), c.tolerance) for c in d.cross_checks)
        verification = Verification(d.verify(), "", rows)
        (tmp_path / f"{d.slug}.tex").write_text(derivation_to_tex(d, verification))
        result = subprocess.run(
            [pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"{d.slug}.tex"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=300,
        )
        errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
        if result.returncode != 0 or errors:
            failures.append(f"{d.slug}: {errors[:3] or result.returncode}")
        log = (tmp_path / f"{d.slug}.log").read_text(errors="replace")
        overfull = [float(w) for w in _OVERFULL.findall(log) if float(w) > MAX_OVERFULL_PT]
        if overfull:
            failures.append(f"{d.slug}: a line {max(overfull)}pt past the margin")
    assert not failures, "\n".join(failures)
