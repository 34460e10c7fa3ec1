"""Multi-layer perceptrons, with optional weight tying for auto-encoder decoders."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """The activation module called ``name`` (``relu``, ``tanh``, ``sigmoid``, ``linear`` ...)."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class Maxout(nn.Module):
    r"""A maxout layer (Goodfellow et al. 2013): ``k`` affine pieces per unit and their maximum,

    .. math:: h_j(x) = \max_{i = 1..k} \, (W_{ij}^\top x + b_{ij}),

    (B, in_dim) -> (B, out_dim); the pieces are one ``nn.Linear(in_dim, out_dim · k)`` whose
    outputs ``j·k .. j·k + k − 1`` belong to unit ``j``."""

    def __init__(self, in_dim: int, out_dim: int, pieces: int):
        super().__init__()
        if pieces < 2:
            raise ConfigError(f"a maxout layer needs at least 2 pieces per unit, got {pieces}")
        self.pieces = pieces
        self.linear = nn.Linear(in_dim, out_dim * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).unflatten(1, (-1, self.pieces)).amax(2)


class MLP(nn.Sequential):
    """``in_dim -> hidden[0] -> ... -> out_dim`` with ``act`` between layers and ``out_act`` last.

    Input (B, in_dim) or ``(B, *shape)`` (flattened first); output (B, out_dim).
    ``batch_norm``: each hidden layer is ``Linear (no bias) -> BatchNorm1d -> act`` (PacGAN's
    grid generator); ``maxout = k`` >= 2: each hidden layer is a :class:`Maxout` of ``k`` pieces
    instead of ``Linear -> act`` (PacGAN's grid discriminator).
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int, act: str = "relu", out_act: str = "linear",
                 *, batch_norm: bool = False, maxout: int = 0):
        dims = (in_dim, *hidden, out_dim)
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            last = i == len(dims) - 2
            if not last and maxout:
                layers.append(Maxout(a, b, maxout))
                continue
            layers.append(nn.Linear(a, b, bias=last or not batch_norm))
            if batch_norm and not last:
                layers.append(nn.BatchNorm1d(b))
            layers.append(activation(out_act if last else act))
        super().__init__(*layers)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m.linear if isinstance(m, Maxout) else m for m in self if isinstance(m, (nn.Linear, Maxout))]


class TiedLinear(nn.Module):
    """``y = x W_ᵀ + b`` where ``W`` is another layer's weight: the decoder is the encoder transposed.

    The weight is shared (not copied), so gradients from both uses add up; only the bias is own.
    """

    def __init__(self, tied_to: nn.Linear):
        super().__init__()
        self.tied_to = [tied_to]  # a list, so the shared weight is not registered twice
        self.bias = nn.Parameter(torch.zeros(tied_to.in_features))
        bound = 1 / math.sqrt(tied_to.out_features)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.tied_to[0].weight.t(), self.bias)


class TiedMLP(nn.Sequential):
    """The mirror of an :class:`MLP` encoder using its transposed weights (for tied auto-encoders)."""

    def __init__(self, encoder: MLP, act: str = "relu", out_act: str = "linear"):
        linears = encoder.linears[::-1]
        layers: list[nn.Module] = []
        for i, lin in enumerate(linears):
            layers.append(TiedLinear(lin))
            layers.append(activation(act if i < len(linears) - 1 else out_act))
        super().__init__(*layers)
