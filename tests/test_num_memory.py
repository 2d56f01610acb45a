"""Memory of rnn_num's forward+backward: O(T·B·n_h) floats, and arrays that never alias.

rnn_num carves every large array of a call out of one allocation (see `_model._carve`), so
these tests guard what that could break: two arrays handed out over the same memory, results
of one call changed by the next, and a backward pass that keeps more than the states.
"""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest

import rnn_num


def _problem(T: int, B: int, n_x: int, n_h: int, n_y: int, head: str, many_to_one: bool):
    rng = np.random.default_rng(7)
    params = rnn_num.init_params(n_x, n_h, n_y, seed=3)
    x = rng.standard_normal((T, B, n_x))
    if head == "mse":
        y = rng.standard_normal((B, n_y) if many_to_one else (T, B, n_y))
    else:
        y = rng.integers(0, n_y, size=(B,) if many_to_one else (T, B))
    return params, x, y


@pytest.mark.parametrize(
    ("head", "many_to_one"), list(itertools.product(("softmax", "mse"), (False, True)))
)
def test_backward_arrays_never_share_memory(head: str, many_to_one: bool) -> None:
    params, x, y = _problem(5, 3, 2, 4, 3, head, many_to_one)
    h0 = np.full((3, 4), 0.1)
    r = rnn_num.backward(params, x, y, h0, head=head, many_to_one=many_to_one)
    f = r.forward
    arrays = {"a": f.a, "h": f.h, "h0": f.h0, "o": f.o, "d_o": r.d_o, "d_h": r.d_h, "d_a": r.d_a}
    if head == "softmax":  # for the MSE head ŷ is o by definition
        arrays["y_hat"] = f.y_hat
    arrays.update({f"grad {k}": g for k, g in r.grads.items()})
    for (name1, a1), (name2, a2) in itertools.combinations(arrays.items(), 2):
        assert not np.shares_memory(a1, a2), f"{name1} and {name2} share memory"
    for name, a in arrays.items():
        assert not np.shares_memory(a, x), f"{name} shares memory with the input x"


def test_a_later_call_leaves_earlier_results_alone() -> None:
    params, x, y = _problem(6, 2, 3, 5, 4, "softmax", False)
    loss1, grads1 = rnn_num.loss_and_grads(params, x, y)
    kept = {k: g.copy() for k, g in grads1.items()}
    forward1 = rnn_num.forward(params, x)
    h1 = forward1.h.copy()
    # Different data of the same shapes: the same memory blocks are likely reused.
    rnn_num.loss_and_grads(params, -x, (y + 1) % 4)
    rnn_num.forward(params, 2 * x)
    for k, g in grads1.items():
        np.testing.assert_array_equal(g, kept[k], err_msg=f"grad {k} changed")
    np.testing.assert_array_equal(forward1.h, h1)
    assert rnn_num.loss_and_grads(params, x, y)[0] == loss1


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("head", ["softmax", "mse"])
def test_peak_memory_is_of_order_t_b_n_h(head: str) -> None:
    """Keeping a per-step Jacobian (T·n_h² floats, 8× more here) or a copy of the states per
    step would exceed the bound; the states themselves must fit in it."""
    B, n_x, n_h, n_y = 2, 3, 64, 5
    peaks = {}
    for T in (100, 200):
        params, x, y = _problem(T, B, n_x, n_h, n_y, head, False)
        rnn_num.loss_and_grads(params, x, y, head=head)  # warm up (first-call caches)
        peaks[T] = _peak_bytes(
            lambda p=params, x=x, y=y: rnn_num.loss_and_grads(p, x, y, head=head)
        )
        states = T * B * (n_h + n_y)  # h(t) and o(t) for every step
        small = 8 * (n_h * n_h + n_h * (n_x + n_y) + n_h + n_y)  # one parameter set
        bound = 8 * (4 * states + 4 * T * B) + 4 * small + 64 * 1024
        assert peaks[T] <= bound, f"T={T}: peak {peaks[T]} bytes > bound {bound}"
        assert peaks[T] >= 8 * T * B * n_h, "the states were not traced: the test is void"
    # Doubling T may at most double the memory (plus a constant), never square it.
    assert peaks[200] <= 2 * peaks[100] + 64 * 1024


# 2**50 steps: more bytes than the address space; 2**61: more than NumPy can index.
@pytest.mark.parametrize("steps", [2**50, 2**61])
def test_working_memory_that_cannot_be_allocated_is_a_clear_error(steps: int) -> None:
    from rnn_num._model import _carve  # where rnn_num allocates its per-call work arrays

    with pytest.raises(
        ValueError, match=r"GiB of working memory \(float64 arrays of shapes \("
    ) as error:
        _carve(np.dtype(np.float64), {"H_full": (steps, 1, 1), "O": (steps - 1, 1, 1)})
    assert "smaller T" in str(error.value)
