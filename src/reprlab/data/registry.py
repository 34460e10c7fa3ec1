"""The registry of named data sets: ``load_dataset("mnist", split="train")``.

A name is ``NAME`` or ``NAME:ARG`` (``amazon-reviews:books``, ``images:/path/to/folder``); a
path ending in ``.npy``, ``.npz`` or ``.csv`` is read as a user file. Every model and command
gets its data through :func:`load_dataset`; no model opens a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import DataError

#: Environment variable naming the folder that holds MNIST/, omniglot/, amazon_reviews_400/
#: (default: :func:`default_data_dir`).
DATA_ENV = "REPRLAB_DATA"

SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one named data set.

    ``loader(arg, data_dir, split, seed, download)`` returns a :class:`TensorData` (or, for
    ``kind == "tasks"``, a task collection). ``files`` lists the files it needs, relative to
    the data folder, for ``reprlab data`` to check; ``embedded`` data sets need none.
    """

    name: str
    loader: Callable
    description: str
    files: tuple[str, ...] = ()
    embedded: bool = False
    kind: str = "tensors"  # "tensors" or "tasks"
    arg_help: str = ""


DATASETS: dict[str, DatasetSpec] = {}


def register(
    name: str,
    description: str,
    *,
    files: tuple[str, ...] = (),
    embedded: bool = False,
    kind: str = "tensors",
    arg_help: str = "",
) -> Callable:
    """Decorator adding a loader to :data:`DATASETS` under ``name``."""

    def deco(fn: Callable) -> Callable:
        DATASETS[name] = DatasetSpec(name, fn, description, files, embedded, kind, arg_help)
        return fn

    return deco


def default_data_dir() -> Path:
    """The per-user data folder used when neither ``--data-dir`` nor ``$REPRLAB_DATA`` is given:
    ``$XDG_DATA_HOME/reprlab`` (``~/.local/share/reprlab`` when ``XDG_DATA_HOME`` is unset).
    ``reprlab data download`` fills the same folder the loaders read."""
    base = os.environ.get("XDG_DATA_HOME") or Path("~", ".local", "share")
    return Path(base, "reprlab").expanduser()


def data_dir_source(data_dir: str | os.PathLike | None = None) -> str:
    """Where :func:`resolve_data_dir` takes the folder from: ``argument``, ``$REPRLAB_DATA`` or ``default``."""
    if data_dir is not None:
        return "argument"
    return f"${DATA_ENV}" if os.environ.get(DATA_ENV) else "default"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data_dir`` if given, else ``$REPRLAB_DATA``, else the per-user
    :func:`default_data_dir` (``~/.local/share/reprlab``)."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return default_data_dir()


def parse_name(name: str) -> tuple[str, str | None]:
    """Split ``NAME[:ARG]``; user files (``*.npy``, ``*.npz``, ``*.csv``) map to ``file:PATH``."""
    if not isinstance(name, str) or not name:
        raise DataError("a data set name is required; run `reprlab data` to list them")
    lowered = name.lower()
    if lowered.endswith((".npy", ".npz", ".csv")) and not lowered.startswith("images:"):
        return "file", name[len("file:"):] if lowered.startswith("file:") else name
    base, sep, arg = name.partition(":")
    return base, (arg if sep else None)


def load_dataset(
    name: str,
    *,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    download: bool = False,
):
    """Load a registered data set (or a user file) as a :class:`TensorData`.

    Parameters
    ----------
    name : ``digits``, ``mnist``, ``omniglot[:small1|small2|background|evaluation]``,
        ``omniglot-oneshot``, ``amazon-reviews:DOMAIN``, ``images:FOLDER``, or a path to a
        ``.npy``/``.npz``/``.csv`` file. ``reprlab data`` lists them.
    split : ``train``, ``test`` or ``all``. Data sets without an official split are split
        deterministically (stratified, 80/20) from ``seed``.
    data_dir : folder holding the files; default ``$REPRLAB_DATA``, else ``~/.local/share/reprlab``
        (:func:`resolve_data_dir`), the folder ``reprlab data download`` fills.
    download : fetch missing files (only data sets torchvision can download, only online).
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    base, arg = parse_name(name)
    spec = DATASETS.get(base)
    if spec is None:
        raise DataError(
            f"unknown data set {name!r}; choose one of {', '.join(sorted(DATASETS))}, "
            "images:FOLDER, or a .npy/.npz/.csv file"
        )
    return spec.loader(arg, resolve_data_dir(data_dir), split, seed, download)


def missing_files(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The files a named data set needs that are not present under the data folder."""
    spec = DATASETS[parse_name(name)[0]]
    root = resolve_data_dir(data_dir)
    return [root / f for f in spec.files if not (root / f).exists()]
