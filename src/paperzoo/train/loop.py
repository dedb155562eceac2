"""The one backprop loop: epochs, optimizer + schedule, progress, JSONL log, evaluation,
atomic checkpoints, bit-identical resume, NaN guard, AMP on CUDA, and DDP under torchrun."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from paperzoo.data.sets import TensorSet
from paperzoo.train.checkpoint import latest_step, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from paperzoo.train.ddp import all_mean, dist_info, unwrap
from paperzoo.train.log import MetricsLog, Progress
from paperzoo.train.seed import choose_device, epoch_generator


class DivergenceError(RuntimeError):
    """The loss became NaN/inf; the run stopped and its last good checkpoint is kept."""


@dataclass
class FitResult:
    steps: int
    epochs: int
    history: list[dict] = field(default_factory=list)
    last_loss: float = math.nan


def cross_entropy_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y)


def _build(obj, *args):
    return obj(*args) if callable(obj) and not hasattr(obj, "state_dict") else obj


def fit(model: torch.nn.Module, data: TensorSet, *, epochs: int = 1, batch_size: int = 128,
        loss_fn: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] = cross_entropy_loss,
        optimizer: Any = None, scheduler: Any = None, scheduler_per: str = "epoch",
        eval_fn: Callable[[torch.nn.Module, int], dict] | None = None, ctx: Any = None, run_dir: str | Path | None = None,
        resume: bool = False, ckpt_every: int | None = None, seed: int = 0, device: str | torch.device = "cpu",
        amp: bool = False, clip_grad_norm: float | None = None, drop_last: bool = True,
        progress: bool | None = None, desc: str = "train", log_every: int = 50,
        on_step: Callable[[int, float], None] | None = None) -> FitResult:
    """Train ``model`` on ``data`` with mini-batch backprop.

    ``optimizer``: an optimizer, or ``params -> optimizer`` (default AdamW lr 1e-3).
    ``scheduler``: a scheduler, or ``optimizer -> scheduler``; stepped per ``scheduler_per``.
    Data order for epoch ``e`` is a pure function of ``(seed, e)``; with ``run_dir`` a checkpoint
    is written every ``ckpt_every`` steps and at each epoch end, and ``resume=True`` continues
    from the latest one, ending bit-identical (on CPU) to an uninterrupted run. Under ``torchrun``
    each rank takes its slice of every global batch of ``batch_size`` and DDP averages gradients,
    which equals single-process training on the same global batch.

    ``ctx`` (a ``RunContext``) supplies ``run_dir`` (its folder), ``resume``, ``seed``, ``device`` and
    the progress setting in one argument; ``eval_fn(model, epoch)`` runs after each epoch (1-based).
    """
    if ctx is not None:
        run_dir, resume, seed = ctx.out, ctx.resume, ctx.seed
        device, progress = ctx.device, ctx.show_progress
    if epochs < 0 or batch_size <= 0:
        raise ValueError(f"epochs must be >= 0 and batch_size > 0, got {epochs}, {batch_size}")
    if scheduler_per not in ("epoch", "step"):
        raise ValueError(f"scheduler_per must be 'epoch' or 'step', got {scheduler_per!r}")
    if resume and run_dir is None:
        raise ValueError("resume=True needs a run_dir to resume from")
    dev = choose_device(device)
    if amp and dev.type != "cuda":
        raise ValueError("amp=True (mixed precision) is CUDA-only; drop it or use device='cuda'")
    rank, world = dist_info()
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the world size {world}")
    n = len(data)
    steps_per_epoch = n // batch_size if drop_last else math.ceil(n / batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"{n} samples give no full batch of {batch_size}; lower batch_size or set drop_last=False")

    model.to(dev)
    optimizer = _build(optimizer or (lambda p: torch.optim.AdamW(p, lr=1e-3)), model.parameters())
    scheduler = _build(scheduler, optimizer) if scheduler is not None else None
    log = MetricsLog(Path(run_dir) / "metrics.jsonl" if run_dir and rank == 0 else None)

    step, epoch0, batch0, history = 0, 0, 0, []
    if resume and latest_step(run_dir) is not None:
        step, st = load_checkpoint(run_dir)
        model.load_state_dict(st["model"])
        optimizer.load_state_dict(st["optimizer"])
        if scheduler is not None and st.get("scheduler") is not None:
            scheduler.load_state_dict(st["scheduler"])
        set_rng_state(st["rng"])
        epoch0, batch0, history = st["epoch"], st["batch"], st["history"]
        log.truncate_after(step)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    local = batch_size // world

    def checkpoint(epoch: int, batch: int) -> None:
        if run_dir is not None and rank == 0:
            save_checkpoint(run_dir, step, {
                "model": unwrap(net).state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "rng": rng_state(), "epoch": epoch, "batch": batch, "history": history})

    last = math.nan
    with Progress(epochs * steps_per_epoch, desc, progress if rank == 0 else False, start=step) as bar:
        for epoch in range(epoch0, epochs):
            perm = torch.randperm(n, generator=epoch_generator(seed, epoch))
            for b in range(batch0 if epoch == epoch0 else 0, steps_per_epoch):
                idx = perm[b * batch_size:(b + 1) * batch_size]
                idx = idx[rank * local:(rank + 1) * local] if world > 1 else idx
                x, y = data.x[idx].to(dev, non_blocking=True), data.y[idx].to(dev, non_blocking=True)
                net.train()
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                    loss = loss_fn(net, x, y)
                mean_loss = float(all_mean(loss.detach().float()))
                if not math.isfinite(mean_loss):
                    kept = latest_step(run_dir) if run_dir else None
                    raise DivergenceError(
                        f"loss is {mean_loss} at step {step} (epoch {epoch}, batch {b}); stopping. "
                        + (f"Last good checkpoint: {Path(run_dir) / 'ckpt'} (step {kept})." if kept is not None
                           else "No checkpoint was written (pass run_dir to keep one)."))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), clip_grad_norm)
                optimizer.step()
                if scheduler is not None and scheduler_per == "step":
                    scheduler.step()
                step += 1
                last = mean_loss
                bar.advance(loss=mean_loss, epoch=epoch)
                if log_every and step % log_every == 0:
                    log.write(step=step, epoch=epoch, loss=mean_loss, lr=optimizer.param_groups[0]["lr"])
                if on_step is not None:
                    on_step(step, mean_loss)
                if ckpt_every and step % ckpt_every == 0:
                    checkpoint(epoch, b + 1)
            if scheduler is not None and scheduler_per == "epoch":
                scheduler.step()
            row = {"epoch": epoch + 1, "step": step, "loss": last}
            if eval_fn is not None:
                unwrap(net).eval()
                with torch.no_grad():
                    row.update(eval_fn(unwrap(net), epoch + 1))
            history.append(row)
            log.write(**row)
            checkpoint(epoch + 1, 0)
    return FitResult(step, epochs, history, last)


@torch.no_grad()
def accuracy(model: torch.nn.Module, data: TensorSet, batch_size: int = 1000, device: str | torch.device = "cpu") -> float:
    """Top-1 accuracy of ``model`` on ``data`` (eval mode, no grad)."""
    was = model.training
    model.eval()
    dev = torch.device(device)
    correct = 0
    for i in range(0, len(data), batch_size):
        out = model(data.x[i:i + batch_size].to(dev))
        correct += int((out.argmax(-1).cpu() == data.y[i:i + batch_size]).sum())
    model.train(was)
    return correct / max(len(data), 1)
