"""The card's experiments on independently trained nets: train N nets (same data, seeds differ) and an
untrained floor, gather float64 statistics of every post-ReLU layer over the evaluation images (all
positions), then one-to-one matching, the permuted-copy ceiling, mutual information, sparse prediction and
spectral clustering (Li et al. 2016, Secs. 2-5; card "Reproduction ladder").
"""
from __future__ import annotations

import copy
from typing import Any

import torch

from paperzoo.nn import collect_features
from paperzoo.papers.convergent_learning.matching import bipartite_match, match_summary, mi_matrix, semi_match
from paperzoo.papers.convergent_learning.models import ConvergentNet, alexnet_cifar, convergent_cnn, permute_hidden_units
from paperzoo.papers.convergent_learning.probe import layer_stats
from paperzoo.papers.convergent_learning.sparse import sparse_predict
from paperzoo.papers.convergent_learning.spectral import group_report, spectral_groups
from paperzoo.papers.convergent_learning.stats import correlation, to_units
from paperzoo.train import RunContext, accuracy, fit

__all__ = ["build_net", "ceiling", "layer_report", "mi_overlap", "nnz_half", "train_nets"]


def build_net(arch: str, width: int, in_chans: int, in_size: int) -> ConvergentNet:
    if arch == "cnn":
        return convergent_cnn(in_chans, width=width, in_size=in_size)
    if arch == "alexnet":
        if in_size != 32:
            raise ValueError(f"arch 'alexnet' is the CIFAR net (32 x 32 inputs), got {in_size} x {in_size}")
        return alexnet_cifar(in_chans, width=width)
    raise ValueError(f"arch must be 'cnn' or 'alexnet', got {arch!r}")


def train_nets(ctx: RunContext, cfg: Any, train, test) -> tuple[list[ConvergentNet], list[float], ConvergentNet]:
    """``cfg.nets`` nets trained from seeds derived from (ctx.seed, "net{i}"), their test accuracies (%), and an
    untrained net (PyTorch default init) as the floor. Adam lr ``cfg.lr``, batch ``cfg.batch_size`` (card)."""
    c, s = train.x.shape[1], train.x.shape[-1]
    nets, accs = [], []
    for i in range(cfg.nets):
        sub = ctx.sub(f"net{i}")
        torch.manual_seed(sub.seed)
        net = build_net(cfg.arch, cfg.width, c, s)
        fit(net, train, epochs=cfg.epochs, batch_size=cfg.batch_size, ctx=sub, desc=f"net{i}",
            optimizer=lambda p: torch.optim.Adam(p, lr=cfg.lr))
        net.eval()
        nets.append(net)
        accs.append(100.0 * accuracy(net, test, device=ctx.device))
    torch.manual_seed(ctx.sub("untrained").seed)
    return nets, accs, build_net(cfg.arch, cfg.width, c, s).eval()


def layer_report(stats, i: int, j: int) -> dict[str, float]:
    """Matching summary of nets i, j in one layer, plus the within-net reference of net i: the mean over its
    units of the best correlation with another unit of the same net (``within_semi``)."""
    out = match_summary(stats.corr(i, j), ~stats.dead(i), ~stats.dead(j))
    W = stats.corr(i, i).clone()
    W.fill_diagonal_(-2.0)
    live = ~stats.dead(i)
    out["within_semi"] = float(W.max(1).values[live].mean()) if live.sum() > 1 else float("nan")
    out["dead"] = float(stats.dead(i).sum() + stats.dead(j).sum())
    return out


@torch.no_grad()
def ceiling(net: ConvergentNet, x: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
    """Card smoke (a): a copy of ``net`` with the units of every hidden layer randomly permuted (the next layer's
    inputs permuted alike) computes the same logits; bipartite matching must find the permutation, with matched
    rho = 1, for every live unit. Returns the worst case over layers."""
    perms = {name: torch.randperm(getattr(net, name).weight.shape[0], generator=generator) for name in net.act_layers}
    twin = permute_hidden_units(copy.deepcopy(net), perms)
    logit_diff = float((net(x) - twin(x)).abs().max())
    stats = layer_stats([net, twin], x, list(net.act_layers.values()), full=False)
    recovered, rho_err, semi_gap = [], [], []
    for name, mod in net.act_layers.items():
        s = stats[mod]
        C, live = s.corr(0, 1), ~s.dead(0)
        found, truth = bipartite_match(C), perms[name].argsort()
        recovered.append(float((found == truth)[live].double().mean()) if live.any() else 1.0)
        rho_err.append(float((1 - C[torch.arange(len(C)), found])[live].abs().max()) if live.any() else 0.0)
        summ = match_summary(C)
        semi_gap.append(summ["semi"] - summ["bipartite"])
    return {"perm_recovered": min(recovered), "perm_rho_err": max(rho_err), "perm_logit_diff": logit_diff,
            "perm_semi_gap": min(semi_gap)}


def mi_overlap(net_a: ConvergentNet, net_b: ConvergentNet, x: torch.Tensor, layer: str, *, max_obs: int, top: int,
               generator: torch.Generator) -> dict[str, float]:
    """Matching by mutual information vs by correlation (arXiv v2 Fig. S4; card): of the ``top`` best
    correlation-matched pairs (bipartite), how many the MI bipartite matching keeps; and the overall agreement.
    ``layer``: an analysed layer name (``conv1``); at most ``max_obs`` random (image, position) observations."""
    module, units = net_a.act_layers[layer], getattr(net_a, layer).weight.shape[0]
    fa = collect_features(net_a, x, [module], which="output")[module]
    fb = collect_features(net_b, x, [module], which="output")[module]
    a, b = to_units(fa.reshape(len(x), units, -1)), to_units(fb.reshape(len(x), units, -1))
    if len(a) > max_obs:
        idx = torch.randperm(len(a), generator=generator)[:max_obs]
        a, b = a[idx], b[idx]
    C = correlation(a, b)
    pc, pm = bipartite_match(C), bipartite_match(mi_matrix(a, b))
    best = C[torch.arange(len(C)), pc].argsort(descending=True)[:top]
    return {"mi_top_kept": float((pc[best] == pm[best]).sum()), "mi_agree": float((pc == pm).double().mean()),
            "mi_semi_agree": float((semi_match(C) == pm).double().mean())}


def nnz_half(path: list[dict[str, float]]) -> float:
    """Fewest mean non-zero inputs along the lambda path whose loss closes half of the gap between the best single
    unit (one-to-one) and the dense least-squares map: 'how many units does a unit need' (nan if none does)."""
    goal = path[0]["loss_dense"] + 0.5 * (path[0]["loss_1"] - path[0]["loss_dense"])
    ok = [p["nnz"] for p in path if p["loss"] <= goal]
    return min(ok) if ok else float("nan")


def sparse_and_spectral(ctx: RunContext, stats: dict, cfg: Any, names: dict[str, str]) -> dict[str, float]:
    """Sparse prediction of net 1's units from net 0's (``cfg.sparse_layers``) and spectral clustering of the
    joint graph of ``cfg.spectral_layer``; tables, curves and metrics."""
    m: dict[str, float] = {}
    rows, curves = [], {}
    for layer in cfg.sparse_layers:
        s = stats[names[layer]]
        path = sparse_predict(s.corr(0, 0), s.corr(0, 1), cfg.lambdas, live=~s.dead(1), iters=cfg.lasso_iters)
        rows += [{"layer": layer, **p} for p in path]
        curves[layer] = [p["loss"] for p in path]
        m[f"sparse_nnz_half_{layer}"] = nnz_half(path)
        m[f"sparse_loss_1_{layer}"], m[f"sparse_loss_dense_{layer}"] = path[0]["loss_1"], path[0]["loss_dense"]
        m |= {f"sparse_nnz_{layer}_lam{p['lambda']:g}": p["nnz"] for p in path}
    if rows:
        ctx.table("sparse_prediction", rows, caption="lasso of net-2 units on net-1 units (standardised): mean "
                  "unexplained variance `loss`, mean non-zero inputs `nnz`; `loss_1` best single unit, `loss_dense` "
                  "least squares")
        ctx.curve("sparse_prediction", x=sorted(cfg.lambdas, reverse=True), ys=curves, xlabel="lambda (L1)",
                  ylabel="unexplained variance of net-2 units", logx=True, title="sparse prediction: loss vs lambda")
    if cfg.spectral_layer:
        s = stats[names[cfg.spectral_layer]]
        labels = spectral_groups(s.corr(0, 0), s.corr(1, 1), s.corr(0, 1), cfg.spectral_k, generator=ctx.generator(17))
        n_a = s.sizes[0]
        rep = group_report(labels, n_a, s.corr(0, 1))
        m |= {f"spectral_{k}": v for k, v in rep.items()}
        k = int(labels.max()) + 1
        ca, cb = torch.bincount(labels[:n_a], minlength=k), torch.bincount(labels[n_a:], minlength=k)
        ctx.table("spectral_clusters", [{"cluster": c, "units net 1": int(ca[c]), "units net 2": int(cb[c])}
                                        for c in range(k)],
                  caption=f"spectral clustering of the |rho| graph of {cfg.spectral_layer} (both nets)")
    return m
