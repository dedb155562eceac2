"""The card's numerical checks: the Monte-Carlo dual, the limit regimes, and the Dirichlet accuracy sweep."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from paperzoo.papers.wide_deep_optimal.classifiers import (
    KernelClassifier,
    bayes_dirichlet,
    dirichlet_sphere_data,
    majority_vote,
    one_nn,
    singular_kernel_classifier,
)
from paperzoo.papers.wide_deep_optimal.duals import Activation, get_activation
from paperzoo.papers.wide_deep_optimal.kernels import kernel_fn, ntk_kernel, sphere
from paperzoo.papers.wide_deep_optimal.models import WideDeepMLP, empirical_ntk


def dual_mc_error(act: str | Activation, xis: Sequence[float] = (-0.5, 0.0, 0.5, 0.9), n: int = 1_000_000,
                  seed: int = 0, derivative: bool = False) -> float:
    """max_xi |mean phi(u) phi(v) - psi(xi)| over ``n`` Gaussian pairs with correlation xi (card smoke (a)).
    ``derivative`` checks psi' against phi' (by autograd) instead."""
    a = get_activation(act)
    g = torch.Generator().manual_seed(seed)
    xi = torch.tensor(xis, dtype=torch.float64)[:, None]
    u = torch.randn(len(xis), n, generator=g, dtype=torch.float64)
    v = xi * u + torch.sqrt(1.0 - xi**2) * torch.randn(len(xis), n, generator=g, dtype=torch.float64)
    if derivative:
        uv = torch.stack([u, v]).requires_grad_(True)
        (d,) = torch.autograd.grad(a(uv).sum(), uv)
        mc, exact = (d[0] * d[1]).mean(dim=1), a.dpsi(xi[:, 0])
    else:
        mc, exact = (a(u) * a(v)).mean(dim=1), a.psi(xi[:, 0])
    return float((mc - exact).abs().max())


def ntk_mc_rel_error(act: str = "relu", *, width: int = 1024, depth: int = 2, n_points: int = 4, seeds: int = 3,
                     seed: int = 0) -> float:
    """max |mean_seeds Theta_emp - K_L| / K_L(1) for the finite ``WideDeepMLP`` (float64) vs the NTK recursion."""
    g = torch.Generator().manual_seed(seed)
    x = sphere(torch.randn(n_points, 5, generator=g, dtype=torch.float64))
    k, log_c = ntk_kernel(x, x, depth, act, log_scale=True)
    emp = []
    for s in range(seeds):
        torch.manual_seed(seed * 1000 + s)
        emp.append(empirical_ntk(WideDeepMLP(5, 1, width=width, depth=depth, act=act).double(), x))
    return float((torch.stack(emp).mean(0) / math.exp(log_c) - k).abs().max())


def orthant_data(n: int, dim: int = 3, seed: int = 0) -> torch.Tensor:
    """|Gaussian| rows normalised: points on the positive orthant of S^(dim-1) (card smoke (c))."""
    g = torch.Generator().manual_seed(seed)
    return sphere(torch.randn(n, dim, generator=g, dtype=torch.float64).abs())


def one_nn_agreement(act: str = "hermite_3", depth: int = 8, n_train: int = 200, n_test: int = 200, seed: int = 0) -> float:
    """Share of test points where interpolating NTK regression and 1-NN agree (card smoke (c)); labels are
    the sign of a random linear function on the orthant."""
    x, xt = orthant_data(n_train, seed=seed), orthant_data(n_test, seed=seed + 1)
    w = torch.randn(3, generator=torch.Generator().manual_seed(seed + 2), dtype=torch.float64)
    w = w - w.mean()                        # a plane through the orthant, so both labels occur
    y = torch.where(x @ w >= 0, 1.0, -1.0).double()
    pred = KernelClassifier(kernel_fn("ntk", depth, act)).fit(x, y).predict(xt)
    return float((pred == one_nn(x, y, xt)).double().mean())


def dirichlet_sweep(alpha1, alpha2, p1: float, n_trains: Sequence[int], n_test: int, seed: int,
                    methods: dict, device: torch.device | str = "cpu") -> dict[int, dict[str, float]]:
    """Accuracy of every method for each n_train on one draw (train and test drawn together, as the official
    script). ``methods``: name -> ("kernel", kind, depth, act) or ("fn", classify(x_tr, y_tr, x_te)).
    Also returns the Bayes rule's test accuracy and, for every pair named in ``agree``, the agreement."""
    out = {}
    bayes = bayes_dirichlet(alpha1, alpha2, p1)
    for n in n_trains:
        x, y, s = dirichlet_sphere_data(n + n_test, alpha1, alpha2, p1, seed=seed * 100_003 + n)
        x = x.to(device)
        xtr, ytr, xte, yte = x[:n], y[:n].to(device), x[n:], y[n:].to(device)
        preds = {"bayes": bayes(s[n:]).to(device)}
        for name, spec in methods.items():
            if spec[0] == "kernel":
                preds[name] = KernelClassifier(kernel_fn(spec[1], spec[2], spec[3])).fit(xtr, ytr).predict(xte)
            else:
                preds[name] = spec[1](xtr, ytr, xte)
        row = {f"acc_{k}": float((p == yte).double().mean()) for k, p in preds.items()}
        for a_name, b_name in (("nngp_opt3d", "devroye"), ("ntk_hermite3", "one_nn"), ("nngp_sine", "devroye")):
            if a_name in preds and b_name in preds:
                row[f"agree_{a_name}_{b_name}"] = float((preds[a_name] == preds[b_name]).double().mean())
        out[n] = row
    return out


def default_methods(depth: int, hermite_depth: int, devroye_alpha: float, sine_a: float) -> dict:
    """The cpu rung's comparison (card): 1-NN, majority vote, Devroye, NNGP opt_3d / sine_a, NTK hermite_3."""
    return {
        "one_nn": ("fn", one_nn),
        "majority": ("fn", majority_vote),
        "devroye": ("fn", singular_kernel_classifier(devroye_alpha)),
        "nngp_opt3d": ("kernel", "nngp", depth, "opt_3d"),
        "nngp_sine": ("kernel", "nngp", depth, f"sine_{sine_a:g}"),
        "ntk_hermite3": ("kernel", "ntk", hermite_depth, "hermite_3"),
    }
