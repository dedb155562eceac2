"""l_inf attacks used by LSA and AT-LR: FGSM (optionally with a random start) and PGD (Madry et al.).

x_hat = argmax_{Z in B(x, eps)} J(theta, Z, y), J = cross-entropy (AT-LR objective, card "The method").
The paper's exact attack settings were not retrieved (card); the defaults are the card's project defaults:
PGD step alpha = 2.5 eps / K with a uniform random start, FGSM with random start (Wong et al. 2020) step
1.25 eps. ``clip=(lo, hi)`` clamps to the data range ([0, 1] for images; ``None`` for raw Moon coordinates).
The attacks differentiate w.r.t. the input only: parameter gradients are left untouched, and the model's
train/eval mode is not changed (the caller chooses it).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ATTACKS", "fgsm", "make_attack", "noise", "pgd"]

Clip = tuple[float, float] | None


def _check(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
        raise TypeError(f"x must be a floating-point tensor, got {type(x).__name__} {getattr(x, 'dtype', '')}")
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y must be a 1-D label tensor with one label per input ({len(x)}), "
                         f"got {tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")


def _clip(x: torch.Tensor, clip: Clip) -> torch.Tensor:
    return x if clip is None else x.clamp(clip[0], clip[1])


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d J(theta, x, y) / dx, J = sum of per-example cross-entropies (sign-equivalent to the mean)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
    return g


def _uniform(x: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    return (2 * u - 1) * eps


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, rand_init: bool = False,
         alpha: float | None = None, clip: Clip = (0.0, 1.0), generator: torch.Generator | None = None) -> torch.Tensor:
    """FGSM: x_hat = clip(x + eps sign(grad_x J)) (Goodfellow et al. 2015).

    ``rand_init=True``: FGSM with a random start (Wong et al. 2020): delta_0 ~ U[-eps, eps],
    delta = proj_eps(delta_0 + alpha sign(grad J(x + delta_0))), alpha default 1.25 eps (their default).
    Returns a detached tensor of x's shape.
    """
    _check(model, x, y, eps)
    if not rand_init:
        return _clip(x + eps * _input_grad(model, x, y).sign(), clip).detach()
    alpha = 1.25 * eps if alpha is None else alpha
    d0 = _uniform(x, eps, generator)
    x0 = _clip(x + d0, clip)
    delta = (x0 - x + alpha * _input_grad(model, x0, y).sign()).clamp(-eps, eps)
    return _clip(x + delta, clip).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 10, alpha: float | None = None,
        rand_init: bool = True, *, clip: Clip = (0.0, 1.0), generator: torch.Generator | None = None) -> torch.Tensor:
    """PGD (Madry et al. 2018): K steps x <- proj_{B(x0, eps)} clip(x + alpha sign(grad_x J)).

    ``alpha`` default 2.5 eps / K (card project default); ``rand_init``: uniform start in the ball.
    """
    _check(model, x, y, eps)
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    alpha = 2.5 * eps / steps if alpha is None else alpha
    xa = _clip(x + _uniform(x, eps, generator), clip) if rand_init else x.clone()
    for _ in range(steps):
        xa = xa + alpha * _input_grad(model, xa, y).sign()
        xa = _clip(x + (xa - x).clamp(-eps, eps), clip)
    return xa.detach()


def noise(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, clip: Clip = (0.0, 1.0),
          generator: torch.Generator | None = None) -> torch.Tensor:
    """Statistical noise of the FGSM size: x + eps * r, r uniform in {-1, +1} (same l_inf and l_2 norm as an
    FGSM step before clipping). The LSA figures compare attacks with noise; the paper's noise type was not
    retrieved (project choice). ``model`` / ``y`` are unused (same signature as the attacks)."""
    _check(model, x, y, eps)
    r = torch.randint(0, 2, x.shape, generator=generator, device="cpu").to(device=x.device, dtype=x.dtype)
    return _clip(x + eps * (2 * r - 1), clip).detach()


ATTACKS: dict[str, Callable[..., torch.Tensor]] = {"fgsm": fgsm, "pgd": pgd, "noise": noise}


def make_attack(name: str, eps: float, *, steps: int = 10, alpha: float | None = None, rand_init: bool | None = None,
                clip: Clip = (0.0, 1.0), generator: torch.Generator | None = None
                ) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``attack(model, x, y) -> x_hat``: ``"fgsm"`` (``rand_init`` default False), ``"fgsm_rs"`` (FGSM with
    random start), ``"pgd"`` (``steps``, ``alpha``, ``rand_init`` default True) or ``"noise"``."""
    if name == "fgsm" or name == "fgsm_rs":
        ri = (name == "fgsm_rs") if rand_init is None else rand_init
        return lambda m, x, y: fgsm(m, x, y, eps, rand_init=ri, alpha=alpha, clip=clip, generator=generator)
    if name == "pgd":
        ri = True if rand_init is None else rand_init
        return lambda m, x, y: pgd(m, x, y, eps, steps, alpha, ri, clip=clip, generator=generator)
    if name == "noise":
        return lambda m, x, y: noise(m, x, y, eps, clip=clip, generator=generator)
    from paperzoo.names import did_you_mean

    raise ValueError(f"unknown attack {name!r}{did_you_mean(name, ['fgsm', 'fgsm_rs', 'pgd', 'noise'])}; "
                     f"use 'fgsm', 'fgsm_rs', 'pgd' or 'noise'")
