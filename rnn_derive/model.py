"""`rnn-derive model`: what a `--model` specification means — its equations, blocks and loss."""

from __future__ import annotations

import argparse
import json
import sys

from rnn_spec import Model, ModelError, parse_model

NAME = "model"
HELP = "Show what a --model means: its equations, parameter blocks with shapes, and loss."

_CELL_EQUATIONS = {
    "lstm": [
        "i_t = σ(U_i x_t + W_i h_{t-1}<bi>)",
        "f_t = σ(U_f x_t + W_f h_{t-1}<bf>)",
        "g_t = tanh(U_g x_t + W_g h_{t-1}<bg>)",
        "o_t = σ(U_o x_t + W_o h_{t-1}<bo>)",
        "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t",
        "h_t = o_t ⊙ tanh(c_t)",
    ],
    "gru": [
        "r_t = σ(U_r x_t + W_r h_{t-1}<br>)",
        "z_t = σ(U_z x_t + W_z h_{t-1}<bz>)",
        "n_t = tanh(U_n x_t<bin> + r_t ⊙ (W_n h_{t-1}<bhn>))",
        "h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}",
    ],
}

LSTM_LOGITS = "s_t"

_HEADS = {
    "softmax-ce": "ℓ_t = -Σ_i y_{t,i} log softmax(o_t)_i      (∇_{o_t} ℓ_t = ŷ_t - y_t for one-hot y)",
    "mse": "ℓ_t = <scale>‖o_t - y_t‖²      (∇_{o_t} ℓ_t = <grad>)",
    "generic": "ℓ_t = l(o_t, y_t), left abstract      (∇_{o_t} l is an opaque vector)",
    "given": "no output layer: ∂L/∂h_t is given for every t",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default="",
        help="key=value,... (docs/models.md); default: the canonical model",
    )
    parser.add_argument("--n-x", type=int, default=2, help="input size for the shapes (default 2)")
    parser.add_argument("--n-h", type=int, default=3, help="hidden size for the shapes (default 3)")
    parser.add_argument("--n-y", type=int, default=2, help="outputs for the shapes (default 2)")
    parser.add_argument("--json", action="store_true", help="print the description as JSON")


def _bias_terms(model: Model) -> dict[str, str]:
    """The bias text of each hidden pre-activation ("" when the model has none)."""
    out: dict[str, str] = {}
    for gate in model.gates or ("",):
        if model.biases == "torch":
            ih, hh = ("b_ih", "b_hh") if not gate else (f"b_i{gate}", f"b_h{gate}")
            out[gate] = f" + {ih} + {hh}"
        elif model.hidden_biases:
            out[gate] = f" + b_{gate}" if gate else " + b"
        else:
            out[gate] = ""
    return out


def _fill(line: str, values: dict[str, str]) -> str:
    """Put values into the <name> slots of a line (the lines are full of TeX-like braces)."""
    for name, value in values.items():
        line = line.replace(f"<{name}>", value)
    return line


def equations(model: Model) -> list[str]:
    """The model's forward equations and loss, as plain text lines."""
    bias = _bias_terms(model)
    if model.cell == "rnn":
        lines = [
            "a_t = U x_t + W h_{t-1}" + bias[""],
            f"h_t = {model.activation}(a_t)",
        ]
    elif model.cell == "lstm":
        lines = [
            _fill(line, {f"b{g}": bias[g] for g in model.gates}) for line in _CELL_EQUATIONS["lstm"]
        ]
    else:
        b_in, b_hn = {
            "torch": (" + b_in", " + b_hn"),
            "both": (" + b_n", ""),
            "hidden": (" + b_n", ""),
        }.get(model.biases, ("", ""))
        fills = {"br": bias["r"], "bz": bias["z"], "bin": b_in, "bhn": b_hn}
        lines = [_fill(line, fills) for line in _CELL_EQUATIONS["gru"]]
    if not model.has_output_layer:
        return lines + [_HEADS["given"]]
    # The LSTM's output gate is o_t, so its logits get another letter (docs/dialect.md).
    logits = LSTM_LOGITS if model.cell == "lstm" else "o_t"
    lines.append(f"{logits} = V h_t" + (" + c" if model.output_bias else ""))
    head = _HEADS[model.head]
    if model.head == "mse":
        half = model.mse_scale == "half"
        head = _fill(
            head,
            {"scale": "½" if half else "", "grad": "o_t - y_t" if half else "2(o_t - y_t)"},
        )
    lines.append(head.replace("o_t", logits))
    steps = {
        "many-to-many": "Σ_{t=1}^{T} ℓ_t",
        "many-to-one": "ℓ_T",
        "step": f"ℓ_{model.step}",
    }[model.task]
    scale = {
        "sum": "",
        "mean-time": "(1/#steps) ",
        "mean-batch": "(1/B) ",
        "mean": "(1/(#steps·B)) ",
    }
    lines.append(f"L = {scale[model.reduction]}{steps}   (summed over the batch)")
    return lines


def describe(model: Model, n_x: int, n_h: int, n_y: int) -> dict:
    blocks = model.blocks(n_x, n_h, n_y if model.has_output_layer else None)
    return {
        "model": str(model),
        "short": model.short(),
        "equations": equations(model),
        "blocks": [{"name": b.name, "shape": list(b.shape), "role": b.role} for b in blocks],
        "initial_states": list(model.initial_states),
        "gradients": list(model.gradient_names()),
    }


def run(args: argparse.Namespace) -> int:
    try:
        model = parse_model(args.model)
        info = describe(model, args.n_x, args.n_h, args.n_y)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    print(f"model: {info['short']}  ({info['model']})")
    print()
    for line in info["equations"]:
        print(f"    {line}")
    print()
    print(f"blocks (n_x={args.n_x}, n_h={args.n_h}, n_y={args.n_y}):")
    for b in info["blocks"]:
        print(f"    {b['name']:<6} {str(tuple(b['shape'])):<10} {b['role']}")
    states = ", ".join(info["initial_states"])
    print(f"initial states: {states} ({model.h0}); gradients: {', '.join(info['gradients'])}")
    return 0
