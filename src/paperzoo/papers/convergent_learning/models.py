"""The nets compared (card "Reproduction ladder"): a small CNN for Fashion-MNIST / MNIST (cpu rung) and an
AlexNet-like 5 conv + 3 FC CIFAR net (full rung), with every ReLU a named module so that post-ReLU
activations (the paper's blobs: Caffe applies ReLU in place) can be hooked by name.

``permute_hidden_units`` reorders the units of hidden layers and the next layer's inputs to match, which
leaves the function unchanged: the ceiling of the matching (card smoke rung (a)).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from paperzoo.registry import register_model

__all__ = ["ConvergentNet", "convergent_cnn", "permute_hidden_units"]


class ConvergentNet(nn.Sequential):
    """conv(c_1, 3)-ReLU[-pool]-...-conv(c_L, 3)-ReLU-flatten-FC-ReLU-...-FC(num_classes).

    Children: ``conv{i}``, ``relu{i}``, ``pool{i}``, ``flatten``, ``fc{j}``, ``fcrelu{j}``, ``out``.
    ``act_layers`` maps the analysed layer names (``conv1`` ..., ``fc1`` ...) to their ReLU modules.
    Input (B, in_chans, in_size, in_size), or flattened (B, in_chans * in_size^2).
    """

    def __init__(self, in_chans: int = 1, num_classes: int = 10, *, channels: Sequence[int] = (32, 64, 128),
                 fc: Sequence[int] = (256,), pool_after: Sequence[int] = (1, 2), padding: int = 0, in_size: int = 28):
        layers: list[tuple[str, nn.Module]] = []
        c, s = in_chans, in_size
        for i, width in enumerate(channels, 1):
            layers += [(f"conv{i}", nn.Conv2d(c, width, 3, padding=padding)), (f"relu{i}", nn.ReLU())]
            c, s = width, s - 2 + 2 * padding
            if i in pool_after:
                layers.append((f"pool{i}", nn.MaxPool2d(2)))
                s //= 2
            if s < 1:
                raise ValueError(f"input size {in_size} is too small for {len(channels)} convs with pools after {pool_after}")
        layers.append(("flatten", nn.Flatten()))
        d = c * s * s
        for j, width in enumerate(fc, 1):
            layers += [(f"fc{j}", nn.Linear(d, width)), (f"fcrelu{j}", nn.ReLU())]
            d = width
        layers.append(("out", nn.Linear(d, num_classes)))
        super().__init__(OrderedDict(layers))
        self.in_shape = (in_chans, in_size, in_size)
        self.act_layers = {**{f"conv{i}": f"relu{i}" for i in range(1, len(channels) + 1)},
                           **{f"fc{j}": f"fcrelu{j}" for j in range(1, len(fc) + 1)}}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.shape[1] == int(torch.tensor(self.in_shape).prod()):
            x = x.reshape(len(x), *self.in_shape)
        if x.dim() != 4 or tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"ConvergentNet expects input (B, {', '.join(map(str, self.in_shape))}), got {tuple(x.shape)}")
        return super().forward(x)


@register_model("convergent_cnn", task=("mnist", "fashion-mnist"), knob="width")
def convergent_cnn(in_chans: int = 1, num_classes: int = 10, *, width: int = 32, depth: int = 3, fc_width: int | None = None,
                   in_size: int = 28) -> ConvergentNet:
    """The card's cpu-rung CNN: conv(32,3)-ReLU-pool-conv(64,3)-ReLU-pool-conv(128,3)-ReLU-FC(256)-ReLU-FC(10).

    ``width`` = channels of conv1; conv i has ``width * 2^min(i-1, 2)`` channels; FC width 8 * width
    (card: 256 at width 32). Unpadded 3x3 convs (PyTorch default; the card gives no padding).
    """
    chans = tuple(width * 2 ** min(i, 2) for i in range(depth))
    return ConvergentNet(in_chans, num_classes, channels=chans, fc=(fc_width or 8 * width,), pool_after=(1, 2),
                         padding=0, in_size=in_size)


def alexnet_cifar(in_chans: int = 3, num_classes: int = 10, *, width: int = 64) -> ConvergentNet:
    """AlexNet-like CIFAR net of the card's full rung: 5 convs (``width`` x 1, 3, 6, 4, 4; AlexNet's
    96-256-384-384-256 ratios), pools after conv1, conv2, conv5, padding 1, then FC(8w)-FC(8w)-FC(10)."""
    chans = (width, 3 * width, 6 * width, 4 * width, 4 * width)
    return ConvergentNet(in_chans, num_classes, channels=chans, fc=(8 * width, 8 * width), pool_after=(1, 2, 5),
                         padding=1, in_size=32)


@torch.no_grad()
def permute_hidden_units(model: ConvergentNet, perms: dict[str, torch.Tensor]) -> ConvergentNet:
    """Reorder the output units of hidden layers (``{"conv1": perm, "fc1": perm, ...}``) in place, and the
    next layer's input weights alike, so that the network computes the same function (ReLU and max-pool act
    per channel). New unit i is old unit ``perm[i]``."""
    names = [n for n, m in model.named_children() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for name, perm in perms.items():
        if name not in names[:-1]:
            raise KeyError(f"{name!r} is not a hidden conv/fc layer of this model (have {names[:-1]})")
        layer, nxt = getattr(model, name), getattr(model, names[names.index(name) + 1])
        n_out = layer.weight.shape[0]
        perm = torch.as_tensor(perm, dtype=torch.long)
        if sorted(perm.tolist()) != list(range(n_out)):
            raise ValueError(f"perms[{name!r}] must be a permutation of range({n_out})")
        layer.weight.copy_(layer.weight[perm])
        if layer.bias is not None:
            layer.bias.copy_(layer.bias[perm])
        if isinstance(nxt, nn.Linear) and isinstance(layer, nn.Conv2d):   # flatten: inputs are (channel, position)
            w = nxt.weight.reshape(nxt.out_features, n_out, -1)
            nxt.weight.copy_(w[:, perm].reshape(nxt.out_features, -1))
        else:
            nxt.weight.copy_(nxt.weight[:, perm])
    return model
