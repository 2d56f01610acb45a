"""The numbers a formula refers to, for any model of rnn_spec: the forward pass of one
sequence, every Jacobian ∂q_n/∂r_d between its quantities, and every adjoint ∇_{q_t} L.

Nothing here is a hand-written backward pass: the forward pass is the model's equations
(docs/models.md, torch's for the gated cells), and every derivative comes from pushing
tangents through those same equations (forward mode, one step at a time). ∂q_n/∂r_d means
"perturb r_d alone, recompute everything after it": the partial derivative the notes mean
when they write ∂h_t/∂h_{t−1} for an LSTM (c_{t−1} held) or ∂h_t/∂a_t. The adjoint of r_d is
Σ_s (∂(loss input)_s/∂r_d)ᵀ ∇l_s over the steps with a loss, times the reduction's factor.
The block gradients the checker compares with come from rnn_num, not from here.
"""

from __future__ import annotations

import numpy as np

from rnn_spec import Model

Tangent = np.ndarray | None  # None: identically zero


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _add(*terms: Tangent) -> Tangent:
    present = [t for t in terms if t is not None]
    if not present:
        return None
    out = present[0]
    for t in present[1:]:
        out = out + t
    return out


def _lin(matrix: np.ndarray, t: Tangent) -> Tangent:
    return None if t is None else matrix @ t


def _dg(v: np.ndarray, t: Tangent) -> Tangent:
    return None if t is None else v[:, None] * t


def activation(name: str, v: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(v)
    if name == "sigmoid":
        return sigmoid(v)
    if name == "relu":
        return np.where(v > 0, v, 0.0)
    return np.array(v, dtype=float)


def activation_derivative(name: str, v: np.ndarray) -> np.ndarray:
    """f'(v) at the pre-activation v; ReLU's at 0 is 0, as rnn_spec fixes it."""
    if name == "tanh":
        return 1.0 - np.tanh(v) ** 2
    if name == "sigmoid":
        s = sigmoid(v)
        return s * (1.0 - s)
    if name == "relu":
        return (v > 0).astype(float)
    return np.ones_like(v, dtype=float)


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()


class Engine:
    """One sequence of one model: the forward values at t = 0 … T and their derivatives.

    params: every block of model.blocks(...); x (T, n_x); h0, c0 (n_h,); targets (T+1, n)
    rows at the steps with a loss: one-hot or weights (softmax-ce), real vectors (mse),
    ∇_{o_t} l (generic), ∂L/∂h_t (given).
    """

    def __init__(
        self,
        model: Model,
        params: dict[str, np.ndarray],
        x: np.ndarray,
        h0: np.ndarray,
        c0: np.ndarray | None,
        targets: np.ndarray,
    ) -> None:
        self.model = model
        self.p = {k: np.asarray(v, dtype=float) for k, v in params.items()}
        self.x = np.asarray(x, dtype=float)
        self.T = self.x.shape[0]
        self.targets = np.asarray(targets, dtype=float)
        self.steps = model.loss_steps(self.T)
        self.scale = 1.0 / model.loss_scale_denominator(self.T, 1)
        first: dict[str, np.ndarray] = {"h": np.asarray(h0, dtype=float)}
        if model.cell == "lstm":
            first["c"] = np.asarray(c0, dtype=float)
        self.vals: list[dict[str, np.ndarray]] = [first]
        for t in range(1, self.T + 1):
            self.vals.append(self._forward(t))
        self._tangents: dict[tuple[str, int, bool], dict[tuple[str, int], np.ndarray]] = {}

    # -- the model's equations -----------------------------------------------------------
    def _bias(self, gate: str | None) -> tuple[np.ndarray | float, np.ndarray | float]:
        """(input-side, recurrent-side) bias of one hidden pre-activation (0 if absent)."""
        m, p = self.model, self.p
        if m.biases == "torch":
            if gate is None:
                return p["b_ih"], p["b_hh"]
            return p[f"b_i{gate}"], p[f"b_h{gate}"]
        if m.hidden_biases:
            return (p["b"] if gate is None else p[f"b_{gate}"]), 0.0
        return 0.0, 0.0

    def _forward(self, t: int) -> dict[str, np.ndarray]:
        m, p = self.model, self.p
        x, prev = self.x[t - 1], self.vals[t - 1]
        h_prev = prev["h"]
        out: dict[str, np.ndarray] = {"x": x}
        if m.cell == "rnn":
            bi, bh = self._bias(None)
            out["a"] = p["U"] @ x + p["W"] @ h_prev + bi + bh
            out["h"] = activation(m.activation, out["a"])
        elif m.cell == "lstm":
            for g in "ifgo":
                bi, bh = self._bias(g)
                z = p[f"U_{g}"] @ x + p[f"W_{g}"] @ h_prev + bi + bh
                out[f"gate_{g}"] = np.tanh(z) if g == "g" else sigmoid(z)
            i, f, g, o = (out[f"gate_{q}"] for q in "ifgo")
            out["c"] = f * prev["c"] + i * g
            out["h"] = o * np.tanh(out["c"])
        else:
            for g in "rz":
                bi, bh = self._bias(g)
                out[f"gate_{g}"] = sigmoid(p[f"U_{g}"] @ x + p[f"W_{g}"] @ h_prev + bi + bh)
            bi, bh = self._bias("n")
            out["lin_n"] = p["W_n"] @ h_prev + bh
            out["gate_n"] = np.tanh(p["U_n"] @ x + bi + out["gate_r"] * out["lin_n"])
            z = out["gate_z"]
            out["h"] = (1 - z) * out["gate_n"] + z * h_prev
        if m.has_output_layer:
            out["o"] = p["V"] @ out["h"] + (p["c"] if m.output_bias else 0.0)
            if m.head == "softmax-ce":
                out["yhat"] = _softmax(out["o"])
            elif m.head == "mse":
                out["yhat"] = out["o"]  # the prediction is the output layer itself
        return out

    def _tangent_step(
        self, t: int, prev: dict[str, Tangent], seed: tuple[str, np.ndarray] | None
    ) -> dict[str, Tangent]:
        m, p, v = self.model, self.p, self.vals[t]
        before = self.vals[t - 1]

        def s(name: str, tangent: Tangent) -> Tangent:
            return seed[1] if seed is not None and seed[0] == name else tangent

        out: dict[str, Tangent] = {}
        tx = out["x"] = s("x", None)
        th_prev = prev.get("h")
        if m.cell == "rnn":
            ta = out["a"] = s("a", _add(_lin(p["U"], tx), _lin(p["W"], th_prev)))
            d = activation_derivative(m.activation, v["a"])
            out["h"] = s("h", _dg(d, ta))
        elif m.cell == "lstm":
            for g in "ifgo":
                tz = _add(_lin(p[f"U_{g}"], tx), _lin(p[f"W_{g}"], th_prev))
                gv = v[f"gate_{g}"]
                local = 1 - gv**2 if g == "g" else gv * (1 - gv)
                out[f"gate_{g}"] = s(f"gate_{g}", _dg(local, tz))
            i, f, g, o = (v[f"gate_{q}"] for q in "ifgo")
            out["c"] = s(
                "c",
                _add(
                    _dg(f, prev.get("c")),
                    _dg(before["c"], out["gate_f"]),
                    _dg(i, out["gate_g"]),
                    _dg(g, out["gate_i"]),
                ),
            )
            tc = np.tanh(v["c"])
            out["h"] = s("h", _add(_dg(tc, out["gate_o"]), _dg(o * (1 - tc**2), out["c"])))
        else:
            for g in "rz":
                tz = _add(_lin(p[f"U_{g}"], tx), _lin(p[f"W_{g}"], th_prev))
                gv = v[f"gate_{g}"]
                out[f"gate_{g}"] = s(f"gate_{g}", _dg(gv * (1 - gv), tz))
            tlin = _lin(p["W_n"], th_prev)
            tzn = _add(_lin(p["U_n"], tx), _dg(v["lin_n"], out["gate_r"]), _dg(v["gate_r"], tlin))
            out["gate_n"] = s("gate_n", _dg(1 - v["gate_n"] ** 2, tzn))
            z = v["gate_z"]
            out["h"] = s(
                "h",
                _add(
                    _dg(before["h"] - v["gate_n"], out["gate_z"]),
                    _dg(1 - z, out["gate_n"]),
                    _dg(z, th_prev),
                ),
            )
        if m.has_output_layer:
            to = out["o"] = s("o", _lin(p["V"], out["h"]))
            if m.head == "softmax-ce":
                q = v["yhat"]
                out["yhat"] = s("yhat", _lin(np.diag(q) - np.outer(q, q), to))
            elif m.head == "mse":
                out["yhat"] = s("yhat", to)
        return out

    # -- derivatives ---------------------------------------------------------------------
    def size(self, name: str) -> int:
        for t in (1, 0):
            if t <= self.T and name in self.vals[t]:
                return self.vals[t][name].shape[0]
        raise KeyError(name)

    def tangents(self, den: str, d: int, hold: bool = False) -> dict[tuple[str, int], np.ndarray]:
        """∂q_n/∂den_d for every quantity q and step n ≥ d (absent: zero). hold: den is a
        state handed to step d+1 with the other state of step d held (∂c_t/∂c_{t-1} of an
        LSTM is diag(f_t): h_{t-1} is not recomputed from the perturbed c_{t-1})."""
        key = (den, d, hold)
        if key in self._tangents:
            return self._tangents[key]
        seed = np.eye(self.size(den))
        found: dict[tuple[str, int], np.ndarray] = {}
        if d == 0 or hold:
            prev: dict[str, Tangent] = {den: seed}
            found[(den, d)] = seed
            start = d + 1
        else:
            prev = {}
            start = d
        for t in range(start, self.T + 1):
            step = self._tangent_step(t, prev, (den, seed) if t == d else None)
            for name, tangent in step.items():
                if tangent is not None:
                    found[(name, t)] = tangent
            prev = {"h": step.get("h"), "c": step.get("c")}
            if prev["h"] is None and prev["c"] is None:
                break  # nothing after this step depends on den_d
        self._tangents[key] = found
        return found

    def jacobian(self, num: str, n: int, den: str, d: int, total: bool = False) -> np.ndarray:
        """∂num_n/∂den_d in numerator layout (rows: num's components).

        Between the states of different steps (∂c_t/∂c_k, ∂h_t/∂c_k) the other state of step
        d is held, as the notes' state Jacobians mean it; total=True (for the adjoints)
        recomputes everything after den_d instead, h_d from a perturbed c_d included."""
        if num == den and n == d:
            return np.eye(self.size(num))
        if num == "y" or den == "y" or n < d:
            return np.zeros((self.size(num), self.size(den)))
        hold = not total and n > d and den in ("h", "c") and d > 0
        found = self.tangents(den, d, hold).get((num, n))
        return np.zeros((self.size(num), self.size(den))) if found is None else found

    @property
    def loss_input(self) -> str:
        """The quantity each step's loss is a function of."""
        head = self.model.head
        return {"softmax-ce": "yhat", "mse": "yhat", "generic": "o", "given": "h"}[head]

    def step_loss_gradient(self, s: int) -> np.ndarray:
        """∇ of the loss of step s (before the reduction's factor) at its loss input."""
        m = self.model
        target = self.targets[s]
        if m.head == "softmax-ce":
            return -target / self.vals[s]["yhat"]
        if m.head == "mse":
            diff = self.vals[s]["yhat"] - target
            return diff if m.mse_scale == "half" else 2 * diff
        return target  # generic, given: the gradient is handed in

    def step_gradient(self, name: str, t: int, s: int) -> np.ndarray:
        """∇_{name_t} L_s: the loss of step s alone, unscaled (zero if s has no loss)."""
        if s not in self.steps or s < t:
            return np.zeros(self.size(name))
        jac = self.jacobian(self.loss_input, s, name, t, total=True)
        return jac.T @ self.step_loss_gradient(s)

    def adjoint(self, name: str, t: int) -> np.ndarray:
        """∇_{name_t} L, the total loss's gradient (zero past the end)."""
        if t > self.T:
            return np.zeros(self.size(name))
        total = np.zeros(self.size(name))
        for s in self.steps:
            if s >= t:
                total = total + self.step_gradient(name, t, s)
        return self.scale * total

    def loss(self) -> float:
        """L, for tests against an independent forward pass."""
        m, total = self.model, 0.0
        for s in self.steps:
            target, v = self.targets[s], self.vals[s]
            if m.head == "softmax-ce":
                total += -float(target @ np.log(v["yhat"]))
            elif m.head == "mse":
                sq = float((v["yhat"] - target) @ (v["yhat"] - target))
                total += 0.5 * sq if m.mse_scale == "half" else sq
            elif m.head == "generic":
                total += float(target @ v["o"])
            else:
                total += float(target @ v["h"])
        return total * self.scale
