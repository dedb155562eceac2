"""Registered models (task ``operator-2d``): the PDEArena U-Net, so the operator arena can place it."""
from __future__ import annotations

import torch

from paperzoo.papers.nns_to_nos.models import UNetPDE
from paperzoo.registry import register_model


def _example():
    return torch.rand(2, 1, 32, 32)


@register_model("unet_pdearena", task="operator-2d", example=_example, knob="hidden")
def unet_pdearena(in_ch: int = 1, out_ch: int = 1, *, hidden: int = 8, kernel: int = 5, mults: tuple = (1, 2, 2),
                  blocks: int = 2) -> UNetPDE:
    """PDEArena U-Net at the card's cpu size (hidden 8, kernel 5, mults (1, 2, 2)); the official size is hidden 19,
    kernel 9, mults (1, 2, 2, 3)."""
    return UNetPDE(in_ch, out_ch, hidden=hidden, kernel=kernel, mults=mults, blocks=blocks)
