"""`rnn-derive bench` runs and prints its table (a smoke test; timings are never asserted)."""

from __future__ import annotations

import re

import numpy as np
import pytest

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
        # Without torch: rnn_num's times (1 or 2 columns), faults, GFLOP/s, "of matmul".
        *times, faults, gflops, share = row[len(str(shape)) :].split()
        assert times and all(float(t) > 0 for t in times)
        assert faults == "-" or float(faults) >= 0
        assert float(gflops) > 0 and share.endswith("%")


def test_median_ratio_pairs_rounds_in_order():
    # Round i of one contender is compared with round i of the other, not best with best.
    assert bench.median_ratio([2.0, 9.0, 3.0], [1.0, 3.0, 1.0]) == 3.0
    assert bench.median_ratio([1.0, 1.0], [2.0, 1.0]) == 0.75


def test_best_times_keeps_one_time_per_round():
    calls = []
    measured = bench.best_times(
        {"a": (lambda: calls.append("setup a"), lambda: None), "b": (lambda: None, lambda: None)},
        min_time=0.001,
        rounds=4,
    )
    assert calls == ["setup a"] * 4
    for wall, cpu, per_round in measured.values():
        assert len(per_round) == 4
        assert wall == min(per_round) and cpu >= 0


def test_page_faults_per_call_sees_fresh_memory_touched():
    pytest.importorskip("resource")  # Unix only; the function returns None elsewhere
    # mmap'd and freed on every call: 64 MiB touched is thousands of 4 KiB pages at least,
    # unless the system hands out huge pages (then still at least 32 of 2 MiB).
    faults = bench.page_faults_per_call(lambda: np.ones(8 * 2**20), calls=3)
    assert faults is not None and faults >= 30
    assert bench.page_faults_per_call(lambda: None, calls=3) < 30


def test_flop_count_counts_every_gate():
    B, T, n_x, n_h, n_y = 2, 3, 4, 5, 6
    forward = 2 * T * B * (4 * (n_h * n_x + n_h * n_h) + n_y * n_h)
    assert bench.flops(B, T, n_x, n_h, n_y, gates=4) == 3 * forward


@pytest.mark.parametrize("model", ["cell=lstm", "cell=gru,biases=torch", "activation=relu"])
def test_bench_times_the_model_against_torch_with_equal_gradients(capsys, model):
    pytest.importorskip("torch")
    argv = ["bench", "--quick", "--min-time", "0.01", "--rounds", "1", "--model", model]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"model: {model}" in out
    for shape in bench.SHAPES[:2]:
        row = next(line for line in out.splitlines() if line.startswith(str(shape)))
        # the last column is max|Δg| between rnn_num's and torch's gradients
        assert float(row.split()[-1]) < 1e-10, row


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("head=mse", "may set cell, activation and biases only; got head"),
        ("activation=sigmoid", "tanh or relu only"),
        ("biases=hidden", "use biases=both"),
        ("cell=lstm,activation=tanh", "does not apply to cell=lstm"),
    ],
)
def test_bench_refuses_models_torch_cannot_run(capsys, model, message):
    assert main(["bench", "--quick", "--model", model]) == 2
    assert message in capsys.readouterr().err


def test_bench_problem_reads_the_model():
    from rnn_spec import Model

    model = Model(cell="lstm", biases="torch", h0="per-sequence")
    params, x, y, init = bench._problem((2, 3, 4, 5, 6), model)
    assert set(params) == set(model.block_names()) and set(init) == {"h0", "c0"}
    assert init["c0"].shape == (2, 5) and np.any(params["b_hf"] != 0)
