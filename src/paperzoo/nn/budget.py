"""Build a model at a parameter budget by searching one integer knob (width, depth, ...)."""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn


class BudgetError(ValueError):
    """No value of the knob gives a parameter count within tolerance of the budget."""


def count_params(model: nn.Module, *, trainable: bool = True) -> int:
    """Number of (trainable, by default) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def at_budget(factory: Callable[..., nn.Module], n_params: int, *, knob: str = "width", tol: float = 0.10,
              lo: int = 1, hi: int = 1 << 20, trainable: bool = True, **kwargs: Any) -> nn.Module:
    """``factory(**kwargs, knob=k)`` at the budget; see ``budget_kwargs`` (which returns the keywords)."""
    return budget_kwargs(factory, n_params, knob=knob, tol=tol, lo=lo, hi=hi, trainable=trainable, **kwargs)[1]


def budget_kwargs(factory: Callable[..., nn.Module], n_params: int, *, knob: str = "width", tol: float = 0.10,
                  lo: int = 1, hi: int = 1 << 20, trainable: bool = True,
                  **kwargs: Any) -> tuple[dict[str, Any], nn.Module]:
    """``factory(**kwargs, knob=k)`` with the integer ``k`` whose parameter count is closest to
    ``n_params``; raises ``BudgetError`` (with the nearest counts) when that is off by more than ``tol``.

    Assumes the count grows with the knob (true of width, depth, number of features): it doubles
    ``k`` from ``lo`` until the budget is passed, then bisects, so it counts O(log k) models. Counting
    builds on the ``meta`` device (no memory, no initialisation) when the constructor allows it, and
    only the chosen model is built for real.
    """
    if n_params <= 0:
        raise ValueError(f"at_budget: n_params must be positive, got {n_params}")
    if knob in kwargs:
        raise ValueError(f"at_budget: {knob!r} is the searched knob; do not pass it")
    cache: dict[int, tuple[int, nn.Module | None]] = {}
    meta_ok = [True]

    def build(k: int) -> tuple[int, nn.Module | None]:
        if k not in cache:
            if meta_ok[0]:
                try:
                    with torch.device("meta"):
                        cache[k] = (count_params(factory(**kwargs, **{knob: k}), trainable=trainable), None)
                    return cache[k]
                except Exception:  # a constructor that computes on real tensors: count on the CPU instead
                    meta_ok[0] = False
            m = factory(**kwargs, **{knob: k})
            cache[k] = (count_params(m, trainable=trainable), m)
        return cache[k]

    k_lo = lo
    if build(k_lo)[0] < n_params:
        k_hi = k_lo
        while build(k_hi)[0] < n_params and k_hi < hi:
            k_lo, k_hi = k_hi, min(hi, k_hi * 2)
        while k_hi - k_lo > 1:
            mid = (k_lo + k_hi) // 2
            k_lo, k_hi = (mid, k_hi) if build(mid)[0] < n_params else (k_lo, mid)
        best = min((k_lo, k_hi), key=lambda k: abs(build(k)[0] - n_params))
    else:
        best = k_lo
    count, model = build(best)
    if model is None:
        model = factory(**kwargs, **{knob: best})
        count = count_params(model, trainable=trainable)
    if abs(count - n_params) > tol * n_params:
        tried = ", ".join(f"{knob}={k}: {c:,}" for k, (c, _) in sorted(cache.items()))
        raise BudgetError(f"{getattr(factory, '__name__', factory)}: no {knob} gives {n_params:,} +- "
                          f"{tol:.0%} parameters (tried {tried})")
    return {**kwargs, knob: best}, model
