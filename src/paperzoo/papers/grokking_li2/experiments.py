"""The card's checks and sweeps as functions: data identity, stage-II gradient identity, energy-ascent features,
the critical-training-fraction sweep over group sizes and the Muon-vs-Adam feature count."""
from __future__ import annotations

import math

import torch

from paperzoo.papers.grokking_li2.energy import energy_ascent, gradient_alignment, node_concentration
from paperzoo.papers.grokking_li2.groups import (
    CRITICAL_MULTIPLIER,
    check_table,
    critical_fraction,
    dataset,
    group_table,
    isotypic_components,
    split,
)
from paperzoo.papers.grokking_li2.model import TwoLayerGroupNet, centered_targets
from paperzoo.papers.grokking_li2.train import TrainSpec, train_group_net

CONCENTRATED = 0.9   # card: a node is single-frequency if one +-k pair holds >= 90 % of its (non-DC) energy


def parse_group(spec: str) -> tuple[str, int | tuple[int, ...]]:
    """'cyclic:23', 'product:4x6', 'dihedral:6', 'sym:4' -> (kind, size)."""
    kind, sep, size = spec.partition(":")
    if not sep or not size:
        raise ValueError(f"group spec must look like 'kind:size' (e.g. 'product:4x6'), got {spec!r}")
    parts = tuple(int(s) for s in size.split("x"))
    return kind, parts if kind == "product" else parts[0]


def dataset_errors(table: torch.Tensor) -> int:
    """Card smoke (c): pairs that are missing, repeated or mislabelled (0 for a correct generator)."""
    check_table(table)
    m = table.shape[0]
    pairs, labels = dataset(table)
    counts = torch.bincount(pairs[:, 0] * m + pairs[:, 1], minlength=m * m)
    return int((counts != 1).sum()) + int((labels != table[pairs[:, 0], pairs[:, 1]]).sum())


def identity_check(M: int, width: int, eta: float, init_scale: float, seed: int) -> float:
    """Card smoke (a): min over nodes of cos(-dL/dw_j, dE/dw_j), ridge top layer, float64, full Z_M table."""
    pairs, labels = dataset(group_table("cyclic", M))
    torch.manual_seed(seed)
    net = TwoLayerGroupNet(M, width=width).double()
    with torch.no_grad():
        net.W.mul_(init_scale)
    return float(gradient_alignment(net, pairs, labels, eta).min())


def ascent_features(spec: str, starts: int, steps: int, lr: float, seed: int) -> dict:
    """Energy ascent from ``starts`` random unit vectors on the full table of group ``spec``: share of ends
    concentrated in one real isotypic component (>= 90 %), min relative energy increment, irrep dims reached."""
    table = group_table(*parse_group(spec))
    m = table.shape[0]
    pairs, labels = dataset(table)
    w0 = torch.randn(starts, 2 * m, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    w, trace = energy_ascent(w0, pairs, centered_targets(labels, m, torch.float64), steps=steps, lr=lr,
                             record_every=1)
    iso = isotypic_components(table)
    conc, idx = node_concentration(w, iso)
    inc = (trace.diff(dim=0) / trace[-1].abs().clamp_min(1e-300)).min()
    dims = sorted({iso.irrep_dim[i] for i, c in zip(idx.tolist(), conc.tolist()) if c >= CONCENTRATED})
    return {"group": spec, "order": m, "share": float((conc >= CONCENTRATED).double().mean()),
            "min_conc": float(conc.min()), "min_rel_increment": float(inc),
            "e_start": float(trace[0].mean()), "e_end": float(trace[-1].mean()),
            "irrep_dims": " ".join(str(d) for d in dims) or "-"}


def train_point(M: int, delta: float, seed: int, spec: TrainSpec) -> dict:
    """One run of the sweep: Z_M, train fraction (2.7482 + delta) ln M / M, random split; final accuracies,
    grokking epochs and the share / number of single-frequency hidden nodes."""
    table = group_table("cyclic", M)
    p = critical_fraction(M, delta)
    tr, te = split(M * M, p, seed)
    model, hist = train_group_net(table, tr, te, spec, seed=seed)
    conc, idx = node_concentration(model.W.detach(), isotypic_components(table))
    single = conc >= CONCENTRATED
    w2 = model.W.detach().double().square().sum(1)                          # node energy ||w_j||^2
    return {"M": M, "delta": delta, "seed": seed, "p_train": p, "n_train": len(tr),
            "train_acc": hist.train_acc[-1], "test_acc": hist.test_acc[-1],
            "epoch_train_100": hist.first_epoch("train_acc", 1.0), "epoch_test_90": hist.first_epoch("test_acc", 0.9),
            "single_freq_share": float(single.double().mean()),
            "single_freq_weight_share": float((w2 * single).sum() / w2.sum()), "n_freqs": len(set(idx[single].tolist())),
            "offdiag_ratio": hist.offdiag_ratio[-1], "grad_f_norm": hist.grad_f_norm[-1],
            "curve_epoch": hist.epoch, "curve_test": hist.test_acc, "curve_train": hist.train_acc}


def transition_multiplier(deltas: list[float], accs: list[float], level: float = 0.5) -> float:
    """Multiplier c at which the (delta-sorted) test accuracy first crosses ``level``, interpolated linearly in
    delta: c = 2.7482 + delta_cross (the law's constant would be recovered for every M). nan if it never crosses."""
    pts = sorted(zip(deltas, accs))
    for (d0, a0), (d1, a1) in zip(pts[:-1], pts[1:]):
        if a0 < level <= a1:
            return CRITICAL_MULTIPLIER + d0 + (level - a0) / (a1 - a0) * (d1 - d0)
    return math.nan
