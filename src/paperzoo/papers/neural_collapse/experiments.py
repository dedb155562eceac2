"""The two experiments of the paper, as plain functions returning JSON-able dicts:
``synthetic_suite`` (unconstrained features, official ``synthetic_experiment_*.py``) and
``network_run`` (MLP + deep linear head on images, official ``train_1st_order*.py`` + ``validate_NC*.py``)."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from paperzoo.data import TensorSet
from paperzoo.nn import collect_features
from paperzoo.papers.neural_collapse.closed_form import imbalanced_mse_optimum
from paperzoo.papers.neural_collapse.metrics import deep_linear_nc_metrics
from paperzoo.papers.neural_collapse.models import MLPWithLinearHead
from paperzoo.papers.neural_collapse.ufm import UFMDeepLinear, fit_sgd_stacked
from paperzoo.train import accuracy, fit, seed_everything

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
                    device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                    on_step: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Train the UFM variants of one depth to convergence and measure NC against the predicted geometry.

    ``solver="sgd"``: the official full-batch SGD (lr 0.1, momentum 0.9, ``steps`` iterations) for all
    variants at once (``fit_sgd_stacked``), NC of layer 1 recorded every ``every`` steps;
    ``solver="lbfgs"``: L-BFGS in float64 on the exact objective. Variants must share N when stacked.
    Returns {variant: {"target", "final": per-layer metrics, "worst", "curve": [{step, NC...}]}}.
    """
    models, names = [], []
    for i, name in enumerate(variants):
        balanced, bias, _ = VARIANTS[name]
        seed_everything(seed * 1000 + depth * 10 + i)
        m = UFMDeepLinear(n_balanced if balanced else n_imbalanced, d, depth, bias=bias, lambda_w=lambda_w,
                          lambda_h=lambda_h).to(device=device, dtype=dtype)
        models.append(m)
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
    elif solver == "lbfgs":
        for m in models:
            m.fit_lbfgs()
        record(0, [float(m.loss().detach()) for m in models])
    else:
        raise ValueError(f"solver must be 'sgd' or 'lbfgs', got {solver!r}")
    out = {}
    for n, m in zip(names, models):
        final = m.metrics()
        out[n] = {"depth": depth, "target": m.default_target(), "n_per_class": list(m.n_per_class),
                  "final": final, "worst": worst(final), "worst_nc1": worst(final, ("NC1",)),
                  "worst_nc23": worst(final, KEYS[1:]), "curve": curves[n]}
    return out


def balanced_subset(data: TensorSet, per_class: Sequence[int]) -> TensorSet:
    """The first ``per_class[k]`` training examples of each class k (official ``datasets_imbalanced``)."""
    have = torch.bincount(data.y, minlength=len(per_class))
    if any(int(have[k]) < c for k, c in enumerate(per_class)):
        raise ValueError(f"asked for {list(per_class)} examples per class, data has {have.tolist()}")
    return data.subset(per_class=list(per_class))


def _nc_rows(model: MLPWithLinearHead, data: TensorSet, targets: dict[str, Any]) -> dict[str, Any]:
    """Train accuracy and NC metrics per target, from one forward pass (kernel hooks on the head)."""
    feats = list(collect_features(model, data.x, model.head, which="input").values())
    last = model.fc[-1]
    W_last = last.weight.detach().cpu()
    logits = feats[-1] @ W_last.T + (last.bias.detach().cpu() if last.bias is not None else 0.0)
    row: dict[str, Any] = {"train_acc": 100.0 * float((logits.argmax(1) == data.y).double().mean())}
    Ws = [model.fc[i].weight.detach() for i in range(model.depth_linear)]
    for tname, (target, pred) in targets.items():
        per = deep_linear_nc_metrics(feats, Ws, data.y, target=target, predicted=pred)
        row[tname] = {"layers": per, **{k: per[0][k] for k in KEYS}, "worst_nc23": worst(per, KEYS[1:])}
    return row


def network_run(train: TensorSet, *, depth_relu: int = 3, depth_linear: int = 1, width: int = 256,
                epochs: int = 100, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 1e-4,
                sep_decay: tuple[float, float] | None = None, seed: int = 0, device: str | torch.device = "cpu",
                eval_every: int = 1, run_dir=None, resume: bool = False, progress: bool | None = None,
                test: TensorSet | None = None, desc: str = "train") -> dict[str, Any]:
    """Train ``MLPWithLinearHead`` (bias-free head) with the UFM-scaled MSE and record NC every epoch.

    Loss per batch of B: 1/(2B) ||f(x) - Y||^2, Adam(lr, weight_decay) on all parameters. With
    ``sep_decay = (lambda_W, lambda_H)`` (official ``--sep_decay``, used by every MLP run of the README) the head
    and features are regularised in the loss instead, with the UFM scaling
    (lambda_W/2) sum_m ||W_m||^2 + (lambda_H/2) (N/B) ||H_batch||^2 (an unbiased estimate of
    (lambda_H/2) ||H||^2 over all N features), Adam's weight decay then acting on the backbone only.
    NC is measured on the whole training set against the orthogonal frame, and for imbalanced data also
    against the closed form ``imbalanced_mse_optimum(counts, M, lambda_W, lambda_H)``, at initialisation,
    every ``eval_every`` epochs and after the last epoch.
    """
    K = int(train.y.max()) + 1
    counts = torch.bincount(train.y, minlength=K).tolist()
    N = len(train)
    seed_everything(seed)
    model = MLPWithLinearHead(depth_relu=depth_relu, depth_linear=depth_linear, width=width, bias=False,
                              in_dim=train.x[0].numel(), num_classes=K).to(device)
    targets: dict[str, Any] = {"of": ("orthogonal", None)}
    if sep_decay is not None:
        lam_w, lam_h = sep_decay
        if len(set(counts)) > 1:  # balanced counts: the closed form is the orthogonal frame itself
            targets["cf"] = ("imbalanced", imbalanced_mse_optimum(counts, depth_linear, lam_w, lam_h))
        params = [{"params": model.backbone.parameters(), "weight_decay": weight_decay},
                  {"params": model.fc.parameters(), "weight_decay": 0.0}]
    else:
        params = [{"params": model.parameters(), "weight_decay": weight_decay}]

    def loss_fn(net, x, y):
        net = getattr(net, "module", net)
        h = net.backbone(x)
        out = net.fc(h)
        loss = (out - torch.nn.functional.one_hot(y, K).to(out.dtype)).square().sum() / (2 * len(x))
        if sep_decay is not None:
            loss = loss + lam_w / 2 * sum(m.weight.square().sum() for m in net.fc)
            loss = loss + lam_h / 2 * (N / len(x)) * h.square().sum()
        return loss

    steps_per_epoch = math.ceil(N / batch_size)
    clock = {"step": 0}

    def on_step(step: int, _loss: float) -> None:
        clock["step"] = step

    def eval_fn(net):
        epoch = clock["step"] // steps_per_epoch
        return _nc_rows(net, train, targets) if epoch % eval_every == 0 or epoch == epochs else {}

    init = {"epoch": 0, **_nc_rows(model, train, targets)}
    res = fit(model, train, epochs=epochs, batch_size=batch_size, loss_fn=loss_fn,
              optimizer=lambda _p: torch.optim.Adam(params, lr=lr), eval_fn=eval_fn, run_dir=run_dir,
              resume=resume, seed=seed, device=device, progress=progress, desc=desc, drop_last=False,
              on_step=on_step)
    history = [init] + [h for h in res.history if "of" in h]
    last = history[-1]
    out = {"counts": counts, "depth_linear": depth_linear, "history": history, "train_acc": last["train_acc"],
           "of_init": {k: init["of"][k] for k in KEYS},
           "nc1_init": init["of"]["NC1"], "nc1_final": last["of"]["NC1"],
           "nc1_drop": init["of"]["NC1"] / max(last["of"]["NC1"], 1e-300)}
    for t in targets:
        out[f"{t}_final"] = {k: last[t][k] for k in KEYS} | {"worst_nc23": last[t]["worst_nc23"],
                                                           "layers": last[t]["layers"]}
    if test is not None:
        out["test_acc"] = 100.0 * accuracy(model, test, device=device)
    return out
