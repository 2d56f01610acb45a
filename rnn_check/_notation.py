"""Letter tables: how each seed note names the canonical quantities (NOTATION.md).

A formula is read in exactly one notation (`--notation 000|001|002|003|004`, or the
canonical one). Surface names are normalised LaTeX: a letter `h`, a command `\\Omega`,
`\\hat{y}`, or a letter with a fixed subscript `W_{aa}`. Decorations such as `\\mathbf`,
`\\underline` and `\\vec` are dropped before lookup, so `\\underline{s}_t` is `s_t`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from rnn_spec import CANONICAL, Model


@dataclass(frozen=True)
class Notation:
    key: str
    title: str
    quantities: dict[str, str]  # surface name -> x, h, a, o, yhat, y (and gates, c)
    params: dict[str, str]  # surface name -> block name (U, W, V, b, c, W_f, b_ih, ...)
    lengths: tuple[str, ...]  # names of the sequence length T
    losses: tuple[str, ...]  # names of the loss (with a subscript: one step's loss)
    # names of one step's loss l(o_t, y_t) before the reduction (∂l/∂o_t, \nabla_{o_t} l);
    # only in a loss position: elsewhere l stays an index letter
    step_losses: tuple[str, ...] = ("l", "\\ell")
    # letters of the Elman activation, applied as f(a_t), f'(a_t) -> the function's name
    functions: dict[str, str] = field(default_factory=dict)
    # names the model does not have, with the reason (f_t in cell=rnn, c in biases=none)
    missing: dict[str, str] = field(default_factory=dict)
    model: Model = CANONICAL
    # the model of the source, used when the caller gives none (--model overrides it)
    implied_model: str | None = None

    def known_names(self) -> list[str]:
        names = set(self.quantities) | set(self.params) | set(self.lengths) | set(self.losses)
        return sorted(names | {"I", "\\mathbf{1}", "\\delta_{ij}", "\\mathbb{1}_{i=y_t}"})

    def surface(self, canonical: str) -> str:
        """The notation's own letter for a canonical quantity or parameter (first listed)."""
        for table in (self.params, self.quantities):
            for name, target in table.items():
                if target == canonical:
                    return name
        return canonical


_CANONICAL_Q = {"x": "x", "h": "h", "a": "a", "o": "o", "\\hat{y}": "yhat", "y": "y"}
_CANONICAL_P = {"U": "U", "W": "W", "V": "V", "b": "b", "c": "c"}

NOTATIONS: dict[str, Notation] = {
    "canonical": Notation(
        "canonical",
        "canonical (NOTATION.md; Goodfellow et al. §10.2); also W_{xh}, W_{hh}, W_{hy}, b_h, b_y",
        _CANONICAL_Q,
        {
            **_CANONICAL_P,
            "W_{xh}": "U",
            "W_{hh}": "W",
            "W_{hy}": "V",
            "b_{h}": "b",
            "b_{y}": "c",
        },
        ("T",),
        ("L", "\\mathcal{L}", "E"),
    ),
    "000": Notation(
        "000",
        "seed 000 (Lecture 2, RNN)",
        {**_CANONICAL_Q, "p": "yhat"},
        _CANONICAL_P,
        ("T",),
        ("L",),
    ),
    "001": Notation(
        "001",
        "seed 001 (RNN notes, handwritten): W input→hidden, U hidden→hidden, ŷ = V s (no softmax)",
        {"x": "x", "s": "h", "h": "h", "\\hat{y}": "o", "y": "y"},
        {
            "W": "U",
            "U": "W",
            "V": "V",
            "b": "b",
            "c": "c",
            "W_{xh}": "U",
            "W_{hh}": "W",
            "W_{hy}": "V",
        },
        ("T", "z"),
        ("J", "L"),
    ),
    "002": Notation(
        "002",
        "seed 002 (cheatsheet + handwritten): a⟨t⟩ or h_t state, u_t pre-activation, o_t or θ_t logits",
        {
            "x": "x",
            "a": "h",
            "h": "h",
            "u": "a",
            "o": "o",
            "\\theta": "o",
            "\\hat{y}": "yhat",
            "y": "y",
        },
        {"W_{ax}": "U", "W_{aa}": "W", "W_{ya}": "V", "b_{a}": "b", "b_{y}": "c"},
        ("T", "T_{y}"),
        ("L",),
    ),
    "003": Notation(
        "003",
        "seed 003 (RNN, April 2024): Ω_t logits",
        {"x": "x", "h": "h", "a": "a", "\\Omega": "o", "\\hat{y}": "yhat", "y": "y"},
        _CANONICAL_P,
        ("T", "S"),
        ("L",),
    ),
    "004": Notation(
        "004",
        "seed 004 (many-to-one sentiment): y raw outputs, p probabilities, c the correct class",
        {"x": "x", "h": "h", "y": "o", "p": "yhat", "c": "y"},
        {
            "w_{xh}": "U",
            "w_{hh}": "W",
            "w_{hy}": "V",
            "W_{xh}": "U",
            "W_{hh}": "W",
            "W_{hy}": "V",
            "b_{h}": "b",
            "b_{y}": "c",
        },
        ("T", "n"),
        ("L",),
    ),
    "d2l": Notation(
        "d2l",
        "d2l.ai, Backpropagation Through Time: W_{hx}, W_{hh}, W_{qh} (U, W, V), b_h, b_q; "
        "implies --model activation=identity,biases=none,head=generic,reduction=mean-time",
        _CANONICAL_Q,
        {
            "W_{hx}": "U",
            "W_{hh}": "W",
            "W_{qh}": "V",
            "b_{h}": "b",
            "b_{q}": "c",
        },
        ("T",),
        ("L",),
        implied_model="activation=identity,biases=none,head=generic,reduction=mean-time",
    ),
    "wildml": Notation(
        "wildml",
        "WildML (Britz), RNN tutorial part 3: s_t = tanh(U x_t + W s_{t-1}), z_t = V s_t, "
        "ŷ_t = softmax(z_t), E = Σ_t E_t; implies --model biases=none",
        {"x": "x", "s": "h", "z": "o", "\\hat{y}": "yhat", "y": "y"},
        {"U": "U", "W": "W", "V": "V"},
        ("T",),
        ("E", "L"),
        implied_model="biases=none",
    ),
    "karpathy": Notation(
        "karpathy",
        "Karpathy's min-char-rnn: W_{xh}, W_{hh}, W_{hy}, b_h, b_y; p_t the probabilities",
        {**_CANONICAL_Q, "p": "yhat"},
        {"W_{xh}": "U", "W_{hh}": "W", "W_{hy}": "V", "b_{h}": "b", "b_{y}": "c"},
        ("T",),
        ("L",),
    ),
    "cs231n": Notation(
        "cs231n",
        "cs231n assignment 3: W_x, W_h, b (h_t = tanh(W_x x_t + W_h h_{t-1} + b) as columns), "
        "W_{y}, b_{y} for the output layer",
        _CANONICAL_Q,
        {"W_{x}": "U", "W_{h}": "W", "b": "b", "W_{y}": "V", "b_{y}": "c"},
        ("T",),
        ("L",),
    ),
}
NOTATIONS["goodfellow"] = dataclasses.replace(
    NOTATIONS["canonical"],
    key="goodfellow",
    title="Goodfellow et al., Deep Learning §10.2 (canonical)",
)
NOTATIONS["deeplearning-ai"] = dataclasses.replace(
    NOTATIONS["002"],
    key="deeplearning-ai",
    title="deeplearning.ai (Sequence Models): a⟨t⟩ states, W_{aa}, W_{ax}, W_{ya}, b_a, b_y",
)


def with_letters(table: Notation, letters: str | None) -> Notation:
    """The table with the user's own letters: "E=L,s=h,z=o,W_{qh}=V" makes E, s, z and W_{qh}
    mean what L, h, o and V mean in `table`. Each right side must be a letter of `table`; the
    meanings come from `table` itself, so swaps (W=U,U=W) work."""
    if letters is None or not letters.strip():
        return table
    if not isinstance(letters, str):
        raise ValueError(f"letters must be text such as 'E=L,s=h', not {letters!r}")
    quantities, params = dict(table.quantities), dict(table.params)
    lengths, losses = list(table.lengths), list(table.losses)
    for item in _split_top_level(letters):
        if item.count("=") != 1:
            raise ValueError(
                f"letters: {item!r} is not of the form yours=ours, as in 'E=L,s=h,W_{{qh}}=V'"
            )
        mine, ours = (_surface(side) for side in item.split("="))
        if not mine or not ours:
            raise ValueError(f"letters: {item!r} has an empty side; write yours=ours, as in 's=h'")
        # the user's letter goes first, so that messages speak it (`Notation.surface`)
        if ours in table.quantities:
            params.pop(mine, None)
            quantities = {mine: table.quantities[ours], **_without(quantities, mine)}
        elif ours in table.params:
            quantities.pop(mine, None)
            params = {mine: table.params[ours], **_without(params, mine)}
        elif ours in table.lengths:
            lengths.insert(0, mine)
        elif ours in table.losses:
            losses.insert(0, mine)
        else:
            raise ValueError(
                f"letters: {ours!r} (the right side of {item!r}) is not a letter of the notation "
                f"{table.key}; its letters are {', '.join(table.known_names())}"
            )
    return dataclasses.replace(
        table,
        quantities=quantities,
        params=params,
        lengths=tuple(dict.fromkeys(lengths)),
        losses=tuple(dict.fromkeys(losses)),
    )


def _without(table: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in table.items() if k != key}


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside braces: W_{i,j}=U stays one item."""
    items, depth, current = [], 0, []
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


def _surface(text: str) -> str:
    """The table's spelling of a letter: W_qh and W_{qh} -> W_{qh}, \\hat y -> \\hat{y}."""
    text = "".join(text.split())
    text = re.sub(r"^(\\?[A-Za-z]+)_\{?([A-Za-z0-9]+)\}?$", r"\1_{\2}", text)
    return re.sub(r"^\\hat\{?([A-Za-z])\}?$", r"\\hat{\1}", text)


def get_notation(key: str) -> Notation:
    """The table for `key` ("canonical" or a seed number such as "003")."""
    if isinstance(key, str) and key in NOTATIONS:
        return NOTATIONS[key]
    raise ValueError(
        f"unknown notation {key!r}; choose one of {', '.join(NOTATIONS)} "
        "(a seed number reads the formula in that note's letters)"
    )


# -- speaking the user's letters ------------------------------------------------------------

# how a surface is printed in running text (the rest stays LaTeX, as the user wrote it)
_SHOWN = {"\\hat{y}": "ŷ", "\\Omega": "Ω", "\\theta": "θ"}
# a lone lowercase `a` is the English article unless maths follows it
_MATH_AFTER = "_^²ᵀ'⁺("
_PARAMS = frozenset("UWVbc")
# a letter alone, not one with a name of its own (b_{ih}, W_{hf}: another model's blocks)
_LETTER = re.compile(
    r"∇_(?P<grad>[A-Za-z])(?![A-Za-z_{])|ŷ|(?<![A-Za-z\\])[A-Za-z](?![A-Za-z]|_\{[A-Za-z]{2,}\})"
)


def shown(surface: str) -> str:
    """A surface name as running text prints it: \\hat{y} -> ŷ, \\Omega -> Ω."""
    return _SHOWN.get(surface, surface)


def speak(text: str, table: Notation) -> str:
    """A message written in the canonical letters (a diagnosis such as "W where Wᵀ belongs",
    "x and h swapped"), in the letters of `table`: 002's W_{aa} and a, WildML's s and E. One
    pass, so that swapped letters (001's W and U) stay swapped. Only for text the checker wrote
    itself: the user's own LaTeX quoted in a message is already in their letters."""
    letters: dict[str, str] = {}
    # a gated cell's rules say o_t for the output gate and c_t for the cell state: there o
    # and c are not the logits and the output bias, so they are left as they are
    elman = table.model.cell == "rnn"
    for canonical in ("U", "W", "V", "b", "c") if elman else ("U", "W", "V", "b"):
        if canonical in table.params.values():
            letters[canonical] = table.surface(canonical)
    for canonical in ("x", "h", "a", "o", "y") if elman else ("x", "h", "y"):
        if canonical in table.quantities.values():
            letters[canonical] = table.surface(canonical)
    if "yhat" in table.quantities.values():
        letters["ŷ"] = table.surface("yhat")
    if table.losses:
        letters["L"] = table.losses[0]
    letters = {k: shown(v) for k, v in letters.items() if shown(v) != k}
    if not letters:
        return text

    def one(match: re.Match) -> str:
        token = match.group("grad") or match.group(0)
        mine = letters.get(token)
        if mine is None:
            return match.group(0)
        if match.group("grad"):
            return f"∇_{mine}" if len(mine) == 1 else f"∇_{{{mine}}}"
        after = text[match.end() : match.end() + 1]
        if token == "a" and after not in _MATH_AFTER:
            return token  # "a difference reversed"
        if token in _PARAMS and after == "_":
            return token  # a parameter has no step: c_t is a cell state, not the bias c
        return mine

    return _LETTER.sub(one, text)


# -- the letters of a model ---------------------------------------------------------------

GATE_WORDS = {
    "i": "input gate",
    "f": "forget gate",
    "g": "candidate g_t (the cell input)",
    "o": "output gate",
    "r": "reset gate",
    "z": "update gate",
    "n": "candidate n_t (the new state)",
}
# The LSTM's output gate is o_t in every text and in torch's docs, so the logits of cell=lstm
# are s_t (scores), as `rnn-derive model` prints them (docs/dialect.md).
LSTM_LOGITS = "s"
# a second letter for two gates, as papers write them
_GATE_ALIASES = {"lstm": {"\\tilde{c}": "g"}, "gru": {"\\tilde{h}": "n"}}
_ACTIVATION_LETTERS = ("f", "\\phi", "\\varphi")


def gate_quantity(gate: str) -> str:
    """The internal quantity name of a gate's value: gate_f for f_t."""
    return f"gate_{gate}"


def _blocks(model: Model) -> tuple[str, ...]:
    return model.block_names()


def _quantities_of(model: Model) -> set[str]:
    out = {"x", "h"}
    if model.cell == "rnn":
        out.add("a")
    if model.cell == "lstm":
        out.add("c")
    out |= {gate_quantity(g) for g in model.gates}
    if model.has_output_layer:
        out.add("o")
    if model.head in ("softmax-ce", "mse"):
        out |= {"yhat", "y"}
    return out


def _param_surfaces(model: Model) -> dict[str, str]:
    """The model's own block letters (U_{f}, b_{ih}, W_{hf}, ...) -> block name."""
    out: dict[str, str] = {}
    for name in _blocks(model):
        base, _, sub = name.partition("_")
        if sub:
            out[f"{base}_{{{sub}}}"] = name
        if model.gates and base in ("U", "W") and sub:
            # W_{xf}, W_{hf}: d2l's and many papers' letters for the gates' matrices
            out[f"W_{{{'x' if base == 'U' else 'h'}{sub}}}"] = name
    return out


def _why_missing(kind: str, name: str, model: Model) -> str:
    short = model.short()
    if kind == "quantity":
        if name.startswith("gate_"):
            gate = name[5:]
            cell = "lstm" if gate in "ifgo" else "gru"
            return (
                f"{gate}_t is the {cell.upper()}'s {GATE_WORDS[gate]}; the model ({short}) has "
                + (
                    "no gates"
                    if model.cell == "rnn"
                    else f"cell={model.cell}, whose gates are "
                    + ", ".join(f"{g}_t" for g in model.gates)
                )
                + f". Fix: --model cell={cell}"
            )
        if name == "c":
            return (
                f"c_t is the LSTM's cell state; cell={model.cell} has none. Fix: --model cell=lstm"
            )
        if name == "a":
            return (
                f"a_t is the Elman cell's pre-activation; cell={model.cell} has gates instead: "
                "write a gate's pre-activation out, as in U_{f} x_t + W_{f} h_{t-1} + b_{f}"
            )
        if name in ("o", "yhat", "y") and not model.has_output_layer:
            return (
                "head=given has no output layer: ∂L/∂h_t is handed in, written \\nabla_{h_t} l "
                "or \\frac{\\partial L_t}{\\partial h_t}"
            )
        if name == "o" and model.cell == "lstm":
            return "in cell=lstm o_t is the output gate; the logits are s_t"
        return (
            f"head={model.head} leaves the loss l(o_t, y_t) abstract, so there is no "
            f"{'ŷ_t' if name == 'yhat' else 'y_t'}: write its gradient \\frac{{\\partial l}}"
            "{\\partial o_t} (or \\nabla_{o_t} l)"
        )
    if kind == "function":
        return (
            f"{name} is the Elman cell's activation; cell={model.cell} uses σ for its gates and "
            "tanh for its candidate: write \\sigma(…), \\tanh(…)"
        )
    # a parameter block
    if name in ("V", "c") and not model.has_output_layer:
        return f"head=given has no output layer, so no {name}"
    if name == "c":
        return (
            f"c is the output bias, and biases={model.biases} has none. "
            "Fix: --model biases=both (or output, torch)"
        )
    gate = name.partition("_")[2]
    if model.cell != "rnn" and name in ("U", "W", "b", "b_ih", "b_hh"):
        blocks = [b for b in _blocks(model) if b.startswith(name[0] + "_")]
        return (
            f"{name} is a block of the Elman cell; cell={model.cell} has one per gate: "
            + ", ".join(blocks)
        )
    if name in ("b_ih", "b_hh"):
        return (
            f"{name} is one of torch's two hidden biases; biases={model.biases} has "
            + ("one, b" if model.hidden_biases else "none")
            + ". Fix: --model biases=torch"
        )
    if name == "b":
        if model.biases == "torch":
            return "biases=torch has two hidden biases, b_{ih} and b_{hh}, instead of b"
        return (
            f"b is the hidden bias, and biases={model.biases} has none. "
            "Fix: --model biases=both (or hidden, torch)"
        )
    letters = gate[-1:] if gate else ""
    cell = "lstm" if letters in "ifgo" and letters else "gru"
    if model.cell == "rnn" or (letters and letters not in model.gates):
        return f"{name} belongs to cell={cell} (its {GATE_WORDS.get(letters, 'gate')}); the model ({short}) is cell={model.cell}"
    if model.biases == "torch":
        return f"biases=torch has two biases per gate, b_{{i{letters}}} and b_{{h{letters}}}, instead of {name}"
    if model.hidden_biases:
        return f"biases={model.biases} has one bias per gate, b_{{{letters}}}. Fix: --model biases=torch"
    return f"biases={model.biases} has no hidden biases. Fix: --model biases=both (or torch)"


_EVERY_MODEL = (
    Model(),
    Model(biases="torch"),
    Model(cell="lstm"),
    Model(cell="lstm", biases="torch"),
    Model(cell="gru"),
    Model(cell="gru", biases="torch"),
)


def for_model(table: Notation, model: Model | None = None) -> Notation:
    """The table with the letters of `model`: its blocks (U_{f}, b_{ih}), its quantities
    (gates, c_t; s_t for the LSTM's logits), its activation letters, and, for every letter of
    another model, why it does not exist here."""
    m = CANONICAL if model is None else model
    have = _quantities_of(m)
    blocks = set(_blocks(m))
    quantities = {k: v for k, v in table.quantities.items() if v in have}
    if m.cell == "lstm":
        quantities = {k: v for k, v in quantities.items() if v != "o"}
        quantities["c"] = "c"
        if m.has_output_layer:
            quantities[LSTM_LOGITS] = "o"
    for g in m.gates:
        quantities[g] = gate_quantity(g)
    for alias, g in _GATE_ALIASES.get(m.cell, {}).items():
        quantities[alias] = gate_quantity(g)
    params = {k: v for k, v in table.params.items() if v in blocks}
    params.update(_param_surfaces(m))
    functions = {}
    if m.cell == "rnn":
        functions = {letter: m.activation for letter in _ACTIVATION_LETTERS}
    missing: dict[str, str] = {}
    for other in _EVERY_MODEL:
        for surface, name in _param_surfaces(other).items():
            if surface not in params:
                missing.setdefault(surface, _why_missing("param", name, m))
        for g in other.gates:
            if g not in quantities:
                missing.setdefault(f"{g}_t", _why_missing("quantity", gate_quantity(g), m))
        for alias, g in _GATE_ALIASES.get(other.cell, {}).items():
            if alias not in quantities:
                missing.setdefault(alias, _why_missing("quantity", gate_quantity(g), m))
    for surface, name in table.params.items():
        if surface not in params:
            missing.setdefault(surface, _why_missing("param", name, m))
    for surface, name in table.quantities.items():
        if surface not in quantities:
            missing.setdefault(surface, _why_missing("quantity", name, m))
    if m.cell != "lstm" and "c" not in table.quantities:
        missing.setdefault("c_t", _why_missing("quantity", "c", m))
    if m.cell != "rnn":
        for letter in _ACTIVATION_LETTERS:
            if letter not in quantities:
                missing.setdefault(letter, _why_missing("function", letter, m))
        missing.setdefault("a", _why_missing("quantity", "a", m))
    if m.cell == "rnn":  # in the notation's letters (a gated cell's o_t is a gate, not o)
        missing = {surface: speak(why, table) for surface, why in missing.items()}
    return dataclasses.replace(
        table,
        quantities=quantities,
        params=params,
        functions=functions,
        missing=missing,
        model=m,
    )
