"""Protocols for ``paperzoo reproduce uat-transformer``: the construction checked numerically (card smoke (a) and
step 5), the positional-encoding limit (card smoke (b)), and the trained width sweep (card cpu rung)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.papers.uat_transformer.construction import (
    build_routing_transformer,
    check_construction,
    routed_closed_form,
    routed_slots,
    routing_bound,
    shift_ffn,
)
from paperzoo.papers.uat_transformer.experiment import construction_sweep, floors, monotone_decreasing, train_transformer
from paperzoo.papers.uat_transformer.model import SingleLayerTransformer
from paperzoo.papers.uat_transformer.targets import TARGETS, equivariance_gap
from paperzoo.train import RunContext
from paperzoo.train.context import derive_seed


@dataclass(frozen=True)
class Config:
    about: str
    con_n: int = 4                                    # card smoke (a): n = 4, d = 1
    con_d: int = 1
    betas: tuple[float, ...] = (5.0, 10.0, 20.0)      # card smoke (a); beta <= 50 (card pitfalls)
    con_beta: float = 20.0                            # beta of the built models (ours: largest of the card's set)
    con_targets: tuple[str, ...] = ("prefix_max", "mean_interaction")
    con_widths: tuple[int, ...] = (16, 64, 256)       # FFN widths r of the construction (ours)
    con_steps: int = 1000                             # Adam steps fitting g (ours; card recipe lr 1e-3, batch 256)
    n: int = 8                                        # card cpu rung: n = 8, d = 1
    d: int = 1
    d_model: int = 32                                 # card cpu rung
    heads: tuple[int, ...] = (4,)                     # card: {1, 4}; cpu uses 4 only (deviation 3)
    widths: tuple[int, ...] = (16, 64, 256)           # card: {16, 64, 256, 1024}, "cut to three if slow" (deviation 3)
    pe_targets: tuple[str, ...] = ("mean_interaction", "shift")
    nope_targets: tuple[str, ...] = ("mean_interaction", "softmax_mix", "shift", "prefix_max")
    nope_width: int = 256
    steps: int = 3000                                 # card: Adam lr 1e-3, batch 256, 3,000 steps, fresh samples
    batch: int = 256
    lr: float = 1e-3
    n_test: int = 4096
    perms: int = 256                                  # Monte-Carlo arrangements for the equivariant floor
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("card smoke: routing error vs beta (n = 4), equivariance with / without positions, the built "
                    "Transformer (exact shift FFN, a 100-step fitted FFN) within its error budget; 100-step training",
                    con_targets=("prefix_max",), con_widths=(16,), con_steps=100, widths=(16, 64), pe_targets=("shift",),
                    nope_targets=("shift", "mean_interaction"), nope_width=64, steps=100, n_test=1024, perms=64),
    "cpu": Config("card cpu rung on one core: n = 8, d = 1, d_model 32, 4 heads, d_ff 16 / 64 / 256, 3,000 Adam steps; "
                  "with one-hot positions (mean_interaction, shift) and without (all four targets); construction n = 4"),
    "full": Config("card full rung: n = 16, d = 2, heads 1 / 4, d_ff 16 .. 8192, all four targets; construction "
                   "n = 8, d = 2, r up to 4096, beta up to 40 (GPU recommended)",
                   con_n=8, con_d=2, betas=(5.0, 10.0, 20.0, 40.0), con_widths=(64, 256, 1024, 4096), con_steps=5000,
                   n=16, d=2, heads=(1, 4), widths=(16, 64, 256, 1024, 4096, 8192),
                   pe_targets=("mean_interaction", "softmax_mix", "shift", "prefix_max"), n_test=16384, threads=None),
}


def _validate(cfg: Config) -> None:
    for name in (*cfg.con_targets, *cfg.pe_targets, *cfg.nope_targets):
        if name not in TARGETS:
            raise ValueError(f"uat-transformer: unknown target {name!r} (have {sorted(TARGETS)})")
    if not cfg.betas or not cfg.widths or not cfg.heads or not cfg.con_widths or max(cfg.betas) > 50:
        raise ValueError("uat-transformer: betas, widths, heads, con_widths must be non-empty; beta <= 50 (card pitfalls)")


@torch.no_grad()
def _routing(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Card smoke (a): slot errors of the built attention block vs the card's bound, for each beta (float64)."""
    n, d = cfg.con_n, cfg.con_d
    x = torch.rand(2048, n, d, generator=ctx.generator(1), dtype=torch.float64) * 2 - 1
    rows = []
    for beta in cfg.betas:
        model = build_routing_transformer(shift_ffn(n, d), n, d, beta, dtype=torch.float64)
        slots = routed_slots(model, x)
        err = float((slots - x[:, None]).abs().max())
        closed = float((slots - routed_closed_form(x, beta)[:, None]).abs().max())
        rows.append({"beta": beta, "max_slot_err": err, "bound": routing_bound(n, beta, float(x.abs().max())),
                     "closed_form_err": closed})
    ctx.table("routing heads: slot error vs beta", rows,
              caption=f"n = {n}, d = {d}, 2048 uniform sequences, float64; bound = 2 max|x| (n-1) e^-beta (card step 2)")
    errs = [r["max_slot_err"] for r in rows]
    return {"routing_err_over_bound": max(r["max_slot_err"] / r["bound"] for r in rows),
            "routing_err_decreases": monotone_decreasing(errs),
            "routing_closed_form_err": max(r["closed_form_err"] for r in rows)}


def _equivariance(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Card smoke (b): T(pi X) = pi T(X) without positions, violated with them (random initial weights, 8 perms)."""
    g = ctx.generator(2)
    x = torch.rand(256, cfg.n, cfg.d, generator=g) * 2 - 1
    perms = [torch.randperm(cfg.n, generator=g) for _ in range(8)]
    gaps = {}
    for pe in ("none", "onehot", "sinusoidal"):
        torch.manual_seed(derive_seed(ctx.seed, f"equiv-{pe}"))
        model = SingleLayerTransformer(cfg.d, cfg.d_model, cfg.heads[-1], cfg.widths[-1], cfg.d, max_len=cfg.n,
                                       pos_enc=None if pe == "none" else pe)
        gaps[pe] = max(equivariance_gap(model, x, p) for p in perms)
    ctx.table("permutation equivariance", [{"pos_enc": k, "max_gap": v} for k, v in gaps.items()],
              caption="max |T(pi X) - pi T(X)| over 8 random permutations, 256 sequences, random initial weights, float32")
    return {"equivariance_gap_nope": gaps["none"], "equivariance_gap_pe": min(gaps["onehot"], gaps["sinusoidal"])}


def _construction(ctx: RunContext, cfg: Config, bar) -> dict[str, float]:
    """Card step 5: built Transformers (exact shift FFN; fitted FFNs of width r) within their error budget."""
    n, d = cfg.con_n, cfg.con_d
    shift = check_construction(shift_ffn(n, d), "shift", n, d, beta=cfg.con_beta, seed=ctx.seed)
    rows = ctx.cached("construction", lambda: construction_sweep(
        list(cfg.con_targets), n, d, list(cfg.con_widths), beta=cfg.con_beta, steps=cfg.con_steps,
        seed=derive_seed(ctx.seed, "construction"), on_fit=bar.advance))
    cols = ("target", "width", "ffn_err", "err", "budget", "parity", "lip", "rms")
    ctx.table("construction: error vs FFN width", [{"target": "shift (exact FFN)", "width": 2 * n * d,
                                                    **{k: shift[k] for k in cols[2:]}}] + [{k: r[k] for k in cols} for r in rows],
              caption=f"n = {n}, d = {d}, beta = {cfg.con_beta:g}, float64, 4096 sequences; err = sup|T - F|, ffn_err = "
                      f"sup|g - F|, budget = ffn_err + L_g delta (card step 5), parity = sup|T - g|, rms of T - F")
    widths = list(cfg.con_widths)
    ctx.curve("construction: RMS error vs FFN width", widths,
              {t: [r["rms"] for r in rows if r["target"] == t] for t in cfg.con_targets},
              xlabel="FFN width r", ylabel="RMS error of the built Transformer", logx=True, logy=True)
    m = {"shift_construction_err_over_bound": shift["err"] / shift["delta"], "shift_construction_sup_err": shift["err"],
         "construction_err_over_budget": max(r["err"] / r["budget"] for r in rows),
         "construction_parity_over_bound": max(r["parity"] / (r["lip"] * r["delta"]) for r in rows)}
    if len(widths) > 1:
        m["construction_rms_decreases"] = min(monotone_decreasing([r["rms"] for r in rows if r["target"] == t])
                                              for t in cfg.con_targets)
    for t in cfg.con_targets:
        m[f"construction_rms_{t}"] = [r["rms"] for r in rows if r["target"] == t][-1]
    return m


def _trained(ctx: RunContext, cfg: Config, bar) -> dict[str, float]:
    """Card cpu rung: trained width sweep with one-hot positions, and the no-position runs vs the equivariant floor."""
    kw = dict(n=cfg.n, d=cfg.d, d_model=cfg.d_model, steps=cfg.steps, batch=cfg.batch, lr=cfg.lr, n_test=cfg.n_test,
              device=ctx.device)

    def one(key: str, target: str, **extra) -> dict:
        out = ctx.cached(key, lambda: train_transformer(target, **kw, **extra, seed=derive_seed(ctx.seed, key)))
        bar.advance()
        return out

    m: dict[str, float] = {}
    pe = {(t, h, w): one(f"pe-{t}-h{h}-w{w}", t, d_ff=w, n_heads=h, pos_enc="onehot")
          for t in cfg.pe_targets for h in cfg.heads for w in cfg.widths}
    ctx.curve("one-hot positions: test RMS error vs d_ff", list(cfg.widths),
              {f"{t}, {h} heads": [pe[(t, h, w)]["rms"] for w in cfg.widths] for t in cfg.pe_targets for h in cfg.heads},
              xlabel="FFN width d_ff", ylabel="test RMS error", logx=True, logy=True, hline=0.05)
    ctx.table("one-hot positions: test error", [{"target": t, "heads": h, "d_ff": w, **pe[(t, h, w)]} for (t, h, w) in pe],
              caption=f"n = {cfg.n}, d = {cfg.d}, d_model {cfg.d_model}, {cfg.steps} Adam steps (lr {cfg.lr:g}, batch "
                      f"{cfg.batch}), {cfg.n_test} test sequences; rms per component, sup = max-abs error per token")
    h, top = cfg.heads[-1], cfg.widths[-1]
    for t in cfg.pe_targets:
        m[f"pe_rms_max_width_{t}"] = pe[(t, h, top)]["rms"]
        m[f"pe_sup_max_width_{t}"] = pe[(t, h, top)]["sup"]
    mono = [monotone_decreasing([pe[(t, hh, w)]["rms"] for w in cfg.widths]) for t in cfg.pe_targets for hh in cfg.heads]
    if len(cfg.widths) > 1:
        m["pe_rms_monotone"] = min(mono)
    floor = floors(list(cfg.nope_targets), cfg.n, cfg.d, cfg.n_test, cfg.perms)
    nope = {t: one(f"nope-{t}-h{h}-w{cfg.nope_width}", t, d_ff=cfg.nope_width, n_heads=h, pos_enc=None)
            for t in cfg.nope_targets}
    ctx.table("no positional encoding vs the equivariant floor",
              [{"target": t, "equivariant": TARGETS[t].equivariant, "rms": nope[t]["rms"], "floor": floor[t],
                "rms_over_floor": nope[t]["rms"] / floor[t] if floor[t] > 1e-9 else math.nan, "target_std": nope[t]["std"]}
               for t in cfg.nope_targets],
              caption=f"d_ff {cfg.nope_width}, {h} heads; floor = RMS of the best permutation-equivariant predictor on the "
                      f"same test set ({cfg.perms} random arrangements, bias-corrected); 0 for equivariant targets")
    for t in cfg.nope_targets:
        m[f"nope_rms_{t}"] = nope[t]["rms"]
        m[f"nope_floor_{t}"] = floor[t]
    ratios = [nope[t]["rms"] / floor[t] for t in cfg.nope_targets if not TARGETS[t].equivariant]
    learned = [nope[t]["rms"] for t in cfg.nope_targets if TARGETS[t].equivariant]
    if ratios:
        m["nope_rms_over_floor_min"] = min(ratios)
    if learned:
        m["nope_rms_equivariant_max"] = max(learned)
    return m


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    _validate(cfg)
    runs = len(cfg.pe_targets) * len(cfg.heads) * len(cfg.widths) + len(cfg.nope_targets)
    with ctx.threads(cfg.threads), ctx.progress(total=runs + len(cfg.con_targets) * len(cfg.con_widths),
                                                desc="fits") as bar:
        m = {**_routing(ctx, cfg), **_equivariance(ctx, cfg), **_construction(ctx, cfg, bar), **_trained(ctx, cfg, bar)}
    return m
