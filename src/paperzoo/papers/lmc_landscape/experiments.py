"""The spawning experiment (card: "Spawning protocol", Frankle et al. 2020 instability analysis).

Fix theta_0 (init seed) and the data; train a parent for k SGD steps (data-order seed s_p) -> theta_k; from
theta_k train two children for the same number of steps with different data-order seeds (s_A != s_B), the
momentum buffers reset at the spawn (both identically, card pitfall) -> theta_A, theta_B; measure the barrier
along theta_A -> theta_B, the geometry (distance, angle of the displacements from theta_k), the loss and
gradient norm at theta_k, the predictors P_mid / P_end, and for some k the layer-wise barriers and predictors.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.papers.lmc_landscape.align import apply_permutation, linear_chain, weight_matching
from paperzoo.papers.lmc_landscape.curvature import fd_curvature, midpoint_excess, model_loss, predict_barrier
from paperzoo.papers.lmc_landscape.lmc import (
    ALPHAS,
    _Evaluator,
    barrier,
    geometry,
    interpolate,
    layerwise_barriers,
    params_of,
)

__all__ = ["measure_pair", "sgd_steps", "spawn_experiment"]


def sgd_steps(model: nn.Module, theta: dict[str, torch.Tensor], data: tuple[torch.Tensor, torch.Tensor], *, steps: int,
              lr: float, momentum: float, batch_size: int, seed: int, snapshots: Sequence[int] = (),
              on_step: Callable[[], None] | None = None) -> tuple[dict[str, torch.Tensor], dict[int, dict]]:
    """``steps`` SGD steps (fresh momentum buffer) from ``theta`` on mini-batches of cross-entropy.

    Data order: one permutation of the data per epoch from a generator seeded with ``seed`` (the last partial
    batch is dropped). Returns the final parameters and copies at the requested step counts (0 = theta).
    """
    x, y = data
    if steps < 0 or batch_size < 1 or batch_size > len(x):
        raise ValueError(f"need steps >= 0 and 1 <= batch_size <= {len(x)}, got steps={steps}, batch_size={batch_size}")
    work = copy.deepcopy(model)
    with torch.no_grad():
        for k, p in work.named_parameters():
            p.copy_(theta[k])
    work.train()
    opt = torch.optim.SGD(work.parameters(), lr=lr, momentum=momentum)
    g = torch.Generator().manual_seed(seed)
    per_epoch = len(x) // batch_size
    snaps = {0: params_of(work)} if 0 in snapshots else {}
    order = None
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(x), generator=g).to(x.device)
        idx = order[(step % per_epoch) * batch_size:(step % per_epoch + 1) * batch_size]
        loss = F.cross_entropy(work(x[idx]), y[idx])
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"SGD diverged at step {step} (loss {loss.item()}); lower lr={lr}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step + 1 in snapshots:
            snaps[step + 1] = params_of(work)
        if on_step is not None:
            on_step()
    return params_of(work), snaps


def _grad_norm(f, theta: dict[str, torch.Tensor]) -> tuple[float, float]:
    p = {k: v.detach().clone().requires_grad_(True) for k, v in theta.items()}
    loss = f(p)
    g = torch.autograd.grad(loss, list(p.values()), allow_unused=True)
    return float(loss.detach()), float(torch.sqrt(sum((gi.double() ** 2).sum() for gi in g if gi is not None)))


def measure_pair(model: nn.Module, theta_k: dict | None, theta_a: dict, theta_b: dict, *, test: tuple, train: tuple,
                 hvp: tuple, layerwise: bool, align: bool = False, alphas: Sequence[float] = ALPHAS,
                 bn_data: Any = None) -> dict[str, Any]:
    """Barriers (test and train, loss and error), geometry, predictors; layer-wise ones if ``layerwise``."""
    ev_test = _Evaluator(model, test, bn_data=bn_data)
    ev_train = _Evaluator(model, train, bn_data=bn_data)
    curve = interpolate(model, theta_a, theta_b, alphas, evaluator=ev_test)
    curve_tr = interpolate(model, theta_a, theta_b, alphas, evaluator=ev_train)
    f = model_loss(model, hvp)
    r: dict[str, Any] = {
        "barrier": barrier(curve), "barrier_err": barrier(curve, "err"), "barrier_train": barrier(curve_tr),
        "barrier_train_err": barrier(curve_tr, "err"), "test_loss_a": curve["loss"][0], "test_loss_b": curve["loss"][-1],
        "test_err_a": curve["err"][0], "test_err_b": curve["err"][-1], **geometry(theta_k, theta_a, theta_b),
        "mid_excess": midpoint_excess(f, theta_a, theta_b), "P_mid": predict_barrier(f, theta_a, theta_b, "mid"),
        "P_end": predict_barrier(f, theta_a, theta_b, "end"), "P_mid_fd": -fd_curvature(f, theta_a, theta_b) / 8,
        "curve": curve, "curve_train": curve_tr}
    if theta_k is not None:
        r["loss_k"], r["grad_norm_k"] = _grad_norm(f, theta_k)
    if layerwise:
        per = layerwise_barriers(model, theta_a, theta_b, alphas=alphas, evaluator=ev_test, end_a=(curve["loss"][0],
                                                                                                     curve["err"][0]))
        r["layers"] = {name: {"barrier": v["loss"], "barrier_err": v["err"],
                              "mid_excess": midpoint_excess(f, theta_a, theta_b, v["params"]),
                              "P_mid": predict_barrier(f, theta_a, theta_b, "mid", v["params"]),
                              "P_end": predict_barrier(f, theta_a, theta_b, "end", v["params"]),
                              "P_mid_fd": -fd_curvature(f, theta_a, theta_b, names=v["params"]) / 8,
                              "curve": v["curve"]} for name, v in per.items()}
    chain = linear_chain(model) if align else None
    if chain is not None:
        tp = apply_permutation(theta_b, chain, weight_matching(theta_a, theta_b, chain))
        c = interpolate(model, theta_a, tp, alphas, evaluator=ev_test)
        r |= {"barrier_wm": barrier(c), "barrier_err_wm": barrier(c, "err"), "distance_wm": geometry(None, theta_a, tp)[
            "distance"], "curve_wm": c}
    return r


def spawn_experiment(make_model: Callable[[], nn.Module], train: tuple, test: tuple, *, k_list: Sequence[int],
                     child_steps: int, seeds: tuple[int, int, int] = (123, 1, 2), init_seed: int = 0, lr: float = 0.2,
                     momentum: float = 0.9, batch_size: int = 128, hvp_n: int = 2000, train_eval_n: int = 5000,
                     layer_k: Sequence[int] = (), align: bool = False, bn_n: int = 0, alphas: Sequence[float] = ALPHAS,
                     cached: Callable[[str, Callable[[], dict]], dict] | None = None,
                     on_step: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """One record per k: ``{"k", metrics..., "curve", "layers"?}`` (card cpu rung defaults).

    ``seeds`` = (parent data order s_p, child A s_A, child B s_B); ``hvp_n`` test images for the Hessian
    terms; ``train_eval_n`` training images for the train-loss barrier; ``bn_n`` training images on which
    BatchNorm statistics are re-estimated (models with BatchNorm only); ``cached(name, fn)`` makes each k
    resumable (``RunContext.cached``).
    """
    s_p, s_a, s_b = seeds
    if s_a == s_b:
        raise ValueError("the two children need different data-order seeds (card: s_A != s_B)")
    k_list = sorted(set(int(k) for k in k_list))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = make_model()
    dev = train[0].device
    model = model.to(dev)
    theta0 = params_of(model)
    _, parents = sgd_steps(model, theta0, train, steps=max(k_list), lr=lr, momentum=momentum, batch_size=batch_size,
                           seed=s_p, snapshots=k_list, on_step=on_step)
    evals = {"test": test, "train": (train[0][:train_eval_n], train[1][:train_eval_n]),
             "hvp": (test[0][:hvp_n], test[1][:hvp_n]), "bn_data": train[0][:bn_n] if bn_n else None}
    records = []
    for k in k_list:
        def work(k=k) -> dict:
            theta_k = parents[k]
            th_a, _ = sgd_steps(model, theta_k, train, steps=child_steps, lr=lr, momentum=momentum,
                                batch_size=batch_size, seed=s_a, on_step=on_step)
            th_b, _ = sgd_steps(model, theta_k, train, steps=child_steps, lr=lr, momentum=momentum,
                                batch_size=batch_size, seed=s_b, on_step=on_step)
            return {"k": k, **measure_pair(model, theta_k, th_a, th_b, layerwise=k in layer_k, align=align,
                                           alphas=alphas, **evals)}
        records.append(cached(f"k{k}", work) if cached is not None else work())
    return records
