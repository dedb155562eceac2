"""Checkpoints: tensors in safetensors, everything else in JSON, written atomically.

A checkpoint at step ``s`` is the pair ``ckpt-<s>.safetensors`` + ``ckpt-<s>.json``; the
pointer ``latest.json`` is replaced (atomic rename) only after both are on disk, so a run
killed at any instant leaves the previous checkpoint intact. Nothing is ever unpickled.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from paperzoo.results import atomic_write_text

_T = "__tensor__"


def _flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested structure by a reference into ``tensors``."""
    if isinstance(obj, torch.Tensor):
        key = prefix or "_"
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {_T: key}
    if isinstance(obj, dict):
        keys = list(obj)
        out = {"__keys__": [[type(k).__name__, k] for k in keys], "__vals__": []}
        for i, k in enumerate(keys):
            out["__vals__"].append(_flatten(obj[k], f"{prefix}.{i}", tensors))
        return out
    if isinstance(obj, (list, tuple)):
        return {"__seq__": type(obj).__name__, "items": [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, float) and obj != obj:
        return {"__float__": "nan"}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint: cannot store {type(obj).__name__} at {prefix!r} (only tensors, dicts, "
                    f"lists and JSON scalars)")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _T in obj:
            return tensors[obj[_T]]
        if "__keys__" in obj:
            keys = [int(k) if t == "int" else k for t, k in obj["__keys__"]]
            return {k: _unflatten(v, tensors) for k, v in zip(keys, obj["__vals__"])}
        if "__seq__" in obj:
            items = [_unflatten(v, tensors) for v in obj["items"]]
            return tuple(items) if obj["__seq__"] == "tuple" else items
        if "__float__" in obj:
            return float(obj["__float__"])
    return obj


def save_checkpoint(run_dir: str | os.PathLike, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` (nested dicts of tensors and JSON values) as checkpoint ``step``."""
    run_dir = Path(run_dir)
    ck = run_dir / "ckpt"
    ck.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    meta = _flatten(state, "s", tensors)
    st = ck / f"ckpt-{step}.safetensors"
    tmp = ck / f".ckpt-{step}.safetensors.tmp"
    save_file(tensors, tmp)
    os.replace(tmp, st)
    atomic_write_text(ck / f"ckpt-{step}.json", json.dumps({"step": step, "state": meta}))
    atomic_write_text(ck / "latest.json", json.dumps({"step": step}))
    steps = sorted(int(p.stem.split("-")[1]) for p in ck.glob("ckpt-*.json"))
    for old in steps[:-keep]:
        for suffix in (".json", ".safetensors"):
            (ck / f"ckpt-{old}{suffix}").unlink(missing_ok=True)
    return st


def latest_step(run_dir: str | os.PathLike) -> int | None:
    p = Path(run_dir) / "ckpt" / "latest.json"
    if not p.is_file():
        return None
    return int(json.loads(p.read_text())["step"])


def load_checkpoint(run_dir: str | os.PathLike, step: int | None = None) -> tuple[int, dict[str, Any]]:
    """Load checkpoint ``step`` (default: the latest); returns ``(step, state)``."""
    run_dir = Path(run_dir)
    step = latest_step(run_dir) if step is None else step
    if step is None:
        raise FileNotFoundError(f"{run_dir}: no checkpoint to resume from")
    ck = run_dir / "ckpt"
    meta = json.loads((ck / f"ckpt-{step}.json").read_text())
    tensors = load_file(ck / f"ckpt-{step}.safetensors")
    return step, _unflatten(meta["state"], tensors)


def rng_state() -> dict[str, Any]:
    s = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s: dict[str, Any]) -> None:
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])
