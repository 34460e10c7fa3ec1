"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import UsageError

log = logging.getLogger("reprlab")


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


def _run_data(a: argparse.Namespace, model):
    from ..data import load_dataset

    rc = model.run_config
    name = a.data or rc.data.name
    data_dir = a.data_dir or rc.data.data_dir
    return load_dataset(name, split=a.split, data_dir=data_dir, seed=rc.train.seed)


def _check_png_args(a: argparse.Namespace) -> None:
    if a.n < 1:
        raise UsageError(f"-n must be at least 1, got {a.n}")
    if Path(a.output).suffix.lower() != ".png":
        raise UsageError(f"output {a.output} must end in .png")


def _csv_list(text: str, kind, what: str) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{what} must be a comma-separated list of {kind.__name__}s, got {text!r}") from None
    if not values:
        raise UsageError(f"{what} is empty")
    return values


def _similarity_model(run: str):
    from .. import load

    model = load(run)
    if not hasattr(model, "similarity_matrix"):
        raise UsageError(f"model {model.name!r} of {run} has no learnt similarity; train one with `reprlab train siamese`")
    return model
