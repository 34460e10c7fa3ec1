"""Early stopping: the best validation value so far and how many validations have not beaten it.

Its state is the two numbers a checkpoint's trainer state has always held (``best_val`` and
``bad_validations``), so checkpoints written before this class existed resume unchanged.
"""

from __future__ import annotations

import math


class EarlyStopping:
    """Stop after ``patience`` validations in a row without an improvement of more than ``min_delta``.

    A value improves when it is below ``best_val - min_delta`` (lower is better); the first finite
    value always does. A missing or non-finite value (NaN, Inf) is ignored: it neither improves
    nor counts against the patience. ``patience=0`` never stops, but still tracks ``best_val``.
    """

    def __init__(self, patience: int = 0, min_delta: float = 0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best_val: float | None = None
        self.bad_validations = 0

    def update(self, value: float | None) -> bool:
        """Record one validation's value; returns whether it improved on the best."""
        if value is None or not math.isfinite(value):
            return False
        if self.best_val is None or value < self.best_val - self.min_delta:
            self.best_val, self.bad_validations = value, 0
            return True
        self.bad_validations += 1
        return False

    @property
    def should_stop(self) -> bool:
        return bool(self.patience and self.bad_validations >= self.patience)

    def state_dict(self) -> dict:
        """``{"best_val": ..., "bad_validations": ...}``: the keys of the checkpoint's trainer state."""
        return {"best_val": self.best_val, "bad_validations": self.bad_validations}

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict`, or from a checkpoint's whole trainer state (other keys
        are ignored; missing ones mean a fresh start)."""
        self.best_val = state.get("best_val")
        self.bad_validations = int(state.get("bad_validations", 0))

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
                f"best_val={self.best_val}, bad_validations={self.bad_validations})")
