"""MgNO's operator layer: one multigrid V-cycle with learnable smoothers, restrictions and prolongations
(He, Liu, Xu; ICLR 2024), as the card reads the official ``xlliu2017/MgNO`` ``models.py`` (source-checked there).

``MgConv(in_ch, ch, levels)`` with ``levels = [(nu_0, nu'_0), ..., (nu_{L-1}, nu'_{L-1})]`` pre/post smoothing counts:

1. level 0: ``u = S(f)``; ``nu_0 - 1`` more steps ``u <- u + S(f - A(u))``;
2. down, level l -> l+1: ``f <- R(f)`` (stride-2 conv), ``u <- Pi(u)`` (stride-2 conv), then ``nu_{l+1}`` smoothing steps
   (``use_res=True``: ``f <- R(f - A_l(u))`` with its own ``A_l``, classical residual restriction; off in the
   released models);
3. up, l = L-2 .. 0: ``u_l <- u_l + P(u_{l+1})`` (transposed conv, kernel 4, stride 2, padding 1), optional LayerNorm,
   then ``nu'_l`` post-smoothing steps.

All convolutions 3 x 3, padding 1, no bias (Darcy), each occurrence with its own weights: the V-cycle is a *linear*
operator in ``f`` (checked by the tests). Odd sizes: the restriction gives ``ceil(n / 2)``; the prolongation's
``2 n`` output is cropped to the finer level's size (the official smooth-Darcy model switches to kernel 3 there).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv(cin: int, cout: int, stride: int, padding_mode: str, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, padding_mode=padding_mode, bias=bias)


class MgConv(nn.Module):
    """The learnable V-cycle ``f (B, in_ch, H, W) -> u (B, ch, H, W)``; linear unless ``bias=True``."""

    def __init__(self, in_ch: int, ch: int, levels: list[tuple[int, int]] | tuple = ((1, 0),) * 5 + ((2, 0),), *,
                 padding_mode: str = "zeros", use_res: bool = False, layernorm: bool = False, bias: bool = False):
        super().__init__()
        levels = [tuple(int(v) for v in lv) for lv in levels]
        if not levels or any(len(lv) != 2 or lv[0] < 1 or lv[1] < 0 for lv in levels):
            raise ValueError(f"MgConv: levels must be (pre >= 1, post >= 0) pairs, got {levels}")
        self.levels, self.use_res, self.layernorm = levels, bool(use_res), bool(layernorm)
        L = len(levels)
        # smoothers S (f -> u) and A (u -> f), one per smoothing step, per level
        self.S = nn.ModuleList(nn.ModuleList(_conv(in_ch, ch, 1, padding_mode, bias) for _ in range(pre + post))
                               for pre, post in levels)
        # level 0's first step is u = S(f): it has no A (an unused A would be a parameter without a gradient)
        self.A = nn.ModuleList(nn.ModuleList(nn.Identity() if (lv == 0 and i == 0) else
                                             _conv(ch, in_ch, 1, padding_mode, bias) for i in range(pre + post))
                               for lv, (pre, post) in enumerate(levels))
        self.Ares = nn.ModuleList(_conv(ch, in_ch, 1, padding_mode, bias) for _ in range(L - 1)) if use_res else None
        self.R = nn.ModuleList(_conv(in_ch, in_ch, 2, padding_mode, False) for _ in range(L - 1))
        self.Pi = nn.ModuleList(_conv(ch, ch, 2, padding_mode, False) for _ in range(L - 1))
        self.P = nn.ModuleList(nn.ConvTranspose2d(ch, ch, 4, stride=2, padding=1, bias=False) for _ in range(L - 1))

    def _smooth(self, u, f, level: int, steps: range):
        for i in steps:
            u = self.S[level][i](f) if u is None else u + self.S[level][i](f - self.A[level][i](u))
        return u

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        if f.ndim != 4:
            raise ValueError(f"MgConv: expected (B, C, H, W), got {tuple(f.shape)}")
        us, sizes = [], []
        u = None
        for level, (pre, _) in enumerate(self.levels):
            if level > 0:
                f = self.R[level - 1](f - self.Ares[level - 1](u) if self.use_res else f)
                u = self.Pi[level - 1](u)
            sizes.append(f.shape[-2:])
            u = self._smooth(u, f, level, range(pre))
            us.append((u, f))
        u = us[-1][0]
        for level in range(len(self.levels) - 2, -1, -1):
            up = self.P[level](u)[..., : sizes[level][0], : sizes[level][1]]
            u, f = us[level][0] + up, us[level][1]
            if self.layernorm:
                u = F.layer_norm(u, u.shape[1:])
            pre, post = self.levels[level]
            u = self._smooth(u, f, level, range(pre, pre + post))
        return u


def set_normalizers(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, pointwise: bool = True) -> nn.Module:
    """Standardise inputs and decode outputs with training-set statistics, pointwise over the grid ("PGN", the
    official smooth-Darcy setting) or by global scalars ("GN"); stored in the model's buffers."""
    dims = (0,) if pointwise else tuple(range(x.ndim))
    model.x_mean, model.x_std = x.mean(dims), x.std(dims).clamp_min(1e-8)
    model.y_mean, model.y_std = y.mean(dims), y.std(dims).clamp_min(1e-8)
    return model


class MgNO(nn.Module):
    """``MgNO(in_ch=1, out_ch=1, *, ch=24, n_layers=4, levels=..., padding_mode="zeros")``:
    ``u <- GELU(MgConv(u) + Conv1x1(u))`` per layer (the 1 x 1 conv's bias is the paper's "bias" term), then a
    bias-free 1 x 1 projection. Optional pointwise input / output normalisation (buffers set by ``set_normalizers``;
    the official Darcy models decode the output inside the model)."""

    def __init__(self, in_ch: int = 1, out_ch: int = 1, *, ch: int = 24, n_layers: int = 4,
                 levels: list[tuple[int, int]] | tuple = ((1, 0),) * 5 + ((2, 0),), padding_mode: str = "zeros"):
        super().__init__()
        if n_layers < 1 or ch < 1:
            raise ValueError(f"MgNO: need n_layers >= 1 and ch >= 1, got {n_layers}, {ch}")
        dims = [in_ch] + [ch] * n_layers
        self.convs = nn.ModuleList(MgConv(a, b, levels, padding_mode=padding_mode) for a, b in zip(dims, dims[1:]))
        self.skips = nn.ModuleList(nn.Conv2d(a, b, 1) for a, b in zip(dims, dims[1:]))
        self.proj = nn.Conv2d(ch, out_ch, 1, bias=False)
        self.register_buffer("x_mean", torch.zeros(()), persistent=True)
        self.register_buffer("x_std", torch.ones(()), persistent=True)
        self.register_buffer("y_mean", torch.zeros(()), persistent=True)
        self.register_buffer("y_std", torch.ones(()), persistent=True)

    def set_normalizers(self, x: torch.Tensor, y: torch.Tensor, *, pointwise: bool = True) -> "MgNO":
        return set_normalizers(self, x, y, pointwise=pointwise)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        u = (a - self.x_mean) / self.x_std
        for conv, skip in zip(self.convs, self.skips):
            u = F.gelu(conv(u) + skip(u))
        return self.proj(u) * self.y_std + self.y_mean
