"""Writing a build's output loses nothing: every file is old or new at any moment of an
interrupt, the report matches the documents beside it, a user's files are never removed,
nothing is created for a refused build, and every I/O failure is one line and exit 2."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import sympy as sp

from rnn_derive import _output
from rnn_derive import build as build_module
from rnn_derive._output import MANIFEST, TEMP_SUFFIX, OutputError, OutputFolder
from rnn_derive.cli import main
from rnn_sym import Derivation

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Two builds' worth of files: some change, one is new, one disappears, one stays the same.
OLD = {
    "derivations/a.md": "a, old\n",
    "derivations/b.md": "b, old\n",
    "derivations/gone.md": "gone, old\n",
    "errata/index.md": "same in both\n",
    "index.md": "index, old\n",
    "report.json": '{"build": "old"}\n',
}
NEW = {
    "derivations/a.md": "a, new\n",
    "derivations/b.md": "b, new\n",
    "derivations/added.md": "added, new\n",
    "errata/index.md": "same in both\n",
    "index.md": "index, new\n",
    "report.json": '{"build": "new"}\n',
}
USER_FILES = {"derivations/my-notes.md": "mine\n", "notes.txt": "mine too\n"}


def _commit(root: pathlib.Path, files: dict[str, str]) -> None:
    folder = OutputFolder(root)
    for relative, text in files.items():
        folder.stage(relative, text)
    folder.commit(last=("report.json",))


def _contents(root: pathlib.Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _old_folder(root: pathlib.Path) -> None:
    _commit(root, OLD)
    for relative, text in USER_FILES.items():
        (root / relative).write_text(text)


def _assert_consistent(root: pathlib.Path) -> str:
    """Every file is old or new, never empty or partial; the report matches; returns which."""
    files = _contents(root)
    assert not [f for f in files if f.endswith(TEMP_SUFFIX)], "a temporary file was left"
    for relative, text in USER_FILES.items():
        assert files.pop(relative) == text.encode(), f"the user's {relative} was touched"
    recorded = set(json.loads(files.pop(MANIFEST))["files"])
    for relative, data in files.items():
        allowed = {OLD.get(relative, "").encode(), NEW.get(relative, "").encode()} - {b""}
        assert data in allowed, f"{relative} is neither old nor new: {data!r}"
        assert relative in recorded, f"{relative} is generated but not in the manifest"
    report = files.get("report.json")
    documents = {f: d for f, d in files.items() if f != "report.json"}
    if report == OLD["report.json"].encode():
        assert documents == {f: t.encode() for f, t in OLD.items() if f != "report.json"}
        return "old"
    if report == NEW["report.json"].encode():
        assert documents == {f: t.encode() for f, t in NEW.items() if f != "report.json"}
        return "new"
    assert report is None
    return "in between"


class _Interrupt:
    """Raise KeyboardInterrupt at the n-th file operation (open, write, rename, unlink)."""

    def __init__(self, at: int) -> None:
        self.at, self.count = at, 0

    def tick(self) -> None:
        self.count += 1
        if self.count == self.at:
            raise KeyboardInterrupt

    def install(self, monkeypatch) -> None:
        real_open, real_replace, real_unlink = open, os.replace, pathlib.Path.unlink
        interrupt = self

        class HalfWritingFile:
            def __init__(self, stream):
                self.stream = stream

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.stream.close()

            def write(self, data):
                self.stream.write(data[: len(data) // 2])  # a write cut in the middle
                interrupt.tick()
                return self.stream.write(data[len(data) // 2 :])

        def fake_open(path, mode="r", *args, **kwargs):
            interrupt.tick()
            stream = real_open(path, mode, *args, **kwargs)
            return HalfWritingFile(stream) if "w" in mode else stream

        def fake_replace(source, target):
            interrupt.tick()
            real_replace(source, target)
            interrupt.tick()

        def fake_unlink(path, missing_ok=False):
            interrupt.tick()
            real_unlink(path, missing_ok=missing_ok)

        monkeypatch.setattr(_output, "open", fake_open, raising=False)
        monkeypatch.setattr(_output.os, "replace", fake_replace)
        monkeypatch.setattr(_output.pathlib.Path, "unlink", fake_unlink)


def test_an_interrupt_at_any_file_operation_leaves_every_file_old_or_new(tmp_path, monkeypatch):
    seen = set()
    at = 1
    while True:
        root = tmp_path / f"run-{at}"
        _old_folder(root)
        with monkeypatch.context() as patch:
            interrupt = _Interrupt(at)
            interrupt.install(patch)
            try:
                _commit(root, NEW)
                finished = True
            except KeyboardInterrupt:
                finished = False
        seen.add(_assert_consistent(root))
        if finished:
            assert _assert_consistent(root) == "new"
            break
        at += 1
    assert at > 20  # every open, half-write, rename and removal of the commit was a moment
    assert seen == {"old", "in between", "new"}


def test_a_second_commit_of_the_same_files_writes_nothing(tmp_path):
    _commit(tmp_path, NEW)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    time.sleep(0.01)
    _commit(tmp_path, NEW)
    assert stamps == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}


def test_only_files_recorded_in_the_manifest_are_removed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("not the build's\n")
    root = tmp_path / "out"
    _old_folder(root)
    # without a manifest (a folder from before manifests, or a user's) nothing is removed
    (root / MANIFEST).unlink()
    _commit(root, NEW)
    assert (root / "derivations" / "gone.md").is_file()
    # a manifest edited to point outside the folder removes nothing outside it
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["files"] += ["../victim.txt", str(victim), "derivations/gone.md"]
    (root / MANIFEST).write_text(json.dumps(manifest))
    _commit(root, NEW)
    assert victim.read_text() == "not the build's\n"
    assert not (root / "derivations" / "gone.md").exists()
    assert (root / "derivations" / "my-notes.md").read_text() == "mine\n"


def test_a_full_disk_is_one_clear_error_and_leaves_the_old_files(tmp_path, monkeypatch):
    _old_folder(tmp_path)
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode and "derivations" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(_output, "open", full_disk, raising=False)
    with pytest.raises(OutputError, match="No space left on device; free some disk space"):
        _commit(tmp_path, NEW)
    assert _assert_consistent(tmp_path) in ("old", "in between")


def test_a_folder_that_access_calls_writable_but_is_not(tmp_path, monkeypatch):
    real_open = open

    def refused(path, mode="r", *args, **kwargs):
        if "w" in mode:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(_output, "open", refused, raising=False)
    with pytest.raises(OutputError, match="Permission denied; choose an output folder"):
        _commit(tmp_path, NEW)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_directory_in_the_way_is_refused_before_anything_changes(tmp_path):
    _old_folder(tmp_path)
    (tmp_path / "derivations" / "added.md").mkdir()
    before = _contents(tmp_path)
    with pytest.raises(OutputError, match="added.md: a directory of that name is in the way"):
        _commit(tmp_path, NEW)
    assert _contents(tmp_path) == before


def test_a_file_staged_twice_is_a_programming_error(tmp_path):
    folder = OutputFolder(tmp_path)
    folder.stage("a.md", "one")
    with pytest.raises(ValueError, match="a.md is staged twice"):
        folder.stage("a.md", "two")


# --------------------------------------------------------------------------- a real SIGINT

_WRITER_SCRIPT = textwrap.dedent(
    """
    import pathlib, sys
    from rnn_derive._output import OutputFolder

    root, generation = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    print("ready", flush=True)
    for round in range(1_000_000):
        version = (generation + round) % 2
        folder = OutputFolder(root)
        for i in range(60):
            folder.stage(f"derivations/d{i:02}.tex", (f"version {version} of d{i:02}\\n") * 20000)
        folder.stage("report.json", f'{{"version": {version}}}\\n')
        folder.commit(last=("report.json",))
    """
)


def test_sigint_at_random_moments_leaves_no_empty_or_half_written_file(tmp_path):
    rng = random.Random(0)
    root = tmp_path / "out"
    expected = {
        v: {f"derivations/d{i:02}.tex": (f"version {v} of d{i:02}\n") * 20000 for i in range(60)}
        for v in (0, 1)
    }
    for moment in range(8):
        process = subprocess.Popen(
            [sys.executable, "-c", _WRITER_SCRIPT, str(root), str(moment)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert process.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.05, 0.6))
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert "KeyboardInterrupt" in err or process.returncode == 0
        files = _contents(root)
        assert not [f for f in files if f.endswith(TEMP_SUFFIX)], "a temporary file was left"
        files.pop(MANIFEST, None)
        report = files.pop("report.json", None)
        for relative, data in files.items():
            assert data in (expected[0][relative].encode(), expected[1][relative].encode()), (
                f"{relative} is empty or half-written after SIGINT at moment {moment}"
            )
        if report is not None:
            version = json.loads(report)["version"]
            assert files == {f: t.encode() for f, t in expected[version].items()}, (
                "the report does not describe the documents beside it"
            )


# --------------------------------------------------------------------------- the build


def _good() -> Derivation:
    x = sp.Symbol("x", real=True)
    d = Derivation("good-one", "A true derivation", lhs=x + x, start=x + x)
    return d.step(2 * x, "collect")


@pytest.fixture
def fake_content(monkeypatch):
    monkeypatch.setattr(build_module, "builders", lambda: [_good])
    monkeypatch.setattr(build_module, "_check_errata", build_module.ErrataRecords)


def test_a_refused_build_creates_nothing(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    out = tmp_path / "new" / "out"
    status = main(["build", "--out", str(out), "--docs", str(tmp_path / "a-file")])
    assert status == 2
    assert "--docs" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_report_json_being_a_folder_is_one_line_and_exit_2(fake_content, tmp_path, capsys):
    (tmp_path / "report.json").mkdir()
    assert main(["build", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if ln.startswith("rnn-derive build:")]
    assert line == [
        f"rnn-derive build: cannot write {tmp_path / 'report.json'}: a directory of that name "
        "is in the way; remove it or choose another output folder"
    ]
    assert "Traceback" not in err
    assert not (tmp_path / "derivations").exists()  # refused before anything was written


def test_a_full_disk_during_the_build_is_exit_2(fake_content, tmp_path, capsys, monkeypatch):
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(_output, "open", full_disk, raising=False)
    assert main(["build", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "No space left on device; free some disk space and build again" in err
    assert "Traceback" not in err
    assert not (tmp_path / "report.json").exists()


def test_an_unwritable_parent_is_refused_before_the_proofs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build_module, "builders", lambda: pytest.fail("the proofs ran"))
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(
        _output.os, "access", lambda path, mode: pathlib.Path(path) != locked, raising=True
    )
    assert main(["build", "--out", str(locked / "out")]) == 2
    assert f"its parent {locked} is not writable" in capsys.readouterr().err
    assert not (locked / "out").exists()


def test_pdfs_are_made_without_leaving_latex_files_beside_them(fake_content, tmp_path, capsys):
    if build_module.shutil.which("pdflatex") is None:
        pytest.fail("pdflatex is needed (CI installs it: see .ci/run)")
    assert main(["build", "--out", str(tmp_path), "--pdf"]) == 0
    names = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert {"good-one.pdf", "good-one.tex", "code-beside-maths.pdf"} <= names
    assert not [n for n in names if n.endswith((".aux", ".log", ".out", ".fls"))]
    assert "and 2 PDF(s) written" in capsys.readouterr().out
    recorded = json.loads((tmp_path / MANIFEST).read_text())["files"]
    assert "derivations/good-one.pdf" in recorded
    # a build without --pdf keeps the PDFs of documents it still writes
    assert main(["build", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "derivations" / "good-one.pdf").is_file()
