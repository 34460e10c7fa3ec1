"""Convolutional encoders/decoders for images of any size (8x8 digits, 28x28 MNIST, 105x105 Omniglot).

Each encoder block halves the spatial size (kernel 4, stride 2, padding 1: ``s -> floor(s/2)``);
the decoder mirrors the encoder exactly, choosing each transposed convolution's
``output_padding`` so that it reproduces the encoder's sizes, odd ones included.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from ..errors import ConfigError
from .mlp import activation


def _halvings(size: int, n: int) -> list[int]:
    sizes = [size]
    for _ in range(n):
        sizes.append(sizes[-1] // 2)
    return sizes


def _fully_connected(in_dim: int, widths: tuple[int, ...], act: str, batch_norm: bool = False) -> nn.Sequential:
    """Hidden layers ``in_dim -> widths...``: Linear, [BatchNorm1d], act each; empty for ``widths = ()``."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_dim, width), *([nn.BatchNorm1d(width)] if batch_norm else []), activation(act)]
        in_dim = width
    return nn.Sequential(*layers)


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> (B, out_dim): ``len(channels)`` stride-2 conv blocks, then ``fc`` fully
    connected hidden layers (each followed by ``act``; none by default), then a linear layer.
    ``fc=(1024,)`` is the discriminator of InfoGAN's MNIST nets (Chen et al. 2016, as in Lucic et al. 2018)."""

    def __init__(self, input_shape: tuple[int, int, int], channels: tuple[int, ...], out_dim: int, act: str = "relu",
                 fc: tuple[int, ...] = ()):
        super().__init__()
        c, h, w = input_shape
        n = len(channels)
        self.heights, self.widths = _halvings(h, n), _halvings(w, n)
        if min(self.heights[-1], self.widths[-1]) < 1:
            raise ConfigError(
                f"model.channels: {n} stride-2 blocks shrink a {h}x{w} image to nothing; use at most "
                f"{int(math.log2(min(h, w)))} blocks"
            )
        layers: list[nn.Module] = []
        for c_in, c_out in zip((c, *channels[:-1]), channels):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), activation(act)]
        self.features = nn.Sequential(*layers)
        self.flat_dim = channels[-1] * self.heights[-1] * self.widths[-1]
        self.fc = _fully_connected(self.flat_dim, fc, act)  # empty (no parameters) unless fc is given
        self.head = nn.Linear(fc[-1] if fc else self.flat_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.fc(self.features(x).flatten(1)))  # (B, C_L * H_L * W_L) -> (B, out_dim)


class ConvDecoder(nn.Module):
    """(B, in_dim) -> (B, C, H, W): the mirror of a :class:`ConvEncoder` with the same arguments."""

    def __init__(
        self,
        output_shape: tuple[int, int, int],
        channels: tuple[int, ...],
        in_dim: int,
        act: str = "relu",
        out_act: str = "linear",
        batch_norm: bool = False,
        fc: tuple[int, ...] = (),
    ):
        super().__init__()
        c, h, w = output_shape
        n = len(channels)
        heights, widths = _halvings(h, n), _halvings(w, n)
        if min(heights[-1], widths[-1]) < 1:
            raise ConfigError(f"model.channels: {n} stride-2 blocks do not fit a {h}x{w} image")
        self.start = (channels[-1], heights[-1], widths[-1])
        # fc: hidden fully connected layers from z first (InfoGAN's MNIST generator: 1024), BatchNorm'd with batch_norm
        self.fc = _fully_connected(in_dim, fc, act, batch_norm)
        self.head = nn.Linear(fc[-1] if fc else in_dim, channels[-1] * heights[-1] * widths[-1])
        # batch_norm (DCGAN's generator, Radford et al. 2016): BatchNorm before every hidden activation
        layers: list[nn.Module] = [nn.BatchNorm2d(channels[-1])] if batch_norm else []
        layers.append(activation(act))
        rev = channels[::-1]
        for i, (c_in, c_out) in enumerate(zip(rev, (*rev[1:], c))):
            # ConvTranspose2d(k=4, s=2, p=1): size -> 2*size + output_padding; pick it to hit the encoder's size.
            src_h, dst_h = heights[n - i], heights[n - i - 1]
            src_w, dst_w = widths[n - i], widths[n - i - 1]
            pad = (dst_h - 2 * src_h, dst_w - 2 * src_w)
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, output_padding=pad))
            if batch_norm and i < n - 1:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(activation(act if i < n - 1 else out_act))
        self.features = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.head(self.fc(z)).view(z.shape[0], *self.start)  # (B, C_L, H_L, W_L)
        return self.features(h)  # (B, C, H, W)
