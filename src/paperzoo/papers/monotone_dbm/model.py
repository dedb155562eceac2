"""Dense monotone DBMs for digit images, and the registered classifier.

``dense_dbm`` builds the card's CPU model: a visible tier of ``side x side`` pixels with ``n_bins`` states,
hidden tiers of 4-state variables (the code's grouped hidden tiers use 4 channels per group), and one
10-state label variable, all-to-all couplings ``W = s (D - A^T A)`` (card, "CPU reproduction").
``image_bins`` turns MNIST images into pixel bins at that resolution.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.papers.monotone_dbm.learner import bucketize
from paperzoo.papers.monotone_dbm.monotone import HollowMonotoneLinear
from paperzoo.papers.monotone_dbm.solver import MonotoneDBM
from paperzoo.registry import register_model


def image_bins(images: torch.Tensor, side: int, n_bins: int) -> torch.Tensor:
    """(N, 1, H, W) in [0, 1] -> (N, side*side) pixel bins: area-average to ``side x side``, then
    ``bucketize`` into ``n_bins`` equal bins of [0, 1] (code ``util.py``)."""
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be (N, 1, H, W), got {tuple(images.shape)}")
    x = images if images.shape[-1] == side and images.shape[-2] == side else F.adaptive_avg_pool2d(images, side)
    return bucketize(x.clamp(0, 1), n_bins).flatten(1)


def dense_dbm(n_pixels: int = 64, n_bins: int = 4, hidden: Sequence[int] = (64, 32), states: int = 4,
              num_classes: int = 10, *, m: float = 0.01, alpha: float = 0.125, tol: float = 1e-2,
              max_iter: int = 50, solver: str = "anderson") -> MonotoneDBM:
    """Tiers ``[(n_pixels, n_bins), (h, states) for h in hidden, (1, num_classes)]``, all-to-all.
    Defaults: the card's CPU model (8x8 pixels, 4 bins, 64 and 32 hidden 4-state variables, label 10;
    m = 0.01, alpha 0.125, tol 1e-2, 50 iterations from the code's ``main.py``)."""
    tiers = [(n_pixels, n_bins)] + [(h, states) for h in hidden] + [(1, num_classes)]
    return MonotoneDBM(HollowMonotoneLinear(tiers, m=m), alpha=alpha, tol=tol, max_iter=max_iter, solver=solver)


class DBMImageClassifier(nn.Module):
    """Images -> label logits of a dense monotone DBM with every pixel observed (mean-field inference
    with the pixels clamped, the label free; logits = label tier of ``W z* + b`` times clftau^2).
    Trainable by ordinary back-prop: gradients flow through the implicit backward."""

    def __init__(self, dbm: MonotoneDBM, side: int):
        super().__init__()
        self.dbm, self.side = dbm, side
        self.n_bins = dbm.linear.tiers[0][1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.reshape(images.shape[0], 1, *images.shape[-2:]) if images.ndim != 4 else images
        bins = image_bins(x, self.side, self.n_bins)
        vis = F.one_hot(bins, self.n_bins).to(self.dbm.clftau.dtype)
        self.dbm(vis, torch.ones(bins.shape, dtype=vis.dtype, device=vis.device))
        return self.dbm.label_logits()


@register_model("monotone_dbm_mnist", task="mnist", knob="width")
def monotone_dbm_mnist(in_chans: int = 1, num_classes: int = 10, *, width: int = 64, side: int = 8, n_bins: int = 4,
                       m: float = 0.01) -> DBMImageClassifier:
    """The card's CPU monotone DBM as an MNIST classifier: images area-averaged to ``side x side``
    (default 8), ``n_bins`` = 4 intensity bins, hidden tiers of ``width`` and ``max(1, width // 2)`` 4-state
    variables, all-to-all hollow monotone couplings (m = 0.01, code). Parameters ~ d^2 with
    d = side^2 n_bins + 6 width + num_classes (``width`` is the budget knob)."""
    if in_chans != 1:
        raise ValueError(f"monotone_dbm_mnist reads grey images (in_chans=1), got {in_chans}")
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    return DBMImageClassifier(dense_dbm(side * side, n_bins, (width, max(1, width // 2)), num_classes=num_classes, m=m),
                              side)
