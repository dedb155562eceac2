"""The supervised dense (P-body) Hebbian network, written through its K overlaps, never its tensor.

Card (source-checked only for the abstract; the model is this group's standard notation, constants
marked "check" on the card): K archetypes xi^mu in {+-1}^N, M examples eta^{mu,a} = chi^{mu,a} * xi^mu
with P(chi = +1) = (1 + r) / 2; the teacher groups the examples, the network stores their average
eta_bar^mu = (1/M) sum_a eta^{mu,a}. With n_mu(sigma) = sum_i eta_bar^mu_i sigma_i / (N sqrt(R)):

    H_P(sigma) = -(N / P) sum_mu n_mu(sigma)^P                                 (card: supervised cost)
    h_i(sigma) = -dH/dsigma_i = sum_mu n_mu^(P-1) eta_bar^mu_i / sqrt(R)          (card: local field)
    dH_i       = -(N / P) sum_mu [(n_mu - 2 sigma_i eta_bar^mu_i / (N sqrt R))^P - n_mu^P]   (exact flip cost)

equal to the tensor form J_{i1..iP} = sum_mu eta_bar^mu_{i1}..eta_bar^mu_{iP} / (N^(P-1) R^(P/2)),
H = -(1/P) sum J sigma_{i1}..sigma_{iP} (all index tuples, self-interactions included). Memory is
O(K N); every method is vectorised over a batch of states ``sigma`` of shape (B, N).
The unsupervised variant (companion paper, arXiv 2211.14067) stores every example with weight 1/M.
"""
from __future__ import annotations

import math

import torch
from torch import nn

MODES = ("supervised", "unsupervised")


def check_pm1(x: torch.Tensor, name: str) -> None:
    """Raise unless ``x`` holds only +1/-1 entries (spin states)."""
    if not torch.all((x == 1) | (x == -1)):
        raise ValueError(f"{name} must hold only +1/-1 entries")


def make_archetypes(K: int, N: int, *, generator: torch.Generator | None = None,
                    dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """K i.i.d. Rademacher archetypes, shape (K, N) (card: random theory)."""
    if K < 1 or N < 1:
        raise ValueError(f"K and N must be positive, got K={K}, N={N}")
    return (torch.randint(0, 2, (K, N), generator=generator) * 2 - 1).to(dtype)


def make_examples(xi: torch.Tensor, M: int, r: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """M noisy examples per archetype, eta^{mu,a} = chi^{mu,a} xi^mu with P(chi = +1) = (1 + r) / 2;
    shape (K, M, N) (card: data model). ``r`` in [0, 1] is the data-set quality."""
    if xi.ndim != 2:
        raise ValueError(f"xi must be (K, N), got shape {tuple(xi.shape)}")
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"r must lie in [0, 1], got {r}")
    if M < 0:
        raise ValueError(f"M must be >= 0, got {M}")
    K, N = xi.shape
    u = torch.rand(K, M, N, generator=generator, dtype=torch.float64)
    chi = torch.where(u < (1.0 + r) / 2.0, 1.0, -1.0).to(xi.dtype)
    return chi * xi.cpu()[:, None, :]


def binarize_images(x: torch.Tensor, thr: float = 0.5) -> torch.Tensor:
    """Images in [0, 1] of any shape (B, ...) -> (B, D) spins: +1 where pixel > thr, else -1
    (card, structured-data protocol: pixel > 0.5 * 255)."""
    if x.ndim < 2:
        raise ValueError(f"x must be a batch (B, ...), got shape {tuple(x.shape)}")
    return torch.where(x.flatten(1) > thr, 1.0, -1.0).to(torch.float64 if x.dtype == torch.float64 else torch.float32)


class DenseHebbian(nn.Module):
    """Dense Hebbian network H_P(sigma) = -(N/P) sum_a w_a n_a(sigma)^P through overlaps (module docstring).

    ``eta``: supervised: the example averages eta_bar (K, N), or the examples (K, M, N), averaged here;
    unsupervised: the examples (K, M, N), each a pattern with weight 1/M. ``R``: the overlap
    normaliser (card: R = r^2 (1 + rho), "check"; it only rescales beta); ``None`` takes the empirical
    mean of eta_bar^2, whose expectation is exactly R for the random data model. ``P`` even, >= 2.
    """

    def __init__(self, P: int, eta: torch.Tensor, *, R: float | None = None, mode: str = "supervised"):
        super().__init__()
        if not isinstance(P, int) or P < 2 or P % 2:
            raise ValueError(f"P must be an even integer >= 2 (the theory's +-sigma symmetry), got {P!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if not torch.is_tensor(eta) or not eta.is_floating_point():
            raise TypeError("eta must be a floating-point tensor")
        if not torch.isfinite(eta).all():
            raise ValueError("eta contains NaN/inf")
        if mode == "unsupervised":
            if eta.ndim != 3:
                raise ValueError(f"unsupervised mode needs the examples (K, M, N), got shape {tuple(eta.shape)}")
            K, M, N = eta.shape
            patterns, w = eta.reshape(K * M, N), torch.full((K * M,), 1.0 / M, dtype=eta.dtype)
        else:
            if eta.ndim == 3:
                eta = eta.mean(1)
            if eta.ndim != 2:
                raise ValueError(f"eta must be (K, N) averages or (K, M, N) examples, got shape {tuple(eta.shape)}")
            patterns, w = eta, torch.ones(eta.shape[0], dtype=eta.dtype)
        if R is None:
            R = float(eta.double().pow(2).mean())
        if not R > 0:
            raise ValueError(f"R must be positive, got {R}")
        self.P, self.mode, self.R = P, mode, float(R)
        self.register_buffer("patterns", patterns.contiguous())
        self.register_buffer("weights", w.to(patterns.device))
        self.register_buffer("patterns_t", patterns.T.contiguous(), persistent=False)  # (N, A): row gathers per step

    @property
    def N(self) -> int:
        return self.patterns.shape[1]

    @property
    def scale(self) -> float:
        """1 / (N sqrt(R)): the overlap normalisation."""
        return 1.0 / (self.N * math.sqrt(self.R))

    def _states(self, sigma: torch.Tensor) -> torch.Tensor:
        if sigma.ndim != 2 or sigma.shape[1] != self.N:
            raise ValueError(f"sigma must be (B, {self.N}), got shape {tuple(sigma.shape)}")
        return sigma.to(self.patterns)  # the patterns' dtype and device

    def overlaps(self, sigma: torch.Tensor) -> torch.Tensor:
        """n_a(sigma) = sum_i pattern_a,i sigma_i / (N sqrt R), shape (B, A)."""
        return self._states(sigma) @ self.patterns.T * self.scale

    def energy(self, sigma: torch.Tensor) -> torch.Tensor:
        """H_P(sigma) = -(N/P) sum_a w_a n_a^P, shape (B,)."""
        return self.energy_from_overlaps(self.overlaps(sigma))

    def field(self, sigma: torch.Tensor) -> torch.Tensor:
        """h_i = -dH/dsigma_i = sum_a w_a n_a^(P-1) pattern_a,i / sqrt(R), shape (B, N)."""
        n = self.overlaps(sigma)
        return (n.pow(self.P - 1) * self.weights) @ self.patterns / math.sqrt(self.R)

    def flip_overlaps(self, n: torch.Tensor, sigma_i: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """Overlaps after flipping site i[b] of chain b: n - 2 sigma_i pattern_{:, i} / (N sqrt R), (B, A)."""
        return n - (2.0 * self.scale) * sigma_i.to(n.dtype)[:, None] * self.patterns_t[i]

    def delta_from_overlaps(self, n: torch.Tensor, n_new: torch.Tensor) -> torch.Tensor:
        """H(new) - H(old) = -(N/P) sum_a w_a (n_new^P - n^P), shape (B,)."""
        return self.energy_from_overlaps(n_new) - self.energy_from_overlaps(n)

    def energy_from_overlaps(self, n: torch.Tensor) -> torch.Tensor:
        """-(N/P) sum_a w_a n_a^P for overlaps (B, A), shape (B,)."""
        return -(self.N / self.P) * (n.pow(self.P) @ self.weights)

    def delta_energy(self, sigma: torch.Tensor, i: torch.Tensor | int) -> torch.Tensor:
        """Exact energy change of flipping site ``i`` (an int, or one index per chain, shape (B,)); O(B K)."""
        sigma = self._states(sigma)
        i = torch.as_tensor(i, device=sigma.device).expand(sigma.shape[0])
        n = self.overlaps(sigma)
        s_i = sigma.gather(1, i[:, None])[:, 0]
        return self.delta_from_overlaps(n, self.flip_overlaps(n, s_i, i))

    def delta_energy_all(self, sigma: torch.Tensor) -> torch.Tensor:
        """Exact flip cost of every site at once, shape (B, N), in P matrix products (binomial expansion):
        dH_i = -(N/P) sum_{k=1..P} C(P,k) c_i^k sum_a w_a n_a^(P-k) pattern_a,i^k, c_i = -2 sigma_i/(N sqrt R).
        The k = 1 term is 2 sigma_i h_i; k >= 2 removes the self-interaction."""
        sigma = self._states(sigma)
        n = self.overlaps(sigma)
        c = -2.0 * self.scale * sigma
        out = torch.zeros_like(sigma)
        for k in range(1, self.P + 1):  # over the P powers, not over sites or samples
            out = out + math.comb(self.P, k) * c.pow(k) * ((n.pow(self.P - k) * self.weights) @ self.patterns.pow(k))
        return -(self.N / self.P) * out

    def example_overlaps(self, sigma: torch.Tensor) -> torch.Tensor:
        """Overlaps with the sign of each stored pattern over its untied sites,
        sum_i sign(pattern_a,i) sigma_i / #{i: pattern_a,i != 0}, shape (B, A) (ties, eta_bar_i = 0 at even M,
        carry no sign and are left out, so a state equal to the sign pattern scores 1)."""
        s = torch.sign(self.patterns)
        return self._states(sigma) @ s.T / s.abs().sum(1).clamp(min=1)


def mattis(sigma: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    """Mattis magnetisations m_mu = (1/N) sum_i xi^mu_i sigma_i, shape (B, K) (card: order parameters)."""
    if sigma.shape[-1] != xi.shape[-1]:
        raise ValueError(f"sigma has N={sigma.shape[-1]}, xi has N={xi.shape[-1]}")
    return sigma.to(xi.dtype) @ xi.T / xi.shape[-1]


def hebbian_tensor(model: DenseHebbian, *, max_entries: int = 10_000_000) -> torch.Tensor:
    """The explicit P-index synaptic tensor J (N,)*P, self-interactions included, for checks at small N only."""
    N, P = model.N, model.P
    if N ** P > max_entries:
        raise ValueError(f"N^P = {N}^{P} entries exceeds max_entries={max_entries}; the tensor is for tiny N only")
    J = torch.zeros((N,) * P, dtype=model.patterns.dtype, device=model.patterns.device)
    for w, x in zip(model.weights, model.patterns):  # over stored patterns (A of them): an outer product each
        t = x
        for _ in range(P - 1):
            t = torch.tensordot(t, x, dims=0)
        J = J + w * t
    return J / (N ** (P - 1) * model.R ** (P / 2))


def tensor_energy(J: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """H = -(1/P) sum_{i1..iP} J_{i1..iP} sigma_i1 .. sigma_iP for a batch (B, N), by P contractions."""
    P = J.ndim
    out = J.unsqueeze(0).expand(sigma.shape[0], *J.shape)
    s = sigma.to(J.dtype)
    for _ in range(P):
        out = (out * s.view(s.shape[0], *([1] * (out.ndim - 2)), -1)).sum(-1)
    return -out / P
