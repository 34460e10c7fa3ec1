"""A strict reader for the IDX format of the MNIST files.

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then ``ndim``
big-endian uint32 dimensions, then the values in C order, big-endian. The reader checks the
header and the exact payload size *before* it touches the data, so a corrupt or hostile
file costs no memory beyond its own bytes, and every defect is a one-line
:class:`~reprlab.errors.DataError`.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

#: IDX dtype codes (third byte of the magic number) -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MAX_NDIM = 4

_FIX = "re-download it or restore the original"


def _read_source(source: str | os.PathLike | bytes | bytearray | memoryview, label: str | None) -> tuple[bytes, str]:
    """The raw (decompressed, for ``*.gz``) bytes of ``source`` and the name used in messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), label or "IDX data"
    path = Path(source)
    label = label or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{label}: file not found; put the IDX file there or fix the path") from None
    except OSError as e:
        raise DataError(f"{label}: cannot read the file ({e.strerror or e}); check its permissions") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{label}: corrupt gzip file ({e}); {_FIX}") from None
    return raw, label


def read_idx(
    source: str | os.PathLike | bytes | bytearray | memoryview, *, label: str | None = None
) -> np.ndarray:
    """Parse an IDX file (a path, ``*.gz`` decompressed, or its bytes) into a numpy array.

    Parameters
    ----------
    source : path to the file, or the file's bytes.
    label : name of the file in error messages (default: the path).

    Returns
    -------
    np.ndarray of the declared shape and a native-endian dtype. For ``ubyte`` data this is a
    read-only view of the file's bytes (no copy); copy it before writing to it.

    Raises
    ------
    DataError : wrong magic number, unknown dtype code, ``ndim`` not in 1..4, a truncated
        header, or a payload whose size is not ``prod(dims) * itemsize``.
    """
    buf, label = _read_source(source, label)
    n = len(buf)
    if n < 4:
        raise DataError(f"{label}: truncated IDX header (expected at least 4 bytes, found {n}); {_FIX}")
    if buf[0] != 0 or buf[1] != 0:
        raise DataError(
            f"{label}: not an IDX file (magic number starts with 0x{buf[0]:02x}{buf[1]:02x}, expected 0x0000); {_FIX}"
        )
    code, ndim = buf[2], buf[3]
    dtype = IDX_DTYPES.get(code)
    if dtype is None:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{label}: unknown IDX dtype code 0x{code:02X} (expected one of {known}); {_FIX}")
    if not 1 <= ndim <= MAX_NDIM:
        raise DataError(f"{label}: IDX file declares {ndim} dimensions (expected 1 to {MAX_NDIM}); {_FIX}")
    header = 4 + 4 * ndim
    if n < header:
        raise DataError(f"{label}: truncated IDX header (expected {header} bytes, found {n}); {_FIX}")
    dims = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    # Python ints: no overflow however absurd the dimensions are.
    expected = header + math.prod(dims) * dtype.itemsize
    if n < expected:
        raise DataError(f"{label}: truncated IDX file (expected {expected} bytes, found {n}); {_FIX}")
    if n > expected:
        raise DataError(
            f"{label}: IDX file has {n - expected} bytes beyond its declared shape {dims} "
            f"(expected {expected} bytes, found {n}); {_FIX}"
        )
    if math.prod(d for d in dims if d) * dtype.itemsize >= 2**63:  # numpy cannot even describe it
        raise DataError(f"{label}: IDX file declares the impossible shape {dims}; {_FIX}")
    data = np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)
    if dtype.itemsize > 1:
        data = data.astype(dtype.newbyteorder("="))
    return data


def write_idx(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array`` (the inverse of :func:`read_idx`; used by tests and tools)."""
    array = np.asarray(array)
    for code, dtype in IDX_DTYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            break
    else:
        raise DataError(f"cannot write dtype {array.dtype} as IDX; use uint8, int8, int16, int32, float32 or float64")
    if not 1 <= array.ndim <= MAX_NDIM:
        raise DataError(f"cannot write a {array.ndim}-d array as IDX; use 1 to {MAX_NDIM} dimensions")
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return head + np.ascontiguousarray(array, dtype=dtype).tobytes()
