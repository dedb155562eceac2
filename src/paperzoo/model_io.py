"""Saved models: weights in safetensors, the recipe to rebuild them in JSON (never a pickle).

``save_model(folder, model, name="mlp_linear_head", kwargs={...})`` writes ``model.safetensors`` and
``model.json`` (registered model name, constructor keywords, input normalisation, parameter count);
``load_model(folder)`` rebuilds the model through the registry and loads the weights strictly.
``resolve_model(spec)`` accepts a registered model name (fresh initialisation) or such a folder.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from paperzoo.nn.budget import count_params
from paperzoo.registry import _REG, _discover, create_model
from paperzoo.results import atomic_write_text


def save_model(folder: str | Path, model: torch.nn.Module, *, name: str, kwargs: dict[str, Any] | None = None,
               input_norm: tuple[float, float] | None = None, extra: dict[str, Any] | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = folder / ".model.safetensors.tmp"
    save_file(tensors, tmp)
    tmp.replace(folder / "model.safetensors")
    meta = {"model": name, "kwargs": kwargs or {}, "input_norm": list(input_norm) if input_norm else None,
            "params": count_params(model), **(extra or {})}
    atomic_write_text(folder / "model.json", json.dumps(meta, indent=2))
    return folder


def load_model(folder: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """``(model in eval mode, metadata)`` from a folder written by ``save_model``."""
    folder = Path(folder)
    meta_p, st_p = folder / "model.json", folder / "model.safetensors"
    for p in (meta_p, st_p):
        if not p.is_file():
            raise FileNotFoundError(f"{folder}: not a saved paperzoo model (missing {p.name})")
    try:
        meta = json.loads(meta_p.read_text())
        name, kwargs = meta["model"], dict(meta["kwargs"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{meta_p}: corrupt model metadata ({e})") from e
    model = create_model(name, **kwargs)
    state = load_file(st_p)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want != got:
        diff = sorted(set(want.items()) ^ set(got.items()))[:4]
        raise ValueError(f"{folder}: weights do not fit {name}({kwargs}); first differences {diff}")
    model.load_state_dict(state)
    return model.eval(), meta


def resolve_model(spec: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A registered model name (built from defaults, fresh weights) or a saved-model folder."""
    _discover()
    if spec in _REG.models:
        return create_model(spec).eval(), {"model": spec, "kwargs": {}, "input_norm": None, "fresh": True}
    if Path(spec).exists():
        return load_model(spec)
    from paperzoo.names import unknown

    raise unknown("model or checkpoint folder", spec, _REG.models, "give a registered name or a folder with model.json")


def same_architecture(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa = {k: tuple(v.shape) for k, v in a.state_dict().items()}
    sb = {k: tuple(v.shape) for k, v in b.state_dict().items()}
    return sa == sb
