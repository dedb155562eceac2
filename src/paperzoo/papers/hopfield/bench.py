"""Benchmark: one-step HopfieldAttention (norms off) vs torch.nn.MultiheadAttention on the same shapes.

One Hopfield update with beta = 1/sqrt(d_k) is attention (Ramsauer et al. 2021, Sec. 3), so the two
modules get identical weights, their outputs are matched, and their forward (and forward+backward)
times compared. Writes results/bench/hopfield_attention-cpu.csv.

    paperzoo bench hopfield                  # against torch.nn.MultiheadAttention (always available)
    paperzoo bench hopfield --against hflayers   # the official package, where it is installed (not on PyPI)
"""
from __future__ import annotations

import statistics
from pathlib import Path

import torch
from torch import nn

from paperzoo.bench import bench_csv_path, time_fn, write_csv
from paperzoo.papers.hopfield.experiments import copy_mha_weights
from paperzoo.papers.hopfield.layers import HopfieldAttention

CONFIGS = [  # (batch, sequence length, d_model, heads): self-association, S = N
    (32, 16, 64, 1),
    (32, 64, 128, 4),
    (16, 128, 256, 8),
    (8, 256, 512, 8),
]


def bench(device: str = "cpu", repeats: int = 5, rounds: int = 5) -> list[dict]:
    """Median over ``rounds`` interleaved rounds of the median of ``repeats`` calls, in ms."""
    dev = torch.device(device)
    rows = []
    for b, n, d, h in CONFIGS:
        torch.manual_seed(0)
        mha = nn.MultiheadAttention(d, h, batch_first=True).to(dev)
        hop = HopfieldAttention(d, num_heads=h, norm_stored=False, norm_state=False, norm_proj=False).to(dev)
        copy_mha_weights(mha, hop)
        x = torch.randn(b, n, d, device=dev)
        with torch.no_grad():
            err = float((mha(x, x, x, need_weights=False)[0] - hop(x)).abs().max())

        def fwd_mha():
            with torch.no_grad():
                return mha(x, x, x, need_weights=False)[0]

        def fwd_hop():
            with torch.no_grad():
                return hop(x)

        def train_mha():
            mha(x, x, x, need_weights=False)[0].sum().backward()

        def train_hop():
            hop(x).sum().backward()

        fns = (("mha_fwd", fwd_mha), ("hop_fwd", fwd_hop), ("mha_fwdbwd", train_mha), ("hop_fwdbwd", train_hop))
        # interleaved rounds, so drifting load on a shared machine hits both modules alike
        per_round = {name: [] for name, _ in fns}
        for _ in range(rounds):
            for name, fn in fns:
                per_round[name].append(time_fn(fn, repeats=repeats, warmup=2, device=dev)["median_ms"])
        t = {name: statistics.median(v) for name, v in per_round.items()}
        rows.append({"batch": b, "seq": n, "d_model": d, "heads": h, "max_abs_diff": f"{err:.2e}",
                     "mha_fwd_ms": round(t["mha_fwd"], 4), "hopfield_fwd_ms": round(t["hop_fwd"], 4),
                     "fwd_ratio": round(t["hop_fwd"] / t["mha_fwd"], 3),
                     "mha_fwdbwd_ms": round(t["mha_fwdbwd"], 4), "hopfield_fwdbwd_ms": round(t["hop_fwdbwd"], 4),
                     "fwdbwd_ratio": round(t["hop_fwdbwd"] / t["mha_fwdbwd"], 3),
                     "rounds": rounds, "repeats": repeats, "threads": torch.get_num_threads()})
    return rows


def run(*, against: str | None = None, root: str | Path | None = None, repeats: int = 5, rounds: int = 5) -> Path:
    """Time and output-match against ``against`` ("torch", the default; "hflayers" is not on PyPI and has no
    side-by-side here) on the CPU; write ``<root>/results/bench/hopfield_attention-cpu.csv``."""
    if against not in (None, "torch"):
        raise ValueError(f"hopfield bench: against={against!r} is not supported; the anchor is 'torch' "
                         "(nn.MultiheadAttention). The official hflayers is not on PyPI, so no side-by-side with it here")
    if root is None:
        from paperzoo.api import project_root

        root = project_root()
    rows = bench("cpu", repeats, rounds)
    return write_csv(bench_csv_path(root, "hopfield_attention", "cpu"), rows, device="cpu")
