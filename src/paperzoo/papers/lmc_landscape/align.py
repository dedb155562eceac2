"""Permutation alignment of two networks before interpolation (Git Re-Basin, Ainsworth et al. ICLR 2023).

Hidden units of an MLP can be permuted without changing its function: with a permutation p_l of the units
between layer l and l+1, (W_l, b_l) -> (W_l[p_l][:, p_{l-1}], b_l[p_l]) keeps the network's output. Before
interpolating theta_A and theta_B one chooses the permutations of B that bring it closest to A:

- weight matching: maximise sum_l <W_l^A, P_l W_l^B P_{l-1}^T> + <b_l^A, P_l b_l^B> by coordinate descent,
  one linear assignment per hidden layer, until no layer improves (Ainsworth et al., Alg. 1);
- activation matching: per hidden layer, maximise <Z_l^A, P_l Z_l^B> (Z: the features entering layer l+1 on
  the data, read with ``collect_features``); the layers are independent.

Alignment applies to a chain of ``nn.Linear`` layers (each one's out_features = the next one's in_features)
joined by parameter-free, element-wise operations, the plain MLP of the card. ``linear_chain`` finds such a
chain; the probe additionally checks that the permuted B computes the same function as B on the data and
drops the alignment otherwise (a residual connection or a non-element-wise operation breaks the symmetry).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from paperzoo.nn import as_xy, collect_features

__all__ = ["activation_matching", "apply_permutation", "linear_chain", "weight_matching"]


def linear_chain(model: nn.Module) -> list[str] | None:
    """Names of the model's ``nn.Linear`` layers in order if they form a permutable chain, else ``None``.

    Needs >= 2 linears, matching sizes between neighbours, and no parameters outside the linears.
    """
    named = dict(model.named_modules())
    lin = [k for k, m in named.items() if isinstance(m, nn.Linear)]
    if len(lin) < 2:
        return None
    own = {f"{k}.{n}" if k else n for k in lin for n, _ in named[k].named_parameters(recurse=False)}
    if set(dict(model.named_parameters())) != own:
        return None
    for a, b in zip(lin[:-1], lin[1:]):
        if named[a].out_features != named[b].in_features:
            return None
    return lin


def _wb(theta: dict[str, torch.Tensor], layer: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    return theta[f"{layer}.weight"].double(), theta.get(f"{layer}.bias")


def apply_permutation(theta: dict[str, torch.Tensor], chain: list[str], perms: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """theta with hidden layer l's units permuted by ``perms[l]`` (unit i of the result = unit perms[l][i])."""
    if len(perms) != len(chain) - 1:
        raise ValueError(f"need {len(chain) - 1} permutations for {len(chain)} linear layers, got {len(perms)}")
    out = dict(theta)
    for i, layer in enumerate(chain):
        w = theta[f"{layer}.weight"]
        if i < len(perms):
            w = w[perms[i]]
            if f"{layer}.bias" in theta:
                out[f"{layer}.bias"] = theta[f"{layer}.bias"][perms[i]]
        if i > 0:
            w = w[:, perms[i - 1]]
        out[f"{layer}.weight"] = w
    return out


def _lap(score: torch.Tensor) -> torch.Tensor:
    """The permutation p maximising sum_i score[i, p[i]]."""
    rows, cols = linear_sum_assignment(score.detach().cpu().numpy(), maximize=True)
    assert np.array_equal(rows, np.arange(len(rows)))
    return torch.as_tensor(cols, dtype=torch.long)


def weight_matching(theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor], chain: list[str], *,
                    max_iter: int = 100, seed: int = 0) -> list[torch.Tensor]:
    """Permutations of B's hidden units maximising the weight inner product with A (coordinate descent)."""
    sizes = [theta_a[f"{k}.weight"].shape[0] for k in chain[:-1]]
    wa, ba = zip(*(_wb(theta_a, k) for k in chain))
    wb, bb = zip(*(_wb(theta_b, k) for k in chain))
    bias = [torch.outer(a.double(), b.double()) if a is not None else 0.0 for a, b in zip(ba, bb)]
    perms = [torch.arange(n) for n in sizes]
    g = torch.Generator().manual_seed(seed)
    for _ in range(max_iter):
        improved = False
        for l in torch.randperm(len(sizes), generator=g).tolist():
            w_in = wb[l][:, perms[l - 1]] if l > 0 else wb[l]
            w_out = wb[l + 1][perms[l + 1]] if l + 1 < len(sizes) else wb[l + 1]
            score = wa[l] @ w_in.T + bias[l] + wa[l + 1].T @ w_out
            idx = torch.arange(sizes[l])
            new = _lap(score)
            old_val, new_val = float(score[idx, perms[l]].sum()), float(score[idx, new].sum())
            if new_val > old_val + 1e-12 * max(1.0, abs(old_val)):
                perms[l], improved = new, True
        if not improved:
            break
    return perms


def activation_matching(model_a: nn.Module, model_b: nn.Module, data: Any, chain: list[str], *,
                        batch_size: int = 1000) -> list[torch.Tensor]:
    """Per hidden layer, the permutation of B's units maximising <Z^A, P Z^B> on ``data`` (inputs only)."""
    x, _ = as_xy(data)
    za = collect_features(model_a, x, chain[1:], which="input", batch_size=batch_size)
    zb = collect_features(model_b, x, chain[1:], which="input", batch_size=batch_size)
    return [_lap(za[k].double().T @ zb[k].double()) for k in chain[1:]]
