"""Formula text -> syntax tree (`_ast`), through the lark grammar `_grammar.lark`.

Letters are resolved through a notation table (`_notation.py`) into canonical nodes.
Every failure is a `ParseError` (with position and caret) or another `FormulaError`; a
lark exception never escapes. Input size and nesting depth are bounded before parsing.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import pathlib
import re
from dataclasses import dataclass

import lark

from rnn_check import _ast as A
from rnn_check import _ellipsis
from rnn_check._notation import _ACTIVATION_LETTERS, Notation, for_model, get_notation, speak

MAX_LENGTH = 4000
MAX_NESTING = 40
MAX_TREE_DEPTH = 200
# terms of one flat sum, or factors of one flat product: a left-associative chain is built as
# a left spine of binary nodes, which the evaluator walks recursively
MAX_TERMS = 300
# lark's tree, before the builder (which recurses about two frames a level) walks it: ours
# (MAX_TREE_DEPTH) plus the levels lark adds for brackets, scripts and statements
MAX_LARK_DEPTH = MAX_TREE_DEPTH + 2 * MAX_NESTING + 20

# single letters that may name an index (time or component) when the notation has no other use
INDEX_LETTERS = frozenset("ijklmnpqrstuvτ") | {"\\tau"}

_FUNCTIONS = {
    "\\tanh": "tanh",
    "tanh": "tanh",
    "\\exp": "exp",
    "exp": "exp",
    "\\log": "log",
    "log": "log",
    "\\ln": "log",
    "softmax": "softmax",
    "sm": "softmax",
    "diag": "diag",
    "Diag": "diag",
    "\\sigma": "sigmoid",
    "sigmoid": "sigmoid",
    "relu": "relu",
    "ReLU": "relu",
}
# the functions whose derivative may be written with a prime: tanh'(a), σ'(z), relu'(a)
_DIFFERENTIABLE = ("tanh", "sigmoid", "relu")


# commands of the dialect (for "did you mean") and the usual substitutes for others
_COMMANDS = (
    "\\sum \\prod \\frac \\partial \\nabla \\hat \\mathrm \\text \\operatorname \\mathbf "
    "\\mathbb \\mathcal \\top \\cdot \\odot \\circ \\otimes \\times \\tanh \\exp \\log "
    "\\delta \\left \\right \\quad \\equiv \\langle \\rangle \\underline \\boldsymbol"
).split()
_INSTEAD = {
    "\\diag": "\\mathrm{diag}(…)",
    "\\softmax": "\\mathrm{softmax}(…)",
    "\\T": "^\\top",
    "\\transpose": "^\\top",
    "\\sech": "\\tanh'(…) or (1 - h_t^2)",
    "\\dots": "the sum or product with its bounds",
}


@functools.cache
def _lark() -> lark.Lark:
    grammar = (pathlib.Path(__file__).with_name("_grammar.lark")).read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _bracket_depth(text: str) -> int:
    depth = best = 0
    for ch in text:
        if ch in "({[":
            depth += 1
            best = max(best, depth)
        elif ch in ")}]":
            depth -= 1
    return best


# Unicode that people paste from notes, as the LaTeX the grammar reads (a space after a
# command keeps it from running into the next letter).
_UNICODE = {
    "∑": "\\sum ",
    "∏": "\\prod ",
    "⊙": "\\odot ",
    "∘": "\\circ ",
    "⊗": "\\otimes ",
    "·": "\\cdot ",
    "⋅": "\\cdot ",
    "×": "\\times ",
    "ᵀ": "^\\top ",
    "⊤": "\\top ",
    "∇": "\\nabla ",
    "∂": "\\partial ",
    "−": "-",
    "–": "-",
    "ŷ": "\\hat{y}",
    "δ": "\\delta ",
    "Ω": "\\Omega ",
    "θ": "\\theta ",
    "σ": "\\sigma ",
    "τ": "\\tau ",
    "²": "^2",
    "′": "'",
    "’": "'",
    "⟨": "<",
    "⟩": ">",
    "…": "...",
    "ₜ": "_t",
    **{chr(0x2080 + d): f"_{d}" for d in range(10)},
}
_UNICODE_RE = re.compile("|".join(re.escape(k) for k in _UNICODE))


def normalize(text: str) -> str:
    """Replace the Unicode symbols of pasted notes by their LaTeX commands."""
    return _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], text)


# one pair of math-mode delimiters around the whole formula, as copied from a .tex file
_DELIMITED = re.compile(r"\s*(?:\$\$(.*)\$\$|\$(.*)\$|\\\[(.*)\\\]|\\\((.*)\\\))\s*", re.DOTALL)


def strip_math_delimiters(text: str) -> str:
    """`$…$`, `$$…$$`, `\\[…\\]` or `\\(…\\)` around the whole formula -> the formula."""
    found = _DELIMITED.fullmatch(text)
    if not found:
        return text
    return next(group for group in found.groups() if group is not None)


# d2l's W_\textrm{qh}, W_{\mathrm{hx}}: a font command in a subscript only sets the letters
# upright, so W_\textrm{qh} is W_{qh}
_FONT_IN_SUBSCRIPT = re.compile(
    r"(?<=_)(\s*\{?\s*)(\\(?:textrm|mathrm|text|operatorname|mathit|textit|mathsf|rm))(?=\s*\{)"
)
_SHAPE_NOTE = re.compile(r"\\in\s*\\mathbb\s*\{?\s*R\s*\}?(\s*\^\s*(\{[^{}]*\}|\\?[A-Za-z0-9]))?")
_BRACES = re.compile(r"\\(underbrace|overbrace|underset|overset)(?![A-Za-z])")


def _group_end(text: str, start: int) -> int | None:
    """The index after the group that starts at `start` ({…} or one character), if any."""
    while start < len(text) and text[start] == " ":
        start += 1
    if start >= len(text):
        return None
    if text[start] != "{":
        found = re.match(r"\\[A-Za-z]+|.", text[start:])
        return start + len(found.group(0))
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    return None


def blank_decorations(text: str) -> str:
    """Blank what only decorates, keeping every position (the caret still points right):
    a font command in a subscript, `\\underbrace{X}_{note}` and `\\overbrace{X}^{note}` (X
    stays), `\\underset{note}{X}` and `\\overset{note}{X}`."""
    text = _FONT_IN_SUBSCRIPT.sub(lambda m: m.group(1) + " " * len(m.group(2)), text)
    # d2l's "… \in \mathbb{R}^q" after a formula states a shape the checker knows
    text = _SHAPE_NOTE.sub(lambda m: " " * len(m.group(0)), text)
    for _ in range(MAX_NESTING):
        found = _BRACES.search(text)
        if not found:
            break
        start, end = found.span()
        command = found.group(1)
        if command in ("underset", "overset"):
            note_end = _group_end(text, end)
            if note_end is None:
                break
            text = text[:start] + " " * (note_end - start) + text[note_end:]
            continue
        body_end = _group_end(text, end)
        if body_end is None:
            break
        text = text[:start] + " " * (end - start) + text[end:]
        after = body_end
        while after < len(text) and text[after] == " ":
            after += 1
        if after < len(text) and text[after] in "_^":
            note_end = _group_end(text, after + 1)
            if note_end is not None:
                text = text[:after] + " " * (note_end - after) + text[note_end:]
    return text


def parse_tree(text: str) -> lark.Tree:
    """The raw lark tree of `text`, or a ParseError."""
    if not isinstance(text, str):
        raise ParseError(f"a formula must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(
            f"formula too long ({len(text)} characters; the limit is {MAX_LENGTH}): "
            "split it into definitions or check one block at a time"
        )
    if _bracket_depth(text) > MAX_NESTING:
        raise ParseError(f"brackets nested deeper than {MAX_NESTING} levels")
    if not text.strip():
        raise ParseError("empty formula: write the gradient, e.g. \\sum_t \\nabla_{o_t} L")
    accumulate = re.search(r"(?<![<>!=])[+-]\s*=", text)
    if accumulate:
        # ∇_W L += δ_t h_{t-1}^T is a loop body: which steps it runs over, and from what
        # start, is in the loop, not in the text (docs/dialect.md, "+= is not an equation")
        raise ParseError(
            f"'{accumulate.group(0)}' accumulates, as code does: a formula states the whole "
            "gradient, so write the sum over the steps, e.g. \\nabla_W L = \\sum_{t=1}^{T} "
            "\\delta_t h_{t-1}^\\top (with δ_t defined)",
            text,
            accumulate.start(),
        )
    # a line break before \end{aligned} ends no line: blanked, so positions stay the same
    text = re.sub(r"\\\\(?=\s*\\end\{)", "  ", text)
    # nor does a final comma or period there (d2l: "… \mathbf{h}_{t-1}^\top, \end{aligned}")
    text = re.sub(r"(?<![.])[,;.](?=\s*\\end\{)", " ", text)
    # trailing separators (a final period, comma or line break) end nothing
    text = re.sub(r"(\s|[,;]|\\\\|(?<![.])[.](?![.]))+$", "", text)
    if not text.strip():
        raise ParseError("empty formula: write the gradient, e.g. \\sum_t \\nabla_{o_t} L")
    try:
        return _lark().parse(text)
    except (lark.exceptions.LarkError, RecursionError):
        ellipsis = re.search(r"\.\.\.|…|\\[lc]?dots[mb]?(?![A-Za-z])", text)
        if ellipsis:
            # F_t \cdots F_k reads as a run (rnn_check/_ellipsis.py); elsewhere it does not
            raise ParseError(
                "an ellipsis (…) is read only between two factors (or two terms after +) of "
                "one pattern, as in \\frac{\\partial h_t}{\\partial h_{t-1}} \\cdots "
                "\\frac{\\partial h_{k+1}}{\\partial h_k}: write the sum or product with its "
                "bounds, e.g. \\prod_{m=k+1}^{t} \\frac{\\partial h_m}{\\partial h_{m-1}}",
                text,
                ellipsis.start(),
            ) from None
    return _lark_failure(text)


def _lark_failure(text: str) -> lark.Tree:
    """Why lark does not take `text`, as a ParseError (lark's exception never escapes)."""
    try:
        return _lark().parse(text)
    except lark.exceptions.UnexpectedCharacters as error:
        ch = text[error.pos_in_stream] if error.pos_in_stream < len(text) else "?"
        hint = ""
        if ch == "\\":
            found = re.match(r"\\[A-Za-z]+|\\.", text[error.pos_in_stream :])
            word = found.group(0) if found else "\\"
            hint = f"the command {word} is not part of the dialect (see docs/dialect.md)"
            instead = _INSTEAD.get(word) or next(
                iter(difflib.get_close_matches(word, _COMMANDS, n=1, cutoff=0.75)), None
            )
            if instead:
                hint += f"; write {instead}"
        if ch == "$":
            hint = (
                "math delimiter '$' inside the formula: leave out $…$, $$…$$ and \\[…\\] "
                "(one pair around the whole formula is ignored)"
            )
        message = hint or f"unexpected character {ch!r}"
        raise ParseError(message, text, error.pos_in_stream) from None
    except lark.exceptions.UnexpectedEOF:
        raise ParseError(
            "the formula ends too early (unclosed bracket?)", text, len(text)
        ) from None
    except lark.exceptions.UnexpectedToken as error:
        pos = error.token.start_pos if error.token.start_pos is not None else len(text)
        if error.token.type == "$END":
            raise ParseError(
                "the formula ends too early (an operator or a bracket is missing its operand)",
                text,
                len(text),
            ) from None
        if text[:pos].rstrip().endswith("\\partial"):
            raise ParseError(
                "\\partial^+ (the immediate derivative, ∂⁺h_k/∂W) is a three-index tensor, which "
                "this dialect does not represent: write the gradient through ∇_{h_t}L, e.g. "
                "\\sum_t \\mathrm{diag}(1-h_t^2)\\nabla_{h_t}L\\,h_{t-1}^\\top",
                text,
                pos,
            ) from None
        if error.token.type in ("LT", "GT", "RELOP"):
            raise ParseError(
                f"unexpected {str(error.token)!r}: a condition such as t < T cannot be checked; "
                "drop it (the formula is checked at every step t = 1 … T, with h_{T+1}, a_{T+1} "
                "and ∇_{h_{T+1}}L zero)",
                text,
                pos,
            ) from None
        raise ParseError(f"unexpected {str(error.token)!r}", text, pos) from None
    except lark.exceptions.LarkError as error:  # pragma: no cover - any other lark failure
        raise ParseError(f"cannot parse the formula ({type(error).__name__})", text) from None
    except RecursionError:  # pragma: no cover
        raise ParseError("formula nested too deeply", text) from None


# ----------------------------------------------------------------------------------------
# From lark's tree to the AST


@dataclass
class _Atom:
    """A symbol with its scripts, before we know what it is (h, W_{aa}, δ^y_t, ...)."""

    base: str  # surface name: "h", "\\Omega", "\\hat{y}", "1", "I"
    ops: list  # ("sub", tree) | ("sup", tree) | ("prime", None) | ("call", tree)
    tree: lark.Tree | lark.Token
    deco: bool = False  # came from \mathbf{...} and friends
    adjoint: bool = False  # \bar a_t, \overline{h}_t: the adjoint ∂L/∂a_t of autodiff notation


ParseError = A.ParseError
FormulaError = A.FormulaError


class _Builder:
    def __init__(self, text: str, notation: Notation, definition_names: frozenset[str]):
        self.text = text
        self.notation = notation
        self.defs = definition_names
        # ids of the nodes written in brackets: a big operator's scope never splits them
        self.grouped: set[int] = set()
        self.scalar = False  # inside a scalar identity \sigma'(a) = …

    # -- helpers -------------------------------------------------------------------------
    def src(self, tree) -> str:
        meta = getattr(tree, "meta", None)
        if isinstance(tree, lark.Token):
            return str(tree)
        if meta is None or getattr(meta, "empty", True):
            return ""
        return " ".join(self.text[meta.start_pos : meta.end_pos].split())

    def pos(self, tree) -> int | None:
        if isinstance(tree, lark.Token):
            return tree.start_pos
        meta = getattr(tree, "meta", None)
        return None if meta is None or getattr(meta, "empty", True) else meta.start_pos

    def fail(self, message: str, tree=None) -> A.FormulaError:
        return ParseError(message, self.text, self.pos(tree) if tree is not None else None)

    def unknown(self, name: str, tree, timed: bool = False) -> A.FormulaError:
        reason = self.notation.missing.get(f"{name}_t") if timed else None
        if reason is None:
            reason = self.notation.missing.get(name)
        if reason is not None:
            return self.not_in_model(name + ("_t" if timed else ""), reason)
        known = self.notation.known_names()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]}?" if close else ""
        model = self.notation.model
        if name in ("g", "\\Theta", "\\sigma") and model.cell == "rnn":
            hint += f" The activation is {model.activation}: write f(a_t), f'(a_t)" + (
                ", \\tanh'(a_t) or (1 - h_t^2)." if model.activation == "tanh" else "."
            )
        where = f" at position {self.pos(tree) + 1}" if self.pos(tree) is not None else ""
        return A.UnknownSymbolError(
            f"unknown symbol {name}{where} in notation {self.notation.key}.{hint} "
            f"Known symbols: {', '.join(known)}; index letters: i, j, k, m, t, …. "
            f"If it is your letter for one of them, say so: --letters '{name}=…' (letters= "
            "in Python), or pick your source's --notation (goodfellow, d2l, deeplearning-ai, "
            "wildml, cs231n, karpathy, 000 … 004)"
        )

    def not_in_model(self, name: str, reason: str) -> A.FormulaError:
        return A.UnknownSymbolError(
            f"unknown symbol {name}: it does not exist in the model "
            f"({self.notation.model.short()}): {reason}"
        )

    # -- statements ----------------------------------------------------------------------
    def program(self, tree: lark.Tree) -> A.Program:
        definitions: list[A.Definition] = []
        answers: list[A.Answer] = []
        links: list[A.Link] = []
        for stmt in _merge_continued(tree):
            parts = [c for c in stmt.children if not isinstance(c, lark.Token)]
            if len(parts) == 1:
                answers.append(A.Answer(self.expr(parts[0]), None, src=self.src(stmt)))
                continue
            # `lhs = rhs1 = rhs2`: the last right side is the answer, the others its lines
            lhs, rhs = parts[0], parts[-1]
            if len(parts) > 2 and self.is_unknown_name(rhs):
                # `∂L_t/∂o_t = ŷ_t − y_t = δ_t`: a trailing new name is a name, not content
                rhs = parts[-2]
            declared = self.declared_gradient(lhs)
            if declared is not None:
                block, time = declared
                entry = self.declared_entry(lhs)
                # ∇_W L = A = B = C: A and B are lines of the derivation, each checked; a
                # right side that restates the gradient (= ∂L/∂W) or names it (= G) is not
                sides = []
                for part in parts[1 : len(parts) - 2 if rhs is parts[-2] else len(parts) - 1]:
                    if self.declared_gradient(part) is not None or self.is_unknown_name(part):
                        continue
                    try:
                        side = self.expr(part)
                        if any(isinstance(n, _Immediate) for n in A.walk(side)):
                            # Goodfellow's (∂o^{(t)}/∂c)^T ∇_{o^{(t)}}L: a step of the
                            # argument, not a formula the dialect computes
                            raise self.fail("an immediate partial outside the chain rule", part)
                        sides.append((part, side))
                    except A.FormulaError:
                        if "\\partial" in self.src(part) or "\\nabla" in self.src(part):
                            continue  # ∂L/∂o_i(t) restated in a form the dialect cannot compute
                        raise
                for line, (part, body) in enumerate(sides, start=1):
                    links.append(
                        A.Link(len(answers), line, len(sides) + 1, body, src=self.src(part))
                    )
                answers.append(
                    A.Answer(
                        self.expr(rhs),
                        block,
                        time,
                        components=entry,
                        declared_step=self.declared_step(lhs),
                        src=self.src(stmt),
                    )
                )
                if sides:  # the last line of the chain, so that every line is listed
                    last = len(sides) + 1
                    index = len(answers) - 1
                    links.append(A.Link(index, last, last, answers[-1].body, src=self.src(rhs)))
                continue
            if self.is_model_quantity(lhs) or (
                isinstance(lhs, lark.Tree)
                and lhs.data in ("frac", "div", "group", "scripted", "funcapp")
            ):
                # \sigma'(a) = \sigma(a)(1-\sigma(a)): a letter without a time in a scalar
                # identity is any entry a_{t,i} (every entry of every step is checked)
                self.scalar = lhs.data == "funcapp" and _untimed_letters(stmt)
                left = self.expr(lhs)
                # \tanh'(a_t) = 1 - h_t^2: an elementwise identity of the model's quantities
                function = isinstance(left, A.Func) and bool(A.free_indices(left))
                if isinstance(left, A.Jacobian | A.Transpose | A.Quantity) or function:
                    # ∂h_{t+1}/∂h_t = … or a_t = W h_{t-1} + …: an identity, checked entrywise
                    body = self.expr(rhs)
                    self.scalar = False
                    answers.append(A.Answer(body, "identity", None, left, src=self.src(stmt)))
                    continue
                self.scalar = False
            name, param, fixed = self.definition_lhs(lhs)
            body = self.expr(rhs)
            definitions.append(A.Definition(name, param, fixed, body, src=self.src(stmt)))
            # δ_t ≡ ∂L/∂h_t = …: the definition also states a gradient that can be checked
            for middle in parts[1:-1]:
                declared = self.declared_gradient(middle)
                if declared is not None:
                    block, time = declared
                    answers.append(A.Answer(body, block, time, src=self.src(stmt)))
        return A.Program(tuple(definitions), tuple(answers), tuple(links), src=self.text)

    def is_model_quantity(self, tree) -> bool:
        """h_t, a_t, ...: a left side that restates the model rather than defining a name."""
        atom = self.atom_of(tree)
        return atom is not None and (
            atom.base in self.notation.quantities
            or any(
                atom.base + "_{" + "".join(self.src(arg).split()).strip("{}") + "}"
                in self.notation.quantities
                for kind, arg in atom.ops[:1]
                if kind == "sub"
            )
        )

    def is_unknown_name(self, tree) -> bool:
        atom = self.atom_of(tree)
        if atom is None:
            return False
        try:
            self.resolve_atom(atom)
        except A.UnknownSymbolError:
            return True
        except A.FormulaError:
            return False
        return False

    def declared_gradient(self, lhs) -> tuple[str, A.Node | None] | None:
        """('W' | 'h0' | 'h_t' ..., time) if `lhs` is ∇_X L or ∂L/∂X; None otherwise."""
        if isinstance(lhs, lark.Tree) and lhs.data == "group":
            return self.declared_gradient(lhs.children[0])
        d_target = self.d_operand(lhs)
        if d_target is not None:  # dW = …, as in code
            found = block_of(self.expr(d_target))
            return found
        if isinstance(lhs, lark.Tree) and lhs.data == "scripted" and lhs.children[1].data == "sub":
            # (∇_{o_t} L)_i = …: one component; its index stays free on the right side
            return self.declared_gradient(lhs.children[0])
        target = None
        if isinstance(lhs, lark.Tree) and lhs.data == "nabla":
            scripts = [c for c in lhs.children if isinstance(c, lark.Tree) and c.data == "sub"]
            if scripts:
                target = scripts[0].children[0]
        elif isinstance(lhs, lark.Tree) and lhs.data in ("frac", "div"):
            num, den = lhs.children[-2], lhs.children[-1]
            if (
                isinstance(num, lark.Tree)
                and num.data == "partial"
                and isinstance(den, lark.Tree)
                and den.data == "partial"
                and self.is_loss(num.children[0])
            ):
                target = den.children[0]
        if target is None:
            return None
        found = block_of(self.expr(_unwrap_scriptlist(target)))
        return None if found is None else found

    def declared_step(self, lhs) -> A.Node | None:
        """3 for ∂E_3/∂W or ∇_W L_3, T for ∂L_T/∂W, t for ∂L_t/∂V: the step whose loss alone
        the left side differentiates; None for the total loss."""
        if isinstance(lhs, lark.Tree) and lhs.data == "group":
            return self.declared_step(lhs.children[0])
        loss = None
        if isinstance(lhs, lark.Tree) and lhs.data == "nabla":
            loss = lhs.children[-1]
        elif isinstance(lhs, lark.Tree) and lhs.data in ("frac", "div"):
            num = lhs.children[-2]
            if isinstance(num, lark.Tree) and num.data == "partial":
                loss = num.children[0]
        atom = self.atom_of(loss) if loss is not None else None
        if atom is None or atom.base not in self.notation.losses:
            return None
        subs = [arg for kind, arg in atom.ops if kind in ("sub", "call", "sup")]
        if not subs:
            return None
        inner = _unwrap_scriptlist(subs[0])
        if isinstance(inner, lark.Tree) and inner.data == "angle":
            inner = _angle_body(inner)
        try:
            step = self.index_expr(inner)
        except A.FormulaError:
            return None
        return step  # a letter (∂L_t/∂V) too: the checker judges it at every step

    def declared_entry(self, lhs) -> tuple[str, ...]:
        """('i', 'j') for ∂L/∂W_{ij} or (∇_W L)_{ij} on the left; () for a whole block."""
        if isinstance(lhs, lark.Tree) and lhs.data == "group":
            return self.declared_entry(lhs.children[0])
        target = None
        if isinstance(lhs, lark.Tree) and lhs.data == "scripted" and lhs.children[1].data == "sub":
            items = _scriptlist_items(lhs.children[1].children[0])
            if len(items) == 1 and isinstance(items[0], lark.Tree) and items[0].data == "mul":
                items = list(items[0].children)
            letters = [self.index_expr(item) for item in items]
            return _index_letters(letters)
        if isinstance(lhs, lark.Tree) and lhs.data == "nabla":
            subs = [c for c in lhs.children if isinstance(c, lark.Tree) and c.data == "sub"]
            target = subs[0].children[0] if subs else None
        elif isinstance(lhs, lark.Tree) and lhs.data in ("frac", "div"):
            den = lhs.children[-1]
            if isinstance(den, lark.Tree) and den.data == "partial":
                target = den.children[0]
        if target is None:
            return ()
        node = self.expr(_unwrap_scriptlist(target))
        if isinstance(node, A.Component) and isinstance(node.operand, A.Param):
            return _index_letters(list(node.comp))
        return ()

    def definition_lhs(self, lhs) -> tuple[str, str | None, A.Node | None]:
        atom = self.atom_of(lhs)
        if atom is None:
            raise self.fail("the left side of a definition must be a symbol such as \\delta_t", lhs)
        name, sub = self.def_key(atom)
        if sub is None:
            return name, None, None
        items = _scriptlist_items(sub)
        if len(items) != 1:
            raise self.fail(
                "a definition takes at most one index, as in \\delta_t: define the vector "
                "(\\delta_t = (1-h_t^2) \\odot \\nabla_{h_t}L) and use its entries as "
                "\\delta_{t,i}",
                lhs,
            )
        item = items[0]
        if isinstance(item, lark.Token) or (
            isinstance(item, lark.Tree) and item.data == "name" and len(item.children) == 1
        ):
            letter = str(item.children[0] if isinstance(item, lark.Tree) else item)
            if letter in INDEX_LETTERS:
                return name, letter, None
        return name, None, self.index_expr(item)

    def def_key(self, atom: _Atom) -> tuple[str, lark.Tree | None]:
        """Name of a defined symbol (base plus superscripts) and its subscript, if any."""
        key = atom.base
        sub = None
        has_sub = any(kind == "sub" for kind, _ in atom.ops)
        for kind, arg in atom.ops:
            split = _split_time_sup(arg) if kind == "sup" and not has_sub else None
            if split is not None and not split[1] and sub is None:
                sub = split[0]  # \delta^{(t)}: the step written above, as Goodfellow does
            elif kind == "sup":
                key += "^{" + "".join(self.src(arg).split()).strip("{}") + "}"
            elif kind == "sub" and sub is None:
                sub = arg
            elif kind == "call" and sub is None:
                sub = arg
            else:
                raise self.fail(f"cannot define {self.src(atom.tree)}", atom.tree)
        return key, sub

    # -- atoms ---------------------------------------------------------------------------
    def atom_of(self, tree) -> _Atom | None:
        """Flatten a symbol with scripts; None if `tree` is not a symbol."""
        outer = tree
        atom = self._atom_of(tree)
        if atom is not None and isinstance(outer, lark.Tree):
            atom.tree = outer
        return atom

    def _atom_of(self, tree) -> _Atom | None:
        if isinstance(tree, lark.Tree) and tree.data == "mul" and len(tree.children) == 2:
            # \delta c_t, \delta h_{t+1}: one name, as LSTM notes write the adjoints
            first, second = tree.children
            if _is_delta(first):
                inner = self._atom_of(second)
                if inner is not None and inner.base[:1].isalpha():
                    return _Atom("\\delta " + inner.base, inner.ops, tree)
            return None
        if isinstance(tree, lark.Tree) and tree.data == "group":
            # {L} or (h_t) alone: the braces change nothing
            inner = tree.children[0]
            if isinstance(inner, lark.Tree) and inner.data in ("name", "scripted", "hat", "deco"):
                return self._atom_of(inner)
            return None
        ops: list = []
        while isinstance(tree, lark.Tree) and tree.data in ("scripted", "prime"):
            if tree.data == "prime":
                ops.append(("prime", None))
            else:
                script = tree.children[1]
                ops.append((script.data, script.children[0]))
            tree = tree.children[0]
        ops.reverse()
        if isinstance(tree, lark.Tree) and tree.data == "group" and ops:
            inner_atom = self._atom_of(tree)  # {\hat y}_t: scripts after a braced symbol
            if inner_atom is None:
                return None
            return _Atom(inner_atom.base, inner_atom.ops + ops, tree, inner_atom.deco)
        if isinstance(tree, lark.Tree) and tree.data == "name":
            return _Atom(str(tree.children[0]), ops, tree)
        if isinstance(tree, lark.Tree) and tree.data == "number":
            return _Atom(str(tree.children[0]), ops, tree)
        if isinstance(tree, lark.Tree) and tree.data == "hat":
            inner = tree.children[1]
            if isinstance(inner, lark.Tree) and inner.data == "scriptlist":
                inner = _unwrap_scriptlist(inner)
            inner_atom = self.atom_of(inner)
            if inner_atom is None:
                raise self.fail("\\hat applies to a letter, as in \\hat{y}_t", tree)
            return _Atom("\\hat{" + inner_atom.base + "}", inner_atom.ops + ops, tree)
        if isinstance(tree, lark.Tree) and tree.data == "deco":
            inner = tree.children[1]
            if isinstance(inner, lark.Tree) and inner.data == "scriptlist":
                inner = _unwrap_scriptlist(inner)
            inner_atom = self.atom_of(inner)
            if inner_atom is None:
                return None
            tilde = "\\tilde{" + inner_atom.base + "}"
            if str(tree.children[0]) == "\\tilde" and (
                tilde in self.notation.quantities or tilde in self.notation.missing
            ):  # \tilde c_t, \tilde h_t: the candidates of the gated cells
                return _Atom(tilde, inner_atom.ops + ops, tree)
            if str(tree.children[0]) in ("\\bar", "\\overline") and (
                inner_atom.base in self.notation.quantities
            ):  # ā_t = ∂L/∂a_t (reverse-mode notation), never the forward a_t
                return _Atom(inner_atom.base, inner_atom.ops + ops, tree, adjoint=True)
            return _Atom(inner_atom.base, inner_atom.ops + ops, tree, deco=True)
        return None

    def is_loss(self, tree) -> bool:
        atom = self.atom_of(tree)
        return atom is not None and atom.base in self.notation.losses

    def is_step_loss(self, tree) -> bool:
        """l, \\ell, l_t: one step's loss l(o_t, y_t), before the reduction's factor."""
        atom = self.atom_of(tree)
        return (
            atom is not None
            and atom.base in self.notation.step_losses
            and all(kind in ("sub", "call") for kind, _ in atom.ops)
        )

    def step_loss_node(self, loss_tree, den_tree, tree) -> A.Node:
        """∂l/∂q_t: the gradient of the loss of step t (or of the step l's subscript names)."""
        atom = self.atom_of(loss_tree)
        den = self.expr(den_tree)
        subs = [arg for kind, arg in atom.ops if kind == "sub"]
        if subs:
            step = self.index_expr(_unwrap_scriptlist(subs[0]))
        elif isinstance(den, A.Quantity):
            step = den.time  # ∂l/∂o_t: the loss of the step the quantity belongs to
        else:
            raise self.fail(
                f"{self.src(tree)}: one step's loss l is differentiated by a quantity of that "
                "step, as in \\frac{\\partial l}{\\partial o_t}",
                tree,
            )
        return self.gradient_node(den, step, self.src(tree), tree)

    def resolve_atom(self, atom: _Atom, index_mode: bool = False) -> A.Node:
        if atom.adjoint:
            forward = self.resolve_atom(dataclasses.replace(atom, adjoint=False), index_mode)
            if isinstance(forward, A.Quantity) and forward.name != "y":
                return A.Grad(
                    forward.name, forward.time, None, forward.comp, src=self.src(atom.tree)
                )
            raise self.fail(
                f"{self.src(atom.tree)}: a bar marks an adjoint (ā_t = ∂L/∂a_t); write it on a "
                "quantity with its time, as in \\bar a_t or \\bar h_t (or \\nabla_{a_t} L), "
                "and put any transpose outside: (\\bar a_t)^\\top",
                atom.tree,
            )
        n = self.notation
        ops = list(atom.ops)
        src = self.src(atom.tree)
        base = atom.base
        # a fixed subscript that is part of the name: W_{aa}, b_y, T_y
        if ops and ops[0][0] == "sub":
            sub_text = "".join(self.src(ops[0][1]).split()).strip("{}")
            fixed = base + "_{" + sub_text + "}"
            if fixed in n.params or fixed in n.quantities or fixed in n.lengths:
                base = fixed
                ops = ops[1:]
            elif (
                fixed in n.missing
                and (sub_text not in INDEX_LETTERS or base not in n.params)
                and base not in self.defs
            ):
                # W_{f} in cell=rnn, b_{ih} without torch biases: say why, not "unknown f"
                raise self.not_in_model(fixed, n.missing[fixed])
            elif (
                base == "c"
                and "c_t" in n.missing
                and re.fullmatch(r"t([+-][0-9])?", sub_text)
                and base not in self.defs
            ):  # c_t, c_{t-1}: the LSTM's cell state, not an entry of the output bias c
                raise self.not_in_model("c_t", n.missing["c_t"])
        timed = any(
            kind in ("sub", "call") or (kind == "sup" and _split_time_sup(arg) is not None)
            for kind, arg in ops
        )
        if index_mode and base in n.quantities and n.quantities[base] == "y":
            time, comp, ops = self.take_indices(ops, atom)
            if time is None:
                raise self.fail(f"{src}: the target needs a time index, as in y_t", atom.tree)
            node: A.Node = A.Target(time, src=src)
            return self.apply_ops(node, ops, atom)
        key, _sub = None, None
        if atom.base not in n.params and not atom.base[0].isdigit():
            try:
                key, _sub = self.def_key(atom)
            except ParseError:
                key = None
        if key is not None and key in self.defs:
            items = [] if _sub is None else _scriptlist_items(_sub)
            if len(items) == 2:  # \delta_{t,i}: component i of the vector \delta_t
                step = A.DefRef(key, self.index_expr(items[0]), src=src)
                return A.Component(step, (self.index_expr(items[1]),), src=src)
            arg = None if _sub is None else self.index_expr(_unwrap_scriptlist(_sub))
            return A.DefRef(key, arg, src=src)
        if base in self.defs:
            time, comp, ops = self.take_indices(ops, atom)
            return self.apply_ops(A.DefRef(base, time, src=src), ops, atom)
        if base in n.quantities and base in INDEX_LETTERS and not timed:
            # i, r, n, s alone are index letters; with a time they are gates (or the logits)
            return self.apply_ops(A.Index(base, src=src), ops, atom)
        if base in n.params and not (base in n.quantities and timed):
            node = A.Param(n.params[base], src=src)
            comp, ops = self.take_component(ops, atom)
            if comp:
                node = A.Component(node, comp, src=src)
            return self.apply_ops(node, ops, atom)
        if base in n.quantities:
            time, comp, ops = self.take_indices(ops, atom)
            if time is None and base in _ACTIVATION_LETTERS and n.model.cell != "rnn":
                raise self.not_in_model(
                    f"{base}(…)",
                    f"{base}_t is the forget gate; the Elman activation {base}(·) does not exist "
                    f"in cell={n.model.cell}: its gates use σ and its candidate tanh, so write "
                    "\\sigma(…) or \\tanh(…)",
                )
            if time is None and self.scalar and not comp:
                time, comp = A.Index("t", src="t"), (A.Index("i", src="i"),)
            if time is None:
                raise self.fail(
                    f"{src} needs a time index, as in {base}_t or {base}_{{t-1}}", atom.tree
                )
            return self.apply_ops(A.Quantity(n.quantities[base], time, comp, src=src), ops, atom)
        if base in n.lengths:
            return self.apply_ops(A.Length(src=src), ops, atom)
        if base in n.losses:
            raise self.fail(
                f"the loss {base} can only appear as \\nabla_{{h_t}} {base} or "
                f"\\frac{{\\partial {base}}}{{\\partial h_t}}",
                atom.tree,
            )
        if base[0].isdigit():
            value = float(base)
            relation = ops and ops[0][0] == "sub" and _is_relation(ops[0][1])
            if atom.deco and ops and ops[0][0] == "sub" and not relation:
                onehot = self.one_hot(ops[0][1])
                if onehot is not None:  # \mathbf{1}_{y_t}: the one-hot target
                    return self.apply_ops(onehot, ops[1:], atom)
                pair = _scriptlist_items(ops[0][1])
                if base == "1" and len(pair) == 2:
                    # \mathbf{1}_{i, y_t}: the indicator [i = y_t], not the ones vector
                    left, right = (self.index_expr(item) for item in pair)
                    node = A.Indicator(left, "=", right, src=self.src(ops[0][1]))
                    return self.apply_ops(node, ops[1:], atom)
            if atom.deco or (base == "1" and relation):
                if relation:
                    return self.apply_ops(self.indicator(ops[0][1]), ops[1:], atom)
                # \mathbf{1}_n: the size subscript is not needed
                ops = [op for op in ops if op[0] != "sub"]
                return self.apply_ops(A.Ones(src=src), ops, atom)
            return self.apply_ops(A.Num(value, src=src), ops, atom)
        if base == "I":
            if ops and ops[0][0] == "sub" and _is_relation(ops[0][1]):
                return self.apply_ops(self.indicator(ops[0][1]), ops[1:], atom)
            ops = [op for op in ops if op[0] != "sub"]
            return self.apply_ops(A.Identity(src=src), ops, atom)
        if base == "\\delta":
            try:
                if not ops or ops[0][0] != "sub":
                    raise self.fail("\\delta needs two indices", atom.tree)
                i, j = self.two_indices(ops[0][1], atom)
            except A.ParseError:
                raise A.UnknownSymbolError(
                    f"{src} is not defined: \\delta_{{ij}} (two indices) is the Kronecker delta; "
                    f"any other δ must be defined first, as in \\delta_t = \\mathrm{{diag}}(1-h_t^2)"
                    "\\nabla_{h_t} L; …"
                ) from None
            return self.apply_ops(A.Kronecker(i, j, src=src), ops[1:], atom)
        if base == "e" and ops and ops[0][0] == "sub":
            onehot = self.one_hot(ops[0][1])
            if onehot is not None:  # e_{y_t}: the unit vector of the target class
                return self.apply_ops(onehot, ops[1:], atom)
        if base in INDEX_LETTERS:
            first_sub = next((arg for kind, arg in ops if kind == "sub"), None)
            if (
                first_sub is not None
                and f"{base}_t" in n.missing
                and "".join(self.src(first_sub).split()).strip("{}") not in ("h", "x", "y")
            ):
                raise self.not_in_model(f"{base}_t", n.missing[f"{base}_t"])
            return self.apply_ops(A.Index(base, src=src), ops, atom)
        if base in n.functions and timed and f"{base}_t" in n.missing:
            raise self.not_in_model(
                f"{base}_t",
                n.missing[f"{base}_t"]
                + f" ({base} alone, applied as {base}(a_t), is the activation {n.functions[base]})",
            )
        if base in n.functions:
            raise self.fail(
                f"{src}: {base} is the activation ({n.functions[base]}); apply it, as in "
                f"{base}(a_t) or {base}'(a_t)",
                atom.tree,
            )
        raise self.unknown(base, atom.tree, timed=timed)

    def one_hot(self, sub) -> A.Node | None:
        items = _scriptlist_items(sub)
        if len(items) != 1:
            return None
        try:
            node = self.index_expr(items[0])
        except A.FormulaError:
            return None
        if isinstance(node, A.Target):
            return A.Quantity("y", node.time, src=self.src(sub))
        return None

    def indicator(self, relation_tree) -> A.Node:
        rel = _unwrap_scriptlist(relation_tree)
        left, op, right = rel.children
        op_name = {"=": "=", "\\neq": "!=", "\\ne": "!=", "\\leq": "<=", "\\le": "<="}.get(
            str(op), {"\\geq": ">=", "\\ge": ">=", "<": "<", ">": ">"}.get(str(op), "=")
        )
        return A.Indicator(
            self.index_expr(left), op_name, self.index_expr(right), src=self.src(rel)
        )

    def two_indices(self, sub, atom) -> tuple[A.Node, A.Node]:
        items = _scriptlist_items(sub)
        if len(items) == 2:
            return self.index_expr(items[0]), self.index_expr(items[1])
        if len(items) == 1 and isinstance(items[0], lark.Tree) and items[0].data == "mul":
            a, b = items[0].children
            return self.index_expr(a), self.index_expr(b)
        raise self.fail(f"{self.src(atom.tree)} needs two indices, as in \\delta_{{ij}}", atom.tree)

    def take_component(self, ops, atom):
        if ops and ops[0][0] == "sub":
            items = _scriptlist_items(ops[0][1])
            if len(items) == 1 and isinstance(items[0], lark.Tree) and items[0].data == "mul":
                items = list(items[0].children)
            return tuple(self.index_expr(i) for i in items), ops[1:]
        return (), ops

    def take_indices(self, ops, atom):
        """Time index and component from h_t, h_{t,i}, h_i(t), a^{<t>}, h^{(t)}."""
        time = None
        comp: tuple = ()
        rest = []
        single = False  # the time so far is one subscript, which may yet be the component
        for kind, arg in ops:
            if kind == "sub" and time is None and not comp:
                items = _scriptlist_items(arg)
                if len(items) == 2:
                    time, comp = self.index_expr(items[0]), (self.index_expr(items[1]),)
                elif len(items) == 1:
                    time, single = self.index_expr(items[0]), True
                else:
                    raise self.fail(f"{self.src(atom.tree)}: too many indices", atom.tree)
            elif kind == "call" and (time is None or not comp):
                if time is not None:  # o_i(t): the subscript was the component
                    comp, single = (time,), False
                time = self.index_expr(arg)
            elif kind == "sup" and _split_time_sup(arg) is not None and (time is None or single):
                # h^{(t)}, a^{<t>}; Goodfellow's h^{(t-1)\top} carries a transpose inside;
                # \hat y_i^{(t)} has its component below and its time above
                inner, after = _split_time_sup(arg)
                if time is not None:
                    comp, single = (time,), False
                time = self.index_expr(inner)
                rest.extend(after)
            else:
                rest.append((kind, arg))
        return time, comp, rest

    def apply_ops(self, node: A.Node, ops, atom) -> A.Node:
        src = self.src(atom.tree) if atom is not None else node.src
        for kind, arg in ops:
            if kind == "prime":
                node = A.Transpose(node, src=src + "'")
            elif kind == "sup":
                node = self.superscript(node, arg, src)
            elif kind == "sub":
                items = _scriptlist_items(arg)
                if len(items) == 1 and isinstance(items[0], lark.Tree) and items[0].data == "mul":
                    items = list(items[0].children)
                node = A.Component(node, tuple(self.index_expr(i) for i in items), src=src)
            else:
                raise self.fail(f"unexpected ({self.src(arg)}) after {src}", arg)
        return node

    def superscript(self, node: A.Node, arg, src: str) -> A.Node:
        inner = _unwrap_scriptlist(arg)
        if _is_transpose_mark(inner):  # ^\top, ^T, ^{\mathsf{T}}
            return A.Transpose(node, src=src)
        if (
            isinstance(inner, lark.Tree)
            and inner.data == "number"
            and str(inner.children[0]) == "2"
        ):
            return A.Square(node, src=src)
        if (
            isinstance(inner, lark.Tree)
            and inner.data == "number"
            and str(inner.children[0]) == "1"
        ):
            return node
        try:
            exponent = self.index_expr(inner)
        except A.FormulaError:
            exponent = None
        if exponent is not None and not isinstance(node, A.Quantity | A.Grad):
            # (W^\\top)^{T-i}: a matrix power, as d2l writes the unrolled recursion
            return A.Power(node, exponent, src=src)
        raise self.fail(
            f"superscript ^{{{self.src(arg)}}} is not understood here: write ^\\top, ^T or ' "
            "for a transpose, ^2 for an elementwise square and ^{k} for a power of a square "
            "matrix",
            arg,
        )

    # -- expressions ---------------------------------------------------------------------
    def index_expr(self, tree) -> A.Node:
        return self.expr(tree, index_mode=True)

    def expr(self, tree, index_mode: bool = False) -> A.Node:
        if isinstance(tree, lark.Token):
            if tree.type in ("LETTER", "GREEK"):
                return self.resolve_atom(_Atom(str(tree), [], tree), index_mode)
            if tree.type in ("DIGIT", "NUMBER"):
                return A.Num(float(tree), src=str(tree))
            raise self.fail(f"unexpected {str(tree)!r}", tree)
        data = tree.data
        src = self.src(tree)
        if data == "scriptlist":
            items = _scriptlist_items(tree)
            if len(items) != 1:
                raise self.fail("a list of indices is only allowed in a subscript", tree)
            return self.expr(items[0], index_mode)
        if data == "group":
            inner = self.expr(tree.children[0], index_mode)
            node = dataclasses.replace(inner, src=src) if src else inner
            self.grouped.add(id(node))
            return node
        if data == "add":
            return A.Add(
                self.expr(tree.children[0], index_mode),
                self.expr(tree.children[1], index_mode),
                src=src,
            )
        if data == "subtract":
            return A.Sub(
                self.expr(tree.children[0], index_mode),
                self.expr(tree.children[1], index_mode),
                src=src,
            )
        if data == "neg":
            return A.Neg(self.expr(tree.children[-1], index_mode), src=src)
        if data == "sumdots":  # a_1 + a_2 + \\cdots + a_T
            head = self.expr(tree.children[0], index_mode)
            terms = []  # the terms added before the dots, last first
            while isinstance(head, A.Add) and id(head) not in self.grouped:
                terms.append(head.right)
                head = head.left
            terms.append(head)
            left, befores = terms[0], terms[1:]
            right = self.expr(tree.children[2], index_mode)
            try:
                run, absorbed = self.run("sum", left, right, befores)
            except _ellipsis.EllipsisError as error:
                raise self.ellipsis_error("sum", left, right, error, tree) from None
            for term in terms[1 + absorbed :]:
                run = A.Add(term, run, src=src)
            return run
        if data == "signed":
            return self.expr(tree.children[-1], index_mode)
        if data in ("mul", "mulop", "div", "dots"):
            return self.chain(tree, index_mode)
        if data in ("name", "number", "scripted", "prime", "hat", "deco"):
            atom = self.atom_of(tree)
            if atom is not None:
                return self.resolve_atom(atom, index_mode)
            return self.postfix_on_expression(tree, index_mode)
        if data == "word":
            word = str(tree.children[1])
            raise self.fail(
                f"unknown word {word!r}: functions are diag, tanh, softmax, exp, log", tree
            )
        if data == "funcapp":
            return self.funcapp(tree)
        if data == "bigop":
            return self.bigop(tree)
        if data == "frac":
            return self.frac(tree)
        if data == "nabla":
            return self.nabla(tree)
        if data == "partial":
            raise self.fail(
                "\\partial belongs in a fraction such as \\frac{\\partial L}{\\partial h_t}", tree
            )
        if data == "top":
            raise self.fail("\\top belongs in a superscript: W^\\top", tree)
        if data == "iverson":  # [i = y_t]: Iverson's bracket, 1 when the relation holds
            return self.indicator(tree)
        if data in ("relation", "relation2", "angle", "angle_mark"):
            raise self.fail(
                "a relation (=, <, ≤) is only allowed in a subscript such as \\mathbb{1}_{i=y_t}",
                tree,
            )
        if data == "empty":
            raise self.fail("empty braces", tree)
        if data == "pair":
            raise self.fail(
                "a pair (a, b) is only read as the arguments of one step's loss, as in "
                "\\frac{\\partial l(o_t, y_t)}{\\partial o_t}",
                tree,
            )
        raise self.fail(f"unexpected {data}", tree)  # pragma: no cover

    def postfix_on_expression(self, tree, index_mode):
        """Scripts on a bracketed expression or a fraction: (…)^\\top, (…)_i, (…)^2."""
        ops = []
        while isinstance(tree, lark.Tree) and tree.data in ("scripted", "prime"):
            if tree.data == "prime":
                ops.append(("prime", None))
            else:
                ops.append((tree.children[1].data, tree.children[1].children[0]))
            tree = tree.children[0]
        ops.reverse()
        node = self.expr(tree, index_mode)
        fake = _Atom("", ops, tree)
        return self.apply_ops(node, ops, fake)

    def chain(self, tree, index_mode) -> A.Node:
        # flatten the left-recursive chain into factors with the operator before each
        items: list[tuple[str, object]] = []
        current = tree
        while isinstance(current, lark.Tree) and current.data in ("mul", "mulop", "div", "dots"):
            if current.data == "mul":
                items.append(("juxt", current.children[1]))
            elif current.data == "div":
                items.append(("/", current.children[1]))
            elif current.data == "dots":
                items.append(("dots", current.children[2]))
            else:
                items.append((str(current.children[1]), current.children[2]))
            current = current.children[0]
        items.append(("juxt", current))
        items.reverse()
        # \partial a / \partial b is a derivative, not a division
        joined: list[tuple[str, object]] = []
        for op, factor in items:
            if op == "/" and joined and _is_partial(joined[-1][1]) and _is_partial(factor):
                prev_op, prev = joined.pop()
                joined.append((prev_op, ("derivative", prev, factor)))
                continue
            joined.append((op, factor))
        items = joined
        # f(t) after a time-indexed letter is its time index: h(t), x(t-1)', o_i(t)
        merged: list[tuple[str, object]] = []
        for op, factor in items:
            if isinstance(factor, tuple):
                _, num, den = factor
                merged.append((op, self.derivative(num.children[0], den.children[0], num)))
                continue
            if (
                merged
                and op == "juxt"
                and isinstance(factor, lark.Tree)
                and factor.data == "iverson"
                and isinstance(merged[-1][1], _Atom)
                and merged[-1][1].base == "1"
                and not merged[-1][1].ops
            ):  # \mathbb{1}[i = y_t], \mathbb{1}(i = y_t): the indicator, as a bracket
                merged[-1] = (merged[-1][0], self.indicator(factor))
                continue
            if merged and op == "juxt" and self.is_activation_call(merged[-1][1], factor):
                prev_op, prev = merged[-1]  # f(a_t), f'(a_t), \phi(…): the model's activation
                group, post_ops = _split_group(factor)
                name = self.notation.functions[prev.base]
                primes = sum(1 for kind, _ in prev.ops if kind == "prime")
                text = (self.src(prev.tree) + self.src(factor)).strip()
                node = A.Func(("d" + name) if primes else name, self.expr(group), src=text)
                merged[-1] = (prev_op, self.apply_ops(node, post_ops, _Atom("", post_ops, factor)))
                continue
            if merged and op == "juxt" and self.is_time_call(merged[-1][1], factor):
                prev_op, prev = merged[-1]
                group, post_ops = _split_group(factor)
                prev.ops = prev.ops + [("call", group.children[0])] + post_ops
                merged[-1] = (prev_op, prev)
                continue
            if isinstance(factor, lark.Tree | lark.Token):
                atom = self.atom_of(factor) if isinstance(factor, lark.Tree) else None
                if (
                    atom is not None
                    and merged
                    and op == "juxt"
                    and isinstance(merged[-1][1], _Atom)
                    and merged[-1][1].base == "\\delta"
                    and not merged[-1][1].ops
                    and "\\delta " + atom.base in self.defs
                ):  # \delta c_{t+1}: the defined name δc at t+1
                    merged[-1] = (merged[-1][0], _Atom("\\delta " + atom.base, atom.ops, factor))
                    continue
                if atom is not None:
                    merged.append((op, atom))
                    continue
            merged.append((op, factor))
        values: list[tuple[str, A.Node]] = []
        for op, factor in merged:
            if isinstance(factor, A.Node):
                value = factor
            elif isinstance(factor, _Atom):
                value = self.resolve_atom(factor, index_mode)
            else:
                value = self.expr(factor, index_mode)
            values.append((op, value))
        values = self.runs(values, tree)
        values = self.row_chain(values)
        as_written = _combine(values)
        hadamard = [i for i, (op, _) in enumerate(values) if op in _HADAMARD and i > 0]
        products = [i for i, (op, _) in enumerate(values) if op in _PRODUCT and i > 0]
        if not hadamard or not products:
            return as_written
        # (1-h_t^2) \odot W^T \delta_{t+1}: notes mean the product first; which reading is
        # meant shows in the shapes, so the evaluator takes the first that conforms
        segments: list[tuple[str, A.Node]] = []
        start = 0
        for cut in [*hadamard, len(values)]:
            part = [("juxt", values[start][1])] + values[start + 1 : cut]
            segments.append((values[start][0], _combine(part)))
            start = cut
        products_first = _combine(segments)
        if products_first == as_written:
            return as_written
        return A.Either(as_written, products_first, src=as_written.src)

    def runs(self, values: list[tuple[str, A.Node]], tree) -> list[tuple[str, A.Node]]:
        """F_t F_{t-1} \\cdots F_{k+1}: the factors around the dots, read as the product of
        their pattern (rnn_check/_ellipsis.py). The pattern is the fewest factors that make
        one: diag(1-h_t^2) W \\cdots diag(1-h_{k+1}^2) W repeats two."""
        values = list(values)
        while any(op == "dots" for op, _ in values):
            at = next(i for i, (op, _) in enumerate(values) if op == "dots")
            error = None
            ends = (values[at - 1][1], values[at][1])
            done = False
            for width in (1, 2, 3):
                if width > at or at + width > len(values):
                    break
                lefts, rights = values[at - width : at], values[at : at + width]
                if any(op not in _PRODUCT for op, _ in lefts[1:] + rights[1:]):
                    break
                left = _combine([("juxt", v) for _, v in lefts])
                right = _combine([("juxt", v) for _, v in rights])
                befores = []  # the units before the left end, nearest first
                start = at - width
                while start - width >= 0 and values[start][0] in _PRODUCT:
                    unit = values[start - width : start]
                    if any(op not in _PRODUCT for op, _ in unit[1:]):
                        break
                    befores.append(_combine([("juxt", v) for _, v in unit]))
                    start -= width
                try:
                    node, absorbed = self.run("prod", left, right, befores)
                except _ellipsis.EllipsisError as failure:
                    # name the first failure, or the one that found a pattern but no direction
                    if error is None or "which way" in str(failure):
                        error, ends = failure, (left, right)
                    continue
                first = at - width * (1 + absorbed)
                values[first : at + width] = [(values[first][0], node)]
                done = True
                break
            if not done:
                raise self.ellipsis_error("prod", *ends, error, tree)
        return values

    def row_chain(self, values: list[tuple[str, A.Node]]) -> list[tuple[str, A.Node]]:
        """WildML's and CS224n's row-vector chain rule, ∂E_3/∂ŷ_3 ∂ŷ_3/∂s_3 ∂s_3/∂s_k ∂s_k/∂W
        (the last factor the immediate partial ∂⁺s_k/∂W, s_{k-1} held fixed), as the column
        form it means: diag(f'(a_k)) gᵀ s_{k-1}ᵀ with the row g = (∂E/∂ŷ)ᵀ J … J, and 0 at
        k = 0, where s_0 is the given initial state. Only this exact shape is read: a
        gradient, then Jacobians, then the immediate partial, in an Elman cell."""
        last_op, last = values[-1]
        if not isinstance(last, _Immediate) or len(values) < 2:
            return values
        first = values[0][1]
        middle = [v for _, v in values[1:-1]]
        if (
            self.notation.model.cell != "rnn"
            or any(op not in _PRODUCT for op, _ in values[1:])
            or not isinstance(first, A.Grad)
            or not all(_is_jacobian_factor(v) for v in middle)
        ):
            return values
        quantity, param = last.quantity, last.param.name
        pieces = _IMMEDIATE.get((quantity.name, param))
        if pieces is None:
            return values
        row: A.Node = A.Transpose(first, src=first.src)
        for factor in middle:
            row = A.Mul(row, factor, src=f"{row.src} {factor.src}")
        column = A.Transpose(row, src=row.src)
        used = set()
        for _, v in values:
            used |= {i.name for i in A.walk(v) if isinstance(i, A.Index)}
        used |= {i.name for i in A.walk(quantity.time) if isinstance(i, A.Index)}
        m = next(letter for letter in "mjlnpqrsuv" if letter not in used)
        step = A.Index(m, src=m)
        prefix, right = pieces
        term: A.Node = column
        if prefix == "diag":
            activation = "d" + self.notation.model.activation
            slope = A.Func(activation, A.Quantity("a", step, src=f"a_{m}"), src=f"f'(a_{m})")
            term = A.Mul(A.Func("diag", slope, src=slope.src), term, src=term.src)
        elif prefix == "softmax":
            jacobian = A.Jacobian("yhat", step, "o", step, src=f"∂ŷ_{m}/∂o_{m}")
            term = A.Mul(A.Transpose(jacobian, src=jacobian.src), term, src=term.src)
        if right is not None:
            name, shift = right
            time = step if shift == 0 else A.Sub(step, A.Num(1.0), src=f"{m}-1")
            after = A.Transpose(A.Quantity(name, time, src=name), src=name)
            term = A.Mul(term, after, src=term.src)
        # Σ_{m=1}^{k} [m = k] (…): the term at m = k, and nothing at k = 0 (s_0 is given)
        picked = A.Mul(
            A.Indicator(step, "=", quantity.time, src=f"[{m}={quantity.time.src}]"),
            term,
            src=term.src,
        )
        src = " ".join(v.src for _, v in values)
        node = A.BigOp("sum", m, A.Num(1.0), quantity.time, picked, src=src)
        return [(values[0][0], node)]

    def run(self, kind: str, left: A.Node, right: A.Node, befores) -> tuple[A.Node, int]:
        return _ellipsis.run(kind, left, right, befores, f"{left.src} \\cdots {right.src}")

    def ellipsis_error(self, kind, left, right, error, tree) -> A.FormulaError:
        example = "\\prod_{m=k+1}^{t} …" if kind == "prod" else "\\sum_{t=1}^{T} …"
        return self.fail(
            f"an ellipsis between {left.src} and {right.src} cannot be read as a run of one "
            f"pattern ({error or 'no pattern'}): write the "
            f"{'product' if kind == 'prod' else 'sum'} with its bounds, e.g. {example}",
            tree,
        )

    def is_activation_call(self, previous, factor) -> bool:
        if not isinstance(previous, _Atom) or previous.base not in self.notation.functions:
            return False
        if previous.base in self.defs or any(kind != "prime" for kind, _ in previous.ops):
            return False
        if len(previous.ops) > 1:
            return False
        group, _ = _split_group(factor)
        return group is not None

    def is_time_call(self, previous, factor) -> bool:
        if not isinstance(previous, _Atom):
            return False
        group, _ = _split_group(factor)
        if group is None:
            return False
        base = previous.base
        n = self.notation
        fixed_ok = base in n.quantities or base in self.defs or base in n.losses
        if not fixed_ok:
            return False
        if any(kind in ("call", "sup", "prime") for kind, _ in previous.ops):
            return False
        subs = [op for op in previous.ops if op[0] == "sub"]
        if len(subs) > 1 or (subs and len(_scriptlist_items(subs[0][1])) != 1):
            return False
        return self.index_like(group.children[0])

    def index_like(self, tree) -> bool:
        """t, t-1, k+1, T, 0: what a time argument h(t-1) may contain."""
        if isinstance(tree, lark.Token):
            return tree.type in ("DIGIT", "NUMBER") or (
                tree.type == "LETTER"
                and (str(tree) in INDEX_LETTERS or str(tree) in self.notation.lengths)
            )
        if tree.data in ("add", "subtract"):
            return all(self.index_like(c) for c in tree.children)
        if tree.data == "number":
            return True
        if tree.data == "name":
            name = str(tree.children[0])
            return name in INDEX_LETTERS or name in self.notation.lengths
        return False

    def funcapp(self, tree) -> A.Node:
        fname_tree = tree.children[0]
        word = str(fname_tree.children[-1])
        name = _FUNCTIONS.get(word)
        src = self.src(tree)
        if name is None:
            raise self.fail(
                f"{word} is not a function of this model: use tanh, \\sigma, relu, diag, softmax",
                tree,
            )
        scripts = [c for c in tree.children[1:-1] if isinstance(c, lark.Tree)]
        primes = [c for c in tree.children[1:-1] if isinstance(c, lark.Token) and c.type == "PRIME"]
        arg = self.expr(tree.children[-1])
        if primes:
            if name not in _DIFFERENTIABLE or len(primes) > 1:
                raise self.fail(
                    f"only tanh', \\sigma' and relu' (first derivatives) are understood, not "
                    f"{word}{chr(39) * len(primes)}",
                    tree,
                )
            node: A.Node = A.Func("d" + name, arg, src=src)
        else:
            node = A.Func(name, arg, src=src)
        for script in scripts:
            inner = _unwrap_scriptlist(script.children[0])
            if (
                script.data == "sup"
                and isinstance(inner, lark.Tree)
                and inner.data == "number"
                and str(inner.children[0]) == "2"
            ):
                node = A.Square(node, src=src)
            else:
                raise self.fail(f"{word}{self.src(script)}: only {word}^2 is understood", script)
        return node

    def bigop(self, tree) -> A.Node:
        kind = "sum" if str(tree.children[0]) == "\\sum" else "prod"
        scripts = [c for c in tree.children[1:-1]]
        body_tree = tree.children[-1]
        variables: list[tuple[str, A.Node | None, A.Node | None]] = []
        upper = None
        for script in scripts:
            items = _scriptlist_items(script.children[0])
            if script.data == "sub":
                for item in items:
                    if isinstance(item, lark.Tree) and item.data in ("relation", "relation2"):
                        variables.append(self.bound_relation(item))
                    else:
                        variables.append((self.bound_var(item), None, None))
            else:
                if len(items) != 1:
                    raise self.fail("one upper bound, please", script)
                item = items[0]
                if isinstance(item, lark.Tree) and item.data == "relation":
                    item = item.children[2]
                upper = self.index_expr(item)
        if not variables:
            raise self.fail(
                f"\\{kind} needs its index, as in \\{kind}_{{t=1}}^{{T}} (or \\{kind}_t)", tree
            )
        body = self.expr(body_tree)
        # The operator covers the factors up to the last one that mentions its index:
        # \prod_j (W^T D_j) V^T g is (\prod_j W^T D_j) V^T g. For a sum this changes
        # nothing (linearity); for a product it is how the notes mean it.
        factors = _spine(body, self.grouped)
        names = {var for var, _, _ in variables}
        last = max(
            (i for i, f in enumerate(factors) if A.free_indices(f) & names),
            default=len(factors) - 1,
        )
        # ∏_j diag(1-h_j^2) W is a product of Jacobians: a W (or Wᵀ) right after the last
        # indexed factor belongs to each factor, not to the result
        while kind == "prod" and last + 1 < len(factors) and _is_recurrent(factors[last + 1]):
            last += 1
        covered, rest = factors[: last + 1], factors[last + 1 :]
        body = covered[0]
        for f in covered[1:]:
            body = A.Mul(body, f, src=(body.src + " " + f.src).strip())
        head = self.src_between(tree, body_tree)
        src = (head + " " + " ".join(f.src for f in covered)).strip() if rest else self.src(tree)
        for var, lower, below in reversed(variables):
            bound = below if below is not None else upper if len(variables) == 1 else None
            body = A.BigOp(kind, var, lower, bound, body, src=src)
        for f in rest:
            body = A.Mul(body, f, src=(body.src + " " + f.src).strip())
        return body

    def src_between(self, tree, body_tree) -> str:
        start, end = self.pos(tree), self.pos(body_tree)
        if start is None or end is None:
            return ""
        return " ".join(self.text[start:end].split())

    def bound_relation(self, item) -> tuple[str, A.Node | None, A.Node | None]:
        """(var, lower, upper) of a range written as a relation under Σ or Π.

        k=1 is a lower bound; k \\le t, k < t an upper one; k \\ge t, k > t a lower one;
        1 \\le k \\le t both. A missing bound is the natural one (1, or T / the size).
        """
        if item.data == "relation2":  # 1 \le k \le t or t \ge k \ge 1
            low, op1, middle, op2, high = item.children
            if str(op1) in _UPPER_OPS and str(op2) in _UPPER_OPS:
                var = self.bound_var(middle)
                lower = self.index_expr(low)
                if str(op1) == "<":
                    lower = A.Add(lower, A.Num(1.0), src=self.src(low))
                upper = self.index_expr(high)
                if str(op2) == "<":
                    upper = A.Sub(upper, A.Num(1.0), src=self.src(high))
                return var, lower, upper
            if str(op1) in _LOWER_OPS and str(op2) in _LOWER_OPS:
                var = self.bound_var(middle)
                upper = self.index_expr(low)
                if str(op1) == ">":
                    upper = A.Sub(upper, A.Num(1.0), src=self.src(low))
                lower = self.index_expr(high)
                if str(op2) == ">":
                    lower = A.Add(lower, A.Num(1.0), src=self.src(high))
                return var, lower, upper
            raise self.fail(
                "a range under \\sum or \\prod runs one way, as in 1 \\le k \\le t", item
            )
        left, op, right = item.children
        var = self.bound_var(left)
        bound = self.index_expr(right)
        op = str(op)
        if op == "=":
            return var, bound, None
        if op in ("\\le", "\\leq"):
            return var, None, bound
        if op == "<":
            return var, None, A.Sub(bound, A.Num(1.0), src=self.src(right))
        if op in ("\\ge", "\\geq"):
            return var, bound, None
        if op == ">":
            return var, A.Add(bound, A.Num(1.0), src=self.src(right)), None
        raise self.fail(
            f"{self.src(item)} is not a range: write k=1 with an upper bound, k \\le t or k \\ge t",
            item,
        )

    def bound_var(self, tree) -> str:
        atom = self.atom_of(tree) if isinstance(tree, lark.Tree) else None
        if atom is None or atom.ops or atom.base not in INDEX_LETTERS:
            raise self.fail(
                f"{self.src(tree)} cannot be a summation index: use a letter such as t, k, i, j",
                tree,
            )
        return atom.base

    def derivative(self, num_tree, den_tree, tree) -> A.Node:
        src = self.src(tree)
        if self.is_step_loss(num_tree):
            return self.step_loss_node(num_tree, den_tree, tree)
        if self.is_loss(num_tree):
            loss_atom = self.atom_of(num_tree)
            step = None
            subs = [arg for kind, arg in loss_atom.ops if kind in ("sub", "call", "sup")]
            if subs:
                inner = _unwrap_scriptlist(subs[0])
                if isinstance(inner, lark.Tree) and inner.data == "angle":
                    inner = _angle_body(inner)
                step = self.index_expr(inner)
            den = self.expr(den_tree)
            return self.gradient_node(den, step, src, tree)
        num = self.expr(num_tree)
        den = self.expr(den_tree)
        if isinstance(num, A.Quantity) and isinstance(den, A.Quantity):
            comp = num.comp + den.comp
            return A.Jacobian(num.name, num.time, den.name, den.time, comp, src=src)
        if isinstance(num, A.Quantity) and isinstance(den, A.Param):
            # WildML's and CS224n's Σ_k ∂E_3/∂ŷ_3 ∂ŷ_3/∂s_3 ∂s_3/∂s_k ∂s_k/∂W: the last factor is
            # the immediate partial ∂⁺s_k/∂W (s_{k-1} held fixed), a tensor the row vector
            # before it contracts; the dialect has column vectors and matrices only
            words = (
                "the immediate partial (∂⁺h_k/∂W, h_{k-1} held fixed) of the row-vector chain "
                "rule, a three-index tensor: this dialect has column vectors and matrices only, "
                "so it cannot contract it (nor read ∂L/∂ŷ as a row). Write the same sum with "
                "the gradient as a column: \\sum_{k=1}^{3} \\mathrm{diag}(1-h_k^2) \\left("
                "\\frac{\\partial h_3}{\\partial h_k}\\right)^\\top \\nabla_{h_3} L_3\\, "
                "h_{k-1}^\\top"
            )
            # inside a product the row-vector chain rule can consume it (row_chain)
            return _Immediate(
                num, den, message=f"{src} is {speak(words, self.notation)}", pos=self.pos(tree)
            )
        raise self.fail(
            f"{src}: only ∂L/∂q_t, ∂L_t/∂q_t and ∂q_n/∂r_d for q, r among x, h, a, o, ŷ are understood",
            tree,
        )

    def gradient_node(self, den: A.Node, step, src: str, tree) -> A.Node:
        if isinstance(den, A.Quantity) and den.name != "y":
            return A.Grad(den.name, den.time, step, den.comp, src=src)
        if isinstance(den, A.Param | A.Component) or (
            isinstance(den, A.Quantity) and den.name == "h"
        ):
            raise self.fail(
                f"{src} is the gradient being checked: it can only be the left side, "
                "as in \\nabla_W L = …",
                tree,
            )
        raise self.fail(
            f"{src}: the loss can only be differentiated by a parameter or a quantity of the "
            "model (h, a, o, ŷ; c and the gates of an LSTM or GRU) here",
            tree,
        )

    def frac(self, tree) -> A.Node:
        num, den = tree.children[1], tree.children[2]
        scaled = self.scaled_partial(num, den)
        if scaled is not None:
            # d2l's \frac{\partial l(o_t, y_t)}{T \cdot \partial o_t}: the derivative over T
            factor, den = scaled
            inner = lark.Tree("frac", [tree.children[0], num, den], meta=tree.meta)
            return A.Div(self.frac(inner), self.expr(factor), src=self.src(tree))
        num_d, den_d = self.d_operand(num), self.d_operand(den)
        if num_d is not None and den_d is not None:  # \frac{dL}{dh_t}: read as ∂
            return self.derivative(num_d, den_d, tree)
        if (
            isinstance(num, lark.Tree)
            and num.data == "mul"
            and _is_partial(num.children[0])
            and self.is_step_loss(num.children[0].children[0])
            and isinstance(num.children[1], lark.Tree)
            and num.children[1].data in ("pair", "group")
            and _is_partial(den)
        ):  # \frac{\partial l(o_t, y_t)}{\partial o_t}: the arguments name no step
            return self.step_loss_node(num.children[0].children[0], den.children[0], tree)
        if isinstance(num, lark.Tree) and num.data == "partial":
            if not (isinstance(den, lark.Tree) and den.data == "partial"):
                raise self.fail("a fraction with \\partial on top needs \\partial below", tree)
            return self.derivative(num.children[0], den.children[0], tree)
        top = self.expr(num) if isinstance(num, lark.Tree) else A.Num(float(num), src=str(num))
        bottom = self.expr(den) if isinstance(den, lark.Tree) else A.Num(float(den), src=str(den))
        return A.Div(top, bottom, src=self.src(tree))

    def scaled_partial(self, num, den):
        """(factor, ∂-denominator) for a derivative of a loss written over `factor · ∂q`."""
        if not (isinstance(den, lark.Tree) and den.data in ("mul", "mulop")):
            return None
        if len(den.children) not in (2, 3) or not _is_partial(den.children[-1]):
            return None
        if den.data == "mulop" and str(den.children[1]) not in ("\\cdot", "\\times", "*"):
            return None
        top = num.children[0] if isinstance(num, lark.Tree) and num.data == "mul" else num
        if not (
            _is_partial(top)
            and (self.is_loss(top.children[0]) or self.is_step_loss(top.children[0]))
        ):
            return None
        return den.children[0], den.children[-1]

    def d_operand(self, tree):
        """X if `tree` is `d X` or `\\mathrm{d} X` (a total derivative's d), else None."""
        if isinstance(tree, lark.Tree) and tree.data == "mul" and len(tree.children) == 2:
            first = (
                self.atom_of(tree.children[0]) if isinstance(tree.children[0], lark.Tree) else None
            )
            if first is not None and first.base == "d" and not first.ops:
                if "d" not in self.notation.quantities and "d" not in self.notation.params:
                    return tree.children[1]
        return None

    def nabla(self, tree) -> A.Node:
        scripts = [
            c for c in tree.children if isinstance(c, lark.Tree) and c.data in ("sub", "sup")
        ]
        operand = tree.children[-1]
        subs = [s for s in scripts if s.data == "sub"]
        if not subs:
            raise self.fail("write the variable under \\nabla, as in \\nabla_{h_t} L", tree)
        if self.is_step_loss(operand):
            return self.step_loss_node(operand, _unwrap_scriptlist(subs[0].children[0]), tree)
        if not self.is_loss(operand):
            raise self.fail("\\nabla_{…} applies to the loss, as in \\nabla_{h_t} L", tree)
        loss_atom = self.atom_of(operand)
        step = None
        loss_subs = [arg for kind, arg in loss_atom.ops if kind in ("sub", "call")]
        if loss_subs:
            step = self.index_expr(_unwrap_scriptlist(loss_subs[0]))
        den = self.expr(_unwrap_scriptlist(subs[0].children[0]))
        node = self.gradient_node(den, step, self.src(tree), tree)
        # \nabla_{h_t} L^\top: a transpose (or square) written on L applies to the gradient
        rest = [(kind, arg) for kind, arg in loss_atom.ops if kind in ("sup", "prime")]
        return self.apply_ops(node, rest, _Atom("", rest, tree)) if rest else node


@dataclass(frozen=True)
class _Immediate(A.Node):
    """∂q_k/∂P (a quantity by a parameter): only the row-vector chain rule (`row_chain`)
    reads it; anywhere else parse_formula raises `message`."""

    quantity: A.Node
    param: A.Node
    message: str = ""
    pos: int | None = None


# (quantity, parameter) -> (what multiplies gᵀ on the left, (quantity on the right, shift))
_IMMEDIATE = {
    ("h", "W"): ("diag", ("h", 1)),
    ("h", "U"): ("diag", ("x", 0)),
    ("h", "b"): ("diag", None),
    ("a", "W"): (None, ("h", 1)),
    ("a", "U"): (None, ("x", 0)),
    ("a", "b"): (None, None),
    ("o", "V"): (None, ("h", 0)),
    ("o", "c"): (None, None),
    ("yhat", "V"): ("softmax", ("h", 0)),
    ("yhat", "c"): ("softmax", None),
}


def _is_jacobian_factor(node: A.Node) -> bool:
    """∂q/∂r, or a product (Π, or a run with \\cdots) of them."""
    if isinstance(node, A.Jacobian):
        return not node.comp
    if isinstance(node, A.BigOp) and node.kind == "prod":
        return _is_jacobian_factor(node.body)
    if isinstance(node, A.Mul):
        return _is_jacobian_factor(node.left) and _is_jacobian_factor(node.right)
    return False


def _left_immediate(program: A.Program, text: str) -> None:
    """An immediate partial ∂s_k/∂W outside the row-vector chain rule: say why not."""
    for node in A.walk(program):
        if isinstance(node, _Immediate):
            raise ParseError(node.message, text, node.pos)


_UPPER_OPS = ("\\le", "\\leq", "<")
_LOWER_OPS = ("\\ge", "\\geq", ">")


def _merge_continued(tree: lark.Tree) -> list[lark.Tree]:
    """Statements, with `a &= b \\\\ &= c` (a line starting with =) joined to the one before."""
    out: list[lark.Tree] = []
    for stmt in (c for c in tree.children if isinstance(c, lark.Tree)):
        if stmt.data == "continued" and out:
            out[-1] = lark.Tree("stmt", out[-1].children + stmt.children, meta=out[-1].meta)
        else:
            out.append(lark.Tree("stmt", stmt.children, meta=stmt.meta))
    return out


def _spine(node: A.Node, grouped: set[int] = frozenset()) -> list[A.Node]:
    """The factors of a left-associated chain of matrix products; a bracketed product
    (an id in `grouped`) is one factor."""
    factors = []
    while isinstance(node, A.Mul) and id(node) not in grouped:
        factors.append(node.right)
        node = node.left
    factors.append(node)
    return factors[::-1]


_HADAMARD = ("\\odot", "\\circ")
_PRODUCT = ("juxt", "\\cdot", "\\times", "*", "\\ast", "\\otimes")


def _combine(values: list[tuple[str, A.Node]]) -> A.Node:
    """Left to right: each value joined to the ones before it by the operator before it."""
    node = values[0][1]
    for op, value in values[1:]:
        src = (node.src + " " + value.src).strip()
        if op == "/":
            node = A.Div(node, value, src=src)
        elif op == "\\otimes":  # u ⊗ v: the outer product u vᵀ
            node = A.Mul(node, A.Transpose(value, src=value.src), src=src)
        elif op in _HADAMARD:
            node = A.Hadamard(node, value, src=src)
        else:
            node = A.Mul(node, value, src=src)
    return node


def _is_delta(tree) -> bool:
    return (
        isinstance(tree, lark.Tree) and tree.data == "name" and str(tree.children[0]) == "\\delta"
    )


def _is_recurrent(node: A.Node) -> bool:
    """W or Wᵀ (the hidden-to-hidden matrix, in canonical letters)."""
    if isinstance(node, A.Transpose):
        node = node.operand
    return isinstance(node, A.Param) and node.name == "W"


def _is_partial(tree) -> bool:
    return isinstance(tree, lark.Tree) and tree.data == "partial"


def _unwrap_scriptlist(tree):
    if isinstance(tree, lark.Tree) and tree.data == "scriptlist":
        items = _scriptlist_items(tree)
        if len(items) == 1:
            return items[0]
    return tree


def _scriptlist_items(tree) -> list:
    if isinstance(tree, lark.Tree) and tree.data == "scriptlist":
        return [c for c in tree.children if not (isinstance(c, lark.Token) and c.type == "COMMA")]
    return [tree]


def _is_relation(tree) -> bool:
    inner = _unwrap_scriptlist(tree)
    return isinstance(inner, lark.Tree) and inner.data == "relation"


def _is_time_sup(tree) -> bool:
    inner = _unwrap_scriptlist(tree)
    return isinstance(inner, lark.Tree) and inner.data in ("angle", "group")


def _angle_body(tree: lark.Tree):
    """What <t> or \\langle t \\rangle encloses: `<` and `>` are kept tokens, the
    \\langle/\\rangle keywords are not, so the child's position differs."""
    return next(
        c for c in tree.children if not (isinstance(c, lark.Token) and c.type in ("LT", "GT"))
    )


def _time_sup_inner(tree):
    inner = _unwrap_scriptlist(tree)
    if inner.data == "angle":
        return _angle_body(inner)
    return inner.children[0]


def _split_time_sup(tree):
    """(time, ops) for a time superscript: (t), <t>, and with a transpose inside as
    Goodfellow writes it, (t-1)^\\top, (t)\\top, (t)T, (t)'; None for anything else."""
    inner = _unwrap_scriptlist(tree)
    if not isinstance(inner, lark.Tree):
        return None
    if inner.data in ("angle", "group"):
        return _time_sup_inner(inner), []
    if inner.data == "angle_mark":  # a^{<t>T}, as the deeplearning.ai cheatsheet writes it
        if not _is_transpose_mark(inner.children[3]):
            return None
        return inner.children[1], [("sup", lark.Tree("top", [lark.Token("TOP", "\\top")]))]
    transpose = ("sup", lark.Tree("top", [lark.Token("TOP", "\\top")]))
    if inner.data == "prime" and _is_time_sup(inner.children[0]):
        return _time_sup_inner(inner.children[0]), [("prime", None)]
    if inner.data == "scripted" and _is_time_sup(inner.children[0]):
        script = inner.children[1]
        if script.data == "sup" and _is_transpose_mark(script.children[0]):
            return _time_sup_inner(inner.children[0]), [transpose]
    if inner.data == "mul" and len(inner.children) == 2 and _is_time_sup(inner.children[0]):
        if _is_transpose_mark(inner.children[1]):
            return _time_sup_inner(inner.children[0]), [transpose]
    return None


def _is_transpose_mark(tree) -> bool:
    """^\\top, ^T, ^{\\mathsf{T}}, ^{\\mathrm{T}}: what a superscript writes for a transpose."""
    inner = _unwrap_scriptlist(tree)
    if isinstance(inner, lark.Token):
        return inner.type == "TOP" or (inner.type == "LETTER" and str(inner) == "T")
    if not isinstance(inner, lark.Tree):
        return False
    if inner.data == "top":
        return True
    if inner.data == "name":
        return str(inner.children[0]) == "T"
    if inner.data == "deco" and str(inner.children[0]) in ("\\mathsf", "\\mathrm", "\\mathit"):
        return _is_transpose_mark(inner.children[1])
    return False


def _split_group(factor):
    """(group, ops) if `factor` is a bracketed expression, possibly with scripts after it."""
    ops = []
    tree = factor
    while isinstance(tree, lark.Tree) and tree.data in ("scripted", "prime"):
        if tree.data == "prime":
            ops.append(("prime", None))
        else:
            ops.append((tree.children[1].data, tree.children[1].children[0]))
        tree = tree.children[0]
    if isinstance(tree, lark.Tree) and tree.data == "group":
        ops.reverse()
        return tree, ops
    return None, []


def _index_letters(nodes: list[A.Node]) -> tuple[str, ...]:
    """The letters of index nodes (i, j); () unless every one is a plain index letter."""
    if nodes and all(isinstance(n, A.Index) for n in nodes):
        return tuple(n.name for n in nodes)
    return ()


def block_of(node: A.Node) -> tuple[str, A.Node | None] | None:
    """(block, time) a wrt expression names: ('W', None), ('h0', None), ('h_t', t), ..."""
    if isinstance(node, A.Param):
        return node.name, None
    if isinstance(node, A.Component) and isinstance(node.operand, A.Param):
        # ∂L/∂W_{ij}: one entry of W, written with free indices on the right side
        return (node.operand.name, None) if _index_letters(list(node.comp)) else None
    if isinstance(node, A.Quantity):
        is_zero = isinstance(node.time, A.Num) and node.time.value == 0
        if node.name in ("h", "c") and is_zero:
            return f"{node.name}0", None
        if node.name not in ("x", "y"):
            return f"{node.name}_t", node.time
    return None


def _definition_names(tree: lark.Tree, builder: _Builder) -> frozenset[str]:
    names = set()
    for stmt in _merge_continued(tree):
        if len(stmt.children) < 2:
            continue
        lhs = stmt.children[0]
        if builder.declared_gradient_safe(lhs):
            continue
        atom = builder.atom_of(lhs)
        if atom is None:
            continue
        try:
            key, _ = builder.def_key(atom)
        except ParseError:
            continue
        if atom.base in builder.notation.params:
            raise builder.fail(
                f"{atom.base} is a parameter of the model and cannot be redefined", lhs
            )
        if builder.is_model_quantity(lhs):
            continue  # a_t = W h_{t-1} + …: a statement about the model, not a new name
        names.add(key)
    return frozenset(names)


def _untimed_letters(stmt: lark.Tree) -> bool:
    """True if no letter of the statement carries a script or a time: σ'(a) = σ(a)(1 − σ(a))."""
    return not any(node.data in ("sub", "angle", "angle_mark") for node in stmt.iter_subtrees())


def _declared_gradient_safe(self, lhs) -> bool:
    try:
        return self.declared_gradient(lhs) is not None
    except (A.FormulaError, IndexError, AttributeError):
        return False


_Builder.declared_gradient_safe = _declared_gradient_safe


def _internal(error: Exception) -> str:
    return (
        f"the checker could not read this formula ({type(error).__name__}: {error}); this is a "
        "bug in rnn-derivations: please report it with the formula"
    )


def parse_formula(
    text: str, notation: str | Notation = "canonical", model: object = None
) -> A.Program:
    """Parse `text` (one gradient, optionally with definitions) in the given notation, with
    the letters of `model` (an rnn_spec Model, mapping or text; None: the canonical model).
    A Notation passed in is used as it is (see `_notation.for_model`)."""
    if isinstance(notation, Notation):
        table = notation
    else:
        from rnn_spec import parse_model

        table = for_model(get_notation(notation), parse_model(model))
    if isinstance(text, str) and len(text) <= MAX_LENGTH:
        # tabs and other blanks as single spaces: the caret echo then lines up (same offsets)
        text = strip_math_delimiters(normalize(text)).translate(_BLANKS)
        shown, text = text, blank_decorations(text)
        try:
            return _parse_blanked(text, table)
        except ParseError as error:
            if error.text != text or shown == text:
                raise
            # the caret under the user's own text (blanking keeps every position)
            raise ParseError(error.message, shown, error.position) from None
    return _parse_blanked(text, table)


def _parse_blanked(text: str, table: Notation) -> A.Program:
    tree = parse_tree(text)
    chain, depth = _longest_chain(tree)
    _check_terms(chain, text)  # before the (recursive) builder walks the chain
    if depth > MAX_LARK_DEPTH:  # likewise: \tanh \tanh … or - - … h_t, 500 levels deep
        raise ParseError(f"formula nested deeper than {MAX_TREE_DEPTH} levels", text)
    try:
        probe = _Builder(text, table, frozenset())
        names = _definition_names(tree, probe)
        program = _Builder(text, table, names).program(tree)
    except RecursionError:
        raise ParseError("formula nested too deeply", text) from None
    except A.FormulaError:
        raise
    except Exception as error:  # a bug of ours: still one of our errors, never a traceback
        raise ParseError(_internal(error), text) from error
    _left_immediate(program, text)
    nesting, terms = _nesting_and_terms(program)
    _check_terms(terms, text)
    if nesting > MAX_TREE_DEPTH:
        raise ParseError(f"formula nested deeper than {MAX_TREE_DEPTH} levels", text)
    return _tau_is_the_length(program)


def _tau_is_the_length(program: A.Program) -> A.Program:
    """A free τ is the sequence length, as in Goodfellow (Σ_{t=1}^{τ}, ∇_{h^{(τ)}}L = Vᵀ∇_{o^{(τ)}}L):
    read as a running index it would judge the last step's formula at every step. A τ that
    a sum, a product or a definition (g_τ = …) binds stays an index."""
    length = A.Length(src="\\tau")

    def free_tau_is_length(node: A.Node) -> A.Node:
        return A.substitute_index(node, "\\tau", length)

    definitions = tuple(
        d if d.param == "\\tau" else free_tau_is_length(d) for d in program.definitions
    )
    answers = tuple(free_tau_is_length(a) for a in program.answers)
    links = tuple(free_tau_is_length(link) for link in program.links)
    return dataclasses.replace(program, definitions=definitions, answers=answers, links=links)


_BLANKS = str.maketrans("\t\r\f\v", "    ")


def _check_terms(terms: int, text: str) -> None:
    if terms > MAX_TERMS:
        raise ParseError(
            f"too many terms ({terms} in one sum or product; the limit is {MAX_TERMS}): "
            "name parts of it in definitions (g_t = …) or use \\sum with bounds",
            text,
        )


_LARK_FAMILY = {"add": "sum", "subtract": "sum", "mul": "product", "mulop": "product"}


def _longest_chain(tree: lark.Tree) -> tuple[int, int]:
    """(the most terms of one left-associative chain, the nesting depth where the links of
    a chain count as one level) of lark's tree, iteratively."""
    best = deepest = 0
    stack: list[tuple[object, int, int]] = [(tree, 1, 1)]
    while stack:
        node, run, depth = stack.pop()
        best = max(best, run)
        deepest = max(deepest, depth)
        if not isinstance(node, lark.Tree):
            continue
        family = _LARK_FAMILY.get(node.data)
        for i, child in enumerate(node.children):
            same = isinstance(child, lark.Tree) and _LARK_FAMILY.get(child.data) == family
            if family and i == 0 and same:
                stack.append((child, run + 1, depth))
            else:
                chained = isinstance(child, lark.Tree) and child.data in _LARK_FAMILY
                stack.append((child, 2 if chained else 1, depth + 1))
    return best, deepest


# a left operand of the same family continues a flat chain (a + b - c, A B C, a ⊙ b ⊙ c)
_CHAIN_FAMILY = {A.Add: "sum", A.Sub: "sum", A.Mul: "product", A.Hadamard: "hadamard"}


def _nesting_and_terms(root: A.Node) -> tuple[int, int]:
    """The nesting depth, where the links of a flat chain count as one level, and the
    longest chain (in terms). Iterative: the tree may be deeper than Python's stack."""
    nesting = terms = 0
    # (node, its nesting level, terms of the chain it ends so far)
    stack: list[tuple[A.Node, int, int]] = [(root, 1, 1)]
    while stack:
        node, level, run = stack.pop()
        nesting = max(nesting, level)
        terms = max(terms, run)
        family = _CHAIN_FAMILY.get(type(node))
        for i, child in enumerate(node.children()):
            if family and i == 0 and _CHAIN_FAMILY.get(type(child)) == family:
                stack.append((child, level, run + 1))
            else:
                stack.append((child, level + 1, 2 if _CHAIN_FAMILY.get(type(child)) else 1))
    return nesting, terms


def parse_expression(
    text: str, notation: str | Notation = "canonical", model: object = None
) -> A.Node:
    """A single expression without definitions (used for --wrt and for references)."""
    program = parse_formula(text, notation, model)
    if program.definitions or len(program.answers) != 1:
        raise ParseError(f"expected one expression, got {text!r}", text)
    return program.answers[0].body
