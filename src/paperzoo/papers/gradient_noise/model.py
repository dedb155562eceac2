"""The paper's very deep MNIST network (Sec. 4.1): 20 hidden ReLU layers of 50 units, softmax output,
with the initialisations of Table 1 (Simple Init, zero init, He init).

Table 1 rows and their inits (paper, Sec. 4.1 text and Table 1):
- ``simple``: every weight N(0, 0.1^2) ("Simple Init": "initialized from a Gaussian with mean zero and
  standard deviation of 0.1"); biases 0 (the paper does not say; see README deviation 3).
- ``zero``: every weight and bias 0 (Experiment 6, "Bad Init (Zero Init)").
- ``he``: weights N(0, 2 / fan_in), biases 0 (Experiment 5, He et al. 2015).
- ``torch``: PyTorch's default ``nn.Linear`` init (not in the paper; for comparison).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.nn import MLP
from paperzoo.registry import register_model

__all__ = ["INITS", "deep_mlp", "init_deep_mlp"]

INITS = ("simple", "zero", "he", "torch")


@torch.no_grad()
def init_deep_mlp(model: MLP, init: str = "simple", *, init_std: float = 0.1) -> MLP:
    """(Re-)initialise every ``nn.Linear`` of ``model`` in place with one of ``INITS``; returns it.

    Draws from the global RNG (seed it around the call)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "simple" and not (isinstance(init_std, (int, float)) and math.isfinite(init_std) and init_std > 0):
        raise ValueError(f"init_std must be a positive number for init='simple', got {init_std!r}")
    if init == "torch":
        return model
    for lin in model.linears:
        if init == "simple":
            lin.weight.normal_(0.0, float(init_std))
        elif init == "he":
            lin.weight.normal_(0.0, math.sqrt(2.0 / lin.in_features))
        else:
            lin.weight.zero_()
        lin.bias.zero_()
    return model


@register_model("gradnoise_deep_mlp", task="mnist", knob="width")
def deep_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 50, depth: int = 20, init: str = "simple",
             init_std: float = 0.1) -> MLP:
    """The paper's very deep MLP: ``depth`` hidden ReLU layers of ``width`` units, then a linear
    (softmax) layer. Input (N, in_dim) or (N, 1, 28, 28) (flattened inside) -> logits (N, num_classes).

    Defaults from Sec. 4.1: 20 hidden layers x 50 ReLU units, Simple Init N(0, 0.1^2).
    ``init``: one of ``INITS`` (see the module docstring). Draws from the global RNG.
    """
    for name, v in (("in_dim", in_dim), ("num_classes", num_classes), ("width", width), ("depth", depth)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    model = MLP([in_dim] + [width] * depth + [num_classes], act=nn.ReLU, flatten=True)
    return init_deep_mlp(model, init, init_std=init_std)
