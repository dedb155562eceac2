"""The card's smoke checks (a)-(d), as functions that return a number (0 / error / cosine / pass flag).

(a) ``eta0_max_diff``: with eta_fast = 0 the NMN with synthetic-gradient modules gives exactly the outputs
    of the plain MANN (no S modules): max |difference|, exact 0 expected.
(b) ``zero_init_fast_update``: a zero-initialised S gives zero fast updates at step 0: max |dtheta|, exact 0.
(c) ``toy_sg_cosine``: an S module regressed for 200 steps onto the true gradients of a fixed toy
    controller (linear layer, quadratic loss) predicts them with cosine > 0.9.
(d) ``lrua_least_used_ok``: with sigma(alpha) = 0 every LRUA write goes to the least-used slots (1.0 = yes).
Plus ``fast_step_vjp_error``: the closed-form fast step equals theta - eta (du/dtheta)^T g_hat computed by
autograd, in float64 (max relative error).
"""
from __future__ import annotations

import torch

from paperzoo.papers.synthetic_gradient_nmn.memory import LRUAMemory, least_used
from paperzoo.papers.synthetic_gradient_nmn.model import CONTROLLERS, NMN, FastLinear, SyntheticGradient, SyntheticGradients


def _episode(model: NMN, B: int, T: int, g: torch.Generator, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(B, T, model.in_dim, generator=g, dtype=dtype)
    return x, torch.randint(0, model.num_classes, (B, T), generator=g)


def eta0_max_diff(model: NMN, *, B: int = 3, T: int = 12, seed: int = 0) -> float:
    """(a): max |NMN(x, y) - NMN(x, y, sg=S, eta_fast=0)| with S trained to give nonzero predictions."""
    g = torch.Generator().manual_seed(seed)
    sg = SyntheticGradients(model, zero_init=False)
    x, y = _episode(model, B, T, g)
    with torch.no_grad():
        return float((model(x, y) - model(x, y, sg=sg, eta_fast=0.0)).abs().max())


def zero_init_fast_update(model: NMN, *, eta_fast: float = 1e-2, B: int = 3, seed: int = 0) -> float:
    """(b): the fast increments after step 0 of an episode with zero-initialised S (max |entry|)."""
    g = torch.Generator().manual_seed(seed)
    sg = SyntheticGradients(model, zero_init=True)
    x, y = _episode(model, B, 1, g)
    with torch.no_grad():
        tr = model(x, y, sg=sg, eta_fast=eta_fast, trace=True)
    # the increments are -eta g_hat x^T, -eta g_hat: zero iff every g_hat is zero
    return float(max(gh.abs().max() for k in CONTROLLERS for gh in tr.g_hats[k])) * eta_fast


def fast_step_vjp_error(*, in_dim: int = 7, out_dim: int = 5, B: int = 4, eta: float = 0.3, seed: int = 0) -> float:
    """Closed-form fast step vs autograd in float64: per episode b, (W, b) - eta * d<u_b, g_hat_b>/d(W, b),
    starting from nonzero increments. Returns the max relative error over W and b."""
    g = torch.Generator().manual_seed(seed)
    lin = FastLinear(in_dim, out_dim).double()
    x = torch.randn(B, in_dim, generator=g, dtype=torch.float64)
    g_hat = torch.randn(B, out_dim, generator=g, dtype=torch.float64)
    fast = (torch.randn(B, out_dim, in_dim, generator=g, dtype=torch.float64),
            torch.randn(B, out_dim, generator=g, dtype=torch.float64))
    dW, db = FastLinear.fast_step(fast, x, g_hat, eta)
    err = 0.0
    for b in range(B):  # reference: one episode at a time, autograd through u = (W + dW_b) x_b + (bias + db_b)
        Wb = (lin.weight + fast[0][b]).detach().requires_grad_(True)
        bb = (lin.bias + fast[1][b]).detach().requires_grad_(True)
        u = Wb @ x[b] + bb
        gW, gb = torch.autograd.grad(u, (Wb, bb), grad_outputs=g_hat[b])
        for new, ref in ((lin.weight + dW[b], Wb - eta * gW), (lin.bias + db[b], bb - eta * gb)):
            err = max(err, float(((new - ref).abs().max() / ref.abs().max()).detach()))
    return err


def lrua_least_used_ok(*, slots: int = 10, width: int = 6, heads: int = 2, B: int = 5, seed: int = 0) -> float:
    """(d): with random usage and sigma(alpha) ~ 0 every head writes with weight 1 to each of the ``heads``
    least-used slots (from the previous usage; MANN's w_lu is 1 on the n = #reads smallest, not normalised)
    and the single least-used slot is zeroed first.
    Returns 1.0 if both hold for every episode, else 0.0."""
    g = torch.Generator().manual_seed(seed)
    mem = LRUAMemory(slots, width, heads)
    st = mem.initial(B, like=torch.zeros(()))
    st.M = torch.randn(B, slots, width, generator=g)
    st.w_u = torch.rand(B, slots, generator=g)
    st.w_r = torch.softmax(torch.randn(B, heads, slots, generator=g), -1)
    keys = torch.randn(B, heads, width, generator=g)
    a = torch.randn(B, heads, width, generator=g)
    _, new, w_w = mem.step(st, keys, a, torch.full((B, heads), -50.0))
    lu = st.w_u.topk(heads, largest=False).indices.sort(-1).values                     # (B, heads)
    top = w_w.topk(heads, dim=-1).indices.sort(-1).values                              # (B, heads, heads)
    goes_to_lu = bool((top == lu.unsqueeze(1)).all()) and bool(torch.allclose(w_w.sum(-1), torch.full((B, heads), float(heads))))
    i0 = st.w_u.argmin(-1)
    expect = a.sum(1)  # slot i0 was zeroed, then received every head's full write
    zeroed = torch.allclose(new.M[torch.arange(B), i0], expect, atol=1e-5)
    same_lu = bool((least_used(st.w_u, heads).nonzero()[:, 1].view(B, heads) == lu).all())
    return float(goes_to_lu and zeroed and same_lu)


def toy_sg_cosine(*, steps: int = 200, in_dim: int = 10, out_dim: int = 5, batch: int = 64, lr: float = 1e-2,
                  seed: int = 0) -> float:
    """(c): fixed toy controller u = A x, loss 0.5 ||u - y||^2 with y = C x (true gradient u - y); an S module
    conditioned on y is regressed onto the true gradient for ``steps`` Adam steps; returns the mean cosine
    of its predictions with the true gradients on fresh inputs."""
    g = torch.Generator().manual_seed(seed)
    A, C = torch.randn(out_dim, in_dim, generator=g), torch.randn(out_dim, in_dim, generator=g)
    torch.manual_seed(seed)  # S's initialisation
    S = SyntheticGradient(out_dim, cond_dim=out_dim, hidden=128)
    opt = torch.optim.Adam(S.parameters(), lr=lr)

    def draw(n):
        x = torch.randn(n, in_dim, generator=g)
        u = (x @ A.T).requires_grad_(True)
        y = x @ C.T
        (gt,) = torch.autograd.grad(0.5 * (u - y).pow(2).sum(), u)
        return u.detach(), y, gt

    for _ in range(steps):
        u, y, gt = draw(batch)
        opt.zero_grad()
        torch.nn.functional.mse_loss(S(u, y), gt).backward()
        opt.step()
    u, y, gt = draw(1000)
    with torch.no_grad():
        return float(torch.nn.functional.cosine_similarity(S(u, y), gt, dim=-1).mean())
