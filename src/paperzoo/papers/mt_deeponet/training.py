"""MT-DeepONet's losses, normalisers and training recipes (official ``Fisher/main.py``, ``Darcy/main_source_model.py``,
``Darcy/main_target_model.py``, ``Darcy/loss.py``; source-checked in the card), on the kernel's ``fit``.

* Fisher: pointwise-standardised ``u_0`` sensors and outputs (coefficients left raw), MSE on standardised outputs
  + L2 1e-3 on the branch kernels, Adam lr 1e-3 decayed x0.95 every 1 000 steps (staircase), batch 200; error =
  one global relative L2 over the whole decoded test tensor.
* Darcy source: pointwise-standardised log K + the mask channel, targets x10, masked MSE (mean over samples and
  grid points of ``(M pred - h)^2``), Adam (beta2 0.99), lr 1e-3 -> 5e-4 (optimizer step 5 001) -> 1e-4 (8 001).
* Darcy transfer: the source weights, ``freeze_for_transfer``, loss = mean per-sample relative L2 of the masked
  prediction, lr 5e-4 -> 1e-4 (step 2 001) -> 1e-5 (3 001); error = mean per-sample relative L2.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.data.sets import TensorSet
from paperzoo.papers.mt_deeponet.model import DarcyMTDeepONet, MTDeepONet, freeze_for_transfer
from paperzoo.train import fit


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mean((M pred - target)^2)`` over samples and grid points (card method (B)); ``target`` is 0 outside M."""
    if pred.shape != target.shape:
        raise ValueError(f"masked_mse: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    return ((mask.reshape(pred.shape[0], -1).to(pred.dtype) * pred.reshape(pred.shape[0], -1)
             - target.reshape(target.shape[0], -1)) ** 2).mean()


def relative_l2(pred: torch.Tensor, target: torch.Tensor, *, per_sample: bool = True) -> torch.Tensor:
    """``||pred - target||_2 / ||target||_2``: per sample (B,) (Darcy metric) or one global ratio over the whole
    tensor (Fisher metric, ``per_sample=False``); card pitfall: do not mix them."""
    if pred.shape != target.shape:
        raise ValueError(f"relative_l2: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if not per_sample:
        return (pred - target).norm() / target.norm()
    return (pred - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)


@dataclass
class Standardizer:
    """Pointwise ``(x - mean) / (std + eps)`` with statistics over the training samples (dim 0)."""

    mean: torch.Tensor
    std: torch.Tensor
    eps: float = 1e-9

    @classmethod
    def fit(cls, x: torch.Tensor, eps: float = 1e-9) -> "Standardizer":
        return cls(x.mean(0), x.std(0, unbiased=False), eps)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x)) / (self.std.to(x) + self.eps)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z * (self.std.to(z) + self.eps) + self.mean.to(z)


def staircase(decay: float = 0.95, every: int = 1000):
    """``lr factor = decay ** (step // every)`` (Keras ``ExponentialDecay(staircase=True)``, official Fisher)."""
    return lambda step: decay ** (step // every)


def piecewise(bounds: tuple[int, ...], lrs: tuple[float, ...]):
    """Keras ``PiecewiseConstantDecay`` as a factor of ``lrs[0]``: ``lrs[i]`` once ``step > bounds[i - 1]``."""
    if len(lrs) != len(bounds) + 1:
        raise ValueError(f"piecewise: need len(lrs) == len(bounds) + 1, got {lrs}, {bounds}")
    return lambda step: lrs[sum(step > b for b in bounds)] / lrs[0]


def fisher_grid(nt: int, nx: int) -> torch.Tensor:
    """Trunk inputs ``(t_j, x_i)`` on [0, 1]^2, (nt * nx, 2), in the order of ``u.reshape(n, nt * nx)``."""
    t, x = torch.linspace(0, 1, nt), torch.linspace(0, 1, nx)
    return torch.stack(torch.meshgrid(t, x, indexing="ij"), -1).reshape(-1, 2)


@dataclass
class FisherScaler:
    """Official Fisher normalisation: the 4 coefficients raw, the ``nx`` IC sensors and every output standardised."""

    n_coeff: int
    ic: Standardizer
    out: Standardizer

    @classmethod
    def fit(cls, v: torch.Tensor, u: torch.Tensor, n_coeff: int = 4) -> "FisherScaler":
        return cls(n_coeff, Standardizer.fit(v[:, n_coeff:]), Standardizer.fit(u.flatten(1)))

    def inputs(self, v: torch.Tensor) -> torch.Tensor:
        return torch.cat([v[:, :self.n_coeff], self.ic.encode(v[:, self.n_coeff:])], 1).float()


def train_fisher(model: MTDeepONet, v: torch.Tensor, u: torch.Tensor, *, steps: int, batch: int = 200, lr: float = 1e-3,
                 l2: float = 1e-3, **fit_kw) -> tuple[FisherScaler, int]:
    """Train on ``v`` (n, 4 + nx), ``u`` (n, nt, nx); whole epochs of ``n // batch`` steps, at least ``steps`` in
    total; ``fit_kw`` go to the kernel's ``fit`` (``ctx=`` or ``seed=``, ``device=``, ``progress=``). Returns the
    scaler (for ``predict_fisher``) and the number of optimizer steps taken."""
    if steps < 1 or len(v) != len(u) or u.ndim != 3:
        raise ValueError(f"train_fisher: need steps >= 1 and u (n, nt, nx) matching v; got {steps}, {tuple(v.shape)}, "
                         f"{tuple(u.shape)}")
    scaler = FisherScaler.fit(v, u)
    batch = min(batch, len(v))
    grid = fisher_grid(u.shape[1], u.shape[2])
    kernels = model.branch.kernels()

    def loss_fn(net, x, y):
        pred = net(x, grid.to(x.device))
        return ((pred - y) ** 2).mean() + l2 * sum((w ** 2).sum() for w in kernels)

    per_epoch = len(v) // batch
    epochs = -(-steps // per_epoch)
    data = TensorSet(scaler.inputs(v), scaler.out.encode(u.flatten(1)).float(), "fisher")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, staircase())
    fit(model, data, epochs=epochs, batch_size=batch, loss_fn=loss_fn, optimizer=opt, scheduler=sched,
        scheduler_per="step", desc="fisher", log_every=200, **fit_kw)
    return scaler, epochs * per_epoch


@torch.no_grad()
def predict_fisher(model: MTDeepONet, scaler: FisherScaler, v: torch.Tensor, nt: int, nx: int) -> torch.Tensor:
    """Decoded predictions (n, nt, nx) in physical units."""
    model.eval()
    dev = next(model.parameters()).device
    z = model(scaler.inputs(v).to(dev), fisher_grid(nt, nx).to(dev))
    return scaler.out.decode(z.double().cpu()).view(len(v), nt, nx)


@dataclass
class DarcySet:
    """Model-ready Darcy tensors: ``x`` (n, 2, res, res) = [standardised log K, mask], ``y`` (n, 1, res, res) =
    ``scale * h`` (official: x10)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)


def darcy_set(logk: torch.Tensor, mask: torch.Tensor, h: torch.Tensor, norm: Standardizer, scale: float = 10.0) -> DarcySet:
    n = len(logk)
    m = mask.expand(n, *logk.shape[1:]) if mask.ndim == 2 else mask
    return DarcySet(torch.stack([norm.encode(logk), m], 1).float(), (scale * h).unsqueeze(1).float())


def _darcy_fit(model, data: DarcySet, loss, *, steps: int, batch: int, lrs, bounds, **fit_kw) -> int:
    batch = min(batch, len(data))
    per_epoch = len(data) // batch
    epochs = -(-steps // per_epoch)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lrs[0], betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, piecewise(bounds, lrs))
    fit(model, TensorSet(data.x, data.y, "darcy"), epochs=epochs, batch_size=batch, optimizer=opt, scheduler=sched,
        scheduler_per="step", desc="darcy", log_every=50, **fit_kw,
        loss_fn=lambda net, x, y: loss(net(x[:, :1], x[:, 1]), y, x[:, 1]))
    return epochs * per_epoch


def source_loss(pred, y, mask):
    return masked_mse(pred, y, mask)


def transfer_loss(pred, y, mask):
    """Official ``Darcy/loss.py`` target loss: mean per-sample relative L2 of the masked prediction."""
    return relative_l2(mask[:, None] * pred, y).mean()


def train_darcy_source(model: DarcyMTDeepONet, data: DarcySet, *, steps: int, batch: int = 1000,
                       lrs=(1e-3, 5e-4, 1e-4), bounds=(5001, 8001), **fit_kw) -> int:
    """Multi-task source training (masked MSE); returns the optimizer steps taken (whole epochs)."""
    return _darcy_fit(model, data, source_loss, steps=steps, batch=batch, lrs=lrs, bounds=bounds, **fit_kw)


def train_darcy_target(model: DarcyMTDeepONet, data: DarcySet, *, steps: int, batch: int = 100, transfer: bool = True,
                       lrs=(5e-4, 1e-4, 1e-5), bounds=(2001, 3001), **fit_kw) -> int:
    """Target training with the official recipe; ``transfer=True`` freezes all but the official layer set first
    (``model`` then holds the source weights), ``False`` trains every layer (the from-scratch baseline)."""
    if transfer:
        freeze_for_transfer(model)
    return _darcy_fit(model, data, transfer_loss, steps=steps, batch=batch, lrs=lrs, bounds=bounds, **fit_kw)


@torch.no_grad()
def darcy_errors(model: DarcyMTDeepONet, data: DarcySet, chunk: int = 100) -> torch.Tensor:
    """Per-sample relative L2 (n,) of the masked prediction (the scale cancels)."""
    model.eval()
    dev = next(model.parameters()).device
    out = [relative_l2(model(data.x[i:i + chunk, :1].to(dev), data.x[i:i + chunk, 1].to(dev)).cpu(), data.y[i:i + chunk])
           for i in range(0, len(data), chunk)]
    return torch.cat(out)
