"""The one exception of rnn_spec."""

from __future__ import annotations


class ModelError(ValueError):
    """A model specification that does not exist: an unknown key or value, a combination
    that does not apply (activation with cell=lstm), or sizes that do not fit. The message
    names the key, what was given, what is needed, and the fix."""
