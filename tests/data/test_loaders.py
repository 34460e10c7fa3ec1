"""The built-in loaders, on the real files of the shared data folder and on broken copies."""

from __future__ import annotations

import gzip
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from reprlab.data import DATASETS, load_dataset, missing_files
from reprlab.data.idx import read_idx, write_idx
from reprlab.data.fewshot import FewShotTasks
from reprlab.errors import DataError

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(scope="module")
def mnist_train(data_dir):
    return load_dataset("mnist", split="train", data_dir=data_dir)


@pytest.fixture(scope="module")
def mnist_test(data_dir):
    return load_dataset("mnist", split="test", data_dir=data_dir)


@pytest.fixture(scope="module")
def small1(data_dir):
    return load_dataset("omniglot:small1", split="all", data_dir=data_dir)


@pytest.fixture(scope="module")
def oneshot(data_dir):
    return load_dataset("omniglot-oneshot", data_dir=data_dir)


def test_registry_lists_all_loaders():
    assert {"digits", "mnist", "omniglot", "omniglot-oneshot", "amazon-reviews", "images", "file"} <= set(DATASETS)
    assert DATASETS["omniglot-oneshot"].kind == "tasks"
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset("nope")
    with pytest.raises(DataError, match="split must be one of"):
        load_dataset("digits", split="valid")


# ----------------------------------------------------------------------------- MNIST
def test_mnist_train(mnist_train):
    d = mnist_train
    assert d.x.shape == (60000, 1, 28, 28) and d.x.dtype == torch.float32
    assert d.y.dtype == torch.int64 and set(d.y.unique().tolist()) == set(range(10))
    assert 0.0 == d.x.min() and d.x.max() == 1.0
    assert abs(d.x.mean().item() - 0.1307) < 1e-3  # the well-known MNIST mean
    assert d.classes == [str(i) for i in range(10)]


def test_mnist_test_matches_torchvision(mnist_test, data_dir):
    from torchvision.datasets import MNIST

    ref = MNIST(root=str(data_dir), train=False, download=False)
    assert mnist_test.x.shape == (10000, 1, 28, 28)
    assert torch.equal(mnist_test.x[:, 0], ref.data.float() / 255)
    assert torch.equal((mnist_test.x[:, 0] * 255).round().to(torch.uint8), ref.data)
    assert torch.equal(mnist_test.y, ref.targets)


def test_mnist_all_is_train_then_test(data_dir, mnist_train, mnist_test):
    d = load_dataset("mnist", split="all", data_dir=data_dir)
    assert len(d) == 70000
    assert torch.equal(d.y[:60000], mnist_train.y) and torch.equal(d.y[60000:], mnist_test.y)


def test_mnist_missing_files_message(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("mnist", data_dir=tmp_path)
    msg = str(info.value)
    assert "\n" not in msg and str(tmp_path / "MNIST" / "raw") in msg
    assert all(name in msg for name in MNIST_FILES)
    assert "REPRLAB_DATA" in msg and "--download" in msg
    assert len(missing_files("mnist", tmp_path)) == 4


def test_mnist_gz_files(tmp_path, data_dir, mnist_test):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES[2:]:
        (raw / f"{name}.gz").write_bytes(gzip.compress((data_dir / "MNIST/raw" / name).read_bytes(), compresslevel=1))
    d = load_dataset("mnist", split="test", data_dir=tmp_path)
    assert torch.equal(d.x, mnist_test.x) and torch.equal(d.y, mnist_test.y)
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_dataset("mnist", split="train", data_dir=tmp_path)


def test_mnist_broken_files(tmp_path, data_dir):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = (data_dir / "MNIST/raw/t10k-images-idx3-ubyte").read_bytes()
    (raw / "t10k-images-idx3-ubyte").write_bytes(images[:1000])
    (raw / "t10k-labels-idx1-ubyte").write_bytes(write_idx(np.zeros(10000, np.uint8)))
    with pytest.raises(DataError, match=r"truncated IDX file \(expected 7840016 bytes, found 1000\)"):
        load_dataset("mnist", split="test", data_dir=tmp_path)
    (raw / "t10k-images-idx3-ubyte").write_bytes(write_idx(np.zeros((5, 28, 28), np.uint8)))
    with pytest.raises(DataError, match="10000 labels for 5 images"):
        load_dataset("mnist", split="test", data_dir=tmp_path)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(write_idx(np.full(5, 10, np.uint8)))
    with pytest.raises(DataError, match="label 10 is not a digit"):
        load_dataset("mnist", split="test", data_dir=tmp_path)
    (raw / "t10k-images-idx3-ubyte").write_bytes(write_idx(np.zeros((5, 32, 32), np.uint8)))
    with pytest.raises(DataError, match=r"shape \(N, 28, 28\)"):
        load_dataset("mnist", split="test", data_dir=tmp_path)


def test_mnist_download_failure_is_data_error(tmp_path, monkeypatch):
    """download=True with torchvision's MNIST replaced by an offline stand-in and sockets blocked:
    nothing is fetched, the failure becomes one DataError line."""
    import socket
    import urllib.error

    import torchvision.datasets

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host\nsecond line")

    def no_network(*args, **kwargs):  # the test must never reach the network, whatever happens
        raise AssertionError("the test tried to open a socket")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(DataError, match="could not download MNIST") as info:
        load_dataset("mnist", data_dir=tmp_path, download=True)
    assert "\n" not in str(info.value)


def test_read_idx_dtypes_round_trip():
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
        out = read_idx(write_idx(a))
        assert out.dtype == a.dtype and np.array_equal(out, a)
    with pytest.raises(DataError, match="beyond its declared shape"):
        read_idx(write_idx(np.zeros(3, np.uint8)) + b"\x00")


# ----------------------------------------------------------------------------- Omniglot
def test_omniglot_small1(small1):
    d = small1
    assert d.x.shape == (2720, 1, 105, 105) and d.num_classes == 136
    assert ((d.x == 0) | (d.x == 1)).all() and d.x.max() == 1
    assert d.x.mean() < 0.5  # strokes (1.0) are the minority
    assert torch.equal(torch.bincount(d.y), torch.full((136,), 20))
    assert sorted(d.extras["drawer"].unique().tolist()) == list(range(1, 21))
    assert len(d.meta["alphabets"]) == 5 and d.extras["alphabet"].max() == 4
    assert d.classes[0] == "Balinese/character01"
    # the alphabet extra agrees with the class name
    alpha = [d.meta["alphabets"][a] for a in d.extras["alphabet"].tolist()]
    assert all(d.classes[c].startswith(a + "/") for c, a in zip(d.y.tolist(), alpha))


def test_omniglot_small2_and_default(data_dir):
    d2 = load_dataset("omniglot:small2", split="all", data_dir=data_dir)
    assert d2.x.shape == (3120, 1, 105, 105) and d2.num_classes == 156
    both = load_dataset("omniglot", split="all", data_dir=data_dir)
    # small1 and small2 share Greek and Latin (50 characters): those drawings are kept once
    assert len(both) == 2720 + 3120 - 1000 and both.num_classes == 136 + 156 - 50
    assert both.meta["duplicates_dropped"] == 1000


def test_omniglot_split_stratified(data_dir, small1):
    train = load_dataset("omniglot:small1", split="train", data_dir=data_dir, seed=3)
    test = load_dataset("omniglot:small1", split="test", data_dir=data_dir, seed=3)
    assert len(train) == 2176 and len(test) == 544
    assert torch.equal(torch.bincount(test.y), torch.full((136,), 4))
    again = load_dataset("omniglot:small1", split="test", data_dir=data_dir, seed=3)
    assert torch.equal(again.x, test.x) and torch.equal(again.extras["drawer"], test.extras["drawer"])


def _copy_members(src: Path, dst_zip: Path, keep, extra: dict[str, bytes] = {}) -> list[str]:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst_zip, "w") as zout:
        names = [n for n in zin.namelist() if keep(n)]
        for n in names:
            zout.writestr(n, zin.read(n))
        for n, data in extra.items():
            zout.writestr(n, data)
    return names


def test_omniglot_folder_equals_zip_and_bad_files(tmp_path, data_dir):
    root = tmp_path / "omniglot"
    root.mkdir()
    src = data_dir / "omniglot/images_background_small1.zip"
    keep = lambda n: "/Latin/character0" in n and n.endswith(".png")  # noqa: E731
    names = _copy_members(src, root / "images_background_small1.zip", keep)
    from_zip = load_dataset("omniglot:small1", split="all", data_dir=tmp_path)
    assert len(from_zip) == len(names) == 9 * 20
    with zipfile.ZipFile(root / "images_background_small1.zip") as z:
        z.extractall(root)
    from_dir = load_dataset("omniglot:small1", split="all", data_dir=tmp_path)
    assert torch.equal(from_dir.x, from_zip.x) and from_dir.classes == from_zip.classes
    (root / "images_background_small1/Latin/character01/0001_01.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"0001_01\.png.*not a decodable PNG"):
        load_dataset("omniglot:small1", data_dir=tmp_path)
    (root / "images_background_small1/Latin/character01/0001_01.png").unlink()
    (root / "images_background_small1/Latin/notes.txt").write_text("hi")
    with pytest.raises(DataError, match=r"notes\.txt: unexpected file"):
        load_dataset("omniglot:small1", data_dir=tmp_path)


def test_omniglot_missing_and_unknown(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("omniglot", data_dir=tmp_path)
    assert "images_background_small1.zip" in str(info.value) and str(tmp_path / "omniglot") in str(info.value)
    with pytest.raises(DataError, match="omniglot-py"):
        load_dataset("omniglot:evaluation", data_dir=tmp_path)
    with pytest.raises(DataError, match="unknown Omniglot set"):
        load_dataset("omniglot:big", data_dir=tmp_path)


def test_oneshot(oneshot, data_dir):
    t = oneshot
    assert isinstance(t, FewShotTasks) and len(t) == 20 and t.names[0] == "run01" and (t.n_way, t.k_shot) == (20, 1)
    assert t.x.shape == (800, 1, 105, 105) and t.support.shape == t.query.shape == (20, 20)
    assert torch.equal(t.support_class, torch.arange(20).expand(20, 20))
    assert t.answer.shape == (20, 20) and t.answer.dtype == torch.int64
    assert 0 <= t.answer.min() and t.answer.max() <= 19
    assert ((t.x == 0) | (t.x == 1)).all() and t.x[t.query].mean() < 0.5
    # run01/test/item01.png -> run01/training/class08.png, the first line of run01's labels
    assert t.answer[0, 0] == 7
    with zipfile.ZipFile(data_dir / "omniglot/all_runs.zip") as z:
        for r, run in enumerate(t.names):
            for line in z.read(f"{run}/class_labels.txt").decode().split("\n"):
                if line.strip():
                    item, cls = re.fullmatch(rf"{run}/test/item(\d+)\.png {run}/training/class(\d+)\.png", line.strip()).groups()
                    assert t.answer[r, int(item) - 1] == int(cls) - 1


def test_oneshot_broken(tmp_path, data_dir):
    (tmp_path / "omniglot").mkdir()
    src, dst = data_dir / "omniglot/all_runs.zip", tmp_path / "omniglot/all_runs.zip"
    labels = zipfile.ZipFile(src).read("run03/class_labels.txt").decode().split("\n")
    labels[4] = "run03/test/item05.png run03/training/class99.png"
    _copy_members(src, dst, lambda n: n != "run03/class_labels.txt", {"run03/class_labels.txt": "\n".join(labels).encode()})
    with pytest.raises(DataError, match=r"run03/class_labels.txt.*line 5 .*class99"):
        load_dataset("omniglot-oneshot", data_dir=tmp_path)
    dst.unlink()
    _copy_members(src, dst, lambda n: n != "run07/test/item11.png")
    with pytest.raises(DataError, match="run07 has 20 training and 19 test images"):
        load_dataset("omniglot-oneshot", data_dir=tmp_path)
    dst.unlink()
    with pytest.raises(DataError, match="all_runs.zip"):
        load_dataset("omniglot-oneshot", data_dir=tmp_path)


# ----------------------------------------------------------------------------- Amazon reviews
def test_amazon_domains(data_dir):
    sizes = []
    for domain in ("books", "dvd", "elec", "kitchen"):
        d = load_dataset(f"amazon-reviews:{domain}", split="all", data_dir=data_dir)
        assert d.x.shape[1:] == (400,) and d.x.dtype == torch.float32
        assert set(d.y.unique().tolist()) == {0, 1} and 1900 <= len(d) <= 2100
        sizes.append(len(d))
    both = load_dataset("amazon-reviews:all", split="all", data_dir=data_dir)
    assert len(both) == sum(sizes)
    assert torch.bincount(both.extras["domain"]).tolist() == sizes
    train = load_dataset("amazon-reviews:books", split="train", data_dir=data_dir)
    test = load_dataset("amazon-reviews:books", split="test", data_dir=data_dir)
    assert len(train) == 1600 and len(test) == 400 and test.y.sum() == 200


def test_amazon_errors(tmp_path):
    import scipy.io
    import scipy.sparse

    with pytest.raises(DataError, match="books|dvd|elec|kitchen"):
        load_dataset("amazon-reviews", data_dir=tmp_path)
    with pytest.raises(DataError) as info:
        load_dataset("amazon-reviews:dvd", data_dir=tmp_path)
    assert "dvd_400.mat" in str(info.value) and str(tmp_path / "amazon_reviews_400") in str(info.value)
    folder = tmp_path / "amazon_reviews_400"
    folder.mkdir()
    fts = scipy.sparse.random(10, 400, density=0.05, format="csc", random_state=0)
    scipy.io.savemat(folder / "elec_400.mat", {"fts": fts, "labels": np.array([[0], [1]] * 5, np.uint8)})
    d = load_dataset("amazon-reviews:elec", split="all", data_dir=tmp_path)
    assert np.allclose(d.x.numpy(), fts.toarray()) and d.y.tolist() == [0, 1] * 5
    scipy.io.savemat(folder / "dvd_400.mat", {"features": np.zeros((3, 400))})
    with pytest.raises(DataError, match="no fts or labels"):
        load_dataset("amazon-reviews:dvd", data_dir=tmp_path)
    scipy.io.savemat(folder / "dvd_400.mat", {"fts": np.zeros((3, 300)), "labels": np.zeros((3, 1))})
    with pytest.raises(DataError, match=r"expected \(n, 400\)"):
        load_dataset("amazon-reviews:dvd", data_dir=tmp_path)
    (folder / "kitchen_400.mat").write_bytes(b"MATLAB garbage" * 20)
    with pytest.raises(DataError, match="not a readable .mat file"):
        load_dataset("amazon-reviews:kitchen", data_dir=tmp_path)


# ----------------------------------------------------------------------------- digits
def test_digits_split_deterministic_and_stratified():
    full = load_dataset("digits", split="all")
    a = load_dataset("digits", split="train", seed=5)
    b = load_dataset("digits", split="train", seed=5)
    test = load_dataset("digits", split="test", seed=5)
    other = load_dataset("digits", split="test", seed=6)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert len(a) + len(test) == len(full) == 1797
    assert not torch.equal(test.x, other.x)
    expected = torch.bincount(full.y).double() * 0.2
    assert (torch.bincount(test.y, minlength=10).double() - expected).abs().max() <= 0.5 + 1e-9
    # train and test partition the full set
    rows = lambda d: sorted(map(tuple, torch.cat([d.x.flatten(1), d.y[:, None].float()], 1).tolist()))  # noqa: E731
    assert rows(full) == sorted(rows(a) + rows(test))


def test_oneshot_runs_from_an_explicit_path(data_dir, tmp_path):
    """`omniglot-oneshot:PATH` (what `reprlab oneshot --runs PATH` asks for) reads that zip."""
    t = load_dataset(f"omniglot-oneshot:{data_dir / 'omniglot' / 'all_runs.zip'}", data_dir=tmp_path)
    assert len(t) == 20 and t.names[0] == "run01"
    with pytest.raises(DataError, match="give all_runs.zip or its extracted all_runs/ folder"):
        load_dataset(f"omniglot-oneshot:{tmp_path / 'nope.zip'}", data_dir=tmp_path)
