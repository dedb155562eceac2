"""The copy-paste task (official ``language_modeling/copy_paste.py``), generated exactly and vectorised.

A sequence s of length L ~ U{lmin..lmax} with tokens ~ U{0..vocab-1} becomes
input  [s, COPY, 0 x L, EOS] and target [0 x (L+1), s, EOS], COPY = vocab + 1, EOS = vocab + 2,
right-padded with 0 to 2 * lmax + 2. Token 0 is both a digit and the padding / ignore index, so the
digit 0 is never trained or scored (official; the card's pitfall). Unlike the official dataset, which
draws a fresh random sequence on every ``__getitem__``, the set here is fixed by a seed.
"""
from __future__ import annotations

import torch

from paperzoo.data import TensorSet

__all__ = ["copy_paste_dataset", "trim_batch"]


def copy_paste_dataset(n: int, *, lmin: int = 20, lmax: int = 40, vocab: int = 10,
                       generator: torch.Generator | None = None) -> TensorSet:
    """``n`` copy-paste pairs as a ``TensorSet``: x, y int64 of shape (n, 2 * lmax + 2). Defaults: the paper's
    lengths 20..40 and digits 0..9 (official ``get_dataloaders(..., 20, 40, vocab_size=10)``)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"copy_paste_dataset: n must be a positive int, got {n!r}")
    if not (isinstance(lmin, int) and isinstance(lmax, int)) or not 1 <= lmin <= lmax:
        raise ValueError(f"copy_paste_dataset: need 1 <= lmin <= lmax, got lmin={lmin!r}, lmax={lmax!r}")
    if not isinstance(vocab, int) or vocab < 1:
        raise ValueError(f"copy_paste_dataset: vocab must be a positive int, got {vocab!r}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    length = torch.randint(lmin, lmax + 1, (n, 1), generator=g)
    s = torch.randint(0, vocab, (n, lmax), generator=g)
    p = torch.arange(2 * lmax + 2).unsqueeze(0)
    copy, eos = vocab + 1, vocab + 2
    first = s.gather(1, p.clamp(max=lmax - 1).expand(n, -1))  # s[p] where p < L
    second = s.gather(1, (p - length - 1).clamp(0, lmax - 1))  # s[p - L - 1] where L < p <= 2L
    zero = torch.zeros_like(first)
    x = torch.where(p < length, first, zero)
    x = torch.where(p == length, torch.full_like(x, copy), x)
    x = torch.where(p == 2 * length + 1, torch.full_like(x, eos), x)
    y = torch.where((p > length) & (p <= 2 * length), second, zero)
    y = torch.where(p == 2 * length + 1, torch.full_like(y, eos), y)
    return TensorSet(x, y, "copy-paste")


def trim_batch(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a padded batch to its longest sequence (the official collate pads to the batch's maximum; the
    padding positions enter the RNN outputs, the CKA and nothing else)."""
    used = (x != 0).any(0) | (y != 0).any(0)
    t = int(used.nonzero().max()) + 1 if used.any() else x.shape[1]
    return x[:, :t], y[:, :t]
