"""Losses, data and the official training recipe for Darcy (card "Defaults", source-checked: ``darcy.py``,
``utilities3.py``): Adam with L2-coupled weight decay, OneCycle stepped per epoch (max lr, div 2, final div 100,
pct 0.2), batch 8, the relative H1 loss in Fourier space, the test error at the epoch of least validation rel. L2."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from paperzoo.data.pde import darcy_piecewise, generated, poisson_dst


def relative_l2(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample ``||pred - y|| / ||y||`` over everything but the batch axis, (B,)."""
    return (pred - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1).clamp_min(1e-30)


def relative_h1(pred: torch.Tensor, y: torch.Tensor, k_max: int = 20) -> torch.Tensor:
    """Per-sample relative H1 norm in Fourier space: each FFT coefficient weighted by ``sqrt(1 + kx^2 + ky^2)`` with
    ``|kx|``, ``|ky|`` each set to 0 once they reach ``k_max`` (official ``HsLoss``; a per-component cut), (B,)."""
    H, W = y.shape[-2:]
    kx = torch.fft.fftfreq(H, 1.0 / H, device=y.device).abs()
    ky = torch.fft.fftfreq(W, 1.0 / W, device=y.device).abs()
    kx, ky = torch.where(kx < k_max, kx, 0.0), torch.where(ky < k_max, ky, 0.0)
    w = torch.sqrt(1 + kx[:, None] ** 2 + ky[None, :] ** 2).to(y.dtype)
    d, t = torch.fft.fft2(pred - y) * w, torch.fft.fft2(y) * w
    return d.flatten(1).abs().norm(dim=1) / t.flatten(1).abs().norm(dim=1).clamp_min(1e-30)


def darcy_splits(n_train: int, n_val: int, n_test: int, res: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """FNO-recipe Darcy (a in {3, 12}, f = 1) at ``res`` x ``res``, (n, 1, res, res) float32; cached on disk."""
    n = n_train + n_val + n_test
    t = generated("darcy-piecewise", {"n": n, "res": res, "alpha": 2.0, "tau": 3.0, "hi": 12.0, "lo": 3.0,
                                      "seed": seed}, lambda: dict(zip(("a", "u"), darcy_piecewise(n, res, seed=seed))))
    a, u = t["a"].float().unsqueeze(1), t["u"].float().unsqueeze(1)
    i, j = n_train, n_train + n_val
    return {"a_train": a[:i], "u_train": u[:i], "a_val": a[i:j], "u_val": u[i:j], "a_test": a[j:], "u_test": u[j:]}


def poisson_set(n: int, res: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Card smoke (b): ``-Laplace u = f``, f a Neumann GRF (alpha 2, tau 3), exact five-point solve; (n, 1, res, res)."""
    from paperzoo.data.pde import grf2d

    f = grf2d(n, res, torch.Generator().manual_seed(seed))
    return f.float().unsqueeze(1), poisson_dst(f).float().unsqueeze(1)


@dataclass
class FitResult:
    best_epoch: int
    val_l2: float
    test_l2: float
    test_h1: float
    history: list[dict]


@torch.no_grad()
def evaluate(model, a: torch.Tensor, u: torch.Tensor, batch: int = 50) -> tuple[float, float]:
    model.eval()
    l2, h1 = [], []
    for s in range(0, len(a), batch):
        p = model(a[s:s + batch])
        l2.append(relative_l2(p, u[s:s + batch]))
        h1.append(relative_h1(p, u[s:s + batch]))
    model.train()
    return float(torch.cat(l2).mean()), float(torch.cat(h1).mean())


def fit(model, data: dict[str, torch.Tensor], *, epochs: int, batch_size: int = 8, lr: float = 5e-4,
        weight_decay: float = 1e-4, loss: str = "h1", seed: int = 0, progress=None) -> FitResult:
    """Official Darcy recipe; returns the test errors of the epoch with the least validation rel. L2."""
    if epochs < 1 or batch_size < 1 or loss not in ("h1", "l2"):
        raise ValueError(f"fit: need epochs >= 1, batch_size >= 1, loss in ('h1', 'l2'); got {epochs}, {batch_size}, {loss!r}")
    model.set_normalizers(data["a_train"], data["u_train"])
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)  # L2-coupled, as the official code
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs, div_factor=2,
                                                final_div_factor=100, pct_start=0.2)
    crit = relative_h1 if loss == "h1" else relative_l2
    gen = torch.Generator().manual_seed(seed)
    a, u = data["a_train"], data["u_train"]
    best, best_state, hist = (math.inf, 0), None, []
    for epoch in range(1, epochs + 1):
        for idx in torch.randperm(len(a), generator=gen).split(batch_size):
            ls = crit(model(a[idx]), u[idx]).sum()  # summed over the batch (official reduction)
            opt.zero_grad(set_to_none=True)
            ls.backward()
            opt.step()
        sched.step()
        val = evaluate(model, data["a_val"], data["u_val"])[0]
        hist.append({"epoch": epoch, "val_l2": val})
        if val < best[0]:
            best, best_state = (val, epoch), copy.deepcopy(model.state_dict())
        if progress is not None:
            progress.advance()
    model.load_state_dict(best_state)
    t_l2, t_h1 = evaluate(model, data["a_test"], data["u_test"])
    return FitResult(best[1], best[0], t_l2, t_h1, hist)
