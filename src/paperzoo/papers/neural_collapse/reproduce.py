"""Protocols of the neural-collapse paper (card: shared/papers/neural-collapse.md, "Reproduction ladder").

(a) ``ufm``: the unconstrained-feature model + M-layer linear head, three variants per depth (balanced
bias-free -> orthogonal frame, balanced with last-layer bias -> simplex ETF, imbalanced 200/100/50/50 ->
closed form), official full-batch SGD (or L-BFGS in float64 for smoke). (b) ``network``: MLP (ReLU + BN
layers, official ``models/mlp.py``) + M bias-free linear layers, UFM-scaled MSE with head and feature decay
(``experiments.head_mse_loss``), Adam; NC of the head at initialisation and every ``eval_every`` epochs.
Either part can be switched off (``--set network=false`` runs the UFM part alone).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.data import TensorSet
from paperzoo.data.synthetic import MNIST_MEAN, MNIST_STD
from paperzoo.papers.neural_collapse.experiments import network_run, synthetic_suite
from paperzoo.train import RunContext

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)  # official datasets.py (card)
NC23 = ("NC2_W", "NC2_H", "NC3")


@dataclass(frozen=True)
class Config:
    about: str
    ufm: bool = True                    # run part (a)
    network: bool = True                # run part (b)
    syn_depths: tuple[int, ...] = (1, 3, 6)
    syn_d: int = 64                     # official --hidden
    syn_solver: str = "sgd"             # "sgd" (official) | "lbfgs"
    syn_steps: int = 30_000             # official --num_iteration
    syn_every: int = 1000
    syn_lambda: float = 5e-4            # lambda_W = lambda_H (official synthetic defaults)
    syn_threads: int | None = 1         # 64 x 64 matrices: extra intra-op threads only add contention
    dataset: str = "mnist"
    per_class: int = 500
    imb_groups: tuple[tuple[int, int], ...] = ((3, 1000), (3, 500), (4, 100))  # (number of classes, count)
    depth: int = 3                      # ReLU layers (official --depth_relu)
    width: int = 256
    batchnorm: bool = False             # official MLP: True; see README deviation
    net_depths: tuple[int, ...] = (1, 3)
    imb_depths: tuple[int, ...] = (1, 3)
    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    lambda_w: float = 1e-4              # head weight decay (official --weight_decay default)
    lambda_h: float = 1e-4              # feature decay (official --feature_decay_rate default)
    eval_every: int = 5
    test_size: int = 1000
    threads: int | None = 1             # network part; None = torch default


PROTOCOLS = {
    "smoke": Config("seconds: UFM d=32, M=2, L-BFGS float64 (balanced / bias / imbalanced) + a 3-epoch tiny MNIST MLP",
                    syn_depths=(2,), syn_d=32, syn_solver="lbfgs", per_class=20, imb_groups=((5, 30), (5, 10)),
                    depth=2, width=32, net_depths=(2,), imb_depths=(2,), epochs=3, batch_size=50, eval_every=1,
                    test_size=200),
    "cpu": Config("card cpu rung: UFM d=64, M in {1,3,6}, 30k SGD steps; MNIST 500/class (and 1000/500/100 "
                  "imbalanced), MLP 3x256 (no BN) + M in {1,3} linear, MSE, Adam 1e-3, 100 epochs"),
    "full": Config("paper setting (GPU): UFM M in {1,3,6,9}; CIFAR-10 (test = first 1,000 official test images), "
                   "MLP 6x2048 + BN + M in {1,3,6,9}, Adam 1e-4, 200 epochs, imbalanced 5000/2500/500", batchnorm=True,
                   syn_depths=(1, 3, 6, 9), dataset="cifar10", per_class=5000,
                   imb_groups=((3, 5000), (3, 2500), (4, 500)), depth=6, width=2048, net_depths=(1, 3, 6, 9),
                   epochs=200, lr=1e-4),
}


def _data(cfg: Config):
    if cfg.dataset == "mnist":
        from paperzoo.data import load_mnist

        sp = load_mnist()
        norm = lambda x: (x - MNIST_MEAN) / MNIST_STD  # noqa: E731
    elif cfg.dataset == "cifar10":
        from paperzoo.data import load_cifar10

        sp = load_cifar10()
        m, s = torch.tensor(CIFAR_MEAN)[:, None, None], torch.tensor(CIFAR_STD)[:, None, None]
        norm = lambda x: (x - m) / s  # noqa: E731
    else:
        raise ValueError(f"dataset must be 'mnist' or 'cifar10', got {cfg.dataset!r}")
    return sp.train, sp.test, norm, sp.note


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Run the UFM part and/or the network part of ``cfg``; returns the claim metrics and per-run numbers."""
    if not (cfg.ufm or cfg.network):
        raise ValueError("nothing to run: both ufm and network are off")
    m: dict[str, float] = {}
    if cfg.ufm:
        with ctx.threads(cfg.syn_threads):
            m |= _ufm(ctx, cfg)
    if cfg.network:
        with ctx.threads(cfg.threads):
            m |= _network(ctx, cfg)
    return m


def _ufm(ctx: RunContext, cfg: Config) -> dict[str, float]:
    syn: dict[str, dict] = {}
    total = len(cfg.syn_depths) * (cfg.syn_steps if cfg.syn_solver == "sgd" else 1)
    with ctx.progress(total=total, desc="UFM") as bar:
        for M in cfg.syn_depths:
            sub = ctx.sub(f"ufm-M{M}")
            res = sub.cached("suite", lambda M=M, sub=sub: synthetic_suite(
                M, d=cfg.syn_d, solver=cfg.syn_solver, steps=cfg.syn_steps, every=cfg.syn_every,
                lambda_w=cfg.syn_lambda, lambda_h=cfg.syn_lambda, seed=sub.seed, device=ctx.device,
                on_step=lambda s: bar.advance(cfg.syn_every if s else 0)))
            if cfg.syn_solver != "sgd":
                bar.advance(1)
            syn |= {f"{name}_M{M}": r for name, r in res.items()}
    ctx.details["synthetic"] = {k: {kk: vv for kk, vv in v.items() if kk != "curve"} for k, v in syn.items()}
    depths = list(cfg.syn_depths)
    ctx.table("ufm", [{"variant": var, "target": syn[f"{var}_M{depths[0]}"]["target"],
                       **{f"M={d}": syn[f"{var}_M{d}"]["worst"] for d in depths}}
                      for var in ("balanced", "balanced_bias", "imbalanced")],
              caption="UFM: worst NC1/NC2/NC3 over all layers vs the predicted geometry after training")
    first = next(iter(syn.values()))["curve"]
    if len(first) > 1:
        ctx.curve("ufm", x=[c["step"] for c in first],
                  ys={k: [max(c[key] for key in NC23) for c in v["curve"]] for k, v in syn.items()},
                  xlabel="SGD step", ylabel="worst of NC2_W, NC2_H, NC3 (layer 1)", logy=True, hline=1e-2,
                  title="unconstrained features + deep linear head")
    by = lambda variant: [v for k, v in syn.items() if k.rsplit("_M", 1)[0] == variant]  # noqa: E731
    m = {"synthetic_nc1_max": max(v["worst_nc1"] for v in syn.values()),
         "synthetic_of_max": max(v["worst_nc23"] for v in by("balanced")),
         "synthetic_etf_max": max(v["worst_nc23"] for v in by("balanced_bias")),
         "synthetic_imbalanced_max": max(v["worst_nc23"] for v in by("imbalanced"))}
    return m | {f"syn_{k}_worst": v["worst"] for k, v in syn.items()}


def _network(ctx: RunContext, cfg: Config) -> dict[str, float]:
    train, test, norm, note = _data(cfg)
    if note:
        ctx.note(f"{cfg.dataset}: {note}")
    K = int(train.y.max()) + 1
    bal = train.subset(per_class=[cfg.per_class] * K).map(norm)
    imb = train.subset(per_class=[c for n, c in cfg.imb_groups for _ in range(n)]).map(norm)
    if len(imb.y.unique()) != K:
        raise ValueError(f"imb_groups {cfg.imb_groups} must cover all {K} classes")
    test = TensorSet(norm(test.x[:cfg.test_size]), test.y[:cfg.test_size], test.name)
    runs = [(f"balanced_M{M}", bal, M) for M in cfg.net_depths] + [(f"imbalanced_M{M}", imb, M) for M in cfg.imb_depths]
    net: dict[str, dict] = {}
    for name, data, M in runs:
        sub = ctx.sub(f"net-{name}")
        net[name] = sub.cached("run", lambda sub=sub, data=data, M=M, name=name: network_run(
            sub, data, depth=cfg.depth, depth_linear=M, width=cfg.width, batchnorm=cfg.batchnorm, epochs=cfg.epochs,
            batch_size=cfg.batch_size, lr=cfg.lr, lambda_w=cfg.lambda_w, lambda_h=cfg.lambda_h,
            eval_every=cfg.eval_every, test=test, desc=f"{cfg.dataset} {name}"))
    ctx.details["network"] = {k: {kk: vv for kk, vv in v.items() if kk != "history"} for k, v in net.items()}
    ctx.table("network", [_row(k, v) for k, v in net.items()],
              caption=f"{cfg.dataset} MLP + M bias-free linear layers after {cfg.epochs} epochs: NC of the features "
                      "entering the head with the end-to-end product; `cf` = the closed form (imbalanced)")
    h0 = next(iter(net.values()))["history"]
    epochs = [h["epoch"] for h in h0]
    if all([h["epoch"] for h in v["history"]] == epochs for v in net.values()):
        for key in ("NC1", "NC2_H", "NC3"):
            ctx.curve(f"network_{key}", x=epochs, ys={k: [h["of"][key] for h in v["history"]] for k, v in net.items()},
                      xlabel="epoch", ylabel=f"{key} vs the orthogonal frame", logy=True,
                      hline=0.2 if key != "NC1" else None, title=f"{cfg.dataset} MLP + linear head: {key}")
    balanced = [v for k, v in net.items() if k.startswith("balanced")]
    m: dict[str, float] = {}
    if balanced:
        m["net_train_acc"] = min(v["train_acc"] for v in balanced)
        m["net_nc1_drop"] = min(v["nc1_drop"] for v in balanced)
        m["net_of_max"] = max(max(v["of_final"]["NC2_H"], v["of_final"]["NC3"]) for v in balanced)
    ratios = []
    for k, v in net.items():
        m[f"net_{k}_train_acc"], m[f"net_{k}_test_acc"] = v["train_acc"], v["test_acc"]
        m[f"net_{k}_nc1_final"] = v["nc1_final"]
        m[f"net_{k}_of_NC2_W_init"] = v["of_init"]["NC2_W"]
        m |= {f"net_{k}_of_{key}": v["of_final"][key] for key in NC23}
        if "cf_final" in v:
            of, cf = _mean23(v["of_final"]), _mean23(v["cf_final"])
            m[f"net_{k}_nc23_of"], m[f"net_{k}_nc23_cf"] = of, cf
            ratios.append(of / cf if cf > 0 else math.inf)
    if ratios:
        m["net_imbalanced_of_over_cf"] = min(ratios)
    return m


def _mean23(d: dict) -> float:
    return sum(d[k] for k in NC23) / 3


def _row(name: str, v: dict) -> dict:
    of, cf = v["of_final"], v.get("cf_final")
    return {"run": name, "train acc %": v["train_acc"], "test acc %": v["test_acc"], "NC1 init": v["nc1_init"],
            "NC1": v["nc1_final"], "NC2_W init": v["of_init"]["NC2_W"], "NC2_W": of["NC2_W"], "NC2_H": of["NC2_H"],
            "NC3": of["NC3"], "mean NC2/3 vs OF": _mean23(of), "vs cf": _mean23(cf) if cf else None}
