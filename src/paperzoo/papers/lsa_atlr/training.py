"""Adversarial training (AT) and AT-LR, robustness curves, and the paired AT vs AT-LR experiment.

Base AT is Madry-style (adversarial examples only in the loss); AT-LR adds the LSA regulariser on the MVL
probes (``lsa.ATLRLoss``). Every AT-LR run is paired with its own base AT run: same initial weights, same
batch order, same attack random draws (card pitfall "pair every AT-LR run with its own base").
"""
from __future__ import annotations

import copy
from typing import Callable, Sequence

import torch
from torch import nn

from paperzoo.papers.lsa_atlr.attacks import Clip, make_attack
from paperzoo.papers.lsa_atlr.lsa import ATLRLoss, lsa_profile, most_vulnerable_layers, relative_error_profile

__all__ = ["accuracy", "pair_run", "robustness_curve", "train"]


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable, *, steps: int, batch_size: int = 128,
          lr: float = 1e-2, generator: torch.Generator | None = None,
          on_step: Callable[[int, nn.Module], None] | None = None) -> list[float]:
    """``steps`` Adam steps of ``loss_fn(model, xb, yb)`` on mini-batches of a fresh permutation per pass
    (drawn from ``generator``); ``on_step(step, model)`` after each step (1-based). Returns the losses."""
    if not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if len(x) != len(y) or len(x) < batch_size:
        raise ValueError(f"need x, y of equal length >= batch_size {batch_size}, got {len(x)}, {len(y)}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    per = len(x) // batch_size
    losses: list[float] = []
    perm = torch.randperm(len(x), generator=generator)
    for step in range(steps):
        if step and step % per == 0:
            perm = torch.randperm(len(x), generator=generator)
        idx = perm[(step % per) * batch_size:(step % per + 1) * batch_size]
        loss = loss_fn(model, x[idx], y[idx])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {float(loss)} at step {step + 1}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step + 1, model)
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy in % (eval mode)."""
    was = model.training
    model.eval()
    hit = sum(int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum()) for i in range(0, len(x), batch_size))
    model.train(was)
    return 100.0 * hit / len(x)


def robustness_curve(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_list: Sequence[float], attack: str = "pgd",
                     *, steps: int = 20, clip: Clip = (0.0, 1.0), seed: int = 0, batch_size: int = 1000) -> dict[float, float]:
    """Robust accuracy (%) under ``attack`` at each eps (eps = 0: clean accuracy), eval mode; PGD with a
    random start and alpha = 2.5 eps / steps (card project default)."""
    was = model.training
    model.eval()
    out: dict[float, float] = {}
    try:
        for eps in eps_list:
            if eps == 0:
                out[eps] = accuracy(model, x, y, batch_size)
                continue
            atk = make_attack(attack, eps, steps=steps, clip=clip, generator=torch.Generator().manual_seed(seed))
            hit = 0
            for i in range(0, len(x), batch_size):
                xb, yb = x[i:i + batch_size], y[i:i + batch_size]
                with torch.no_grad():
                    hit += int((model(atk(model, xb, yb)).argmax(1) == yb).sum())
            out[eps] = 100.0 * hit / len(x)
    finally:
        model.train(was)
    return out


def pair_run(make_model: Callable[[], nn.Module], train_xy: tuple, test_xy: tuple, *, eps: float, attack: str = "pgd",
             attack_steps: int = 10, attack_alpha: float | None = None, steps: int = 200, batch_size: int = 128,
             lr: float = 1e-2, gamma: float = 1.0,
             mvl_step: int | None = None, mvl_rule: str = "above_mean", mvl_k: int | None = None,
             eval_eps: Sequence[float] = (0.1, 0.2, 0.3, 0.4), eval_steps: int = 20, clip: Clip = (0.0, 1.0),
             lsa_batches: int = 10, extra_gammas: Sequence[float] = (), seed: int = 0,
             progress: Callable[[int], None] | None = None) -> dict:
    """Base AT and AT-LR from the same initial weights; returns robust accuracies, MVL and LSA profiles.

    The MVL is computed on the base-AT model after ``mvl_step`` steps (default: the end of training) from
    ``lsa_batches`` training batches under the base (training) attack (card project default), then AT-LR trains
    from the same initial weights with that MVL. LSA profiles (FGSM at ``eps``, ``"noise"`` and PGD at
    ``eps``) are measured on the test set with both final models. ``extra_gammas``: more AT-LR runs with
    the same MVL and these gammas (keys ``"at-lr@<gamma>"``).
    """
    (xtr, ytr), (xte, yte) = train_xy, test_xy
    mvl_step = steps if mvl_step is None else mvl_step
    if not 0 <= mvl_step <= steps:
        raise ValueError(f"mvl_step must be in [0, {steps}], got {mvl_step}")
    torch.manual_seed(seed)
    init = make_model()
    base_atk = make_attack(attack, eps, steps=attack_steps, alpha=attack_alpha, clip=clip,
                           generator=torch.Generator().manual_seed(seed + 5))
    found: dict[str, object] = {}

    def take_mvl(model: nn.Module) -> None:
        prof = lsa_profile(model, xtr, ytr, base_atk, n_batches=lsa_batches, batch_size=batch_size)
        found["profile"] = prof.mean(0).tolist()
        found["mvl"] = most_vulnerable_layers(prof, mvl_rule, mvl_k)
        model.train()

    def tick(step: int, model: nn.Module) -> None:
        if step == mvl_step:
            take_mvl(model)
        if progress is not None:
            progress(1)

    def tick_lr(step: int, model: nn.Module) -> None:
        if progress is not None:
            progress(1)

    runs = [("at", 0.0), ("at-lr", gamma), *[(f"at-lr@{g:g}", g) for g in extra_gammas]]
    models, losses = {}, {}
    for method, g in runs:
        model = copy.deepcopy(init)
        if method == "at" and mvl_step == 0:
            take_mvl(model)
        atk = make_attack(attack, eps, steps=attack_steps, alpha=attack_alpha, clip=clip,
                          generator=torch.Generator().manual_seed(seed + 1))
        loss = ATLRLoss(model, atk, found["mvl"] if method != "at" else [], g)
        losses[method] = train(model, xtr, ytr, loss, steps=steps, batch_size=batch_size, lr=lr,
                               generator=torch.Generator().manual_seed(seed + 2),
                               on_step=tick if method == "at" else tick_lr)
        models[method] = model
    out: dict = {"mvl": found["mvl"], "mvl_profile": found["profile"], "losses": {k: v[-1] for k, v in losses.items()}}
    test_eps = [0.0, *eval_eps]
    for method, model in models.items():
        out[method] = {"acc": robustness_curve(model, xte, yte, test_eps, "pgd", steps=eval_steps, clip=clip, seed=seed + 3)}
        model.eval()
        n = min(len(xte), 1000)
        for kind, steps_k in (("fgsm", 1), ("noise", 1), ("pgd", eval_steps)):
            atk = make_attack(kind, eps, steps=steps_k, clip=clip, generator=torch.Generator().manual_seed(seed + 4))
            out[method][f"cm_{kind}"] = relative_error_profile(model, xte[:n], atk(model, xte[:n], yte[:n])).tolist()
    return out
