"""Protocols of the Hopfield paper (card: shared/papers/hopfield.md, "Reproduction ladder").

smoke: theorem checks (CCCP descent, one-step retrieval, beta -> 0 global average), attention parity,
       random-pattern capacity (modern N <= 256; the classical net's transition grid) and 3 epochs of
       bit-pattern MIL (synthetic data only).
cpu:   + capacity curves on binarised MNIST and random +-1 patterns (N = 16 ... 4096, beta 1 ... 1000,
       vs classical Hebbian), BitPatternSet MIL (Hopfield / HopfieldPooling / HopfieldLookup vs mean
       pooling, 100 epochs), MNIST-bags (HopfieldPooling vs attention-MIL, 20 epochs, 1 bag per step),
       and a bonus: cross-validated ROC-AUC of HopfieldPooling on Musk1, Musk2 and Elephant.
full:  + the bit-pattern demo's 250 epochs over 3 seeds, MNIST-bags at mean bag length 10/50/100, 5 seeds,
       HopfieldPooling vs attention vs gated attention on 1000 test bags; MIL sets with 10 folds.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.data import TensorSet
from paperzoo.papers.hopfield import experiments as ex
from paperzoo.papers.hopfield.data import bit_pattern_set, load_mil_csv, mnist_bags, mnist_sign_patterns, sign_patterns
from paperzoo.papers.hopfield.models import HopfieldLookupMIL, HopfieldMIL, HopfieldPoolingMIL, MeanPoolMIL, MnistBagsMIL
from paperzoo.train import RunContext

D_RANDOM = 784  # random +-1 patterns get MNIST's dimension, so the two capacity curves compare


@dataclass(frozen=True)
class Config:
    about: str
    capacity_sizes: tuple[int, ...] = (16, 64, 256, 1024, 4096)
    capacity_betas: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)
    transition_sizes: tuple[int, ...] = (16, 32, 48, 64, 80, 88, 96, 104, 112, 120, 128, 144, 160, 192, 256)
    capacity_mnist: bool = True
    census_queries: int = 256
    bit_bags: int = 2048
    bit_epochs: int = 100
    bit_seeds: int = 1
    bit_models: tuple[str, ...] = ("hopfield", "pooling", "lookup", "mean")
    bags_train: int = 200
    bags_test: int = 50
    bags_lengths: tuple[int, ...] = (10,)
    bags_seeds: int = 1
    bags_epochs: int = 20
    bags_models: tuple[str, ...] = ("hopfield", "attention")
    mil_sets: tuple[str, ...] = ("elephant", "musk1", "musk2")
    mil_folds: int = 5
    mil_epochs: int = 50
    threads: int | None = None  # smoke/cpu: 1 (small batches; as fast as 2 threads and immune to a busy machine)


PROTOCOLS = {
    "smoke": Config("seconds: theorem checks, attention parity, random-pattern capacity (classical transition), "
                    "3 epochs of bit-pattern MIL on 256 bags", capacity_sizes=(16, 64, 256),
                    capacity_betas=(1.0, 1000.0), capacity_mnist=False, bit_bags=256, bit_epochs=3, bags_lengths=(),
                    mil_sets=(), threads=1),
    "cpu": Config("capacity curves (binarised MNIST, random +-1; N 16..4096) vs classical, bit-pattern MIL 100 "
                  "epochs, MNIST-bags 20 epochs, MIL bonus 5-fold (about 5.5 min, one thread)", threads=1),
    "full": Config("cpu + the bit-pattern demo's 250 epochs x 3 seeds, MNIST-bags at lengths 10/50/100 x 5 seeds vs "
                   "attention and gated attention on 1000 test bags, MIL 10-fold (one GPU)", bit_epochs=250,
                   bit_seeds=3, bags_test=1000, bags_lengths=(10, 50, 100), bags_seeds=5,
                   bags_models=("hopfield", "attention", "gated"), mil_folds=10),
}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Run one protocol; every unit of work is cached (``--resume`` skips finished ones)."""
    with ctx.threads(cfg.threads):
        m = dict(ctx.cached("theory", lambda: _theory(ctx.seed)))
        m.update(_capacity(ctx, cfg))
        m.update(_bit_patterns(ctx, cfg))
        if cfg.bags_lengths:
            m.update(_mnist_bags(ctx, cfg))
        if cfg.mil_sets:
            m.update(_mil_sets(ctx, cfg))
    return m


def _theory(seed: int) -> dict:
    r = ex.one_step_retrieval(seed)
    return {"cccp_max_energy_increase": ex.cccp_descent(seed),
            "cccp_wrong_update_max_increase": ex.cccp_descent(seed, wrong=True, betas=(0.1, 10.0)),
            "one_step_retrieval_frac": r["frac"], "one_step_retrieval_min_cos": r["min_cos"],
            "small_beta_max_rel_dist": r["small_beta_max_rel"], "mha_parity_max_abs": ex.mha_parity(seed)}


def _curve(ctx: RunContext, name: str, rows: list[dict], title: str) -> None:
    cols = [c for c in rows[0] if c.startswith("modern_beta")] + ["classical"]
    ctx.curve(name, x=[r["N"] for r in rows],
              ys={c.replace("modern_beta", "modern, beta = ") if c != "classical" else "classical (Hebbian)":
                  [r[c] for r in rows] for c in cols},
              xlabel="stored patterns N", ylabel="fraction retrieved (cos >= 0.95)", title=title, logx=True)


def _capacity(ctx: RunContext, cfg: Config) -> dict:
    m: dict[str, float] = {}
    top = max(cfg.capacity_betas)
    rand = sign_patterns(max(max(cfg.capacity_sizes), max(cfg.transition_sizes)), D_RANDOM, seed=ctx.seed)
    rows = ctx.cached("capacity_random", lambda: ex.capacity_curve(rand, cfg.capacity_sizes, cfg.capacity_betas))
    _curve(ctx, "capacity_random", rows, "random +-1 patterns, d = 784, lower half masked, one update")
    m[f"random_modern_b{top:g}_min_acc"] = min(r[f"modern_beta{top:g}"] for r in rows)
    trans = ctx.cached("classical_transition", lambda: ex.classical_transition(torch.sign(rand),
                                                                                cfg.transition_sizes))
    ctx.curve("classical_transition", x=[n / D_RANDOM for n in trans["N"]], ys={"classical (Hebbian)": trans["classical"]},
              xlabel="load N / d", ylabel="fraction retrieved (cos >= 0.95)",
              title="classical net, random +-1 patterns, d = 784 (paper: C ~ 0.14 d)", hline=0.5)
    m["random_classical_capacity_per_d"] = trans["capacity_per_d"]
    if not cfg.capacity_mnist:
        return m
    from paperzoo.data import load_mnist

    pats = mnist_sign_patterns(load_mnist().train, max(cfg.capacity_sizes))
    rows = ctx.cached("capacity_mnist", lambda: ex.capacity_curve(pats, cfg.capacity_sizes, cfg.capacity_betas,
                                                                  height=28))
    _curve(ctx, "capacity_mnist", rows, "binarised MNIST, lower half masked, one update")
    for r in rows:
        for key in [k for k in r if k.startswith("modern") or k == "classical"]:
            m[f"mnist_{key.replace('modern_beta', 'modern_b')}_acc_n{r['N']}"] = r[key]
    census = ctx.cached("census_mnist", lambda: ex.fixed_point_census(
        pats[:min(1024, len(pats))], cfg.capacity_betas, queries=cfg.census_queries, height=28))
    ctx.table("fixed_point_census", [{"beta": float(b), **census[f"beta{b:g}"]} for b in cfg.capacity_betas],
              caption=f"fixed-point types from {cfg.census_queries} half-masked queries, N = {min(1024, len(pats))} "
                      "binarised MNIST patterns (fractions; median k = patterns above 1/(2N) weight)")
    m["mnist_beta1_global_frac"] = census["beta1"]["global"] if "beta1" in census else float("nan")
    return m


def _bit_patterns(ctx: RunContext, cfg: Config) -> dict:
    data, _ = bit_pattern_set(cfg.bit_bags, 16, 8, num_signals_per_bag=1, num_bits=8)
    perm = torch.randperm(len(data), generator=ctx.generator(11))
    n_train = int(0.8 * len(data))
    tr, te = perm[:n_train], perm[n_train:]
    train_set, test_set = TensorSet(data.x[tr], data.y[tr]), TensorSet(data.x[te], data.y[te])
    unique = train_set.x.flatten(0, 1).unique(dim=0)  # demo: the lookup stores the unique training instances

    def lookup() -> HopfieldLookupMIL:
        model = HopfieldLookupMIL(8, 16, quantity=int(unique.shape[0]))
        with torch.no_grad():
            model.lookup.stored.copy_(unique)
        return model

    builders = {"hopfield": HopfieldMIL, "pooling": HopfieldPoolingMIL, "lookup": lookup, "mean": MeanPoolMIL}
    out, rows, curves = {}, [], {}
    for name in cfg.bit_models:
        accs = []
        for s in range(cfg.bit_seeds):
            sub = ctx.sub(f"bit_{name}_s{s}")

            def job(name=name, sub=sub):
                sub.seed_all()
                return ex.train_mil(builders[name](), train_set, test_set, ctx=sub, unpack=ex.unpack_fixed,
                                    epochs=cfg.bit_epochs, batch_size=32,
                                    optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3), desc=f"bit-pattern {name}")
            res = ctx.cached(f"bit_{name}_s{s}", job)
            accs.append(res["test_acc"])
            curves.setdefault(name, res["curve"])
        acc = torch.tensor(accs, dtype=torch.float64)
        out[f"bitpattern_{name}_acc"] = float(acc.mean())
        if len(accs) > 1:
            out[f"bitpattern_{name}_acc_std"] = float(acc.std())
        rows.append({"model": name, "test_acc": float(acc.mean()), "std": float(acc.std()) if len(accs) > 1 else 0.0,
                     "seeds": len(accs)})
    ctx.table("bit_patterns", rows, caption=f"BitPatternSet ({len(train_set)}/{len(test_set)} bags), final-epoch "
                                            f"test accuracy after {cfg.bit_epochs} epochs, mean over seeds")
    ctx.curve("bit_patterns_learning", x=list(range(1, cfg.bit_epochs + 1)), ys=curves, xlabel="epoch",
              ylabel="test accuracy (seed 0)", title="BitPatternSet MIL", hline=0.84)
    if "pooling" in cfg.bit_models and "mean" in cfg.bit_models:
        out["bitpattern_pooling_minus_mean"] = out["bitpattern_pooling_acc"] - out["bitpattern_mean_acc"]
    return out


def _mnist_bags(ctx: RunContext, cfg: Config) -> dict:
    from paperzoo.data import load_mnist

    mnist = load_mnist()
    out, rows = {}, []
    for length in cfg.bags_lengths:
        runs: dict[str, list[dict]] = {k: [] for k in cfg.bags_models}
        for s in range(cfg.bags_seeds):
            seed = ctx.seed + s
            train = mnist_bags(mnist.train, cfg.bags_train, mean_bag_length=length, seed=1 + 1000 * seed).packed()
            test = mnist_bags(mnist.test, cfg.bags_test, mean_bag_length=length, seed=2 + 1000 * seed).packed()
            for kind in cfg.bags_models:
                name = f"bags_len{length}_s{s}_{kind}"
                sub = ctx.sub(name)

                def job(kind=kind, sub=sub, train=train, test=test):
                    sub.seed_all()
                    return ex.train_mil(MnistBagsMIL(pooling=kind), train, test, ctx=sub, unpack=ex.unpack_mnist,
                                        epochs=cfg.bags_epochs, batch_size=1,
                                        optimizer=lambda p: torch.optim.AdamW(p, lr=5e-4, weight_decay=1e-4),
                                        desc=f"mnist-bags {kind} L={length}")
                runs[kind].append(ctx.cached(name, job))
        for kind, rs in runs.items():
            row = {"mean_bag_length": length, "pooling": kind, "seeds": len(rs)}
            for metric in ("acc", "auc"):
                vals = torch.tensor([r[f"test_{metric}"] for r in rs], dtype=torch.float64)
                out[f"mnist_bags_{kind}_{metric}_len{length}"] = row[f"test_{metric}"] = float(vals.mean())
                if len(rs) > 1:
                    out[f"mnist_bags_{kind}_{metric}_len{length}_std"] = float(vals.std())
            rows.append(row)
    ctx.table("mnist_bags", rows, caption=f"MNIST-bags: {cfg.bags_train} training / {cfg.bags_test} test bags, "
                                          f"{cfg.bags_epochs} epochs, final-epoch test accuracy and ROC-AUC")
    if 10 in cfg.bags_lengths and "hopfield" in cfg.bags_models:
        out["mnist_bags_hopfield_acc"] = out["mnist_bags_hopfield_acc_len10"]
    return out


def _mil_sets(ctx: RunContext, cfg: Config) -> dict:
    out, rows = {}, []
    for name in cfg.mil_sets:
        sub = ctx.sub(f"mil_{name}")
        res = ctx.cached(f"mil_{name}", lambda name=name, sub=sub: ex.mil_benchmark(
            load_mil_csv(name), sub, folds=cfg.mil_folds, epochs=cfg.mil_epochs, desc=f"MIL {name}"))
        out[f"mil_{name}_auc"], out[f"mil_{name}_auc_std"] = res["auc_mean"], res["auc_std"]
        rows.append({"data set": name, "roc_auc": res["auc_mean"], "std over folds": res["auc_std"],
                     "folds": cfg.mil_folds})
    ctx.table("mil_benchmarks", rows, caption=f"bonus: HopfieldPooling, one untuned configuration, stratified "
                                              f"{cfg.mil_folds}-fold CV, {cfg.mil_epochs} epochs (no paper number verified)")
    return out
