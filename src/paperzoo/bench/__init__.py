"""Benchmark machinery shared by every side-by-side measurement: a timer and CSV writing."""
from __future__ import annotations

import csv
import io
import statistics
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from paperzoo.results import atomic_write_text, device_name, git_commit


def time_fn(fn: Callable[[], object], *, repeats: int = 20, warmup: int = 3, device: str | torch.device = "cpu") -> dict:
    """Median / min / mean wall time of ``fn()`` in milliseconds (CUDA-synchronised when on GPU)."""
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "mean_ms": statistics.fmean(times),
            "repeats": repeats}


def bench_csv_path(root: str | Path, name: str, device: str | torch.device = "cpu") -> Path:
    """``<root>/results/bench/<name>-<device type>.csv``."""
    return Path(root) / "results" / "bench" / f"{name}-{torch.device(device).type}.csv"


def write_csv(path: str | Path, rows: Sequence[dict], device: str | torch.device = "cpu") -> Path:
    """Write ``rows`` atomically with provenance columns (device name, torch, commit)."""
    if not rows:
        raise ValueError("no rows to write")
    from paperzoo.api import project_root

    prov = {"device_name": device_name(device), "torch": torch.__version__,  # dirty = the code, not results/
            "commit": git_commit(project_root(), ["src", "pyproject.toml"])}
    fields = list(rows[0]) + [k for k in prov if k not in rows[0]]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for r in rows:
        w.writerow({**prov, **r})
    atomic_write_text(path, buf.getvalue())
    return Path(path)


def bench_start(who: str, against: str | None, expected: str, root: str | Path | None = None, *,
                module: str | None = None, install: str | None = None) -> Path:
    """The common start of a paper's ``bench.run``: ``--against`` must name ``expected`` (None means it), the
    other library ``module`` must import (quietly; ``install`` is the pip hint in the error), and the results
    root defaults to the project's. Returns the root."""
    against = against or expected
    if against != expected:
        raise ValueError(f"{who} bench: --against must be {expected!r}, got {against!r}")
    if module is not None:
        import contextlib
        import importlib

        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                importlib.import_module(module)
        except ImportError as e:
            raise ImportError(f"{who} bench needs {expected}: pip install {install or module} ({e})") from e
    if root is None:
        from paperzoo.api import project_root

        root = project_root()
    return Path(root)


def find_bench(slug: str) -> Callable[..., Path]:
    """The ``run(*, against=None, root=None) -> Path`` of paper ``slug``'s ``bench.py``."""
    import importlib

    from paperzoo.registry import get_paper

    paper = get_paper(slug)
    try:
        mod = importlib.import_module(f"{paper.package}.bench")
    except ModuleNotFoundError as e:
        if e.name == f"{paper.package}.bench":
            raise KeyError(f"paper {paper.slug!r} has no benchmark (no bench.py in its package)") from None
        raise
    return mod.run


def benches() -> list[str]:
    """Slugs of the papers whose package has a ``bench.py``."""
    import importlib.util

    from paperzoo.registry import list_papers

    return [p.slug for p in list_papers() if importlib.util.find_spec(f"{p.package}.bench") is not None]
