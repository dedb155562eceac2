"""The information-plane experiment: train R repeats of the 12-bit network and record, at log-spaced epochs,
I(X;T) and I(T;Y) of every layer (binning, and the KDE bound on a subset of epochs) and the mini-batch
gradient statistics of every weight matrix (official ``idnns/networks/network.py``, card "The method").

Official loop: the training set is cut into fixed contiguous mini-batches (``batch_points``; the last one
shorter), no reshuffling between epochs; the activations of all 4,096 inputs are recorded at the *start* of
every logged epoch; Adam (lr 4e-4, TF defaults beta = (0.9, 0.999), eps = 1e-8) on the mean softmax
cross-entropy.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

from paperzoo.papers.information_plane.data import split
from paperzoo.papers.information_plane.estimators import binned_mi, kde_mi
from paperzoo.papers.information_plane.network import BatchedMLP

__all__ = ["dpi_violation", "grad_stats", "info_epochs", "layer_information", "train_infoplane"]


def info_epochs(epochs: int, n: int) -> list[int]:
    """The official logged epochs: ``unique(int(logspace(0, log2(epochs), n, base=2))) - 1`` (0-based)."""
    if epochs < 1 or n < 1:
        raise ValueError(f"epochs and n must be >= 1, got {epochs}, {n}")
    pts = np.logspace(0, math.log2(epochs), n, base=2).astype(int)
    return [int(e) - 1 for e in np.unique(pts)]


def layer_information(layers: Sequence[torch.Tensor], y: torch.Tensor, *, estimator: str = "bin", n_bins: int = 30,
                      bin_range: tuple[float | None, float | None] = (-1.0, 1.0),
                      noise_var: float = 0.1) -> tuple[list[float], list[float]]:
    """``([I(X;T_l)], [I(T_l;Y)])`` in bits over the layers of one network (each (N, width)).

    ``estimator="bin"``: ``binned_mi`` with ``bin_range`` (``None`` ends: the layer's own min / max);
    ``"kde"``: the ``kde_mi`` upper bound with ``noise_var``.
    """
    if estimator not in ("bin", "kde"):
        raise ValueError(f"estimator must be 'bin' or 'kde', got {estimator!r}")
    xs, ys = [], []
    for t in layers:
        if estimator == "bin":
            i_xt, i_ty = binned_mi(t, y, n_bins=n_bins, lo=bin_range[0], hi=bin_range[1])
        else:
            i_xt, i_ty = kde_mi(t, y, noise_var=noise_var)
        xs.append(i_xt)
        ys.append(i_ty)
    return xs, ys


def grad_stats(grads: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-repeat ``(||mu||, sigma)`` of mini-batch gradients ``grads`` (n_batches, R, ...): mu = mean_b g_b,
    sigma = sqrt(mean_b ||g_b - mu||^2) (Frobenius norms; card "Gradient SNR", project definition)."""
    if grads.ndim < 2 or len(grads) < 1:
        raise ValueError(f"grads must be (n_batches, R, ...), got {tuple(grads.shape)}")
    g = grads.flatten(2).double()
    mu = g.mean(0)
    sigma = (g - mu).square().sum(-1).mean(0).sqrt()
    return mu.norm(dim=-1), sigma


@torch.no_grad()
def dpi_violation(widths: Sequence[int] = (10, 7, 5, 4, 3), *, n_nets: int = 20, seed: int = 0, n_bins: int = 30,
                  x: torch.Tensor | None = None, activation: str = "tanh") -> float:
    """Largest increase of binned I(X;T_l) from one hidden layer to the next over ``n_nets`` random nets with
    the official init, inputs = all 4,096 patterns (card smoke (c): the estimate should be non-increasing)."""
    from paperzoo.papers.information_plane.data import sphere12

    x = sphere12()[0] if x is None else x
    gens = [torch.Generator().manual_seed(seed * 1000 + i) for i in range(n_nets)]
    net = BatchedMLP(x.shape[1], 2, widths=widths, activation=activation, repeats=n_nets, generators=gens)
    hidden = net(x.expand(n_nets, -1, -1))[:-1]
    worst = -math.inf
    for r in range(n_nets):
        i_xt = [binned_mi(h[r], None, n_bins=n_bins)[0] for h in hidden]
        worst = max(worst, max(b - a for a, b in zip(i_xt[:-1], i_xt[1:])))
    return worst


def train_infoplane(x: torch.Tensor, y: torch.Tensor, *, widths: Sequence[int] = (10, 7, 5, 4, 3),
                    activation: str = "tanh", repeats: int = 1, epochs: int = 8000, batch_size: int = 512,
                    lr: float = 4e-4, train_frac: float = 0.8, ordered: bool = False, seed: int = 0,
                    n_info: int = 400, n_bins: int = 30, bin_range: tuple[float | None, float | None] = (-1.0, 1.0),
                    kde_points: int = 0, kde_n: int = 1024, noise_var: float = 0.1,
                    on_epoch: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Train ``repeats`` networks (seeds ``seed*1000 + r``: init and split) on (x, y) and return JSON-able
    trajectories, indexed [logged epoch][repeat][layer]: ``I_XT``, ``I_TY`` (binning; layers = hidden layers and
    the softmax output), ``kde_I_XT`` / ``kde_I_TY`` at ``kde_epochs`` (the KDE bound on a fixed random subset of
    ``kde_n`` inputs), ``grad_mean`` / ``grad_std`` per weight matrix, ``train_acc`` / ``test_acc`` (%)."""
    n, d = x.shape
    y = y.long()
    if len(y) != n:
        raise ValueError(f"x has {n} rows but y has {len(y)}")
    logged = info_epochs(epochs, n_info)
    kde_at = set(logged[int(i)] for i in np.unique(np.linspace(0, len(logged) - 1, kde_points).round())) if kde_points else set()
    gens = [torch.Generator().manual_seed(seed * 1000 + r) for r in range(repeats)]
    net = BatchedMLP(d, int(y.max()) + 1, widths=widths, activation=activation, repeats=repeats, generators=gens)
    splits = [split(x, y, train_frac, ordered=ordered, seed=seed * 1000 + r) for r in range(repeats)]
    tr = torch.stack([s[0] for s in splits])                              # (R, n_train)
    te = torch.stack([s[1] for s in splits])
    nt = tr.shape[1]
    bs = min(batch_size, nt)
    points = list(range(0, nt + 1, bs)) + ([nt] if nt % bs else [])
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, foreach=True)
    kde_idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:kde_n].sort().values
    xb_all, yb_all = x[tr], y[tr]                                           # (R, n_train, d), (R, n_train)
    out: dict[str, list] = {k: [] for k in ("epochs", "I_XT", "I_TY", "grad_mean", "grad_std", "train_acc",
                                             "test_acc", "kde_epochs", "kde_I_XT", "kde_I_TY")}
    logged_set = set(logged)
    for epoch in range(epochs):
        log = epoch in logged_set
        if log:
            _record(net, x, y, tr, te, out, epoch, n_bins, bin_range, epoch in kde_at, kde_idx, noise_var)
            batch_grads: list[list[torch.Tensor]] = []
        for a, b in zip(points[:-1], points[1:]):
            logits = net(xb_all[:, a:b])[-1]
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), yb_all[:, a:b].flatten(), reduction="none")
            loss = loss.view(repeats, -1).mean(1).sum()                    # per-repeat mean, summed over repeats
            opt.zero_grad()
            loss.backward()
            if log:
                batch_grads.append([w.grad.detach().clone() for w in net.weight])
            opt.step()
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"loss is {float(loss)} at epoch {epoch}; lower lr")
        if log:
            stats = [grad_stats(torch.stack([g[li] for g in batch_grads])) for li in range(len(net.weight))]
            out["grad_mean"].append([[float(s[0][r]) for s in stats] for r in range(repeats)])
            out["grad_std"].append([[float(s[1][r]) for s in stats] for r in range(repeats)])
        if on_epoch is not None:
            on_epoch(epoch)
    _record(net, x, y, tr, te, out, epochs, n_bins, bin_range, bool(kde_points), kde_idx, noise_var)
    out["grad_mean"].append(out["grad_mean"][-1])                           # no epoch after the last: repeat
    out["grad_std"].append(out["grad_std"][-1])
    out["n_train"], out["widths"], out["activation"] = nt, list(widths), activation
    return out


@torch.no_grad()
def _record(net: BatchedMLP, x, y, tr, te, out, epoch, n_bins, bin_range, do_kde, kde_idx, noise_var) -> None:
    R = net.repeats
    layers = net(x.expand(R, -1, -1))
    probs = layers[-1].softmax(-1)
    reps = layers[:-1] + [probs]
    pred = layers[-1].argmax(-1)                                            # (R, N)
    correct = (pred == y).float()
    out["epochs"].append(epoch)
    out["train_acc"].append([100.0 * float(correct[r, tr[r]].mean()) for r in range(R)])
    out["test_acc"].append([100.0 * float(correct[r, te[r]].mean()) if te.shape[1] else math.nan for r in range(R)])
    ixt, ity = zip(*[layer_information([t[r] for t in reps], y, n_bins=n_bins, bin_range=bin_range) for r in range(R)])
    out["I_XT"].append([list(v) for v in ixt])
    out["I_TY"].append([list(v) for v in ity])
    if do_kde:
        kx, ky = zip(*[layer_information([t[r, kde_idx] for t in reps], y[kde_idx], estimator="kde",
                                         noise_var=noise_var) for r in range(R)])
        out["kde_epochs"].append(epoch)
        out["kde_I_XT"].append([list(v) for v in kx])
        out["kde_I_TY"].append([list(v) for v in ky])
