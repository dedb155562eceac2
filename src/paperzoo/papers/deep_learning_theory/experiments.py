"""The card's checks and experiments, as functions the protocols call (card "Reproduction ladder").

``criticality_rows``: every activation's universality class, critical (C_b, C_W, K*) and the susceptibilities there.
``kurtosis_sweep``: simulated excess kurtosis vs the leading-order 3V/(nK^2) and, for scale-invariant activations,
the exact finite-width value. ``trainability_run``: a deep MLP trained by SGD from a (C_b, C_W) initialisation,
with the ``criticality`` probe read at initialisation.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from paperzoo.data import TensorSet
from paperzoo.papers.deep_learning_theory.criticality import (
    a1_coefficient,
    find_criticality,
    kernel_flow,
    predicted_kurtosis,
    susceptibilities,
    universality_class,
)
from paperzoo.papers.deep_learning_theory.finite_width import (
    exact_kurtosis_scale_invariant,
    excess_kurtosis,
    random_preactivations,
    unit_input,
)
from paperzoo.papers.deep_learning_theory.gaussian import gaussian_expect, get_activation
from paperzoo.papers.deep_learning_theory.models import CriticalMLP
from paperzoo.papers.deep_learning_theory.probe import criticality
from paperzoo.train import DivergenceError, accuracy, fit

__all__ = ["BOOK_CRITICAL", "criticality_rows", "kernel_flows", "kurtosis_sweep", "trainability_run"]

# (C_b, C_W) the card states for each class (ch. 5); leaky_relu: 2 / (a+^2 + a-^2) with a- = 0.1.
BOOK_CRITICAL = {"relu": (0.0, 2.0), "linear": (0.0, 1.0), "leaky_relu": (0.0, 2.0 / 1.01), "tanh": (0.0, 1.0),
                 "sin": (0.0, 1.0)}
K_SMALL = 1e-6      # where chi of the K* = 0 class is evaluated (chi = 1 + O(K))


def criticality_rows(acts: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per activation: class, a_1, (C_b, C_W, K*) of ``find_criticality``, chi_par / chi_perp at the
    critical point (scale-invariant: at K = 1 and K = 10, both marginal; K* = 0 class: at K = 1e-6), the fixed-point
    residual |C_b + C_W <sigma^2>_{K*} - K*| and the deviation from the card's (C_b, C_W)."""
    rows = []
    for name in acts:
        cls, a1 = universality_class(name)
        try:
            cb, cw, ks = find_criticality(name)
        except ValueError:
            rows.append({"activation": name, "class": cls, "a1": a1, "C_b": math.nan, "C_W": math.nan, "K*": math.nan,
                         "chi_par": math.nan, "chi_perp": math.nan, "chi_err": math.nan, "fixed_point_residual": math.nan,
                         "card_err": math.nan})
            continue
        Ks = [1.0, 10.0] if cls == "scale-invariant" else [K_SMALL] if cls == "K*=0" else [ks]
        chis = [susceptibilities(name, K, cw) for K in Ks]
        f = get_activation(name)
        resid = 0.0 if cls == "scale-invariant" else abs(cb + cw * float(gaussian_expect(lambda z: f(z) ** 2, ks)) - ks)
        book = BOOK_CRITICAL.get(name)
        rows.append({"activation": name, "class": cls, "a1": a1, "C_b": cb, "C_W": cw, "K*": ks,
                     "chi_par": float(chis[0][0]), "chi_perp": float(chis[0][1]),
                     "chi_err": max(abs(float(c) - 1) for pair in chis for c in pair), "fixed_point_residual": resid,
                     "card_err": max(abs(cb - book[0]), abs(cw - book[1])) if book else math.nan})
    return rows


def kernel_flows(points: dict[str, tuple[float, float]], depth: int, K1: float = 1.0) -> dict[str, dict[str, list]]:
    """K^(l), chi_par(K^(l)), chi_perp(K^(l)) for l = 1..depth; ``points``: activation -> (C_b, C_W)."""
    out = {}
    for name, (cb, cw) in points.items():
        K = kernel_flow(name, K1, depth, cb, cw)
        chi_par, chi_perp = susceptibilities(name, K, cw)
        out[name] = {"K": K.tolist(), "chi_par": chi_par.tolist(), "chi_perp": chi_perp.tolist()}
    return out


def kurtosis_sweep(act: str, widths: tuple[int, ...], depth: int, n_nets: int, *, seed: int,
                   x_max: float | None = None) -> dict[str, Any]:
    """Per width n: simulated excess kurtosis at l = 1..depth (``n_nets`` networks, one input with |x|^2/n0 = 1,
    n0 = n), the leading order 3V/(nK^2) and the exact value (scale-invariant only); plus the pooled points
    ((l - 1)/n, simulated) with (l - 1)/n <= ``x_max`` for the slope fit."""
    cb, cw, _ = find_criticality(act)
    exact_ok = get_activation(act).a_plus is not None
    res: dict[str, Any] = {"per_width": {}, "x": [], "y": [], "lead": [], "exact": []}
    for n in widths:
        g = torch.Generator().manual_seed(seed * 1009 + n)
        z = random_preactivations(act, unit_input(n, g), depth, n, n_nets, cb, cw, generator=g)
        sim = excess_kurtosis(z).tolist()
        lead = predicted_kurtosis(act, depth, n, cb, cw).tolist()
        ex = exact_kurtosis_scale_invariant(act, depth, n).tolist() if exact_ok else [math.nan] * depth
        K_sim = (z.double() ** 2).mean((-2, -1)).tolist()
        res["per_width"][n] = {"sim": sim, "lead": lead, "exact": ex, "K_sim": K_sim}
        for l in range(2, depth + 1):
            x = (l - 1) / n
            if x_max is None or x <= x_max + 1e-12:
                res["x"].append(x)
                res["y"].append(sim[l - 1])
                res["lead"].append(lead[l - 1])
                res["exact"].append(ex[l - 1])
    return res


def tanh_decay(depths: tuple[int, ...], K1: float = 1.0) -> dict[int, float]:
    """(-a_1) l K^(l) for tanh at (0, 1): -> 1 as l -> inf (card: K^(l) ~ 1/((-a_1) l), a_1 = -2)."""
    a1 = a1_coefficient("tanh")
    K = kernel_flow("tanh", K1, max(depths), 0.0, 1.0)
    return {d: float(-a1 * d * K[d - 1]) for d in depths}


def trainability_run(ctx, train: TensorSet, test: TensorSet, probe_x: torch.Tensor, *, depth: int, width: int,
                     C_W: float, C_b: float = 0.0, act: str = "relu", epochs: int = 3, lr0: float = 0.1,
                     batch_size: int = 64, momentum: float = 0.9) -> dict[str, Any]:
    """Train ``CriticalMLP(depth, width, act, C_b, C_W)`` with SGD at learning rate lr0 / depth (card: eta ~ 1/L,
    because the NTK grows linearly with depth at criticality). The ``criticality`` probe is read on ``probe_x``
    at initialisation. A run whose loss becomes NaN/inf is stopped and scored as it stands ("diverged")."""
    ctx.seed_all()
    model = CriticalMLP(train.x[0].numel(), int(train.y.max()) + 1, width=width, depth=depth, act=act,
                        C_b=C_b, C_W=C_W)
    probe = criticality(model, probe_x)
    lr = lr0 / depth
    diverged = False
    try:
        fit(model, train, epochs=epochs, batch_size=batch_size, ctx=ctx, desc=f"L={depth} C_W={C_W:g}",
            optimizer=lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum), log_every=0)
    except DivergenceError:
        diverged = True
    acc = 100 * accuracy(model, test)
    train_acc = 100 * accuracy(model, train)
    return {"depth": depth, "C_W": C_W, "lr": lr, "test_acc": acc, "train_acc": train_acc, "diverged": diverged,
            "mean_log_chi": probe["mean_log_chi"], "mean_log_var_ratio": probe["mean_log_var_ratio"],
            "log_chi_total": probe["log_chi_total"]}
