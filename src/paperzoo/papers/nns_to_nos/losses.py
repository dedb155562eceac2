"""Training and evaluation losses (card, recipe piece 8; official ``utilities.LpLossAbs`` / neuralop ``LpLoss``).

``QuadratureL2Loss``: per sample the grid L2 norm of the error times ``sqrt(h_x h_y)`` (``h = L / N``, ``L = 2 pi``
by default: the official code's domain length), i.e. a quadrature of ``||e||_{L2(domain)}``; the per-sample norms are
**summed over the batch and the sum is squared**: ``loss = (sum_i sqrt(h_x h_y) ||e_i||_2)^2``, not
``sum_i h_x h_y ||e_i||^2`` (source-checked, ``square_abs`` reduces over the batch before squaring). Absolute, not
relative: it converges to the same value on every grid for the same functions.
``relative_l2``: per-sample ``||pred - y|| / ||y||`` over the grid (the evaluation metric).
"""
from __future__ import annotations

import math

import torch
from torch import nn


class QuadratureL2Loss(nn.Module):
    """``QuadratureL2Loss(domain_length=2 pi)(pred, y)`` on ``(B, C, H, W)``."""

    def __init__(self, domain_length: float | tuple[float, float] = 2 * math.pi):
        super().__init__()
        self.L = (domain_length, domain_length) if isinstance(domain_length, (int, float)) else tuple(domain_length)

    def forward(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if pred.shape != y.shape:
            raise ValueError(f"QuadratureL2Loss: prediction {tuple(pred.shape)} and target {tuple(y.shape)} differ")
        h = (self.L[0] / y.shape[-2]) * (self.L[1] / y.shape[-1])
        norms = math.sqrt(h) * (pred - y).flatten(1).norm(dim=1)
        return norms.sum().square()


def relative_l2(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample relative L2 error over all non-batch axes."""
    if pred.shape != y.shape:
        raise ValueError(f"relative_l2: prediction {tuple(pred.shape)} and target {tuple(y.shape)} differ")
    return (pred - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1).clamp_min(1e-30)
