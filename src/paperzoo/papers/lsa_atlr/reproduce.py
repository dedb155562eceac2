"""Protocols of the LSA / AT-LR paper (card: shared/papers/lsa-atlr.md, "Reproduction ladder").

(a) measure identities of the LSA comparison measure; (b) Moon (``make_moons``), MLP 2-64-64-64-2, base AT
vs AT-LR over seeds, robust accuracy under PGD-20 above the training eps; (c) MNIST CNN, FGSM-with-random-
start AT vs AT-LR (MVL from the AT model after ``mnist_mvl_epoch`` epochs), PGD-20 robust accuracy, and the
LSA profile of the AT model under FGSM, PGD and noise of the same size. Every part is a ``ctx.sub`` run.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.papers.lsa_atlr.lsa import relative_error_profile
from paperzoo.papers.lsa_atlr.models import lsa_cnn, moon_mlp
from paperzoo.papers.lsa_atlr.training import pair_run
from paperzoo.train import RunContext

METHODS = ("at", "at-lr")


@dataclass(frozen=True)
class Config:
    about: str
    gamma: float = 1.0                        # gamma_l for every MVL probe (card project default)
    moon_n: int = 3000                        # make_moons(3000, noise=0.1, random_state=0), first 1000 train
    moon_noise: float = 0.1
    moon_train: int = 1000
    moon_attack: str = "pgd"                  # base attack of AT and AT-LR
    moon_attack_steps: int = 10               # PGD-10, alpha = 2.5 eps / 10
    moon_eps: float = 0.1
    moon_steps: int = 200                     # Adam 1e-2, batch 128
    moon_lr: float = 1e-2
    moon_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    moon_eval_eps: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4)
    moon_gammas: tuple[float, ...] = (0.1, 0.3, 3.0)   # extra AT-LR runs (card: sweep {0.1, 0.3, 1, 3})
    mnist_train: int = 20_000
    mnist_test: int = 1000
    mnist_width: int = 32                     # conv 32/64, FC 256
    mnist_attack: str = "fgsm_rs"
    mnist_attack_steps: int = 1
    mnist_alpha: float | None = None          # None: 1.25 eps (FGSM-RS) / 2.5 eps / K (PGD)
    mnist_eps: float = 0.3
    mnist_epochs: int = 3
    mnist_mvl_epoch: int = 1
    mnist_lr: float = 1e-3
    mnist_seeds: tuple[int, ...] = (0,)
    mnist_eval_eps: tuple[float, ...] = (0.1, 0.2, 0.3, 0.35, 0.4)
    eval_steps: int = 20                      # PGD-20 evaluation, random start
    batch_size: int = 128
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("seconds: measure identities; Moon FGSM AT vs AT-LR (1 seed, 200 steps); a 4-step MNIST CNN "
                    "code path", moon_attack="fgsm", moon_attack_steps=1, moon_seeds=(0,), moon_gammas=(), mnist_train=512,
                    mnist_test=100, mnist_epochs=1, mnist_width=8, eval_steps=3),
    "cpu": Config("card cpu rung: Moon PGD-10 AT vs AT-LR, 5 seeds; MNIST 20k CNN, FGSM-RS AT at 0.3, 3 epochs, "
                  "MVL after epoch 1; PGD-20 on 1k test images (one core, ~6 min)"),
    "full": Config("card full rung (GPU): Moon 10 seeds; MNIST 60k, PGD-40 AT (eps 0.3, alpha 0.01), 10 epochs, "
                   "3 seeds, PGD-20 on 10k test images", moon_seeds=tuple(range(10)), mnist_train=60_000,
                   mnist_test=10_000, mnist_attack="pgd", mnist_attack_steps=40, mnist_alpha=0.01, mnist_epochs=10,
                   mnist_seeds=(0, 1, 2), threads=None),
}


def identities(seed: int = 0) -> dict[str, float]:
    """|CM(x, x)| and, for a bias-free (positively homogeneous) ReLU MLP with x_hat = c x, |CM - |c - 1||
    (card smoke rung (a)), float64; returns the largest error of each."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = moon_mlp(8, 3, width=16, depth=3, bias=False).double()
    x = torch.randn(64, 8, generator=g, dtype=torch.float64)
    self_err = float(relative_error_profile(net, x, x).abs().max())
    hom = max(float((relative_error_profile(net, x, c * x) - abs(c - 1)).abs().max()) for c in (0.25, 0.9, 1.5, 3.0))
    return {"cm_self_err": self_err, "cm_homogeneous_err": hom}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Run (a) identities, (b) Moon pairs, (c) MNIST pairs; return the claim metrics and per-eps numbers."""
    with ctx.threads(cfg.threads):
        m = identities(ctx.seed)
        m["cm_identity_err"] = max(m["cm_self_err"], m["cm_homogeneous_err"])
        m |= _moon(ctx, cfg)
        m |= _mnist(ctx, cfg)
    return m


def _k(e: float) -> str:
    return str(float(e))


def _mean_acc(runs: list[dict], meth: str, e: float) -> float:
    return sum(r[meth]["acc"][_k(e)] for r in runs) / len(runs)


def _gains(runs: list[dict], eps_list, prefix: str) -> dict[str, float]:
    """Mean robust accuracy per method and eps over seeds, and the gain AT-LR - AT (points)."""
    out = {}
    for e in (0.0, *eps_list):
        at, lr, tag = _mean_acc(runs, "at", e), _mean_acc(runs, "at-lr", e), f"e{e:g}".replace(".", "")
        out |= {f"{prefix}_at_acc_{tag}": at, f"{prefix}_atlr_acc_{tag}": lr, f"{prefix}_gain_{tag}": lr - at}
    return out


def _mvl_ratio(r: dict) -> float:
    at = sum(r["at"]["cm_fgsm"][i] for i in r["mvl"])
    lr = sum(r["at-lr"]["cm_fgsm"][i] for i in r["mvl"])
    return at / lr if lr > 0 else float("inf")


def _tables(ctx: RunContext, name: str, runs: list[dict], seeds, eps_list, steps: int, what: str) -> None:
    ctx.table(name, [{"seed": s, "method": meth, "MVL": str(r["mvl"]),
                      **{f"acc@{e:g}": r[meth]["acc"][_k(e)] for e in (0.0, *eps_list)},
                      "CM on MVL (FGSM)": sum(r[meth]["cm_fgsm"][i] for i in r["mvl"]) / max(len(r["mvl"]), 1)}
                     for s, r in zip(seeds, runs) for meth in METHODS],
              caption=f"{what}: robust accuracy (%) under PGD-{steps} per eps (0 = clean), "
                      "and the mean CM of the MVL probes under FGSM at the training eps")
    r0 = runs[0]
    ctx.table(f"{name}_lsa", [{"probe": i, "in MVL": i in r0["mvl"], **{f"{meth} {k}": r0[meth][f"cm_{k}"][i]
                                                                        for meth in METHODS for k in ("fgsm", "pgd", "noise")}}
                              for i in range(len(r0["at"]["cm_fgsm"]))],
              caption=f"{what}, seed {seeds[0]}: LSA profile (relative error per ReLU probe, batch Frobenius) on test "
                      "inputs at the training eps: FGSM, PGD and random-sign noise of the same size")
    x = [0.0, *eps_list]
    ctx.curve(f"{name}_robust", x=x, ys={meth: [_mean_acc(runs, meth, e) for e in x] for meth in METHODS},
              xlabel="eps (l_inf)", ylabel="robust accuracy (%)", title=f"{what}: base AT vs AT-LR (mean over seeds)")


def _moon(ctx: RunContext, cfg: Config) -> dict[str, float]:
    from sklearn.datasets import make_moons

    X, Y = make_moons(cfg.moon_n, noise=cfg.moon_noise, random_state=0)
    X, Y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y)
    tr, te = (X[:cfg.moon_train], Y[:cfg.moon_train]), (X[cfg.moon_train:], Y[cfg.moon_train:])
    runs = []
    total = (2 + len(cfg.moon_gammas)) * cfg.moon_steps * len(cfg.moon_seeds)
    with ctx.progress(total=total, desc="Moon AT / AT-LR") as bar:
        for s in cfg.moon_seeds:
            sub = ctx.sub(f"moon-s{s}")
            runs.append(sub.cached("pair", lambda s=s, sub=sub: _jsonable(pair_run(
                moon_mlp, tr, te, eps=cfg.moon_eps, attack=cfg.moon_attack, attack_steps=cfg.moon_attack_steps,
                steps=cfg.moon_steps, batch_size=cfg.batch_size, lr=cfg.moon_lr, gamma=cfg.gamma,
                eval_eps=cfg.moon_eval_eps, eval_steps=cfg.eval_steps, clip=None, extra_gammas=cfg.moon_gammas,
                seed=sub.seed, progress=bar.advance))))
    ctx.details["moon_mvl"] = [r["mvl"] for r in runs]
    _tables(ctx, "moon", runs, cfg.moon_seeds, cfg.moon_eval_eps, cfg.eval_steps, "Moon MLP 2-64-64-64-2")
    m = _gains(runs, cfg.moon_eval_eps, "moon")
    m["moon_clean_min"] = min(r[meth]["acc"][_k(0)] for r in runs for meth in METHODS)
    m["moon_mvl_cm_ratio"] = sum(_mvl_ratio(r) for r in runs) / len(runs)
    m |= _lsa_order(runs, "moon")
    if cfg.moon_gammas:
        m |= _gamma_sweep(ctx, runs, cfg)
    return m


def _gamma_sweep(ctx: RunContext, runs: list[dict], cfg: Config) -> dict[str, float]:
    """AT-LR with other gammas on the same seeds and MVL: robust accuracy (mean over seeds) and gains."""
    gs = sorted({cfg.gamma, *cfg.moon_gammas})
    key = {g: "at-lr" if g == cfg.gamma else f"at-lr@{g:g}" for g in gs}
    rows, m = [{"gamma": 0.0, "method": "base AT", **{f"acc@{e:g}": _mean_acc(runs, "at", e)
                                                       for e in (0.0, *cfg.moon_eval_eps)}}], {}
    for g in gs:
        rows.append({"gamma": g, "method": "AT-LR", **{f"acc@{e:g}": _mean_acc(runs, key[g], e)
                                                       for e in (0.0, *cfg.moon_eval_eps)}})
        for e in cfg.moon_eval_eps:
            tag = f"g{g:g}_e{e:g}".replace(".", "")
            m[f"moon_gain_{tag}"] = _mean_acc(runs, key[g], e) - _mean_acc(runs, "at", e)
    ctx.table("moon_gamma", rows, caption="Moon, PGD-20 robust accuracy (%) per eps, mean over seeds: base AT and "
                                          "AT-LR with each gamma (same MVL, init and batches)")
    return m


def _mnist(ctx: RunContext, cfg: Config) -> dict[str, float]:
    from paperzoo.data import load_mnist

    sp = load_mnist()
    if sp.note:
        ctx.note(f"mnist: {sp.note}")
    tr = (sp.train.x[:cfg.mnist_train], sp.train.y[:cfg.mnist_train])
    te = (sp.test.x[:cfg.mnist_test], sp.test.y[:cfg.mnist_test])
    per = len(tr[0]) // cfg.batch_size
    steps, runs = per * cfg.mnist_epochs, []
    with ctx.progress(total=2 * steps * len(cfg.mnist_seeds), desc="MNIST AT / AT-LR") as bar:
        for s in cfg.mnist_seeds:
            sub = ctx.sub(f"mnist-s{s}")
            runs.append(sub.cached("pair", lambda sub=sub: _jsonable(pair_run(
                lambda: lsa_cnn(width=cfg.mnist_width), tr, te, eps=cfg.mnist_eps, attack=cfg.mnist_attack,
                attack_steps=cfg.mnist_attack_steps, attack_alpha=cfg.mnist_alpha, steps=steps,
                batch_size=cfg.batch_size, lr=cfg.mnist_lr, gamma=cfg.gamma, mvl_step=per * cfg.mnist_mvl_epoch,
                eval_eps=cfg.mnist_eval_eps, eval_steps=cfg.eval_steps, clip=(0.0, 1.0), seed=sub.seed,
                progress=bar.advance))))
    ctx.details["mnist_mvl"] = [r["mvl"] for r in runs]
    _tables(ctx, "mnist", runs, cfg.mnist_seeds, cfg.mnist_eval_eps, cfg.eval_steps, "MNIST CNN")
    m = _gains(runs, cfg.mnist_eval_eps, "mnist")
    m["mnist_clean_gap"] = abs(m["mnist_gain_e0"])
    m["mnist_mvl_cm_ratio"] = sum(_mvl_ratio(r) for r in runs) / len(runs)
    m |= _lsa_order(runs, "mnist")
    return m


def _lsa_order(runs: list[dict], prefix: str) -> dict[str, float]:
    """Smallest per-probe ratio CM_FGSM / CM_noise and CM_PGD / CM_FGSM of the base-AT model (min over seeds)."""
    def ratio(a, b):
        return min(x / y if y > 0 else float("inf") for r in runs for x, y in zip(r["at"][a], r["at"][b]))
    return {f"{prefix}_fgsm_over_noise": ratio("cm_fgsm", "cm_noise"), f"{prefix}_pgd_over_fgsm": ratio("cm_pgd", "cm_fgsm")}


def _jsonable(r: dict) -> dict:
    """Accuracy keys as strings (JSON round trip of ``ctx.cached`` gives the same dict on resume)."""
    for meth in [k for k in r if k.startswith("at")]:
        r[meth]["acc"] = {_k(k): v for k, v in r[meth]["acc"].items()}
    return r
