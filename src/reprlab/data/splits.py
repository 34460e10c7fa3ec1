"""Deterministic train/test splits for data sets that ship without one."""

from __future__ import annotations

from dataclasses import replace

import torch

from .base import TensorData

#: Fraction of samples held out as ``test`` when a data set has no official split.
TEST_FRACTION = 0.2


def seeded_split(data: TensorData, split: str, seed: int) -> TensorData:
    """``split`` of ``data``: ``all``, or the stratified 80/20 ``train``/``test`` part for ``seed``.

    Too few rows for both parts is a one-line :class:`~reprlab.errors.DataError` that says how
    many rows there are and what each part would get. The parts' ``meta`` records the rows of
    ``data`` (``rows``) so that later messages (a batch size, the validation split) can say how
    many the file has and that the split took the rest.
    """
    if "row" not in data.extras:  # each sample remembers its row in the file / set (pairs files index rows)
        data = replace(data, extras={**data.extras, "row": torch.arange(len(data))})
    data = replace(data, meta={**data.meta, "rows": data.meta.get("rows", len(data))})
    if split == "all":
        return data
    train_pct, test_pct = round(100 * (1 - TEST_FRACTION)), round(100 * TEST_FRACTION)
    need = "add rows" + (
        f": the test side gets {test_pct}% of each class, so some class needs at least "
        f"{_rows_for_one(TEST_FRACTION)} rows" if data.y is not None else ": the train/test split needs at least 2"
    )
    train, test = data.split(
        TEST_FRACTION, seed, label=f"the {train_pct}/{test_pct} train/test split", parts=("training", "testing"), fix=need
    )
    out = train if split == "train" else test
    out.meta = {**out.meta, "split": f"{split} (stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%}, seed {seed})"}
    return out


def _rows_for_one(fraction: float) -> int:
    """The fewest rows ``n`` of a class with ``round(fraction * n) >= 1``."""
    n = 1
    while round(fraction * n) < 1:
        n += 1
    return n
