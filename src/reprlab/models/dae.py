r"""The denoising auto-encoder (Vincent, Larochelle, Bengio & Manzagol 2008): corrupt x, recover x.

.. math::  W^* = \arg\min_W \sum_i \| W' \circ W(\tilde{\mathbf x}_i) - \mathbf x_i \|^2,
           \qquad \tilde{\mathbf x}_i \sim q_D(\tilde{\mathbf x} \mid \mathbf x_i)

(the lecture writes :math:`\tilde{\mathbf x}_i = \mathbf x_i + \epsilon`), or the cross-entropy between
:math:`\mathbf x_i` and :math:`\hat{\mathbf x}_i = W' \circ W(\tilde{\mathbf x}_i)` for data in [0, 1].
The reconstruction is of the **corrupted** input, the target is the **clean** one: the code must
capture the dependencies between coordinates to fill in what the noise destroyed. The corruption
:math:`q_D` is a spec of :mod:`reprlab.data.corruptions` (masking, Gaussian, salt-and-pepper).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import option
from ..data.base import Batch
from ..data.corruptions import parse_corruption
from .autoencoder import AutoEncoder, AutoEncoderConfig, reconstruction_loss
from .registry import register_model


@dataclass
class DenoisingAutoEncoderConfig(AutoEncoderConfig):
    noise: str = option(
        "masking:0.25",
        "corruption q_D of the training input: masking:P, gaussian:SIGMA, salt_and_pepper:P, "
        "'+'-joined (applied left to right), or none (= the plain auto-encoder)",
    )
    eval_seed: int = option(0, "seed of the corruption drawn for validation (the same noise at every validation)")

    def __post_init__(self):
        super().__post_init__()
        parse_corruption(self.noise, "model.noise")  # a one-line ConfigError for a bad spec


@register_model("dae", "denoising auto-encoder: reconstruct the clean x from a corrupted x̃ (masking, Gaussian, salt-and-pepper)")
class DenoisingAutoEncoder(AutoEncoder):
    """An :class:`AutoEncoder` trained to reconstruct the clean input from a corrupted one.

    ``forward(batch)`` in training mode corrupts ``batch.x`` with the global random generator
    (seeded and checkpointed by the trainer) and returns the loss of :meth:`denoising_loss`;
    in eval mode it is the plain auto-encoder's loss on the clean input. :meth:`evaluate`
    reports both: ``loss``/``mse`` on clean input and ``denoise_loss``/``denoise_mse`` on a
    corruption drawn with ``eval_seed``, next to ``noise_mse``, the error of the corrupted input
    itself (the identity's denoising error).
    """

    name = "dae"
    Config = DenoisingAutoEncoderConfig

    def __init__(self, config: DenoisingAutoEncoderConfig, input_shape: tuple[int, ...]):
        super().__init__(config, input_shape)
        self.corruption = parse_corruption(config.noise, "model.noise")

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """x̃ ~ q_D(x̃ | x), same shape as x."""
        return self.corruption(x, generator)

    def denoising_loss(self, x: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        r"""``loss`` = reconstruction error of :math:`W' \circ W(\tilde{\mathbf x})` against the clean
        :math:`\mathbf x` (see :func:`reconstruction_loss`); ``mse`` per coordinate, against x too."""
        x_tilde = self.corrupt(x, generator)
        logits = self.decode_logits(self.encoder(x_tilde))
        loss = reconstruction_loss(logits, x, self.config.loss)  # target: the CLEAN x
        x_hat = torch.sigmoid(logits) if self.config.loss == "bce" else logits
        return {"loss": loss, "mse": F.mse_loss(x_hat.detach(), x)}

    def forward(self, batch: Batch, update: str = "model") -> dict[str, Tensor]:
        if self.training:
            return self.denoising_loss(batch.x)
        return super().forward(batch, update)  # evaluation: the clean input, no corruption

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, Tensor]:
        """Clean reconstruction (``loss``, ``mse``), denoising (``denoise_loss``, ``denoise_mse``)
        and the identity's denoising error ``noise_mse`` = mean (x̃ − x)²."""
        x = batch.x
        clean = AutoEncoder.forward(self, batch)
        g = torch.Generator(device=x.device).manual_seed(self.config.eval_seed)
        x_tilde = self.corrupt(x, g)
        logits = self.decode_logits(self.encoder(x_tilde))
        x_hat = torch.sigmoid(logits) if self.config.loss == "bce" else logits
        return {
            "loss": clean["loss"],
            "mse": clean["mse"],
            "denoise_loss": reconstruction_loss(logits, x, self.config.loss),
            "denoise_mse": F.mse_loss(x_hat, x),
            "noise_mse": F.mse_loss(x_tilde, x),
        }
