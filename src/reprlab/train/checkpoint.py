"""Checkpoints without pickle: tensors in safetensors, everything else in JSON, written atomically.

A checkpoint is a folder ``checkpoints/step-000500/`` holding

* ``model.safetensors`` — the weights,
* ``state.safetensors`` + ``state.json`` — optimizer/scheduler/trainer state: every tensor of the
  nested state goes to the safetensors file under its path, the rest to JSON,
* ``rng-rank<r>.safetensors`` + ``.json`` — each process's random number generator states,
* ``manifest.json`` — the SHA-256 of every file, checked on load.

It is written to a temporary folder and renamed into place (atomic on POSIX), so a crash never
leaves a half-written checkpoint under a real name; a folder that fails its checksums is reported
as corrupt and skipped in favour of the previous one.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from ..errors import CheckpointError
from ..files import fsync_dir
from ..weights import sha256

STEP_DIR = re.compile(r"^step-(\d+)$")


# ---------------------------------------------------------------- nested state <-> (tensors, JSON)
def flatten_state(obj: Any, prefix: str = "") -> tuple[dict[str, Tensor], Any]:
    """Split a nested state (dicts, lists, tuples, tensors, numbers) into tensors and a JSON tree.

    Each tensor is replaced by ``{"__tensor__": key}`` and stored under ``key``; tuples become
    ``{"__tuple__": [...]}`` and dicts with non-string keys ``{"__dict__": [[k, v], ...]}``.
    """
    tensors: dict[str, Tensor] = {}

    def walk(o: Any, path: str) -> Any:
        if isinstance(o, Tensor):
            tensors[path] = o.detach().cpu().contiguous()
            return {"__tensor__": path}
        if isinstance(o, np.ndarray):
            tensors[path] = torch.from_numpy(np.ascontiguousarray(o))
            return {"__ndarray__": path}
        if isinstance(o, dict):
            if all(isinstance(k, str) for k in o):
                return {k: walk(v, f"{path}/{k}") for k, v in o.items()}
            return {"__dict__": [[k, walk(v, f"{path}/{k}")] for k, v in o.items()]}
        if isinstance(o, tuple):
            return {"__tuple__": [walk(v, f"{path}/{i}") for i, v in enumerate(o)]}
        if isinstance(o, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(o)]
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        if isinstance(o, (np.integer, np.floating)):
            return o.item()
        raise TypeError(f"cannot checkpoint a value of type {type(o).__name__} at {path}")

    return tensors, walk(obj, prefix)


def unflatten_state(tree: Any, tensors: dict[str, Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(tree, list):
        return [unflatten_state(v, tensors) for v in tree]
    if isinstance(tree, dict):
        if set(tree) == {"__tensor__"}:
            return tensors[tree["__tensor__"]]
        if set(tree) == {"__ndarray__"}:
            return tensors[tree["__ndarray__"]].numpy()
        if set(tree) == {"__tuple__"}:
            return tuple(unflatten_state(v, tensors) for v in tree["__tuple__"])
        if set(tree) == {"__dict__"}:
            return {k: unflatten_state(v, tensors) for k, v in tree["__dict__"]}
        return {k: unflatten_state(v, tensors) for k, v in tree.items()}
    return tree


def save_state(state: Any, folder: Path, stem: str) -> None:
    """Write a nested state as ``<stem>.safetensors`` + ``<stem>.json``."""
    tensors, tree = flatten_state(state)
    save_file(tensors, str(folder / f"{stem}.safetensors"))
    (folder / f"{stem}.json").write_text(json.dumps(tree))


def load_state(folder: Path, stem: str) -> Any:
    # Fresh, aligned copies: a reduction over a tensor read at an unaligned address may round
    # differently (SIMD peeling), and L-BFGS's history dot products must match an unbroken run.
    tensors = {k: v.clone() for k, v in load_file(str(folder / f"{stem}.safetensors")).items()}
    tree = json.loads((folder / f"{stem}.json").read_text())
    return unflatten_state(tree, tensors)


# ---------------------------------------------------------------- random number generators
def rng_state() -> dict[str, Any]:
    """The state of every generator a training step may draw from (torch, CUDA, NumPy, random)."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(tuple(state["numpy"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------- files
def write_manifest(folder: Path) -> None:
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "manifest.json")
    for name in files:
        with open(folder / name, "rb") as f:
            os.fsync(f.fileno())
    manifest = {name: sha256(folder / name) for name in files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def verify(folder: Path) -> None:
    """Raise CheckpointError unless every file listed in the manifest is present and intact."""
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        raise CheckpointError(f"checkpoint {folder} has no readable manifest.json; it is incomplete or not a reprlab checkpoint") from None
    for name, digest in manifest.items():
        p = folder / name
        if not p.is_file() or sha256(p) != digest:
            raise CheckpointError(f"checkpoint {folder} is corrupt ({name} fails its checksum); delete it to resume from the previous one")


def atomic_publish(tmp: Path, final: Path) -> None:
    """Move a finished temporary folder to its final name (replacing an older one of that name)."""
    write_manifest(tmp)
    fsync_dir(tmp)
    if final.exists():
        old = final.with_name(final.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    fsync_dir(final.parent)


def step_dirs(checkpoint_dir: Path) -> list[tuple[int, Path]]:
    """Published checkpoint folders, oldest first (temporary folders are ignored)."""
    if not checkpoint_dir.is_dir():
        return []
    found = []
    for p in checkpoint_dir.iterdir():
        m = STEP_DIR.match(p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_valid(checkpoint_dir: Path, log=None) -> Path | None:
    """The newest checkpoint that passes its checksums; corrupt ones are reported and skipped."""
    for _, path in reversed(step_dirs(checkpoint_dir)):
        try:
            verify(path)
            return path
        except CheckpointError as e:
            if log:
                log(f"warning: {e}")
    return None
