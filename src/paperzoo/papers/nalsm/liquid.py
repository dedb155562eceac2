"""The NALSM liquid: LIF neurons on a 3-D grid, distance-based recurrent wiring, random input wiring.

Defaults from the official code (combra-lab/NALSM ``generate_spatial_network.py``,
``spatial_network_builder_lib.py``; card "Liquid construction"):

- N = d1*d2*d3 reservoir neurons on an integer grid, 80 % excitatory / 20 % inhibitory, positions a random
  permutation of the grid points.
- recurrent synapse pre j -> post i (i != j) with probability ``C[type_j, type_i] * exp(-(D(i, j) / lam)^2)``,
  ``lam = 3``, ``C = (EE, EI, IE, II) = (0.2, 0.1, 0.3, 0.05)`` (card: list order EE, EI, IE, II with the first
  letter the presynaptic type; an assumption the card flags).
- input -> reservoir: exactly ``round(p_in * n_inputs * N)`` distinct (input, reservoir) pairs, ``p_in = 0.15``.
- initial |w| = w_max = 3: excitatory pre +3, inhibitory pre -3, input +-3 with a random sign.

Neurons are indexed in one space of ``n_inputs + N``: inputs ``0 .. n_inputs-1``, reservoir after them.
Synapses are a list ``(pre, post)`` sorted by (post, pre) (CSR order of W[post, pre]); ``kind`` (S,) says
which rule each follows: 0 input -> reservoir, 1 excitatory -> reservoir, 2 inhibitory -> reservoir.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.data import TensorSet

C_DEFAULT = (0.2, 0.1, 0.3, 0.05)  # EE, EI, IE, II (official code; first letter = presynaptic type)


@dataclass
class Liquid:
    """A wired liquid. ``pre``/``post`` (S,) index the joint neuron space (inputs first), sorted by (post, pre);
    ``kind`` (S,) 0 input / 1 excitatory / 2 inhibitory presynapse; ``w0`` (S,) the initial weights;
    ``positions`` (N, 3) grid coordinates and ``is_exc`` (N,) the type of each reservoir neuron."""

    n_inputs: int
    n_res: int
    pre: torch.Tensor
    post: torch.Tensor
    kind: torch.Tensor
    w0: torch.Tensor
    positions: torch.Tensor
    is_exc: torch.Tensor
    w_max: float = 3.0

    @property
    def n_all(self) -> int:
        return self.n_inputs + self.n_res

    @property
    def n_syn(self) -> int:
        return int(self.pre.numel())

    def counts(self) -> dict[str, int]:
        """Synapses per kind."""
        return {k: int((self.kind == i).sum()) for i, k in enumerate(("input", "exc", "inh"))}

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-synapse clip range (card): input [-w_max, w_max], excitatory [0, w_max], inhibitory [-w_max, 0]."""
        lo = torch.where(self.kind == 1, 0.0, -self.w_max)
        hi = torch.where(self.kind == 2, 0.0, self.w_max)
        return lo.float(), hi.float()

    def recurrent(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(pre, post) of the reservoir -> reservoir synapses, in reservoir indices 0 .. N-1."""
        keep = self.kind > 0
        return self.pre[keep] - self.n_inputs, self.post[keep] - self.n_inputs

    def with_magnitude(self, w: float) -> torch.Tensor:
        """The LSM baseline's weights: every |w| set to one scalar, signs kept (card "Baselines")."""
        if not w > 0:
            raise ValueError(f"liquid weight magnitude must be > 0, got {w!r}")
        return torch.sign(self.w0) * w


def build_liquid(dims: tuple[int, int, int] = (10, 10, 10), n_inputs: int = 784, *, lam: float = 3.0,
                 c: tuple[float, float, float, float] = C_DEFAULT, p_in: float = 0.15, frac_exc: float = 0.8,
                 w_max: float = 3.0, seed: int = 0) -> Liquid:
    """Wire a liquid (card "Liquid construction"); deterministic for a seed, vectorised over neuron pairs."""
    if len(dims) != 3 or any(int(d) < 1 for d in dims):
        raise ValueError(f"dims must be three positive grid sizes, got {dims!r}")
    if len(c) != 4 or any(not 0 <= v <= 1 for v in c):
        raise ValueError(f"c must be four probabilities (EE, EI, IE, II), got {c!r}")
    if not 0 < p_in <= 1 or n_inputs < 1:
        raise ValueError(f"need 0 < p_in <= 1 and n_inputs >= 1, got p_in={p_in!r}, n_inputs={n_inputs!r}")
    if not lam > 0 or not w_max > 0 or not 0 < frac_exc < 1:
        raise ValueError(f"need lam > 0, w_max > 0, 0 < frac_exc < 1; got {lam!r}, {w_max!r}, {frac_exc!r}")
    g = torch.Generator().manual_seed(int(seed))
    n = dims[0] * dims[1] * dims[2]
    grid = torch.stack(torch.meshgrid(*[torch.arange(d) for d in dims], indexing="ij"), -1).reshape(n, 3)
    positions = grid[torch.randperm(n, generator=g)].double()
    is_exc = torch.arange(n) < round(frac_exc * n)
    ctab = torch.tensor(c, dtype=torch.float64).reshape(2, 2)  # [pre is inh, post is inh]
    t = (~is_exc).long()
    dist2 = torch.cdist(positions, positions).square()  # (post, pre)
    prob = ctab[t[None, :], t[:, None]] * torch.exp(-dist2 / lam**2)
    prob.fill_diagonal_(0.0)  # no self-connections (D = 0 would give P = C)
    conn = torch.rand(n, n, generator=g, dtype=torch.float64) < prob  # conn[post, pre]
    k_in = round(p_in * n_inputs * n)
    flat = torch.randperm(n_inputs * n, generator=g)[:k_in].sort().values  # flat = post * n_inputs + pre
    in_post, in_pre = flat // n_inputs, flat % n_inputs
    in_sign = torch.where(torch.rand(k_in, generator=g) < 0.5, -1.0, 1.0)
    post_r, pre_r = conn.nonzero(as_tuple=True)
    kind = torch.cat([torch.zeros(k_in, dtype=torch.long), torch.where(is_exc[pre_r], 1, 2)])
    pre = torch.cat([in_pre, pre_r + n_inputs])
    post = torch.cat([in_post, post_r]) + n_inputs
    w0 = torch.cat([w_max * in_sign, torch.where(is_exc[pre_r], w_max, -w_max)])
    order = torch.argsort(post * (n_inputs + n) + pre)  # CSR order (post, pre)
    return Liquid(n_inputs=n_inputs, n_res=n, pre=pre[order], post=post[order], kind=kind[order].to(torch.int8),
                  w0=w0[order].float(), positions=positions.float(), is_exc=is_exc, w_max=float(w_max))


def rate_scale(images: torch.Tensor) -> float:
    """The set-wide normaliser of :func:`encode_rates`: max over images of (max pixel / pixel sum)."""
    x = _flat(images)
    return float((x.max(1).values / x.sum(1)).max())


def _flat(images: torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(images) or images.ndim < 2 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (n, ...) tensor, got {getattr(images, 'shape', images)!r}")
    x = images.reshape(len(images), -1).float()
    if not torch.isfinite(x).all() or (x < 0).any():
        raise ValueError("images must be finite and non-negative")
    blank = (x.sum(1) <= 0).nonzero()
    if len(blank):
        raise ValueError(f"image {int(blank[0])} is blank (pixel sum 0); cannot normalise")
    return x


def encode_rates(images: torch.Tensor, *, scale: float | None = None) -> torch.Tensor:
    """Per-ms Bernoulli firing probabilities (card "Input encoding", ``NALSM_SIM_SUPPORT.assemble_data_*``):
    each image divided by its pixel sum, then by the largest normalised pixel of the whole set (``scale``, from
    :func:`rate_scale` on the full train or test split; default: this set's own). (n, ...) -> (n, D) in [0, 1]."""
    x = _flat(images)
    x = x / x.sum(1, keepdim=True)
    s = float(x.max()) if scale is None else float(scale)
    if not s > 0 or float(x.max()) > s * (1 + 1e-6):
        raise ValueError(f"scale must be >= this set's largest normalised pixel {float(x.max()):.4g}, got {scale!r}")
    return (x / s).clamp_(max=1.0)


def synthetic_digits(n: int, *, n_classes: int = 10, side: int = 28, density: float = 0.15, keep: float = 0.8,
                     noise: float = 0.02, seed: int = 0) -> TensorSet:
    """Synthetic Poisson-rate "digits" for tests (card: a synthetic generator; N-MNIST etc. are not faked): one
    random binary prototype per class (``density`` of the pixels on); a sample keeps each prototype pixel with
    probability ``keep`` and lights each other pixel with probability ``noise``. x (n, 1, side, side) in {0, 1}."""
    g = torch.Generator().manual_seed(int(seed) + 7_777)
    protos = torch.rand(n_classes, side * side, generator=g) < density
    y = torch.randint(n_classes, (n,), generator=g)
    u = torch.rand(n, side * side, generator=g)
    x = torch.where(protos[y], u < keep, u < noise).float()
    x[:, 0] = torch.where(x.sum(1) == 0, 1.0, x[:, 0])  # never blank
    return TensorSet(x.reshape(n, 1, side, side), y, "synthetic-digits")
