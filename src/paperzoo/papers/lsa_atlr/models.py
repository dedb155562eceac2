"""The networks of the card's ladder: the Moon MLP and the MNIST CNN, with ``nn.ReLU`` modules so that
LSA's hook-based probes see every activation (card pitfall: functional ``F.relu`` is invisible).

The paper's architectures were not retrieved (card); both are the card's project defaults.
"""
from __future__ import annotations

import torch
from torch import nn

from paperzoo.registry import register_model

__all__ = ["LSACNN", "lsa_cnn", "moon_mlp"]


def _pos_int(name: str, v: object) -> None:
    if isinstance(v, bool) or not (isinstance(v, int) and v >= 1):
        raise ValueError(f"{name} must be an int >= 1, got {v!r}")


def moon_mlp(in_dim: int = 2, num_classes: int = 2, *, width: int = 64, depth: int = 3, bias: bool = True) -> nn.Sequential:
    """MLP in_dim - width x depth - num_classes with ``nn.ReLU`` after every hidden layer (card: Moon MLP
    2-64-64-64-2). ``bias=False`` makes it positively homogeneous (f(c x) = c f(x), c > 0; used by the
    measure identities)."""
    for name, v in (("in_dim", in_dim), ("num_classes", num_classes), ("width", width), ("depth", depth)):
        _pos_int(name, v)
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(in_dim if i == 0 else width, width, bias=bias), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, num_classes, bias=bias))


class LSACNN(nn.Module):
    """conv(w, 5) - ReLU - maxpool 2 - conv(2w, 5) - ReLU - maxpool 2 - FC(8w) - ReLU - FC(num_classes).

    Card cpu rung: conv(32,5)-ReLU-pool-conv(64,5)-ReLU-pool-FC(256)-ReLU-FC(10), so ``width`` = 32 gives
    it; convolutions without padding (not stated in the card; project choice), 28x28 -> 4x4 before the FC.
    Input (B, in_chans, size, size) in [0, 1]; output logits (B, num_classes). Three ``nn.ReLU`` probes.
    """

    def __init__(self, in_chans: int = 1, num_classes: int = 10, *, width: int = 32, size: int = 28):
        super().__init__()
        for name, v in (("in_chans", in_chans), ("num_classes", num_classes), ("width", width), ("size", size)):
            _pos_int(name, v)
        side = ((size - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"size must be >= 16 for two 5x5 convolutions and two 2x2 poolings, got {size}")
        self.in_chans, self.size = in_chans, size
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, width, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(2 * width * side * side, 8 * width), nn.ReLU(),
                                        nn.Linear(8 * width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.in_chans, self.size, self.size):
            raise ValueError(f"input must be (B, {self.in_chans}, {self.size}, {self.size}), got {tuple(x.shape)}")
        return self.classifier(self.features(x))


@register_model("lsa_cnn", task=("mnist", "fashion-mnist"), knob="width")
def lsa_cnn(in_chans: int = 1, num_classes: int = 10, *, width: int = 32, size: int = 28) -> LSACNN:
    """The card's MNIST CNN of the AT vs AT-LR comparison (conv 32/64, FC 256 at ``width`` = 32).
    Budget knob: ``width`` (channels w, 2w; FC 8w)."""
    return LSACNN(in_chans, num_classes, width=width, size=size)
