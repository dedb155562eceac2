"""Registered models (task ``operator-2d``): the PDEArena U-Net, so the operator arena can place it."""
from __future__ import annotations

import torch

from paperzoo.papers.nns_to_nos.models import UNetPDE
from paperzoo.registry import register_model


def _example():
    return torch.rand(2, 1, 32, 32)


@register_model("unet_pdearena", task="operator-2d", example=_example, knob="hidden")
def unet_pdearena(in_ch: int = 1, out_ch: int = 1, *, hidden: int = 19, kernel: int = 5, mults: tuple = (1, 2, 2),
                  blocks: int = 2) -> UNetPDE:
    """PDEArena U-Net: the official hidden width 19 at the card's cpu kernel 5 and mults (1, 2, 2) (2.7M parameters;
    the official model has kernel 9 and mults (1, 2, 2, 3)). The count grows as hidden^2, so a wide default keeps
    consecutive widths within the budget search's +-10 %."""
    return UNetPDE(in_ch, out_ch, hidden=hidden, kernel=kernel, mults=mults, blocks=blocks)
