"""The official PDEArena/SineNet recipe: scaled L2 loss, per-field normalisation, windows, rollout, AdamW + warm-up cosine.

* ``scaled_l2`` (``modules/loss.py``): for every sample, time step and field ``||pred - target||_2 / ||target||_2``
  over space, then the mean.
* ``FieldNormalizer`` (``models/normalizer.py``): one mean and one standard deviation per field, over every training
  trajectory, frame and grid point; the model sees normalised inputs and predicts normalised frames.
* ``rollout`` (``rollout.py``): normalise the first ``T_h`` frames, predict, append the prediction (still normalised),
  keep the last ``T_h`` frames, repeat; predictions are de-normalised for the loss.
* ``train`` wraps the kernel's ``fit``: training loss on normalised prediction and target, AdamW (weight decay 1e-5),
  linear warm-up from 1e-7 then cosine annealing to 1e-7 per step (``configs/navierstokes2d.yaml``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from paperzoo.data.sets import TensorSet
from paperzoo.train import fit


def scaled_l2(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Relative L2 over space per (sample, time, field) of (B, T, C, H, W) tensors; ``reduction`` mean | none."""
    if pred.ndim != 5 or pred.shape != target.shape:
        raise ValueError(f"scaled_l2: need two (B, T, C, H, W) tensors of one shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    val = (pred - target).flatten(3).norm(dim=-1) / target.flatten(3).norm(dim=-1)
    if reduction == "none":
        return val
    if reduction != "mean":
        raise ValueError(f"scaled_l2: reduction must be 'mean' or 'none', got {reduction!r}")
    return val.mean()


class ScaledL2Loss(nn.Module):
    """``scaled_l2`` as a module (PDEArena's ``ScaledLpLoss`` with p = 2)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return scaled_l2(pred, target)


class FieldNormalizer(nn.Module):
    """Per-field mean and standard deviation of training trajectories (N, T, C, H, W); acts on (..., C, H, W)."""

    def __init__(self, trajectories: torch.Tensor):
        super().__init__()
        if trajectories.ndim != 5:
            raise ValueError(f"FieldNormalizer: trajectories must be (N, T, C, H, W), got {tuple(trajectories.shape)}")
        per_field = trajectories.transpose(0, 2).flatten(1)  # (C, N T H W), as the official accumulate()
        self.register_buffer("mean", per_field.mean(1)[:, None, None])
        self.register_buffer("sd", per_field.std(1)[:, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.sd

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sd + self.mean


def windows(trajectories: torch.Tensor, time_history: int = 4, time_future: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Every window of ``T_h`` input and ``T_f`` target frames: (N, T, C, H, W) -> x (N S, T_h, C, H, W), y (N S, T_f, ...)
    with ``S = T - T_h - T_f + 1`` start times per trajectory (trajectory-major order)."""
    if trajectories.ndim != 5:
        raise ValueError(f"windows: trajectories must be (N, T, C, H, W), got {tuple(trajectories.shape)}")
    span = time_history + time_future
    if trajectories.shape[1] < span:
        raise ValueError(f"windows: {trajectories.shape[1]} frames cannot hold {time_history} + {time_future}")
    w = trajectories.unfold(1, span, 1)                # (N, S, C, H, W, span)
    w = w.permute(0, 1, 5, 2, 3, 4).flatten(0, 1)      # (N S, span, C, H, W)
    return w[:, :time_history].contiguous(), w[:, time_history:].contiguous()


@torch.no_grad()
def rollout(model: nn.Module, init_frames: torch.Tensor, steps: int, normalizer: FieldNormalizer) -> torch.Tensor:
    """Autoregressive prediction: ``init_frames`` (B, T_h, C, H, W) raw -> (B, steps T_f, C, H, W) de-normalised."""
    data = normalizer(init_frames)
    t_h = init_frames.shape[1]
    out = []
    for _ in range(steps):
        pred = model(data)
        out.append(normalizer.inverse(pred))
        data = torch.cat([data, pred], 1)[:, -t_h:]
    return torch.cat(out, 1)


@dataclass
class Evaluation:
    one_step: float                   # scaled L2 over every test window (stride T_f)
    rollout: float                    # scaled L2 averaged over steps, samples and fields
    rollout_per_step: list[float]


@torch.no_grad()
def evaluate(model: nn.Module, test: torch.Tensor, normalizer: FieldNormalizer, *, time_history: int = 4,
             steps: int = 10, batch: int = 64) -> Evaluation:
    """One-step and ``steps``-step rollout error on raw test trajectories (N, T, C, H, W), averaged over every
    admissible start ``s in 0..T - T_h - steps`` (official ``compute_rolloutloss2D``, T_f = 1)."""
    was = model.training
    model.eval()
    x, y = windows(test, time_history, 1)
    one = torch.cat([scaled_l2(normalizer.inverse(model(normalizer(x[i:i + batch]))), y[i:i + batch], "none")
                     for i in range(0, len(x), batch)]).mean()
    max_start = test.shape[1] - time_history - steps
    if max_start < 0:
        raise ValueError(f"evaluate: {test.shape[1]} frames cannot hold {time_history} + {steps} rollout steps")
    per_start = []
    for s in range(max_start + 1):
        traj = test[:, s:s + time_history + steps]
        pred = torch.cat([rollout(model, traj[i:i + batch, :time_history], steps, normalizer)
                          for i in range(0, len(traj), batch)])
        per_start.append(scaled_l2(pred, traj[:, time_history:], "none").mean(dim=(0, 2)))  # (steps,)
    per_step = torch.stack(per_start).mean(0)
    model.train(was)
    return Evaluation(float(one), float(per_step.mean()), per_step.tolist())


def persistence(test: torch.Tensor, *, time_history: int = 4, steps: int = 10) -> Evaluation:
    """The 'predict the last input frame' baseline, scored like ``evaluate``."""
    x, y = windows(test, time_history, 1)
    one = scaled_l2(x[:, -1:], y).item()
    per_start = []
    for s in range(test.shape[1] - time_history - steps + 1):
        last = test[:, s + time_history - 1:s + time_history]
        target = test[:, s + time_history:s + time_history + steps]
        per_start.append(scaled_l2(last.expand_as(target), target, "none").mean(dim=(0, 2)))
    per_step = torch.stack(per_start).mean(0)
    return Evaluation(one, float(per_step.mean()), per_step.tolist())


def warmup_cosine(total_steps: int, warmup_steps: int, lr: float, min_lr: float = 1e-7):
    """``LambdaLR`` factor: linear from ``min_lr`` to ``lr`` over ``warmup_steps``, then cosine down to ``min_lr``."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (min_lr + (lr - min_lr) * step / warmup_steps) / lr
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return (min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * t))) / lr
    return factor


def train(model: nn.Module, train_traj: torch.Tensor, *, epochs: int, batch_size: int = 32, lr: float = 2e-4,
          weight_decay: float = 1e-5, warmup_frac: float = 0.1, time_history: int = 4, ctx=None, eval_fn=None,
          seed: int = 0, progress: bool | None = None) -> tuple[FieldNormalizer, list[dict]]:
    """Fit ``model`` to one-step prediction on every window of ``train_traj`` (N, T, C, H, W); returns the normaliser
    and the per-epoch history. ``warmup_frac`` 0.1 = the official 5 of 50 warm-up epochs."""
    norm = FieldNormalizer(train_traj)
    x, y = windows(train_traj, time_history, 1)
    data = TensorSet(norm(x), norm(y), name="sinenet windows")
    total = epochs * (len(data) // batch_size)
    sched = warmup_cosine(total, round(warmup_frac * total), lr)
    res = fit(model, data, epochs=epochs, batch_size=batch_size,
              loss_fn=lambda m, xb, yb: scaled_l2(m(xb), yb),
              optimizer=lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=weight_decay),
              scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, sched), scheduler_per="step",
              eval_fn=eval_fn, ctx=ctx, seed=seed, progress=progress, desc="sinenet")
    return norm, res.history
