"""NoProp-DT noise schedule and the coefficients of the inference chain (paper Eq. 3).

Index convention (the paper's): ``t = 0`` is pure noise, ``t = T`` is (nearly) clean, and
``alpha_bar[0] < alpha_bar[1] < ... < alpha_bar[T]``. The marginals are
``q(z_t | y) = N(sqrt(alpha_bar_t) u_y, (1 - alpha_bar_t) I)``.
"""
from __future__ import annotations

import math

import torch


def cosine_alpha_bar(T: int, s: float = 0.008, clip: tuple[float, float] = (1e-4, 0.999)) -> torch.Tensor:
    """Cosine schedule ``alpha_bar_t = f(1 - t/T)``, ``t = 0..T``, clipped into ``clip``.

    ``f(r) = cos^2(pi/2 (r + s)/(1 + s)) / cos^2(pi/2 s/(1 + s))`` (Nichol & Dhariwal's cosine
    schedule run so that ``t = T`` is clean). The paper says "fixed cosine schedule" without the
    offset or the clip; ``s = 0.008`` and ``clip = (1e-4, 0.999)`` are the card's project defaults
    (reconstructed, not from the paper): the upper clip keeps ``SNR(T)`` finite (= 999).

    Returns a float64 tensor of shape ``(T + 1,)``.
    """
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T (number of blocks) must be an int >= 1, got {T!r}")
    if not (0.0 <= s < 1.0):
        raise ValueError(f"s (cosine offset) must be in [0, 1), got {s!r}")
    lo, hi = clip
    if not (0.0 < lo < hi < 1.0):
        raise ValueError(f"clip must satisfy 0 < lo < hi < 1 (alpha_bar must stay in (0, 1)), got {clip!r}")
    r = 1.0 - torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos(math.pi / 2 * (r + s) / (1 + s)) ** 2 / math.cos(math.pi / 2 * s / (1 + s)) ** 2
    return f.clamp(lo, hi)


def _check_alpha_bar(alpha_bar: torch.Tensor) -> torch.Tensor:
    if not isinstance(alpha_bar, torch.Tensor) or alpha_bar.ndim != 1 or len(alpha_bar) < 2:
        raise ValueError("alpha_bar must be a 1-D tensor of length T + 1 >= 2, got "
                         f"{getattr(alpha_bar, 'shape', type(alpha_bar).__name__)}")
    if not torch.isfinite(alpha_bar).all() or (alpha_bar <= 0).any() or (alpha_bar >= 1).any():
        raise ValueError(f"alpha_bar must lie in the open interval (0, 1), got {alpha_bar.tolist()}")
    if (alpha_bar[1:] <= alpha_bar[:-1]).any():
        raise ValueError(f"alpha_bar must be strictly increasing (t = 0 noise, t = T clean), got {alpha_bar.tolist()}")
    return alpha_bar


def snr(alpha_bar: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio ``SNR(t) = alpha_bar_t / (1 - alpha_bar_t)``, shape ``(T + 1,)``."""
    alpha_bar = _check_alpha_bar(alpha_bar)
    return alpha_bar / (1 - alpha_bar)


def dt_coefficients(alpha_bar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Coefficients ``(a, b, c)`` of ``z_t = a_t u_hat_t + b_t z_{t-1} + sqrt(c_t) eps`` (Eq. 3).

    With ``alpha_{t-1} := alpha_bar_{t-1} / alpha_bar_t``:
    ``a_t = sqrt(alpha_bar_t) (1 - alpha_{t-1}) / (1 - alpha_bar_{t-1})``,
    ``b_t = sqrt(alpha_{t-1}) (1 - alpha_bar_t) / (1 - alpha_bar_{t-1})``,
    ``c_t = (1 - alpha_bar_t) (1 - alpha_{t-1}) / (1 - alpha_bar_{t-1})``
    (the DDPM posterior ``q(z_t | z_{t-1}, y)`` with ``u_y`` replaced by the block's prediction).
    Each has shape ``(T,)``; entry ``t - 1`` belongs to block ``t = 1..T``. Same dtype as ``alpha_bar``.
    """
    ab = _check_alpha_bar(alpha_bar)
    prev, cur = ab[:-1], ab[1:]
    alpha = prev / cur
    a = cur.sqrt() * (1 - alpha) / (1 - prev)
    b = alpha.sqrt() * (1 - cur) / (1 - prev)
    c = (1 - cur) * (1 - alpha) / (1 - prev)
    return a, b, c


def oracle_chain_deviation(alpha_bar: torch.Tensor, *, n_chains: int = 200_000, n_classes: int = 10,
                           generator: torch.Generator | None = None) -> dict[str, float]:
    """Monte-Carlo check of Eq. 3 with an oracle block ``u_hat_t = u_y`` (one-hot ``u_y``).

    Draws ``z_0 ~ q(z_0 | y)`` and runs the chain in float64; if the coefficients are right,
    ``r_t = z_t - sqrt(alpha_bar_t) u_y`` has mean 0 and variance ``1 - alpha_bar_t`` for every t.
    Returns ``mean_dev = max_t,k |mean(r_t,k)|`` (absolute; ``||u_y|| = 1``),
    ``var_dev = max_t |var(r_t) / (1 - alpha_bar_t) - 1|`` (pooled over the ``n_classes`` coordinates)
    and ``max_dev``, the larger of the two.
    """
    ab = _check_alpha_bar(alpha_bar).double()
    a, b, c = dt_coefficients(ab)
    g = generator or torch.Generator().manual_seed(0)
    y = torch.arange(n_chains) % n_classes  # balanced classes
    u = torch.nn.functional.one_hot(y, n_classes).double()
    z = ab[0].sqrt() * u + (1 - ab[0]).sqrt() * torch.randn(n_chains, n_classes, generator=g, dtype=torch.float64)
    mean_dev, var_dev = 0.0, 0.0
    for t in range(len(ab)):
        if t > 0:
            eps = torch.randn(n_chains, n_classes, generator=g, dtype=torch.float64)
            z = a[t - 1] * u + b[t - 1] * z + c[t - 1].sqrt() * eps
        r = z - ab[t].sqrt() * u
        mean_dev = max(mean_dev, float(r.mean(0).abs().max()))
        var_dev = max(var_dev, float((r.var(0).mean() / (1 - ab[t]) - 1).abs()))
    return {"mean_dev": mean_dev, "var_dev": var_dev, "max_dev": max(mean_dev, var_dev)}
