"""Training at one resolution and the paper's main evaluation: one trained model at several resolutions.

``train_operator`` is the official recipe at our scale: Adam with weight decay 1e-4, StepLR (gamma 0.5), batch 16,
the quadrature-weighted absolute L2 loss (``QuadratureL2Loss``), inputs standardised by one global mean / std of the
training inputs, outputs raw (``configs/*.yaml``: ``encode_input: True``, ``encode_output: False``). It runs on the
kernel's ``fit`` (checkpoints, resume, seeding, progress). ``resolution_sweep`` evaluates the relative L2 error of
any model on ``{res: (x, y)}``; a model that cannot run at a resolution (an FNO whose modes exceed the grid) gets NaN.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from paperzoo.data.sets import TensorSet
from paperzoo.papers.nns_to_nos.losses import QuadratureL2Loss, relative_l2
from paperzoo.train import fit


class InputNormalizer(nn.Module):
    """``x -> (x - mean) / std`` with scalar training statistics, then ``model``; outputs untouched."""

    def __init__(self, model: nn.Module, x_train: torch.Tensor):
        super().__init__()
        self.model = model
        self.register_buffer("mean", x_train.mean().reshape(()))
        self.register_buffer("std", x_train.std().clamp_min(1e-12).reshape(()))

    def forward(self, x):
        return self.model((x - self.mean) / self.std)


def train_operator(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int = 16,
                   lr: float = 1e-3, weight_decay: float = 1e-4, step_size: int = 10, gamma: float = 0.5,
                   ctx: Any = None, seed: int = 0, progress: bool | None = False) -> InputNormalizer:
    """Train ``model`` on ``(x, y)`` at their resolution; returns it wrapped with its input normaliser."""
    net = InputNormalizer(model, x)
    loss = QuadratureL2Loss()
    fit(net, TensorSet(x, y, name="ns-train"), epochs=epochs, batch_size=batch_size,
        loss_fn=lambda m, xb, yb: loss(m(xb), yb),
        optimizer=lambda p: torch.optim.Adam(p, lr=lr, weight_decay=weight_decay),
        scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=step_size, gamma=gamma),
        ctx=ctx, seed=seed, progress=progress, desc="train")
    return net


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 16) -> float:
    """Mean per-sample relative L2 error."""
    model.eval()
    errs = [relative_l2(model(x[i:i + batch_size]), y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return float(torch.cat(errs).mean())


def resolution_sweep(model: nn.Module, data_by_res: dict[int, tuple[torch.Tensor, torch.Tensor]], *,
                     batch_size: int = 16) -> dict[int, float]:
    """``{res: mean relative L2}`` of one model at every resolution (NaN where the model cannot run)."""
    out = {}
    for res, (x, y) in sorted(data_by_res.items()):
        try:
            out[res] = evaluate(model, x, y, batch_size=batch_size)
        except ValueError as e:  # only the 'modes need a grid of at least ...' case is expected
            if "modes" not in str(e):
                raise
            out[res] = math.nan
    return out
