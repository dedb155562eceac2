"""Neural-collapse metrics NC1, NC2, NC3 (Dang et al. 2023, official ``validate_NC*.py`` and the
synthetic scripts' ``compute_*``), for one layer and per layer of a deep linear head.

With class means mu_k, the *sample-weighted* global mean mu_G = (1/N) sum_i h_i, H_bar = [mu_1 .. mu_K]:

    Sigma_W = (1/N) sum_k sum_(i in k) (h_i - mu_k)(h_i - mu_k)^T
    Sigma_B = (1/K) sum_k (mu_k - mu_G)(mu_k - mu_G)^T                 (1/K, as in the code)
    NC1     = tr(Sigma_W Sigma_B^+) / K
    NC2_W   = || W W^T / ||W W^T||_F - T_W ||_F,   NC2_H = || H_bar^T H_bar / ||.||_F - T_H ||_F
    NC3     = || W H_bar / ||W H_bar||_F - T_WH ||_F

Targets T (each of unit Frobenius norm): ``"orthogonal"`` I_K / sqrt(K) (bias-free balanced, uncentred
means); ``"etf"`` (I_K - 11^T/K) / sqrt(K-1) with *centred* means mu_k - mu_G in NC2_H and NC3 (last-layer
bias; W W^T is not centred, as in the code); ``"imbalanced"`` diag(predicted) normalised (bias-free
imbalanced closed form, uncentred). Unlike some official functions (balanced ``compute_NC2_H``) every
matrix here is Frobenius-normalised. Everything is computed in float64.

NC1 is evaluated without forming D x D matrices: with C = [mu_k - mu_G] (D x K), Sigma_B = C C^T / K, so
Sigma_B^+ = K (C^+)^T C^+ and NC1 = (1/N) sum_i ||C^+ (h_i - mu_(y_i))||^2; C^+ uses the rank cut-off of
``scipy.linalg.pinv(Sigma_B)`` (singular values of Sigma_B below max(D, K) eps times the largest are 0).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from paperzoo.papers.neural_collapse.closed_form import ImbalancedOptimum

__all__ = ["TARGETS", "deep_linear_nc_metrics", "nc1", "nc_metrics", "target_matrix"]

TARGETS = ("orthogonal", "etf", "imbalanced")


def _as64(t: Any, name: str) -> torch.Tensor:
    if isinstance(t, np.ndarray):
        t = torch.from_numpy(t)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor or numpy array, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be floating point, got dtype {t.dtype}")
    return t.detach().to("cpu", torch.float64)


def _check(features: Any, labels: Any, num_classes: int | None) -> tuple[torch.Tensor, torch.Tensor, int]:
    h = _as64(features, "features")
    if h.ndim != 2:
        raise ValueError(f"features must be 2-D (N, D), got shape {tuple(h.shape)}")
    if not torch.isfinite(h).all():
        bad = (~torch.isfinite(h)).any(1).nonzero().flatten()[:5].tolist()
        raise ValueError(f"features contain NaN/inf (first bad rows {bad})")
    y = torch.from_numpy(labels) if isinstance(labels, np.ndarray) else labels
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"labels must be a torch tensor or numpy array, got {type(labels).__name__}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D (N,), got shape {tuple(y.shape)}")
    if len(y) != len(h):
        raise ValueError(f"features has {len(h)} rows but labels has {len(y)} entries")
    y = y.to("cpu", torch.int64)
    if len(y) and int(y.min()) < 0:
        raise ValueError(f"labels must be >= 0, got min {int(y.min())}")
    K = int(num_classes) if num_classes is not None else (int(y.max()) + 1 if len(y) else 0)
    if K < 2:
        raise ValueError(f"need at least 2 classes, got num_classes={K}")
    if len(y) and int(y.max()) >= K:
        raise ValueError(f"labels hold class {int(y.max())} but num_classes={K}")
    counts = torch.bincount(y, minlength=K)
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"labels: class(es) {empty[:10]} have no samples; class means are undefined "
                         f"(pass the classes present, or num_classes)")
    return h, y, K


def _means(h: torch.Tensor, y: torch.Tensor, K: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class means (K, D), counts (K,), sample-weighted global mean (D,)."""
    counts = torch.bincount(y, minlength=K).to(torch.float64)
    sums = torch.zeros(K, h.shape[1], dtype=torch.float64).index_add_(0, y, h)
    return sums / counts[:, None], counts, h.mean(0)


def nc1(features: Any, labels: Any, *, num_classes: int | None = None) -> float:
    """NC1 = tr(Sigma_W Sigma_B^+) / K (module docstring), float64. features (N, D), labels (N,) int."""
    h, y, K = _check(features, labels, num_classes)
    return _nc1(h, y, K)


def _nc1(h: torch.Tensor, y: torch.Tensor, K: int) -> float:
    mu, _, mu_g = _means(h, y, K)
    C = (mu - mu_g).T  # (D, K)
    U, S, _ = torch.linalg.svd(C, full_matrices=False)  # C^+ = V S^-1 U^T; ||C^+ c|| = ||S^-1 U^T c||
    D = h.shape[1]
    sig_b = S ** 2 / K  # eigenvalues of Sigma_B
    keep = sig_b > max(D, K) * torch.finfo(torch.float64).eps * (sig_b.max() if len(sig_b) else 0.0)
    if not keep.any():
        return math.inf  # all class means coincide: no between-class scatter
    P = U[:, keep] / S[keep]  # (D, r)
    return float(((h - mu[y]) @ P).square().sum() / len(h))


def target_matrix(target: str, K: int, predicted: Any = None, *, key: str = "WWT") -> torch.Tensor:
    """The unit-Frobenius target T (K, K) for ``target`` (``"orthogonal"`` | ``"etf"`` | ``"imbalanced"``;
    the last takes ``predicted[key]``, a (K,) diagonal of any scale)."""
    if target == "orthogonal":
        return torch.eye(K, dtype=torch.float64) / math.sqrt(K)
    if target == "etf":
        return (torch.eye(K, dtype=torch.float64) - 1.0 / K) / math.sqrt(K - 1)
    if target == "imbalanced":
        if predicted is None:
            raise ValueError("target='imbalanced' needs predicted= (an ImbalancedOptimum or a mapping "
                             "{'WWT','HTH','WH'} -> (K,) diagonals)")
        if isinstance(predicted, ImbalancedOptimum):
            predicted = predicted.targets(1)
        if not isinstance(predicted, Mapping) or key not in predicted:
            raise ValueError(f"predicted must map {key!r} to a (K,) diagonal, got {type(predicted).__name__}")
        d = _as64(torch.as_tensor(predicted[key], dtype=torch.float64), f"predicted[{key!r}]")
        if d.shape != (K,):
            raise ValueError(f"predicted[{key!r}] must have shape ({K},), got {tuple(d.shape)}")
        n = torch.linalg.vector_norm(d)
        if not (torch.isfinite(d).all() and n > 0):
            raise ValueError(f"predicted[{key!r}] must be finite and not all zero")
        return torch.diag(d / n)
    raise ValueError(f"target must be one of {TARGETS}, got {target!r}")


def _dist(A: torch.Tensor, T: torch.Tensor) -> float:
    n = torch.linalg.matrix_norm(A)
    if n == 0:
        return math.nan
    return float(torch.linalg.matrix_norm(A / n - T))


def nc_metrics(features: Any, labels: Any, classifier_weight: Any = None, *, num_classes: int | None = None,
               target: str = "orthogonal", predicted: Any = None) -> dict[str, float]:
    """Neural-collapse metrics of one layer: NC1, NC2_H and, given the classifier, NC2_W and NC3.

    features (N, D) entering the classifier, labels (N,) int in [0, K), classifier_weight (K, D) (for a
    deep linear head pass the product W_M ... W_m). ``target``: ``"orthogonal"`` | ``"etf"`` |
    ``"imbalanced"`` (then ``predicted``: an ``ImbalancedOptimum`` or {"WWT","HTH","WH"} -> (K,)).
    Definitions in the module docstring; float64 throughout. Returns a dict of floats.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    h, y, K = _check(features, labels, num_classes)
    mu, _, mu_g = _means(h, y, K)
    Hbar = (mu - mu_g).T if target == "etf" else mu.T  # (D, K)
    out = {"NC1": _nc1(h, y, K), "NC2_H": _dist(Hbar.T @ Hbar, target_matrix(target, K, predicted, key="HTH"))}
    if classifier_weight is not None:
        W = _as64(classifier_weight, "classifier_weight")
        if W.shape != (K, h.shape[1]):
            raise ValueError(f"classifier_weight must have shape (K, D) = ({K}, {h.shape[1]}), got {tuple(W.shape)}")
        if not torch.isfinite(W).all():
            raise ValueError("classifier_weight contains NaN/inf")
        out["NC2_W"] = _dist(W @ W.T, target_matrix(target, K, predicted, key="WWT"))
        out["NC3"] = _dist(W @ Hbar, target_matrix(target, K, predicted, key="WH"))
    return out


def deep_linear_nc_metrics(layer_features: Sequence[Any], weights: Sequence[Any], labels: Any, *,
                           num_classes: int | None = None, target: str = "orthogonal",
                           predicted: Any = None) -> list[dict[str, float]]:
    """NC metrics at every layer of a deep linear head W_M ... W_1 (official per-layer loop).

    ``weights[m-1]`` = W_m of shape (out, in) (W_M: (K, d)); ``layer_features[m-1]`` (N, in) = the
    features entering layer m. Entry m-1 of the result holds ``nc_metrics`` of those features with the
    partial product W_M ... W_m. For ``target="imbalanced"`` ``predicted`` is an ``ImbalancedOptimum``
    (per-layer targets ``predicted.targets(m)``) or a list of M mappings.
    """
    M = len(weights)
    if M < 1 or len(layer_features) != M:
        raise ValueError(f"need one feature matrix per layer: got {len(layer_features)} feature matrices "
                         f"for {M} weights")
    Ws = [_as64(w, f"weights[{i}]") for i, w in enumerate(weights)]
    for i in range(M - 1):
        if Ws[i].ndim != 2 or Ws[i + 1].ndim != 2 or Ws[i + 1].shape[1] != Ws[i].shape[0]:
            raise ValueError(f"weights[{i + 1}] {tuple(Ws[i + 1].shape)} cannot follow weights[{i}] "
                             f"{tuple(Ws[i].shape)} (need (out, in) matrices that chain)")
    prods = [Ws[-1]]
    for W in reversed(Ws[:-1]):
        prods.append(prods[-1] @ W)
    prods = prods[::-1]  # prods[m-1] = W_M ... W_m
    if target == "imbalanced" and isinstance(predicted, ImbalancedOptimum):
        if predicted.depth != M:
            raise ValueError(f"predicted is the optimum for depth {predicted.depth}, the head has {M} layers")
        per_layer = [predicted.targets(m) for m in range(1, M + 1)]
    elif target == "imbalanced" and isinstance(predicted, Sequence):
        if len(predicted) != M:
            raise ValueError(f"predicted: need {M} per-layer mappings, got {len(predicted)}")
        per_layer = list(predicted)
    else:
        per_layer = [predicted] * M
    return [nc_metrics(f, labels, P, num_classes=num_classes, target=target, predicted=t)
            for f, P, t in zip(layer_features, prods, per_layer)]
