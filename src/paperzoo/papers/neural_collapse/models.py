"""The MLP of the network experiments: ``depth`` ReLU layers, then a ``depth_linear``-layer linear head
(Dang et al. 2023, official ``models/mlp.py``: ``MLP(hidden, depth_relu, depth_linear, fc_bias, batchnorm)``)."""
from __future__ import annotations

import torch
from torch import nn

from paperzoo.registry import register_model

__all__ = ["MLPWithLinearHead", "mlp_linear_head"]


class MLPWithLinearHead(nn.Module):
    """x -> flatten -> [Linear(width) -> ReLU (-> BatchNorm)] x depth -> BatchNorm = h -> W_M ... W_1 h (+ b).

    As the official ``models/mlp.py``: every ReLU layer is followed by ``BatchNorm1d`` and the features h
    entering the head are the output of one more ``BatchNorm1d`` (``batchnorm=False``: no BN, and a
    ``Linear(width, width)`` with bias in place of the last one, the official ``intermediate_layer``).
    The head ``fc`` holds ``depth_linear`` = M ``nn.Linear`` layers: fc[0..M-2] width -> width without
    bias, fc[M-1] = W_M width -> num_classes with a bias only when ``bias`` (official ``--no-bias``).
    Linear weights are initialised orthogonally (official ``nn.init.orthogonal_``).
    Defaults from the official ``args.py``: width 1024, depth (``--depth_relu``) 6, depth_linear 1, bias.
    Input (B, *) with prod(*) = in_dim (flattened here); output logits (B, num_classes).
    """

    def __init__(self, in_dim: int = 784, num_classes: int = 10, *, width: int = 1024, depth: int = 6,
                 depth_linear: int = 1, bias: bool = True, batchnorm: bool = True):
        super().__init__()
        for name, v, lo in (("in_dim", in_dim, 1), ("num_classes", num_classes, 2), ("width", width, 1),
                            ("depth", depth, 1), ("depth_linear", depth_linear, 1)):
            if isinstance(v, bool) or not (isinstance(v, int) and v >= lo):
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
        self.in_dim, self.num_classes, self.width = in_dim, num_classes, width
        self.depth, self.depth_linear, self.batchnorm = depth, depth_linear, batchnorm
        layers: list[nn.Module] = [nn.Flatten()]
        for i in range(depth):
            layers += [nn.Linear(in_dim if i == 0 else width, width), nn.ReLU()]
            layers += [nn.BatchNorm1d(width)] if batchnorm else []
        layers.append(nn.BatchNorm1d(width) if batchnorm else nn.Linear(width, width))
        self.backbone = nn.Sequential(*layers)
        head = [nn.Linear(width, width, bias=False) for _ in range(depth_linear - 1)]
        self.fc = nn.Sequential(*head, nn.Linear(width, num_classes, bias=bias))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.orthogonal_(m.weight)

    @property
    def head(self) -> list[str]:
        """Names of the head's linear layers W_1 .. W_M (the probe's ``layers=``)."""
        return [f"fc.{i}" for i in range(self.depth_linear)]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """h (B, width), the features entering the head."""
        if x.ndim < 2 or x[0].numel() != self.in_dim:
            raise ValueError(f"input must be (B, ...) with {self.in_dim} values per sample, got {tuple(x.shape)}")
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("mlp_linear_head", task=("mnist", "fashion-mnist", "cifar10"), knob="width")
def mlp_linear_head(in_dim: int = 784, num_classes: int = 10, *, width: int = 1024, depth: int = 6,
                    depth_linear: int = 1, bias: bool = True, batchnorm: bool = True) -> MLPWithLinearHead:
    """MLP (``depth`` ReLU + BatchNorm layers) with an M-layer linear head; defaults from the official
    ``args.py`` (width 1024, depth_relu 6, one linear layer with bias). Budget knob: ``width``."""
    return MLPWithLinearHead(in_dim, num_classes, width=width, depth=depth, depth_linear=depth_linear, bias=bias,
                             batchnorm=batchnorm)
