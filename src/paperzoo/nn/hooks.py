"""Feature extraction from any model by forward hooks (for probes that run on any model)."""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


def _resolve(model: nn.Module, layers: Iterable[str | nn.Module]) -> dict[str, nn.Module]:
    named = dict(model.named_modules())
    out = {}
    for layer in layers:
        if isinstance(layer, nn.Module):
            name = next((k for k, v in named.items() if v is layer), None)
            if name is None:
                raise ValueError("layer module is not part of the model")
            out[name or "<model>"] = layer
        elif layer in named:
            out[layer] = named[layer]
        else:
            from paperzoo.names import did_you_mean

            raise KeyError(f"model has no submodule {layer!r}{did_you_mean(layer, [k for k in named if k], cutoff=0.6)}")
    return out


@torch.no_grad()
def collect_features(model: nn.Module, inputs: torch.Tensor | Iterable, layers: Iterable[str | nn.Module], *,
                     batch_size: int = 1000, which: str = "input") -> dict[str, torch.Tensor]:
    """Run ``model`` on ``inputs`` and return, per named layer, the tensor entering it
    (``which="input"``) or leaving it (``which="output"``), flattened to (N, -1), on the CPU.

    ``inputs`` is a tensor (batched here) or an iterable of input batches / (x, y) pairs.
    """
    if which not in ("input", "output"):
        raise ValueError(f"which must be 'input' or 'output', got {which!r}")
    mods = _resolve(model, layers)
    store: dict[str, list[torch.Tensor]] = {k: [] for k in mods}

    def hook(name):
        def fn(_m, args, out):
            t = args[0] if which == "input" else out
            store[name].append(t.detach().flatten(1).cpu())
        return fn

    handles = [m.register_forward_hook(hook(k)) for k, m in mods.items()]
    was = model.training
    model.eval()
    dev = next(model.parameters()).device if any(True for _ in model.parameters()) else torch.device("cpu")
    try:
        if isinstance(inputs, torch.Tensor):
            batches = (inputs[i:i + batch_size] for i in range(0, len(inputs), batch_size))
        else:
            batches = (b[0] if isinstance(b, (tuple, list)) else b for b in inputs)
        for xb in batches:
            model(xb.to(dev))
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    return {k: torch.cat(v) for k, v in store.items()}


def as_xy(data) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Probe data as ``(x, y)``: accepts a ``TensorSet``/``Splits.test``-like object with ``.x``/``.y``,
    a tuple ``(x, y)``, or a bare input tensor (``y = None``)."""
    if isinstance(data, torch.Tensor):
        return data, None
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1]
    if hasattr(data, "x") and hasattr(data, "y"):
        return data.x, data.y
    raise TypeError(f"probe data must be a tensor, an (x, y) pair or a TensorSet, got {type(data).__name__}")


def last_linear(model: nn.Module) -> str:
    """Name of the model's last ``nn.Linear`` (its input is the penultimate feature a probe reads)."""
    names = [k for k, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer; pass layers=[...] explicitly")
    return names[-1]
