"""Training: the NoProp-DT ``Learner`` (Algorithm 1) and the back-prop baseline (the kernel's ``fit``),
plus the chain's evaluation (stochastic over sampling seeds, and deterministic)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from paperzoo.data import TensorSet
from paperzoo.papers.noprop.model import BackpropBaseline, DiffusionChain, NoPropDT
from paperzoo.train import Learner, fit, full_batches
from paperzoo.train.log import Progress

ORDERS = ("blockwise", "fused")


def chain_predictions(model: DiffusionChain, data: TensorSet, *, stochastic: bool = True, seed: int = 0,
                      batch_size: int = 1000) -> torch.Tensor:
    """Predicted classes (N,) of the inference chain; stochastic runs draw their noise from a generator
    seeded with ``seed`` (the global RNG is untouched). ``predict`` runs in eval mode, no grad."""
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(seed) if stochastic else None
    return torch.cat([model.predict(data.x[i:i + batch_size].to(dev), stochastic, g).argmax(-1).cpu()
                      for i in range(0, len(data), batch_size)])


def chain_accuracy(model: DiffusionChain, data: TensorSet, **kw) -> float:
    """Test accuracy in % of the chain's predictions (keywords as :func:`chain_predictions`)."""
    return 100.0 * float((chain_predictions(model, data, **kw) == data.y).double().mean())


def chain_metrics(model: DiffusionChain, data: TensorSet, *, seeds: Sequence[int] = (0,), batch_size: int = 1000) -> dict:
    """``acc``: mean stochastic accuracy over ``seeds`` (%), ``acc_seeds`` the list; ``acc_det``: the
    deterministic chain (z_0 = 0, eps = 0); ``classes_used``: distinct classes it predicts."""
    accs = [chain_accuracy(model, data, stochastic=True, seed=s, batch_size=batch_size) for s in seeds]
    det = chain_predictions(model, data, stochastic=False, batch_size=batch_size)
    out: dict[str, Any] = {"acc": sum(accs) / len(accs), "acc_seeds": accs} if accs else {}
    return {**out, "acc_det": 100.0 * float((det == data.y).double().mean()), "classes_used": int(det.unique().numel())}


def _make_optimizer(optimizer, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if callable(optimizer):
        return optimizer(params)
    raise ValueError(f"optimizer must be 'adamw' or params -> Optimizer, got {optimizer!r}")


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
    ``evaluate`` reports :func:`chain_metrics` over ``eval_seeds``.
    """

    def __init__(self, model: NoPropDT, *, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 1e-3,
                 optimizer: str | Callable = "adamw", order: str = "blockwise", eval_seeds: Sequence[int] = (0,)):
        if not isinstance(model, NoPropDT):
            raise TypeError(f"model must be a NoPropDT, got {type(model).__name__}")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.model, self.batch_size, self.order, self.eval_seeds = model, batch_size, order, tuple(eval_seeds)
        in_blocks = {id(p) for p in model.blocks.parameters()}
        shared = [p for p in model.parameters() if id(p) not in in_blocks]
        self.block_opts = [_make_optimizer(optimizer, list(b.parameters()), lr, weight_decay) for b in model.blocks]
        self.shared_opt = _make_optimizer(optimizer, shared, lr, weight_decay)

    def _batches(self, data: TensorSet) -> int:
        return full_batches(data, self.batch_size)

    def steps_per_epoch(self, data: TensorSet) -> int:
        return self._batches(data) * (self.model.T if self.order == "blockwise" else 1)

    @staticmethod
    def _step(loss: torch.Tensor, opts: list[torch.optim.Optimizer]) -> None:
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()

    def train_epoch(self, data: TensorSet, *, epoch: int, generator: torch.Generator, progress: Progress) -> dict:
        m, T, bs = self.model, self.model.T, self.batch_size
        nb = self._batches(data)
        dev = next(m.parameters()).device
        m.train()
        sums = torch.zeros(2, T, device=dev)  # per block: summed loss, summed denoising MSE

        def batch(perm: torch.Tensor, b: int):
            idx = perm[b * bs:(b + 1) * bs]
            return data.x[idx].to(dev, non_blocking=True), data.y[idx].to(dev, non_blocking=True)

        if self.order == "blockwise":
            for t in range(1, T + 1):
                perm = torch.randperm(len(data), generator=generator)  # each block's pass sees its own shuffle
                for b in range(nb):
                    parts = m.block_loss(t, *batch(perm, b), return_parts=True)
                    self._step(parts["loss"], [self.block_opts[t - 1], self.shared_opt])
                    sums[:, t - 1] += torch.stack([parts["loss"], parts["mse"]]).detach()
                    progress.advance(block=t)
        else:
            perm = torch.randperm(len(data), generator=generator)
            for b in range(nb):
                x, y = batch(perm, b)
                parts = [m.block_loss(t, x, y, return_parts=True) for t in range(1, T + 1)]
                self._step(torch.stack([p["loss"] for p in parts]).sum(), self.block_opts + [self.shared_opt])
                sums += torch.stack([torch.stack([p["loss"], p["mse"]]) for p in parts], 1).detach()
                progress.advance()
        per_block = (sums / nb).tolist()
        return {"loss": sum(per_block[0]) / T, "block_loss": per_block[0], "block_mse": per_block[1]}

    def evaluate(self, data: TensorSet) -> dict:
        return chain_metrics(self.model, data, seeds=self.eval_seeds)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "block_opts": [o.state_dict() for o in self.block_opts],
                "shared_opt": self.shared_opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for o, st in zip(self.block_opts, state["block_opts"], strict=True):
            o.load_state_dict(st)
        self.shared_opt.load_state_dict(state["shared_opt"])


def train_backprop_baseline(model: BackpropBaseline, data: TensorSet, *, epochs: int, ctx: Any = None,
                            batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 1e-3,
                            eval_data: TensorSet | None = None, eval_seeds: Sequence[int] = (0,),
                            desc: str = "back-prop baseline") -> list[dict]:
    """Back-prop through the sampled chain with the kernel's ``fit`` (same optimizer, batch and epochs
    as NoProp): loss ``CE(logits of block T, y)``, a fresh path (z_0, eps_t) per batch. ``ctx`` is a
    ``RunContext`` (folder, resume, seed, device, progress)."""
    if not isinstance(model, BackpropBaseline):
        raise TypeError(f"model must be a BackpropBaseline, got {type(model).__name__}")

    def eval_fn(net, epoch):
        return chain_metrics(net, eval_data, seeds=eval_seeds) if eval_data is not None else {}

    res = fit(model, data, epochs=epochs, batch_size=batch_size, loss_fn=lambda net, x, y: F.cross_entropy(net(x), y),
              optimizer=lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=weight_decay), eval_fn=eval_fn, ctx=ctx,
              desc=desc)
    return res.history
