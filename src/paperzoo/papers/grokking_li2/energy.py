"""Stage II of Li2: the energy whose gradient ascent each hidden node follows, and what its maxima look like.

With the stage-I ridge top layer V = (F^T F + eta I)^-1 F^T Ytilde and the centred MSE loss
L = (1/n) ||F V - Ytilde||^2, the residual is F V - Ytilde = -eta (F F^T + eta I)^-1 Ytilde, so the
backpropagated gradient is -dL/dF = (2 eta / n) (F F^T + eta I)^-1 Ytilde Ytilde^T F (F^T F + eta I)^-1,
which for large eta is G_F ~ (2 / (n eta)) Ytilde Ytilde^T F: column j depends on node j only. Each node
w_j (its row of W, 2M entries) then follows gradient ascent of

    E(w) = 1/2 || Ytilde^T sigma(X w) ||^2            (card "Energy of stage II"; our transcription)

(X = one-hot pairs, n x 2M). For sigma = x^2 and the full Z_M table the cross term is a cyclic convolution and
E ~ sum_k |a_k|^2 |b_k|^2, maximised by single-frequency (+-k) nodes; for a general group the maxima sit in one
irreducible representation (card: "local maxima of E ... irreducible-representation features").
"""
from __future__ import annotations

import torch

from paperzoo.papers.grokking_li2.groups import Isotypic, irrep_spectrum
from paperzoo.papers.grokking_li2.model import activation, centered_mse, centered_targets


def _check(w: torch.Tensor, pairs: torch.Tensor, y_tilde: torch.Tensor) -> int:
    if w.dim() != 2 or w.shape[1] % 2:
        raise ValueError(f"w must be (R, 2M), got {tuple(w.shape)}")
    m = w.shape[1] // 2
    if pairs.dim() != 2 or pairs.shape[1] != 2 or y_tilde.shape != (pairs.shape[0], m):
        raise ValueError(f"pairs (n, 2) and y_tilde (n, {m}) expected, got {tuple(pairs.shape)}, {tuple(y_tilde.shape)}")
    return m


def _pre(w: torch.Tensor, pairs: torch.Tensor, m: int) -> torch.Tensor:
    return w[:, pairs[:, 0]] + w[:, m + pairs[:, 1]]                      # (R, n) = (X w_r)^T


def energy(w: torch.Tensor, pairs: torch.Tensor, y_tilde: torch.Tensor, act: str = "sqr") -> torch.Tensor:
    """E(w_r) = 1/2 ||Ytilde^T sigma(X w_r)||^2 for each row w_r of ``w`` (R, 2M); returns (R,)."""
    m = _check(w, pairs, y_tilde)
    f = activation(act)[0](_pre(w, pairs, m))
    return 0.5 * (f @ y_tilde).square().sum(1)


def energy_grad(w: torch.Tensor, pairs: torch.Tensor, y_tilde: torch.Tensor, act: str = "sqr") -> torch.Tensor:
    """dE/dw = X^T (sigma'(X w) * Ytilde Ytilde^T sigma(X w)) per row, (R, 2M) (closed form, no autograd)."""
    m = _check(w, pairs, y_tilde)
    sigma, dsigma = activation(act)
    u = _pre(w, pairs, m)
    gu = dsigma(u) * ((sigma(u) @ y_tilde) @ y_tilde.T)                    # (R, n)
    g = torch.zeros_like(w)
    g.index_add_(1, pairs[:, 0], gu)
    g.index_add_(1, m + pairs[:, 1], gu)
    return g


def energy_ascent(w0: torch.Tensor, pairs: torch.Tensor, y_tilde: torch.Tensor, *, act: str = "sqr",
                  steps: int = 3000, lr: float = 0.01, record_every: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Riemannian gradient ascent of E on the unit sphere, all R starts at once: w <- normalise(w + lr g / s),
    g the tangential gradient, s = the largest initial gradient norm (a fixed scale, so the step is small and E
    rises monotonically). Returns the final unit rows (R, 2M) and E along the way (T, R), T = steps / record_every."""
    w = w0 / w0.norm(dim=1, keepdim=True)
    scale = energy_grad(w, pairs, y_tilde, act).norm(dim=1).max().clamp_min(1e-30)
    trace = [energy(w, pairs, y_tilde, act)]
    for t in range(steps):
        g = energy_grad(w, pairs, y_tilde, act)
        g = g - (g * w).sum(1, keepdim=True) * w
        w = w + lr * g / scale
        w = w / w.norm(dim=1, keepdim=True)
        if record_every and (t + 1) % record_every == 0:
            trace.append(energy(w, pairs, y_tilde, act))
    if not record_every or steps % record_every:
        trace.append(energy(w, pairs, y_tilde, act))
    return w, torch.stack(trace)


def node_concentration(w: torch.Tensor, iso: Isotypic) -> tuple[torch.Tensor, torch.Tensor]:
    """Per node (rows of w (K, 2M)): share of its non-trivial energy (a and b blocks together) in its strongest
    real isotypic component, and that component's index. For Z_M this is the card's +-k frequency-pair share."""
    m = w.shape[1] // 2
    spec = irrep_spectrum(w[:, :m], iso) + irrep_spectrum(w[:, m:], iso)   # (K, C)
    spec[:, iso.trivial] = 0.0                                              # DC / trivial irrep does not enter E
    top, idx = spec.max(1)
    return top / spec.sum(1).clamp_min(1e-30), idx


def gradient_alignment(model, pairs: torch.Tensor, labels: torch.Tensor, eta: float) -> torch.Tensor:
    """Cosine, per hidden node, between -dL/dw_j of the centred MSE loss with the ridge top layer (autograd) and
    dE/dw_j (closed form): the card's stage-II identity. Returns (K,)."""
    y_t = centered_targets(labels, model.M, model.W.dtype)
    model.set_ridge_top(pairs, y_t, eta)
    model.zero_grad()
    centered_mse(model(pairs), labels).backward()
    ge = energy_grad(model.W.detach(), pairs, y_t, model.act_name)
    g = -model.W.grad
    return (g * ge).sum(1) / (g.norm(dim=1) * ge.norm(dim=1)).clamp_min(1e-300)   # no eps floor: gradients are tiny
