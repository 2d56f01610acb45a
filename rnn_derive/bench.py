"""`rnn-derive bench`: time rnn_num's forward+backward against the machine's matmul speed
and, when PyTorch is installed, against torch.nn.RNN / LSTM / GRU on the same data (float64).

FLOP count (matmuls only; element-wise work is not counted): the forward pass does
2·T·B·(G·n_h·n_x + G·n_h² + n_y·n_h), with G = 1 (rnn), 4 (lstm) or 3 (gru) gates, and
backpropagation twice that (one product for the adjoint, one for the weight gradient, per
weight), so forward+backward = 6·T·B·(G·n_h·n_x + G·n_h² + n_y·n_h). Times are the best of
several runs (the least disturbed by other load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

NAME = "bench"
HELP = "time rnn_num's forward+backward (GFLOP/s, fraction of matmul speed, ratio to PyTorch)"

# (B, T, n_x, n_h, n_y)
SHAPES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 4, 2, 3, 2),
    (1, 25, 65, 100, 65),
    (32, 64, 128, 256, 128),
    (64, 128, 256, 512, 256),
)


# An upper bound keeps a typo such as --min-time 1e9 from looking like a hang.
MAX_MIN_TIME = 60.0


def _min_time(text: str) -> float:
    """argparse type of --min-time: a finite number of seconds in (0, MAX_MIN_TIME]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.0 < value <= MAX_MIN_TIME:  # also rejects nan
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: give seconds in (0, {MAX_MIN_TIME:g}], e.g. 0.5"
        )
    return value


MAX_ROUNDS = 50


def _rounds(text: str) -> int:
    """argparse type of --rounds: an integer in [1, MAX_ROUNDS]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of rounds") from None
    if not 1 <= value <= MAX_ROUNDS:
        raise argparse.ArgumentTypeError(f"{text} is out of range: give 1 to {MAX_ROUNDS}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--min-time",
        type=_min_time,
        default=0.5,
        help="seconds spent timing each measurement (at least 3 runs each; default 0.5)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="only the two smallest shapes (a smoke run)"
    )
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument(
        "--model",
        default="",
        help="cell, activation and biases of the model timed, e.g. cell=lstm (docs/models.md); "
        "the loss is always softmax + cross-entropy summed, as torch's cross_entropy(sum)",
    )
    parser.add_argument(
        "--rounds",
        type=_rounds,
        default=5,
        help="alternating timing rounds per shape, each contender min-time/rounds per round "
        f"(1 to {MAX_ROUNDS}; default 5)",
    )


def flops(B: int, T: int, n_x: int, n_h: int, n_y: int, gates: int = 1) -> float:
    """Matmul FLOPs of one forward+backward pass (see the module docstring)."""
    return 6.0 * T * B * (gates * (n_h * n_x + n_h * n_h) + n_y * n_h)


# The bench times what torch computes: its cells and cross_entropy(reduction="sum").
_BENCH_KEYS = {"cell", "activation", "biases"}


def bench_model(text: str):
    """The model of --model; only the keys torch's side can follow may differ from the
    defaults. Raises rnn_spec.ModelError (or ValueError) naming the key and the fix."""
    from rnn_spec import Model, parse_model

    model = parse_model(text)
    base = Model(cell=model.cell)
    others = [
        key
        for key, value in model.options().items()
        if key not in _BENCH_KEYS and base.options().get(key) != value
    ]
    if others:
        raise ValueError(
            f"bench times torch's cells with cross_entropy(reduction='sum'): --model may set "
            f"cell, activation and biases only; got {', '.join(others)}. Fix: drop "
            f"{', '.join(others)}"
        )
    if model.activation not in (None, "tanh", "relu"):
        raise ValueError(
            f"torch.nn.RNN has nonlinearity tanh or relu only; got activation={model.activation}"
        )
    if model.biases == "hidden":
        raise ValueError(
            "bench reads torch's gradients back with rnn_num.from_torch, which has no model for "
            "a biased cell with a bias-free Linear head; use biases=both, torch, output or none"
        )
    return model.replace(h0="per-sequence")


def measure(fn: Callable[[], object], min_time: float, min_runs: int = 3) -> tuple[float, float]:
    """(best wall time, best CPU time of the calling thread) of repeated calls, after one
    warm-up call. On a busy machine the CPU time of a single-threaded run still measures
    its own work: time spent descheduled is not counted."""
    fn()
    wall: list[float] = []
    cpu: list[float] = []
    start = time.perf_counter()
    while len(wall) < min_runs or time.perf_counter() - start < min_time:
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return min(wall), min(cpu)


def best_time(fn: Callable[[], object], min_time: float, min_runs: int = 3) -> float:
    """Best wall time of repeated calls after one warm-up call."""
    return measure(fn, min_time, min_runs)[0]


def best_times(
    contenders: dict[str, tuple[Callable[[], object], Callable[[], object]]],
    min_time: float,
    rounds: int = 3,
) -> dict[str, tuple[float, float, list[float]]]:
    """(best wall, best thread CPU, best wall of each round) of each (setup, fn) contender,
    timed in alternating blocks so that all of them see the same background load (the
    machine may be shared). Ratios of the per-round times compare contenders that ran
    seconds apart; their median is steadier than the ratio of the best times."""
    best = {name: (float("inf"), float("inf"), []) for name in contenders}
    for _ in range(rounds):
        for name, (setup, fn) in contenders.items():
            setup()
            time.sleep(0.05)  # let the previous contender's worker threads stop spinning
            wall, cpu = measure(fn, min_time / rounds, min_runs=2)
            old_wall, old_cpu, per_round = best[name]
            best[name] = (min(old_wall, wall), min(old_cpu, cpu), [*per_round, wall])
    return best


def median_ratio(slower: list[float], faster: list[float]) -> float:
    """Median over rounds of slower[i] / faster[i]."""
    return statistics.median(s / f for s, f in zip(slower, faster, strict=True))


def page_faults_per_call(fn: Callable[[], object], calls: int = 5) -> float | None:
    """Minor page faults of the process per call of fn, after one warm-up call; None where
    the resource module is missing (Windows). Other threads' faults count too."""
    try:
        import resource
    except ImportError:
        return None
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def matmul_gflops(
    min_time: float, sizes: tuple[int, ...] = (512, 1024, 2048)
) -> tuple[float, float]:
    """The machine's float64 matmul speed, best over a few square sizes on the current BLAS
    threads: (GFLOP/s by wall time, GFLOP/s by the calling thread's CPU time)."""
    import numpy as np

    rng = np.random.default_rng(0)
    best_wall = best_cpu = 0.0
    for n in sizes:
        a = rng.standard_normal((n, n))
        b = rng.standard_normal((n, n))
        wall, cpu = measure(lambda a=a, b=b: a @ b, min_time)
        best_wall = max(best_wall, 2.0 * n**3 / wall / 1e9)
        best_cpu = max(best_cpu, 2.0 * n**3 / cpu / 1e9)
    return best_wall, best_cpu


def _blas_limiter() -> Callable[[int | None], object] | None:
    """A function setting NumPy's BLAS thread count (None: back to the default), or None
    when threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    import numpy  # noqa: F401  (load the BLAS before limiting it)

    current: list[object] = []

    def limit(threads: int | None) -> None:
        while current:
            current.pop().restore_original_limits()
        if threads is not None:
            current.append(threadpool_limits(limits=threads, user_api="blas"))

    return limit


def _problem(shape: tuple[int, int, int, int, int], model=None):
    import numpy as np

    import rnn_num
    from rnn_spec import CANONICAL

    model = CANONICAL.replace(h0="per-sequence") if model is None else model
    B, T, n_x, n_h, n_y = shape
    rng = np.random.default_rng(1)
    params = rnn_num.init_params(n_x, n_h, n_y, seed=2, model=model)
    for block in model.blocks(n_x, n_h, n_y):
        if block.role in ("bias", "output-bias"):
            params[block.name] = 0.1 * rng.standard_normal(block.shape)
    x = rng.standard_normal((T, B, n_x))
    y = rng.integers(0, n_y, size=(T, B))
    init = {name: 0.1 * rng.standard_normal((B, n_h)) for name in model.initial_states}
    return params, x, y, init


def _torch_runner(model, params, x, y, init):
    """A closure running torch's cell (rnn_num.to_torch of the same parameters) + Linear +
    cross_entropy(sum) + backward() on rnn_num's data, and one returning torch's gradients
    of the last run, keyed as rnn_num's."""
    import torch

    import rnn_num

    T, B, _ = x.shape
    cell, head = rnn_num.to_torch(model, params)
    n_h = head.in_features
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.reshape(-1)).long()
    states = {k: torch.from_numpy(v[None].copy()).requires_grad_(True) for k, v in init.items()}
    state_arg = states["h0"] if model.cell != "lstm" else (states["h0"], states["c0"])
    modules = (cell, head)

    def run() -> float:
        for m in modules:
            m.zero_grad(set_to_none=True)
        for s in states.values():
            s.grad = None
        out, _ = cell(xt, state_arg)
        logits = head(out.reshape(T * B, n_h))
        loss = torch.nn.functional.cross_entropy(logits, yt, reduction="sum")
        loss.backward()
        return float(loss.detach())

    def grads() -> dict:
        if model.biases == "torch":
            grads = rnn_num.from_torch(cell, head, grads=True)[2]
        else:  # single biases went to torch as b_ih (b_hh = 0): b's gradient is b_ih's
            grads = _single_bias_grads(model, cell, head)
        grads.update({k: s.grad.numpy()[0] for k, s in states.items()})
        return grads

    return run, grads


def _single_bias_grads(model, cell, head) -> dict:
    """torch's gradients keyed as rnn_num's for a model with one bias per pre-activation,
    which went to torch as b_ih (with b_hh = 0): b's gradient is b_ih's."""
    import rnn_num

    g = rnn_num.from_torch(cell, head, grads=True)[2]
    out = {k: v for k, v in g.items() if not k.startswith("b_")}
    if model.hidden_biases:
        for gate in model.gates or (None,):
            out["b" if gate is None else f"b_{gate}"] = g["b_ih" if gate is None else f"b_i{gate}"]
    return out


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import rnn_num

    try:
        model = bench_model(args.model)
    except ValueError as exc:  # rnn_spec.ModelError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gates = max(1, len(model.gates))
    shapes = SHAPES[:2] if args.quick else SHAPES
    sizes = (256, 512) if args.quick else (512, 1024, 2048)
    have_torch = False
    if not args.no_torch:
        try:
            import torch

            have_torch = True
        except ImportError:
            pass
    limit = _blas_limiter()
    # rnn_num runs on 1 and 2 BLAS threads when threadpoolctl can set them, else on the default.
    num_threads: tuple[int | None, ...] = (1, 2) if limit is not None else (None,)

    env = ", ".join(f"{k}={os.environ.get(k)}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    print(f"model: {model.replace(h0='zero').short()}")
    print(f"numpy {np.__version__}; {os.cpu_count()} CPUs; {env}")
    if limit is None:
        print("threadpoolctl not installed: rnn_num runs on the default BLAS threads only")
    print("measuring float64 matmul speed ...", file=sys.stderr, flush=True)
    peaks: dict[int | None, float] = {}
    cpu_peaks: dict[int | None, float] = {}
    for k in num_threads:
        if limit is not None:
            limit(k)
        peaks[k], cpu_peaks[k] = matmul_gflops(args.min_time, sizes)
    if limit is not None:
        limit(None)
    peak = max(peaks.values())
    cpu_peak_1 = cpu_peaks[num_threads[0]]  # meaningful for one thread only
    print(
        f"float64 matmul (best of n = {', '.join(map(str, sizes))}): "
        + ", ".join(f"{v:.1f} GFLOP/s on {k or 'default'} thread(s)" for k, v in peaks.items())
    )
    if have_torch:
        print(f"torch {torch.__version__}")
    elif not args.no_torch:
        print("torch not installed: no comparison (pip install 'rnn-derivations[torch]')")

    num_cols = [f"num{k}" if k else "num" for k in num_threads]
    num_for = {1: num_cols[0], 2: num_cols[-1]}  # torch on K threads against rnn_num on K
    header = f"{'(B, T, n_x, n_h, n_y)':<24}" + "".join(f" {c + ' ms':>10}" for c in num_cols)
    header += f" {'faults':>7} {'GFLOP/s':>8} {'of matmul':>9}"
    if have_torch:
        header += f" {'torch1 ms':>10} {'torch2 ms':>10}"
        header += "".join(f" {f't{k}/{num_for[k]}':>9}" for k in (1, 2))
        header += "".join(f" {f'med{k}':>6}" for k in (1, 2))
        header += f" {'max|Δg|':>8}"
    rows = [header]
    cpu_rows = [
        f"{'(B, T, n_x, n_h, n_y)':<24} {'num1 cpu ms':>12} {'torch1 cpu':>12} {'t1/num1':>9}"
        f" {'GFLOP/s':>8} {'of matmul':>9}"
    ]
    for shape in shapes:
        print(f"timing {shape} ...", file=sys.stderr, flush=True)
        params, x, y, init = _problem(shape, model)

        def ours(p=params, x=x, y=y, init=init):
            return rnn_num.loss_and_grads(p, x, y, init["h0"], c0=init.get("c0"), model=model)

        contenders: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {}
        for k, col in zip(num_threads, num_cols, strict=True):
            contenders[col] = ((lambda k=k: limit(k)) if limit else (lambda: None), ours)
        if have_torch:
            runner, torch_grads = _torch_runner(model, params, x, y, init)
            for k in (1, 2):
                contenders[f"torch{k}"] = (lambda k=k: torch.set_num_threads(k), runner)
        measured = best_times(contenders, args.min_time, args.rounds)
        if limit is not None:
            limit(None)
        times = {name: wall for name, (wall, _, _) in measured.items()}
        cpu1 = {name: cpu for name, (_, cpu, _) in measured.items() if name.endswith("1")}
        rounds = {name: per_round for name, (_, _, per_round) in measured.items()}
        t_num = min(times[c] for c in num_cols)
        gf = flops(*shape, gates) / t_num / 1e9
        row = f"{str(shape):<24}" + "".join(f" {times[c] * 1e3:>10.3f}" for c in num_cols)
        faults = page_faults_per_call(ours)
        row += f" {'-' if faults is None else f'{faults:.0f}':>7}"
        row += f" {gf:>8.3g} {f'{100 * gf / peak:.3g}%':>9}"
        if have_torch:
            # Same data, same parameters: the two gradients must agree (a sanity check).
            theirs = torch_grads()
            mine = ours()[1]
            diff = max(float(np.max(np.abs(mine[k] - theirs[k]))) for k in theirs)
            t1, t2 = times["torch1"], times["torch2"]
            row += f" {t1 * 1e3:>10.3f} {t2 * 1e3:>10.3f}"
            row += f" {t1 / times[num_for[1]]:>9.2f} {t2 / times[num_for[2]]:>9.2f}"
            row += "".join(
                f" {median_ratio(rounds[f'torch{k}'], rounds[num_for[k]]):>6.2f}" for k in (1, 2)
            )
            row += f" {diff:>8.1e}"
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
        if have_torch and num_for[1] in cpu1:
            a, b = cpu1[num_for[1]], cpu1["torch1"]
            gf_cpu = flops(*shape, gates) / a / 1e9
            cpu_rows.append(
                f"{str(shape):<24} {a * 1e3:>12.3f} {b * 1e3:>12.3f} {b / a:>9.2f}"
                f" {gf_cpu:>8.3g} {f'{100 * gf_cpu / cpu_peak_1:.3g}%':>9}"
            )
    print("\n".join(rows))
    if len(cpu_rows) > 1:
        print(
            "\nOne thread, CPU time of the calling thread (not disturbed by other load); "
            f"float64 matmul on one thread by the same clock: {cpu_peak_1:.1f} GFLOP/s"
        )
        print("\n".join(cpu_rows))
    print(
        "numK / torchK: best time of forward+backward on K threads (num: rnn_num, default "
        "BLAS threads). faults: minor page faults per rnn_num call after a warm-up (memory "
        "handed back to the system and faulted in again on every call; '-' where not "
        "measurable). GFLOP/s and 'of matmul': rnn_num's best time, matmul FLOPs "
        "6·T·B·(G·n_h·n_x + G·n_h² + n_y·n_h) with G gates, against the best matmul speed above. "
        "tK/numK > 1: rnn_num is faster than torch on K threads (ratio of the best times); "
        "medK: the median over the rounds of the same ratio, steadier on a shared machine. "
        "max|Δg|: largest gradient "
        "difference between the two (a sanity check)."
    )
    return 0
