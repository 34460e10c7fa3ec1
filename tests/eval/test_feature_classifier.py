"""Feature extractors: the cached classifier (trained once, corrupt cache handled) and Inception FID."""

from __future__ import annotations

import json

import pytest
import torch

from reprlab.data import load_dataset
from reprlab.errors import CheckpointError, UsageError
from reprlab.eval import features as feat
from reprlab.eval.features import classifier_features, inception_features
from reprlab.eval.fid import image_quality


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """A cache folder holding the digits classifier, trained once for this module."""
    root = tmp_path_factory.mktemp("cache")
    classifier_features("digits", cache=root, log=lambda m: None)
    return root


def test_digits_classifier_is_accurate_and_cached_with_its_accuracy(digits_cache):
    weights = list((digits_cache / "features").glob("digits-*.safetensors"))
    info = json.loads(weights[0].with_suffix(".json").read_text())
    assert len(weights) == 1 and info["arch"] == feat.ARCH and info["test_accuracy"] > 0.9
    net = classifier_features("digits", cache=digits_cache, log=lambda m: None)
    assert net.test_accuracy == info["test_accuracy"]


def test_second_call_loads_without_training(digits_cache, monkeypatch):
    calls = []
    monkeypatch.setattr(feat, "_train_classifier", lambda *a, **k: calls.append(1))
    lines = []
    net = classifier_features("digits", cache=digits_cache, log=lines.append)
    assert calls == [] and len(lines) == 1 and "test accuracy" in lines[0] and lines[0].endswith("%")
    x = load_dataset("digits", split="test").x[:5]
    f = net.features(x)
    assert f.shape == (5, 128) and (f >= 0).all()  # post-ReLU penultimate layer


def test_the_same_seed_trains_the_same_network_whatever_the_random_state_and_thread_count(digits_cache, tmp_path):
    """The cache key promises one network per (data, arch, seed): a second training in another cache,
    from another process random state and with two threads, writes the same weights (the same
    checksum); another seed writes other weights."""
    torch.manual_seed(12345)
    torch.set_num_threads(2)
    classifier_features("digits", cache=tmp_path / "again", log=lambda m: None)
    torch.set_num_threads(1)
    first = json.loads(next((digits_cache / "features").glob("digits-*seed0.json")).read_text())
    again = json.loads(next((tmp_path / "again" / "features").glob("digits-*seed0.json")).read_text())
    assert again["sha256"] == first["sha256"] and torch.get_num_threads() == 1
    other = classifier_features("digits", cache=tmp_path / "other", seed=1, log=lambda m: None)
    assert other.meta["sha256"] != first["sha256"]


def test_corrupt_cache_is_refused_or_retrained(digits_cache, tmp_path):
    import shutil

    root = tmp_path / "cache"
    shutil.copytree(digits_cache, root)
    weights = next((root / "features").glob("*.safetensors"))
    weights.write_bytes(b"not a safetensors file" + weights.read_bytes()[100:])
    with pytest.raises(CheckpointError, match="fails its checksum") as info:
        classifier_features("digits", cache=root, train=False, log=lambda m: None)
    assert "\n" not in str(info.value)
    lines = []
    net = classifier_features("digits", cache=root, log=lines.append)  # retrained, cache repaired
    assert lines[0].startswith("warning:") and "retraining" in lines[0]
    assert net.test_accuracy > 0.9
    classifier_features("digits", cache=root, train=False, log=lambda m: None)  # loads again


def test_missing_cache_without_training_is_a_one_line_error(tmp_path):
    with pytest.raises(CheckpointError, match="missing or unreadable"):
        classifier_features("digits", cache=tmp_path, train=False, log=lambda m: None)


def test_image_quality_separates_real_from_shuffled_pixels(digits_cache):
    net = classifier_features("digits", cache=digits_cache, log=lambda m: None)
    data = load_dataset("digits", split="all")
    real, other = data.x[:800], data.x[800:1600]
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(800, 1, 8, 8, generator=g)
    same = image_quality(real, other, net, kid_subsets=10, kid_subset_size=400)
    bad = image_quality(real, noise, net, kid_subsets=10, kid_subset_size=400)
    assert set(same) == {"fid", "kid", "kid_std", "precision", "recall"}
    assert bad["fid"] > 5 * same["fid"] and bad["kid"] > 5 * abs(same["kid"])
    assert same["precision"] > 0.5 and same["recall"] > 0.5 and bad["precision"] < same["precision"]
    with pytest.raises(UsageError, match="takes images of shape"):
        net.features(torch.zeros(2, 1, 28, 28))


@pytest.mark.slow
def test_mnist_classifier_reaches_99_percent(data_dir, tmp_path):
    if not (data_dir / "MNIST" / "raw").is_dir():
        pytest.skip("MNIST not found under the data folder")
    net = classifier_features("mnist", data_dir=data_dir, cache=tmp_path, log=lambda m: None)
    assert net.test_accuracy >= 0.985 and net.meta["test_size"] == 10_000


def test_inception_offline_is_a_one_line_error(tmp_path, monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(CheckpointError, match=feat.INCEPTION_FILE) as info:
        inception_features()
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_inception_from_a_local_safetensors_file(tmp_path):
    from safetensors.torch import save_file
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    state = inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict()
    path = tmp_path / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    net = inception_features(path)
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    f = net.features(x, batch_size=2)
    assert f.shape == (3, 2048) and torch.isfinite(f).all()
    with pytest.raises(CheckpointError, match="does not exist"):
        inception_features(tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a readable"):
        inception_features(bad)
