"""Registered operator models (task ``operator-2d``): SineNet-4 and the single-wave U-Net control, knob ``hidden``.

Both map a field (B, in_ch, H, W) to a field (B, out_ch, H, W) (one input "frame", ``time_history=1``), so the Darcy
arena (``paperzoo arena darcy --params N``) can train them like any operator; H and W must be multiples of 2**levels
(8 by default; the arena's 64 x 64 qualifies). Defaults are the card's cpu-rung shape (3 levels, as on a 32 x 32 grid)
at hidden 16; zero padding (Darcy has walls; pass ``padding_mode="circular"`` on periodic data).
"""
from __future__ import annotations

import torch

from paperzoo.papers.sinenet.model import SineNet
from paperzoo.registry import register_model

K4_MULT = 1.443  # match_mult(4, 12, count of the K=1, m=2, hidden-12 U-Net; 3 levels, 1 field, T_h 4) = 1.4434 (cpu rung)


def _example():
    return torch.randn(2, 1, 32, 32)


@register_model("sinenet", task="operator-2d", example=_example, knob="hidden")
def sinenet(in_ch: int = 1, out_ch: int = 1, *, hidden: int = 16, waves: int = 4, mult: float = K4_MULT, levels: int = 3,
            padding_mode: str = "zeros") -> SineNet:
    """SineNet-4 (4 waves; m 1.443 matches the single-wave U-Net with m 2 at equal hidden width, card cpu rung)."""
    return SineNet(in_ch, out_ch, time_history=1, time_future=1, hidden=hidden, mult=mult, waves=waves, levels=levels,
                   padding_mode=padding_mode)


@register_model("sinenet_unet", task="operator-2d", example=_example, knob="hidden")
def sinenet_unet(in_ch: int = 1, out_ch: int = 1, *, hidden: int = 16, mult: float = 2.0, levels: int = 3,
                 padding_mode: str = "zeros") -> SineNet:
    """The K = 1 control: one U-shaped wave with m 2 (the official single-wave ``sinenet1-dual`` shape)."""
    return SineNet(in_ch, out_ch, time_history=1, time_future=1, hidden=hidden, mult=mult, waves=1, levels=levels,
                   padding_mode=padding_mode)
