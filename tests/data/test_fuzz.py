"""Fuzzing the file readers: damaged input gives a result or a one-line DataError, nothing else."""

from __future__ import annotations

import io
import math
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from reprlab.data import load_dataset
from reprlab.data.amazon import read_reviews_mat
from reprlab.data.idx import IDX_DTYPES, read_idx, write_idx
from reprlab.data.user import npy_from_bytes
from reprlab.errors import DataError

# REPRLAB_FUZZ_EXAMPLES=5000 for a deep run; the default keeps the suite fast.
FUZZ = settings(max_examples=int(os.environ.get("REPRLAB_FUZZ_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def attempt(fn, *args, **kwargs):
    """``fn(...)``, or None when it raised a one-line DataError; any other exception fails."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the point is to see which type escapes
        assert isinstance(e, DataError), f"{type(e).__name__} escaped: {e}"
        assert "\n" not in str(e), f"multi-line message: {e!r}"
        return None


@st.composite
def mutated(draw, valid: bytes) -> bytes:
    """``valid`` with a few bytes overwritten, then maybe truncated or extended."""
    buf = bytearray(valid)
    for _ in range(draw(st.integers(0, 4))):
        if buf:
            pos = draw(st.integers(0, min(len(buf) - 1, draw(st.sampled_from([16, 64, len(buf) - 1])))))
            buf[pos] = draw(st.integers(0, 255))
    cut = draw(st.one_of(st.none(), st.integers(0, len(buf))))
    if cut is not None:
        buf = buf[:cut]
    return bytes(buf) + draw(st.binary(max_size=draw(st.sampled_from([0, 0, 8]))))


# ----------------------------------------------------------------------------- IDX
def _declared_shape(buf: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(buf[3]))


def _check_idx(buf: bytes) -> None:
    out = attempt(read_idx, buf)
    if out is not None:
        assert out.shape == _declared_shape(buf)
        assert out.dtype == IDX_DTYPES[buf[2]].newbyteorder("=")


@FUZZ
@given(st.binary(max_size=300))
def test_idx_random_bytes(buf):
    _check_idx(buf)


@st.composite
def idx_files(draw) -> bytes:
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=4)))
    dtype = draw(st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]))
    array = np.arange(math.prod(shape)).reshape(shape).astype(dtype)
    return draw(mutated(write_idx(array)))


@FUZZ
@given(idx_files())
def test_idx_mutated(buf):
    _check_idx(buf)


# ----------------------------------------------------------------------------- CSV
_TOKENS = ["0", "1", "7", "-", "+", ".", "e", "5e3", "1e400", ",", ",", "\n", "\n", "\r\n", " ", "\t",
           "nan", "inf", "x", "label", "y", '"', "\x00", "é", "١"]
cells = st.one_of(st.integers(-300, 300).map(str), st.floats().map(repr), st.sampled_from(["", "a", "nan", " 2 "]))
tables = st.lists(st.lists(cells, max_size=4), min_size=1, max_size=6).map(lambda rows: "\n".join(map(",".join, rows)))
headers = st.sampled_from(["", "a,b\n", "f,label\n", "y,f,g\n", "label\n"])


@FUZZ
@given(st.one_of(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join), st.text(max_size=60),
                 st.tuples(headers, tables).map("".join)))
def test_csv_text(tmp_path, text):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    data = attempt(load_dataset, str(path), split="all")
    if data is not None:
        assert data.x.ndim == 2 and np.isfinite(data.x.numpy()).all()


# ----------------------------------------------------------------------------- .npy
def _npy(array) -> bytes:
    f = io.BytesIO()
    np.save(f, array)
    return f.getvalue()


_VALID_NPY = [_npy(a) for a in (np.zeros((3, 2)), np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
                                 np.ones((2, 1, 2, 2), np.float32), np.array(["a", "b"]), np.zeros(0))]


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.sampled_from(_VALID_NPY).flatmap(mutated)))
def test_npy_bytes(tmp_path, buf):
    out = attempt(npy_from_bytes, buf, "fuzz.npy")
    assert out is None or isinstance(out, np.ndarray)
    (tmp_path / "fuzz.npy").write_bytes(buf)
    attempt(load_dataset, str(tmp_path / "fuzz.npy"), split="all")


# ----------------------------------------------------------------------------- images
def _image(fmt: str, mode: str = "L") -> bytes:
    f = io.BytesIO()
    Image.fromarray(np.indices((12, 10)).sum(0).astype(np.uint8) * 10).convert(mode).save(f, format=fmt)
    return f.getvalue()


_VALID_IMAGES = {"png": _image("PNG"), "jpg": _image("JPEG"), "gif": _image("GIF"), "bmp": _image("BMP"),
                 "webp": _image("WEBP", "RGB")}


def _omniglot_png() -> bytes:
    f = io.BytesIO()
    Image.fromarray(np.ones((105, 105), bool)).save(f, format="PNG")
    return f.getvalue()


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.sampled_from([_omniglot_png()]).flatmap(mutated)),
       st.booleans())
def test_omniglot_zip_with_random_png(tmp_path, monkeypatch, png, whole_zip_random):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10**6)
    root = tmp_path / "omniglot"
    root.mkdir(exist_ok=True)
    archive = root / "images_background_small1.zip"
    if whole_zip_random:
        archive.write_bytes(png)
    else:
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("images_background_small1/Alpha/character01/0001_01.png", _omniglot_png())
            z.writestr("images_background_small1/Alpha/character01/0001_02.png", png)
    data = attempt(load_dataset, "omniglot:small1", split="all", data_dir=tmp_path)
    if data is not None:
        assert data.x.shape[1:] == (1, 105, 105) and ((data.x == 0) | (data.x == 1)).all()


@FUZZ
@given(st.sampled_from(sorted(_VALID_IMAGES)).flatmap(lambda ext: st.tuples(
    st.just(ext), st.one_of(st.binary(max_size=200), mutated(_VALID_IMAGES[ext])))))
def test_image_folder_random_bytes(tmp_path, monkeypatch, ext_buf):
    ext, buf = ext_buf
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10**6)
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    (folder / "a.png").write_bytes(_VALID_IMAGES["png"])
    (folder / f"b.{ext}").write_bytes(buf)
    data = attempt(load_dataset, f"images:{folder}", split="all")
    if data is not None:
        assert data.x.shape[0] == 2 and 0 <= data.x.min() and data.x.max() <= 1


# ----------------------------------------------------------------------------- .mat
def _mat(compress: bool) -> bytes:
    import scipy.io

    f = io.BytesIO()
    rng = np.random.default_rng(0)
    scipy.io.savemat(f, {"fts": (rng.random((4, 400)) > 0.9).astype(float),
                         "labels": np.array([[0], [1], [1], [0]], np.uint8)}, do_compression=compress)
    return f.getvalue()


_VALID_MAT = [_mat(False), _mat(True)]


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.sampled_from(_VALID_MAT).flatmap(mutated)))
def test_mat_bytes(tmp_path, buf):
    path = tmp_path / "books_400.mat"
    path.write_bytes(buf)
    out = attempt(read_reviews_mat, path)
    if out is not None:
        x, y = out
        assert x.shape == (len(y), 400) and set(np.unique(y).tolist()) <= {0, 1}


def test_fuzz_seeds_are_valid(tmp_path):
    """The inputs the fuzzers mutate parse cleanly, so mutations start from real files."""
    assert read_idx(write_idx(np.zeros((2, 3), np.uint8))).shape == (2, 3)
    assert npy_from_bytes(_VALID_NPY[1], "x").shape == (2, 3, 4)
    for i, buf in enumerate(_VALID_MAT):
        (tmp_path / f"{i}.mat").write_bytes(buf)
        x, y = read_reviews_mat(tmp_path / f"{i}.mat")
        assert x.shape == (4, 400) and y.tolist() == [0, 1, 1, 0]
    for ext, buf in _VALID_IMAGES.items():
        (tmp_path / f"img.{ext}").write_bytes(buf)
    assert load_dataset(f"images:{tmp_path}", split="all").x.shape == (5, 3, 12, 10)
    with pytest.raises(DataError):
        npy_from_bytes(b"", "empty.npy")
