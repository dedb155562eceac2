"""The MLP of the network experiments: ``depth_relu`` ReLU layers, then a ``depth_linear``-layer
linear head (Dang et al. 2023, official ``models.MLP(hidden, depth_relu, depth_linear, fc_bias)``;
the model file itself was not retrieved, so the layer layout is reconstructed from the scripts)."""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.registry import register_model

__all__ = ["MLPWithLinearHead"]


@register_model("mlp_linear_head", paper="neural-collapse", tasks=("mnist", "fashion_mnist", "cifar10"))
class MLPWithLinearHead(nn.Module):
    """x -> flatten -> [Linear(width) -> ReLU] x depth_relu = h -> W_M ... W_1 h (+ b).

    ``backbone`` holds the ReLU layers (with biases); ``fc`` is the linear head of ``depth_linear`` = M
    ``nn.Linear`` layers, fc[0..M-2]: width -> width without bias, fc[M-1] = W_M: width -> num_classes
    with a bias only when ``bias`` (the official ``--no-bias`` flag; the attribute name ``fc`` and the
    hook points follow the official scripts). Defaults: depth_relu 6, width 1024 (official args).
    Input (B, *) with prod(*) = in_dim; output logits (B, num_classes). ``features(x)`` returns h (B, width).
    """

    def __init__(self, depth_relu: int = 6, depth_linear: int = 1, width: int = 1024, bias: bool = True,
                 in_dim: int = 784, num_classes: int = 10):
        super().__init__()
        for name, v, lo in (("depth_relu", depth_relu, 0), ("depth_linear", depth_linear, 1), ("width", width, 1),
                            ("in_dim", in_dim, 1), ("num_classes", num_classes, 2)):
            if not (isinstance(v, int) and v >= lo):
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
        if depth_relu == 0 and in_dim != width:
            raise ValueError(f"depth_relu=0 feeds the input straight into the head: in_dim ({in_dim}) must equal "
                             f"width ({width})")
        self.depth_relu, self.depth_linear, self.width = depth_relu, depth_linear, width
        layers: list[nn.Module] = [nn.Flatten()]
        for i in range(depth_relu):
            layers += [nn.Linear(in_dim if i == 0 else width, width), nn.ReLU()]
        self.backbone = nn.Sequential(*layers)
        head = [nn.Linear(width, width, bias=False) for _ in range(depth_linear - 1)]
        self.fc = nn.Sequential(*head, nn.Linear(width, num_classes, bias=bias))

    @property
    def head(self) -> list[str]:
        """Names of the head's linear layers W_1 .. W_M (for ``collect_features``/``model_nc_metrics``)."""
        return [f"fc.{i}" for i in range(self.depth_linear)]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.backbone(x))

    @classmethod
    def for_budget(cls, n_params: int, *, in_dim: int = 784, num_classes: int = 10, depth_relu: int = 3,
                   depth_linear: int = 1, bias: bool = False) -> "MLPWithLinearHead":
        """The widest model of this shape with at most ``n_params`` parameters (for the arena)."""
        if depth_relu < 1 or depth_linear < 1:
            raise ValueError(f"for_budget needs depth_relu >= 1 and depth_linear >= 1, got {depth_relu}, {depth_linear}")
        # params(w) = (in_dim + 1) w + (depth_relu - 1)(w^2 + w) + (depth_linear - 1) w^2 + num_classes w (+ K)
        a = (depth_relu - 1) + (depth_linear - 1)
        bq = (in_dim + 1) + (depth_relu - 1) + num_classes
        c = -(n_params - (num_classes if bias else 0))
        w = int((-bq + math.sqrt(bq * bq - 4 * a * c)) / (2 * a)) if a > 0 else int(-c // bq)
        if w < 1:
            raise ValueError(f"n_params={n_params} is too small for this shape")
        return cls(depth_relu=depth_relu, depth_linear=depth_linear, width=w, bias=bias, in_dim=in_dim,
                   num_classes=num_classes)
