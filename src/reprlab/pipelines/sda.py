"""The scikit-learn face of the stacked denoising auto-encoder: :class:`StackedDAETransformer`.

A pipeline, not a model: it builds a :class:`~reprlab.models.stacked.StackedAutoEncoder` and
pre-trains its layers through the one trainer (:func:`reprlab.pipelines.training.phase_fitter`).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from ..data.base import TensorData
from ..errors import UsageError
from ..models.stacked import StackedAutoEncoder, StackedAutoEncoderConfig
from ..train import TrainConfig
from ..train.trainer import seed_everything
from .training import phase_fitter


class StackedDAETransformer(TransformerMixin, BaseEstimator):
    r"""A stacked denoising auto-encoder trained by gradient descent (SDA), as a scikit-learn transformer.

    The gradient-descent counterpart of :class:`reprlab.MSDA` (Glorot, Bordes & Bengio 2011): layer
    k is a one-hidden-layer DAE trained by the one Trainer on the clean codes of layer k-1
    (:meth:`StackedAutoEncoder.pretrain`, no fine-tuning: the representation is unsupervised), and
    ``transform`` returns :math:`[x; h_1; \dots; h_L]` (``concat=True``) or :math:`h_L`.

    Parameters: ``hidden`` (widths of h_1..h_L), ``noise`` (corruption spec, e.g. ``masking:0.5``),
    ``activation`` (``tanh``, ``sigmoid``, ``relu``), ``loss`` (``mse`` or ``bce``), ``steps``
    (training steps per layer), ``batch_size``, ``lr``, ``seed``, ``concat``, ``accelerator``.
    """

    def __init__(self, hidden=(400, 400, 400), noise="masking:0.5", activation="tanh", loss="mse", steps=2000,
                 batch_size=64, lr=1e-3, seed=0, concat=True, accelerator="auto"):
        self.hidden = hidden
        self.noise = noise
        self.activation = activation
        self.loss = loss
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.concat = concat
        self.accelerator = accelerator

    def fit(self, X, y=None):
        """Pre-train the layers greedily on ``X`` (n, d); returns self."""
        x = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        if x.ndim != 2:
            raise UsageError(f"StackedDAETransformer needs 2-D features (n, d), got shape {tuple(x.shape)}")
        cfg = StackedAutoEncoderConfig(
            hidden=tuple(self.hidden), activation=self.activation, noise=self.noise, pretrain_steps=self.steps,
            pretrain_lr=self.lr, pretrain_loss=self.loss, num_classes=2,
        )
        train_cfg = TrainConfig(
            seed=self.seed, batch_size=self.batch_size, progress=False, tensorboard=False, accelerator=self.accelerator,
            log_every=max(1, self.steps), val_every=max(1, self.steps), checkpoint_every=max(1, self.steps),
        )
        seed_everything(self.seed)
        self.model_ = StackedAutoEncoder(cfg, (x.shape[1],))
        self.model_.pretrain(TensorData(x, name="features"), None, phase_fitter(train_cfg, None))
        self.model_.eval()
        self.n_features_in_ = x.shape[1]
        return self

    @torch.no_grad()
    def transform(self, X):
        """``[x; h_1; ...; h_L]`` or ``h_L`` for each row of ``X``, as a float32 array."""
        if not hasattr(self, "model_"):
            raise UsageError("StackedDAETransformer is not fitted: call fit(X) first")
        x = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise UsageError(f"X must have shape (n, {self.n_features_in_}), got {tuple(x.shape)}")
        p = next(self.model_.parameters())
        h, outs = x.to(p.device), [x]
        for f in self.model_.layers:
            h = f(h)  # (n, hidden[k])
            outs.append(h.cpu())
        return (torch.cat(outs, 1) if self.concat else outs[-1]).numpy()
