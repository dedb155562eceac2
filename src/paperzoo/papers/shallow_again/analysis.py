"""The determination-ratio analysis and the checks of the first-order truncation (card ladder step 1).

Determination ratio (Hrycej et al.'s definition, used by the paper to bin its runs; card):

    Q = (number of training examples x number of outputs) / (number of trainable parameters)

Q < 1: under-determined (the net can memorise). The paper bins runs by Q into [0,1), [1,3), [3,10),
[10, inf) and reports the mean train / validation loss of each layout per bin (Table 2).

Truncation checks: ``taylor_gap(seq, par, h)`` = ||seq(h) - par(h)|| / ||seq(h) - h|| (how much of the
deep stack's update is higher-order); ``taylor_order_ratio`` makes every F_i linear and eps-small and
returns gap(eps) / gap(eps/10), which is ~100 when the two layouts agree up to second order
(the difference is eps^2 sum_{i<j} A_j A_i h + O(eps^3)).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from paperzoo.nn import count_params
from paperzoo.papers.shallow_again.layers import ResidualConvStack, twin

Q_EDGES = (1.0, 3.0, 10.0)  # paper Table 2 bins: [0,1), [1,3), [3,10), >= 10


def determination_ratio(model: nn.Module | int, n_train: int, n_outputs: int) -> float:
    """Q = n_train x n_outputs / trainable parameters (``model`` or a parameter count; head included)."""
    n_params = model if isinstance(model, int) else count_params(model)
    if n_params <= 0 or n_train < 0 or n_outputs <= 0:
        raise ValueError(f"determination_ratio: need params > 0, n_train >= 0, n_outputs > 0; got {n_params}, "
                         f"{n_train}, {n_outputs}")
    return n_train * n_outputs / n_params


def q_bin(q: float, edges: Sequence[float] = Q_EDGES) -> str:
    """The Table 2 bin of ``q``: '[0,1)', '[1,3)', '[3,10)' or '>=10' (for the default edges)."""
    if not (q >= 0):
        raise ValueError(f"q_bin: Q must be >= 0, got {q}")
    lo = 0.0
    for e in edges:
        if q < e:
            return f"[{lo:g},{e:g})"
        lo = e
    return f">={lo:g}"


def bin_labels(edges: Sequence[float] = Q_EDGES) -> list[str]:
    """Bin labels in increasing Q order."""
    bounds = (0.0, *edges)
    return [f"[{a:g},{b:g})" for a, b in zip(bounds, bounds[1:])] + [f">={edges[-1]:g}"]


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else math.nan


def binned_table(rows: Sequence[Mapping], *, edges: Sequence[float] = Q_EDGES) -> list[dict]:
    """Table 2 from run rows (keys dataset, q, mode, train_loss, val_loss): per dataset and Q bin, the
    mean losses of each layout and the run counts. Bins without runs of both layouts are left out."""
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        for label in bin_labels(edges):
            cell = [r for r in rows if r["dataset"] == ds and q_bin(r["q"], edges) == label]
            seq = [r for r in cell if r["mode"] == "sequential"]
            par = [r for r in cell if r["mode"] == "parallel"]
            if not seq or not par:
                continue
            out.append({"dataset": ds, "q_bin": label, "runs": len(seq) + len(par),
                        "train_seq": _mean(r["train_loss"] for r in seq), "train_par": _mean(r["train_loss"] for r in par),
                        "val_seq": _mean(r["val_loss"] for r in seq), "val_par": _mean(r["val_loss"] for r in par)})
    return out


def pair_runs(rows: Sequence[Mapping], keys: Sequence[str]) -> list[tuple[Mapping, Mapping]]:
    """(sequential, parallel) row pairs that agree on every key in ``keys`` (one per configuration)."""
    seq = {tuple(r[k] for k in keys): r for r in rows if r["mode"] == "sequential"}
    par = {tuple(r[k] for k in keys): r for r in rows if r["mode"] == "parallel"}
    return [(seq[k], par[k]) for k in seq if k in par]


def compare_layouts(rows: Sequence[Mapping], config_keys: Sequence[str], seed_key: str = "seed") -> dict[str, float]:
    """The card's cpu comparisons of the two layouts.

    ``val_loss_ratio_dev``: max over configurations (seeds averaged) of |val_par / val_seq - 1|;
    ``val_acc_gap``: max over configurations of |acc_par - acc_seq| in points (seeds averaged);
    ``seq_train_wins``: fraction of (configuration, seed) pairs with train_seq <= train_par.
    """
    pairs = pair_runs(rows, [*config_keys, seed_key])
    if not pairs:
        raise ValueError("compare_layouts: no (sequential, parallel) pair of runs")
    groups: dict[tuple, list[tuple[Mapping, Mapping]]] = {}
    for s, p in pairs:
        groups.setdefault(tuple(s[k] for k in config_keys), []).append((s, p))
    devs, gaps = [], []
    for g in groups.values():
        vs, vp = _mean(s["val_loss"] for s, _ in g), _mean(p["val_loss"] for _, p in g)
        devs.append(abs(vp / vs - 1.0))
        gaps.append(abs(_mean(p["val_acc"] for _, p in g) - _mean(s["val_acc"] for s, _ in g)))
    wins = sum(s["train_loss"] <= p["train_loss"] for s, p in pairs)
    return {"val_loss_ratio_dev": max(devs), "val_acc_gap": max(gaps), "seq_train_wins": wins / len(pairs)}


def bin_gaps(table: Sequence[Mapping], dataset: str, *, min_q: float = 0.0) -> float:
    """max over ``dataset``'s bins whose lower edge is >= ``min_q`` of |val_par - val_seq| (NaN: no bin)."""
    lows = {label: float(label.strip("[>=").split(",")[0]) for label in {r["q_bin"] for r in table}}
    gaps = [abs(r["val_par"] - r["val_seq"]) for r in table if r["dataset"] == dataset and lows[r["q_bin"]] >= min_q]
    return max(gaps) if gaps else math.nan


# ---------------------------------------------------------------- truncation checks (card smoke (b), (c))
@torch.no_grad()
def taylor_gap(seq: nn.Module, par: nn.Module, h: torch.Tensor) -> float:
    """||seq(h) - par(h)|| / ||seq(h) - h|| (card): the share of the deep update beyond first order."""
    s = seq(h)
    return float((s - par(h)).norm() / (s - h).norm())


@torch.no_grad()
def truncation_gap(stack: nn.Module, h: torch.Tensor) -> float:
    """``taylor_gap`` of a trained residual stack against its first-order twin (same weights, parallel)."""
    return taylor_gap(twin(stack, "sequential"), twin(stack, "parallel"), h)


@torch.no_grad()
def linear_gap(eps: float, *, channels: int = 4, n_layers: int = 3, kernel_size: int = 3, size: int = 8,
               seed: int = 0) -> float:
    """||seq(x) - par(x)|| / ||x|| for a float64 conv stack with F_i(h) = eps W_i * h (linear, no bias)."""
    g = torch.Generator().manual_seed(seed)
    stack = ResidualConvStack(channels, n_layers, kernel_size, act="identity", bias=False).double()
    stack.weight.copy_(torch.randn(stack.weight.shape, generator=g, dtype=torch.float64) * eps
                       / math.sqrt(channels * kernel_size ** 2))
    x = torch.randn(2, channels, size, size, generator=g, dtype=torch.float64)
    return float((stack.sequential(x) - stack.parallel(x)).norm() / x.norm())


def taylor_order_ratio(eps: float = 1e-2, **kw) -> float:
    """gap(eps) / gap(eps / 10) (card smoke (b): in [70, 130], i.e. the gap is second order in eps)."""
    return linear_gap(eps, **kw) / linear_gap(eps / 10, **kw)


@torch.no_grad()
def single_layer_error(model: nn.Module, x: torch.Tensor) -> float:
    """max |model_sequential(x) - model_parallel(x)| (card smoke (c): 0 for an L = 1 stack)."""
    return float((twin(model, "sequential")(x) - twin(model, "parallel")(x)).abs().max())
