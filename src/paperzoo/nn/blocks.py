"""Generic blocks shared by several papers."""
from __future__ import annotations

from typing import Callable, Sequence

from torch import nn


class MLP(nn.Sequential):
    """``Linear -> act`` repeated, then a final ``Linear``: dims ``[in, h1, ..., out]``.

    ``init_std`` (optional) draws every weight from N(0, init_std^2) and zeroes biases;
    otherwise PyTorch's default init is kept.
    """

    def __init__(self, dims: Sequence[int], act: Callable[[], nn.Module] = nn.ReLU, bias: bool = True,
                 init_std: float | None = None, flatten: bool = True):
        if len(dims) < 2 or any(int(d) <= 0 for d in dims):
            raise ValueError(f"MLP dims must be >= 2 positive ints, got {list(dims)}")
        layers: list[nn.Module] = [nn.Flatten()] if flatten else []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b, bias=bias))
            if i < len(dims) - 2:
                layers.append(act())
        super().__init__(*layers)
        if init_std is not None:
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0.0, init_std)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]
