"""Fast & slow training of the NMN as a kernel ``Learner`` (the loop is the method).

Per batch of episodes (card "slow update", reconstructed):
    1. forward the episodes; inside, each controller takes a fast step after every time step on its
       synthetic gradient g_hat_c,t (model.py), starting from the slow weights in every episode;
    2. slow loss = mean over episodes and steps of the cross-entropy; back-prop through time;
    3. the true gradients g_c,t = dL_e/du_c,t of each episode's summed loss L_e = sum_t CE_t
       (= the slow loss's gradient times B * T) are the regression targets of the synthetic-gradient
       modules: L_S = sum_c mean ||g_hat_c,t - g_c,t||^2 (DNI), which trains S only;
    4. one Adam step on every slow parameter (LSTM, controllers, S); card (MANN default): lr 1e-4.
With ``sg=None`` (or ``eta_fast=0`` and no S) it is a plain MANN trained by back-prop through time.
At meta-test the fast updates stay on and the slow weights are frozen (``evaluate``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from paperzoo.papers.synthetic_gradient_nmn.episodes import PRESENTATIONS, ClassPool, accuracy_by_presentation, sample_episodes
from paperzoo.papers.synthetic_gradient_nmn.model import CONTROLLERS, NMN, SyntheticGradients
from paperzoo.train import Learner
from paperzoo.train.log import Progress


def episode_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over episodes and steps (the slow loss)."""
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())


def true_gradients(trace, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(slow loss, {controller: g (B, T, dim)}) with g_c,t = d(sum_t' CE_e,t')/du_c,t per episode e,
    by autograd on a fresh graph walk (for probes; the learner reads them off its own backward)."""
    loss = episode_loss(trace.logits, y)
    us = [u for k in CONTROLLERS for u in trace.us[k]]
    grads = torch.autograd.grad(loss * y.numel(), us, retain_graph=True)
    T = len(trace.us["out"])
    return loss, {k: torch.stack(grads[i * T:(i + 1) * T], 1) for i, k in enumerate(CONTROLLERS)}


def sg_cosine(model: NMN, sg: SyntheticGradients, x: torch.Tensor, y: torch.Tensor, *, eta_fast: float) -> dict[str, float]:
    """Probe: mean cosine between synthetic and true gradients per controller, over episodes and steps
    (steps where either vector is zero are skipped)."""
    tr = model(x, y, sg=sg, eta_fast=eta_fast, trace=True)
    _, g = true_gradients(tr, y)
    out = {}
    for k in CONTROLLERS:
        gh = torch.stack(tr.g_hats[k], 1).detach()
        ok = (gh.norm(dim=-1) > 0) & (g[k].norm(dim=-1) > 0)
        cos = F.cosine_similarity(gh, g[k], dim=-1)[ok]
        out[f"sg_cos_{k}"] = float(cos.mean()) if cos.numel() else 0.0
    return out


class FastSlowLearner(Learner):
    """Trains an :class:`NMN` (and its :class:`SyntheticGradients` ``sg``, if any) on episodes drawn from a
    :class:`ClassPool`; ``fit`` (checkpoints, bit-identical resume, progress, NaN guard) is the kernel's.

    ``eta_fast``: fast (synthetic-gradient) step size (card: 1e-3, choice); ``lr``: slow Adam step
    (card: 1e-4, MANN default); ``batch_size`` episodes per slow step; ``episodes_per_epoch`` sets the
    epoch; ``sg_weight`` scales the synthetic-gradient regression loss (it touches S only).
    ``evaluate((x, y))`` runs fixed episodes with the fast updates on and the slow weights frozen.
    """

    def __init__(self, model: NMN, sg: SyntheticGradients | None = None, *, eta_fast: float = 1e-3, lr: float = 1e-4,
                 batch_size: int = 16, episodes_per_epoch: int = 1600, n_way: int = 5, k_per_class: int = 10,
                 sg_weight: float = 1.0, eval_batch: int = 250):
        if not isinstance(model, NMN):
            raise TypeError(f"model must be an NMN, got {type(model).__name__}")
        if sg is not None and set(sg) != set(CONTROLLERS):
            raise ValueError(f"sg must hold one module per controller {CONTROLLERS}, got {sorted(sg)}")
        if eta_fast < 0 or (eta_fast > 0 and sg is None):
            raise ValueError(f"eta_fast must be >= 0 and needs sg modules, got eta_fast={eta_fast}, sg={sg is not None}")
        if n_way != model.num_classes:
            raise ValueError(f"n_way={n_way} must equal the model's num_classes={model.num_classes}")
        if not isinstance(batch_size, int) or batch_size < 1 or episodes_per_epoch < batch_size:
            raise ValueError(f"need 1 <= batch_size <= episodes_per_epoch, got {batch_size}, {episodes_per_epoch}")
        self.model, self.sg, self.eta_fast = model, sg, float(eta_fast)
        self.batch_size, self.episodes_per_epoch, self.sg_weight = batch_size, episodes_per_epoch, sg_weight
        self.n_way, self.k_per_class, self.eval_batch = n_way, k_per_class, eval_batch
        params = list(model.parameters()) + (list(sg.parameters()) if sg is not None else [])
        self.opt = torch.optim.Adam(params, lr=lr)

    def steps_per_epoch(self, data: ClassPool) -> int:
        return self.episodes_per_epoch // self.batch_size

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """One slow update on a batch of episodes x (B, T, D), y (B, T); returns the losses and accuracy."""
        m, sg = self.model, self.sg
        m.train()
        tr = m(x, y, sg=sg, eta_fast=self.eta_fast, trace=sg is not None)
        logits = tr.logits if sg is not None else tr
        loss = episode_loss(logits, y)
        us = [u for k in CONTROLLERS for u in tr.us[k]] if sg is not None else []
        for u in us:
            u.retain_grad()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        sg_loss = torch.zeros(())
        if sg is not None:
            scale = y.numel()  # d(mean CE)/du * B * T = d(sum_t CE_e,t)/du for episode e
            sg_loss = sum(F.mse_loss(torch.stack(tr.g_hats[k], 1), torch.stack([u.grad for u in tr.us[k]], 1) * scale)
                          for k in CONTROLLERS)
            (self.sg_weight * sg_loss).backward()
        self.opt.step()
        acc = 100.0 * float((logits.argmax(-1) == y).double().mean())
        return {"loss": float(loss.detach()), "sg_loss": float(sg_loss.detach()), "acc": acc}

    def train_epoch(self, data: ClassPool, *, epoch: int, generator: torch.Generator, progress: Progress) -> dict:
        if not isinstance(data, ClassPool):
            raise TypeError(f"data must be a ClassPool, got {type(data).__name__}")
        dev = next(self.model.parameters()).device
        rows = []
        for _ in range(self.steps_per_epoch(data)):
            x, y = sample_episodes(data, self.batch_size, n_way=self.n_way, k_per_class=self.k_per_class,
                                   generator=generator)
            rows.append(self.step(x.to(dev), y.to(dev)))
            progress.advance(loss=rows[-1]["loss"])
        return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}

    @torch.no_grad()
    def predict(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Logits (E, T, C) of fixed episodes, fast updates on, slow weights untouched (eval mode)."""
        self.model.eval()
        dev = next(self.model.parameters()).device
        return torch.cat([self.model(x[i:i + self.eval_batch].to(dev), y[i:i + self.eval_batch].to(dev), sg=self.sg,
                                     eta_fast=self.eta_fast).cpu() for i in range(0, len(x), self.eval_batch)])

    def evaluate(self, data: tuple[torch.Tensor, torch.Tensor]) -> dict:
        x, y = data
        logits = self.predict(x, y)
        by = accuracy_by_presentation(logits, y, PRESENTATIONS)
        return {"test_loss": float(episode_loss(logits, y)), "test_acc": 100.0 * float((logits.argmax(-1) == y).double().mean()),
                **{f"test_acc_p{p}": a for p, a in by.items()}}

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "sg": self.sg.state_dict() if self.sg is not None else {},
                "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if self.sg is not None:
            self.sg.load_state_dict(state["sg"])
        self.opt.load_state_dict(state["opt"])
