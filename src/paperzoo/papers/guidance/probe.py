"""The ``guidance-cka`` probe: layer-matched linear CKA between two models (target and guide), as the
guidance loss pairs them (official ``rep_sim/layer_sim.py``), on any registered classifier or checkpoint."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from paperzoo.nn import as_xy, collect_features
from paperzoo.papers.guidance.cka import linear_cka, supervised_pairs
from paperzoo.registry import register_probe

__all__ = ["PROBE_TYPES", "default_layers", "guidance_cka"]

# the official tap types whose output is one tensor per call (RNN / attention / decoder layers need the
# training-time ActivationTap, see GuidanceLoss)
PROBE_TYPES = (nn.Conv2d, nn.Linear, nn.AdaptiveAvgPool2d, nn.LayerNorm)


def default_layers(model: nn.Module) -> list[str]:
    """Names of the modules of an exact official tap type, in module order, without the last (official
    ``drop_last``: usually the logits)."""
    names = [k for k, m in model.named_modules() if type(m) in PROBE_TYPES]
    if len(names) < 2:
        raise ValueError(f"{type(model).__name__} has fewer than two Conv2d/Linear/pool/LayerNorm layers; "
                         f"pass layers=[...]")
    return names[:-1]


@register_probe("guidance-cka", kinds=("classification",), pair=True, same_arch=False)
def guidance_cka(model: nn.Module, data: Any, *, other: nn.Module | None = None,
                 layers: Sequence[str] | None = None, n: int = 2000) -> dict[str, float]:
    """Linear CKA of ``model`` (target) with ``other`` (guide) on the first ``n`` inputs of ``data``, per pair
    of the guidance paper's uniform layer map (guide tap i -> target tap round(i (n_T-1)/(n_G-1)), last writer
    wins); ``cka_mean`` over the pairs. Float64, eval mode, the whole input set as one batch."""
    if other is None:
        raise ValueError("guidance-cka compares two models: pass other=<the guide model>")
    x, _ = as_xy(data)
    x = x[:n]
    if len(x) < 2:
        raise ValueError("guidance-cka needs at least 2 inputs")
    t_names = list(layers) if layers is not None else default_layers(model)
    g_names = default_layers(other)
    ft = collect_features(model, x, t_names, which="output")
    fg = collect_features(other, x, g_names, which="output")
    out: dict[str, float] = {}
    for g, t in supervised_pairs(len(g_names), len(t_names)):
        out[f"cka/{t_names[t]}<-{g_names[g]}"] = float(linear_cka(ft[t_names[t]].double(), fg[g_names[g]].double()))
    vals = torch.tensor(list(out.values()), dtype=torch.float64)
    return {"cka_mean": float(vals.mean()), **out}
