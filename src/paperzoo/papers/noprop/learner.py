"""Training loops: the NoProp-DT ``Learner`` (Algorithm 1) and the back-prop baseline (kernel ``fit``)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from paperzoo.data import TensorSet
from paperzoo.papers.noprop.model import BackpropBaseline, DiffusionChain, NoPropDT
from paperzoo.train import Learner, fit
from paperzoo.train.log import Progress

ORDERS = ("blockwise", "fused")


@torch.no_grad()
def chain_accuracy(model: DiffusionChain, data: TensorSet, *, stochastic: bool = True, seed: int = 0,
                   batch_size: int = 1000) -> float:
    """Test accuracy in % of the inference chain; stochastic runs draw noise from a generator
    seeded with ``seed`` (the global RNG is untouched). Eval mode, no grad."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(seed) if stochastic else None
    correct = 0
    for i in range(0, len(data), batch_size):
        x, y = data.x[i:i + batch_size].to(dev), data.y[i:i + batch_size].to(dev)
        correct += int((model.predict(x, stochastic, g).argmax(-1) == y).sum())
    model.train(was)
    return 100.0 * correct / max(len(data), 1)


def chain_metrics(model: DiffusionChain, data: TensorSet, *, seeds: Sequence[int] = (0,), deterministic: bool = True,
                  batch_size: int = 1000) -> dict:
    """``acc`` = mean stochastic accuracy over ``seeds`` (%), ``acc_seeds`` the list, ``acc_det`` eps = 0."""
    accs = [chain_accuracy(model, data, stochastic=True, seed=s, batch_size=batch_size) for s in seeds]
    out: dict[str, Any] = {"acc": sum(accs) / len(accs), "acc_seeds": accs} if accs else {}
    if deterministic:
        out["acc_det"] = chain_accuracy(model, data, stochastic=False, batch_size=batch_size)
    return out


def _make_optimizer(optimizer, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if callable(optimizer):
        return optimizer(params)
    raise ValueError(f"optimizer must be 'adamw', 'adam' or params -> Optimizer, got {optimizer!r}")


class NoPropLearner(Learner):
    """Trains :class:`NoPropDT` by Algorithm 1; ``fit`` (checkpoints, resume, progress) is the kernel's.

    ``order="blockwise"`` (default, Algorithm 1 as restated on the card): for t = 1..T, one pass of
    block t over the shuffled data, each mini-batch a step on ``L_t`` (Eq. 8) updating theta_t,
    theta_out and W_embed; so an epoch is T passes. ``order="fused"`` (the card's GPU option): one
    pass, and each mini-batch updates every block on its own ``L_t`` at once (one backward of
    ``sum_t L_t``; block t's gradient is exactly grad L_t, since L_s does not depend on theta_t).
    The two differ only in the order of the updates and in that the shared theta_out / W_embed take
    one step on ``sum_t grad L_t`` per batch instead of T steps.

    Optimizers (paper: AdamW, lr 1e-3, weight decay 1e-3, batch 128): one per block and one for the
    shared theta_out / W_embed, stepped together with whichever block is trained. Adam's state is per
    parameter, so this equals one AdamW over everything (a step on ``L_t`` moves only theta_t,
    theta_out, W_embed); it is split only to skip the other blocks' parameters (speed).
    """

    def __init__(self, model: NoPropDT, *, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 1e-3,
                 optimizer: str | Callable = "adamw", order: str = "blockwise", eval_seeds: Sequence[int] = (0,),
                 eval_deterministic: bool = True, eval_batch_size: int = 1000):
        if not isinstance(model, NoPropDT):
            raise TypeError(f"model must be a NoPropDT, got {type(model).__name__}")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.model, self.batch_size, self.order = model, batch_size, order
        shared = [p for p in model.parameters() if not any(p is q for q in model.blocks.parameters())]
        self.block_opts = [_make_optimizer(optimizer, list(b.parameters()), lr, weight_decay) for b in model.blocks]
        self.shared_opt = _make_optimizer(optimizer, shared, lr, weight_decay)
        self.eval_seeds, self.eval_deterministic, self.eval_batch_size = tuple(eval_seeds), eval_deterministic, \
            eval_batch_size

    def _batches(self, data: TensorSet) -> int:
        if not isinstance(data, TensorSet):
            raise TypeError(f"data must be a paperzoo TensorSet, got {type(data).__name__}")
        nb = len(data) // self.batch_size
        if nb == 0:
            raise ValueError(f"{len(data)} samples give no full batch of {self.batch_size}; lower batch_size")
        return nb

    def steps_per_epoch(self, data: TensorSet) -> int:
        nb = self._batches(data)
        return nb * self.model.T if self.order == "blockwise" else nb

    def _step(self, loss: torch.Tensor, opts: list[torch.optim.Optimizer]) -> None:
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()

    def train_epoch(self, data: TensorSet, *, epoch: int, generator: torch.Generator, progress: Progress) -> dict:
        m, T, bs = self.model, self.model.T, self.batch_size
        t0 = time.perf_counter()
        nb, n = self._batches(data), len(data)
        dev = next(m.parameters()).device
        m.train()
        block_loss = [torch.zeros((), device=dev) for _ in range(T)]
        block_mse = [torch.zeros((), device=dev) for _ in range(T)]

        def batch(perm: torch.Tensor, b: int):
            idx = perm[b * bs:(b + 1) * bs]
            return data.x[idx].to(dev, non_blocking=True), data.y[idx].to(dev, non_blocking=True)

        if self.order == "blockwise":
            for t in range(1, T + 1):
                perm = torch.randperm(n, generator=generator)  # each block's pass sees its own shuffle
                for b in range(nb):
                    parts = m.block_loss(t, *batch(perm, b), return_parts=True)
                    self._step(parts["loss"], [self.block_opts[t - 1], self.shared_opt])
                    block_loss[t - 1] += parts["loss"].detach()
                    block_mse[t - 1] += parts["mse"].detach()
                    progress.advance(block=t)
        else:
            perm = torch.randperm(n, generator=generator)
            for b in range(nb):
                x, y = batch(perm, b)
                parts = [m.block_loss(t, x, y, return_parts=True) for t in range(1, T + 1)]
                self._step(torch.stack([p["loss"] for p in parts]).sum(), self.block_opts + [self.shared_opt])
                for t, p in enumerate(parts):
                    block_loss[t] += p["loss"].detach()
                    block_mse[t] += p["mse"].detach()
                progress.advance()
        per_block = [float(v) / nb for v in block_loss]
        return {"loss": sum(per_block) / T, "block_loss": per_block, "block_mse": [float(v) / nb for v in block_mse],
                "seconds": round(time.perf_counter() - t0, 2)}

    def evaluate(self, data: TensorSet) -> dict:
        return chain_metrics(self.model, data, seeds=self.eval_seeds, deterministic=self.eval_deterministic,
                             batch_size=self.eval_batch_size)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "block_opts": [o.state_dict() for o in self.block_opts],
                "shared_opt": self.shared_opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for o, st in zip(self.block_opts, state["block_opts"], strict=True):
            o.load_state_dict(st)
        self.shared_opt.load_state_dict(state["shared_opt"])


def train_backprop_baseline(model: BackpropBaseline, data: TensorSet, *, epochs: int, batch_size: int = 128,
                            lr: float = 1e-3, weight_decay: float = 1e-3, eval_data: TensorSet | None = None,
                            eval_seeds: Sequence[int] = (0,), run_dir: str | Path | None = None,
                            resume: bool = False, seed: int = 0, device: str | torch.device = "cpu",
                            progress: bool | None = None) -> list[dict]:
    """Back-prop through the sampled chain with the kernel's ``fit`` (same optimizer, batch and
    epochs as NoProp): loss ``CE(W_out z_T + b, y)``, z_T from a freshly sampled path per batch."""
    if not isinstance(model, BackpropBaseline):
        raise TypeError(f"model must be a BackpropBaseline, got {type(model).__name__}")

    def loss_fn(net, x, y):
        return F.cross_entropy(net(x), y)

    def eval_fn(net):
        return chain_metrics(net, eval_data, seeds=eval_seeds) if eval_data is not None else {}

    res = fit(model, data, epochs=epochs, batch_size=batch_size, loss_fn=loss_fn,
              optimizer=lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=weight_decay), eval_fn=eval_fn,
              run_dir=run_dir, resume=resume, seed=seed, device=device, progress=progress, desc="backprop baseline")
    return res.history
