"""The ``criticality`` probe: is this initialisation (or trained model) critical, measured on the data?

Book ch. 5: at criticality the preactivation kernel neither grows nor shrinks from layer to layer
(K^(l+1) / K^(l) -> 1) and the perpendicular susceptibility chi_perp = 1, so small input differences and
gradients keep their size through depth; off criticality they grow or decay like chi^L.

Measured here with ``paperzoo.nn.collect_features`` on the outputs (preactivations) of the chosen layers, in
forward order, for the data x and for x + delta, delta a small random perturbation orthogonal to each x
(|delta| = eps |x|, the book's "perpendicular" direction). Per layer l, with means over samples and units:

- K_l = mean z_l^2 (the kernel, per unit) and the variance ratio K_l / K_{l-1};
- chi_l = mean (dz_l)^2 / mean (dz_{l-1})^2, dz = z(x + delta) - z(x): the squared Jacobian-norm multiplier of the
  step from layer l-1 to layer l (a finite-difference Jacobian-vector product; chi_perp for a random MLP).

Summary keys: ``mean_log_chi`` (0 = critical, < 0 vanishing, > 0 exploding), ``log_chi_total`` (log growth of the
squared Jacobian norm from the first to the last layer), ``max_abs_log_chi``, ``mean_log_var_ratio``,
``log_var_ratio_total``, ``n_layers``; per layer ``K@<name>``, ``var_ratio@<name>``, ``chi@<name>``.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from paperzoo.nn import as_xy, collect_features
from paperzoo.registry import register_probe

__all__ = ["criticality", "criticality_layers", "layer_statistics"]

_KINDS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def criticality_layers(model: nn.Module) -> list[str]:
    """Default layers: every ``nn.Linear`` / ``nn.Conv*`` of ``model`` in registration order (= forward order for
    sequential models)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"criticality probe: model must be an nn.Module, got {type(model).__name__}")
    names = [k for k, m in model.named_modules() if isinstance(m, _KINDS)]
    if len(names) < 2:
        raise ValueError(f"criticality probe: {type(model).__name__} has {len(names)} nn.Linear/nn.Conv layers; the "
                         f"probe compares consecutive layers, so it needs at least two (or pass layers=[...])")
    return names


def _perturb(x: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    flat = x.flatten(1)
    d = torch.randn(flat.shape, generator=generator, dtype=flat.dtype)
    xn = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-30)
    d = d - (d * xn).sum(1, keepdim=True) * xn                       # orthogonal to x (book: perpendicular)
    scale = flat.norm(dim=1, keepdim=True)
    scale = torch.where(scale > 0, scale, torch.full_like(scale, math.sqrt(flat.shape[1])))
    d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-30) * eps * scale
    return (flat + d).reshape(x.shape)


def layer_statistics(model: nn.Module, x: torch.Tensor, layers: Sequence[str | nn.Module], *, eps: float = 1e-3,
                     seed: int = 0, batch_size: int = 1000) -> list[dict[str, Any]]:
    """Per layer (in the given order): name, K = mean z^2, D = mean dz^2 (dz for the perpendicular perturbation)."""
    if not torch.is_tensor(x) or not torch.is_floating_point(x) or x.ndim < 2 or len(x) < 2:
        raise ValueError(f"criticality probe: data must be a float tensor (N >= 2, ...), got "
                         f"{getattr(x, 'dtype', type(x).__name__)} of shape {tuple(getattr(x, 'shape', ()))}")
    if not torch.isfinite(x).all():
        raise ValueError("criticality probe: data contains NaN or inf")
    if not (0 < eps < 1):
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    x2 = _perturb(x, eps, torch.Generator().manual_seed(seed))
    feats = collect_features(model, torch.cat([x, x2]), list(layers), which="output", batch_size=batch_size)
    n, out = len(x), []
    for name, f in feats.items():
        if len(f) != 2 * n:
            raise ValueError(f"criticality probe: layer {name!r} ran {len(f) / (2 * n):g} times per input; "
                             f"pass layers that run once per forward pass")
        z, dz = f[:n].double(), (f[n:] - f[:n]).double()
        out.append({"name": name, "K": float((z * z).mean()), "D": float((dz * dz).mean())})
    return out


def _log_ratio(a: float, b: float) -> float:
    if a > 0 and b > 0:
        return math.log(a / b)
    return math.nan if a == b else (math.inf if a > 0 else -math.inf)


@register_probe("criticality", kinds=("classification",), pair=False)
def criticality(model: nn.Module, data: Any, *, layers: Sequence[str | nn.Module] | None = None, eps: float = 1e-3,
                max_samples: int | None = 1000, seed: int = 0, batch_size: int = 1000) -> dict[str, float]:
    """Criticality of ``model`` on ``data`` (a tensor, an (x, y) pair or a ``TensorSet``; labels unused).

    ``layers``: names or modules whose outputs are the preactivations, in forward order (default: every
    ``nn.Linear`` / ``nn.Conv*``, ``criticality_layers``); a name the model lacks raises ``KeyError``.
    ``max_samples``: the first 1000 inputs are enough for per-unit averages (None: all). ``eps``: relative size
    of the perpendicular perturbation. Returns the summary and per-layer keys of the module docstring.
    """
    x, _ = as_xy(data)
    if layers is None:
        layers = criticality_layers(model)
    elif isinstance(layers, (str, nn.Module)) or len(layers) < 2:
        raise ValueError(f"layers must be a list of at least two layer names or modules, got {layers!r}")
    if max_samples is not None:
        x = x[:max_samples]
    stats = layer_statistics(model, x, layers, eps=eps, seed=seed, batch_size=batch_size)
    log_chi = [_log_ratio(b["D"], a["D"]) for a, b in zip(stats, stats[1:])]
    log_var = [_log_ratio(b["K"], a["K"]) for a, b in zip(stats, stats[1:])]
    out = {"mean_log_chi": sum(log_chi) / len(log_chi), "log_chi_total": _log_ratio(stats[-1]["D"], stats[0]["D"]),
           "max_abs_log_chi": max(abs(v) for v in log_chi), "mean_log_var_ratio": sum(log_var) / len(log_var),
           "log_var_ratio_total": _log_ratio(stats[-1]["K"], stats[0]["K"]), "n_layers": float(len(stats))}
    for i, s in enumerate(stats):
        out[f"K@{s['name']}"] = s["K"]
        if i:
            prev = stats[i - 1]
            out[f"var_ratio@{s['name']}"] = s["K"] / prev["K"] if prev["K"] > 0 else math.nan
            out[f"chi@{s['name']}"] = s["D"] / prev["D"] if prev["D"] > 0 else math.nan
    return {k: float(v) for k, v in out.items()}
