"""Muon (momentum orthogonalised by Newton-Schulz), as the Li2 code uses it on the hidden layer W.

Official ``muon_opt.py`` (facebookresearch/luckmatters): decoupled weight decay p <- p (1 - lr wd) before the
update; momentum m <- beta2 m + (1 - beta2) g (``momentum.lerp_(grad, 1 - beta2)``); with Nesterov the update
direction is beta1 g + (1 - beta1) m, else m; O = NS5(direction); p <- p - lr c O with c = 1 (card: no RMS or
spectral compensation; RMS compensation would be c = sqrt(max(1, rows / cols))). The card's setting: beta1 = 0.9,
beta2 = 0.99, no Nesterov (so beta1 is unused), Adam on the top layer V.
"""
from __future__ import annotations

import torch

NS_COEFFS = ((4.01, -9.22, 5.80), (3.49, -6.38, 3.23), (3.34, -6.21, 3.20), (3.64, -7.48, 4.43), (3.46, -5.35, 2.85))


def newton_schulz(g: torch.Tensor, coeffs=NS_COEFFS, eps: float = 1e-7) -> torch.Tensor:
    """Approximate U V^T of g = U S V^T: X <- a X + (b A + c A^2) X with A = X X^T, X0 = g / ||g||_F (wide orientation)."""
    if g.dim() < 2:
        raise ValueError(f"Newton-Schulz needs a matrix, got shape {tuple(g.shape)}")
    tall = g.size(-2) > g.size(-1)
    x = g.mT if tall else g
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + eps)
    for a, b, c in coeffs:
        s = x @ x.mT
        x = a * x + (b * s + c * s @ s) @ x
    return x.mT if tall else x


class Muon(torch.optim.Optimizer):
    """Muon for matrix parameters (official ``MuonEnhanced`` with bf16 off); defaults from the card's Li2 setting."""

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 1e-4, beta1: float = 0.9, beta2: float = 0.99,
                 nesterov: bool = False, rms_compensate: bool = False):
        if lr <= 0 or weight_decay < 0 or not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"Muon: need lr > 0, weight_decay >= 0, betas in [0, 1); got {lr}, {weight_decay}, "
                             f"{beta1}, {beta2}")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, beta1=beta1, beta2=beta2, nesterov=nesterov,
                                      rms_compensate=rms_compensate))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd, b1, b2 = group["lr"], group["weight_decay"], group["beta1"], group["beta2"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.dim() != 2:
                    raise ValueError(f"Muon updates matrices only, got a parameter of shape {tuple(p.shape)}")
                m = self.state[p].setdefault("momentum", torch.zeros_like(p))
                if wd:
                    p.mul_(1 - lr * wd)
                m.lerp_(p.grad, 1 - b2)
                d = b1 * p.grad + (1 - b1) * m if group["nesterov"] else m
                c = max(1.0, p.size(0) / p.size(1)) ** 0.5 if group["rms_compensate"] else 1.0
                p.add_(newton_schulz(d), alpha=-lr * c)
        return loss
