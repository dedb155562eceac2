"""The Fourier layer shared by the operator papers (FNO, Li et al., ICLR 2021, eq. 4-5).

``SpectralConv2d(cin, cout, modes)``: ``(K v)(x) = F^{-1}(R . (F v)|_{modes})(x)``, with ``R`` a complex weight on
the lowest ``modes`` x ``modes`` frequencies (both signs of the first axis, non-negative second axis of ``rfft2``).
The weights are stored as real pairs so parameter counts are real counts; the init ``U(0, 1) / (cin * cout)`` is
FNO's. Because ``rfft2`` is unnormalised and ``irfft2`` divides by ``H * W``, the layer acts on the sampled
function and not on the grid: the same weights give the same (band-limited) output at every resolution that holds
the modes, which is what makes an FNO discretisation-agnostic.
"""
from __future__ import annotations

import torch
from torch import nn


class SpectralConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, modes: int):
        super().__init__()
        self.modes = int(modes)
        scale = 1.0 / (cin * cout)
        self.w = nn.Parameter(scale * torch.rand(2, cin, cout, modes, modes, 2))  # (corner, in, out, kx, ky, re/im)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        m = self.modes
        if 2 * m > H or m > W // 2 + 1:
            raise ValueError(f"SpectralConv2d: {m} modes need a grid of at least {2 * m} x {2 * (m - 1)}, got {H} x {W}")
        xf = torch.fft.rfft2(x)
        w = torch.view_as_complex(self.w)
        out = torch.zeros(B, w.shape[2], H, W // 2 + 1, dtype=xf.dtype, device=x.device)
        out[:, :, :m, :m] = torch.einsum("bixy,ioxy->boxy", xf[:, :, :m, :m], w[0])
        out[:, :, -m:, :m] = torch.einsum("bixy,ioxy->boxy", xf[:, :, -m:, :m], w[1])
        return torch.fft.irfft2(out, s=(H, W))
