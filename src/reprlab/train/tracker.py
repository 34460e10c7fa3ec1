"""Running sums of the metrics of each update, kept on the device and read once per log interval.

Reading a loss (``.item()``) forces the host to wait for the device; doing it every step costs
throughput on a GPU. Losses are written into a preallocated buffer instead, and checked for
NaN/Inf when the buffer is read, which still names the exact step a loss went bad.
"""

from __future__ import annotations

import torch
from torch import Tensor


class MetricTracker:
    def __init__(self, names: list[str], length: int, device: torch.device):
        self.length = length
        self.device = device
        self.losses = {n: torch.zeros(length, device=device) for n in names}
        self.steps = {n: torch.full((length,), -1, dtype=torch.long) for n in names}
        self.sums: dict[str, dict[str, Tensor]] = {n: {} for n in names}
        self.counts = {n: 0 for n in names}
        self.slot = {n: 0 for n in names}

    def add(self, name: str, step: int, out: dict[str, Tensor]) -> None:
        i = self.slot[name]
        if i == self.length:  # more updates than slots (a flush was skipped): grow
            self.losses[name] = torch.cat([self.losses[name], torch.zeros_like(self.losses[name])])
            self.steps[name] = torch.cat([self.steps[name], torch.full_like(self.steps[name], -1)])
            self.length = self.losses[name].numel()
        self.losses[name][i] = out["loss"].detach()
        self.steps[name][i] = step
        self.slot[name] = i + 1
        sums = self.sums[name]
        for k, v in out.items():
            if k != "loss":
                v = v.detach()
                sums[k] = sums[k] + v if k in sums else v.clone()
        self.counts[name] += 1

    def first_non_finite(self) -> tuple[str, int, float] | None:
        """(update, step, value) of the first NaN/Inf loss since the last flush, or None."""
        for name, buf in self.losses.items():
            n = self.slot[name]
            if n == 0:
                continue
            bad = ~torch.isfinite(buf[:n])
            if bool(bad.any()):
                i = int(torch.nonzero(bad)[0])
                return name, int(self.steps[name][i]), float(buf[i])
        return None

    def flush(self) -> dict[str, float]:
        """Means since the last flush, as ``{"train/<update>/<metric>": value}``; then reset."""
        out = {}
        single = len(self.losses) == 1
        for name, buf in self.losses.items():
            n = self.slot[name]
            if n == 0:
                continue
            prefix = "train/" if single else f"train/{name}/"
            out[prefix + "loss"] = float(buf[:n].mean())
            for k, v in self.sums[name].items():
                out[prefix + k] = float(v) / self.counts[name]
            self.slot[name] = 0
            self.counts[name] = 0
            self.sums[name] = {}
        return out
