"""The function-fitting suite (card CPU ladder; the paper's own seven functions were not retrieved).

Classic KAN toy functions, inputs uniform on [-1, 1]^d (f6: y uniform on [0, 1]), generated from a
seed: ``function_fitting_suite("f2", n_train=1000, n_test=1000, seed=0) -> (x_tr, y_tr, x_te, y_te)``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from paperzoo.names import did_you_mean


def _t4(x: torch.Tensor) -> torch.Tensor:
    return 8 * x ** 4 - 8 * x ** 2 + 1


# name -> (input dimension, function of x (N, d) -> (N,), low end of each coordinate)
FUNCTIONS: dict[str, tuple[int, Callable[[torch.Tensor], torch.Tensor], tuple[float, ...]]] = {
    "f1": (1, lambda x: torch.special.bessel_j0(20 * x[:, 0]), (-1.0,)),                 # J0(20x)
    "f2": (2, lambda x: torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2), (-1.0, -1.0)),
    "f3": (2, lambda x: x[:, 0] * x[:, 1], (-1.0, -1.0)),
    "f4": (2, lambda x: torch.sin(math.pi * x[:, 0]) + torch.cos(math.pi * x[:, 1]), (-1.0, -1.0)),
    "f5": (2, lambda x: torch.exp(-(x[:, 0] ** 2 + x[:, 1] ** 2)), (-1.0, -1.0)),
    "f6": (2, lambda x: x[:, 0] / (1 + x[:, 1] ** 2), (-1.0, 0.0)),                      # y in [0, 1]
    "f7": (2, lambda x: torch.exp(torch.sin(x[:, 0] ** 2 + x[:, 1] ** 2)), (-1.0, -1.0)),
    "cheb4": (1, lambda x: _t4(x[:, 0]), (-1.0,)),                                         # smoke: T_4(x)
}
SUITE = ("f1", "f2", "f3", "f4", "f5", "f6", "f7")
DESCRIPTIONS = {"f1": "J0(20x)", "f2": "exp(sin(pi x) + y^2)", "f3": "x y", "f4": "sin(pi x) + cos(pi y)",
                "f5": "exp(-(x^2 + y^2))", "f6": "x / (1 + y^2), y in [0, 1]", "f7": "exp(sin(x^2 + y^2))",
                "cheb4": "T_4(x) = 8x^4 - 8x^2 + 1"}


def sample(name: str, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of function ``name``: inputs (n, d) uniform on the box, targets (n, 1)."""
    if name not in FUNCTIONS:
        raise KeyError(f"unknown function {name!r}{did_you_mean(name, FUNCTIONS)} (have {', '.join(FUNCTIONS)})")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    d, f, lows = FUNCTIONS[name]
    lo = torch.tensor(lows)
    x = lo + (1.0 - lo) * torch.rand(n, d, generator=generator)
    return x, f(x).unsqueeze(-1)


def function_fitting_suite(name: str, n_train: int = 1000, n_test: int = 1000, seed: int = 0):
    """``(x_train, y_train, x_test, y_test)`` for function ``name`` (card: 1000 / 1000 points)."""
    g = torch.Generator().manual_seed(int(seed))
    x_tr, y_tr = sample(name, n_train, g)
    x_te, y_te = sample(name, n_test, g)
    return x_tr, y_tr, x_te, y_te
