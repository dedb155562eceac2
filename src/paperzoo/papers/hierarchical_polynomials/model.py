"""The three-layer net trained layer by layer, and the random-feature kernel baseline.

f(x) = sum_{i=1}^{m1} a_i sigma1(w_i^T sigma2(V x) + b_i)          (card "Network"; reconstructed)
- V (m2, d): rows uniform on the unit sphere, a frozen buffer (random features, needs m2 >~ d^k);
- W (m1, m2): the only weights stage 1 moves; b (m1,), a (m1,): biases and outer weights.

Stage 1 (feature learning, card step 1): W = 0, a_i = +-1, b_i = 1 (so sigma1'(b_i) = 1); one gradient
step on the square loss with centred labels,
    w_i <- eta a_i sigma1'(b_i) (1/n) sum_n (y_n - ybar) sigma2(V x_n),
so every pre-activation is +-eta u(x) + b_i with u(x) = sigma2(Vx)^T c, c = (1/n) sum_n (y_n - ybar) sigma2(Vx_n).
eta makes u unit-variance on a calibration set (card: "choose eta so that u has unit variance").
Stage 2 (fit the link, card step 2): keep V and W, redraw b_i ~ U[-3, 3] (shifted by the centre of u) and
solve ridge regression for a on fresh samples: a = (Phi^T Phi / n + lam I)^{-1} Phi^T y / n, lam = 1e-4.
The kernel baseline is the same ridge on sigma2(Vx) (what the net sees at stage 1's input).
All constants are the card's reconstruction, not the paper's Algorithm 1 (not retrieved).
"""
from __future__ import annotations

import torch
from torch import nn

from paperzoo.registry import register_model

ACTS = {"relu": torch.relu, "cube": lambda t: t ** 3}
_DERIVS = {"relu": lambda t: (t > 0).to(t.dtype), "cube": lambda t: 3 * t ** 2}


def _moments(phi: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(phi^T phi, phi^T y) in float64: the sufficient statistics of every ridge fit below."""
    p64 = phi.double()
    return p64.T @ p64, p64.T @ y.double()


def _solve(gram: torch.Tensor, rhs: torch.Tensor, n: int, lam: float) -> torch.Tensor:
    eye = torch.eye(gram.shape[0], dtype=torch.float64)
    return torch.cholesky_solve((rhs / n)[:, None], torch.linalg.cholesky(gram / n + lam * eye))[:, 0]


def _check(phi: torch.Tensor, y: torch.Tensor, lams) -> None:
    if phi.ndim != 2 or y.shape != (phi.shape[0],):
        raise ValueError(f"ridge: expected phi (n, m) and y (n,), got {tuple(phi.shape)} and {tuple(y.shape)}")
    if not lams or min(lams) <= 0:
        raise ValueError(f"ridge: lam must be > 0, got {lams}")


def ridge_solve(phi: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """argmin_a (1/n)||phi a - y||^2 + lam ||a||^2 = (phi^T phi/n + lam I)^{-1} phi^T y/n, solved in float64
    (Cholesky); returned in phi's dtype."""
    _check(phi, y, (lam,))
    return _solve(*_moments(phi, y), phi.shape[0], lam).to(phi.dtype)


def ridge_validated(phi: torch.Tensor, y: torch.Tensor, lams: tuple[float, ...], *, val_frac: float = 0.2
                    ) -> tuple[torch.Tensor, float]:
    """Pick lam from ``lams`` on the last ``val_frac`` of the rows (ridge fitted on the rest), refit on all rows;
    returns (a, lam). A single lam skips the split. The Gram matrices are formed once (all = train + val)."""
    _check(phi, y, tuple(lams))
    n = phi.shape[0]
    if len(lams) == 1:
        return ridge_solve(phi, y, lams[0]), float(lams[0])
    n_va = max(1, int(round(val_frac * n)))
    g_tr, r_tr = _moments(phi[: n - n_va], y[: n - n_va])
    g_va, r_va = _moments(phi[n - n_va:], y[n - n_va:])
    p_va, y_va = phi[n - n_va:].double(), y[n - n_va:].double()
    errs = [float(((p_va @ _solve(g_tr, r_tr, n - n_va, lam) - y_va) ** 2).mean()) for lam in lams]
    lam = float(lams[min(range(len(lams)), key=errs.__getitem__)])
    return _solve(g_tr + g_va, r_tr + r_va, n, lam).to(phi.dtype), lam


def feature_alignment(u: torch.Tensor, p: torch.Tensor) -> float:
    """Pearson correlation of the learned feature u with p (card's `feature_alignment`)."""
    u, p = u.double() - u.double().mean(), p.double() - p.double().mean()
    return float((u * p).sum() / (u.norm() * p.norm()).clamp_min(1e-300))


def relative_mse(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Test MSE over Var(y): 1 is the constant predictor."""
    return float(((pred.detach().double() - y.double()) ** 2).mean() / y.double().var(unbiased=False))


def sphere_rows(m: int, d: int, generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
    """(m, d) matrix whose rows are uniform on the unit sphere S^{d-1}."""
    v = torch.randn(m, d, generator=generator, dtype=torch.float64)
    return (v / v.norm(dim=1, keepdim=True)).to(dtype)


class ThreeLayerNet(nn.Module):
    """f(x) = a^T sigma1(W sigma2(V x) + b) with V frozen; ``stage1`` / ``stage2`` train it layer-wise.

    Args: d input dim, m2 random-feature width (card cpu: 2048), m1 hidden width (card: 1000),
    sigma2 / sigma1 in {"relu", "cube"} (card: ReLU both), seed for V and the signs of a.
    Shapes: x (B, d) -> (B,).
    """

    def __init__(self, d: int, m2: int = 2048, m1: int = 1000, *, sigma2: str = "relu", sigma1: str = "relu",
                 seed: int = 0, dtype: torch.dtype = torch.float32):
        super().__init__()
        if min(d, m2, m1) < 1:
            raise ValueError(f"ThreeLayerNet: d, m2, m1 must be >= 1, got {d}, {m2}, {m1}")
        for name, act in (("sigma2", sigma2), ("sigma1", sigma1)):
            if act not in ACTS:
                raise ValueError(f"ThreeLayerNet: unknown {name} {act!r} (have {sorted(ACTS)})")
        self.d, self.m2, self.m1, self.sigma2, self.sigma1 = int(d), int(m2), int(m1), sigma2, sigma1
        gen = torch.Generator().manual_seed(int(seed))
        self.register_buffer("V", sphere_rows(m2, d, gen, dtype))
        signs = torch.randint(0, 2, (m1,), generator=gen).to(dtype) * 2 - 1
        self.W = nn.Parameter(torch.zeros(m1, m2, dtype=dtype))
        self.b = nn.Parameter(torch.ones(m1, dtype=dtype))       # sigma1'(1) = 1 for ReLU (card)
        self.a = nn.Parameter(signs)                              # a_i = +-1 (card)
        self.seed = int(seed)

    def random_features(self, x: torch.Tensor) -> torch.Tensor:
        """sigma2(V x), shape (B, m2)."""
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"ThreeLayerNet: expected x of shape (B, {self.d}), got {tuple(x.shape)}")
        return ACTS[self.sigma2](x.to(self.V.dtype) @ self.V.T)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """sigma1(W sigma2(Vx) + b), shape (B, m1): the features stage 2 fits a on."""
        return ACTS[self.sigma1](self.random_features(x) @ self.W.T + self.b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x) @ self.a

    @torch.no_grad()
    def stage1(self, x: torch.Tensor, y: torch.Tensor, *, x_cal: torch.Tensor | None = None) -> torch.Tensor:
        """One gradient step on W from W = 0 with centred labels; returns c (m2,), the direction of u.

        eta is set so that u(x) = sigma2(Vx)^T c has unit variance on ``x_cal`` (default: x)."""
        if y.shape != (x.shape[0],):
            raise ValueError(f"stage1: y must have shape ({x.shape[0]},), got {tuple(y.shape)}")
        feats = self.random_features(x)
        c = feats.T @ (y.to(feats.dtype) - y.mean()) / x.shape[0]
        u_cal = self.random_features(x if x_cal is None else x_cal) @ c
        eta = 1.0 / float(u_cal.std()) if float(u_cal.std()) > 0 else 0.0
        gain = self.a * _DERIVS[self.sigma1](self.b)               # a_i sigma1'(b_i)
        self.W.copy_(eta * gain[:, None] * c[None, :])
        self.eta, self.c, self.u_mean, self.gain = eta, c, float(u_cal.mean()) * eta, gain.clone()
        return c

    @torch.no_grad()
    def feature(self, x: torch.Tensor) -> torch.Tensor:
        """The learned feature eta u(x) (card's `.feature`), shape (B,)."""
        if not hasattr(self, "c"):
            raise RuntimeError("ThreeLayerNet.feature: run stage1 first")
        return self.eta * (self.random_features(x) @ self.c)

    @torch.no_grad()
    def stage2(self, x: torch.Tensor, y: torch.Tensor, *, lam: float | tuple[float, ...] = 1e-4, bias_range: float = 3.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Redraw b ~ U[-r, r] around the centre of the learned feature, keep V and W, ridge-fit a
        (a tuple ``lam`` is chosen on a held-out fifth, see ``ridge_validated``; the choice is ``self.lam``)."""
        if y.shape != (x.shape[0],):
            raise ValueError(f"stage2: y must have shape ({x.shape[0]},), got {tuple(y.shape)}")
        if bias_range <= 0:
            raise ValueError(f"stage2: bias_range must be > 0, got {bias_range}")
        shift = self.gain * self.u_mean if hasattr(self, "c") else 0.0     # centre of the pre-activations
        gen = generator if generator is not None else torch.Generator().manual_seed(self.seed + 1)
        beta = (torch.rand(self.m1, generator=gen, dtype=torch.float64) * 2 - 1) * bias_range
        self.b.copy_(beta.to(self.b.dtype) - shift)
        a, self.lam = ridge_validated(self.hidden(x), y.to(self.a.dtype), lam if isinstance(lam, tuple) else (lam,))
        self.a.copy_(a)
        return self.a


def rf_ridge_baseline(net: ThreeLayerNet, x: torch.Tensor, y: torch.Tensor, lam: float | tuple[float, ...] = 1e-4):
    """Kernel baseline (card (i)): ridge on the frozen random features sigma2(Vx) of ``net`` (a tuple ``lam``
    is chosen on a held-out fifth); returns (predictor x -> sigma2(Vx) theta, theta, chosen lam)."""
    theta, lam = ridge_validated(net.random_features(x), y.to(net.V.dtype), lam if isinstance(lam, tuple) else (lam,))
    return (lambda xs: net.random_features(xs) @ theta), theta, lam


@register_model("hierarchical_three_layer", task="regression", example=lambda: torch.randn(8, 16), knob="width")
def hierarchical_three_layer(in_dim: int = 16, *, width: int = 1000, m2: int = 2048, sigma2: str = "relu",
                             sigma1: str = "relu", seed: int = 0) -> ThreeLayerNet:
    """The card's three-layer net f(x) = a^T sigma1(W sigma2(Vx) + b), V frozen; width = m1.

    Defaults: d = 16, m2 = 2048, m1 = 1000, ReLU both (card's cpu rung). Train it with ``stage1`` / ``stage2``.
    """
    return ThreeLayerNet(in_dim, m2, width, sigma2=sigma2, sigma1=sigma1, seed=seed)


__all__ = ["ThreeLayerNet", "feature_alignment", "hierarchical_three_layer", "relative_mse", "rf_ridge_baseline",
           "ridge_solve", "ridge_validated", "sphere_rows"]
