"""The ``Learner`` protocol, for methods whose training loop *is* the method.

A learner implements ``train_epoch``, ``evaluate``, ``state_dict`` and ``load_state_dict``;
it inherits ``fit``, which runs epochs with the kernel's progress bar, JSONL log, per-epoch
atomic checkpoints, bit-identical resume and NaN guard, so no paper writes its own.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from paperzoo.data.sets import TensorSet
from paperzoo.train.checkpoint import latest_step, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from paperzoo.train.log import MetricsLog, Progress
from paperzoo.train.loop import DivergenceError
from paperzoo.train.seed import epoch_generator


def full_batches(data: TensorSet, batch_size: int) -> int:
    """How many full mini-batches of ``batch_size`` a ``TensorSet`` holds (a learner's steps per epoch), with clear
    errors for anything else."""
    if not isinstance(data, TensorSet):
        raise TypeError(f"data must be a paperzoo TensorSet, got {type(data).__name__}")
    if len(data) < batch_size:
        raise ValueError(f"{len(data)} samples give no full batch of {batch_size}; lower batch_size")
    return len(data) // batch_size


class Learner:
    """Base class: subclasses define how one epoch trains; ``fit`` does the rest.

    ``train_epoch(data, *, epoch, generator, progress) -> dict`` must return at least
    ``{"loss": float}`` and call ``progress.advance()`` once per step it takes;
    ``steps_per_epoch(data)`` sizes the progress bar.
    """

    def train_epoch(self, data: Any, *, epoch: int, generator: torch.Generator, progress: Progress) -> dict:
        raise NotImplementedError

    def evaluate(self, data: Any) -> dict:
        raise NotImplementedError

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError

    def steps_per_epoch(self, data: Any) -> int | None:
        return None

    def fit(self, data: Any, *, epochs: int, eval_data: Any = None, ctx: Any = None, run_dir: str | Path | None = None,
            resume: bool = False, seed: int = 0, progress: bool | None = None, desc: str | None = None) -> list[dict]:
        """Train for ``epochs`` epochs; return one row per epoch (train metrics + ``evaluate(eval_data)``).

        ``ctx`` (a ``RunContext``) supplies ``run_dir`` (its folder), ``resume``, ``seed`` and the
        progress setting in one argument.
        """
        if ctx is not None:
            run_dir, resume, seed, progress = ctx.out, ctx.resume, ctx.seed, ctx.show_progress
        if resume and run_dir is None:
            raise ValueError("resume=True needs a run_dir")
        log = MetricsLog(Path(run_dir) / "metrics.jsonl" if run_dir else None)
        epoch0, history = 0, []
        if resume and latest_step(run_dir) is not None:
            if latest_step(run_dir) > epochs:
                raise ValueError(f"{run_dir} holds a checkpoint after epoch {latest_step(run_dir)}, beyond the "
                                 f"{epochs} epochs asked for; resume with epochs >= {latest_step(run_dir)} or "
                                 f"use a fresh run_dir")
            epoch0, st = load_checkpoint(run_dir)
            self.load_state_dict(st["learner"])
            set_rng_state(st["rng"])
            history = st["history"]
            log.truncate_after(epoch0)
        per = self.steps_per_epoch(data)
        total = per * epochs if per else epochs
        with Progress(total, desc or type(self).__name__, progress, start=(per or 1) * epoch0) as bar:
            for epoch in range(epoch0, epochs):
                t0 = time.perf_counter()
                row = dict(self.train_epoch(data, epoch=epoch, generator=epoch_generator(seed, epoch), progress=bar))
                row.setdefault("seconds", round(time.perf_counter() - t0, 3))
                loss = float(row.get("loss", 0.0))
                if not math.isfinite(loss):
                    raise DivergenceError(f"{type(self).__name__}: loss is {loss} in epoch {epoch}; stopping"
                                          + (f"; last good checkpoint in {Path(run_dir) / 'ckpt'}" if run_dir else ""))
                if not per:
                    bar.advance(loss=loss)
                if eval_data is not None:
                    row.update(self.evaluate(eval_data))
                row = {"epoch": epoch + 1, "step": epoch + 1, **row}
                history.append(row)
                log.write(**row)
                if run_dir is not None:
                    save_checkpoint(run_dir, epoch + 1, {"learner": self.state_dict(), "rng": rng_state(),
                                                         "history": history})
        return history
