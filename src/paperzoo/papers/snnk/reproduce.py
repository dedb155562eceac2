"""Protocols for ``paperzoo reproduce snnk``: identities, kernel-estimation error vs m, uptraining, bundling."""
from __future__ import annotations

from dataclasses import dataclass

from paperzoo.data import load_mnist
from paperzoo.papers.snnk.experiments import bundle_run, exact_checks, kernel_error_sweep, loglog_slope, uptrain_run
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    kernel_ms: tuple[int, ...] = (16, 64, 256, 1024, 4096)     # card cpu rung
    kernel_acts: tuple[str, ...] = ("cos", "exp", "gaussian", "relu")
    kernel_pairs: int = 200                                     # card cpu rung
    kernel_repeats: int = 10
    n_train: int | None = 10_000                                # MNIST subset for uptraining / bundling (ours)
    n_test: int | None = None
    width: int = 1024                                           # card: 784-1024-10 GELU MLP
    num_rfs: int = 32                                           # card: ReLU-SNNK m = 32 (the claim's m)
    num_rfs_sweep: tuple[int, ...] = (128, 512)                 # extra m for the trend (ours)
    epochs: int = 3
    ft_epochs: int = 3                                          # card: fine-tune 3 epochs
    bundle_rfs: int = 512                                       # card: m = 512 for bundling
    ridge: float = 1e-3
    lr: float = 1e-3
    batch_size: int = 128
    mnist: bool = True
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("seconds: card smoke checks (cos URF error and 1/m variance, ReLU-RF vs arc-cosine, adapter "
                    "identity, bundling identity) in float64", kernel_ms=(), mnist=False),
    "cpu": Config("card cpu: relative MSE vs m for cos/exp/gaussian/ReLU URFs (200 pairs, 10 draws); uptraining and "
                  "bundling analogues on a 10k MNIST subset (about 3 min on 1 thread)"),
    "full": Config("card cpu ladder at full size (60k MNIST, 5 epochs, 50 draws); the paper's GLUE/ViT runs need "
                   "hub weights (not offline)", n_train=None, kernel_repeats=50, epochs=5),
}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    with ctx.threads(cfg.threads):
        metrics = ctx.cached("exact", lambda: exact_checks(ctx.seed))
        if cfg.kernel_ms:
            rel = ctx.cached("kernel", lambda: kernel_error_sweep(cfg.kernel_acts, cfg.kernel_ms, n_pairs=cfg.kernel_pairs,
                                                                   repeats=cfg.kernel_repeats, seed=ctx.seed))
            label = {"relu": "relu (arc-cosine kernel)"}
            ctx.curve("kernel estimation: relative MSE vs number of random features", list(cfg.kernel_ms),
                      {label.get(k, k): v for k, v in rel.items()}, xlabel="number of random features m",
                      ylabel="relative MSE vs exact kernel", logx=True, logy=True)
            rows = []
            for name, v in rel.items():
                metrics[f"slope_{name}"] = loglog_slope(cfg.kernel_ms, v) if len(cfg.kernel_ms) >= 2 else float("nan")
                rows.append({"activation": name, **{f"m={m}": e for m, e in zip(cfg.kernel_ms, v)},
                             "slope": metrics[f"slope_{name}"]})
            ctx.table("kernel estimation: relative MSE", rows,
                      caption=f"{cfg.kernel_pairs} (x, w, b) pairs, d = 16, |x|, |w| in [0.2, 0.6], {cfg.kernel_repeats} draws")
        if cfg.mnist:
            splits = load_mnist()
            train, test = splits.train.subset(cfg.n_train), splits.test.subset(cfg.n_test)
            ms = (cfg.num_rfs,) + tuple(m for m in cfg.num_rfs_sweep if m != cfg.num_rfs)
            up = ctx.cached("uptrain", lambda: uptrain_run(train, test, width=cfg.width, num_rfs=ms, epochs=cfg.epochs,
                                                           ft_epochs=cfg.ft_epochs, lr=cfg.lr, batch_size=cfg.batch_size,
                                                           ctx=ctx.sub("uptrain")))
            bu = ctx.cached("bundle", lambda: bundle_run(train, test, num_rfs=cfg.bundle_rfs, ridge=cfg.ridge,
                                                         mlp_epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size,
                                                         ctx=ctx.sub("bundle")))
            rows = [{"model": "dense GELU MLP", "m": "-", "hidden trainable params": up["dense_hidden_params"],
                     "init rel. err": 0.0, "acc at init %": "-", "test acc %": up["dense_acc"]}]
            rows += [{"model": "ReLU-SNNK", "m": m, "hidden trainable params": up[f"snnk_hidden_params_m{m}"],
                      "init rel. err": up[f"init_rel_err_m{m}"], "acc at init %": up[f"snnk_init_acc_m{m}"],
                      "test acc %": up[f"snnk_acc_m{m}"]} for m in ms]
            ctx.table("uptraining analogue (MNIST)", rows,
                      caption=f"784-{cfg.width}-10, {len(train)} train / {len(test)} test images, {cfg.epochs} dense + "
                              f"{cfg.ft_epochs} fine-tune epochs; init rel. err = hidden output vs the dense pair")
            ctx.table("bundling (MNIST)", [
                {"model": f"closed-form bundled ReLU-RF (m={cfg.bundle_rfs})", "test acc %": bu["bundled_acc"]},
                {"model": f"1-hidden-layer MLP ({cfg.bundle_rfs}, Adam)", "test acc %": bu["mlp_acc"]}])
            m0 = cfg.num_rfs
            metrics.update({"uptrain_acc_gap": up["dense_acc"] - up[f"snnk_acc_m{m0}"], "uptrain_dense_acc": up["dense_acc"],
                            "uptrain_snnk_acc": up[f"snnk_acc_m{m0}"], "uptrain_init_rel_err": up[f"init_rel_err_m{m0}"],
                            "hidden_param_reduction": up["dense_hidden_params"] / up[f"snnk_hidden_params_m{m0}"],
                            "bundle_acc_gap": bu["mlp_acc"] - bu["bundled_acc"], "bundled_acc": bu["bundled_acc"],
                            "bundle_mlp_acc": bu["mlp_acc"]})
            metrics.update({f"uptrain_snnk_acc_m{m}": up[f"snnk_acc_m{m}"] for m in ms[1:]})
    return metrics
