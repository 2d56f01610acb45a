"""The registry of cell kernels: rnn_spec's cell name -> the module that computes the cell.

The driver (`_model.py`) validates the inputs against the Model, casts them to the compute
dtype, batches everything as (T, B, ·), runs the cell's kernel, then the shared output
layer, head, reduction and task, and hands ∂L/∂h_t back to the kernel's backward pass.
Every kernel module provides exactly:

    forward(p, x, init, model, keep) -> Tape
        p: the cell's blocks (U*, W*, hidden biases b*; never V or c), C-contiguous, in the
        compute dtype. x: (T, B, n_x) C-contiguous. init: {"h0": (B, n_h)} (+ "c0" for the
        LSTM). keep=False: only the loss is wanted (compute_loss), keep no more than needed.
        The Tape (the kernel's own object) has H: (T, B, n_h) = h_1 … h_T, C-contiguous, and
        states: dict of the kernel's per-step intermediates, each (T, B, n_h) (rnn: "a";
        lstm: "c", "i", "f", "g", "o"; gru: "r", "z", "n").
    backward(p, x, tape, d_h, model) -> (cell_grads, init_grads)
        d_h: (T, B, n_h), ∂L/∂h_t arriving from outside the recurrence (through o_t, or
        given); the kernel may overwrite it. cell_grads is keyed by the cell's block names;
        init_grads is {"h0": (B, n_h)} (+ "c0").

Optional, for speed (the Elman kernel has it, so the canonical model makes one allocation
per call, as before): a kernel may define

    workspace(T, B, n_x, n_h, model, level) -> {name: shape}
        level: "loss" (compute_loss), "forward" (forward), "grads" (loss_and_grads) or
        "all" (backward, every intermediate reported).

Then the driver carves those arrays together with its own (named O, Y_hat and D_h: a
kernel's names must differ) in one block (`_buffers.carve`) and passes them as `buffers=`
to forward and backward.

A kernel that leaves the total ∂L/∂h_t (through o_t and through the recurrence) in d_h sets
the module constant `TOTAL_D_H = True`; `rnn_num.backward` then reports it as
BackwardResult.d_h (otherwise d_h there is None).

The gated kernels are imported on first use: the package imports (and the Elman cell runs)
whether or not their modules exist yet.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import ModuleType

from rnn_spec import CELLS

_MODULES = {"rnn": "_elman", "lstm": "_lstm", "gru": "_gru"}


class _Kernels(Mapping[str, ModuleType]):
    """cell -> kernel module, importing each module the first time it is asked for."""

    def __init__(self) -> None:
        self._loaded: dict[str, ModuleType] = {}

    def __getitem__(self, cell: str) -> ModuleType:
        module = self._loaded.get(cell)
        if module is not None:
            return module
        if cell not in _MODULES:
            raise KeyError(cell)
        name = f"{__package__}.{_MODULES[cell]}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:  # the kernel exists but something it imports does not
                raise
            raise NotImplementedError(
                f"cell={cell} has no NumPy kernel in this installation (rnn_num/"
                f"{_MODULES[cell]}.py is missing); use cell=rnn, or the symbolic side"
            ) from None
        self._loaded[cell] = module
        return module

    def __iter__(self) -> Iterator[str]:
        return iter(CELLS)

    def __len__(self) -> int:
        return len(CELLS)


KERNELS: Mapping[str, ModuleType] = _Kernels()


def kernel(cell: str) -> ModuleType:
    """The kernel module of a cell of rnn_spec.CELLS."""
    return KERNELS[cell]
