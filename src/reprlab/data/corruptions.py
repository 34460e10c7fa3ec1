r"""Corruptions of the input for denoising auto-encoders (Vincent, Larochelle, Bengio & Manzagol 2008).

A denoising auto-encoder sees a corrupted :math:`\tilde{\mathbf x} \sim q_D(\tilde{\mathbf x} \mid \mathbf x)`
and is trained to recover the clean :math:`\mathbf x`:

.. math::  W^* = \arg\min_W \sum_i \| W' \circ W(\tilde{\mathbf x}_i) - \mathbf x_i \|^2 ,
           \qquad \tilde{\mathbf x}_i = \mathbf x_i + \epsilon \ \text{(lecture)} .

The three corruptions of the paper (Vincent et al. 2010, section 4.2) are plain functions of a
tensor of any shape, each coordinate corrupted independently; ``generator`` makes a draw
reproducible (it must live on ``x``'s device). The small classes wrap them as composable callables,
and :func:`parse_corruption` builds one from a config value such as ``"masking:0.25+gaussian:0.1"``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError


def gaussian_noise(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    r"""Additive isotropic Gaussian noise: :math:`\tilde{\mathbf x} = \mathbf x + \epsilon`,
    :math:`\epsilon \sim \mathcal N(0, \sigma^2 I)`. Same shape as ``x``."""
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + sigma * eps


def masking_noise(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    r"""Masking noise: each coordinate is set to 0 independently with probability ``p``,

    .. math::  \tilde x_j = m_j x_j, \qquad m_j \sim \text{Bernoulli}(1 - p).

    Like drop-out on the input, but **not** rescaled by :math:`1/(1-p)`: the network must
    fill in the missing values, not undo a change of scale.
    """
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p  # P(keep) = 1 - p
    return x * keep.to(x.dtype)


def salt_and_pepper(
    x: Tensor, p: float, low: float = 0.0, high: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    r"""Salt-and-pepper noise: a fraction ``p`` of the coordinates, chosen independently, is set
    to ``low`` or ``high`` (the minimum and maximum of the data) with probability ½ each,

    .. math::  \tilde x_j = \begin{cases} x_j & \text{with probability } 1 - p \\
               \text{low} & \text{with probability } p/2 \\ \text{high} & \text{with probability } p/2 \end{cases}
    """
    hit = torch.rand(x.shape, generator=generator, device=x.device) < p
    salt = torch.rand(x.shape, generator=generator, device=x.device) < 0.5
    values = torch.where(salt, torch.full_like(x, high), torch.full_like(x, low))
    return torch.where(hit, values, x)


class Corruption:
    """A callable ``x -> x̃``; ``str(c)`` is the spec :func:`parse_corruption` reads back."""

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


class GaussianNoise(Corruption):
    """:func:`gaussian_noise` with a fixed ``sigma``."""

    def __init__(self, sigma: float):
        self.sigma = float(sigma)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return gaussian_noise(x, self.sigma, generator)

    def __str__(self) -> str:
        return f"gaussian:{self.sigma:g}"


class MaskingNoise(Corruption):
    """:func:`masking_noise` with a fixed ``p``."""

    def __init__(self, p: float):
        self.p = float(p)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return masking_noise(x, self.p, generator)

    def __str__(self) -> str:
        return f"masking:{self.p:g}"


class SaltAndPepper(Corruption):
    """:func:`salt_and_pepper` with a fixed ``p`` (and ``low``, ``high``)."""

    def __init__(self, p: float, low: float = 0.0, high: float = 1.0):
        self.p, self.low, self.high = float(p), float(low), float(high)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return salt_and_pepper(x, self.p, self.low, self.high, generator)

    def __str__(self) -> str:
        return f"salt_and_pepper:{self.p:g}"


class Compose(Corruption):
    """Apply corruptions in order, left to right: ``Compose([a, b])(x) = b(a(x))``.

    ``Compose([])`` is the identity (the spec ``"none"``): a denoising auto-encoder with it is
    the plain auto-encoder.
    """

    def __init__(self, corruptions: list[Corruption]):
        self.corruptions = list(corruptions)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for c in self.corruptions:
            x = c(x, generator)
        return x

    def __str__(self) -> str:
        return "+".join(str(c) for c in self.corruptions) or "none"

    @property
    def is_identity(self) -> bool:
        return not self.corruptions


_KINDS = {"gaussian": GaussianNoise, "masking": MaskingNoise, "salt_and_pepper": SaltAndPepper}
_HELP = "use gaussian:SIGMA, masking:P, salt_and_pepper:P, several joined by '+', or none"


def _parse_one(part: str, spec: str, key: str) -> Corruption:
    kind, colon, value = (s.strip() for s in part.partition(":"))
    kind = kind.replace("-", "_")
    if kind not in _KINDS:
        raise ConfigError(f"{key}: unknown corruption {kind!r} in {spec!r}; {_HELP}")
    if not colon or not value:
        raise ConfigError(f"{key}: {kind} needs a value, e.g. {kind}:0.25 (in {spec!r})")
    try:
        v = float(value)
    except ValueError:
        raise ConfigError(f"{key}: {kind} value {value!r} in {spec!r} is not a number") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise ConfigError(f"{key}: {kind} value in {spec!r} must be finite, got {value}")
    if kind == "gaussian" and v < 0:
        raise ConfigError(f"{key}: gaussian sigma in {spec!r} must be >= 0, got {v:g}")
    if kind != "gaussian" and not 0 <= v <= 1:
        raise ConfigError(f"{key}: {kind} probability in {spec!r} must be in [0, 1], got {v:g}")
    return _KINDS[kind](v)


def parse_corruption(spec: str, key: str = "noise") -> Compose:
    """The corruption of a config value: ``"masking:0.25"``, ``"gaussian:0.3"``,
    ``"masking:0.25+gaussian:0.1"`` (applied left to right), or ``"none"``.

    Bad values raise a one-line :class:`ConfigError` that names ``key``.
    """
    if not isinstance(spec, str):
        raise ConfigError(f"{key}: {spec!r} is not a corruption; {_HELP}")
    text = spec.strip()
    if text.lower() in ("none", "", "identity"):
        return Compose([])
    parts = text.split("+")
    if any(not p.strip() for p in parts):
        raise ConfigError(f"{key}: empty term in {spec!r}; {_HELP}")
    return Compose([_parse_one(p, spec, key) for p in parts])
