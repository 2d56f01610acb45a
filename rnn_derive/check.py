"""`rnn-derive check --wrt W [--notation 003] [--model K=V,...] [--json] "<latex>"`: is this
gradient formula right?

Exit codes: 0 CORRECT, 1 WRONG, 2 ILL-FORMED, unparsable, or a --model that does not exist
(one line naming the key, the value and the fix). The dialect: docs/dialect.md.
"""

from __future__ import annotations

import argparse
import sys

NAME = "check"
HELP = "Check a hand-written gradient formula (LaTeX) against the reference: CORRECT, WRONG or ILL-FORMED."

# rnn_check's NOTATIONS keys, listed here so that `--help` does not import NumPy (a test checks)
_NOTATIONS = (
    "canonical",
    "goodfellow",
    "000",
    "001",
    "002",
    "003",
    "004",
    "d2l",
    "deeplearning-ai",
    "wildml",
    "cs231n",
    "karpathy",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "formula",
        metavar="LATEX",
        help='the gradient in the dialect of docs/dialect.md, e.g. "\\sum_t \\nabla_{o_t} L"; '
        "use - to read it from standard input",
    )
    parser.add_argument(
        "--wrt",
        metavar="BLOCK",
        help="the block, in the notation's letters: U, W, V, b, c, h0, h_t, o_t, a_t "
        "(with --notation 002 e.g. W_aa; with --model cell=lstm e.g. W_f, c0, c_t, f_t); "
        "optional when the formula says \\nabla_W L = …",
    )
    parser.add_argument(
        "--notation",
        default="canonical",
        choices=_NOTATIONS,
        help="read the letters as in this source: a seed note (NOTATION.md) or goodfellow, d2l, "
        "deeplearning-ai, wildml, cs231n, karpathy; a source's preset implies its model "
        "(--model overrides it); default: canonical",
    )
    parser.add_argument(
        "--letters",
        metavar="YOURS=OURS,...",
        default=None,
        help="your own letters, each mapped to a letter of the notation, e.g. "
        '"E=L,s=h,z=o,W_{qh}=V"',
    )
    parser.add_argument(
        "--model",
        metavar="KEY=VALUE,...",
        default=None,
        help="the model the formula is about (docs/models.md), e.g. cell=lstm,biases=torch or "
        "d2l's activation=identity,biases=none,head=generic,reduction=mean-time; "
        "default: the canonical model",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument(
        "--no-diagnosis",
        action="store_true",
        help="skip the search for a recognisable mistake (faster)",
    )


def _read_stdin() -> str:
    """Standard input as UTF-8 text (a byte-order mark allowed), whatever the locale says:
    bytes, so that undecodable input is one clear error instead of a traceback."""
    stream = sys.stdin
    if stream is None:  # started with stdin closed
        raise ValueError("no standard input to read the formula from (LATEX is -)")
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath (tests, embedding)
        return stream.read()
    data = buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"stdin is not UTF-8 text: byte 0x{data[error.start]:02x} at position "
            f"{error.start}; save the formula as UTF-8"
        ) from None


def _argument_text(text: str) -> str:
    # Bytes of the command line that the locale cannot decode arrive as lone surrogates.
    for position, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            raise ValueError(
                f"the formula argument is not valid text: an undecodable byte at position "
                f"{position}; pass it as UTF-8 (under a UTF-8 locale), or on stdin with -"
            )
    return text


def run(args: argparse.Namespace) -> int:
    from rnn_check import check_formula
    from rnn_check._notation import NOTATIONS
    from rnn_spec import ModelError, parse_model

    spec = args.model if args.model is not None else NOTATIONS[args.notation].implied_model
    try:
        model = parse_model(spec)
    except ModelError as error:
        print(f"error: --model {args.model}: {error}", file=sys.stderr)
        return 2
    try:
        text = _read_stdin() if args.formula == "-" else _argument_text(args.formula)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    where = "" if spec is None else f" in the model {model.short()}"
    if args.model is None and spec is not None:
        where += f" (implied by --notation {args.notation}; --model overrides it)"
    print(f"checking the formula on 6 cases{where} ...", file=sys.stderr)
    try:
        verdict = check_formula(
            text,
            args.wrt,
            notation=args.notation,
            model=model,
            diagnose=not args.no_diagnosis,
            letters=args.letters,
        )
    except ValueError as error:  # a --letters map that names no letter (the model is parsed)
        print(f"error: --{error}", file=sys.stderr)
        return 2
    if args.json:
        print(verdict.to_json())
        return verdict.exit_code
    print(verdict.summary)
    if verdict.detail:
        print(verdict.detail)
    if verdict.counterexample is not None:
        ce = verdict.counterexample
        entry = tuple(i + 1 for i in ce.index)
        print(
            f"counterexample: T = {ce.T}, n_x = {ce.n_x}, n_h = {ce.n_h}, n_y = {ce.n_y}, "
            f"seed {ce.seed}; {ce.block} entry {entry}: expected {ce.expected:.10g}, "
            f"got {ce.actual:.10g}"
        )
    for error in verdict.errors:
        print(f"largest relative error on {error.block}: {error.max_rel_error:.3g}")
    if verdict.diagnosis:
        print("diagnosis: " + "; ".join(verdict.diagnosis))
    return verdict.exit_code
