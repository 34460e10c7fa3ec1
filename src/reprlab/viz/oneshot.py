"""One-shot tasks as pictures: each row a query, then the support images, with the answer marked."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import UsageError

GREEN, RED, BLUE, GREY = (0.1, 0.7, 0.1), (0.85, 0.1, 0.1), (0.2, 0.4, 0.95), (0.6, 0.6, 0.6)


def _framed(img: Tensor, colour, width: int) -> Tensor:
    """(C, H, W) in [0, 1] -> (3, H + 2w, W + 2w) RGB with a coloured frame."""
    rgb = img.expand(3, -1, -1) if img.shape[0] == 1 else img[:3]
    out = torch.tensor(colour, dtype=rgb.dtype).view(3, 1, 1).expand(3, rgb.shape[1] + 2 * width, rgb.shape[2] + 2 * width).clone()
    out[:, width:-width, width:-width] = rgb
    return out


@torch.no_grad()
def oneshot_answer_rows(score, tasks, n: int = 6, width: int = 1, seed: int | None = 0) -> tuple[Tensor, int]:
    """The first ``n`` one-shot tasks (k_shot = 1, first query of each) answered by ``score``:
    images (n·(1 + n_way), 3, H', W') for a grid with ``1 + n_way`` per row. The query has a grey
    frame; the chosen support image a green frame when right, red when wrong (the right one then
    blue). Support images are shown in a seeded random order (tasks may list the answer first); ``seed=None`` keeps the task's order."""
    if tasks.k_shot != 1:
        raise UsageError(f"oneshot_answer_rows draws 1-shot tasks, got k_shot={tasks.k_shot}")
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    rows = []
    for t in range(min(n, len(tasks))):
        order = torch.randperm(len(tasks.support[t]), generator=g) if seed is not None else torch.arange(len(tasks.support[t]))
        q, sup = tasks.x[tasks.query[t][:1]], tasks.x[tasks.support[t][order]]  # (1, C, H, W), (n_way, C, H, W)
        chosen = int(score(q, sup).argmax(1))
        right = int((tasks.support_class[t][order] == tasks.answer[t][0]).nonzero()[0])
        frames = [GREEN if i == chosen == right else RED if i == chosen else BLUE if i == right else (1.0, 1.0, 1.0)
                  for i in range(len(sup))]
        rows.append(_framed(q[0].cpu(), GREY, width))
        rows += [_framed(img.cpu(), colour, width) for img, colour in zip(sup, frames)]
    return torch.stack(rows), 1 + tasks.n_way
