"""The user's own data: ``images:FOLDER`` and ``.npy``/``.npz``/``.csv`` files (``file:PATH``).

``images:FOLDER`` reads ``FOLDER/<class>/*.png|jpg|jpeg|bmp|gif|webp`` (labels from the sorted
class-folder names) or a flat ``FOLDER/*.png`` (no labels). All images must share one size;
if any image is in colour all are read as RGB (C=3), else as grayscale (C=1); alpha is dropped.

A file is read by extension: ``.npy`` (one array; never unpickled), ``.npz`` (arrays ``x`` and
optional ``y``, or ``codes`` and optional ``labels`` as ``reprlab encode`` writes, or a single array), ``.csv`` (numbers, optional header row; a column named
``label`` or ``y`` holds the labels). ``x`` may be (N, D), (N, H, W) or (N, C, H, W); integer
arrays of 3 or 4 dimensions with values in 0..255 are images and are divided by 255, other
values are kept. Labels are mapped to 0..K-1 in sorted order (``classes`` keeps the originals).
Relative paths are looked up in the working folder, then in the data folder. ``train``/``test``
are the seeded 80/20 split (stratified when labelled), see :mod:`.splits`.

A file or folder whose load cannot fit in the available memory is refused before it is read,
in one line with the size needed (:mod:`reprlab.memory`): arrays from their header's shape and
dtype (the bytes read plus two float32 copies), images from their count and size, CSV files
from their size.
"""

from __future__ import annotations

import io
import math
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, ResourceError
from ..memory import check_fits, human_bytes
from .base import TensorData
from .registry import register
from .splits import seeded_split

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
_LABEL_COLUMNS = ("label", "y")
_MEMORY_FIX = "use a smaller data set (fewer rows or features) or free memory"


def _reason(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def _resolve(arg: str | None, data_dir: Path, usage: str) -> Path:
    """``arg`` as given if it exists, else relative to the data folder."""
    if not arg:
        raise DataError(f"a path is required: {usage}")
    path = Path(arg).expanduser()
    if path.exists():
        return path
    if not path.is_absolute() and (Path(data_dir) / path).exists():
        return Path(data_dir) / path
    raise DataError(f"{arg}: not found in {Path.cwd()} or in the data folder {data_dir}; give an existing path ({usage})")


# ----------------------------------------------------------------------------- images:FOLDER
def _image_files(folder: Path) -> tuple[list[Path], list[str] | None, np.ndarray | None]:
    """Image files, class names and per-file class index (None, None for a flat folder)."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; images:FOLDER takes a folder of images or of class sub-folders")

    def images_in(d: Path) -> list[Path]:
        return sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())

    loose = images_in(folder)
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    per_class = {d.name: f for d in subdirs if (f := images_in(d))}
    if per_class and loose:
        raise DataError(f"{loose[0]}: image beside class sub-folders in {folder}; move loose images into a class folder")
    if per_class:
        classes = sorted(per_class)
        files = [f for c in classes for f in per_class[c]]
        y = np.repeat(np.arange(len(classes), dtype=np.int64), [len(per_class[c]) for c in classes])
        return files, classes, y
    if not loose:
        raise DataError(
            f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in it; put images in {folder}/ or in class "
            f"sub-folders {folder}/<class>/"
        )
    return loose, None, None


def _open_image(path: Path):
    from PIL import Image

    try:
        return Image.open(path)
    except Exception as e:
        raise DataError(f"{path}: not a readable image ({_reason(e)}); remove it or give it the right extension") from None


def _pixels(path: Path, rgb: bool, size: tuple[int, int]) -> np.ndarray:
    """One image as float32 (C, H, W) in [0, 1]."""
    try:
        with _open_image(path) as im:
            if im.size != size:
                raise DataError(f"{path}: changed size while decoding; re-save it")
            if im.mode.startswith("I") and not rgb:  # 16-bit grayscale
                a = np.clip(np.asarray(im, dtype=np.float32) / 65535.0, 0.0, 1.0)[None]
            else:
                a = np.asarray(im.convert("RGB" if rgb else "L"), dtype=np.float32) / 255.0
                a = a.transpose(2, 0, 1) if rgb else a[None]
    except DataError:
        raise
    except Exception as e:  # PIL raises many types for damaged files
        raise DataError(f"{path}: cannot decode the image ({_reason(e)}); remove or re-save it") from None
    return a


def read_image(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """One image file as a float32 tensor of ``shape`` (C, H, W) in [0, 1], or a one-line error."""
    if not Path(path).is_file():
        raise DataError(f"{path}: image not found")
    c, h, w = shape
    with _open_image(Path(path)) as im:
        if im.size != (w, h):
            raise DataError(f"{path}: image is {im.size[0]}x{im.size[1]}, the model takes {w}x{h}; resize it")
    return torch.from_numpy(np.ascontiguousarray(_pixels(Path(path), c == 3, (w, h))))


def load_image_folder(folder: Path) -> TensorData:
    """All images of ``folder`` (see the module docstring) as a :class:`TensorData`."""
    files, classes, y = _image_files(folder)
    size, modes = None, set()
    for path in files:  # headers only: sizes and modes, before any pixel is decoded
        with _open_image(path) as im:
            if size is None:
                size, first = im.size, path
            elif im.size != size:
                raise DataError(
                    f"{path}: image is {im.size[0]}x{im.size[1]} but {first.name} is {size[0]}x{size[1]}; "
                    "resize all images to one size"
                )
            modes.add(im.mode)
    rgb = bool(modes - _GRAY_MODES)
    shape = (len(files), 3 if rgb else 1, size[1], size[0])
    # the float32 array, then the copy the train/test split takes
    check_fits(2 * math.prod(shape) * 4, f"loading images:{folder} ({len(files)} images of {size[0]}x{size[1]})", _MEMORY_FIX)
    x = np.empty(shape, dtype=np.float32)
    for i, path in enumerate(files):
        x[i] = _pixels(path, rgb, size)
    return TensorData(
        torch.from_numpy(x),
        None if y is None else torch.from_numpy(y),
        name=f"images:{folder}",
        classes=classes,
        meta={"source": str(folder), "range": "[0, 1]", "mode": "RGB" if rgb else "grayscale",
              "files": [str(f) for f in files]},
    )


@register("images", "your folder of images: FOLDER/<class>/*.png (labelled) or FOLDER/*.png", arg_help="FOLDER")
def load_images(arg, data_dir: Path, split: str, seed: int, download: bool) -> TensorData:
    """``images:FOLDER``: see :func:`load_image_folder`; ``split`` is the seeded 80/20 split."""
    folder = _resolve(arg, data_dir, "images:FOLDER with FOLDER/<class>/*.png or FOLDER/*.png")
    return seeded_split(load_image_folder(folder), split, seed)


# ----------------------------------------------------------------------------- arrays
def _read_npy_header(f, label: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from the header of the open ``.npy`` stream ``f``, parsed by
    numpy without unpickling; a version numpy cannot read is a one-line :class:`DataError`."""
    version = np.lib.format.read_magic(f)
    reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in reader:
        raise DataError(f"{label}: unsupported .npy format version {version}; re-save it with numpy.save")
    with warnings.catch_warnings():  # a corrupt header's escapes (e.g. \q) make Python warn while numpy parses it
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        return reader[version](f)


def _npy_header(f) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) from the header of the open ``.npy`` stream ``f``, reading nothing else;
    None when the header is not valid (the full read then says why)."""
    try:
        shape, _, dtype = _read_npy_header(f, "")
    except Exception:
        return None
    if not isinstance(shape, tuple) or any(not isinstance(d, int) or d < 0 for d in shape):
        return None
    return shape, dtype


def _check_loadable(label: str, header, read_bytes: int) -> None:
    """Refuse, before reading it, an array whose load cannot fit in memory: the ``read_bytes``
    read from disk plus two float32 copies of x (the conversion, then the train/test split).

    A header that declares more data than ``read_bytes`` (a truncated file, reported as such
    once read) or a dtype the loader refuses counts only the bytes read."""
    if header is None:  # not a valid header (reported once read): only its bytes are read
        check_fits(read_bytes, f"reading {label}", _MEMORY_FIX)
        return
    shape, dtype = header
    count = math.prod(shape)
    copies = 0
    if not dtype.hasobject and dtype.kind in "biuf" and count * dtype.itemsize <= read_bytes:
        copies = 2 * count * 4
    dims = " x ".join(str(d) for d in shape) or "scalar"
    check_fits(read_bytes + copies, f"loading {label} ({dims} {dtype.name})", _MEMORY_FIX)


def npy_from_bytes(buf: bytes, label: str) -> np.ndarray:
    """Parse ``.npy`` bytes without unpickling, checking the size before touching the data."""
    fix = "re-save it with numpy.save"
    f = io.BytesIO(buf)
    try:
        shape, fortran_order, dtype = _read_npy_header(f, label)
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{label}: not a valid .npy array ({_reason(e)}); {fix}") from None
    if dtype.hasobject or dtype.kind not in "biufcUS" or dtype.itemsize == 0:
        raise DataError(f"{label}: holds {dtype} values (objects or records); {fix} on a numeric array")
    if any(d < 0 for d in shape):
        raise DataError(f"{label}: header declares the negative shape {shape}; {fix}")
    offset, count = f.tell(), math.prod(shape)
    expected = offset + count * dtype.itemsize
    if len(buf) != expected:
        state = "truncated" if len(buf) < expected else "oversized"
        raise DataError(f"{label}: {state} .npy file (expected {expected} bytes, found {len(buf)}); {fix}")
    data = np.frombuffer(buf, dtype=dtype, count=count, offset=offset)
    return data.reshape(shape, order="F" if fortran_order else "C")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    fix = "save it with numpy.savez(path, x=..., y=...)"
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(".npy")]
            if "x.npy" in names:
                wanted = {"x": "x.npy", "y": "y.npy" if "y.npy" in names else None}
            elif "codes.npy" in names:  # as written by `reprlab encode -o codes.npz`
                wanted = {"x": "codes.npy", "y": "labels.npy" if "labels.npy" in names else None}
            elif len(names) == 1:
                wanted = {"x": names[0], "y": None}
            else:
                found = ", ".join(n[:-4] for n in names) or "none"
                raise DataError(f"{path}: needs an array named x (found: {found}); {fix}")
            with z.open(wanted["x"]) as member:  # x's header only; members are read whole below
                header = _npy_header(member)
            raw = sum(z.getinfo(n).file_size for n in wanted.values() if n is not None)
            _check_loadable(f"{path}:{wanted['x']}", header, raw)
            arrays = {k: None if n is None else npy_from_bytes(z.read(n), f"{path}:{n}") for k, n in wanted.items()}
    except (DataError, ResourceError):
        raise
    except Exception as e:
        raise DataError(f"{path}: not a readable .npz archive ({_reason(e)}); {fix}") from None
    return arrays["x"], arrays["y"]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Numbers of a CSV file: (x (N, D) float64, labels (N,) or None, label column name)."""
    try:  # at least the bytes and the decoded text are held at once
        size = path.stat().st_size
    except OSError:
        size = 0
    check_fits(2 * size, f"reading {path} ({human_bytes(size)} of text)", _MEMORY_FIX)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (bad byte at offset {e.start}); save it as a UTF-8 CSV") from None
    rows = [(i, line.rstrip("\r")) for i, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if not rows:
        raise DataError(f"{path}: empty CSV file; write one sample per line, comma-separated numbers")
    first = [c.strip().strip("\"'") for c in rows[0][1].split(",")]
    header = None if all(_is_number(c) for c in first) else first
    if header is not None:
        rows = rows[1:]
        if not rows:
            raise DataError(f"{path}: only a header row, no data; add one sample per line")
    ncols = len(first)
    try:
        table = np.loadtxt([line for _, line in rows], delimiter=",", dtype=np.float64, comments=None, ndmin=2)
    except Exception as e:
        _diagnose_csv(path, rows, ncols)
        raise DataError(f"{path}: not a numeric CSV ({_reason(e)}); write comma-separated numbers only") from None
    if table.shape[1] != ncols:
        raise DataError(f"{path}: the header has {ncols} names but the rows have {table.shape[1]} values; fix the header")
    bad = ~np.isfinite(table).all(axis=1)
    if bad.any():
        raise DataError(f"{path}: line {rows[int(np.argmax(bad))][0]} holds NaN or Inf; replace the missing values")
    col = next((j for j, name in enumerate(header or []) if name.lower() in _LABEL_COLUMNS), None)
    if col is None:
        return table, None, None
    if ncols == 1:
        raise DataError(f"{path}: only a {header[col]!r} column, no features; add feature columns")
    return np.delete(table, col, axis=1), table[:, col], header[col]


def _diagnose_csv(path: Path, rows: Sequence[tuple[int, str]], ncols: int) -> None:
    """Raise a DataError naming the first bad line of a CSV that numpy could not parse."""
    for number, line in rows:
        cells = line.split(",")
        if len(cells) != ncols:
            raise DataError(f"{path}: line {number} has {len(cells)} values, expected {ncols}; give every row the same columns")
        for j, cell in enumerate(cells, start=1):
            if not _is_number(cell):
                raise DataError(f"{path}: line {number}, column {j}: {cell.strip()[:40]!r} is not a number; use numbers only")


def _labels(y: np.ndarray, n: int, label: str) -> tuple[np.ndarray, list[str]]:
    """Class indices 0..K-1 (sorted original values) and the original values as names."""
    y = np.asarray(y)
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.shape != (n,):
        raise DataError(f"{label}: labels have shape {y.shape}, expected ({n},), one per sample; fix y")
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise DataError(f"{label}: labels must be whole numbers or strings, found fractions or NaN; fix y")
    if y.dtype.kind not in "biufUS":
        raise DataError(f"{label}: labels of type {y.dtype} are not supported; use integers or strings")
    values, index = np.unique(y, return_inverse=True)
    if values.dtype.kind == "f":
        values = values.astype(np.int64)
    names = [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values.tolist()]
    return index.reshape(-1).astype(np.int64), names


def array_data(x: np.ndarray, y: np.ndarray | None, label: str) -> TensorData:
    """Check and convert user arrays into a :class:`TensorData` (see the module docstring)."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{label}: x holds {x.dtype} values; save real numbers (int, float or bool)")
    if x.ndim not in (2, 3, 4) or x.shape[0] == 0 or 0 in x.shape:
        raise DataError(f"{label}: x has shape {x.shape}; expected non-empty (N, D), (N, H, W) or (N, C, H, W)")
    if x.ndim == 4 and x.shape[1] > 4 and x.shape[3] in (1, 3, 4):
        raise DataError(f"{label}: x of shape {x.shape} looks channels-last; save x.transpose(0, 3, 1, 2) as (N, C, H, W)")
    scaled = x.ndim >= 3 and x.dtype.kind in "iu" and x.min() >= 0 and x.max() <= 255
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond float32 become inf, caught below
        out = np.divide(x, 255, dtype=np.float32) if scaled else x.astype(np.float32)
    if not np.isfinite(out).all():
        first = int(np.argmax(~np.isfinite(out.reshape(len(out), -1)).all(axis=1)))
        raise DataError(f"{label}: x holds NaN or Inf (or values beyond float32) at sample {first}; replace them")
    if out.ndim == 3:
        out = out[:, None]
    labels, classes = (None, None) if y is None else _labels(y, len(out), label)
    return TensorData(
        torch.from_numpy(np.ascontiguousarray(out)),
        None if labels is None else torch.from_numpy(labels),
        name=label,
        classes=classes,
        meta={"source": label, "range": "[0, 1] (integers / 255)" if scaled else "as stored"},
    )


def load_file(path: Path) -> TensorData:
    """A ``.npy``, ``.npz`` or ``.csv`` file as a :class:`TensorData`."""
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".csv"):
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; use .npy, .npz or .csv")
    if not path.is_file():
        raise DataError(f"{path}: not a file; give the path of a .npy, .npz or .csv file")
    if suffix == ".npy":
        try:
            with path.open("rb") as f:
                header = _npy_header(f)
            _check_loadable(str(path), header, path.stat().st_size)
            buf = path.read_bytes()
        except OSError as e:
            raise DataError(f"{path}: cannot read it ({_reason(e)}); check its permissions") from None
        x, y = npy_from_bytes(buf, str(path)), None
    elif suffix == ".npz":
        x, y = _read_npz(path)
    else:
        x, y, _ = read_csv(path)
    return array_data(x, y, str(path))


@register("file", "your .npy / .npz (x, y) / .csv (label column `label` or `y`) file", arg_help="PATH")
def load_user_file(arg, data_dir: Path, split: str, seed: int, download: bool) -> TensorData:
    """``file:PATH`` (or just ``PATH``): see :func:`load_file`; ``split`` is the seeded 80/20 split."""
    path = _resolve(arg, data_dir, "a .npy, .npz or .csv file")
    return seeded_split(load_file(path), split, seed)
