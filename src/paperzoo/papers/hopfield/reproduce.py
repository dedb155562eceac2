"""Protocols of the Hopfield paper (card: /shared/papers/hopfield.md, "Reproduction ladder").

smoke: theorem checks (CCCP descent, one-step retrieval, beta -> 0 global average), attention parity,
       a small random-pattern capacity curve and 3 epochs of bit-pattern MIL (synthetic data only).
cpu:   + capacity curves on binarised MNIST and random +-1 patterns (N = 16 ... 4096, beta 1 ... 1000,
       vs classical Hebbian), BitPatternSet MIL (Hopfield / HopfieldPooling / HopfieldLookup vs mean
       pooling, 100 epochs), MNIST-bags (HopfieldPooling vs attention-MIL, 20 epochs, 1 bag per step).
full:  + MNIST-bags at mean bag length 10/50/100, 5 seeds, HopfieldPooling vs attention vs gated
       attention, ROC-AUC on 1000 test bags; MIL sets with 10 folds.
cpu and full also run a bonus: cross-validated ROC-AUC of HopfieldPooling on Musk1, Musk2 and Elephant
(the paper's MIL values are NOT verified; reported without a band).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch

from paperzoo.data import TensorSet
from paperzoo.papers.hopfield import experiments as ex
from paperzoo.papers.hopfield.data import bit_pattern_set, load_mil_csv, mnist_bags, mnist_sign_patterns, sign_patterns
from paperzoo.papers.hopfield.models import (
    HopfieldLookupMIL,
    HopfieldMIL,
    HopfieldPoolingMIL,
    MeanPoolMIL,
    MnistBagsMIL,
)
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    capacity_sizes: tuple[int, ...] = (16, 64, 256, 1024, 4096)
    capacity_betas: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)
    capacity_mnist: bool = True
    census_queries: int = 256
    bit_bags: int = 2048
    bit_epochs: int = 100
    bit_models: tuple[str, ...] = ("hopfield", "pooling", "lookup", "mean")
    bags_train: int = 200
    bags_test: int = 50
    bags_lengths: tuple[int, ...] = (10,)
    bags_seeds: int = 1
    bags_epochs: int = 20
    bags_models: tuple[str, ...] = ("hopfield", "attention")
    bags_batch: int = 1
    mil_sets: tuple[str, ...] = ("elephant", "musk1", "musk2")
    mil_folds: int = 5
    mil_epochs: int = 50


# The bit-pattern demo's "adapted" settings (examples/bit_pattern/bit_pattern_demo.ipynb), which the demo
# introduces "to increase the training as well as the validation performance" over the bare defaults.
BIT_ADAPTED = dict(d_k=8, num_heads=8, update_steps_max=3, beta=0.25, dropout=0.5)

CONFIGS = {
    "smoke": Config(capacity_sizes=(16, 64, 256), capacity_betas=(1.0, 1000.0), capacity_mnist=False,
                    bit_bags=256, bit_epochs=3, bags_lengths=(), mil_sets=()),
    "cpu": Config(),
    "full": Config(bags_test=1000, bags_lengths=(10, 50, 100), bags_seeds=5,
                   bags_models=("hopfield", "attention", "gated"), mil_folds=10),
}


def run(ctx: RunContext, config: Config | None = None) -> dict[str, float]:
    """Run ``ctx.protocol`` (or an explicit ``config``, e.g. a tiny ``full`` for tests)."""
    cfg = config or CONFIGS[ctx.protocol]
    m: dict[str, float] = {}
    t0 = time.perf_counter()
    m.update(ctx.cached("theory", lambda: _theory(ctx.seed)))
    ctx.log(part="theory", seconds=time.perf_counter() - t0, **m)

    # (a) capacity / retrieval curves
    t = time.perf_counter()
    rand = ctx.cached("capacity_random", lambda: ex.capacity_curve(
        sign_patterns(max(cfg.capacity_sizes), 784, seed=ctx.seed), cfg.capacity_sizes, cfg.capacity_betas))
    ctx.details["capacity_random"] = rand
    top = max(cfg.capacity_betas)
    m[f"random_modern_b{top:g}_min_acc"] = min(r[f"modern_beta{top:g}"] for r in rand)
    for r in rand:
        if r["N"] == 256:
            m["random_classical_acc_n256"] = r["classical"]
        if r["N"] == 16:
            m["random_classical_acc_n16"] = r["classical"]
    if cfg.capacity_mnist:
        from paperzoo.data import load_mnist

        mnist = load_mnist()
        pats = mnist_sign_patterns(mnist.train, max(cfg.capacity_sizes))
        curve = ctx.cached("capacity_mnist", lambda: ex.capacity_curve(pats, cfg.capacity_sizes, cfg.capacity_betas,
                                                                       height=28))
        ctx.details["capacity_mnist"] = curve
        for r in curve:
            for key in [k for k in r if k.startswith("modern") or k == "classical"]:
                m[f"mnist_{key.replace('modern_beta', 'modern_b')}_acc_n{r['N']}"] = r[key]
        n_census = 1024 if 1024 <= len(pats) else len(pats)
        census = ctx.cached("census_mnist", lambda: ex.fixed_point_census(
            pats[:n_census], cfg.capacity_betas, queries=cfg.census_queries, height=28))
        ctx.details["fixed_point_census_mnist_n1024"] = census
        m["mnist_beta1_global_frac"] = census["beta1"]["global"]
    ctx.log(part="capacity", seconds=time.perf_counter() - t)

    # (b) BitPatternSet MIL
    t = time.perf_counter()
    m.update(_bit_patterns(ctx, cfg))
    ctx.log(part="bit_patterns", seconds=time.perf_counter() - t)

    # (c) MNIST-bags
    if cfg.bags_lengths:
        t = time.perf_counter()
        m.update(_mnist_bags(ctx, cfg))
        ctx.log(part="mnist_bags", seconds=time.perf_counter() - t)

    # (d) bonus: MIL benchmark sets available offline (Musk1, Musk2, Elephant); no paper number is verified
    for name in cfg.mil_sets:
        t = time.perf_counter()
        res = ctx.cached(f"mil_{name}", lambda name=name: ex.mil_benchmark(
            load_mil_csv(name), folds=cfg.mil_folds, epochs=cfg.mil_epochs, seed=ctx.seed, device=ctx.device,
            run_dir=str(ctx.run_dir(f"mil_{name}")), resume=ctx.resume, progress=ctx.show_progress,
            desc=f"MIL {name}"))
        ctx.details[f"mil_{name}"] = {**res, "folds": cfg.mil_folds, "epochs": cfg.mil_epochs, "model": ex.MIL_MODEL}
        m[f"mil_{name}_auc"], m[f"mil_{name}_auc_std"] = res["auc_mean"], res["auc_std"]
        ctx.log(part=f"mil_{name}", seconds=time.perf_counter() - t)
    return m


def _theory(seed: int) -> dict:
    r = ex.one_step_retrieval(seed)
    return {"cccp_max_energy_increase": ex.cccp_descent(seed),
            "cccp_wrong_update_max_increase": ex.cccp_descent(seed, wrong=True, betas=(0.1, 10.0)),
            "one_step_retrieval_frac": r["frac"], "one_step_retrieval_min_cos": r["min_cos"],
            "small_beta_mean_rel_dist": r["small_beta_max_rel"], "mha_parity_max_abs": ex.mha_parity(seed)}


def _bit_patterns(ctx: RunContext, cfg: Config) -> dict:
    data, _ = bit_pattern_set(cfg.bit_bags, 16, 8, num_signals_per_bag=1, num_bits=8)
    perm = torch.randperm(len(data), generator=ctx.generator(11))
    n_train = int(0.8 * len(data))
    tr, te = perm[:n_train], perm[n_train:]
    train_set, test_set = TensorSet(data.x[tr], data.y[tr]), TensorSet(data.x[te], data.y[te])
    unique = train_set.x.flatten(0, 1).unique(dim=0)  # demo: the lookup stores the unique training instances
    quantity = int(unique.shape[0])

    def lookup() -> HopfieldLookupMIL:
        model = HopfieldLookupMIL(8, 16, quantity=quantity, separate_targets=True, targets_trainable=False)
        with torch.no_grad():
            model.lookup.stored.copy_(unique)
        return model

    builders = {"hopfield": lambda: HopfieldMIL(8, 16, **BIT_ADAPTED),
                "pooling": lambda: HopfieldPoolingMIL(8, **BIT_ADAPTED), "lookup": lookup,
                "mean": lambda: MeanPoolMIL(8)}
    out, table = {}, {}
    for i, name in enumerate(cfg.bit_models):
        def job(name=name, i=i):
            ctx.seed_all(100 + i)
            model = builders[name]()
            return ex.train_mil(model, train_set, test_set, unpack=ex.unpack_fixed, epochs=cfg.bit_epochs,
                                batch_size=32, optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3), seed=ctx.seed,
                                device=ctx.device, run_dir=ctx.run_dir(f"bit_{name}"), resume=ctx.resume,
                                progress=ctx.show_progress, desc=f"bit-pattern {name}")
        res = ctx.cached(f"bit_{name}", job)
        table[name] = res
        out[f"bitpattern_{name}_acc"] = res["test_acc"]
    ctx.details["bit_patterns"] = {"train_bags": len(train_set), "test_bags": len(test_set),
                                   "lookup_quantity": quantity, "results": table}
    if "pooling" in cfg.bit_models and "mean" in cfg.bit_models:
        out["bitpattern_pooling_minus_mean"] = out["bitpattern_pooling_acc"] - out["bitpattern_mean_acc"]
    return out


def _mnist_bags(ctx: RunContext, cfg: Config) -> dict:
    from paperzoo.data import load_mnist

    mnist = load_mnist()
    out, table = {}, {}
    for length in cfg.bags_lengths:
        for s in range(cfg.bags_seeds):
            seed = ctx.seed + s
            train = mnist_bags(mnist.train, cfg.bags_train, mean_bag_length=length, seed=1 + 1000 * seed).packed()
            test = mnist_bags(mnist.test, cfg.bags_test, mean_bag_length=length, seed=2 + 1000 * seed).packed()
            for j, kind in enumerate(cfg.bags_models):
                key = f"bags_len{length}_seed{seed}_{kind}"

                def job(kind=kind, j=j, seed=seed, train=train, test=test, key=key):
                    torch.manual_seed(seed * 1000 + 200 + j)
                    return ex.train_mil(MnistBagsMIL(kind), train, test, unpack=ex.unpack_mnist,
                                        epochs=cfg.bags_epochs, batch_size=cfg.bags_batch,
                                        optimizer=lambda p: torch.optim.AdamW(p, lr=5e-4, weight_decay=1e-4),
                                        seed=seed, device=ctx.device, run_dir=ctx.run_dir(key), resume=ctx.resume,
                                        progress=ctx.show_progress, desc=f"mnist-bags {kind} L={length}")
                table[key] = ctx.cached(key, job)
    ctx.details["mnist_bags"] = table
    for length in cfg.bags_lengths:
        for kind in cfg.bags_models:
            runs = [table[f"bags_len{length}_seed{ctx.seed + s}_{kind}"] for s in range(cfg.bags_seeds)]
            for metric in ("acc", "auc"):
                vals = torch.tensor([r[f"test_{metric}"] for r in runs], dtype=torch.float64)
                out[f"mnist_bags_{kind}_{metric}_len{length}"] = float(vals.mean())
                if len(runs) > 1:
                    out[f"mnist_bags_{kind}_{metric}_len{length}_std"] = float(vals.std())
    if 10 in cfg.bags_lengths:
        out["mnist_bags_hopfield_acc"] = out["mnist_bags_hopfield_acc_len10"]
    return out


def tiny_full() -> Config:
    """The full protocol's code path at a size that runs in seconds (used by the tests)."""
    return replace(CONFIGS["full"], capacity_sizes=(16, 64), capacity_mnist=False, bit_bags=128, bit_epochs=1,
                   bags_train=4, bags_test=6, bags_lengths=(3,), bags_seeds=2, bags_epochs=1, mil_sets=("musk1",),
                   mil_folds=2, mil_epochs=1)


def plot(result, path) -> bool:
    """Capacity curves (fraction retrieved vs N) on binarised MNIST and random ±1 patterns -> ``path``."""
    import matplotlib.pyplot as plt

    panels = [(k, t) for k, t in (("capacity_mnist", "binarised MNIST, lower half masked"),
                                  ("capacity_random", "random ±1 patterns, d = 784"))
              if result.details.get(k)]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        rows = result.details[key]
        ns = [r["N"] for r in rows]
        for col in [c for c in rows[0] if c.startswith("modern_beta")] + ["classical"]:
            label = col.replace("modern_beta", "modern, β = ") if col != "classical" else "classical (Hebbian)"
            ax.plot(ns, [r[col] for r in rows], marker="o", ls="--" if col == "classical" else "-", label=label)
        ax.set(xscale="log", xlabel="stored patterns N", ylabel="fraction retrieved (cos ≥ 0.95)", ylim=(-0.03, 1.03),
               title=title)
        ax.legend(fontsize=8)
    fig.suptitle(f"hopfield ({result.protocol}): one-step modern update vs classical net")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
