"""The ``layer-sustainability`` probe: LSA on any classifier (Khalooei et al. 2022; official
``layersustainabilityanalysis.py``), built on the kernel's forward hooks ``paperzoo.nn.collect_features``.

For each probed layer l: CM_l = ||f_l(x + delta) - f_l(x)||_F / ||f_l(x)||_F over the whole data tensor
(batch Frobenius, as the official code), delta the FGSM perturbation eps sign(grad_x CE) (model in eval mode,
as the official constructor). Default layers: the official probes (``nn.ReLU`` / ``ELU`` / ``LeakyReLU``
modules); a model without such modules (functional activations) falls back to every ``nn.Linear`` /
``nn.Conv2d`` output. Modules called more than once per forward pass are skipped (their outputs would be
mixed). The MVL (most vulnerable layers) are the layers with CM above the mean over layers (card default).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from paperzoo.nn import as_xy, collect_features
from paperzoo.papers.lsa_atlr.attacks import fgsm
from paperzoo.papers.lsa_atlr.lsa import PROBE_TYPES
from paperzoo.registry import register_probe

__all__ = ["default_layers", "layer_sustainability", "lsa_layers"]

EPS = 0.3  # card: MNIST eps_train = 0.3 (inputs in [0, 1])


def _calls(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """How often each named submodule runs in one forward pass of ``x`` (a shape check as well)."""
    counts: dict[str, int] = {}
    named = [(k, m) for k, m in model.named_modules() if k]
    handles = [m.register_forward_hook(lambda *_a, k=k: counts.__setitem__(k, counts.get(k, 0) + 1)) for k, m in named]
    try:
        with torch.no_grad():
            out = model(x)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"layer-sustainability probe: inputs of shape {tuple(x.shape)} do not fit "
                         f"{type(model).__name__}: {e}") from e
    finally:
        for h in handles:
            h.remove()
    if not (isinstance(out, torch.Tensor) and out.ndim == 2):
        raise ValueError(f"layer-sustainability probe: the model must return (B, classes) logits, got "
                         f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
    return counts


def default_layers(model: nn.Module, x: torch.Tensor, types: Sequence[str] = PROBE_TYPES) -> list[str]:
    """The probe's default layers for ``model`` (see the module docstring), in module order."""
    counts = _calls(model, x[:2])
    named = [(k, m) for k, m in model.named_modules() if k and counts.get(k) == 1]
    layers = [k for k, m in named if type(m).__name__ in types]
    if not layers:
        layers = [k for k, m in named if isinstance(m, (nn.Linear, nn.Conv2d))]
    if not layers:
        raise ValueError(f"layer-sustainability probe: {type(model).__name__} has no ReLU/ELU/LeakyReLU, nn.Linear "
                         f"or nn.Conv2d module called once per forward pass; pass layers=[...]")
    return layers


def _cm_and_predictions(model: nn.Module, x: torch.Tensor, x_pert: torch.Tensor, layers: Sequence[str],
                        batch_size: int) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """CM per layer (batch Frobenius over all of ``x``, sums of squares in float64, chunk by chunk) and the
    predicted classes on ``x`` and ``x_pert`` (the model's own output, key ``""``, from the same passes)."""
    keys = ["", *layers]
    num = {k: 0.0 for k in layers}
    den = dict(num)
    preds: tuple[list, list] = ([], [])
    for i in range(0, len(x), batch_size):
        a = collect_features(model, x[i:i + batch_size], keys, which="output", batch_size=batch_size)
        b = collect_features(model, x_pert[i:i + batch_size], keys, which="output", batch_size=batch_size)
        preds[0].append(a.pop("").argmax(1))
        preds[1].append(b.pop("").argmax(1))
        for k in layers:
            num[k] += float((a[k] - b[k]).square().sum(dtype=torch.float64))
            den[k] += float(a[k].square().sum(dtype=torch.float64))
    cm = {k: 0.0 if num[k] == 0 else (num[k] / den[k]) ** 0.5 if den[k] > 0 else float("inf") for k in layers}
    return cm, torch.cat(preds[0]), torch.cat(preds[1])


def lsa_layers(model: nn.Module, x: torch.Tensor, x_pert: torch.Tensor, layers: Sequence[str], *,
               batch_size: int = 500) -> dict[str, float]:
    """CM_l = ||f_l(x_pert) - f_l(x)||_F / ||f_l(x)||_F per named layer l (outputs, whole data tensor)."""
    return _cm_and_predictions(model, x, x_pert, layers, batch_size)[0]


@register_probe("layer-sustainability", kinds=("classification",), pair=False)
def layer_sustainability(model: nn.Module, data: Any, *, layers: Sequence[str] | None = None, eps: float = EPS,
                         clip: str | tuple[float, float] | None = "data", types: Sequence[str] = PROBE_TYPES,
                         batch_size: int = 500) -> dict[str, float]:
    """LSA of ``model`` on ``data`` (a ``TensorSet``, an ``(x, y)`` pair, or inputs alone: then the
    model's predictions are the FGSM labels) under FGSM of size ``eps`` (in the data's units; default 0.3,
    the card's MNIST eps, meant for inputs in [0, 1]).

    ``clip``: ``"data"`` clamps x + delta to [min x, max x] (the data range), a pair clamps to it, ``None``
    does not clamp. Returns ``"cm@<layer>"`` per layer, ``cm_mean``, ``cm_max``, ``n_mvl`` (layers above the
    mean), ``mvl_first`` (index of the most vulnerable layer), ``acc_clean`` / ``acc_fgsm`` (%).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"layer-sustainability probe: model must be an nn.Module, got {type(model).__name__}")
    x, y = as_xy(data)
    if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.ndim >= 2 and len(x) > 0):
        raise ValueError(f"layer-sustainability probe: inputs must be a non-empty float tensor (N, ...), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if not torch.isfinite(x).all():
        raise ValueError("layer-sustainability probe: inputs contain NaN/inf")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    was = model.training
    model.eval()
    try:
        names = default_layers(model, x, types) if layers is None else list(layers)
        if isinstance(layers, str) or not names or "" in names:
            raise ValueError(f"layers must be a non-empty list of submodule names, got {layers!r}")
        dev = next((p.device for p in model.parameters()), torch.device("cpu"))
        if y is None:
            with torch.no_grad():
                y = torch.cat([model(x[i:i + batch_size].to(dev)).argmax(1).cpu() for i in range(0, len(x), batch_size)])
        y = torch.as_tensor(y).long()
        if y.shape != (len(x),):
            raise ValueError(f"layer-sustainability probe: labels must be ({len(x)},), got {tuple(y.shape)}")
        lim = (float(x.min()), float(x.max())) if clip == "data" else clip
        x_adv = torch.cat([fgsm(model, x[i:i + batch_size].to(dev), y[i:i + batch_size].to(dev), eps, clip=lim).cpu()
                           for i in range(0, len(x), batch_size)])
        cm, pred, adv_pred = _cm_and_predictions(model, x, x_adv, names, batch_size)
    finally:
        model.train(was)
    vals = torch.tensor(list(cm.values()), dtype=torch.float64)
    out = {f"cm@{k}": v for k, v in cm.items()}
    out |= {"cm_mean": float(vals.mean()), "cm_max": float(vals.max()), "n_mvl": float((vals > vals.mean()).sum()),
            "mvl_first": float(vals.argmax()), "acc_clean": 100.0 * float((pred == y).double().mean()),
            "acc_fgsm": 100.0 * float((adv_pred == y).double().mean())}
    return out
