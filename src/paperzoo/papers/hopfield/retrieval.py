"""Parameter-free Hopfield retrieval: the continuous modern Hopfield energy and its CCCP update
(Ramsauer et al. 2021, Sec. 2, Thms 1-5), the classical binary Hopfield net used as the baseline, and
``fixed_point_type``, which tells the paper's three regimes of beta apart (global / metastable / single).

Conventions: the paper writes the stored patterns as columns of X in R^{d x N}; here, as in every
PyTorch API, they are the ROWS of ``X`` with shape (N, d). A state ``xi`` has shape (..., d); every
function is vectorised over the leading dims, so S queries are one matrix product.
"""
from __future__ import annotations

import math

import torch

Beta = float | torch.Tensor


def _check_beta(beta: Beta, name: str = "beta") -> float | torch.Tensor:
    if isinstance(beta, torch.Tensor):
        if beta.numel() != 1:
            raise ValueError(f"{name} must be a positive scalar, got a tensor of shape {tuple(beta.shape)}")
        if not beta.is_floating_point():
            raise TypeError(f"{name} must be a floating-point scalar, got dtype {beta.dtype}")
        value = float(beta.detach())
    elif isinstance(beta, (int, float)) and not isinstance(beta, bool):
        value = float(beta)
    else:
        raise TypeError(f"{name} must be a positive float, got {type(beta).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive and finite (inverse temperature), got {value}")
    return beta if isinstance(beta, torch.Tensor) else value


def _check_float(t: torch.Tensor, name: str, min_dim: int = 1) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (float32/float64), got dtype {t.dtype}; "
                        f"convert with .float()")
    if t.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dims, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")


def check_patterns(xi: torch.Tensor, X: torch.Tensor, beta: Beta) -> float | torch.Tensor:
    """Validate a (state, stored patterns, beta) triple; returns beta. Errors name the argument."""
    _check_float(X, "X (stored patterns)", 2)
    if X.dim() != 2:
        raise ValueError(f"X (stored patterns) must have shape (N, d), got {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise ValueError("X (stored patterns) must hold at least one pattern (N >= 1)")
    _check_float(xi, "xi (state)", 1)
    if xi.shape[-1] != X.shape[-1]:
        raise ValueError(f"xi (state) has d={xi.shape[-1]} but X (stored patterns) has d={X.shape[-1]}; "
                         f"X is (N, d) -- pass X.T if you hold the paper's d x N layout")
    if xi.dtype != X.dtype:
        raise TypeError(f"xi (state) is {xi.dtype} but X (stored patterns) is {X.dtype}; use one dtype")
    return _check_beta(beta)


def lse(beta: Beta, z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """lse(beta, z) = beta^-1 log sum_i exp(beta z_i) (the paper's log-sum-exp), stable."""
    return torch.logsumexp(beta * z, dim=dim) / beta


def energy(xi: torch.Tensor, X: torch.Tensor, beta: Beta) -> torch.Tensor:
    """Continuous modern Hopfield energy (paper Sec. 2, eq. of E):

    E(xi) = -lse(beta, X^T xi) + 1/2 xi^T xi + beta^-1 log N + 1/2 M^2,  M = max_i ||x_i||.

    xi: (..., d) states; X: (N, d) stored patterns (rows). Returns (...,).
    """
    beta = check_patterns(xi, X, beta)
    n = X.shape[0]
    m = X.norm(dim=-1).max()
    return -lse(beta, xi @ X.T) + 0.5 * (xi * xi).sum(-1) + math.log(n) / beta + 0.5 * m * m


def update(xi: torch.Tensor, X: torch.Tensor, beta: Beta, steps: int = 1) -> torch.Tensor:
    """The CCCP update on E, applied ``steps`` times (paper eq. "xi_new = X softmax(beta X^T xi)"):

    xi_new = X softmax(beta X^T xi)   (softmax over the N stored patterns).

    Thm 1-2: E(xi_new) <= E(xi) and the iterates converge to a stationary point of E.
    xi: (..., d); X: (N, d). Returns (..., d).
    """
    beta = check_patterns(xi, X, beta)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    for _ in range(steps):
        xi = torch.softmax(beta * (xi @ X.T), dim=-1) @ X
    return xi


def association(xi: torch.Tensor, X: torch.Tensor, beta: Beta) -> torch.Tensor:
    """The softmax weights p = softmax(beta X^T xi) over the N stored patterns: (..., N)."""
    beta = check_patterns(xi, X, beta)
    return torch.softmax(beta * (xi @ X.T), dim=-1)


def separation(X: torch.Tensor) -> torch.Tensor:
    """Separation of each stored pattern (paper Def. before Thm 4):
    Delta_i = x_i^T x_i - max_{j != i} x_i^T x_j. X: (N, d) -> (N,)."""
    _check_float(X, "X (stored patterns)", 2)
    if X.dim() != 2 or X.shape[0] < 2:
        raise ValueError(f"X (stored patterns) must be (N, d) with N >= 2, got {tuple(X.shape)}")
    g = X @ X.T
    diag = g.diagonal().clone()
    off = g - torch.diag_embed(torch.full_like(diag, float("inf")))
    return diag - off.max(dim=-1).values


# ---------------------------------------------------------------- classical (binary) Hopfield net
def hebbian_weights(X: torch.Tensor) -> torch.Tensor:
    """Classical Hebbian weights W = sum_i x_i x_i^T with zero diagonal (Hopfield 1982). X: (N, d) -> (d, d)."""
    _check_float(X, "X (stored patterns)", 2)
    if X.dim() != 2:
        raise ValueError(f"X (stored patterns) must have shape (N, d), got {tuple(X.shape)}")
    W = X.T @ X
    return W - torch.diag_embed(W.diagonal())


def classical_retrieve(W: torch.Tensor, s: torch.Tensor, max_steps: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Synchronous sign updates s <- sgn(W s) until no unit changes (or ``max_steps``), all queries at once
    (official blog Eq. 2 with b = 0; the convergence rule "xi^{t+1} = xi^t").

    A unit with zero local field keeps its state. W: (d, d); s: (S, d) initial states (entries in
    {-1, 0, +1} allowed). Returns (final states (S, d), per-query converged flag (S,)).
    Synchronous dynamics may end in a 2-cycle; those queries report converged=False.
    """
    _check_float(W, "W (weights)", 2)
    _check_float(s, "s (state)", 1)
    if W.dim() != 2 or W.shape[0] != W.shape[1] or s.shape[-1] != W.shape[0]:
        raise ValueError(f"W must be (d, d) and s (..., d); got W {tuple(W.shape)}, s {tuple(s.shape)}")
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    lead = s.shape[:-1]
    s = s.reshape(-1, s.shape[-1]).clone()
    done = torch.zeros(s.shape[0], dtype=torch.bool, device=s.device)
    active = torch.arange(s.shape[0], device=s.device)  # queries neither at a fixed point nor in a 2-cycle
    prev = None
    for _ in range(max_steps):
        cur = s[active]
        h = cur @ W.T  # (W s) for every query at once
        new = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, cur)).to(s.dtype)
        fixed = (new == cur).all(-1)
        cycling = (new == prev).all(-1) if prev is not None else torch.zeros_like(fixed)
        s[active] = new
        done[active] = fixed
        keep = ~(fixed | cycling)
        active, prev = active[keep], cur[keep]
        if active.numel() == 0:
            break
    s, done = s.reshape(*lead, -1), done.reshape(lead)
    return s, done


# ---------------------------------------------------------------- fixed-point type (Sec. 2, the three beta regimes)
def fixed_point_type_name(k: int, n: int) -> str:
    """"single" (k = 1), "global" (k = N: every pattern above the threshold), else "metastable(k)"."""
    if k <= 1:
        return "single"
    if k >= n:
        return "global"
    return f"metastable({k})"


@torch.no_grad()
def fixed_point_type(X: torch.Tensor, beta: Beta, xi: torch.Tensor, *, threshold: float | None = None,
                     max_steps: int = 100, tol: float = 1e-6) -> dict:
    """Classify the fixed point reached from ``xi`` under xi <- X softmax(beta X^T xi) (paper Sec. 2:
    small beta -> the global average, medium -> a metastable average of k patterns, large -> one pattern).

    Iterates the CCCP update until every query moves by <= tol (1 + ||xi||) or ``max_steps``, then counts
    the patterns whose softmax weight exceeds ``threshold`` (default half the uniform share, 1/(2N); the
    card's rule). A plain function on patterns, not a model probe.
    X: (N, d) stored patterns (rows); xi: (d,) or (S, d) queries. Returns {"type": str or list[str],
    "k": LongTensor (number of patterns above the threshold), "weights": (..., N) softmax weights at the
    fixed point, "fixed_point": (..., d),
    "steps": iterations used, "converged": bool tensor}.
    """
    beta = check_patterns(xi, X, beta)
    if xi.dim() > 2:
        raise ValueError(f"xi must be (d,) or (S, d), got shape {tuple(xi.shape)}")
    n = X.shape[0]
    thr = 1.0 / (2 * n) if threshold is None else float(threshold)
    if not 0.0 < thr < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {thr}")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    state = xi
    steps = 0
    while steps < max_steps:
        new = association(state, X, beta) @ X
        converged = (new - state).norm(dim=-1) <= tol * (1.0 + state.norm(dim=-1))
        state, steps = new, steps + 1
        if bool(converged.all()):
            break
    weights = association(state, X, beta)
    k = (weights > thr).sum(-1)
    types = fixed_point_type_name(int(k), n) if k.dim() == 0 else [fixed_point_type_name(int(j), n) for j in k]
    return {"type": types, "k": k, "weights": weights, "fixed_point": state, "steps": steps,
            "converged": converged}
