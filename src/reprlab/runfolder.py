"""Run folders you can trust: a marker that says reprlab made the folder, a lock held for the
run's life, and the rules for starting, resuming and replacing a run.

A run folder holds ``.reprlab-run`` (the marker, written when reprlab creates or adopts the
folder) and ``.reprlab.lock`` (an advisory OS lock, :func:`fcntl.flock`, held by the process that
trains into it; its text names the holder: PID, host, start time). The OS releases the lock when
its process ends, however it ends (``kill -9`` included), so a lock whose owner is gone never
blocks.

What :func:`open_run_folder` does with a folder:

========================================  =========================  ==================  ===========================
folder                                    plain start                ``--resume``        ``--overwrite``
========================================  =========================  ==================  ===========================
missing or empty                          new run                    refused             new run
a run with progress (checkpoint, final)   refused: --resume or ...   continues           replaced (see below)
a run with no checkpoint yet              restarts from step 0       restarts, says so   restarts from step 0
not empty and not a reprlab run           refused                    refused             refused
a file; locked by another process         refused                    refused             refused
========================================  =========================  ==================  ===========================

``--overwrite`` replaces only a folder reprlab made (the marker, or a run folder written by an
older reprlab: ``config.yaml`` with ``reprlab_version`` and nothing else foreign), that holds
nothing but reprlab's own files, and that is neither the working directory nor one of its parents.
Every refusal is one line (:class:`~reprlab.errors.UsageError`, exit code 2) naming the fix.

This module depends on the standard library and :mod:`reprlab.files` only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .files import OutputError, ensure_dir, is_temporary, output_error, write_json

MARKER = ".reprlab-run"
LOCK = ".reprlab.lock"

#: what reprlab writes at the top of a run folder (anything else is the user's)
RUN_ENTRIES = frozenset({
    MARKER, LOCK, "config.yaml", "metrics.csv", "summary.json", "model.safetensors", "best.safetensors",
    "checkpoints", "figures", "pretrain", "tensorboard", "samples", "lens",
})
_LEGACY_TMP = re.compile(r"^\.(config\.yaml|summary\.json|metrics\.csv|model\.safetensors|best\.safetensors)\.tmp(-\d+)?$")


class RunFolderError(UsageError):
    """A run folder that cannot be used as asked (exit code 2)."""


class RunLockedError(RunFolderError):
    """Another process trains into the run folder."""


def _is_ours(name: str) -> bool:
    return name in RUN_ENTRIES or is_temporary(name) or bool(_LEGACY_TMP.match(name)) or name.endswith(".csv.tmp")


def foreign_entries(folder: Path) -> list[str]:
    """Names at the top of ``folder`` that reprlab does not write."""
    return sorted(p.name for p in folder.iterdir() if not _is_ours(p.name))


def is_run_folder(folder: Path) -> bool:
    """True for a folder reprlab made: the marker, or (runs of older versions) a ``config.yaml``
    written by reprlab beside its ``metrics.csv`` or ``checkpoints/``."""
    if (folder / MARKER).is_file():
        return True
    config = folder / "config.yaml"
    if not config.is_file():
        return False
    try:
        head = config.read_text(errors="replace")[:200]
    except OSError:
        return False
    return head.startswith("reprlab_version:") and ((folder / "metrics.csv").exists() or (folder / "checkpoints").is_dir())


def has_progress(folder: Path) -> bool:
    """True when the run holds something worth keeping: a checkpoint, final or best weights
    (also those of a pre-training phase)."""
    for root in [folder, *(sorted((folder / "pretrain").iterdir()) if (folder / "pretrain").is_dir() else [])]:
        if (root / "model.safetensors").is_file() or (root / "best.safetensors").is_file():
            return True
        ckpts = root / "checkpoints"
        if ckpts.is_dir() and any(p.name.startswith("step-") for p in ckpts.iterdir()):
            return True
    return False


def _describe_holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        info = {}
    if not info:
        return "another process"
    return f"PID {info.get('pid', '?')} on {info.get('host', '?')} (started {info.get('started', '?')})"


class RunLock:
    """An exclusive advisory lock on ``folder/.reprlab.lock``, taken without waiting.

    ``acquire`` raises :class:`RunLockedError` naming the holder when another process has it.
    Where :mod:`fcntl` does not exist (Windows), the lock is a no-op.
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise output_error(self.path, e, "create the lock file") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(
                f"{self.path.parent} is in use by {_describe_holder(self.path)}: wait for that run to end, "
                "or choose another folder with --run-dir/--name"
            ) from None
        except OSError as e:
            os.close(fd)
            raise output_error(self.path, e, "lock") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def check_run_name(name: str) -> str:
    """A ``--name`` must stay inside ``runs/``: no absolute path, no ``.`` or ``..`` part."""
    parts = name.replace("\\", "/").split("/")
    if not name.strip() or Path(name).is_absolute() or name.startswith(("/", "~")) or any(p in ("", ".", "..") for p in parts):
        raise RunFolderError(
            f"--name {name!r} must be a plain name inside runs/ (no '.', '..', '~' or absolute path); "
            "use --run-dir for a folder elsewhere"
        )
    return name


def _is_cwd_or_parent(path: Path) -> bool:
    here = Path.cwd().resolve()
    there = path.resolve()
    return there == here or there in here.parents


def _clear(folder: Path, keep: tuple[str, ...] = (LOCK,)) -> None:
    """Remove reprlab's entries of ``folder`` (never a foreign one), keeping ``keep``."""
    for p in folder.iterdir():
        if p.name in keep or not _is_ours(p.name):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError as e:
            raise output_error(p, e, "remove") from None


@dataclass
class RunFolder:
    """An opened run folder: its path, whether this call created it, and the lock it holds.

    ``resume`` is what the trainer should do: continue from the newest checkpoint (True) or
    start from step 0 (False; also for ``--resume`` on a run that has no checkpoint yet).
    """

    path: Path
    resume: bool
    created: list[Path] = field(default_factory=list)  # folders this call made, innermost first
    lock: RunLock | None = None

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> "RunFolder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """The lock is released on any exit; folders this call created are removed again when the
        block fails before any step was logged."""
        try:
            if exc_type is not None:
                self.remove_if_unused()
        finally:
            self.release()

    def remove_if_unused(self) -> bool:
        """After a failure before the first training step: remove the folders this call created
        when they hold nothing but the marker, the lock and the config (no step was logged)."""
        if not self.created:
            return False
        left = [p.name for p in self.path.iterdir()] if self.path.is_dir() else []
        if any(n not in (MARKER, LOCK, "config.yaml") and not is_temporary(n) for n in left):
            return False
        self.release()
        shutil.rmtree(self.path, ignore_errors=True)
        for parent in self.created[1:]:  # e.g. runs/ when this call made it and it is empty now
            with contextlib.suppress(OSError):
                parent.rmdir()
        return True


def _write_marker(folder: Path) -> None:
    from ._version import __version__

    write_json(folder / MARKER, {"reprlab_version": __version__, "created": time.strftime("%Y-%m-%d %H:%M:%S")})


def open_run_folder(path: str | os.PathLike, *, resume: bool = False, overwrite: bool = False, log=None) -> RunFolder:
    """Check, create or adopt, and lock the run folder ``path`` (see the module's table).

    Raises a one-line :class:`RunFolderError` / :class:`OutputError` and changes nothing when the
    folder cannot be used as asked. The returned :class:`RunFolder` holds the lock; use it as a
    context (``with open_run_folder(...) as folder:``) to release it, however the block ends.
    """
    if resume and overwrite:
        raise RunFolderError("pass either --resume or --overwrite, not both")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"cannot use {path} as a run folder: it is a file; choose another --run-dir or --name")
    if not path.exists() and resume:
        raise RunFolderError(f"nothing to resume: {path} does not exist; start without --resume")
    if path.is_dir() and any(p.name != LOCK and not is_temporary(p.name) for p in path.iterdir()) and not is_run_folder(path):
        what = ", ".join(foreign_entries(path)[:3]) or "files"
        raise RunFolderError(
            f"{path} is not empty and is not a reprlab run folder (it holds {what}); "
            "choose a new or empty folder with --run-dir/--name"
        )
    if not path.exists() and not resume:
        # folders made by this call (to be removed again if the run fails before its first step)
        missing, p = [], path
        while not p.exists():
            missing.append(p)
            if p.parent == p:
                break
            p = p.parent
        ensure_dir(path)
        created = missing
    else:
        created = []
    lock = RunLock(path).acquire()
    folder = RunFolder(path, resume=False, created=created, lock=lock)
    try:
        _settle(folder, resume=resume, overwrite=overwrite, log=log)
    except BaseException:
        folder.release()
        if created:
            folder.remove_if_unused()
        raise
    return folder


def _settle(folder: RunFolder, *, resume: bool, overwrite: bool, log) -> None:
    """The decisions of the module's table, taken while holding the lock."""
    path = folder.path
    names = [p.name for p in path.iterdir() if p.name != LOCK and not is_temporary(p.name)]
    if not names:  # a new run (or an empty folder)
        if resume:
            raise RunFolderError(f"nothing to resume: {path} holds no run; start without --resume")
        _write_marker(path)
        return
    if not is_run_folder(path):  # something else appeared meanwhile
        raise RunFolderError(f"{path} is not a reprlab run folder; choose a new or empty folder with --run-dir/--name")
    foreign = foreign_entries(path)
    if has_progress(path):
        if resume:
            folder.resume = True
            if not (path / MARKER).exists():
                _write_marker(path)  # adopt a run folder of an older reprlab
            return
        if not overwrite:
            raise RunFolderError(
                f"{path} already holds a run: pass --resume to continue it, --overwrite to replace it, "
                "or --name/--run-dir for a new one"
            )
        if _is_cwd_or_parent(path):
            raise RunFolderError(f"--overwrite refuses to delete {path}: it is the working directory or one of its parents; "
                                 "choose the run folder itself with --run-dir")
        if foreign:
            raise RunFolderError(
                f"--overwrite refuses to delete {path}: it holds files reprlab did not write ({', '.join(foreign[:3])}); "
                "move them away or choose another --run-dir"
            )
        _clear(path)
        _write_marker(path)
        if log:
            log(f"--overwrite: removed the previous run in {path}")
        return
    # a run folder without a checkpoint (killed or failed before its first checkpoint): nothing to keep
    _clear(path)
    _write_marker(path)
    if resume and log:
        log(f"{path} has no checkpoint yet: starting from step 0")
