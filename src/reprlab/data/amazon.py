"""``amazon-reviews:DOMAIN``: Amazon product reviews as 400 bag-of-words features.

The four domains (books, dvd, elec, kitchen; about 2,000 reviews each, binary sentiment) of
the domain-adaptation benchmark of marginalized denoising auto-encoders (Chen et al., 2012).
Each is a MATLAB file ``<data_dir>/amazon_reviews_400/<domain>_400.mat`` with ``fts``
(n x 400, float64, dense or sparse) and ``labels`` (n x 1, 0 = negative, 1 = positive).
``amazon-reviews:books+kitchen`` stacks the named domains (two or more, joined by ``+``; the
reviews a domain-adaptation representation is fit on, source + target) and ``amazon-reviews:all``
the four (extras ``domain``: index into :data:`DOMAINS`). There is no official split:
``train``/``test`` are the seeded 80/20 split stratified by label (:mod:`.splits`), taken in each
domain on its own, so that ``amazon-reviews:books+kitchen``'s training split is exactly the
training splits of ``amazon-reviews:books`` and ``amazon-reviews:kitchen`` for the same seed.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import TensorData
from .registry import register
from .splits import TEST_FRACTION, seeded_split

DOMAINS = ("books", "dvd", "elec", "kitchen")
SUBDIR = "amazon_reviews_400"
NUM_FEATURES = 400


def _reason(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


# MAT v5 data types: numeric miTYPE -> item size, text types, and the array classes read here.
_MI_NUMERIC = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}
_MI_TEXT = {16, 17, 18}
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MX_CHAR, _MX_SPARSE, _MX_NUMERIC = 4, 5, range(6, 16)
_MAX_INFLATED = 1 << 30


def _elements(buf: bytes, start: int, end: int, order: str, padded: bool) -> list[tuple[int, int, int]]:
    """(type, data offset, byte count) of the MAT v5 data elements in ``buf[start:end]``."""
    out, pos = [], start
    while pos < end:
        if end - pos < 8:
            raise ValueError(f"truncated element tag at byte {pos}")
        first, count = struct.unpack_from(order + "II", buf, pos)
        if first >> 16:  # small data element: type and count packed into 4 bytes
            mdtype, count = first & 0xFFFF, first >> 16
            if count > 4:
                raise ValueError(f"bad small element at byte {pos}")
            out.append((mdtype, pos + 4, count))
            pos += 8
            continue
        if pos + 8 + count > end:
            raise ValueError(f"element at byte {pos} runs past the end ({count} bytes)")
        out.append((first, pos + 8, count))
        pos += 8 + count + (-count % 8 if padded else 0)
    return out


def _check_matrix(buf: bytes, start: int, count: int, order: str) -> None:
    """Check one miMATRIX: flags, dims, name, then data elements whose sizes match the dims."""
    subs = _elements(buf, start, start + count, order, padded=True)
    if len(subs) < 3 or subs[0][:3:2] != (6, 8) or subs[1][0] != 5 or subs[1][2] % 4 or subs[2][0] != 1:
        raise ValueError("malformed array header")
    flags = struct.unpack_from(order + "I", buf, subs[0][1])[0]
    mclass, complex_ = flags & 0xFF, bool(flags & 0x800)
    dims = struct.unpack_from(f"{order}{subs[1][2] // 4}i", buf, subs[1][1])
    if len(dims) < 2 or min(dims) < 0:
        raise ValueError(f"bad dimensions {dims}")
    data = subs[3:]
    if mclass in _MX_NUMERIC:
        n = math.prod(dims)
        ok = len(data) == 1 + complex_ and all(t in _MI_NUMERIC and c == n * _MI_NUMERIC[t] for t, _, c in data)
    elif mclass == _MX_SPARSE:
        ok = len(data) == 3 + complex_ and all(t in _MI_NUMERIC for t, _, _ in data) and len(dims) == 2
        ok = ok and data[1][2] == (dims[1] + 1) * _MI_NUMERIC[data[1][0]]
    elif mclass == _MX_CHAR:
        ok = len(data) == 1 and (data[0][0] in _MI_NUMERIC or data[0][0] in _MI_TEXT)
    else:
        raise ValueError(f"unsupported MATLAB array class {mclass} (cell, struct or object)")
    if not ok:
        raise ValueError(f"data of a class-{mclass} array do not match its dimensions {dims}")


def _check_mat5(buf: bytes) -> None:
    """Walk the structure of a MAT v5 file before scipy reads it.

    scipy's compiled reader trusts type codes and sizes read from the file and can crash the
    interpreter on a damaged file; this pure-Python walk rejects such files with ValueError.
    """
    if len(buf) < 128 or 0 in buf[:4] or buf[126:128] not in (b"IM", b"MI"):
        raise ValueError("not a MATLAB v5 file (bad 128-byte header)")
    order = "<" if buf[126:128] == b"IM" else ">"
    version = struct.unpack_from(order + "H", buf, 124)[0]
    if version != 0x0100:
        raise ValueError(f"MATLAB file version 0x{version:04x} (v7.3/HDF5?) is not supported; save with -v7")
    for mdtype, start, count in _elements(buf, 128, len(buf), order, padded=False):
        if count == 0:
            raise ValueError("empty top-level element")
        if mdtype == _MI_COMPRESSED:
            inflater = zlib.decompressobj()
            inner = inflater.decompress(buf[start : start + count], _MAX_INFLATED)
            if inflater.unconsumed_tail or not inflater.eof:
                raise ValueError("compressed element is truncated or inflates beyond 1 GiB")
            elements = _elements(inner, 0, len(inner), order, padded=True)
            if len(elements) != 1 or elements[0][0] != _MI_MATRIX:
                raise ValueError("compressed element does not hold exactly one array")
            _check_matrix(inner, elements[0][1], elements[0][2], order)
        elif mdtype == _MI_MATRIX:
            _check_matrix(buf, start, count, order)
        else:
            raise ValueError(f"unexpected top-level element type {mdtype}")


def read_reviews_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one domain file: features float32 (n, 400) and labels int64 (n,) in {0, 1}.

    Labels stored as -1/+1 are mapped to 0/1.

    Raises
    ------
    DataError : the file is missing, not a MATLAB v5 file, lacks ``fts``/``labels``, or holds
        arrays of the wrong shape or non-finite / non-binary values.
    """
    import scipy.io
    import scipy.sparse

    fix = f"re-download {path.name} (MATLAB v5 with keys fts: n x {NUM_FEATURES}, labels: n x 1)"
    try:
        buf = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; put {path.name} in {path.parent}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({_reason(e)}); check its permissions") from None
    try:
        _check_mat5(buf)
        mat = scipy.io.loadmat(io.BytesIO(buf))
    except Exception as e:  # scipy raises many types for damaged files
        raise DataError(f"{path}: not a readable .mat file ({_reason(e)}); {fix}") from None
    missing = [k for k in ("fts", "labels") if k not in mat]
    if missing:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "none"
        raise DataError(f"{path}: no {' or '.join(missing)} in it (found: {found}); {fix}")
    fts, labels = mat["fts"], mat["labels"]
    try:
        for a in (fts, labels):
            if scipy.sparse.issparse(a):
                a.check_format(full_check=True)  # bad indices would make toarray write out of bounds
        fts, labels = (a.toarray() if scipy.sparse.issparse(a) else a for a in (fts, labels))
    except Exception as e:
        raise DataError(f"{path}: damaged sparse array ({_reason(e)}); {fix}") from None
    if not isinstance(fts, np.ndarray) or fts.ndim != 2 or fts.shape[1] != NUM_FEATURES or fts.shape[0] == 0:
        raise DataError(f"{path}: fts has shape {getattr(fts, 'shape', '?')}, expected (n, {NUM_FEATURES}); {fix}")
    if fts.dtype.kind not in "biuf":
        raise DataError(f"{path}: fts holds {fts.dtype} values, expected numbers; {fix}")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biuf" or labels.size != fts.shape[0] or labels.ndim != 2 or 1 not in labels.shape:
        raise DataError(
            f"{path}: labels has shape {labels.shape} {labels.dtype}, expected ({fts.shape[0]}, 1) numbers; {fix}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        x = fts.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{path}: fts holds NaN or Inf values; {fix}")
    labels = labels.reshape(-1)
    values = set(np.unique(labels).tolist())
    if values <= {-1, 1} and -1 in values:
        labels = labels > 0
    elif not values <= {0, 1}:
        raise DataError(f"{path}: labels hold {sorted(values)[:5]}, expected 0/1 sentiment; {fix}")
    return x, labels.astype(np.int64)


def _path(data_dir: Path, domain: str, download: bool) -> Path:
    path = data_dir / SUBDIR / f"{domain}_400.mat"
    if not path.is_file():
        raise DataError(
            f"Amazon reviews file missing: put {', '.join(f'{d}_400.mat' for d in DOMAINS)} in "
            f"{data_dir / SUBDIR} (missing: {path.name}); set REPRLAB_DATA or --data-dir to the folder "
            f"that holds {SUBDIR}/{' (there is no download for it)' if download else ''}"
        )
    return path


def parse_domains(arg: str | None) -> tuple[str, ...]:
    """The domains of ``amazon-reviews:ARG``: one of :data:`DOMAINS`, ``all``, or two or more
    distinct domains joined by ``+`` (``books+kitchen``); anything else is a one-line error."""
    names = DOMAINS if arg == "all" else tuple(arg.split("+")) if arg else ()
    bad = [d for d in names if d not in DOMAINS]
    if not names or bad or len(set(names)) != len(names):
        given = "no domain" if not arg else f"domain {bad[0]!r}" if bad else f"{arg!r}, which names a domain twice"
        raise DataError(f"amazon-reviews needs a domain, got {given}; use amazon-reviews:{'|'.join(DOMAINS)}|all, "
                        "or several joined by + (e.g. amazon-reviews:books+kitchen)")
    return names


@register(
    "amazon-reviews",
    "Amazon reviews, 400 bag-of-words features, binary sentiment, ~2,000 per domain",
    files=tuple(f"{SUBDIR}/{d}_400.mat" for d in DOMAINS),
    arg_help="books | dvd | elec | kitchen | all | DOMAIN+DOMAIN[+...]",
)
def load_amazon_reviews(arg, data_dir: Path, split: str, seed: int, download: bool) -> TensorData:
    """Load one domain, several (``books+kitchen``) or ``all`` as x float32 (N, 400), y int64
    sentiment, then take ``split`` (of each domain on its own, see the module docstring)."""
    domains = parse_domains(arg)
    paths = [_path(Path(data_dir), d, download) for d in domains]
    parts = [read_reviews_mat(p) for p in paths]
    meta = {"source": [str(p) for p in paths], "domains": list(domains),
            "features": f"{NUM_FEATURES} bag-of-words features as stored (float32)"}
    if len(domains) == 1:
        x, y = parts[0]
        return seeded_split(TensorData(torch.from_numpy(x), torch.from_numpy(y), name=f"amazon-reviews:{arg}",
                                       classes=["negative", "positive"], meta=meta), split, seed)
    offsets = np.cumsum([0] + [len(y) for _, y in parts])
    pieces = [  # each domain split on its own; ``row``: the review's row in the stacked domains
        seeded_split(TensorData(torch.from_numpy(x), torch.from_numpy(y), name=f"amazon-reviews:{d}",
                                extras={"domain": torch.full((len(y),), DOMAINS.index(d), dtype=torch.int64),
                                        "row": torch.arange(offsets[i], offsets[i + 1])}), split, seed)
        for i, (d, (x, y)) in enumerate(zip(domains, parts))
    ]
    meta = {**meta, "rows": int(offsets[-1])}
    if split != "all":
        meta["split"] = f"{split} (stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} in each domain, seed {seed})"
    return TensorData(torch.cat([p.x for p in pieces]), torch.cat([p.y for p in pieces]), name=f"amazon-reviews:{arg}",
                      classes=["negative", "positive"],
                      extras={k: torch.cat([p.extras[k] for p in pieces]) for k in ("domain", "row")}, meta=meta)
