"""``paperzoo.reproduce``: run a paper's protocol and judge its claims."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from .registry import get_paper
from .results import Result, atomic_write_text, device_name, git_commit, judge
from .train.context import RunContext
from .train.seed import choose_device


def project_root() -> Path:
    """The repository root (holds ``results/``): ``$PAPERZOO_ROOT``, else the checkout this
    package lives in, else the current directory."""
    env = os.environ.get("PAPERZOO_ROOT")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for p in here.parents:
        if (p / "pyproject.toml").is_file() and (p / "src" / "paperzoo").is_dir():
            return p
    return Path.cwd()


def reproduce(slug: str, protocol: str = "cpu", seed: int = 0, *, device: str = "auto", out: str | Path | None = None,
              resume: bool = False, record: bool = False, progress: bool | None = None,
              results_dir: str | Path | None = None) -> Result:
    """Run ``protocol`` (smoke | cpu | full) of paper ``slug`` and return its ``Result``.

    ``out`` is the run directory (default ``runs/<slug>/<protocol>-seed<seed>``); ``resume``
    continues a killed run there; ``record`` writes ``results/<slug>/<protocol>-<device>.json``.
    """
    paper = get_paper(slug)
    if protocol not in paper.protocols:
        raise ValueError(f"{paper.slug}: unknown protocol {protocol!r}; this paper has "
                         f"{', '.join(paper.protocols)}")
    dev = choose_device(device)
    out = Path(out) if out is not None else project_root() / "runs" / paper.slug / f"{protocol}-seed{seed}"
    config = {"slug": paper.slug, "protocol": protocol, "seed": seed}
    cfg_path = out / "config.json"
    if resume and cfg_path.is_file():
        old = json.loads(cfg_path.read_text())
        if old != config:
            raise ValueError(f"--resume: {out} holds a run of {old}, not {config}; use another --out")
    elif resume and not out.exists():
        raise ValueError(f"--resume: no run directory {out} to resume; drop --resume to start fresh")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg_path, json.dumps(config))
    if not resume:
        (out / "metrics.jsonl").unlink(missing_ok=True)

    ctx = RunContext(protocol=protocol, seed=seed, device=dev, out=out, resume=resume, show_progress=progress)
    ctx.seed_all()
    t0 = time.perf_counter()
    metrics = paper.runner()(ctx)
    wall = time.perf_counter() - t0
    metrics = {k: float(v) for k, v in metrics.items()}
    result = Result(
        slug=paper.slug, protocol=protocol, seed=seed, metrics=metrics,
        verdicts=judge(paper.claims, metrics, protocol), wall_seconds=round(wall, 2),
        device=dev.type, device_name=device_name(dev), torch_version=torch.__version__,
        git_commit=git_commit(project_root()), details=ctx.details,
        notes=ctx.notes + [f"python {platform.python_version()}, {torch.get_num_threads()} torch threads"])
    result.save(out / "result.json")
    if record:
        result.save(result.record_path(results_dir or project_root() / "results"))
    return result
