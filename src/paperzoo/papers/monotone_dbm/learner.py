"""Training a monotone DBM for joint image completion and classification (code ``train_and_eval.py``,
``main.py``): each batch observes every pixel independently with probability 0.4, solves mean-field
inference with the observed pixels clamped, and trains on the pre-prox logits ``W z* + b`` at the
fixed point: 0.5 x class-balanced focal loss (gamma 2, beta 0.9999) on the unobserved pixels' bins,
logits scaled by a learnable per-pixel tau^2 (tau init sqrt(10)), + 0.5 x cross-entropy on the label
tier scaled by clftau^2. Adam lr 1e-3. The kernel's ``Learner.fit`` runs the epochs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.data import TensorSet
from paperzoo.papers.monotone_dbm.solver import MonotoneDBM
from paperzoo.train import Learner
from paperzoo.train.log import Progress


def bucketize(images: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Pixel intensities in [0, 1] -> bin index in [0, n_bins) (code ``util.py``: equal bins of [0, 1],
    right-closed, the last bin includes 1)."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2, got {n_bins}")
    if images.min() < 0 or images.max() > 1:
        raise ValueError("bucketize: images must lie in [0, 1]")
    edges = torch.linspace(0, 1, n_bins + 1, dtype=images.dtype, device=images.device)
    edges[-1] = 1.1
    return torch.bucketize(images, edges, right=True) - 1


def random_observation_mask(shape, p: float, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Float mask of ``shape``: each entry 1 (observed) independently with probability ``p`` (code: 0.4)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    return (torch.rand(shape, generator=generator) < p).float().to(device)


def focal_class_balanced(logits: torch.Tensor, target: torch.Tensor, *, beta: float = 0.9999,
                         gamma: float = 2.0) -> torch.Tensor:
    """Class-balanced focal loss (code ``FocalLoss``): weights ``(1 - beta) / (1 - beta^{n_c})`` from the
    counts ``n_c`` of each class among ``target`` (classes absent from the batch get weight 0, which
    never enters), focal factor ``(1 - p)^gamma``, weighted mean ``sum w_t l_t / sum w_t`` (NLLLoss)."""
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"logits must be (N, C) and target (N,), got {tuple(logits.shape)}, {tuple(target.shape)}")
    C = logits.shape[1]
    counts = torch.bincount(target, minlength=C).to(logits.dtype)
    w = torch.where(counts > 0, (1 - beta) / (1 - beta ** counts.clamp(min=1)), torch.zeros_like(counts))
    logp = F.log_softmax(logits, 1)
    lt = logp.gather(1, target[:, None])[:, 0]
    focal = (1 - lt.exp()) ** gamma
    wt = w[target]
    return -(wt * focal * lt).sum() / wt.sum()


def tune_alpha(dbm: MonotoneDBM, visible: torch.Tensor, mask: torch.Tensor, max_alpha: float) -> float:
    """Code ``run_tune_alpha``: from ``max_alpha``, halve alpha while the forward iteration count does not
    rise (down to 1e-4), then keep the last alpha that did not get worse (card); if even that does not
    converge, restore the original alpha (the code meant to: its check compares with a count it never
    reaches). Returns the alpha set."""
    orig = dbm.alpha

    def run(a):
        dbm.alpha = a
        with torch.no_grad():
            dbm(visible, mask)
        return dbm.iters, dbm.converged

    a = max_alpha
    n_a, ok_a = run(a)
    while a > 1e-4:
        n_h, ok_h = run(a / 2)
        if n_h > n_a:  # halving made it worse: keep a
            break
        a, n_a, ok_a = a / 2, n_h, ok_h
    dbm.alpha = a if ok_a else orig
    return dbm.alpha


class DBMLearner(Learner):
    """Joint completion + classification training of a :class:`MonotoneDBM` (defaults: the code's
    ``main.py``: batch 128, Adam 1e-3, observation 0.4, beta 0.9999, gamma 2, weights 0.5 / 0.5).

    ``data``: a ``TensorSet`` with ``x`` the pixel bins (N, n_vis) (long) and ``y`` the labels. The per-pixel
    recon temperature ``tau`` lives here (it only scales the loss). ``evaluate`` observes a fixed 40 %
    of each test image (generator ``eval_seed``) and reports test accuracy and completion accuracy (%).
    """

    def __init__(self, dbm: MonotoneDBM, *, batch_size: int = 128, lr: float = 1e-3, p_observe: float = 0.4,
                 beta: float = 0.9999, gamma: float = 2.0, recon_weight: float = 0.5, tune: bool = True,
                 eval_batch: int = 400, eval_seed: int = 12345):
        if not isinstance(dbm, MonotoneDBM):
            raise TypeError(f"dbm must be a MonotoneDBM, got {type(dbm).__name__}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.dbm, self.batch_size, self.p, self.beta, self.gamma = dbm, batch_size, p_observe, beta, gamma
        self.recon_weight, self.tune, self.eval_batch, self.eval_seed = recon_weight, tune, eval_batch, eval_seed
        self.n_vis, self.k_vis = dbm.linear.tiers[0]
        p0 = next(dbm.parameters())
        self.tau = nn.Parameter(torch.full((self.n_vis,), math.sqrt(10.0), dtype=p0.dtype, device=p0.device))
        self.opt = torch.optim.Adam(list(dbm.parameters()) + [self.tau], lr=lr)

    def _check(self, data: TensorSet) -> None:
        if not isinstance(data, TensorSet) or data.x.dtype != torch.long or data.x.ndim != 2:
            raise TypeError("data must be a TensorSet of pixel bins x (N, n_vis) long; use bucketize")
        if data.x.shape[1] != self.n_vis or int(data.x.max()) >= self.k_vis or int(data.x.min()) < 0:
            raise ValueError(f"data.x must be (N, {self.n_vis}) bins in [0, {self.k_vis})")

    def steps_per_epoch(self, data: TensorSet) -> int:
        return math.ceil(len(data) / self.batch_size)

    def losses(self, bins: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> dict:
        """Forward at the fixed point and the three losses for one batch."""
        m = self.dbm
        m(F.one_hot(bins, self.k_vis).to(self.tau.dtype), mask)
        recon = m.logits[:, :self.n_vis * self.k_vis].reshape(-1, self.n_vis, self.k_vis) * self.tau[:, None] ** 2
        free = mask == 0
        rec = focal_class_balanced(recon[free], bins[free], beta=self.beta, gamma=self.gamma) if free.any() \
            else recon.sum() * 0
        clf = F.cross_entropy(m.label_logits(), y)
        return {"loss": self.recon_weight * rec + (1 - self.recon_weight) * clf, "recon": rec, "clf": clf}

    def train_epoch(self, data: TensorSet, *, epoch: int, generator: torch.Generator, progress: Progress) -> dict:
        self._check(data)
        dev = self.tau.device
        perm = torch.randperm(len(data), generator=generator)
        sums = {"loss": 0.0, "recon": 0.0, "clf": 0.0, "fwd_iters": 0.0, "bwd_iters": 0.0, "converged": 0.0}
        n = self.steps_per_epoch(data)
        self.dbm.train()
        for b in range(n):
            idx = perm[b * self.batch_size:(b + 1) * self.batch_size]
            bins, y = data.x[idx].to(dev), data.y[idx].to(dev)
            mask = random_observation_mask(bins.shape, self.p, generator, dev)
            parts = self.losses(bins, y, mask)
            self.opt.zero_grad(set_to_none=True)
            parts["loss"].backward()
            self.opt.step()
            conv = self.dbm.converged
            for k in ("loss", "recon", "clf"):
                sums[k] += float(parts[k].detach())
            sums["fwd_iters"] += self.dbm.iters
            sums["bwd_iters"] += self.dbm.stats.get("backward_iters", 0)
            sums["converged"] += conv
            if self.tune and not conv:  # code: retune when the forward solve runs to its cap
                with torch.no_grad():
                    tune_alpha(self.dbm, F.one_hot(bins, self.k_vis).to(self.tau.dtype), mask, self.dbm.alpha / 2)
            progress.advance(loss=float(parts["loss"].detach()))
        return {**{k: v / n for k, v in sums.items()}, "alpha": self.dbm.alpha}

    @torch.no_grad()
    def predict(self, data: TensorSet) -> dict:
        """Fixed points on ``data`` with 40 % (``p_observe``) observed: predicted labels (N,), completed
        bins (N, n_vis), the observation mask, and the per-batch converged flags / iteration counts."""
        self._check(data)
        g = torch.Generator().manual_seed(self.eval_seed)
        dev, out = self.tau.device, {"label": [], "bins": [], "mask": [], "converged": [], "iters": []}
        self.dbm.eval()
        for i in range(0, len(data), self.eval_batch):
            bins = data.x[i:i + self.eval_batch].to(dev)
            mask = random_observation_mask(bins.shape, self.p, g, dev)
            tiers = self.dbm(F.one_hot(bins, self.k_vis).to(self.tau.dtype), mask)
            out["label"].append(tiers[-1][:, 0].argmax(1).cpu())  # code: argmax of the label variable at z*
            out["bins"].append(tiers[0].argmax(2).cpu())
            out["mask"].append(mask.cpu())
            out["converged"].append(float(self.dbm.converged))
            out["iters"].append(float(self.dbm.iters))
        return {k: torch.cat(v) if k in ("label", "bins", "mask") else torch.tensor(v) for k, v in out.items()}

    def evaluate(self, data: TensorSet) -> dict:
        p = self.predict(data)
        free = p["mask"] == 0
        return {"test_acc": 100.0 * float((p["label"] == data.y).double().mean()),
                "completion_acc": 100.0 * float((p["bins"] == data.x)[free].double().mean()),
                "eval_converged": float(p["converged"].mean()), "eval_iters": float(p["iters"].mean())}

    def state_dict(self) -> dict:
        return {"dbm": self.dbm.state_dict(), "tau": self.tau.detach().clone(), "opt": self.opt.state_dict(),
                "alpha": self.dbm.alpha}

    def load_state_dict(self, state: dict) -> None:
        self.dbm.load_state_dict(state["dbm"])
        with torch.no_grad():
            self.tau.copy_(state["tau"])
        self.opt.load_state_dict(state["opt"])
        self.dbm.alpha = float(state["alpha"])
