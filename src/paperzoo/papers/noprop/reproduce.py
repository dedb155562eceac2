"""NoProp-DT protocols: NoProp against the same blocks trained by back-prop, same epochs and optimizer.

smoke: the card's schedule identity (oracle block, Monte Carlo) and 2-class Gaussian blobs
       (MLP blocks, T = 10, one-hot, 5 epochs).
cpu:   MNIST, T = 10, one-hot, conv widths (16, 32, 64), FC (128, 64), first 12k training images,
       3 epochs (the card's ladder: 6), full 10k test set.
full:  MNIST with the paper's block (32, 64, 128 / 256, 128), 100 epochs, then CIFAR-10 (150 epochs;
       the shared copy's test split is the first 1,000 official test images).
Claim metric: stochastic inference (Eq. 3 with noise), mean test accuracy over the sampling seeds;
the deterministic chain (z_0 = 0, eps = 0) is reported beside it as ``*_det``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.data import TensorSet, load_cifar10, load_mnist
from paperzoo.data.synthetic import MNIST_MEAN, MNIST_STD, blobs
from paperzoo.papers.noprop.blocks import DenoiseBlockCNN, DenoiseBlockMLP
from paperzoo.papers.noprop.learner import NoPropLearner, chain_metrics, train_backprop_baseline
from paperzoo.papers.noprop.model import BackpropBaseline, NoPropDT
from paperzoo.papers.noprop.schedules import cosine_alpha_bar, oracle_chain_deviation
from paperzoo.stats import wilson_interval
from paperzoo.train import RunContext

DATASETS = ("blobs", "mnist", "cifar10")


@dataclass(frozen=True)
class Config:
    about: str
    data: tuple[str, ...] = ("mnist",)  # run in turn: blobs | mnist | cifar10
    epochs: int = 6  # blobs / MNIST epochs (an epoch = T block passes in the blockwise order)
    cifar10_epochs: int = 150  # paper (card): 150 epochs on CIFAR-10
    n_train: int | None = 12_000  # first n training images (None: all)
    n_test: int | None = None  # first n test images for the final numbers (None: all)
    eval_every_n: int | None = 2_000  # per-epoch curves on the first n test images (None: all)
    T: int = 10  # blocks (paper DT default)
    widths: tuple[int, ...] = (16, 32, 64)  # conv widths (card cpu: 4x cheaper than Fig. 6's 32, 64, 128)
    fc: tuple[int, int] = (128, 64)  # FC widths (Fig. 6: 256, 128); MLP blocks on blobs use them too
    eta: float = 0.1  # paper DT
    batch_size: int = 128  # paper
    lr: float = 1e-3  # paper: AdamW lr 1e-3, weight decay 1e-3
    weight_decay: float = 1e-3
    order: str = "auto"  # blockwise (Algorithm 1) | fused | auto (fused on a GPU)
    sampling_seeds: tuple[int, ...] = (0, 1, 2)  # stochastic inference, averaged
    identity_chains: int = 0  # > 0: the oracle schedule identity with that many Monte-Carlo chains
    threads: int | None = None


PROTOCOLS = {
    "smoke": Config("seconds: schedule identity (oracle block, 200k chains) + 2-class blobs, MLP blocks, T=10, "
                    "one-hot, 5 epochs, NoProp vs back-prop", data=("blobs",), epochs=5, n_train=2_000,
                    n_test=1_000, eval_every_n=None, fc=(64, 64), identity_chains=200_000, order="blockwise",
                    threads=1),
    "cpu": Config("card cpu ladder at half the epochs: MNIST 12k train / 10k test, T=10, one-hot, conv (16,32,64) / "
                  "FC (128,64), 3 epochs, NoProp vs the same blocks by back-prop, 2 threads (estimate: ~4 min alone)",
                  epochs=3, order="blockwise", threads=2),
    "full": Config("paper setting: MNIST, Fig. 6 blocks, 100 epochs, then CIFAR-10 150 epochs (test = first 1,000 "
                   "official test images); one GPU, fused order, about an hour (estimate, not run)",
                   data=("mnist", "cifar10"), epochs=100, n_train=None, eval_every_n=None, widths=(32, 64, 128),
                   fc=(256, 128)),
}


def _load(name: str, cfg: Config, ctx: RunContext) -> tuple[TensorSet, TensorSet, object]:
    """(train, test, block factory) for one data set, inputs standardised."""
    if name == "blobs":  # the card's smoke set: x ~ N(+-2.5 e_1, I) in 10-D, Bayes ~ 99.4%
        train, test = blobs(cfg.n_train or 2_000, ctx.seed * 2 + 1), blobs(cfg.n_test or 1_000, ctx.seed * 2 + 2)
        return train, test, lambda: DenoiseBlockMLP(10, 2, 2, fc=cfg.fc)
    if name == "mnist":
        data = load_mnist()
        mean, std = MNIST_MEAN, MNIST_STD  # card: inputs standardised
        chans, size = 1, 28
    else:
        data = load_cifar10()
        xtr = data.train.x[:cfg.n_train]
        mean, std = xtr.mean((0, 2, 3), keepdim=True), xtr.std((0, 2, 3), keepdim=True)
        chans, size = 3, 32
        ctx.note(f"CIFAR-10: {data.note or 'official test split'}")

    def norm(s: TensorSet, n: int | None) -> TensorSet:
        return TensorSet((s.x[:n] - mean) / std, s.y[:n], s.name)

    return norm(data.train, cfg.n_train), norm(data.test, cfg.n_test), \
        lambda: DenoiseBlockCNN(chans, 10, 10, widths=cfg.widths, fc=cfg.fc, image_size=size)


def _pair(ctx: RunContext, cfg: Config, name: str, epochs: int) -> dict:
    """Train NoProp-DT and the back-prop baseline with the same blocks/epochs on one data set; evaluate both."""
    train, test, block = _load(name, cfg, ctx)
    order = cfg.order if cfg.order != "auto" else ("fused" if ctx.device.type == "cuda" else "blockwise")
    n_eval = len(test) if cfg.eval_every_n is None else min(cfg.eval_every_n, len(test))
    curve_test = TensorSet(test.x[:n_eval], test.y[:n_eval], test.name)
    out: dict = {}
    for kind in ("noprop", "backprop"):
        sub = ctx.sub(f"{name}-{kind}")
        sub.seed_all()
        cls = NoPropDT if kind == "noprop" else BackpropBaseline
        kw = {"eta": cfg.eta} if kind == "noprop" else {}
        model = cls(block, T=cfg.T, num_classes=int(train.y.max()) + 1, **kw).to(ctx.device)
        if ctx.device.type == "cpu" and train.x.ndim == 4:  # CPU speed only: mkldnn convolutions ~1.7x faster
            model = model.to(memory_format=torch.channels_last)
        if kind == "noprop":
            learner = NoPropLearner(model, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                    order=order)
            hist = learner.fit(train, epochs=epochs, eval_data=curve_test, ctx=sub, desc=f"NoProp-DT {name}")
        else:
            hist = train_backprop_baseline(model, train, epochs=epochs, ctx=sub, batch_size=cfg.batch_size, lr=cfg.lr,
                                           weight_decay=cfg.weight_decay, eval_data=curve_test,
                                           desc=f"back-prop {name}")
        final = sub.cached("final", lambda: chain_metrics(model, test, seeds=cfg.sampling_seeds))
        out[kind] = {"final": final, "per_epoch": hist,
                     "train_seconds": round(sum(r.get("seconds", 0.0) for r in hist), 1)}
        ctx.log(stage=f"{name}-{kind}", **{k: v for k, v in final.items() if k != "acc_seeds"})
    ctx.curve(f"{name}-learning", x=[r["epoch"] for r in out["noprop"]["per_epoch"]],
              ys={f"{k} ({lab})": [r[key] for r in out[k]["per_epoch"]]
                  for k in ("noprop", "backprop") for lab, key in (("stochastic", "acc"), ("deterministic", "acc_det"))},
              xlabel="epoch", ylabel=f"test accuracy (%), first {n_eval} test images",
              title=f"NoProp-DT vs back-prop ({name}, same blocks, epochs and optimizer)")
    ctx.table(f"{name}-final", [
        {"method": "NoProp-DT" if k == "noprop" else "back-prop (same blocks)", "acc stochastic": out[k]["final"]["acc"],
         "acc deterministic": out[k]["final"]["acc_det"], "classes used": out[k]["final"]["classes_used"],
         "train s": out[k]["train_seconds"]} for k in ("noprop", "backprop")],
        caption=f"{len(test)} test images; stochastic = mean over sampling seeds {list(cfg.sampling_seeds)}; "
                f"{epochs} epochs on {len(train)} images, {order} order, T = {cfg.T}")
    ctx.details[name] = {k: {"final": out[k]["final"], "train_seconds": out[k]["train_seconds"]} for k in out}
    out["n_test"] = len(test)
    return out


def _metrics(out: dict, prefix: str, seeds) -> dict[str, float]:
    npf, bpf = out["noprop"]["final"], out["backprop"]["final"]
    m = {f"{prefix}test_acc": npf["acc"], f"{prefix}test_acc_det": npf["acc_det"],
         f"{prefix}backprop_test_acc": bpf["acc"], f"{prefix}backprop_test_acc_det": bpf["acc_det"],
         f"{prefix}gap_vs_backprop": abs(npf["acc"] - bpf["acc"]),
         f"{prefix}classes_used": npf["classes_used"], f"{prefix}backprop_classes_used": bpf["classes_used"]}
    m.update({f"{prefix}test_acc_seed{s}": a for s, a in zip(seeds, npf["acc_seeds"])})
    return m


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    bad = [d for d in cfg.data if d not in DATASETS]
    if bad or not cfg.data:
        raise ValueError(f"noprop: data must name some of {DATASETS}, got {cfg.data!r}")
    metrics: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        if cfg.identity_chains > 0:
            dev = oracle_chain_deviation(cosine_alpha_bar(cfg.T), n_chains=cfg.identity_chains,
                                         generator=ctx.generator(1))
            ctx.details["schedule_identity"] = dev
            metrics["schedule_identity_max_dev"] = dev["max_dev"]
        for name in cfg.data:
            out = _pair(ctx, cfg, name, cfg.cifar10_epochs if name == "cifar10" else cfg.epochs)
            prefix = "cifar10_" if name == "cifar10" else ""
            metrics.update(_metrics(out, prefix, cfg.sampling_seeds))
            if name == "cifar10":
                n = out["n_test"]
                lo, hi = wilson_interval(round(metrics["cifar10_test_acc"] * n / 100), n)
                metrics.update(cifar10_ci95_lo=100 * lo, cifar10_ci95_hi=100 * hi)
    return metrics
