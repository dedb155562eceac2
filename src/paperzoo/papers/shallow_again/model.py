"""Classifiers around a residual stack: the paper's convolutional net and an MLP variant, both layouts.

Convolutional (card "Architecture used in the experiments", partly reconstructed):

    x (B, c_in, H, W) -> act(conv k x k, c_in -> C)        input conv ("stem")
      -> residual stack of L conv layers C -> C, sequential (deep) or parallel (shallow)
      -> max-pool to a g x g grid (g = H: no pooling) -> flatten -> dense C g^2 -> n_classes (logits)

MLP (ours, the same stack with dense F_i): x flattened (B, d_in) -> act(Linear d_in -> W) -> dense
residual stack -> Linear W -> n_classes. The registered ``*_resnet_conv`` / ``*_resnet_mlp`` models serve
the arena (MNIST / Fashion-MNIST / CIFAR-10); the budget knob ``width`` is C (conv) or W (MLP).
Both layouts have the same parameter count (``conv_params`` / ``mlp_params``).
"""
from __future__ import annotations

import torch
from torch import nn

from paperzoo.papers.shallow_again.layers import ResidualConvStack, ResidualDenseStack, get_act, stack_params
from paperzoo.registry import register_model

TASKS = ("mnist", "fashion-mnist", "cifar10")


class ConvClassifier(nn.Module):
    """Stem conv + residual conv stack (``mode``) + max-pool to ``head_grid`` + dense head; (B, c, H, W) -> logits.

    ``head_grid`` is the side of the pooled map fed to the head (adaptive max-pool; equal to the
    input side = no pooling, half of it = 2 x 2 max-pool). Any input side >= ``head_grid`` works.
    """

    def __init__(self, in_chans: int = 1, num_classes: int = 10, channels: int = 16, n_layers: int = 2,
                 kernel_size: int = 3, *, mode: str = "sequential", head_grid: int = 14, act: str = "relu"):
        super().__init__()
        if min(in_chans, num_classes, channels, n_layers, kernel_size, head_grid) <= 0:
            raise ValueError(f"ConvClassifier: sizes must be positive, got in_chans={in_chans}, num_classes={num_classes}, "
                             f"channels={channels}, n_layers={n_layers}, kernel_size={kernel_size}, head_grid={head_grid}")
        self.in_chans, self.num_classes, self.head_grid = in_chans, num_classes, head_grid
        self.stem = nn.Conv2d(in_chans, channels, kernel_size, padding="same")
        self.act = get_act(act)
        self.stack = ResidualConvStack(channels, n_layers, kernel_size, act=act, mode=mode)
        self.pool = nn.AdaptiveMaxPool2d(head_grid)
        self.head = nn.Linear(channels * head_grid * head_grid, num_classes)

    @property
    def mode(self) -> str:
        return self.stack.mode

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """h_0 = act(stem(x)): the input of the residual stack, (B, C, H, W)."""
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"ConvClassifier: expected (B, {self.in_chans}, H, W) images, got {tuple(x.shape)}")
        if min(x.shape[-2:]) < self.head_grid:
            raise ValueError(f"ConvClassifier: images {tuple(x.shape[-2:])} are smaller than head_grid={self.head_grid}")
        return self.act(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.stack(self.features(x))).flatten(1))


class MLPClassifier(nn.Module):
    """Flatten + stem Linear(d_in, W) + act + dense residual stack (``mode``) + Linear(W, n_classes)."""

    def __init__(self, in_dim: int = 784, num_classes: int = 10, width: int = 128, n_layers: int = 3, *,
                 mode: str = "sequential", act: str = "relu"):
        super().__init__()
        if min(in_dim, num_classes, width, n_layers) <= 0:
            raise ValueError(f"MLPClassifier: sizes must be positive, got in_dim={in_dim}, num_classes={num_classes}, "
                             f"width={width}, n_layers={n_layers}")
        self.in_dim = in_dim
        self.stem = nn.Linear(in_dim, width)
        self.act = get_act(act)
        self.stack = ResidualDenseStack(width, n_layers, act=act, mode=mode)
        self.head = nn.Linear(width, num_classes)

    @property
    def mode(self) -> str:
        return self.stack.mode

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """h_0 = act(stem(flatten(x))): the input of the residual stack, (B, W)."""
        if x.dim() < 2:
            raise ValueError(f"MLPClassifier: expected a batch (B, ...), got shape {tuple(x.shape)}")
        x = x.flatten(1)
        if x.shape[1] != self.in_dim:
            raise ValueError(f"MLPClassifier: inputs flatten to {x.shape[1]} features, the model takes in_dim={self.in_dim}")
        return self.act(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stack(self.features(x)))


def conv_params(in_chans: int, num_classes: int, channels: int, n_layers: int, kernel_size: int, head_grid: int) -> int:
    """Closed form: stem (c k^2 C + C) + L (C^2 k^2 + C) + head (C g^2 n + n); both layouts."""
    stem = in_chans * kernel_size * kernel_size * channels + channels
    head = channels * head_grid * head_grid * num_classes + num_classes
    return stem + stack_params(channels, n_layers, kernel_size) + head


def mlp_params(in_dim: int, num_classes: int, width: int, n_layers: int) -> int:
    """Closed form: stem (d W + W) + L (W^2 + W) + head (W n + n); both layouts."""
    return in_dim * width + width + stack_params(width, n_layers) + width * num_classes + num_classes


# ---------------------------------------------------------------- registered models (arena)
# Defaults are ours (the paper's grid was not retrieved): modest sizes for 2 CPU cores.
@register_model("sequential_resnet_conv", task=TASKS, knob="width")
def sequential_resnet_conv(in_chans: int = 1, num_classes: int = 10, *, width: int = 16, depth: int = 3,
                           kernel_size: int = 3, head_grid: int = 7, act: str = "relu") -> ConvClassifier:
    """Deep conv net: stem + ``depth`` sequential residual conv layers of ``width`` channels + 7x7 max-pool head.

    ~15k parameters at the defaults (C=16, L=3, k=3: the card's cpu grid values; head grid 7 ours).
    """
    return ConvClassifier(in_chans, num_classes, width, depth, kernel_size, mode="sequential", head_grid=head_grid,
                          act=act)


@register_model("parallel_resnet_conv", task=TASKS, knob="width")
def parallel_resnet_conv(in_chans: int = 1, num_classes: int = 10, *, width: int = 16, depth: int = 3,
                         kernel_size: int = 3, head_grid: int = 7, act: str = "relu") -> ConvClassifier:
    """Shallow conv net: the same, with the ``depth`` residual layers in parallel (h_0 + sum_i F_i(h_0))."""
    return ConvClassifier(in_chans, num_classes, width, depth, kernel_size, mode="parallel", head_grid=head_grid, act=act)


@register_model("sequential_resnet_mlp", task=TASKS, knob="width")
def sequential_resnet_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 128, depth: int = 3,
                          act: str = "relu") -> MLPClassifier:
    """Deep residual MLP: stem Linear + ``depth`` sequential dense residual layers of ``width`` + head (~151k)."""
    return MLPClassifier(in_dim, num_classes, width, depth, mode="sequential", act=act)


@register_model("parallel_resnet_mlp", task=TASKS, knob="width")
def parallel_resnet_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 128, depth: int = 3,
                        act: str = "relu") -> MLPClassifier:
    """Shallow residual MLP: the same ``depth`` dense layers read the stem output in parallel and are summed."""
    return MLPClassifier(in_dim, num_classes, width, depth, mode="parallel", act=act)
