"""Monotone DBM protocols: the fixed-point checks (card smoke ladder) and joint digit completion +
classification on MNIST with 40 % of the pixels observed.

smoke: the float64 checks (a)-(d) and the implicit gradient against unrolled autograd and finite
       differences, then one epoch on 256 MNIST images at 8x8 (code path only).
cpu:   the card's CPU model (8x8 pixels, 4 bins, hidden 64 + 32 four-state variables, label 10, all-to-all
       hollow monotone W, m = 0.01) on MNIST area-averaged to 8x8 (the card names sklearn digits; the
       brief asks for MNIST from PAPERZOO_DATA at that scale): 1,440 training images (the card's 80 % of
       1,797), 30 epochs, batch 64, Adam 1e-3; 1,000 test images.
full:  MNIST at 14x14 with the paper's 20 bins, hidden 196 + 98 four-state variables, 60k / 10k, 40
       epochs, batch 128 (the code's ``main.py`` schedule); dense couplings instead of the paper's
       convolutional tiers (not run here; one GPU).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.data import TensorSet, load_mnist
from paperzoo.papers.monotone_dbm import checks
from paperzoo.papers.monotone_dbm.learner import DBMLearner
from paperzoo.papers.monotone_dbm.model import dense_dbm, image_bins
from paperzoo.papers.monotone_dbm.monotone import mean_field_residual
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    side: int = 8  # images area-averaged to side x side
    n_bins: int = 4  # card CPU: 4 bins; paper/code: 20
    hidden: tuple[int, ...] = (64, 32)  # hidden tiers, 4-state variables each (card CPU)
    n_train: int | None = 1_440  # first n MNIST training images (None: all 60k)
    n_test: int | None = 1_000  # first n test images (None: all 10k)
    epochs: int = 30  # card CPU: 30; code: 40
    batch_size: int = 64  # card CPU: 64; code: 128
    lr: float = 1e-3  # code: Adam 1e-3
    p_observe: float = 0.4  # code: each pixel observed with probability 0.4 (train and test)
    m: float = 0.01  # code main.py
    alpha: float = 0.125  # code main.py
    tol: float = 1e-2  # code main.py (relative residual of the solver)
    max_iter: int = 50  # code main.py
    solver: str = "anderson"
    tune_alpha: bool = True  # code: halve alpha when the forward solve hits its cap
    checks: bool = True  # run the float64 fixed-point checks
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("seconds: float64 checks (monotone margin, prox, unique fixed point from 5 starts, naive "
                    "mean-field failure, implicit gradient vs unrolled and finite differences) + 1 epoch on 256 "
                    "MNIST images at 8x8", n_train=256, n_test=200, epochs=1, hidden=(16, 8)),
    "cpu": Config("card cpu ladder on MNIST: 8x8 pixels, 4 bins, hidden 64+32 four-state variables, label 10, 1,440 "
                  "train / 1,000 test images, 40% observed, 30 epochs, batch 64, one thread (about 5 min alone)"),
    "full": Config("MNIST 14x14, 20 bins (paper), hidden 196+98 four-state variables, 60k/10k, 40 epochs, batch 128, "
                   "dense couplings; one GPU, about an hour (estimate, not run)", side=14, n_bins=20, hidden=(196, 98),
                   n_train=None, n_test=None, epochs=40, batch_size=128, threads=None),
}


def _data(cfg: Config) -> tuple[TensorSet, TensorSet]:
    mnist = load_mnist()
    tr, te = mnist.train.subset(cfg.n_train), mnist.test.subset(cfg.n_test)
    return (TensorSet(image_bins(tr.x, cfg.side, cfg.n_bins), tr.y, "mnist-train-bins"),
            TensorSet(image_bins(te.x, cfg.side, cfg.n_bins), te.y, "mnist-test-bins"))


def _balanced(pred: torch.Tensor, true: torch.Tensor, n_bins: int) -> float:
    """Mean per-bin recall (%) over the bins present in ``true``: what a class-balanced loss optimises."""
    rec = [float((pred[true == c] == c).double().mean()) for c in range(n_bins) if (true == c).any()]
    return 100.0 * sum(rec) / len(rec)


def _checks(ctx: RunContext) -> dict[str, float]:
    lin = checks.random_linear()
    out = {"random_min_eig_margin": checks.min_eig_margin(lin), **checks.prox_errors(),
           **checks.fixed_point_checks(lin), **checks.naive_mf_check(scale=16.0),
           **checks.implicit_grad_checks(checks.random_linear(seed=1), unroll=200)}
    out["naive_mf_disagreement"] = max(out["naive_mf_spread"], out["naive_mf_last_step"])
    ctx.table("checks", [{"check": k, "value": v} for k, v in out.items()],
              caption="float64 checks on random dense hollow monotone W (tiers 20x4, 10x2, 1x10; m = 0.05; card smoke)")
    return out


def _train(ctx: RunContext, cfg: Config) -> dict[str, float]:
    train, test = _data(cfg)
    sub = ctx.sub("train")
    sub.seed_all()
    dbm = dense_dbm(cfg.side ** 2, cfg.n_bins, cfg.hidden, m=cfg.m, alpha=cfg.alpha, tol=cfg.tol,
                    max_iter=cfg.max_iter, solver=cfg.solver).to(ctx.device)
    learner = DBMLearner(dbm, batch_size=cfg.batch_size, lr=cfg.lr, p_observe=cfg.p_observe, tune=cfg.tune_alpha)
    hist = learner.fit(train, epochs=cfg.epochs, eval_data=test, ctx=sub, desc="monotone DBM")
    pred = learner.predict(test)
    free = pred["mask"] == 0
    mode = torch.stack([torch.bincount(train.x[:, j], minlength=cfg.n_bins) for j in range(train.x.shape[1])]).argmax(1)
    base = 100.0 * float((mode.expand_as(test.x) == test.x)[free].double().mean())
    ours = 100.0 * float((pred["bins"] == test.x)[free].double().mean())
    acc = 100.0 * float((pred["label"] == test.y).double().mean())
    bal = _balanced(pred["bins"][free], test.x[free], cfg.n_bins)
    bal_base = _balanced(mode.expand_as(test.x)[free], test.x[free], cfg.n_bins)
    # the true mean-field residual at the solver's output on one test batch (the solver stops at tol)
    with torch.no_grad():
        bins = test.x[:learner.eval_batch].to(ctx.device)
        mask = pred["mask"][:learner.eval_batch].to(ctx.device)
        dbm(torch.nn.functional.one_hot(bins, cfg.n_bins).float(), mask)
        W, b = dbm.linear.operator()
        free_e = 1 - dbm.clamp_spec(torch.nn.functional.one_hot(bins, cfg.n_bins).float(), mask, None)[1]
        mf_res = float(mean_field_residual(dbm.z, W, b, dbm.linear.gid, free_e).max())
    ep = [r["epoch"] for r in hist]
    ctx.curve("learning", x=ep, ys={"test accuracy (%)": [r["test_acc"] for r in hist],
                                    "completion accuracy (%)": [r["completion_acc"] for r in hist]},
              xlabel="epoch", ylabel="%", title=f"MNIST {cfg.side}x{cfg.side}, {cfg.n_bins} bins, 40% observed")
    ctx.curve("solver", x=ep, ys={"forward iterations": [r["fwd_iters"] for r in hist],
                                  "backward iterations": [r["bwd_iters"] for r in hist]},
              xlabel="epoch", ylabel="mean iterations per batch", title="fixed-point solves during training")
    ctx.table("final", [{"model": "monotone DBM", "test acc %": acc, "completion acc %": ours,
                         "completion balanced acc %": bal},
                        {"model": "per-pixel marginal mode", "test acc %": float("nan"), "completion acc %": base,
                         "completion balanced acc %": bal_base}],
              caption=f"{len(test)} test images, {cfg.p_observe:.0%} of pixels observed; completion = unobserved bins")
    conv = sum(r["converged"] for r in hist) / len(hist)
    return {"test_acc": acc, "completion_acc": ours, "completion_baseline_acc": base, "completion_gain": ours - base,
            "completion_balanced_acc": bal, "completion_balanced_baseline": bal_base,
            "forward_converged_frac": conv, "eval_converged_frac": float(pred["converged"].mean()),
            "fwd_iters_mean": sum(r["fwd_iters"] for r in hist) / len(hist),
            "bwd_iters_mean": sum(r["bwd_iters"] for r in hist) / len(hist), "final_alpha": dbm.alpha,
            "test_mean_field_residual": mf_res, "trained_min_eig_margin": checks.min_eig_margin(dbm.linear)}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if cfg.side < 2 or cfg.n_bins < 2 or not cfg.hidden or cfg.epochs < 1:
        raise ValueError(f"monotone-dbm: impossible config {cfg!r}")
    metrics: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        if cfg.checks:
            metrics.update(_checks(ctx))
        metrics.update(_train(ctx, cfg))
    margins = [metrics[k] for k in ("random_min_eig_margin", "trained_min_eig_margin") if k in metrics]
    metrics["min_eig_margin"] = min(margins)
    return metrics
