"""`rnn-derive errata [SEED] [--json]`: the seed notes' mistakes, corrections and check verdicts."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap

NAME = "errata"
HELP = "List the errata of the five seed notes with their machine-checked verdicts."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "seed",
        nargs="?",
        metavar="SEED",
        help="one seed note: its file name or a prefix such as 000 (default: all five)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of errata (keys id, seed, line, quote, category, severity, "
        "problem, correction, verdict, evidence, ...), sorted keys",
    )
    parser.add_argument(
        "--no-confirmed",
        action="store_true",
        help="in the human listing, leave out what each note gets right",
    )


def run(args: argparse.Namespace) -> int:
    from derivations import errata as catalogue

    seeds = list(catalogue.SEED_FILES)
    if args.seed is not None:
        try:
            seeds = [catalogue.resolve_seed(args.seed)]
        except catalogue.UnknownSeedError as error:
            print(f"rnn-derive errata: {error}", file=sys.stderr)
            return 2

    errata = [e for e in catalogue.all_errata() if e.seed in seeds]
    confirmations = [c for c in catalogue.all_confirmations() if c.seed in seeds]
    errata_records, confirmation_records = [], []
    for seed in seeds:
        mine = [e for e in errata if e.seed == seed]
        theirs = [c for c in confirmations if c.seed == seed]
        if mine or theirs:
            print(
                f"checking {seed}: {len(mine)} errata, {len(theirs)} confirmed results",
                file=sys.stderr,
            )
        errata_records += [catalogue.erratum_record(e, catalogue.run_check(e)) for e in mine]
        confirmation_records += [
            catalogue.confirmation_record(c, catalogue.run_check(c)) for c in theirs
        ]

    try:
        if args.json:
            print(json.dumps(errata_records, sort_keys=True, indent=2, ensure_ascii=False))
        else:
            _print_listing(seeds, errata_records, confirmation_records, not args.no_confirmed)
        sys.stdout.flush()
    except BrokenPipeError:  # `rnn-derive errata | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's exit quiet

    failed = [r["id"] for r in errata_records if r["verdict"] != "confirmed"]
    failed += [
        f"{r['seed'][:3]}:line {r['line']} (confirmation)"
        for r in confirmation_records
        if r["verdict"] != "confirmed"
    ]
    if failed:
        print(
            f"rnn-derive errata: {len(failed)} check(s) failed: {', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    return 0


def _wrap(label: str, text: str) -> str:
    return textwrap.fill(
        text, width=100, initial_indent=f"    {label:<11}", subsequent_indent=" " * 15
    )


def _print_listing(
    seeds: list[str], errata: list[dict], confirmations: list[dict], show_confirmed: bool
) -> None:
    for seed in seeds:
        mine = [r for r in errata if r["seed"] == seed]
        theirs = [r for r in confirmations if r["seed"] == seed]
        counts = {s: sum(r["severity"] == s for r in mine) for s in ("high", "medium", "low")}
        print(f"== {seed}")
        if not mine and not theirs:
            print("   (no errata module for this seed yet)\n")
            continue
        print(
            f"   {len(mine)} errata ({counts['high']} high, {counts['medium']} medium, "
            f"{counts['low']} low), {len(theirs)} confirmed results\n"
        )
        for r in mine:
            print(
                f"  [{r['id']}] line {r['line']} | {r['severity']} | {r['category']} | {r['verdict']}"
            )
            print(_wrap("note:", r["quote"]))
            print(_wrap("problem:", r["problem"]))
            print(_wrap("correct:", r["correction"]))
            print(_wrap("check:", r["evidence"]))
            print()
        if show_confirmed and theirs:
            print("  What the note gets right:")
            for r in theirs:
                print(f"  [ok] line {r['line']} | {r['verdict']}")
                print(_wrap("note:", r["quote"]))
                print(_wrap("check:", r["evidence"]))
            print()
    total_failed = sum(r["verdict"] != "confirmed" for r in errata + confirmations)
    print(
        f"{len(errata)} errata, {len(confirmations)} confirmed results, "
        f"{total_failed} failed check(s)"
    )
