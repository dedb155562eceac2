"""Many-to-many: spectral clustering of the joint correlation graph of two nets (Li et al. 2016, Sec. 5).

The affinity is the (n_a + n_b) square matrix of |rho| built from the within-A, within-B and between
blocks (card "Many-to-many"); clustering it groups units whose activations span similar subspaces. The
normalised spectral clustering of Ng, Jordan & Weiss (2002): M = D^-1/2 A D^-1/2, the k leading
eigenvectors, rows scaled to unit length, k-means (k-means++ seeding, several restarts, best inertia).
Project default k = n / 8 (card).
"""
from __future__ import annotations

import torch

__all__ = ["group_report", "kmeans", "spectral_clusters", "spectral_groups"]


def kmeans(X: torch.Tensor, k: int, *, n_init: int = 10, iters: int = 100, generator: torch.Generator | None = None
           ) -> tuple[torch.Tensor, float]:
    """Lloyd's k-means with k-means++ seeding; returns (labels (n,), inertia) of the best of ``n_init`` runs."""
    X = X.double()
    n = len(X)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    best_lab, best_inertia = None, float("inf")
    for _ in range(n_init):
        centres = X[torch.randint(n, (1,), generator=g)]
        for _c in range(1, k):
            d2 = torch.cdist(X, centres).pow(2).min(1).values
            p = d2 / d2.sum() if d2.sum() > 0 else torch.full((n,), 1.0 / n, dtype=X.dtype)
            centres = torch.cat([centres, X[torch.multinomial(p, 1, generator=g)]])
        lab = None
        for _it in range(iters):
            new = torch.cdist(X, centres).argmin(1)
            if lab is not None and torch.equal(new, lab):
                break
            lab = new
            onehot = torch.nn.functional.one_hot(lab, k).double()
            counts = onehot.sum(0)
            sums = onehot.T @ X
            centres = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)
        inertia = float((X - centres[lab]).pow(2).sum())
        if inertia < best_inertia:
            best_lab, best_inertia = lab, inertia
    return best_lab, best_inertia


def spectral_clusters(A: torch.Tensor, k: int, *, n_init: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """Labels (n,) of the normalised spectral clustering of a symmetric non-negative affinity ``A`` (n, n)."""
    A = A.double()
    if A.dim() != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"affinity must be square, got {tuple(A.shape)}")
    if (A < 0).any() or not torch.allclose(A, A.T, atol=1e-12):
        raise ValueError("affinity must be symmetric and non-negative")
    deg = A.sum(1)
    inv = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(), torch.zeros_like(deg))
    M = inv[:, None] * A * inv[None, :]
    _, vecs = torch.linalg.eigh(M)
    V = vecs[:, -k:]
    V = V / V.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return kmeans(V, k, n_init=n_init, generator=generator)[0]


def spectral_groups(C_aa: torch.Tensor, C_bb: torch.Tensor, C_ab: torch.Tensor, k: int | None = None, *,
                    n_init: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """Cluster labels of the n_a + n_b units of two nets (A's first) on the |rho| joint graph; k default n / 8."""
    n_a, n_b = C_ab.shape
    if C_aa.shape != (n_a, n_a) or C_bb.shape != (n_b, n_b):
        raise ValueError(f"blocks do not fit: C_aa {tuple(C_aa.shape)}, C_bb {tuple(C_bb.shape)}, C_ab {tuple(C_ab.shape)}")
    A = torch.cat([torch.cat([C_aa, C_ab], 1), torch.cat([C_ab.T, C_bb], 1)]).double().abs()
    A = (A + A.T) / 2
    k = max(1, (n_a + n_b) // 8) if k is None else k
    return spectral_clusters(A, k, n_init=n_init, generator=generator)


def group_report(labels: torch.Tensor, n_a: int, C_ab: torch.Tensor) -> dict[str, float]:
    """How the clusters mix the nets: the fraction of clusters (and of units) in clusters holding units of both
    nets, and the mean between-net |rho| of unit pairs in the same cluster vs all pairs."""
    la, lb = labels[:n_a], labels[n_a:]
    k = int(labels.max()) + 1
    ca, cb = torch.bincount(la, minlength=k), torch.bincount(lb, minlength=k)
    used = (ca + cb) > 0
    mixed = (ca > 0) & (cb > 0)
    same = la[:, None] == lb[None, :]
    absC = C_ab.abs().double()
    return {"clusters": float(used.sum()), "mixed_frac": float(mixed.sum() / used.sum()),
            "units_in_mixed": float((ca[mixed].sum() + cb[mixed].sum()) / len(labels)),
            "rho_in_cluster": float(absC[same].mean()) if same.any() else float("nan"),
            "rho_all": float(absC.mean())}
