"""Registered operator models (task ``operator-2d``): MgNO and its baselines at the card's cpu sizes."""
from __future__ import annotations

import torch

from paperzoo.papers.mgno.baselines import FNO2d, LocalCNN
from paperzoo.papers.mgno.layers import MgNO
from paperzoo.registry import register_model

CPU_LEVELS = ((1, 0),) * 4 + ((2, 0),)  # card cpu rung: 64 -> 4


def _example():
    return torch.rand(2, 1, 32, 32)


@register_model("mgno", task="operator-2d", example=_example, knob="ch")
def mgno(in_ch: int = 1, out_ch: int = 1, *, ch: int = 16, n_layers: int = 4, levels: tuple = CPU_LEVELS) -> MgNO:
    """MgNO, card cpu rung: ch 16, 4 layers, levels [(1, 0)] x 4 + [(2, 0)]."""
    return MgNO(in_ch, out_ch, ch=ch, n_layers=n_layers, levels=levels)


@register_model("fno2d", task="operator-2d", example=_example, knob="width")
def fno2d(in_ch: int = 1, out_ch: int = 1, *, width: int = 32, modes: int = 12, n_layers: int = 4) -> FNO2d:
    """FNO2d, card cpu baseline: modes 12, width 32, 4 layers."""
    return FNO2d(in_ch, out_ch, width=width, modes=modes, n_layers=n_layers)


@register_model("local_cnn", task="operator-2d", example=_example, knob="width")
def local_cnn(in_ch: int = 1, out_ch: int = 1, *, width: int = 24, depth: int = 5) -> LocalCNN:
    """Plain 5-layer 3 x 3 CNN (card smoke (b)'s local baseline)."""
    return LocalCNN(in_ch, out_ch, width=width, depth=depth)
