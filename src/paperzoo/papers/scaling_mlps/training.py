"""The paper's training recipe as tensor code: LION, label smoothing + MixUp, on-device flips and crops.

Defaults from the official ``utils/parsers.py`` / ``train.py`` (pre-training): LION lr 5e-5, betas
(0.9, 0.99), weight decay 0, label smoothing 0.3, MixUp strength 0.8, augmentation on. The official
loaders are FFCV pipelines; here the whole data set is a tensor and augmentation runs on the batch,
on the model's device (the card's pitfall: data loading, not compute, is the MLP bottleneck).
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn


class Lion(torch.optim.Optimizer):
    """LION (Chen et al. 2023), the paper's optimiser.

    Per parameter, with gradient g and momentum m (zero at start):
        theta <- theta (1 - lr wd)                       (decoupled weight decay)
        c = beta1 m + (1 - beta1) g;  theta <- theta - lr sign(c)
        m <- beta2 m + (1 - beta2) g
    Defaults: betas (0.9, 0.99) and weight decay 0 (official repo); lr 5e-5 is the paper's pre-training lr.
    """

    def __init__(self, params: Iterable, lr: float = 5e-5, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0):
        if not lr > 0:
            raise ValueError(f"Lion: lr must be > 0, got {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Lion: betas must be in [0, 1), got {betas}")
        if weight_decay < 0:
            raise ValueError(f"Lion: weight_decay must be >= 0, got {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                p.mul_(1 - lr * wd)
                c = m.mul(b1).add_(p.grad, alpha=1 - b1)
                p.add_(c.sign_(), alpha=-lr)
                m.mul_(b2).add_(p.grad, alpha=1 - b2)
        return loss


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, generator: torch.Generator | None = None):
    """MixUp (Zhang et al. 2018) with one weight per batch, as the official loader does:
    lam ~ Beta(alpha, alpha), x' = lam x + (1 - lam) x[perm]; returns (x', y, y[perm], lam).

    ``alpha = 0`` turns it off (returns lam = 1 and y itself as the partner).
    """
    if alpha < 0:
        raise ValueError(f"mixup: alpha must be >= 0, got {alpha}")
    if alpha == 0:
        return x, y, y, 1.0
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(len(x), generator=generator, device="cpu").to(x.device)
    return lam * x + (1 - lam) * x[perm], y, y[perm], lam


def flip_crop(x: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random horizontal flips (p = 1/2) and random crops of the zero-padded image, per sample,
    vectorised: ``(B, C, H, W) -> (B, C, H, W)``. Zero padding of normalised images = the mean colour."""
    if x.dim() != 4:
        raise ValueError(f"flip_crop expects images (B, C, H, W), got shape {tuple(x.shape)}")
    if pad < 0:
        raise ValueError(f"flip_crop: pad must be >= 0, got {pad}")
    b, _, h, w = x.shape
    flip = torch.rand(b, generator=generator) < 0.5
    x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
    if pad == 0:
        return x
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]   # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]   # (B, 1, 1, W)
    bidx = torch.arange(b, device=x.device)[:, None, None, None]
    cidx = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return xp[bidx, cidx, rows, cols]


def make_loss(*, smoothing: float = 0.3, mixup_alpha: float = 0.0, augment: bool = False,
              pad: int = 4) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``loss_fn(model, x, y)`` for ``paperzoo.train.fit``: optional flips/crops (images only), optional
    MixUp, then lam CE_s(f(x'), y) + (1 - lam) CE_s(f(x'), y[perm]) with label smoothing ``smoothing``
    (official ``train.py``). Random draws use torch's global RNG, which the kernel's resume restores."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")

    def loss_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if augment and x.dim() == 4:
            x = flip_crop(x, pad)
        x, ya, yb, lam = mixup(x, y, mixup_alpha)
        out = model(x)
        loss = F.cross_entropy(out, ya, label_smoothing=smoothing)
        if lam != 1.0:
            loss = lam * loss + (1 - lam) * F.cross_entropy(out, yb, label_smoothing=smoothing)
        return loss

    return loss_fn


def make_optimizer(name: str, lr: float, weight_decay: float = 0.0) -> Callable[[Iterable], torch.optim.Optimizer]:
    """``params -> optimiser`` for ``fit``: "lion" (the paper's), "adamw" (the card's CPU choice) or
    "sgd" (momentum 0.9, the official fine-tuning optimiser)."""
    if name == "lion":
        return lambda p: Lion(p, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'lion', 'adamw' or 'sgd', got {name!r}")
