"""Deterministic train/test splits for data sets that ship without one."""

from __future__ import annotations

from dataclasses import replace

import torch

from .base import TensorData

#: Fraction of samples held out as ``test`` when a data set has no official split.
TEST_FRACTION = 0.2


def seeded_split(data: TensorData, split: str, seed: int) -> TensorData:
    """``split`` of ``data``: ``all``, or the stratified 80/20 ``train``/``test`` part for ``seed``."""
    if "row" not in data.extras:  # each sample remembers its row in the file / set (pairs files index rows)
        data = replace(data, extras={**data.extras, "row": torch.arange(len(data))})
    if split == "all":
        return data
    train, test = data.split(TEST_FRACTION, seed)
    out = train if split == "train" else test
    out.meta = {**data.meta, "split": f"{split} (stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%}, seed {seed})"}
    return out
