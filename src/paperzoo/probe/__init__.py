"""``paperzoo probe NAME --model M [--other M2] --data D``: a registered probe on any model.

A model is a registered name (fresh initialisation: "is this initialisation critical?") or a folder
written by ``paperzoo.model_io.save_model`` (e.g. every model the arena trains). The data is a data
set's test split (the first ``n`` images), normalised the way the checkpoint was trained. The numbers
are printed, and written as JSON (with the model metadata and provenance) and a PNG bar chart.
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import torch

from paperzoo.model_io import resolve_model, same_architecture
from paperzoo.registry import get_probe
from paperzoo.results import atomic_write_text, git_commit


def probe_data(dataset: str, n: int, input_norm: list[float] | None) -> tuple[torch.Tensor, torch.Tensor]:
    from paperzoo.data import load

    test = load(dataset).test
    x, y = test.x[:n], test.y[:n]
    if input_norm:
        x = (x - input_norm[0]) / input_norm[1]
    return x, y


def run_probe(name: str, model: str, data: str | tuple, *, other: str | None = None, layers: list[str] | None = None,
              n: int = 2000, out: str | Path | None = None) -> dict[str, Any]:
    """Run probe ``name``; return ``{"metrics": {...}, ...}`` and write JSON + PNG under ``out``."""
    entry = get_probe(name)
    m, meta = resolve_model(model)
    kw: dict[str, Any] = {}
    if entry.pair:
        if other is None:
            raise ValueError(f"probe {name!r} compares two models: pass --other (a second checkpoint of the same "
                             f"architecture)")
        m2, meta2 = resolve_model(other)
        if entry.same_arch and not same_architecture(m, m2):
            raise ValueError(f"probe {name!r}: {model} ({meta['model']}) and {other} ({meta2['model']}) are not the "
                             f"same architecture (parameter names or shapes differ)")
        kw["other"] = m2
    elif other is not None:
        raise ValueError(f"probe {name!r} takes one model; drop --other")
    xy = probe_data(data, n, meta.get("input_norm")) if isinstance(data, str) else data
    if layers:
        kw["layers"] = layers
    metrics = {k: float(v) for k, v in entry.fn(m, xy, **kw).items()}
    record = {"probe": name, "model": model, "model_meta": meta, "other": other, "data": data if isinstance(data, str)
              else "tensors", "n": int(len(xy[0])), "layers": layers, "metrics": metrics, "git_commit": git_commit(),
              "torch": torch.__version__, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    if out is not None:
        out = Path(out)
        stem = f"{name}-{short_name(model)}"
        atomic_write_text(out / f"{stem}.json", json.dumps(record, indent=2, default=str))
        record["png"] = str(_bar_chart(metrics, out / f"{stem}.png", f"{name} on {short_name(model)}"))
        record["json"] = str(out / f"{stem}.json")
    return record


def short_name(spec: str) -> str:
    """A registered name as is; a checkpoint folder ``.../<run>/model`` as ``<run>``."""
    p = Path(spec)
    return p.parent.name if p.name == "model" and p.parent.name else p.name


def _bar_chart(metrics: dict[str, float], path: Path, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    keys = list(metrics)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(keys) + 1.2))
    ax.barh(keys, [metrics[k] for k in keys], color="#4477aa")
    ax.invert_yaxis()
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
