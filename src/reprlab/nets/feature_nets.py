"""Feature networks for style transfer: VGG-19 with named layers, and a random multi-scale net.

Both map an image x (B, 3, H, W) with values in [0, 1] to a dict of named feature maps
F^l (B, N_l, H_l, W_l), computed only up to the last layer asked for.

* :class:`VGG19Features` — torchvision's VGG-19 convolutional part (Simonyan & Zisserman 2015),
  as Gatys et al. (2015, 2016) use it: ImageNet normalization, average or max pooling, and the
  layer ``convB_I`` named after the I-th convolution of block B (its response after the ReLU,
  as in the paper). Weights: torchvision's own ``VGG19_Weights.IMAGENET1K_V1`` (downloaded when
  online), or a local file in torchvision's state-dict format (:func:`load_vgg19_state_dict`).
* :class:`RandomMultiScaleNet` — one layer of *random* filters at several sizes followed by a
  ReLU (Ustyuzhaninov, Brendel, Gatys & Bethge, "What does it take to generate natural
  textures?", ICLR 2017); its Gram matrices synthesize textures without any training, so style
  transfer works offline. Layer ``scaleK`` holds the responses of the K x K filters.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import CheckpointError, UsageError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_BLOCKS = (2, 2, 4, 4, 4)  # convolutions per block
VGG19_CONTENT = "conv4_2"
VGG19_STYLE = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
RANDOM_SIZES = (3, 5, 7, 11, 15, 23, 37, 55)  # Ustyuzhaninov et al.'s multi-scale net


class FeatureNet(nn.Module):
    """A sequence of named stages; ``forward(x, layers)`` returns the feature maps of ``layers``."""

    description: str = ""
    default_content: str = ""
    default_style: tuple[str, ...] = ()
    #: recompute the activations between requested layers in the backward pass (gradient
    #: checkpointing) instead of keeping them: less memory for large images, one more forward
    recompute: bool = False
    #: the shortest image side (pixels) the network accepts
    min_side: int = 1

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    @property
    def layer_names(self) -> list[str]:
        raise NotImplementedError

    def check_layers(self, layers) -> None:
        """One-line UsageError for a layer name this network does not have."""
        for name in layers:
            if name not in self.layer_names:
                raise UsageError(f"layer {name!r} is not in {self.description}; choose from {', '.join(self.layer_names)}")

    def normalize(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class VGG19Features(FeatureNet):
    """VGG-19's convolutional layers with named outputs (``conv1_1`` ... ``conv5_4``).

    Parameters
    ----------
    state_dict : a torchvision ``vgg19`` state dict (``features.*`` keys; ``classifier.*`` is
        ignored), or None for torchvision's random initialization (timing only: say so).
    pooling : ``"avg"`` (Gatys et al.: better gradient flow, smoother images) or ``"max"``.
    source : how the weights were obtained, for :attr:`description`.
    """

    min_side = 16  # four poolings before conv5_1: a shorter side leaves no feature map there

    default_content = VGG19_CONTENT
    default_style = VGG19_STYLE

    def __init__(self, state_dict: dict | None = None, pooling: str = "avg", source: str = "random init") -> None:
        super().__init__()
        if pooling not in ("avg", "max"):
            raise UsageError(f"pooling must be avg or max, got {pooling!r}")
        features = _vgg19_features()  # torchvision's vgg19().features, without building the classifier
        if state_dict is not None:
            features.load_state_dict({k.removeprefix("features."): v for k, v in state_dict.items()}, strict=True)
        self.stages = nn.ModuleList()
        self.names: list[str] = []
        stage: list[nn.Module] = []
        block, conv = 1, 0
        for module in features:
            if isinstance(module, nn.MaxPool2d):
                module = nn.AvgPool2d(2, 2) if pooling == "avg" else module
                block, conv = block + 1, 0
            elif isinstance(module, nn.Conv2d):
                conv += 1
            stage.append(module)
            if isinstance(module, nn.ReLU):  # close a stage at each ReLU: its output is conv{block}_{conv}
                self.stages.append(nn.Sequential(*stage))
                self.names.append(f"conv{block}_{conv}")
                stage = []
        self.requires_grad_(False).eval()
        self.description = f"VGG-19 ({source}, {pooling} pooling)"

    @property
    def layer_names(self) -> list[str]:
        return self.names

    def forward(self, x: Tensor, layers) -> dict[str, Tensor]:
        wanted = set(layers)
        last = max(self.names.index(n) for n in wanted)
        out = {}
        h = self.normalize(x)  # (B, 3, H, W)
        segment: list[nn.Module] = []
        for name, stage in zip(self.names[: last + 1], self.stages):
            segment.append(stage)
            if name not in wanted:
                continue
            run = nn.Sequential(*segment)
            if self.recompute and torch.is_grad_enabled():  # keep only the requested maps for backward
                from torch.utils.checkpoint import checkpoint

                h = checkpoint(run, h, use_reentrant=False)
            else:
                h = run(h)  # (B, N_l, H / 2^(block-1), W / 2^(block-1))
            out[name], segment = h, []
        return out


class RandomMultiScaleNet(FeatureNet):
    """One layer of random filters at several sizes, ReLU (Ustyuzhaninov et al. 2017).

    F^K = ReLU(W_K ⋆ x̄) for each size K, with x̄ the ImageNet-normalized image, W_K of shape
    (n_filters, 3, K, K) drawn once from N(0, 2 / (3 K²)) by a seeded generator (He et al.'s
    scale, so that every scale responds with a similar variance), no bias, zero padding
    (same-size outputs). The filters are fixed: nothing is trained.
    """

    def __init__(self, sizes: tuple[int, ...] = RANDOM_SIZES, n_filters: int = 128, seed: int = 0) -> None:
        super().__init__()
        if not sizes or any(k < 1 or k % 2 == 0 for k in sizes):
            raise UsageError(f"random filter sizes must be odd positive integers, got {list(sizes)}")
        if n_filters < 1:
            raise UsageError(f"random filters per scale must be at least 1, got {n_filters}")
        g = torch.Generator().manual_seed(seed)
        self.sizes = tuple(sizes)
        self.convs = nn.ModuleList()
        for k in self.sizes:
            conv = nn.Conv2d(3, n_filters, k, padding=k // 2, bias=False)
            conv.weight.data = torch.randn(n_filters, 3, k, k, generator=g) * (2.0 / (3 * k * k)) ** 0.5
            self.convs.append(conv)
        self.requires_grad_(False).eval()
        self.default_content = f"scale{self.sizes[len(self.sizes) // 2]}"
        self.default_style = tuple(self.layer_names)
        shown = ",".join(map(str, self.sizes))
        self.description = f"random multi-scale net (Ustyuzhaninov et al. 2017; untrained: sizes {shown}, {n_filters} filters each, seed {seed})"

    @property
    def layer_names(self) -> list[str]:
        return [f"scale{k}" for k in self.sizes]

    def forward(self, x: Tensor, layers) -> dict[str, Tensor]:
        h = self.normalize(x)  # (B, 3, H, W)
        return {f"scale{k}": torch.relu(conv(h)) for k, conv in zip(self.sizes, self.convs) if f"scale{k}" in layers}


def _vgg19_features() -> nn.Sequential:
    """torchvision's ``vgg19().features`` (configuration "E"), randomly initialized as torchvision does."""
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["E"], batch_norm=False)
    for m in features.modules():  # torchvision's VGG.__init__ initialization of the convolutions
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
    return features


def vgg19_expected_shapes() -> dict[str, tuple[int, ...]]:
    """``{"features.0.weight": (64, 3, 3, 3), ...}``: the convolutional keys of torchvision's vgg19."""
    return {k: tuple(v.shape) for k, v in _vgg19_features().state_dict(prefix="features.").items()}


def load_vgg19_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The ``features.*`` tensors of a VGG-19 weights file in torchvision's format, validated.

    Read with safetensors (``.safetensors``) or ``torch.load(weights_only=True)`` (never
    unpickles code). A file of another architecture (VGG-16, VGG-19-BN, a truncated file) is
    refused with a one-line :class:`CheckpointError` naming the first mismatch.
    """
    path = Path(path)
    from ..weights import read_foreign_state_dict

    state = read_foreign_state_dict(path, "give a torchvision VGG-19 state dict (.pth or .safetensors)")
    expected = vgg19_expected_shapes()
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    missing = [k for k in expected if k not in features]
    unexpected = [k for k in features if k not in expected]
    wrong = [k for k in expected if k in features and tuple(features[k].shape) != expected[k]]
    if missing or unexpected or wrong:
        what = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}" if unexpected
                else f"{wrong[0]} has shape {tuple(features[wrong[0]].shape)}, VGG-19 has {expected[wrong[0]]}")
        raise CheckpointError(f"{path} is not a VGG-19 state dict in torchvision's format ({what}); "
                              "give torchvision's vgg19 weights (e.g. vgg19-dcbb9e9d.pth)")
    return {k: v.float() for k, v in features.items()}


def torchvision_vgg19_state_dict() -> dict[str, Tensor]:
    """torchvision's ``VGG19_Weights.IMAGENET1K_V1`` (from its cache, or downloaded when online)."""
    from torchvision.models import VGG19_Weights

    try:
        state = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
    except Exception as e:  # URLError, HTTPError, OSError, ...
        raise UsageError(f"cannot get torchvision's VGG-19 weights ({type(e).__name__}; offline?); pass --weights PATH "
                         "(a torchvision vgg19 state dict) or use the random multi-scale net (--network random)") from None
    return {k: v for k, v in state.items() if k.startswith("features.")}


def build_feature_net(network: str = "auto", weights: str | None = None, pooling: str = "avg",
                      random_sizes: tuple[int, ...] = RANDOM_SIZES, random_filters: int = 128, seed: int = 0) -> FeatureNet:
    """The feature network a style-transfer run asks for.

    ``network``: ``vgg19`` (``weights`` a file, or None for torchvision's ImageNet weights),
    ``random`` (:class:`RandomMultiScaleNet`), or ``auto`` (VGG-19 when ``weights`` is given,
    else the random net, so an offline machine still works).
    """
    if network not in ("auto", "vgg19", "random"):
        raise UsageError(f"network must be auto, vgg19 or random, got {network!r}")
    if network == "random" and weights:
        raise UsageError("--weights is for VGG-19; the random multi-scale net has no weights to load")
    if network == "random" or (network == "auto" and not weights):
        return RandomMultiScaleNet(random_sizes, random_filters, seed)
    if weights:
        return VGG19Features(load_vgg19_state_dict(weights), pooling, f"weights from {Path(weights).name}")
    return VGG19Features(torchvision_vgg19_state_dict(), pooling, "torchvision IMAGENET1K_V1 weights")
