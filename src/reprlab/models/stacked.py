r"""Stacked (denoising) auto-encoders: greedy layer-wise pre-training, then supervised fine-tuning.

Bengio, Lamblin, Popovici & Larochelle 2006 (stacked auto-encoders, SAA); Vincent, Larochelle,
Lajoie, Bengio & Manzagol 2010 (stacked denoising auto-encoders, SdA). In the lecture's notation:

First layer, on the data:   :math:`\mathbf x \to \mathbf h_1 = \sigma(W_1 \tilde{\mathbf x} + b_1) \to \hat{\mathbf x} = \sigma(W_1^\top \mathbf h_1 + b_1')`

Layer k, "same, replacing x with h_{k-1}":   :math:`\mathbf h_{k-1} \to \mathbf h_k \to \hat{\mathbf h}_{k-1}`

each a one-hidden-layer (denoising) auto-encoder with sigmoid units and tied weights, trained by
:math:`\min \sum_i \mathcal L(\hat{\mathbf h}_{k-1,i}, \mathbf h_{k-1,i})` (cross-entropy or squared
error; the input corrupted, :math:`\tilde{\mathbf h}_{k-1}`, for the SdA) on the **clean** codes
:math:`\mathbf h_{k-1} = f_{k-1} \circ \dots \circ f_1(\mathbf x)` of the layers below, which stay fixed.
Then the encoders :math:`f_k(\mathbf h) = \sigma(W_k \mathbf h + b_k)` are stacked, a softmax layer is
put on top, and the whole network is fine-tuned on the labels:

.. math::  p(y \mid \mathbf x) = \text{softmax}(V f_K \circ \dots \circ f_1(\mathbf x) + c), \qquad
           \min - \sum_i \log p(y_i \mid \mathbf x_i).

With ``pretrain_steps=0`` it is the same MLP trained from a random initialization.

``reprlab train sdae`` runs both stages with the one trainer: :meth:`StackedAutoEncoder.pretrain`
(called by :func:`reprlab.pipelines.training.train_run`) fits layer k as a one-layer ``dae`` into
``<run_dir>/pretrain/layer<k>/`` (a loadable run of its own), then the main fit fine-tunes into
``<run_dir>``. ``--resume`` loads the finished layers, continues an unfinished one from its last
checkpoint, and continues the fine-tuning from its checkpoint (or starts it, when the run
stopped during pre-training). ``reprlab.load`` reads the fine-tuned weights; it does not pre-train.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import option
from ..data.base import Batch, TensorBatches, TensorData
from ..data.corruptions import parse_corruption
from ..errors import ConfigError, DataError, UsageError
from ..nets import MLP
from .base import PhaseFit, ReprModel
from .dae import DenoisingAutoEncoderConfig
from .registry import register_model


@dataclass
class StackedAutoEncoderConfig:
    hidden: tuple[int, ...] = option((1000, 1000, 1000), "width of each hidden layer h_1 ... h_K (Vincent et al. 2010: 1000-3000)", ge=1)
    activation: Literal["sigmoid", "tanh", "relu"] = option("sigmoid", "hidden units (sigmoid, as in the papers)")
    num_classes: int = option(10, "classes of the softmax output layer", ge=2)
    noise: str | tuple[str, ...] = option(
        "masking:0.25",
        "corruption of each layer's input in pre-training: one spec for all layers or a list, one per layer "
        "(masking:P, gaussian:SIGMA, salt_and_pepper:P, none = stacked plain auto-encoders, SAA)",
    )
    pretrain_steps: int = option(2000, "pre-training steps of each layer (0: no pre-training, the plain MLP)", ge=0)
    pretrain_lr: float = option(1e-3, "learning rate of pre-training (the optimizer is train.optimizer)", gt=0)
    pretrain_loss: Literal["bce", "mse"] = option("bce", "reconstruction loss of pre-training (bce needs inputs in [0, 1])")
    tied: bool = option(True, "pre-train with tied weights W' = W^T, as in the papers")
    finetune_labels: int = option(
        0, "labelled training examples the fine-tuning sees (a stratified sample; 0: all); pre-training always "
        "uses every training example, unlabelled: the semi-supervised setting where pre-training pays off", ge=0)

    def __post_init__(self):
        specs = self.noise_specs
        if len(specs) not in (1, len(self.hidden)):
            raise ConfigError(
                f"model.noise: give one corruption for all layers or one per layer ({len(self.hidden)}), got {len(specs)}"
            )
        for s in specs:
            parse_corruption(s, "model.noise")
        if self.activation != "sigmoid" and self.pretrain_loss == "bce" and len(self.hidden) > 1:
            raise ConfigError(
                f"model.pretrain_loss=bce needs codes in [0, 1] and {self.activation} codes are not: "
                "use activation=sigmoid or pretrain_loss=mse"
            )

    @property
    def noise_specs(self) -> tuple[str, ...]:
        return (self.noise,) if isinstance(self.noise, str) else tuple(self.noise)

    def layer_noise(self, k: int) -> str:
        """Corruption spec of layer k (1-based)."""
        specs = self.noise_specs
        return specs[0] if len(specs) == 1 else specs[k - 1]


@register_model(
    "sdae",
    "stacked denoising auto-encoders: greedy layer-wise pre-training (noise=none: SAA), then a supervised "
    "softmax fine-tuning of the stacked encoders (needs labels)",
)
class StackedAutoEncoder(ReprModel):
    """Deep classifier ``x -> h_1 -> ... -> h_K -> softmax``, pre-trained greedily by (denoising) auto-encoders.

    ``layers[k-1]`` is the encoder :math:`f_k` of layer k, with the same structure as the encoder of
    the one-layer ``dae`` that pre-trains it (so its weights are copied as they are);
    ``head`` is the softmax layer. ``forward`` is the fine-tuning loss (cross-entropy on
    ``batch.y``) with ``accuracy`` and ``error``; ``encode`` gives the top codes h_K.
    """

    name = "sdae"
    Config = StackedAutoEncoderConfig
    code_size_option = "hidden"  # the codes are h_K: the last hidden width sets their size

    def __init__(self, config: StackedAutoEncoderConfig, input_shape: tuple[int, ...]):
        super().__init__(config, input_shape)
        dims = (math.prod(self.input_shape), *config.hidden)
        self.layers = nn.ModuleList(MLP(a, (), b, config.activation, config.activation) for a, b in zip(dims[:-1], dims[1:]))
        self.head = nn.Linear(dims[-1], config.num_classes)

    # ------------------------------------------------------------------ the network
    def encode(self, x: Tensor) -> Tensor:
        """Top-layer codes h_K, shape (B, hidden[-1])."""
        h = self.check_input(x)
        for f in self.layers:
            h = f(h)  # (B, hidden[k])
        return h

    def logits(self, x: Tensor) -> Tensor:
        """Class scores before the softmax, shape (B, num_classes)."""
        return self.head(self.encode(x))

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Predicted classes argmax_y p(y | x), shape (B,)."""
        return self.logits(x).argmax(1)

    def forward(self, batch: Batch, update: str = "model") -> dict[str, Tensor]:
        if batch.y is None:
            raise UsageError(f"{self.name}: fine-tuning needs labelled data; this batch has no labels")
        logits = self.logits(batch.x)
        loss = F.cross_entropy(logits, batch.y)  # − mean_i log p(y_i | x_i)
        error = (logits.detach().argmax(1) != batch.y).float().mean()
        return {"loss": loss, "accuracy": 1 - error, "error": error}

    # ------------------------------------------------------------------ greedy pre-training
    def layer_config(self, k: int) -> DenoisingAutoEncoderConfig:
        """Config of the one-hidden-layer (denoising) auto-encoder that pre-trains layer k (1-based)."""
        c = self.config
        return DenoisingAutoEncoderConfig(
            hidden=(), latent_dim=c.hidden[k - 1], activation=c.activation, code_activation=c.activation,
            loss=c.pretrain_loss, tied=c.tied, noise=c.layer_noise(k),
        )

    @torch.no_grad()
    def layer_codes(self, k: int, data: TensorData, batch_size: int = 1024) -> TensorData:
        """Clean codes h_k = f_k(data) of layer k (1-based), unlabelled, on the data's device: (N, hidden[k-1])."""
        f = self.layers[k - 1]
        was = f.training
        f.eval()
        p = next(f.parameters())
        out = [f(b.x.to(p.device, p.dtype)).to(data.x.device)
               for b in TensorBatches(data, batch_size, shuffle=False, drop_last=False).epoch()]
        f.train(was)
        return TensorData(torch.cat(out), name=f"{data.name}:h{k}")

    def check_data(self, data: TensorData) -> None:
        """One-line errors for data the classifier cannot be fine-tuned on."""
        if data.y is None:
            raise DataError(f"{self.name} is fine-tuned on labels and {data.name!r} has none; use a labelled data set or `reprlab train dae`")
        n = data.num_classes
        if n > self.config.num_classes:
            raise ConfigError(f"{data.name!r} has {n} classes but model.num_classes={self.config.num_classes}; set num_classes={n}")
        if self.config.pretrain_loss == "bce" and self.config.pretrain_steps and (data.x.min() < 0 or data.x.max() > 1):
            raise DataError(f"{data.name!r} has values outside [0, 1]: set model.pretrain_loss=mse")

    def training_data(self, data: TensorData, seed: int = 0) -> TensorData:
        """The fine-tuning data: all of ``data``, or a stratified sample of ``finetune_labels`` of its
        rows (the same for a given seed) when that is set."""
        n = self.config.finetune_labels
        if not n or n >= len(data):
            if n > len(data):
                raise ConfigError(f"model.finetune_labels={n} but the training split has {len(data)} examples; "
                                  f"use at most {len(data)} (0: all)")
            return data
        from sklearn.model_selection import train_test_split

        classes = int(torch.unique(data.y).numel())
        if n < classes:
            raise ConfigError(f"model.finetune_labels={n} is fewer than the {classes} classes; use at least {classes}")
        keep, _ = train_test_split(np.arange(len(data)), train_size=n, stratify=data.y.cpu().numpy(), random_state=seed)
        return data.subset(torch.as_tensor(np.sort(keep)))

    def pretrain(self, train: TensorData, val: TensorData | None, fit_phase: PhaseFit) -> None:
        """Greedy layer-wise pre-training: layer k is a ``dae`` fit on the clean codes of layer k-1.

        Phase ``layer<k>`` trains for ``pretrain_steps`` at ``pretrain_lr``; its encoder is then
        copied into ``layers[k-1]`` and the codes of the next layer are computed with it.
        """
        c = self.config
        if c.pretrain_loss == "bce" and c.pretrain_steps and (train.x.min() < 0 or train.x.max() > 1):
            raise DataError(f"{train.name!r} has values outside [0, 1]: set model.pretrain_loss=mse")
        if c.pretrain_steps == 0:
            return
        x_train = TensorData(train.x, name=train.name)  # unsupervised: the labels stay out
        x_val = TensorData(val.x, name=val.name) if val is not None else None
        for k in range(1, len(self.layers) + 1):
            if k > 1:  # "same, replacing x with h_{k-1}": the clean codes of the trained layers below
                x_train = self.layer_codes(k - 1, x_train)
                x_val = self.layer_codes(k - 1, x_val) if x_val is not None else None
            ae = fit_phase(f"layer{k}", "dae", self.layer_config(k), x_train, x_val,
                           max_steps=c.pretrain_steps, lr=c.pretrain_lr)
            self.layers[k - 1].load_state_dict(ae.encoder.state_dict())
