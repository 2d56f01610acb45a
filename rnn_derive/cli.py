"""`rnn-derive`: one entry point, one module per subcommand.

Each subcommand lives in its own module under `rnn_derive/` and exposes

    NAME: str                                   # the subcommand
    HELP: str                                   # one line for `rnn-derive --help`
    def add_arguments(parser) -> None           # its options
    def run(args) -> int                        # its exit code

and is listed once in `_SUBCOMMANDS` below. A subcommand module keeps its heavy
imports (SymPy, NumPy, matplotlib) inside `run`, so `rnn-derive --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# (subcommand name, module, one-line help). Only subcommands that exist are listed.
_SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("build", "rnn_derive.build", "Verify every derivation and write the documents under build/."),
    ("errata", "rnn_derive.errata", "List the seed notes' errata with machine-checked verdicts."),
    (
        "check",
        "rnn_derive.check",
        "Check a hand-written gradient formula: CORRECT, WRONG or ILL-FORMED.",
    ),
    (
        "model",
        "rnn_derive.model",
        "Show what a --model means: its equations, parameter blocks with shapes, and loss.",
    ),
    ("verify", "rnn_derive.verify", "Derive every RNN gradient with SymPy; prove; check numbers."),
    (
        "bench",
        "rnn_derive.bench",
        "Time rnn_num's forward+backward: GFLOP/s, share of matmul speed, ratio to PyTorch.",
    ),
]


def _version() -> str:
    """The installed distribution's version (pyproject.toml), without importing anything heavy."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rnn-derivations")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed: pip install -e .)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-derive",
        description="Derive, prove and check the gradients of recurrent neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"rnn-derive {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name, help_text in _SUBCOMMANDS:
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(sub_parser)
    return parser


def _survive_any_encoding() -> None:
    """Characters the output encoding lacks (∇, ŷ, ✓ under PYTHONIOENCODING=ascii or a
    latin-1 terminal) are written as \\uXXXX escapes instead of crashing the command."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a closed or detached stream: nothing to protect
                pass


def main(argv: Sequence[str] | None = None) -> int:
    _survive_any_encoding()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_module", None) is None:
        parser.print_help()
        return 2
    module = importlib.import_module(args._module)
    try:
        status = int(module.run(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `rnn-derive bench | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush stays quiet, and exit as a shell reports SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
