"""Benchmark of rnn_num's forward+backward; the same as `rnn-derive bench`.

Optional extras make it richer: PyTorch (`pip install -e ".[torch]"`) adds the comparison
with torch.nn.RNN (torch.nn.LSTM / GRU with --model cell=lstm / cell=gru) on 1 and 2
threads; threadpoolctl (`.[bench]`) times rnn_num on 1 and 2 BLAS threads. If
OPENBLAS_CORETYPE is set on this machine, a fair number needs it unset for this command only
(`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...`).

python benchmarks/bench_num.py [--quick] [--no-torch] [--min-time SECONDS] [--rounds N]
                               [--model cell=lstm]
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
