"""The constructive proof made runnable (card "Constructive proof", hard-routing heads + classical UAT).

Our own standard construction in the spirit of the paper's proof idea ("attention heads partition the input
space and route to specific outputs"); the paper's proof was not readable (card: unverified). With
d_model = d + n + n d + 1 + d_out and the token state h_i = [x_i ; e_i ; 0_{nd} ; 1 ; 0_{d_out}]:

    step 1  one-hot position e_i concatenated to x_i (``pos_enc="onehot"``), a constant 1 from the embedding bias;
    step 2  head h (h = 1..n, d_k = d): query = [1, 0..] (the constant), key_j = [beta sqrt(d_k) [j = h], 0..],
            value_j = x_j, so the logits are beta [j = h] and A_h = (e^beta x_h + sum_{j != h} x_j) / (e^beta + n - 1);
    step 3  W_O writes head h into slot h: Z_i = [x_i ; e_i ; A_1 .. A_n ; 1 ; 0], the whole sequence + own position;
    step 4  the FFN is a one-hidden-layer ReLU net g on [x_1 .. x_n ; e_i] (``fit_ffn``, or exact: ``shift_ffn``)
            writing into the d_out output slot, which the read-out returns;
    step 5  error budget: |T(X)_i - F(X)_i| <= |g - F| + L_g delta, delta = max |A_h - x_h| <= 2 max|x| (n-1) e^-beta,
            L_g = max_o sum_u |W2[o, u]| ||W1[u, x-part]||_1 (the l_inf -> l_inf Lipschitz bound of g in x).

One-hot head routing uses n heads and an FFN input of n d + n + d + 1 coordinates: an existence result with no
efficiency claim (card "Pitfalls"). Build in float64 (``dtype=torch.float64``) to see errors near e^-beta.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.papers.uat_transformer.model import SingleLayerTransformer
from paperzoo.papers.uat_transformer.targets import Target, get_target


def routing_bound(n: int, beta: float, xmax: float = 1.0) -> float:
    """Card step 2: ||A_h - x_h|| <= 2 max|x| (n - 1) e^-beta."""
    return 2.0 * xmax * (n - 1) * math.exp(-beta)


def routed_closed_form(x: torch.Tensor, beta: float) -> torch.Tensor:
    """What head h returns at every query: A_h = (e^beta x_h + sum_{j != h} x_j) / (e^beta + n - 1); (B, n, d) -> same."""
    n = x.shape[1]
    w = 1.0 / (math.exp(beta) + n - 1)
    return x * (math.exp(beta) * w) + (x.sum(1, keepdim=True) - x) * w


def _check_ffn(ffn: nn.Sequential, n: int, d: int) -> tuple[nn.Linear, nn.Linear]:
    layers = list(ffn)
    if len(layers) != 3 or not isinstance(layers[0], nn.Linear) or not isinstance(layers[1], nn.ReLU) \
            or not isinstance(layers[2], nn.Linear):
        raise TypeError("ffn must be nn.Sequential(nn.Linear, nn.ReLU, nn.Linear) (a one-hidden-layer ReLU net)")
    if layers[0].in_features != n * d + n:
        raise ValueError(f"ffn input must be n*d + n = {n * d + n} ([x_1..x_n ; e_i]), got {layers[0].in_features}")
    return layers[0], layers[2]


def build_routing_transformer(ffn: nn.Sequential, n: int, d: int = 1, beta: float = 20.0, *,
                              dtype: torch.dtype = torch.float32) -> SingleLayerTransformer:
    """Set the weights of a ``SingleLayerTransformer`` by steps 1-4 (card ``build_routing_transformer``): n routing
    heads with logit scale ``beta`` and the FFN ``ffn`` = Sequential(Linear(n d + n, r), ReLU, Linear(r, d_out)),
    whose input is [x_1 .. x_n (token-major) ; e_i]. ``dtype=torch.float64`` sets the weights in float64 (converting a
    float32 model afterwards would keep beta sqrt(d_k) rounded to float32)."""
    if min(n, d) < 1 or not beta > 0:
        raise ValueError(f"need n, d >= 1 and beta > 0, got n={n}, d={d}, beta={beta}")
    w1, w2 = _check_ffn(ffn, n, d)
    r, d_out = w1.out_features, w2.out_features
    xs, es, slots, one, out = 0, d, d + n, d + n + n * d, d + n + n * d + 1
    d_model = out + d_out
    m = SingleLayerTransformer(d, d_model, n_heads=n, d_ff=r, d_out=d_out, max_len=n, pos_enc="onehot", head_dim=d).to(dtype)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.embed.weight[:d + n, :d + n] = torch.eye(d + n)          # [x_i ; e_i] copied
        m.embed.bias[one] = 1.0                                     # the constant feature
        for h in range(n):
            rows = slice(h * d, (h + 1) * d)
            m.attn.q.weight[h * d, one] = 1.0                       # query = constant 1
            m.attn.k.weight[h * d, es + h] = beta * math.sqrt(d)    # key reads e_j[h]: logit beta [j = h]
            m.attn.v.weight[rows, xs:xs + d] = torch.eye(d)         # value = x_j
            m.attn.o.weight[slots + h * d:slots + (h + 1) * d, rows] = torch.eye(d)   # head h -> slot h
        m.ff1.weight[:, slots:slots + n * d] = w1.weight[:, :n * d]
        m.ff1.weight[:, es:es + n] = w1.weight[:, n * d:]
        m.ff1.bias.copy_(w1.bias)
        m.ff2.weight[out:out + d_out] = w2.weight
        m.ff2.bias[out:out + d_out] = w2.bias
        m.readout.weight[:, out:out + d_out] = torch.eye(d_out)
    return m


def routed_slots(model: SingleLayerTransformer, x: torch.Tensor) -> torch.Tensor:
    """The n d slot coordinates of Z after attention + residual, reshaped (B, n_query, n, d): slot h of token i."""
    b, n, d = x.shape
    z = model.embed(model.tokens(x))
    z = z + model.attn(z)
    return z[..., d + n:d + n + n * d].reshape(b, n, n, d)


def ffn_lipschitz(ffn: nn.Sequential, n: int, d: int) -> float:
    """L_g = max_o sum_u |W2[o, u]| ||W1[u, :n d]||_1: |g(a, e) - g(x, e)|_inf <= L_g |a - x|_inf (step 5)."""
    w1, w2 = _check_ffn(ffn, n, d)
    return float((w2.weight.detach().abs() @ w1.weight.detach()[:, :n * d].abs().sum(1)).max())


def ffn_inputs(x: torch.Tensor) -> torch.Tensor:
    """[x_1 .. x_n ; e_i] for every token i: (B, n, d) -> (B, n, n d + n), the FFN's ideal input (beta -> inf)."""
    b, n, d = x.shape
    flat = x.reshape(b, 1, n * d).expand(b, n, n * d)
    return torch.cat([flat, torch.eye(n, dtype=x.dtype).expand(b, n, n)], dim=-1)


def shift_ffn(n: int, d: int = 1, xmax: float = 1.0) -> nn.Sequential:
    """Exact FFN for ``shift`` (2 n d units): g(x, e_i) = sum_c ReLU(x_{i+1,c} - M(1 - e_i)) - ReLU(-x_{i+1,c} - M(1 - e_i)),
    M = ``xmax``: the gate e_i = 1 lets x_{i+1} through, e_i = 0 gives 0 whenever |x| <= M (attention outputs are convex
    combinations of the x_j, so they stay in [-M, M]). Error of the built model: only the routing error."""
    lin1, lin2 = nn.Linear(n * d + n, 2 * n * d), nn.Linear(2 * n * d, d)
    with torch.no_grad():
        for p in (*lin1.parameters(), *lin2.parameters()):
            p.zero_()
        i = torch.arange(n).repeat_interleave(d)                  # position whose gate the unit uses
        c = torch.arange(d).repeat(n)                             # feature
        src = ((i + 1) % n) * d + c                               # input column of x_{i+1, c}
        for sign, off in ((1.0, 0), (-1.0, n * d)):
            u = torch.arange(n * d) + off
            lin1.weight[u, src] = sign
            lin1.weight[u, n * d + i] = xmax
            lin1.bias[u] = -xmax
            lin2.weight[c, u] = sign
    return nn.Sequential(lin1, nn.ReLU(), lin2)


def fit_ffn(target: Target | str, n: int, d: int = 1, *, width: int = 256, steps: int = 2000, batch: int = 256,
            lr: float = 1e-3, seed: int = 0) -> nn.Sequential:
    """Step 4 by training: a one-hidden-layer ReLU net g on [x_1..x_n ; e_i] -> F(X)_i, fresh uniform samples each
    step, Adam with lr 1e-3 and batch 256 (the card's training recipe), cosine decay to 0 (ours: sharper fits)."""
    target = get_target(target) if isinstance(target, str) else target
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    ffn = nn.Sequential(nn.Linear(n * d + n, width), nn.ReLU(), nn.Linear(width, target.out_dim(d)))
    opt = torch.optim.Adam(ffn.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    for _ in range(steps):
        x, y = target.sample(batch, n, d, g)
        loss = (ffn(ffn_inputs(x)) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return ffn


@torch.no_grad()
def check_construction(ffn: nn.Sequential, target: Target | str, n: int, d: int = 1, *, beta: float = 20.0,
                       num: int = 4096, seed: int = 0) -> dict[str, float]:
    """Step 5 checked in float64 on ``num`` samples of K: ``err`` = sup |T - F|, ``ffn_err`` = sup |g - F| (g on the
    ideal input), ``parity`` = sup |T - g|, ``lip`` = L_g, ``delta`` = the routing bound, ``budget`` = ffn_err +
    L_g delta (>= err must hold), ``slot_err`` = max |A_h - x_h| (<= delta must hold). Sups are max-abs per component."""
    target = get_target(target) if isinstance(target, str) else target
    ffn64 = nn.Sequential(*[nn.Linear(m.in_features, m.out_features).double() if isinstance(m, nn.Linear) else m
                            for m in ffn])
    ffn64.load_state_dict({k: v.double() for k, v in ffn.state_dict().items()})
    model = build_routing_transformer(ffn64, n, d, beta, dtype=torch.float64)
    x, y = target.sample(num, n, d, seed, dtype=torch.float64)
    out, ideal = model(x), ffn64(ffn_inputs(x))
    slot_err = float((routed_slots(model, x) - x[:, None]).abs().max())
    delta = routing_bound(n, beta, float(x.abs().max()))
    lip = ffn_lipschitz(ffn64, n, d)
    ffn_err = float((ideal - y).abs().max())
    return {"err": float((out - y).abs().max()), "ffn_err": ffn_err, "parity": float((out - ideal).abs().max()),
            "lip": lip, "delta": delta, "budget": ffn_err + lip * delta, "slot_err": slot_err,
            "rms": float((out - y).square().mean().sqrt())}
