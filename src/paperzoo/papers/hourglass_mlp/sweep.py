"""Architecture sweeps and Pareto frontiers: metric vs trainable parameters for both families.

The paper characterises "performance-parameter Pareto frontiers through systematic architectural
search" (abstract, source-checked): a grid over (d_z, d_h, L) for the Hourglass MLP and (d_h, L)
for the conventional residual MLP, each trained, each plotted as (trainable parameters, metric),
the upper envelope being the frontier. Two frontiers are compared at shared budgets: the best metric
among models with at most ``budget (1 + tol)`` trainable parameters (card: matched at +-15 %).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

from paperzoo.papers.hourglass_mlp.model import ConventionalResMLP, HourglassMLP, conventional_params, hourglass_params


@dataclass(frozen=True)
class Arch:
    """One grid point: ``family`` is ``hourglass`` (d_z, d_h, L) or ``conventional`` (d_h, L; d_z unused = 0;
    ``head``: the conventional net's trained output head)."""

    family: str
    d_h: int
    depth: int
    d_z: int = 0
    head: bool = True

    @property
    def name(self) -> str:
        if self.family == "hourglass":
            return f"hg-z{self.d_z}-h{self.d_h}-L{self.depth}"
        return f"conv-h{self.d_h}-L{self.depth}"

    def build(self, d_in: int, d_out: int, *, proj_seed: int = 0, freeze_input_proj: bool = True,
              act: str = "gelu", norm: str = "layernorm") -> torch.nn.Module:
        if self.family == "hourglass":
            return HourglassMLP(d_in, d_out, self.d_z, self.d_h, self.depth, freeze_input_proj=freeze_input_proj,
                                proj_seed=proj_seed, act=act, norm=norm)
        if self.family == "conventional":
            return ConventionalResMLP(d_in, d_out, self.d_h, self.depth, out_proj=self.head, act=act, norm=norm)
        raise ValueError(f"unknown family {self.family!r}; have 'hourglass', 'conventional'")

    def params(self, d_in: int, d_out: int, *, norm: str = "layernorm", freeze_input_proj: bool = True) -> int:
        """Closed-form trainable parameter count of ``build(d_in, d_out)``."""
        if self.family == "hourglass":
            return hourglass_params(d_in, d_out, self.d_z, self.d_h, self.depth, norm=norm,
                                    freeze_input_proj=freeze_input_proj)
        return conventional_params(d_in, d_out, self.d_h, self.depth, norm=norm, out_proj=self.head)


def hourglass_grid(d_z: Iterable[int], d_h: Iterable[int], depth: Iterable[int]) -> list[Arch]:
    """Every (d_z, d_h, L) of the Hourglass grid (card cpu: d_z {1024, 2048}, d_h {64, 128}, L {2, 4})."""
    return [Arch("hourglass", h, L, z) for z, h, L in itertools.product(d_z, d_h, depth)]


def conventional_grid(d_h: Iterable[int], depth: Iterable[int], *, head: bool = True) -> list[Arch]:
    """Every (d_h, L) of the conventional grid (card cpu: d_h {256, 512, 1024}, L {1, 2, 4})."""
    return [Arch("conventional", h, L, head=head) for h, L in itertools.product(d_h, depth)]


def prune_to_overlap(archs: Sequence[Arch], d_in: int, d_out: int, *, tol: float = 0.15,
                     norm: str = "layernorm") -> tuple[list[Arch], list[Arch]]:
    """(kept, skipped): drop the models with more than ``hi (1 + tol)`` trainable parameters, hi being the
    smaller of the two families' largest counts. No shared budget exceeds hi, so such a model can never
    enter a frontier comparison (``frontier_at`` only looks at counts <= budget (1 + tol))."""
    counts = {f: [a.params(d_in, d_out, norm=norm) for a in archs if a.family == f] for f in ("hourglass", "conventional")}
    if not all(counts.values()):
        return list(archs), []
    hi = min(max(c) for c in counts.values()) * (1 + tol)
    kept = [a for a in archs if a.params(d_in, d_out, norm=norm) <= hi]
    return kept, [a for a in archs if a not in kept]


def pareto_frontier(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The upper envelope of (params, score) points: sorted by params, each strictly better than every
    point with fewer or equal parameters (ties in params keep the best score)."""
    front: list[tuple[float, float]] = []
    for p, s in sorted(points, key=lambda t: (t[0], -t[1])):
        if math.isfinite(s) and (not front or s > front[-1][1]):
            front.append((p, s))
    return front


def frontier_at(points: Sequence[tuple[float, float]], budget: float, *, tol: float = 0.15) -> float:
    """Best score among points with at most ``budget * (1 + tol)`` parameters (nan when none)."""
    ok = [s for p, s in points if p <= budget * (1 + tol) and math.isfinite(s)]
    return max(ok) if ok else math.nan


def budget_points(a: Sequence[float], b: Sequence[float], n: int = 3) -> list[float]:
    """``n`` budgets log-spaced over the overlap [max(min a, min b), min(max a, max b)] of two param
    ranges (empty when they do not overlap)."""
    lo, hi = max(min(a), min(b)), min(max(a), max(b))
    if lo > hi or n < 1:
        return []
    if n == 1:
        return [math.sqrt(lo * hi)]
    return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]


def compare_frontiers(hg: Sequence[tuple[float, float]], conv: Sequence[tuple[float, float]], *, n: int = 3,
                      tol: float = 0.15, budgets: Sequence[float] | None = None) -> list[dict]:
    """One row per shared budget: both frontiers' best scores and the gap (hourglass - conventional).

    ``budgets`` defaults to ``budget_points`` over the two point sets' parameter ranges."""
    rows = []
    if budgets is None:
        budgets = budget_points([p for p, _ in hg], [p for p, _ in conv], n)
    for b in budgets:
        h, c = frontier_at(hg, b, tol=tol), frontier_at(conv, b, tol=tol)
        rows.append({"budget": round(b), "hourglass": h, "conventional": c, "gap": h - c})
    return rows


def best_arch_at(results: Sequence[dict], budget: float, *, tol: float = 0.15) -> dict | None:
    """The best result row (keys ``params``, ``score``, ...) with at most ``budget (1 + tol)`` params."""
    ok = [r for r in results if r["params"] <= budget * (1 + tol) and math.isfinite(r["score"])]
    return max(ok, key=lambda r: r["score"]) if ok else None


def scaling_score(first: dict | None, last: dict | None) -> float:
    """How many of the paper's three scaling trends hold from the smallest to the largest budget's best
    Hourglass: depth L does not fall, d_z does not fall, d_h does not rise (abstract, source-checked)."""
    if first is None or last is None:
        return math.nan
    return float((last["depth"] >= first["depth"]) + (last["d_z"] >= first["d_z"]) + (last["d_h"] <= first["d_h"]))
