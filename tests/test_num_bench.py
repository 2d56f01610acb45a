"""`rnn-derive bench` runs and prints its table (a smoke test; timings are never asserted)."""

from __future__ import annotations

import re

from rnn_derive import bench
from rnn_derive.cli import main


def test_flop_count_is_three_times_the_forward_matmuls():
    B, T, n_x, n_h, n_y = 2, 3, 4, 5, 6
    forward = 2 * T * B * (n_h * n_x + n_h * n_h + n_y * n_h)
    assert bench.flops(B, T, n_x, n_h, n_y) == 3 * forward


def test_bench_quick_prints_a_row_per_shape(capsys):
    assert main(["bench", "--quick", "--no-torch", "--min-time", "0.01"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"float64 matmul .*: \d+\.\d GFLOP/s", out)
    for shape in bench.SHAPES[:2]:
        row = next(line for line in out.splitlines() if line.startswith(str(shape)))
        times = [float(v) for v in row[len(str(shape)) :].split()[:-1] if not v.endswith("%")]
        assert all(t > 0 for t in times)
        assert row.endswith("%")
