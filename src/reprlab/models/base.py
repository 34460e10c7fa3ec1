"""What every model shares: a typed config, a named loss output, and the trainer's contract.

A model is an ``nn.Module`` built from ``(config, input_shape)``. The trainer knows nothing else
about it: it asks :meth:`ReprModel.updates` which optimizer updates make one training step (one
for an auto-encoder; discriminator and generator for a GAN, each with its own frequency) and
calls ``model(batch, update=name)``, which returns a dict with a scalar ``"loss"`` and any
other metrics to log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable

import torch
from torch import Tensor, nn

from ..data.base import Batch
from ..errors import UsageError


@dataclass(frozen=True)
class Update:
    """One optimizer update of a training step.

    name : passed to ``model(batch, update=name)``; also the prefix of its logged metrics.
    parameters : the parameters this update's optimizer owns.
    every : run this update on steps where ``step % every == 0`` (e.g. a generator updated once
        per ``n_critic`` critic updates has ``every=n_critic``).
    lr : learning rate of this update's optimizer (None: the training config's ``lr``).
    betas : Adam betas of this update (None: the training config's).
    """

    name: str
    parameters: Callable[[], Iterable[nn.Parameter]]
    every: int = 1
    lr: float | None = None
    betas: tuple[float, float] | None = None


class ReprModel(nn.Module):
    """Base class of reprlab models.

    Subclasses set ``name`` and ``Config`` and implement ``forward(batch, update)``. Optional
    capabilities (``encode``, ``decode``, ``reconstruct``, ``sample``) raise a one-line
    :class:`UsageError` when a model does not have them.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type] = object

    def __init__(self, config, input_shape: tuple[int, ...]):
        super().__init__()
        self.config = config
        self.input_shape = tuple(int(s) for s in input_shape)

    def updates(self) -> list[Update]:
        """The optimizer updates of one training step (default: one over all parameters)."""
        return [Update("model", self.parameters)]

    def forward(self, batch: Batch, update: str = "model") -> dict[str, Tensor]:  # pragma: no cover
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, Tensor]:
        """Validation metrics of one batch (means over the batch); default: the training losses."""
        out = {}
        for u in self.updates():
            for k, v in self.forward(batch, u.name).items():
                out[k if len(self.updates()) == 1 else f"{u.name}/{k}"] = v.detach()
        return out

    def check_input(self, x: Tensor) -> Tensor:
        """``x`` as a float tensor of shape (B, *input_shape) on the model's device, or a one-line error."""
        if not isinstance(x, Tensor):
            x = torch.as_tensor(x)
        if not x.is_floating_point():
            raise UsageError(f"{self.name}: input must be floating point (scale images to [0, 1]), got {x.dtype}")
        if tuple(x.shape[1:]) != self.input_shape:
            if tuple(x.shape) == self.input_shape:
                x = x.unsqueeze(0)
            else:
                raise UsageError(
                    f"{self.name}: input shape {tuple(x.shape)} does not match the model's (B, "
                    f"{', '.join(map(str, self.input_shape))}); use data of the shape it was trained on"
                )
        p = next(self.parameters(), None)
        return x.to(p.device, p.dtype) if p is not None else x

    def _missing(self, what: str) -> UsageError:
        return UsageError(f"model {self.name!r} cannot {what}")

    def encode(self, x: Tensor) -> Tensor:
        raise self._missing("encode")

    def decode(self, z: Tensor) -> Tensor:
        raise self._missing("decode")

    def reconstruct(self, x: Tensor) -> Tensor:
        raise self._missing("reconstruct")

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise self._missing("sample (it has no prior to draw from); try `reprlab reconstruct`")

    @property
    def can_sample(self) -> bool:
        return type(self).sample is not ReprModel.sample

    @property
    def can_reconstruct(self) -> bool:
        return type(self).reconstruct is not ReprModel.reconstruct

    @property
    def can_encode(self) -> bool:
        return type(self).encode is not ReprModel.encode
