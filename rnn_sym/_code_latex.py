"""Code as maths: a NumPy function rendered by latexify-py, without latexify's misleading bits.

latexify prints `A @ B` and `a * b` the same way (`A \\cdot B`, or side by side), prints
`W.T` literally and escapes `W_hh` as `\\mathrm{W\\_hh}`. For the step functions of an RNN
those three read wrong: a matrix product looks like a dot product, an elementwise product
looks like a matrix product, and the transpose disappears. `code_to_latex` calls
`latexify.get_latex` (never `str()` of a latexified function, which hides failures) with
three rendering rules of its own, active only for the duration of that call:

- `A @ B` is written side by side, `A B`, as in the maths;
- `a * b` between two arrays is `a \\odot b` (a numeric constant or a name listed in
  `scalars` multiplies side by side); a product of the other kind inside a product is
  always bracketed, since `W (a \\odot b)` and `(W a) \\odot b` differ;
- `X.T` is `X^{\\top}`;

and names print as the maths prints them: `names` maps a Python name to LaTeX
(`{"h_prev": "h_{t-1}"}`), other names with an underscore get a subscript (`W_hh` ->
`W_{hh}`), and the `np.` prefix is dropped (`np.tanh` -> `\\tanh`).
"""

from __future__ import annotations

import ast
import inspect
import threading
from collections.abc import Callable, Collection, Mapping
from contextlib import contextmanager
from typing import Any

from rnn_sym._errors import RnnSymError


class CodeLatexError(RnnSymError):
    """latexify could not render a function (unsupported syntax, no source available)."""


_LOCK = threading.Lock()  # the rendering rules are installed on latexify's codegen class


def _import_latexify():
    try:
        import latexify
        from latexify.codegen import expression_codegen, expression_rules
    except ImportError as error:  # a dependency of the project; say how to get it
        raise CodeLatexError(
            "latexify-py is not installed: `pip install 'latexify-py>=0.4.2,<0.5'`"
        ) from error
    return latexify, expression_codegen.ExpressionCodegen, expression_rules


def _default_name(name: str) -> str:
    """`W_hh` -> `W_{hh}`, `x_t` -> `x_{t}`, `alpha` -> `\\alpha`, `lr` -> `\\mathrm{lr}`."""
    base, _, rest = name.partition("_")
    _, _, rules = _import_latexify()
    if base in rules.MATH_SYMBOLS:
        base_latex = "\\" + base
    elif len(base) == 1:
        base_latex = base
    else:
        base_latex = rf"\mathrm{{{base}}}"
    if not rest:
        return base_latex
    parts = [p for p in rest.split("_") if p]
    sub = ",".join(p if p.isalnum() and len(p) <= 3 else rf"\mathrm{{{p}}}" for p in parts)
    return f"{{{base_latex}_{{{sub}}}}}"


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float))


def _product_kind(node: ast.AST) -> type | None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.MatMult)):
        return type(node.op)
    return None


def _bracket(latex: str) -> str:
    return rf"\mathopen{{}}\left( {latex} \mathclose{{}}\right)"


@contextmanager
def _maths_rules(names: Mapping[str, str], scalars: Collection[str]):
    """Install the three rendering rules on latexify's ExpressionCodegen, then restore it."""
    _, codegen_class, rules = _import_latexify()
    original = {
        attr: codegen_class.__dict__[attr]
        for attr in ("visit_BinOp", "visit_Attribute", "visit_Name")
    }

    def is_scalar(node: ast.AST) -> bool:
        return _is_number(node) or (isinstance(node, ast.Name) and node.id in scalars)

    def kind_of(node: ast.AST) -> type | None:
        """Mult (elementwise), MatMult, or None: a product by a scalar mixes with either."""
        kind = _product_kind(node)
        if kind is ast.Mult and (is_scalar(node.left) or is_scalar(node.right)):
            return None
        return kind

    def visit_binop(self, node: ast.BinOp) -> str:
        kind = _product_kind(node)
        if kind is None:
            return original["visit_BinOp"](self, node)
        precedence = rules.get_precedence(node)
        rule = self._bin_op_rules[kind]
        own = kind_of(node)
        # a product of the other kind as an operand is always bracketed: W (a ⊙ b) ≠ (W a) ⊙ b
        if own is not None and kind_of(node.left) not in (None, own):
            lhs = _bracket(self.visit(node.left))
        else:
            lhs = self._wrap_binop_operand(node.left, precedence, rule.operand_left)
        if own is not None and kind_of(node.right) not in (None, own):
            rhs = _bracket(self.visit(node.right))
        else:
            rhs = self._wrap_binop_operand(node.right, precedence, rule.operand_right)
        if kind is ast.MatMult or is_scalar(node.left) or is_scalar(node.right):
            return f"{lhs} {rhs}"
        return rf"{lhs} \odot {rhs}"

    def visit_attribute(self, node: ast.Attribute) -> str:
        if node.attr != "T":
            return original["visit_Attribute"](self, node)
        inner = self.visit(node.value)
        if not isinstance(node.value, (ast.Name, ast.Attribute, ast.Subscript)):
            inner = _bracket(inner)
        return rf"{{{inner}}}^{{\top}}"

    def visit_name(self, node: ast.Name) -> str:
        if node.id in names:
            return f"{{{names[node.id]}}}"
        if "_" in node.id.strip("_"):
            return _default_name(node.id)
        return original["visit_Name"](self, node)

    with _LOCK:
        codegen_class.visit_BinOp = visit_binop
        codegen_class.visit_Attribute = visit_attribute
        codegen_class.visit_Name = visit_name
        try:
            yield
        finally:
            for attr, method in original.items():
                setattr(codegen_class, attr, method)


# latexify prints these NumPy reductions as words; the maths has operators for them.
_WORDS = {r"\mathrm{max}": r"\max", r"\mathrm{min}": r"\min", r"\mathrm{argmax}": r"\arg\max"}


def code_to_latex(
    fn: Callable[..., Any],
    *,
    names: Mapping[str, str] | None = None,
    scalars: Collection[str] = (),
    lhs: str | None = None,
    reduce_assignments: bool = False,
) -> str:
    """The maths a NumPy function computes, as LaTeX (a maths-mode body).

    names: Python name -> LaTeX, e.g. {"h_prev": "h_{t-1}", "d_o_t": r"\\nabla_{o_t} L"}.
    scalars: names that hold scalars (their products print side by side, not with ⊙).
    lhs: LaTeX put before ` = ` (e.g. "h_t"); default: the function's name and arguments.
    reduce_assignments: substitute local assignments into the returned expression.
    """
    latexify, _, _ = _import_latexify()
    names = dict(names or {})
    for key in names:
        if not key.isidentifier():
            raise CodeLatexError(f"names: {key!r} is not a Python identifier of {fn.__name__}")
    try:
        with _maths_rules(names, frozenset(scalars)):
            body = latexify.get_latex(
                fn,
                use_math_symbols=True,
                use_signature=False,
                prefixes={"np", "numpy"},
                reduce_assignments=reduce_assignments,
            )
    except OSError as error:
        raise CodeLatexError(
            f"latexify could not read the source of {getattr(fn, '__name__', fn)!r} ({error}); "
            "define it in a module file"
        ) from error
    except Exception as error:  # latexify's own errors: say which function and why
        raise CodeLatexError(
            f"latexify could not render {getattr(fn, '__name__', fn)!r}: {error}"
        ) from error
    for word, operator in _WORDS.items():
        body = body.replace(word, operator)
    if lhs is None:
        args = ", ".join(
            f"{{{names[p]}}}" if p in names else _name_latex(p)
            for p in inspect.signature(fn).parameters
        )
        fname = fn.__name__.replace("_", r"\_")
        lhs = rf"\mathrm{{{fname}}}({args})"
    head, sep, last = body.rpartition(" \\\\ ")
    if body.startswith("\\begin{array}{l} ") and body.endswith(" \\end{array}") and sep:
        # local assignments, one per row: the function's value goes on the last row
        return f"{head} \\\\ {lhs} = {last}"
    return f"{lhs} = {body}"


def _name_latex(name: str) -> str:
    if "_" in name.strip("_"):
        return _default_name(name)
    return name if len(name) == 1 else rf"\mathrm{{{name}}}"
