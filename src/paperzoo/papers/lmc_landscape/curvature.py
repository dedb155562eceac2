"""Second-order barrier-height predictors and the exact toys (card: "Barrier-height analysis", reconstructed).

With phi(alpha) = L(theta(alpha)) on the path theta(alpha) = (1 - alpha) theta_A + alpha theta_B and
delta = theta_A - theta_B, the midpoint excess is exactly

    phi(1/2) - (phi(0) + phi(1)) / 2 = -1/8 phi''(xi) = -1/8 delta^T H(theta(xi)) delta,   xi in (0, 1)

(exact for a quadratic loss). Two computable predictors of the barrier (the card's reconstruction; the
paper's exact statement was not retrieved):

    P_mid = -1/8 delta^T H(theta(1/2)) delta                                              ("ridge": H < 0 along delta)
    P_end = 1/4 (grad L(theta_B) - grad L(theta_A))^T delta + 1/16 delta^T (H(theta_A) + H(theta_B)) delta

P_end is the average of the second-order Taylor expansions of phi(1/2) from both ends. Layer-wise versions
(``names=``) restrict delta to the layer's parameters, i.e. they apply the same formulas to the layer-wise
path theta_l(alpha), whose curvature is the l-l Hessian block. Only Hessian-vector products (double
back-prop) are needed. Everything works on a scalar function ``f(theta: dict[name, Tensor])``;
``model_loss`` builds one for a network and a fixed evaluation batch.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from paperzoo.nn import as_xy
from paperzoo.papers.lmc_landscape.lmc import ALPHAS, _check_pair, barrier, lerp

__all__ = ["TOY_PATHS", "directional_grad", "fd_curvature", "hvp_quadratic", "midpoint_excess", "model_loss", "path_curve",
           "predict_barrier", "quad_form", "quadratic", "scalar_two_layer", "toy_path"]

Fn = Callable[[dict[str, torch.Tensor]], torch.Tensor]


def model_loss(model: nn.Module, batch: Any, *, batch_size: int = 2000) -> Fn:
    """theta -> mean cross-entropy of ``model`` (eval mode, its own buffers) at parameters theta on ``batch``."""
    x, y = as_xy(batch)
    if y is None:
        raise ValueError("model_loss needs labels: pass (x, y) or a TensorSet")
    work = copy.deepcopy(model).eval()
    buffers = {k: v.detach() for k, v in work.named_buffers()}
    y = y.long()

    def f(theta: dict[str, torch.Tensor]) -> torch.Tensor:
        total = 0.0
        for i in range(0, len(x), batch_size):
            z = functional_call(work, {**theta, **buffers}, (x[i:i + batch_size],))
            total = total + F.cross_entropy(z, y[i:i + batch_size], reduction="sum")
        return total / len(x)

    return f


def _leaves(theta: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().requires_grad_(True) for k, v in theta.items()}


def _dot(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor | None]) -> torch.Tensor:
    return sum((a[k] * b[k]).sum() for k in a if b[k] is not None)


def directional_grad(f: Fn, theta: dict[str, torch.Tensor], direction: dict[str, torch.Tensor]) -> float:
    """grad f(theta)^T direction."""
    _check_pair(theta, direction)
    p = _leaves(theta)
    g = torch.autograd.grad(f(p), list(p.values()), allow_unused=True)
    return float(_dot(direction, dict(zip(p, g))))


def quad_form(f: Fn, theta: dict[str, torch.Tensor], direction: dict[str, torch.Tensor]) -> float:
    """direction^T H_f(theta) direction by one Hessian-vector product (double back-prop)."""
    _check_pair(theta, direction)
    p = _leaves(theta)
    g = torch.autograd.grad(f(p), list(p.values()), create_graph=True, allow_unused=True)
    gd = _dot(direction, dict(zip(p, g)))
    if not gd.requires_grad:  # f is linear along direction
        return 0.0
    hd = torch.autograd.grad(gd, list(p.values()), allow_unused=True)
    return float(_dot(direction, dict(zip(p, hd))))


def hvp_quadratic(model: nn.Module, theta: dict[str, torch.Tensor], direction: dict[str, torch.Tensor],
                  batch: Any) -> float:
    """delta^T H delta of the mean cross-entropy of ``model`` at ``theta`` on ``batch`` (card API)."""
    return quad_form(model_loss(model, batch), theta, direction)


def _delta(theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor],
           names: Iterable[str] | None) -> dict[str, torch.Tensor]:
    _check_pair(theta_a, theta_b)
    sel = set(theta_a) if names is None else set(names)
    if sel - set(theta_a):
        raise KeyError(f"no parameters named {sorted(sel - set(theta_a))[:4]}")
    return {k: (a - theta_b[k]) if k in sel else torch.zeros_like(a) for k, a in theta_a.items()}


def predict_barrier(f: Fn, theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor], kind: str = "mid",
                    names: Iterable[str] | None = None) -> float:
    """P_mid (``kind="mid"``) or P_end (``kind="end"``) of the path theta_A -> theta_B (layer-wise with ``names``)."""
    names = None if names is None else list(names)
    delta = _delta(theta_a, theta_b, names)
    end = lerp(theta_a, theta_b, 1.0, names)  # theta_B, or theta_A with the layer from theta_B
    if kind == "mid":
        return -quad_form(f, lerp(theta_a, theta_b, 0.5, names), delta) / 8
    if kind == "end":
        grad_term = directional_grad(f, end, delta) - directional_grad(f, theta_a, delta)
        return grad_term / 4 + (quad_form(f, theta_a, delta) + quad_form(f, end, delta)) / 16
    raise ValueError(f"kind must be 'mid' or 'end', got {kind!r}")


def midpoint_excess(f: Fn, theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor],
                    names: Iterable[str] | None = None) -> float:
    """phi(1/2) - (phi(0) + phi(1)) / 2 on the (layer-wise) path."""
    names = None if names is None else list(names)
    with torch.no_grad():
        mid, a, b = (float(f(lerp(theta_a, theta_b, t, names))) for t in (0.5, 0.0, 1.0))
    return mid - (a + b) / 2


def fd_curvature(f: Fn, theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor], t: float = 0.5,
                 h: float = 0.05, names: Iterable[str] | None = None) -> float:
    """phi''(t) by the central difference (phi(t + h) - 2 phi(t) + phi(t - h)) / h^2 along the (layer-wise) path.

    For ReLU networks the Hessian from double back-prop is blind to activation patterns that switch along
    delta (their second derivative is a sum of Dirac terms); this finite difference sees them. Not on the
    card: reported beside P_mid as ``P_mid_fd = -fd_curvature / 8`` (README)."""
    if not (0 < h and 0 <= t - h and t + h <= 1):
        raise ValueError(f"need 0 < h and t - h >= 0, t + h <= 1, got t={t}, h={h}")
    names = None if names is None else list(names)
    with torch.no_grad():
        lo, mid, hi = (float(f(lerp(theta_a, theta_b, u, names))) for u in (t - h, t, t + h))
    return (hi - 2 * mid + lo) / h ** 2


def path_curve(f: Fn, theta_a: dict[str, torch.Tensor], theta_b: dict[str, torch.Tensor], alphas=ALPHAS,
               names: Iterable[str] | None = None) -> dict[str, list[float]]:
    """``{"alpha", "loss"}`` of f along the (layer-wise) linear path; ``barrier(curve)`` reads it."""
    names = None if names is None else list(names)
    with torch.no_grad():
        loss = [float(f(lerp(theta_a, theta_b, float(a), names))) for a in alphas]
    return {"alpha": [float(a) for a in alphas], "loss": loss}


# ---------------------------------------------------------------- toys (card, "Toy (project's, exact)")
def scalar_two_layer() -> Fn:
    """f(w_1, w_2) = (w_1 w_2 - 1)^2: a scalar two-layer linear net; minima on the hyperbola w_1 w_2 = 1."""
    return lambda theta: (theta["w"][0] * theta["w"][1] - 1) ** 2


def quadratic(A: torch.Tensor) -> Fn:
    """f(theta) = 1/2 theta^T A theta (A symmetric, possibly indefinite): every identity above is exact."""
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {tuple(A.shape)}")
    return lambda theta: 0.5 * theta["w"] @ A @ theta["w"]


TOY_PATHS = {  # card: start, end, exact barrier (on the 11-point grid, maximum at alpha = 1/2)
    "across_ridge": ((2.0, 0.5), (0.5, 2.0), 0.31640625),
    "sign_flip": ((1.0, 1.0), (-1.0, -1.0), 1.0),
    "same_valley": ((1.0, 1.0), (1.1, 1 / 1.1), 5.165e-6),
}


def toy_path(start, end) -> dict[str, float]:
    """Barrier, midpoint excess, P_mid and P_end of the scalar two-layer toy between two points (float64)."""
    f = scalar_two_layer()
    a = {"w": torch.tensor(start, dtype=torch.float64)}
    b = {"w": torch.tensor(end, dtype=torch.float64)}
    curve = path_curve(f, a, b)
    return {"barrier": barrier(curve), "mid_excess": midpoint_excess(f, a, b),
            "P_mid": predict_barrier(f, a, b, "mid"), "P_end": predict_barrier(f, a, b, "end")}
