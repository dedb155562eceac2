"""The ``lmc`` probe: linear mode connectivity of two checkpoints of the same architecture.

``paperzoo probe lmc --model A --other B --data mnist``: the loss and error barriers of the linear path
A -> B (card, "Barrier"), the layer-wise barriers (only the layer's parameters interpolated; Adilova et al.
2024), the distance ||theta_A - theta_B||, and, when B's hidden units can be permuted (a plain MLP,
``align.linear_chain``), the same barriers after weight matching (``_wm``) and activation matching (``_am``)
of B to A (Ainsworth et al. 2023). Logits come from ``collect_features`` on the whole model.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from paperzoo.nn import as_xy, collect_features
from paperzoo.papers.lmc_landscape.align import activation_matching, apply_permutation, linear_chain, weight_matching
from paperzoo.papers.lmc_landscape.lmc import (
    ALPHAS,
    _check_pair,
    _Evaluator,
    barrier,
    barrier_argmax,
    geometry,
    interpolate,
    layer_groups,
    layerwise_barriers,
    params_of,
)
from paperzoo.registry import register_probe

__all__ = ["COARSE", "lmc", "lmc_report"]

COARSE = (0.0, 0.5, 1.0)  # layer-wise and aligned paths in the probe: the midpoint excess, keeps it < 2 s (README deviation)


def _check_data(model: nn.Module, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = as_xy(data)
    if y is None:
        raise ValueError("lmc probe needs labels: pass (x, y) or a TensorSet, not a bare input tensor")
    if not torch.is_tensor(x) or not torch.is_tensor(y) or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"lmc probe: data must be (x, y) with x of shape (N, ...) and y of shape (N,), got "
                         f"{tuple(getattr(x, 'shape', ()))} and {tuple(getattr(y, 'shape', ()))}")
    if not torch.isfinite(x).all():
        raise ValueError("lmc probe: the inputs contain NaN or inf")
    try:
        z = next(iter(collect_features(model, x[:2], [model], which="output").values()))
    except RuntimeError as e:
        raise ValueError(f"lmc probe: the model does not accept inputs of shape {tuple(x.shape[1:])} "
                         f"({str(e).splitlines()[0]})") from e
    if z.shape[1] <= int(y.max()) or int(y.min()) < 0:
        raise ValueError(f"lmc probe: labels span {int(y.min())}..{int(y.max())} but the model has {z.shape[1]} outputs")
    return x, y


def lmc_report(model: nn.Module, other: nn.Module, data: Any, *, layers: Sequence[str | nn.Module] | None = None,
               alphas: Sequence[float] = ALPHAS, coarse_alphas: Sequence[float] = COARSE,
               align: str | Sequence[str] = ("wm", "am"), bn_data: Any = None, batch_size: int = 1000) -> dict[str, Any]:
    """Everything the probe measures, with the curves: ``{"metrics": {...}, "curves": {name: curve}}``."""
    if not isinstance(model, nn.Module) or not isinstance(other, nn.Module):
        raise TypeError("lmc probe: model and other must both be nn.Module")
    ta, tb = params_of(model), params_of(other)
    _check_pair(ta, tb)
    alphas, coarse = [float(a) for a in alphas], [float(a) for a in coarse_alphas]
    for name, a in (("alphas", alphas), ("coarse_alphas", coarse)):
        if len(a) < 3 or a[0] != 0.0 or a[-1] != 1.0:
            raise ValueError(f"{name} must run from 0 to 1 with an interior point, got {a}")
    align = (align,) if isinstance(align, str) else tuple(align or ())
    if set(align) - {"wm", "am"}:
        raise ValueError(f"align: 'wm' (weight matching) and/or 'am' (activation matching), got {align}")
    groups = layer_groups(model, layers)  # KeyError for a layer the model lacks, before any work
    x, y = _check_data(model, data)
    ev = _Evaluator(model, (x, y), bn_data=bn_data, batch_size=batch_size)
    end_a, end_b = ev(ta), ev(tb)
    curve = interpolate(model, ta, tb, alphas, evaluator=ev, ends=(end_a, end_b))
    m = {"loss_a": end_a[0], "loss_b": end_b[0], "err_a": end_a[1], "err_b": end_b[1],
         "barrier_loss": barrier(curve, "loss"), "barrier_err": barrier(curve, "err"),
         "barrier_alpha": barrier_argmax(curve, "loss"), **geometry(None, ta, tb)}
    curves = {"path": curve}
    per = layerwise_barriers(model, ta, tb, layers=list(groups), alphas=coarse, evaluator=ev, end_a=end_a)
    for name, r in per.items():
        m[f"barrier_loss@{name}"], m[f"barrier_err@{name}"] = r["loss"], r["err"]
        curves[f"layer:{name}"] = r["curve"]
    chain = linear_chain(model) if align else None
    m["alignable"] = 0.0
    if chain is not None:
        z_b = ev.logits(tb)
        found = {}
        if "wm" in align:
            found["wm"] = weight_matching(ta, tb, chain)
        if "am" in align:
            found["am"] = activation_matching(model, other, x, chain, batch_size=batch_size)
        aligned = {}
        for tag, perms in found.items():
            tp = apply_permutation(tb, chain, perms)
            z_p = ev.logits(tp)  # alpha = 1 of the aligned path: must be B's function
            if not torch.allclose(z_p, z_b, rtol=1e-4, atol=1e-4 * (1 + float(z_b.abs().max()))):
                aligned = {}  # not a symmetry of this model (e.g. a residual connection): no alignment
                break
            aligned[tag] = (tp, ev.loss_err(z_p))
        m["alignable"] = float(bool(aligned))
        for tag, (tp, end_p) in aligned.items():
            c = interpolate(model, ta, tp, coarse, evaluator=ev, ends=(end_a, end_p))
            m[f"barrier_loss_{tag}"], m[f"barrier_err_{tag}"] = barrier(c, "loss"), barrier(c, "err")
            m[f"distance_{tag}"] = geometry(None, ta, tp)["distance"]
            curves[f"path_{tag}"] = c
    return {"metrics": {k: float(v) for k, v in m.items()}, "curves": curves}


@register_probe("lmc", kinds=("classification",), pair=True)
def lmc(model: nn.Module, data: Any, *, other: nn.Module, layers: Sequence[str | nn.Module] | None = None,
        alphas: Sequence[float] = ALPHAS, coarse_alphas: Sequence[float] = COARSE,
        align: str | Sequence[str] = ("wm", "am"), bn_data: Any = None, batch_size: int = 1000) -> dict[str, float]:
    """Linear mode connectivity of ``model`` (A) and ``other`` (B) on ``data`` ((x, y) or a TensorSet).

    Keys: ``loss_a/b``, ``err_a/b`` (%), ``barrier_loss``, ``barrier_err`` (max over ``alphas``, 11 points, of the
    excess over the chord), ``barrier_alpha``, ``distance``; ``barrier_loss@<layer>`` / ``barrier_err@<layer>``
    for each layer (default: every nn.Linear / nn.Conv, else every module holding parameters; on
    ``coarse_alphas``); ``alignable`` (1 when B's hidden units could be permuted without changing its function)
    and then, per method in ``align`` (``"wm"``, ``"am"``), ``barrier_loss_<m>``, ``barrier_err_<m>``,
    ``distance_<m>`` (on ``coarse_alphas``). BatchNorm statistics are re-estimated on ``bn_data`` (default: ``data``) at every
    point. Raises ValueError when the parameter shapes differ, KeyError for a layer the model lacks.
    """
    return lmc_report(model, other, data, layers=layers, alphas=alphas, coarse_alphas=coarse_alphas, align=align,
                      bn_data=bn_data, batch_size=batch_size)["metrics"]
