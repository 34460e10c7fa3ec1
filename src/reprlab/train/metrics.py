"""Metric logging: a CSV always (one row per log step, columns added as metrics appear),
TensorBoard when installed."""

from __future__ import annotations

import csv
from pathlib import Path

from ..files import atomic_open


class MetricsLogger:
    """Rows of metrics in ``metrics.csv``, rewritten atomically at every log step."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, resume_step: int | None = None):
        self.path = run_dir / "metrics.csv"
        self.rows: list[dict] = []
        self.columns: list[str] = ["step"]
        if resume_step is not None and self.path.exists():
            # Keep what was logged up to the checkpoint we resume from; later rows are redone.
            with open(self.path, newline="") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or ["step"])
                self.rows = [r for r in reader if int(float(r["step"])) <= resume_step]
            self._rewrite()
        elif self.path.exists():
            self.path.unlink()
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:  # tensorboard not installed: the CSV is enough
                self.tb = None

    def _rewrite(self) -> None:
        # the whole file, to a temporary file renamed into place: a full disk or a kill never
        # leaves a half-written row (a few thousand rows at most: cheap next to a training step)
        with atomic_open(self.path, "w", newline="", fsync=False) as f:
            w = csv.DictWriter(f, fieldnames=self.columns)
            w.writeheader()
            w.writerows(self.rows)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        row = {"step": step, **{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in metrics.items()}}
        self.rows.append(row)
        self.columns += [k for k in row if k not in self.columns]
        self._rewrite()
        if self.tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()
