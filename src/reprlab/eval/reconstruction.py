"""Reconstruction quality and codes of a whole data set, batched, without gradients."""

from __future__ import annotations

import torch
from torch import Tensor

from ..data.base import TensorBatches, TensorData


@torch.no_grad()
def encode_data(model, data: TensorData, batch_size: int = 512) -> Tensor:
    """Codes of every sample, shape (N, d), in the data's order."""
    out = [model.encode(b.x).cpu() for b in TensorBatches(data, batch_size, shuffle=False, drop_last=False).epoch()]
    return torch.cat(out)


@torch.no_grad()
def reconstruction_metrics(model, data: TensorData, batch_size: int = 512) -> dict[str, float]:
    """Mean over samples of: ``mse`` (per coordinate), ``sse`` (squared error summed over
    coordinates, the lecture's ‖x̂ − x‖²) and, for data in [0, 1], ``bce`` (cross-entropy summed
    over coordinates, in nats)."""
    totals = {"mse": 0.0, "sse": 0.0, "bce": 0.0}
    binary_range = bool(data.x.min() >= 0 and data.x.max() <= 1)
    for b in TensorBatches(data, batch_size, shuffle=False, drop_last=False).epoch():
        x = model.check_input(b.x)
        x_hat = model.reconstruct(x)
        se = (x_hat - x).pow(2).flatten(1)
        totals["sse"] += float(se.sum())
        totals["mse"] += float(se.mean(1).sum())
        if binary_range:
            p = x_hat.clamp(1e-7, 1 - 1e-7)
            totals["bce"] += float(-(x * p.log() + (1 - x) * (1 - p).log()).sum())
    n = len(data)
    out = {k: v / n for k, v in totals.items()}
    if not binary_range:
        out.pop("bce")
    return out
