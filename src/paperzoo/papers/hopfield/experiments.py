"""The measurements behind the claims: theorem checks, the capacity curve, and MIL training/evaluation.

Each function is pure given its arguments (data, seed) and returns JSON-able numbers; ``reproduce.py``
chooses the sizes per protocol and caches each unit so ``--resume`` skips finished ones.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.data import TensorSet
from paperzoo.papers.hopfield.data import MILBags, mask_lower_half, sign_patterns, stratified_folds
from paperzoo.papers.hopfield.layers import HopfieldAttention
from paperzoo.papers.hopfield.models import HopfieldPoolingMIL
from paperzoo.papers.hopfield.retrieval import classical_retrieve, energy, fixed_point_type, hebbian_weights, update
from paperzoo.stats import roc_auc
from paperzoo.train import RunContext, fit


# ---------------------------------------------------------------- theorem-level checks
def cccp_descent(seed: int = 0, cases: int = 20, iters: int = 50, betas=(0.1, 1.0, 10.0),
                 wrong: bool = False) -> float:
    """Largest energy increase E(xi_{t+1}) - E(xi_t) over ``cases`` random (X, xi_0, beta) and ``iters``
    CCCP updates (Thm 1-2: <= 0). ``wrong=True`` uses the update without beta, X softmax(X^T xi),
    evaluated on the beta-energy: the control that must break monotonicity."""
    g = torch.Generator().manual_seed(seed)
    worst = -math.inf
    for c in range(cases):
        beta = betas[c % len(betas)]
        n, d = int(torch.randint(5, 60, (1,), generator=g)), int(torch.randint(3, 40, (1,), generator=g))
        X = torch.randn(n, d, generator=g, dtype=torch.float64) * float(torch.rand(1, generator=g) * 2 + 0.2)
        xi = torch.randn(8, d, generator=g, dtype=torch.float64) * 2
        e = energy(xi, X, beta)
        for _ in range(iters):
            xi = update(xi, X, 1.0) if wrong else update(xi, X, beta)
            e_new = energy(xi, X, beta)
            worst = max(worst, float((e_new - e).max()))
            e = e_new
    return worst


def one_step_retrieval(seed: int = 0, n: int = 1000, d: int = 64, beta: float = 64.0, flip: float = 0.2) -> dict:
    """Card smoke test of Thms 4-5: N random +-1 unit-norm patterns, queries with 20% of coordinates
    sign-flipped; one update. Returns fraction retrieved (argmax cosine = original and cos >= 0.99),
    min/median cosine, and the max relative distance to the mean pattern at beta = 0.01."""
    X = sign_patterns(n, d, seed=seed, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed + 1)
    k = round(flip * d)
    pos = torch.rand(n, d, generator=g).argsort(-1)[:, :k]
    sign = torch.ones(n, d, dtype=torch.float64).scatter_(1, pos, -1.0)
    q = X * sign
    out = update(q, X, beta)
    cos = F.normalize(out, dim=-1) @ X.T
    own = cos.diagonal()
    ok = (cos.argmax(-1) == torch.arange(n)) & (own >= 0.99)
    mean = X.mean(0)
    glob = update(q, X, 0.01)
    rel = (glob - mean).norm(dim=-1) / mean.norm()
    return {"frac": float(ok.double().mean()), "min_cos": float(own.min()), "median_cos": float(own.median()),
            "small_beta_max_rel": float(rel.max())}


def mha_parity(seed: int = 0, heads: tuple[int, ...] = (1, 4), d_model: int = 32) -> float:
    """Max |HopfieldAttention - nn.MultiheadAttention| (norms off, beta = 1/sqrt(d_k), copied weights),
    on cross-association with S != N, float32, through both the fused and the explicit softmax path."""
    worst = 0.0
    g = torch.Generator().manual_seed(seed)
    for h in heads:
        mha = nn.MultiheadAttention(d_model, h, batch_first=True)
        hop = HopfieldAttention(d_model, num_heads=h, norm_stored=False, norm_state=False, norm_proj=False)
        copy_mha_weights(mha, hop)
        r = torch.randn(3, 5, d_model, generator=g)
        y = torch.randn(3, 7, d_model, generator=g)
        with torch.no_grad():
            ref = mha(r, y, y, need_weights=False)[0]
            for need_weights in (False, True):  # fused SDPA path and the explicit softmax path
                ours = hop.associate(y, r, y, need_weights=need_weights)[0]
                worst = max(worst, float((ref - ours).abs().max()))
    return worst


def copy_mha_weights(mha: nn.MultiheadAttention, hop: HopfieldAttention) -> None:
    """Copy nn.MultiheadAttention's packed in-projection and out-projection into W_Q, W_K, W_V, W_O."""
    wq, wk, wv = mha.in_proj_weight.detach().chunk(3, 0)
    bq, bk, bv = mha.in_proj_bias.detach().chunk(3, 0)
    with torch.no_grad():
        for lin, w, b in ((hop.w_q, wq, bq), (hop.w_k, wk, bk), (hop.w_v, wv, bv),
                          (hop.w_o, mha.out_proj.weight, mha.out_proj.bias)):
            lin.weight.copy_(w)
            lin.bias.copy_(b)


# ---------------------------------------------------------------- capacity / retrieval curve
def cosine_hits(out: torch.Tensor, X: torch.Tensor, thr: float = 0.95) -> torch.Tensor:
    return F.cosine_similarity(out, X, dim=-1) >= thr


def capacity_curve(patterns: torch.Tensor, sizes, betas, height: int | None = None, max_queries: int = 1024,
                   chunk: int = 512) -> list[dict]:
    """Retrieval accuracy (cos >= 0.95 with the original) from half-masked queries, per N.

    Modern: one update xi <- X softmax(beta X^T xi) on unit-norm +-1 patterns, for every beta.
    Classical: Hebbian W (zero diagonal) on the +-1 patterns, synchronous sign updates to convergence.
    Queries: the first min(N, max_queries) stored patterns with their lower half zeroed.
    """
    rows = []
    for n in sizes:
        X = patterns[:n]
        m = min(n, max_queries)
        Q = mask_lower_half(X[:m], height)
        row = {"N": n, "queries": m}
        for beta in betas:
            hits = torch.cat([cosine_hits(update(Q[i:i + chunk], X, beta), X[i:i + chunk])
                              for i in range(0, m, chunk)])
            row[f"modern_beta{beta:g}"] = float(hits.float().mean())
        Xs = torch.sign(X)
        s, done = classical_retrieve(hebbian_weights(Xs), torch.sign(Q))
        row["classical"] = float(cosine_hits(s, Xs[:m]).float().mean())
        row["classical_converged"] = float(done.float().mean())
        rows.append(row)
    return rows


def crossing(xs, fracs, level: float = 0.5) -> float:
    """Where ``fracs`` (over increasing ``xs``) first falls below ``level``, linearly interpolated
    between the grid points around it; nan if it never falls below (or starts below)."""
    for i in range(1, len(xs)):
        if fracs[i] < level <= fracs[i - 1]:
            return xs[i - 1] + (fracs[i - 1] - level) / (fracs[i - 1] - fracs[i]) * (xs[i] - xs[i - 1])
    return math.nan


def classical_transition(patterns: torch.Tensor, sizes) -> dict:
    """The classical net's capacity on a fine grid of N: fraction of half-masked queries retrieved
    (cos >= 0.95, i.e. <= 2.5% wrong bits: "a small percentage of errors") and the N at which it
    crosses 0.5, as N*/d (paper Sec. 1 / official blog Eq. 8: C ~= 0.14 d). patterns: (N_max, d) +-1 rows."""
    fracs = []
    for n in sizes:
        X = patterns[:n]
        s, _ = classical_retrieve(hebbian_weights(X), torch.sign(mask_lower_half(X)))
        fracs.append(float(cosine_hits(s, X).float().mean()))
    n_star = crossing(list(sizes), fracs)
    return {"N": list(sizes), "classical": fracs, "capacity_per_d": n_star / patterns.shape[-1]}


def fixed_point_census(X: torch.Tensor, betas, queries: int = 256, height: int | None = None) -> dict:
    """Counts of fixed-point types (probe ``fixed_point_type``) from half-masked queries, per beta."""
    Q = mask_lower_half(X[:queries], height)
    out = {}
    for beta in betas:
        res = fixed_point_type(X, beta, Q)
        kinds = ["metastable" if t.startswith("metastable") else t for t in res["type"]]
        out[f"beta{beta:g}"] = {"global": kinds.count("global") / len(kinds),
                                "metastable": kinds.count("metastable") / len(kinds),
                                "single": kinds.count("single") / len(kinds),
                                "median_k": float(res["k"].float().median())}
    return out


# ---------------------------------------------------------------- MIL training
@torch.no_grad()
def bag_scores(model: nn.Module, data: TensorSet, unpack: Callable, batch_size: int = 64,
               device: torch.device | str = "cpu") -> torch.Tensor:
    model.eval()
    out = []
    for i in range(0, len(data), batch_size):
        bags, mask = unpack(data.x[i:i + batch_size].to(device))
        out.append(model(bags, mask).float().cpu())
    return torch.cat(out)


def train_mil(model: nn.Module, train: TensorSet, test: TensorSet, *, ctx: RunContext, unpack: Callable,
              epochs: int, batch_size: int, optimizer: Callable, desc: str = "mil", eval_every: int = 1) -> dict:
    """Fit with BCE-with-logits and grad-norm clipping 1.0 (official demos) in the (sub-)run ``ctx``;
    report the final test accuracy / ROC-AUC and the per-epoch test-accuracy curve."""
    def loss_fn(m, x, y):
        bags, mask = unpack(x)
        return F.binary_cross_entropy_with_logits(m(bags, mask), y.float())

    def evaluate(m, epoch):
        s = bag_scores(m, test, unpack, device=ctx.device)
        return {"test_acc": float(((s > 0).long() == test.y).float().mean())}

    res = fit(model, train, epochs=epochs, batch_size=batch_size, loss_fn=loss_fn, optimizer=optimizer,
              eval_fn=evaluate if eval_every else None, ctx=ctx, clip_grad_norm=1.0, drop_last=False, desc=desc,
              log_every=0)
    s = bag_scores(model, test, unpack, device=ctx.device)
    return {"test_acc": float(((s > 0).long() == test.y).float().mean()), "test_auc": roc_auc(s, test.y),
            "final_loss": res.last_loss, "curve": [round(r.get("test_acc", float("nan")), 4) for r in res.history]}


def unpack_fixed(x: torch.Tensor) -> tuple[torch.Tensor, None]:
    """Fixed-size bags (bit patterns): no mask."""
    return x, None


def unpack_mnist(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return MILBags.unpack(x, (1, 28, 28))


# ---------------------------------------------------------------- MIL benchmark sets (bonus)
# one fixed, untuned configuration: layer defaults (one update, beta = 1/sqrt(d_k)) after a 64-unit embedding
MIL_MODEL = dict(embed_dim=64, width=16, num_heads=4, beta=None, update_steps_max=0, dropout=0.1)


def mil_benchmark(bags: MILBags, ctx: RunContext, *, folds: int = 5, epochs: int = 50, desc: str = "mil") -> dict:
    """Stratified ``folds``-fold cross-validated ROC-AUC of HopfieldPoolingMIL (``MIL_MODEL``) on a bag set.
    Features are standardised with the training fold's instance mean/std; AdamW 1e-3, wd 1e-3, batch 8 bags,
    grad clip 1.0. Fold f trains in the sub-run ``ctx.sub(f"fold{f}")`` (its own seed and folder)."""
    fold = stratified_folds(bags.y, folds, ctx.seed)
    d = bags.x.shape[-1]
    aucs, accs = [], []
    for f in range(folds):
        sub = ctx.sub(f"fold{f}")
        tr, te = fold != f, fold == f
        real = bags.x[tr][bags.mask[tr]]
        mu, sd = real.mean(0), real.std(0).clamp_min(1e-6)
        x = torch.where(bags.mask.unsqueeze(-1), (bags.x - mu) / sd, 0.0)
        packed = MILBags(x, bags.mask, bags.y, bags.instance_labels).packed()
        train, test = TensorSet(packed.x[tr], packed.y[tr]), TensorSet(packed.x[te], packed.y[te])
        sub.seed_all()
        res = train_mil(HopfieldPoolingMIL(d, **MIL_MODEL), train, test, ctx=sub,
                        unpack=lambda t: MILBags.unpack(t, (d,)), epochs=epochs, batch_size=8,
                        optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-3),
                        desc=f"{desc} fold {f}", eval_every=0)
        aucs.append(res["test_auc"])
        accs.append(res["test_acc"])
    a = torch.tensor(aucs, dtype=torch.float64)
    return {"auc_mean": float(a.mean()), "auc_std": float(a.std()), "acc_mean": sum(accs) / len(accs),
            "fold_aucs": aucs}
