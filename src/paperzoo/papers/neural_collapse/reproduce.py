"""Protocols of the neural-collapse paper (card: shared/papers/neural-collapse.md, "Reproduction ladder").

smoke: UFM, d = 32, M = 2, L-BFGS in float64 on the exact objective; balanced (orthogonal frame),
       balanced + bias (simplex ETF), imbalanced n = [200,100,50,50] (closed form); plus a tiny MNIST
       MLP run (measured, no band) so the network path is exercised.
cpu:   (a) UFM, d = 64, M in {1,3,6}, the three variants, 30k full-batch SGD steps (lr 0.1, momentum
       0.9); (b) MNIST: 500 per class, MLP 3 ReLU x 256 + M in {1,3} bias-free linear layers, MSE,
       Adam 1e-3, wd 1e-4 (backbone) and lambda_W = lambda_H = 1e-4 (head, features), 100 epochs, NC
       every 5 epochs; imbalanced variant 1000/500/100 per class group, M in {1,3}.
full:  (a) as cpu with M in {1,3,6,9}; (b) CIFAR-10 (the shared copy: 50k train; test split = first
       1,000 official test images), MLP 6 ReLU x 2048 + M in {1,3,6,9}, Adam 1e-4, weight and feature
       decay 1e-5 (official README), 200 epochs; imbalanced 5000/2500/500 per class group, M in {1,3}.
Every network run uses the official ``--sep_decay`` form: decay on the head and on the features
entering it, in the UFM scaling (see ``experiments.network_run``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from paperzoo.data import TensorSet
from paperzoo.papers.neural_collapse.experiments import balanced_subset, network_run, synthetic_suite
from paperzoo.train import RunContext

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)  # official datasets.py (card)


@dataclass(frozen=True)
class Config:
    syn_depths: tuple[int, ...] = (1, 3, 6)
    syn_d: int = 64
    syn_solver: str = "sgd"
    syn_steps: int = 30_000
    syn_every: int = 1000
    dataset: str = "mnist"
    per_class: int = 500
    imb_groups: tuple[tuple[int, int], ...] = ((3, 1000), (3, 500), (4, 100))  # (number of classes, count)
    depth_relu: int = 3
    width: int = 256
    net_depths: tuple[int, ...] = (1, 3)
    imb_depths: tuple[int, ...] = (1, 3)
    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    sep_decay: tuple[float, float] = (1e-4, 1e-4)  # (lambda_W, lambda_H) of the head / features
    eval_every: int = 5


CONFIGS = {
    "smoke": Config(syn_depths=(2,), syn_d=32, syn_solver="lbfgs", per_class=20, imb_groups=((5, 30), (5, 10)),
                    depth_relu=2, width=32, net_depths=(2,), imb_depths=(2,), epochs=3, batch_size=50,
                    eval_every=1),
    "cpu": Config(),
    "full": Config(syn_depths=(1, 3, 6, 9), dataset="cifar10", per_class=5000,
                   imb_groups=((3, 5000), (3, 2500), (4, 500)), depth_relu=6, width=2048, net_depths=(1, 3, 6, 9),
                   epochs=200, lr=1e-4, weight_decay=1e-5, sep_decay=(1e-5, 1e-5)),  # official README
}


def tiny_full() -> Config:
    """The full protocol's code path (CIFAR-10, all variants) at a size that runs in seconds (tests)."""
    return replace(CONFIGS["full"], syn_depths=(1, 2), syn_steps=20, syn_every=10, per_class=8,
                   imb_groups=((3, 12), (3, 8), (4, 4)), depth_relu=1, width=16, net_depths=(1, 2),
                   imb_depths=(2,), epochs=1, batch_size=32)


def _data(cfg: Config):
    if cfg.dataset == "mnist":
        from paperzoo.data import load_mnist

        sp = load_mnist()
        norm = lambda x: (x - MNIST_MEAN) / MNIST_STD  # noqa: E731
    elif cfg.dataset == "cifar10":
        from paperzoo.data import load_cifar10

        sp = load_cifar10()
        m, s = torch.tensor(CIFAR_MEAN)[:, None, None], torch.tensor(CIFAR_STD)[:, None, None]
        norm = lambda x: (x - m) / s  # noqa: E731
    else:
        raise ValueError(f"unknown dataset {cfg.dataset!r}")
    return sp.train, sp.test, norm, sp.note


def run(ctx: RunContext, config: Config | None = None) -> dict[str, float]:
    """Run ``ctx.protocol`` (or an explicit ``config``, e.g. ``tiny_full()`` in the tests)."""
    cfg = config or CONFIGS[ctx.protocol]
    m: dict[str, float] = {}

    # (a) unconstrained features + deep linear head
    syn: dict[str, dict] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 64 x 64 matrices: extra intra-op threads only add contention; restored below
    total = len(cfg.syn_depths) * (cfg.syn_steps if cfg.syn_solver == "sgd" else 1)
    with ctx.progress(total=total, desc="UFM synthetic") as bar:
        for M in cfg.syn_depths:
            def part(M=M):
                return synthetic_suite(M, d=cfg.syn_d, solver=cfg.syn_solver, steps=cfg.syn_steps,
                                       every=cfg.syn_every, seed=ctx.seed, device=ctx.device,
                                       on_step=lambda s: bar.advance(cfg.syn_every if s else 0))
            res = ctx.cached(f"synthetic-M{M}", part)
            for name, r in res.items():
                syn[f"{name}_M{M}"] = r
                ctx.log(part="synthetic", variant=name, depth=M, **{k: v for k, v in r["final"][0].items()})
            if cfg.syn_solver != "sgd":
                bar.advance(1)
    torch.set_num_threads(threads)
    ctx.details["synthetic"] = {k: {kk: vv for kk, vv in v.items() if kk != "curve"} for k, v in syn.items()}
    ctx.details["synthetic_curves"] = {k: v["curve"] for k, v in syn.items()}
    by = lambda variant: [v for k, v in syn.items() if k.startswith(variant + "_M")]  # noqa: E731
    m["synthetic_nc1_max"] = max(v["worst_nc1"] for v in syn.values())
    m["synthetic_of_max"] = max(v["worst_nc23"] for v in by("balanced"))
    m["synthetic_etf_max"] = max(v["worst_nc23"] for v in by("balanced_bias"))
    m["synthetic_imbalanced_max"] = max(v["worst_nc23"] for v in by("imbalanced"))
    for k, v in syn.items():
        m[f"syn_{k}_worst"] = v["worst"]

    # (b) MLP + deep linear head on images
    train, test, norm, note = _data(cfg)
    if note:
        ctx.note(f"{cfg.dataset}: {note}")
    K = int(train.y.max()) + 1
    bal = balanced_subset(train, [cfg.per_class] * K).map(norm)
    imb_counts = [c for n, c in cfg.imb_groups for _ in range(n)]
    imb = balanced_subset(train, imb_counts).map(norm)
    test = TensorSet(norm(test.x[:1000]), test.y[:1000], test.name)
    net: dict[str, dict] = {}
    runs = [(f"balanced_M{M}", bal, M, cfg.sep_decay) for M in cfg.net_depths]
    runs += [(f"imbalanced_M{M}", imb, M, cfg.sep_decay) for M in cfg.imb_depths]
    for name, data, M, sep in runs:
        net[name] = ctx.cached(f"net-{name}", lambda data=data, M=M, sep=sep, name=name: network_run(
            data, depth_relu=cfg.depth_relu, depth_linear=M, width=cfg.width, epochs=cfg.epochs,
            batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, sep_decay=sep,
            eval_every=cfg.eval_every, seed=ctx.seed,
            device=ctx.device, run_dir=ctx.run_dir(f"net-{name}"), resume=ctx.resume,
            progress=ctx.show_progress, test=test, desc=f"{cfg.dataset} {name}"))
        r = net[name]
        ctx.log(part="network", run=name, train_acc=r["train_acc"], nc1_init=r["nc1_init"], nc1_final=r["nc1_final"],
                **{f"of_{k}": v for k, v in r["of_final"].items() if k != "layers"})
    ctx.details["network"] = {k: {kk: vv for kk, vv in v.items() if kk != "history"} for k, v in net.items()}
    ctx.details["network_curves"] = {k: _curve(v["history"]) for k, v in net.items()}
    balanced = [v for k, v in net.items() if k.startswith("balanced")]
    m["net_train_acc"] = min(v["train_acc"] for v in balanced)
    m["net_nc1_drop"] = min(v["nc1_drop"] for v in balanced)
    m["net_of_max"] = max(max(v["of_final"][k] for k in ("NC2_W", "NC2_H", "NC3")) for v in balanced)
    m["net_of_max_all_layers"] = max(v["of_final"]["worst_nc23"] for v in balanced)
    ratios = []
    for k, v in net.items():
        m[f"net_{k}_train_acc"] = v["train_acc"]
        m[f"net_{k}_nc1_final"] = v["nc1_final"]
        m[f"net_{k}_of_NC2_W_init"] = v["of_init"]["NC2_W"]  # a random wide W is already near the OF
        for key in ("NC2_W", "NC2_H", "NC3"):
            m[f"net_{k}_of_{key}"] = v["of_final"][key]
        if "test_acc" in v:
            m[f"net_{k}_test_acc"] = v["test_acc"]
        if "cf_final" in v:
            of = _mean23(v["of_final"])
            cf = _mean23(v["cf_final"])
            m[f"net_{k}_nc23_of"], m[f"net_{k}_nc23_cf"] = of, cf
            ratios.append(of / cf if cf > 0 else math.inf)
    if ratios:
        m["net_imbalanced_of_over_cf"] = min(ratios)
    _plot(ctx, syn, net)
    return m


def _mean23(d: dict) -> float:
    return (d["NC2_W"] + d["NC2_H"] + d["NC3"]) / 3


def _curve(history: list[dict]) -> list[dict]:
    rows = []
    for h in history:
        row = {"epoch": h["epoch"], "train_acc": h["train_acc"]}
        for t in ("of", "cf"):
            if t in h:
                row.update({f"{t}_{k}": h[t][k] for k in ("NC1", "NC2_W", "NC2_H", "NC3")})
        rows.append(row)
    return rows


def _plot(ctx: RunContext, syn: dict, net: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        ctx.note("matplotlib not installed: no plots")
        return
    keys = ("NC1", "NC2_W", "NC2_H", "NC3")
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for name, r in syn.items():
        steps = [c["step"] for c in r["curve"]]
        for ax, k in zip(axes[0], keys):
            ax.semilogy(steps, [max(c[k], 1e-16) for c in r["curve"]], label=name)
            ax.set_title(f"UFM {k} (vs predicted geometry)")
            ax.set_xlabel("SGD iteration")
    for name, r in net.items():
        h = _curve(r["history"])
        t = "cf" if "cf_NC1" in h[0] else "of"
        for ax, k in zip(axes[1], keys):
            ax.semilogy([c["epoch"] for c in h], [max(c[f"{t}_{k}"], 1e-16) for c in h], label=f"{name} ({t})")
            ax.set_title(f"network {k}")
            ax.set_xlabel("epoch")
    axes[0][0].legend(fontsize=6)
    axes[1][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(ctx.out / "neural_collapse.png", dpi=100)
    plt.close(fig)


def results_markdown(record) -> str:
    """The README's result tables, printed from a recorded result (a path or a ``Result``)."""
    from paperzoo.results import Result

    r = record if isinstance(record, Result) else Result.load(record)
    m, det = r.metrics, r.details
    out = [f"| claim | ours | paper | band ({r.protocol}) | verdict |", "|---|---|---|---|---|"]
    out += [f"| `{v.metric}` | {v.ours:.4g} | {v.paper} | {v.band} | **{v.verdict}** |" for v in r.verdicts]
    depths = sorted({v["depth"] for v in det["synthetic"].values()})
    out += ["", "| UFM variant | target | " + " | ".join(f"M={d}" for d in depths) + " |",
            "|---|---|" + "---|" * len(depths)]
    for var in ("balanced", "balanced_bias", "imbalanced"):
        cells = [f"{m[f'syn_{var}_M{d}_worst']:.2g}" if f"syn_{var}_M{d}_worst" in m else "–" for d in depths]
        out.append(f"| {var} | {det['synthetic'][f'{var}_M{depths[0]}']['target']} | " + " | ".join(cells) + " |")
    out += ["", "| network run | train acc % | test acc % (first 1k) | NC1 init → final | NC2_W (init) | NC2_H | NC3 "
                "| mean NC2/3 vs OF | vs closed form |", "|---|---|---|---|---|---|---|---|---|"]
    for k, v in det["network"].items():
        of, cf = v["of_final"], v.get("cf_final")
        out.append(f"| {k} | {v['train_acc']:.2f} | {v.get('test_acc', math.nan):.1f} | {v['nc1_init']:.3g} → "
                   f"{v['nc1_final']:.2g} | {of['NC2_W']:.3g} ({v['of_init']['NC2_W']:.3g}) | {of['NC2_H']:.3g} | "
                   f"{of['NC3']:.3g} | {_mean23(of):.3g} | {f'{_mean23(cf):.3g}' if cf else '–'} |")
    return "\n".join(out)


def plot(result, path) -> bool:
    """NC metrics along training: the unconstrained-feature runs (per SGD step) and the MNIST
    MLP runs (per epoch), log scale -> ``path``."""
    import matplotlib.pyplot as plt

    syn, net = result.details.get("synthetic_curves") or {}, result.details.get("network_curves") or {}
    if not syn and not net:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, rows in syn.items():
        worst = [max(r[k] for k in ("NC2_H", "NC2_W", "NC3") if k in r) for r in rows]
        axes[0].plot([r["step"] for r in rows], worst, lw=1, label=name)
    axes[0].set(yscale="log", xlabel="SGD step", ylabel="worst of NC2_H, NC2_W, NC3",
                title="unconstrained features + deep linear head")
    axes[0].axhline(1e-2, color="k", lw=0.8, ls=":")
    for name, rows in net.items():
        line, = axes[1].plot([r["epoch"] for r in rows], [r["of_NC1"] for r in rows], label=f"{name} NC1")
        axes[1].plot([r["epoch"] for r in rows], [r["of_NC2_H"] for r in rows], ls="--", color=line.get_color(),
                     label=f"{name} NC2_H")
    axes[1].set(yscale="log", xlabel="epoch", ylabel="metric", title="MNIST MLP + linear head (MSE)")
    for ax in axes:
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(f"neural-collapse ({result.protocol})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
