"""The adjoints rnn_num.backward reports for every cell: ∇_{h_t} L is the TOTAL gradient.

Independent check by restarting the sequence: the loss terms after step t depend on h_t
(and c_t) only through the steps after it, so ∇_{h_t} L = Vᵀ ∇_{o_t} L (its own term) +
∇_{h0} of the same model run on x_{t+1..T} from h0 = h_t (c0 = c_t).
"""

import numpy as np
import pytest

import rnn_num
from rnn_spec import Model

MODELS = [
    Model(h0="per-sequence"),
    Model(cell="lstm", biases="torch", h0="per-sequence"),
    Model(cell="gru", biases="torch", h0="per-sequence"),
    Model(cell="gru", head="mse", h0="per-sequence"),
]


@pytest.mark.parametrize("model", MODELS, ids=str)
def test_reported_d_h_is_the_total_gradient_of_h_t(model):
    rng = np.random.default_rng(0)
    T, B, n_x, n_h, n_y = 5, 2, 3, 4, 3
    params = rnn_num.init_params(n_x, n_h, n_y, seed=1, model=model)
    x = rng.standard_normal((T, B, n_x))
    y = rng.standard_normal((T, B, n_y)) if model.head == "mse" else rng.integers(0, n_y, (T, B))
    h0 = 0.3 * rng.standard_normal((B, n_h))
    c0 = 0.3 * rng.standard_normal((B, n_h)) if model.cell == "lstm" else None
    res = rnn_num.backward(params, x, y, h0, c0=c0, model=model)
    assert res.d_h is not None and res.d_h.shape == (T + 1, B, n_h)
    np.testing.assert_allclose(res.d_h[0], res.grads["h0"], rtol=1e-12)
    h = res.forward.h
    for t in range(1, T):  # h_t, 1-based
        c_t = res.states["c"][t - 1] if model.cell == "lstm" else None
        _, later = rnn_num.loss_and_grads(params, x[t:], y[t:], h[t - 1], c0=c_t, model=model)
        own = res.d_o[t - 1] @ params["V"]
        np.testing.assert_allclose(res.d_h[t], own + later["h0"], rtol=1e-10, atol=1e-12)
