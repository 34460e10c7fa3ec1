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


class MLP(nn.Sequential):
    """``in_dim -> hidden[0] -> ... -> out_dim`` with ``act`` between layers and ``out_act`` last.

    Input (B, in_dim) or (B, *shape) (flattened first); output (B, out_dim).
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int, act: str = "relu", out_act: str = "linear"):
        dims = (in_dim, *hidden, out_dim)
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            layers.append(activation(act if i < len(dims) - 2 else out_act))
        super().__init__(*layers)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]


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
