"""Protocols of the information-plane paper (card: shared/papers/information-plane.md, "Reproduction ladder").

Every protocol: (a) the generator regression and the estimator identities (card smoke (a), (b)); (b) the
binned I(X;T_l) of ``dpi_nets`` random tanh nets, checked for the data-processing inequality (card smoke (c));
(c) the 12-bit experiment: ``repeats`` tanh nets and ``relu_repeats`` ReLU controls (Saxe et al.; bins on
[0, the layer's max]) trained with the official recipe, information at ``n_info`` log-spaced epochs (binning;
the KDE upper bound at ``kde_points`` of them) and gradient statistics. ``full`` adds the training-size runs
(``size_fracs``) and the depth runs (``depth_widths``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from paperzoo.papers.information_plane.data import sphere12
from paperzoo.papers.information_plane.estimators import binned_mi, entropy_bits
from paperzoo.papers.information_plane.experiment import dpi_violation, train_infoplane
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    repeats: int = 3                          # card cpu rung: 3 seeds (paper: 50)
    relu_repeats: int = 2                     # card cpu rung (iv): 2 seeds
    epochs: int = 8000                        # official default
    batch_size: int = 512                     # one stored revision of network_paramters.py (other: 256)
    lr: float = 4e-4                          # official Adam lr
    train_frac: float = 0.8                   # official -inds [80]
    split: str = "shuffled"                   # "shuffled" (project default) | "ordered" (official)
    widths: tuple[int, ...] = (10, 7, 5, 4, 3)
    n_info: int = 60                          # card cpu rung (official: 400)
    n_bins: int = 30                          # official
    kde_points: int = 12                      # logged epochs that also get the KDE bound
    kde_n: int = 1024                         # inputs used by the KDE bound (fixed random subset)
    noise_var: float = 0.1                    # KDE noise variance (Saxe et al., artemyk/ibsgd)
    dpi_nets: int = 20                        # card smoke (c)
    size_fracs: tuple[float, ...] = ()        # full: the paper's 5 / 45 / 85 %
    depth_widths: tuple[tuple[int, ...], ...] = ()   # full: 1 .. 6 hidden layers
    threads: int | None = 1


_DEPTHS = tuple((10, 7, 5, 4, 3, 3)[:k] for k in range(1, 7))
PROTOCOLS = {
    "smoke": Config("seconds: generator + estimator identities, DPI over 20 random nets, 1 tanh + 1 ReLU net for "
                    "60 epochs (code path)", repeats=1, relu_repeats=1, epochs=60, n_info=8, kde_points=2, kde_n=256),
    "cpu": Config("card cpu rung: 12-bit task, 80 % shuffled split, 12-10-7-5-4-3-2, Adam 4e-4, batch 512, 8,000 "
                  "epochs, 3 tanh + 2 ReLU seeds, information at 60 log-spaced epochs (about 5 min on one core)"),
    "full": Config("paper setting: 50 repeats, 10,000 epochs, 400 logged epochs, + 5/45/85 % training data and "
                   "1-6 hidden layers (CPU is enough; hours)", repeats=50, relu_repeats=10, epochs=10_000,
                   n_info=400, kde_points=40, kde_n=4096, size_fracs=(0.05, 0.45, 0.85), depth_widths=_DEPTHS),
}


def identity_errors() -> dict[str, float]:
    """Card smoke (b): T = X gives (12, H(Y)); T = constant gives (0, 0); one unit tanh(50 (2y - 1)) gives
    (H(Y), H(Y)). H(Y) from the label counts. Returns the absolute errors (bits)."""
    import torch

    x, y = sphere12()
    p = float(y.double().mean())
    h_y = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    cases = {"x": (x, (12.0, h_y)), "const": (torch.zeros(len(x), 3), (0.0, 0.0)),
             "label_unit": (torch.tanh(50.0 * (2.0 * y[:, None].float() - 1.0)), (h_y, h_y))}
    out = {}
    for name, (t, want) in cases.items():
        got = binned_mi(t, y)
        out[name] = max(abs(got[0] - want[0]), abs(got[1] - want[1]))
    return out


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    if cfg.split not in ("shuffled", "ordered"):
        raise ValueError(f"split must be 'shuffled' or 'ordered', got {cfg.split!r}")
    x, y = sphere12()
    h_y = entropy_bits(y.bincount())
    m: dict[str, float] = {"generator_positives": float(y.sum()), "H_Y": h_y}
    with ctx.threads(cfg.threads):
        ids = identity_errors()
        m["identity_err"] = max(ids.values())
        m["dpi_violation_max"] = dpi_violation(cfg.widths, n_nets=cfg.dpi_nets, seed=ctx.seed, n_bins=cfg.n_bins)
        tanh = _train(ctx, cfg, "tanh", cfg.repeats, x, y, cfg.train_frac, cfg.widths, (-1.0, 1.0))
        m |= _summary(tanh, h_y, cfg.epochs)
        if cfg.relu_repeats:
            relu = _train(ctx, cfg, "relu", cfg.relu_repeats, x, y, cfg.train_frac, cfg.widths, (0.0, None))
            s = _summary(relu, h_y, cfg.epochs)
            m |= {"relu_compression_last": s["compression_last"], "relu_test_acc": s["test_acc"],
                  "relu_train_acc": s["train_acc"], "relu_kde_compression_last": s["kde_compression_last"]}
            _outputs(ctx, relu, "relu")
        _outputs(ctx, tanh, "tanh")
        m |= _extra_runs(ctx, cfg, x, y, h_y)
    ctx.details["identities"] = ids
    return m


def _train(ctx, cfg, act, repeats, x, y, frac, widths, bin_range) -> dict:
    name = f"{act}-f{round(100 * frac)}-d{len(widths)}"
    sub = ctx.sub(name)
    with ctx.progress(total=cfg.epochs, desc=name) as bar:
        return sub.cached("traj", lambda: train_infoplane(
            x, y, widths=widths, activation=act, repeats=repeats, epochs=cfg.epochs, batch_size=cfg.batch_size,
            lr=cfg.lr, train_frac=frac, ordered=cfg.split == "ordered", seed=sub.seed, n_info=cfg.n_info,
            n_bins=cfg.n_bins, bin_range=bin_range, kde_points=cfg.kde_points, kde_n=cfg.kde_n,
            noise_var=cfg.noise_var, on_epoch=lambda e: bar.advance(1)))


def _mean(traj: dict, key: str) -> np.ndarray:
    """[logged epoch][repeat][layer] -> mean over repeats (T, L)."""
    return np.asarray(traj[key], dtype=float).mean(1)


def _summary(traj: dict, h_y: float, epochs: int) -> dict[str, float]:
    """Claim metrics of one set of repeats (trajectories averaged over repeats, as the paper's figures)."""
    ixt, ity, ep = _mean(traj, "I_XT"), _mean(traj, "I_TY"), np.asarray(traj["epochs"])
    hidden = ixt.shape[1] - 1                                             # the last column is the softmax output
    last2 = list(range(max(0, hidden - 2), hidden))
    drop = ixt.max(0) - ixt[-1]
    snr = _mean(traj, "grad_mean") / np.maximum(_mean(traj, "grad_std"), 1e-300)   # (T, L_w)
    q = max(1, len(ep) // 4)
    snr_drop = float(np.exp(np.mean(np.log(snr[:q].mean(0) / snr[-q:].mean(0)))))
    snr_layers = np.exp(np.log(snr).mean(1))
    below = np.nonzero(snr_layers < 1.0)[0]
    out = {"train_acc": float(np.mean(traj["train_acc"][-1])), "test_acc": float(np.nanmean(traj["test_acc"][-1])),
           "last_hidden_I_TY": float(ity[-1, hidden - 1]), "compression_bits": float(drop[last2].min()),
           "compression_last": float(drop[hidden - 1]),
           "peak_epoch_frac": float(max(ep[ixt[:, li].argmax()] for li in last2) / epochs),
           "fit_I_TY_gain": float(ity[-1, hidden - 1] - ity[0, hidden - 1]),
           "ib_gap_last": float(min(ixt[-1, hidden - 1], h_y) - ity[-1, hidden - 1]),
           "grad_snr_drop": snr_drop, "snr_below_1_epoch": float(ep[below[0]]) if len(below) else math.nan,
           "compression_onset_epoch": float(ep[ixt[:, hidden - 1].argmax()])}
    acc = np.asarray(traj["train_acc"], dtype=float).mean(1)
    out["epochs_to_fit"] = float(ep[np.nonzero(acc >= acc[-1] - 1.0)[0][0]])
    if traj["kde_epochs"]:
        k = _mean(traj, "kde_I_XT")
        out["kde_compression_last"] = float(k.max(0)[hidden - 1] - k[-1, hidden - 1])
    else:
        out["kde_compression_last"] = math.nan
    for li in range(hidden):
        out[f"I_XT_max_L{li + 1}"], out[f"I_XT_final_L{li + 1}"] = float(ixt[:, li].max()), float(ixt[-1, li])
    return out


def _outputs(ctx: RunContext, traj: dict, act: str) -> None:
    ixt, ity, ep = _mean(traj, "I_XT"), _mean(traj, "I_TY"), [e + 1 for e in traj["epochs"]]
    names = [f"T{i + 1}" for i in range(ixt.shape[1] - 1)] + ["softmax"]
    ctx.curve(f"I_XT_{act}", x=ep, ys={n: ixt[:, i] for i, n in enumerate(names)}, xlabel="epoch + 1",
              ylabel="I(X;T) (bits, binned)", logx=True, title=f"{act}: I(X;T) per layer")
    ctx.curve(f"I_TY_{act}", x=ep, ys={n: ity[:, i] for i, n in enumerate(names)}, xlabel="epoch + 1",
              ylabel="I(T;Y) (bits, binned)", logx=True, title=f"{act}: I(T;Y) per layer")
    for i in (len(names) - 3, len(names) - 2):
        ctx.curve(f"plane_{act}_{names[i]}", x=ixt[:, i], ys={"I(T;Y)": ity[:, i]}, xlabel="I(X;T) (bits)",
                  ylabel="I(T;Y) (bits)", title=f"{act}: information plane of {names[i]} (epoch order)")
    snr = _mean(traj, "grad_mean") / np.maximum(_mean(traj, "grad_std"), 1e-300)
    ctx.curve(f"grad_snr_{act}", x=ep, ys={f"W{i + 1}": snr[:, i] for i in range(snr.shape[1])}, xlabel="epoch + 1",
              ylabel="||mean grad|| / std grad", logx=True, logy=True, hline=1.0, title=f"{act}: gradient SNR")
    rows = [{"layer": n, "I_XT max": float(ixt[:, i].max()), "I_XT final": float(ixt[-1, i]),
             "I_TY final": float(ity[-1, i])} for i, n in enumerate(names)]
    if traj["kde_epochs"]:
        k = _mean(traj, "kde_I_XT")
        for i, r in enumerate(rows):
            r["KDE I_XT max"], r["KDE I_XT final"] = float(k[:, i].max()), float(k[-1, i])
    ctx.table(f"layers_{act}", rows, caption=f"{act}: binned I(X;T) / I(T;Y) in bits (mean over repeats); KDE "
                                             f"upper bound on {len(traj['kde_epochs'])} epochs")


def _extra_runs(ctx: RunContext, cfg: Config, x, y, h_y: float) -> dict[str, float]:
    m: dict[str, float] = {}
    rows, drops = [], {}
    for frac in cfg.size_fracs:
        traj = _train(ctx, cfg, "tanh", cfg.repeats, x, y, frac, cfg.widths, (-1.0, 1.0))
        s, ity = _summary(traj, h_y, cfg.epochs), _mean(traj, "I_TY")[:, -2]      # last hidden layer
        drops[frac] = float(ity.max() - ity[-1])
        rows.append({"train %": 100 * frac, "train acc": s["train_acc"], "test acc": s["test_acc"],
                     "compression bits": s["compression_bits"], "last I_TY": s["last_hidden_I_TY"],
                     "I_TY drop": drops[frac]})
    if cfg.size_fracs:
        m["small_data_I_TY_drop"] = drops[min(cfg.size_fracs)]
        ctx.table("training_size", rows, caption="tanh nets at other training fractions (card row 5)")
    fits = []
    for widths in cfg.depth_widths:
        s = _summary(_train(ctx, cfg, "tanh", cfg.repeats, x, y, cfg.train_frac, widths, (-1.0, 1.0)), h_y, cfg.epochs)
        fits.append({"hidden layers": len(widths), "epochs to fit": s["epochs_to_fit"],
                     "compression onset": s["compression_onset_epoch"], "train acc": s["train_acc"]})
    if cfg.depth_widths:
        m["depth_speedup"] = fits[0]["epochs to fit"] / max(fits[-1]["epochs to fit"], 1.0)
        ctx.table("depth", fits, caption="epochs to fit (first logged epoch within 1 point of the final train "
                                         "accuracy) per number of hidden layers (card row 4)")
    return m
