"""Honest log-likelihoods of a data set under a VAE: the importance-weighted bound, batched."""

from __future__ import annotations

import torch

from ..data.base import TensorData
from ..errors import UsageError


@torch.no_grad()
def iwae_nll(model, data: TensorData, k: int = 5000, *, batch_size: int = 100, chunk: int = 500, seed: int = 0,
             binarize: bool = False, progress: bool = False) -> float:
    """Mean over ``data`` of −log p̂(x), the IWAE estimate with ``k`` importance samples
    (:func:`reprlab.models.vae.iwae_log_likelihood`), in nats per example; seeded, so the same
    model and data give the same number. ``binarize``: draw each image once as
    Bernoulli(intensities) first (seeded), the evaluation of dynamically binarized MNIST in the
    literature."""
    from ..models.vae import iwae_log_likelihood

    if not hasattr(model, "posterior"):
        raise UsageError(f"model {getattr(model, 'name', model)!r} has no posterior q(z|x): log-likelihoods need a VAE")
    was = model.training
    model.eval()
    total = 0.0
    gen = torch.Generator().manual_seed(seed + 1)
    batches = range(0, len(data), batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, unit="batch", desc=f"IWAE k={k}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in batches:
            x = data.x[i : i + batch_size]
            if binarize:
                x = torch.bernoulli(x, generator=gen)
            total -= float(iwae_log_likelihood(model, x, k, chunk=chunk).double().sum())
    model.train(was)
    return total / len(data)
