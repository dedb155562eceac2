"""NoProp-DT (paper Eqs. 3 and 8) and the back-prop baseline built from the same blocks.

``NoPropDT`` holds T denoising blocks ``u_hat_1..u_hat_T``, the class-embedding matrix
``W_embed`` (C, d) and the linear classifier ``p_theta_out(y | z) = softmax(W_out z + b)``.
Each block is trained by its own local loss :meth:`NoPropDT.block_loss` (Eq. 8); no gradient
flows between blocks. :class:`BackpropBaseline` chains the very same blocks as at inference and is
trained end to end by back-prop on the class logits of its last block.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.papers.noprop.blocks import DenoiseBlockCNN
from paperzoo.papers.noprop.schedules import cosine_alpha_bar, dt_coefficients, snr
from paperzoo.registry import register_model

EMBEDDINGS = ("onehot", "learned", "prototype")


def _randn(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        return torch.randn_like(like)
    return torch.randn(like.shape, generator=generator, device=generator.device, dtype=like.dtype).to(like.device)


class DiffusionChain(nn.Module):
    """What NoProp-DT and its back-prop baseline share: T blocks, the class embeddings, the schedule
    and the inference chain (Eq. 3). Subclasses say how the chain's end becomes class logits (``head``).

    Args:
        block_factory: ``() -> nn.Module`` called T times; a block maps ``(x, z)`` (z: (B, d)) to
            class logits (B, C). Blocks exposing ``emb_dim`` / ``num_classes`` are checked against the model.
        T: number of blocks / diffusion steps (paper DT default 10).
        num_classes: C.
        emb: ``"onehot"`` (``W_embed = I``, fixed, d = C; the card's CPU setting), ``"learned"``
            (trainable, d = ``emb_dim``, rows drawn N(0, 1/d); the init is ours, the paper's is not
            recovered) or ``"prototype"`` (trainable, initialised from ``prototypes``: one training
            input per class, d = its size; see :func:`class_prototypes`).
        alpha_bar: schedule, shape (T + 1,), default :func:`cosine_alpha_bar` (card's clip).
    """

    def __init__(self, block_factory: Callable[[], nn.Module], *, T: int = 10, num_classes: int, emb: str = "onehot",
                 emb_dim: int | None = None, prototypes: torch.Tensor | None = None,
                 alpha_bar: torch.Tensor | None = None):
        super().__init__()
        if not isinstance(T, int) or isinstance(T, bool) or T < 1:
            raise ValueError(f"T (number of blocks) must be an int >= 1, got {T!r}")
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        if emb not in EMBEDDINGS:
            raise ValueError(f"unknown embedding kind emb={emb!r}; choose one of {EMBEDDINGS}")
        self.T, self.num_classes, self.emb = T, num_classes, emb
        if emb == "onehot":
            self.register_buffer("W_embed", torch.eye(num_classes))
        elif emb == "learned":
            if not isinstance(emb_dim, int) or emb_dim < 1:
                raise ValueError(f"emb='learned' needs emb_dim, a positive int; got {emb_dim!r}")
            self.W_embed = nn.Parameter(torch.randn(num_classes, emb_dim) / math.sqrt(emb_dim))
        else:
            if not isinstance(prototypes, torch.Tensor) or len(prototypes) != num_classes:
                raise ValueError(f"emb='prototype' needs prototypes, a tensor with one input per class "
                                 f"({num_classes} rows); got {getattr(prototypes, 'shape', prototypes)!r}")
            self.W_embed = nn.Parameter(prototypes.detach().flatten(1).float().clone())
        self.emb_dim = int(self.W_embed.shape[1])
        ab = cosine_alpha_bar(T) if alpha_bar is None else torch.as_tensor(alpha_bar, dtype=torch.float64)
        if tuple(ab.shape) != (T + 1,):
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
            for attr, want in (("emb_dim", self.emb_dim), ("num_classes", num_classes)):
                if getattr(blk, attr, want) != want:
                    raise ValueError(f"block {i + 1} has {attr}={getattr(blk, attr)}, but the model needs {want} "
                                     f"(emb={emb!r})")

    def check_t(self, t: int) -> int:
        if not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= self.T:
            raise ValueError(f"block index t must be an int in 1..T = 1..{self.T}, got {t!r}")
        return t

    @staticmethod
    def check_x(x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim < 2:
            raise ValueError(f"x must be a float tensor with a batch dimension, got "
                             f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")
        if not torch.isfinite(x).all():
            raise ValueError("x contains NaN or inf")

    def u_hat(self, t: int, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Block t's estimate of the clean embedding: ``softmax(block_t(x, z)) @ W_embed``, (B, d)."""
        return F.softmax(self.blocks[self.check_t(t) - 1](x, z), dim=-1) @ self.W_embed

    def chain(self, x: torch.Tensor, stochastic: bool = True,
              generator: torch.Generator | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The inference chain (Eq. 3) in the module's current mode, with gradients:
        ``z_0 ~ N(0, I)``, ``z_t = a_t u_hat_t(z_{t-1}, x) + b_t z_{t-1} + sqrt(c_t) eps_t``, t = 1..T.

        ``stochastic=False`` is the deterministic variant: ``z_0 = 0`` and ``eps_t = 0`` (the means).
        Returns ``([z_0, ..., z_T], logits of block T)``; each z_t is (B, d), the logits (B, C).
        """
        self.check_x(x)
        z = x.new_zeros(x.shape[0], self.emb_dim)
        if stochastic:
            z = _randn(z, generator)
        path = [z]
        for t in range(1, self.T + 1):
            logits = self.blocks[t - 1](x, z)
            z = self.coef_a[t - 1] * (F.softmax(logits, dim=-1) @ self.W_embed) + self.coef_b[t - 1] * z
            if stochastic:
                z = z + self.coef_c[t - 1].sqrt() * _randn(z, generator)
            path.append(z)
        return path, logits

    def head(self, path: list[torch.Tensor], last_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, stochastic: bool = True, generator: torch.Generator | None = None):
        """Class logits (B, C) at the end of a sampled chain, with gradients (the module's mode)."""
        return self.head(*self.chain(x, stochastic, generator))

    def _eval(self, fn):
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                return fn()
        finally:
            self.train(was)

    def sample_path(self, x: torch.Tensor, stochastic: bool = True,
                    generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """``[z_0, ..., z_T]`` of the inference chain (eval mode, no grad; the mode is restored)."""
        return self._eval(lambda: self.chain(x, stochastic, generator)[0])

    def predict(self, x: torch.Tensor, stochastic: bool = True,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Class logits (B, C) after the inference chain; argmax is the prediction (eval mode, no grad)."""
        return self._eval(lambda: self.forward(x, stochastic, generator))


class NoPropDT(DiffusionChain):
    """NoProp, discrete time (Li, Teh & Pascanu 2025): T blocks, each trained by its own Eq. 8 loss;
    the prediction is ``argmax softmax(W_out z_T + b)``. ``eta`` (paper default 0.1) scales the
    denoising term. See :class:`DiffusionChain` for the other arguments.
    """

    def __init__(self, block_factory: Callable[[], nn.Module], *, T: int = 10, num_classes: int, emb: str = "onehot",
                 eta: float = 0.1, emb_dim: int | None = None, prototypes: torch.Tensor | None = None,
                 alpha_bar: torch.Tensor | None = None):
        super().__init__(block_factory, T=T, num_classes=num_classes, emb=emb, emb_dim=emb_dim,
                         prototypes=prototypes, alpha_bar=alpha_bar)
        if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
            raise ValueError(f"eta must be a positive finite number, got {eta!r}")
        self.eta = float(eta)
        self.classifier = nn.Linear(self.emb_dim, num_classes)

    def head(self, path: list[torch.Tensor], last_logits: torch.Tensor) -> torch.Tensor:
        return self.classifier(path[-1])

    def block_loss(self, t: int, x: torch.Tensor, y: torch.Tensor, return_parts: bool = False):
        """Eq. 8 for block t (1..T); its gradient touches only theta_t, theta_out and W_embed.

        ``L_t = CE(p_out(. | z_T), y) + KL(q(z_0|y) || N(0, I))
        + (T/2) eta (SNR(t) - SNR(t-1)) ||u_hat_t(z_{t-1}, x) - u_y||^2``, batch-averaged, with
        ``z_T ~ q(z_T | y)`` and ``z_{t-1} ~ q(z_{t-1} | y)`` drawn fresh (in this order; no forward chain).
        Shapes: x as the block takes it (B, ...), y (B,) int -> scalar (or a dict of parts).
        """
        t = self.check_t(t)
        self.check_x(x)
        if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int64, torch.int32) or tuple(y.shape) != x.shape[:1]:
            raise ValueError(f"y must be an integer tensor of shape ({x.shape[0]},), got "
                             f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}")
        if int(y.min()) < 0 or int(y.max()) >= self.num_classes:
            raise ValueError(f"labels y must lie in 0..{self.num_classes - 1}, got [{int(y.min())}, {int(y.max())}]")
        ab, d = self.alpha_bar, self.emb_dim
        u = self.W_embed[y]
        z_T = ab[self.T].sqrt() * u + (1 - ab[self.T]).sqrt() * torch.randn_like(u)
        ce = F.cross_entropy(self.classifier(z_T), y.long())
        a0 = ab[0]
        kl = 0.5 * (a0 * u.pow(2).sum(1) + d * (1 - a0) - d - d * torch.log(1 - a0)).mean()
        z_prev = ab[t - 1].sqrt() * u + (1 - ab[t - 1]).sqrt() * torch.randn_like(u)
        mse = (self.u_hat(t, x, z_prev) - u).pow(2).sum(1).mean()
        weight = 0.5 * self.T * self.eta * self.snr_gap[t - 1]
        loss = ce + kl + weight * mse
        if return_parts:
            return {"loss": loss, "ce": ce, "kl": kl, "mse": mse, "weight": weight}
        return loss


class BackpropBaseline(DiffusionChain):
    """The back-prop comparison: the same T blocks chained as at inference (Eq. 3, sampled z_0 and
    eps_t), trained end to end by back-prop on the cross-entropy of the **last block's class logits**
    (whose softmax weights the class embeddings into u_hat_T). Class k is tied to logit k, so the
    chain cannot send two classes to one embedding vertex (a free classifier on z_T allowed that: 6 of
    10 classes, 60.6% on MNIST, in an earlier version). ``forward(x)`` returns those logits (B, C).
    """

    def head(self, path: list[torch.Tensor], last_logits: torch.Tensor) -> torch.Tensor:
        return last_logits


def class_prototypes(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One representative training input per class: the one closest (L2) to its class mean.

    The paper's "prototype" embedding uses one image per class; how it is chosen was not
    recovered, this rule is ours. Shapes: x (N, ...), y (N,) -> (num_classes, ...).
    """
    flat = x.flatten(1).double()
    onehot = F.one_hot(y, num_classes).double()  # (N, C)
    counts = onehot.sum(0)
    if (counts == 0).any():
        raise ValueError(f"class_prototypes: class {int((counts == 0).nonzero()[0])} has no sample in y")
    means = (onehot.T @ flat) / counts[:, None]  # (C, D)
    dist = (flat - means[y]).pow(2).sum(1)  # each sample's distance to its own class mean
    dist = torch.where(onehot.bool(), dist[:, None], torch.inf)  # (N, C)
    return x[dist.argmin(0)]


@register_model("noprop_chain_cnn", task=("mnist", "cifar10"), knob="width")
def noprop_chain_cnn(in_chans: int = 1, num_classes: int = 10, *, width: int = 32, T: int = 10, image_size: int = 28,
                     dropout: float = 0.2) -> BackpropBaseline:
    """T = 10 NoProp-DT CNN blocks chained as at inference, one-hot embeddings; ``forward(x)`` -> logits.

    Trained end to end by back-prop (``paperzoo.train.fit``) this is the paper's back-prop comparison;
    to train the same blocks by NoProp build :class:`NoPropDT` and use ``NoPropLearner``. ``width`` sets
    conv widths (w, 2w, 4w) and FC widths (8w, 4w); the default 32 is the paper's Fig. 6 block.
    ``image_size=32`` with ``in_chans=3`` for CIFAR-10.
    """
    block = lambda: DenoiseBlockCNN(in_chans, num_classes, num_classes, widths=(width, 2 * width, 4 * width),  # noqa: E731
                                    fc=(8 * width, 4 * width), dropout=dropout, image_size=image_size)
    return BackpropBaseline(block, T=T, num_classes=num_classes)
