"""Recurrent layers as two courses publish them: forward, then backward from ∂L/∂h.

cs231n assignment 3 (rnn_layers.py, the solution as commonly published) and
deeplearning.ai's "Building your Recurrent Neural Network - Step by Step" (rnn_forward,
rnn_backward, with their cell functions). Each also has one bug seen in students' versions.
"""

# ruff: noqa: N803, N806, E501
import numpy as np

# ---------------------------------------------------------------------------- cs231n


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(prev_h.dot(Wh) + x.dot(Wx) + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dtanh = dnext_h * (1 - next_h**2)
    dx = dtanh.dot(Wx.T)
    dprev_h = dtanh.dot(Wh.T)
    dWx = x.T.dot(dtanh)
    dWh = prev_h.T.dot(dtanh)
    db = dtanh.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    cache = []
    prev_h = h0
    for t in range(T):
        prev_h, c = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(c)
    return h, cache


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    x, prev_h, Wx, Wh, next_h = cache[0]
    D = x.shape[1]
    dx = np.zeros((N, T, D))
    dh0 = np.zeros((N, H))
    dWx = np.zeros((D, H))
    dWh = np.zeros((H, H))
    db = np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(
            dh[:, t, :] + dprev_h, cache[t]
        )
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dprev_h
    return dx, dh0, dWx, dWh, db


def rnn_step_backward_no_transpose(dnext_h, cache):
    """The students' bug: dprev_h = dtanh @ Wh (Wh.T belongs there)."""
    x, prev_h, Wx, Wh, next_h = cache
    dtanh = dnext_h * (1 - next_h**2)
    return dtanh.dot(Wx.T), dtanh.dot(Wh), x.T.dot(dtanh), prev_h.T.dot(dtanh), dtanh.sum(axis=0)


def rnn_backward_no_upstream(dh, cache):
    """The other classic: the upstream dh[:, t] used alone, dprev_h never added."""
    N, T, H = dh.shape
    x = cache[0][0]
    dx = np.zeros((N, T, x.shape[1]))
    dWx, dWh, db = np.zeros((x.shape[1], H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :], cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def rnn_backward_wrong_transpose(dh, cache):
    N, T, H = dh.shape
    x = cache[0][0]
    dx = np.zeros((N, T, x.shape[1]))
    dWx, dWh, db = np.zeros((x.shape[1], H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward_no_transpose(
            dh[:, t, :] + dprev_h, cache[t]
        )
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# ---------------------------------------------------------------------------- deeplearning.ai


def softmax(x):
    e_x = np.exp(x - np.max(x))
    return e_x / e_x.sum(axis=0)


def rnn_cell_forward(xt, a_prev, parameters):
    Wax = parameters["Wax"]
    Waa = parameters["Waa"]
    Wya = parameters["Wya"]
    ba = parameters["ba"]
    by = parameters["by"]
    a_next = np.tanh(np.dot(Waa, a_prev) + np.dot(Wax, xt) + ba)
    yt_pred = softmax(np.dot(Wya, a_next) + by)
    cache = (a_next, a_prev, xt, parameters)
    return a_next, yt_pred, cache


def dlai_rnn_forward(x, a0, parameters):
    caches = []
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wya"].shape
    a = np.zeros((n_a, m, T_x))
    y_pred = np.zeros((n_y, m, T_x))
    a_next = a0
    for t in range(T_x):
        a_next, yt_pred, cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        y_pred[:, :, t] = yt_pred
        caches.append(cache)
    caches = (caches, x)
    return a, y_pred, caches


def rnn_cell_backward(da_next, cache):
    (a_next, a_prev, xt, parameters) = cache
    Wax = parameters["Wax"]
    Waa = parameters["Waa"]
    dtanh = (1 - a_next**2) * da_next
    dxt = np.dot(Wax.T, dtanh)
    dWax = np.dot(dtanh, xt.T)
    da_prev = np.dot(Waa.T, dtanh)
    dWaa = np.dot(dtanh, a_prev.T)
    dba = np.sum(dtanh, axis=1, keepdims=True)
    gradients = {"dxt": dxt, "da_prev": da_prev, "dWax": dWax, "dWaa": dWaa, "dba": dba}
    return gradients


def dlai_rnn_backward(da, caches):
    (caches, x) = caches
    (a1, a0, x1, parameters) = caches[0]
    n_a, m, T_x = da.shape
    n_x, m = x1.shape
    dx = np.zeros((n_x, m, T_x))
    dWax = np.zeros((n_a, n_x))
    dWaa = np.zeros((n_a, n_a))
    dba = np.zeros((n_a, 1))
    da0 = np.zeros((n_a, m))
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        gradients = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])
        dxt, da_prevt, dWaxt, dWaat, dbat = (
            gradients["dxt"],
            gradients["da_prev"],
            gradients["dWax"],
            gradients["dWaa"],
            gradients["dba"],
        )
        dx[:, :, t] = dxt
        dWax += dWaxt
        dWaa += dWaat
        dba += dbat
    da0 = da_prevt
    gradients = {"dx": dx, "da0": da0, "dWax": dWax, "dWaa": dWaa, "dba": dba}
    return gradients


def dlai_rnn_backward_overwrite(da, caches):
    """The students' bug: dWax = … where dWax += … accumulates over time."""
    (caches, x) = caches
    (a1, a0, x1, parameters) = caches[0]
    n_a, m, T_x = da.shape
    n_x, m = x1.shape
    dx = np.zeros((n_x, m, T_x))
    dWax, dWaa, dba = np.zeros((n_a, n_x)), np.zeros((n_a, n_a)), np.zeros((n_a, 1))
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        gradients = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])
        dx[:, :, t] = gradients["dxt"]
        da_prevt = gradients["da_prev"]
        dWax = gradients["dWax"]  # BUG: = for +=
        dWaa += gradients["dWaa"]
        dba += gradients["dba"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}


# ---------------------------------------------------------------------------- torch names, in NumPy


def torch_style_loss_and_grads(params, x, y, h0):
    """nn.RNN + nn.Linear(fc) written out in NumPy with torch's names and two biases.

    x (T, B, n_x) (batch_first=False), y (T, B) classes, h0 (B, n_h); loss summed.
    """
    W_ih, W_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    b_ih, b_hh = params["bias_ih_l0"], params["bias_hh_l0"]
    W_fc, b_fc = params["fc.weight"], params["fc.bias"]
    T = x.shape[0]
    hs = [h0]
    probs = []
    loss = 0.0
    for t in range(T):
        h = np.tanh(x[t] @ W_ih.T + b_ih + hs[-1] @ W_hh.T + b_hh)
        hs.append(h)
        logits = h @ W_fc.T + b_fc
        p = np.exp(logits - logits.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        probs.append(p)
        loss -= np.log(np.take_along_axis(p, y[t][..., None], axis=-1)).sum()
    g = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        d_logits = probs[t].copy()
        np.put_along_axis(
            d_logits, y[t][..., None], np.take_along_axis(d_logits, y[t][..., None], -1) - 1, -1
        )
        g["fc.weight"] += (
            d_logits.T @ hs[t + 1] if d_logits.ndim == 2 else np.outer(d_logits, hs[t + 1])
        )
        g["fc.bias"] += d_logits.sum(axis=0) if d_logits.ndim == 2 else d_logits
        dh = d_logits @ W_fc + dh_next
        da = dh * (1 - hs[t + 1] ** 2)
        g["weight_ih_l0"] += da.T @ x[t] if da.ndim == 2 else np.outer(da, x[t])
        g["weight_hh_l0"] += da.T @ hs[t] if da.ndim == 2 else np.outer(da, hs[t])
        g["bias_ih_l0"] += da.sum(axis=0) if da.ndim == 2 else da
        g["bias_hh_l0"] += da.sum(axis=0) if da.ndim == 2 else da
        dh_next = da @ W_hh
    return loss, {**g, "h0": dh_next}


def torch_style_batch_first(params, x, y, h0):
    """The same with batch_first=True: x (B, T, n_x), y (B, T); unbatched x (T, n_x) as torch."""
    if x.ndim == 3:
        x, y = np.swapaxes(x, 0, 1), np.swapaxes(y, 0, 1)
    return torch_style_loss_and_grads(params, x, y, h0)
