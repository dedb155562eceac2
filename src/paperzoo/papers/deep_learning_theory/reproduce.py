"""Protocols of ``paperzoo reproduce deep-learning-theory`` (card "Reproduction ladder").

(1) theory: critical (C_b, C_W) per activation, chi's there, ReLU NNGP = arc-cosine kernel, tanh kernel decay,
kernel flows and the frozen-NTK recursion; (2) finite width: excess kurtosis of random-network ensembles vs the
leading 1/n four-point vertex (and the exact finite-n value for ReLU / linear), tanh kernel at n = 32;
(3) trainability: ReLU MLPs at C_W in {1.6, 2, 2.4} trained by SGD with eta ~ 1/L, probed at initialisation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.data import TensorSet
from paperzoo.papers.deep_learning_theory.criticality import arccos_kernel, kernel_flow, nngp_recursion, ntk_recursion
from paperzoo.papers.deep_learning_theory.experiments import (
    criticality_rows,
    kernel_flows,
    kurtosis_sweep,
    tanh_decay,
    trainability_run,
)
from paperzoo.papers.deep_learning_theory.finite_width import fit_slope_through_origin
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    acts: tuple[str, ...] = ("relu", "leaky_relu", "linear", "tanh", "sin", "gelu", "swish", "sigmoid")
    flow_depth: int = 50               # kernel-flow curves (ours)
    arccos_inputs: int = 8             # card smoke (b)
    arccos_depth: int = 4
    n_nets: int = 3000                 # card: 3000 random networks
    check_width: int = 32              # card smoke (c), (d): n = 32, l = 3 (ReLU, linear), l = 9 (tanh)
    sweep_widths: tuple[int, ...] = (16, 32, 64)   # card cpu (i)
    sweep_depth: int = 12
    x_max: float = 0.15                # card: leading order for l/n <~ 0.15
    train: bool = True
    dataset: str = "mnist"
    n_train: int = 10_000              # card cpu (ii)
    n_test: int = 10_000
    depths: tuple[int, ...] = (10, 30, 60)
    claim_depth: int = 30              # card cpu (ii): the claims are read at depth 30 (full: 100)
    width: int = 128
    C_Ws: tuple[float, ...] = (1.6, 2.0, 2.4)
    epochs: int = 3
    lr0: float = 0.1                   # eta = lr0 / depth; lr0, batch, momentum calibrated once (README deviation 4)
    batch_size: int = 64
    momentum: float = 0.9
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("seconds: card smoke (a)-(d): critical points, ReLU arc-cosine parity, kurtosis at n = 32 (3000 "
                    "nets), tanh K^(9); a 1-epoch depth-4 MLP on 512 MNIST images (code path)", sweep_widths=(),
                    flow_depth=20, n_train=512, n_test=500, depths=(4,), claim_depth=4, width=32, epochs=1),
    "cpu": Config("card cpu rung: kurtosis vs l/n for n in {16, 32, 64}, l <= 12 (3000 nets); ReLU MLP width 128, "
                  "depth 10, 30 (claims), 60, C_W in {1.6, 2, 2.4}, 10k MNIST, 3 epochs SGD (momentum 0.9), eta = 0.1/L"),
    "full": Config("card full rung (GPU): 10000 nets, n up to 128; depth 30 and 100, width 512, 60k MNIST, 10 epochs",
                   n_nets=10_000, sweep_widths=(16, 32, 64, 128), sweep_depth=20, n_train=60_000, depths=(30, 100),
                   claim_depth=100,
                   width=512, epochs=10, threads=None),
}


def _theory(ctx: RunContext, cfg: Config) -> dict[str, float]:
    rows = criticality_rows(cfg.acts)
    ctx.table("criticality", rows, caption="critical initialisation per activation (gelu, swish: our root-finding, "
              "not compared with the book); chi at K = 1, 10 (scale-invariant), K = 1e-6 (K* = 0 class) or K*")
    found = [r for r in rows if math.isfinite(r["C_W"])]
    m = {"crit_card_err": max(r["card_err"] for r in rows if math.isfinite(r["card_err"])),
         "crit_chi_err": max(r["chi_err"] for r in found)}
    m |= {f"crit_{r['activation']}_{k}": r[k] for r in found for k in ("C_b", "C_W", "K*") if r["class"] == "none"}
    g = torch.Generator().manual_seed(ctx.seed)
    X = torch.randn(cfg.arccos_inputs, 16, generator=g, dtype=torch.float64)
    Ks = nngp_recursion(X, cfg.arccos_depth, "relu", 0.1, 2.0)
    d = torch.diagonal(Ks, dim1=1, dim2=2)
    ref = arccos_kernel(d[:-1, :, None], Ks[:-1], d[:-1, None, :], 0.1, 2.0)
    m["relu_arccos_err"] = float((Ks[1:] - ref).abs().max())
    m["tanh_K9"] = float(kernel_flow("tanh", 1.0, 9, 0.0, 1.0)[8])
    decay = tanh_decay((10, 50, 200, 1000))
    m["tanh_decay_200"] = decay[200]
    m["tanh_decay_1000"] = decay[1000]
    flows = kernel_flows({r["activation"]: (r["C_b"], r["C_W"]) for r in found}, cfg.flow_depth)
    ls = list(range(1, cfg.flow_depth + 1))
    ctx.curve("kernel flow", ls, {k: v["K"] for k, v in flows.items()}, xlabel="layer l", ylabel="K^(l) (K^(1) = 1)",
              logy=True, title="K^(l) at each activation's critical (C_b, C_W)")
    ctx.curve("chi_perp along the flow", ls, {k: v["chi_perp"] for k, v in flows.items()}, xlabel="layer l",
              ylabel="chi_perp(K^(l))", hline=1.0)
    th = ntk_recursion(torch.ones(1, 4, dtype=torch.float64), cfg.flow_depth, "relu", 0.0, 2.0)[:, 0, 0]
    ctx.curve("relu ntk", ls, {"Theta^(l), lam_b = lam_W = 1": th.tolist()}, xlabel="layer l", ylabel="frozen NTK",
              title="ReLU at criticality: NTK grows linearly with depth (so eta ~ 1/L)")
    m["relu_ntk_slope"] = float((th[-1] - th[0]) / (len(th) - 1))
    return m


def _finite_width(ctx: RunContext, cfg: Config) -> dict[str, float]:
    m: dict[str, float] = {}
    n, rows = cfg.check_width, []
    for act, l in (("relu", 3), ("linear", 3), ("tanh", 9)):
        r = kurtosis_sweep(act, (n,), l, cfg.n_nets, seed=ctx.seed)["per_width"][n]
        rows.append({"activation": act, "n": n, "l": l, "sim": r["sim"][-1], "leading 3V/(nK^2)": r["lead"][-1],
                     "exact finite n": r["exact"][-1], "K sim": r["K_sim"][-1]})
        m[f"{act}_kurtosis_ratio"] = r["sim"][-1] / r["lead"][-1]
    K9 = float(kernel_flow("tanh", 1.0, 9, 0.0, 1.0)[8])
    m["tanh_K9_sim_ratio"] = rows[2]["K sim"] / K9
    ctx.table("kurtosis checks", rows, caption=f"excess kurtosis of one preactivation, {cfg.n_nets} random networks; "
              "'exact finite n' = 3((1 + c/n)^(l-1) - 1) (ours, scale-invariant only)")
    if not cfg.sweep_widths:
        return m
    for act in ("relu", "linear"):
        sw = kurtosis_sweep(act, cfg.sweep_widths, cfg.sweep_depth, cfg.n_nets, seed=ctx.seed + 1, x_max=cfg.x_max)
        m[f"{act}_kurtosis_slope"] = fit_slope_through_origin(sw["x"], sw["y"])
        m[f"{act}_kurtosis_slope_lead"] = fit_slope_through_origin(sw["x"], sw["lead"])
        m[f"{act}_kurtosis_slope_exact"] = fit_slope_through_origin(sw["x"], sw["exact"])
        ls = list(range(1, cfg.sweep_depth + 1))
        ys = {}
        for w, r in sw["per_width"].items():
            ys[f"sim n={w}"], ys[f"exact n={w}"] = r["sim"], r["exact"]
        w0 = 32 if 32 in sw["per_width"] else cfg.sweep_widths[0]
        ys[f"leading 3V/(nK^2) n={w0}"] = sw["per_width"][w0]["lead"]
        ctx.curve(f"{act} kurtosis", ls, ys, xlabel="layer l", ylabel="excess kurtosis of z^(l)",
                  title=f"{act}: simulated vs exact finite-n vs leading order")
        ctx.table(f"{act} kurtosis collapse", [{"(l-1)/n": x, "sim": y, "exact finite n": e, "leading": ld}
                                               for x, y, e, ld in zip(sw["x"], sw["y"], sw["exact"], sw["lead"])],
                  caption=f"points with (l-1)/n <= {cfg.x_max}, n in {list(cfg.sweep_widths)}; slope fit through 0")
    return m


def _data(cfg: Config):
    from paperzoo.data import load
    from paperzoo.data.synthetic import MNIST_MEAN, MNIST_STD

    sp = load(cfg.dataset)
    norm = (lambda x: (x - MNIST_MEAN) / MNIST_STD) if cfg.dataset in ("mnist", "fashion-mnist") else (lambda x: x)
    tr = TensorSet(norm(sp.train.x[:cfg.n_train]), sp.train.y[:cfg.n_train], sp.train.name)
    te = TensorSet(norm(sp.test.x[:cfg.n_test]), sp.test.y[:cfg.n_test], sp.test.name)
    return tr, te


def _trainability(ctx: RunContext, cfg: Config) -> dict[str, float]:
    train, test = _data(cfg)
    runs = []
    with ctx.progress(total=len(cfg.depths) * len(cfg.C_Ws), desc="trainability") as bar:
        for L in cfg.depths:
            for cw in cfg.C_Ws:
                sub = ctx.sub(f"L{L}-CW{cw:g}")
                runs.append(sub.cached("run", lambda sub=sub, L=L, cw=cw: trainability_run(
                    sub, train, test, test.x[:1000], depth=L, width=cfg.width, C_W=cw, epochs=cfg.epochs, lr0=cfg.lr0,
                    batch_size=cfg.batch_size, momentum=cfg.momentum)))
                bar.advance()
    ctx.table("trainability", [{"depth": r["depth"], "C_W": r["C_W"], "lr": r["lr"], "test acc %": r["test_acc"],
                                "train acc %": r["train_acc"], "diverged": r["diverged"],
                                "probe mean log chi": r["mean_log_chi"], "theory log(C_W/2)": math.log(r["C_W"] / 2),
                                "probe mean log K ratio": r["mean_log_var_ratio"]} for r in runs],
              caption=f"ReLU MLP width {cfg.width}, {len(train)} {cfg.dataset} images, {cfg.epochs} epochs SGD, "
                      f"eta = {cfg.lr0:g}/L, batch {cfg.batch_size}, momentum {cfg.momentum:g}; probe on 1000 test images at "
                      "initialisation")
    m = {f"acc_L{r['depth']}_CW{r['C_W']:g}": r["test_acc"] for r in runs}
    for L in cfg.depths:
        at = {r["C_W"]: r for r in runs if r["depth"] == L}
        crit = min(at, key=lambda c: abs(c - 2.0))
        others = [r["test_acc"] for c, r in at.items() if c != crit]
        if others:
            m[f"margin_L{L}"] = at[crit]["test_acc"] - max(others)
        m[f"probe_log_chi_err_L{L}"] = max(abs(r["mean_log_chi"] - math.log(c / 2)) for c, r in at.items())
        if L == cfg.claim_depth:
            m["critical_acc"] = at[crit]["test_acc"]
            m["probe_log_chi_err"] = m[f"probe_log_chi_err_L{L}"]
            if others:
                m["critical_margin"] = m[f"margin_L{L}"]
    return m


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if cfg.n_nets < 2 or cfg.check_width < 1 or not cfg.depths or not cfg.C_Ws:
        raise ValueError("deep-learning-theory: n_nets >= 2, check_width >= 1 and non-empty depths / C_Ws needed")
    if cfg.train and cfg.claim_depth not in cfg.depths:
        raise ValueError(f"claim_depth {cfg.claim_depth} must be one of depths {cfg.depths}")
    with ctx.threads(cfg.threads):
        m = _theory(ctx, cfg)
        m |= _finite_width(ctx, cfg)
        if cfg.train:
            m |= _trainability(ctx, cfg)
    return m
