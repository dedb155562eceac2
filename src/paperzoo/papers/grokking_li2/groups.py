"""Group-arithmetic tasks of Li2 and their irreducible-representation (isotypic) decomposition.

A group of order M is its Cayley table ``T`` (M, M), ``T[a, b] = a . b``; the task is all M^2 ordered pairs
(a, b) with label a . b (official ``generate_dataset``: for every a, every b). Kinds: ``cyclic`` (Z_M, the
paper's modular addition), ``product`` (Z_a x Z_b x ..., official mixed-radix flattening x_0 + x_1 a + ...),
``dihedral`` (D_n, order 2n) and ``sym`` (S_n, order n!). The card's non-abelian "collection" (Cayley tables
read from a jsonl file) is not shipped (README deviation 2); D_n and S_n are generated in code instead.

Features are judged against the group's irreducible representations. Without character tables: the class
sums C_K = sum_{k in K} L(k) are central, so each acts as a scalar on every isotypic component of the regular
representation, and the central characters separate the irreps. A random real combination of the
symmetrised class sums C_K + C_{K^-1} is a symmetric matrix whose eigenspaces are the *real* isotypic
components (a complex irrep merged with its conjugate, as the +-k frequency pair of Z_M is).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

KINDS = ("cyclic", "product", "dihedral", "sym")
CRITICAL_MULTIPLIER = 2.7482   # official `config/dyn_madd.yaml` critical_ratio_multiplier (card, source-checked)


def group_table(kind: str, size: int | tuple[int, ...]) -> torch.Tensor:
    """Cayley table (M, M) int64 of the group ``kind``; ``size`` = M (cyclic), orders (product), n (dihedral, sym)."""
    if kind == "cyclic":
        m = int(size)
        if m < 2:
            raise ValueError(f"cyclic group needs M >= 2, got {size}")
        r = torch.arange(m)
        return (r[:, None] + r[None, :]) % m
    if kind == "product":
        orders = tuple(int(o) for o in size) if isinstance(size, (tuple, list)) else (int(size),)
        if not orders or min(orders) < 2:
            raise ValueError(f"product group needs orders >= 2, got {size}")
        o = torch.tensor(orders)
        radix = torch.cumprod(torch.cat([torch.ones(1, dtype=torch.long), o[:-1]]), 0)   # x_0 + x_1 o_0 + ...
        digits = (torch.arange(math.prod(orders))[:, None] // radix) % o
        return (((digits[:, None, :] + digits[None, :, :]) % o) * radix).sum(-1)
    if kind == "dihedral":
        n = int(size)
        if n < 3:
            raise ValueError(f"dihedral group D_n needs n >= 3, got {size}")
        g = torch.arange(2 * n)
        r, s = g % n, g // n                                              # element r^r s^s
        r1, s1, r2, s2 = r[:, None], s[:, None], r[None, :], s[None, :]
        rr = (r1 + torch.where(s1 == 1, -r2, r2)) % n                      # s r^k = r^-k s
        return rr + n * ((s1 + s2) % 2)
    if kind == "sym":
        n = int(size)
        if not 2 <= n <= 6:
            raise ValueError(f"symmetric group S_n: 2 <= n <= 6 supported (order n! <= 720), got {size}")
        perms = torch.tensor(list(itertools.permutations(range(n))))        # lexicographic: row = element
        radix = n ** torch.arange(n - 1, -1, -1)
        comp = perms[:, perms]                                              # [a, b, i] = a(b(i)): a after b
        return torch.searchsorted((perms * radix).sum(1), (comp * radix).sum(-1))
    raise ValueError(f"unknown group kind {kind!r}; choose from {KINDS}")


def check_table(table: torch.Tensor) -> None:
    """Raise ValueError unless ``table`` is the Cayley table of a group (closure, Latin square, identity, assoc.)."""
    if table.dim() != 2 or table.shape[0] != table.shape[1] or table.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"Cayley table must be a square integer tensor, got {tuple(table.shape)} {table.dtype}")
    m = table.shape[0]
    r = torch.arange(m)
    latin = (table.sort(1).values == r).all() and (table.sort(0).values == r[:, None]).all()
    if table.min() < 0 or table.max() >= m or not latin:
        raise ValueError("Cayley table is not a Latin square on 0..M-1")
    if not (table[table] == table[:, table]).all():                       # [a, b, c]: (ab)c == a(bc)
        raise ValueError("Cayley table is not associative")
    if not any((table[e] == r).all() for e in range(m)):
        raise ValueError("Cayley table has no identity")


def dataset(table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All M^2 ordered pairs (M^2, 2) int64, a-major as the official code, and labels a . b (M^2,)."""
    m = table.shape[0]
    a, b = torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")
    pairs = torch.stack([a.reshape(-1), b.reshape(-1)], 1)
    return pairs, table[pairs[:, 0], pairs[:, 1]]


def critical_fraction(order: int, delta: float = 0.0, *, multiplier: float = CRITICAL_MULTIPLIER,
                      correction: float = 1.0) -> float:
    """Train fraction p = correction (multiplier + delta) ln(M) / M, clipped to [0, 1] (official `use_critical_ratio`).

    Sign convention: here +delta means MORE data; the official ``critical_ratio_delta`` is subtracted (delta = -delta_code).
    ``correction`` = d_k / 2 for non-abelian groups with largest irrep dimension d_k (card)."""
    if order < 2:
        raise ValueError(f"group order must be >= 2, got {order}")
    return min(max(correction * (multiplier + delta) * math.log(order) / order, 0.0), 1.0)


def split(n: int, p_train: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (unstratified) split of n pairs: n_test = ceil((1 - p) n) as sklearn's ``train_test_split``."""
    if not 0.0 < p_train < 1.0:
        raise ValueError(f"p_train must be in (0, 1), got {p_train}")
    n_test = math.ceil((1.0 - p_train) * n)
    if not 0 < n_test < n:
        raise ValueError(f"split of {n} pairs at p_train={p_train} leaves an empty side")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    return perm[n_test:].sort().values, perm[:n_test].sort().values


@dataclass(frozen=True)
class Isotypic:
    """Real isotypic components: ``bases[c]`` (M, dim_c) orthonormal; ``irrep_dim[c]`` = d of the irrep;
    ``complex_pair[c]`` when the component merges a complex irrep and its conjugate; ``trivial`` its index."""

    bases: tuple[torch.Tensor, ...]
    irrep_dim: tuple[int, ...]
    complex_pair: tuple[bool, ...]
    trivial: int


def isotypic_components(table: torch.Tensor, *, seed: int = 0, tol: float = 1e-7) -> Isotypic:
    """Real isotypic components of the regular representation from random central (class-sum) operators."""
    m = table.shape[0]
    e = int(torch.nonzero((table == torch.arange(m)).all(1))[0])
    inv = torch.nonzero(table == e)[:, 1]                                   # inv[g]: g . inv[g] = e
    h = torch.arange(m)[:, None]
    conj = table[table[h, torch.arange(m)[None, :]], inv[:, None]]          # conj[h, g] = h g h^-1
    cls = conj.min(0).values                                                # class label: smallest member
    w = torch.randn(m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)[cls]
    a = torch.zeros(m, m, dtype=torch.float64)
    a.index_put_((torch.arange(m).repeat(m), table.reshape(-1)), w.repeat_interleave(m), accumulate=True)
    evals, evecs = torch.linalg.eigh(a + a.T)
    scale = evals.abs().max().item()
    cuts = (torch.nonzero(evals.diff() > tol * scale * m).flatten() + 1).tolist()
    groups = [list(range(s, t)) for s, t in zip([0, *cuts], [*cuts, m])]
    bases = tuple(evecs[:, g] for g in groups)
    dims = [len(g) for g in groups]
    pair = tuple(math.isqrt(d) ** 2 != d for d in dims)                     # 2 d^2 is never a square
    irrep = tuple(math.isqrt(d // 2) if p else math.isqrt(d) for d, p in zip(dims, pair))
    ones = torch.ones(m, dtype=torch.float64) / math.sqrt(m)
    trivial = max(range(len(bases)), key=lambda c: float((bases[c].T @ ones).norm()))
    return Isotypic(bases, irrep, pair, trivial)


def irrep_spectrum(weights: torch.Tensor, iso: Isotypic) -> torch.Tensor:
    """Energy of each row of ``weights`` (K, M) in each real isotypic component: (K, C), rows sum to ||w_k||^2."""
    w = weights.to(torch.float64)
    return torch.stack([(w @ b).square().sum(1) for b in iso.bases], 1)


def fourier_spectrum(weights: torch.Tensor) -> torch.Tensor:
    """Z_M: energy of each row (K, M) in each +-k frequency pair, (K, M // 2 + 1), k = 0..M//2 (Parseval, sums to ||w||^2)."""
    m = weights.shape[-1]
    p = torch.fft.fft(weights.to(torch.float64), dim=-1).abs().square() / m
    k = torch.arange(m)
    kk = torch.minimum(k, m - k)
    return torch.zeros(weights.shape[0], m // 2 + 1, dtype=torch.float64).index_add_(1, kk, p)
