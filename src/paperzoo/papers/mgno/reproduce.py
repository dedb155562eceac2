"""Protocols for ``paperzoo reproduce mgno``: the card's smoke checks (linearity and sizes of the V-cycle; a global
receptive field on Poisson) and its cpu rung (Darcy 64 x 64: MgNO vs an FNO and a local CNN at MgNO's parameter count)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.nn import count_params
from paperzoo.papers.mgno.layers import MgConv, MgNO
from paperzoo.papers.mgno.training import darcy_splits, fit, poisson_set, relative_l2
from paperzoo.registry import create_model
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    poisson_res: int = 32                      # card smoke (b)
    poisson_n: int = 256                       # card smoke (b)
    poisson_steps: int = 200                   # card smoke (b)
    poisson_batch: int = 32                    # ours (card: unspecified)
    darcy: bool = True
    res: int = 64                              # card cpu rung
    n_train: int = 400
    n_val: int = 100
    n_test: int = 100
    epochs: int = 30                           # card cpu rung
    ch: int = 16                               # card cpu rung: MgNO ch 16, 4 layers, levels [(1, 0)] x 4 + [(2, 0)]
    n_layers: int = 4
    levels: tuple = ((1, 0),) * 4 + ((2, 0),)
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke: V-cycle linearity and sizes 32 / 33 / 211; Poisson 32 x 32, 256 samples, 2-layer MgNO "
                    "ch 8 vs a 5-layer CNN, 200 Adam steps", darcy=False),
    "cpu": Config("card cpu rung: Darcy 64 x 64 (FNO recipe), 400 / 100 / 100, 30 epochs, batch 8, OneCycle, H1 loss; "
                  "MgNO ch 16 x 4 layers vs FNO and a local CNN at MgNO's parameter count"),
    "full": Config("card full rung: Darcy 211 x 211, 1000 / 100 / 100, 100 epochs, MgNO ch 24 x 5 layers, 6 levels (GPU)",
                   res=211, n_train=1000, epochs=100, ch=24, n_layers=5, levels=((1, 0),) * 5 + ((2, 0),), threads=None),
}


def linearity_and_sizes(seed: int = 0) -> dict[str, float]:
    torch.manual_seed(seed)
    conv = MgConv(2, 4, ((1, 1), (2, 0), (1, 1), (2, 0))).double()
    f, g = torch.randn(2, 2, 33, 33, dtype=torch.float64), torch.randn(2, 2, 33, 33, dtype=torch.float64)
    lhs, rhs = conv(1.7 * f - 0.4 * g), 1.7 * conv(f) - 0.4 * conv(g)
    lin = float((lhs - rhs).abs().max() / rhs.abs().max())
    net = MgNO(ch=2, n_layers=1, levels=((1, 0),) * 6)
    bad = sum(net(torch.rand(1, 1, s, s)).shape[-2:] != (s, s) for s in (32, 33, 211))
    return {"linearity_err": lin, "size_mismatch": float(bad)}


def poisson_check(cfg: Config, seed: int, progress=None) -> dict[str, float]:
    a, u = poisson_set(cfg.poisson_n + 64, cfg.poisson_res, seed=seed)
    out = {}
    for name, make in (("mgno", lambda: MgNO(ch=8, n_layers=2, levels=((1, 0),) * 3 + ((2, 0),))),
                       ("cnn", lambda: create_model("local_cnn", width=8, depth=5))):
        torch.manual_seed(seed)
        model = make().set_normalizers(a[:cfg.poisson_n], u[:cfg.poisson_n])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(cfg.poisson_steps):
            idx = torch.randint(0, cfg.poisson_n, (cfg.poisson_batch,), generator=gen)
            loss = relative_l2(model(a[idx]), u[idx]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if progress is not None:
                progress.advance()
        with torch.no_grad():
            out[name] = float(relative_l2(model(a[cfg.poisson_n:]), u[cfg.poisson_n:]).mean())
    return {"poisson_mgno_l2": out["mgno"], "poisson_cnn_l2": out["cnn"], "poisson_cnn_over_mgno": out["cnn"] / out["mgno"]}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    m: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        m.update(linearity_and_sizes(ctx.seed))
        total = 2 * cfg.poisson_steps + (3 * cfg.epochs if cfg.darcy else 0)
        with ctx.progress(total=total, desc="MgNO") as bar:
            m.update(ctx.cached("poisson", lambda: poisson_check(cfg, ctx.seed, bar)))
            if cfg.darcy:
                data = darcy_splits(cfg.n_train, cfg.n_val, cfg.n_test, cfg.res, seed=ctx.seed)
                torch.manual_seed(ctx.seed)
                budget = count_params(MgNO(ch=cfg.ch, n_layers=cfg.n_layers, levels=cfg.levels))
                rows = []
                for name in ("mgno", "fno2d", "local_cnn"):
                    def one(name=name):
                        torch.manual_seed(ctx.seed)
                        model = MgNO(ch=cfg.ch, n_layers=cfg.n_layers, levels=cfg.levels) if name == "mgno" else \
                            create_model(name, params=budget)
                        r = fit(model, data, epochs=cfg.epochs, seed=ctx.seed, progress=bar)
                        return {"model": name, "params": count_params(model), "best_epoch": r.best_epoch,
                                "val_l2": r.val_l2, "test_l2": r.test_l2, "test_h1": r.test_h1,
                                "val_curve": [h["val_l2"] for h in r.history]}
                    rows.append(ctx.cached(f"darcy-{name}", one))
                by = {r["model"]: r for r in rows}
                ctx.curve("Darcy validation rel. L2 per epoch", list(range(1, cfg.epochs + 1)),
                          {r["model"]: r["val_curve"] for r in rows}, xlabel="epoch", ylabel="validation rel. L2",
                          logy=True)
                ctx.table("Darcy test errors at the best-validation epoch",
                          [{k: v for k, v in r.items() if k != "val_curve"} for r in rows],
                          caption=f"{cfg.res} x {cfg.res}, {cfg.n_train} / {cfg.n_val} / {cfg.n_test}, {cfg.epochs} "
                                  f"epochs, H1 loss; FNO and CNN widths chosen for MgNO's {budget} parameters")
                m["darcy_mgno_l2"], m["darcy_mgno_h1"] = by["mgno"]["test_l2"], by["mgno"]["test_h1"]
                m["darcy_fno_l2"], m["darcy_cnn_l2"] = by["fno2d"]["test_l2"], by["local_cnn"]["test_l2"]
                m["mgno_over_fno_l2"] = by["mgno"]["test_l2"] / by["fno2d"]["test_l2"]
                m["fno_over_mgno_h1"] = by["fno2d"]["test_h1"] / by["mgno"]["test_h1"]
                m["cnn_over_best"] = by["local_cnn"]["test_l2"] / max(by["mgno"]["test_l2"], by["fno2d"]["test_l2"])
    return m
