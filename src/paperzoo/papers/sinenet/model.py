"""SineNet: K waves of U-shaped blocks, each a residual update of the latent state (official ``sinenet_dual.py``).

Notation after the card: ``c`` hidden channels, ``m`` channel multiplier, ``L`` levels, ``K`` waves; level ``i``
has ``int(c * m ** i)`` channels at resolution ``H / 2^i`` (int truncation as in the official code).

    x <- Conv3x3(T_h C_in -> c)                                   lift
    for k = 1..K:  x <- x + V_k(x)                                ("wave residual", each wave its own weights)
    y <- Conv3x3(c -> T_f C_out)                                  projection: the next frame(s), not an increment

``V_k`` is a U-Net whose down path is *disentangled* ("dual"): the wave input ``d`` is average-pooled alongside the
features and concatenated to them at every level but the first; its up path upsamples by bicubic interpolation
(circularly padded first when ``padding_mode="circular"``), concatenates the skip of the same level and applies a
ConvBlock; every block adds a 1x1-conv shortcut ("block residual"). ConvBlock = [Conv3x3 -> GroupNorm(1) -> GELU] x 2.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_ACTS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


def level_widths(hidden: int, mult: float, levels: int) -> list[int]:
    """``[int(c * m ** i) for i = 0..L]``: the official widths, e.g. (64, 1.425, 4) -> 64, 91, 129, 185, 263."""
    return [int(hidden * mult ** i) for i in range(levels + 1)]


class ConvBlock(nn.Module):
    """[Conv3x3 -> GroupNorm(1 group) -> activation] x 2 (``sinenet_dual.ConvBlock``)."""

    def __init__(self, in_ch: int, out_ch: int, *, padding_mode: str = "zeros", norm: bool = True, activation: str = "gelu"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode=padding_mode)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, padding_mode=padding_mode)
        self.norm1 = nn.GroupNorm(1, out_ch) if norm else nn.Identity()
        self.norm2 = nn.GroupNorm(1, out_ch) if norm else nn.Identity()
        self.act = _ACTS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm2(self.conv2(self.act(self.norm1(self.conv1(x))))))


class Down(nn.Module):
    """Pool features ``h`` (and the wave input ``d``) by 2; concat ``d`` unless first; ConvBlocks with residuals."""

    def __init__(self, in_ch: int, out_ch: int, wave_ch: int, *, first: bool, disentangle: bool, blocks: int, **kw):
        super().__init__()
        self.first, self.disentangle = first, disentangle
        extra = wave_ch if (disentangle and not first) else 0
        self.conv = nn.ModuleList(ConvBlock(in_ch + extra if b == 0 else out_ch, out_ch, **kw) for b in range(blocks))
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, d: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.disentangle:
            d = F.avg_pool2d(d, 2)
        h = F.avg_pool2d(h, 2)
        h0 = h
        if self.disentangle and not self.first:
            h = torch.cat([h, d], 1)
        for b, block in enumerate(self.conv):
            h = block(h) + (self.shortcut(h0) if b == 0 else h0)
            h0 = h
        return d, h


def upsample2(x: torch.Tensor, mode: str = "bicubic", circular: bool = False) -> torch.Tensor:
    """x2 interpolation; ``circular``: pad 2 cells periodically, interpolate, crop 4 (official ``circular_interpolate``)."""
    if not circular:
        return F.interpolate(x, scale_factor=2, mode=mode)
    x = F.pad(x, (2, 2, 2, 2), mode="circular")
    return F.interpolate(x, scale_factor=2, mode=mode)[..., 4:-4, 4:-4]


class Up(nn.Module):
    """Upsample coarse features, concat [skip, upsampled], ConvBlocks; shortcut Conv1x1 of the upsampled tensor."""

    def __init__(self, in_ch: int, out_ch: int, *, blocks: int, upsample: str, padding_mode: str, **kw):
        super().__init__()
        self.mode, self.circular = upsample, padding_mode == "circular"
        self.conv = nn.ModuleList(ConvBlock(in_ch + out_ch if b == 0 else out_ch, out_ch, padding_mode=padding_mode, **kw)
                                  for b in range(blocks))
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        u = upsample2(x, self.mode, self.circular)
        h, x0 = torch.cat([skip, u], 1), u
        for b, block in enumerate(self.conv):
            h = block(h) + (self.shortcut(x0) if b == 0 else x0)
            x0 = h
        return h


class Wave(nn.Module):
    """One U-shaped block ``V_k``: ``L`` Down blocks, ``L`` Up blocks with skips (returns ``V_k(x)``, no residual)."""

    def __init__(self, widths: list[int], *, disentangle: bool, blocks: int, upsample: str, padding_mode: str, **kw):
        super().__init__()
        L = len(widths) - 1
        self.down = nn.ModuleList(Down(widths[i], widths[i + 1], widths[0], first=i == 0, disentangle=disentangle,
                                       blocks=blocks, padding_mode=padding_mode, **kw) for i in range(L))
        self.up = nn.ModuleList(Up(widths[L - j], widths[L - j - 1], blocks=blocks, upsample=upsample,
                                   padding_mode=padding_mode, **kw) for j in range(L))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, d, h = [x], x, x
        for down in self.down:
            d, h = down(d, h)
            skips.append(h)
        h = skips.pop()
        for up in self.up:
            h = up(h, skips.pop())
        return h


class SineNet(nn.Module):
    """SineNet (Zhang et al., ICLR 2024; official ``sinenet_dual.sinenet``).

    ``forward(x)``: ``x`` (B, T_h, C_in, H, W) -> (B, T_f, C_out, H, W); or flattened (B, T_h C_in, H, W) ->
    (B, T_f C_out, H, W). H and W must be multiples of ``2 ** levels``. Defaults are the registry's ``sinenet8-dual``
    (c 64, m 1.425, K 8, 4 levels, one block per level, zero padding, bicubic upsampling, GELU, GroupNorm(1)); with
    ``in_fields=out_fields=3`` and ``time_history=4`` it has exactly 35 490 219 parameters. ``levels`` other than 4
    generalise the official (hard-wired 4-level) code; ``waves=1`` is the single-wave U-Net control.
    """

    def __init__(self, in_fields: int = 3, out_fields: int | None = None, *, time_history: int = 4, time_future: int = 1,
                 hidden: int = 64, mult: float = 1.425, waves: int = 8, levels: int = 4, blocks_per_level: int = 1,
                 padding_mode: str = "zeros", disentangle: bool = True, wave_residual: bool = True,
                 upsample: str = "bicubic", norm: bool = True, activation: str = "gelu"):
        super().__init__()
        out_fields = in_fields if out_fields is None else out_fields
        if min(in_fields, out_fields, time_history, time_future, hidden, waves, levels, blocks_per_level) < 1:
            raise ValueError("SineNet: in_fields, out_fields, time_history, time_future, hidden, waves, levels and "
                             "blocks_per_level must all be >= 1")
        if padding_mode not in ("zeros", "circular") or activation not in _ACTS:
            raise ValueError(f"SineNet: padding_mode must be 'zeros' or 'circular' and activation one of {sorted(_ACTS)}; "
                             f"got {padding_mode!r}, {activation!r}")
        if mult < 1:
            raise ValueError(f"SineNet: mult must be >= 1 (widths grow with depth), got {mult}")
        self.in_fields, self.out_fields = in_fields, out_fields
        self.time_history, self.time_future, self.levels = time_history, time_future, levels
        self.wave_residual = wave_residual
        self.widths = level_widths(hidden, mult, levels)
        kw = dict(norm=norm, activation=activation)
        self.lift = nn.Conv2d(time_history * in_fields, hidden, 3, padding=1, padding_mode=padding_mode)
        self.waves = nn.ModuleList(Wave(self.widths, disentangle=disentangle, blocks=blocks_per_level, upsample=upsample,
                                        padding_mode=padding_mode, **kw) for _ in range(waves))
        self.proj = nn.Conv2d(hidden, time_future * out_fields, 3, padding=1, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        five = x.ndim == 5
        if five and tuple(x.shape[1:3]) != (self.time_history, self.in_fields):
            raise ValueError(f"SineNet: expected (B, {self.time_history}, {self.in_fields}, H, W), got {tuple(x.shape)}")
        if not five and (x.ndim != 4 or x.shape[1] != self.time_history * self.in_fields):
            raise ValueError(f"SineNet: expected (B, T_h, C, H, W) or (B, {self.time_history * self.in_fields}, H, W), "
                             f"got {tuple(x.shape)}")
        H, W = x.shape[-2:]
        if H % 2 ** self.levels or W % 2 ** self.levels:
            raise ValueError(f"SineNet: H and W must be multiples of 2**levels = {2 ** self.levels}, got {H} x {W}")
        h = self.lift(x.flatten(1, 2) if five else x)
        for wave in self.waves:
            h = h + wave(h) if self.wave_residual else wave(h)
        y = self.proj(h)
        return y.unflatten(1, (self.time_future, self.out_fields)) if five else y


def count_sinenet(**kwargs) -> int:
    """Parameter count of ``SineNet(**kwargs)``, built on the meta device (no memory, no initialisation)."""
    with torch.device("meta"):
        return sum(p.numel() for p in SineNet(**kwargs).parameters())


def match_mult(waves: int, hidden: int, target_params: int, *, lo: float = 1.0, hi: float = 4.0, iters: int = 40,
               **kwargs) -> float:
    """The multiplier ``m`` whose SineNet count is closest to ``target_params`` (bisection on m; the count is
    non-decreasing in m). This is how the official registry's K = 6 / 4 / 2 variants were matched to 35 490 219."""
    def count(m: float) -> int:
        return count_sinenet(waves=waves, hidden=hidden, mult=m, **kwargs)

    if target_params < count(lo) or target_params > count(hi):
        raise ValueError(f"match_mult: {target_params:,} parameters is outside [{count(lo):,}, {count(hi):,}] for "
                         f"m in [{lo}, {hi}] (waves={waves}, hidden={hidden})")
    a, b = lo, hi
    for _ in range(iters):
        mid = 0.5 * (a + b)
        a, b = (mid, b) if count(mid) < target_params else (a, mid)
    return min((a, b), key=lambda m: abs(count(m) - target_params))
