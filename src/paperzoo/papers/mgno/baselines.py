"""Baselines for MgNO on the same data: an FNO (Li et al. 2021, the classic ``FNO2d``) and a plain local CNN.

FNO2d: lift ``[a, x, y] -> width`` (pointwise linear), ``n_layers`` Fourier layers ``v <- GELU(K v + W v)`` (no GELU
after the last) with ``K`` the spectral convolution on the lowest ``modes`` x ``modes`` frequencies (both signs of
the first axis), project ``width -> 128 -> 1``. Spectral weights are stored as real pairs so parameter counts are
real counts. Defaults from the card's cpu rung (modes 12, width 32, 4 layers); ``paperzoo.create_model("fno2d",
params=N)`` turns ``width`` to match a budget.
``SpectralConv2d`` lives in the kernel (``paperzoo.nn.spectral``): the FNO layer is shared by several papers.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from paperzoo.nn.spectral import SpectralConv2d
from paperzoo.papers.mgno.layers import set_normalizers


class FNO2d(nn.Module):
    """``FNO2d(in_ch=1, out_ch=1, *, width=32, modes=12, n_layers=4)`` on ``(B, in_ch, H, W)``."""

    def __init__(self, in_ch: int = 1, out_ch: int = 1, *, width: int = 32, modes: int = 12, n_layers: int = 4):
        super().__init__()
        self.lift = nn.Linear(in_ch + 2, width)
        self.spectral = nn.ModuleList(SpectralConv2d(width, width, modes) for _ in range(n_layers))
        self.pointwise = nn.ModuleList(nn.Conv2d(width, width, 1) for _ in range(n_layers))
        self.proj1, self.proj2 = nn.Linear(width, 128), nn.Linear(128, out_ch)
        self.register_buffer("x_mean", torch.zeros(()))
        self.register_buffer("x_std", torch.ones(()))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_std", torch.ones(()))

    set_normalizers = set_normalizers

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        B, _, H, W = a.shape
        a = (a - self.x_mean) / self.x_std
        gy, gx = torch.meshgrid(torch.linspace(0, 1, H, device=a.device, dtype=a.dtype),
                                torch.linspace(0, 1, W, device=a.device, dtype=a.dtype), indexing="ij")
        v = torch.cat([a, gy.expand(B, 1, H, W), gx.expand(B, 1, H, W)], 1)
        v = self.lift(v.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        n = len(self.spectral)
        for i, (k, w) in enumerate(zip(self.spectral, self.pointwise)):
            v = k(v) + w(v)
            if i < n - 1:
                v = F.gelu(v)
        out = self.proj2(F.gelu(self.proj1(v.permute(0, 2, 3, 1)))).permute(0, 3, 1, 2)
        return out * self.y_std + self.y_mean


class LocalCNN(nn.Module):
    """``LocalCNN(in_ch=1, out_ch=1, *, width=24, depth=5)``: 3 x 3 convolutions, GELU, the same normalisers."""

    def __init__(self, in_ch: int = 1, out_ch: int = 1, *, width: int = 24, depth: int = 5):
        super().__init__()
        dims = [in_ch] + [width] * (depth - 1)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(dims, dims[1:]))
        self.out = nn.Conv2d(dims[-1], out_ch, 3, padding=1)
        self.register_buffer("x_mean", torch.zeros(()))
        self.register_buffer("x_std", torch.ones(()))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_std", torch.ones(()))

    set_normalizers = set_normalizers

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        v = (a - self.x_mean) / self.x_std
        for c in self.convs:
            v = F.gelu(c(v))
        return self.out(v) * self.y_std + self.y_mean
