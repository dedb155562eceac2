"""Protocols of Scaling MLPs: exact identities, bottleneck vs standard MLP, size ladders and power-law fits.

Every protocol measures the card's smoke identities (parameter-count closed form, the LION sign step,
the power-law fit on synthetic data with known exponents, a B_2-Wi_64 overfitting 512 MNIST images).
Then, per data set (Fashion-MNIST, CIFAR-10): a ladder of bottleneck MLPs B_{blocks}-Wi_{w}, one standard
MLP, test accuracy for each, and a power-law fit of test error (%) against training compute (3 x forward
multiply-adds x samples seen, the official count). CIFAR-10 numbers are on the 1,000-image official
test subset of the shared copy, with 95 % Wilson intervals.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.data import TensorSet, load_cifar10, load_fashion_mnist, load_mnist
from paperzoo.nn import count_params
from paperzoo.papers.scaling_mlps.models import BottleneckMLP, StandardMLP, bottleneck_params, from_arch_string
from paperzoo.papers.scaling_mlps.scaling import fit_power_law, is_decreasing, train_flops
from paperzoo.papers.scaling_mlps.training import Lion, make_loss, make_optimizer
from paperzoo.stats import wilson_interval
from paperzoo.train import RunContext, accuracy, fit

SYNTH = {"a": 3.0e3, "b": 0.3, "c": 4.0}  # synthetic law for the fit check: error % = 3e3 C^-0.3 + 4


@dataclass(frozen=True)
class Config:
    about: str
    fmnist_n_train: int | None = 20_000     # card cpu ladder: 20k train, full 10k test
    fmnist_n_test: int | None = None
    fmnist_epochs: int = 8
    fmnist_widths: tuple[int, ...] = (32, 64, 128, 256)   # card cpu ladder B_4-Wi_{32,64,128,256}
    fmnist_blocks: int = 4
    fmnist_main_width: int = 128            # B_4-Wi_128 is compared with the standard MLP (card)
    fmnist_std_depth: int = 4
    fmnist_std_width: int = 512
    cifar_n_train: int | None = None        # None: all 50k
    cifar_epochs: int = 4
    cifar_widths: tuple[int, ...] = (32, 64, 128)   # () skips CIFAR-10
    cifar_blocks: int = 4
    cifar_main_width: int = 128
    cifar_std_depth: int = 4
    cifar_std_width: int = 256
    optimizer: str = "adamw"                # card cpu: AdamW 1e-3; the paper: LION 5e-5
    lr: float = 1e-3
    weight_decay: float = 0.0               # official default 0
    batch_size: int = 256
    smoothing: float = 0.3                  # official default 0.3
    mixup: float = 0.0                      # official 0.8; off on the CPU (card)
    augment: bool = False                   # flips + crops, CIFAR-10 only (official: on)
    overfit_steps: int = 200
    threads: int | None = None


PROTOCOLS = {
    "smoke": Config("seconds: identities (param closed form, LION step, fit recovery), B_2-Wi_64 overfits 512 MNIST "
                    "images; tiny Fashion-MNIST ladder (512 images, 1 epoch); no CIFAR-10",
                    fmnist_n_train=512, fmnist_n_test=1000, fmnist_epochs=1, fmnist_widths=(8, 16, 32),
                    fmnist_main_width=16, fmnist_std_depth=2, fmnist_std_width=32, cifar_widths=(), batch_size=128,
                    threads=1),
    "cpu": Config("card cpu ladder: Fashion-MNIST 20k/10k, 8 epochs, B_4-Wi_{32..256} vs standard 4x512 (AdamW 1e-3, "
                  "smoothing 0.3, no MixUp); CIFAR-10 50k train / 1k-test subset, 4 epochs, B_4-Wi_{32,64,128} vs "
                  "standard 4x256 (single-threaded: about 8-10 min alone)", threads=1),
    "full": Config("card full setting (GPU): CIFAR-10 50k, 100 epochs, B_6-Wi_{64..512} vs standard 6x1400 (~14M, "
                   "equal params), LION 5e-5, batch 1024, smoothing 0.3, MixUp 0.8, flips+crops; Fashion-MNIST 60k, "
                   "20 epochs, B_4-Wi_{32..512}", fmnist_n_train=None, fmnist_epochs=20,
                   fmnist_widths=(32, 64, 128, 256, 512), cifar_epochs=100, cifar_widths=(64, 128, 256, 512),
                   cifar_blocks=6, cifar_main_width=512, cifar_std_depth=6, cifar_std_width=1400, optimizer="lion",
                   lr=5e-5, batch_size=1024, mixup=0.8, augment=True),
}


# ---------------------------------------------------------------------------- identities (card smoke a, b, c)
def identities(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Closed-form parameter count, the LION sign step, recovery of a known power law, overfitting."""
    net = from_arch_string("B_6-Wi_512", 3072, 10)
    out = {"param_count_err": float(abs(count_params(net) - bottleneck_params(3072, 10, 6, 512))),
           "param_count_b6_wi512": float(count_params(net))}
    del net
    g = ctx.generator(1)
    small = BottleneckMLP(12, 3, 2, 4).double()
    before = [p.detach().clone() for p in small.parameters()]
    for p in small.parameters():
        p.grad = torch.randn(p.shape, generator=g, dtype=torch.float64)
    lr = 1e-3
    Lion(small.parameters(), lr=lr, weight_decay=0.0).step()
    out["lion_step_err"] = max(float(((p.detach() - b).abs() - lr).abs().max())
                               for p, b in zip(small.parameters(), before))
    x = torch.logspace(10, 14, 7, dtype=torch.float64)
    fitted = fit_power_law(x, SYNTH["a"] * x.pow(-SYNTH["b"]) + SYNTH["c"])
    out["fit_recovery_err"] = max(abs(getattr(fitted, k) - v) / abs(v) for k, v in SYNTH.items())
    if cfg.overfit_steps > 0:  # 0 skips the check (tests of the protocol plumbing)
        out["overfit_train_acc"] = ctx.cached("overfit", lambda: _overfit(ctx, cfg.overfit_steps))
    return out


def _overfit(ctx: RunContext, steps: int) -> float:
    """Card smoke (c): B_2-Wi_64 on the first 512 MNIST training images, Adam 1e-3, full batch, no augmentation."""
    data = load_mnist().train.subset(512)
    x = (data.x - data.x.mean()) / data.x.std()
    ctx.seed_all()
    model = from_arch_string("B_2-Wi_64", 784, 10)
    fit(model, TensorSet(x, data.y), epochs=steps, batch_size=512, optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
        seed=ctx.seed, progress=ctx.show_progress, desc="overfit", log_every=0)  # no run_dir: 200 one-step epochs
    return 100.0 * accuracy(model, TensorSet(x, data.y))


# ---------------------------------------------------------------------------- one data set: ladder + baseline
def _normalise(train: TensorSet, test: TensorSet) -> None:
    """Centre and scale per channel with the training set's statistics (in place)."""
    dims = (0, 2, 3)
    mean, std = train.x.mean(dims, keepdim=True), train.x.std(dims, keepdim=True)
    for s in (train, test):
        s.x.sub_(mean).div_(std)


def _train_eval(ctx: RunContext, name: str, model: torch.nn.Module, train: TensorSet, test: TensorSet, cfg: Config,
                epochs: int, augment: bool) -> dict:
    def work() -> dict:
        sub = ctx.sub(name)
        sub.seed_all()
        res = fit(model, train, epochs=epochs, batch_size=cfg.batch_size, ctx=sub, desc=name,
                  loss_fn=make_loss(smoothing=cfg.smoothing, mixup_alpha=cfg.mixup, augment=augment),
                  optimizer=make_optimizer(cfg.optimizer, cfg.lr, cfg.weight_decay))
        acc = accuracy(model, test, device=ctx.device)
        return {"params": count_params(model), "flops": train_flops(model, res.steps * cfg.batch_size),
                "correct": round(acc * len(test)), "n_test": len(test), "last_loss": res.last_loss}
    return ctx.cached(name, work)


def study(ctx: RunContext, cfg: Config, tag: str, train: TensorSet, test: TensorSet, *, widths: tuple[int, ...],
          blocks: int, main_width: int, std_depth: int, std_width: int, epochs: int, augment: bool,
          test_note: str = "") -> dict[str, float]:
    """Train the ladder B_{blocks}-Wi_{w} and the standard MLP; fit error (%) vs compute; tables and curves."""
    if main_width not in widths:
        raise ValueError(f"{tag}: main width {main_width} must be one of the ladder widths {widths}")
    if len(widths) != len(set(widths)) or list(widths) != sorted(widths):
        raise ValueError(f"{tag}: ladder widths must be distinct and increasing, got {widths}")
    dim_in, k = train.x[0].numel(), train.num_classes
    if ctx.device.type == "cuda":
        train = train.to(ctx.device)
    runs = {}
    for w in widths:
        torch.manual_seed(ctx.seed + w)
        model = BottleneckMLP(dim_in, k, blocks, w).to(ctx.device)
        runs[f"B_{blocks}-Wi_{w}"] = _train_eval(ctx, f"{tag}-B{blocks}-Wi{w}", model, train, test, cfg, epochs, augment)
    torch.manual_seed(ctx.seed + 7)
    std = StandardMLP(dim_in, k, std_depth, std_width).to(ctx.device)
    runs[f"MLP {std_depth}x{std_width}"] = _train_eval(ctx, f"{tag}-MLP{std_depth}x{std_width}", std, train, test, cfg,
                                                         epochs, augment)
    rows, m = [], {}
    for arch, r in runs.items():
        lo, hi = wilson_interval(r["correct"], r["n_test"])
        rows.append({"model": arch, "params": r["params"], "train_PFLOP": r["flops"] / 1e15,
                     "test_acc_%": 100 * r["correct"] / r["n_test"], "ci95_lo_%": 100 * lo, "ci95_hi_%": 100 * hi})
    ctx.table(f"{tag}_models", rows, caption=f"{tag}: test accuracy{test_note} with 95 % Wilson intervals; "
                                           f"compute = 3 x forward multiply-adds x samples seen")
    ladder = [runs[f"B_{blocks}-Wi_{w}"] for w in widths]
    flops = [r["flops"] for r in ladder]
    err = [100 * (1 - r["correct"] / r["n_test"]) for r in ladder]
    main, base = rows[widths.index(main_width)], rows[-1]
    m[f"{tag}_bottleneck_acc"] = main["test_acc_%"]
    m[f"{tag}_bottleneck_acc_lo"], m[f"{tag}_bottleneck_acc_hi"] = main["ci95_lo_%"], main["ci95_hi_%"]
    m[f"{tag}_standard_acc"] = base["test_acc_%"]
    m[f"{tag}_bottleneck_minus_standard"] = main["test_acc_%"] - base["test_acc_%"]
    m[f"{tag}_param_ratio"] = main["params"] / base["params"]
    m[f"{tag}_ladder_monotone"] = float(is_decreasing(err))
    pure = fit_power_law(flops, err, offset=False) if len(widths) >= 2 else None
    off = fit_power_law(flops, err, offset=True) if len(widths) >= 3 else None
    m[f"{tag}_fit_exponent"] = pure.b if pure else math.nan
    m[f"{tag}_fit_r2"] = pure.r2 if pure else math.nan
    for key in ("a", "b", "c", "r2"):
        m[f"{tag}_offset_fit_{key}"] = getattr(off, key) if off else math.nan
    if pure:
        ys = {"bottleneck ladder": err, "fit a C^-b": pure.predict(flops).tolist()}
        if off:
            ys["fit a C^-b + c"] = off.predict(flops).tolist()
        ctx.curve(f"{tag}_error_vs_compute", flops, ys, xlabel="training FLOPs (3 x fwd MACs x samples)",
                  ylabel=f"test error (%){test_note}", logx=True, logy=True,
                  title=f"{tag}: B_{blocks}-Wi_w ladder, error vs compute")
    return m


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    with ctx.threads(cfg.threads):
        metrics = identities(ctx, cfg)
        fm = load_fashion_mnist()
        train, test = fm.train.subset(cfg.fmnist_n_train), fm.test.subset(cfg.fmnist_n_test)
        train, test = TensorSet(train.x.clone(), train.y, "fmnist/train"), TensorSet(test.x.clone(), test.y, "fmnist/test")
        _normalise(train, test)
        metrics |= study(ctx, cfg, "fmnist", train, test, widths=cfg.fmnist_widths, blocks=cfg.fmnist_blocks,
                         main_width=cfg.fmnist_main_width, std_depth=cfg.fmnist_std_depth,
                         std_width=cfg.fmnist_std_width, epochs=cfg.fmnist_epochs, augment=False)
        del fm, train, test
        if cfg.cifar_widths:
            cf = load_cifar10()
            if cf.note:
                ctx.note(f"CIFAR-10: {cf.note}; accuracies are on that subset, with 95 % Wilson intervals")
            train = cf.train.subset(cfg.cifar_n_train)
            _normalise(train, cf.test)
            metrics |= study(ctx, cfg, "cifar", train, cf.test, widths=cfg.cifar_widths, blocks=cfg.cifar_blocks,
                             main_width=cfg.cifar_main_width, std_depth=cfg.cifar_std_depth,
                             std_width=cfg.cifar_std_width, epochs=cfg.cifar_epochs, augment=cfg.augment,
                             test_note=" on the 1,000-image official test subset" if cf.note else "")
    return metrics
