"""Few-shot accuracy: Lake et al.'s 20 one-shot runs, and random tasks from any labelled set.

The tasks are :class:`reprlab.data.fewshot.FewShotTasks` (Lake's runs:
``load_dataset("omniglot-oneshot")``; random ones: :func:`~reprlab.data.fewshot.sample_tasks`).
Reference points on Lake's runs: humans 95.5 %; Koch et al.'s convolutional Siamese net 92.0 %;
1-NN on pixels 21.7 %.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..data.fewshot import FewShotTasks, ScoreFn, sample_tasks  # noqa: F401  (the task type and sampler)


def fewshot_accuracy(score: ScoreFn, tasks: FewShotTasks) -> Tensor:
    """Accuracy of each task (T,): :meth:`FewShotTasks.accuracy`."""
    return tasks.accuracy(score)


def pixel_similarity(query: Tensor, support: Tensor) -> Tensor:
    """Minus the Euclidean distance between raw pixels: (Q, S). The 1-nearest-neighbour baseline."""
    return -torch.cdist(query.flatten(1).double(), support.flatten(1).double())


def pixel_cosine_similarity(query: Tensor, support: Tensor) -> Tensor:
    r"""Cosine similarity of raw pixels, :math:`\cos(q, s) = q^\top s / (\|q\| \|s\|)`: (Q, S)."""
    q = torch.nn.functional.normalize(query.flatten(1).double(), dim=1)
    s = torch.nn.functional.normalize(support.flatten(1).double(), dim=1)
    return q @ s.T
