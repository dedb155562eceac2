"""Full-batch training of the Li2 network on a group table, with the official stage monitor.

Official ``main`` (``modular_addition_simple2.py``): the whole training split is one batch every epoch;
optimisers sgd (momentum 0.9), adam (coupled L2 weight decay), adamw, muon (card: Muon on W, Adam on V);
optional stage-I ridge top layer (``ridge_eta`` = official ``set_weight_reg``, MSE only) recomputed before every
step. The monitor records train / test accuracy and loss, the backpropagated-gradient norm
||G_F|| = ||(Ytilde - F V^T) V|| and the off-diagonal / diagonal ratio of Ftilde^T Ftilde (F centred over samples).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from paperzoo.papers.grokking_li2.groups import dataset
from paperzoo.papers.grokking_li2.model import LOSSES, TwoLayerGroupNet, centered_targets
from paperzoo.papers.grokking_li2.optim import Muon

OPTIMS = ("sgd", "adam", "adamw", "muon")


@dataclass(frozen=True)
class TrainSpec:
    """One training run; defaults: card cpu ladder (sigma = x^2, MSE, K = 512, Adam, wd 1e-4, 3000 epochs)."""

    width: int = 512
    act: str = "sqr"
    loss: str = "mse"
    optim: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 3000
    eval_every: int = 50
    ridge_eta: float | None = None


@dataclass
class History:
    epoch: list[int] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    grad_f_norm: list[float] = field(default_factory=list)
    offdiag_ratio: list[float] = field(default_factory=list)

    def first_epoch(self, key: str, level: float) -> float:
        """First recorded epoch where ``key`` >= level (inf if never)."""
        return next((float(e) for e, v in zip(self.epoch, getattr(self, key)) if v >= level), float("inf"))


def make_optimizer(model: TwoLayerGroupNet, spec: TrainSpec) -> list[torch.optim.Optimizer]:
    lr, wd = spec.lr, spec.weight_decay
    if spec.optim == "sgd":
        return [torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)]
    if spec.optim == "adam":
        return [torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)]
    if spec.optim == "adamw":
        return [torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)]
    if spec.optim == "muon":
        return [Muon([model.W], lr=lr, weight_decay=wd), torch.optim.Adam([model.V], lr=lr, weight_decay=wd)]
    raise ValueError(f"unknown optimiser {spec.optim!r}; choose from {OPTIMS}")


@torch.no_grad()
def stage_monitor(model: TwoLayerGroupNet, pairs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy, centred-MSE loss, ||G_F|| and the off-diag/diag ratio of Ftilde^T Ftilde on one batch."""
    f = model.features(pairs)
    out = f @ model.V.T
    y_t = centered_targets(labels, model.M, f.dtype)
    ft = f - f.mean(0, keepdim=True)
    k = (ft.T @ ft).abs()
    diag = k.diagonal().mean()
    off = (k.sum() - k.diagonal().sum()) / max(k.shape[0] * (k.shape[0] - 1), 1)
    return {"acc": (out.argmax(1) == labels).double().mean().item(),
            "loss": LOSSES["mse"](out, labels).item(),
            "grad_f_norm": ((y_t - out) @ model.V).norm().item(),
            "offdiag_ratio": (off / diag.clamp_min(1e-30)).item()}


def train_group_net(table: torch.Tensor, train_idx: torch.Tensor, test_idx: torch.Tensor, spec: TrainSpec,
                    *, seed: int = 0, progress=None) -> tuple[TwoLayerGroupNet, History]:
    """Train on pairs ``train_idx`` of the table's M^2 pairs (full batch), evaluate on ``test_idx`` every
    ``spec.eval_every`` epochs and after the last. ``progress`` (optional) is advanced once per epoch."""
    if spec.loss not in LOSSES:
        raise ValueError(f"unknown loss {spec.loss!r}; choose from {sorted(LOSSES)}")
    if spec.ridge_eta is not None and spec.loss != "mse":
        raise ValueError("the ridge top layer (ridge_eta) needs loss='mse' (official assertion)")
    if spec.epochs < 1 or spec.eval_every < 1:
        raise ValueError(f"epochs and eval_every must be >= 1, got {spec.epochs}, {spec.eval_every}")
    pairs, labels = dataset(table)
    m = table.shape[0]
    torch.manual_seed(seed)
    model = TwoLayerGroupNet(m, width=spec.width, act=spec.act)
    opts = make_optimizer(model, spec)
    xtr, ytr, xte, yte = pairs[train_idx], labels[train_idx], pairs[test_idx], labels[test_idx]
    yt_tr = centered_targets(ytr, m)
    loss_fn = LOSSES[spec.loss]
    hist = History()
    for epoch in range(spec.epochs + 1):
        if epoch % spec.eval_every == 0 or epoch == spec.epochs:
            tr, te = stage_monitor(model, xtr, ytr), stage_monitor(model, xte, yte)
            hist.epoch.append(epoch)
            hist.train_acc.append(tr["acc"])
            hist.test_acc.append(te["acc"])
            hist.train_loss.append(tr["loss"])
            hist.grad_f_norm.append(tr["grad_f_norm"])
            hist.offdiag_ratio.append(tr["offdiag_ratio"])
        if epoch == spec.epochs:
            break
        if spec.ridge_eta is not None:
            model.set_ridge_top(xtr, yt_tr, spec.ridge_eta)
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss = loss_fn(model(xtr), ytr)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch} (lr={spec.lr}); lower the learning rate")
        loss.backward()
        if spec.ridge_eta is not None:
            model.V.grad = None                                          # V is the ridge solution, not trained
        for o in opts:
            o.step()
        if progress is not None:
            progress.advance()
    return model, hist
