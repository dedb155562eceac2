"""Protocols of the convergent-learning paper (card: shared/papers/convergent-learning.md, "Reproduction ladder").

Train ``nets`` CNNs that differ only in their random seed (and an untrained floor), gather the float64
statistics of every post-ReLU layer over ``n_eval`` test images at all spatial positions, then: one-to-one
semi / bipartite matching per layer (Sec. 3), the permuted-copy ceiling (card smoke (a)), matching by
mutual information on conv1, sparse prediction (Sec. 4) and spectral clustering (Sec. 5).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.papers.convergent_learning.experiments import (
    ceiling,
    layer_report,
    mi_overlap,
    sparse_and_spectral,
    train_nets,
)
from paperzoo.papers.convergent_learning.matching import NOTEBOOK_NET1_NET2, bipartite_match, semi_match
from paperzoo.papers.convergent_learning.probe import layer_stats
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    dataset: str = "fashion-mnist"
    arch: str = "cnn"                   # "cnn" (card cpu rung) | "alexnet" (card full rung, CIFAR-10)
    width: int = 32                     # conv1 channels (card: 32)
    nets: int = 2                       # trained nets (card cpu: seeds 0/1 "+ more seeds if time"; paper: 4)
    n_train: int | None = 30_000        # card cpu: 30k training images
    epochs: int = 2                     # card cpu: 2 epochs per net
    batch_size: int = 128               # card
    lr: float = 1e-3                    # card: Adam 1e-3
    n_eval: int = 5_000                 # card cpu: statistics on 5k test images
    max_obs: int | None = None          # None = every (image, position), as the paper
    eval_batch: int = 250
    perm_images: int = 500              # images for the permuted-copy ceiling
    mi_images: int = 500                # images (all positions, then subsampled) for the MI matching
    mi_obs: int = 100_000
    mi_top: int = 8                     # paper: 7 of the 8 best conv1 pairs unchanged
    lambdas: tuple[float, ...] = (0.3, 0.1, 0.03, 0.01, 0.003)
    lasso_iters: int = 3000
    sparse_layers: tuple[str, ...] = ("conv1", "conv2")
    spectral_layer: str = "conv1"
    spectral_k: int | None = 8          # card cpu: k = 8 for conv1; None = (n_a + n_b) / 8
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("seconds: 2 tiny CNNs (width 8) on 2k Fashion-MNIST images, 1 epoch; permuted-copy ceiling, "
                    "semi >= bipartite, unit self-correlation (exact checks) + every analysis on 200 test images",
                    width=8, n_train=2_000, epochs=1, batch_size=64, n_eval=200, perm_images=100, mi_images=100,
                    mi_obs=20_000, lasso_iters=500, spectral_k=4),
    "cpu": Config("card cpu rung: 3 CNNs conv32-64-128 + FC256 on 30k Fashion-MNIST, 2 epochs, Adam 1e-3, + an untrained "
                  "floor; statistics on 5k test images at all positions; claims on nets 1 vs 2 (one core, minutes)",
                  nets=3),
    "full": Config("card full rung (GPU): 4 AlexNet-like nets (5 conv + 3 FC) on CIFAR-10, 20 epochs, statistics on the "
                   "10k test images", dataset="cifar10", arch="alexnet", width=64, nets=4, n_train=None, epochs=20,
                   n_eval=10_000, sparse_layers=("conv1", "conv2", "conv3"), spectral_k=None, threads=None),
}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Train, gather statistics, match; returns the claim metrics and per-layer numbers."""
    if cfg.nets < 2:
        raise ValueError(f"nets must be >= 2 (two nets to compare), got {cfg.nets}")
    from paperzoo.data import load

    with ctx.threads(cfg.threads):
        sp = load(cfg.dataset)
        if sp.note:
            ctx.note(f"{cfg.dataset}: {sp.note}")
        train = sp.train.subset(cfg.n_train) if cfg.n_train else sp.train
        x_eval = sp.test.x[:cfg.n_eval]
        nets, accs, floor = train_nets(ctx, cfg, train, sp.test)
        m: dict[str, float] = {f"test_acc_net{i}": a for i, a in enumerate(accs)}
        names = dict(nets[0].act_layers)                     # "conv1" -> "relu1", ..., "fc1" -> "fcrelu1"
        layers = list(names)
        stats = layer_stats([n.cpu() for n in nets] + [floor], x_eval, list(names.values()) + ["out"],
                            batch_size=cfg.eval_batch, max_obs=cfg.max_obs, seed=ctx.seed)
        names["logits"] = "out"
        u = len(nets)
        m |= _matching(ctx, cfg, stats, names, u)
        m |= _spectra(ctx, stats, names, layers, u)
        g = ctx.generator(1)
        m |= ceiling(nets[0], x_eval[:cfg.perm_images], g)
        m |= mi_overlap(nets[0], nets[1], x_eval[:cfg.mi_images], layers[0], max_obs=cfg.mi_obs, top=cfg.mi_top,
                        generator=g)
        m |= sparse_and_spectral(ctx, stats, cfg, names)
    bip = [m[f"bipartite_{L}"] for L in layers]
    deeper = [L for L in layers if L != layers[0]]
    m["conv1_minus_deeper"] = bip[0] - max(bip[1:])
    m["depth_drop_min"] = min(a - b for a, b in zip(bip, bip[1:]))
    m["conv1_over_floor"] = m[f"bipartite_{layers[0]}"] - m[f"floor_bipartite_{layers[0]}"]
    m["trained_minus_untrained_min"] = min(m[f"bipartite_{L}"] - m[f"floor_bipartite_{L}"] for L in deeper)
    m["bipartite_min_max"] = max(m[f"bipartite_min_{L}"] for L in layers)
    m["semi_minus_bipartite_min"] = min([m[f"semi_{L}"] - m[f"bipartite_{L}"] for L in layers]
                                        + [m[f"floor_semi_{L}"] - m[f"floor_bipartite_{L}"] for L in layers]
                                        + [m["perm_semi_gap"]])
    return m


def _matching(ctx: RunContext, cfg: Config, stats: dict, names: dict[str, str], u: int) -> dict[str, float]:
    m: dict[str, float] = {}
    rows, diag_err = [], 0.0
    for L, mod in names.items():
        s = stats[mod]
        r, f = layer_report(s, 0, 1), layer_report(s, 0, u)
        paper = NOTEBOOK_NET1_NET2.get(L, (None, None, None))
        rows.append({"layer": L, "units": s.sizes[0], "semi": r["semi"], "bipartite": r["bipartite"],
                     "same partner": r["same_partner"], "min matched": r["bipartite_min"],
                     "untrained: bipartite": f["bipartite"], "within-net best": r["within_semi"], "dead units": r["dead"],
                     "paper semi": paper[0], "paper bipartite": paper[1], "paper same": paper[2]})
        for k in ("semi", "bipartite", "same_partner", "bipartite_min", "within_semi", "dead"):
            m[f"{k}_{L}"] = r[k]
        m[f"floor_bipartite_{L}"], m[f"floor_semi_{L}"] = f["bipartite"], f["semi"]
        for i in range(u + 1):
            live = ~s.dead(i)
            diag_err = max(diag_err, float((s.corr(i, i).diagonal()[live] - 1).abs().max()) if live.any() else 0.0)
        if u > 2:
            pairs = [(i, j) for i in range(u) for j in range(i + 1, u)]
            m[f"bipartite_allpairs_{L}"] = sum(layer_report(s, i, j)["bipartite"] for i, j in pairs) / len(pairs)
        C = s.corr(0, 1)
        idx = torch.arange(len(C))
        semi = C[idx, semi_match(C)].sort(descending=True).values
        bip = C[idx, bipartite_match(C)].sort(descending=True).values
        Cf = s.corr(0, u)
        flo = Cf[idx, bipartite_match(Cf)].sort(descending=True).values
        ctx.curve(f"matched_{L}", x=list(range(1, len(C) + 1)),
                  ys={"semi-matching": semi.tolist(), "bipartite": bip.tolist(), "bipartite vs untrained": flo.tolist()},
                  xlabel="unit (sorted by matched correlation)", ylabel="matched correlation",
                  title=f"{L}: net 1 vs net 2 (and vs an untrained net)")
    m["self_corr_diag_err"] = diag_err
    ctx.table("matching", rows, caption="mean matched between-net correlation per layer (net 1 vs net 2, post-ReLU, all "
              "positions); `paper` columns: CaffeNet on ImageNet, Net1 vs Net2 (official notebook), not expected to match")
    return m


def _spectra(ctx: RunContext, stats: dict, names: dict[str, str], layers: list[str], u: int) -> dict[str, float]:
    """Mean activation per unit (paper: similar spectra across nets, not identical; top-unit means)."""
    rows, m = [], {}
    for L in layers:
        s = stats[names[L]]
        tops = [float(s.mean(i).max()) for i in range(u)]
        rows.append({"layer": L, **{f"top mean net {i + 1}": t for i, t in enumerate(tops)},
                     "median mean net 1": float(s.mean(0).median())})
        m[f"top_mean_ratio_{L}"] = max(tops) / min(tops) if min(tops) > 0 else float("inf")
    ctx.table("mean_activation", rows, caption="mean activation of the most active unit per net (paper: similar "
              "across nets but not identical)")
    L = layers[0]
    ctx.curve(f"mean_activation_{L}", x=list(range(1, stats[names[L]].sizes[0] + 1)),
              ys={f"net {i + 1}": stats[names[L]].mean(i).sort(descending=True).values.tolist() for i in range(u)},
              xlabel="unit (sorted)", ylabel="mean activation", title=f"{L}: mean activation spectra")
    return m
