"""Guidance protocols: CKA identities, alignment alone, copy-paste (RNN target, untrained Transformer
guide) and the deep FCN (untrained CNN guide, full-time and init-only guidance).

smoke: CKA invariances and independence (card smoke (a)), alignment alone raises the CKA of two MLPs
       (card smoke (c)), the guide stays bit-identical (card smoke (b)) in a tiny copy-paste run.
cpu:   the card's reduced copy-paste run (RNN 2 x 128 / guide 2 decoder layers of 128, 20k sequences,
       batch 64) at 2 epochs, and the card's secondary deep FCN (20 x 256) on 5k Fashion-MNIST images.
full:  copy-paste at the paper's sizes (RNN 4 x 512, guide 4 x 512 / 16 heads, 100k sequences, batch 256,
       10 epochs) and the FCN at the paper's depth (2048 + 47 x 1024) on CIFAR-10 (not run here).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from paperzoo.data import TensorSet, load
from paperzoo.papers.guidance.cka import GuidanceLoss, linear_cka
from paperzoo.papers.guidance.data import copy_paste_dataset
from paperzoo.papers.guidance.learner import GuidanceLearner
from paperzoo.papers.guidance.models import CausalTransformer, ConvGuide, DeepFCN, StackedRNNLM
from paperzoo.train import RunContext

PARTS = ("identities", "align", "copy-paste", "fcn")


@dataclass(frozen=True)
class Config:
    about: str
    parts: tuple[str, ...] = PARTS
    # copy-paste (card CPU ladder step 2 unless noted)
    cp_n_train: int = 20_000
    cp_n_test: int = 2_000
    cp_epochs: int = 2  # card: 5 (cut to fit the one-core budget; the card saw the same level every epoch)
    cp_batch: int = 64  # official args.py default
    rnn_embedding: int = 64
    rnn_width: int = 128
    rnn_depth: int = 2
    guide_width: int = 128
    guide_depth: int = 2
    guide_heads: int = 4
    guide_ff: int = 512  # official fc_dim default
    guide_dropout_on: bool = True  # official copy-paste code never puts the guide in eval mode
    share_layers: bool = True  # official Transformer repeats one decoder layer
    alpha: float = 1.0  # official --alpha default
    # deep FCN (card's secondary CPU check; paper: ImageNet, 100 epochs)
    fcn_data: str = "fashion-mnist"
    fcn_n_train: int = 5_000
    fcn_n_test: int = 10_000
    fcn_epochs: int = 10
    fcn_batch: int = 256  # paper
    fcn_width: int = 256
    fcn_depth: int = 20
    fcn_first_width: int | None = None
    conv_width: int = 16
    conv_depth: int = 3
    init_only_steps: int = 150  # project page: guide disconnected after 150 steps
    # alignment alone (card smoke (c))
    align_steps: int = 200
    align_batch: int = 256
    threads: int | None = 1


PROTOCOLS = {
    "smoke": Config("seconds: CKA identities, alignment alone on two MLPs (200 steps), a tiny copy-paste run "
                    "(512 sequences, RNN 2 x 32, guide 2 x 32) checking the guide stays frozen",
                    parts=("identities", "align", "copy-paste"), cp_n_train=512, cp_n_test=256, cp_epochs=1,
                    cp_batch=64, rnn_embedding=16, rnn_width=32, guide_width=32, guide_ff=64, guide_heads=4),
    "cpu": Config("card cpu ladder: copy-paste 20k/2k sequences, RNN 2 x 128 vs untrained 2-layer Transformer "
                  "guide, batch 64, 2 epochs; deep FCN 20 x 256 on 5k Fashion-MNIST, 10 epochs, untrained CNN "
                  "guide (full-time and first 150 steps); one thread"),
    "full": Config("paper sizes: copy-paste 80k/20k sequences, RNN 4 x 512 vs untrained 4 x 512 / 16-head guide, "
                   "batch 256, 10 epochs; deep FCN 2048 + 47 x 1024 on CIFAR-10, 30 epochs (GPU, not run here)",
                   cp_n_train=80_000, cp_n_test=20_000, cp_epochs=10, cp_batch=256, rnn_embedding=256,
                   rnn_width=512, rnn_depth=4, guide_width=512, guide_depth=4, guide_heads=16,
                   fcn_data="cifar10", fcn_n_train=50_000, fcn_n_test=10_000, fcn_epochs=30, fcn_width=1024,
                   fcn_depth=48, fcn_first_width=2048, conv_width=64, conv_depth=4, threads=None),
}


def identities(gen: torch.Generator) -> dict[str, float]:
    """Card smoke (a): CKA(X, X) = 1 and CKA(X, c X Q + 1 b^T) = 1 (float64), independent Gaussians
    (256 x 64) well below 1."""
    x = torch.randn(256, 64, generator=gen, dtype=torch.float64)
    q = torch.linalg.qr(torch.randn(64, 64, generator=gen, dtype=torch.float64))[0]
    b = torch.randn(1, 64, generator=gen, dtype=torch.float64)
    err = max(abs(1.0 - float(linear_cka(x, x))), abs(1.0 - float(linear_cka(x, -2.5 * x @ q + b))))
    ind = float(linear_cka(x, torch.randn(256, 64, generator=gen, dtype=torch.float64)))
    return {"cka_identity_err": err, "cka_independent": ind}


def _mlp() -> torch.nn.Module:
    from paperzoo.nn import MLP

    return MLP([32, 64, 64, 64, 10], flatten=False)


def align_alone(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Card smoke (c): two MLPs 32-64-64-64-10 (different seeds), alignment loss only over the 4 Linear
    outputs paired 1:1, Adam 1e-3, batch 256 of N(0, I): CKA before and after ``align_steps`` steps."""
    sub = ctx.sub("align")
    torch.manual_seed(sub.seed)
    target = _mlp()
    guide = _mlp()
    gl = GuidanceLoss(target, guide, mapping=[(i, i) for i in range(4)], drop_last=False)
    learner = GuidanceLearner(target, gl, task="align", batch_size=cfg.align_batch, optimizer="adam")
    g = sub.generator(1)
    train = TensorSet(torch.randn(cfg.align_steps * cfg.align_batch, 32, generator=g),
                      torch.zeros(cfg.align_steps * cfg.align_batch, dtype=torch.long), "gaussian")
    probe = TensorSet(torch.randn(cfg.align_batch, 32, generator=g), torch.zeros(cfg.align_batch, dtype=torch.long))
    before = learner.evaluate(probe)
    learner.fit(train, epochs=1, ctx=sub, desc="alignment alone")
    after = learner.evaluate(probe)
    ctx.table("align-alone", [{"pair": f"Linear {i + 1}", "CKA before": b, "CKA after": a}
                              for i, (b, a) in enumerate(zip(before["cka"], after["cka"]))],
              caption=f"two MLPs 32-64-64-64-10, alignment loss only, {cfg.align_steps} Adam steps, batch "
                      f"{cfg.align_batch} of N(0, I); CKA on a held-out batch")
    return {"align_cka_before": before["cka_mean"], "align_cka_after": after["cka_mean"],
            "align_cka_gain": after["cka_mean"] - before["cka_mean"]}


def copy_paste(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """RNN target with and without the untrained Transformer guide, same init, test accuracy per epoch."""
    gen = ctx.generator(2)
    train, test = copy_paste_dataset(cfg.cp_n_train, generator=gen), copy_paste_dataset(cfg.cp_n_test, generator=gen)
    runs, change = {}, {}
    for arm in ("baseline", "guided"):
        sub = ctx.sub(f"cp-{arm}")
        torch.manual_seed(ctx.seed * 7 + 1)  # the same target initialisation in both arms
        target = StackedRNNLM(embedding_dim=cfg.rnn_embedding, width=cfg.rnn_width, depth=cfg.rnn_depth).to(ctx.device)
        gl = None
        if arm == "guided":
            torch.manual_seed(ctx.seed * 7 + 2)
            guide = CausalTransformer(width=cfg.guide_width, depth=cfg.guide_depth, nhead=cfg.guide_heads,
                                      dim_feedforward=cfg.guide_ff, share_layers=cfg.share_layers).to(ctx.device)
            before = [p.detach().clone() for p in guide.parameters()]
            gl = GuidanceLoss(target, guide, alpha=cfg.alpha, guide_eval=not cfg.guide_dropout_on)
        sub.seed_all()
        learner = GuidanceLearner(target, gl, task="copy-paste", batch_size=cfg.cp_batch, optimizer="adamw")
        runs[arm] = learner.fit(train, epochs=cfg.cp_epochs, eval_data=test, ctx=sub, desc=f"copy-paste {arm}")
        if gl is not None:
            diffs = [float((p.detach() - q).abs().max()) for p, q in zip(gl.guide.parameters(), before)]
            grads = sum(p.grad is not None for p in gl.guide.parameters())
            change = {"guide_max_change": max(diffs) + grads}
    ep = [r["epoch"] for r in runs["baseline"]]
    ctx.curve("copy-paste", x=ep, ys={arm: [r["acc"] for r in runs[arm]] for arm in runs}, xlabel="epoch",
              ylabel="copy-paste test accuracy (%)", title="RNN target: baseline vs untrained-Transformer guide",
              hline=14.35)
    ctx.table("copy-paste-cka", [{"epoch": r["epoch"], "CKA per pair": [round(c, 4) for c in r["cka"]],
                                  "align loss": r["align_loss"], "CE": r["task_loss"], "test acc": r["acc"]}
                                 for r in runs["guided"]],
              caption="guided arm: mean CKA per supervised (guide, RNN layer) pair over the epoch's steps")
    base, guided = runs["baseline"][-1]["acc"], runs["guided"][-1]["acc"]
    return {"cp_baseline_acc": base, "cp_guided_acc": guided, "cp_guidance_gain": guided - base, **change}


def _upturn(hist: list[dict]) -> float:
    """How far the last epoch's validation loss sits above the lowest one (0: no upturn)."""
    losses = [r["val_loss"] for r in hist]
    return losses[-1] - min(losses)


def deep_fcn(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Deep FCN: baseline, guided by an untrained CNN all along, and guided for the first steps only."""
    data = load(cfg.fcn_data)
    xtr = data.train.x[:cfg.fcn_n_train]
    mean, std = xtr.mean(), xtr.std()
    train = TensorSet((xtr - mean) / std, data.train.y[:cfg.fcn_n_train], data.name)
    test = TensorSet((data.test.x[:cfg.fcn_n_test] - mean) / std, data.test.y[:cfg.fcn_n_test], data.name)
    chans, in_dim = train.x.shape[1], train.x[0].numel()
    runs = {}
    for arm, steps in (("baseline", None), ("guided", None), ("init-only", cfg.init_only_steps)):
        sub = ctx.sub(f"fcn-{arm}")
        torch.manual_seed(ctx.seed * 7 + 3)
        target = DeepFCN(in_dim, 10, width=cfg.fcn_width, depth=cfg.fcn_depth,
                         first_width=cfg.fcn_first_width).to(ctx.device)
        gl = None
        if arm != "baseline":
            torch.manual_seed(ctx.seed * 7 + 4)
            guide = ConvGuide(chans, 10, width=cfg.conv_width, depth=cfg.conv_depth).to(ctx.device)
            gl = GuidanceLoss(target, guide, alpha=cfg.alpha, steps=steps)
        sub.seed_all()
        learner = GuidanceLearner(target, gl, task="classification", batch_size=cfg.fcn_batch, optimizer="adam",
                                  lr_decay_every=30)
        runs[arm] = learner.fit(train, epochs=cfg.fcn_epochs, eval_data=test, ctx=sub, desc=f"deep FCN {arm}")
    ep = [r["epoch"] for r in runs["baseline"]]
    ctx.curve("fcn-val-loss", x=ep, ys={a: [r["val_loss"] for r in runs[a]] for a in runs}, xlabel="epoch",
              ylabel="validation loss", title=f"Deep FCN {cfg.fcn_depth} x {cfg.fcn_width} on {cfg.fcn_data}")
    ctx.curve("fcn-val-acc", x=ep, ys={a: [r["acc"] for r in runs[a]] for a in runs}, xlabel="epoch",
              ylabel="validation accuracy (%)", title=f"Deep FCN on {cfg.fcn_data}")
    ctx.table("fcn-final", [{"arm": a, "val acc": runs[a][-1]["acc"], "val loss": runs[a][-1]["val_loss"],
                             "min val loss": min(r["val_loss"] for r in runs[a]), "upturn": _upturn(runs[a]),
                             "train CE": runs[a][-1]["task_loss"]} for a in runs],
              caption=f"{len(train)} training / {len(test)} validation images, {cfg.fcn_epochs} epochs, batch "
                      f"{cfg.fcn_batch}; init-only = guide for the first {cfg.init_only_steps} steps")
    up = {a: _upturn(runs[a]) for a in runs}
    return {"fcn_baseline_acc": runs["baseline"][-1]["acc"], "fcn_guided_acc": runs["guided"][-1]["acc"],
            "fcn_guidance_gain": runs["guided"][-1]["acc"] - runs["baseline"][-1]["acc"],
            "fcn_baseline_upturn": up["baseline"], "fcn_guided_upturn": up["guided"],
            "fcn_init_only_upturn": up["init-only"], "fcn_upturn_reduction": up["baseline"] - up["guided"],
            "fcn_init_only_upturn_reduction": up["baseline"] - up["init-only"]}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    bad = [p for p in cfg.parts if p not in PARTS]
    if bad or not cfg.parts:
        raise ValueError(f"guidance: parts must name some of {PARTS}, got {cfg.parts!r}")
    metrics: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        if "identities" in cfg.parts:
            metrics.update(identities(ctx.generator(1)))
        if "align" in cfg.parts:
            metrics.update(align_alone(ctx, cfg))
        if "copy-paste" in cfg.parts:
            metrics.update(copy_paste(ctx, cfg))
        if "fcn" in cfg.parts:
            metrics.update(deep_fcn(ctx, cfg))
    return metrics
