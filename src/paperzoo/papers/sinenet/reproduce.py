"""Protocols for ``paperzoo reproduce sinenet``: the card's structural checks (the official parameter count, periodic
shift equivariance) and K waves vs the single-wave U-Net at one parameter budget on periodic vorticity NS."""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from paperzoo.nn import count_params
from paperzoo.papers.sinenet.data import vorticity_splits
from paperzoo.papers.sinenet.model import SineNet, count_sinenet, match_mult
from paperzoo.papers.sinenet.training import evaluate, persistence, train
from paperzoo.train import RunContext

# (waves, hidden, mult) -> parameters with 3 fields, T_h 4 (official registry / card "Registry sizes")
OFFICIAL_COUNTS = {(8, 64, 1.425): 35_490_219, (6, 64, 1.5): 35_475_499, (4, 64, 1.611): 35_493_699,
                   (2, 64, 1.8075): 35_499_989, (1, 64, 2.0): 33_788_099, (1, 128, 2.0): 135_094_659}


@dataclass(frozen=True)
class Config:
    about: str
    res: int = 32                       # card cpu rung: 32 x 32
    n_train: int = 200                  # card cpu rung: 200 / 50 trajectories x 14 frames
    n_test: int = 50
    n_frames: int = 14
    dt: float = 1e-3                    # card: dt = 1e-3, frames every 0.5
    waves: tuple[int, ...] = (1, 4)     # card cpu rung: K = 1 vs K = 4
    hidden: int = 12                    # card cpu rung: hidden 12 for both
    unet_mult: float = 2.0              # the K = 1 model's m (official single-wave m 2); its count is the budget
    levels: int = 3                     # card cpu rung: 32 -> 16 -> 8 -> 4
    padding_mode: str = "circular"      # periodic data
    epochs: int = 6                     # card cpu rung: 6 epochs
    batch_size: int = 16                # card cpu rung
    lr: float = 1e-3                    # card cpu rung (short-run lr; paper 2e-4)
    weight_decay: float = 1e-5          # configs/navierstokes2d.yaml
    warmup_frac: float = 0.1            # yaml: 5 of 50 epochs of linear warm-up, then cosine
    seeds: int = 1                      # card cpu rung: 2 seeds; 1 fits the ~5 min one-core cpu budget (--set seeds=2)
    time_history: int = 4               # T_h (paper)
    rollout_steps: int = 10             # paper: 10-step rollout
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke: official 35 490 219-parameter count, periodic shift check; 64 vorticity trajectories "
                    "at 16 x 16 (dt 5e-3), a tiny SineNet (hidden 8, K 2, 3 levels) for 120 steps vs persistence",
                    res=16, n_train=64, n_test=16, dt=5e-3, waves=(2,), hidden=8, epochs=3),
    "cpu": Config("card cpu rung: vorticity NS 32 x 32, 200 / 50 trajectories x 14 frames; K = 1 (U-Net, m 2) vs K = 4 "
                  "at the same ~0.30 M parameters (hidden 12, 3 levels, circular), 6 epochs, batch 16, 1 seed (card: 2)"),
    "full": Config("card full rung (GPU): vorticity NS 64 x 64, 1000 / 200 trajectories; K in {1, 2, 4} at the "
                   "budget of the hidden-32 U-Net (4 levels), 8 epochs, batch 32, lr 2e-4", res=64, n_train=1000,
                   n_test=200, waves=(1, 2, 4), hidden=32, levels=4, epochs=8, batch_size=32, lr=2e-4,
                   threads=None),
}


def structure_checks(seed: int = 0) -> dict[str, float]:
    """Card smoke (a) and (b): the official parameter counts; shift equivariance with circular padding (not zeros)."""
    out = {"params_sinenet8": float(count_sinenet(in_fields=3))}
    out["variant_count_err"] = float(max(abs(count_sinenet(in_fields=3, waves=k, hidden=c, mult=m) - n)
                                         for (k, c, m), n in OFFICIAL_COUNTS.items()))
    x = torch.randn(2, 4, 1, 64, 64, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    for mode in ("circular", "zeros"):
        torch.manual_seed(seed)
        net = SineNet(1, hidden=8, mult=1.5, waves=2, levels=4, padding_mode=mode).double()
        with torch.no_grad():
            a, b = net(x).roll((16, 32), (-2, -1)), net(x.roll((16, 32), (-2, -1)))
        out[f"shift_err_{mode}"] = float((a - b).abs().max() / a.abs().max())
    return out


def _one(cfg: Config, ctx: RunContext, waves: int, budget: int, train_w, test_w) -> dict:
    kw = dict(in_fields=1, time_history=cfg.time_history, levels=cfg.levels, padding_mode=cfg.padding_mode)
    mult = cfg.unet_mult if waves == 1 else match_mult(waves, cfg.hidden, budget, **kw)
    torch.manual_seed(ctx.seed)
    model = SineNet(hidden=cfg.hidden, mult=mult, waves=waves, **kw).to(ctx.device)
    norm, hist = train(model, train_w.to(ctx.device), epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                       weight_decay=cfg.weight_decay, warmup_frac=cfg.warmup_frac, time_history=cfg.time_history,
                       ctx=ctx)
    ev = evaluate(model, test_w.to(ctx.device), norm, time_history=cfg.time_history, steps=cfg.rollout_steps)
    return {"waves": waves, "mult": round(mult, 5), "params": count_params(model), "train_loss": hist[-1]["loss"],
            "one_step": ev.one_step, "rollout": ev.rollout, "rollout_per_step": ev.rollout_per_step}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    m: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        m.update(structure_checks(ctx.seed))
        train_w, test_w = vorticity_splits(cfg.n_train, cfg.n_test, cfg.res, seed=ctx.seed, n_frames=cfg.n_frames,
                                           dt=cfg.dt)
        base = persistence(test_w, time_history=cfg.time_history, steps=cfg.rollout_steps)
        budget = count_sinenet(in_fields=1, time_history=cfg.time_history, levels=cfg.levels, hidden=cfg.hidden,
                               mult=cfg.unet_mult, waves=1)
        rows = []
        for s in range(cfg.seeds):
            for k in cfg.waves:
                sub = ctx.sub(f"K{k}-seed{s}")
                r = sub.cached("result", lambda sub=sub, k=k: _one(cfg, sub, k, budget, train_w, test_w))
                rows.append({"seed": s, **r})
        ctx.table("one-step and rollout scaled L2 on test trajectories",
                  [{k: v for k, v in r.items() if k != "rollout_per_step"} for r in rows] +
                  [{"seed": "-", "waves": "persistence", "mult": "-", "params": 0, "train_loss": "-",
                    "one_step": base.one_step, "rollout": base.rollout}],
                  caption=f"vorticity NS {cfg.res} x {cfg.res}, {cfg.n_train} / {cfg.n_test} trajectories, T_h "
                          f"{cfg.time_history}, {cfg.rollout_steps}-step rollout from t = 0; budget {budget:,} parameters "
                          f"(the K = 1 U-Net at hidden {cfg.hidden}, m {cfg.unet_mult})")
        by_k = {k: [r for r in rows if r["waves"] == k] for k in cfg.waves}
        ys = {f"K={k}": [statistics.fmean(r["rollout_per_step"][i] for r in rs) for i in range(cfg.rollout_steps)]
              for k, rs in by_k.items()}
        ctx.curve("rollout error per step", list(range(1, cfg.rollout_steps + 1)),
                  {**ys, "persistence": base.rollout_per_step}, xlabel="rollout step", ylabel="scaled L2", logy=True)
        m["persistence_one_step"], m["persistence_rollout"] = base.one_step, base.rollout
        for k, rs in by_k.items():
            m[f"one_step_K{k}"] = statistics.fmean(r["one_step"] for r in rs)
            m[f"rollout_K{k}"] = statistics.fmean(r["rollout"] for r in rs)
        m["worst_one_step_over_persistence"] = max(r["one_step"] for r in rows) / base.one_step
        kmax = max(cfg.waves)
        if 1 in cfg.waves and kmax > 1:
            m["kmax_over_k1_rollout"] = m[f"rollout_K{kmax}"] / m["rollout_K1"]
            m["kmax_over_k1_one_step"] = m[f"one_step_K{kmax}"] / m["one_step_K1"]
            for s in range(cfg.seeds):
                r1, rk = (next(r for r in rows if r["seed"] == s and r["waves"] == k) for k in (1, kmax))
                m[f"kmax_over_k1_rollout_seed{s}"] = rk["rollout"] / r1["rollout"]
            m["param_mismatch"] = max(abs(r["params"] - budget) for r in rows) / budget
            if len(cfg.waves) > 2:
                means = [m[f"rollout_K{k}"] for k in sorted(cfg.waves)]
                m["rollout_monotone_in_k"] = float(all(a >= b for a, b in zip(means, means[1:])))
    return m
