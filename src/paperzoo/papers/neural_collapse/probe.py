"""The neural-collapse probe: NC1, NC2_W, NC2_H, NC3 of any classifier (Dang et al. 2023, official
``validate_NC*.py``), built on the kernel's forward hooks ``paperzoo.nn.collect_features``.

The classifier is the model's last ``nn.Linear`` (``paperzoo.nn.last_linear``): its weight is W and the
features are the tensor entering it. ``layers=[W_1, ..., W_M]`` (names or modules of ``nn.Linear`` layers in
forward order, ending at the classifier) treats them as a deep linear head: at layer m the metrics use the
features entering W_m and the partial product W_M ... W_m, as the official per-layer loop does.
"""
from __future__ import annotations

from typing import Any, Sequence

from torch import nn

from paperzoo.nn import as_xy, collect_features, last_linear
from paperzoo.papers.neural_collapse.metrics import deep_linear_nc_metrics
from paperzoo.registry import register_probe

__all__ = ["head_nc_metrics", "neural_collapse"]


def _linear_layers(model: nn.Module, layers: Sequence[str | nn.Module] | None) -> dict[str, nn.Linear]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"neural-collapse probe: model must be an nn.Module, got {type(model).__name__}")
    if layers is None:
        try:
            layers = [last_linear(model)]
        except ValueError:
            raise ValueError(f"neural-collapse probe: {type(model).__name__} has no nn.Linear layer; the probe needs "
                             f"a linear classifier (its weight is W, its input the features)") from None
    if isinstance(layers, (str, nn.Module)) or len(layers) == 0:
        raise ValueError(f"layers must be a non-empty list of nn.Linear names or modules, got {layers!r}")
    named = dict(model.named_modules())
    by_id = {id(m): k for k, m in named.items()}
    out: dict[str, nn.Linear] = {}
    for layer in layers:
        if isinstance(layer, nn.Module):
            if id(layer) not in by_id:
                raise ValueError(f"layers: a {type(layer).__name__} module that is not part of the model")
            name = by_id[id(layer)]
        elif isinstance(layer, str) and layer in named:
            name = layer
        else:
            linears = [k for k, m in named.items() if isinstance(m, nn.Linear)]
            raise KeyError(f"layers: model has no submodule {layer!r} (its nn.Linear layers: {linears[-5:]})")
        if not isinstance(named[name], nn.Linear):
            raise TypeError(f"layers: {name!r} is a {type(named[name]).__name__}, not an nn.Linear")
        out[name] = named[name]
    return out


def head_nc_metrics(model: nn.Module, data: Any, *, layers: Sequence[str | nn.Module] | None = None,
                    target: str | None = None, predicted: Any = None, batch_size: int = 1000) -> list[dict[str, float]]:
    """Per-layer NC metrics of ``model`` on ``data`` (a ``TensorSet`` or an ``(x, y)`` pair).

    ``layers``: the head's ``nn.Linear`` layers W_1 .. W_M (default: the last ``nn.Linear`` alone).
    ``target``: ``"orthogonal"`` | ``"etf"`` | ``"imbalanced"`` (``nc_metrics``); default: the geometry
    the paper proves for the head, ``"etf"`` when the classifier has a bias, else ``"orthogonal"``.
    Entry m-1 of the result: ``nc_metrics`` of the features entering W_m with W_M ... W_m (biases ignored,
    as in the official code). K = the classifier's number of outputs; every class needs a sample.
    """
    mods = _linear_layers(model, layers)
    x, y = as_xy(data)
    if y is None:
        raise ValueError("neural-collapse probe needs labels: pass (x, y) or a TensorSet, not a bare input tensor")
    clf = list(mods.values())[-1]
    if target is None:
        target = "etf" if clf.bias is not None else "orthogonal"
    feats = collect_features(model, x, list(mods), which="input", batch_size=batch_size)
    return deep_linear_nc_metrics([feats[k] for k in mods], [m.weight.detach() for m in mods.values()], y,
                                  num_classes=clf.out_features, target=target, predicted=predicted)


@register_probe("neural-collapse", kinds=("classification",))
def neural_collapse(model: nn.Module, data: Any, *, layers: Sequence[str | nn.Module] | None = None,
                    target: str | None = None, predicted: Any = None, batch_size: int = 1000) -> dict[str, float]:
    """Neural collapse of any classifier: NC1, NC2_W, NC2_H, NC3 at its last ``nn.Linear`` (Sec. 2 metrics).

    ``data``: a ``TensorSet`` or an ``(x, y)`` pair (every class of the classifier present).
    ``layers``: a deep linear head W_1 .. W_M; then the plain keys are those of W_1 (features entering the
    head, end-to-end product) and ``"NC1@<name>"`` ... are added per layer. ``target`` / ``predicted`` as in
    ``head_nc_metrics`` (default ETF with a classifier bias, orthogonal frame without).
    """
    per = head_nc_metrics(model, data, layers=layers, target=target, predicted=predicted, batch_size=batch_size)
    out = dict(per[0])
    if layers is not None and len(per) > 1:
        for name, d in zip(_linear_layers(model, layers), per):
            out.update({f"{k}@{name}": v for k, v in d.items()})
    return out
