"""Bad input gets a clear ValueError/TypeError naming the argument, what it got and what it
needs; nothing from deep inside NumPy."""

from __future__ import annotations

import re

import numpy as np
import pytest

import rnn_num

P = rnn_num.init_params(2, 3, 4, seed=0)
X = np.zeros((5, 2))
Y = np.array([0, 1, 2, 3, 0])


def _params(**changes):
    p = {k: v.copy() for k, v in P.items()}
    p.update(changes)
    return p


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"x": np.zeros((5, 3))}, ValueError, r"x has shape \(5, 3\).*\(T, n_x\) = \(T, 2\)"),
        ({"x": np.zeros(5)}, ValueError, r"x has shape \(5,\).*\(T, B, n_x\)"),
        ({"x": np.zeros((0, 2)), "y": np.zeros(0, int)}, ValueError, r"T = 0.*T >= 1"),
        ({"x": np.zeros((5, 0, 2)), "y": np.zeros((5, 0), int)}, ValueError, r"B = 0"),
        ({"y": np.array([0, 1, 2, 4, 0])}, ValueError, r"class index 4.*0\.\.3"),
        ({"y": np.array([0, 1, -1, 0, 0])}, ValueError, r"class index -1.*0\.\.3"),
        ({"y": np.zeros(4, int)}, ValueError, r"y has shape \(4,\).*\(5,\).*\(5, 4\)"),
        ({"y": np.zeros(5)}, TypeError, r"class indices must be integers"),
        ({"y": -np.eye(4)[Y]}, ValueError, r"negative"),
        ({"x": np.full((5, 2), np.nan)}, ValueError, r"x contains NaN or inf.*index \(0, 0\)"),
        (
            {"x": np.array([[0, 0]] * 4 + [[0, np.inf]])},
            ValueError,
            r"x contains NaN or inf.*\(4, 1\)",
        ),
        ({"params": _params(W=np.full((3, 3), np.nan))}, ValueError, r"params\['W'\] contains NaN"),
        (
            {"params": _params(W=np.zeros((3, 2)))},
            ValueError,
            r"params\['W'\] has shape \(3, 2\).*\(3, 3\)",
        ),
        (
            {"params": _params(U=np.zeros(3))},
            ValueError,
            r"params\['U'\] has shape \(3,\).*\(n_h, n_x\)",
        ),
        (
            {"params": _params(V=np.zeros((4, 2)))},
            ValueError,
            r"params\['V'\] has shape \(4, 2\).*\(n_y, 3\)",
        ),
        ({"params": _params(b=np.zeros(4))}, ValueError, r"params\['b'\] has shape \(4,\).*\(3,\)"),
        (
            {"params": _params(c=np.zeros((4, 1)))},
            ValueError,
            r"params\['c'\] has shape \(4, 1\).*\(4,\)",
        ),
        ({"params": {k: v for k, v in P.items() if k != "V"}}, ValueError, r"missing key\(s\) V"),
        ({"params": _params(u=np.zeros(3))}, ValueError, r"unknown key\(s\) u"),
        ({"params": [1, 2]}, TypeError, r"params must be a mapping"),
        ({"params": _params(W=np.full((3, 3), "a"))}, TypeError, r"params\['W'\].*dtype <U1"),
        ({"h0": np.zeros(4)}, ValueError, r"h0 has shape \(4,\).*\(3,\)"),
        ({"h0": np.array([0, np.nan, 0])}, ValueError, r"h0 contains NaN"),
        (
            {"activation": "softplus"},
            ValueError,
            r"activation='softplus' is unknown.*'tanh', 'sigmoid', 'relu'",
        ),
        ({"head": "hinge"}, ValueError, r"head='hinge' is unknown.*'softmax', 'mse'"),
        ({"head": "mse"}, ValueError, r"head='mse' needs float targets.*\(5, 4\)"),
        ({"many_to_one": True}, ValueError, r"y has shape \(5,\).*many_to_one"),
        ({"many_to_one": 1}, TypeError, r"many_to_one must be True or False"),
    ],
)
@pytest.mark.parametrize("entry", ["loss_and_grads", "backward", "compute_loss"])
def test_bad_input_names_the_argument_and_the_need(entry, kwargs, error, pattern):
    args = {"params": P, "x": X, "y": Y}
    args.update(kwargs)
    with pytest.raises(error, match=pattern) as info:
        getattr(rnn_num, entry)(**args)
    # The error is ours, raised before NumPy sees the data.
    assert "rnn_num" in info.traceback[-1].path.as_posix()


def test_batched_shapes_are_checked():
    x = np.zeros((5, 3, 2))
    with pytest.raises(ValueError, match=r"y has shape \(5,\).*\(5, 3\)"):
        rnn_num.loss_and_grads(P, x, Y)
    with pytest.raises(ValueError, match=re.escape("(3,) or (B, n_h) = (2, 3)")):
        rnn_num.forward(P, np.zeros((5, 2, 2)), np.zeros((3, 3)))


def test_forward_checks_too():
    with pytest.raises(ValueError, match="x has shape"):
        rnn_num.forward(P, np.zeros((5, 7)))
    with pytest.raises(ValueError, match="activation="):
        rnn_num.forward(P, X, activation="TANH")


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((0, 3, 2), "n_x must be a positive integer"),
        ((2, 2.5, 2), "n_h must"),
        ((2, 3, True), "n_y must"),
    ],
)
def test_init_params_rejects_bad_sizes(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        rnn_num.init_params(*args)


def test_init_params_rejects_bad_scale_and_dtype():
    with pytest.raises(ValueError, match="scale"):
        rnn_num.init_params(2, 3, 2, scale=float("nan"))
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        rnn_num.init_params(2, 3, 2, dtype=np.int64)


def test_gradcheck_and_training_reject_bad_options():
    with pytest.raises(ValueError, match="mode='exact' is unknown"):
        rnn_num.gradcheck(P, X, Y, mode="exact")
    with pytest.raises(ValueError, match="order=3"):
        rnn_num.gradcheck(P, X, Y, order=3)
    with pytest.raises(ValueError, match="blocks"):
        rnn_num.gradcheck(P, X, Y, blocks=["Q"])
    with pytest.raises(ValueError, match=r"grads\['W'\] has shape \(2, 2\)"):
        rnn_num.gradcheck(
            P, X, Y, grads={**rnn_num.loss_and_grads(P, X, Y)[1], "W": np.zeros((2, 2))}
        )
    with pytest.raises(ValueError, match="optimizer='adam' is unknown"):
        rnn_num.train(P, X, Y, optimizer="adam")
    with pytest.raises(ValueError, match="max_norm"):
        rnn_num.clip_by_norm({"W": np.ones(2)}, 0.0)
    with pytest.raises(ValueError, match="steps"):
        rnn_num.train(P, X, Y, steps=-1)
