"""MT-DeepONet's data, generated offline (the paper's Google-Drive files are not reachable; card "Offline data
generators"): the Fisher source-term family and multi-geometry Darcy flow.

* ``taylor_coeffs``: the branch's encoding of a reaction term ``R(u) ~ c1 u + c2 u^2 + c3 u^3 + c4 u^4``
  (official ``Fisher/dataset.py``, source-checked in the card).
* ``fisher_family`` / ``fisher_dataset``: ``u_t = D u_xx + R(u)`` on [0, 1] x [0, 1] with zero-flux ends, solved by
  the kernel's ``fisher_rd`` (RK4, 50 steps per saved frame); ``u_0 = 1 / (1 + exp(-2 g))``, ``g`` an RBF GRF
  (length 0.2); D = 0.01, the boundaries and the IC law are the card's choices, not the paper's.
* ``geometry_mask`` / ``darcy_geometry_dataset``: ``-div(K grad h) = 1`` inside a geometry, ``h = 0`` on and outside
  its boundary (kernel ``darcy_solve`` with a mask), ``K = exp(g)``, ``g`` the kernel's Neumann ``grf2d``
  (alpha 2, tau 3). Geometries are the card's (square, disc, triangle; target: square minus a cross).
"""
from __future__ import annotations

import math

import torch

from paperzoo.data.pde import GRF1D, darcy_solve, fisher_rd, generated, grf2d

FAMILIES = ("kpp", "cubic", "exp")          # R = a u(1-u);  a u(1-u^2);  a u(1-u) exp(-beta (1-u))
GEOMETRIES = ("square", "disc", "triangle", "cross")


def _family(family: str | int) -> str:
    if isinstance(family, int) and 1 <= family <= 3:
        return FAMILIES[family - 1]
    if family not in FAMILIES:
        raise ValueError(f"unknown reaction family {family!r}; use one of {FAMILIES} (or 1, 2, 3)")
    return family


def taylor_coeffs(family: str | int, a, beta=None, *, mode: str = "official") -> torch.Tensor:
    """Coefficients ``(c1, c2, c3, c4)`` of the reaction term's degree-4 expansion at u = 0, shape ``a.shape + (4,)``.

    kpp: ``a (1, -1, 0, 0)``; cubic: ``a (1, 0, -1, 0)``; exp, ``mode="official"`` (``Fisher/dataset.py``):
    ``a e^-beta (1, beta - 1, beta (beta / 2 - 1), -beta^2 / 2)``, i.e. ``u(1-u)(1 + beta u + beta^2 u^2 / 2)``;
    ``mode="exact"``: the true Taylor coefficients, which differ only in ``c4 = a e^-beta (beta^3 / 6 - beta^2 / 2)``.
    """
    family = _family(family)
    if mode not in ("official", "exact"):
        raise ValueError(f"taylor_coeffs: mode must be 'official' or 'exact', got {mode!r}")
    a = torch.as_tensor(a, dtype=torch.float64)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    if family == "kpp":
        return a[..., None] * torch.stack([one, -one, zero, zero], -1)
    if family == "cubic":
        return a[..., None] * torch.stack([one, zero, -one, zero], -1)
    if beta is None:
        raise ValueError("taylor_coeffs: the 'exp' family needs beta")
    b = torch.as_tensor(beta, dtype=torch.float64).expand_as(a)
    c4 = -b ** 2 / 2 + (b ** 3 / 6 if mode == "exact" else 0.0)
    return (a * torch.exp(-b))[..., None] * torch.stack([one, b - 1, b * (b / 2 - 1), c4], -1)


def reaction(family: str | int, a: torch.Tensor, beta: torch.Tensor | None = None):
    """The exact reaction term as a function of ``u`` (n, nx), ``a`` and ``beta`` per sample (n,)."""
    family = _family(family)
    a = a.double()[:, None]
    if family == "kpp":
        return lambda u: a * u * (1 - u)
    if family == "cubic":
        return lambda u: a * u * (1 - u ** 2)
    b = beta.double()[:, None]
    return lambda u: a * u * (1 - u) * torch.exp(-b * (1 - u))


def fisher_family(family: str | int, n_ic: int, a_values, beta_values=(None,), *, nx: int = 64, nt: int = 20,
                  D: float = 0.01, length_scale: float = 0.2, steps_per_frame: int = 50, seed: int = 0,
                  mode: str = "official") -> dict[str, torch.Tensor]:
    """Every (IC, a, beta) combination of one family: ``v`` (n, 4 + nx) = [c, u0], ``u`` (n, nt, nx) float64,
    ``a``, ``beta`` (n,). ``n = n_ic * len(a_values) * len(beta_values)``; ICs ``1 / (1 + exp(-2 g))``."""
    family = _family(family)
    if family == "exp" and any(b is None for b in beta_values):
        raise ValueError("fisher_family: the 'exp' family needs beta_values")
    if n_ic < 1 or not len(a_values) or nx < 3 or nt < 2:
        raise ValueError(f"fisher_family: need n_ic >= 1, a_values, nx >= 3, nt >= 2; got {n_ic}, {a_values}, {nx}, {nt}")
    gen = torch.Generator().manual_seed(seed * 1009 + FAMILIES.index(family))
    u0 = torch.sigmoid(2 * GRF1D(length_scale, n_grid=nx).sample(n_ic, gen))
    av = torch.as_tensor(a_values, dtype=torch.float64)
    bv = torch.tensor([0.0 if b is None else float(b) for b in beta_values], dtype=torch.float64)
    ic, ia, ib = torch.meshgrid(torch.arange(n_ic), torch.arange(len(av)), torch.arange(len(bv)), indexing="ij")
    ic, a, b = ic.reshape(-1), av[ia.reshape(-1)], bv[ib.reshape(-1)]
    u = fisher_rd(u0[ic], reaction(family, a, b), D=D, n_frames=nt, steps_per_frame=steps_per_frame)
    c = taylor_coeffs(family, a, b if family == "exp" else None, mode=mode)
    return {"v": torch.cat([c, u0[ic]], 1), "u": u, "a": a, "beta": b}


def fisher_dataset(counts: tuple[int, int, int] = (100, 100, 20), *, n_a: int = 10, n_beta: int = 10,
                   a_range: tuple[float, float] = (0.1, 1.0), beta_range: tuple[float, float] = (0.5, 2.0), nx: int = 64,
                   nt: int = 20, D: float = 0.01, seed: int = 0, mode: str = "official") -> dict[str, torch.Tensor]:
    """The three families pooled (cached by ``generated``): ``counts`` ICs per family; families 1-2 take every
    a-value, family 3 every (a, beta) (official file names: a 10 values in [0.1, 1], beta 10 in [0.5, 2]).
    Returns ``v``, ``u`` (float64), ``family`` (n,) in {0, 1, 2}."""
    params = {"counts": list(counts), "n_a": n_a, "n_beta": n_beta, "a_range": list(a_range), "beta_range": list(beta_range),
              "nx": nx, "nt": nt, "D": D, "seed": seed, "mode": mode}

    def make():
        a = torch.linspace(*a_range, n_a, dtype=torch.float64).tolist()
        b = torch.linspace(*beta_range, n_beta, dtype=torch.float64).tolist()
        parts = [fisher_family(f, n, a, b if f == "exp" else (None,), nx=nx, nt=nt, D=D, seed=seed, mode=mode)
                 for f, n in zip(FAMILIES, counts)]
        fam = torch.cat([torch.full((len(p["v"]),), i) for i, p in enumerate(parts)])
        return {"v": torch.cat([p["v"] for p in parts]), "u": torch.cat([p["u"] for p in parts]), "family": fam}

    return generated("mt-deeponet-fisher", params, make)


def geometry_mask(geometry: str, res: int) -> torch.Tensor:
    """1 at the nodes ``(i, j) / (res - 1)`` inside the geometry (float64, (res, res), index [i, j] = (x_i, y_j)).

    square [0.1, 0.9]^2; disc centre (0.5, 0.5), radius 0.4; equilateral triangle, side 0.8, base parallel to x,
    bounding box centred; cross: the square minus a centred plus sign of two 0.15-wide, 0.5-long bars (ours: the
    card gives only "two 0.15-wide bars")."""
    if geometry not in GEOMETRIES:
        raise ValueError(f"unknown geometry {geometry!r}; use one of {GEOMETRIES}")
    s = torch.linspace(0.0, 1.0, res, dtype=torch.float64)
    x, y = torch.meshgrid(s, s, indexing="ij")
    sq = (x >= 0.1) & (x <= 0.9) & (y >= 0.1) & (y <= 0.9)
    if geometry == "square":
        m = sq
    elif geometry == "disc":
        m = (x - 0.5) ** 2 + (y - 0.5) ** 2 <= 0.4 ** 2
    elif geometry == "triangle":
        h = 0.8 * math.sqrt(3) / 2
        y0 = 0.5 - h / 2
        m = (y >= y0) & (y - y0 <= math.sqrt(3) * (0.4 - (x - 0.5).abs()))
    else:
        bar_x = ((x - 0.5).abs() <= 0.075) & ((y - 0.5).abs() <= 0.25)
        bar_y = ((y - 0.5).abs() <= 0.075) & ((x - 0.5).abs() <= 0.25)
        m = sq & ~(bar_x | bar_y)
    return m.double()


def darcy_geometry_dataset(geometry: str, n: int, res: int = 100, *, alpha: float = 2.0, tau: float = 3.0,
                           seed: int = 0) -> dict[str, torch.Tensor]:
    """``n`` Darcy problems on one geometry (cached by ``generated``): ``logk`` (n, res, res) = g, ``mask`` (res, res),
    ``h`` (n, res, res) float64 with ``h = 0`` outside the mask."""
    if n < 1 or res < 8:
        raise ValueError(f"darcy_geometry_dataset: need n >= 1 and res >= 8, got {n}, {res}")
    mask = geometry_mask(geometry, res)

    def make():
        gen = torch.Generator().manual_seed(seed * 7919 + GEOMETRIES.index(geometry))
        g = grf2d(n, res, gen, alpha=alpha, tau=tau, bc="neumann")
        return {"logk": g, "mask": mask, "h": darcy_solve(g.exp(), 1.0, mask)}

    return generated("mt-deeponet-darcy", {"geometry": geometry, "n": n, "res": res, "alpha": alpha, "tau": tau,
                                           "seed": seed}, make)
