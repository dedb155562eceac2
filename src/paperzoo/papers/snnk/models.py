"""An MLP whose hidden linear + activation pairs are ReLU-SNNK layers, registered for the arena."""
from __future__ import annotations

from torch import nn

from paperzoo.papers.snnk.layers import SNNKLinear
from paperzoo.registry import register_model


class SNNKMLP(nn.Module):
    """Flatten -> ``depth`` x SNNKLinear(prev, width, num_features) (ReLU random features, P = Psi(W0) with
    Kaiming-uniform W0) -> Linear(width, num_classes). Trainable: depth * width * m + (width + 1) * classes.

    Layer i draws its G from ``seed + i``. (B, ...) -> (B, num_classes).
    """

    def __init__(self, in_dim: int = 784, num_classes: int = 10, width: int = 256, depth: int = 2, num_features: int = 64,
                 *, floor: float = 0.0, seed: int = 0):
        super().__init__()
        if depth < 1:
            raise ValueError(f"SNNKMLP: depth must be >= 1, got {depth}")
        dims = [in_dim] + [width] * depth
        self.hidden = nn.Sequential(*[SNNKLinear(a, b, num_features, floor=floor, seed=seed + i)
                                      for i, (a, b) in enumerate(zip(dims, dims[1:]))])
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.hidden(x.flatten(1)))


@register_model("snnk_mlp", task=("mnist", "fashion-mnist"), knob="width")
def snnk_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 256, depth: int = 2, num_features: int = 64,
             floor: float = 0.0, seed: int = 0) -> SNNKMLP:
    """SNNK-MLP (~35k trainable parameters at the defaults). m = 64 is the official ViT adapter's num_rfs;
    width 256 and depth 2 are ours (modest arena size); floor 0 = the official default ``constant``."""
    return SNNKMLP(in_dim, num_classes, width, depth, num_features, floor=floor, seed=seed)
