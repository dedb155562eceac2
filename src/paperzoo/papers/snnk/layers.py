"""SNNK layers: ``SNNKLinear`` (a linear + activation pair as Phi(x) P^T), the SNNK adapter, uptraining, bundling.

Paper Sec. 3-4 (card sections 3-6); official ``NNK_Relu`` (``src/nnk/nnk.py``) and ``CustomReluAdapter``
(``src/nnk/custom_adapter.py``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.papers.snnk.features import ACTIVATIONS, URF_FNS, _sample_xis, gaussian_matrix, relu_rf, urf_features

_ACT_MODULES = (nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.LeakyReLU, nn.ELU)


def init_weight(d_out: int, d_in: int, init: str = "mam", generator: torch.Generator | None = None) -> torch.Tensor:
    """Starting weights W0 (d_out, d_in): ``mam`` = Kaiming-uniform(a = sqrt 5) (nn.Linear's default, official
    adapter "mam"), ``bert`` = N(0, 0.02^2) (official adapter "bert")."""
    if init == "mam":
        bound = 1.0 / math.sqrt(d_in)                                       # kaiming_uniform_(a=sqrt(5)) bound
        return (torch.rand(d_out, d_in, generator=generator) * 2 - 1) * bound
    if init == "bert":
        return torch.randn(d_out, d_in, generator=generator) * 0.02
    raise ValueError(f"init must be 'mam' or 'bert', got {init!r}")


class SNNKLinear(nn.Module):
    """``y_j ~ f(w_j^T x + b_j)`` as ``y = Phi(x) Psi(W)^T`` with trainable ``P = Psi(W0)`` (d_out, m).

    ``kind="relu"`` (the variant of all transformer experiments): Phi = m^{-1/2} max(Gx, floor) on both
    sides, mean = arc-cosine kernel. ``kind="urf"``: universal random features for ``activation`` in
    {cos, sin, exp, gaussian}; P is complex (stored as real and imaginary parts), output ``Re Phi(x) P^T``,
    and ``init_bias`` enters Psi through B(xi, b). G (m, d_in) and the xis are buffers drawn once from
    ``seed`` and shared by Phi and Psi (card pitfall). Official layer has no extra bias (``bias=False``).
    (..., d_in) -> (..., d_out).
    """

    def __init__(self, d_in: int, d_out: int, num_rfs: int, kind: str = "relu", *, init_weight: torch.Tensor | None = None,
                 init_bias: torch.Tensor | None = None, activation: str = "cos", orthogonal: bool = False, floor: float = 0.0,
                 normalize: float | None = None, bias: bool = False, init: str = "mam", seed: int = 0):
        super().__init__()
        if min(d_in, d_out, num_rfs) <= 0:
            raise ValueError(f"SNNKLinear: d_in, d_out, num_rfs must be positive, got {d_in}, {d_out}, {num_rfs}")
        if kind not in ("relu", "urf"):
            raise ValueError(f"SNNKLinear: kind must be 'relu' or 'urf', got {kind!r}")
        if kind == "urf" and activation not in ACTIVATIONS:
            raise ValueError(f"SNNKLinear: unknown activation {activation!r} (have {sorted(ACTIVATIONS)})")
        gen = torch.Generator().manual_seed(seed)
        W0 = init_weight if init_weight is not None else self._draw(d_out, d_in, init, gen)
        if tuple(W0.shape) != (d_out, d_in):
            raise ValueError(f"SNNKLinear: init_weight must have shape ({d_out}, {d_in}), got {tuple(W0.shape)}")
        self.d_in, self.d_out, self.num_rfs, self.kind = d_in, d_out, num_rfs, kind
        self.activation, self.floor, self.normalize = activation, floor, normalize
        self.register_buffer("G", gaussian_matrix(num_rfs, d_in, orthogonal=orthogonal, generator=gen))
        W0 = W0.detach().to(torch.float32)
        if kind == "relu":
            self.P = nn.Parameter(relu_rf(W0, self.G, floor))
        else:
            self.register_buffer("xis", _sample_xis(activation, num_rfs, gen, torch.float32))
            b0 = torch.zeros(d_out) if init_bias is None else init_bias.detach().to(torch.float32)
            psi = self._psi(W0, b0)
            self.P = nn.Parameter(psi.real.contiguous())
            self.P_im = nn.Parameter(psi.imag.contiguous())
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None

    @staticmethod
    def _draw(d_out, d_in, init, gen):
        return init_weight(d_out, d_in, init, gen)

    def _psi(self, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        _, _, B_fn = URF_FNS[self.activation]
        proj = w @ self.G.T
        return B_fn(self.xis, b.unsqueeze(-1)) * torch.exp(proj - (w * w).sum(-1, keepdim=True) / 2) / math.sqrt(self.num_rfs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Phi(x): real (..., m) for relu, complex (..., m) for urf."""
        if self.kind == "relu":
            return relu_rf(x, self.G, self.floor, self.normalize)
        a_fn, weight, _ = URF_FNS[self.activation]
        return urf_features(x, self.xis, self.G, a_fn, weight, self.normalize)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phi = self.features(x)
        if self.kind == "relu":
            y = phi @ self.P.T
        else:
            y = phi.real @ self.P.T - phi.imag @ self.P_im.T                 # Re(Phi P^T), P = P + i P_im
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"d_in={self.d_in}, d_out={self.d_out}, num_rfs={self.num_rfs}, kind={self.kind!r}, floor={self.floor}"


class SNNKAdapter(nn.Module):
    """SNNK adapter (official ``CustomReluAdapter``, down_sample=None): ``h + (Phi(h) P^T) * v``.

    Phi = m^{-1/2} max(G h, 0), P (d, m) = Psi(W0) for W0 (d, d) from ``init``; the modulating vector v (d,)
    starts at zero, so the adapted network starts equal to the frozen one. Trainable: d m + d (+ 2d with
    ``ln_before``). Defaults m = 8, init "bert" (official GLUE adapter). (..., d) -> (..., d).
    """

    def __init__(self, d: int, num_rfs: int = 8, init: str = "bert", ln_before: bool = False, orthogonal: bool = False,
                 seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        W0 = init_weight(d, d, init, gen)
        self.register_buffer("G", gaussian_matrix(num_rfs, d, orthogonal=orthogonal, generator=gen))
        self.P = nn.Parameter(relu_rf(W0, self.G))
        self.v = nn.Parameter(torch.zeros(d))
        self.ln = nn.LayerNorm(d) if ln_before else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + (relu_rf(self.ln(h), self.G) @ self.P.T) * self.v


def uptrain(model: nn.Module, layer_selector=lambda name, lin: True, num_rfs: int = 16, **kw) -> list[str]:
    """Swap ``nn.Linear`` + activation pairs inside ``nn.Sequential`` containers for ReLU ``SNNKLinear`` layers
    whose P is initialised to Psi(W_pretrained) (card section 5, the BERT route); the activation becomes Identity
    (SNNK carries the nonlinearity). ``layer_selector(name, linear) -> bool`` picks pairs. In place; returns the
    names of the replaced linears."""
    done: list[str] = []
    for prefix, seq in list(model.named_modules()):
        if not isinstance(seq, nn.Sequential):
            continue
        kids = list(seq.named_children())
        for (i, lin), (j, act) in zip(kids, kids[1:]):
            name = f"{prefix}.{i}" if prefix else i
            if isinstance(lin, nn.Linear) and isinstance(act, _ACT_MODULES) and layer_selector(name, lin):
                layer = SNNKLinear(lin.in_features, lin.out_features, num_rfs, init_weight=lin.weight,
                                   bias=lin.bias is not None, **kw)
                if lin.bias is not None:
                    layer.bias.data.copy_(lin.bias.detach())
                setattr(seq, i, layer)
                setattr(seq, j, nn.Identity())
                done.append(name)
    return done


def bundle_fit(features: torch.Tensor, y: torch.Tensor, ridge: float = 1e-6) -> torch.Tensor:
    """Closed-form fully bundled solution ``Theta = (Phi^T Phi + ridge I)^{-1} Phi^T Y`` (card section 6; ridge
    > 0 for stability, ours). features (n, m), y (n,) or (n, k) -> Theta (m,) or (m, k)."""
    if features.dim() != 2 or y.shape[0] != features.shape[0]:
        raise ValueError(f"bundle_fit: features must be (n, m) and y (n, ...), got {tuple(features.shape)}, {tuple(y.shape)}")
    if ridge < 0:
        raise ValueError(f"bundle_fit: ridge must be >= 0, got {ridge}")
    gram = features.T @ features
    gram = gram + ridge * torch.eye(gram.shape[0], dtype=gram.dtype)
    return torch.linalg.solve(gram, features.T @ y.to(features.dtype))


class BundledRF(nn.Module):
    """Fully bundled network ``Phi(x)^T Theta`` with ReLU random features and Theta from ``bundle_fit``
    (no backprop). ``fit(x, y, ridge)`` with y integer labels (one-hot targets) or real targets."""

    def __init__(self, d_in: int, out_dim: int, num_rfs: int = 512, *, seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("G", gaussian_matrix(num_rfs, d_in, generator=gen, dtype=dtype))
        self.register_buffer("theta", torch.zeros(num_rfs, out_dim, dtype=dtype))

    def fit(self, x: torch.Tensor, y: torch.Tensor, ridge: float = 1e-6) -> "BundledRF":
        x = x.flatten(1).to(self.G.dtype)
        target = nn.functional.one_hot(y, self.theta.shape[1]) if not y.is_floating_point() else y.reshape(len(y), -1)
        self.theta.copy_(bundle_fit(relu_rf(x, self.G), target, ridge))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu_rf(x.flatten(1).to(self.G.dtype), self.G) @ self.theta
