"""Unconstrained-feature model (UFM) with a deep linear head (Dang et al. 2023, official
``synthetic_experiment_balanced.py`` / ``synthetic_experiment_imbalanced.py``)."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from paperzoo.papers.neural_collapse.closed_form import ImbalancedOptimum, imbalanced_mse_optimum
from paperzoo.papers.neural_collapse.metrics import deep_linear_nc_metrics

__all__ = ["UFMDeepLinear", "fit_sgd_stacked", "stacked_loss_and_grads"]


class UFMDeepLinear(nn.Module):
    """Free features H (d x N) followed by M linear layers W_1 (d x d) ... W_M (K x d), MSE loss:

        L = 1/(2N) ||W_M ... W_1 H (+ b 1^T) - Y||_F^2 + (lambda_W / 2) sum_m ||W_m||_F^2 + (lambda_H / 2) ||H||_F^2

    (exactly the official ``SyntheticModel.forward``; the optional last-layer bias b (K,) is not
    regularised). Y (K x N) is one-hot; the columns of H are grouped by class, n_per_class[k] columns
    for class k. H and every W_m are drawn from N(0, init_std^2), init_std = 0.1 as in the code.
    Defaults lambda_W = lambda_H = 5e-4 (official ``--weight_decay``/``--feature_decay``).

    Args: n_per_class (K,) counts; d feature dimension (official ``--hidden``, 64); depth M >= 1;
    bias: last-layer bias; lambda_w, lambda_h; init_std.
    """

    def __init__(self, n_per_class: Sequence[int], d: int, depth: int, bias: bool = False, lambda_w: float = 5e-4,
                 lambda_h: float = 5e-4, init_std: float = 0.1):
        super().__init__()
        n = [int(v) for v in n_per_class]
        if len(n) < 2 or any(v <= 0 for v in n) or any(int(v) != v for v in n_per_class):
            raise ValueError(f"n_per_class must hold >= 2 positive integer counts, got {list(n_per_class)}")
        if not (isinstance(d, int) and d >= 1):
            raise ValueError(f"d must be a positive int, got {d!r}")
        if not (isinstance(depth, int) and depth >= 1):
            raise ValueError(f"depth must be an int >= 1, got {depth!r}")
        for name, lam in (("lambda_w", lambda_w), ("lambda_h", lambda_h)):
            if not (math.isfinite(lam) and lam >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {lam!r}")
        self.n_per_class, self.d, self.depth, self.K, self.N = tuple(n), d, depth, len(n), sum(n)
        self.lambda_w, self.lambda_h = float(lambda_w), float(lambda_h)
        self.register_buffer("labels", torch.repeat_interleave(torch.arange(self.K), torch.tensor(n)))
        self.H = nn.Parameter(torch.randn(d, self.N) * init_std)
        dims = [d] * depth + [self.K]
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(o, i) * init_std) for i, o in zip(dims[:-1], dims[1:]))
        self.bias = nn.Parameter(torch.zeros(self.K)) if bias else None

    @property
    def Y(self) -> torch.Tensor:
        """One-hot targets (K, N)."""
        return torch.nn.functional.one_hot(self.labels, self.K).T.to(self.H.dtype)

    def forward(self) -> torch.Tensor:
        """Outputs W_M ... W_1 H (+ b 1^T), shape (K, N). The product is formed from the left
        (K x d matrices, O(K d^2 M + K d N) flops instead of O(d^2 N M) for layer-by-layer)."""
        Z = self.product() @ self.H
        return Z if self.bias is None else Z + self.bias[:, None]

    def loss(self) -> torch.Tensor:
        """The exact objective L of the class docstring (a scalar)."""
        fit = (self() - self.Y).square().sum() / (2 * self.N)
        reg_w = self.lambda_w / 2 * sum(W.square().sum() for W in self.weights)
        return fit + reg_w + self.lambda_h / 2 * self.H.square().sum()

    def product(self) -> torch.Tensor:
        """The end-to-end classifier W = W_M ... W_1, shape (K, d)."""
        P = self.weights[-1]
        for W in reversed(list(self.weights)[:-1]):
            P = P @ W
        return P

    @torch.no_grad()
    def layer_features(self) -> list[torch.Tensor]:
        """Features entering each layer m = 1..M, each (N, d): H^T, (W_1 H)^T, ..."""
        out, Z = [], self.H
        for W in self.weights:
            out.append(Z.T.clone())
            Z = W @ Z
        return out

    def optimum(self) -> ImbalancedOptimum:
        """Closed-form optimum for this model's counts, depth and decays (bias-free MSE)."""
        return imbalanced_mse_optimum(self.n_per_class, self.depth, self.lambda_w, self.lambda_h)

    def default_target(self) -> str:
        if self.bias is not None:
            return "etf"
        return "orthogonal" if len(set(self.n_per_class)) == 1 else "imbalanced"

    @torch.no_grad()
    def metrics(self, target: str | None = None) -> list[dict[str, float]]:
        """NC metrics at every layer (``deep_linear_nc_metrics``); ``target`` defaults to the geometry
        the theory predicts: ETF with bias, orthogonal frame balanced, closed form imbalanced."""
        target = target or self.default_target()
        pred = self.optimum() if target == "imbalanced" else None
        return deep_linear_nc_metrics(self.layer_features(), [W.detach() for W in self.weights], self.labels,
                                      num_classes=self.K, target=target, predicted=pred)

    def fit(self, steps: int = 30_000, lr: float = 0.1, momentum: float = 0.9,
            callback: Callable[[int, float], None] | None = None, every: int = 1000) -> list[float]:
        """Full-batch SGD with momentum on ``loss()`` (official: 30,000 iterations, lr 0.1, momentum 0.9).

        Returns the loss every ``every`` steps; ``callback(step, loss)`` is called at the same times.
        Raises ``FloatingPointError`` if the loss becomes NaN/inf.
        """
        if steps < 0 or lr <= 0 or not (0 <= momentum < 1):
            raise ValueError(f"need steps >= 0, lr > 0, 0 <= momentum < 1; got {steps}, {lr}, {momentum}")
        opt = torch.optim.SGD(self.parameters(), lr=lr, momentum=momentum)
        hist = []
        for step in range(1, steps + 1):
            opt.zero_grad(set_to_none=True)
            loss = self.loss()
            loss.backward()
            opt.step()
            if step % every == 0 or step == steps:
                v = float(loss.detach())
                if not math.isfinite(v):
                    raise FloatingPointError(f"UFMDeepLinear.fit: loss is {v} at step {step}; lower lr")
                hist.append(v)
                if callback is not None:
                    callback(step, v)
        return hist

    def fit_lbfgs(self, max_iter: int = 500, tolerance_grad: float = 1e-12, tolerance_change: float = 1e-15,
                  history_size: int = 50) -> float:
        """Minimise ``loss()`` with L-BFGS (strong-Wolfe line search) in float64; converts the module to
        float64 in place and returns the final loss. Not in the official code (there: SGD only); used to
        reach the global minimiser to ~1e-8 in seconds."""
        self.double()
        opt = torch.optim.LBFGS(self.parameters(), lr=1.0, max_iter=max_iter, tolerance_grad=tolerance_grad,
                                tolerance_change=tolerance_change, history_size=history_size,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad(set_to_none=True)
            loss = self.loss()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            return float(self.loss())


def stacked_loss_and_grads(H: torch.Tensor, Ws: Sequence[torch.Tensor], b: torch.Tensor, Y: torch.Tensor,
                           lambda_w: torch.Tensor, lambda_h: torch.Tensor):
    """Per-model losses (B,) and analytic gradients of the UFM objective for B stacked models.

    H (B, d, N), Ws[m-1] = W_m (B, out, in), b (B, K, 1) (zeros for bias-free models), Y (B, K, N),
    lambda_w, lambda_h (B,). With P = W_M ... W_1, G = (P H + b - Y) / N:
        dL/dH = P^T G + lambda_H H,   dL/db = G 1,
        dL/dW_m = (W_M ... W_(m+1))^T (G H^T) (W_(m-1) ... W_1)^T + lambda_W W_m.
    """
    M, N = len(Ws), H.shape[-1]
    left = [None] * M  # left[m-1] = W_M ... W_(m+1) (None = identity)
    for m in range(M - 2, -1, -1):
        left[m] = Ws[m + 1] if left[m + 1] is None else left[m + 1] @ Ws[m + 1]
    right = [None] * M  # right[m-1] = W_(m-1) ... W_1
    for m in range(1, M):
        right[m] = Ws[m - 1] if right[m - 1] is None else Ws[m - 1] @ right[m - 1]
    P = Ws[0] if left[0] is None else left[0] @ Ws[0]
    R = P @ H + b - Y
    lw, lh = lambda_w[:, None, None], lambda_h[:, None, None]
    loss = (R.square().sum((1, 2)) / (2 * N) + lambda_w / 2 * sum(W.square().sum((1, 2)) for W in Ws)
            + lambda_h / 2 * H.square().sum((1, 2)))
    G = R / N
    A = G @ H.transpose(1, 2)  # (B, K, d)
    gW = []
    for m in range(M):
        g = A if left[m] is None else left[m].transpose(1, 2) @ A
        g = g if right[m] is None else g @ right[m].transpose(1, 2)
        gW.append(g + lw * Ws[m])
    gH = P.transpose(1, 2) @ G + lh * H
    return loss, gH, gW, G.sum(-1, keepdim=True)


def fit_sgd_stacked(models: Sequence[UFMDeepLinear], steps: int = 30_000, lr: float = 0.1, momentum: float = 0.9,
                    callback: Callable[[int, list[float]], None] | None = None, every: int = 1000) -> list[list[float]]:
    """``UFMDeepLinear.fit`` for several independent models at once (vectorised over a batch dim).

    The models must share depth, d, K and N (counts, bias and decays may differ). Their parameters are
    stacked into (B, ...) tensors and the *sum* of their losses is minimised by one SGD-with-momentum
    optimizer: each model's gradient and update are exactly its own, so this equals calling ``fit`` on
    each (up to float summation order). Gradients are analytic (``stacked_loss_and_grads``, checked
    against autograd in the tests), which removes the autograd overhead. Results are written back.
    Returns the per-model losses every ``every`` steps; ``callback(step, losses)`` is called then, after
    the current parameters were copied into ``models``.
    """
    if not models:
        raise ValueError("models is empty")
    m0 = models[0]
    for m in models:
        if (m.depth, m.d, m.K, m.N) != (m0.depth, m0.d, m0.K, m0.N):
            raise ValueError(f"stacked models must share (depth, d, K, N); got {(m.depth, m.d, m.K, m.N)} "
                             f"and {(m0.depth, m0.d, m0.K, m0.N)}")
    if steps < 0 or lr <= 0 or not (0 <= momentum < 1):
        raise ValueError(f"need steps >= 0, lr > 0, 0 <= momentum < 1; got {steps}, {lr}, {momentum}")
    dt, dev = m0.H.dtype, m0.H.device
    H = torch.stack([m.H.detach() for m in models])  # (B, d, N)
    Ws = [torch.stack([m.weights[i].detach() for m in models]) for i in range(m0.depth)]
    has_b = torch.tensor([m.bias is not None for m in models], dtype=dt, device=dev)[:, None, None]
    b = torch.stack([m.bias.detach() if m.bias is not None else torch.zeros(m0.K, dtype=dt, device=dev)
                     for m in models])
    b = b[:, :, None].clone()  # (B, K, 1); its gradient is masked to 0 where has_b = 0
    Y = torch.stack([m.Y for m in models])  # (B, K, N)
    lw = torch.tensor([m.lambda_w for m in models], dtype=dt, device=dev)
    lh = torch.tensor([m.lambda_h for m in models], dtype=dt, device=dev)
    params = [H, *Ws, b]
    bufs = [torch.zeros_like(p) for p in params]
    hist: list[list[float]] = []
    for step in range(1, steps + 1):
        per, gH, gW, gb = stacked_loss_and_grads(H, Ws, b, Y, lw, lh)
        grads = [gH, *gW, gb * has_b]
        # torch.optim.SGD(momentum, dampening=0): buf = momentum * buf + grad; p -= lr * buf
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_add_(bufs, grads)
        torch._foreach_add_(params, bufs, alpha=-lr)
        if step % every == 0 or step == steps:
            v = per.tolist()
            if not all(math.isfinite(x) for x in v):
                raise FloatingPointError(f"fit_sgd_stacked: loss {v} at step {step}; lower lr")
            hist.append(v)
            if callback is not None:
                _write_back(models, H, Ws, b)
                callback(step, v)
    _write_back(models, H, Ws, b)
    return hist


@torch.no_grad()
def _write_back(models, H, Ws, b) -> None:
    for i, m in enumerate(models):
        m.H.copy_(H[i])
        for j, W in enumerate(Ws):
            m.weights[j].copy_(W[i])
        if m.bias is not None:
            m.bias.copy_(b[i, :, 0])
