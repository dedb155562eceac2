"""NoProp-DT (paper Eqs. 3 and 8) and the back-prop baseline that chains the same blocks.

``NoPropDT`` holds T denoising blocks ``u_hat_1..u_hat_T``, the class-embedding matrix
``W_embed`` (C, d) and the linear classifier ``p_theta_out(y | z) = softmax(W_out z + b)``.
Each block is trained by its own local loss :meth:`NoPropDT.block_loss` (Eq. 8); no gradient
flows between blocks. :class:`BackpropBaseline` runs the very same chain end to end and is
trained by back-prop through it (the "back-prop, same block architecture" comparison).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.papers.noprop.schedules import cosine_alpha_bar, dt_coefficients, snr

EMBEDDINGS = ("onehot", "learned", "prototype")


def _randn(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        return torch.randn_like(like)
    return torch.randn(like.shape, generator=generator, device=generator.device, dtype=like.dtype).to(like.device)


class DiffusionChain(nn.Module):
    """The parts NoProp-DT and its back-prop baseline share: blocks, embeddings, schedule, classifier.

    Args:
        block_factory: ``() -> nn.Module`` called T times; a block maps ``(x, z)`` (z: (B, d)) to
            class logits (B, C). Blocks exposing ``emb_dim`` / ``n_classes`` are checked against the model.
        T: number of blocks / diffusion steps (paper DT default 10).
        n_classes: C.
        emb: ``"onehot"`` (``W_embed = I``, fixed, d = C; the card's CPU setting), ``"learned"``
            (trainable, d = ``emb_dim``, rows drawn N(0, 1/d); the init is ours, the paper's is not
            recovered) or ``"prototype"`` (trainable, initialised from ``prototypes``: one training
            input per class, d = its size; see :func:`class_prototypes`).
        alpha_bar: schedule, shape (T + 1,), default :func:`cosine_alpha_bar` (card's clip).
    """

    def __init__(self, block_factory: Callable[[], nn.Module], *, T: int = 10, n_classes: int, emb: str = "onehot",
                 emb_dim: int | None = None, prototypes: torch.Tensor | None = None,
                 alpha_bar: torch.Tensor | None = None):
        super().__init__()
        if not isinstance(T, int) or isinstance(T, bool) or T < 1:
            raise ValueError(f"T (number of blocks) must be an int >= 1, got {T!r}")
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
        if emb not in EMBEDDINGS:
            raise ValueError(f"unknown embedding kind emb={emb!r}; choose one of {EMBEDDINGS}")
        self.T, self.n_classes, self.emb = T, n_classes, emb
        if emb == "onehot":
            self.register_buffer("W_embed", torch.eye(n_classes))
        elif emb == "learned":
            if not isinstance(emb_dim, int) or emb_dim < 1:
                raise ValueError(f"emb='learned' needs emb_dim, a positive int; got {emb_dim!r}")
            self.W_embed = nn.Parameter(torch.randn(n_classes, emb_dim) / math.sqrt(emb_dim))
        else:
            if not isinstance(prototypes, torch.Tensor) or len(prototypes) != n_classes:
                raise ValueError(f"emb='prototype' needs prototypes, a tensor with one input per class "
                                 f"({n_classes} rows); got {getattr(prototypes, 'shape', prototypes)!r}")
            self.W_embed = nn.Parameter(prototypes.detach().flatten(1).float().clone())
        self.emb_dim = int(self.W_embed.shape[1])
        ab = cosine_alpha_bar(T) if alpha_bar is None else torch.as_tensor(alpha_bar, dtype=torch.float64)
        if ab.shape != (T + 1,):
            raise ValueError(f"alpha_bar must have shape (T + 1,) = ({T + 1},), got {tuple(ab.shape)}")
        a, b, c = dt_coefficients(ab)
        s = snr(ab)
        self.register_buffer("alpha_bar", ab.float())
        self.register_buffer("coef_a", a.float())
        self.register_buffer("coef_b", b.float())
        self.register_buffer("coef_c", c.float())
        self.register_buffer("snr_gap", (s[1:] - s[:-1]).float())  # SNR(t) - SNR(t-1), entry t-1
        self.blocks = nn.ModuleList(block_factory() for _ in range(T))
        for i, blk in enumerate(self.blocks):
            for attr, want in (("emb_dim", self.emb_dim), ("n_classes", n_classes)):
                got = getattr(blk, attr, want)
                if got != want:
                    raise ValueError(f"block {i + 1} has {attr}={got}, but the model needs {want} (emb={emb!r})")
        self.classifier = nn.Linear(self.emb_dim, n_classes)

    def _check_t(self, t: int) -> int:
        if not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= self.T:
            raise ValueError(f"block index t must be an int in 1..T = 1..{self.T}, got {t!r}")
        return t

    def _check_y(self, y: torch.Tensor, batch: int) -> None:
        if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int64, torch.int32) or y.shape != (batch,):
            raise ValueError(f"y must be an integer tensor of shape ({batch},), got "
                             f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.n_classes):
            raise ValueError(f"labels y must lie in 0..{self.n_classes - 1}, got range "
                             f"[{int(y.min())}, {int(y.max())}]")

    @staticmethod
    def _check_x(x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim < 2:
            raise ValueError(f"x must be a float tensor with a batch dimension, got "
                             f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")
        if not torch.isfinite(x).all():
            raise ValueError("x contains NaN or inf")

    def u_hat(self, t: int, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Block t's estimate of the clean embedding: ``softmax(block_t(x, z)) @ W_embed``, (B, d)."""
        return F.softmax(self.blocks[self._check_t(t) - 1](x, z), dim=-1) @ self.W_embed

    def sample_path(self, x: torch.Tensor, stochastic: bool = True,
                    generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Run the inference chain (Eq. 3): ``z_0 ~ N(0, I)``,
        ``z_t = a_t u_hat_t(z_{t-1}, x) + b_t z_{t-1} + sqrt(c_t) eps_t``, t = 1..T.

        ``stochastic=False`` is the deterministic variant: ``z_0 = 0`` and ``eps_t = 0`` (the means).
        Returns ``[z_0, ..., z_T]``, each (B, d). Runs in the module's current train/eval mode.
        """
        self._check_x(x)
        z = x.new_zeros(x.shape[0], self.emb_dim)
        if stochastic:
            z = _randn(z, generator)
        path = [z]
        for t in range(1, self.T + 1):
            z = self.coef_a[t - 1] * self.u_hat(t, x, z) + self.coef_b[t - 1] * z
            if stochastic:
                z = z + self.coef_c[t - 1].sqrt() * _randn(z, generator)
            path.append(z)
        return path

    def predict(self, x: torch.Tensor, stochastic: bool = True,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Class logits ``W_out z_T + b`` after the inference chain, (B, C); argmax is the prediction."""
        return self.classifier(self.sample_path(x, stochastic, generator)[-1])


class NoPropDT(DiffusionChain):
    """NoProp, discrete time (Li, Teh & Pascanu 2025): T blocks, each trained by its own Eq. 8 loss.

    ``eta`` (paper default 0.1) scales the denoising term. See :class:`DiffusionChain` for the rest.
    """

    def __init__(self, block_factory: Callable[[], nn.Module], *, T: int = 10, n_classes: int, emb: str = "onehot",
                 eta: float = 0.1, emb_dim: int | None = None, prototypes: torch.Tensor | None = None,
                 alpha_bar: torch.Tensor | None = None):
        super().__init__(block_factory, T=T, n_classes=n_classes, emb=emb, emb_dim=emb_dim, prototypes=prototypes,
                         alpha_bar=alpha_bar)
        if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
            raise ValueError(f"eta must be a positive finite number, got {eta!r}")
        self.eta = float(eta)

    def block_loss(self, t: int, x: torch.Tensor, y: torch.Tensor, return_parts: bool = False):
        """Eq. 8 for block t (1..T); its gradient touches only theta_t, theta_out and W_embed.

        ``L_t = CE(p_out(. | z_T), y) + KL(q(z_0|y) || N(0, I))
        + (T/2) eta (SNR(t) - SNR(t-1)) ||u_hat_t(z_{t-1}, x) - u_y||^2``, batch-averaged, with
        ``z_T ~ q(z_T | y)`` and ``z_{t-1} ~ q(z_{t-1} | y)`` drawn fresh (no forward chain).
        Shapes: x as the block takes it (B, ...), y (B,) int -> scalar (or a dict of parts).
        """
        t = self._check_t(t)
        self._check_x(x)
        self._check_y(y, x.shape[0])
        ab, d = self.alpha_bar, self.emb_dim
        u = self.W_embed[y]
        z_T = ab[self.T].sqrt() * u + (1 - ab[self.T]).sqrt() * torch.randn_like(u)
        ce = F.cross_entropy(self.classifier(z_T), y)
        a0 = ab[0]
        kl = 0.5 * (a0 * u.pow(2).sum(1) + d * (1 - a0) - d - d * torch.log(1 - a0)).mean()
        z_prev = ab[t - 1].sqrt() * u + (1 - ab[t - 1]).sqrt() * torch.randn_like(u)
        mse = (self.u_hat(t, x, z_prev) - u).pow(2).sum(1).mean()
        weight = 0.5 * self.T * self.eta * self.snr_gap[t - 1]
        loss = ce + kl + weight * mse
        if return_parts:
            return {"loss": loss, "ce": ce, "kl": kl, "mse": mse, "weight": weight}
        return loss

    def fit(self, data, epochs: int, opt: str = "adamw", **kwargs) -> list[dict]:
        """Convenience: ``NoPropLearner(self, optimizer=opt, ...).fit(data, epochs=epochs, ...)``.

        Keyword arguments go to :class:`NoPropLearner` (batch_size, lr, weight_decay, order) or to
        ``Learner.fit`` (eval_data, run_dir, resume, seed, progress). A new optimizer is made per call;
        to resume a run keep the learner and use ``run_dir`` / ``resume=True``.
        """
        from paperzoo.papers.noprop.learner import NoPropLearner

        lkeys = {"batch_size", "lr", "weight_decay", "order", "eval_seeds", "eval_deterministic", "eval_batch_size"}
        learner = NoPropLearner(self, optimizer=opt, **{k: v for k, v in kwargs.items() if k in lkeys})
        return learner.fit(data, epochs=epochs, **{k: v for k, v in kwargs.items() if k not in lkeys})


class BackpropBaseline(DiffusionChain):
    """The same T blocks chained as at inference (Eq. 3), trained end to end by back-prop.

    ``forward(x)`` samples a path (``z_0 ~ N(0, I)`` and the ``eps_t``) and returns the logits
    ``W_out z_T + b``; training minimises cross-entropy through the whole chain (the card's
    "back-prop baseline, same block architecture, BPTT through sampled paths").
    """

    def forward(self, x: torch.Tensor, stochastic: bool = True, generator: torch.Generator | None = None):
        return self.predict(x, stochastic, generator)


def class_prototypes(x: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """One representative training input per class: the one closest (L2) to its class mean.

    The paper's "prototype" embedding uses one image per class; how it is chosen was not
    recovered, this rule is ours. Shapes: x (N, ...), y (N,) -> (n_classes, ...).
    """
    flat = x.flatten(1)
    out = []
    for k in range(n_classes):
        xk = flat[y == k]
        if len(xk) == 0:
            raise ValueError(f"class_prototypes: class {k} has no sample in y")
        out.append(x[y == k][(xk - xk.mean(0)).pow(2).sum(1).argmin()])
    return torch.stack(out)
