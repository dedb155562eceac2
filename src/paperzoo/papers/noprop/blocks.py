"""NoProp-DT denoising blocks ``u_hat_t(z_{t-1}, x)`` (paper Fig. 6, left; as restated on the card).

A block maps an input ``x`` and a noisy label embedding ``z`` (B, d) to class logits (B, C);
the model turns them into ``u_hat = softmax(logits) @ W_embed`` (a convex combination of the
class embeddings), so the embedding matrix, shared by all blocks, stays outside the block.

Image path -> ``fx`` (B, fc[0]); label path -> ``fz`` (B, fc[0]);
fuse ``concat(fx, fz)`` -> FC(fc[0])-BN-ReLU -> FC(fc[1])-BN-ReLU -> FC(C).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def positive_int(name: str, v) -> int:
    """``v`` if it is an int >= 1, else a ValueError naming ``name``."""
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return v


def _check_z(z: torch.Tensor, emb_dim: int, batch: int) -> None:
    if not isinstance(z, torch.Tensor) or tuple(z.shape) != (batch, emb_dim):
        raise ValueError(f"z must have shape (B, emb_dim) = ({batch}, {emb_dim}), got {tuple(getattr(z, 'shape', ()))}")


def _two_widths(fc: Sequence[int]) -> tuple[int, int]:
    if len(fc) != 2:
        raise ValueError(f"fc must hold 2 widths (fuse FC, second FC), got {fc!r}")
    return positive_int("fc[0]", fc[0]), positive_int("fc[1]", fc[1])


class LabelPath(nn.Module):
    """Label path: ``h = ReLU(BN(FC(z)))``; ``fz = h + BN(FC(h))`` (the skip joins the two stages).

    Shapes: ``z`` (B, emb_dim) -> (B, width).
    """

    def __init__(self, emb_dim: int, width: int):
        super().__init__()
        self.stage1 = nn.Sequential(nn.Linear(emb_dim, width), nn.BatchNorm1d(width), nn.ReLU())
        self.stage2 = nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stage1(z)
        return h + self.stage2(h)


class FuseHead(nn.Module):
    """``concat(fx, fz)`` (B, 2 fc[0]) -> FC(fc[0])-BN-ReLU -> FC(fc[1])-BN-ReLU -> FC(C) logits (B, C)."""

    def __init__(self, num_classes: int, fc: Sequence[int]):
        super().__init__()
        f0, f1 = _two_widths(fc)
        self.net = nn.Sequential(nn.Linear(2 * f0, f0), nn.BatchNorm1d(f0), nn.ReLU(),
                                 nn.Linear(f0, f1), nn.BatchNorm1d(f1), nn.ReLU(), nn.Linear(f1, num_classes))

    def forward(self, fx: torch.Tensor, fz: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([fx, fz], dim=1))


def conv_path(in_chans: int, widths: Sequence[int], dropout: float, image_size: int, out: int) -> nn.Sequential:
    """[conv3x3(w)-ReLU-maxpool2-dropout] for w in ``widths`` -> flatten -> FC(out) -> BN."""
    layers: list[nn.Module] = []
    ch, size = in_chans, image_size
    for w in widths:
        layers += [nn.Conv2d(ch, positive_int("conv width", w), 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                   nn.Dropout(dropout)]
        ch, size = w, size // 2
    if size < 1:
        raise ValueError(f"image_size={image_size} is too small for {len(widths)} 2x2 max-pools")
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * size * size, out), nn.BatchNorm1d(out))


class DenoiseBlockCNN(nn.Module):
    """NoProp-DT block for images (paper Fig. 6 as restated on the card; widths unverified).

    Image path: :func:`conv_path` with ``widths`` -> (B, fc[0]). Label path: :class:`LabelPath`, or, with
    ``z_image=True`` (prototype embeddings whose dimension is the image size), a second conv path of the
    same architecture applied to ``z`` viewed as an image. Defaults ``widths=(32, 64, 128)``,
    ``fc=(256, 128)``, ``dropout=0.2`` (card / Fig. 6).

    Shapes: ``x`` (B, in_chans, image_size, image_size), ``z`` (B, emb_dim) -> logits (B, num_classes).
    """

    def __init__(self, in_chans: int = 1, num_classes: int = 10, emb_dim: int = 10, *,
                 widths: Sequence[int] = (32, 64, 128), fc: Sequence[int] = (256, 128), dropout: float = 0.2,
                 image_size: int = 28, z_image: bool = False):
        super().__init__()
        self.in_chans, self.num_classes = positive_int("in_chans", in_chans), positive_int("num_classes", num_classes)
        self.emb_dim, self.image_size = positive_int("emb_dim", emb_dim), positive_int("image_size", image_size)
        if len(widths) < 1:
            raise ValueError(f"widths must hold at least one conv width, got {widths!r}")
        f0, _ = _two_widths(fc)
        if z_image and emb_dim != in_chans * image_size ** 2:
            raise ValueError(f"z_image=True needs emb_dim == in_chans * image_size^2 = {in_chans * image_size ** 2}, "
                             f"got {emb_dim}")
        self.z_image = z_image
        self.image_path = conv_path(in_chans, widths, dropout, image_size, f0)
        self.label_path = conv_path(in_chans, widths, dropout, image_size, f0) if z_image else LabelPath(emb_dim, f0)
        self.head = FuseHead(num_classes, fc)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        want = (self.in_chans, self.image_size, self.image_size)
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"x must have shape (B, {', '.join(map(str, want))}) for this block, "
                             f"got {tuple(getattr(x, 'shape', ()))}")
        _check_z(z, self.emb_dim, x.shape[0])
        fz = self.label_path(z.reshape(-1, *want) if self.z_image else z)
        return self.head(self.image_path(x), fz)


class DenoiseBlockMLP(nn.Module):
    """NoProp-DT block for vectors (the card's CI block): image path Linear(in_dim, fc[0])-ReLU,
    label path and head as in :class:`DenoiseBlockCNN`. The card's smoke test uses ``fc=(64, 64)``.

    Shapes: ``x`` (B, in_dim) or (B, *) with ``in_dim`` features, ``z`` (B, emb_dim) -> logits (B, num_classes).
    """

    def __init__(self, in_dim: int = 784, num_classes: int = 10, emb_dim: int = 10, *,
                 fc: Sequence[int] = (256, 128)):
        super().__init__()
        self.in_dim, self.num_classes = positive_int("in_dim", in_dim), positive_int("num_classes", num_classes)
        self.emb_dim = positive_int("emb_dim", emb_dim)
        f0, _ = _two_widths(fc)
        self.image_path = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, f0), nn.ReLU())
        self.label_path = LabelPath(emb_dim, f0)
        self.head = FuseHead(num_classes, fc)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim < 2 or x[0].numel() != self.in_dim:
            raise ValueError(f"x must have shape (B, {self.in_dim}) (or (B, *) with {self.in_dim} features) "
                             f"for this block, got {tuple(getattr(x, 'shape', ()))}")
        _check_z(z, self.emb_dim, x.shape[0])
        return self.head(self.image_path(x), self.label_path(z))
