"""The networks of the card's ladder: the cpu rung's MLP and the full rung's CIFAR-10 ResNet-20."""
from __future__ import annotations

from torch import nn

from paperzoo.nn import MLP
from paperzoo.registry import register_model

__all__ = ["ResNet20", "lmc_mlp", "lmc_resnet20"]


@register_model("lmc_mlp", task=("fashion-mnist", "mnist"), knob="width")
def lmc_mlp(in_dim: int = 784, num_classes: int = 10, *, width: int = 512, depth: int = 2) -> MLP:
    """MLP in_dim-width^depth-num_classes with ReLU and PyTorch's default init; default 784-512-512-10 (card cpu rung).
    Flattens (B, 1, 28, 28) inputs itself."""
    if depth < 1 or width < 1:
        raise ValueError(f"lmc_mlp: depth and width must be >= 1, got depth={depth}, width={width}")
    return MLP([in_dim, *[width] * depth, num_classes])


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        h = self.bn1(self.conv1(x)).relu()
        return (self.bn2(self.conv2(h)) + self.short(x)).relu()


class ResNet20(nn.Module):
    """CIFAR ResNet-(6n+2) (He et al. 2016, Sec. 4.2): 3x3 conv, three stages of n basic blocks with
    width, 2 width, 4 width channels (strides 1, 2, 2), global average pool, linear. n = 3: ResNet-20.
    Projection (1x1 conv + BN) shortcuts where the shape changes. Input (B, 3, 32, 32) -> (B, classes)."""

    def __init__(self, in_chans: int = 3, num_classes: int = 10, *, width: int = 16, depth: int = 3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        blocks, c = [], width
        for i, c_out in enumerate((width, 2 * width, 4 * width)):
            for j in range(depth):
                blocks.append(_Block(c, c_out, 2 if (i > 0 and j == 0) else 1))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


@register_model("lmc_resnet20", task="cifar10", knob="width")
def lmc_resnet20(in_chans: int = 3, num_classes: int = 10, *, width: int = 16, depth: int = 3) -> ResNet20:
    """ResNet-20 for CIFAR-10 (card full rung; He et al. 2016): width = first-stage channels, depth = blocks per stage."""
    if depth < 1 or width < 1:
        raise ValueError(f"lmc_resnet20: depth and width must be >= 1, got depth={depth}, width={width}")
    return ResNet20(in_chans, num_classes, width=width, depth=depth)
