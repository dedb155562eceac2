"""Protocols for ``paperzoo reproduce deeponet``: the card's smoke checks (a)-(c), its cpu rung (antiderivative
10k / 10k, DeepONet vs FNN, nonlinear ODE) and the sensor-count and data-size sweeps."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.data.pde import GRF1D, ppoly_at
from paperzoo.papers.deeponet.experiments import (
    fit_and_test,
    make_deeponet,
    make_fnn,
    operator_data,
    power_law_slope,
    scaling_invariant_error,
    subsample_sensors,
    zero_mse,
)
from paperzoo.papers.deeponet.training import mse_without_outliers, predict
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    n_train: int = 10_000                     # card cpu rung (official: 10 000 triplets)
    n_test: int = 10_000                      # card cpu rung (official full: 100 000)
    steps: int = 20_000                       # card cpu rung (official: 50 000)
    lr: float = 1e-3                          # official deeponet_pde.py
    fnn: bool = True                          # card cpu rung: FNN [101, 100, 100, 1], same data and steps
    ode: bool = True                          # card cpu rung, optional second experiment
    sweep_steps: int = 5_000                  # ours: the sweeps' training length
    sweep_n: int = 5_000                      # ours: functions in the sensor sweep
    sensors: tuple[int, ...] = (2, 5, 10, 25, 100)
    sizes: tuple[int, ...] = (250, 500, 1000, 2000, 5000)
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke: generator linearity and u = 1, the branch-scaling invariant, 2 000 triplets x 2 000 "
                    "full-batch Adam steps tested on 1 000 fresh ones (seconds)", n_train=2000, n_test=1000,
                    steps=2000, fnn=False, ode=False, sensors=(), sizes=()),
    "cpu": Config("card cpu rung: antiderivative 10k / 10k, 20k steps, DeepONet vs FNN, nonlinear ODE; sensor sweep "
                  "m 2..100 and data sweep 250..5000 functions at 5k steps (~15 CPU-min)"),
    "full": Config("official defaults: 10k train / 100k test triplets, 50k full-batch steps (GPU or a long CPU run)",
                   n_test=100_000, steps=50_000, sweep_steps=20_000, sizes=(250, 500, 1000, 2000, 5000, 10_000),
                   threads=None),
}


def _generator_checks(seed: int) -> dict[str, float]:
    g = GRF1D(0.2)
    f = g.sample(4, torch.Generator().manual_seed(seed))
    y = torch.rand(2, 50, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    prim = ppoly_at(g.spline(torch.cat([f, f[:2] + f[2:]])).antiderivative(), torch.cat([y, y, y]))
    lin = float((prim[4:] - prim[:2] - prim[2:4]).abs().max())
    one = ppoly_at(g.spline(torch.ones(2, g.n_grid, dtype=torch.float64)).antiderivative(), y)
    return {"gen_linearity_err": lin, "gen_const_err": float((one - y).abs().max())}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if cfg.n_train < 2 or cfg.n_test < 1 or cfg.steps < 1:
        raise ValueError("deeponet: need n_train >= 2, n_test >= 1, steps >= 1")
    m: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        m.update(_generator_checks(ctx.seed))
        torch.manual_seed(ctx.seed)
        probe = make_deeponet(100, ctx.seed).double()
        with torch.no_grad():
            probe.b0.fill_(0.3)
        m["branch_scaling_err"] = scaling_invariant_error(probe, torch.randn(5, 100, dtype=torch.float64),
                                                          torch.rand(7, 1, dtype=torch.float64))
        tr = operator_data("antiderivative", cfg.n_train, seed=ctx.seed)
        te = operator_data("antiderivative", cfg.n_test, seed=ctx.seed + 10_000)
        runs = [("deeponet", "antiderivative")] + ([("fnn", "antiderivative")] if cfg.fnn else []) + \
            ([("deeponet", "nonlinear_ode")] if cfg.ode else [])
        total = cfg.steps * len(runs) + cfg.sweep_steps * (len(cfg.sensors) + len(cfg.sizes))
        with ctx.progress(total=total, desc="DeepONet") as bar:
            res = {}
            for kind, problem in runs:
                def one(kind=kind, problem=problem):
                    a, b = (tr, te) if problem == "antiderivative" else (
                        operator_data(problem, cfg.n_train, seed=ctx.seed + 1),
                        operator_data(problem, cfg.n_test, seed=ctx.seed + 10_001))
                    model = make_deeponet(100, ctx.seed) if kind == "deeponet" else make_fnn(100, ctx.seed)
                    out = fit_and_test(model, a, b, steps=cfg.steps, lr=cfg.lr, progress=bar)
                    with torch.no_grad():
                        err2 = (predict(model, b.u.float(), b.y.float()) - b.s.float()) ** 2
                    out["test_mse_wo_outliers"] = mse_without_outliers(err2)
                    return out
                res[(kind, problem)] = ctx.cached(f"{kind}-{problem}", one)
            main = res[("deeponet", "antiderivative")]
            m["test_mse"], m["test_mse_wo_outliers"] = main["test_mse"], main["test_mse_wo_outliers"]
            m["zero_over_test"] = zero_mse(te) / main["test_mse"]
            if cfg.fnn:
                m["fnn_test_mse"] = res[("fnn", "antiderivative")]["test_mse"]
                m["fnn_over_deeponet"] = m["fnn_test_mse"] / m["test_mse"]
            if cfg.ode:
                m["ode_test_mse"] = res[("deeponet", "nonlinear_ode")]["test_mse"]
            rows = [{"model": k, "problem": p, **v} for (k, p), v in res.items()]
            ctx.table("test MSE", rows, caption=f"{cfg.n_train} training / {cfg.n_test} test triplets, {cfg.steps} "
                                                f"full-batch Adam steps (lr {cfg.lr}), best-training-loss checkpoint")
            if cfg.sensors:
                base = operator_data("antiderivative", cfg.sweep_n, seed=ctx.seed + 2)
                sens = [ctx.cached(f"sensors-{k}", lambda k=k: fit_and_test(
                    make_deeponet(k, ctx.seed), subsample_sensors(base, k), subsample_sensors(te, k),
                    steps=cfg.sweep_steps, lr=cfg.lr, progress=bar))["test_mse"] for k in cfg.sensors]
                m["sensor_gain"] = sens[0] / sens[-1]
                ctx.curve("test MSE vs number of sensors", list(cfg.sensors), {"DeepONet": sens}, xlabel="sensors m",
                          ylabel="test MSE", logx=True, logy=True)
            if cfg.sizes:
                big = operator_data("antiderivative", max(cfg.sizes), seed=ctx.seed + 3)
                size = [ctx.cached(f"size-{n}", lambda n=n: fit_and_test(
                    make_deeponet(100, ctx.seed), type(big)(big.u[:n], big.y[:n], big.s[:n]), te,
                    steps=cfg.sweep_steps, lr=cfg.lr, progress=bar))["test_mse"] for n in cfg.sizes]
                m["data_slope"] = power_law_slope(cfg.sizes, size)
                ctx.curve("test MSE vs training functions", list(cfg.sizes), {"DeepONet": size},
                          xlabel="training functions (one point each)", ylabel="test MSE", logx=True, logy=True)
    return m
