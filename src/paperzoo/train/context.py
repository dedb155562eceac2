"""``RunContext``: what a paper's ``reproduce.run(ctx, cfg)`` gets from the kernel."""
from __future__ import annotations

import contextlib
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch

from paperzoo.results import atomic_write_text
from paperzoo.train.log import MetricsLog, Progress, track
from paperzoo.train.seed import seed_everything


def derive_seed(seed: int, name: str) -> int:
    """A child seed that depends only on the parent seed and the child's name (stable across runs
    and Python versions: crc32, not ``hash``)."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1)


@dataclass
class RunContext:
    """Protocol, seed, device and run directory of one reproduction (or one sub-run of it).

    ``ctx.progress(...)`` gives the shared progress bar, ``ctx.log(...)`` writes the run's JSONL
    metrics, ``ctx.table(...)`` / ``ctx.curve(...)`` store typed outputs that ``paperzoo report``
    draws, ``ctx.details`` / ``ctx.note(...)`` end up in the ``Result``, ``ctx.sub(name)`` is a child
    run with its own folder and derived seed, and ``ctx.cached(name, fn)`` a resumable unit of work.
    """

    protocol: str
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    out: Path = Path("runs/default")
    resume: bool = False
    show_progress: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tables: dict[str, dict] = field(default_factory=dict)
    curves: dict[str, dict] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.device = torch.device(self.device)
        self._log = MetricsLog(self.out / "metrics.jsonl")

    # ------------------------------------------------------------------ children and seeds
    def sub(self, name: str) -> "RunContext":
        """A child context: folder ``out/name``, seed ``derive_seed(seed, name)``, the same device,
        resume flag and progress setting; its tables, curves, details and notes go to this run's."""
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"sub-run name must be a plain folder name, got {name!r}")
        child = RunContext(protocol=self.protocol, seed=derive_seed(self.seed, name), device=self.device,
                           out=self.out / name, resume=self.resume, show_progress=self.show_progress,
                           details=self.details, notes=self.notes, tables=self.tables, curves=self.curves,
                           name=f"{self.name}/{name}" if self.name else name)
        child.out.mkdir(parents=True, exist_ok=True)
        return child

    def seed_all(self, offset: int = 0) -> torch.Generator:
        """Seed every RNG with ``seed + offset``; return a generator seeded alike."""
        return seed_everything(self.seed + offset)

    def generator(self, offset: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 7_919 + offset)

    @contextlib.contextmanager
    def threads(self, n: int | None):
        """Run the block with ``n`` intra-op CPU threads (no-op off the CPU or for None); restored on exit."""
        old = torch.get_num_threads()
        if n is not None and self.device.type == "cpu":
            torch.set_num_threads(int(n))
        try:
            yield
        finally:
            torch.set_num_threads(old)

    # ------------------------------------------------------------------ outputs
    def log(self, **row: Any) -> None:
        self._log.write(**row)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self, name: str, rows: Sequence[Mapping[str, Any]], *, caption: str = "") -> None:
        """Store a table (a list of rows with the same keys) in the Result; ``report`` renders it."""
        rows = [dict(r) for r in rows]
        if not rows:
            raise ValueError(f"table {name!r}: no rows")
        cols = list(rows[0])
        for i, r in enumerate(rows):
            if list(r) != cols:
                raise ValueError(f"table {name!r}: row {i} has columns {list(r)}, expected {cols}")
        self.tables[self._key(name)] = {"columns": cols, "rows": [[_plain(r[c]) for c in cols] for r in rows],
                                        "caption": caption}

    def curve(self, name: str, x: Sequence[float], ys: Mapping[str, Sequence[float]], *, xlabel: str = "x",
              ylabel: str = "y", title: str = "", logx: bool = False, logy: bool = False,
              hline: float | None = None) -> None:
        """Store curves ``ys[label]`` over ``x`` in the Result; ``report`` draws them as one plot.
        ``hline`` marks a reference value (e.g. the paper's number)."""
        x = [_plain(v) for v in x]
        series = {}
        for label, y in ys.items():
            y = [_plain(v) for v in y]
            if len(y) != len(x):
                raise ValueError(f"curve {name!r}: series {label!r} has {len(y)} points, x has {len(x)}")
            series[str(label)] = y
        self.curves[self._key(name)] = {"x": x, "ys": series, "xlabel": xlabel, "ylabel": ylabel,
                                        "title": title or name, "logx": logx, "logy": logy, "hline": hline}

    def _key(self, name: str) -> str:
        return f"{self.name}/{name}" if self.name else name

    # ------------------------------------------------------------------ progress, folders, resume
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


def _plain(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.item() if v.numel() == 1 else v.tolist()
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v
