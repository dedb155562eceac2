"""The measurements behind the protocols: kernel checks, finite-width ensembles, the GP sweep, closed forms."""
from __future__ import annotations

import math

import torch

from paperzoo.papers.exact_permutations.complexity import gp_for_permutation, margins
from paperzoo.papers.exact_permutations.kernels import empirical_ntk, ntk_kernel
from paperzoo.papers.exact_permutations.model import TwoLayerReLU, train_ensemble_batched
from paperzoo.papers.exact_permutations.task import (
    accuracy_curve,
    binary_inputs,
    exact,
    first_at_least,
    make_task,
    two_hot_tests,
)


def gd_rates(k: int, lr_times_width: float, width: int = 50_000) -> tuple[float, float]:
    """(lr 2/(n c) lambda_max, lr 2/(n c) lambda_min) of the training NTK for GD at lr = lr_times_width / width:
    the first must stay < 2 for linearised GD to converge; the second is the e-folds per step of the slowest mode."""
    x = torch.eye(k, dtype=torch.float64)
    ev = torch.linalg.eigvalsh(ntk_kernel(x, x, width))
    eta = lr_times_width / width * 2.0 / (k * k)
    return float(eta * ev.max()), float(eta * ev.min())


def steps_for(k: int, efolds: float, lr_times_width: float, width: int) -> int:
    """GD steps for ``efolds`` e-folds of the slowest training mode (linearised dynamics)."""
    return max(1, math.ceil(efolds / gd_rates(k, lr_times_width, width)[1]))


def ntk_check(k: int, width: int, generator: torch.Generator, inits: int = 4) -> tuple[float, float]:
    """Relative error of the empirical NTK (mean over ``inits`` fresh nets) against the analytic NTK, on the k basis
    vectors and four normalised two-hot inputs (float64): (Frobenius ||E - A|| / ||A||, max |E - A| / max |A|)."""
    xt, _ = two_hot_tests(k, 4, 2, generator, dtype=torch.float64)
    x = torch.cat([torch.eye(k, dtype=torch.float64), xt])
    emp = 0.0
    for _ in range(inits):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        emp = emp + empirical_ntk(TwoLayerReLU(k, width=width).double(), x) / inits
    ana = ntk_kernel(x, x, width)
    return float((emp - ana).norm() / ana.norm()), float((emp - ana).abs().max() / ana.abs().max())


def gp_checks(k: int) -> dict[str, float]:
    """Interpolation identity and the converged GP mean on every two-hot input (identity P; symmetric in P)."""
    gp = gp_for_permutation(k)
    x = torch.eye(k, dtype=torch.float64)
    interp = max(float((gp.mean(x) - x).abs().max()), float(gp.cov(x).abs().max()))
    two = binary_inputs(k, min_ones=2)
    two = two[two.sum(1) == 2]
    mu = gp.mean(two / two.norm(dim=1, keepdim=True))
    on = mu[two > 0.5]
    off = mu[two < 0.5]
    return {"gp_interp_err": interp, "gp_sign_exact": float(exact(mu, two).double().mean()),
            "gp_on": float(on.mean()), "gp_on_spread": float(on.max() - on.min()), "gp_off": float(off.mean()),
            "gp_off_max": float(off.max())}


def all_inputs_sign_exact(k: int) -> float:
    """Share of the inputs with >= 2 ones whose converged GP mean rounds to P x (brute force over 2^k - k - 1)."""
    gp = gp_for_permutation(k)
    xs = binary_inputs(k, min_ones=2)
    return float(exact(gp.mean(xs / xs.norm(dim=1, keepdim=True)), xs).double().mean())


def finite_ensemble(k: int, n_models: int, *, width: int, lr_times_width: float, steps: int, n_tests: int,
                    nnz: int, delta: float, orderings: int, generator: torch.Generator,
                    device: torch.device | str = "cpu") -> dict:
    """Train ``n_models`` nets on one random permutation, evaluate the official stopping rule on ``orderings``
    random orders of the models (the first order is the training order). A stream that never reaches
    1 - delta counts as n_models + 1 (a lower bound)."""
    P, x, y = make_task(k, generator)
    xt, yt = two_hot_tests(k, n_tests, nnz, generator, P=P)
    x, y, xt, yt = (t.to(device) for t in (x, y, xt, yt))
    ens, loss = train_ensemble_batched(n_models, x, y, width=width, lr=lr_times_width / width, steps=steps,
                                       generator=generator)
    preds = ens(xt)                                             # (E, n_tests, k)
    curves, ns = [], []
    for o in range(orderings):
        order = torch.arange(n_models) if o == 0 else torch.randperm(n_models, generator=generator)
        order = order.to(device)
        acc = accuracy_curve(preds[order], yt)
        curves.append(acc)
        hit = first_at_least(acc, 1.0 - delta)
        ns.append(float(n_models + 1 if hit is None else hit))
    train_exact = exact(ens(x) - 0.5, y)                        # rounding at 1/2 on the training set (deviation 4)
    single = exact(preds, yt.expand_as(preds)).all(dim=1)       # member exact on every test input
    return {"ns": ns, "median": float(torch.tensor(ns).median()), "mean_curve": torch.stack(curves).mean(0).cpu().tolist(),
            "loss_max": float(loss.max()), "fit_exact": float(train_exact.all(dim=1).double().mean()),
            "single_exact": int(single.sum()), "steps": steps}


def official_gp_margins(ks) -> list[dict]:
    """Per k: the converged GP mean on two-hot inputs (on / off) and its std, at the official width."""
    rows = []
    for k in ks:
        m = margins(k)
        rows.append({"k": k, "mu_on": float(m["on"][1]), "mu_off": float(m["off"][1]) if k > 2 else math.nan,
                     "sigma": float(m["sigma"][1]), "a_off": float(m["a_off"][1]) if k > 2 else math.nan})
    return rows

