"""KAN layers in one basis family, the selectable S-KAN layer, and their Conv2d versions.

``KANLayer``: ``y_j = sum_i phi_{j,i}(x_i)`` with ``phi_{j,i}(x) = sum_b c_{j,i,b} B_b(x) + w_{j,i} act(x)``
(card, "Base KAN layer"): the basis of all inputs is one tensor ``(B, n_in, K)`` and the edge sum
one matmul with the coefficients ``(n_out, n_in * K)``.

``SelectableKANLayer`` (S-KAN node, card "Selection"): M families produce candidates
``y_j^(m)``; the node outputs ``y_j = sum_m a_{j,m} y_j^(m)`` with selection weights ``a`` (init 1/M).
Phase 2 ``select(k)`` keeps, per node, the k families with the largest ``|a_{j,m}|``; phase 3
``prune()`` removes the parameters of dropped families (the output is unchanged).
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.papers.skan.bases import make_basis

# Base branch per family (library: efficient-KAN, FastKAN, Wav-KAN, JacobiKAN have a SiLU branch;
# ChebyKAN, ReLU-KAN and FasterKAN have none).
BASE_ACT = {"bspline": "silu", "rbf": "silu", "chebyshev": None, "wavelet": "silu", "jacobi": "silu",
            "relu": None, "rswaf": None}
_ACTS = {"silu": F.silu, "gelu": F.gelu, "relu": F.relu, "tanh": torch.tanh}
DEFAULT_POOL = ("bspline", "rbf", "chebyshev", "wavelet")


def _check_last(x: torch.Tensor, n: int, who: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] != n:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who}: expected input (..., {n}), got {shape}")


class KANLayer(nn.Module):
    """KAN layer ``(..., in_dim) -> (..., out_dim)`` whose edge functions live in one basis family.

    ``basis``: a family name (``bspline``, ``rbf``, ``chebyshev``, ``wavelet``, ``jacobi``, ``relu``,
    ``rswaf``) or a basis module; ``basis_kwargs`` go to the family (e.g. ``grid=5, order=3``).
    ``base_activation``: ``"default"`` (the family's library choice, ``BASE_ACT``), a name, or None.
    Per-output parameters (first dim ``out_dim``): ``coef`` (out, in, K) (wavelet: (out, in) plus
    per-edge ``scale`` and ``translation``), ``base_weight`` (out, in), ``base_bias`` (out) for RBF.
    Inits: library / efficient-KAN (see README deviations for the B-spline one).
    """

    def __init__(self, in_dim: int, out_dim: int, *, basis: str | nn.Module = "bspline",
                 base_activation: str | None = "default", **basis_kwargs):
        super().__init__()
        if int(in_dim) < 1 or int(out_dim) < 1:
            raise ValueError(f"KANLayer: in_dim and out_dim must be >= 1, got {in_dim}, {out_dim}")
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        self.family = basis if isinstance(basis, str) else type(basis).__name__
        self.basis = make_basis(basis, **basis_kwargs)
        self.per_edge = bool(getattr(self.basis, "per_edge", False))
        if base_activation == "default":
            base_activation = BASE_ACT.get(self.family, "silu")
        if base_activation is not None and base_activation not in _ACTS:
            raise ValueError(f"KANLayer: base_activation must be one of {sorted(_ACTS)} or None, got {base_activation!r}")
        self.base_activation = base_activation
        o, i, K = self.out_dim, self.in_dim, self.basis.n_basis
        self.out_params = ["coef"]
        if self.per_edge:  # Wav-KAN: psi((x - t_ji) / s_ji), weights kaiming_uniform(a=sqrt 5), s = 1, t = 0
            self.coef = nn.Parameter(torch.empty(o, i))
            nn.init.kaiming_uniform_(self.coef, a=math.sqrt(5))
            self.scale = nn.Parameter(torch.ones(o, i))
            self.translation = nn.Parameter(torch.zeros(o, i))
            self.out_params += ["scale", "translation"]
        else:
            self.coef = nn.Parameter(torch.empty(o, i, K))
            self._init_coef(K)
        if base_activation is not None:
            self.base_weight = nn.Parameter(torch.empty(o, i))
            nn.init.kaiming_uniform_(self.base_weight, a=math.sqrt(5))  # nn.Linear / efficient-KAN scale_base 1
            self.out_params.append("base_weight")
            if self.family == "rbf":  # FastKAN's base branch is an nn.Linear with bias
                self.base_bias = nn.Parameter(torch.empty(o).uniform_(-1 / math.sqrt(i), 1 / math.sqrt(i)))
                self.out_params.append("base_bias")

    def _init_coef(self, K: int) -> None:
        i = self.in_dim
        with torch.no_grad():
            if self.family in ("chebyshev", "jacobi"):  # library: N(0, 1 / (n_in (degree + 1)))
                self.coef.normal_(0.0, 1.0 / (i * K))
            elif self.family == "rbf":  # FastKAN SplineLinear: trunc-normal std 0.1
                nn.init.trunc_normal_(self.coef, std=0.1)
            elif self.family == "relu":  # library Conv2d(1, out, (g + k, n_in)) default init
                self.coef.uniform_(-1 / math.sqrt(i * K), 1 / math.sqrt(i * K))
            elif self.family == "rswaf":  # FasterKAN: xavier-uniform on (out, n_in * K)
                b = math.sqrt(6.0 / (i * K + self.out_dim))
                self.coef.uniform_(-b, b)
            else:  # B-spline (and custom bases): small random curves, efficient-KAN scale_noise 0.1
                self.coef.normal_(0.0, 0.1)

    def edge_sum(self, x: torch.Tensor) -> torch.Tensor:
        """The family term ``sum_i sum_b c_{j,i,b} B_b(x_i)`` for a 2-D input ``(B, in_dim)``."""
        if self.per_edge:
            u = (x.unsqueeze(-2) - self.translation) / self.scale  # (B, out, in)
            return (self.basis(u) * self.coef).sum(-1)
        b = self.basis(x)  # (B, in, K)
        return F.linear(b.reshape(x.shape[0], -1), self.coef.reshape(self.out_dim, -1))

    def _one_matmul(self, x2: torch.Tensor) -> torch.Tensor:
        """B-spline family with its base branch as one matmul: features ``[act(x_i), B_1(x_i), ..., B_K(x_i)]``
        against ``[w_base, c_1, ..., c_K]``. Eagerly the features come from the local de Boor form
        (``with_first``), laid out (B, in, 1 + K); under ``torch.compile`` from the closed form, laid out
        (B, 1 + K, in) so that inductor's fused loop runs along the inputs (the weights are permuted to match)."""
        act = _ACTS[self.base_activation](x2)
        if torch.compiler.is_compiling() and self.basis.order >= 1:
            feats = torch.cat([act.unsqueeze(-2), self.basis.dense(x2, basis_dim=-2)], -2)
            weight = torch.cat([self.base_weight.unsqueeze(-2), self.coef.transpose(-1, -2)], -2)
        else:
            feats = self.basis.with_first(x2, act)
            weight = torch.cat([self.base_weight.unsqueeze(-1), self.coef], -1)
        return F.linear(feats.reshape(x2.shape[0], -1), weight.reshape(self.out_dim, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_last(x, self.in_dim, f"KANLayer({self.family})")
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_dim)
        if self.base_activation is not None and hasattr(self.basis, "with_first") and not hasattr(self, "base_bias"):
            return self._one_matmul(x2).reshape(*lead, self.out_dim)
        y = self.edge_sum(x2)
        if self.base_activation is not None:
            y = y + F.linear(_ACTS[self.base_activation](x2), self.base_weight, getattr(self, "base_bias", None))
        return y.reshape(*lead, self.out_dim)

    def restrict(self, idx: torch.Tensor) -> "KANLayer":
        """A copy that keeps only the output units ``idx`` (rows of every per-output parameter)."""
        idx = torch.as_tensor(idx, dtype=torch.long).flatten()
        new = copy.deepcopy(self)
        for name in self.out_params:
            setattr(new, name, nn.Parameter(getattr(self, name).detach()[idx].clone()))
        new.out_dim = int(idx.numel())
        return new

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, basis={self.family!r}, base_activation={self.base_activation!r}"


class SelectableKANLayer(nn.Module):
    """S-KAN layer: every node mixes M family candidates with selection weights ``a`` (out_dim, M).

    ``softmax``: mix with ``softmax(a)`` over the families still allowed instead of raw ``a``
    (card: not confirmed, default raw). ``topk``: families kept per node by ``select()`` (default 1).
    ``family_kwargs``: per-family keyword arguments, e.g. ``{"chebyshev": {"degree": 6}}``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, families: tuple[str, ...] = DEFAULT_POOL, topk: int = 1,
                 softmax: bool = False, family_kwargs: dict | None = None):
        super().__init__()
        families = tuple(families)
        if not families or len(set(families)) != len(families):
            raise ValueError(f"SelectableKANLayer: families must be distinct and non-empty, got {families}")
        if not 1 <= int(topk) <= len(families):
            raise ValueError(f"SelectableKANLayer: topk must be in 1..{len(families)}, got {topk}")
        family_kwargs = dict(family_kwargs or {})
        unknown = set(family_kwargs) - set(families)
        if unknown:
            raise ValueError(f"SelectableKANLayer: family_kwargs for families not in the pool: {sorted(unknown)}")
        self.in_dim, self.out_dim, self.families = int(in_dim), int(out_dim), families
        self.topk, self.softmax = int(topk), bool(softmax)
        self.experts = nn.ModuleList(KANLayer(in_dim, out_dim, basis=f, **family_kwargs.get(f, {})) for f in families)
        self.selection_weights = nn.Parameter(torch.full((self.out_dim, len(families)), 1.0 / len(families)))
        self.register_buffer("mask", torch.ones(self.out_dim, len(families), dtype=torch.bool))
        self.kept: tuple[int, ...] | None = None  # after prune(): the family index of each expert

    @property
    def pruned(self) -> bool:
        return self.kept is not None

    def weights(self) -> torch.Tensor:
        """Effective mixing weights (out_dim, M): masked raw ``a``, or softmax over allowed families."""
        a = self.selection_weights
        if self.softmax:
            return a.masked_fill(~self.mask, float("-inf")).softmax(-1)
        return a * self.mask

    def candidates(self, x: torch.Tensor) -> torch.Tensor:
        """All families' node outputs ``y^(m)`` stacked: (..., out_dim, M) (before pruning)."""
        if self.pruned:
            raise RuntimeError("SelectableKANLayer: candidates() is not available after prune()")
        return torch.stack([e(x) for e in self.experts], dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_last(x, self.in_dim, "SelectableKANLayer")
        w = self.weights()
        if not self.pruned:
            return (self.candidates(x) * w).sum(-1)
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_dim)
        y = x2.new_zeros(x2.shape[0], self.out_dim)
        for j, (e, m) in enumerate(zip(self.experts, self.kept)):
            idx = getattr(self, f"route_{j}")  # the nodes that use expert j
            y = y.index_add(1, idx, e(x2) * w[idx, m])
        return y.reshape(*lead, self.out_dim)

    @torch.no_grad()
    def select(self, k: int | None = None) -> torch.Tensor:
        """Phase 2: keep, per node, the ``k`` (default ``topk``) allowed families with the largest
        ``|weights()|``; returns the new mask (out_dim, M)."""
        k = self.topk if k is None else int(k)
        if self.pruned:
            raise RuntimeError("SelectableKANLayer: select() after prune(); selection is final")
        if not 1 <= k <= int(self.mask.sum(-1).min()):
            raise ValueError(f"SelectableKANLayer.select: k must be in 1..{int(self.mask.sum(-1).min())}, got {k}")
        score = self.weights().abs().masked_fill(~self.mask, -1.0)
        top = score.topk(k, dim=-1).indices
        self.mask.copy_(torch.zeros_like(self.mask).scatter_(-1, top, True))
        return self.mask.clone()

    def chosen_families(self) -> list[tuple[str, ...]]:
        """Per node, the families it still uses (all of them before ``select``)."""
        return [tuple(f for f, keep in zip(self.families, row) if keep) for row in self.mask.tolist()]

    @torch.no_grad()
    def prune(self) -> "SelectableKANLayer":
        """Phase 3: drop families no node uses and the rows of nodes that do not use a family."""
        if self.pruned:
            return self
        experts, kept = [], []
        for m, e in enumerate(self.experts):
            idx = self.mask[:, m].nonzero().flatten()
            if idx.numel():
                self.register_buffer(f"route_{len(experts)}", idx)
                experts.append(e.restrict(idx))
                kept.append(m)
        self.experts = nn.ModuleList(experts)
        self.kept = tuple(kept)
        return self

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, families={self.families}, topk={self.topk}, softmax={self.softmax}" + (
            f", pruned to {[self.families[m] for m in self.kept]}" if self.pruned else "")


class _UnfoldConv(nn.Module):
    """A dense KAN layer shared over the k x k patches of an image (library: ``F.unfold`` + dense + fold)."""

    def __init__(self, in_chans: int, out_chans: int, kernel_size: int, stride: int, padding: int, dense: nn.Module):
        super().__init__()
        if kernel_size < 1 or stride < 1 or padding < 0:
            raise ValueError(f"KAN conv: need kernel_size, stride >= 1 and padding >= 0, got {kernel_size}, {stride}, {padding}")
        self.in_chans, self.out_chans = int(in_chans), int(out_chans)
        self.kernel_size, self.stride, self.padding = int(kernel_size), int(stride), int(padding)
        self.dense = dense

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"{type(self).__name__}: expected (B, {self.in_chans}, H, W), got {tuple(x.shape)}")
        k, s, p = self.kernel_size, self.stride, self.padding
        h, w = (x.shape[2] + 2 * p - k) // s + 1, (x.shape[3] + 2 * p - k) // s + 1
        if h < 1 or w < 1:
            raise ValueError(f"{type(self).__name__}: image {tuple(x.shape[2:])} smaller than the kernel {k}")
        patches = F.unfold(x, k, padding=p, stride=s).transpose(1, 2)  # (B, L, C k k)
        return self.dense(patches).transpose(1, 2).reshape(x.shape[0], self.out_chans, h, w)


class KANConv2d(_UnfoldConv):
    """KAN convolution in one family: ``(B, C_in, H, W) -> (B, C_out, H', W')`` (stride/padding as nn.Conv2d)."""

    def __init__(self, in_chans: int, out_chans: int, kernel_size: int = 5, *, stride: int = 1, padding: int = 0,
                 basis: str = "bspline", **basis_kwargs):
        super().__init__(in_chans, out_chans, kernel_size, stride, padding,
                         KANLayer(in_chans * kernel_size ** 2, out_chans, basis=basis, **basis_kwargs))


class SelectableKANConv2d(_UnfoldConv):
    """S-ConvKAN convolution: an output channel is the node whose ``a_{c,m}`` select among families."""

    def __init__(self, in_chans: int, out_chans: int, kernel_size: int = 5, *, stride: int = 1, padding: int = 0,
                 families: tuple[str, ...] = ("bspline", "rbf", "chebyshev"), topk: int = 1, softmax: bool = False,
                 family_kwargs: dict | None = None):
        super().__init__(in_chans, out_chans, kernel_size, stride, padding,
                         SelectableKANLayer(in_chans * kernel_size ** 2, out_chans, families=families, topk=topk,
                                            softmax=softmax, family_kwargs=family_kwargs))

    def select(self, k: int | None = None) -> torch.Tensor:
        return self.dense.select(k)

    def prune(self) -> "SelectableKANConv2d":
        self.dense.prune()
        return self

    def chosen_families(self) -> list[tuple[str, ...]]:
        return self.dense.chosen_families()
