"""``paperzoo.reproduce``: run a paper's protocol and judge its claims."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Mapping

import torch

from paperzoo.config import apply_overrides, config_dict
from paperzoo.registry import get_paper
from paperzoo.results import Result, atomic_write_text, device_name, git_commit, judge
from paperzoo.train.context import RunContext
from paperzoo.train.seed import choose_device


def checkout_root() -> Path | None:
    """The source checkout this package lives in (holds ``results/``), or None when installed."""
    env = os.environ.get("PAPERZOO_ROOT")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for p in here.parents:
        if (p / "pyproject.toml").is_file() and (p / "src" / "paperzoo").is_dir():
            return p
    return None


def project_root() -> Path:
    """The repository root (holds ``results/``): ``$PAPERZOO_ROOT``, else the checkout this
    package lives in, else the current directory."""
    return checkout_root() or Path.cwd()


def runs_root() -> Path:
    """Where run folders go: ``<checkout>/runs`` in a checkout, else the user's cache folder
    (``$XDG_CACHE_HOME/paperzoo/runs``), never the current directory of an installed package."""
    root = checkout_root()
    if root is not None:
        return root / "runs"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "paperzoo" / "runs"


def code_paths(package: str) -> list[str]:
    """Pathspecs of the code a paper's run depends on: the kernel and faces, and its own package."""
    pkg = package.rsplit(".", 1)[-1]
    return ["src/paperzoo", ":(exclude)src/paperzoo/papers", f"src/paperzoo/papers/{pkg}", "pyproject.toml"]


def reproduce(slug: str, protocol: str = "cpu", seed: int = 0, *, overrides: Mapping[str, Any] | None = None,
              device: str = "auto", out: str | Path | None = None, resume: bool = False, record: bool = False,
              progress: bool | None = None, results_dir: str | Path | None = None) -> Result:
    """Run ``protocol`` (smoke | cpu | full) of paper ``slug`` and return its ``Result``.

    ``overrides`` replaces fields of the protocol's ``Config`` (strings are parsed to the field's
    type, as ``--set key=value`` does); the config that ran is stored in the result. ``out`` is the
    run directory (default ``runs/<slug>/<protocol>-seed<seed>``); ``resume`` continues a killed run
    there; ``record`` writes ``results/<slug>/<protocol>-<device>.json``.
    """
    paper = get_paper(slug)
    configs = paper.configs
    if protocol not in configs:
        raise ValueError(f"{paper.slug}: unknown protocol {protocol!r}; this paper has {', '.join(configs)}")
    cfg = apply_overrides(configs[protocol], overrides)
    dev = choose_device(device)
    out = Path(out) if out is not None else runs_root() / paper.slug / f"{protocol}-seed{seed}"
    run_id = {"slug": paper.slug, "protocol": protocol, "seed": seed, "config": config_dict(cfg)}
    cfg_path = out / "config.json"
    if resume and cfg_path.is_file():
        old = json.loads(cfg_path.read_text())
        if old != json.loads(json.dumps(run_id)):
            raise ValueError(f"--resume: {out} holds a run of {old}, not {run_id}; use another --out")
    elif resume and not out.exists():
        raise ValueError(f"--resume: no run directory {out} to resume; drop --resume to start fresh")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg_path, json.dumps(run_id))
    if not resume:
        (out / "metrics.jsonl").unlink(missing_ok=True)

    ctx = RunContext(protocol=protocol, seed=seed, device=dev, out=out, resume=resume, show_progress=progress)
    ctx.seed_all()
    threads = torch.get_num_threads()
    t0 = time.perf_counter()
    metrics = paper.runner()(ctx, cfg)
    wall = time.perf_counter() - t0
    metrics = {k: float(v) for k, v in metrics.items()}
    result = Result(
        slug=paper.slug, protocol=protocol, seed=seed, metrics=metrics,
        verdicts=judge(paper.claims, metrics, protocol), wall_seconds=round(wall, 2),
        device=dev.type, device_name=device_name(dev), torch_version=torch.__version__,
        git_commit=git_commit(project_root(), code_paths(paper.package)), config=config_dict(cfg),
        tables=ctx.tables, curves=ctx.curves,
        details=ctx.details,
        notes=ctx.notes + [f"python {platform.python_version()}, {threads} torch threads by default"
                           + (f", {cfg.threads} in the protocol (config.threads)" if getattr(cfg, "threads", None)
                              else "")]
        + ([f"overrides: {dict(overrides)}"] if overrides else []))
    result.save(out / "result.json")
    if record:
        result.save(result.record_path(results_dir or project_root() / "results"))
    return result
