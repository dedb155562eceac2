"""The ``alignment`` probe: how well the units of two same-architecture models match, per layer (Sec. 3).

For each layer, the between-model correlation of its output units over the inputs (conv maps: every
image and position is an observation, ``stats.to_units``), then the mean matched correlation of the
semi-matching and of the max-weight bipartite matching, and the fraction of units where both pick the
same partner (the official notebook's per-layer printout). Built on ``paperzoo.nn.collect_features``
(layer outputs), streamed batch by batch into float64 sums, so memory does not grow with the data.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from paperzoo.nn import as_xy, collect_features
from paperzoo.papers.convergent_learning.matching import match_summary
from paperzoo.papers.convergent_learning.stats import ActivationStats, n_obs, to_units
from paperzoo.registry import register_probe

__all__ = ["alignment", "default_layers", "layer_stats"]

_CHANNELS_LAST = (nn.Linear, nn.LayerNorm)


def default_layers(model: nn.Module) -> list[str]:
    """Every ``nn.Conv1d`` / ``nn.Conv2d`` / ``nn.Linear`` of ``model`` in module order, else its top-level
    children with parameters (their outputs are analysed; name ReLU modules for post-ReLU units, as the paper)."""
    names = [k for k, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]
    if not names:  # e.g. a KAN of custom layers: its top-level blocks that hold parameters
        names = [k for k, m in model.named_children() if any(True for _ in m.parameters())]
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d / nn.Linear layer or parametrised block; "
                         f"pass layers=[...] explicitly")
    return names


@torch.no_grad()
def _shapes(model: nn.Module, x1: torch.Tensor, names: list[str]) -> dict[str, tuple[tuple[int, ...], bool]]:
    """Per-sample output shape of each named module and whether its units are the last axis."""
    mods = dict(model.named_modules())
    out: dict[str, tuple[tuple[int, ...], bool]] = {}

    def hook(name):
        def fn(m, _args, o):
            out.setdefault(name, (tuple(o.shape[1:]), isinstance(m, _CHANNELS_LAST)))
        return fn

    hooks = [mods[n].register_forward_hook(hook(n)) for n in names]
    was = model.training
    model.eval()
    try:
        model(x1.to(next(model.parameters()).device) if any(True for _ in model.parameters()) else x1)
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    missing = [n for n in names if n not in out]
    if missing:
        raise ValueError(f"layers {missing} were not called in the forward pass")
    return out


def _forward_error(e: Exception, x: torch.Tensor) -> ValueError:
    return ValueError(f"alignment probe: the model failed on data of shape {tuple(x.shape)} ({type(e).__name__}: {e}); "
                      f"pass inputs shaped as the model expects")


def layer_stats(models: Sequence[nn.Module], x: torch.Tensor, layers: Sequence[str], *, batch_size: int = 500,
                full: bool = True, max_obs: int | None = None, seed: int = 0) -> dict[str, ActivationStats]:
    """``ActivationStats`` of ``layers`` (module names, outputs read) for all ``models`` on the inputs ``x``,
    every model seeing the same batch; conv maps contribute one observation per image and position.

    ``max_obs``: keep at most about this many observations per layer (the same random positions for every
    model, drawn per batch from ``seed``); ``None`` keeps all, as the paper. ``full``: see ``ActivationStats``.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2 or len(x) < 2:
        raise ValueError(f"data must be a float tensor (N >= 2, ...), got "
                         f"{type(x).__name__}{tuple(x.shape) if isinstance(x, torch.Tensor) else ''}")
    if not torch.isfinite(x).all():
        raise ValueError("data contains NaN/inf")
    layers = list(layers)
    stats = {n: ActivationStats(full=full) for n in layers}
    g = torch.Generator().manual_seed(seed)
    shapes = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        feats = []
        for m in models:
            try:
                f = collect_features(m, xb, layers, which="output", batch_size=len(xb))
                if i == 0:
                    shapes.append(_shapes(m, xb[:1], layers))
            except (RuntimeError, IndexError) as e:
                raise _forward_error(e, x) from e
            feats.append(f)
        for n in layers:
            shape, last = shapes[0][n]
            rows = len(xb) * n_obs(shape, last)
            keep = rows if max_obs is None else -(-max_obs * len(xb) // len(x))
            idx = torch.randperm(rows, generator=g)[:keep].sort().values if keep < rows else None
            stats[n].update(*[to_units(f[n], shapes[k][n][0], channels_last=shapes[k][n][1], index=idx)
                              for k, f in enumerate(feats)])
    return stats


def _check_pair(a: nn.Module, b: nn.Module) -> None:
    for m in (a, b):
        if not isinstance(m, nn.Module):
            raise TypeError(f"alignment probe: models must be nn.Modules, got {type(m).__name__}")
    sa = {k: tuple(v.shape) for k, v in a.state_dict().items()}
    sb = {k: tuple(v.shape) for k, v in b.state_dict().items()}
    if sa != sb:
        diff = sorted(set(sa.items()) ^ set(sb.items()))[:4]
        raise ValueError(f"alignment probe: the two models' parameter shapes differ (first differences {diff})")


@register_probe("alignment", kinds=("classification",), pair=True)
def alignment(model: nn.Module, data: Any, *, layers: Sequence[str] | None = None, other: nn.Module | None = None,
              batch_size: int = 500, max_obs: int | None = 100_000) -> dict[str, float]:
    """Per-layer unit alignment of ``model`` and ``other`` (same architecture) on ``data``.

    ``data``: an input tensor, an ``(x, y)`` pair or a ``TensorSet`` (labels unused). ``layers``: module
    names (default: every ``nn.Conv2d`` / ``nn.Linear``, outputs). Keys per layer L: ``semi@L``,
    ``bipartite@L`` (mean matched correlation), ``same_partner@L``, ``bipartite_min@L``, ``dead@L`` (fraction
    of units of either model with zero variance); and ``semi_mean`` / ``bipartite_mean`` over layers.
    ``max_obs``: at most about this many (image, position) observations per layer (random positions, the
    same for both models; ``None`` = all, as the paper; 100k keeps a CNN on 2,000 MNIST images fast).
    """
    if other is None:
        raise ValueError("alignment probe compares two models: pass other=<a second model of the same architecture>")
    _check_pair(model, other)
    x, _ = as_xy(data)
    names = default_layers(model) if layers is None else list(layers)
    if isinstance(layers, str) or not names:
        raise ValueError(f"layers must be a non-empty list of module names, got {layers!r}")
    stats = layer_stats([model, other], x, names, batch_size=batch_size, full=False, max_obs=max_obs)
    out: dict[str, float] = {}
    for n in names:
        s = stats[n]
        summ = match_summary(s.corr(0, 1), ~s.dead(0), ~s.dead(1))
        out |= {f"semi@{n}": summ["semi"], f"bipartite@{n}": summ["bipartite"], f"same_partner@{n}": summ["same_partner"],
                f"bipartite_min@{n}": summ["bipartite_min"],
                f"dead@{n}": float(torch.cat([s.dead(0), s.dead(1)]).double().mean())}
    out["semi_mean"] = sum(out[f"semi@{n}"] for n in names) / len(names)
    out["bipartite_mean"] = sum(out[f"bipartite@{n}"] for n in names) / len(names)
    return out
