"""KAN / S-KAN networks, KAN-Conv / S-ConvKAN image classifiers, and their registry entries.

``KAN([2, 5, 1], basis="rbf")`` stacks single-family ``KANLayer``s; ``SKAN([2, 5, 1])`` stacks
``SelectableKANLayer``s (card: ``SKAN(widths=[2,5,1], families=...)``). ``SConvKAN`` is the
library's example network (``SeriYann/KANConv2d`` README) with selectable KAN convolutions:
KANConv(C -> w, k5) -> maxpool 2 -> KANConv(w -> 2w, k5) -> maxpool 2 -> Linear(2w*4*4, 50) -> ReLU
-> Linear(50, classes), w = 10 (library), no activation after the KAN convolutions.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from paperzoo.papers.skan.layers import DEFAULT_POOL, KANConv2d, KANLayer, SelectableKANConv2d, SelectableKANLayer
from paperzoo.registry import register_model

IMAGE_POOL = ("bspline", "rbf", "chebyshev")  # card: S-ConvKAN pool {B-spline, RBF, Chebyshev}


def selectable_layers(model: nn.Module) -> list[SelectableKANLayer]:
    """Every ``SelectableKANLayer`` inside ``model`` (in module order)."""
    return [m for m in model.modules() if isinstance(m, SelectableKANLayer)]


def select(model: nn.Module, k: int | None = None) -> None:
    """Phase 2 on every selectable layer of ``model`` (keep the top-k families per node)."""
    layers = selectable_layers(model)
    if not layers:
        raise ValueError(f"select: {type(model).__name__} has no SelectableKANLayer")
    for layer in layers:
        layer.select(k)


def prune(model: nn.Module) -> nn.Module:
    """Phase 3 on every selectable layer of ``model`` (drop unused families' parameters)."""
    for layer in selectable_layers(model):
        layer.prune()
    return model


def chosen_families(model: nn.Module) -> list[list[tuple[str, ...]]]:
    """Per selectable layer, per node, the families in use."""
    return [layer.chosen_families() for layer in selectable_layers(model)]


def family_counts(model: nn.Module) -> dict[str, int]:
    """How many nodes (over all selectable layers) use each family."""
    counts: dict[str, int] = {}
    for layer in selectable_layers(model):
        for fams in layer.chosen_families():
            for f in fams:
                counts[f] = counts.get(f, 0) + 1
    return counts


def _check_widths(widths: Sequence[int], who: str) -> list[int]:
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"{who}: widths must list >= 2 positive sizes [in, ..., out], got {widths}")
    return widths


class KAN(nn.Sequential):
    """Single-family KAN ``[n_0, n_1, ..., n_L]``: ``KANLayer`` stacked (pykan ``KAN(width=...)`` shape)."""

    def __init__(self, widths: Sequence[int], *, basis: str = "bspline", **basis_kwargs):
        widths = _check_widths(widths, "KAN")
        super().__init__(*(KANLayer(a, b, basis=basis, **basis_kwargs) for a, b in zip(widths[:-1], widths[1:])))
        self.widths = widths


class _SelectMixin:
    def select(self, k: int | None = None) -> None:
        select(self, k)

    def prune(self):
        return prune(self)

    def chosen_families(self) -> list[list[tuple[str, ...]]]:
        return chosen_families(self)


class SKAN(_SelectMixin, nn.Sequential):
    """S-KAN ``[n_0, ..., n_L]``: ``SelectableKANLayer`` stacked over the pool ``families``."""

    def __init__(self, widths: Sequence[int], *, families: tuple[str, ...] = DEFAULT_POOL, topk: int = 1,
                 softmax: bool = False, family_kwargs: dict | None = None):
        widths = _check_widths(widths, "SKAN")
        super().__init__(*(SelectableKANLayer(a, b, families=families, topk=topk, softmax=softmax,
                                              family_kwargs=family_kwargs) for a, b in zip(widths[:-1], widths[1:])))
        self.widths = widths


class Symmetric(nn.Module):
    """Flatten images and map pixels from [0, 1] to [-1, 1] (the B-spline / Chebyshev domain)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x.flatten(1) - 1


def _conv_out(size: int) -> int:
    out = ((size - 4) // 2 - 4) // 2
    if out < 1:
        raise ValueError(f"image_size {size} is too small for two 5x5 convolutions and two 2x2 poolings")
    return out


class _ConvNet(nn.Module):
    def __init__(self, conv1: nn.Module, conv2: nn.Module, flat: int, num_classes: int, hidden: int):
        super().__init__()
        self.conv1, self.conv2 = conv1, conv2
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.conv2(self.pool(self.conv1(x)))))


class ConvKAN(_ConvNet):
    """Single-family KAN-Conv classifier (library example network); ``(B, C, H, W) -> (B, classes)``."""

    def __init__(self, in_chans: int = 1, num_classes: int = 10, *, width: int = 10, basis: str = "bspline",
                 image_size: int = 28, hidden: int = 50):
        s = _conv_out(image_size)
        super().__init__(KANConv2d(in_chans, width, 5, basis=basis), KANConv2d(width, 2 * width, 5, basis=basis),
                         2 * width * s * s, num_classes, hidden)


class SConvKAN(_SelectMixin, _ConvNet):
    """S-ConvKAN: the same network with ``SelectableKANConv2d`` (pool default {B-spline, RBF, Chebyshev})."""

    def __init__(self, in_chans: int = 1, num_classes: int = 10, *, width: int = 10,
                 families: tuple[str, ...] = IMAGE_POOL, topk: int = 1, softmax: bool = False, image_size: int = 28,
                 hidden: int = 50):
        s = _conv_out(image_size)
        kw = dict(families=families, topk=topk, softmax=softmax)
        super().__init__(SelectableKANConv2d(in_chans, width, 5, **kw), SelectableKANConv2d(width, 2 * width, 5, **kw),
                         2 * width * s * s, num_classes, hidden)


# ---------------------------------------------------------------- registry (arena classifiers)
def _kan_classifier(in_dim: int, num_classes: int, width: int, depth: int, layer) -> nn.Sequential:
    if depth < 0 or width < 1:
        raise ValueError(f"need depth >= 0 and width >= 1, got depth={depth}, width={width}")
    dims = [in_dim] + [width] * depth + [num_classes]
    return nn.Sequential(Symmetric(), *(layer(a, b) for a, b in zip(dims[:-1], dims[1:])))


@register_model("skan_mlp", task=("mnist", "fashion-mnist"), knob="width")
def skan_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 8, depth: int = 1,
             families: tuple[str, ...] = DEFAULT_POOL, topk: int = 1) -> nn.Sequential:
    """S-KAN classifier [in_dim, width x depth, classes] over the pool {B-spline, RBF, Chebyshev, wavelet}.
    Trained as a plain classifier it stays in phase 1 (all families); call ``select``/``prune`` for phases 2-3.
    Width 8 keeps the 784-input layer (27 coefficients per edge) near 170k parameters."""
    return _kan_classifier(in_dim, num_classes, width, depth,
                           lambda a, b: SelectableKANLayer(a, b, families=families, topk=topk))


def _single(basis: str):
    def factory(in_dim: int = 784, num_classes: int = 10, *, width: int = 16, depth: int = 1) -> nn.Sequential:
        return _kan_classifier(in_dim, num_classes, width, depth, lambda a, b: KANLayer(a, b, basis=basis))

    factory.__name__ = f"kan_{basis}"
    factory.__doc__ = (f"Single-family KAN classifier ({basis} edge functions, library defaults), "
                       f"[in_dim, width x depth, classes]; width 16 keeps it near 50k-115k parameters.")
    return factory


kan_bspline = register_model("kan_bspline", task=("mnist", "fashion-mnist"), knob="width")(_single("bspline"))
kan_rbf = register_model("kan_rbf", task=("mnist", "fashion-mnist"), knob="width")(_single("rbf"))
kan_chebyshev = register_model("kan_chebyshev", task=("mnist", "fashion-mnist"), knob="width")(_single("chebyshev"))
kan_wavelet = register_model("kan_wavelet", task=("mnist", "fashion-mnist"), knob="width")(_single("wavelet"))


@register_model("sconvkan", task=("mnist", "fashion-mnist"), knob="width")
def sconvkan(in_chans: int = 1, num_classes: int = 10, *, width: int = 10,
             families: tuple[str, ...] = IMAGE_POOL, topk: int = 1) -> SConvKAN:
    """S-ConvKAN (library example network, first KAN conv with ``width`` = 10 channels, second 2 x width)."""
    return SConvKAN(in_chans, num_classes, width=width, families=families, topk=topk)
