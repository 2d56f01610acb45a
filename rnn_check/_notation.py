"""Letter tables: how each seed note names the canonical quantities (NOTATION.md).

A formula is read in exactly one notation (`--notation 000|001|002|003|004`, or the
canonical one). Surface names are normalised LaTeX: a letter `h`, a command `\\Omega`,
`\\hat{y}`, or a letter with a fixed subscript `W_{aa}`. Decorations such as `\\mathbf`,
`\\underline` and `\\vec` are dropped before lookup, so `\\underline{s}_t` is `s_t`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notation:
    key: str
    title: str
    quantities: dict[str, str]  # surface name -> x, h, a, o, yhat, y
    params: dict[str, str]  # surface name -> U, W, V, b, c
    lengths: tuple[str, ...]  # names of the sequence length T
    losses: tuple[str, ...]  # names of the loss (with a subscript: one step's loss)

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
        ("L", "\\mathcal{L}"),
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
}


def get_notation(key: str) -> Notation:
    """The table for `key` ("canonical" or a seed number such as "003")."""
    if isinstance(key, str) and key in NOTATIONS:
        return NOTATIONS[key]
    raise ValueError(
        f"unknown notation {key!r}; choose one of {', '.join(NOTATIONS)} "
        "(a seed number reads the formula in that note's letters)"
    )
