"""Guidance as a ``Learner``: every step trains the target on L_task + alpha * sum (1 - CKA) against the
frozen guide (official ``language_model.py`` / ``image_class.py`` training loops); ``fit`` (progress,
metrics log, checkpoints, bit-identical resume, seeding) is the kernel's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.data import TensorSet
from paperzoo.papers.guidance.cka import GuidanceLoss
from paperzoo.papers.guidance.data import trim_batch
from paperzoo.train import Learner, full_batches
from paperzoo.train.log import Progress

__all__ = ["TASKS", "GuidanceLearner"]

TASKS = ("copy-paste", "classification", "align")


class GuidanceLearner(Learner):
    """Trains ``target`` by back-prop on the task loss plus, when ``guidance`` is given (and active at the
    current step), the guidance term; ``guidance=None`` is the un-guided baseline with the same loop.

    ``task``: ``"copy-paste"`` (token logits (B, T, V), cross-entropy with ``ignore_index=0``, accuracy over
    target positions != 0, batches trimmed to their longest sequence: official), ``"classification"``
    (cross-entropy, top-1 accuracy) or ``"align"`` (no task loss: the alignment term alone, the card's
    smoke test (c)). ``optimizer``: ``"adamw"`` (official sequence code, torch defaults besides lr) or
    ``"adam"`` (official image code). ``lr_decay_every``: lr x 0.1 every that many epochs (official image
    code: 30). ``clip``: max gradient norm (official: only for language modelling, so None here by default).
    Every epoch is ``len(data) // batch_size`` full batches of a fresh permutation.
    """

    def __init__(self, target: nn.Module, guidance: GuidanceLoss | None = None, *, task: str = "classification",
                 batch_size: int = 256, lr: float = 1e-3, optimizer: str = "adam", clip: float | None = None,
                 lr_decay_every: int | None = None, eval_batch: int = 1000):
        if not isinstance(target, nn.Module):
            raise TypeError(f"target must be an nn.Module, got {type(target).__name__}")
        if guidance is not None and (not isinstance(guidance, GuidanceLoss) or guidance.target is not target):
            raise ValueError("guidance must be a GuidanceLoss built on this target")
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if task == "align" and guidance is None:
            raise ValueError("task 'align' trains on the alignment term alone: pass guidance=GuidanceLoss(...)")
        if not isinstance(batch_size, int) or batch_size < 2:
            raise ValueError(f"batch_size must be an int >= 2 (CKA is a batch statistic), got {batch_size!r}")
        if optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer must be 'adam' or 'adamw', got {optimizer!r}")
        if clip is not None and not clip > 0:
            raise ValueError(f"clip must be None or > 0, got {clip!r}")
        self.target, self.guidance, self.task = target, guidance, task
        self.batch_size, self.lr, self.clip, self.lr_decay_every, self.eval_batch = \
            batch_size, lr, clip, lr_decay_every, eval_batch
        cls = torch.optim.AdamW if optimizer == "adamw" else torch.optim.Adam
        self.opt = cls(target.parameters(), lr=lr)
        self.step = 0  # optimizer steps taken (the init-only ablation switches the guide off by it)

    # ------------------------------------------------------------------ pieces
    def _check(self, data) -> int:
        return full_batches(data, self.batch_size)

    def steps_per_epoch(self, data: TensorSet) -> int:
        return self._check(data)

    def _batch(self, data: TensorSet, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = data.x[idx], data.y[idx]
        if self.task == "copy-paste":
            x, y = trim_batch(x, y)
        dev = next(self.target.parameters()).device
        return x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)

    def task_loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The task's loss (mean over scored positions / examples)."""
        if self.task == "copy-paste":
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=0)
        if self.task == "classification":
            return F.cross_entropy(out, y)
        return out.sum() * 0.0

    # ------------------------------------------------------------------ Learner protocol
    def train_epoch(self, data: TensorSet, *, epoch: int, generator: torch.Generator, progress: Progress) -> dict:
        nb = self._check(data)
        if self.lr_decay_every:
            for group in self.opt.param_groups:
                group["lr"] = self.lr * 0.1 ** (epoch // self.lr_decay_every)
        self.target.train()
        perm = torch.randperm(len(data), generator=generator)
        dev = next(self.target.parameters()).device
        sums, cka_sum, guided = torch.zeros(3, device=dev), None, 0
        for b in range(nb):
            x, y = self._batch(data, perm[b * self.batch_size:(b + 1) * self.batch_size])
            if self.guidance is not None and self.guidance.active(self.step):
                out, align, cka = self.guidance(x)
                c = torch.stack(list(cka.values())).detach()
                cka_sum = c if cka_sum is None else cka_sum + c
                guided += 1
            else:
                out, align = self.target(x), torch.zeros((), device=dev)
            task = self.task_loss(out, y)
            loss = task + align
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.clip is not None:
                nn.utils.clip_grad_norm_(self.target.parameters(), self.clip)
            self.opt.step()
            self.step += 1
            sums += torch.stack([loss, task, align]).detach()
            progress.advance()
        mean = (sums / nb).tolist()
        row = {"loss": mean[0], "task_loss": mean[1], "align_loss": mean[2], "guided_steps": guided}
        if cka_sum is not None:
            row["cka"] = (cka_sum / guided).tolist()
        return row

    @torch.no_grad()
    def evaluate(self, data: TensorSet) -> dict:
        """``acc`` (%) and ``val_loss`` of the target on ``data`` (eval mode); for ``task="align"`` the CKA
        of every supervised pair on ``data`` as one batch (``cka``, ``cka_mean``)."""
        if not isinstance(data, TensorSet):
            raise TypeError(f"data must be a paperzoo TensorSet, got {type(data).__name__}")
        was = self.target.training
        self.target.eval()
        try:
            if self.task == "align":
                x, _ = self._batch(data, torch.arange(len(data)))
                cka = [float(c) for c in self.guidance(x).cka.values()]
                return {"cka": cka, "cka_mean": sum(cka) / len(cka)}
            loss_sum = correct = count = 0.0
            for i in range(0, len(data), self.eval_batch):
                x, y = self._batch(data, torch.arange(i, min(i + self.eval_batch, len(data))))
                out = self.target(x)
                if self.task == "copy-paste":
                    mask = y != 0
                    n = float(mask.sum())
                    correct += float((out.argmax(-1)[mask] == y[mask]).sum())
                else:
                    n = float(len(y))
                    correct += float((out.argmax(-1) == y).sum())
                loss_sum += float(self.task_loss(out, y)) * n
                count += n
            return {"acc": 100.0 * correct / count, "val_loss": loss_sum / count}
        finally:
            self.target.train(was)

    def state_dict(self) -> dict:
        st = {"target": self.target.state_dict(), "opt": self.opt.state_dict(), "step": self.step}
        if self.guidance is not None:
            st["guide"] = self.guidance.guide.state_dict()
        return st

    def load_state_dict(self, state: dict) -> None:
        self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["opt"])
        self.step = int(state["step"])
        if self.guidance is not None:
            self.guidance.guide.load_state_dict(state["guide"])
