"""The permutation task, the paper's rounding rule and the ensemble stopping rule (official `dataset.py`,
`experiment.py`).

A random k x k permutation matrix P; training set = the k pairs (e_i, P e_i) (the standard basis, k examples
out of the 2^k - 1 nonzero binary inputs: "logarithmic training size"); tests = random binary vectors with
``nnz`` ones, fed L2-normalised, ground truth P x (binary). An ensemble's prediction is the mean of its
members' outputs, rounded coordinate-wise at 0 (> 0 -> 1, <= 0 -> 0); it is exact on x when the whole
rounded vector equals P x.
"""
from __future__ import annotations

import torch


def _gen(seed: int | torch.Generator) -> torch.Generator:
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))


def make_task(k: int, seed: int | torch.Generator = 0, *, dtype: torch.dtype = torch.float32):
    """P (k, k) = rows of I permuted by ``randperm`` (official `generate_permutation`); X = I (the basis
    e_1..e_k as rows), Y = rows P e_i (targets). Returns (P, X, Y)."""
    if int(k) < 2:
        raise ValueError(f"make_task: k must be >= 2, got {k}")
    eye = torch.eye(k, dtype=dtype)
    P = eye[torch.randperm(k, generator=_gen(seed))]
    return P, eye.clone(), (P @ eye).T.contiguous()


def two_hot_tests(k: int, n: int = 1000, nnz: int = 2, seed: int | torch.Generator = 0, *, P: torch.Tensor | None = None,
                  dtype: torch.dtype = torch.float32):
    """``n`` random binary vectors with exactly ``nnz`` ones each (uniform subsets, duplicates allowed, as the
    official `generate_test`), returned L2-normalised (entries 1/sqrt(nnz)) with their binary targets P x
    (``P`` defaults to the identity). Returns (X_test (n, k), Y_test (n, k))."""
    if not 1 <= int(nnz) <= int(k) or int(n) < 1:
        raise ValueError(f"two_hot_tests: need 1 <= nnz <= k and n >= 1, got k={k}, n={n}, nnz={nnz}")
    idx = torch.rand(n, k, generator=_gen(seed)).argsort(dim=1)[:, :nnz]
    x = torch.zeros(n, k, dtype=dtype).scatter_(1, idx, 1.0)
    y = x if P is None else x @ P.to(dtype).T
    return x / x.norm(dim=1, keepdim=True), y


def binary_inputs(k: int, *, min_ones: int = 1, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Every binary vector of length k with at least ``min_ones`` ones (2^k - 1 for min_ones = 1), unnormalised."""
    if not 1 <= int(k) <= 20:
        raise ValueError(f"binary_inputs: k must be in [1, 20] (2^k rows), got {k}")
    codes = torch.arange(1, 2**k)
    bits = ((codes[:, None] >> torch.arange(k)) & 1).to(dtype)
    return bits[bits.sum(1) >= min_ones]


def round_sign(out: torch.Tensor) -> torch.Tensor:
    """The paper's rounding: > 0 -> 1, <= 0 -> 0 (official `experiment.py`; threshold 0, not 1/2)."""
    return (out > 0).to(out.dtype)


def exact(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Boolean (..., B): the rounded output vector equals the binary target on every coordinate."""
    if out.shape[-2:] != y.shape[-2:]:
        raise ValueError(f"exact: outputs {tuple(out.shape)} and targets {tuple(y.shape)} differ in the last two dims")
    return (round_sign(out) == (y > 0.5).to(out.dtype)).all(dim=-1)


def running_means(preds: torch.Tensor) -> torch.Tensor:
    """(N, B, k) member predictions -> (N, B, k) ensemble means of the first 1, 2, ..., N members."""
    if preds.dim() != 3:
        raise ValueError(f"running_means: expected (N, B, k) predictions, got {tuple(preds.shape)}")
    n = torch.arange(1, preds.shape[0] + 1, dtype=preds.dtype).view(-1, 1, 1)
    return preds.cumsum(0) / n


def accuracy_curve(preds: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Exact accuracy of the ensemble of the first N members, N = 1..len(preds) (N,); ``weights`` (B,) count
    repeated test inputs (default 1 each)."""
    hit = exact(running_means(preds), y).to(preds.dtype)
    if weights is None:
        return hit.mean(1)
    w = weights.to(preds.dtype)
    return hit @ w / w.sum()


def first_at_least(acc: torch.Tensor, target: float) -> int | None:
    """1-based index of the first entry >= target, or None (official loop: stop once acc >= 1 - delta)."""
    hits = torch.nonzero(acc >= target)
    return int(hits[0]) + 1 if len(hits) else None


def ensemble_complexity(preds: torch.Tensor, y_test: torch.Tensor, delta: float) -> int | None:
    """First ensemble size N whose rounded mean is exact on >= 1 - delta of the tests (official stopping rule);
    None when the stream (N, B, k) runs out first."""
    if not 0.0 <= delta < 1.0:
        raise ValueError(f"ensemble_complexity: delta must be in [0, 1), got {delta}")
    return first_at_least(accuracy_curve(preds, y_test), 1.0 - delta)
