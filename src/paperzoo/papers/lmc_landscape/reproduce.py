"""Protocols of lmc-landscape (card: shared/papers/lmc-landscape.md, "Reproduction ladder").

Every protocol first checks the exact identities (the toy of the card, the quadratic midpoint identity, the
Hessian-vector product against an explicit Hessian), then runs the spawning experiment (``experiments``):
parent to k, two children with different data orders, barrier / geometry / predictors per k, layer-wise
barriers for ``layer_k``; optionally the card's "no barrier" control (MNIST, lr 0.05, k = 0) and a pair of
independently initialised networks before and after weight matching (the permutation baseline).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy.stats import spearmanr

from paperzoo.papers.lmc_landscape.curvature import (
    TOY_PATHS,
    midpoint_excess,
    predict_barrier,
    quad_form,
    quadratic,
    toy_path,
)
from paperzoo.papers.lmc_landscape.experiments import measure_pair, sgd_steps, spawn_experiment
from paperzoo.papers.lmc_landscape.lmc import _Evaluator, interpolate, params_of
from paperzoo.registry import create_model
from paperzoo.train import RunContext

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
# exact values of the card's toy (card rounds P_mid = 81/128 and P_end = 81/64 to 4 digits, same_valley to 4)
TOY_EXACT = {"across_ridge": {"barrier": 0.31640625, "P_mid": 81 / 128, "P_end": 81 / 64},
             "sign_flip": {"barrier": 1.0}, "same_valley": {"barrier": 1 / 440 ** 2}}


@dataclass(frozen=True)
class Config:
    about: str
    dataset: str = "fashion_mnist"
    n_train: int = 20_000                 # card cpu rung: first 20k training images
    n_test: int = 5_000                   # card: 5k test images
    model: str = "lmc_mlp"
    width: int = 512                      # card: MLP 784-512-512-10
    depth: int = 2
    lr: float = 0.2                       # card: SGD lr 0.2, momentum 0.9, batch 128
    momentum: float = 0.9
    batch_size: int = 128
    k_list: tuple[int, ...] = (0, 20, 100, 400, 1600)
    child_steps: int = 1000
    seeds: tuple[int, int, int] = (123, 1, 2)   # card: parent data order 123, children 1 and 2
    init_seed: int = 0
    hvp_n: int = 2000                     # card: Hessian-vector products on 2k test images
    train_eval_n: int = 5000
    layer_k: tuple[int, ...] = (0, 1600)  # card: layer-wise at k = 0 and k = 1600
    align: bool = True                    # weight-matched barrier of each pair (probe's alignment)
    bn_n: int = 0                         # training images for BatchNorm re-estimation (0: no BatchNorm)
    control: bool = True                  # card: MNIST, lr 0.05, k = 0 "no barrier" control
    control_lr: float = 0.05
    indep: bool = True                    # two inits (seeds 0, 1), before/after weight matching
    hessian_params: int = 50              # card smoke rung: explicit Hessian of a 50-parameter MLP
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("seconds: exact identities (toy, quadratic, HVP vs explicit Hessian) + a tiny Fashion-MNIST "
                    "spawn run (1k images, width 32, k in {0, 20}, 30 child steps)", n_train=1000, n_test=500,
                    width=32, k_list=(0, 20), child_steps=30, hvp_n=200, train_eval_n=500, layer_k=(0,),
                    control=False, indep=False),
    "cpu": Config("card cpu rung: Fashion-MNIST 20k/5k, MLP 784-512-512-10, SGD 0.2/0.9, k in {0,20,100,400,1600}, "
                  "children 1,000 steps; layer-wise at k = 0, 1600; MNIST lr 0.05 control; two-init pair"),
    "full": Config("card full rung (GPU): CIFAR-10 (50k train, the shared copy's 1k test), ResNet-20, SGD 0.1/0.9, "
                   "k in {0, 1, 3, 8} epochs, children 10 epochs; BatchNorm re-estimated on 5k images",
                   dataset="cifar10", n_train=50_000, n_test=1_000, model="lmc_resnet20", width=16, depth=3, lr=0.1,
                   k_list=(0, 390, 1170, 3120), child_steps=3900, hvp_n=1000, layer_k=(0, 3120), align=False,
                   bn_n=5000, control=False, indep=False, threads=None),
}


def _data(name: str, n_train: int, n_test: int, device) -> tuple[tuple, tuple, str]:
    from paperzoo.data import load

    sp = load(name)
    x, xt = sp.train.x[:n_train], sp.test.x[:n_test]
    if name == "cifar10":
        m, s = torch.tensor(CIFAR_MEAN)[:, None, None], torch.tensor(CIFAR_STD)[:, None, None]
        x, xt = (x - m) / s, (xt - m) / s
    return ((x.to(device), sp.train.y[:n_train].to(device)), (xt.to(device), sp.test.y[:n_test].to(device)),
            sp.note or "")


def identities(hessian_params: int = 50, seed: int = 0) -> dict[str, float]:
    """The exact checks of the card's smoke rung (float64)."""
    toy_err = 0.0
    for name, exact in TOY_EXACT.items():
        got = toy_path(*TOY_PATHS[name][:2])
        toy_err = max(toy_err, *(abs(got[k] - v) for k, v in exact.items()))
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(12, 12, generator=g, dtype=torch.float64)
    A = q @ torch.diag(torch.linspace(-2, 3, 12, dtype=torch.float64)) @ q.T  # symmetric, indefinite
    f = quadratic(A)
    a, b = ({"w": torch.randn(12, generator=g, dtype=torch.float64)} for _ in range(2))
    d = {"w": a["w"] - b["w"]}
    exact = -float(d["w"] @ A @ d["w"]) / 8
    quad_err = max(abs(midpoint_excess(f, a, b) - exact), abs(predict_barrier(f, a, b, "mid") - exact),
                   abs(predict_barrier(f, a, b, "end") - exact)) / abs(exact)
    # hvp vs an explicit Hessian: MLP 3 -> h -> 2 (tanh) with h chosen so that it has ~hessian_params parameters
    h = max(1, round((hessian_params - 2) / 6))
    net = torch.nn.Sequential(torch.nn.Linear(3, h), torch.nn.Tanh(), torch.nn.Linear(h, 2)).double()
    x, y = torch.randn(64, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (64,), generator=g)
    from paperzoo.papers.lmc_landscape.curvature import model_loss

    floss = model_loss(net, (x, y))
    theta = params_of(net)
    shapes = {k: v.shape for k, v in theta.items()}
    sizes = [v.numel() for v in theta.values()]

    def flat_loss(v):
        return floss({k: t.reshape(shapes[k]) for k, t in zip(theta, v.split(sizes))})

    v0 = torch.cat([t.flatten() for t in theta.values()])
    H = torch.autograd.functional.hessian(flat_loss, v0)  # explicit 50 x 50 Hessian, row by row
    hvp_err = 0.0
    for _ in range(3):
        dv = torch.randn(len(v0), generator=g, dtype=torch.float64)
        direction = {k: t.reshape(shapes[k]) for k, t in zip(theta, dv.split(sizes))}
        ref = float(dv @ H @ dv)
        hvp_err = max(hvp_err, abs(quad_form(floss, theta, direction) - ref) / max(1.0, abs(ref)))
    return {"toy_err": toy_err, "quadratic_identity_err": quad_err, "hvp_err": hvp_err, "hessian_n_params": len(v0)}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if len(cfg.k_list) < 2 or min(cfg.k_list) != 0:
        raise ValueError(f"k_list must start at 0 and have >= 2 spawn steps, got {cfg.k_list}")
    with ctx.threads(cfg.threads):
        m = identities(cfg.hessian_params, seed=ctx.seed)
        train, test, note = _data(cfg.dataset, cfg.n_train, cfg.n_test, ctx.device)
        if note:
            ctx.note(f"{cfg.dataset}: {note}")
        in_kw = {"in_chans": 3} if cfg.dataset == "cifar10" else {"in_dim": 784}
        make = lambda: create_model(cfg.model, **in_kw, num_classes=10, width=cfg.width, depth=cfg.depth)  # noqa: E731
        total = max(cfg.k_list) + 2 * cfg.child_steps * len(cfg.k_list)
        with ctx.progress(total=total, desc=f"spawn {cfg.dataset}") as bar:
            recs = spawn_experiment(make, train, test, k_list=cfg.k_list, child_steps=cfg.child_steps, seeds=cfg.seeds,
                                    init_seed=cfg.init_seed, lr=cfg.lr, momentum=cfg.momentum,
                                    batch_size=cfg.batch_size, hvp_n=cfg.hvp_n, train_eval_n=cfg.train_eval_n,
                                    layer_k=cfg.layer_k, align=cfg.align, bn_n=cfg.bn_n,
                                    cached=ctx.sub("spawn").cached, on_step=bar.advance)
        m |= _spawn_outputs(ctx, cfg, recs, make, test)
        if cfg.control:
            m |= _control(ctx, cfg, make)
        if cfg.indep:
            m |= _independent(ctx, cfg, make, train, test)
    return m


def _spawn_outputs(ctx: RunContext, cfg: Config, recs: list[dict], make, test) -> dict[str, float]:
    first = recs[0]
    ks = [r["k"] for r in recs]
    keys = ("barrier", "barrier_err", "barrier_train", "distance", "angle_deg", "P_mid", "P_end", "P_mid_fd",
            "mid_excess", "loss_k", "grad_norm_k") + (("barrier_wm",) if cfg.align and "barrier_wm" in first else ())
    ctx.table("spawn", [{"k": r["k"], **{key: r[key] for key in keys}, "test err A %": r["test_err_a"]} for r in recs],
              caption=f"{cfg.dataset}: children spawned at step k ({cfg.child_steps} steps each); barrier = max excess "
                      f"test loss over the chord (11 alphas); P_mid / P_end = second-order predictors (2k test images "
                      f"in the cpu rung); distance / angle of the children (angle from theta_k)")
    ctx.curve("barrier_vs_k", x=ks, ys={"test-loss barrier": [r["barrier"] for r in recs],
                                         "train-loss barrier": [r["barrier_train"] for r in recs],
                                         "P_mid": [r["P_mid"] for r in recs], "P_end": [r["P_end"] for r in recs],
                                  "P_mid (finite differences)": [r["P_mid_fd"] for r in recs]},
              xlabel="spawn step k", ylabel="loss barrier", title="barrier of the children vs spawn step")
    ctx.curve("paths", x=first["curve"]["alpha"],
              ys={f"k={r['k']}": [v - ((1 - a) * r["curve"]["loss"][0] + a * r["curve"]["loss"][-1])
                                  for a, v in zip(r["curve"]["alpha"], r["curve"]["loss"])] for r in recs},
              xlabel="alpha", ylabel="test loss minus chord", title="linear paths between the two children")
    m = {f"k{r['k']}_{key}": r[key] for r in recs for key in keys}
    b0, b1 = recs[0]["barrier"], recs[-1]["barrier"]
    m["barrier_last_over_first"] = b1 / b0 if b0 > 0 else 1.0  # no barrier at k = 0: nothing can vanish
    m["distance_increases"] = float(sum(b["distance"] >= a["distance"] for a, b in zip(recs[:-1], recs[1:])))
    m["angle_drop_deg"] = recs[0]["angle_deg"] - recs[-1]["angle_deg"]
    m["pmid_rel_err_k0"] = abs(recs[0]["P_mid"] - b0) / max(b0, 1e-12)
    m["pend_rel_err_k0"] = abs(recs[0]["P_end"] - b0) / max(b0, 1e-12)
    m["pmid_fd_rel_err_k0"] = abs(recs[0]["P_mid_fd"] - b0) / max(b0, 1e-12)
    rows = [{"k": r["k"], "layer": name, **{key: v[key] for key in ("barrier", "barrier_err", "mid_excess", "P_mid",
                                                                      "P_end", "P_mid_fd")}}
            for r in recs if "layers" in r for name, v in r["layers"].items()]
    if rows:
        ctx.table("layerwise", rows, caption="layer-wise barriers (only that layer interpolated, 11 alphas, test loss) "
                                             "and the layer-block predictors")
        meas = [row["barrier"] for row in rows]
        for kind in ("P_mid", "P_end", "P_mid_fd"):
            rho = spearmanr([row[kind] for row in rows], meas).statistic if len(rows) > 2 else float("nan")
            m[f"layer_spearman_{kind.lower()}"] = float(rho)
        m |= {f"k{row['k']}_layer_{row['layer']}_{key}": row[key] for row in rows
              for key in ("barrier", "P_mid", "P_end", "P_mid_fd")}
    m["endpoint_err"] = _endpoint_check(ctx, make, test)
    return m


def _endpoint_check(ctx: RunContext, make, test) -> float:
    """|L(theta(0)) - L(theta_A)| + |L(theta(1)) - L(theta_B)| and the same for the error (card: bit-exact)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seed)
        net = make().to(ctx.device)
        a, b = params_of(net), params_of(make().to(ctx.device))
    ev = _Evaluator(net, test)
    curve = interpolate(None, a, b, (0.0, 0.5, 1.0), evaluator=ev)
    (la, ea), (lb, eb) = ev(a), ev(b)
    return abs(curve["loss"][0] - la) + abs(curve["loss"][-1] - lb) + abs(curve["err"][0] - ea) + abs(curve["err"][-1] - eb)


def _control(ctx: RunContext, cfg: Config, make) -> dict[str, float]:
    """The card's "no barrier" control: MNIST, same MLP and sizes, lr 0.05, children spawned at k = 0."""
    train, test, _ = _data("mnist", cfg.n_train, cfg.n_test, ctx.device)
    with ctx.progress(total=2 * cfg.child_steps, desc="control mnist") as bar:
        rec = spawn_experiment(make, train, test, k_list=(0,), child_steps=cfg.child_steps, seeds=cfg.seeds,
                               init_seed=cfg.init_seed, lr=cfg.control_lr, momentum=cfg.momentum,
                               batch_size=cfg.batch_size, hvp_n=cfg.hvp_n, train_eval_n=cfg.train_eval_n,
                               cached=ctx.sub("control").cached, on_step=bar.advance)[0]
    return {"control_barrier": rec["barrier"], "control_mid_excess": rec["mid_excess"], "control_P_mid": rec["P_mid"],
            "control_P_end": rec["P_end"], "control_P_mid_fd": rec["P_mid_fd"], "control_distance": rec["distance"],
            "control_angle_deg": rec["angle_deg"]}


def _independent(ctx: RunContext, cfg: Config, make, train, test) -> dict[str, float]:
    """Two networks from different inits (seeds init_seed, init_seed + 1), each trained child_steps with its own
    data order: the barrier before and after weight matching (the permutation baseline of the card's pitfall)."""
    def work() -> dict:
        thetas = []
        for i, s in enumerate(cfg.seeds[1:]):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.init_seed + i)
                net = make().to(ctx.device)
            thetas.append(sgd_steps(net, params_of(net), train, steps=cfg.child_steps, lr=cfg.lr,
                                    momentum=cfg.momentum, batch_size=cfg.batch_size, seed=s)[0])
        r = measure_pair(net, None, *thetas, test=test, train=(train[0][:cfg.train_eval_n], train[1][:cfg.train_eval_n]),
                         hvp=(test[0][:cfg.hvp_n], test[1][:cfg.hvp_n]), layerwise=False, align=True)
        return {k: v for k, v in r.items() if not k.startswith("curve")}
    r = ctx.sub("independent").cached("pair", work)
    return {f"indep_{k}": v for k, v in r.items() if k in ("barrier", "barrier_err", "barrier_wm", "barrier_err_wm",
                                                            "distance", "distance_wm", "P_mid")}
