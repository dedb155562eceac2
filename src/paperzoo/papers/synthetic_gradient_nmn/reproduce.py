"""Protocols: MANN (back-prop through time only) against the same NMN with synthetic-gradient fast controller
updates (MANN + SG), same seeds and episodes, on 5-way, 10-per-class episodes of MNIST / Fashion-MNIST classes.

smoke: the card's checks (a)-(d) + the fast step against autograd, and a tiny episode run of both models.
cpu:   the card's CPU ladder: 3,000 meta-training episodes per model, card model sizes, fast step size chosen
       on validation episodes (meta-training classes, held-out images) from a grid around the card's 1e-3.
full:  100,000 episodes per model, the card's slow learning rate (GPU; not run here).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.papers.synthetic_gradient_nmn import checks
from paperzoo.papers.synthetic_gradient_nmn.episodes import PRESENTATIONS, ClassPool, mnist_fmnist_pools, sample_episodes
from paperzoo.papers.synthetic_gradient_nmn.learner import FastSlowLearner, sg_cosine
from paperzoo.papers.synthetic_gradient_nmn.model import NMN, SyntheticGradients
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    episodes: int = 3_000  # meta-training episodes per model (card cpu ladder: 3,000)
    epochs: int = 6  # the episodes are split into this many epochs (curve points, checkpoints)
    batch_size: int = 16  # episodes per slow step (choice)
    n_way: int = 5  # card: 5-way
    k_per_class: int = 10  # card: 10 samples per class, 50 steps
    image_size: int = 20  # card: 20 x 20 (400-d input)
    per_class: int | None = 1_000  # training images per class (and as many validation images); None: all
    width: int = 200  # LSTM controller (card, MANN default)
    slots: int = 128  # memory slots (card, MANN default)
    mem_width: int = 40  # slot width (card, MANN default)
    read_heads: int = 4  # card, MANN default
    sg_hidden: int = 128  # card: S = 2-layer MLP, hidden 128
    etas: tuple[float, ...] = (1e-3,)  # fast step sizes tried (card: 1e-3, "tune on validation episodes")
    lr: float = 1e-4  # slow Adam step (card, MANN default)
    val_episodes: int = 200  # validation episodes that pick eta (meta-training classes, held-out images)
    test_episodes: int = 1_000  # meta-test episodes (unseen classes, test images)
    cosine_episodes: int = 64  # test episodes for the synthetic-vs-true gradient cosine probe
    checks: bool = False  # run the card's smoke checks (a)-(d)
    synthetic: bool = False  # tiny Gaussian class pools instead of MNIST / F-MNIST (smoke)
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("seconds: card checks (a)-(d) + fast step vs autograd (float64) + 64 tiny synthetic episodes per "
                    "model (NMN width 16, 8 x 8 memory), MANN vs MANN + SG", episodes=64, epochs=2, n_way=3,
                    k_per_class=5, image_size=4, width=16, slots=8, mem_width=8, read_heads=2, sg_hidden=16,
                    etas=(1e-3,), lr=1e-3, val_episodes=16, test_episodes=32, cosine_episodes=8, checks=True,
                    synthetic=True),
    "cpu": Config("card cpu ladder: 3,000 episodes per model (5-way, 10 per class, MNIST + F-MNIST classes, 20 x 20), "
                  "card model sizes, slow lr 1e-3, eta from {1e-3, 1e-2, 1e-1} on validation episodes; MANN vs "
                  "MANN + SG, one thread (estimate: ~5 min alone)", etas=(1e-3, 1e-2, 1e-1), lr=1e-3),
    "full": Config("MNIST + F-MNIST stand-in for the paper's Omniglot scale: 100,000 episodes per model, card slow lr "
                   "1e-4, eta from {1e-3, 1e-2, 1e-1}, all images; one GPU (estimate, not run)", episodes=100_000,
                   epochs=20, per_class=None, etas=(1e-3, 1e-2, 1e-1), threads=None),
}


def _pools(cfg: Config, seed: int) -> tuple[ClassPool, ClassPool, ClassPool]:
    """(train, validation, test) pools: validation = meta-training classes, images after the training ones."""
    if cfg.synthetic:  # smoke: 12 Gaussian classes in image_size^2 dims, well separated
        g = torch.Generator().manual_seed(seed)
        d = cfg.image_size ** 2
        means = 2.0 * torch.randn(12, 1, d, generator=g)
        x = means + torch.randn(12, 3 * 16, d, generator=g)
        return (ClassPool(x[:6, :16], tuple(map(str, range(6)))), ClassPool(x[:6, 16:32], tuple(map(str, range(6)))),
                ClassPool(x[6:, 32:], tuple(map(str, range(6, 12)))))
    train, test = mnist_fmnist_pools(per_class=None if cfg.per_class is None else 2 * cfg.per_class, size=cfg.image_size)
    n = train.x.shape[1] // 2
    return ClassPool(train.x[:, :n], train.names), ClassPool(train.x[:, n:], train.names), test


def _train(ctx: RunContext, cfg: Config, name: str, eta: float | None, train: ClassPool, evals: dict) -> dict:
    """Train one model (``eta=None``: MANN without S) from the same initial NMN; evaluate on ``evals``."""
    sub = ctx.sub(name)
    torch.manual_seed(ctx.seed)  # the same initial NMN for every model of the run
    model = NMN(train.dim, cfg.n_way, width=cfg.width, slots=cfg.slots, mem_width=cfg.mem_width,
                read_heads=cfg.read_heads).to(ctx.device)
    sg = None if eta is None else SyntheticGradients(model, hidden=cfg.sg_hidden).to(ctx.device)
    learner = FastSlowLearner(model, sg, eta_fast=eta or 0.0, lr=cfg.lr, batch_size=cfg.batch_size,
                              episodes_per_epoch=cfg.episodes // cfg.epochs, n_way=cfg.n_way, k_per_class=cfg.k_per_class)
    hist = learner.fit(train.to(ctx.device), epochs=cfg.epochs, eval_data=evals["val"], ctx=sub, desc=name)
    final = sub.cached("final", lambda: {k: learner.evaluate(v) for k, v in evals.items() if k != "cos"})
    if sg is not None:
        x, y = evals["cos"]
        final["cos"] = sub.cached("cos", lambda: sg_cosine(model, sg, x.to(ctx.device), y.to(ctx.device), eta_fast=eta))
    return {"hist": hist, "final": final}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if not cfg.etas or any(e <= 0 for e in cfg.etas):
        raise ValueError(f"synthetic-gradient-nmn: etas must be positive fast step sizes, got {cfg.etas!r}")
    if cfg.episodes < cfg.epochs * cfg.batch_size:
        raise ValueError(f"synthetic-gradient-nmn: {cfg.episodes} episodes give no batch of {cfg.batch_size} per epoch")
    metrics: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        if cfg.checks:
            torch.manual_seed(ctx.seed)
            small = NMN(16, 3, width=8, slots=6, mem_width=4, read_heads=2)
            metrics.update(eta0_max_diff=checks.eta0_max_diff(small, seed=ctx.seed),
                           zero_init_fast_update=checks.zero_init_fast_update(small, seed=ctx.seed),
                           fast_step_vjp_err=checks.fast_step_vjp_error(seed=ctx.seed),
                           lrua_least_used_ok=checks.lrua_least_used_ok(seed=ctx.seed),
                           toy_sg_cos=checks.toy_sg_cosine(seed=ctx.seed))
        train, val, test = _pools(cfg, ctx.seed)
        kw = {"n_way": cfg.n_way, "k_per_class": cfg.k_per_class}
        evals = {"val": sample_episodes(val, cfg.val_episodes, generator=ctx.generator(1), **kw),
                 "test": sample_episodes(test, cfg.test_episodes, generator=ctx.generator(2), **kw),
                 "cos": sample_episodes(test, cfg.cosine_episodes, generator=ctx.generator(3), **kw)}
        runs = {"mann": _train(ctx, cfg, "mann", None, train, evals)}
        for eta in cfg.etas:
            runs[f"sg-{eta:g}"] = _train(ctx, cfg, f"sg-eta{eta:g}", eta, train, evals)
        sg_names = [k for k in runs if k != "mann"]
        best = max(sg_names, key=lambda k: (runs[k]["final"]["val"]["test_acc"], -sg_names.index(k)))
        _report(ctx, cfg, runs, best)
    mann, sg = runs["mann"], runs[best]
    for tag, r in (("mann", mann), ("sg", sg)):
        metrics.update({f"{tag}_acc_p{p}": r["final"]["test"][f"test_acc_p{p}"] for p in PRESENTATIONS})
        metrics[f"{tag}_acc"] = r["final"]["test"]["test_acc"]
        metrics[f"{tag}_train_acc_mean"] = sum(h["acc"] for h in r["hist"]) / len(r["hist"])
    metrics.update(sg_minus_mann_p2=metrics["sg_acc_p2"] - metrics["mann_acc_p2"],
                   sg_minus_mann_train_curve=metrics["sg_train_acc_mean"] - metrics["mann_train_acc_mean"],
                   eta_selected=float(best.split("-", 1)[1]), **sg["final"]["cos"])
    return metrics


def _report(ctx: RunContext, cfg: Config, runs: dict, best: str) -> None:
    rows = []
    for k, r in runs.items():
        t = r["final"]["test"]
        rows.append({"model": "MANN" if k == "mann" else f"MANN + SG, eta {k.split('-', 1)[1]}",
                     "val acc": r["final"]["val"]["test_acc"], **{f"test p{p}": t[f"test_acc_p{p}"] for p in PRESENTATIONS},
                     "test all": t["test_acc"], "train s": round(sum(h.get("seconds", 0.0) for h in r["hist"]), 1)})
    ctx.table("accuracy", rows, caption=f"{cfg.test_episodes} meta-test episodes ({cfg.n_way}-way, {cfg.k_per_class} per "
                                        f"class, unseen classes); accuracy (%) at the p-th presentation; SG eta picked on "
                                        f"validation: {best.split('-', 1)[1]}; chance {100 / cfg.n_way:.0f}%")
    ep = [h["epoch"] * (cfg.episodes // cfg.epochs) for h in runs["mann"]["hist"]]
    ctx.curve("training", x=ep, ys={("MANN" if k == "mann" else f"SG eta {k.split('-', 1)[1]}"): [h["acc"] for h in r["hist"]]
                                    for k, r in runs.items()},
              xlabel="meta-training episodes", ylabel="training accuracy (%), epoch mean",
              title="training-curve rise, MANN vs MANN + SG", hline=100 / cfg.n_way)
    ctx.details["cosine"] = {k: r["final"].get("cos") for k, r in runs.items() if k != "mann"}
    ctx.details["selected_eta"] = best
