"""Writing files so that a failure loses nothing: the one helper every output of reprlab goes through.

Each file is written to a temporary file in the same folder (``.NAME.tmp-PID-XXXX.SUFFIX``),
flushed to disk, and renamed over the final name (:func:`os.replace`, atomic on POSIX). On any
failure — a full disk, a read-only folder, a file where a folder should be, an exception in the
code producing the content, Ctrl-C — the temporary file is removed and the old file, if there was
one, is left as it was: no partial file, no lost file.

OS errors become :class:`OutputError`, one line naming the path, the cause and the fix (the CLI
prints it and exits with code 2).

This module depends on the standard library only (and :mod:`reprlab.errors`), so every layer
can use it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import UsageError

__all__ = [
    "OutputError",
    "output_error",
    "atomic_path",
    "atomic_open",
    "write_text",
    "write_bytes",
    "write_json",
    "ensure_dir",
    "is_temporary",
    "TMP_TAG",
]

#: every temporary name written by :func:`atomic_path` contains this tag (and starts with a dot)
TMP_TAG = ".tmp-"


class OutputError(UsageError):
    """A file or folder that cannot be written (read-only, no space, a file in the way, ...)."""


_FIXES = {
    errno.ENOSPC: "free some disk space or write to another disk",
    errno.EDQUOT: "free some space (disk quota exceeded) or write elsewhere",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.EACCES: "choose a folder you can write to, or fix its permissions",
    errno.EPERM: "choose a folder you can write to, or fix its permissions",
    errno.EEXIST: "a file is in the way of a folder: remove it or choose another path",
    errno.ENOTDIR: "a file is in the way of a folder: remove it or choose another path",
    errno.EISDIR: "a folder is in the way of the file: choose another file name",
    errno.ENAMETOOLONG: "choose a shorter path",
    errno.ENOENT: "check that the folder exists",
}


def _errno_of(e: BaseException) -> int | None:
    if isinstance(e, OSError):
        return e.errno
    text = str(e).lower()  # safetensors reports I/O errors as SafetensorError with the OS's text
    if "no space left" in text:
        return errno.ENOSPC
    if "read-only file system" in text:
        return errno.EROFS
    if "permission denied" in text:
        return errno.EACCES
    return None


def output_error(path: str | os.PathLike, e: BaseException, what: str = "write") -> OutputError:
    """A one-line :class:`OutputError` for the failure ``e`` while writing ``path``."""
    code = _errno_of(e)
    if isinstance(e, OSError) and e.strerror:
        cause = e.strerror
    elif code is not None:
        cause = os.strerror(code)
    else:
        cause = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
    fix = _FIXES.get(code, "check the path and the disk")
    where = getattr(e, "filename", None) if isinstance(e, OSError) else None
    # name the path the user gave; the OS's path is shown when it is another one (e.g. a parent)
    shown = str(path) if where is None or Path(str(where)).name.startswith(".") else str(where)
    return OutputError(f"cannot {what} {shown}: {cause}; {fix}")


def is_output_failure(e: BaseException) -> bool:
    """True when ``e`` is an OS-level write failure (also safetensors' wrapped ones)."""
    return isinstance(e, OSError) or _errno_of(e) is not None


def ensure_dir(path: str | os.PathLike) -> Path:
    """``mkdir -p path``, with a one-line :class:`OutputError` when it cannot be made."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"cannot create folder {path}: a file of that name is in the way; remove it or choose another path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(path, e, "create folder") from None
    return path


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_name(path: Path) -> Path:
    """A fresh temporary name beside ``path`` that keeps its suffix (so writers that infer the
    format from the extension, like matplotlib and PIL, still do)."""
    return path.with_name(f".{path.stem}{TMP_TAG}{os.getpid()}-{secrets.token_hex(3)}{path.suffix}")


def is_temporary(name: str) -> bool:
    """True for a name made by :func:`temporary_name` (left behind only by a killed process)."""
    return name.startswith(".") and TMP_TAG in name


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally, the file written
    there replaces ``path``. On any exception the temporary file is removed, ``path`` is
    untouched, and an OS error is re-raised as a one-line :class:`OutputError`.

    >>> with atomic_path("figure.png") as tmp:   # doctest: +SKIP
    ...     fig.savefig(tmp)
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; choose a file name")
    ensure_dir(path.parent if str(path.parent) else ".")
    tmp = temporary_name(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(errno.ENOENT, "nothing was written", str(tmp))
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OutputError):
            raise
        if is_output_failure(e):
            raise output_error(path, e) from None
        raise
    if fsync:
        fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, fsync: bool = True, **kwargs: Any) -> Iterator[IO]:
    """``open(path, mode)`` through :func:`atomic_path`: the file appears complete or not at all.
    ``fsync=False`` skips flushing to the disk (still atomic for other processes, e.g. after a
    ``kill -9``; not across a power cut): for logs rewritten often."""
    if not mode.startswith("w"):
        raise ValueError("atomic_open writes a whole file: mode must be 'w' or 'wb'")
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path, fsync=fsync) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (with a final newline) to ``path`` atomically."""
    return write_text(path, json.dumps(obj, indent=indent) + "\n")
