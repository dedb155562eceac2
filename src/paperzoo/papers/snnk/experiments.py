"""The card's checks and experiments: exact/MC identities, kernel-estimation error vs m, uptraining, bundling."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from paperzoo.data.sets import TensorSet
from paperzoo.nn import count_params
from paperzoo.papers.snnk.features import ACTIVATIONS, arccos1_kernel, gaussian_matrix, relu_rf, urf_for_activation
from paperzoo.papers.snnk.layers import BundledRF, SNNKAdapter, bundle_fit, uptrain
from paperzoo.train import accuracy, fit


def _pairs(n: int, d: int, gen: torch.Generator, r_lo: float, r_hi: float) -> tuple[torch.Tensor, torch.Tensor]:
    """n random (x, w) pairs in R^d, float64, directions uniform, norms uniform in [r_lo, r_hi]."""
    def draw():
        v = torch.randn(n, d, generator=gen, dtype=torch.float64)
        r = r_lo + (r_hi - r_lo) * torch.rand(n, 1, generator=gen, dtype=torch.float64)
        return r * v / v.norm(dim=1, keepdim=True)
    return draw(), draw()


def exact_checks(seed: int = 0, *, n_var_seeds: int = 200) -> dict[str, float]:
    """Card smoke (a)-(c) plus the bundling identity, all float64.

    cos_urf_err_over_bound: max |estimate - cos(w^T x + b)| / (4 sqrt(exp(|x|^2 + |w|^2) / m)) at m = 20,000;
    cos_urf_var_ratio: Var(m = 1,000) / Var(m = 10,000) over ``n_var_seeds`` draws (1/m scaling -> 10);
    relu_rf_rel_err: relative error of the ReLU-RF mean at m = 50,000 vs the arc-cosine kernel (one pair, card;
    ``_max20``: the worst of 20 pairs, no band);
    adapter_init_err: max |adapter(h) - h| at init; bundle_err: bundle_fit vs augmented least squares.
    """
    gen = torch.Generator().manual_seed(seed)
    x, w = _pairs(5, 8, gen, 0.9, 1.1)
    b = torch.full((5,), 0.3, dtype=torch.float64)
    m = 20_000
    est = urf_for_activation("cos", m, 8, seed).estimate(x, w, b)
    bound = 4 * torch.sqrt(torch.exp((x * x).sum(1) + (w * w).sum(1)) / m)
    out = {"cos_urf_err_over_bound": float(((est - torch.cos((x * w).sum(1) + b)).abs() / bound).max())}
    x1, w1 = x[:1].expand(n_var_seeds, 8), w[:1].expand(n_var_seeds, 8)
    var = {}
    for mm in (1_000, 10_000):
        ests = torch.stack([urf_for_activation("cos", mm, 8, seed * 100_003 + s).estimate(x1[:1], w1[:1], 0.3)[0]
                            for s in range(n_var_seeds)])
        var[mm] = float(ests.var())
    out["cos_urf_var_ratio"] = var[1_000] / var[10_000]
    xr, wr = _pairs(20, 8, gen, 0.5, 1.5)
    G = gaussian_matrix(50_000, 8, generator=gen, dtype=torch.float64)
    rel = ((relu_rf(xr, G) * relu_rf(wr, G)).sum(1) - arccos1_kernel(xr, wr)).abs() / arccos1_kernel(xr, wr)
    out["relu_rf_rel_err"], out["relu_rf_rel_err_max20"] = float(rel[0]), float(rel.max())   # card: one pair
    adapter = SNNKAdapter(16, num_rfs=8, seed=seed).double()
    h = torch.randn(4, 16, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        out["adapter_init_err"] = float((adapter(h) - h).abs().max())
    phi, y, lam = torch.randn(50, 12, generator=gen, dtype=torch.float64), torch.randn(50, 3, generator=gen,
                                                                                        dtype=torch.float64), 0.1
    aug = torch.linalg.lstsq(torch.cat([phi, math.sqrt(lam) * torch.eye(12, dtype=torch.float64)]),
                             torch.cat([y, torch.zeros(12, 3, dtype=torch.float64)])).solution
    out["bundle_err"] = float((bundle_fit(phi, y, lam) - aug).abs().max())
    return out


def kernel_error_sweep(activations: tuple[str, ...], ms: tuple[int, ...], *, n_pairs: int = 200, d: int = 16,
                       repeats: int = 10, r_lo: float = 0.2, r_hi: float = 0.6, seed: int = 0) -> dict[str, list[float]]:
    """Relative MSE ``mean (est - f)^2 / mean f^2`` per activation and m, over ``n_pairs`` (x, w, b) and ``repeats``
    independent draws of (G, xi). ``relu`` means the ReLU-RF estimate of the arc-cosine kernel."""
    gen = torch.Generator().manual_seed(seed)
    x, w = _pairs(n_pairs, d, gen, r_lo, r_hi)
    b = 0.5 * torch.rand(n_pairs, generator=gen, dtype=torch.float64) - 0.25
    out: dict[str, list[float]] = {}
    for k, name in enumerate(activations):
        if name == "relu":
            exact = arccos1_kernel(x, w)
        elif name in ACTIVATIONS:
            exact = ACTIVATIONS[name]((x * w).sum(1) + b)
        else:
            raise ValueError(f"kernel_error_sweep: unknown activation {name!r}")
        row = []
        for m in ms:
            se = 0.0
            for r in range(repeats):
                s = seed * 1_000_003 + 7919 * k + 104_729 * r + m
                if name == "relu":
                    G = gaussian_matrix(m, d, generator=torch.Generator().manual_seed(s), dtype=torch.float64)
                    est = (relu_rf(x, G) * relu_rf(w, G)).sum(1)
                else:
                    est = urf_for_activation(name, m, d, s).estimate(x, w, b)
                se += float(((est - exact) ** 2).mean())
            row.append(se / repeats / float((exact ** 2).mean()))
        out[name] = row
    return out


def loglog_slope(xs, ys) -> float:
    """Least-squares slope of log(y) on log(x)."""
    lx, ly = torch.log(torch.tensor(xs, dtype=torch.float64)), torch.log(torch.tensor(ys, dtype=torch.float64))
    lx = lx - lx.mean()
    return float((lx * (ly - ly.mean())).sum() / (lx * lx).sum())


def uptrain_run(train: TensorSet, test: TensorSet, *, width: int, num_rfs: tuple[int, ...], epochs: int, ft_epochs: int,
                lr: float, batch_size: int, ctx) -> dict[str, float]:
    """Card cpu "uptraining analogue": dense 784-width-10 GELU MLP, then (for each m in ``num_rfs``, from the same
    dense weights) its hidden pair swapped for a ReLU-SNNK (P = Psi(W), bias copied) and fine-tuned. Returns the
    dense accuracy and trainable hidden params, and per m: accuracy at init and after fine-tuning, hidden
    params, and the relative error of the hidden output at init vs the dense pair (512 test images)."""
    ctx.seed_all()
    model = nn.Sequential(nn.Flatten(), nn.Linear(train.x[0].numel(), width), nn.GELU(), nn.Linear(width, train.num_classes))
    opt = lambda ps: torch.optim.Adam(ps, lr=lr)                          # noqa: E731
    fit(model, train, epochs=epochs, batch_size=batch_size, ctx=ctx.sub("dense"), optimizer=opt, desc="dense")
    out = {"dense_acc": 100 * accuracy(model, test), "dense_hidden_params": count_params(model[1])}
    probe = test.x[:512].flatten(1)
    with torch.no_grad():
        ref = model[2](model[1](probe))
    for m in num_rfs:
        net = copy.deepcopy(model)
        uptrain(net, num_rfs=m, seed=ctx.seed)
        with torch.no_grad():
            out[f"init_rel_err_m{m}"] = float((net[1](probe) - ref).norm() / ref.norm())
        out[f"snnk_init_acc_m{m}"] = 100 * accuracy(net, test)
        out[f"snnk_hidden_params_m{m}"] = count_params(net[1])
        fit(net, train, epochs=ft_epochs, batch_size=batch_size, ctx=ctx.sub(f"snnk_m{m}"), optimizer=opt, desc=f"snnk m={m}")
        out[f"snnk_acc_m{m}"] = 100 * accuracy(net, test)
    return out


def bundle_run(train: TensorSet, test: TensorSet, *, num_rfs: int, ridge: float, mlp_epochs: int, lr: float,
               batch_size: int, ctx) -> dict[str, float]:
    """Card cpu "bundling": ReLU random features + closed-form ridge (no backprop) vs a 1-hidden-layer ReLU MLP
    of the same width trained with Adam."""
    net = BundledRF(train.x[0].numel(), train.num_classes, num_rfs, seed=ctx.seed).fit(train.x, train.y, ridge)
    with torch.no_grad():
        bundled = float((net(test.x).argmax(1) == test.y).double().mean())
    ctx.seed_all()
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(train.x[0].numel(), num_rfs), nn.ReLU(), nn.Linear(num_rfs, train.num_classes))
    fit(mlp, train, epochs=mlp_epochs, batch_size=batch_size, ctx=ctx.sub("mlp"),
        optimizer=lambda ps: torch.optim.Adam(ps, lr=lr), desc="mlp")
    return {"bundled_acc": 100 * bundled, "mlp_acc": 100 * accuracy(mlp, test)}
