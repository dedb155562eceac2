"""The branching factor of a liquid (``compute_branching_factor.py``; card "Branching factor").

For every spike of reservoir neuron n at time t (t in [buffer, T - buffer)):
    pre  = spikes of n's reservoir presynaptic partners in [t - window, t), clipped below at 1,
    post = spikes of n's reservoir postsynaptic partners in [t + 1, t + 1 + window),
    ratio = post / pre;
average the ratios over n's spikes, nan-mean over neurons (a neuron without spikes is nan), then mean over
samples. ~1 is critical, > 1 super-critical. Vectorised: windowed spike sums by a cumulative sum over time,
partner sums by one matmul with the (N, N) adjacency.
"""
from __future__ import annotations

import torch

from paperzoo.papers.nalsm.liquid import Liquid


def _window_sums(r: torch.Tensor, start: int, width: int) -> torch.Tensor:
    """out[:, t] = sum of r[:, t + start : t + start + width] (zero outside [0, T)); r (B, T, N)."""
    b, t_len, n = r.shape
    c = torch.zeros(b, t_len + 1, n, dtype=r.dtype, device=r.device)
    c[:, 1:] = r.cumsum(1)
    t = torch.arange(t_len, device=r.device)
    lo = (t + start).clamp(0, t_len)
    hi = (t + start + width).clamp(0, t_len)
    return c[:, hi] - c[:, lo]


def branching_factor(raster: torch.Tensor, liquid: Liquid, *, window: int = 4, buffer: int = 25,
                     per_sample: bool = False) -> float | torch.Tensor:
    """Branching factor of rasters (B, T, N) bool/0-1 of the reservoir (official defaults window 4 ms,
    buffer 25 ms). Returns the mean over samples (a float), or the (B,) per-sample values."""
    if raster.ndim != 3 or raster.shape[2] != liquid.n_res:
        raise ValueError(f"raster must be (B, T, {liquid.n_res}), got {tuple(raster.shape)}")
    if raster.shape[1] <= 2 * buffer:
        raise ValueError(f"raster has {raster.shape[1]} steps; need more than 2 * buffer = {2 * buffer}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    r = raster.double()
    pre, post = liquid.recurrent()
    adj = torch.zeros(liquid.n_res, liquid.n_res, dtype=torch.float64, device=r.device)
    adj[post.to(r.device), pre.to(r.device)] = 1.0  # adj[i, j] = 1: j -> i
    before = _window_sums(r, -window, window) @ adj.T  # spikes of i's presynaptic partners in [t - w, t)
    after = _window_sums(r, 1, window) @ adj  # spikes of i's postsynaptic partners in [t + 1, t + 1 + w)
    ratio = after / before.clamp_min(1.0)
    keep = torch.zeros(r.shape[1], dtype=torch.float64, device=r.device)
    keep[buffer:r.shape[1] - buffer] = 1.0
    s = r * keep[None, :, None]
    n_sp = s.sum(1)  # (B, N)
    per_neuron = (ratio * s).sum(1) / n_sp  # nan where a neuron never spiked
    bf = per_neuron.nanmean(1)
    return bf if per_sample else float(bf.nanmean())
