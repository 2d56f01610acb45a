"""Code conventions declared, not converted: check a backward pass written the way its source writes.

A `Conventions` says how a user's code differs from `rnn_num.loss_and_grads(params, x, y,
h0)`: what it calls its parameters and their gradients, how it is called and what it
returns (two small templates, read by a tiny grammar below, never evaluated), where it keeps
its parameters (an argument, module globals, attributes of its object), the layout of its
arrays (time-first, batch-first, time-last), row or column vectors, bias shape, token inputs,
and the model its source implies. The checker wraps the user's function in an adapter with
the canonical signature, runs the usual battery, and speaks the user's names in the verdict.

Presets are data (`CONVENTIONS`): torch, cs231n (layer mode), karpathy (min-char-rnn),
deeplearning-ai (layer mode), wildml, canonical.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rnn_check import _code
from rnn_check._code import _IllFormed, _resolve, _Setting
from rnn_check._verdict import BlockError, Verdict

__all__ = [
    "CONVENTIONS",
    "Conventions",
    "ConventionsError",
    "check_layer",
    "check_with_conventions",
]


class ConventionsError(ValueError):
    """A conventions declaration that cannot be read; the message names the field and the fix."""


_LAYOUTS = ("time-first", "batch-first", "time-last")
_VECTORS = ("column", "row")
_BIAS = ("flat", "column")
_INPUTS = ("vectors", "tokens")
_BATCH = ("optional", "always", "never")
_WHERE = ("argument", "globals", "attributes")
# What a name in a template can stand for, besides the model's blocks (U, W, …, h0, c0).
_ROLES = ("params", "x", "y", "h0", "c0", "dh", "cache", "lr", "loss", "grads", "h")
_SIZES = ("n_x", "n_h", "n_y")


@dataclass(frozen=True)
class Conventions:
    """How a backward pass is written (docs/checking-code.md, "Code conventions").

    call / returns: templates such as "lossFun(inputs, targets, hprev)" and
    "loss, dWxh, dWhh, dWhy, dbh, dby, _", in the code's own names; `names` maps the
    checker's roles and blocks (x, y, h0, params, grads, U, W, …) to those names, `grad_names`
    how a gradient is named ("d{}": dWxh). An empty `returns` means the code updates its
    parameters in place by SGD with the learning rate `lr` of the call, and the gradients
    are read off the update. With `backward` set, `call` is the forward of a layer and
    `backward` takes ∂L/∂h from above (layer mode, `check_layer`).
    """

    name: str = "custom"
    call: str = "fn(params, x, y, h0=h0)"
    returns: str = "loss, grads"
    backward: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    grad_names: str = "{}"
    params: str = "argument"
    sizes: Mapping[str, str] = field(default_factory=dict)
    unused_params: Mapping[str, tuple] = field(default_factory=dict)
    layout: str = "time-first"
    vectors: str = "column"
    bias: str = "flat"
    inputs: str = "vectors"
    batch: str = "optional"
    equal_io: bool = False  # the code uses one vocabulary size for inputs and outputs
    model: str | None = None

    def __post_init__(self) -> None:
        for key, allowed in (
            ("layout", _LAYOUTS),
            ("vectors", _VECTORS),
            ("bias", _BIAS),
            ("inputs", _INPUTS),
            ("batch", _BATCH),
            ("params", _WHERE),
        ):
            value = getattr(self, key)
            if value not in allowed:
                raise ConventionsError(
                    f"conventions {key}={value!r} is not one of {', '.join(allowed)}"
                )
        if not isinstance(self.grad_names, str) or self.grad_names.count("{}") != 1:
            raise ConventionsError(
                f"conventions grad_names={self.grad_names!r} must hold '{{}}' once, "
                "where the parameter's name goes: '{}' (dict keys as the parameters), 'd{}' (dWxh)"
            )
        for user, size in self.sizes.items():
            if size not in _SIZES:
                raise ConventionsError(
                    f"conventions sizes[{user!r}]={size!r} is not one of {', '.join(_SIZES)}"
                )
        _parse_call(self.call, "call")
        _parse_returns(self.returns, "returns")
        if self.backward is not None:
            _parse_call(self.backward, "backward")

    def replace(self, **changes: object) -> Conventions:
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConventionsError(
                f"unknown conventions field(s) {', '.join(unknown)}; the fields are "
                + ", ".join(f.name for f in dataclasses.fields(self))
            )
        return dataclasses.replace(self, **changes)

    @property
    def layer(self) -> bool:
        return self.backward is not None

    def user_name(self, role: str) -> str:
        return self.names.get(role, role)

    def grad_name(self, role: str) -> str:
        return self.grad_names.format(self.user_name(role))


# ---------------------------------------------------------------------------- templates
# call:    [name] "(" [arg ("," arg)*] ")" ["->" returns]      arg: NAME | NAME "=" NAME
# returns: NAME ("," NAME)*  or empty                           NAME: [A-Za-z_][A-Za-z0-9_.]*

_NAME = r"[A-Za-z_][A-Za-z0-9_.]*"
_CALL = re.compile(rf"^\s*(?P<fn>{_NAME})?\s*\((?P<args>[^()]*)\)\s*(?:->\s*(?P<ret>.*))?$")
_ARG = re.compile(rf"^\s*(?:(?P<key>{_NAME})\s*=\s*)?(?P<name>{_NAME})\s*$")


def _parse_call(text: object, what: str) -> tuple[str, list[tuple[str | None, str]], list[str]]:
    """(function name, [(keyword or None, name)], the names after ->)."""
    if not isinstance(text, str):
        raise ConventionsError(f"conventions {what} must be a text like 'fn(params, x, y)'")
    match = _CALL.match(text)
    if match is None:
        raise ConventionsError(
            f"conventions {what}={text!r} is not a call template: write it like "
            "'lossFun(inputs, targets, hprev)' or 'rnn_backward(dh, cache) -> dx, dh0, dWx'"
        )
    args = []
    body = match["args"].strip()
    for part in body.split(",") if body else []:
        arg = _ARG.match(part)
        if arg is None:
            raise ConventionsError(
                f"conventions {what}={text!r}: {part.strip()!r} is not a name or key=name"
            )
        args.append((arg["key"], arg["name"]))
    returns = _parse_returns(match["ret"], what) if match["ret"] is not None else []
    return match["fn"] or "fn", args, returns


def _parse_returns(text: object, what: str) -> list[str]:
    if not isinstance(text, str):
        raise ConventionsError(f"conventions {what} must be a text like 'loss, grads'")
    text = text.strip().strip("[]()").strip()
    if not text:
        return []
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if not re.fullmatch(_NAME, name):
            raise ConventionsError(
                f"conventions {what}={text!r}: {name!r} is not a name (write '_' for a value "
                "the checker should ignore)"
            )
    return names


# ---------------------------------------------------------------------------- presets

CONVENTIONS: dict[str, Conventions] = {
    # rnn_num.loss_and_grads itself
    "canonical": Conventions(name="canonical"),
    # NumPy code in torch's names: nn.RNN's state dict plus a Linear head called fc, h0 (B, n_h)
    "torch": Conventions(
        name="torch",
        names={
            "U": "weight_ih_l0",
            "W": "weight_hh_l0",
            "b_ih": "bias_ih_l0",
            "b_hh": "bias_hh_l0",
            "V": "fc.weight",
            "c": "fc.bias",
        },
        model="biases=torch,h0=per-sequence",
    ),
    # cs231n assignment 3, rnn_layers.py: h (N, T, H) = rnn_forward(x, h0, Wx, Wh, b)
    "cs231n": Conventions(
        name="cs231n",
        call="rnn_forward(x, h0, Wx, Wh, b) -> h, cache",
        backward="rnn_backward(dh, cache) -> dx, dh0, dWx, dWh, db",
        names={"U": "Wx", "W": "Wh"},
        grad_names="d{}",
        layout="batch-first",
        vectors="row",
        batch="always",
        model="head=given,h0=per-sequence",
    ),
    # karpathy's min-char-rnn.py: parameters are module globals, inputs are character indices
    "karpathy": Conventions(
        name="karpathy",
        call="lossFun(inputs, targets, hprev)",
        returns="loss, dWxh, dWhh, dWhy, dbh, dby, _",
        names={
            "U": "Wxh",
            "W": "Whh",
            "V": "Why",
            "b": "bh",
            "c": "by",
            "x": "inputs",
            "y": "targets",
            "h0": "hprev",
        },
        grad_names="d{}",
        params="globals",
        sizes={"vocab_size": "n_x", "hidden_size": "n_h"},
        bias="column",
        inputs="tokens",
        batch="never",
        equal_io=True,
        model="h0=shared",
    ),
    # deeplearning.ai, "Building your Recurrent Neural Network - Step by Step": x (n_x, m, T_x)
    "deeplearning-ai": Conventions(
        name="deeplearning-ai",
        call="rnn_forward(x, a0, parameters) -> a, _, caches",
        backward="rnn_backward(da, caches) -> gradients",
        names={
            "U": "Wax",
            "W": "Waa",
            "b": "ba",
            "h0": "a0",
            "h": "a",
            "dh": "da",
            "params": "parameters",
            "cache": "caches",
            "grads": "gradients",
        },
        grad_names="d{}",
        unused_params={"Wya": ("n_x", "n_h"), "by": ("n_x", 1)},  # the forward's output layer
        layout="time-last",
        bias="column",
        batch="always",
        model="head=given,h0=per-sequence",
    ),
    # WildML's RNN tutorial, part 2: RNNNumpy.bptt(x, y) on word indices, no biases, s_{-1} = 0
    "wildml": Conventions(
        name="wildml",
        call="bptt(x, y)",
        returns="dLdU, dLdV, dLdW",
        grad_names="dLd{}",
        params="attributes",
        sizes={"word_dim": "n_x", "hidden_dim": "n_h"},
        inputs="tokens",
        batch="never",
        equal_io=True,
        model="biases=none,h0=zero",
    ),
}

_TEXT_FIELDS = ("layout", "vectors", "bias", "inputs", "batch", "params", "grad_names")


def resolve(conventions: object) -> Conventions:
    """A Conventions from a preset name, "preset,key=value,…", a mapping or a Conventions."""
    if isinstance(conventions, Conventions):
        return conventions
    if isinstance(conventions, str):
        preset, *pairs = [part.strip() for part in conventions.split(",")]
        changes: dict[str, object] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or key.strip() not in _TEXT_FIELDS:
                raise ConventionsError(
                    f"conventions {conventions!r}: {pair!r} is not key=value with a key among "
                    f"{', '.join(_TEXT_FIELDS)} (templates and names: pass a mapping)"
                )
            changes[key.strip()] = value.strip()
        return _preset(preset).replace(**changes)
    if isinstance(conventions, Mapping):
        changes = dict(conventions)
        base = _preset(changes.pop("preset")) if "preset" in changes else Conventions()
        if "names" in changes:  # a partial map adds to the preset's
            changes["names"] = {**base.names, **dict(changes["names"])}
        return base.replace(**changes)
    raise TypeError(
        "conventions must be a preset name (" + ", ".join(CONVENTIONS) + "), a text like "
        "'torch,layout=batch-first', a mapping of Conventions fields, or an "
        f"rnn_check.Conventions; got a {type(conventions).__name__}"
    )


def _preset(name: object) -> Conventions:
    if name not in CONVENTIONS:
        raise ConventionsError(
            f"unknown conventions preset {name!r}; the presets are {', '.join(CONVENTIONS)}"
        )
    return CONVENTIONS[name]


# ---------------------------------------------------------------------------- arrays
# Every conversion between the checker's arrays and the code's is a permutation or reshape
# of entries, written once as `_to_user`; the way back and the map of entry indices follow
# from it (`_to_canonical`, `_user_index`), so the two directions cannot disagree.


@dataclass(frozen=True)
class _Ctx:
    conv: Conventions
    batched: bool  # the case has a batch axis


def _kind(role: str, setting: _Setting) -> str:
    if role in ("x", "h", "dh"):
        return "seq"
    if role in setting.model.initial_states:
        return "state"
    if role == "y":
        return "targets"
    m = setting.model
    roles = {b.name: b.role for b in m.blocks(1, 1, 1 if m.has_output_layer else None)}
    return "bias" if "bias" in roles[role] else "weight"


def _to_user(kind: str, a: np.ndarray, ctx: _Ctx) -> np.ndarray:
    conv = ctx.conv
    if kind == "weight":
        return a.T if conv.vectors == "row" else a
    if kind == "bias":
        return a.reshape(-1, 1) if conv.bias == "column" else a
    if kind == "state":
        if a.ndim == 2:  # (B, n_h): one row per sequence
            return a.T if conv.layout == "time-last" else a
        if not ctx.batched and conv.batch == "always":
            return a.reshape(-1, 1) if conv.layout == "time-last" else a.reshape(1, -1)
        return a.reshape(-1, 1) if conv.bias == "column" else a
    # sequences (T, [B,] n) and per-step targets (T, [B])
    if not ctx.batched and conv.batch == "always":
        a = a[:, None]
    elif not ctx.batched:  # (T, n) or (T,): only time-last code turns it round
        return a.T if conv.layout == "time-last" else a
    axes = list(range(a.ndim))
    if conv.layout == "batch-first":
        axes[0], axes[1] = 1, 0
    elif conv.layout == "time-last":
        axes = axes[::-1]
    return np.transpose(a, axes)


def _to_canonical(kind: str, u: np.ndarray, shape: tuple[int, ...], ctx: _Ctx) -> np.ndarray:
    where = _to_user(kind, np.arange(int(np.prod(shape))).reshape(shape), ctx)
    out = np.empty(int(np.prod(shape)))
    out[where.ravel()] = u.ravel()
    return out.reshape(shape)


def _user_index(kind: str, index: tuple[int, ...], ctx: _Ctx) -> tuple[int, ...]:
    shape = tuple(i + 1 for i in index)
    where = _to_user(kind, np.arange(int(np.prod(shape))).reshape(shape), ctx)
    flat = int(np.ravel_multi_index(index, shape)) if index else 0
    return tuple(int(i) for i in np.argwhere(where == flat)[0])


def _user_input(role: str, a: np.ndarray | None, setting: _Setting, ctx: _Ctx) -> object:
    if a is None:
        return None
    conv = ctx.conv
    if role == "x" and conv.inputs == "tokens":
        tokens = _to_user("targets", np.argmax(a, axis=-1), ctx)
        return [int(t) for t in tokens] if tokens.ndim == 1 and conv.batch == "never" else tokens
    if role == "y" and setting.model.task != "many-to-many":
        return a  # one target, no time axis: as drawn
    if role == "y" and setting.model.head == "softmax-ce":
        y = _to_user("targets", a, ctx)
        return [int(t) for t in y] if y.ndim == 1 and conv.batch == "never" else y
    kind = "seq" if role in ("x", "y", "dh") else _kind(role, setting)
    return _to_user(kind, np.array(a, dtype=float), ctx)


# ---------------------------------------------------------------------------- the adapter


def _describe_value(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, list):
        return f"a list of {len(value)} int{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "a dict of " + ", ".join(sorted(value))
    if isinstance(value, np.ndarray):
        return f"shape {value.shape}"
    return type(value).__name__


class _Adapter:
    """The user's code behind the signature fn(params, x, y, h0=None, c0=None) of the checker.

    Called by `_code._call` on every case (which it is told through `see_case`); raises
    `_IllFormed` in the code's own names for anything the code returns that cannot be read.
    """

    def __init__(
        self, fn: Callable, backward: Callable | None, conv: Conventions, setting: _Setting
    ) -> None:
        self.fn, self.backward_fn, self.conv, self.setting = fn, backward, conv, setting
        self.case: _code.Case | None = None
        m = setting.model
        self.blocks = tuple(b.name for b in m.blocks(1, 1, 1 if m.has_output_layer else None))
        roles = (*_ROLES, *self.blocks, *m.initial_states)
        self.role_of = {conv.user_name(r): r for r in roles}
        # a role's own word still works where the code's names do not take it for another
        self.role_of |= {r: r for r in roles if r not in conv.names and r not in self.role_of}
        gradients = (*self.blocks, *m.initial_states, "x")
        self.grad_of = {conv.grad_name(r): r for r in gradients}
        self.fn_name, self.args, forward_returns = _parse_call(conv.call, "call")
        for _, name in self.args:
            self._role(name, "call")
        if conv.layer:
            self.returns = forward_returns
            self.bw_name, self.bw_args, self.bw_returns = _parse_call(conv.backward, "backward")
            for _, name in self.bw_args:
                self._role(name, "backward")
        else:
            self.returns = _parse_returns(conv.returns, "returns")
        self.sgd = not conv.layer and not self.returns
        if self.sgd and "lr" not in [self._role(n, "call") for _, n in self.args]:
            raise ConventionsError(
                f"conventions returns='' means the code updates its parameters by SGD, but the "
                f"call {conv.call!r} takes no learning rate: add "
                f"{conv.user_name('lr')!r} to it (the checker passes 1.0)"
            )
        if conv.params == "attributes" and getattr(fn, "__self__", None) is None:
            raise ConventionsError(
                f"conventions {conv.name!r} keep the parameters as attributes of an object, so "
                "fn must be a bound method, e.g. check_backward(model.bptt, ...)"
            )
        self.checked = self._returned_blocks()

    def _role(self, name: str, what: str) -> str:
        if name == "_" and what == "returns":
            return "_"
        role = self.role_of.get(name) or self.grad_of.get(name)
        if role is None:
            known = sorted(set(self.role_of) | set(self.grad_of))
            raise ConventionsError(
                f"conventions {what}: unknown name {name!r} (model {_code._model_text(self.setting.model)}); "
                f"known names: {', '.join(known)}. Fix: map it in names= or write '_'"
            )
        return role

    def _returned_blocks(self) -> tuple[str, ...]:
        """The model's gradients the code returns (all of them for a dict or an SGD update)."""
        m = self.setting.model
        names = self.bw_returns if self.conv.layer else self.returns
        everything = (*self.blocks, *m.initial_states) + (("x",) if self.conv.layer else ())
        if self.sgd:
            return self.blocks
        if any(self._role(n, "returns") == "grads" for n in names if n != "_"):
            return everything
        got = {self.grad_of[n] for n in names if n in self.grad_of}
        return tuple(b for b in everything if b in got)

    def see_case(self, case: _code.Case) -> None:
        self.case = case

    # -- the call ---------------------------------------------------------------------------

    def __call__(self, params: dict, x: np.ndarray, y: np.ndarray, h0=None, c0=None) -> tuple:
        conv, setting = self.conv, self.setting
        ctx = _Ctx(conv, batched=x.ndim == 3)
        user_params = {
            conv.user_name(k): _to_user(_kind(k, setting), np.array(v, dtype=float), ctx)
            for k, v in params.items()
        }
        sizes = {"n_x": x.shape[-1], "n_h": self._n_h(params)}
        sizes["n_y"] = params["V"].shape[0] if "V" in params else sizes["n_x"]
        for name, shape in conv.unused_params.items():
            user_params[name] = np.zeros(tuple(sizes.get(d, d) for d in shape))
        values = {
            "params": user_params,
            "x": _user_input("x", x, setting, ctx),
            "h0": _user_input("h0", h0, setting, ctx),
            "c0": _user_input("c0", c0, setting, ctx),
            "lr": 1.0,
        }
        if setting.model.head == "given":
            values["dh"] = _user_input("dh", y, setting, ctx)
        else:
            values["y"] = _user_input("y", y, setting, ctx)
        values |= user_params  # a parameter named in the call is passed alone
        values |= {k: user_params[conv.user_name(k)] for k in params}
        before = {k: v.copy() for k, v in user_params.items()}
        with _placed(
            self.fn, conv, user_params, {u: sizes[s] for u, s in conv.sizes.items()}
        ) as live:
            out = self._invoke(self.fn, self.fn_name, self.args, values, ctx)
            results = self._read(out, self.returns, self.fn_name)
            if conv.layer:
                values["cache"] = results.get("cache")
                out = self._invoke(self.backward_fn, self.bw_name, self.bw_args, values, ctx)
                results |= self._read(out, self.bw_returns, self.bw_name)
            after = live() if self.sgd else {}
        grads = self._gradients(results, params, x, ctx)
        if self.sgd:
            for k in self.blocks:
                name = conv.user_name(k)
                new = _code._as_array(after[name], f"{name} after the update", self._case())
                grads[k] = _to_canonical(
                    _kind(k, setting), before[name] - new, params[k].shape, ctx
                )
        loss = results.get("loss")
        if conv.layer and "h" in results:
            h = self._array(
                results["h"], conv.user_name("h"), "seq", (*x.shape[:-1], sizes["n_h"]), ctx
            )
            loss = float(np.sum(h * np.asarray(y, dtype=float)))
        return loss, grads

    def _case(self) -> _code.Case:
        return self.case or _code.Case(1, 1, 1, 1, 0)

    def _call_text(self, name: str, args: list, values: dict) -> str:
        parts = [f"{k}={n}" if k else n for k, n in args]
        shown = ", ".join(
            f"{n} {_describe_value(values.get(self._role(n, 'call')))}" for _, n in args
        )
        return f"{name}({', '.join(parts)}) with {shown}" if shown else f"{name}()"

    def _invoke(self, fn: Callable, name: str, args: list, values: dict, ctx: _Ctx) -> object:
        if name == "fn":  # the template left the name out: say the function's own
            name = getattr(fn, "__name__", name)
        positional = [
            values.get(self._role(n, "call"), values.get(n)) for k, n in args if k is None
        ]
        keywords = {k: values.get(self._role(n, "call"), values.get(n)) for k, n in args if k}
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None
        if signature is not None:
            try:
                signature.bind(*positional, **keywords)
            except TypeError as error:
                raise _IllFormed(
                    "ILL-FORMED: your function's signature does not fit the conventions' call",
                    f"the signature {getattr(fn, '__name__', 'fn')}{signature} cannot take the "
                    f"call {name}({', '.join(f'{k}={n}' if k else n for k, n in args)}) of the "
                    f"conventions {self.conv.name!r} ({error}). Fix: pass the function the "
                    "conventions describe, or declare its call with conventions={'preset': …, "
                    "'call': '…'}",
                ) from None
        try:
            return fn(*positional, **keywords)
        except Exception as error:
            case = self._case()
            raise _IllFormed(
                f"ILL-FORMED: your function raised {type(error).__name__} on the case {case.describe()}",
                f"{type(error).__name__}: {error}{_code._where(error)}\n"
                f"It was called as {self._call_text(name, args, values)} (conventions "
                f"{self.conv.name!r}, model {_code._model_text(self.setting.model)}).",
                crash=(f"{type(error).__name__}: {error}", _code._where(error)),
            ) from error

    def _read(self, out: object, names: list[str], fn_name: str) -> dict:
        """The values the code returned, by role (gradients under ('grad', role))."""
        if not names:  # an SGD step: what it returns is not read
            return {}
        if len(names) == 1:
            out = (out,)
        elif not isinstance(out, tuple | list) or len(out) != len(names):
            got = f"a {type(out).__name__}" + (
                f" of {len(out)} values" if isinstance(out, tuple | list) else ""
            )
            raise _IllFormed(
                f"ILL-FORMED: {fn_name} returned {got}, the conventions say {len(names)} values",
                f"The conventions {self.conv.name!r} read {fn_name}'s result as "
                f"{', '.join(names)}; it returned {got}. Fix: return those values, or declare "
                "what it returns with conventions={'preset': …, 'returns': '…'}",
            )
        results: dict = {}
        for name, value in zip(names, out, strict=True):
            role = self._role(name, "returns")
            if role == "_":
                continue
            if name in self.grad_of and role not in ("loss", "h", "cache", "grads"):
                results[("grad", self.grad_of[name])] = (name, value)
            elif role == "grads":
                if not isinstance(value, Mapping):
                    raise _IllFormed(
                        f"ILL-FORMED: {name} must be a dict of gradients",
                        f"{fn_name} returned a {type(value).__name__} as {name}; the conventions "
                        f"{self.conv.name!r} read a dict with keys like "
                        f"{', '.join(self.conv.grad_name(b) for b in self.checked)}.",
                    )
                for key, grad in value.items():
                    if key in self.grad_of:
                        results[("grad", self.grad_of[key])] = (f"{name}[{key!r}]", grad)
                results["grads-keys"] = sorted(map(str, value))
            else:
                results[role] = value
        return results

    def _array(self, value: object, what: str, kind: str, shape: tuple, ctx: _Ctx) -> np.ndarray:
        array = _code._as_array(value, what, self._case())
        wanted = _to_user(kind, np.zeros(shape), ctx).shape
        if array.shape != wanted:
            hint = ""
            if len(wanted) == 2 and array.shape == wanted[::-1]:
                hint = " It has the transposed shape: return it with the shape of the parameter."
            raise _IllFormed(
                f"ILL-FORMED: {what} has shape {array.shape}, but it should have shape {wanted}",
                f"{what} has shape {array.shape}; in the conventions {self.conv.name!r} it has "
                f"shape {wanted} on the case {self._case().describe()}.{hint}",
            )
        return _to_canonical(kind, array, shape, ctx)

    def _gradients(self, results: dict, params: dict, x: np.ndarray, ctx: _Ctx) -> dict:
        m = self.setting.model
        shapes = {k: np.shape(v) for k, v in params.items()}
        batch = x.shape[1] if x.ndim == 3 else None
        n_h = self._n_h(params)
        for state in m.initial_states:
            per_row = m.h0 != "shared" and batch is not None
            shapes[state] = (batch, n_h) if per_row else (n_h,)
        shapes["x"] = x.shape
        grads = {}
        missing = []
        for role in self.checked:
            if ("grad", role) not in results:
                if "grads-keys" in results and not (m.h0 == "zero" and role in m.initial_states):
                    missing.append(self.conv.grad_name(role))
                continue
            what, value = results[("grad", role)]
            kind = "seq" if role == "x" else _kind(role, self.setting)
            grads[role] = self._array(value, what, kind, shapes[role], ctx)
        if missing:
            raise _IllFormed(
                f"ILL-FORMED: the gradients have no {', '.join(repr(k) for k in missing)}",
                f"The dict returned has the keys {results['grads-keys']}; the conventions "
                f"{self.conv.name!r} look for {', '.join(self.conv.grad_name(r) for r in self.checked)}. "
                "Add the missing gradients, or check fewer blocks with blocks=(…).",
            )
        return grads

    def _n_h(self, params: dict) -> int:
        m = self.setting.model
        recurrent = next(
            b.name
            for b in m.blocks(1, 1, None if m.head == "given" else 1)
            if b.role == "recurrent"
        )
        return int(np.shape(params[recurrent])[0])


class _placed:
    """Put the parameters (and sizes) where the code reads them, and take them away after.

    `argument`: nothing to place (the dict is passed). `globals`: the function's module
    globals (min-char-rnn reads Wxh, vocab_size …). `attributes`: the bound method's object
    (WildML's self.U …). Whatever was there before is restored, so the user's own model is
    untouched by the check. Yields a function returning the parameters' current values.
    """

    _MISSING = object()

    def __init__(self, fn: Callable, conv: Conventions, params: dict, sizes: dict) -> None:
        self.conv, self.params, self.sizes = conv, params, sizes
        if conv.params == "globals":
            self.space = getattr(fn, "__globals__", None)
            if self.space is None:
                raise ConventionsError(
                    f"conventions {conv.name!r} put the parameters in fn's module globals, but "
                    f"{getattr(fn, '__name__', fn)!r} has none: pass a Python function"
                )
        elif conv.params == "attributes":
            self.space = fn.__self__
        else:
            self.space = None
        self.saved: dict = {}

    def _get(self, name: str) -> object:
        if isinstance(self.space, dict):
            return self.space.get(name, self._MISSING)
        return getattr(self.space, name, self._MISSING)

    def _set(self, name: str, value: object) -> None:
        if isinstance(self.space, dict):
            if value is self._MISSING:
                self.space.pop(name, None)
            else:
                self.space[name] = value
        elif value is self._MISSING:
            if hasattr(self.space, name):
                delattr(self.space, name)
        else:
            setattr(self.space, name, value)

    def __enter__(self) -> Callable[[], dict]:
        if self.space is None:
            return lambda: dict(self.params)
        for name, value in (self.params | self.sizes).items():
            self.saved[name] = self._get(name)
            self._set(name, value)
        return lambda: {name: self._get(name) for name in self.params}

    def __exit__(self, *exc: object) -> None:
        for name, value in self.saved.items():
            self._set(name, value)


# ---------------------------------------------------------------------------- the checks


def _settings(conv: Conventions, model: object, legacy: tuple) -> _Setting:
    activation, head, many_to_one = legacy
    if model is None and conv.model is not None and legacy == (None, None, None):
        model = conv.model
    setting = _resolve(model, activation, head, many_to_one)
    if conv.layer and setting.model.head != "given":
        raise ConventionsError(
            f"the conventions {conv.name!r} describe a layer (∂L/∂h from above), so the model "
            f"needs head=given; got model {_code._model_text(setting.model)!r}"
        )
    if conv.layer and setting.model.cell != "rnn":
        raise ConventionsError(
            "layer mode checks ∇x through the Elman cell's ∇a; a gated layer "
            f"(cell={setting.model.cell}) is checked with check_backward and head=given"
        )
    return dataclasses.replace(setting, one_hot=conv.inputs == "tokens", input_gradient=conv.layer)


def _battery(conv: Conventions, setting: _Setting, cases: object, batch: bool) -> object:
    if cases is not None:
        return cases
    cases = _code.default_battery(batch and conv.batch != "never", model=setting.model)
    if conv.equal_io:  # one vocabulary for inputs and outputs
        cases = tuple(dataclasses.replace(c, n_y=c.n_x) for c in cases)
    return cases


def _run(adapter: _Adapter, conv: Conventions, setting: _Setting, options: dict) -> Verdict:
    blocks = options.pop("blocks")
    if blocks is None:
        blocks = adapter.checked
    else:
        blocks = tuple(
            _role_of_block(adapter, b) for b in ((blocks,) if isinstance(blocks, str) else blocks)
        )
    check_loss = options.pop("check_loss")
    returned = [adapter._role(n, "returns") for n in adapter.returns]
    has_loss = ("h" if conv.layer else "loss") in returned
    if not has_loss and check_loss:
        check_loss = False  # the code returns no loss (bptt, an SGD step): nothing to compare
    cases = _battery(conv, setting, options.pop("cases"), options["batch"])
    verdict = _code.check_backward(
        adapter, blocks=blocks, check_loss=check_loss, cases=cases, _setting=setting, **options
    )
    return _translate(verdict, conv, setting)


def _role_of_block(adapter: _Adapter, name: str) -> str:
    if name in adapter.checked:
        return name
    role = adapter.role_of.get(name) or adapter.grad_of.get(name)
    if role not in adapter.checked:
        raise ValueError(
            f"blocks: {name!r} is not a gradient the code returns; those are "
            + ", ".join(adapter.conv.user_name(b) for b in adapter.checked)
        )
    return role


def check_with_conventions(
    fn: Callable,
    conventions: object,
    *,
    blocks: Sequence[str] | None,
    check_loss: bool,
    batch: bool,
    rtol: float,
    cases: object,
    model: object,
    legacy: tuple,
) -> Verdict:
    """check_backward for code written in declared conventions (see `Conventions`)."""
    conv = resolve(conventions)
    if conv.layer:
        raise ConventionsError(
            f"the conventions {conv.name!r} are a layer's forward and backward: call "
            f"rnn_check.check_layer({_parse_call(conv.call, 'call')[0]}, "
            f"{_parse_call(conv.backward, 'backward')[0]}, conventions={conv.name!r})"
        )
    if not callable(fn):
        raise TypeError(
            f"fn must be the function the conventions {conv.name!r} describe, got a {type(fn).__name__}"
        )
    setting = _settings(conv, model, legacy)
    adapter = _Adapter(fn, None, conv, setting)
    options = {
        "blocks": blocks,
        "check_loss": check_loss,
        "batch": batch,
        "rtol": rtol,
        "cases": cases,
    }
    return _run(adapter, conv, setting, options)


def check_layer(
    forward: Callable,
    backward: Callable,
    *,
    conventions: object,
    blocks: Sequence[str] | None = None,
    check_forward: bool = True,
    batch: bool = True,
    rtol: float = 1e-6,
    cases: object = None,
    model: object = None,
) -> Verdict:
    """Check a recurrent layer's backward, which takes ∂L/∂h from above (layer mode).

    `forward` and `backward` are called as the conventions' `call` and `backward` templates
    (cs231n: h, cache = rnn_forward(x, h0, Wx, Wh, b); dx, dh0, dWx, dWh, db =
    rnn_backward(dh, cache)). The battery draws random ∂L/∂h_t; the loss is Σ_t ⟨∂L/∂h_t,
    h_t⟩ (model head=given), so the forward is checked too (`check_forward=False` skips it).
    Every gradient returned is checked against rnn_num, ∇x included.
    """
    conv = resolve(conventions)
    if not conv.layer:
        raise ConventionsError(
            f"check_layer needs conventions with a backward template (cs231n, deeplearning-ai, "
            f"or your own 'backward': '…'); {conv.name!r} has none: use check_backward"
        )
    for what, f in (("forward", forward), ("backward", backward)):
        if not callable(f):
            raise TypeError(f"{what} must be a function, got a {type(f).__name__}")
    setting = _settings(conv, model, (None, None, None))
    adapter = _Adapter(forward, backward, conv, setting)
    options = {
        "blocks": blocks,
        "check_loss": check_forward,
        "batch": batch,
        "rtol": rtol,
        "cases": cases,
    }
    return _run(adapter, conv, setting, options)


# ---------------------------------------------------------------------------- the verdict in the code's names

# Mistakes whose usual wording is about column-vector maths, said as row-vector code does it
# (h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b), so Wx = Uᵀ, Wh = Wᵀ).
_W_FOR_WT = (
    "`dtanh @ {W}` where `dtanh @ {W}.T` belongs in the recursion for dprev_h "
    "(row vectors: h_t = tanh(x_t @ {U} + h_(t-1) @ {W} + b))"
)
_ROW_WORDING = {
    "W used where Wᵀ belongs in the recursion for ∇h_t": _W_FOR_WT,
    "W used where Wᵀ belongs in the recursion for ∇h_{t−1}": _W_FOR_WT,
    "h_t used where h_{t−1} belongs in ∇W": (
        "`h_t.T @ dtanh` where `h_(t-1).T @ dtanh` belongs in d{W}"
    ),
}
_TRANSPOSED = "transposed: gradients are in denominator layout"


def _display(role: str, conv: Conventions) -> str:
    if role == "loss" and conv.layer:
        return f"⟨{conv.user_name('dh')}, {conv.user_name('h')}⟩"
    return conv.user_name(role)


def _rename_text(text: str, mapping: dict[str, str]) -> str:
    """∇NAME, '(… in NAME)' and '(NAME)' in the checker's sentences, in the code's names."""
    if not mapping:
        return text
    names = "|".join(re.escape(n) for n in sorted(mapping, key=len, reverse=True))
    text = re.sub(rf"∇({names})(?![\w])", lambda m: f"∇{mapping[m[1]]}", text)
    return re.sub(rf"(\bin |\()({names})\)", lambda m: f"{m[1]}{mapping[m[2]]})", text)


def _rename_maths(text: str, mapping: dict[str, str]) -> str:
    """The letters U, W, V (and Vᵀ …) of a mistake's description, in the code's names."""
    return re.sub(
        r"(?<![\w∇_{])([UWV])(ᵀ?)(?![\w}])",
        lambda m: f"{mapping.get(m[1], m[1])}{m[2]}",
        text,
    )


def _translate(verdict: Verdict, conv: Conventions, setting: _Setting) -> Verdict:
    roles = {e.block for e in verdict.errors} | set(verdict.extra.get("blocks", ()))
    mapping = {r: _display(r, conv) for r in roles if _display(r, conv) != r}
    names = {
        r: conv.user_name(r)
        for r in (
            *(
                b.name
                for b in setting.model.blocks(1, 1, None if setting.model.head == "given" else 1)
            ),
            "x",
            *setting.model.initial_states,
        )
    }

    def index(role: str, idx: tuple[int, ...]) -> tuple[int, ...]:
        if role == "loss" or not idx:
            return idx
        kind = "seq" if role == "x" else _kind(role, setting)
        batched = len(idx) == (3 if kind == "seq" else 2)
        return _user_index(kind, idx, _Ctx(conv, batched))

    errors = tuple(
        BlockError(
            _display(e.block, conv), e.max_rel_error, index(e.block, e.index), e.expected, e.actual
        )
        for e in verdict.errors
    )
    cx = verdict.counterexample
    if cx is not None:
        cx = dataclasses.replace(
            cx, block=_display(cx.block, conv), index=index(cx.block, cx.index)
        )
    diagnosis = []
    for line in verdict.diagnosis:
        description, sep, explains = line.rpartition(" (explains ")
        if not sep:
            description, explains = line, ""
        if conv.vectors == "row" and description in _ROW_WORDING:
            description = _ROW_WORDING[description].format(**names)
        elif conv.vectors == "row" and description.startswith(_TRANSPOSED):
            description = "transposed: return each gradient with the shape of its parameter"
        else:
            description = _rename_maths(description, names)
        diagnosis.append(
            description + (f" (explains {_rename_text(explains, mapping)}" if sep else "")
        )
    extra = dict(verdict.extra)
    extra["conventions"] = conv.name
    extra["names"] = {r: n for r, n in names.items() if r in roles}
    if "blocks" in extra:
        extra["blocks"] = [_display(b, conv) for b in extra["blocks"]]
    if isinstance(extra.get("blame"), dict):  # the blame map's blocks, in the code's names
        blame = dict(extra["blame"])
        for key in ("blocks", "head_blocks"):
            blame[key] = [_display(b, conv) for b in blame.get(key, ())]
        if isinstance(blame.get("groups"), list):
            blame["groups"] = [
                {**g, "blocks": [_display(b, conv) for b in g.get("blocks", ())]}
                if isinstance(g, dict)
                else g
                for g in blame["groups"]
            ]
        extra["blame"] = blame
    return dataclasses.replace(
        verdict,
        summary=_rename_text(verdict.summary, mapping),
        errors=errors,
        counterexample=cx,
        diagnosis=tuple(diagnosis),
        extra=extra,
    )


def user_case(
    conventions: object,
    T: int,
    n_x: int,
    n_h: int,
    n_y: int,
    seed: int = 0,
    batch: int | None = None,
    model: object = None,
) -> dict[str, object]:
    """A case's inputs as the code of these conventions takes them, by the code's names."""
    conv = resolve(conventions)
    setting = _settings(conv, model, (None, None, None))
    _code._check_budget(setting.model, T, n_x, n_h, n_y, batch)  # before anything is drawn
    case = _code.Case(T, n_x, n_h, n_y, seed, batch)
    params, x, y, *states = _code._inputs(case, setting)
    ctx = _Ctx(conv, batched=batch is not None)
    out: dict[str, object] = {
        conv.user_name(k): _to_user(_kind(k, setting), v, ctx) for k, v in params.items()
    }
    out[conv.user_name("x")] = _user_input("x", x, setting, ctx)
    role = "dh" if setting.model.head == "given" else "y"
    out[conv.user_name(role)] = _user_input(role, y, setting, ctx)
    for state, value in zip(setting.model.initial_states, states, strict=True):
        if value is not None:
            out[conv.user_name(state)] = _user_input(state, value, setting, ctx)
    return out
