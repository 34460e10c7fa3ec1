"""``mnist``: the 70,000 28x28 handwritten digits, read from the official IDX files.

The files live in ``<data_dir>/MNIST/raw/`` -- the layout ``torchvision.datasets.MNIST`` uses,
so a folder torchvision downloaded into works as is. Plain or ``.gz`` files are accepted.
They are parsed by the strict reader of :mod:`reprlab.data.idx`, not by torchvision.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import TensorData
from .idx import read_idx
from .registry import register

SUBDIR = Path("MNIST", "raw")

#: split -> (images file, labels file), as published.
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_FILES = FILES["train"] + FILES["test"]

_WHERE = "set REPRLAB_DATA or --data-dir to the folder that holds MNIST/raw, or pass --download when online"


def _find(raw: Path, name: str) -> Path | None:
    """``raw/name`` or ``raw/name.gz``, whichever exists (plain first)."""
    for candidate in (raw / name, raw / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _download(data_dir: Path) -> None:
    """Fetch the four files with torchvision into ``data_dir/MNIST/raw``."""
    from torchvision.datasets import MNIST

    try:
        MNIST(root=str(data_dir), train=True, download=True)
    except Exception as e:  # network, disk and checksum failures alike
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(
            f"could not download MNIST into {data_dir / SUBDIR} ({reason}); check the connection, "
            f"or put {', '.join(ALL_FILES)} there by hand"
        ) from None


def _paths(data_dir: Path, splits: tuple[str, ...], download: bool) -> dict[str, tuple[Path, Path]]:
    """The (images, labels) files of each split, downloading them first if asked to."""
    raw = data_dir / SUBDIR
    needed = [name for s in splits for name in FILES[s]]
    missing = [name for name in needed if _find(raw, name) is None]
    if missing and download:
        _download(data_dir)
        missing = [name for name in needed if _find(raw, name) is None]
        if missing:
            raise DataError(f"the MNIST download did not produce {', '.join(missing)} in {raw}; retry with --download")
    if missing:
        raise DataError(
            f"MNIST files missing: put {', '.join(ALL_FILES)} (plain or .gz) in {raw} "
            f"(missing: {', '.join(missing)}); {_WHERE}"
        )
    return {s: (_find(raw, FILES[s][0]), _find(raw, FILES[s][1])) for s in splits}


def read_mnist_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one split: images (N, 28, 28) uint8 and labels (N,) uint8 in 0..9."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or images.shape[0] == 0:
        raise DataError(
            f"{images_path}: expected MNIST images of shape (N, 28, 28) and type ubyte, got "
            f"{images.shape} {images.dtype}; re-download it or restore the original"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(
            f"{labels_path}: expected MNIST labels of shape (N,) and type ubyte, got {labels.shape} "
            f"{labels.dtype}; re-download it or restore the original"
        )
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images in {images_path.name}; "
            "the two files must come from the same release, re-download them"
        )
    if labels.max() > 9:
        raise DataError(f"{labels_path}: label {int(labels.max())} is not a digit 0..9; re-download it")
    return images, labels


@register(
    "mnist",
    "MNIST handwritten digits, 28x28, 60,000 train + 10,000 test, 10 classes",
    files=tuple(f"MNIST/raw/{f}" for f in ALL_FILES),
    arg_help="static-binarized: each pixel drawn once ~ Bernoulli(intensity), seed 0 (default: grey levels)",
)
def load_mnist(arg, data_dir: Path, split: str, seed: int, download: bool) -> TensorData:
    """Load ``split`` (``train`` 60,000, ``test`` 10,000, ``all`` both, train first).

    ``x`` is float32 (N, 1, 28, 28) in [0, 1] (the bytes divided by 255), ``y`` int64 digits.
    ``seed`` is unused: MNIST has an official split.

    ``mnist:static-binarized``: every pixel drawn once as Bernoulli(intensity) with a fixed
    generator (seed 0 for train, 1 for test, whatever ``seed``), the statically binarized
    variant of the VAE literature. It is not Larochelle's file (not available offline); results
    on it are named as such. Dynamic binarization (a fresh draw each time an image is used) is
    the VAE's ``model.binarize=dynamic`` on plain ``mnist``.
    """
    if arg not in (None, "static-binarized"):
        raise DataError(f"unknown MNIST variant mnist:{arg}; use plain `mnist` or `mnist:static-binarized`")
    data_dir = Path(data_dir)
    splits = ("train", "test") if split == "all" else (split,)
    paths = _paths(data_dir, splits, download)
    parts = [read_mnist_split(*paths[s]) for s in splits]
    images = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
    labels = parts[0][1] if len(parts) == 1 else np.concatenate([p[1] for p in parts])
    # float32 division, exactly what torchvision's ToTensor computes.
    x = torch.from_numpy(np.divide(images, np.float32(255), dtype=np.float32)).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    if arg == "static-binarized":  # one draw per split, independent of the run's seed
        starts = np.cumsum([0] + [len(p[1]) for p in parts])
        x = torch.cat([torch.bernoulli(x[a:b], generator=torch.Generator().manual_seed({"train": 0, "test": 1}[s]))
                       for s, a, b in zip(splits, starts[:-1], starts[1:])])
    return TensorData(
        x,
        y,
        name="mnist" if arg is None else f"mnist:{arg}",
        classes=[str(c) for c in range(10)],
        meta={
            "source": [str(p) for s in splits for p in paths[s]],
            "split": f"{split} (official)",
            "range": "[0, 1] (bytes / 255)" if arg is None else "{0, 1}: one Bernoulli draw per pixel (static binarization)",
        },
    )
