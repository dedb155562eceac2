"""Few-shot episodes (reconstructed, card "episode formats"): N-way, k samples per class in random order,
labels permuted per episode, the label of step t given as input at step t + 1; accuracy per presentation.

Omniglot / miniImageNet are not available offline, so the pools are MNIST and Fashion-MNIST classes
(the issue's fallback): ``mnist_fmnist_pools`` makes a 20-class pool, with MNIST 0-4 + Fashion-MNIST 0-4
(training images) for meta-training and MNIST 5-9 + Fashion-MNIST 5-9 (test images) for meta-testing,
so test episodes use unseen classes and unseen images. Images are downsampled to 20 x 20 (card, after
MANN's Omniglot pre-processing) and flattened.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

PRESENTATIONS = (1, 2, 5, 10)  # card: accuracy at the 1st, 2nd, 5th, 10th presentation of each class


@dataclass
class ClassPool:
    """Images grouped by class: ``x`` (n_classes, per_class, D) flattened inputs; ``names`` per class."""

    x: torch.Tensor
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.x.ndim != 3 or len(self.names) != len(self.x):
            raise ValueError(f"ClassPool: x must be (n_classes, per_class, D) with one name per class, got "
                             f"{tuple(self.x.shape)} and {len(self.names)} names")

    @property
    def n_classes(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[2]

    def to(self, device) -> "ClassPool":
        return ClassPool(self.x.to(device), self.names)


def from_classes(images: torch.Tensor, labels: torch.Tensor, classes: Sequence[int], *, per_class: int | None = None,
                 size: int | None = 20, prefix: str = "") -> ClassPool:
    """A pool of the first ``per_class`` images (at most; always as many as the smallest class has) of each of
    ``classes``; images (N, C, H, W) are area-downsampled to ``size`` x ``size`` and flattened."""
    if images.ndim != 4 or labels.shape != images.shape[:1]:
        raise ValueError(f"from_classes: images must be (N, C, H, W) with labels (N,), got {tuple(images.shape)}, "
                         f"{tuple(labels.shape)}")
    idx = [(labels == k).nonzero().flatten() for k in classes]
    have = min(len(i) for i in idx)
    n = have if per_class is None else min(per_class, have)
    if n < 1:
        raise ValueError(f"from_classes: per_class={per_class} leaves no images (smallest of classes {list(classes)}: {have})")
    x = torch.stack([images[i[:n]] for i in idx])  # (K, n, C, H, W)
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x.flatten(0, 1), size=(size, size), mode="area").view(len(classes), n, x.shape[2], size, size)
    return ClassPool(x.flatten(2).contiguous(), tuple(f"{prefix}{k}" for k in classes))


def mnist_fmnist_pools(*, per_class: int | None = None, size: int = 20) -> tuple[ClassPool, ClassPool]:
    """(meta-train pool, meta-test pool): MNIST 0-4 + F-MNIST 0-4 training images / MNIST 5-9 + F-MNIST 5-9 test images."""
    from paperzoo.data import load_fashion_mnist, load_mnist

    mn, fm = load_mnist(), load_fashion_mnist()

    def pool(split: str, classes: range) -> ClassPool:
        a, b = getattr(mn, split), getattr(fm, split)
        pa = from_classes(a.x, a.y, classes, per_class=per_class, size=size, prefix="mnist-")
        pb = from_classes(b.x, b.y, classes, per_class=per_class, size=size, prefix="fmnist-")
        n = min(pa.x.shape[1], pb.x.shape[1])
        return ClassPool(torch.cat([pa.x[:, :n], pb.x[:, :n]]), pa.names + pb.names)

    return pool("train", range(0, 5)), pool("test", range(5, 10))


def sample_episodes(pool: ClassPool, n_episodes: int, *, n_way: int = 5, k_per_class: int = 10,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_episodes`` episodes: x (E, n_way * k, D), y (E, n_way * k) in [0, n_way).

    Each episode draws ``n_way`` distinct classes of the pool in random order (so episode label j is
    a random class: labels are permuted per episode), ``k_per_class`` distinct images of each, and
    presents them in a random order. All draws come from ``generator`` (vectorised, no loop over episodes).
    """
    if not 1 <= n_way <= pool.n_classes:
        raise ValueError(f"sample_episodes: n_way={n_way} needs 1..{pool.n_classes} classes in the pool")
    if not 1 <= k_per_class <= pool.x.shape[1]:
        raise ValueError(f"sample_episodes: k_per_class={k_per_class} but the pool holds {pool.x.shape[1]} per class")
    if n_episodes < 1:
        raise ValueError(f"sample_episodes: n_episodes must be >= 1, got {n_episodes}")
    E, K, T = n_episodes, pool.n_classes, n_way * k_per_class
    cls = torch.rand(E, K, generator=generator).argsort(1)[:, :n_way]                                # (E, n_way)
    img = torch.rand(E, n_way, pool.x.shape[1], generator=generator).argsort(-1)[..., :k_per_class]  # (E, n_way, k)
    order = torch.rand(E, T, generator=generator).argsort(1)                                         # (E, T)
    labels = torch.arange(n_way).repeat_interleave(k_per_class).expand(E, T)
    y = labels.gather(1, order)
    cls_idx = cls.unsqueeze(-1).expand(E, n_way, k_per_class).reshape(E, T).gather(1, order)
    img_idx = img.reshape(E, T).gather(1, order)
    x = pool.x[cls_idx.to(pool.x.device), img_idx.to(pool.x.device)]
    return x, y.to(pool.x.device)


def presentation_index(y: torch.Tensor) -> torch.Tensor:
    """(E, T) 1-based count of how often y[e, t]'s class has been shown up to and including step t."""
    oh = F.one_hot(y)
    return (oh.cumsum(1) * oh).sum(-1)


def accuracy_by_presentation(logits: torch.Tensor, y: torch.Tensor, presentations: Sequence[int] = PRESENTATIONS
                             ) -> dict[int, float]:
    """Accuracy (%) of the prediction at the p-th presentation of a class, for each p (NaN if never shown)."""
    inst = presentation_index(y)
    hit = (logits.argmax(-1) == y).double()
    return {p: 100.0 * float(hit[inst == p].mean()) if bool((inst == p).any()) else float("nan") for p in presentations}
