"""User data: ``images:FOLDER`` and ``.npy``/``.npz``/``.csv`` files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from reprlab.data import load_dataset
from reprlab.errors import DataError


def _gray(seed: int, size=(8, 6)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)


def _write(path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


# ----------------------------------------------------------------------------- images:FOLDER
def test_image_class_folders(tmp_path):
    written = {}
    for c, name in enumerate(["dog", "cat"]):
        for i in range(5):
            written[(name, i)] = _gray(10 * c + i)
            _write(tmp_path / "imgs" / name / f"{i}.png", written[(name, i)])
    (tmp_path / "imgs" / "cat" / "README.txt").write_text("ignored")
    (tmp_path / "imgs" / "empty").mkdir()
    d = load_dataset(f"images:{tmp_path / 'imgs'}", split="all")
    assert d.x.shape == (10, 1, 6, 8) and d.classes == ["cat", "dog"]
    assert d.y.tolist() == [0] * 5 + [1] * 5
    expected = np.stack([written[("cat", i)] for i in range(5)] + [written[("dog", i)] for i in range(5)])
    assert np.array_equal(d.x[:, 0].numpy(), expected.astype(np.float32) / 255)
    train = load_dataset(f"images:{tmp_path / 'imgs'}", split="train", seed=1)
    test = load_dataset(f"images:{tmp_path / 'imgs'}", split="test", seed=1)
    assert len(train) == 8 and torch.bincount(test.y).tolist() == [1, 1]


def test_image_flat_folder_colour(tmp_path):
    rgb = (np.indices((6, 8)).sum(0)[..., None] * 10 + np.array([0, 60, 120])).astype(np.uint8)  # smooth
    _write(tmp_path / "a.png", rgb)
    _write(tmp_path / "b.jpg", rgb)
    _write(tmp_path / "c.bmp", _gray(1))  # grayscale in a colour set: read as RGB
    d = load_dataset(f"images:{tmp_path}", split="all")
    assert d.y is None and d.x.shape == (3, 3, 6, 8) and d.meta["mode"] == "RGB"
    assert np.array_equal(d.x[0].numpy(), rgb.transpose(2, 0, 1) / np.float32(255))
    assert torch.equal(d.x[2, 0], d.x[2, 1])
    assert (d.x[1] - d.x[0]).abs().mean() < 0.05  # JPEG: close, not equal


def test_image_relative_to_data_dir(tmp_path, monkeypatch):
    _write(tmp_path / "data" / "faces" / "0.png", _gray(0))
    _write(tmp_path / "data" / "faces" / "1.png", _gray(1))
    monkeypatch.chdir(tmp_path)
    d = load_dataset("images:faces", split="all", data_dir=tmp_path / "data")
    assert len(d) == 2


def test_image_errors(tmp_path):
    _write(tmp_path / "mixed" / "a.png", _gray(0))
    _write(tmp_path / "mixed" / "b.png", _gray(1, size=(9, 6)))
    with pytest.raises(DataError, match=r"b\.png: image is 9x6 but a\.png is 8x6; resize"):
        load_dataset(f"images:{tmp_path / 'mixed'}")
    _write(tmp_path / "bad" / "a.png", _gray(0))
    (tmp_path / "bad" / "b.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(DataError, match=r"b\.jpg: not a readable image"):
        load_dataset(f"images:{tmp_path / 'bad'}")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images")
    with pytest.raises(DataError, match="no images"):
        load_dataset(f"images:{tmp_path / 'empty'}")
    _write(tmp_path / "loose" / "x.png", _gray(0))
    _write(tmp_path / "loose" / "cls" / "y.png", _gray(1))
    with pytest.raises(DataError, match="beside class sub-folders"):
        load_dataset(f"images:{tmp_path / 'loose'}")
    with pytest.raises(DataError, match="not found"):
        load_dataset(f"images:{tmp_path / 'nowhere'}")
    with pytest.raises(DataError, match="path is required"):
        load_dataset("images")


# ----------------------------------------------------------------------------- .npy / .npz
def test_npy_round_trips(tmp_path):
    feats = np.random.default_rng(0).normal(size=(30, 7))
    np.save(tmp_path / "f.npy", feats)
    d = load_dataset(str(tmp_path / "f.npy"), split="all")
    assert d.y is None and np.array_equal(d.x.numpy(), feats.astype(np.float32))
    imgs = np.random.default_rng(1).integers(0, 256, (12, 5, 4), dtype=np.uint8)
    np.save(tmp_path / "i.npy", imgs)
    d = load_dataset(f"file:{tmp_path / 'i.npy'}", split="all")
    assert d.x.shape == (12, 1, 5, 4) and np.array_equal(d.x[:, 0].numpy(), imgs / np.float32(255))
    chw = np.random.default_rng(2).random((6, 3, 4, 4)).astype(np.float32)
    np.save(tmp_path / "c.npy", np.asfortranarray(chw))
    assert np.array_equal(load_dataset(str(tmp_path / "c.npy"), split="all").x.numpy(), chw)
    big = np.full((4, 3, 3), 1000, dtype=np.int16)  # not in 0..255: kept as is
    np.save(tmp_path / "big.npy", big)
    assert load_dataset(str(tmp_path / "big.npy"), split="all").x.max() == 1000
    train = load_dataset(str(tmp_path / "f.npy"), split="train", seed=0)
    test = load_dataset(str(tmp_path / "f.npy"), split="test", seed=0)
    assert len(train) == 24 and len(test) == 6


def test_npy_errors(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="objects or records"):
        load_dataset(str(tmp_path / "obj.npy"))
    np.save(tmp_path / "nan.npy", np.array([[1.0, 2.0], [np.nan, 0.0]]))
    with pytest.raises(DataError, match="NaN or Inf .* at sample 1"):
        load_dataset(str(tmp_path / "nan.npy"))
    np.save(tmp_path / "hwc.npy", np.zeros((5, 28, 28, 3), np.uint8))
    with pytest.raises(DataError, match="channels-last"):
        load_dataset(str(tmp_path / "hwc.npy"))
    np.save(tmp_path / "vec.npy", np.zeros(5))
    with pytest.raises(DataError, match=r"shape \(5,\)"):
        load_dataset(str(tmp_path / "vec.npy"))
    np.save(tmp_path / "cut.npy", np.zeros((100, 4)))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:-8])
    with pytest.raises(DataError, match="truncated .npy file"):
        load_dataset(str(tmp_path / "cut.npy"))
    with pytest.raises(DataError, match="not found"):
        load_dataset(str(tmp_path / "absent.npy"))


def test_npz_round_trips(tmp_path):
    x = np.random.default_rng(0).random((20, 3))
    y = np.array([7, 3] * 10)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    d = load_dataset(str(tmp_path / "xy.npz"), split="all")
    assert np.array_equal(d.x.numpy(), x.astype(np.float32))
    assert d.classes == ["3", "7"] and d.y.tolist() == [1, 0] * 10
    np.savez_compressed(tmp_path / "one.npz", x)
    assert d.x.shape == load_dataset(str(tmp_path / "one.npz"), split="all").x.shape
    np.savez(tmp_path / "str.npz", x=x, y=np.array(["b", "a"] * 10))
    d = load_dataset(str(tmp_path / "str.npz"), split="all")
    assert d.classes == ["a", "b"] and d.y[:2].tolist() == [1, 0]


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros((3, 2)), b=np.zeros(3))
    with pytest.raises(DataError, match=r"needs an array named x \(found: a, b\)"):
        load_dataset(str(tmp_path / "two.npz"))
    np.savez(tmp_path / "short.npz", x=np.zeros((4, 2)), y=np.zeros(3, int))
    with pytest.raises(DataError, match=r"labels have shape \(3,\), expected \(4,\)"):
        load_dataset(str(tmp_path / "short.npz"))
    np.savez(tmp_path / "frac.npz", x=np.zeros((4, 2)), y=np.array([0, 0.5, 1, 1]))
    with pytest.raises(DataError, match="whole numbers"):
        load_dataset(str(tmp_path / "frac.npz"))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 junk")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(str(tmp_path / "junk.npz"))


# ----------------------------------------------------------------------------- .csv
def test_csv_round_trips(tmp_path):
    x = np.round(np.random.default_rng(0).normal(size=(10, 3)), 4)
    y = np.array([0, 1] * 5)
    rows = [",".join(f"{v}" for v in r) + f",{c}" for r, c in zip(x, y)]
    (tmp_path / "h.csv").write_text("a, b ,c,label\r\n" + "\r\n".join(rows) + "\r\n\r\n")
    d = load_dataset(str(tmp_path / "h.csv"), split="all")
    assert np.array_equal(d.x.numpy(), x.astype(np.float32)) and d.y.tolist() == y.tolist()
    (tmp_path / "mid.csv").write_text("y,f\n" + "\n".join(f"{c},{v}" for c, v in zip(y, x[:, 0])))
    d = load_dataset(str(tmp_path / "mid.csv"), split="all")
    assert d.x.shape == (10, 1) and d.y.tolist() == y.tolist()
    (tmp_path / "n.csv").write_text("\n".join(",".join(map(str, r)) for r in x))
    d = load_dataset(str(tmp_path / "n.csv"), split="all")
    assert d.y is None and np.array_equal(d.x.numpy(), x.astype(np.float32))


def test_csv_errors(tmp_path):
    cases = {
        "ragged.csv": ("a,b\n1,2\n3,4\n\n5\n", r"line 5 has 1 values, expected 2"),
        "text.csv": ("1,2\n3,four\n", r"line 2, column 2: 'four' is not a number"),
        "nan.csv": ("1,2\n3,nan\n", r"line 2 holds NaN or Inf"),
        "head.csv": ("a,b,label\n", r"only a header row"),
        "empty.csv": ("\n\n", r"empty CSV file"),
        "onlylabel.csv": ("label\n1\n0\n", r"no features"),
        "frac.csv": ("x,label\n1,0.5\n2,1\n", r"whole numbers"),
    }
    for name, (text, pattern) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=pattern) as info:
            load_dataset(str(tmp_path / name))
        assert name in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "latin1.csv").write_bytes("caf\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_dataset(str(tmp_path / "latin1.csv"))


def test_npy_header_with_backslash_escapes_is_one_error_and_no_python_warning(tmp_path, recwarn):
    # numpy parses a header with Python's literal parser, which warns about unknown escapes ("\q")
    import io

    buf = io.BytesIO()
    np.save(buf, np.ones(3, np.float32))
    (tmp_path / "bad.npy").write_bytes(buf.getvalue().replace(b"'descr'", b"'de\\qscr'"))
    with pytest.raises(DataError, match="not a valid .npy array"):
        load_dataset(str(tmp_path / "bad.npy"), split="all")
    assert not [w for w in recwarn if issubclass(w.category, (DeprecationWarning, SyntaxWarning))]
