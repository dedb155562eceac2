"""The information-plane probe: I(X;T) and I(T;Y) of the layers of any classifier on a data set, by the
paper's binning estimator and the KDE upper bound (Saxe et al. 2018), built on ``paperzoo.nn.collect_features``.

T is a representation the model computes: by default the tensor entering every ``nn.Linear`` (for an MLP
the post-activation hidden layers, the first being the flattened input itself, the anchor I(X;T) = log2 N)
and the model's output; without any ``nn.Linear``, the tensors entering every ``nn.Conv2d``. X is the set of
probe inputs with p(x) uniform (N distinct samples), so I(X;T) <= log2 N, and I(T;Y) <= H(Y).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from paperzoo.nn import as_xy, collect_features
from paperzoo.papers.information_plane.estimators import binned_mi, entropy_bits, kde_mi
from paperzoo.registry import register_probe

__all__ = ["default_layers", "information_plane", "layer_information_of"]

OUTPUT = "output"


def default_layers(model: nn.Module) -> list[str]:
    """Names of the modules whose *input* is probed: every ``nn.Linear``, else every ``nn.Conv2d``."""
    for kind in (nn.Linear, nn.Conv2d):
        names = [k for k, m in model.named_modules() if isinstance(m, kind)]
        if names:
            return names
    return []


def layer_information_of(model: nn.Module, data: Any, *, layers: Sequence[str] | None = None, n_bins: int = 30,
                         noise_var: float | None = 0.1, batch_size: int = 1000) -> dict[str, dict[str, float]]:
    """``{layer: {"I_XT", "I_TY", "kde_I_XT", "kde_I_TY"}}`` in bits.

    ``layers``: module names whose input is T (``"output"``: the model's output); default ``default_layers``
    plus ``"output"``. Binning: ``n_bins`` edges on each layer's own [min, max] (a generic model's units are
    not bounded to [-1, 1]); KDE upper bound with ``noise_var`` (None: skip it).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"information-plane probe: model must be an nn.Module, got {type(model).__name__}")
    x, y = as_xy(data)
    if y is None:
        raise ValueError("information-plane probe needs labels for I(T;Y): pass (x, y) or a TensorSet")
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or len(x) != len(y):
        raise ValueError(f"probe data: x must be a batched tensor with one label per sample, got x "
                         f"{tuple(getattr(x, 'shape', ()))} and {len(y)} labels")
    if len(x) < 2:
        raise ValueError(f"information-plane probe needs at least 2 samples, got {len(x)}")
    if isinstance(layers, str):
        raise ValueError(f"layers must be a list of module names, got the string {layers!r}")
    names = list(default_layers(model)) + [OUTPUT] if layers is None else list(layers)
    if not names:
        raise ValueError("layers: give at least one module name")
    inner = [n for n in names if n != OUTPUT]
    feats = collect_features(model, x, inner, which="input", batch_size=batch_size) if inner else {}
    if OUTPUT in names:
        feats[OUTPUT] = collect_features(model, x, [model], which="output", batch_size=batch_size)["<model>"]
    y = y.reshape(-1).long().cpu()
    out = {}
    for name in names:
        t = feats[name].double()
        if not torch.isfinite(t).all():
            raise ValueError(f"layer {name!r}: activations contain NaN/inf")
        i_xt, i_ty = binned_mi(t, y, n_bins=n_bins, lo=None, hi=None)
        row = {"I_XT": i_xt, "I_TY": i_ty}
        if noise_var is not None:
            row["kde_I_XT"], row["kde_I_TY"] = kde_mi(t, y, noise_var=noise_var)
        out[name] = row
    return out


@register_probe("information-plane", kinds=("classification",), pair=False)
def information_plane(model: nn.Module, data: Any, *, layers: Sequence[str] | None = None, n_bins: int = 30,
                      noise_var: float | None = 0.1, batch_size: int = 1000) -> dict[str, float]:
    """I(X;T) and I(T;Y) (bits) per layer of any classifier: binned (paper's estimator, 30 bins on the layer's
    own range) and the KDE upper bound (noise variance 0.1, Saxe et al.).

    Keys ``"I_XT@<layer>"``, ``"I_TY@<layer>"``, ``"kde_I_XT@<layer>"``, ``"kde_I_TY@<layer>"``; ``"log2_N"`` and
    ``"H_Y"`` (the ceilings); plain ``"I_XT"`` / ``"I_TY"`` ... are those of the last probed layer.
    """
    per = layer_information_of(model, data, layers=layers, n_bins=n_bins, noise_var=noise_var, batch_size=batch_size)
    _, y = as_xy(data)
    out = {"log2_N": math.log2(len(y)), "H_Y": entropy_bits(torch.unique(y.reshape(-1), return_counts=True)[1])}
    for name, row in per.items():
        out.update({f"{k}@{name}": float(v) for k, v in row.items()})
    out.update({k: float(v) for k, v in list(per.values())[-1].items()})
    return out
