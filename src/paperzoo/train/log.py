"""Progress bars (rich) and the JSONL metrics log of a run."""
from __future__ import annotations

import json
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator


def _clean(v: Any) -> Any:
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


class MetricsLog:
    """Appends one JSON object per line to ``<run_dir>/metrics.jsonl``."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **row: Any) -> None:
        if self.path is None:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after ``step`` (used on resume, so the log has no duplicates)."""
        if self.path is None or not self.path.is_file():
            return
        rows = [r for r in self.path.read_text().splitlines() if r.strip()]
        keep = [r for r in rows if json.loads(r).get("step", -1) <= step]
        self.path.write_text("".join(r + "\n" for r in keep))

    def read(self) -> list[dict]:
        if self.path is None or not self.path.is_file():
            return []
        return [json.loads(r) for r in self.path.read_text().splitlines() if r.strip()]


def progress_enabled(flag: bool | None = None) -> bool:
    if flag is not None:
        return flag
    if os.environ.get("PAPERZOO_PROGRESS") in ("0", "false", "off"):
        return False
    return sys.stderr.isatty() or os.environ.get("PAPERZOO_PROGRESS") in ("1", "true", "on")


class Progress:
    """A thin rich progress bar: ``with Progress(total, "train") as p: p.advance(loss=0.3)``."""

    def __init__(self, total: int | None, desc: str = "", enabled: bool | None = None, start: int = 0):
        self.enabled = progress_enabled(enabled)
        self.total, self.desc, self.start = total, desc, start
        self._bar = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                     transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.desc, total=self.total, completed=self.start, info="")
        return self

    def advance(self, n: int = 1, **info: Any) -> None:
        if self._bar is not None:
            text = " ".join(f"{k}={_fmt(v)}" for k, v in info.items())
            self._bar.update(self._task, advance=n, info=text)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _fmt(v: Any) -> str:
    v = _clean(v)
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@contextmanager
def null_context() -> Iterator[None]:
    yield


def track(iterable: Iterable, total: int | None = None, desc: str = "", enabled: bool | None = None):
    """``for x in track(xs, desc="grid"):`` with a rich bar when enabled."""
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    with Progress(total, desc, enabled) as p:
        for x in iterable:
            yield x
            p.advance()
