"""Weight files: the one place that reads and writes them (used by ``nets``, ``train`` and ``pipelines``).

reprlab's own weights are safetensors files whose header carries the SHA-256 of their tensors
(:func:`tensors_digest`), written atomically and checked on load; weights the user brings
(pretrained nets) are read by :func:`read_foreign_state_dict` without ever unpickling code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from .errors import CheckpointError
from .files import atomic_path


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


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
        with safe_open(str(path), framework="pt") as f:  # one read: the header's metadata and the tensors
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
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
