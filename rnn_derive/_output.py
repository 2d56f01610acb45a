"""Output folders that a build writes without losing anything.

Three promises, kept by `OutputFolder`:

- **Each file is old or new, never half-written.** Every file is written to a temporary file
  beside it and renamed into place (`os.replace` is atomic), so Ctrl-C, a full disk or a crash
  at any moment leaves each file either as it was or as it should be. Temporary files are
  removed on the way out, interrupts included.
- **The report describes the files beside it.** The files named in `last=` (report.json) are
  removed before the first document is replaced and renamed into place after the last one:
  an interrupted build leaves either the old report beside the old documents or no report.
- **Only our own files are removed.** The folder's generated files are listed in a manifest
  (`.rnn-derive-manifest.json`); a file is removed as stale only when an earlier build recorded
  it there. Files a user put into the folder are never touched. The manifest is widened before
  anything is replaced, so it always lists every generated file present.

Every operating-system failure becomes one `OutputError` whose message names the path, the
reason and the fix; the CLI prints it as one line and exits 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
from collections.abc import Callable, Iterable

MANIFEST = ".rnn-derive-manifest.json"
TEMP_SUFFIX = ".rnn-derive-tmp"
_MANIFEST_FORMAT = 1


class OutputError(Exception):
    """A file or folder of the output could not be written: the message is for the user."""


def folder_problem(text: str, option: str) -> str | None:
    """Why `text` cannot be the output folder of `option`, or None when it can.

    Nothing is created here: a build that is refused (for this or another option) leaves no
    trace. The folder is created when the documents are written.
    """
    if not text.strip():
        return f"{option} is empty: give a directory, e.g. {option} build"
    path = pathlib.Path(text)
    if path.exists() and not path.is_dir():
        return f"{option} {text}: this is a file, not a directory; give a directory path"
    existing = path if path.exists() else _nearest_existing_parent(path)
    if existing is None or not existing.is_dir():
        blocker = existing if existing is not None else path
        return (
            f"{option} {text}: cannot create this directory ({blocker} is not a directory); "
            "give a directory you can write to"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "this directory" if existing == path else f"its parent {existing}"
        return f"{option} {text}: {what} is not writable; give a directory you can write to"
    return None


def _nearest_existing_parent(path: pathlib.Path) -> pathlib.Path | None:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return None


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


class OutputFolder:
    """The generated files of one folder: stage them, then `commit()` them all at once."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = pathlib.Path(root)
        self._staged: dict[str, bytes] = {}
        self.written: list[pathlib.Path] = []  # every generated file, in staging order

    # ------------------------------------------------------------------ staging

    def stage(self, relative: str, content: str | bytes) -> pathlib.Path:
        """Remember a file to write at `commit()`; text is written as UTF-8."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        if relative in self._staged:
            raise ValueError(f"{relative} is staged twice in {self.root}")
        self._staged[relative] = data
        return self.root / relative

    @property
    def staged(self) -> tuple[str, ...]:
        """The relative paths staged so far, in staging order."""
        return tuple(self._staged)

    # ------------------------------------------------------------------ manifest

    def recorded(self) -> set[str]:
        """The files an earlier build recorded as generated here (empty without a manifest)."""
        try:
            data = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
            files = data["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return set()  # no manifest, or not ours: then nothing counts as generated
        if not isinstance(files, list):
            return set()
        return {f for f in files if isinstance(f, str) and self._inside(f)}

    def _inside(self, relative: str) -> bool:
        """A manifest entry names a file under the root (a tampered one could point elsewhere)."""
        parts = pathlib.PurePosixPath(relative).parts
        return bool(parts) and not relative.startswith("/") and ".." not in parts

    def _write_manifest(self, files: Iterable[str]) -> None:
        text = json.dumps(
            {
                "generator": "rnn-derive build",
                "format": _MANIFEST_FORMAT,
                "note": "files written by rnn-derive build; only these are ever removed by it",
                "files": sorted(set(files)),
            },
            indent=2,
        )
        self._replace(MANIFEST, (text + "\n").encode("utf-8"))

    # ------------------------------------------------------------------ writing

    def _path(self, relative: str) -> pathlib.Path:
        return self.root / relative

    def _replace(self, relative: str, data: bytes) -> None:
        """Write one file atomically: a temporary file beside it, then a rename."""
        path = self._path(relative)
        temporary = path.with_name(path.name + TEMP_SUFFIX)
        try:
            try:
                with open(temporary, "wb") as stream:
                    stream.write(data)
                os.replace(temporary, path)
            finally:
                with contextlib.suppress(OSError):
                    temporary.unlink(missing_ok=True)
        except OSError as error:
            raise OutputError(f"cannot write {path}: {_reason(error)}{_fix(error)}") from error

    def _unchanged(self, relative: str, data: bytes) -> bool:
        path = self._path(relative)
        try:
            return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
        except OSError:
            return False

    def _check_targets(self) -> None:
        """Refuse at once (before anything changes) targets that could never be written."""
        for relative in self._staged:
            path = self._path(relative)
            if path.is_dir():
                raise OutputError(
                    f"cannot write {path}: a directory of that name is in the way; "
                    "remove it or choose another output folder"
                )
            for parent in path.relative_to(self.root).parents:
                folder = self.root / parent
                if folder.exists() and not folder.is_dir():
                    raise OutputError(
                        f"cannot write {path}: {folder} is a file, not a directory; "
                        "remove it or choose another output folder"
                    )

    def commit(
        self,
        *,
        last: Iterable[str] = (),
        keep: Callable[[str], bool] = lambda relative: False,
    ) -> list[pathlib.Path]:
        """Write every staged file; remove recorded files that were not staged again.

        `last`: files replaced after all the others (and removed before the first is replaced,
        when they change): the report. `keep(relative)`: a recorded file that stays recorded
        though not staged (a PDF whose .tex is still generated).
        """
        self._check_targets()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for relative in self._staged:
                self._path(relative).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"cannot create {error.filename or self.root}: {_reason(error)}{_fix(error)}"
            ) from error
        previous = self.recorded()
        current = set(self._staged)
        kept = {f for f in previous - current if keep(f) and self._path(f).is_file()}
        # widened first: an interrupt from here on leaves every generated file recorded
        if not current <= previous:
            self._write_manifest(previous | current)
        last = [f for f in last if f in self._staged]
        changed = [f for f in self._staged if not self._unchanged(f, self._staged[f])]
        for relative in last:
            if relative in changed:
                self._remove(relative)  # no report describes a half-replaced set of documents
        for relative in [f for f in changed if f not in last]:
            self._replace(relative, self._staged[relative])
        for relative in sorted(previous - current - kept):
            self._remove(relative)
        for relative in [f for f in last if f in changed]:
            self._replace(relative, self._staged[relative])  # the report, once all is in place
        if previous != current | kept:
            self._write_manifest(current | kept)
        self.written = [self._path(f) for f in self._staged]
        return self.written

    def install(self, relative: str, source: pathlib.Path) -> pathlib.Path:
        """Copy a file made elsewhere (a PDF compiled in a scratch folder) into place, recorded."""
        try:
            data = pathlib.Path(source).read_bytes()
        except OSError as error:
            raise OutputError(f"cannot read {source}: {_reason(error)}") from error
        previous = self.recorded()
        if relative not in previous:
            self._write_manifest(previous | {relative})
        if not self._unchanged(relative, data):
            self._replace(relative, data)
        return self._path(relative)

    def _remove(self, relative: str) -> None:
        path = self._path(relative)
        try:
            if path.is_file() or path.is_symlink():
                path.unlink()
        except OSError as error:
            raise OutputError(f"cannot remove {path}: {_reason(error)}{_fix(error)}") from error


def _fix(error: OSError) -> str:
    """The fix for the common failures, after the reason."""
    import errno

    if error.errno == errno.ENOSPC:
        return "; free some disk space and build again"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "; choose an output folder you can write to"
    if error.errno == errno.EISDIR:
        return "; a directory is in the way: remove it or choose another output folder"
    return "; check the output folder and build again"
