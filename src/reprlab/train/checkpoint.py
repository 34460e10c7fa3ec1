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

import hashlib
import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from ..errors import CheckpointError
from ..files import atomic_path, fsync_dir

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
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def read_foreign_state_dict(path: str | Path, hint: str) -> dict[str, Tensor]:
    """A state dict of tensors from a weights file the user brings (pretrained nets).

    ``.safetensors`` is read with safetensors; anything else with ``torch.load(weights_only=True)``,
    which refuses pickled code. A ``{"state_dict": {...}}`` wrapper is unwrapped. Every failure is a
    one-line :class:`CheckpointError` ending with ``hint`` (what to give instead).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist; {hint}")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # safetensors, pickle, zip and I/O each raise their own types
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise CheckpointError(f"{path} is not a readable weights file ({reason}); {hint}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors; {hint}")
    return state


#: key of the weights' SHA-256 in the safetensors header's ``__metadata__``
DIGEST_KEY = "reprlab_sha256"


def tensors_digest(state: dict[str, Tensor]) -> str:
    """SHA-256 over the tensors of a state dict: for each key in sorted order, its name, dtype,
    shape and raw bytes. Independent of the file layout, so it can be stored inside the file."""
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def read_weights(path: Path, *, fix: str = "it may be corrupt") -> tuple[dict[str, Tensor], bool]:
    """The tensors of a weights file reprlab wrote, checked against the SHA-256 in its header.

    Returns (state, verified): ``verified`` is False for a file without a checksum (written by
    reprlab before checksums existed). A file whose tensors fail the check, or that is not a
    safetensors file, is a one-line :class:`CheckpointError` naming it and ending with ``fix``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise CheckpointError(f"{path} is not a readable safetensors file ({reason}); {fix}") from None
    digest = meta.get(DIGEST_KEY)
    if digest is not None and tensors_digest(state) != digest:
        raise CheckpointError(f"{path} is corrupt: its tensors fail their SHA-256 check (changed after reprlab wrote it); {fix}")
    return state, digest is not None


def load_weights(path: Path, model: torch.nn.Module, *, strict: bool = True, fix: str = "it may be corrupt") -> bool:
    """Load a safetensors weight file into ``model`` (checked by :func:`read_weights`), with
    one-line errors for every failure. Returns whether the file carried a checksum."""
    state, verified = read_weights(path, fix=fix)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if strict and (missing or unexpected):
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CheckpointError(f"{path} does not fit this model ({what}); it was saved from another model or config")
    for k, v in state.items():
        if k in own and own[k].shape != v.shape:
            raise CheckpointError(
                f"{path}: {k} has shape {tuple(v.shape)}, the model expects {tuple(own[k].shape)}; "
                "it was saved with another config"
            )
    model.load_state_dict(state, strict=strict)
    return verified


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """Write the model's weights atomically (``path`` is replaced only once complete), with the
    SHA-256 of the tensors (:func:`tensors_digest`) in the file's header, checked on load.

    Shared tensors (tied weights) are stored once: safetensors refuses aliased tensors, and the
    alias is re-created by the model's constructor on load.
    """
    state = {}
    seen: dict[int, str] = {}
    for k, v in model.state_dict().items():
        key = (v.data_ptr(), v.shape, v.stride()) if v.numel() else None
        state[k] = v.detach().cpu().contiguous().clone() if key in seen else v.detach().cpu().contiguous()
        if key is not None:
            seen.setdefault(key, k)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={DIGEST_KEY: tensors_digest(state)})
