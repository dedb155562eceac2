"""Protocols for ``paperzoo reproduce nns-to-nos``.

smoke: the card's single-layer discretisation check (a random 9 x 9 convolution, plain vs kernel-interpolated at
base 32, on ``sin 2 pi x cos 2 pi y`` at 32 / 64 / 128), the Fourier-resize round trip, and the base-resolution
identity of a converted U-Net. cpu: the card's rung (Navier-Stokes pairs simulated at 128^2, one U-Net and one FNO
trained at 32^2, the same trained U-Net evaluated naively, kernel-interpolated and with input-output interpolation
at 16 / 32 / 64 / 128). full: the card's GPU rung (simulation at 512^2, official-size U-Net and FNO at 128^2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from paperzoo.nn import count_params
from paperzoo.papers.nns_to_nos.convert import InputOutputInterpolation, kernel_interpolated
from paperzoo.papers.nns_to_nos.data import ns_torus_pairs
from paperzoo.papers.nns_to_nos.models import FNO, UNetPDE
from paperzoo.papers.nns_to_nos.resample import fourier_resize
from paperzoo.papers.nns_to_nos.sweep import resolution_sweep, train_operator
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    layer_kernels: int = 5                      # random 9 x 9 kernels in the layer check (card: "several")
    train: bool = True
    n_train: int = 800                          # card cpu rung: 900 pairs, 800 train
    n_test: int = 100
    res_sim: int = 128                          # card cpu rung: simulate at 128^2
    train_res: int = 32                         # card cpu rung: train at 32^2 (stride 4)
    test_res: tuple = (16, 32, 64, 128)         # card cpu rung
    T: float = 1.0                              # card generator
    dt: float = 2.5e-3                          # card generator: 2.5e-3 at 128^2
    epochs: int = 25                            # card cpu rung
    batch_size: int = 16                        # official configs
    lr: float = 1e-3                            # card cpu rung (official 5e-4 over 301 epochs)
    weight_decay: float = 1e-4                  # official configs
    step_size: int = 10                         # ours: StepLR step (card: "StepLR", step unspecified at this scale)
    unet_hidden: int = 8                        # card cpu rung: hidden 8, kernel 5, mults (1, 2, 2)
    unet_kernel: int = 5
    unet_mults: tuple = (1, 2, 2)
    fno_hidden: int = 24                        # card cpu rung: FNO modes 12, hidden 24
    fno_modes: int = 12
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke: a random 9 x 9 conv, plain vs kernel-interpolated (base 32, bilinear) on sin 2 pi x "
                    "cos 2 pi y at 32 / 64 / 128, worst of 5 kernels; Fourier resize round trip; converted U-Net = "
                    "plain U-Net at the base resolution", train=False),
    "cpu": Config("card cpu rung: NS on the torus (nu 1e-3, T 1) simulated at 128^2, 800 / 100 pairs; U-Net (hidden 8, "
                  "kernel 5) and FNO (modes 12, hidden 24) trained at 32^2 for 25 epochs; evaluated at 16 / 32 / 64 / 128 "
                  "naively, kernel-interpolated and with input-output interpolation"),
    "full": Config("card full rung (GPU): simulated at 512^2 (dt 5e-4), 2000 / 500 pairs, official U-Net (hidden 19, "
                   "kernel 9, mults (1, 2, 2, 3)) and FNO (64 modes, hidden 62) at 128^2 for 20 epochs, tested at "
                   "64 / 128 / 256 / 512", n_train=2000, n_test=500, res_sim=512, train_res=128,
                   test_res=(64, 128, 256, 512), dt=5e-4, epochs=20, lr=5e-4, step_size=7, unet_hidden=19,
                   unet_kernel=9, unet_mults=(1, 2, 2, 3), fno_hidden=62, fno_modes=64, threads=None),
}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def layer_convergence(seed: int = 0, n_kernels: int = 5, base: int = 32, k: int = 9) -> dict[str, float]:
    """Card smoke: outputs at 64 / 128 strided back to the 32 grid vs the output at 32, interior pixels 6..25."""
    worst = {"interp_64_vs_32": 0.0, "interp_128_vs_32": 0.0, "interp_128_vs_64": 0.0,
             "plain_over_interp_64": math.inf, "plain_over_interp_128": math.inf}
    g = torch.Generator().manual_seed(seed)
    inner = slice(6, 26)
    for _ in range(n_kernels):
        conv = nn.Conv2d(1, 1, k, padding=k // 2, bias=False).double()
        with torch.no_grad():
            conv.weight.copy_(torch.randn(1, 1, k, k, generator=g, dtype=torch.float64) / k)
        interp = kernel_interpolated(conv, base)
        out = {}
        for n in (32, 64, 128):
            x = torch.arange(n, dtype=torch.float64) / n
            v = (torch.sin(2 * math.pi * x)[:, None] * torch.cos(2 * math.pi * x)[None, :]).reshape(1, 1, n, n)
            s = n // base
            with torch.no_grad():
                out[n] = {"plain": conv(v)[..., ::s, ::s][..., inner, inner],
                          "interp": interp(v)[..., ::s, ::s][..., inner, inner]}
        for n in (64, 128):
            d_i, d_p = _rel(out[n]["interp"], out[32]["interp"]), _rel(out[n]["plain"], out[32]["plain"])
            worst[f"interp_{n}_vs_32"] = max(worst[f"interp_{n}_vs_32"], d_i)
            worst[f"plain_over_interp_{n}"] = min(worst[f"plain_over_interp_{n}"], d_p / d_i)
        worst["interp_128_vs_64"] = max(worst["interp_128_vs_64"], _rel(out[128]["interp"], out[64]["interp"]))
    return worst


def fourier_roundtrip(seed: int = 0) -> float:
    """Max error of 32 -> 128 -> 32 Fourier resizing on a band-limited field (no Nyquist content), float64."""
    g = torch.Generator().manual_seed(seed)
    spec = torch.zeros(2, 3, 32, 17, dtype=torch.complex128)
    for rows in (slice(0, 15), slice(-15, None)):
        spec[..., rows, :15] = torch.randn(2, 3, 15, 15, generator=g, dtype=torch.complex128)
    x = torch.fft.irfft2(spec, s=(32, 32))
    return float((fourier_resize(fourier_resize(x, 128), 32) - x).abs().max())


def converted_identity(seed: int = 0) -> float:
    """Max |kernel_interpolated(U-Net)(x) - U-Net(x)| at the base resolution (card pitfall: identity there)."""
    torch.manual_seed(seed)
    net = UNetPDE(hidden=4, kernel=5, mults=(1, 2)).double()
    x = torch.randn(2, 1, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        return float((kernel_interpolated(net, 32)(x) - net(x)).abs().max())


def _ratios(prefix: str, sweep: dict[int, float], train_res: int) -> dict[str, float]:
    return {f"{prefix}_{r}_over_{train_res}": e / sweep[train_res] for r, e in sweep.items() if r != train_res}


def train_and_sweep(ctx: RunContext, cfg: Config) -> dict:
    with ctx.progress(total=cfg.n_train + cfg.n_test, desc="simulate NS (cached after the first run)") as bar:
        data = ns_torus_pairs(cfg.n_train + cfg.n_test, cfg.res_sim, T=cfg.T, dt=cfg.dt, seed=ctx.seed,
                              subsample_to=tuple(sorted(set(cfg.test_res) | {cfg.train_res})), on_chunk=bar.advance)
    x_tr, y_tr = (t[:cfg.n_train] for t in data[cfg.train_res])
    tests = {r: (x[cfg.n_train:], y[cfg.n_train:]) for r, (x, y) in data.items() if r in cfg.test_res}
    kw = dict(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
              step_size=cfg.step_size, progress=ctx.show_progress)

    def unet():
        torch.manual_seed(ctx.seed)
        model = UNetPDE(hidden=cfg.unet_hidden, kernel=cfg.unet_kernel, mults=cfg.unet_mults)
        net = train_operator(model, x_tr, y_tr, ctx=ctx.sub("unet"), **kw)
        rows = {"params": count_params(model),
                "naive": resolution_sweep(net, tests),
                "kernel_interp": resolution_sweep(kernel_interpolated(net, cfg.train_res), tests),
                "io_interp": resolution_sweep(InputOutputInterpolation(net, cfg.train_res), tests)}
        return {k: ({str(r): e for r, e in v.items()} if isinstance(v, dict) else v) for k, v in rows.items()}

    def fno():
        torch.manual_seed(ctx.seed)
        model = FNO(hidden=cfg.fno_hidden, modes=cfg.fno_modes)
        net = train_operator(model, x_tr, y_tr, ctx=ctx.sub("fno"), **kw)
        return {"params": count_params(model), "naive": {str(r): e for r, e in resolution_sweep(net, tests).items()}}

    return {"unet": ctx.cached("unet", unet), "fno": ctx.cached("fno", fno)}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    m: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        m.update(layer_convergence(ctx.seed, cfg.layer_kernels))
        m["fourier_roundtrip_err"] = fourier_roundtrip(ctx.seed)
        m["converted_identity_err"] = converted_identity(ctx.seed)
        if not cfg.train:
            return m
        r = train_and_sweep(ctx, cfg)
        res = sorted(cfg.test_res)
        curves = {"U-Net (naive)": r["unet"]["naive"], "U-Net kernel-interpolated": r["unet"]["kernel_interp"],
                  "U-Net input-output interp.": r["unet"]["io_interp"], "FNO": r["fno"]["naive"]}
        ctx.curve("Test rel. L2 vs resolution (trained at one resolution)", res,
                  {k: [v[str(x)] for x in res] for k, v in curves.items()}, xlabel="test resolution",
                  ylabel="relative L2", logy=True)
        ctx.table("Relative L2 error per test resolution",
                  [{"model": k, **{str(x): v[str(x)] for x in res}} for k, v in curves.items()],
                  caption=f"trained at {cfg.train_res}^2 on {cfg.n_train} pairs for {cfg.epochs} epochs; U-Net "
                          f"{r['unet']['params']} parameters, FNO {r['fno']['params']}; NaN = the FNO's modes do not "
                          f"fit the grid")
        t = str(cfg.train_res)
        m["unet_l2_train_res"] = r["unet"]["naive"][t]
        m["fno_l2_train_res"] = r["fno"]["naive"][t]
        for key, prefix in (("naive", "unet_naive"), ("kernel_interp", "unet_interp"), ("io_interp", "unet_io")):
            m.update(_ratios(prefix, {int(k): v for k, v in r["unet"][key].items()}, cfg.train_res))
        m.update(_ratios("fno", {int(k): v for k, v in r["fno"]["naive"].items()}, cfg.train_res))
        hi = [x for x in res if x > cfg.train_res]
        m["unet_interp_worst_above"] = max(m[f"unet_interp_{x}_over_{t}"] for x in hi)
        m["unet_io_worst_above"] = max(m[f"unet_io_{x}_over_{t}"] for x in hi)
        m["fno_worst_above"] = max(m[f"fno_{x}_over_{t}"] for x in hi)
        m["unet_naive_top_over_train"] = m[f"unet_naive_{max(res)}_over_{t}"]
    return m
