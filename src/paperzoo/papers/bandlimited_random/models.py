"""Registry entry: the random-feature net as a model any face can build."""
from __future__ import annotations

import torch

from paperzoo.papers.bandlimited_random.features import RandomFeatureNet, UniformBox
from paperzoo.registry import register_model


@register_model("random_feature_net", task="regression", knob="d",
                example=lambda: torch.rand(8, 1, dtype=torch.float64))
def random_feature_net(in_dim: int = 1, out_dim: int = 1, *, d: int = 1000, lam: float = 1.0, act: str = "sigmoid",
                       seed: int = 0) -> RandomFeatureNet:
    """Depth-2 net with frozen a, b ~ U[-lam, lam] and trainable output weights c (d of them per output).

    Defaults: lam = 1 (the RVFL/ELM default the paper warns about), sigmoid (card); the budget knob is d.
    """
    return RandomFeatureNet(d, in_dim, out_dim, sampler=UniformBox(lam), act=act, seed=seed)
