"""Linear interpolation between two networks, loss barriers (full and layer-wise) and path geometry.

Card (shared/papers/lmc-landscape.md, "The method, precisely"), after Frankle et al. (2020) and, for the
layer-wise version, Adilova et al. (ICLR 2024):

- path: theta(alpha) = (1 - alpha) theta_A + alpha theta_B, alpha in {0, 0.1, ..., 1} (11 points);
- barrier: B = max_alpha [L(theta(alpha)) - ((1 - alpha) L(theta_A) + alpha L(theta_B))], on loss and on error;
- layer-wise: theta_l(alpha) = theta_A with the parameters of layer l alone replaced by their interpolation;
- geometry: d = ||theta_A - theta_B||, angle between theta_A - theta_k and theta_B - theta_k (spawn point).

Parameters travel as ``dict[name, Tensor]`` (``params_of(model)``); a model is evaluated at them on a private
copy, so the caller's model is never modified. Models with BatchNorm get their running statistics
re-estimated at every interpolated point (card pitfall; ``bn_data``), otherwise the buffers of the first model
are used.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.nn import as_xy, collect_features

__all__ = ["ALPHAS", "barrier", "evaluate", "geometry", "interpolate", "layer_groups", "layerwise_barriers", "lerp",
           "params_of"]

ALPHAS = tuple(i / 10 for i in range(11))  # card: >= 11 points on [0, 1]
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def params_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of the model's parameters, by name."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _check_pair(theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor]) -> None:
    sa = {k: tuple(v.shape) for k, v in theta_a.items()}
    sb = {k: tuple(v.shape) for k, v in theta_b.items()}
    if sa != sb:
        diff = sorted(set(sa.items()) ^ set(sb.items()))[:4]
        raise ValueError(f"the two parameter sets differ in names or shapes (first differences: {diff})")


def lerp(theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor], alpha: float,
         names: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    """(1 - alpha) theta_A + alpha theta_B on the parameters ``names`` (default: all); theta_A elsewhere."""
    _check_pair(theta_a, theta_b)
    sel = set(theta_a) if names is None else set(names)
    unknown = sel - set(theta_a)
    if unknown:
        raise KeyError(f"no parameters named {sorted(unknown)[:4]}")
    return {k: (1 - alpha) * a + alpha * theta_b[k] if k in sel else a for k, a in theta_a.items()}


def _load(work: nn.Module, theta: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for k, p in work.named_parameters():
            p.copy_(theta[k])


@torch.no_grad()
def _reestimate_bn(work: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """Reset every BatchNorm's running statistics and re-estimate them on ``x``: running mean / variance = the
    batch statistics averaged with weights = batch sizes (exact mean over ``x``; the variance is the average of
    the batch variances, exact when one batch holds all of ``x``)."""
    bns = [m for m in work.modules() if isinstance(m, _BN)]
    for m in bns:
        m.reset_running_stats()
    work.train()
    dev = next(work.parameters()).device
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        for m in bns:
            m.momentum = len(xb) / (i + len(xb))  # running <- (1 - m) running + m batch: a size-weighted average
        work(xb.to(dev))
    work.eval()


class _Evaluator:
    """Loss and error of ``model`` at given parameters on fixed data, on a private copy of the model."""

    def __init__(self, model: nn.Module, data: Any, *, bn_data: Any = None, batch_size: int = 1000):
        x, y = as_xy(data)
        if y is None:
            raise ValueError("the barrier needs labels: pass (x, y) or a TensorSet, not a bare input tensor")
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"data: {len(x)} inputs and {len(y)} labels (need the same, non-zero number)")
        self.work = copy.deepcopy(model).eval()
        self.x, self.y, self.batch_size = x, y.long(), batch_size
        self.has_bn = any(isinstance(m, _BN) for m in self.work.modules())
        self.bn_x = as_xy(bn_data)[0] if bn_data is not None else x

    def logits(self, theta: dict[str, torch.Tensor]) -> torch.Tensor:
        _load(self.work, theta)
        if self.has_bn:
            _reestimate_bn(self.work, self.bn_x, self.batch_size)
        out = collect_features(self.work, self.x, [self.work], which="output", batch_size=self.batch_size)
        return next(iter(out.values()))

    def __call__(self, theta: dict[str, torch.Tensor]) -> tuple[float, float]:
        return self.loss_err(self.logits(theta))

    def loss_err(self, z: torch.Tensor) -> tuple[float, float]:
        if z.ndim != 2 or z.shape[1] <= int(self.y.max()):
            raise ValueError(f"model output has shape {tuple(z.shape)}; the barrier needs (N, classes) logits "
                             f"covering label {int(self.y.max())}")
        loss = F.cross_entropy(z.double(), self.y).item()
        err = 100.0 * (z.argmax(1) != self.y).double().mean().item()
        return loss, err


def evaluate(model: nn.Module, theta: dict[str, torch.Tensor], data: Any, **kw: Any) -> tuple[float, float]:
    """(mean cross-entropy, error %) of ``model`` at parameters ``theta`` on ``data``."""
    return _Evaluator(model, data, **kw)(theta)


def interpolate(model: nn.Module, theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor],
                alphas: Sequence[float] = ALPHAS, data: Any = None, layers: Iterable[str] | None = None, *,
                evaluator: _Evaluator | None = None, ends: tuple[tuple[float, float], tuple[float, float]] | None = None,
                **kw: Any) -> dict[str, list[float]]:
    """Loss and error along the linear path: ``{"alpha", "loss", "err"}`` (lists over ``alphas``).

    ``layers``: parameter names interpolated (the layer-wise path); the rest stay at theta_A.
    ``ends``: already known ((loss, err) at alpha=0, at alpha=1 of this path), reused instead of re-evaluated.
    """
    _check_pair(theta_a, theta_b)
    alphas = [float(a) for a in alphas]
    if not alphas or any(not 0.0 <= a <= 1.0 for a in alphas) or sorted(alphas) != alphas:
        raise ValueError(f"alphas must be increasing values in [0, 1], got {alphas}")
    ev = evaluator or _Evaluator(model, data, **kw)
    loss, err = [], []
    for a in alphas:
        if ends is not None and a in (0.0, 1.0):
            lv, ev_ = ends[0] if a == 0.0 else ends[1]
        else:
            lv, ev_ = ev(lerp(theta_a, theta_b, a, layers))
        loss.append(lv)
        err.append(ev_)
    return {"alpha": alphas, "loss": loss, "err": err}


def barrier(curve: dict[str, list[float]], key: str = "loss") -> float:
    """B = max_alpha [f(alpha) - ((1 - alpha) f(0) + alpha f(1))] (card; 0 at the ends by construction)."""
    a = torch.tensor(curve["alpha"], dtype=torch.float64)
    f = torch.tensor(curve[key], dtype=torch.float64)
    if a[0] != 0.0 or a[-1] != 1.0:
        raise ValueError("the curve must start at alpha = 0 and end at alpha = 1")
    return float((f - ((1 - a) * f[0] + a * f[-1])).max())


def barrier_argmax(curve: dict[str, list[float]], key: str = "loss") -> float:
    a = torch.tensor(curve["alpha"], dtype=torch.float64)
    f = torch.tensor(curve[key], dtype=torch.float64)
    return float(a[(f - ((1 - a) * f[0] + a * f[-1])).argmax()])


def layer_groups(model: nn.Module, layers: Iterable[str | nn.Module] | None = None) -> dict[str, list[str]]:
    """Layer name -> the names of its own parameters (``recurse=False``).

    Default: every ``nn.Linear`` / ``nn.Conv*d``; a model without them: every module holding parameters.
    A name the model lacks raises ``KeyError``; a layer without parameters raises ``ValueError``.
    """
    named = dict(model.named_modules())
    if layers is None:
        layers = [k for k, m in named.items() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]
        if not layers:
            layers = [k for k, m in named.items() if any(True for _ in m.parameters(recurse=False))]
    out: dict[str, list[str]] = {}
    by_id = {id(m): k for k, m in named.items()}
    for layer in layers:
        if isinstance(layer, nn.Module):
            if id(layer) not in by_id:
                raise ValueError(f"layers: a {type(layer).__name__} that is not part of the model")
            layer = by_id[id(layer)]
        if layer not in named:
            from paperzoo.names import did_you_mean

            raise KeyError(f"model has no submodule {layer!r}{did_you_mean(layer, [k for k in named if k], cutoff=0.6)}")
        own = [f"{layer}.{n}" if layer else n for n, _ in named[layer].named_parameters(recurse=False)]
        if not own:
            raise ValueError(f"layers: {layer!r} ({type(named[layer]).__name__}) holds no parameters")
        out[layer] = own
    return out


def layerwise_barriers(model: nn.Module, theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor],
                       data: Any = None, layers: Iterable[str | nn.Module] | None = None, *,
                       alphas: Sequence[float] = ALPHAS, evaluator: _Evaluator | None = None,
                       end_a: tuple[float, float] | None = None, **kw: Any) -> dict[str, dict[str, Any]]:
    """Per layer l: the curve of theta_l(alpha) and its loss / error barriers (card, Adilova et al. 2024)."""
    if len(alphas) < 2 or alphas[0] != 0.0 or alphas[-1] != 1.0:
        raise ValueError(f"alphas must run from 0 to 1, got {list(alphas)}")
    groups = layer_groups(model, layers)
    ev = evaluator or _Evaluator(model, data, **kw)
    a0 = end_a or ev(theta_a)
    out = {}
    for name, pnames in groups.items():
        curve = interpolate(model, theta_a, theta_b, alphas[1:], layers=pnames, evaluator=ev)
        curve = {"alpha": [0.0, *curve["alpha"]], "loss": [a0[0], *curve["loss"]], "err": [a0[1], *curve["err"]]}
        out[name] = {"curve": curve, "loss": barrier(curve, "loss"), "err": barrier(curve, "err"), "params": pnames}
    return out


def _flat(theta: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([v.detach().double().flatten() for v in theta.values()])


def geometry(theta_k: dict[str, torch.Tensor] | None, theta_a: dict[str, torch.Tensor],
             theta_b: dict[str, torch.Tensor]) -> dict[str, float]:
    """``distance`` ||theta_A - theta_B|| and, given the spawn point theta_k, ``angle_deg`` between the two
    displacements theta_A - theta_k and theta_B - theta_k (card: from theta_k, not theta_0), float64."""
    _check_pair(theta_a, theta_b)
    fa, fb = _flat(theta_a), _flat(theta_b)
    out = {"distance": float((fa - fb).norm())}
    if theta_k is not None:
        _check_pair(theta_k, theta_a)
        fk = _flat(theta_k)
        da, db = fa - fk, fb - fk
        den = float(da.norm() * db.norm())
        if den == 0.0:
            raise ValueError("a child equals the spawn point; the angle is undefined")
        cos = max(-1.0, min(1.0, float(da @ db) / den))
        out["angle_deg"] = math.degrees(math.acos(cos))
    return out
