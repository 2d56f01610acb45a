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
        "--show-case",
        action="store_true",
        help="after a WRONG verdict, print the counterexample's numbers in your letters: the "
        "inputs x_t, the initial state, every parameter and the targets (with --json: under "
        '"case")',
    )
    parser.add_argument(
        "--color",
        "--colour",
        dest="color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the verdict and the ✓/✗ of the lines: auto (default) when stdout is a "
        "terminal and NO_COLOR is unset (FORCE_COLOR forces it), always, never; --json is "
        "never coloured",
    )
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
    case = None
    if args.show_case and verdict.counterexample is not None:
        from rnn_check._formula import case_inputs

        case = case_inputs(verdict.counterexample, model, args.notation, args.letters)
    elif args.show_case:
        print(
            f"--show-case: no counterexample, the verdict is {verdict.status.value}",
            file=sys.stderr,
        )
    if args.json:
        if not args.show_case:
            print(verdict.to_json())
            return verdict.exit_code
        import json

        data = json.loads(verdict.to_json())
        data["case"] = None if case is None else _case_json(verdict.counterexample, case)
        print(json.dumps(data, sort_keys=True))
        return verdict.exit_code
    # the summary says the verdict, the largest error, the counterexample and the diagnosis;
    # the detail the reason or the lines: each fact once
    paint = _painter(args.color, sys.stdout)
    summary, detail = verdict.summary, verdict.detail
    heading = summary.partition(": ")[2]
    if detail and heading and detail.startswith(heading):
        # "ILL-FORMED: unknown symbol" above "unknown symbol \psi at …": say it once
        summary, detail = f"{verdict.status.value}: {detail}", ""
    print(paint(summary))
    if detail:
        print(paint(detail))
    if case is not None:
        print(_case_text(case))
    return verdict.exit_code


_COLORS = {"CORRECT": "32", "WRONG": "31", "ILL-FORMED": "33", "✓": "32", "✗": "31"}


def _wants_color(mode: str, stream) -> bool:
    """--color: always, never, or auto: a terminal without NO_COLOR (FORCE_COLOR forces it)."""
    import os

    if mode != "auto":
        return mode == "always"
    if os.environ.get("FORCE_COLOR", "0") != "0":  # FORCE_COLOR=0 forces nothing
        return True
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _painter(mode: str, stream):
    """A function colouring the verdict word at the start of a text and the ✓/✗ of its lines
    (an ill-formed line's ✗ in the colour of ILL-FORMED), or the identity."""
    if not _wants_color(mode, stream):
        return lambda text: text
    import re

    def color(word: str, code: str) -> str:
        return f"\033[{code}m{word}\033[0m"

    def paint(text: str) -> str:
        text = re.sub(r"^(CORRECT|WRONG|ILL-FORMED)\b", lambda m: color(m[1], _COLORS[m[1]]), text)
        return re.sub(
            r"^(  )([✓✗])(.*)$",
            lambda m: (
                m[1]
                + color(m[2], _COLORS["ILL-FORMED"] if "— ill-formed" in m[3] else _COLORS[m[2]])
                + m[3]
            ),
            text,
            flags=re.M,
        )

    return paint


def _case_text(case: dict) -> str:
    """The counterexample's numbers, 4 significant digits, one block a paragraph (its sizes
    and seed are in the summary already)."""
    import numpy as np

    inputs = next(iter(case), "x_t")
    lines = [f"the counterexample's numbers ({inputs}: row t is step t):"]
    for name, value in case.items():
        array = np.asarray(value)
        label = f"  {name} = "
        text = np.array2string(
            array,
            separator=", ",
            prefix=label,
            max_line_width=100,
            formatter={"float_kind": lambda v: f"{v:.4g}", "int_kind": str},
        )
        lines.append(label + text)
    return "\n".join(lines)


def _case_json(ce, case: dict) -> dict:
    import numpy as np

    return {
        "T": ce.T,
        "n_x": ce.n_x,
        "n_h": ce.n_h,
        "n_y": ce.n_y,
        "seed": ce.seed,
        "inputs": {name: np.asarray(value).tolist() for name, value in case.items()},
    }
