"""The one builder of encoders and decoders by ``arch``, used by every family (AE, DAE, VAE, AAE, GAN).

``mlp``: :class:`~.mlp.MLP` on the flattened input, for vectors or images; ``conv``: the stride-2
:class:`~.conv.ConvEncoder` / :class:`~.conv.ConvDecoder`, for images (C, H, W) only; ``auto``:
conv for images, mlp otherwise. Decoder widths are given in the decoder's order (from the code
to the data): a mirrored auto-encoder passes ``hidden[::-1]``, as :func:`encoder_decoder` does.
"""

from __future__ import annotations

import math

from torch import nn

from ..errors import ConfigError
from .conv import ConvDecoder, ConvEncoder
from .mlp import MLP, TiedMLP, activation

_ARCHS = ("mlp", "conv", "auto")


def resolve_arch(arch: str, input_shape: tuple[int, ...]) -> str:
    """``mlp`` or ``conv`` for data of ``input_shape``; a one-line ConfigError for conv on non-images."""
    image = len(input_shape) == 3
    if arch == "auto":
        return "conv" if image else "mlp"
    if arch not in ("mlp", "conv"):
        raise ConfigError(f"model.arch: {arch!r} is not allowed; expected {' | '.join(repr(a) for a in _ARCHS)}")
    if arch == "conv" and not image:
        raise ConfigError(f"model.arch=conv needs images (C, H, W), got samples of shape {tuple(input_shape)}; use arch=mlp")
    return arch


def _no_fc(fc: tuple[int, ...]) -> None:
    if fc:
        raise ConfigError("fully connected layers after a conv stack (g_fc / d_fc) are for model.arch=conv; an MLP's "
                          "widths are its hidden sizes (g_hidden / d_hidden)")


def encoder(arch: str, input_shape: tuple[int, ...], out_dim: int, *, hidden: tuple[int, ...] = (),
            channels: tuple[int, ...] = (), act: str = "relu", out_act: str | None = None, maxout: int = 0,
            fc: tuple[int, ...] = ()) -> nn.Module:
    """x ``(B, *input_shape)`` -> (B, out_dim).

    ``mlp``: ``prod(input_shape) -> hidden... -> out_dim``; ``conv``: ``len(channels)`` stride-2
    blocks, then the fully connected hidden layers ``fc`` (conv only), then a linear layer.
    ``out_act``: the output's activation; None is linear, and for conv a string puts the activation
    module after the encoder (``nn.Sequential(conv, act)``).
    ``maxout = k``: the MLP's hidden layers are maxout units of k pieces (mlp only).
    """
    if resolve_arch(arch, input_shape) == "mlp":
        _no_fc(fc)
        return MLP(math.prod(input_shape), tuple(hidden), out_dim, act, out_act or "linear", maxout=maxout)
    if maxout:
        raise ConfigError("maxout layers are for MLPs: use model.arch=mlp, or set maxout to 0")
    net = ConvEncoder(input_shape, tuple(channels), out_dim, act, fc=tuple(fc))
    return net if out_act is None else nn.Sequential(net, activation(out_act))


def decoder(arch: str, output_shape: tuple[int, ...], in_dim: int, *, hidden: tuple[int, ...] = (),
            channels: tuple[int, ...] = (), act: str = "relu", out_act: str = "linear", batch_norm: bool = False,
            mlp_batch_norm: bool = False, fc: tuple[int, ...] = ()) -> nn.Module:
    """z (B, in_dim) -> (B, prod(output_shape)) for ``mlp``, (B, C, H, W) for ``conv``.

    ``mlp``: ``in_dim -> hidden... -> prod(output_shape)``; ``conv``: the mirror of the
    :class:`~.conv.ConvEncoder` with the same ``channels`` (after the hidden layers ``fc`` from z),
    with BatchNorm when ``batch_norm`` (DCGAN's generator); ``mlp`` with BatchNorm after each hidden layer when ``mlp_batch_norm``.
    """
    if resolve_arch(arch, output_shape) == "mlp":
        _no_fc(fc)
        return MLP(in_dim, tuple(hidden), math.prod(output_shape), act, out_act, batch_norm=mlp_batch_norm)
    return ConvDecoder(output_shape, tuple(channels), in_dim, act, out_act, batch_norm=batch_norm, fc=tuple(fc))


def encoder_decoder(arch: str, input_shape: tuple[int, ...], code_size: int, *, hidden: tuple[int, ...] = (),
                    channels: tuple[int, ...] = (), activation: str = "relu", code_activation: str | None = None,
                    out_activation: str = "linear", tied: bool = False) -> tuple[nn.Module, nn.Module]:
    """An auto-encoder's pair: ``x -> hidden... -> code_size`` and its mirror ``code_size -> ... -> x``.

    ``code_activation``: the code layer's activation (see :func:`encoder`); ``out_activation``: the
    decoder's last; ``tied``: an MLP decoder that uses the encoder's transposed weights.
    """
    enc = encoder(arch, input_shape, code_size, hidden=hidden, channels=channels, act=activation, out_act=code_activation)
    if tied:
        if not isinstance(enc, MLP):
            raise ConfigError("model.tied: weight tying needs model.arch=mlp")
        return enc, TiedMLP(enc, activation, out_activation)
    dec = decoder(arch, input_shape, code_size, hidden=tuple(hidden)[::-1], channels=channels, act=activation,
                  out_act=out_activation)
    return enc, dec


def feature_encoder(arch: str, input_shape: tuple[int, ...], *, hidden: tuple[int, ...] = (), channels: tuple[int, ...] = (),
                    activation: str = "relu", conv_features: int = 256) -> tuple[nn.Module, int]:
    """(network, F): x ``(B, *input_shape)`` -> features h (B, F), for heads on top (a VAE's μ and log σ²).

    ``mlp``: the hidden layers, each followed by ``activation`` (F = ``hidden[-1]``; no hidden
    layer: the flattened input, F = prod(input_shape)); ``conv``: the stride-2 blocks, a linear
    layer to ``conv_features`` units and a ReLU.
    """
    if resolve_arch(arch, input_shape) == "mlp":
        if not hidden:
            return nn.Flatten(), math.prod(input_shape)
        return encoder("mlp", input_shape, hidden[-1], hidden=tuple(hidden)[:-1], act=activation, out_act=activation), hidden[-1]
    return encoder("conv", input_shape, conv_features, channels=channels, act=activation, out_act="relu"), conv_features


def normal_init(net: nn.Module, std: float) -> nn.Module:
    """Every linear and (transposed) convolution weight of ``net`` drawn from N(0, std²), every
    such bias set to 0 (DCGAN's and PacGAN's initialization, std = 0.02); BatchNorm keeps
    weight 1, bias 0. Returns ``net``."""
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net
