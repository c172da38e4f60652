"""Per-step metrics as JSONL (always) and TensorBoard (optionally), plus a timer for the step split.

JSONL is the record of truth: one object per line, flushed each step, so a killed run keeps every step
it finished and `pandas.read_json(path, lines=True)` reads a run without this package.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from train.errors import SetupError


class MetricsLogger:
    def __init__(self, output_dir: Path, tensorboard: bool = False, resume_step: int = 0) -> None:
        self.path = output_dir / "metrics.jsonl"
        output_dir.mkdir(parents=True, exist_ok=True)
        if resume_step and self.path.exists():
            self._truncate_after(resume_step)
        self.handle = self.path.open("a", encoding="utf-8")
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise SetupError("log.tensorboard=true needs the tensorboard package: install it, "
                                 "or set log.tensorboard=false") from None
            self.writer = SummaryWriter(str(output_dir / "tensorboard"))

    def _truncate_after(self, step: int) -> None:
        """Drop lines for steps after the checkpoint we resume from: they will be run again."""
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a kill
            if row.get("step", 0) <= step:
                kept.append(line)
        self.path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")

    def log(self, row: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        self.handle.write(json.dumps(clean) + "\n")
        self.handle.flush()
        if self.writer is not None and "step" in row:
            for key, value in row.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step":
                    self.writer.add_scalar(key, value, row["step"])
            self.writer.flush()

    def close(self) -> None:
        self.handle.close()
        if self.writer is not None:
            self.writer.close()


class StepTimer:
    """Wall-clock seconds per named phase; synchronises CUDA so GPU work is charged to its phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        try:
            yield
        finally:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.seconds[name] += time.perf_counter() - start

    def as_metrics(self) -> dict[str, float]:
        return {f"time_{name}": round(value, 4) for name, value in self.seconds.items()}


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Every complete line of a metrics.jsonl (a torn last line is skipped)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
