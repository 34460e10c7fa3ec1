"""Feature extractors for FID/KID/precision-recall: a small classifier trained once and cached, or Inception.

* :func:`classifier_features` -- a small CNN classifier trained by reprlab's
  :class:`~reprlab.train.Trainer` on a labelled image data set (``mnist``: 3 epochs, 40 s of
  one CPU core, test accuracy 99.0%; ``digits``: seconds), seed fixed, and cached as
  safetensors under ``$REPRLAB_CACHE`` (default ``~/.cache/reprlab``) in
  ``features/<data>-<ARCH>-seed<s>.safetensors``, with a JSON beside it recording its test
  accuracy, the training time and the SHA-256 of the weights. Features are its penultimate
  layer (128-d, after the ReLU). A cache file that fails its checksum or does not load is
  reported in one line and retrained (never unpickled: safetensors only).
* :func:`inception_features` -- torchvision's ``inception_v3`` pool3 features (2048-d), the
  standard FID space. Note: torchvision's ImageNet weights are *not* the TF-FID weights of
  Heusel et al. (pytorch-fid's ``pt_inception-2015-12-05``), so its FIDs are close to but not
  identical with published numbers.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.base import Batch
from ..errors import CheckpointError, UsageError
from ..files import ensure_dir, write_json
from ..models.base import ReprModel

#: Version of the classifier's architecture and recipe; part of the cache key. v2: the initial
#: weights come from the seed and training runs on one thread (v1 drew its initial weights from the
#: process's random state, so each cache held a different network: classifier FIDs of v1 caches
#: differ by the network as well as by the samples).
ARCH = "cnn-v2"
#: Environment variable naming the cache folder.
CACHE_ENV = "REPRLAB_CACHE"
#: Training epochs per data set (others: DEFAULT_EPOCHS).
EPOCHS = {"mnist": 3, "digits": 20}
DEFAULT_EPOCHS = 5
#: Size of the classifier's features (its penultimate layer).
CLASSIFIER_DIM = 128
#: torchvision's file of Inception v3 ImageNet weights (``Inception_V3_Weights.IMAGENET1K_V1``).
INCEPTION_FILE = "inception_v3_google-0cc3c7bd.pth"
INCEPTION_URL = f"https://download.pytorch.org/models/{INCEPTION_FILE}"


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``path`` if given, else ``$REPRLAB_CACHE``, else ``~/.cache/reprlab``."""
    if path is not None:
        return Path(path).expanduser()
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "reprlab").expanduser()


class FeatureClassifier(nn.Module):
    """(B, C, H, W) in [0, 1] -> logits (B, n_classes); :meth:`features` gives the penultimate layer (B, 128).

    conv3x3(C→16) ReLU maxpool2, conv3x3(16→32) ReLU maxpool2, linear(→128) ReLU, linear(128→n_classes):
    small enough to train on MNIST on a CPU in about a minute.
    """

    def __init__(self, input_shape: tuple[int, int, int], n_classes: int = 10, dim: int = CLASSIFIER_DIM):
        super().__init__()
        c, h, w = input_shape
        self.input_shape = tuple(input_shape)
        self.body = nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, H/2, W/2)
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, H/4, W/4)
            nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), dim), nn.ReLU(),  # (B, dim)
        )
        self.head = nn.Linear(dim, n_classes)
        self.test_accuracy: float | None = None
        self.meta: dict = {}

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))

    @torch.no_grad()
    def features(self, x: Tensor, batch_size: int = 1000) -> Tensor:
        """Penultimate-layer features (B, 128) of images x (B, C, H, W) in [0, 1], in eval mode."""
        if tuple(x.shape[1:]) != self.input_shape:
            raise UsageError(f"the feature network takes images of shape {self.input_shape}, got {tuple(x.shape[1:])}")
        was = self.training
        self.eval()
        dev = next(self.parameters()).device
        out = torch.cat([self.body(x[i : i + batch_size].to(dev).float()).cpu() for i in range(0, len(x), batch_size)])
        self.train(was)
        return out


class _ClassifierTraining(ReprModel):
    """A :class:`FeatureClassifier` as a model the :class:`~reprlab.train.Trainer` trains: one
    update, the cross-entropy of its logits for the batch's labels."""

    name = "feature-classifier"

    def __init__(self, net: FeatureClassifier):
        super().__init__(None, net.input_shape)
        self.net = net

    def forward(self, batch: Batch, update: str = "model") -> dict[str, Tensor]:
        return {"loss": F.cross_entropy(self.net(batch.x), batch.y)}


def _train_classifier(net: FeatureClassifier, train, epochs: int, seed: int, batch_size: int = 64) -> None:
    """Adam (lr 3e-3, cosine-annealed to 0 over the run) on cross-entropy, ``epochs`` passes in a seeded order.

    Trained by the one :class:`~reprlab.train.Trainer` on the CPU, without a run folder, inside a
    forked random state (the caller's stream is left as it was).
    """
    from ..train import TrainConfig, Trainer

    batch_size = min(batch_size, len(train))
    per_epoch = len(train) // batch_size  # full batches, as the trainer draws them
    cfg = TrainConfig(
        seed=seed, max_steps=epochs * per_epoch, batch_size=batch_size, optimizer="adam", lr=3e-3,
        lr_schedule="cosine", fused_optimizer=False, log_every=per_epoch, accelerator="cpu",
        deterministic=False, progress=False, tensorboard=False,
    )  # deterministic=False: leaves the process's torch.use_deterministic_algorithms alone
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        Trainer(cfg).fit(_ClassifierTraining(net), train)
    net.eval()


@torch.no_grad()
def _accuracy(net: FeatureClassifier, data, batch_size: int = 1000) -> float:
    correct = sum(int((net(data.x[i : i + batch_size]).argmax(1) == data.y[i : i + batch_size]).sum())
                  for i in range(0, len(data), batch_size))
    return correct / len(data)


def _paths(data_name: str, seed: int, root: Path) -> tuple[Path, Path]:
    stem = f"{data_name.replace(':', '_').replace('/', '_')}-{ARCH}-seed{seed}"
    return root / "features" / f"{stem}.safetensors", root / "features" / f"{stem}.json"


def _load_cached(weights: Path, info_path: Path) -> FeatureClassifier:
    """The cached classifier, or CheckpointError (one line) when it is missing, altered or unreadable."""
    from ..weights import load_weights, sha256

    try:
        info = json.loads(info_path.read_text())
        shape, n_classes, digest = tuple(info["input_shape"]), int(info["n_classes"]), info["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CheckpointError(f"feature-network cache {info_path} is missing or unreadable") from None
    if not weights.is_file() or sha256(weights) != digest:
        raise CheckpointError(f"feature-network cache {weights} is missing or fails its checksum (corrupt)")
    net = FeatureClassifier(shape, n_classes)
    load_weights(weights, net)
    net.eval()
    net.test_accuracy, net.meta = info.get("test_accuracy"), info
    return net


def _train_and_cache(data_name: str, data_dir, seed: int, weights: Path, info_path: Path, log: Callable) -> FeatureClassifier:
    from ..data import load_dataset
    from ..weights import save_weights, sha256

    train = load_dataset(data_name, split="train", data_dir=data_dir, seed=seed)
    test = load_dataset(data_name, split="test", data_dir=data_dir, seed=seed)
    if not train.is_image or train.y is None:
        raise UsageError(f"classifier features need a labelled image data set; {data_name!r} is not one")
    epochs = EPOCHS.get(data_name, DEFAULT_EPOCHS)
    log(f"training the {ARCH} feature classifier on {data_name} ({len(train)} images, {epochs} epochs, seed {seed})")
    with torch.random.fork_rng(devices=[]):  # the initial weights from the seed too: the same seed, the same network
        torch.manual_seed(seed)
        net = FeatureClassifier(train.sample_shape, train.num_classes)
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: sums in one order, so the same network on any core count
    try:
        _train_classifier(net, train, epochs, seed)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    net.test_accuracy = _accuracy(net, test)
    ensure_dir(weights.parent)
    save_weights(net, weights)
    net.meta = {"data": data_name, "arch": ARCH, "seed": seed, "epochs": epochs, "input_shape": list(train.sample_shape),
                "n_classes": train.num_classes, "test_accuracy": net.test_accuracy, "test_size": len(test),
                "train_seconds": round(seconds, 1), "torch": torch.__version__, "sha256": sha256(weights)}
    write_json(info_path, net.meta, indent=1)
    return net


def classifier_features(data_name: str = "mnist", *, data_dir=None, cache: str | os.PathLike | None = None,
                        seed: int = 0, train: bool = True, log: Callable = print) -> FeatureClassifier:
    """The cached feature classifier of ``data_name`` (``mnist``, ``digits``, any labelled image data set).

    Loads ``<cache>/features/<data>-<ARCH>-seed<seed>.safetensors`` when it is present and intact;
    otherwise (``train=True``) trains it, caches it and logs one line. A corrupt cache file is
    reported through ``log`` and retrained; with ``train=False`` a missing or corrupt cache is a
    one-line :class:`CheckpointError`. Logs "classifier test accuracy 99.1%" either way.
    """
    weights, info_path = _paths(data_name, seed, cache_dir(cache))
    try:
        net = _load_cached(weights, info_path)
    except CheckpointError as e:
        if not train:
            raise CheckpointError(f"{e}; call classifier_features({data_name!r}) with train=True to rebuild it") from None
        if weights.exists() or info_path.exists():
            log(f"warning: {e}; retraining it")
        net = _train_and_cache(data_name, data_dir, seed, weights, info_path, log)
    log(f"{data_name} feature classifier ({ARCH}) test accuracy {100 * net.test_accuracy:.2f}%")
    return net


class InceptionFeatures(nn.Module):
    """Inception v3 pool3 features (B, 2048) of images (B, C, H, W) in [0, 1], C = 1 or 3.

    Images are resized to 299×299 (bilinear), grey ones repeated to 3 channels, and normalised
    with the ImageNet mean/std that torchvision's weights expect (``transform_input=True``
    converts that to the original Inception scaling inside the network).
    """

    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self, state_dict: dict[str, Tensor]):
        super().__init__()
        from torchvision.models import inception_v3

        self.net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)
        self.net.load_state_dict(state_dict)
        self.net.fc = nn.Identity()  # logits layer dropped: forward returns the 2048-d pool3 features
        self.eval()

    @torch.no_grad()
    def features(self, x: Tensor, batch_size: int = 50) -> Tensor:
        dev = next(self.parameters()).device
        mean, std = torch.tensor(self.MEAN, device=dev).view(1, 3, 1, 1), torch.tensor(self.STD, device=dev).view(1, 3, 1, 1)
        out = []
        for i in range(0, len(x), batch_size):
            b = x[i : i + batch_size].to(dev).float()
            b = b.expand(-1, 3, -1, -1) if b.shape[1] == 1 else b  # (B, 3, H, W)
            b = F.interpolate(b, size=(299, 299), mode="bilinear", align_corners=False)
            out.append(self.net((b - mean) / std).cpu())  # (B, 2048)
        return torch.cat(out)


def inception_features(weights: str | os.PathLike | None = None) -> InceptionFeatures:
    """The standard Inception-FID feature extractor (2048-d pool3), see :class:`InceptionFeatures`.

    ``weights``: a local ``.safetensors`` or ``.pth`` state dict of torchvision's ``inception_v3``.
    Without it, torchvision's ``Inception_V3_Weights.IMAGENET1K_V1`` is used (read from torch hub's
    cache, downloaded when online); offline with no cached file this is a one-line error naming the
    file and where to put it. These are torchvision's weights, not the TF-FID ones, so FIDs differ
    slightly from published numbers.
    """
    if weights is not None:
        from ..weights import read_foreign_state_dict

        return InceptionFeatures(read_foreign_state_dict(Path(weights).expanduser(), "give torchvision's inception_v3 state dict (.pth or .safetensors)"))
    from torchvision.models import Inception_V3_Weights

    hub = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        state = Inception_V3_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except Exception as e:  # no network (URLError/OSError), or a truncated download
        raise CheckpointError(
            f"Inception weights unavailable ({(str(e).splitlines() or [type(e).__name__])[0]}); put {INCEPTION_FILE} "
            f"(from {INCEPTION_URL}) in {hub}, or pass weights=PATH"
        ) from None
    return InceptionFeatures(state)
