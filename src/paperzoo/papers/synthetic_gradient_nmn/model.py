"""The neural memory network (NMN) with fast-updatable controllers and its synthetic-gradient modules.

Reconstructed (card): the paper's method section was not readable, so the NMN is a MANN (LSTM
controller + LRUA memory, Santoro et al. 2016) whose three *controllers* (read keys, write keys and
gates, output) are linear heads on the LSTM state, and the feedback path is one DNI synthetic-gradient
module per controller (Jaderberg et al. 2017).

Per step t of an episode (inputs x_t (B, D), targets y_t one-hot (B, C), y_{-1} = 0):
    h_t = LSTM([x_t, y_{t-1}, r_{t-1}])                         (MANN: label offset by one step)
    u_read = W_read h_t          -> read keys k_t (R x W)
    u_write = W_write h_t        -> write keys a_t (R x W), gate logits alpha_t (R)
    r_t = LRUA(k_t, a_t, alpha_t)                               (memory.py)
    u_out = W_out [h_t, r_t]     -> logits (classification) or outputs (regression)
    g_hat_c = S_c([u_c, y_t])                                   (DNI, label-conditioned; card)
    fast step, *after* the prediction at t (y_t is revealed then, as in the episode format):
    theta_c <- theta_c - eta_fast (du_c/dtheta_c)^T g_hat_c     (card "fast update"; exact for a linear head:
                                                                 dW -= eta g_hat x^T, db -= eta g_hat)
The fast increments are per episode (B, out, in), start at zero in every episode (the slow weights are
the episode-start weights) and are constants for the slow back-prop (g_hat is detached).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.nn import MLP
from paperzoo.papers.synthetic_gradient_nmn.memory import LRUAMemory
from paperzoo.registry import register_model

CONTROLLERS = ("read", "write", "out")


class FastLinear(nn.Linear):
    """A linear controller u = (W + dW_b) x + (b + db_b) with per-episode fast increments (dW_b, db_b)."""

    def fast_forward(self, x: torch.Tensor, fast: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        u = F.linear(x, self.weight, self.bias)
        if fast is None:
            return u
        dW, db = fast
        return u + torch.einsum("boi,bi->bo", dW, x) + db

    def zero_fast(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kw = {"device": like.device, "dtype": like.dtype}
        return torch.zeros(batch, self.out_features, self.in_features, **kw), torch.zeros(batch, self.out_features, **kw)

    @staticmethod
    def fast_step(fast: tuple[torch.Tensor, torch.Tensor], x: torch.Tensor, g_hat: torch.Tensor,
                  eta: float) -> tuple[torch.Tensor, torch.Tensor]:
        """theta <- theta - eta (du/dtheta)^T g_hat per episode: dW -= eta g_hat x^T, db -= eta g_hat."""
        dW, db = fast
        return dW - eta * g_hat.unsqueeze(-1) * x.unsqueeze(1), db - eta * g_hat


class SyntheticGradient(nn.Module):
    """DNI module S_c: predicts dL/du (B, out_dim) from [u (B, out_dim), y (B, cond_dim)].

    Card (choice): 2-layer MLP, hidden 128, ReLU, label-conditioned, last layer zero-initialised
    (DNI practice: the first synthetic gradients are exactly 0). Inputs are detached by the caller.
    """

    def __init__(self, in_dim: int, out_dim: int | None = None, *, cond_dim: int = 0, hidden: int = 128,
                 zero_init: bool = True):
        super().__init__()
        self.in_dim, self.cond_dim = in_dim, cond_dim
        self.net = MLP([in_dim + cond_dim, hidden, out_dim or in_dim], flatten=False)
        if zero_init:
            nn.init.zeros_(self.net.linears[-1].weight)
            nn.init.zeros_(self.net.linears[-1].bias)

    def forward(self, u: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_dim:
            if y is None or y.shape[-1] != self.cond_dim:
                raise ValueError(f"SyntheticGradient: needs a condition of width {self.cond_dim}, got "
                                 f"{None if y is None else tuple(y.shape)}")
            u = torch.cat([u, y], -1)
        return self.net(u)


@dataclass
class EpisodeTrace:
    """What a training step needs from one forward pass: outputs (B, T, C); per controller the list over
    steps of its outputs u_c,t (graph kept, for the true gradients) and predictions g_hat_c,t (graph
    to S only); the read weights (B, T, R, N) and write weights (B, T, R, N) for probes."""

    logits: torch.Tensor
    us: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    g_hats: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    w_read: torch.Tensor | None = None
    w_write: torch.Tensor | None = None


class NMN(nn.Module):
    """MANN-style neural memory network with three fast-updatable linear controllers.

    ``forward(x, y)`` with x (B, T, in_dim) and targets y: int labels (B, T) (classification, one-hot
    inside) or floats (B, T, num_classes) (regression); returns outputs (B, T, num_classes). Defaults
    (card, MANN Omniglot settings, choice): LSTM width 200, memory 128 x 40, 4 read heads, gamma 0.95.
    ``sg`` (a :class:`SyntheticGradients`) and ``eta_fast`` switch on the fast controller updates.
    """

    def __init__(self, in_dim: int = 400, num_classes: int = 5, *, width: int = 200, slots: int = 128,
                 mem_width: int = 40, read_heads: int = 4, gamma: float = 0.95):
        super().__init__()
        self.in_dim, self.num_classes, self.width = in_dim, num_classes, width
        self.memory = LRUAMemory(slots, mem_width, read_heads, gamma)
        rw = read_heads * mem_width
        self.lstm = nn.LSTMCell(in_dim + num_classes + rw, width)
        self.controllers = nn.ModuleDict({"read": FastLinear(width, rw), "write": FastLinear(width, rw + read_heads),
                                          "out": FastLinear(width + rw, num_classes)})

    def targets(self, y: torch.Tensor, B: int, T: int) -> torch.Tensor:
        """y as float targets (B, T, num_classes): one-hot for int labels, checked otherwise."""
        if not y.is_floating_point():
            if y.shape != (B, T) or (y.numel() and (y.min() < 0 or y.max() >= self.num_classes)):
                raise ValueError(f"NMN: labels must be (B, T) = {(B, T)} in [0, {self.num_classes}), got "
                                 f"{tuple(y.shape)}")
            return F.one_hot(y, self.num_classes).float()
        if y.shape != (B, T, self.num_classes):
            raise ValueError(f"NMN: float targets must be (B, T, {self.num_classes}), got {tuple(y.shape)}")
        return y

    def forward(self, x: torch.Tensor, y: torch.Tensor, *, sg: "SyntheticGradients | None" = None,
                eta_fast: float = 0.0, trace: bool = False) -> torch.Tensor | EpisodeTrace:
        if x.ndim != 3 or x.shape[-1] != self.in_dim:
            raise ValueError(f"NMN: x must be (B, T, {self.in_dim}), got {tuple(x.shape)}")
        if eta_fast < 0 or (eta_fast > 0 and sg is None):
            raise ValueError(f"NMN: eta_fast must be >= 0 and needs synthetic-gradient modules (sg), got {eta_fast}")
        B, T, _ = x.shape
        tgt = self.targets(y, B, T).to(x.dtype)
        mem = self.memory.initial(B, like=x)
        R, W = self.memory.read_heads, self.memory.width
        h = c = x.new_zeros(B, self.width)
        r, y_prev = x.new_zeros(B, R * W), x.new_zeros(B, self.num_classes)
        ctl = self.controllers
        fast = {k: ctl[k].zero_fast(B, x) for k in CONTROLLERS} if eta_fast > 0 else dict.fromkeys(CONTROLLERS)
        out, us, g_hats, w_rs, w_ws = [], {k: [] for k in CONTROLLERS}, {k: [] for k in CONTROLLERS}, [], []
        for t in range(T):
            h, c = self.lstm(torch.cat([x[:, t], y_prev, r], -1), (h, c))
            u_read = ctl["read"].fast_forward(h, fast["read"])
            u_write = ctl["write"].fast_forward(h, fast["write"])
            r3, mem, w_w = self.memory.step(mem, u_read.view(B, R, W), u_write[:, :R * W].view(B, R, W),
                                            u_write[:, R * W:])
            r = r3.flatten(1)
            hr = torch.cat([h, r], -1)
            u_out = ctl["out"].fast_forward(hr, fast["out"])
            out.append(u_out)
            y_prev = tgt[:, t]
            if trace:
                w_rs.append(mem.w_r)
                w_ws.append(w_w)
            if sg is not None:  # the feedback path: after the prediction, with y_t revealed
                for k, u, inp in (("read", u_read, h), ("write", u_write, h), ("out", u_out, hr)):
                    g_hat = sg[k](u.detach(), y_prev)
                    if trace:
                        us[k].append(u)
                        g_hats[k].append(g_hat)
                    if eta_fast > 0:
                        fast[k] = FastLinear.fast_step(fast[k], inp.detach(), g_hat.detach(), eta_fast)
            elif trace:
                for k, u in (("read", u_read), ("write", u_write), ("out", u_out)):
                    us[k].append(u)
        logits = torch.stack(out, 1)
        if not trace:
            return logits
        return EpisodeTrace(logits, us, g_hats, torch.stack(w_rs, 1), torch.stack(w_ws, 1))


class SyntheticGradients(nn.ModuleDict):
    """The feedback path: one :class:`SyntheticGradient` per controller of ``model``, conditioned on y_t.

    Several NMNs with the same controller shapes can share one instance (the paper's shared feedback
    path); it is then trained on the union of their true gradients.
    """

    def __init__(self, model: NMN, *, hidden: int = 128, zero_init: bool = True):
        ctl = model.controllers
        super().__init__({k: SyntheticGradient(ctl[k].out_features, cond_dim=model.num_classes, hidden=hidden,
                                               zero_init=zero_init) for k in CONTROLLERS})


@register_model("sg_nmn", task="sequence", knob="width",
                example=lambda: (torch.rand(2, 6, 400), torch.randint(0, 5, (2, 6))))
def sg_nmn(in_dim: int = 400, num_classes: int = 5, *, width: int = 200, slots: int = 128, mem_width: int = 40,
           read_heads: int = 4) -> NMN:
    """The NMN (MANN backbone, linear controllers) for N-way episodes: ``model(x (B, T, in_dim), y (B, T))``
    -> logits (B, T, num_classes). Card defaults (MANN Omniglot settings): 20 x 20 images, 5-way, LSTM 200,
    memory 128 x 40, 4 heads. Train it with :class:`FastSlowLearner` (fast synthetic-gradient updates)."""
    return NMN(in_dim, num_classes, width=width, slots=slots, mem_width=mem_width, read_heads=read_heads)
