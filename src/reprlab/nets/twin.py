"""The twin (shared-weight) networks of Siamese models.

``koch``: Koch, Zemel & Salakhutdinov (2015), Fig. 4, for 105x105 inputs::

    conv 64@10x10, ReLU, max-pool 2 -> conv 128@7x7, ReLU, max-pool 2 -> conv 128@4x4, ReLU,
    max-pool 2 -> conv 256@4x4, ReLU -> flatten (256·6·6 = 9216) -> fully connected 4096, sigmoid

``koch-small``: the same pattern sized for a CPU (about 40x fewer multiply-adds): 2x2 average
pooling to 52x52, conv 32@5x5, 64@5x5, 64@3x3, 128@3x3 with max-pools in between, fully
connected ``embedding_dim`` (default 512). ``conv4``: the four-block network of matching and
prototypical networks (Vinyals et al. 2016; Snell et al. 2017) — each block conv 64@3x3 (padding
1), batch norm, ReLU, max-pool 2 — on images area-resized to ``size`` (28: 28 → 14 → 7 → 3 → 1),
then a linear layer to ``embedding_dim``. ``mlp``: for feature vectors or small images.
"""

from __future__ import annotations

import math

from torch import nn

from ..errors import ConfigError
from .mlp import MLP

#: (in-pool, [(channels, kernel), ...]); a max-pool 2 follows every conv but the last
ARCHS = {
    "koch": (1, [(64, 10), (128, 7), (128, 4), (256, 4)]),
    "koch-small": (2, [(32, 5), (64, 5), (64, 3), (128, 3)]),
}


def conv_twin(arch: str, input_shape: tuple[int, ...], embedding_dim: int, out_activation: str = "sigmoid") -> nn.Sequential:
    """Koch's convolutional twin (or its small variant) for images of ``input_shape`` (C, H, W)."""
    if len(input_shape) != 3:
        raise ConfigError(f"model.arch={arch} needs images (C, H, W), got samples of shape {input_shape}; use arch=mlp")
    pool, layers = ARCHS[arch]
    c, h, w = input_shape
    mods: list[nn.Module] = [nn.AvgPool2d(pool)] if pool > 1 else []
    h, w = h // pool, w // pool
    for k, (ch, kernel) in enumerate(layers):
        mods += [nn.Conv2d(c, ch, kernel), nn.ReLU()]
        h, w, c = h - kernel + 1, w - kernel + 1, ch
        if k < len(layers) - 1:
            mods.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        if h < 1 or w < 1:
            raise ConfigError(f"model.arch={arch}: images of shape {input_shape} are too small for its convolutions "
                              f"(Koch's net expects 105x105); use arch=mlp or larger images")
    mods += [nn.Flatten(), nn.Linear(c * h * w, embedding_dim)]
    if out_activation == "sigmoid":
        mods.append(nn.Sigmoid())
    net = nn.Sequential(*mods)
    # Koch et al. drew weights from N(0, 0.01) for per-layer-tuned SGD; with Adam a He/Glorot start
    # trains the same net reliably from any seed.
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.constant_(m.bias, 0.0)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
            nn.init.constant_(m.bias, 0.0)
    return net


def mlp_twin(input_shape: tuple[int, ...], hidden: tuple[int, ...], embedding_dim: int, activation: str,
             out_activation: str) -> MLP:
    """An MLP ``D -> hidden... -> embedding_dim`` on the flattened input."""
    return MLP(math.prod(input_shape), tuple(hidden), embedding_dim, activation, out_activation)


def conv4_twin(input_shape: tuple[int, ...], embedding_dim: int, size: int = 28, channels: int = 64) -> nn.Sequential:
    """The four-block convolutional twin (see the module docstring); ``size`` 0 keeps the input's size."""
    if len(input_shape) != 3:
        raise ConfigError(f"model.arch=conv4 needs images (C, H, W), got samples of shape {input_shape}; use arch=mlp")
    c, h, w = input_shape
    mods: list[nn.Module] = []
    if size:
        mods.append(nn.AdaptiveAvgPool2d(size))  # area resizing: the identity when the input has that size
        h = w = size
    for _ in range(4):
        mods += [nn.Conv2d(c, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d(2)]
        c, h, w = channels, h // 2, w // 2
        if h < 1 or w < 1:
            raise ConfigError(f"model.arch=conv4: images of {size or input_shape[1]} px are too small for 4 poolings; "
                              "use model.input_size >= 16")
    return nn.Sequential(*mods, nn.Flatten(), nn.Linear(c * h * w, embedding_dim))
