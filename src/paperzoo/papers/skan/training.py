"""The three-phase S-KAN procedure (card "Selection"): full training, selective training, pruning.

``train_skan(model, x, y, steps=2000, phases=(0.6, 0.3, 0.1))`` runs phase 1 (all families and
selection weights train jointly) for 60 % of the steps, then ``select`` (per node keep the top-k
families by ``|a|``) and phase 2 for 30 %, then ``prune`` (drop unused parameters) and phase 3
(fine-tuning) for the last 10 % (card defaults; the paper's schedule was not retrieved). A fresh
Adam starts at each phase because the parameter set changes. ``phases=(1.0,)`` trains without
selection (how single-family KANs and MLPs are trained here, with the same steps and optimiser).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.papers.skan.model import family_counts, prune, select, selectable_layers

LOSSES = {"mse": F.mse_loss, "ce": F.cross_entropy}


def phase_steps(steps: int, phases: tuple[float, ...]) -> list[int]:
    """Split ``steps`` by the fractions ``phases`` (rounded; the last phase takes the remainder)."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if len(phases) not in (1, 3) or min(phases) < 0 or not math.isclose(sum(phases), 1.0, abs_tol=1e-6):
        raise ValueError(f"phases must be (1.0,) or three fractions >= 0 summing to 1, got {phases}")
    counts = [round(f * steps) for f in phases[:-1]]
    return counts + [steps - sum(counts)]


def train_skan(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int = 2000, lr: float = 1e-2,
               phases: tuple[float, ...] = (0.6, 0.3, 0.1), topk: int | None = None, batch_size: int | None = None,
               loss: str = "mse", generator: torch.Generator | None = None,
               on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train ``model`` on ``(x, y)`` with Adam(lr) for ``steps`` steps in the phases above.

    ``batch_size=None``: full batch (card's function fitting); otherwise random mini-batches drawn
    with ``generator``. ``loss``: 'mse' or 'ce'. With three phases the model must contain
    ``SelectableKANLayer``s. Returns ``{"losses": [...], "phase_steps": [...], "families": counts}``.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must hold the same positive number of samples, got {len(x)} and {len(y)}")
    counts = phase_steps(steps, tuple(phases))
    if len(counts) == 3 and not selectable_layers(model):
        raise ValueError("three-phase training needs a model with SelectableKANLayer (use phases=(1.0,) otherwise)")
    if batch_size is not None and not 1 <= batch_size <= len(x):
        raise ValueError(f"batch_size must be in 1..{len(x)}, got {batch_size}")
    loss_fn = LOSSES[loss]
    losses: list[float] = []
    model.train()
    step = 0
    for phase, n in enumerate(counts):
        if phase == 1:
            select(model, topk)
        elif phase == 2:
            prune(model)
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        for _ in range(n):
            if batch_size is None or batch_size == len(x):
                xb, yb = x, y
            else:
                idx = torch.randint(len(x), (batch_size,), generator=generator)
                xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            value = loss_fn(model(xb), yb)
            if not torch.isfinite(value):
                raise FloatingPointError(f"train_skan: loss became {value.item()} at step {step} (phase {phase + 1})")
            value.backward()
            opt.step()
            losses.append(value.item())
            step += 1
            if on_step is not None:
                on_step(step, losses[-1])
    return {"losses": losses, "phase_steps": counts, "families": family_counts(model)}


@torch.no_grad()
def rmse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Root mean squared error of ``model(x)`` against ``y`` (eval mode)."""
    was = model.training
    model.eval()
    out = float(torch.sqrt(F.mse_loss(model(x), y)))
    model.train(was)
    return out
