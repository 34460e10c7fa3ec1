"""Memory checks: refuse a data set or a model that cannot fit *before* allocating it.

A 2 x 10,000,000 array given as data makes an auto-encoder whose first layer alone has 10M x
``hidden`` weights; allocating it (and Adam's state) ends in the OOM killer or in a traceback.
These helpers estimate the bytes first and raise a one-line :class:`~reprlab.errors.ResourceError`
instead::

    training model ae (20.5 GB of weights, x4 for gradients and adam state) needs 82.0 GB of
    memory, 23.7 GB are available; lower the model size (e.g. model.hidden) or the input size

The checks are against the host's memory (where data are loaded and models built); when the
available memory cannot be read, every check passes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import torch

from .errors import ResourceError

#: Bytes held per byte of trainable weights while training, by optimizer (see :func:`training_factor`).
TRAINING_FACTOR = {
    "adam": 4,  # weights + gradients + exp_avg + exp_avg_sq
    "adamw": 4,
    "sgd": 3,  # weights + gradients + momentum buffer
    # weights + gradients + 2 x history_size (20, as the trainer sets it) curvature pairs
    # + flat gradient, previous flat gradient, direction and the line search's copy of the weights
    "lbfgs": 2 + 2 * 20 + 4,
}

MODEL_FIX = "lower the model size (e.g. model.hidden) or the input size"

_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a huge number


def human_bytes(n: float) -> str:
    """``n`` bytes in decimal units: ``512 B``, ``1.5 kB``, ``80.0 MB``, ``40.0 GB``."""
    n = float(n)
    if abs(n) < 1000:
        return f"{int(n)} B"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        n /= 1000.0
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _meminfo_available() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (Linux), or None."""
    text = _read(Path("/proc/meminfo"))
    for line in (text or "").splitlines():
        if line.startswith("MemAvailable:"):
            parts = line.split()
            try:
                return int(parts[1]) * (1024 if parts[-1].lower() == "kb" else 1)
            except (IndexError, ValueError):
                return None
    return None


def _stat_value(text: str | None, key: str) -> int:
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _cgroup_available(cgroup_file: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Memory left under this process's cgroup limit (v2 or v1), or None without a limit.

    Usage counts the page cache; its inactive file pages are reclaimable, so they count as free
    (as ``docker stats`` does)."""
    text = _read(cgroup_file) or ""
    for line in text.splitlines():
        _, controllers, rel = (line.split(":", 2) + ["", ""])[:3]
        rel = rel.strip().lstrip("/")
        if controllers == "":  # v2 (unified); on hybrid hosts it may have no memory controller
            files = ("memory.max", "memory.current", "inactive_file")
            dirs = (root / rel, root)
        elif "memory" in controllers.split(","):  # v1
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
            dirs = (root / "memory" / rel, root / "memory")
        else:
            continue
        for d in dirs:
            limit, usage = _read(d / files[0]), _read(d / files[1])
            if limit is None or usage is None:
                continue
            try:
                limit_n, usage_n = int(limit.strip()), int(usage.strip())
            except ValueError:  # "max": no limit here
                break
            if limit_n >= _UNLIMITED:
                break
            usage_n -= _stat_value(_read(d / "memory.stat"), files[2])
            return max(0, limit_n - max(0, usage_n))
    return None


def _portable_available() -> int | None:
    """psutil's available memory when psutil is installed, else ``os.sysconf``'s free pages."""
    try:
        import psutil  # optional: only when already installed
    except ImportError:
        pass
    else:
        try:
            return int(psutil.virtual_memory().available)
        except Exception:
            pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def available_bytes() -> int | None:
    """Bytes of memory this process can still allocate, or None when unknown.

    Linux: ``MemAvailable`` of ``/proc/meminfo``, lowered to what a cgroup memory limit leaves
    (containers). Elsewhere: psutil (when installed) or ``os.sysconf``.
    """
    found = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    if not found:
        portable = _portable_available()
        found = [portable] if portable is not None else []
    return min(found) if found else None


def check_fits(nbytes: int, what: str, fix: str) -> None:
    """Raise :class:`ResourceError` when ``nbytes`` exceed :func:`available_bytes` (unknown: pass).

    The message is one line: ``<what> needs 40.0 GB of memory, 21.3 GB are available; <fix>``.
    """
    available = available_bytes()
    if available is None or nbytes <= available:
        return
    raise ResourceError(f"{what} needs {human_bytes(nbytes)} of memory, {human_bytes(available)} are available; {fix}")


def training_factor(optimizer: str) -> int:
    """Bytes held while training per byte of trainable weights (:data:`TRAINING_FACTOR`)."""
    try:
        return TRAINING_FACTOR[optimizer]
    except KeyError:
        raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(TRAINING_FACTOR)}") from None


def _model_bytes(build: Callable[[], torch.nn.Module]) -> tuple[int, int] | None:
    """(trainable parameter bytes, frozen parameter + buffer bytes) of ``build()`` built on meta."""
    try:
        with torch.device("meta"):
            model = build()
    except Exception:  # a model that needs real tensors to be built (or a bad config, reported later)
        return None
    if not isinstance(model, torch.nn.Module):
        return None
    trainable = frozen = 0
    for p in model.parameters():  # shared (tied) parameters are listed once
        size = p.numel() * p.element_size()
        if p.requires_grad:
            trainable += size
        else:
            frozen += size
    frozen += sum(b.numel() * b.element_size() for b in model.buffers())
    return trainable, frozen


def model_memory_bytes(build: Callable[[], torch.nn.Module], optimizer: str = "adam") -> int | None:
    """Bytes that training the model ``build()`` returns holds, without allocating it.

    ``build`` is called under ``torch.device("meta")``: parameters get shapes but no storage.
    The result is ``factor * trainable parameter bytes + frozen parameter and buffer bytes``,
    with ``factor`` (:data:`TRAINING_FACTOR`) counting the weights, their gradients and the
    optimizer's state per weight:

    * ``adam`` / ``adamw``: 4 (weights, gradients, first and second moments);
    * ``sgd``: 3 (weights, gradients, momentum buffer);
    * ``lbfgs``: 46 (weights, gradients, 2 x 20 history vectors, and four more flat vectors).

    Activations are not counted (they scale with the batch). Returns None when the model cannot
    be built on the meta device (e.g. it reads real tensor values while being built).
    """
    factor = training_factor(optimizer)
    sizes = _model_bytes(build)
    if sizes is None:
        return None
    trainable, frozen = sizes
    return factor * trainable + frozen


def check_model_fits(build: Callable[[], torch.nn.Module], optimizer: str = "adam", what: str = "the model") -> int | None:
    """Raise :class:`ResourceError` when training ``build()`` with ``optimizer`` cannot fit in memory.

    Builds the model on the meta device (nothing is allocated), see :func:`model_memory_bytes`.
    Returns the bytes needed (None when they cannot be estimated; the check then passes).
    """
    factor = training_factor(optimizer)
    sizes = _model_bytes(build)
    if sizes is None:
        return None
    trainable, frozen = sizes
    need = factor * trainable + frozen
    weights = human_bytes(trainable + frozen)
    check_fits(need, f"training {what} ({weights} of weights, x{factor} for gradients and {optimizer} state)", MODEL_FIX)
    return need


def array_bytes(shape: tuple[int, ...], itemsize: int) -> int:
    """Bytes of a dense array of ``shape`` with ``itemsize``-byte elements."""
    return math.prod(int(s) for s in shape) * int(itemsize)
