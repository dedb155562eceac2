"""Protocols for ``paperzoo reproduce mt-deeponet``: the card's smoke checks (the Taylor maps, the masking invariants,
a small Fisher learning effect), its cpu rung (Fisher with the three reaction families, multi-task vs single-task;
multi-geometry Darcy; transfer to the cross geometry vs training from scratch) and the full rung (official sizes)."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from paperzoo.papers.mt_deeponet.data import FAMILIES, darcy_geometry_dataset, fisher_dataset, reaction, taylor_coeffs
from paperzoo.papers.mt_deeponet.model import DarcyMTDeepONet, mt_deeponet_fisher
from paperzoo.papers.mt_deeponet.training import (
    Standardizer,
    darcy_errors,
    darcy_set,
    masked_mse,
    predict_fisher,
    relative_l2,
    train_darcy_source,
    train_darcy_target,
    train_fisher,
)
from paperzoo.train import RunContext

SOURCE = ("square", "disc", "triangle")
TARGET = "cross"


@dataclass(frozen=True)
class Config:
    about: str
    fisher_counts: tuple[int, int, int] = (60, 60, 12)   # card cpu rung: ICs per family (x 10 a; family 3 x 10 beta)
    nx: int = 64                                         # official sensors / output points
    nt: int = 20                                         # official output times
    steps: int = 3000                                    # ours (card cpu: 8 000; cut for a 5-min single-core budget)
    batch: int = 200                                     # official Fisher batch
    split_seed: int = 42                                 # official 80/20 split seed
    single_task: bool = True                             # card cpu rung: one single-task model per family, same steps
    darcy: bool = True
    res: int = 48                                        # card cpu rung (official 100)
    n_source: int = 400                                  # per geometry (card cpu rung; official 1 800)
    n_source_test: int = 100                             # per geometry (official 200)
    source_steps: int = 720                              # card cpu rung: 60 epochs (of 12 batches of 100)
    source_batch: int = 100                              # ours (official 1 000 of 5 400)
    n_target: int = 100                                  # official target training samples
    n_target_test: int = 200                             # official 600
    target_steps: int = 300                              # ours (official 5 000 epochs of one batch)
    checkpoints: bool = True                             # kernel fit checkpoints (resume); off for the seconds-long smoke
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke: Taylor maps (official and exact), masking invariants, Fisher 200 samples (nx 32, nt 10), "
                    "300 Adam steps vs the mean field (seconds)", fisher_counts=(5, 5, 1), nx=32, nt=10, steps=300,
                    single_task=False, darcy=False, checkpoints=False),
    "cpu": Config("card cpu rung, cut to ~5 min on one core: Fisher 3 families (2 400 samples, 64 x 20), 3 000 steps, "
                  "multi- vs single-task; Darcy 48 x 48 on square/disc/triangle (400 each, 60 epochs), then 100-sample "
                  "transfer to the cross geometry vs scratch (300 steps each)"),
    "full": Config("official sizes (GPU): Fisher 4 000 samples, 30 000 steps (card full rung); Darcy 100 x 100, 1 800 per "
                   "geometry, batch 1 000, 6 000 steps; transfer 100 samples, 5 000 steps, 600 test",
                   fisher_counts=(100, 100, 20), steps=30_000, res=100, n_source=1800, n_source_test=200, source_steps=6000,
                   source_batch=1000, n_target_test=600, target_steps=5000, threads=None),
}


def taylor_checks() -> dict[str, float]:
    """Card smoke (a) on the official grid a in [0.1, 1], beta in [0.5, 2], float64."""
    a, b = torch.meshgrid(torch.linspace(0.1, 1, 10, dtype=torch.float64), torch.linspace(0.5, 2, 10, dtype=torch.float64),
                          indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    off, ex = taylor_coeffs("exp", a, b), taylor_coeffs("exp", a, b, mode="exact")
    # official: a e^-b u(1 - u)(1 + b u + b^2 u^2 / 2), multiplied out as polynomials in u
    p, q = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64), torch.stack([torch.ones_like(b), b, b ** 2 / 2], -1)
    prod = torch.zeros(len(a), 5, dtype=torch.float64)
    for i in range(3):
        prod[:, i:i + 3] += p[i] * q
    ref_off = (a * torch.exp(-b))[:, None] * prod[:, 1:]
    # exact: R^(n)(0) / n! by nested autograd of the exp-family reaction term
    u = torch.zeros(len(a), 1, dtype=torch.float64, requires_grad=True)
    d, ref_ex = reaction("exp", a, b)(u), []
    for n in range(1, 5):
        d = torch.autograd.grad(d.sum(), u, create_graph=True)[0]
        ref_ex.append(d[:, 0] / math.factorial(n))
    gap = ex - off
    want = torch.zeros_like(gap)
    want[:, 3] = a * torch.exp(-b) * b ** 3 / 6
    return {"taylor_official_err": float((off - ref_off).abs().max()),
            "taylor_exact_err": float((ex - torch.stack(ref_ex, -1).detach()).abs().max()),
            "taylor_mode_gap_err": float((gap - want).abs().max())}


def mask_checks(seed: int) -> dict[str, float]:
    """Card smoke (b): with a mask, predictions outside are exactly 0, and the loss gradient does not change when the
    targets outside the mask change (float64, a random triangle-like mask on a 16 x 16 grid)."""
    torch.manual_seed(seed)
    model = DarcyMTDeepONet(1, res=16, width=16).double().eval()
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    mask = (torch.rand(3, 16, 16, dtype=torch.float64) > 0.4).double()
    with torch.no_grad():
        pred = model(x, mask)
    target = torch.randn(3, 1, 16, 16, dtype=torch.float64) * mask[:, None]
    other = target + torch.randn_like(target) * (1 - mask[:, None])  # the same inside, different outside the mask

    def grads(t):
        model.zero_grad()
        masked_mse(model(x, mask), t, mask).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    g0, g1 = grads(target), grads(other)
    return {"mask_outside_max": float(pred[(mask == 0)[:, None]].abs().max()),
            "mask_grad_change": float((g0 - g1).abs().max() / g0.abs().max()),
            "mask_inside_nonzero": float((pred[(mask > 0)[:, None]] != 0).double().mean())}


def _fit_kw(sub: RunContext, cfg: Config) -> dict:
    return {"ctx": sub} if cfg.checkpoints else {"seed": sub.seed, "device": sub.device, "progress": False}


def _fisher_model(sub: RunContext, cfg: Config, v, u):
    torch.manual_seed(sub.seed)
    model = mt_deeponet_fisher(n_sensors=cfg.nx)
    scaler, steps = train_fisher(model, v, u, steps=cfg.steps, batch=cfg.batch, **_fit_kw(sub, cfg))
    return model, scaler, steps


def fisher_experiment(ctx: RunContext, cfg: Config) -> dict[str, float]:
    d = fisher_dataset(cfg.fisher_counts, nx=cfg.nx, nt=cfg.nt, seed=ctx.seed)
    n = len(d["v"])
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.split_seed))
    tr, te = perm[:int(0.8 * n)], perm[int(0.8 * n):]
    v, u, fam = d["v"], d["u"], d["family"]

    def multi():
        model, scaler, steps = _fisher_model(ctx.sub("multi"), cfg, v[tr], u[tr])
        pred = predict_fisher(model, scaler, v[te], cfg.nt, cfg.nx)
        out = {"steps": steps, "all": float(relative_l2(pred, u[te], per_sample=False))}
        for f, name in enumerate(FAMILIES):
            k = fam[te] == f
            out[name] = float(relative_l2(pred[k], u[te][k], per_sample=False))
        return out

    mt = ctx.cached("fisher-multi", multi)
    mean_field = u[tr].mean(0).expand_as(u[te])
    m = {"fisher_rel_l2": mt["all"], "fisher_mean_field_l2": float(relative_l2(mean_field, u[te], per_sample=False)),
         "fisher_steps": float(mt["steps"])}
    m["fisher_over_mean"] = m["fisher_rel_l2"] / m["fisher_mean_field_l2"]
    rows = []
    for f, name in enumerate(FAMILIES):
        m[f"fisher_{name}_l2"] = mt[name]
        row = {"family": name, "test samples": int((fam[te] == f).sum()), "multi-task": round(mt[name], 5)}
        if cfg.single_task:
            def single(f=f, name=name):
                a, b = tr[fam[tr] == f], te[fam[te] == f]
                model, scaler, _ = _fisher_model(ctx.sub(f"single-{name}"), cfg, v[a], u[a])
                return float(relative_l2(predict_fisher(model, scaler, v[b], cfg.nt, cfg.nx), u[b], per_sample=False))
            st = ctx.cached(f"fisher-single-{name}", single)
            m[f"fisher_{name}_single_l2"] = st
            row.update({"single-task": round(st, 5), "multi / single": round(mt[name] / st, 3)})
        rows.append(row)
    if cfg.single_task:
        m["synergy_ratio"] = max(m[f"fisher_{f}_l2"] / m[f"fisher_{f}_single_l2"] for f in FAMILIES)
    ctx.table("fisher", rows, caption=f"Fisher test relative L2 (global over each family's test split), {mt['steps']} "
                                      f"Adam steps of batch {cfg.batch}; {len(tr)} train / {len(te)} test samples")
    return m


def _source_sets(cfg: Config, seed: int):
    n = cfg.n_source + cfg.n_source_test
    sets = {g: darcy_geometry_dataset(g, n, cfg.res, seed=seed) for g in SOURCE}
    norm = Standardizer.fit(torch.cat([sets[g]["logk"][:cfg.n_source] for g in SOURCE]))
    split = lambda s, sl: darcy_set(s["logk"][sl], s["mask"], s["h"][sl], norm)  # noqa: E731
    train = [split(sets[g], slice(0, cfg.n_source)) for g in SOURCE]
    train = type(train[0])(torch.cat([t.x for t in train]), torch.cat([t.y for t in train]))
    tests = {g: split(sets[g], slice(cfg.n_source, n)) for g in SOURCE}
    t = darcy_geometry_dataset(TARGET, cfg.n_target + cfg.n_target_test, cfg.res, seed=seed)
    target = (split(t, slice(0, cfg.n_target)), split(t, slice(cfg.n_target, None)))
    return train, tests, target


def darcy_experiment(ctx: RunContext, cfg: Config) -> dict[str, float]:
    train, tests, (t_train, t_test) = _source_sets(cfg, ctx.seed)
    sub = ctx.sub("source")
    torch.manual_seed(sub.seed)
    source = DarcyMTDeepONet(1, res=cfg.res)
    steps = train_darcy_source(source, train, steps=cfg.source_steps, batch=cfg.source_batch, **_fit_kw(sub, cfg))
    m = {f"darcy_{g}_l2": float(darcy_errors(source, tests[g]).mean()) for g in SOURCE}
    m["darcy_rel_l2"] = sum(m[f"darcy_{g}_l2"] for g in SOURCE) / len(SOURCE)
    m["target_zero_shot_l2"] = float(darcy_errors(source, t_test).mean())
    ctx.table("darcy source", [{"geometry": g, "test samples": len(tests[g]), "rel L2": round(m[f"darcy_{g}_l2"], 5)}
                               for g in SOURCE],
              caption=f"one multi-task model on 3 geometries ({cfg.res} x {cfg.res}, {cfg.n_source} train each), {steps} "
                      f"Adam steps of batch {cfg.source_batch}, masked MSE; mean per-sample relative L2")

    def target(transfer: bool):
        sub = ctx.sub("transfer" if transfer else "scratch")
        torch.manual_seed(sub.seed)
        model = copy.deepcopy(source) if transfer else DarcyMTDeepONet(1, res=cfg.res)
        train_darcy_target(model, t_train, steps=cfg.target_steps, transfer=transfer, **_fit_kw(sub, cfg))
        return float(darcy_errors(model, t_test).mean())

    m["transfer_l2"] = ctx.cached("transfer", lambda: target(True))
    m["scratch_l2"] = ctx.cached("scratch", lambda: target(False))
    m["transfer_gain"] = 1 - m["transfer_l2"] / m["scratch_l2"]
    ctx.table("transfer", [{"model": "multi-task source, no target training", "rel L2": round(m["target_zero_shot_l2"], 5)},
                           {"model": "transfer (official layer set)", "rel L2": round(m["transfer_l2"], 5)},
                           {"model": "scratch (all layers)", "rel L2": round(m["scratch_l2"], 5)}],
              caption=f"cross geometry: {cfg.n_target} training / {len(t_test)} test samples, {cfg.target_steps} steps, "
                      "relative-L2 loss, lr 5e-4 (official target recipe)")
    return m


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if min(cfg.fisher_counts) < 1 or cfg.steps < 1 or cfg.nx < 3 or cfg.nt < 2:
        raise ValueError("mt-deeponet: need fisher_counts >= 1, steps >= 1, nx >= 3, nt >= 2")
    m: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        m.update(taylor_checks())
        m.update(mask_checks(ctx.seed))
        m.update(fisher_experiment(ctx, cfg))
        if cfg.darcy:
            m.update(darcy_experiment(ctx, cfg))
    return m
