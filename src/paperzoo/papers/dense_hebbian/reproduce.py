"""Dense Hebbian protocols (the card's reproduction ladder).

smoke: exact identities (flip cost, tensor form), the Hopfield limit, T = 0 low-load retrieval vs the
       binomial value (card smoke a-c), about a second.
cpu:   + capacity P = 2 vs P = 4 at N = 100, learning curves at N = 2000, detection at K = N / 10, attractor
       classification on MNIST and Fashion-MNIST (card cpu a-d), one thread.
full:  the same at larger N (learning curves N = 10^4, detection N = 5000), capacity through the P = 4 boundary,
       the full 10k test sets with M up to 5000 and the centred-pattern variant (not run here; GPU or many cores).
"""
from __future__ import annotations

from dataclasses import dataclass

from paperzoo.papers.dense_hebbian import experiments as ex
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    Ps: tuple[int, ...] = (2, 4)  # interaction orders compared (card: shallow P = 2 vs dense P = 4)
    sweeps: int = 30  # T = 0 sweeps cap per evaluation (it stops earlier at a fixed point)
    low_load_N: int = 2000  # card smoke (c): N = 2000, K = 3, P = 4, r = 0.2, M = 100, 3 seeds
    low_load_seeds: tuple[int, ...] = (0, 1, 2)
    capacity_N: int = 100  # card cpu (a): N = 100, r = 1, M = 1
    capacity_Ks: tuple[int, ...] = ()  # () skips; card cpu (a): 10, 50, 200, 1000
    capacity_starts: int = 20  # card cpu (a): 20 starts
    lc_N: int = 2000  # card cpu (b): N = 2000, K = 10, r in {0.1, 0.2, 0.4}, M in 1..400
    lc_K: int = 10
    lc_rs: tuple[float, ...] = ()  # () skips
    lc_Ms: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 400)
    lc_snr_min: float = 10.0  # "S/N large" (the card gives no number): theory.snr >= 10
    detect_N: int = 1000  # card cpu (c): N = 1000, K = N / 10, r = 0.3, M in {1, 2, 5, 10}
    detect_Ms: tuple[int, ...] = ()  # () skips
    detect_r: float = 0.3
    data: tuple[str, ...] = ()  # card cpu (d): mnist, fashion-mnist; () skips
    data_Ms: tuple[int, ...] = (10, 100, 1000)  # card cpu (d): M in {10, 100, 1000} per class
    n_test: int = 1000  # card cpu (d): 1000 test images
    centred: tuple[bool, ...] = (False,)  # False: the card's raw +-1 protocol; True: centred patterns too
    threads: int | None = 1


CPU = dict(capacity_Ks=(10, 50, 200, 1000, 3000), lc_rs=(0.1, 0.2, 0.4), detect_Ms=(1, 2, 5, 10),
           data=("mnist", "fashion-mnist"))
PROTOCOLS = {
    "smoke": Config("seconds: exact identities (flip cost, tensor form, float64), Hopfield limit (P=2, M=1, r=1), "
                    "T=0 low-load retrieval vs the binomial value (card smoke a-c)"),
    "cpu": Config("card cpu ladder on one thread: smoke + capacity N=100 (K up to 3000), learning curves N=2000 "
                  "K=10, detection N=1000 K=100, MNIST/Fashion-MNIST attractors M<=1000 on 1000 test images", **CPU),
    "full": Config("larger N: capacity N=100 with K up to 30000 (through the P=4 estimate ~7200), learning curves "
                   "N=10^4, detection N=5000 K=500, full 10k test sets, M up to 5000, raw and centred (not run here)",
                   capacity_Ks=(10, 14, 20, 50, 200, 1000, 3000, 10000, 30000), lc_N=10_000,
                   lc_Ms=(1, 2, 5, 10, 20, 50, 100, 200, 400, 1000), lc_rs=(0.05, 0.1, 0.2, 0.4), detect_N=5000,
                   detect_Ms=(1, 2, 5, 10, 20), data=("mnist", "fashion-mnist"), data_Ms=(10, 100, 1000, 5000),
                   n_test=10_000, centred=(False, True), sweeps=100, threads=None),
}


def _check(cfg: Config) -> None:
    if any(P < 2 or P % 2 for P in cfg.Ps) or not cfg.Ps:
        raise ValueError(f"Ps must be even integers >= 2, got {cfg.Ps!r}")
    bad = [d for d in cfg.data if d not in ex.LOADERS]
    if bad:
        raise ValueError(f"data must name some of {sorted(ex.LOADERS)}, got {bad}")
    for name in ("lc_Ms", "detect_Ms", "data_Ms"):
        v = getattr(cfg, name)
        if any(b <= a for a, b in zip(v, v[1:])) or (v and v[0] < 1):
            raise ValueError(f"{name} must be strictly increasing positive ints, got {v!r}")


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    _check(cfg)
    metrics: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        metrics.update(ex.identity_errors(ctx.generator(1)))
        metrics.update(ex.hopfield_limit(500, 3, ctx.generator(2)))  # card smoke (b): K = 3, N = 500
        metrics.update(ex.low_load(ctx, N=cfg.low_load_N, K=3, P=4, r=0.2, M=100, seeds=cfg.low_load_seeds))
        if cfg.capacity_Ks:
            metrics.update(ex.capacity(ctx, N=cfg.capacity_N, Ps=cfg.Ps, Ks=cfg.capacity_Ks, starts=cfg.capacity_starts))
        if cfg.lc_rs:
            metrics.update(ex.learning_curves(ctx, N=cfg.lc_N, K=cfg.lc_K, Ps=cfg.Ps, rs=cfg.lc_rs, Ms=cfg.lc_Ms,
                                              sweeps=cfg.sweeps, snr_min=cfg.lc_snr_min))
        if cfg.detect_Ms:
            metrics.update(ex.detection(ctx, N=cfg.detect_N, K=cfg.detect_N // 10, Ps=cfg.Ps, r=cfg.detect_r,
                                        Ms=cfg.detect_Ms, sweeps=cfg.sweeps))
        for dataset in cfg.data:
            for center in cfg.centred:
                metrics.update(ex.attractors(ctx, dataset=dataset, Ps=cfg.Ps, Ms=cfg.data_Ms, n_test=cfg.n_test,
                                             sweeps=cfg.sweeps, center=center))
        top = max(cfg.data_Ms)
        if "mnist" in cfg.data and {2, 4} <= set(cfg.Ps):
            metrics["mnist_p4_minus_p2"] = metrics[f"mnist_acc_p4_M{top}"] - metrics[f"mnist_acc_p2_M{top}"]
        for d in cfg.data:  # the claims read the largest M of the ladder
            for P in cfg.Ps:
                metrics[f"{d.replace('-', '')}_acc_p{P}_top"] = metrics[f"{d}_acc_p{P}_M{top}"]
    return metrics
