"""The model specification: which recurrent model a computation is about, as plain data.

Every layer reads it: `rnn_num` (NumPy kernels), `rnn_sym` (SymPy cells), the checker, the
derivations, the exports and the CLI. It imports neither NumPy nor SymPy, so both
implementations of a model can depend on it without depending on each other.

The options and what they mean (docs/models.md has the equations):

    cell        rnn (Elman) | lstm (torch.nn.LSTM's equations) | gru (torch.nn.GRU's)
    activation  rnn only: tanh | sigmoid | relu (f'(0) taken as 0) | identity
    biases      both (b per hidden pre-activation, c on the output) | none | hidden | output
                | torch (two per hidden pre-activation, b_ih and b_hh, plus c)
    head        softmax-ce | mse | generic (∇_{o_t} l given, l left abstract)
                | given (no output layer; ∂L/∂h_t given)
    mse_scale   head=mse only: half (½‖o − y‖², ∇_o = o − y) | one (‖o − y‖², ∇_o = 2(o − y))
    reduction   sum | mean-time (÷ steps with a loss) | mean-batch (÷ B) | mean (÷ both)
    task        many-to-many | many-to-one (a loss at t = T only) | step=K (only L_K)
    h0          zero | shared (one (n_h,) for the batch) | per-sequence ((B, n_h))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from ._errors import ModelError

CELLS = ("rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
BIASES = ("both", "none", "hidden", "output", "torch")
HEADS = ("softmax-ce", "mse", "generic", "given")
MSE_SCALES = ("half", "one")
REDUCTIONS = ("sum", "mean-time", "mean-batch", "mean")
TASKS = ("many-to-many", "many-to-one", "step=K")
H0S = ("zero", "shared", "per-sequence")

# The gates of each cell, in the order torch stacks them in weight_ih / weight_hh.
GATES: dict[str, tuple[str, ...]] = {
    "rnn": (),
    "lstm": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
}
# The recurrent states: the LSTM carries a cell state c beside h.
STATES: dict[str, tuple[str, ...]] = {"rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",)}

_KEYS = ("cell", "activation", "biases", "head", "mse_scale", "reduction", "task", "h0")
_CHOICES: dict[str, tuple[str, ...]] = {
    "cell": CELLS,
    "activation": ACTIVATIONS,
    "biases": BIASES,
    "head": HEADS,
    "mse_scale": MSE_SCALES,
    "reduction": REDUCTIONS,
    "task": TASKS,
    "h0": H0S,
}


@dataclass(frozen=True)
class Block:
    """One parameter block: its name (the key in params and grads), shape and role.

    role: "input" (U·, acts on x_t), "recurrent" (W·, acts on h_{t-1}), "bias" (b·, hidden
    pre-activation), "output" (V) or "output-bias" (c). gate: the gate letter for the
    gated cells, None for the Elman cell and the output layer. side: for torch's two
    biases, "ih" or "hh"; None otherwise.
    """

    name: str
    shape: tuple[int, ...]
    role: str
    gate: str | None = None
    side: str | None = None

    @property
    def latex(self) -> str:
        """`U_{i}`, `b_{hn}`, `W`: the block as the documents typeset it."""
        base, _, sub = self.name.partition("_")
        return f"{base}_{{{sub}}}" if sub else base


@dataclass(frozen=True)
class Model:
    """A recurrent model and its loss, as data. `Model()` is the canonical model (NOTATION.md).

    Build one with keywords (`Model(cell="lstm", biases="torch")`) or from the CLI syntax
    (`parse_model("cell=lstm,biases=torch")`). Options that do not apply are None after
    construction (activation for the gated cells, mse_scale for heads other than mse);
    giving one where it does not apply is a ModelError.
    """

    cell: str = "rnn"
    activation: str | None = None
    biases: str = "both"
    head: str = "softmax-ce"
    mse_scale: str | None = None
    reduction: str = "sum"
    task: str = "many-to-many"
    step: int | None = None
    h0: str = "zero"

    def __post_init__(self) -> None:
        for key in ("cell", "biases", "head", "reduction", "h0"):
            _check_choice(key, getattr(self, key))
        if self.task == "step" or (isinstance(self.task, str) and self.task.startswith("step=")):
            step = self.step
            if self.task != "step":  # "step=K" given as one string
                step = _parse_step(self.task.partition("=")[2])
            _check_step(step)
            object.__setattr__(self, "task", "step")
            object.__setattr__(self, "step", step)
        else:
            _check_choice("task", self.task)
            if self.step is not None:
                raise ModelError(
                    f"step={self.step!r} is only meaningful with task=step=K; got task={self.task}. "
                    f"Fix: use task=step={self.step}, or drop step"
                )
        if self.cell == "rnn":
            activation = "tanh" if self.activation is None else self.activation
            _check_choice("activation", activation)
            object.__setattr__(self, "activation", activation)
        elif self.activation is not None:
            raise ModelError(
                f"activation={self.activation!r} does not apply to cell={self.cell}: its gates use "
                "σ and its candidate tanh, as torch's equations fix them. "
                "Fix: drop activation, or use cell=rnn"
            )
        if self.head == "mse":
            scale = "half" if self.mse_scale is None else self.mse_scale
            _check_choice("mse_scale", scale)
            object.__setattr__(self, "mse_scale", scale)
        elif self.mse_scale is not None:
            raise ModelError(
                f"mse_scale={self.mse_scale!r} only applies to head=mse; got head={self.head}. "
                "Fix: drop mse_scale, or use head=mse"
            )
        if self.head == "given":
            if self.biases == "output":
                raise ModelError(
                    "biases=output needs an output layer, and head=given has none (∂L/∂h_t is "
                    "handed in). Fix: use biases=none, hidden or torch"
                )
            if self.task != "many-to-many" or self.reduction != "sum":
                raise ModelError(
                    f"head=given takes ∂L/∂h_t for every t as given, so task and reduction do not "
                    f"apply; got task={self.task_text}, reduction={self.reduction}. "
                    "Fix: drop them (the caller scales its ∂L/∂h_t itself)"
                )

    # --- the model's structure ---------------------------------------------------------

    @property
    def task_text(self) -> str:
        """The task as the CLI writes it: `many-to-one`, `step=3`."""
        return f"step={self.step}" if self.task == "step" else self.task

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES[self.cell]

    @property
    def states(self) -> tuple[str, ...]:
        """The recurrent states: ("h",) or, for the LSTM, ("h", "c")."""
        return STATES[self.cell]

    @property
    def initial_states(self) -> tuple[str, ...]:
        """The initial-state keys, which also name their gradients: h0 (, c0)."""
        return tuple(f"{s}0" for s in self.states)

    @property
    def has_output_layer(self) -> bool:
        return self.head != "given"

    @property
    def hidden_biases(self) -> bool:
        return self.biases in ("both", "hidden", "torch")

    @property
    def output_bias(self) -> bool:
        return self.has_output_layer and self.biases in ("both", "output", "torch")

    def blocks(self, n_x: int, n_h: int, n_y: int | None = None) -> tuple[Block, ...]:
        """The parameter blocks, in a fixed order: input weights, recurrent weights, V,
        hidden biases, c (for the canonical model: U, W, V, b, c). n_y is needed exactly
        when the model has an output layer."""
        _check_size("n_x", n_x)
        _check_size("n_h", n_h)
        if self.has_output_layer:
            _check_size("n_y", n_y)
        elif n_y is not None:
            raise ModelError(
                f"n_y={n_y!r} given, but head=given has no output layer. Fix: pass n_y=None"
            )
        gates = self.gates or (None,)
        names = [(g, "" if g is None else f"_{g}") for g in gates]
        out: list[Block] = [Block(f"U{s}", (n_h, n_x), "input", g) for g, s in names]
        out += [Block(f"W{s}", (n_h, n_h), "recurrent", g) for g, s in names]
        if self.has_output_layer:
            out.append(Block("V", (n_y, n_h), "output"))
        if self.biases == "torch":
            for g, _ in names:
                for side in ("ih", "hh"):
                    # torch's letters: b_ih / b_hh for the Elman cell, b_ii, b_hf, b_hn, ...
                    # (side's first letter + gate) for the gated ones.
                    name = f"b_{side}" if g is None else f"b_{side[0]}{g}"
                    out.append(Block(name, (n_h,), "bias", g, side))
        elif self.hidden_biases:
            out += [Block(f"b{s}", (n_h,), "bias", g) for g, s in names]
        if self.output_bias:
            out.append(Block("c", (n_y,), "output-bias"))
        return tuple(out)

    def block_names(self) -> tuple[str, ...]:
        """The keys of params, in block order (sizes do not change them)."""
        return tuple(b.name for b in self.blocks(1, 1, 1 if self.has_output_layer else None))

    def gradient_names(self) -> tuple[str, ...]:
        """The keys of grads: every block, then h0 (, c0)."""
        return self.block_names() + self.initial_states

    # --- the loss ----------------------------------------------------------------------

    def loss_steps(self, T: int) -> tuple[int, ...]:
        """The 1-based steps that carry a loss term (for head=given: every step's ∂L/∂h_t)."""
        _check_size("T", T)
        if self.task == "many-to-many":
            return tuple(range(1, T + 1))
        if self.task == "many-to-one":
            return (T,)
        if self.step > T:
            raise ModelError(
                f"task=step={self.step} asks for the loss at step {self.step}, but the sequence "
                f"has T = {T} steps. Fix: use step=K with 1 <= K <= {T}, or a longer sequence"
            )
        return (self.step,)

    def loss_scale_denominator(self, T: int, B: int) -> int:
        """The loss is (1 / this) × the sum over its terms; B = 1 for an unbatched input."""
        _check_size("B", B)
        steps = len(self.loss_steps(T))
        return {"sum": 1, "mean-time": steps, "mean-batch": B, "mean": steps * B}[self.reduction]

    # --- text --------------------------------------------------------------------------

    def options(self) -> dict[str, str]:
        """The options that apply to this model, as the CLI writes them."""
        out = {"cell": self.cell}
        if self.activation is not None:
            out["activation"] = self.activation
        out["biases"] = self.biases
        out["head"] = self.head
        if self.mse_scale is not None:
            out["mse_scale"] = self.mse_scale
        out["reduction"] = self.reduction
        out["task"] = self.task_text
        out["h0"] = self.h0
        return out

    def __str__(self) -> str:
        """`cell=rnn,activation=tanh,...`: parse_model(str(m)) == m."""
        return ",".join(f"{k}={v}" for k, v in self.options().items())

    def short(self) -> str:
        """Only the options that differ from the canonical model ("canonical" if none)."""
        base = Model(cell=self.cell).options() if self.cell != "rnn" else CANONICAL.options()
        diff = {k: v for k, v in self.options().items() if k == "cell" or base.get(k) != v}
        if diff == {"cell": "rnn"}:
            return "canonical"
        if self.cell == "rnn":
            diff.pop("cell")
        return ",".join(f"{k}={v}" for k, v in diff.items())

    def replace(self, **changes: object) -> Model:
        """A copy with some options changed; options that no longer apply are dropped."""
        current = dataclasses.asdict(self)
        if "cell" in changes and changes["cell"] != "rnn" and "activation" not in changes:
            current["activation"] = None
        if "head" in changes and changes["head"] != "mse" and "mse_scale" not in changes:
            current["mse_scale"] = None
        if "task" in changes and "step" not in changes:
            current["step"] = None
        current.update(changes)
        return Model(**current)


def _check_choice(key: str, value: object) -> None:
    choices = _CHOICES[key]
    if not isinstance(value, str) or value not in choices:
        shown = ", ".join(choices).replace("step=K", "step=K (1 <= K <= T)")
        raise ModelError(f"{key}={value!r} is not known; {key} is one of: {shown}")


def _parse_step(text: str) -> int:
    if not text.strip().isdigit():
        raise ModelError(
            f"task=step={text} needs a positive integer step K (the loss L_K of step K alone); "
            "e.g. task=step=3"
        )
    return int(text)


def _check_step(step: object) -> None:
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ModelError(
            f"task=step=K needs a positive integer K (1-based, the step whose loss L_K is kept); "
            f"got {step!r}. e.g. task=step=3"
        )


def _check_size(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        # NumPy integers are accepted by callers converting with int() first.
        raise ModelError(f"{name} must be a positive integer; got {value!r}")


def parse_model(text: str | Model | Mapping[str, object] | None) -> Model:
    """The model named by CLI text `key=value,key=value` (or a mapping of the same keys,
    or a Model, returned as it is; None, "" and "canonical" are the canonical model).

    `task=step=3` keeps everything after the first `=` as the value. Errors name the key,
    the value given, the choices and the fix.
    """
    if text is None or (isinstance(text, str) and text.strip() == "canonical"):
        return CANONICAL
    if isinstance(text, Model):
        return text
    if isinstance(text, Mapping):
        items = [(str(k), v) for k, v in text.items()]
    elif isinstance(text, str):
        items = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            key, eq, value = part.partition("=")
            if not eq:
                raise ModelError(
                    f"--model item {part!r} is not key=value; write e.g. "
                    "--model cell=lstm,biases=torch (keys: " + ", ".join(_KEYS) + ")"
                )
            items.append((key.strip().replace("-", "_"), value.strip()))
    else:
        raise ModelError(
            f"a model is given as text 'key=value,...', a mapping or a Model; got {type(text).__name__}"
        )
    seen: dict[str, object] = {}
    for key, value in items:
        if key not in _KEYS:
            raise ModelError(
                f"unknown model key {key!r}; the keys are: {', '.join(_KEYS)} (docs/models.md)"
            )
        if key in seen:
            raise ModelError(f"model key {key!r} given twice ({seen[key]!r} and {value!r})")
        seen[key] = value
    return Model(**seen)


CANONICAL = Model()
