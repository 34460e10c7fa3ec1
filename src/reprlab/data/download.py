"""``reprlab data download``: fetch the files of MNIST, Omniglot and the Amazon reviews, checked.

Each file lands exactly where its loader reads it, under the data folder
(:func:`~reprlab.data.registry.resolve_data_dir`: ``--dir``, else ``$REPRLAB_DATA``, else
``~/.local/share/reprlab``):

- ``mnist``: ``MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``, the IDX files
  decompressed from torchvision's ``.gz`` mirrors;
- ``omniglot``: ``omniglot/images_background_small{1,2}.zip`` and ``omniglot/all_runs.zip``
  (Lake's repository, ``brendenlake/omniglot/python``) and the full sets
  ``omniglot-py/images_{background,evaluation}.zip`` (torchvision's layout and source);
  ``omniglot:small1|small2|background|evaluation`` and ``omniglot-oneshot`` name single files;
- ``amazon-reviews``: ``amazon_reviews_400/{books,dvd,elec,kitchen}_400.mat``. There is no
  official download of these files (the mSDA page's ``mSDA.tar`` holds a different
  ``amazon.mat``): they come from a mirror only.

A **mirror** (``--mirror URL`` or ``$REPRLAB_MIRROR``) holds the files at the same relative paths
as a data folder: ``python -m http.server`` run inside a complete data folder is one, and
``<mirror>/MNIST/raw/train-images-idx3-ubyte`` is fetched as is (not gzipped).

Every file is checked against a checksum written here (the SHA-256 of the reference copies, or
the MD5 torchvision publishes) before it is renamed into place; until then it is
``<name>.part`` in the target folder. An interrupted download resumes from that file with an
HTTP ``Range`` request (a server that ignores it makes the download start over); a file already
present with the right checksum is skipped. HTTP goes through :mod:`urllib` only.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, UsageError
from ..files import atomic_path, ensure_dir, fsync_dir, output_error
from .registry import resolve_data_dir

log = logging.getLogger("reprlab")

#: Environment variable naming the default mirror (same as ``--mirror``).
MIRROR_ENV = "REPRLAB_MIRROR"
TIMEOUT_S = 60
CHUNK = 1 << 16
_OMNIGLOT = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python"
_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist", "http://yann.lecun.com/exdb/mnist")
_NO_AMAZON_SOURCE = (
    "there is no official download of the 400-feature .mat files (the mSDA page's mSDA.tar holds a "
    "different amazon.mat)"
)


class DownloadError(DataError):
    """A download that failed: unreachable, HTTP error, cut short or with a wrong checksum."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: where it lands, its checksum and where it comes from.

    ``path`` is relative to the data folder (and to a mirror). ``sha256`` (else ``md5``) is the
    checksum of the file at ``path``. ``urls`` are official sources, tried in order; with
    ``gz_md5`` they serve the gzip of the file, whose MD5 is ``gz_md5``.
    """

    dataset: str
    part: str
    path: str
    sha256: str | None = None
    md5: str | None = None
    urls: tuple[str, ...] = ()
    gz_md5: str | None = None

    @property
    def checksum(self) -> tuple[str, str]:
        """``(algorithm, hex digest)`` of the file at :attr:`path`."""
        return ("sha256", self.sha256) if self.sha256 else ("md5", self.md5)


def _mnist(part: str, name: str, sha256: str, gz_md5: str) -> RemoteFile:
    urls = tuple(f"{m}/{name}.gz" for m in _MNIST_MIRRORS)
    return RemoteFile("mnist", part, f"MNIST/raw/{name}", sha256=sha256, urls=urls, gz_md5=gz_md5)


#: Every downloadable file. SHA-256: of the reference copies (``../shared/data``); MD5: as
#: torchvision publishes them (``torchvision.datasets.MNIST.resources``, ``Omniglot.zips_md5``).
FILES: tuple[RemoteFile, ...] = (
    _mnist("train", "train-images-idx3-ubyte",
           "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    _mnist("train", "train-labels-idx1-ubyte",
           "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", "d53e105ee54ea40749a09fcbcd1e9432"),
    _mnist("test", "t10k-images-idx3-ubyte",
           "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", "9fb629c4189551a2d022fa330f9573f3"),
    _mnist("test", "t10k-labels-idx1-ubyte",
           "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", "ec29112dd5afa0611ce80d1b7f02629c"),
    RemoteFile("omniglot", "small1", "omniglot/images_background_small1.zip",
               sha256="f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4",
               urls=(f"{_OMNIGLOT}/images_background_small1.zip",)),
    RemoteFile("omniglot", "small2", "omniglot/images_background_small2.zip",
               sha256="3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f",
               urls=(f"{_OMNIGLOT}/images_background_small2.zip",)),
    RemoteFile("omniglot", "oneshot", "omniglot/all_runs.zip",
               sha256="437c1eeab0af8484112e1b4cc0f3d541ec727f7c47b9b202da738af9dfd6c325",
               urls=(f"{_OMNIGLOT}/one-shot-classification/all_runs.zip",)),
    RemoteFile("omniglot", "background", "omniglot-py/images_background.zip",
               md5="68d2efa1b9178cc56df9314c21c6e718", urls=(f"{_OMNIGLOT}/images_background.zip",)),
    RemoteFile("omniglot", "evaluation", "omniglot-py/images_evaluation.zip",
               md5="6b91aef0f799c5bb55b94e3f2daec811", urls=(f"{_OMNIGLOT}/images_evaluation.zip",)),
    *(RemoteFile("amazon-reviews", d, f"amazon_reviews_400/{d}_400.mat", sha256=h) for d, h in (
        ("books", "7a53b54f0c0e81e7ee4774d762a927399cede9a802a2409732ba00cc1c23a17a"),
        ("dvd", "13a71d399f9c7ae57064952979c830455057ffd0a8da73f2c9075338d64d98ce"),
        ("elec", "f1dd6e01c1eed956d3abe6493a6bb5efc95e6585b8b9b2d856c0c07e12893a35"),
        ("kitchen", "b1f4e5ddfbd7b37ad2638fccbf83bd8558abf63b3e8d69a9d5bca77b1a49fed5"),
    )),
)

#: what ``reprlab data download NAME`` accepts, for messages
NAMES_HELP = ("all, mnist, omniglot[:small1|small2|background|evaluation], omniglot-oneshot, "
              "amazon-reviews[:books|dvd|elec|kitchen]")


# ---------------------------------------------------------------------------- choosing files


def select_files(names: list[str] | tuple[str, ...]) -> list[RemoteFile]:
    """The files named by ``names`` (``all``, ``DATASET`` or ``DATASET:PART``), each once, in
    :data:`FILES` order; an unknown name is a one-line :class:`UsageError`."""
    if not names:
        raise UsageError(f"name a data set to download: {NAMES_HELP}")
    chosen: set[RemoteFile] = set()
    for name in names:
        found = _files_of(name)
        if not found:
            raise UsageError(f"unknown data set {name!r} to download; choose from {NAMES_HELP}")
        chosen.update(found)
    return [f for f in FILES if f in chosen]


def _files_of(name: str) -> list[RemoteFile]:
    """The files of one name (empty when the name is unknown)."""
    if name == "all":
        return list(FILES)
    if name == "omniglot-oneshot":
        return [f for f in FILES if f.part == "oneshot"]
    base, sep, part = name.partition(":")
    if base == "amazon-reviews" and part == "all":
        sep = ""
    if base == "omniglot" and part == "oneshot":
        return []
    return [f for f in FILES if f.dataset == base and (not sep or f.part == part)]


def has_official_source(name: str) -> bool:
    """True when every file of ``name`` has an official URL (else it needs ``--mirror``)."""
    return all(f.urls for f in select_files([name]))


def download_command(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """The exact command that fetches ``name`` into the folder the loaders read from ``data_dir``
    (``--dir`` only when that is not already the default; ``--mirror URL`` when no official
    source exists)."""
    cmd = f"reprlab data download {name}"
    if data_dir is not None and resolve_data_dir(data_dir) != resolve_data_dir(None):
        cmd += f" --dir {resolve_data_dir(data_dir)}"
    if not has_official_source(name) and not os.environ.get(MIRROR_ENV):
        cmd += " --mirror URL"
    return cmd


@dataclass(frozen=True)
class Holding:
    """What the data folder holds of one data set, for ``reprlab data``."""

    name: str
    folder: Path
    present: int
    total: int
    size: int
    fetch: str | None  # the command that fetches what is missing (None: complete, or no download)
    optional: bool = False  # a set no loader needs by default (the full Omniglot sets)

    @property
    def complete(self) -> bool:
        return self.present == self.total


def holdings(data_dir: str | os.PathLike | None = None) -> list[Holding]:
    """One :class:`Holding` per registered data set with files, then the optional downloads (the
    full Omniglot sets), sorted by name; presence is checked, not checksums."""
    from .registry import DATASETS

    root = resolve_data_dir(data_dir)
    groups = {name: (spec.files, False) for name, spec in DATASETS.items() if spec.files and not spec.embedded}
    needed = {p for files, _ in groups.values() for p in files}
    for f in FILES:
        if f.path not in needed:
            groups[f"{f.dataset}:{f.part}"] = ((f.path,), True)
    return [_holding(name, root, files, optional) for name, (files, optional) in sorted(groups.items())]


def _holding(name: str, root: Path, files: tuple[str, ...], optional: bool) -> Holding:
    paths = [root / p for p in files]
    present = [p for p in paths if p.is_file()]
    folder = Path(os.path.commonpath([p.parent for p in paths]))
    fetch = None
    if len(present) < len(paths) and _files_of(name):
        fetch = download_command(name, root)
    return Holding(name, folder, len(present), len(paths), sum(p.stat().st_size for p in present), fetch, optional)


# ---------------------------------------------------------------------------- the command


def check_mirror(mirror: str | None) -> str | None:
    """``mirror`` without a trailing slash, after checking it is an http(s) URL (else a
    :class:`UsageError`); ``None`` stays ``None``."""
    if mirror is None or mirror == "":
        return None
    parts = urllib.parse.urlsplit(mirror)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"mirror {mirror!r} is not an http:// or https:// URL; give the address of a copy of a data folder "
            "(e.g. http://host:8000 where `python -m http.server` runs inside it)"
        )
    return mirror.rstrip("/")


def download(names, data_dir: str | os.PathLike | None = None, *, mirror: str | None = None,
             progress: bool = True) -> list[Path]:
    """Fetch the files of ``names`` (see :func:`select_files`) into the data folder; returns their paths.

    ``mirror`` (default ``$REPRLAB_MIRROR``) replaces the official sources. Files without any
    source (the Amazon reviews without a mirror) are reported in one :class:`DownloadError`
    after the others are fetched. Bad input (a name, the mirror, an unwritable folder) fails
    before anything is fetched.
    """
    files = select_files(list(names))
    mirror = check_mirror(mirror if mirror is not None else os.environ.get(MIRROR_ENV))
    root = resolve_data_dir(data_dir)
    fetchable = [f for f in files if mirror or f.urls]
    for folder in dict.fromkeys((root / f.path).parent for f in fetchable):
        check_writable(folder)
    paths, failures = [], []  # failures: (short label, one-line message)
    for f in fetchable:
        try:
            paths.append(fetch_file(f, root, mirror, progress=progress))
        except DownloadError as e:  # the other files are still fetched; all failures end in one line
            log.info(f"{f.path}: failed")
            failures.append((Path(f.path).name, str(e)))
    unsourced = [f for f in files if f not in fetchable]
    if unsourced:
        where = root / Path(unsourced[0].path).parent
        failures.append(("the Amazon reviews (no official source: --mirror URL)", (
            f"{', '.join(Path(f.path).name for f in unsourced)}: {_NO_AMAZON_SOURCE}; pass --mirror URL "
            f"(or set {MIRROR_ENV}) naming a copy of a data folder, or put the files in {where} by hand"
        )))
    if failures:
        also = f" (also failed: {', '.join(label for label, _ in failures[1:])})" if len(failures) > 1 else ""
        raise DownloadError(failures[0][1] + also)
    return paths


def check_writable(folder: Path) -> None:
    """Create ``folder`` and check a file can be written in it (else a one-line ``OutputError``)."""
    ensure_dir(folder)
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise output_error(folder, e, "write in") from None


# ---------------------------------------------------------------------------- one file


def fetch_file(f: RemoteFile, root: Path, mirror: str | None = None, *, progress: bool = True) -> Path:
    """Make ``root / f.path`` the checked file: skipped when already right, else fetched from the
    mirror or from each official URL in turn."""
    target = root / f.path
    if target.is_file():
        if file_digest(target, f.checksum[0]) == f.checksum[1]:
            log.info(f"{f.path}: present, checksum OK")
            return target
        log.info(f"{f.path}: checksum differs from the published file; fetching it again")
    sources = [(f"{mirror}/{urllib.parse.quote(f.path)}", None)] if mirror else [(u, f.gz_md5) for u in f.urls]
    errors = []
    for url, gz_md5 in sources:
        try:
            _fetch_from(url, f, target, gz_md5, progress)
            log.info(f"{f.path}: downloaded from {url} ({human_size(target.stat().st_size)})")
            return target
        except DownloadError as e:
            errors.append(str(e))
    raise DownloadError(errors[0] if len(errors) == 1 else "; ".join(errors))


def _fetch_from(url: str, f: RemoteFile, target: Path, gz_md5: str | None, progress: bool) -> None:
    """Download ``url`` into ``<name>.part`` beside ``target``, check it, then rename it into place
    (or decompress it there when ``gz_md5`` says it is the gzip of the file)."""
    name = Path(urllib.parse.urlsplit(url).path).name if gz_md5 else target.name
    part = target.with_name(f"{name}.part")
    expected = ("md5", gz_md5) if gz_md5 else f.checksum
    resumed = transfer(url, part, progress=progress)
    if file_digest(part, expected[0]) != expected[1] and resumed:
        log.info(f"{part.name}: the resumed file does not match; downloading it again from the start")
        _unlink(part)
        transfer(url, part, progress=progress)
    got = file_digest(part, expected[0])
    if got != expected[1]:
        _unlink(part)
        fix = ("run the command again, and if it fails again use --mirror URL with a good copy" if url in f.urls
               else "the mirror's copy is not the published file: replace it with a good copy")
        raise DownloadError(
            f"{url}: wrong checksum ({expected[0]} {got[:12]}..., expected {expected[1][:12]}...); the file was removed: {fix}"
        )
    if gz_md5:
        _gunzip(part, target, f, url)
        _unlink(part)
    else:
        _rename(part, target)


def transfer(url: str, part: Path, *, progress: bool = True) -> bool:
    """Download ``url`` into ``part``, appending to what ``part`` holds through an HTTP ``Range``
    request; returns whether it resumed. A cut-short transfer keeps ``part`` and raises
    :class:`DownloadError`."""
    offset = part.stat().st_size if part.is_file() else 0
    response = _open(url, offset)
    if response is None:  # 416: the range starts past the end; the part is not ours to trust
        _unlink(part)
        offset, response = 0, _open(url, 0)
    with response:
        start = _resume_offset(response, offset)
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        received, broken = _copy(response, part, start, total, url, progress)
    if broken or (total is not None and start + received < total):
        of = f" of {total:,}" if total is not None else ""
        raise DownloadError(
            f"{url}: the connection closed after {start + received:,}{of} bytes; the partial file is "
            f"kept as {part}: run the same command again to resume"
        )
    return start > 0


def _open(url: str, offset: int):
    """The HTTP response for ``url`` from byte ``offset``; ``None`` for 416 (range not
    satisfiable); errors become one-line :class:`DownloadError`."""
    headers = {"User-Agent": "reprlab-data-download", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 416 and offset:
            return None
        fix = "check the mirror holds the data folder's files" if e.code == 404 else "try again later or use --mirror URL"
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}; {fix}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e
        raise DownloadError(f"cannot reach {url} ({reason}); check the connection, or use --mirror URL") from None


def _resume_offset(response, offset: int) -> int:
    """Where the body starts in the file: ``offset`` for a 206 whose Content-Range starts there,
    else 0 (the server ignored the Range request: start over)."""
    if offset and response.status == 206:
        content_range = response.headers.get("Content-Range", "")
        if content_range.startswith(f"bytes {offset}-"):
            return offset
    return 0


def _copy(response, part: Path, start: int, total: int | None, url: str, progress: bool) -> tuple[int, bool]:
    """Write the body of ``response`` into ``part`` from byte ``start``, with a progress bar;
    returns (bytes received, whether the connection broke midway)."""
    from tqdm import tqdm

    received, broken, failed = 0, False, None
    try:
        out = open(part, "r+b" if start else "wb", buffering=0)  # unbuffered: a full disk fails in write, not in close
    except OSError as e:
        raise output_error(part, e) from None
    bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
               desc=part.name[: -len(".part")], disable=None if progress else True, leave=False)
    with out, bar:
        out.seek(start)
        out.truncate()
        while True:
            try:
                chunk = response.read(CHUNK)
            except (http.client.HTTPException, OSError):
                broken = True
                break
            if not chunk:
                break
            try:
                out.write(chunk)
            except OSError as e:  # e.g. the disk is full: no partial file is kept
                failed = e
                break
            received += len(chunk)
            bar.update(len(chunk))
    if failed is not None:
        _unlink(part)
        raise output_error(part, failed) from None
    return received, broken


def _gunzip(part: Path, target: Path, f: RemoteFile, url: str) -> None:
    """Decompress ``part`` into ``target`` atomically, checking the result's checksum."""
    with atomic_path(target) as tmp:
        try:
            with gzip.open(part, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
        except (gzip.BadGzipFile, EOFError, zlib.error) as e:
            _unlink(part)
            raise DownloadError(f"{url}: not a valid gzip file ({e}); run the command again") from None
        algo, expected = f.checksum
        if file_digest(tmp, algo) != expected:
            _unlink(part)
            raise DownloadError(
                f"{url}: the decompressed {target.name} has a wrong {algo}; the file was removed: "
                "use --mirror URL with a good copy"
            )


def _rename(part: Path, target: Path) -> None:
    """Rename the checked ``part`` to ``target`` (atomic), durable on disk."""
    if target.is_dir():
        raise output_error(target, IsADirectoryError(21, "Is a directory", str(target)))
    try:
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, target)
    except OSError as e:
        raise output_error(target, e) from None
    fsync_dir(target.parent)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise output_error(path, e, "remove") from None


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest (``sha256`` or ``md5``) of the file at ``path``."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def human_size(n: float) -> str:
    """``n`` bytes for people: ``1.3 MB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
