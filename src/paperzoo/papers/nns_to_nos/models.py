"""The two architectures of the card's cpu rung: a PDEArena-style U-Net and an FNO, both with grid embeddings.

``UNetPDE``: the modern U-Net of PDEArena as used by the official ``models/unet.py`` (wide residual blocks
``h = conv2(act(norm2(conv1(act(norm1(x)))))) + shortcut(x)``, GroupNorm with one group, GELU, ``blocks`` residual
blocks per level, channels multiplied cumulatively by ``mults``, 3 x 3 stride-2 down-sampling, 4 x 4 stride-2
transposed-convolution up-sampling with padding 2 (the official odd-size-safe variant) whose output is centre-padded
to the skip's size, skips concatenated as ``[skip, x]``, final ``conv(act(norm(x)))``). Defaults are the official
config (``configs/unet.yaml``: hidden 19, mults (1, 2, 2, 3), kernel 9, 2 blocks, grid embedding, norm on).

``FNO``: lift ``[v, x, y]`` with a pointwise two-layer MLP, ``n_layers`` Fourier layers ``v <- GELU(K v + W v)``
(``K`` = ``paperzoo.nn.SpectralConv2d``, ``W`` a 1 x 1 convolution; no GELU after the last), project with a
pointwise two-layer MLP. The card's cpu rung uses modes 12, hidden 24. neuralop's channel-MLP and soft-gating skips
are left out (README deviation 3).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from paperzoo.nn import SpectralConv2d
from paperzoo.papers.nns_to_nos.resample import GridEmbedding2D


def _norm(ch: int, on: bool, groups: int) -> nn.Module:
    return nn.GroupNorm(groups, ch) if on else nn.Identity()


class ResidualBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, *, norm: bool = True, groups: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv2d(cout, cout, kernel, padding=kernel // 2)
        self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        self.norm1, self.norm2 = _norm(cin, norm, groups), _norm(cout, norm, groups)

    def forward(self, x):
        h = self.conv1(F.gelu(self.norm1(x)))
        h = self.conv2(F.gelu(self.norm2(h)))
        return h + self.shortcut(x)


class _Down(nn.Conv2d):
    def __init__(self, ch: int):
        super().__init__(ch, ch, 3, stride=2, padding=1)


class _Up(nn.ConvTranspose2d):
    def __init__(self, ch: int):
        super().__init__(ch, ch, 4, stride=2, padding=2)


def _match(x, skip):
    dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
    x = F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
    return torch.cat([skip, x], 1)


class UNetPDE(nn.Module):
    """``UNetPDE(in_ch=1, out_ch=1, *, hidden=19, mults=(1, 2, 2, 3), kernel=9, blocks=2, grid_embedding=True)``."""

    def __init__(self, in_ch: int = 1, out_ch: int = 1, *, hidden: int = 19, mults: tuple = (1, 2, 2, 3), kernel: int = 9,
                 blocks: int = 2, grid_embedding: bool = True, norm: bool = True, groups: int = 1):
        super().__init__()
        if kernel % 2 == 0 or kernel < 1:
            raise ValueError(f"UNetPDE: kernel must be a positive odd size, got {kernel}")
        if hidden < 1 or not mults or blocks < 1:
            raise ValueError(f"UNetPDE: need hidden >= 1, blocks >= 1 and at least one level; got {hidden}, {blocks}, "
                             f"{mults}")
        self.embed = GridEmbedding2D() if grid_embedding else None
        self.image_proj = nn.Conv2d(in_ch + (2 if grid_embedding else 0), hidden, kernel, padding=kernel // 2)
        down, ch = [], hidden
        for i, m in enumerate(mults):
            out = ch * m
            for _ in range(blocks):
                down.append(ResidualBlock(ch, out, kernel, norm=norm, groups=groups))
                ch = out
            if i < len(mults) - 1:
                down.append(_Down(ch))
        self.down = nn.ModuleList(down)
        self.middle = nn.Sequential(ResidualBlock(ch, ch, kernel, norm=norm, groups=groups),
                                    ResidualBlock(ch, ch, kernel, norm=norm, groups=groups))
        up = []
        for i in reversed(range(len(mults))):
            for _ in range(blocks):
                up.append(ResidualBlock(2 * ch, ch, kernel, norm=norm, groups=groups))
            out = ch // mults[i]
            up.append(ResidualBlock(ch + out, out, kernel, norm=norm, groups=groups))
            ch = out
            if i > 0:
                up.append(_Up(ch))
        self.up = nn.ModuleList(up)
        self.norm = _norm(hidden, norm, groups)
        self.final = nn.Conv2d(hidden, out_ch, kernel, padding=kernel // 2)

    def forward(self, x):
        if self.embed is not None:
            x = self.embed(x)
        x = self.image_proj(x)
        skips = [x]
        for m in self.down:
            x = m(x)
            skips.append(x)
        x = self.middle(x)
        for m in self.up:
            x = m(x) if isinstance(m, nn.ConvTranspose2d) else m(_match(x, skips.pop()))
        return self.final(F.gelu(self.norm(x)))


class FNO(nn.Module):
    """``FNO(in_ch=1, out_ch=1, *, hidden=24, modes=12, n_layers=4, lifting=2)`` on ``(B, in_ch, H, W)``."""

    def __init__(self, in_ch: int = 1, out_ch: int = 1, *, hidden: int = 24, modes: int = 12, n_layers: int = 4,
                 lifting: int = 2):
        super().__init__()
        self.embed = GridEmbedding2D()
        self.lift = nn.Sequential(nn.Conv2d(in_ch + 2, lifting * hidden, 1), nn.GELU(), nn.Conv2d(lifting * hidden, hidden, 1))
        self.spectral = nn.ModuleList(SpectralConv2d(hidden, hidden, modes) for _ in range(n_layers))
        self.pointwise = nn.ModuleList(nn.Conv2d(hidden, hidden, 1) for _ in range(n_layers))
        self.project = nn.Sequential(nn.Conv2d(hidden, lifting * hidden, 1), nn.GELU(), nn.Conv2d(lifting * hidden, out_ch, 1))

    def forward(self, x):
        v = self.lift(self.embed(x))
        for i, (k, w) in enumerate(zip(self.spectral, self.pointwise)):
            v = k(v) + w(v)
            if i < len(self.spectral) - 1:
                v = F.gelu(v)
        return self.project(v)
