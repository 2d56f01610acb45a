"""The blame map of a WRONG backward pass (many-to-many models): which terms (loss step s,
time step k) of the gradient the user's code gets right, leaves out, or gets wrong.

The gradient of a many-to-many loss is Σ_s Σ_{k ≤ s} term(s, k): the loss at step s reaches
the parameters through their use at every step k ≤ s. Later inputs do not change earlier
losses, so on the prefixes x_1 … x_s of one sequence the user's own loss-step-s part is

    part(s) = d(s)·g(prefix s) − d(s − 1)·g(prefix s − 1)

(g the user's gradient, d the model's reduction denominator, which undoes a mean). The
true terms come from `_gated_variants` with the knobs `source=s, term=k` (an independent
BPTT, checked against rnn_num here: when its sum is not rnn_num's gradient there is no
map). Each part(s) is fitted, by least squares, as Σ_k c_k term(s, k) over the recurrent
blocks (the initial states belong to k = 1); c_k = 1 is a term kept (✓), 0 a term left out
(✗), anything else a term weighted; a part that is no combination of the true terms has
terms that are themselves wrong (?). The output blocks (V, c) have one term per loss step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from rnn_check import _gated_variants as gated
from rnn_spec import Model

# |c_k − 1| or |c_k| below this is "kept" or "left out"; a fit's residual below FIT_RTOL
# of the part's norm is "a combination of the true terms"
_COEFF_TOL = 1e-6
_FIT_RTOL = 1e-7


def _flat(grads: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(grads[n], dtype=float)) for n in names])


def blame_map(
    model: Model,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    h0: np.ndarray | None,
    c0: np.ndarray | None,
    blocks: Sequence[str],
    user_prefix: Callable[[int], Mapping[str, np.ndarray] | None],
    truth: Mapping[str, np.ndarray],
) -> dict | None:
    """The map on one sequence (x of shape (T, [B,] n_x)), or None when it cannot be made.

    user_prefix(s) is the user's gradients on the prefix of length s (None if the call
    failed); truth is rnn_num's gradients on the whole sequence (to check the terms)."""
    if model.task != "many-to-many":
        return None
    T = x.shape[0]
    B = x.shape[1] if x.ndim == 3 else 1
    head = [b for b in blocks if b in ("V", "c")]
    recurrent = [b for b in blocks if b not in head]
    if T < 2 or not recurrent:
        return None

    def knobs(**extra: object) -> dict:
        return {"reduction": "sum", **extra}

    terms: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    for s in range(1, T + 1):
        for k in range(1, s + 1):
            _, grads = gated.variant(model, params, x, y, h0, c0, knobs(source=s, term=k))
            terms[s, k] = grads
    total = {
        b: sum(terms[s, k][b] for s in range(1, T + 1) for k in range(1, s + 1)) for b in blocks
    }
    den = model.loss_scale_denominator(T, B)
    for b in blocks:  # the terms must add up to the truth, or the map would mislead
        if not np.allclose(total[b] / den, truth[b], rtol=1e-8, atol=1e-10):
            return None

    prefixes: list[dict[str, np.ndarray] | None] = [{b: np.zeros_like(total[b]) for b in blocks}]
    for s in range(1, T + 1):
        got = user_prefix(s)
        if got is None or any(np.shape(got.get(b)) != np.shape(total[b]) for b in blocks):
            return None
        prefixes.append({b: np.asarray(got[b], dtype=float) for b in blocks})

    rows, head_row, parts = [], [], []
    for s in range(1, T + 1):
        d_now = model.loss_scale_denominator(s, B)
        d_before = model.loss_scale_denominator(s - 1, B) if s > 1 else 0
        part = {b: d_now * prefixes[s][b] - d_before * prefixes[s - 1][b] for b in blocks}
        parts.append(part)
        u = _flat(part, recurrent)
        A = np.stack([_flat(terms[s, k], recurrent) for k in range(1, s + 1)], axis=1)
        coeffs, *_ = np.linalg.lstsq(A, u, rcond=None)
        scale = max(float(np.linalg.norm(u)), float(np.linalg.norm(A, axis=0).max()), 1e-300)
        if float(np.linalg.norm(A @ coeffs - u)) > _FIT_RTOL * scale:
            rows.append(["?"] * s)
        else:
            rows.append([_mark(c) for c in coeffs])
        if head:
            true_head = _flat(terms[s, s], head)
            ok = np.allclose(_flat(part, head), true_head, rtol=1e-7, atol=1e-9 * scale)
            head_row.append("✓" if ok else "✗")
    out = {
        "T": T,
        "rows": rows,
        "head": head_row,
        "head_blocks": head,
        "blocks": recurrent,
        "pattern": _pattern(rows),
    }
    if any("?" in row for row in rows):
        # no joint fit: a mistake on one block's own line (`dW =`) spoils the joint fit of
        # the others; each block is tested against the usual shapes of a row instead
        groups: dict[tuple, list[str]] = {}
        for b in recurrent:
            grid = tuple(
                tuple(_shape_of_row(parts[s - 1][b], terms, s, b)) for s in range(1, T + 1)
            )
            groups.setdefault(grid, []).append(b)
        if len(groups) > 1:
            # "members": positions in "blocks", so that renaming "blocks" renames the groups
            out["groups"] = [
                {
                    "blocks": names,
                    "members": [recurrent.index(b) for b in names],
                    "rows": [list(r) for r in grid],
                    "pattern": _pattern(grid),
                }
                for grid, names in groups.items()
            ]
    return out


def _shape_of_row(part: np.ndarray, terms: Mapping, s: int, block: str) -> list[str]:
    """Row s of one block: the first of the usual term sets (every k; k ≥ s − K for K =
    s − 2 … 0; k = 1 alone) whose sum is the user's part, marked; ? if none is."""
    candidates = [set(range(max(1, s - K), s + 1)) for K in range(s - 1, -1, -1)] + [{1}]
    scale = max(float(np.max(np.abs(part), initial=0.0)), 1e-300)
    for kept in candidates:
        total = sum(terms[s, k][block] for k in kept)
        if np.allclose(part, total, rtol=1e-7, atol=1e-9 * scale):
            return ["✓" if k in kept else "✗" for k in range(1, s + 1)]
    return ["?"] * s


def _mark(c: float) -> str:
    if abs(c - 1.0) <= _COEFF_TOL:
        return "✓"
    if abs(c) <= _COEFF_TOL:
        return "✗"
    return f"{c:.2g}"


def _pattern(rows: list[list[str]]) -> str:
    """The map in words: which terms each loss step has."""
    T = len(rows)
    if all(m == "✓" for row in rows for m in row):
        return "every term (s, k) of the recurrent blocks is right"
    if any("?" in row for row in rows):
        bad = [s for s, row in enumerate(rows, 1) if "?" in row]
        which = (
            "every loss step"
            if len(bad) == T
            else f"the loss at step{'s' if len(bad) > 1 else ''} s = {_steps(bad)}"
        )
        return (
            f"the contribution of {which} is no sum of the true terms: the terms themselves "
            "are wrong (a factor, a transpose, a derivative, a path)"
        )
    kept = [{k for k, m in enumerate(row, 1) if m == "✓"} for row in rows]
    if any(m not in ("✓", "✗") for row in rows for m in row):
        return "some terms are weighted (neither kept nor left out): see the map"
    for K in range(T):
        if all(kept[s - 1] == set(range(max(1, s - K), s + 1)) for s in range(1, T + 1)):
            if K == 0:
                return "each loss step s keeps only its own step k = s: nothing flows back in time"
            return f"each loss step s keeps only k ≥ s − {K}: BPTT truncated after K = {K} steps"
    if all(kept[s - 1] == {1} for s in range(1, T + 1)):
        return "each loss step keeps only the term of step k = 1 (`dW =` where `dW +=` belongs)"
    missing = [
        f"s = {s}: k = {_steps(sorted(set(range(1, s + 1)) - kept[s - 1]))}"
        for s in range(1, T + 1)
        if kept[s - 1] != set(range(1, s + 1))
    ]
    return "terms left out: " + "; ".join(missing)


def _steps(values: Sequence[int]) -> str:
    return ", ".join(map(str, values))


def blame_lines(blame: Mapping | None) -> list[str]:
    """The map as text for format_verdict (no lines without a map)."""
    if not blame:
        return []
    groups = blame.get("groups") or [blame]
    head = (blame.get("head_blocks") or [], blame.get("head") or [])
    lines = [""]
    for number, group in enumerate(groups):
        # the output blocks' column goes with the first grid only
        heads = head if number == 0 else ([], [])
        members = group.get("members")
        blocks = [blame["blocks"][i] for i in members] if members is not None else blame["blocks"]
        label = _names(blocks, blame["blocks"])
        lines += _grid(blame["T"], group, blame["case"], heads, label)
    return lines


def _names(blocks: Sequence[str], every: Sequence[str] = ()) -> str:
    """∇U, ∇W, …; a long list by what it is (every block, or all but a few)."""
    if len(blocks) <= 4:
        return f"∇{', ∇'.join(blocks)}"
    others = [b for b in every if b not in blocks]
    if not others:
        return f"every recurrent block (∇{blocks[0]} … ∇{blocks[-1]})"
    if len(others) <= 4:
        return f"every recurrent block but ∇{', ∇'.join(others)}"
    return f"∇{', ∇'.join(blocks)}"


def _grid(T: int, group: Mapping, case: str, head: tuple[list, list], label: str) -> list[str]:
    head_blocks, head_marks = head
    rows = group["rows"]
    if all(set(row) == {"?"} for row in rows):  # a grid of ? says no more than this
        heads = ""
        if head_blocks:
            right = [s for s, mark in enumerate(head_marks, 1) if mark == "✓"]
            which = "every loss step" if len(right) == T else f"s = {_steps(right) or 'none'}"
            heads = f"; {_names(head_blocks)} right at {which}"
        return [f"Blame map ({case}), {label}: {group['pattern']}{heads}."]
    width = max(2, *(len(m) for row in rows for m in row))
    header = "  s\\k " + " ".join(f"{k:>{width}}" for k in range(1, T + 1))
    if head_blocks:
        header += "   " + ", ".join(head_blocks)
    lines = [
        f"Blame map ({case}): the term (loss step s, time step k) of {label}: "
        "✓ right, ✗ left out, ? wrong, a number: weighted",
        header,
    ]
    for s, row in enumerate(rows, 1):
        cells = [f"{m:>{width}}" for m in row] + [f"{'·':>{width}}"] * (T - s)
        line = f"  {s:>3} " + " ".join(cells)
        if head_blocks:
            line += f"   {head_marks[s - 1]}"
        lines.append(line)
    lines.append(f"  {group['pattern']}")
    return lines
