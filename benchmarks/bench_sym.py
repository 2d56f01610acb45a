"""Benchmark: the naive symbolic route against the structured one, time and expression size vs T.

python benchmarks/bench_sym.py [--T 1 2 3 4 5 6 8 12 16] [--naive-max-T 5] [--naive-budget 120]

naive:      SymPy's diff of the fully written-out loss (tanh and softmax nested T deep) for
            ∂L/∂W alone (class-index targets, the cheaper case).
structured: rnn_sym.reverse_mode (node symbols kept, diff node by node in reverse order) for
            all six gradients, symbolic one-hot targets; proven equal to the textbook
            recursion (prove_recursion) and to the Σ Π form (prove_sigma_pi_inductive);
            lambdified with CSE (NumericBptt) and cross-checked against rnn_num and
            finite differences at one random point.
size:       sympy.count_ops of the gradient expressions (naive: ∂L/∂W; structured: all six
            gradients and every local adjoint, which is all the structured route needs).

Targets (issue 3): n_x = 2, n_h = 3, n_y = 2: T = 8 under 10 s, T = 16 under 60 s; size
polynomial in T. The naive route is skipped above --naive-max-T, or once the previous T
took so long that the next (about 3.5x more) would exceed --naive-budget seconds.
"""

from __future__ import annotations

import argparse
import sys
import time

import sympy as sp

import rnn_num
from derivations._bptt_numeric import fd_gradients, random_point
from derivations._numeric import FD_TOLERANCE, RNN_NUM_TOLERANCE, relative_error
from rnn_sym import (
    NumericBptt,
    expanded_loss,
    model_symbols,
    prove_recursion,
    prove_sigma_pi_inductive,
    reverse_mode,
)

GROWTH = 3.5  # the naive route's observed growth per time step


def structured(T: int, n_x: int, n_h: int, n_y: int) -> tuple[float, int, bool]:
    t0 = time.perf_counter()
    rm = reverse_mode(model_symbols(T, n_x, n_h, n_y))
    list(prove_recursion(rm))
    list(prove_sigma_pi_inductive(rm))
    numeric = NumericBptt(rm)
    params, x, y, h0 = random_point(T, T, n_x, n_h, n_y)
    _, mine = numeric(params, x, y, h0)
    _, ref = rnn_num.loss_and_grads(params, x, y, h0)
    fd = fd_gradients(params, x, y, h0)
    ok = all(
        relative_error(mine[k], ref[k]) <= RNN_NUM_TOLERANCE
        and relative_error(mine[k], fd[k]) <= FD_TOLERANCE
        for k in mine
    )
    seconds = time.perf_counter() - t0
    exprs = [*rm.params.values(), *rm.local_h.values(), *rm.local_o.values()]
    size = sum(sp.count_ops(e) for matrix in exprs for e in matrix)
    return seconds, size, ok


def naive(T: int, n_x: int, n_h: int, n_y: int) -> tuple[float, int]:
    m = model_symbols(T, n_x, n_h, n_y, targets=[t % n_y for t in range(T)])
    t0 = time.perf_counter()
    loss = expanded_loss(m, max_T=T)
    grad = m.W.applyfunc(lambda w: sp.diff(loss, w))
    seconds = time.perf_counter() - t0
    return seconds, sum(sp.count_ops(e) for e in grad)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 8, 12, 16])
    parser.add_argument("--n-x", type=int, default=2)
    parser.add_argument("--n-h", type=int, default=3)
    parser.add_argument("--n-y", type=int, default=2)
    parser.add_argument("--naive-max-T", type=int, default=5, help="largest T for the naive route")
    parser.add_argument("--naive-budget", type=float, default=120.0, help="seconds per naive run")
    args = parser.parse_args(argv)
    sizes = (args.n_x, args.n_h, args.n_y)
    print(f"n_x={args.n_x} n_h={args.n_h} n_y={args.n_y}")
    print(
        f"{'T':>3} | {'structured s':>12} {'size':>8} {'ok':>3} | {'naive dL/dW s':>13} {'size':>9}"
    )
    last_naive = 0.0
    all_ok = True
    for T in args.T:
        print(f"[bench_sym] T={T} structured", file=sys.stderr, flush=True)
        s_time, s_size, ok = structured(T, *sizes)
        all_ok &= ok
        naive_cell = f"{'skipped':>13} {'':>9}"
        if T <= args.naive_max_T and last_naive * GROWTH <= args.naive_budget:
            print(f"[bench_sym] T={T} naive", file=sys.stderr, flush=True)
            n_time, n_size = naive(T, *sizes)
            last_naive = n_time
            naive_cell = f"{n_time:>13.2f} {n_size:>9}"
        print(
            f"{T:>3} | {s_time:>12.2f} {s_size:>8} {'yes' if ok else 'NO':>3} | {naive_cell}",
            flush=True,
        )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
