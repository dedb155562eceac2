"""Tensor data sets and train/val/test splits."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


class TensorSet(torch.utils.data.Dataset):
    """Inputs ``x`` and integer labels ``y`` held as tensors (first dim = samples)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, name: str = "data"):
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError(f"{name}: x and y must be tensors, got {type(x).__name__}, {type(y).__name__}")
        if len(x) != len(y):
            raise ValueError(f"{name}: x has {len(x)} samples but y has {len(y)}")
        if x.is_floating_point() and not torch.isfinite(x).all():
            bad = (~torch.isfinite(x)).flatten(1).any(1).nonzero().flatten()[:5].tolist()
            raise ValueError(f"{name}: x contains NaN/inf (first bad samples {bad})")
        self.x, self.y, self.name = x, y, name

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def subset(self, n: int | None = None, *, per_class: list[int] | None = None) -> "TensorSet":
        """The first ``n`` samples, or the first ``per_class[k]`` samples of each class ``k``."""
        if per_class is not None:
            idx = torch.cat([(self.y == k).nonzero().flatten()[:c] for k, c in enumerate(per_class)])
            idx = idx.sort().values
            return TensorSet(self.x[idx], self.y[idx], self.name)
        return TensorSet(self.x[:n], self.y[:n], self.name)

    def map(self, fn) -> "TensorSet":
        return TensorSet(fn(self.x), self.y, self.name)

    def to(self, device) -> "TensorSet":
        return TensorSet(self.x.to(device), self.y.to(device), self.name)

    @property
    def num_classes(self) -> int:
        return int(self.y.max()) + 1


@dataclass
class Splits:
    """A data set's splits. ``note`` says anything a reader of a result must know."""

    name: str
    train: TensorSet
    test: TensorSet
    val: TensorSet | None = None
    classes: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes) or self.train.num_classes
