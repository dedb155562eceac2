"""The two experiments of the paper, as plain functions returning JSON-able dicts:
``synthetic_suite`` (unconstrained features, official ``synthetic_experiment_*.py``) and
``network_run`` (MLP + deep linear head on images, official ``train_1st_order*.py`` + ``validate_NC*.py``)."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from paperzoo.data import TensorSet
from paperzoo.papers.neural_collapse.closed_form import imbalanced_mse_optimum
from paperzoo.papers.neural_collapse.models import MLPWithLinearHead
from paperzoo.papers.neural_collapse.probe import head_nc_metrics
from paperzoo.papers.neural_collapse.ufm import UFMDeepLinear, fit_sgd_stacked
from paperzoo.train import RunContext, accuracy, fit, seed_everything

KEYS = ("NC1", "NC2_W", "NC2_H", "NC3")
VARIANTS = {  # name -> (balanced?, last-layer bias?, target the theory predicts)
    "balanced": (True, False, "orthogonal"),
    "balanced_bias": (True, True, "etf"),
    "imbalanced": (False, False, "imbalanced"),
}


def worst(per_layer: Sequence[dict], keys: Sequence[str] = KEYS) -> float:
    """The largest of ``keys`` over all layers (NaN counts as infinitely bad)."""
    vals = [d[k] for d in per_layer for k in keys if k in d]
    return max((v if math.isfinite(v) else math.inf) for v in vals) if vals else math.nan


def synthetic_suite(depth: int, *, d: int = 64, n_balanced: Sequence[int] = (100,) * 4,
                    n_imbalanced: Sequence[int] = (200, 100, 50, 50), variants: Sequence[str] = tuple(VARIANTS),
                    solver: str = "sgd", steps: int = 30_000, lr: float = 0.1, momentum: float = 0.9,
                    every: int = 1000, lambda_w: float = 5e-4, lambda_h: float = 5e-4, seed: int = 0,
                    device: str | torch.device = "cpu", on_step: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Train the UFM variants of one depth M and measure NC against the geometry the theory predicts.

    ``solver="sgd"``: the official full-batch SGD (lr 0.1, momentum 0.9, ``steps`` iterations, float32) for
    all variants at once (``fit_sgd_stacked``; they must share N), NC of layer 1 recorded every ``every``
    steps; ``solver="lbfgs"``: L-BFGS in float64 on the exact objective (card's smoke rung).
    Returns {variant: {"target", "final": per-layer metrics, "worst", "worst_nc1", "worst_nc23", "curve"}}.
    """
    if solver not in ("sgd", "lbfgs"):
        raise ValueError(f"solver must be 'sgd' or 'lbfgs', got {solver!r}")
    models, names = [], []
    for i, name in enumerate(variants):
        balanced, bias, _ = VARIANTS[name]
        seed_everything(seed * 1000 + depth * 10 + i)
        models.append(UFMDeepLinear(n_balanced if balanced else n_imbalanced, d, depth, bias=bias, lambda_w=lambda_w,
                                    lambda_h=lambda_h).to(device))
        names.append(name)
    curves: dict[str, list] = {n: [] for n in names}

    def record(step: int, losses: Sequence[float]) -> None:
        for n, m, loss in zip(names, models, losses):
            curves[n].append({"step": step, "loss": loss, **m.metrics()[0]})
        if on_step is not None:
            on_step(step)

    if solver == "sgd":
        record(0, [float(m.loss().detach()) for m in models])
        fit_sgd_stacked(models, steps=steps, lr=lr, momentum=momentum, every=every, callback=record)
    else:
        for m in models:
            m.fit_lbfgs()
        record(0, [float(m.loss().detach()) for m in models])
    out = {}
    for n, m in zip(names, models):
        final = m.metrics()
        out[n] = {"depth": depth, "target": m.default_target(), "n_per_class": list(m.n_per_class),
                  "final": final, "worst": worst(final), "worst_nc1": worst(final, ("NC1",)),
                  "worst_nc23": worst(final, KEYS[1:]), "curve": curves[n]}
    return out


def head_mse_loss(out: torch.Tensor, h: torch.Tensor, y: torch.Tensor, weights: Sequence[torch.Tensor], *,
                  lambda_w: float, lambda_h: float, n_total: int) -> torch.Tensor:
    """The UFM objective on a batch of B: 1/(2B) ||f(x) - Y||_F^2 + (lambda_W/2) sum_m ||W_m||_F^2
    + (lambda_H/2) (N/B) ||H_batch||_F^2.

    ``out`` (B, K) logits, ``h`` (B, D) features entering the head, ``y`` (B,) labels, ``weights`` the head's
    W_1 .. W_M, ``n_total`` = N. Summed over the N/B batches of an epoch it is the UFM loss
    1/(2N)||WH - Y||^2 + (lambda_W/2) sum ||W_m||^2 + (lambda_H/2) ||H||^2 up to the factor N/B, so the
    closed form with (lambda_W, lambda_H) is the prediction (the official ``--sep_decay`` term lacks N/B).
    """
    B, K = out.shape
    fit_term = (out - torch.nn.functional.one_hot(y, K).to(out.dtype)).square().sum() / (2 * B)
    reg_w = lambda_w / 2 * sum(W.square().sum() for W in weights)
    return fit_term + reg_w + lambda_h / 2 * (n_total / B) * h.square().sum()


def _nc_row(model: MLPWithLinearHead, data: TensorSet, targets: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"train_acc": 100.0 * accuracy(model, data, device=next(model.parameters()).device)}
    for tname, (target, pred) in targets.items():
        per = head_nc_metrics(model, data, layers=model.head, target=target, predicted=pred)
        row[tname] = {"layers": per, **{k: per[0][k] for k in KEYS}, "worst_nc23": worst(per, KEYS[1:])}
    return row


def network_run(ctx: RunContext, train: TensorSet, *, depth: int = 3, depth_linear: int = 1, width: int = 256,
                batchnorm: bool = True, epochs: int = 100, batch_size: int = 128, lr: float = 1e-3,
                lambda_w: float = 1e-4, lambda_h: float = 1e-4, eval_every: int = 5, test: TensorSet | None = None,
                desc: str = "train") -> dict[str, Any]:
    """Train ``MLPWithLinearHead`` (bias-free head) with ``head_mse_loss`` under Adam and record NC.

    As the official ``--sep_decay`` runs the only regularisation is on the head weights (lambda_W) and on the
    features entering it (lambda_H); Adam's own weight decay is 0. NC is measured on the whole training set
    against the orthogonal frame, and for imbalanced counts also against the closed form
    ``imbalanced_mse_optimum(counts, M, lambda_W, lambda_H)``, at initialisation, every ``eval_every`` epochs
    and after the last one. The model is seeded from ``ctx.seed``; ``fit`` checkpoints under ``ctx.out``.
    """
    K = int(train.y.max()) + 1
    counts = torch.bincount(train.y, minlength=K).tolist()
    N = len(train)
    if batchnorm and N % batch_size == 1:
        raise ValueError(f"{N} samples in batches of {batch_size} leave a last batch of 1, which BatchNorm cannot "
                         f"train on; change batch_size")
    ctx.seed_all()
    model = MLPWithLinearHead(train.x[0].numel(), K, width=width, depth=depth, depth_linear=depth_linear, bias=False,
                              batchnorm=batchnorm).to(ctx.device)
    targets: dict[str, Any] = {"of": ("orthogonal", None)}
    if len(set(counts)) > 1:  # balanced counts: the closed form is the orthogonal frame itself
        targets["cf"] = ("imbalanced", imbalanced_mse_optimum(counts, depth_linear, lambda_w, lambda_h))

    def loss_fn(net, x, y):
        h = net.features(x)
        return head_mse_loss(net.fc(h), h, y, [m.weight for m in net.fc], lambda_w=lambda_w, lambda_h=lambda_h,
                             n_total=N)

    def eval_fn(net, epoch: int) -> dict:
        return _nc_row(net, train, targets) if epoch % eval_every == 0 or epoch == epochs else {}

    history = [{"epoch": 0, **_nc_row(model, train, targets)}]
    res = fit(model, train, ctx=ctx, epochs=epochs, batch_size=batch_size, loss_fn=loss_fn,
              optimizer=lambda p: torch.optim.Adam(p, lr=lr), eval_fn=eval_fn, desc=desc, drop_last=False)
    history += [h for h in res.history if "of" in h]
    init, last = history[0], history[-1]
    out = {"counts": counts, "depth_linear": depth_linear, "history": history, "train_acc": last["train_acc"],
           "of_init": {k: init["of"][k] for k in KEYS}, "nc1_init": init["of"]["NC1"], "nc1_final": last["of"]["NC1"],
           "nc1_drop": init["of"]["NC1"] / max(last["of"]["NC1"], 1e-300), "final_loss": res.last_loss}
    for t in targets:
        out[f"{t}_final"] = {k: last[t][k] for k in KEYS} | {"worst_nc23": last[t]["worst_nc23"],
                                                           "layers": last[t]["layers"]}
    if test is not None:
        out["test_acc"] = 100.0 * accuracy(model, test, device=ctx.device)
    return out
