"""Errata of seed 000 (Lecture 2, Recurrent Neural Networks): the canonical model's own note.

The note's letters are the canonical ones (U, W, V, b, c, h(t), o(t), ŷ(t)); it writes a
prime for the transpose. Every check below is independent of `rnn_num`: gradients are
compared with central finite differences of a loss written out in plain NumPy, symbolic
claims are decided by SymPy, and printed numbers are recomputed from their own formulas.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from derivations.errata import _checks as ck
from derivations.errata import seed_lines
from derivations.errata._types import CheckOutcome, Confirmation, Erratum
from rnn_sym import format_error

SEED = "000_353fc027c1455118.txt"
_CATALOGUE = ck.SeedCatalogue(SEED)

# The toy example of section 1.5 has a vocabulary of N = 2 characters and 3 hidden units:
# small, and N < n_h, which is what exposes a sum over the wrong index range.
_TOY = {"T": 4, "n_x": 2, "n_h": 3, "n_y": 2}


# --------------------------------------------------------------------------------------------
# Plain NumPy pieces written from the note's own formulas (not from rnn_num).
# --------------------------------------------------------------------------------------------


def _toy_model(seed: int = 1) -> dict[str, np.ndarray]:
    return ck.canonical_model(seed=seed, **_TOY)


def _output_gradients(p) -> list[np.ndarray]:
    """(∇_{o(t)} L) = ŷ(t) − e_{y(t)}, line 134, for t = 1..T (list index t−1)."""
    forward = ck.canonical_forward(p)
    grads = []
    for t, yhat in enumerate(forward["yhat"]):
        g = yhat.copy()
        g[int(p["y"][t])] -= 1.0
        grads.append(g)
    return grads


def _state_gradients(p) -> list[np.ndarray]:
    """∇_{h(t)} L by the note's recursion (lines 149 and 153), for t = 1..T (index t−1)."""
    h = ck.canonical_forward(p)["h"]
    do = _output_gradients(p)
    T = len(do)
    dh: list[np.ndarray] = [np.zeros(0)] * T
    dh[T - 1] = p["V"].T @ do[T - 1]
    for t in range(T - 1, 0, -1):  # t = T−1 … 1, list index t−1
        dh[t - 1] = p["W"].T @ ((1 - h[t + 1] ** 2) * dh[t]) + p["V"].T @ do[t - 1]
    return dh


def _tail_loss(p, t: int, h_t: np.ndarray) -> float:
    """Σ_{s ≥ t} L(s) with the node h(t) set to h_t (t in 1..T): the part of L that h(t) reaches."""
    total, h = 0.0, np.asarray(h_t, dtype=float)
    for s in range(t, len(p["x"]) + 1):
        if s > t:
            h = np.tanh(p["b"] + p["W"] @ h + p["U"] @ p["x"][s - 1])
        o = p["c"] + p["V"] @ h
        total += float(np.log(np.sum(np.exp(o))) - o[int(p["y"][s - 1])])
    return total


def _node_gradient(p, t: int) -> np.ndarray:
    """∇_{h(t)} L by finite differences, treating h(t) as a node of the graph."""
    h_t = ck.canonical_forward(p)["h"][t]
    return ck.finite_difference_gradient(
        lambda q: _tail_loss(p, t, q["h"]), {"h": h_t}, "h", eps=1e-6
    )


def _local_state_factor(p) -> list[np.ndarray]:
    """1 − h(t)², t = 1..T (index t−1)."""
    return [1 - h**2 for h in ck.canonical_forward(p)["h"][1:]]


# --------------------------------------------------------------------------------------------
# Checks of the errata
# --------------------------------------------------------------------------------------------


def _check_sequence_as_set() -> CheckOutcome:
    sequence = (1, 0, 1, 0)  # Example 1's input, T = 4
    as_set = set(sequence)
    as_tuple = tuple(sequence)
    return ck.truth_check(
        claim_is_true=len(as_set) == len(sequence),
        correction_is_true=len(as_tuple) == 4 and as_tuple[2] == 1,
        evidence=f"the sequence 1,0,1,0 as a set is {sorted(as_set)} ({len(as_set)} elements, "
        f"order lost); as the tuple (x(1),…,x(4)) it keeps T = {len(as_tuple)} entries",
    )


def _check_missing_bias() -> CheckOutcome:
    p = ck.canonical_model(seed=2)
    x1, h0 = p["x"][0], p["h0"]
    line_41 = np.tanh(p["U"] @ x1 + p["W"] @ h0)
    line_62 = np.tanh(p["b"] + p["W"] @ h0 + p["U"] @ x1)
    corrected = np.tanh(p["b"] + p["U"] @ x1 + p["W"] @ h0)
    grad_b = ck.finite_difference_gradient(ck.canonical_loss, p, "b")
    outcome = ck.array_check(line_41, line_62, corrected, label="h(1)")
    return CheckOutcome(
        outcome.claim_refuted,
        outcome.correction_holds,
        outcome.evidence + f"; |∇_b L| = {np.linalg.norm(grad_b):.3g} ≠ 0, so b is in the model",
    )


def _check_hidden_state_named_x() -> CheckOutcome:
    p = _toy_model()
    x1 = p["x"][0]
    h1 = np.tanh(p["b"] + p["W"] @ p["h0"] + p["U"] @ x1)
    return ck.truth_check(
        claim_is_true=x1.shape == h1.shape and bool(np.allclose(x1, h1)),
        correction_is_true=h1.shape == (_TOY["n_h"],),
        evidence=f"in Example 1, x_t has shape {x1.shape} (vocabulary 2) but the new hidden "
        f"state h_t = tanh(b + W h_(t-1) + U x_t) has shape {h1.shape}",
    )


def _check_x_carries_no_context() -> CheckOutcome:
    p = _toy_model()
    other = dict(p, h0=p["h0"] + 0.5)  # another preceding context, the same data

    def step(q) -> tuple[np.ndarray, np.ndarray]:
        x1 = q["x"][0]
        return x1, np.tanh(q["b"] + q["W"] @ q["h0"] + q["U"] @ x1)

    (x_a, h_a), (x_b, h_b) = step(p), step(other)
    change_x = float(np.max(np.abs(x_a - x_b)))
    change_h = float(np.max(np.abs(h_a - h_b)))
    return ck.truth_check(
        claim_is_true=change_x > 1e-3,  # x_t would carry the context if it moved with it
        correction_is_true=change_h > 1e-3,
        evidence=f"changing h_(t-1) by 0.5 moves x_t by {change_x:.3g} and h_t by {change_h:.3g}",
    )


def _check_loss_only_at_end() -> CheckOutcome:
    p = ck.canonical_model(seed=3)
    forward = ck.canonical_forward(p)
    last_only = float(-np.log(forward["yhat"][-1][int(p["y"][-1])]))
    per_step = [float(-np.log(yh[int(p["y"][t])])) for t, yh in enumerate(forward["yhat"])]
    return ck.array_check(
        last_only, ck.canonical_loss(p), sum(per_step), label="L (loss at the end vs Σ_t L(t))"
    )


def _check_gradient_of_node_not_of_L_t() -> CheckOutcome:
    p = ck.canonical_model(seed=4)
    t = 2  # of T = 4: h(2) reaches L(2), L(3), L(4)
    do = _output_gradients(p)
    grad_of_L_t = p["V"].T @ do[t - 1]  # ∇_{h(t)} L(t): only the loss at step t
    recursion = _state_gradients(p)[t - 1]  # ∇_{h(t)} L by line 153
    return ck.array_check(grad_of_L_t, _node_gradient(p, t), recursion, rtol=1e-6, label="∇_{h(2)}")


def _total_state_jacobian_wrt_b(p, t: int) -> np.ndarray:
    """dh(t)/db with h(t−1) ALSO moving with b (the total derivative), by finite differences."""

    def h_t(b: np.ndarray) -> np.ndarray:
        q = dict(p, b=b)
        return ck.canonical_forward(q)["h"][t]

    b = np.asarray(p["b"], dtype=float)
    columns = []
    for j in range(b.size):
        step = np.zeros_like(b)
        step[j] = 1e-6
        columns.append((h_t(b + step) - h_t(b - step)) / 2e-6)
    return np.stack(columns, axis=1)


def _check_bias_local_derivative() -> CheckOutcome:
    p = ck.canonical_model(seed=5)
    T = len(p["x"])
    dh = _state_gradients(p)

    def with_total_jacobian(q) -> np.ndarray:
        return sum(_total_state_jacobian_wrt_b(q, t).T @ dh[t - 1] for t in range(1, T + 1))

    def with_local_jacobian(q) -> np.ndarray:
        return sum(np.diag(f) @ g for f, g in zip(_local_state_factor(q), dh, strict=True))

    return ck.gradient_formula_check(with_total_jacobian, with_local_jacobian, "b", params=p)


def _check_V_row_gradient() -> CheckOutcome:
    p = _toy_model(seed=6)
    do = _output_gradients(p)
    h = ck.canonical_forward(p)["h"]
    n_y = p["V"].shape[0]

    def literal(q) -> np.ndarray:  # ∇_{V_i} o_i(t) = h(t): a vector, the same for every i
        return sum(sum(do[t][i] * h[t + 1] for i in range(n_y)) for t in range(len(do)))

    def per_step_copy(q) -> np.ndarray:  # ∇_{V^(t)} o_i(t) = e_i h(t)ᵀ
        eye = np.eye(n_y)
        return sum(
            sum(do[t][i] * np.outer(eye[i], h[t + 1]) for i in range(n_y)) for t in range(len(do))
        )

    outcome = ck.gradient_formula_check(literal, per_step_copy, "V", params=p)
    literal_norm = float(np.linalg.norm(literal(p)))
    return CheckOutcome(
        outcome.claim_refuted,
        outcome.correction_holds,
        outcome.evidence + "; read literally the sum is a vector of norm "
        f"{format_error(literal_norm, 1e-9)} "
        "(Σ_i ∂L/∂o_i(t) = 0 for softmax with cross-entropy)",
    )


def _hidden_sum(p, name: str, rows: int, literal_rows: bool) -> np.ndarray:
    """Σ_t Σ_{i<rows} ∂L/∂h_i(t) · (gradient of h_i(t) w.r.t. W or U, locally).

    literal_rows: ∇_{W_i} h_i(t) as written, the gradient w.r.t. row i (a vector);
    otherwise Goodfellow's ∇_{W^(t)} h_i(t) = (1 − h_i(t)²) e_i h(t−1)ᵀ (a matrix).
    """
    h = ck.canonical_forward(p)["h"]
    dh = _state_gradients(p)
    factor = _local_state_factor(p)
    n_h = h[0].size
    total = None
    for t in range(1, len(p["x"]) + 1):
        inner = h[t - 1] if name == "W" else p["x"][t - 1]
        for i in range(rows):
            row_gradient = factor[t - 1][i] * inner
            term = (
                dh[t - 1][i] * row_gradient
                if literal_rows
                else dh[t - 1][i] * np.outer(np.eye(n_h)[i], row_gradient)
            )
            total = term if total is None else total + term
    return total


def _check_sum_bound(name: str) -> CheckOutcome:
    p = _toy_model(seed=7)
    n_y, n_h = p["V"].shape
    return ck.gradient_formula_check(
        lambda q: _hidden_sum(q, name, n_y, literal_rows=False),
        lambda q: _hidden_sum(q, name, n_h, literal_rows=False),
        name,
        params=p,
    )


def _check_row_gradient(name: str) -> CheckOutcome:
    p = _toy_model(seed=8)
    n_h = p["W"].shape[0]
    return ck.gradient_formula_check(
        lambda q: _hidden_sum(q, name, n_h, literal_rows=True),
        lambda q: _hidden_sum(q, name, n_h, literal_rows=False),
        name,
        params=p,
    )


def _check_initial_state_index() -> CheckOutcome:
    p = _toy_model(seed=9)
    zero = np.zeros(_TOY["n_h"])
    character_1 = np.array([0.0, 1.0])
    example_h0 = np.tanh(p["b"] + p["W"] @ zero + p["U"] @ character_1)  # the example's h(0)
    # Re-indexed t = 1..T with h(0) = 0, the example's h(t-1) is the note's h(t):
    note_h1 = ck.canonical_forward(dict(p, h0=zero, x=np.array([character_1])))["h"][1]
    return ck.truth_check(
        claim_is_true=bool(np.allclose(example_h0, zero)),
        correction_is_true=bool(np.allclose(example_h0, note_h1)),
        evidence=f"the example's h(0) = tanh(b + U x(0)) has norm {np.linalg.norm(example_h0):.3g}, "
        "while the model's h(0) is the initial state (zero); indexing t = 1..T with h(0) = 0 "
        "reproduces the example's first state as h(1)",
    )


_LOGITS_LINE_252 = (-0.01, -0.02)


def _p1_from_line_252() -> float:
    e1, e2 = (math.exp(v) for v in _LOGITS_LINE_252)
    return e1 / (e1 + e2)


def _check_first_loss() -> CheckOutcome:
    return ck.number_check(
        "0.69665", -math.log(_p1_from_line_252()), "0.68816", label="l(0) = −log p_1"
    )


def _check_p1() -> CheckOutcome:
    return ck.number_check("0.49745027539104264", _p1_from_line_252(), "0.50250", label="p_1")


def _check_p2() -> CheckOutcome:
    e1, e2 = (math.exp(v) for v in _LOGITS_LINE_252)
    printed_sum = 0.49745027539104264 + 0.4925005624493796
    return ck.combine(
        ck.number_check("0.4925005624493796", e2 / (e1 + e2), "0.49750", label="p_2"),
        ck.number_check(f"{printed_sum:.6f}", 1.0, "1.000000", label="printed p_1 + p_2"),
    )


def _check_loss_letter() -> CheckOutcome:
    p1 = _p1_from_line_252()
    likelihood_factor, loss = p1, -math.log(p1)  # l of line 491 vs l(0) of line 263
    return ck.truth_check(
        claim_is_true=math.isclose(likelihood_factor, loss),
        correction_is_true=math.isclose(loss, -math.log(likelihood_factor)),
        evidence=f"with p_1 = {p1:.5f}: the likelihood factor is {likelihood_factor:.5f}, "
        f"the loss −log p_1 is {loss:.5f}; the letter l cannot name both",
    )


def _check_trained_final_loss() -> CheckOutcome:
    # Cumulative losses printed for loops 0, 1, 2 of Example 2 (lines 345, 361, 366).
    cumulative = (0.000062368382, 0.0001279723, 0.0001903406)
    step = (cumulative[0], cumulative[1] - cumulative[0], cumulative[2] - cumulative[1])
    periodic = abs(step[2] - step[0]) < 1e-9  # inputs alternate: step 2 repeats step 0
    implied_p = math.exp(-(2.77402 - cumulative[2]))
    outcome = ck.number_check(
        "2.77402", cumulative[2] + step[1], "0.0002559", label="cumulative loss after loop 3"
    )
    return CheckOutcome(
        outcome.claim_refuted,
        outcome.correction_holds and periodic,
        outcome.evidence + f"; step losses {step[0]:.4e}, {step[1]:.4e}, {step[2]:.4e} "
        f"(step 2 = step 0, so step 3 = step 1); 2.77402 would need p(target) = {implied_p:.3f}",
    )


def _check_example_3_sequence() -> CheckOutcome:
    printed = [1, 1, 0, 1, 1, 0, 1, 0]
    pattern = [(1, 1, 0)[i % 3] for i in range(8)]
    inputs, targets = pattern[:4], pattern[1:5]  # line 385: 1,1,0,1 -> 1,0,1,1
    consistent = inputs == [1, 1, 0, 1] and targets == [1, 0, 1, 1]
    outcome = ck.array_check(printed, pattern, pattern, label="Example 3's sequence")
    return CheckOutcome(
        outcome.claim_refuted,
        outcome.correction_holds and consistent,
        outcome.evidence + f"; period-3 pattern {pattern} matches line 385's inputs and targets",
    )


def _check_example_3_final_loss() -> CheckOutcome:
    untrained_final = seed_lines(SEED)[323].strip()  # line 324, Example 1 after loop 3
    previous = 0.0004583  # line 404, after loop 2
    implied_p = math.exp(-(2.77402 - previous))
    bound = previous + math.log(2)  # every step right (p > 1/2) means each step loss < ln 2
    return ck.truth_check(
        claim_is_true=2.77402 <= bound,
        correction_is_true=untrained_final == "Loss = 2.77402"
        and abs(2.77402 - 4 * math.log(2)) < 2e-3,
        evidence=f"2.77402 would mean p(target) = {implied_p:.3f} at loop 3 (wrong character "
        f"predicted), above the bound {bound:.4f}; it is line 324's untrained value ≈ 4 ln 2",
    )


def _check_likelihood_conditioning() -> CheckOutcome:
    p = ck.canonical_model(seed=10)
    t = 3  # x(1) changes, x(3) does not: p[y(3) | ...] must not change if it depended on x(3) only
    changed = dict(p, x=p["x"].copy())
    changed["x"][0] += 1.0

    def probability(q) -> float:
        return float(ck.canonical_forward(q)["yhat"][t - 1][int(q["y"][t - 1])])

    before, after = probability(p), probability(changed)
    per_step = [float(yh[int(p["y"][s])]) for s, yh in enumerate(ck.canonical_forward(p)["yhat"])]
    nll = -math.log(math.prod(per_step))
    return ck.truth_check(
        claim_is_true=math.isclose(before, after, rel_tol=1e-12),
        correction_is_true=math.isclose(nll, ck.canonical_loss(p), rel_tol=1e-12),
        evidence=f"changing x(1) with x(3) fixed moves the RNN's p[y(3)] from {before:.5f} to "
        f"{after:.5f}; −log Π_t p[y(t) | x(1..t)] = {nll:.6f} = L",
    )


def _check_softmax_open_interval() -> CheckOutcome:
    o = sp.Symbol("o", real=True)
    single = sp.exp(o) / sp.exp(o)
    d = sp.Symbol("d", real=True)  # N = 2: p_1 = 1 / (1 + e^(o_2 − o_1))
    p_two = 1 / (1 + sp.exp(d))
    in_open_interval = bool(sp.simplify(p_two) != 1) and all(
        0 < float(p_two.subs(d, v)) < 1 for v in (-30, -1, 0, 2, 30)
    )
    return ck.truth_check(
        claim_is_true=sp.simplify(single - 1) != 0,
        correction_is_true=in_open_interval,
        evidence="N = 1: softmax(o) = e^o / e^o = 1, not in (0, 1); for N ≥ 2 each p_j = "
        "1/(1 + Σ_{k≠j} e^{o_k − o_j}) lies strictly between 0 and 1",
    )


def _check_softmax_second_example() -> CheckOutcome:
    o = np.array([1.0, 2.0, 5.0])
    p = ck.softmax(o)
    return ck.combine(
        ck.number_check("0.93", float(p[2]), "0.94", label="softmax([1, 2, 5])_3"),
        ck.number_check("0.02", float(p[0]), label="softmax([1, 2, 5])_1"),
        ck.number_check("0.05", float(p[1]), label="softmax([1, 2, 5])_2"),
    )


def _check_logistic_y() -> CheckOutcome:
    z = sp.Symbol("z", real=True)
    sigma = sp.exp(z) / (1 + sp.exp(z))
    reaches_label = sp.solveset(sp.Eq(sigma, 1), z, domain=sp.S.Reals) != sp.S.EmptySet or (
        sp.solveset(sp.Eq(sigma, 0), z, domain=sp.S.Reals) != sp.S.EmptySet
    )
    two_class_softmax = sp.exp(z) / (sp.exp(z) + sp.exp(0))
    outcome = ck.sympy_residual_check(sigma, two_class_softmax)
    return ck.truth_check(
        claim_is_true=bool(reaches_label),
        correction_is_true=outcome.correction_holds,
        evidence="e^z/(1 + e^z) never equals a label 0 or 1 (no real solution); it equals "
        "P(y = 1 | x) = softmax([z, 0])_1, proven by SymPy",
    )


def _check_gradient_is_not_a_slope() -> CheckOutcome:
    t1, t2, s = sp.symbols("theta1 theta2 s", real=True)
    f = t1**2 + 3 * t2
    at = {t1: 1, t2: 0}
    grad = sp.Matrix([f.diff(t1), f.diff(t2)]).subs(at)
    directions = [
        sp.Matrix([1, 0]),
        sp.Matrix([0, 1]),
        sp.Matrix([sp.Rational(3, 5), sp.Rational(4, 5)]),
    ]
    slopes = [
        sp.limit((f.subs({t1: 1 + s * u[0], t2: s * u[1]}) - f.subs(at)) / s, s, 0)
        for u in directions
    ]
    as_dot_products = [(grad.T * u)[0] for u in directions]
    return ck.truth_check(
        claim_is_true=len(set(slopes)) == 1,  # one "gradient" cannot be every direction's slope
        correction_is_true=all(
            sp.simplify(a - b) == 0 for a, b in zip(slopes, as_dot_products, strict=True)
        ),
        evidence=f"f = θ1² + 3θ2 at (1, 0): the slopes along (1,0), (0,1), (3/5,4/5) are "
        f"{', '.join(map(str, slopes))}, each equal to ∇f·u with the one vector ∇f = {list(grad)}",
    )


def _check_partial_derivative_argument() -> CheckOutcome:
    t1, t2 = sp.symbols("theta1 theta2", real=True)
    loss = t1**2 * t2 + t2**2
    d1 = loss.diff(t1)
    at_a, at_b = d1.subs({t1: 1, t2: 1}), d1.subs({t1: 1, t2: 2})
    return ck.truth_check(
        claim_is_true=at_a == at_b,  # were ∂L/∂θ1 a function of θ1 alone, these would agree
        correction_is_true=d1 == 2 * t1 * t2,
        evidence=f"L = θ1²θ2 + θ2²: ∂L/∂θ1 = {d1} is {at_a} at θ = (1, 1) and {at_b} at "
        "θ = (1, 2): it depends on θ2^0 too",
    )


def _check_decay_name() -> CheckOutcome:
    eta, k = sp.symbols("eta k", positive=True)
    printed = eta / sp.sqrt(k + 1)
    return ck.sympy_residual_check(printed, eta / (k + 1), printed / eta, 1 / sp.sqrt(k + 1))


def _check_adagrad_previous() -> CheckOutcome:
    g0, g1 = sp.symbols("g0 g1", real=True)
    only_previous = sp.sqrt(g0**2)  # σ^1 from the derivatives before step 1
    line_646 = sp.sqrt(sp.Rational(1, 2) * (g0**2 + g1**2))
    up_to_current = sp.sqrt(sp.Rational(1, 2) * (g0**2 + g1**2))
    return ck.sympy_residual_check(only_previous, line_646, up_to_current, line_646)


def _check_adagrad_needs_decay() -> CheckOutcome:
    eta = sp.Symbol("eta", positive=True)
    g = sp.symbols("g0:3", positive=True)
    k = 2
    sigma_k = sp.sqrt(sum(gi**2 for gi in g) / (k + 1))
    adagrad = eta / sp.sqrt(sum(gi**2 for gi in g))
    return ck.sympy_residual_check(
        eta / sigma_k, adagrad, (eta / sp.sqrt(k + 1)) / sigma_k, adagrad
    )


def _check_expansion_point() -> CheckOutcome:
    theta, eps, x = sp.symbols("theta epsilon x", real=True)

    def taylor_2(about: sp.Expr) -> sp.Expr:  # second-order Taylor polynomial of exp, in x
        return sp.exp(about) * (1 + (x - about) + (x - about) ** 2 / 2)

    printed_rhs = sp.exp(theta) + sp.exp(theta) * eps + sp.exp(theta) * eps**2 / 2
    # The printed right-hand side is the polynomial about θ (evaluated at x = θ + ε), and the
    # polynomial about θ + ε is a different function of x:
    return ck.sympy_residual_check(
        taylor_2(theta + eps), taylor_2(theta), taylor_2(theta).subs(x, theta + eps), printed_rhs
    )


def _check_taylor_equality() -> CheckOutcome:
    theta, eps = sp.symbols("theta epsilon", real=True)
    printed = sp.exp(theta) * (1 + eps + eps**2 / 2)
    remainder_rate = sp.limit((sp.exp(theta + eps) - printed) / eps**3, eps, 0)
    return ck.sympy_residual_check(sp.exp(theta + eps), printed, remainder_rate, sp.exp(theta) / 6)


def _check_newton_needs_convexity() -> CheckOutcome:
    L0, L1, L2, eps = sp.symbols("L0 L1 L2 epsilon", real=True)
    model = L0 + L1 * eps + L2 * eps**2 / 2
    step = -L1 / L2
    # The stationary point is a maximum when L'' < 0, e.g. L = cos at θ = 0.3:
    theta = sp.Rational(3, 10)
    values = {L0: sp.cos(theta), L1: -sp.sin(theta), L2: -sp.cos(theta)}
    gain = sp.N((model.subs(eps, step) - model.subs(eps, 0)).subs(values))
    completed_square = model - (model.subs(eps, step) + L2 / 2 * (eps - step) ** 2)
    return ck.truth_check(
        claim_is_true=gain <= 0,
        correction_is_true=sp.simplify(completed_square) == 0,
        evidence=f"L = cos at θ = 0.3 (L'' < 0): the model at ε = −L'/L'' is {gain:.4f} ABOVE its "
        "value at ε = 0; q(ε) = q(ε*) + ½L''(ε − ε*)² (SymPy), a minimum only when L'' > 0",
    )


# --------------------------------------------------------------------------------------------
# Checks of what the note gets right
# --------------------------------------------------------------------------------------------


def _confirm_tanh_formula() -> CheckOutcome:
    z = sp.Symbol("z", real=True)
    return ck.sympy_residual_check(
        (sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z)), sp.tanh(z).rewrite(sp.exp)
    )


def _confirm_output_gradient() -> CheckOutcome:
    o = sp.symbols("o1:4", real=True)
    target = 1  # y(t) = class 2 of 3
    denominator = sum(sp.exp(v) for v in o)
    loss = -sp.log(sp.exp(o[target]) / denominator)
    gradient = sp.Matrix([loss.diff(v) for v in o])
    claimed = sp.Matrix([sp.exp(o[i]) / denominator - (1 if i == target else 0) for i in range(3)])
    return ck.sympy_residual_check(gradient, claimed)


def _confirm_last_state_gradient() -> CheckOutcome:
    p = ck.canonical_model(seed=11)
    T = len(p["x"])
    return ck.array_check(
        p["V"].T @ _output_gradients(p)[T - 1], _node_gradient(p, T), label="∇_{h(T)} L"
    )


def _confirm_state_recursion() -> CheckOutcome:
    p = ck.canonical_model(seed=12)
    t = 2
    h = ck.canonical_forward(p)["h"]
    next_gradient = _node_gradient(p, t + 1)  # both sides from finite differences
    recursion = (
        p["W"].T @ np.diag(1 - h[t + 1] ** 2) @ next_gradient
        + p["V"].T @ _output_gradients(p)[t - 1]
    )
    return ck.array_check(recursion, _node_gradient(p, t), rtol=1e-6, label="∇_{h(2)} L")


def _confirm_parameter_gradient(name: str) -> CheckOutcome:
    p = ck.canonical_model(seed=13)

    def formula(q) -> np.ndarray:
        h = ck.canonical_forward(q)["h"]
        do, dh = _output_gradients(q), _state_gradients(q)
        factor = _local_state_factor(q)
        T = len(do)
        terms = {
            "c": lambda t: do[t],
            "b": lambda t: np.diag(factor[t]) @ dh[t],
            "V": lambda t: np.outer(do[t], h[t + 1]),
            "W": lambda t: np.outer(np.diag(factor[t]) @ dh[t], h[t]),
            "U": lambda t: np.outer(np.diag(factor[t]) @ dh[t], q["x"][t]),
        }[name]
        return sum(terms(t) for t in range(T))

    return ck.gradient_formula_check(formula, None, name, params=p)


def _confirm_negative_log_product() -> CheckOutcome:
    p = sp.symbols("p1:4", positive=True)
    return ck.sympy_residual_check(
        sp.expand_log(-sp.log(sp.Mul(*p)), force=True), -sum(sp.log(v) for v in p)
    )


def _confirm_softmax_sums_to_one() -> CheckOutcome:
    o = sp.symbols("o1:4", real=True)
    denominator = sum(sp.exp(v) for v in o)
    return ck.sympy_residual_check(sum(sp.exp(v) / denominator for v in o), 1)


def _confirm_softmax_first_example() -> CheckOutcome:
    p = ck.softmax(np.array([1.0, 2.0, 3.0]))
    return ck.combine(
        *(
            ck.number_check(text, float(v), label=f"softmax([1,2,3])_{i + 1}")
            for i, (text, v) in enumerate(zip(("0.09", "0.24", "0.67"), p, strict=True))
        )
    )


def _confirm_example_3_targets() -> CheckOutcome:
    pattern = [(1, 1, 0)[i % 3] for i in range(5)]
    return ck.array_check([1, 0, 1, 1], pattern[1:5], label="targets for inputs 1,1,0,1")


def _confirm_toy_shapes() -> CheckOutcome:
    p = _toy_model()
    largest = max((p[k].shape for k in ("U", "W", "V")), key=lambda s: s[0] * s[1])
    return ck.array_check(
        list(largest), [3, 3], label="largest weight matrix (U 3×2, W 3×3, V 2×3)"
    )


def _confirm_adagrad_second_step() -> CheckOutcome:
    eta, g0, g1 = sp.symbols("eta g0 g1", positive=True)
    sigma_1 = sp.sqrt(sp.Rational(1, 2) * (g0**2 + g1**2))
    eta_1 = eta / sp.sqrt(2)  # η^k = η/√(k+1), line 625
    return ck.sympy_residual_check(eta_1 / sigma_1, eta / sp.sqrt(g0**2 + g1**2))


def _confirm_newton_step() -> CheckOutcome:
    L0, L1, L2, eps = sp.symbols("L0 L1 L2 epsilon", real=True)
    model = L0 + L1 * eps + L2 * eps**2 / 2
    return ck.sympy_residual_check(model.diff(eps).subs(eps, -L1 / L2), 0)


def _confirm_operation_count() -> CheckOutcome:
    return ck.number_check("1000000000", 10_000 * 100 * 1000, label="10,000 × K × 1000, K = 100")


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------


_erratum = _CATALOGUE.erratum

ERRATA: list[Erratum] = [
    _erratum(
        1,
        10,
        r"x(t) = \{x(1), \dots, x(T)\}",
        "misleading notation",
        "low",
        r"The left-hand side $x(t)$ is one element of the sequence, the right-hand side the "
        r"whole sequence, and written as a set: a set loses the order and the repetitions that "
        r"make a sequence (the note's own input 1,0,1,0 is the set $\{0, 1\}$).",
        r"x = \big(x(1), x(2), \dots, x(T)\big),\quad x(t) \text{ its } t\text{-th element}",
        _check_sequence_as_set,
    ),
    _erratum(
        2,
        41,
        r"h(t) = f(U \cdot x(t) + W \cdot h(t - 1))",
        "wrong formula",
        "medium",
        r"The hidden bias $b$ is missing; the forward pass on line 62 and the gradient "
        r"$\nabla_b L$ on line 157 both use $a(t) = b + W h(t-1) + U x(t)$, and with $b \neq 0$ "
        r"the two formulas give different states.",
        r"h(t) = f\big(b + W h(t-1) + U x(t)\big)",
        _check_missing_bias,
    ),
    _erratum(
        3,
        80,
        r"to produce a new hidden state  $x_t$",
        "copy-paste",
        "medium",
        r"The new hidden state is $h_t$, not $x_t$ (the input just named in the same "
        r"sentence); in Example 1 they do not even have the same size (2 against 3).",
        r"h_t = \tanh\big(b + W h_{t-1} + U x_t\big)",
        _check_hidden_state_named_x,
    ),
    _erratum(
        4,
        81,
        r"The hidden state  $x_t$  captures",
        "copy-paste",
        "low",
        r"Again $x_t$ for the hidden state: the input $x_t$ is data and carries no "
        r"information about the preceding context; $h_t$ does, through $h_{t-1}$.",
        r"\text{the hidden state } h_t \text{ captures the current input and the context } h_{t-1}",
        _check_x_carries_no_context,
    ),
    _erratum(
        5,
        85,
        "At the end of the sequence, the output is compared to the target values to calculate the loss",
        "false claim",
        "low",
        r"In the note's many-to-many model every output $o(t)$ is compared with its target "
        r"$y(t)$ and the loss is the sum over all steps (line 64); comparing only at the end "
        r"gives $L(T)$, a different loss with different gradients.",
        r"L = \sum_{t=1}^{T} L(t),\quad L(t) = -\log \hat{y}(t)_{y(t)}",
        _check_loss_only_at_end,
    ),
    _erratum(
        6,
        129,
        r"we need to compute the gradient  $\nabla L(t)$  recursively",
        "misleading notation",
        "medium",
        r"What is computed recursively for each node $N$ is $\nabla_N L$, the gradient of the "
        r"TOTAL loss with respect to that node, not the gradient of the per-step loss $L(t)$: "
        r"for $t < T$, $\nabla_{h(t)} L(t) = V^\top \nabla_{o(t)} L$ misses the paths through "
        r"$h(t+1)$.",
        r"\nabla_{N} L \text{ for every node } N \in \{o(t), h(t)\},\ \text{e.g. } "
        r"\nabla_{h(t)} L = W^\top \operatorname{diag}(1 - h(t+1)^2) \nabla_{h(t+1)} L + V^\top \nabla_{o(t)} L",
        _check_gradient_of_node_not_of_L_t,
    ),
    _erratum(
        7,
        157,
        r"\left( \frac{\partial h(t)}{\partial b} \right)' \nabla_{h(t)} L",
        "unstated assumption",
        "medium",
        r"$\partial h(t)/\partial b$ must be the LOCAL derivative, with $h(t-1)$ held fixed "
        r"(Goodfellow's copy $b^{(t)}$ used only at step $t$); the note does not say so. Read as "
        r"the total derivative (through $h(t-1), h(t-2), \dots$ as well) the sum counts every "
        r"path many times and gives a wrong $\nabla_b L$.",
        r"\nabla_b L = \sum_{t=1}^{T} \Big(\frac{\partial h(t)}{\partial b^{(t)}}\Big)^\top "
        r"\nabla_{h(t)} L = \sum_{t=1}^{T} \operatorname{diag}(1 - h(t)^2)\, \nabla_{h(t)} L",
        _check_bias_local_derivative,
    ),
    _erratum(
        8,
        157,
        r"\nabla_{V_i} o_i(t)",
        "misleading notation",
        "medium",
        r"$\nabla_{V_i} o_i(t)$, the gradient with respect to row $V_i$, is the vector $h(t)$; "
        r"summed over $i$ with weights $\partial L/\partial o_i(t)$ it gives a vector (in fact "
        r"zero, since $\sum_i (\hat{y}_i - 1_{i=y}) = 0$), not the matrix $\nabla_V L$. The "
        r"source (Goodfellow et al., section 10.2.2) has $\nabla_{V^{(t)}}$, the copy of $V$ used at step $t$.",
        r"\nabla_V L = \sum_{t=1}^{T} \sum_{i=1}^{N} \frac{\partial L}{\partial o_i(t)} "
        r"\nabla_{V^{(t)}} o_i(t) = \sum_{t=1}^{T} (\nabla_{o(t)} L)\, h(t)^\top,\quad "
        r"\nabla_{V^{(t)}} o_i(t) = e_i\, h(t)^\top",
        _check_V_row_gradient,
    ),
    _erratum(
        9,
        157,
        r"\nabla_W L &= \sum_t^T \sum_i^N",
        "wrong sum bound",
        "medium",
        r"The inner sum runs over the components of $h(t)$, i.e. over the $n_h$ hidden "
        r"units, but its bound is $N$, the number of output classes (line 136). In Example 1 "
        r"$N = 2 < n_h = 3$, and stopping at $N$ drops the last hidden unit's rows.",
        r"\nabla_W L = \sum_{t=1}^{T} \sum_{i=1}^{n_h} \frac{\partial L}{\partial h_i(t)} "
        r"\nabla_{W^{(t)}} h_i(t)",
        lambda: _check_sum_bound("W"),
    ),
    _erratum(
        10,
        157,
        r"\nabla_{W_i} h_i(t)",
        "misleading notation",
        "medium",
        r"As for $V$: $\nabla_{W_i} h_i(t) = (1 - h_i(t)^2)\, h(t-1)$ is a vector, so the "
        r"middle expression sums vectors and cannot equal the matrix $\nabla_W L$; the gradient "
        r"meant is with respect to $W^{(t)}$, the copy of $W$ used at step $t$ only.",
        r"\nabla_{W^{(t)}} h_i(t) = (1 - h_i(t)^2)\, e_i\, h(t-1)^\top",
        lambda: _check_row_gradient("W"),
    ),
    _erratum(
        11,
        159,
        r"\nabla_U L = \sum_t \sum_i^N",
        "wrong sum bound",
        "medium",
        r"Same as for $W$: $i$ indexes the hidden units, so the bound is $n_h$, not the number "
        r"of outputs $N$; the outer sum also lacks its range $t = 1, \dots, T$.",
        r"\nabla_U L = \sum_{t=1}^{T} \sum_{i=1}^{n_h} \frac{\partial L}{\partial h_i(t)} "
        r"\nabla_{U^{(t)}} h_i(t)",
        lambda: _check_sum_bound("U"),
    ),
    _erratum(
        12,
        159,
        r"\nabla_{U_i} h_i(t)",
        "misleading notation",
        "medium",
        r"$\nabla_{U_i} h_i(t) = (1 - h_i(t)^2)\, x(t)$ is a vector of the input's size; the "
        r"sum of such vectors is not the matrix $\nabla_U L$. The gradient meant is with "
        r"respect to $U^{(t)}$.",
        r"\nabla_{U^{(t)}} h_i(t) = (1 - h_i(t)^2)\, e_i\, x(t)^\top",
        lambda: _check_row_gradient("U"),
    ),
    _erratum(
        13,
        214,
        r"initialize hidden state  $h(-1)$",
        "misleading notation",
        "low",
        r"The model (lines 10-12, 62, 151) runs $t = 1, \dots, T$ from the initial state "
        r"$h(0)$; the example runs $t = 0, \dots, 3$ from $h(-1)$, so $h(0)$ names the initial "
        r"state in the derivation and the first computed state in the example.",
        r"t = 1, \dots, 4,\quad h(0) = 0,\quad h(1) = \tanh\big(b + W h(0) + U x(1)\big)",
        _check_initial_state_index,
    ),
    _erratum(
        14,
        246,
        "loss = 0.69665",
        "wrong number",
        "medium",
        r"With target 0 the loss is $l(0) = -\log p_1$ (line 263), and line 252's logits "
        r"$(-0.01, -0.02)$ give $p_1 = 0.50250$, so $l(0) = 0.68816$. The printed 0.69665 "
        r"would need $p_1 = 0.49825$: the logits and the loss do not come from the same run.",
        r"l(0) = -\log\frac{e^{-0.01}}{e^{-0.01} + e^{-0.02}} = 0.68816",
        _check_first_loss,
    ),
    _erratum(
        15,
        252,
        "= 0.49745027539104264",
        "wrong number",
        "high",
        r"$e^{-0.01}/(e^{-0.01} + e^{-0.02}) = 1/(1 + e^{-0.01}) = 0.502500$: the larger "
        r"logit gets the probability above one half, not below.",
        r"p_1 = \frac{e^{-0.01}}{e^{-0.01} + e^{-0.02}} = \frac{1}{1 + e^{-0.01}} = 0.502500",
        _check_p1,
    ),
    _erratum(
        16,
        254,
        "= 0.4925005624493796",
        "wrong number",
        "high",
        r"$e^{-0.02}/(e^{-0.01} + e^{-0.02}) = 0.497500$. The two printed probabilities add "
        r"up to 0.98995, but softmax outputs always add up to 1.",
        r"p_2 = \frac{e^{-0.02}}{e^{-0.01} + e^{-0.02}} = 1 - p_1 = 0.497500",
        _check_p2,
    ),
    _erratum(
        17,
        263,
        r"l(0) = -\log(p_1)",
        "misleading notation",
        "low",
        r"The letter $l$ names the per-step LOSS here but the LIKELIHOOD "
        r"$l(y|x,\theta) = \prod_t p[\cdot]$ on line 491; one is $-\log$ of the other's factors.",
        r"L(0) = -\log p_1 \quad(\text{the likelihood factor is } p_1 \text{ itself})",
        _check_loss_letter,
    ),
    _erratum(
        18,
        372,
        "(Loss = 2.77402)",
        "copy-paste",
        "high",
        "The trained network's cumulative loss after loop 3 is printed as 2.77402, Example 1's "
        "UNTRAINED value (line 324). The printed losses of loops 0-2 show the per-step losses "
        "alternate (step 2 = step 0 = 6.2368e-5), so step 3 repeats step 1 (6.5604e-5) and the "
        "total is 0.0002559; 2.77402 would mean the last character gets probability 0.062.",
        r"\text{Loss after loop 3} = 0.0001903406 + 0.0000656039 = 0.0002559",
        _check_trained_final_loss,
    ),
    _erratum(
        19,
        381,
        "1,1,0,1,1,0,1,0, ...",
        "wrong number",
        "low",
        "The sequence repeats the block 1,1,0 (that is why the network must know whether it is "
        "on the first or the second 1, line 383, and why line 385 maps 1,1,0,1 to 1,0,1,1); its "
        "eighth character is therefore 1, not 0.",
        r"1,1,0,1,1,0,1,1,\dots",
        _check_example_3_sequence,
    ),
    _erratum(
        20,
        410,
        "Loss = 2.77402",
        "copy-paste",
        "high",
        r"Again Example 1's untrained total ($\approx 4 \ln 2$) copied in. After loop 2 the "
        r"total is 0.0004583; a network that predicts loop 3 correctly (as line 417 says) adds "
        r"less than $\ln 2$, while 2.77402 would mean probability 0.062 for the right character.",
        r"0.0004583 < \text{Loss after loop 3} < 0.0004583 + \ln 2",
        _check_example_3_final_loss,
    ),
    _erratum(
        21,
        493,
        r"\prod_{t=1}^T p[y(t)|x(t), \theta]",
        "wrong formula",
        "high",
        r"The RNN's prediction at step $t$ depends on the whole input so far through $h(t-1)$, "
        r"not on $x(t)$ alone (the note says 'given the input so far' on line 495): changing "
        r"$x(1)$ changes $p[y(3)]$. The same conditioning error is on lines 487 and 497.",
        r"l(y \mid x, \theta) = \prod_{t=1}^{T} p\big[y(t) \mid x(1), \dots, x(t), \theta\big] "
        r"= \prod_{t=1}^{T} \hat{y}(t)_{y(t)}",
        _check_likelihood_conditioning,
    ),
    _erratum(
        22,
        511,
        r"Therefore, it's in the range  $(0, 1)$",
        "unstated assumption",
        "low",
        r"True only for $N \ge 2$: the argument needs 'some other positive numbers' in the "
        r"denominator, i.e. a second class; with a single class the softmax is $e^{o}/e^{o} = 1$.",
        r"N \ge 2 \implies 0 < p_j = \Big(1 + \sum_{k \ne j} e^{o_k - o_j}\Big)^{-1} < 1",
        _check_softmax_open_interval,
    ),
    _erratum(
        23,
        513,
        "$[0.02, 0.05, 0.93]$",
        "wrong number",
        "low",
        r"$\operatorname{softmax}([1, 2, 5]) = [0.0171, 0.0466, 0.9362]$; to two decimals the "
        r"last entry is 0.94 (0.93 makes the rounded values add up to 1, but it is not the "
        r"rounded value).",
        r"\operatorname{softmax}([1.0, 2.0, 5.0]) = [0.02, 0.05, 0.94]",
        _check_softmax_second_example,
    ),
    _erratum(
        24,
        531,
        r"y = \frac{\exp(\beta_0 + \beta_1 x)}{1 + \exp(\beta_0 + \beta_1 x)}",
        "misleading notation",
        "low",
        r"The right-hand side is a probability strictly between 0 and 1, never the label "
        r"$y \in \{0, 1\}$; it is $P(y = 1 \mid x)$, the two-class softmax of line 525.",
        r"P(y = 1 \mid x) = \frac{\exp(\beta_0 + \beta_1 x)}{1 + \exp(\beta_0 + \beta_1 x)} "
        r"= \operatorname{softmax}\big([\beta_0 + \beta_1 x,\ 0]\big)_1",
        _check_logistic_y,
    ),
    _erratum(
        25,
        572,
        "Gradient is the slope of a curve at a given point in a specified direction",
        "false claim",
        "low",
        r"The slope in a specified direction $u$ is the directional derivative $\nabla f \cdot u$, "
        r"a number; the gradient is the vector of all partial derivatives (the direction of "
        r"steepest ascent), as the same paragraph then says.",
        r"D_u f(\theta) = \nabla f(\theta)^\top u,\quad "
        r"\nabla f = \big(\partial f/\partial \theta_1, \partial f/\partial \theta_2\big)^\top",
        _check_gradient_is_not_a_slope,
    ),
    _erratum(
        26,
        586,
        r"\partial L(\theta_1^0)/\partial \theta_1",
        "misleading notation",
        "medium",
        r"$L$ depends on both parameters, so its partial derivative with respect to $\theta_1$ "
        r"must be evaluated at the whole point $\theta^0 = (\theta_1^0, \theta_2^0)$; "
        r"'$L(\theta_1^0)$' suggests it depends on $\theta_1^0$ alone. The same on lines 588 and 592.",
        r"\theta^1 = \theta^0 - \eta \begin{bmatrix} \partial L(\theta^0)/\partial \theta_1 \\ "
        r"\partial L(\theta^0)/\partial \theta_2 \end{bmatrix}",
        _check_partial_derivative_argument,
    ),
    _erratum(
        27,
        625,
        r"$1/k$  decay,  $\eta^k = \eta / \sqrt{(k + 1)}$",
        "wrong formula",
        "medium",
        r"The schedule printed decays like $1/\sqrt{k}$, not $1/k$: after 99 updates it is "
        r"$\eta/10$, where a $1/k$ decay $\eta/(k+1)$ gives $\eta/100$.",
        r"1/\sqrt{k} \text{ decay: } \eta^k = \frac{\eta}{\sqrt{k + 1}}",
        _check_decay_name,
    ),
    _erratum(
        28,
        633,
        "root mean square of its previous derivatives",
        "false claim",
        "low",
        r"The note's own $\sigma^k$ (lines 644-646) includes the CURRENT derivative "
        r"$\nabla L(\theta^k)$: $\sigma^0 = |\nabla L(\theta^0)|$ although no derivative precedes "
        r"step 0, and $\sigma^1$ averages $g^0$ and $g^1$.",
        r"\sigma^k = \sqrt{\frac{1}{k+1} \sum_{i=0}^{k} \big(\nabla L(\theta^i)\big)^2}",
        _check_adagrad_previous,
    ),
    _erratum(
        29,
        640,
        r"\frac{\eta^k}{\sigma^k}",
        "unstated assumption",
        "medium",
        r"With $\sigma^k$ a root MEAN square, this is AdaGrad only if $\eta^k = \eta/\sqrt{k+1}$ "
        r"(line 625); the note does not say so here. With a constant $\eta$ and a constant "
        r"gradient the step never shrinks, and $\eta/\sigma^k \ne \eta/\sqrt{\sum_i (g^i)^2}$.",
        r"\eta^k = \frac{\eta}{\sqrt{k+1}} \implies \theta^{k+1} = \theta^k - "
        r"\frac{\eta}{\sqrt{\sum_{i=0}^{k} (g^i)^2}}\, g^k,\quad g^i = \nabla L(\theta^i)",
        _check_adagrad_needs_decay,
    ),
    _erratum(
        30,
        650,
        r"about a point  $\theta + \epsilon$",
        "misleading notation",
        "low",
        r"The expansion on line 652 uses $L$ and its derivatives AT $\theta$: it is the Taylor "
        r"expansion about $\theta$, evaluated at $\theta + \epsilon$ (about $\theta + \epsilon$ "
        r"itself it would reduce to $L(\theta + \epsilon)$). The sentence also calls the function $f$.",
        r"\text{second-order Taylor expansion of } L \text{ about } \theta,\ "
        r"\text{evaluated at } \theta + \epsilon",
        _check_expansion_point,
    ),
    _erratum(
        31,
        652,
        r"L(\theta + \epsilon) = L(\theta) + L'(\theta)\epsilon + \frac{1}{2}L''(\theta)\epsilon^2",
        "false claim",
        "low",
        r"An equality only for quadratic $L$; in general the two sides differ by "
        r"$L'''(\theta)\epsilon^3/6 + O(\epsilon^4)$ (e.g. $L = \exp$).",
        r"L(\theta + \epsilon) = L(\theta) + L'(\theta)\epsilon + \tfrac{1}{2}L''(\theta)\epsilon^2 "
        r"+ O(\epsilon^3)",
        _check_taylor_equality,
    ),
    _erratum(
        32,
        654,
        "Our Taylor approximation is minimized when:",
        "unstated assumption",
        "medium",
        r"Setting the derivative to zero finds a stationary point of the quadratic model; it is a "
        r"MINIMUM only if $L''(\theta) > 0$ (and the step needs $L''(\theta) \ne 0$). With "
        r"$L'' < 0$ the Newton step goes to the model's maximum.",
        r"L''(\theta) > 0 \implies \arg\min_\epsilon \big[L(\theta) + L'(\theta)\epsilon + "
        r"\tfrac{1}{2}L''(\theta)\epsilon^2\big] = -\frac{L'(\theta)}{L''(\theta)}",
        _check_newton_needs_convexity,
    ),
]


_confirmation = _CATALOGUE.confirmation

CONFIRMED: list[Confirmation] = [
    _confirmation(
        48,
        r"$f(z) = \frac{e^z - e^{-z}}{e^z + e^{-z}}$",
        r"\frac{e^z - e^{-z}}{e^z + e^{-z}} = \tanh z",
        _confirm_tanh_formula,
    ),
    _confirmation(
        134,
        r"= \hat{y}_i(t) - 1_{i=y(t)}",
        r"(\nabla_{o(t)} L)_i = \hat{y}_i(t) - 1_{i = y(t)}",
        _confirm_output_gradient,
        formulas=(r"\hat{y}_i(t) - 1_{i=y(t)}",),
    ),
    _confirmation(
        149,
        r"\nabla_{h(T)} L = V' \nabla_{o(T)} L",
        r"\nabla_{h(T)} L = V^\top \nabla_{o(T)} L",
        _confirm_last_state_gradient,
        formulas=(r"\nabla_{h(T)} L = V' \nabla_{o(T)} L",),
    ),
    _confirmation(
        153,
        r"&= W' \text{diag}(1 - h(t+1)^2) (\nabla_{h(t+1)} L) + V' (\nabla_{o(t)} L)",
        r"\nabla_{h(t)} L = W^\top \operatorname{diag}(1 - h(t+1)^2)\, \nabla_{h(t+1)} L + "
        r"V^\top \nabla_{o(t)} L",
        _confirm_state_recursion,
        formulas=(r"W' \text{diag}(1 - h(t+1)^2)",),
    ),
    _confirmation(
        157,
        r"= \sum_t^T \nabla_{o(t)} L",
        r"\nabla_c L = \sum_{t=1}^{T} \nabla_{o(t)} L",
        lambda: _confirm_parameter_gradient("c"),
        formulas=(r"\nabla_c L",),
    ),
    _confirmation(
        157,
        r"= \sum_t^T \text{diag}(1 - h(t)^2) \nabla_{h(t)} L",
        r"\nabla_b L = \sum_{t=1}^{T} \operatorname{diag}(1 - h(t)^2)\, \nabla_{h(t)} L",
        lambda: _confirm_parameter_gradient("b"),
        formulas=(r"\nabla_b L",),
    ),
    _confirmation(
        157,
        r"= \sum_t^T (\nabla_{o(t)} L) h(t)'",
        r"\nabla_V L = \sum_{t=1}^{T} (\nabla_{o(t)} L)\, h(t)^\top",
        lambda: _confirm_parameter_gradient("V"),
        formulas=(r"\nabla_V L",),
    ),
    _confirmation(
        157,
        r"= \sum_t^T \text{diag}(1 - h(t)^2) (\nabla_{h(t)} L) h(t-1)'",
        r"\nabla_W L = \sum_{t=1}^{T} \operatorname{diag}(1 - h(t)^2)\, (\nabla_{h(t)} L)\, "
        r"h(t-1)^\top",
        lambda: _confirm_parameter_gradient("W"),
        formulas=(r"\nabla_W L",),
    ),
    _confirmation(
        159,
        r"= \sum_t \text{diag}(1 - h(t)^2) (\nabla_{h(t)} L) x(t)'",
        r"\nabla_U L = \sum_{t=1}^{T} \operatorname{diag}(1 - h(t)^2)\, (\nabla_{h(t)} L)\, "
        r"x(t)^\top",
        lambda: _confirm_parameter_gradient("U"),
        formulas=(r"\nabla_U L",),
    ),
    _confirmation(
        191,
        "the largest of which will be just 3 x 3",
        r"U \in \mathbb{R}^{3 \times 2},\ W \in \mathbb{R}^{3 \times 3},\ "
        r"V \in \mathbb{R}^{2 \times 3}",
        _confirm_toy_shapes,
    ),
    _confirmation(
        385,
        "respond to input characters 1,1,0,1 with 1,0,1,1",
        r"\text{next characters of } 1,1,0,1 \text{ in } 1,1,0,1,1,0,\dots \text{ are } 1,0,1,1",
        _confirm_example_3_targets,
    ),
    _confirmation(
        497,
        r"L(y|x, \theta) &= -\log\{l(y|x, \theta)\}",
        r"-\log \prod_{t=1}^{T} p_t = -\sum_{t=1}^{T} \log p_t",
        _confirm_negative_log_product,
    ),
    _confirmation(
        509,
        r"p_j = \frac{e^{o_j}}{\sum_{k=1}^N e^{o_k}}",
        r"\sum_{j=1}^{N} \frac{e^{o_j}}{\sum_{k=1}^{N} e^{o_k}} = 1",
        _confirm_softmax_sums_to_one,
    ),
    _confirmation(
        513,
        "$[0.09, 0.24, 0.67]$",
        r"\operatorname{softmax}([1, 2, 3]) = [0.09, 0.24, 0.67]",
        _confirm_softmax_first_example,
    ),
    _confirmation(
        646,
        r"\sigma^1 = \sqrt{\frac{1}{2} [\nabla L(\theta^0)^2 + \nabla L(\theta^1)^2]}",
        r"\frac{\eta/\sqrt{2}}{\sigma^1} = \frac{\eta}{\sqrt{(g^0)^2 + (g^1)^2}}",
        _confirm_adagrad_second_step,
    ),
    _confirmation(
        660,
        r"\epsilon = -\frac{L'(\theta)}{L''(\theta)}",
        r"\frac{\partial}{\partial\epsilon}\big[L + L'\epsilon + \tfrac{1}{2}L''\epsilon^2\big]"
        r"\Big|_{\epsilon = -L'/L''} = 0",
        _confirm_newton_step,
    ),
    _confirmation(
        678,
        "= 1,000,000,000",
        r"10{,}000 \times 100 \times 1000 = 10^9",
        _confirm_operation_count,
    ),
]
