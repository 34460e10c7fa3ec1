r"""The auto-encoder of the lecture: ``x -> h = W(x) ∈ R^d -> x̂ = W'(h)``.

.. math::  W^* = \arg\min_W \sum_i \| W' \circ W(x_i) - x_i \|^2

or, for data in [0, 1], the cross-entropy reconstruction

.. math::  -\sum_j x_{i,j} \log \hat x_{i,j} + (1 - x_{i,j}) \log (1 - \hat x_{i,j}).

With one linear layer and the squared error, the code space is the top-``d`` principal subspace
(Baldi & Hornik 1989): the lecture's "auto-encoder ≈ PCA".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import option
from ..data.base import Batch
from ..errors import ConfigError
from ..nets import encoder_decoder
from .base import ReprModel
from .functional import bernoulli_log_prob
from .registry import register_model


@dataclass
class AutoEncoderConfig:
    arch: Literal["mlp", "conv"] = option("mlp", "encoder/decoder family")
    hidden: tuple[int, ...] = option((256, 64), "MLP hidden widths of the encoder (decoder mirrors them)", ge=1)
    channels: tuple[int, ...] = option((32, 64), "conv channels per stride-2 block (conv arch)", ge=1)
    latent_dim: int = option(16, "size d of the code h (the latent size; formerly code_dim)", ge=1, aliases=("code_dim",))
    activation: Literal["relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid", "linear"] = option(
        "relu", "hidden-layer activation ('linear' with hidden=[] gives the linear AE = PCA)"
    )
    code_activation: Literal["linear", "sigmoid", "tanh", "relu"] = option("linear", "activation of the code layer")
    loss: Literal["mse", "bce"] = option("mse", "reconstruction loss: squared error or binary cross-entropy")
    tied: bool = option(False, "decoder weights = encoder weights transposed (MLP only)")

    def __post_init__(self):
        if self.tied and self.arch != "mlp":
            raise ConfigError("model.tied: weight tying needs model.arch=mlp")


def reconstruction_loss(x_hat_logits: Tensor, x: Tensor, kind: str) -> Tensor:
    r"""Mean over the batch of the per-example reconstruction error, summed over coordinates.

    ``mse``: :math:`\frac1n \sum_i \|\hat x_i - x_i\|^2`;
    ``bce``: :math:`-\frac1n \sum_i \sum_j x_{ij}\log\hat x_{ij} + (1-x_{ij})\log(1-\hat x_{ij})`
    with :math:`\hat x = \sigma(\text{logits})` (computed from the logits, stably).
    """
    n = x.shape[0]
    if kind == "mse":
        return (x_hat_logits - x).pow(2).sum() / n
    return -bernoulli_log_prob(x_hat_logits, x).sum() / n


@register_model("ae", "auto-encoder x -> h -> x̂ (MSE or cross-entropy; MLP or conv; optional tied weights)")
class AutoEncoder(ReprModel):
    """Auto-encoder with MLP or convolutional encoder/decoder.

    ``forward(batch)`` returns ``loss`` (per-example reconstruction error, see
    :func:`reconstruction_loss`) and ``mse`` (mean squared error per coordinate).
    """

    name = "ae"
    Config = AutoEncoderConfig

    def __init__(self, config: AutoEncoderConfig, input_shape: tuple[int, ...]):
        super().__init__(config, input_shape)
        c = config
        self.encoder, self.decoder = encoder_decoder(
            c.arch, self.input_shape, c.latent_dim, hidden=c.hidden, channels=c.channels, activation=c.activation,
            code_activation=c.code_activation, tied=c.tied,
        )

    def encode(self, x: Tensor) -> Tensor:
        """Codes h, shape (B, d)."""
        return self.encoder(self.check_input(x))

    def decode_logits(self, h: Tensor) -> Tensor:
        """Decoder output before the output non-linearity, shape ``(B, *input_shape)``."""
        return self.decoder(h).view(h.shape[0], *self.input_shape)

    def decode(self, h: Tensor) -> Tensor:
        """x̂ from codes (B, d): the decoder's output, through a sigmoid for the cross-entropy loss."""
        out = self.decode_logits(h)
        return torch.sigmoid(out) if self.config.loss == "bce" else out

    def reconstruct(self, x: Tensor) -> Tensor:
        """x̂ = W'(W(x)), same shape as x."""
        return self.decode(self.encode(x))

    def forward(self, batch: Batch, update: str = "model") -> dict[str, Tensor]:
        x = batch.x
        logits = self.decode_logits(self.encoder(x))
        loss = reconstruction_loss(logits, x, self.config.loss)
        x_hat = torch.sigmoid(logits) if self.config.loss == "bce" else logits
        return {"loss": loss, "mse": F.mse_loss(x_hat.detach(), x)}
