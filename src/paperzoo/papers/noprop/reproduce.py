"""NoProp-DT protocols.

smoke: the card's schedule identity (oracle block, Monte Carlo) and 2-class Gaussian blobs
       (MLP blocks, T = 10, one-hot, 5 epochs) for NoProp and the back-prop baseline.
cpu:   MNIST, T = 10, one-hot, conv widths (16, 32, 64), FC (128, 64), first 12k training images,
       6 epochs, full 10k test set; NoProp vs the back-prop baseline with the same blocks and epochs.
full:  MNIST with the paper's block (32, 64, 128 / 256, 128), 100 epochs, then CIFAR-10 (150 epochs;
       the shared copy's test split is the first 1,000 official test images).
Claim metric: stochastic inference (Eq. 3 with noise), mean test accuracy over sampling seeds 0, 1, 2;
the deterministic chain (z_0 = 0, eps = 0) is reported beside it as ``*_det``.
"""
from __future__ import annotations

import math
import time

import torch

from paperzoo.data import TensorSet, load_cifar10, load_mnist
from paperzoo.papers.noprop.blocks import DenoiseBlockCNN, DenoiseBlockMLP
from paperzoo.papers.noprop.learner import NoPropLearner, chain_metrics, train_backprop_baseline
from paperzoo.papers.noprop.model import BackpropBaseline, NoPropDT
from paperzoo.papers.noprop.schedules import cosine_alpha_bar, oracle_chain_deviation
from paperzoo.train import RunContext

SEEDS = (0, 1, 2)  # sampling seeds of the stochastic inference chain
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # card: inputs standardised

# baseline_more_epochs (optional): after the same-epochs comparison the baseline goes on (resumed from
# its checkpoint) to this many epochs, a diagnostic of whether it only under-trains (not a claim). It is
# off in the cpu protocol to keep it under 15 minutes; the 18-epoch diagnostic is recorded at commit 6242d61.
CPU = dict(n_train=12_000, n_test=None, epochs=6, widths=(16, 32, 64), fc=(128, 64), T=10, eval_every_n=2_000,
           baseline_more_epochs=None)
FULL = dict(n_train=None, n_test=None, epochs=100, widths=(32, 64, 128), fc=(256, 128), T=10, eval_every_n=None)
FULL_CIFAR = dict(n_train=None, n_test=None, epochs=150, widths=(32, 64, 128), fc=(256, 128), T=10, eval_every_n=None)
TINY = dict(n_train=256, n_test=200, epochs=1, widths=(4, 4, 4), fc=(8, 8), T=2, eval_every_n=100,
            baseline_more_epochs=2)


def make_blobs(n: int, seed: int, dim: int = 10, shift: float = 2.5) -> TensorSet:
    """The card's smoke set: y ~ U{0, 1}, x ~ N(+-shift e_1, I) in ``dim`` dims (Bayes ~ 99.4%)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, dim, generator=g)
    x[:, 0] += shift * (2 * y - 1).float()
    return TensorSet(x, y, "blobs")


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95% interval for a binomial proportion k/n, in %."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


@torch.no_grad()
def vertex_usage(model, data: TensorSet, batch_size: int = 1000) -> int:
    """How many distinct argmax coordinates z_T takes on ``data`` (deterministic chain, one-hot
    embeddings): below n_classes means several classes are sent to the same embedding vertex."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    used = torch.cat([model.sample_path(data.x[i:i + batch_size].to(dev), stochastic=False)[-1].argmax(1).cpu()
                      for i in range(0, len(data), batch_size)])
    model.train(was)
    return int(used.unique().numel())


def _pair(ctx: RunContext, tag: str, train: TensorSet, test: TensorSet, block, *, T: int, n_classes: int,
          epochs: int, order: str, eval_every_n: int | None, channels_last: bool,
          baseline_more_epochs: int | None = None) -> dict:
    """Train NoProp-DT and the back-prop baseline with the same blocks/epochs; evaluate both."""
    dev = ctx.device
    per_epoch_test = test if eval_every_n is None else TensorSet(test.x[:eval_every_n], test.y[:eval_every_n])
    out: dict = {}
    for kind in ("noprop", "backprop"):
        torch.manual_seed(ctx.seed + (0 if kind == "noprop" else 1))
        cls = NoPropDT if kind == "noprop" else BackpropBaseline
        model = cls(block, T=T, n_classes=n_classes, emb="onehot").to(dev)
        if channels_last:  # CPU speed only: mkldnn convolutions run ~1.7x faster in NHWC
            model = model.to(memory_format=torch.channels_last)
        t0 = time.perf_counter()
        run_dir = ctx.run_dir(f"{tag}-{kind}")
        if kind == "noprop":
            learner = NoPropLearner(model, order=order, eval_seeds=(0,))
            hist = learner.fit(train, epochs=epochs, eval_data=per_epoch_test, run_dir=run_dir, resume=ctx.resume,
                               seed=ctx.seed, progress=ctx.show_progress, desc=f"NoProp-DT {tag}")
        else:
            hist = train_backprop_baseline(model, train, epochs=epochs, eval_data=per_epoch_test, run_dir=run_dir,
                                           resume=ctx.resume, seed=ctx.seed, device=dev,
                                           progress=ctx.show_progress)
        train_s = time.perf_counter() - t0
        final = ctx.cached(f"{tag}-{kind}-final", lambda: chain_metrics(model, test, seeds=SEEDS))
        out[kind] = {"final": final, "train_seconds": round(train_s, 1),
                     "vertices_used": ctx.cached(f"{tag}-{kind}-vertices", lambda: vertex_usage(model, per_epoch_test))}
        if kind == "backprop" and baseline_more_epochs:
            t0 = time.perf_counter()
            hist = train_backprop_baseline(model, train, epochs=baseline_more_epochs, eval_data=per_epoch_test,
                                           run_dir=run_dir, resume=True, seed=ctx.seed, device=dev,
                                           progress=ctx.show_progress)
            more = ctx.cached(f"{tag}-{kind}-final-{baseline_more_epochs}ep",
                              lambda: chain_metrics(model, test, seeds=SEEDS))
            out[kind][f"final_{baseline_more_epochs}ep"] = more
            out[kind][f"vertices_used_{baseline_more_epochs}ep"] = ctx.cached(
                f"{tag}-{kind}-vertices-{baseline_more_epochs}ep", lambda: vertex_usage(model, per_epoch_test))
            out[kind]["extra_train_seconds"] = round(time.perf_counter() - t0, 1)
        out[kind]["per_epoch"] = [{k: r[k] for k in ("epoch", "loss", "acc", "acc_det", "seconds") if k in r}
                                  for r in hist]
        ctx.log(stage=f"{tag}-{kind}", **{k: v for k, v in final.items() if k != "acc_seeds"})
    ctx.details[tag] = {**out, "per_epoch_eval": (f"first {len(per_epoch_test)} test images, stochastic seed 0 "
                                                  "and deterministic"),
                        "final_eval": f"{len(test)} test images, stochastic seeds {list(SEEDS)} and deterministic",
                        "order": order, "T": T, "epochs": epochs, "n_train": len(train)}
    return out


def _metrics(out: dict, prefix: str = "") -> dict[str, float]:
    npf, bpf = out["noprop"]["final"], out["backprop"]["final"]
    m = {f"{prefix}test_acc": npf["acc"], f"{prefix}test_acc_det": npf["acc_det"],
         f"{prefix}backprop_test_acc": bpf["acc"], f"{prefix}backprop_test_acc_det": bpf["acc_det"],
         f"{prefix}gap_vs_backprop": abs(npf["acc"] - bpf["acc"])}
    for k, v in out["backprop"].items():  # the longer-trained baseline (diagnostic)
        if k.startswith("final_"):
            m[f"{prefix}backprop_test_acc_{k[6:]}"] = v["acc"]
            m[f"{prefix}backprop_test_acc_det_{k[6:]}"] = v["acc_det"]
    m.update({f"{prefix}test_acc_seed{s}": a for s, a in zip(SEEDS, npf["acc_seeds"])})
    return m


def _smoke(ctx: RunContext) -> dict[str, float]:
    dev = oracle_chain_deviation(cosine_alpha_bar(10), n_chains=200_000, generator=ctx.generator(1))
    ctx.details["schedule_identity"] = dev
    train, test = make_blobs(2_000, ctx.seed * 2 + 1), make_blobs(1_000, ctx.seed * 2 + 2)
    out = _pair(ctx, "blobs", train, test, lambda: DenoiseBlockMLP(10, 2, 2, fc=(64, 64)), T=10, n_classes=2,
                epochs=5, order="blockwise", eval_every_n=None, channels_last=False)
    return {"schedule_identity_max_dev": dev["max_dev"], **_metrics(out)}


def _mnist(ctx: RunContext, cfg: dict, order: str) -> dict[str, float]:
    data = load_mnist()
    norm = lambda s, n: TensorSet((s.x[:n] - MNIST_MEAN) / MNIST_STD, s.y[:n], s.name)  # noqa: E731
    train, test = norm(data.train, cfg["n_train"]), norm(data.test, cfg["n_test"])
    block = lambda: DenoiseBlockCNN(1, 10, 10, widths=cfg["widths"], fc=cfg["fc"])  # noqa: E731
    out = _pair(ctx, "mnist", train, test, block, T=cfg["T"], n_classes=10, epochs=cfg["epochs"], order=order,
                eval_every_n=cfg["eval_every_n"], channels_last=ctx.device.type == "cpu",
                baseline_more_epochs=cfg.get("baseline_more_epochs"))
    return _metrics(out)


def _cifar10(ctx: RunContext, cfg: dict, order: str) -> dict[str, float]:
    data = load_cifar10()
    xtr = data.train.x[:cfg["n_train"]]
    mean, std = xtr.mean((0, 2, 3), keepdim=True), xtr.std((0, 2, 3), keepdim=True)
    norm = lambda s, n: TensorSet((s.x[:n] - mean) / std, s.y[:n], s.name)  # noqa: E731
    train, test = norm(data.train, cfg["n_train"]), norm(data.test, cfg["n_test"])
    block = lambda: DenoiseBlockCNN(3, 10, 10, widths=cfg["widths"], fc=cfg["fc"], image_size=32)  # noqa: E731
    out = _pair(ctx, "cifar10", train, test, block, T=cfg["T"], n_classes=10, epochs=cfg["epochs"], order=order,
                eval_every_n=cfg["eval_every_n"], channels_last=ctx.device.type == "cpu")
    m = _metrics(out, "cifar10_")
    lo, hi = wilson_interval(round(m["cifar10_test_acc"] * len(test) / 100), len(test))
    m.update(cifar10_ci95_lo=lo, cifar10_ci95_hi=hi, cifar10_n_test=len(test))
    ctx.note(f"CIFAR-10: {data.note or 'official test split'}; n_test = {len(test)}; Wilson 95% CI of the "
             f"stochastic accuracy [{lo:.1f}, {hi:.1f}] %")
    return m


def _full(ctx: RunContext, tiny: bool = False) -> dict[str, float]:
    order = "fused" if ctx.device.type == "cuda" else "blockwise"
    ctx.note(f"update order: {order} (fused on GPU: one step of every block per batch, each on its own L_t)")
    metrics = _mnist(ctx, TINY if tiny else FULL, order)
    metrics.update(_cifar10(ctx, TINY if tiny else FULL_CIFAR, order))
    return metrics


def run(ctx: RunContext) -> dict[str, float]:
    if ctx.protocol == "smoke":
        return _smoke(ctx)
    if ctx.protocol == "cpu":
        ctx.note("MNIST, first 12,000 training images, full 10k test set; reduced block widths (16, 32, 64) / "
                 "(128, 64); 6 epochs (each = T = 10 block passes); Algorithm 1 order (blockwise).")
        return _mnist(ctx, CPU, "blockwise")
    if ctx.protocol == "full":
        return _full(ctx)
    raise ValueError(f"noprop: unknown protocol {ctx.protocol!r}")


def results_markdown(result) -> str:
    """The README's results section for one recorded ``Result`` (tables generated, never typed)."""
    fmt = lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
    r = result
    lines = [f"From `results/{r.slug}/{r.protocol}-{r.device}.json` (seed {r.seed}, {r.device_name}, "
             f"{r.wall_seconds / 60:.1f} min, commit {r.git_commit[:10]}).", "",
             "| claim | ours | paper | band | verdict |", "|---|---|---|---|---|"]
    lines += [f"| `{v.metric}` | {fmt(v.ours)} | {fmt(v.paper)} | {v.band or '-'} | {v.verdict} |" for v in r.verdicts]
    claimed = {v.metric for v in r.verdicts}
    other = [f"`{k}` = {v:.2f}" for k, v in r.metrics.items() if k not in claimed]
    lines += ["", "Other measured numbers: " + ", ".join(other) + "."]
    tag = next((t for t in ("mnist", "blobs", "cifar10") if t in r.details), None)
    if tag is not None:
        d = r.details[tag]
        npe, bpe = d["noprop"]["per_epoch"], d["backprop"]["per_epoch"]
        lines += ["", f"Per-epoch test accuracy (%), {d['per_epoch_eval']}:", "",
                  "| epoch | NoProp stoch. | NoProp det. | back-prop stoch. | back-prop det. |", "|---|---|---|---|---|"]
        for i in range(max(len(npe), len(bpe))):
            a = npe[i] if i < len(npe) else {}
            b = bpe[i] if i < len(bpe) else {}
            cell = lambda row, k: f"{row[k]:.2f}" if k in row else "-"  # noqa: E731
            lines.append(f"| {i + 1} | {cell(a, 'acc')} | {cell(a, 'acc_det')} | {cell(b, 'acc')} | {cell(b, 'acc_det')} |")
        lines += ["", f"z_T argmax vertices used on the per-epoch test images: NoProp {d['noprop']['vertices_used']}, "
                      f"back-prop {d['backprop']['vertices_used']}.", "",
                  f"Training time: NoProp {d['noprop']['train_seconds']:.0f} s, back-prop "
                  f"{d['backprop']['train_seconds']:.0f} s ({d['epochs']} epochs, {d['n_train']} images). "
                  f"Final: {d['final_eval']}."]
    return "\n".join(lines)


def plot(result, path) -> bool:
    """Per-epoch test accuracy of NoProp-DT and the back-prop baseline (stochastic and deterministic)."""
    import matplotlib.pyplot as plt

    tag = next((t for t in ("mnist", "cifar10", "blobs") if t in result.details), None)
    if tag is None:
        return False
    d = result.details[tag]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for kind, colour in (("noprop", "C0"), ("backprop", "C3")):
        rows = d[kind]["per_epoch"]
        ep = [r["epoch"] for r in rows]
        ax.plot(ep, [r.get("acc") for r in rows], color=colour, marker="o", label=f"{kind} (stochastic)")
        ax.plot(ep, [r.get("acc_det") for r in rows], color=colour, ls="--", label=f"{kind} (deterministic)")
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100),
           title=f"noprop ({result.protocol}, {tag}): NoProp-DT vs back-prop, same blocks and epochs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
