"""Symbol factories of the canonical model: shapes, names as the notes print them, limits."""

import pytest
import sympy as sp

from rnn_sym import MAX_SIZE, MAX_T, SizeLimitError, model_symbols


def test_shapes_follow_notation():
    m = model_symbols(3, 2, 3, 2)
    assert (m.U.shape, m.W.shape, m.V.shape) == ((3, 2), (3, 3), (2, 3))
    assert (m.b.shape, m.c.shape, m.h0.shape) == ((3, 1), (2, 1), (3, 1))
    assert m.x(1).shape == (2, 1) and m.yhat(3).shape == (2, 1) and m.a(2).shape == (3, 1)
    assert all(isinstance(p, sp.MutableDenseMatrix) for p in m.params().values())


def test_names_print_as_the_notes_write_them():
    m = model_symbols(3, 2, 3, 2)
    assert sp.latex(m.W[0, 1]) == "W_{12}"
    assert sp.latex(m.h(2)[0]) == "h_{2,1}"
    assert sp.latex(m.h(0)[2]) == "h_{0,3}"
    assert sp.latex(m.yhat(3)[1]) == r"\hat{y}_{3,2}"
    assert sp.latex(m.W.T[1, 0]) == "W_{12}"  # W^T is the transpose of the same symbols


def test_symbols_are_distinct_and_real():
    m = model_symbols(2, 2, 2, 2)
    everything = [*m.U, *m.W, *m.V, *m.b, *m.c, *m.h0]
    for t in (1, 2):
        everything += [*m.x(t), *m.y(t), *m.a(t), *m.h(t), *m.o(t), *m.yhat(t)]
    assert len(set(everything)) == len(everything)
    assert all(s.is_real for s in everything)


def test_h0_is_symbolic_so_its_gradient_means_something():
    m = model_symbols(1, 1, 2, 2)
    assert all(isinstance(s, sp.Symbol) for s in m.h0)


def test_class_index_targets_give_one_hot_columns():
    m = model_symbols(3, 2, 2, 3, targets=[2, 0, 1])
    assert list(m.y(1)) == [0, 0, 1] and list(m.y(2)) == [1, 0, 0]
    assert m.one_hot_substitutions() == {}


def test_one_hot_substitution_makes_targets_sum_to_one():
    m = model_symbols(2, 1, 1, 3)
    subs = m.one_hot_substitutions()
    for t in (1, 2):
        assert sp.expand(sum(m.y(t)).xreplace(subs)) == 1


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ((0, 2, 2, 2), "T = 0: it must be at least 1"),
        ((MAX_T + 1, 2, 2, 2), f"limit {MAX_T}"),
        ((2, 0, 2, 2), "n_x = 0"),
        ((2, 2, MAX_SIZE + 1, 2), "rnn_num.gradcheck"),
        ((2, 2, 2, 1), "n_y >= 2"),
        ((2.5, 2, 2, 2), "integer"),
    ],
)
def test_bad_sizes_name_the_limit_and_the_alternative(sizes, message):
    with pytest.raises(SizeLimitError, match=message.replace("(", r"\(")):
        model_symbols(*sizes)


def test_bad_targets_are_rejected():
    with pytest.raises(SizeLimitError, match="class indices"):
        model_symbols(2, 1, 1, 2, targets=[0, 2])
    with pytest.raises(IndexError, match="t = 4"):
        model_symbols(3, 1, 1, 2).h(4)
