"""``RunContext``: what a paper's ``reproduce.run(ctx)`` gets from the kernel."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import torch

from ..results import atomic_write_text
from .log import MetricsLog, Progress, track
from .seed import seed_everything


@dataclass
class RunContext:
    """Protocol, seed, device and run directory of one reproduction.

    ``ctx.progress(...)`` gives the shared progress bar, ``ctx.log(...)`` writes the run's
    JSONL metrics, ``ctx.details`` / ``ctx.note(...)`` end up in the ``Result``, and
    ``ctx.run_dir(name)`` is a sub-folder for a resumable sub-run (checkpoints live there).
    """

    protocol: str
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    out: Path = Path("runs/default")
    resume: bool = False
    show_progress: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self._log = MetricsLog(self.out / "metrics.jsonl")

    def seed_all(self, offset: int = 0) -> torch.Generator:
        """Seed every RNG with ``seed + offset``; return a generator seeded alike."""
        return seed_everything(self.seed + offset)

    def generator(self, offset: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 7_919 + offset)

    def log(self, **row: Any) -> None:
        self._log.write(**row)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def progress(self, iterable: Iterable | None = None, total: int | None = None, desc: str = ""):
        """Wrap an iterable in a progress bar, or return a ``Progress`` to advance by hand."""
        if iterable is None:
            return Progress(total, desc, self.show_progress)
        return track(iterable, total, desc, self.show_progress)

    def run_dir(self, name: str) -> Path:
        p = self.out / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def cached(self, name: str, compute):
        """Resumable unit of work: return the JSON stored under ``name`` if this run already
        finished it (and ``resume`` is on), else compute, store atomically and return it."""
        path = self.out / "parts" / f"{name}.json"
        if self.resume and path.is_file():
            return json.loads(path.read_text())
        value = compute()
        atomic_write_text(path, json.dumps(value))
        return value
