"""NALSM protocols: NALSM (astro-STDP) against LSM+STDP (plain STDP) on the same liquid, same data.

Per model: wire the liquid (seed = run seed, the same for both), initialise it with the plasticity rule
(phase 1, :class:`LiquidInitLearner` through the kernel's ``Learner.fit``), extract spike-count features with
the transient per-sample STDP (phase 2), train the official linear readout (best-validation epoch), and
measure the branching factor on the rasters of the first ``bf_samples`` test images. The kernel's ridge
(exact leave-one-out penalty) on the same features is reported beside the official readout.

smoke: the card's three checks (astro ODE, STDP pair signs/magnitudes, regulation sign) + the whole pipeline
       on synthetic Poisson-rate "digits" (5x5x5 liquid).
cpu:   the card's CPU ladder scaled to one core (see ``Config`` and README deviation 1).
full:  the paper's NALSM1000 MNIST setting (50 000 x 20 ms init, 250 ms extraction, 50k/10k/10k); GPU.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from paperzoo.data import TensorSet, load_fashion_mnist, load_mnist
from paperzoo.nn.ridge import RELATIVE_LAMS, ridge_loo
from paperzoo.papers.nalsm.checks import astro_ode_error, regulation_check, stdp_pair_errors
from paperzoo.papers.nalsm.criticality import branching_factor
from paperzoo.papers.nalsm.learner import LinearReadout, LiquidInitLearner, extract_features, readout_features
from paperzoo.papers.nalsm.liquid import build_liquid, encode_rates, rate_scale, synthetic_digits
from paperzoo.papers.nalsm.sim import AstroSTDP, LIFLiquidSim, PlainSTDP
from paperzoo.train import RunContext
from paperzoo.train.checkpoint import latest_step, load_checkpoint, save_checkpoint

MODELS = ("nalsm", "lsm_stdp")


@dataclass(frozen=True)
class Config:
    about: str
    data: str = "mnist"  # mnist | fashion-mnist | synthetic
    dims: tuple[int, int, int] = (10, 10, 10)  # NALSM1000
    w_astro: float = 0.015  # official default for 1000 neurons (0.0075 for 8000)
    n_init: int = 50_000  # phase 1 images (official 50 000 x 20 ms, batch 1), each shown once
    init_epochs: int = 5  # the n_init images in this many chunks (an epoch each: a checkpoint after each)
    ms_init: int = 20
    steps: int = 250  # phase 2 ms per image (official 250)
    decay: float = 0.99  # per-ms decay of eta+, A, w_astro, b_A in phase 2 (official)
    transient_stdp: bool = True  # keep astro-STDP on during phase 2 (official); False freezes W_init
    n_train: int = 50_000  # first n of the 50k training part
    n_val: int = 10_000  # first n of the last 10k training images
    n_test: int = 10_000
    batch_size: int = 250  # phase-2 simulation batch (official 250 for 1000 neurons)
    readout_epochs: int = 200
    readout_batch: int = 250  # official: = simulation batch
    bf_samples: int = 20  # official compute_branching_factor.py: 20 samples
    models: tuple[str, ...] = MODELS
    checks: bool = False  # run the card's smoke checks
    stdp: str = "auto"  # event (CPU) | dense (GPU) | auto
    threads: int | None = None


PROTOCOLS = {
    "smoke": Config("seconds: card checks (astro ODE, STDP pair, regulation sign) + pipeline on synthetic Poisson "
                    "digits, 5x5x5 liquid, 40 x 20 ms init, 60 ms extraction, 160/40/100 images",
                    data="synthetic", dims=(5, 5, 5), n_init=40, steps=60, n_train=160, n_val=40, n_test=100,
                    init_epochs=2, batch_size=100, readout_epochs=30, readout_batch=100, bf_samples=10, checks=True,
                    threads=1),
    "cpu": Config("card cpu ladder on one core: NALSM1000 vs LSM+STDP on MNIST, 2000 x 20 ms init, 100 ms "
                  "extraction, 2000/250/500 train/val/test, readout 200 epochs (about 3 CPU-minutes per model)",
                  n_init=2_000, init_epochs=2, steps=100, n_train=2_000, n_val=250, n_test=500, batch_size=125,
                  readout_batch=125, threads=1),
    "full": Config("paper setting (NALSM1000, MNIST): 50 000 x 20 ms init, 250 ms extraction, 50k/10k/10k, "
                   "readout 200 epochs; one GPU (not run here)", batch_size=500),
}


def _splits(cfg: Config, seed: int) -> tuple[TensorSet, TensorSet, TensorSet, TensorSet]:
    """(init pool, train, val, test) images. MNIST-type: train = first 50k, val = last 10k (official split)."""
    if cfg.data == "synthetic":
        full = synthetic_digits(cfg.n_init + cfg.n_train + cfg.n_val + cfg.n_test, seed=seed)
        cuts = torch.tensor([0, cfg.n_init, cfg.n_train, cfg.n_val, cfg.n_test]).cumsum(0).tolist()
        parts = [TensorSet(full.x[a:b], full.y[a:b], "synthetic") for a, b in zip(cuts[:-1], cuts[1:])]
        return parts[0], parts[1], parts[2], parts[3]
    if cfg.data not in ("mnist", "fashion-mnist"):
        raise ValueError(f"nalsm: data must be 'mnist', 'fashion-mnist' or 'synthetic', got {cfg.data!r}")
    d = load_mnist() if cfg.data == "mnist" else load_fashion_mnist()
    tr, te = d.train, d.test
    if max(cfg.n_init, cfg.n_train) > 50_000 or cfg.n_val > 10_000 or cfg.n_test > len(te):
        raise ValueError("nalsm: n_init, n_train <= 50 000, n_val <= 10 000, n_test <= 10 000")
    cut = lambda s, a, b: TensorSet(s.x[a:b], s.y[a:b], cfg.data)  # noqa: E731
    return cut(tr, 0, cfg.n_init), cut(tr, 0, cfg.n_train), cut(tr, 50_000, 50_000 + cfg.n_val), cut(te, 0, cfg.n_test)


def _features(ctx: RunContext, cfg: Config, sim: LIFLiquidSim, w_init, rule, rates: dict) -> dict:
    """Phase 2 for every split; stored as a safetensors checkpoint so ``--resume`` skips it."""
    fdir = ctx.out / "features"
    if ctx.resume and latest_step(fdir) is not None:
        return load_checkpoint(fdir)[1]
    plast = replace(rule, decay=cfg.decay) if cfg.transient_stdp else None
    out = {}
    for i, (name, r) in enumerate(rates.items()):
        rec = cfg.bf_samples if name == "test" else 0
        out[name] = extract_features(sim, w_init, r, steps=cfg.steps, plasticity=plast, batch_size=cfg.batch_size,
                                     generator=ctx.generator(10 + i), record=rec)
    save_checkpoint(fdir, 1, out)
    return out


def _model(ctx: RunContext, cfg: Config, name: str, sets, rates: dict) -> dict:
    lq = build_liquid(cfg.dims, rates["train"].shape[1], seed=ctx.seed)  # the same liquid for every model
    stdp = cfg.stdp if cfg.stdp != "auto" else ("dense" if ctx.device.type == "cuda" else "event")
    sim = LIFLiquidSim(lq, stdp=stdp, device=ctx.device)
    rule = AstroSTDP(w_astro=cfg.w_astro) if name == "nalsm" else PlainSTDP()
    sub = ctx.sub(name)
    learner = LiquidInitLearner(sim, rule, ms_per_image=cfg.ms_init)
    chunks = rates["init"].reshape(cfg.init_epochs, -1, rates["init"].shape[1])  # one pass, init_epochs checkpoints
    hist = learner.fit(chunks, epochs=cfg.init_epochs, ctx=sub, desc=f"{name} liquid init")
    feats = _features(sub, cfg, sim, learner.w, rule, {k: rates[k] for k in ("train", "val", "test")})
    ys = {k: sets[k].y for k in ("train", "val", "test")}
    x = {k: readout_features(feats[k]["counts"]) for k in ys}
    ro = LinearReadout(lq.n_res, batch_size=cfg.readout_batch)
    fit = ro.fit((x["train"], ys["train"]), (x["val"], ys["val"]), (x["test"], ys["test"]),
                 epochs=cfg.readout_epochs, generator=sub.generator(1))
    onehot = torch.nn.functional.one_hot(ys["train"], 10).double()
    rfit = ridge_loo(x["train"].double(), onehot, RELATIVE_LAMS, relative=True)
    ridge_acc = 100.0 * float(((x["test"].double() @ rfit.coef).argmax(1) == ys["test"]).double().mean())
    bf = branching_factor(feats["test"]["raster"], lq) if cfg.steps > 50 else float("nan")
    rate = 1000.0 * float(feats["test"]["counts"].mean()) / cfg.steps
    res = {"test_acc": fit["test_acc"], "best_val_acc": fit["best_val_acc"], "best_epoch": fit["best_epoch"],
           "ridge_test_acc": ridge_acc, "bf": bf, "rate_hz": rate, "init_rate_hz": hist[-1]["res_rate_hz"],
           **{k: v for k, v in hist[-1].items() if k.startswith("w_mean")}}
    ctx.log(stage=name, **res)
    ctx.details[name] = {**res, "init_history": hist, "n_synapses": lq.counts()}
    ctx.curve(f"{name}-readout", x=list(range(1, cfg.readout_epochs + 1)),
              ys={"val": fit["val_acc"], "test": fit["test_acc_curve"]}, xlabel="readout epoch",
              ylabel="accuracy (%)", title=f"{name}: official readout (Adadelta 0.1)",
              hline=95.96 if name == "nalsm" else 89.46)
    return res


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    bad = [m for m in cfg.models if m not in MODELS]
    if bad or not cfg.models:
        raise ValueError(f"nalsm: models must name some of {MODELS}, got {cfg.models!r}")
    if cfg.init_epochs < 1 or cfg.n_init % cfg.init_epochs:
        raise ValueError(f"nalsm: n_init ({cfg.n_init}) must split into init_epochs ({cfg.init_epochs}) equal chunks")
    metrics: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        if cfg.checks:
            metrics.update(astro_ode_error())
            metrics.update({k: v for k, v in stdp_pair_errors().items() if k == "stdp_pair_err"})
            metrics.update(regulation_check(seed=ctx.seed))
        init, train, val, test = _splits(cfg, ctx.seed)
        scale_tr = None if cfg.data == "synthetic" else rate_scale(load_mnist().train.x if cfg.data == "mnist"
                                                                   else load_fashion_mnist().train.x)
        scale_te = None if cfg.data == "synthetic" else rate_scale(load_mnist().test.x if cfg.data == "mnist"
                                                                   else load_fashion_mnist().test.x)
        rates = {"init": encode_rates(init.x, scale=scale_tr), "train": encode_rates(train.x, scale=scale_tr),
                 "val": encode_rates(val.x, scale=scale_tr), "test": encode_rates(test.x, scale=scale_te)}
        sets = {"train": train, "val": val, "test": test}
        out = {m: _model(ctx, cfg, m, sets, rates) for m in cfg.models}
    for m, r in out.items():
        pre = "" if m == "nalsm" else "stdp_"
        metrics.update({f"{pre}test_acc": r["test_acc"], f"{pre}ridge_test_acc": r["ridge_test_acc"],
                        f"{pre}bf": r["bf"], f"{pre}rate_hz": r["rate_hz"]})
    if set(MODELS) <= set(out):
        metrics["gap_vs_stdp"] = out["nalsm"]["test_acc"] - out["lsm_stdp"]["test_acc"]
        metrics["bf_gap"] = out["lsm_stdp"]["bf"] - out["nalsm"]["bf"]
    ctx.table("models", [{"model": "NALSM" if m == "nalsm" else "LSM+STDP", "test acc (official readout)": r["test_acc"],
                          "best val acc": r["best_val_acc"], "test acc (ridge, LOO)": r["ridge_test_acc"],
                          "branching factor": r["bf"], "rate Hz (test)": r["rate_hz"]} for m, r in out.items()],
              caption=f"{cfg.data}: {len(train)}/{len(val)}/{len(test)} train/val/test, {cfg.n_init} x {cfg.ms_init} ms "
                      f"init x {cfg.init_epochs}, {cfg.steps} ms extraction, liquid {cfg.dims}")
    return metrics
