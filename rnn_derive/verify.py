"""`rnn-derive verify`: derive every RNN gradient symbolically, prove the forms equal, check numerically.

For one configuration (default: the notes' toy sizes n_x = 2, n_h = 3, n_y = 2, T = 3):

1. derive every gradient by reverse-mode differentiation of the unrolled graph (SymPy's
   diff of each node, last node first);
2. prove it equal to the textbook recursion (node by node, backward induction) and to the
   unrolled Σ Π form (∇_W, ∇_U, ∇_b, ∇_{h0}): the lemma ∇_{h_k}L = Σ_{t≥k} (∂h_t/∂h_k)ᵀ g_t
   by induction on k, then the Σ Π form exactly as sigma_pi() writes it against the recursion
   form with the lemma substituted (rnn_sym.prove_sigma_pi_form), for every T accepted;
   for T <= 4 and sizes <= 3 also with every product of Jacobians multiplied out;
3. for T <= 4, also derive it by SymPy's diff of the fully expanded loss and prove the two
   equal as polynomials (targets drawn from --seed);
4. lambdify and compare with rnn_num and with central finite differences of an independent
   NumPy loss at random points (h0 nonzero).

Prints a table; exit 0 if everything agrees, 1 if anything disagrees, 2 on bad input.

`--model key=value,...` (rnn_spec.parse_model's syntax) picks another model: another
activation, the LSTM or GRU cell, other biases, heads, reductions, tasks, h0. For those,
the table has one row per gradient of the model (its blocks from model.blocks, then h0
(, c0)): the reverse-mode adjoints proven equal, node by node, to the cell's textbook
recursions (rnn_sym.prove_cell_recursion), then the lambdified gradients against rnn_num
and finite differences of an independent NumPy loss (rnn_derive/_verify_models.py). The
ΣΠ and expanded-loss columns are the canonical model's alone.

Limits for symbolic work: T <= 32, n_x, n_h, n_y <= 8 (n_y >= 2); the naive route and the
multiplied-out proofs run only for T <= 4 with every size <= 3. Worst cases on a 2-core
machine: about 75 s (T = 32, all sizes 8) and 65 s (T = 4, all sizes 3); T = 16 at the
toy sizes takes about 5 s; `--model cell=lstm` (or gru) at the toy sizes about 5 s (T = 8) and
7 s (T = 16), about 75 s at T = 32 with all sizes 8. Beyond the limits use the numeric checker, rnn_num.gradcheck.
"""

from __future__ import annotations

import argparse
import sys
import time

NAME = "verify"
HELP = "Derive every RNN gradient with SymPy, prove recursion/ΣΠ/expanded forms equal, check numerically."

_POINTS = 3  # random points per numeric comparison
# The multiplied-out routes (diff of the expanded loss, adjoints inlined) grow like n_h^T and
# with every size: only for T <= MAX_T_EXPANDED and sizes up to this.
_SMALL_SIZE = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--T",
        type=int,
        default=3,
        help="sequence length (default 3; at most 32; naive route for T <= 4)",
    )
    parser.add_argument("--n-x", type=int, default=2, help="input size (default 2; at most 8)")
    parser.add_argument("--n-h", type=int, default=3, help="hidden size (default 3; at most 8)")
    parser.add_argument("--n-y", type=int, default=2, help="classes (default 2; 2 to 8)")
    parser.add_argument("--seed", type=int, default=0, help="random points and targets (default 0)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated gradients to report, among U,W,V,b,c,h0 (default: all)",
    )
    parser.add_argument(
        "--many-to-one", action="store_true", help="only the last step has a loss (seed 004)"
    )
    parser.add_argument(
        "--model",
        default="",
        help="the model, key=value,... as rnn_spec.parse_model reads it, e.g. cell=lstm,"
        "biases=torch (default: the canonical model; docs/models.md lists the keys)",
    )


def _progress(message: str) -> None:
    print(f"[verify] {message}", file=sys.stderr, flush=True)


# seconds between progress lines within a phase: a small case prints none, a large one
# (T = 32, sizes 8: minutes) is never silent for long
_PROGRESS_EVERY = 2.0


class _Ticker:
    """Reports `done/total` of a long phase on stderr, at most once per _PROGRESS_EVERY s."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.every = _PROGRESS_EVERY
        self.began = self.last = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            _progress(f"  {self.what} {done}/{total} ({now - self.began:.0f}s)")


def _worse(a: float, b: float) -> float:
    """The larger error; NaN wins (max() would drop it)."""
    return float("nan") if a != a or b != b else max(a, b)


def _fmt(error: float) -> str:
    return "n/a" if error != error else f"{error:.1e}"  # NaN: not compared


def _model(args: argparse.Namespace):
    """The model of --model (and --many-to-one); ModelError for bad text or a conflict."""
    from rnn_spec import ModelError, parse_model

    model = parse_model(args.model)
    if args.many_to_one and model.task != "many-to-one":
        if model.task != "many-to-many":
            raise ModelError(
                f"--many-to-one conflicts with task={model.task_text} in --model. "
                "Fix: drop one of them"
            )
        model = model.replace(task="many-to-one")
    return model


def _is_canonical(model) -> bool:
    """The canonical model (or its many-to-one task): the ΣΠ and expanded-loss machinery."""
    from rnn_spec import CANONICAL

    return model.task in ("many-to-many", "many-to-one") and (
        model.replace(task="many-to-many") == CANONICAL
    )


def run(args: argparse.Namespace) -> int:
    from rnn_spec import ModelError
    from rnn_sym import PARAMETER_NAMES, RnnSymError, SizeLimitError, check_sizes

    try:
        model = _model(args)
    except ModelError as error:
        print(f"error: --model: {error}", file=sys.stderr)
        return 2
    canonical = _is_canonical(model)
    names = PARAMETER_NAMES if canonical else model.gradient_names()
    only = tuple(s.strip() for s in args.only.split(",") if s.strip()) or names
    unknown = [name for name in only if name not in names]
    if unknown:
        print(
            f"error: unknown parameter name(s) {unknown}; choose among {', '.join(names)}",
            file=sys.stderr,
        )
        return 2
    try:
        # n_y >= 2 is softmax's need; the other heads work with one output
        softmax = model.head == "softmax-ce" or args.n_y < 1
        check_sizes(args.T, args.n_x, args.n_h, args.n_y if softmax else max(args.n_y, 2))
        if args.seed < 0:
            raise SizeLimitError(f"--seed must be >= 0, got {args.seed}")
        model.loss_steps(args.T)  # task=step=K needs K <= T
    except (SizeLimitError, ModelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        if canonical:
            args.many_to_one = model.task == "many-to-one"
            return _verify(args, only)
        from rnn_derive._verify_models import verify_model

        return verify_model(args, model, only, _Ticker)
    except RnnSymError as error:  # a proof failed: report it, do not show a traceback
        print(f"FAILED: {error}", file=sys.stderr)
        return 1


def _verify(args: argparse.Namespace, only: tuple[str, ...]) -> int:
    import sympy as sp

    import rnn_num
    from derivations._bptt_numeric import max_errors, random_point
    from derivations._numeric import FD_TOLERANCE, RNN_NUM_TOLERANCE
    from rnn_sym import (
        MAX_T_EXPANDED,
        PARAMETER_NAMES,
        NumericBptt,
        StepFailed,
        expanded_full,
        full_forms,
        model_symbols,
        prove_recursion,
        prove_sigma_pi_form,
        prove_sigma_pi_inductive,
        residual_is_zero,
        reverse_mode,
        sigma_pi_full,
    )

    T, n_x, n_h, n_y, mto = args.T, args.n_x, args.n_h, args.n_y, args.many_to_one
    began = time.perf_counter()
    seconds = dict.fromkeys(only, 0.0)
    proven_rec = dict.fromkeys(only, True)
    proven_sp: dict[str, bool | None] = dict.fromkeys(only)
    proven_exp: dict[str, bool | None] = dict.fromkeys(only)

    _progress(f"reverse-mode diff of the unrolled graph, T={T}, n_x={n_x}, n_h={n_h}, n_y={n_y}")
    model = model_symbols(T, n_x, n_h, n_y)
    rm = reverse_mode(model, many_to_one=mto, progress=_Ticker("nodes differentiated:"))
    _progress(f"  {len(rm.graph)} nodes and {len(rm.params)} parameters in {rm.seconds:.2f}s")

    _progress("proving each adjoint equal to the textbook recursion (backward induction)")
    ticker = _Ticker("adjoints proven:")
    claims = len(rm.local_o) + len(rm.local_h) + len(PARAMETER_NAMES)
    for done, record in enumerate(prove_recursion(rm), start=1):
        ticker(done, claims)
        name = record.claim.removeprefix("grad_")
        if name in seconds:
            seconds[name] += record.seconds
    _progress("proving the recursion equal to the Σ Π form (induction on k)")
    ticker = _Ticker("induction steps proven (k = T down to 0):")
    sp_seconds = 0.0
    for done, record in enumerate(prove_sigma_pi_inductive(rm), start=1):
        ticker(done, T + 1)
        sp_seconds += record.seconds
    for name in ("U", "W", "b", "h0"):
        if name in seconds:
            seconds[name] += sp_seconds / 4
    _progress("proving the Σ Π form as written equal to the recursion form (any T, exact)")
    for name in ("U", "W", "b", "h0"):
        if name in only:
            try:
                record = prove_sigma_pi_form(rm, name)
                proven_sp[name] = True
                seconds[name] += record.seconds
            except StepFailed as error:
                _progress(f"  ∇_{name}: {error}")
                proven_sp[name] = False

    small = T <= MAX_T_EXPANDED and max(n_x, n_h, n_y) <= _SMALL_SIZE
    if small:
        _progress("small T: the Σ Π form against the recursion multiplied out (no hypothesis)")
        _, unrolled = full_forms(rm, one_hot=False, keep_grad_o=True)
        for name in ("U", "W", "b", "h0"):
            if name in only:
                t0 = time.perf_counter()
                # an additional check, with every product of Jacobians multiplied out
                multiplied_out = residual_is_zero(sigma_pi_full(rm, name) - unrolled[name])
                proven_sp[name] = bool(proven_sp[name]) and multiplied_out
                seconds[name] += time.perf_counter() - t0

    if small:
        _, _, y_targets, _ = random_point(args.seed, T, n_x, n_h, n_y, many_to_one=mto)
        targets = [int(y_targets)] * T if mto else [int(k) for k in y_targets]
        concrete = reverse_mode(model_symbols(T, n_x, n_h, n_y, targets=targets), many_to_one=mto)
        # class-index targets are one-hot, so the textbook ŷ − y needs no assumption here
        structured, text = full_forms(concrete, one_hot=False)
        for name in only:
            _progress(f"diff of the fully expanded loss for {name} (targets {targets})")
            t0 = time.perf_counter()
            naive = expanded_full(concrete, names=(name,))[name]
            # naive == reverse mode == textbook, all adjoints inlined: no induction hypothesis
            proven_exp[name] = all(
                sp.expand(e) == 0
                for e in [*(naive - structured[name]), *(structured[name] - text[name])]
            )
            seconds[name] += time.perf_counter() - t0
    else:
        _progress(
            f"skipping the naive route (diff of the expanded loss): it runs only for "
            f"T <= {MAX_T_EXPANDED} and sizes <= {_SMALL_SIZE}"
        )

    _progress("lambdifying (cse=True) and comparing with rnn_num and finite differences")
    t0 = time.perf_counter()
    numeric = NumericBptt(rm)
    _progress(f"  lambdified in {time.perf_counter() - t0:.2f}s; evaluating at {_POINTS} points")

    def reference(params, x, y, h0):
        return rnn_num.loss_and_grads(params, x, y, h0, many_to_one=mto)

    ticker = _Ticker("random points compared:")
    errors: dict[str, tuple[float, float]] = {}
    for done, seed in enumerate(range(args.seed, args.seed + _POINTS), start=1):
        point = max_errors(numeric, (seed,), T, n_x, n_h, n_y, many_to_one=mto, reference=reference)
        errors = {
            name: tuple(_worse(a, b) for a, b in zip(errors.get(name, pair), pair, strict=True))
            for name, pair in point.items()
        }
        ticker(done, _POINTS)
    numeric_seconds = time.perf_counter() - t0

    header = f"{'gradient':<9} {'recursion':<10} {'ΣΠ form':<8} {'expanded':<9} {'vs rnn_num':>11} {'vs FD':>9} {'time':>8}"
    print(
        f"rnn-derive verify: T={T} n_x={n_x} n_h={n_h} n_y={n_y} seed={args.seed}"
        + (" many-to-one" if mto else "")
    )
    print(header)
    print("-" * len(header))
    ok = True

    def mark(value: bool | None) -> str:
        return "n/a" if value is None else ("yes" if value else "NO")

    for name in only:
        e_num, e_fd = errors[name]
        row_ok = (
            proven_rec[name]
            and proven_sp[name] is not False
            and proven_exp[name] is not False
            and e_num <= RNN_NUM_TOLERANCE
            and e_fd <= FD_TOLERANCE
        )
        ok &= bool(row_ok)
        total = seconds[name] + numeric_seconds / len(only)
        print(
            f"{'∇_' + name:<9} {mark(proven_rec[name]):<10} {mark(proven_sp[name]):<8} "
            f"{mark(proven_exp[name]):<9} {_fmt(e_num):>11} {_fmt(e_fd):>9} {total:>7.2f}s"
            + ("" if row_ok else "  <-- disagrees")
        )
    print(
        f"tolerances: rnn_num {RNN_NUM_TOLERANCE:.0e}, finite differences {FD_TOLERANCE:.0e}; "
        f"{_POINTS} random points; total {time.perf_counter() - began:.2f}s"
    )
    print("all agree" if ok else "DISAGREEMENT")
    return 0 if ok else 1
