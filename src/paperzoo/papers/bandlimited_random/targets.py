"""The card's 1-D regression targets, the data grid, and the Fourier-tail proxy of the error floor."""
from __future__ import annotations

import math
from typing import Callable

import torch

Target = Callable[[torch.Tensor], torch.Tensor]


def bump3(x: torch.Tensor) -> torch.Tensor:
    """T1: 0.2 exp(-(10x - 4)^2) + 0.5 exp(-(80x - 40)^2) + 0.3 exp(-(80x - 20)^2) on [0, 1]
    (the classic randomized-network stress test; that the ICML paper uses exactly it is unconfirmed, card)."""
    return 0.2 * torch.exp(-(10 * x - 4) ** 2) + 0.5 * torch.exp(-(80 * x - 40) ** 2) + 0.3 * torch.exp(-(80 * x - 20) ** 2)


def sine(k: float) -> Target:
    """T2 (the card's, controllable complexity): x -> sin(2 pi k x) on [0, 1]."""
    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(2 * math.pi * k * x)

    f.__name__ = f"sine_k{k:g}"
    return f


TARGETS: dict[str, Target] = {"T1": bump3, "T2k1": sine(1), "T2k4": sine(4), "T2k16": sine(16)}


def regression_data(target: Target, *, n_train: int = 1000, n_test: int = 1000, seed: int = 0):
    """Train on ``n_train`` equispaced points of [0, 1], test on ``n_test`` uniform points (card), float64."""
    x_tr = torch.linspace(0, 1, n_train, dtype=torch.float64)[:, None]
    x_te = torch.rand(n_test, 1, generator=torch.Generator().manual_seed(10_000 + seed), dtype=torch.float64)
    return x_tr, target(x_tr), x_te, target(x_te)


def fourier_tail(target: Target, cutoff: float, *, n: int = 1 << 17, length: float = 64.0) -> float:
    """Relative spectral energy of ``target`` on [0, 1] (zero outside) above angular frequency ``cutoff``:

        ( int_{|w| > cutoff} |f^(w)|^2 dw / int |f^(w)|^2 dw )^(1/2)

    computed with an FFT of the zero-padded function on ``[0, length)`` (frequency step 2 pi / length).
    This is the card's Fourier-tail proxy (ours, not the paper's bound); multiply by ||f|| for E_lambda.
    """
    if cutoff < 0:
        raise ValueError(f"fourier_tail: cutoff must be >= 0, got {cutoff}")
    x = torch.arange(n, dtype=torch.float64) * (length / n)
    f = torch.where(x <= 1.0, target(x.clamp(max=1.0)), torch.zeros_like(x))
    power = torch.fft.rfft(f).abs().square()
    w = 2 * math.pi * torch.fft.rfftfreq(n, d=length / n, dtype=torch.float64)
    total = power.sum()
    return float((power[w >= cutoff].sum() / total).sqrt()) if total > 0 else 0.0


def l2_norm(target: Target, n: int = 100_000) -> float:
    """||f||_{L2[0, 1]} by the midpoint rule."""
    x = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return float(target(x).square().mean().sqrt())
