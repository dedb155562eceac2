"""Function-space resampling and coordinate embeddings (card, recipe pieces 6-7).

* ``fourier_resize(x, size)``: zero-pad or truncate the ``rfft2`` spectrum to the new grid and rescale by
  ``(H' W') / (H W)`` so that grid values, not coefficients, are preserved (the official ``utilities.resize``
  convention: for even sizes the Nyquist row is kept on the negative side). Band-limited inputs survive an
  up-then-down round trip exactly.
* ``bilinear_resize(x, size)``: ``F.interpolate(..., mode="bilinear", align_corners=False)``, the cheap alternative
  (official ``bilinear_interpolate``).
* ``GridEmbedding2D``: appends the periodic coordinates ``x_i = i / H``, ``y_j = j / W`` as two channels (neuralop's
  ``GridEmbedding2D`` on the unit square). Sampling the grid at ``i / N`` makes a strided sub-grid see exactly the
  coordinates of the coarse grid, so the embedding is itself discretisation-consistent.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

MODES = ("bilinear", "fourier")


def _size(size) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h < 1 or w < 1:
        raise ValueError(f"resize: target size must be positive, got {size}")
    return int(h), int(w)


def fourier_resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resample the last two axes of ``x`` to ``size`` by spectral truncation / zero padding."""
    h2, w2 = _size(size)
    h, w = x.shape[-2:]
    if (h, w) == (h2, w2):
        return x
    f = torch.fft.rfft2(x)
    out = f.new_zeros(*x.shape[:-2], h2, w2 // 2 + 1)
    top, bot, cols = min((h + 1) // 2, (h2 + 1) // 2), min(h // 2, h2 // 2), min(w // 2 + 1, w2 // 2 + 1)
    out[..., :top, :cols] = f[..., :top, :cols]
    if bot:
        out[..., -bot:, :cols] = f[..., -bot:, :cols]
    return torch.fft.irfft2(out, s=(h2, w2)) * (h2 * w2 / (h * w))


def bilinear_resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resampling of ``(B, C, H, W)`` (any leading shape with 2 spatial axes is flattened to 4-D)."""
    size = _size(size)
    if tuple(x.shape[-2:]) == size:
        return x
    lead = x.shape[:-2]
    y = F.interpolate(x.reshape(-1, 1, *x.shape[-2:]), size=size, mode="bilinear", align_corners=False)
    return y.reshape(*lead, *size)


def resize(x: torch.Tensor, size: int | tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    if mode == "bilinear":
        return bilinear_resize(x, size)
    if mode == "fourier":
        return fourier_resize(x, size)
    raise ValueError(f"resize: mode must be one of {MODES}, got {mode!r}")


def subsample(x: torch.Tensor, res: int) -> torch.Tensor:
    """Strided subsample of the last two axes to ``res`` (how the paper builds its test sets from one 1024^2 file)."""
    n = x.shape[-1]
    if n % res or x.shape[-2] != n:
        raise ValueError(f"subsample: a square grid of {x.shape[-2]} x {n} cannot be strided to {res}")
    k = n // res
    return x[..., ::k, ::k]


class GridEmbedding2D(nn.Module):
    """``(B, C, H, W) -> (B, C + 2, H, W)`` with the coordinates ``i / H`` and ``j / W`` appended."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        gx = torch.arange(H, device=x.device, dtype=x.dtype) / H
        gy = torch.arange(W, device=x.device, dtype=x.dtype) / W
        grid = torch.stack(torch.meshgrid(gx, gy, indexing="ij"))
        return torch.cat([x, grid.expand(B, 2, H, W)], 1)
