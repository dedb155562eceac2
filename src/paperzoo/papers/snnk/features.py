"""Random feature maps of SNNK (Sehanobish et al., ICLR 2024): universal random features and ReLU features.

An SNNK writes a feed-forward unit ``f(w^T x + b)`` as ``Phi(x)^T Psi(w, b)`` with ``Phi`` depending only on
the input and ``Psi`` only on the parameters (paper Sec. 3; card section 2). Universal random features
(URFs) do it for any ``f`` with a Fourier transform ``tau``:

    f(w^T x + b) = E_xi[ tau(xi)/p(xi) * exp(2 pi i xi b) * exp(2 pi i xi w^T x) ]           (Fourier)
    exp(a c x^T w) = E_g[ exp(a g^T x - a^2 |x|^2 / 2) * exp(c g^T w - c^2 |w|^2 / 2) ],  g ~ N(0, I)

with ``a(xi) c(xi) = 2 pi i xi`` (the Gaussian trick, valid for complex ``a, c`` because it is bilinear, no
conjugation). Drawing ``m`` pairs ``(xi_k, g_k)`` gives

    Phi(x)_k = m^{-1/2} A(xi_k) exp(a_k g_k^T x - a_k^2 |x|^2 / 2)
    Psi(w,b)_k = m^{-1/2} B(xi_k, b) exp(c_k g_k^T w - c_k^2 |w|^2 / 2),   A B = tau/p * exp(2 pi i xi b)

and ``Re sum_k Phi_k Psi_k`` is unbiased for ``f(w^T x + b)`` with variance ~ 1/m (official
``input_to_rfs_torch_vectorized`` in ``src/nnk/nnk.py``: callables ``A_fun, a_fun, B_fun, b_fun`` of ``xis``).
Here ``c = 1`` and ``B = exp(2 pi i xi b)``, so ``a = 2 pi i xi`` and ``A = tau/p`` (card's worked examples).

ReLU has no classical Fourier transform; the official ReLU-SNNK (``phi_relu_mapping_torch``) uses
``Phi(x) = m^{-1/2} max(G x, c)`` on both sides, whose mean is the first-order arc-cosine kernel
``|x||w| / (2 pi) * (sin t + (pi - t) cos t)`` (card section 3), not ``relu(w^T x)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

TWO_PI = 2.0 * math.pi


def gaussian_matrix(m: int, d: int, *, orthogonal: bool = False, generator: torch.Generator | None = None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """G (m, d) with i.i.d. N(0, 1) rows, or block-orthogonal rows with chi_d norms (official
    ``gaussian_orthogonal_random_matrix``; marginally each row is still N(0, I_d))."""
    if m <= 0 or d <= 0:
        raise ValueError(f"gaussian_matrix: m and d must be positive, got m={m}, d={d}")
    if not orthogonal:
        return torch.randn(m, d, generator=generator, dtype=dtype)
    blocks = []
    for _ in range(math.ceil(m / d)):                     # one QR per block of d rows (not per feature)
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
        blocks.append(q.T)
    rows = torch.cat(blocks)[:m]
    norms = torch.randn(m, d, generator=generator, dtype=torch.float64).norm(dim=1, keepdim=True)
    return (rows * norms).to(dtype)


def _check_x(x: torch.Tensor, d: int, who: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] != d:
        raise ValueError(f"{who}: expected a tensor whose last dim is {d}, got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")


def urf_features(x: torch.Tensor, xis: torch.Tensor, G: torch.Tensor, a_fn: Callable, A_fn: Callable,
                 normalize: float | None = None) -> torch.Tensor:
    """Generic URF map ``m^{-1/2} A(xi) exp(a(xi) g^T x - a(xi)^2 |x|^2 / 2)``: (..., d) -> complex (..., m).

    ``normalize=s`` first maps ``x -> s x / |x|`` (official ``normalization_constant``)."""
    _check_x(x, G.shape[1], "urf_features")
    if xis.shape != (G.shape[0],):
        raise ValueError(f"urf_features: xis must have shape ({G.shape[0]},), got {tuple(xis.shape)}")
    if normalize is not None:
        x = normalize * x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    a = torch.as_tensor(a_fn(xis)).to(torch.complex128 if x.dtype == torch.float64 else torch.complex64)
    amp = torch.as_tensor(A_fn(xis)).to(a.dtype)
    proj = x @ G.T.to(x.dtype)                                              # (..., m): g_k^T x
    sq = (x * x).sum(-1, keepdim=True)                                      # |x|^2
    return amp * torch.exp(a * proj - a * a * sq / 2) / math.sqrt(G.shape[0])


@dataclass
class URF:
    """Matched (Phi, Psi) pair for one activation: shared ``xis`` (m,) and ``G`` (m, d).

    ``a_fn(xi)`` and ``weight(xi)`` (= tau(xi) / p(xi)) define the input side; the parameter side uses
    c = 1 and B = exp(2 pi i xi b). ``estimate(x, w, b)`` returns ``Re Phi(x) . Psi(w, b)`` per row.
    """

    name: str
    xis: torch.Tensor
    G: torch.Tensor
    a_fn: Callable
    weight: Callable
    B_fn: Callable = lambda xi, b: torch.exp(1j * TWO_PI * xi * b)          # B(xi, b) = exp(2 pi i xi b)

    def phi(self, x: torch.Tensor, normalize: float | None = None) -> torch.Tensor:
        return urf_features(x, self.xis, self.G, self.a_fn, self.weight, normalize)

    def psi(self, w: torch.Tensor, b: torch.Tensor | float = 0.0) -> torch.Tensor:
        _check_x(w, self.G.shape[1], "URF.psi")
        b = torch.as_tensor(b, dtype=w.dtype)
        if b.dim() > 0:
            b = b.unsqueeze(-1)
        proj = w @ self.G.T.to(w.dtype)
        sq = (w * w).sum(-1, keepdim=True)
        phase = torch.as_tensor(self.B_fn(self.xis.to(w.dtype), b))
        return phase * torch.exp(proj - sq / 2) / math.sqrt(self.G.shape[0])  # c = 1

    def estimate(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | float = 0.0) -> torch.Tensor:
        """Rowwise ``Re sum_k Phi(x_i)_k Psi(w_i, b_i)_k`` (no conjugation), unbiased for f(w_i^T x_i + b_i)."""
        return (self.phi(x) * self.psi(w, b)).sum(-1).real


def _sample_xis(name: str, m: int, gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    if name in ("cos", "sin"):                       # tau = two deltas at +-1/(2 pi), p = 1/2 each
        return (torch.randint(0, 2, (m,), generator=gen) * 2 - 1).to(dtype) / TWO_PI
    if name == "exp":                                # xi = 1/(2 pi i): a = 1, no Fourier integral needed
        return torch.zeros(m, dtype=dtype)
    if name == "gaussian":                           # tau(xi) = sqrt(2 pi) exp(-2 pi^2 xi^2) = N(0, 1/(4 pi^2)) density
        return torch.randn(m, generator=gen, dtype=dtype) / TWO_PI
    raise ValueError(f"urf_for_activation: unknown activation {name!r} (have {sorted(ACTIVATIONS)})")


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "cos": torch.cos, "sin": torch.sin, "exp": torch.exp, "gaussian": lambda z: torch.exp(-z * z / 2)}

_ONE = lambda xi: torch.ones_like(xi)                                      # noqa: E731
_FOURIER_A = lambda xi: 1j * TWO_PI * xi                                   # noqa: E731
# name -> (a_fn, weight = tau/p, B_fn); c = 1 on the parameter side for all of them
URF_FNS: dict[str, tuple[Callable, Callable, Callable]] = {
    "cos": (_FOURIER_A, _ONE, URF.B_fn),
    "sin": (_FOURIER_A, lambda xi: -1j * torch.sign(xi), URF.B_fn),
    "gaussian": (_FOURIER_A, _ONE, URF.B_fn),
    "exp": (_ONE, _ONE, lambda xi, b: torch.exp(b + 0j * xi)),
}


def urf_for_activation(name: str, m: int, d: int, seed: int = 0, *, dtype: torch.dtype = torch.float64,
                       orthogonal: bool = False) -> URF:
    """URF (Phi, Psi) for ``cos``, ``sin``, ``exp`` or ``gaussian`` (f(z) = exp(-z^2/2)); card section 2.

    cos/sin: xi = +-1/(2 pi), a = 2 pi i xi = +-i, tau/p = 1 (cos) or -i sign(xi) (sin).
    gaussian: xi ~ N(0, 1/(4 pi^2)) = tau, so tau/p = 1, a = 2 pi i xi.
    exp: the degenerate xi with 2 pi i xi = 1: a = 1, weight 1, and B = exp(b) (positive random features).
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"urf_for_activation: unknown activation {name!r} (have {sorted(ACTIVATIONS)})")
    gen = torch.Generator().manual_seed(seed)
    G = gaussian_matrix(m, d, orthogonal=orthogonal, generator=gen, dtype=dtype)
    a_fn, weight, B_fn = URF_FNS[name]
    return URF(name, _sample_xis(name, m, gen, dtype), G, a_fn, weight, B_fn)


def relu_rf(x: torch.Tensor, G: torch.Tensor, floor: float = 0.0, normalize: float | None = None) -> torch.Tensor:
    """ReLU random features ``m^{-1/2} max(G x, floor)``: (..., d) -> (..., m) (official ``phi_relu_mapping_torch``;
    floor c = 0 default, -5 in the BERT uptraining run). ``normalize=s`` maps ``x -> s x / |x|`` first."""
    _check_x(x, G.shape[1], "relu_rf")
    if normalize is not None:
        x = normalize * x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return torch.clamp_min(x @ G.T.to(x.dtype), floor) / math.sqrt(G.shape[0])


def arccos1_kernel(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Exact ``E_g[max(g^T x, 0) max(g^T w, 0)] = |x||w| / (2 pi) (sin t + (pi - t) cos t)``, rowwise (card sec. 3)."""
    nx, nw = x.norm(dim=-1), w.norm(dim=-1)
    cos = ((x * w).sum(-1) / (nx * nw).clamp_min(1e-300)).clamp(-1.0, 1.0)
    t = torch.arccos(cos)
    return nx * nw / TWO_PI * (torch.sin(t) + (math.pi - t) * cos)
