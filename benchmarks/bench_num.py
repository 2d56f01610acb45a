"""Benchmark of rnn_num's forward+backward; the same as `rnn-derive bench`.

python benchmarks/bench_num.py [--quick] [--no-torch] [--min-time SECONDS]
"""

from __future__ import annotations

import argparse
import sys

from rnn_derive import bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=bench.HELP)
    bench.add_arguments(parser)
    return bench.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
