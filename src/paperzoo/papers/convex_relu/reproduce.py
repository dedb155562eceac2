"""Convex two-layer ReLU training by ADMM: protocols (card "Reproduction ladder").

certified: 1-D data + bias (x = linspace(-1, 1, n), y = sign(sin 3x)), *every* activation pattern (exact for d = 2),
           ADMM to high precision -> recovery identity, the certified global optimum vs Adam restarts on the
           non-convex net, and (with cvxpy) the optimum vs CVXPY/Clarabel.
tabular:   breast cancer (sklearn's bundled copy), standardised, 80/20 split, squared loss on +-1 labels,
           P_s sampled patterns; ADMM for each rho against CVXPY; accuracy vs iteration; Adam restarts at the
           recovered width. full: MNIST pairs, PCA-50 + bias, n = 10k, P_s = 50.
at:        convex adversarial training on make_moons (needs cvxpy) vs PGD-AT at the same width, PGD-50 robust acc.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paperzoo.papers.convex_relu.admm import ADMMLearner
from paperzoo.papers.convex_relu.adversarial import ConvexATProblem, pgd_adversarial_training, robust_accuracy
from paperzoo.papers.convex_relu.data import load_task
from paperzoo.papers.convex_relu.model import TwoLayerReLU, adam_restarts
from paperzoo.papers.convex_relu.patterns import add_bias, enumerate_patterns_2d, sample_patterns
from paperzoo.papers.convex_relu.problem import ConvexReLUProblem, recover_network
from paperzoo.train import RunContext


@dataclass(frozen=True)
class Config:
    about: str
    n_1d: int = 30  # card smoke (b): x = linspace(-1, 1, 30)
    beta_1d: float = 1e-3  # card smoke (b)
    rho_1d: float = 0.01  # our sweep on this problem (rho in {0.01, 0.1, 1}): 0.01 reaches 1e-6 fastest
    iters_1d: int = 10_000
    adam_restarts: int = 20  # card smoke (b): 20 restarts, m = 50, lr 1e-2, 5 000 full-batch steps
    adam_width: int = 50
    adam_steps: int = 5_000
    adam_lr: float = 1e-2
    data: tuple[str, ...] = ("breast_cancer",)  # breast_cancer | mnist-0-1 | mnist-3-8 (PCA-50)
    n_train: int | None = None  # None: all of the 80% split (MNIST pairs: first n of the pair's train set)
    P: int = 100  # card cpu: P_s = 100 sampled patterns
    beta: float = 1e-3  # card cpu
    rhos: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)  # card: sweep rho, gamma_a / rho = 1
    iters: int = 1_000  # card cpu: gap <= 1e-2 within 1 000 iterations
    iters_per_epoch: int = 10
    max_violation: float = 1e-3  # card smoke (c): constraint violation < 1e-3 counts as solved (picks the best rho)
    early_iter: int = 100  # card cpu: accuracy within 1 point of final after ~100 iterations
    tab_adam_restarts: int = 5
    tab_adam_steps: int = 2_000
    cvxpy: bool = True  # tabular task: compare with CVXPY/Clarabel when it is installed (the 1-D problem always does)
    at_eps: tuple[float, ...] = ()  # card cpu: eps in {0.05, 0.1} on make_moons
    at_n: int = 100
    at_P: int = 40
    at_beta: float = 1e-2
    at_steps: int = 1_000  # PGD-AT Adam steps (PGD-10 inside)
    threads: int | None = None


PROTOCOLS = {
    "smoke": Config("seconds: 1-D data + bias, all 59 patterns, ADMM 8k iterations -> recovery identity and the "
                    "certified optimum vs 10 Adam restarts (1k steps); no tabular, no AT",
                    iters_1d=8_000, adam_restarts=10, adam_steps=1_000, data=(), threads=1),
    "cpu": Config("card cpu rung: certified 1-D problem (ADMM 10k it., 20 Adam restarts x 5k steps), breast cancer "
                  "P_s=100, ADMM rho in {0.03,0.1,0.3,1} x 1k iterations vs CVXPY, convex AT on moons eps 0.05/0.1 "
                  "vs PGD-AT (one core, a few minutes)", at_eps=(0.05, 0.1), threads=1),
    "full": Config("card full rung: MNIST 0-vs-1 and 3-vs-8, PCA-50 + bias, n=10k, P_s=50, ADMM 2k iterations on "
                   "the GPU (no CVXPY at this size); certified 1-D problem as in cpu", data=("mnist-0-1", "mnist-3-8"),
                   n_train=10_000, P=50, iters=2_000, iters_per_epoch=20, cvxpy=False),
}


def _has_cvxpy() -> bool:
    try:
        import cvxpy  # noqa: F401
    except ImportError:
        return False
    return True


def certified(ctx: RunContext, cfg: Config, use_cvxpy: bool) -> dict[str, float]:
    """Card smoke (a) + (b): recovery identity and the certified global optimum vs Adam on the non-convex net."""
    x = torch.linspace(-1, 1, cfg.n_1d, dtype=torch.float64)[:, None]
    y = torch.sign(torch.sin(3 * x[:, 0]))
    X = add_bias(x).to(ctx.device)
    D, _ = enumerate_patterns_2d(X)
    pb = ConvexReLUProblem(X, y.to(ctx.device), D, cfg.beta_1d)
    admm = ADMMLearner(pb, rho=cfg.rho_1d, iters_per_epoch=max(1, cfg.iters_1d // 10))
    hist = admm.fit(None, epochs=cfg.iters_1d // admm.iters_per_epoch, ctx=ctx.sub("certified-admm"), desc="ADMM 1-D")
    v, w = admm.solution
    opt = pb.objective(v, w)
    U, alpha = recover_network(v, w)
    net = TwoLayerReLU.from_neurons(U, alpha)
    with torch.no_grad():
        f_net, f_cvx = net(x.to(X)), pb.predict(v, w)
        obj_net = float(net.objective(x.to(X), pb.y, cfg.beta_1d))
    out = {"patterns_1d": pb.P, "optimum_1d": opt, "violation_1d": pb.violation(v, w), "neurons_1d": len(alpha),
           "recovery_pred_err": float((f_net - f_cvx).abs().max() / f_cvx.abs().max()),
           "recovery_obj_rel_err": abs(obj_net - opt) / opt}
    ad = adam_restarts(X, pb.y, width=cfg.adam_width, beta=cfg.beta_1d, restarts=cfg.adam_restarts,
                       steps=cfg.adam_steps, lr=cfg.adam_lr, generator=ctx.generator(11))
    excess = (ad["best"] - opt) / opt
    out.update(adam_excess_min=float(excess.min()), adam_excess_median=float(excess.median()))
    if use_cvxpy:
        _, _, info = pb.solve_cvxpy()
        out.update(cvxpy_optimum_1d=info["objective"], optimum_rel_gap=abs(opt - info["objective"]) / info["objective"])
    ctx.curve("certified-admm", x=[r["iteration"] for r in hist], ys={"objective - final": [
        max(r["objective"] - opt, 1e-16) for r in hist]}, xlabel="ADMM iteration", ylabel="objective - final objective",
        logy=True, title=f"ADMM on the certified 1-D problem (all {pb.P} patterns, rho = {cfg.rho_1d})")
    ctx.table("certified", [{"solver": "convex (ADMM, all patterns)", "objective": opt, "relative excess": 0.0},
                            *([{"solver": "convex (CVXPY/Clarabel)", "objective": out["cvxpy_optimum_1d"],
                                "relative excess": (out["cvxpy_optimum_1d"] - opt) / opt}] if use_cvxpy else []),
                            {"solver": f"Adam best of {cfg.adam_restarts} (m = {cfg.adam_width})",
                             "objective": float(ad["best"].min()), "relative excess": out["adam_excess_min"]},
                            {"solver": "Adam median restart", "objective": float(ad["best"].median()),
                             "relative excess": out["adam_excess_median"]}],
              caption=f"x = linspace(-1, 1, {cfg.n_1d}) + bias, y = sign(sin 3x), beta = {cfg.beta_1d}, squared loss; "
                      f"the convex optimum over all patterns is the global optimum of the non-convex problem")
    return out


def tabular(ctx: RunContext, cfg: Config, name: str, use_cvxpy: bool) -> dict[str, float]:
    """Card cpu / full rung: ADMM per rho vs CVXPY; accuracy vs iteration; Adam restarts at the recovered width."""
    Xtr, ytr, Xte, yte = load_task(name, n_train=cfg.n_train, generator=ctx.generator(3))
    Xtr, Xte = add_bias(Xtr).to(ctx.device), add_bias(Xte).to(ctx.device)
    D, _ = sample_patterns(Xtr, cfg.P, generator=ctx.generator(5))
    pb = ConvexReLUProblem(Xtr, ytr.to(ctx.device), D, cfg.beta)
    v_ref, w_ref, ref = pb.solve_cvxpy() if use_cvxpy else (None, None, None)
    epochs = cfg.iters // cfg.iters_per_epoch
    runs, rows = {}, []
    for rho in cfg.rhos:
        admm = ADMMLearner(pb, rho=rho, iters_per_epoch=cfg.iters_per_epoch)
        hist = admm.fit(None, epochs=epochs, eval_data=(Xte, yte), ctx=ctx.sub(f"{name}-rho{rho:g}"), desc=f"ADMM rho={rho:g}")
        runs[rho] = (admm, hist)
        early = next(r for r in hist if r["iteration"] >= cfg.early_iter)
        rows.append({"rho": rho, "objective": hist[-1]["objective"], "violation": hist[-1]["violation"],
                     "rel_gap": (hist[-1]["objective"] - ref["objective"]) / ref["objective"] if ref else float("nan"),
                     "test_acc": hist[-1]["test_acc"], f"test_acc@{early['iteration']}": early["test_acc"],
                     "active_blocks": hist[-1]["active"], "seconds": round(sum(r["seconds"] for r in hist), 2)})
    ok = [r for r in rows if r["violation"] <= cfg.max_violation] or rows
    best = min(ok, key=lambda r: r["objective"])  # lowest objective among the (nearly) feasible end points
    admm, hist = runs[best["rho"]]
    early = next(r for r in hist if r["iteration"] >= cfg.early_iter)
    out = {"test_acc": hist[-1]["test_acc"], "early_acc_gap": abs(early["test_acc"] - hist[-1]["test_acc"]),
           "best_rho": best["rho"], "admm_objective": hist[-1]["objective"], "admm_violation": hist[-1]["violation"],
           "patterns": pb.P}
    if ref:
        gaps = [max((r["objective"] - ref["objective"]) / ref["objective"], 1e-16) for r in hist]
        half = (len(gaps) - 1) // 2  # the second half of the run (nan with a single epoch)
        out.update(admm_rel_gap=abs(hist[-1]["objective"] - ref["objective"]) / ref["objective"],
                   cvxpy_objective=ref["objective"], cvxpy_seconds=ref["seconds"],
                   gap_decades_per_1000=1000 * (math.log10(gaps[half]) - math.log10(gaps[-1]))
                   / max(hist[-1]["iteration"] - hist[half]["iteration"], 1) if len(gaps) > 1 else float("nan"))
        ctx.curve(f"{name}-gap", x=[r["iteration"] for r in hist], ys={
            f"rho={rho:g}": [max((r["objective"] - ref["objective"]) / ref["objective"], 1e-16) for r in h]
            for rho, (_, h) in runs.items()}, xlabel="ADMM iteration", ylabel="(objective - CVXPY) / CVXPY", logy=True,
            title=f"{name}: ADMM relative gap to CVXPY/Clarabel ({ref['seconds']:.1f} s)", hline=1e-2)
    ctx.curve(f"{name}-accuracy", x=[r["iteration"] for r in hist], ys={f"rho={rho:g}": [r["test_acc"] for r in h]
                                                                        for rho, (_, h) in runs.items()},
              xlabel="ADMM iteration", ylabel="test accuracy (%)", title=f"{name}: recovered ReLU net during ADMM")
    ctx.table(f"{name}-rho", rows, caption=f"{name}: n = {pb.n}, d = {pb.d} (with bias), P = {pb.P} sampled patterns, "
                                           f"beta = {cfg.beta}, squared loss on +-1 labels, {cfg.iters} iterations")
    width = max(1, int(hist[-1]["active"]))
    ad = adam_restarts(Xtr, pb.y, width=width, beta=cfg.beta, restarts=cfg.tab_adam_restarts, steps=cfg.tab_adam_steps,
                       lr=1e-2, generator=ctx.generator(13))
    ref_obj = ref["objective"] if ref else hist[-1]["objective"]
    out["adam_excess_tabular"] = float((ad["best"].min() - ref_obj) / ref_obj)
    r = int(ad["final"].argmin())
    f = (Xte @ ad["U"][r].T).clamp(min=0) @ ad["alpha"][r]
    ctx.table(f"{name}-nonconvex", [
        *([{"method": "convex optimum (CVXPY/Clarabel)", "objective": ref_obj,
            "test_acc": 100.0 * float((torch.sign((Xte @ v_ref.T).clamp(min=0).sum(1) - (Xte @ w_ref.T).clamp(min=0).sum(1))
                                       == yte.to(Xte)).double().mean())}] if ref else []),
        {"method": f"convex, ADMM rho={best['rho']:g}, {cfg.iters} it.", "objective": hist[-1]["objective"],
         "test_acc": hist[-1]["test_acc"]},
        {"method": f"Adam best of {cfg.tab_adam_restarts}, m = {width}, {cfg.tab_adam_steps} steps",
         "objective": float(ad["final"][r]), "test_acc": 100.0 * float((torch.sign(f) == yte.to(f)).double().mean())}],
        caption=f"{name}: the same regularised objective; the sampled convex optimum bounds the global one from above")
    return out


def adversarial(ctx: RunContext, cfg: Config) -> dict[str, float]:
    """Card cpu rung: convex AT (CVXPY) vs PGD-AT at the same width on make_moons; PGD-50 robust accuracy."""
    xtr, ytr, xte, yte = load_task("moons", n_train=cfg.at_n, generator=ctx.generator(7))
    X = add_bias(xtr)
    D, _ = sample_patterns(X, cfg.at_P, generator=ctx.generator(9))
    rows, gains = [], []
    for eps in cfg.at_eps:
        pb = ConvexATProblem(X, ytr, D, cfg.at_beta, eps=eps)
        v, w, info = pb.solve_cvxpy()
        U, alpha = recover_network(v, w, tol=1e-6 * float(torch.cat([v, w]).norm(dim=1).max()))
        net = TwoLayerReLU.from_neurons(U, alpha)
        pgd = pgd_adversarial_training(xtr, ytr, width=len(alpha), beta=cfg.at_beta, eps=eps, steps=cfg.at_steps,
                                       generator=ctx.generator(17))
        g = lambda: ctx.generator(19)
        r = {"eps": eps, "width": len(alpha), "convex clean": robust_accuracy(net, xte, yte, 0.0),
             "convex PGD-50": robust_accuracy(net, xte, yte, eps, generator=g()),
             "convex certified (train)": 100.0 * float((pb.robust_margins(v, w) > 0).double().mean()),
             "PGD-AT clean": robust_accuracy(pgd, xte, yte, 0.0),
             "PGD-AT PGD-50": robust_accuracy(pgd, xte, yte, eps, generator=g()),
             "violation": pb.violation(v, w), "cvxpy s": round(info["seconds"], 2)}
        rows.append(r)
        gains.append(r["convex PGD-50"] - r["PGD-AT PGD-50"])
    ctx.table("adversarial", rows, caption=f"make_moons (noise 0.1), {cfg.at_n} train / {cfg.at_n} test, P = {D.shape[1]} "
                                           f"patterns, beta = {cfg.at_beta}, hinge; PGD-AT: same width, Adam, PGD-10 "
                                           f"inside, {cfg.at_steps} steps; robust accuracy under PGD-50 on the test set")
    return {"at_robust_gain": min(gains), **{f"at_gain_eps{r['eps']:g}": gn for r, gn in zip(rows, gains)}}


def run(ctx: RunContext, cfg: Config) -> dict[str, float]:
    has = _has_cvxpy()
    if not has:
        ctx.note("cvxpy is not installed: the claims against CVXPY and convex AT are not measured (pip install cvxpy)")
    metrics: dict[str, float] = {}
    with ctx.threads(cfg.threads):
        metrics.update(certified(ctx, cfg, has))  # tiny: CVXPY whenever it is installed
        for i, name in enumerate(cfg.data):
            m = tabular(ctx, cfg, name, cfg.cvxpy and has)
            metrics.update(m if i == 0 else {f"{name}_{k}": val for k, val in m.items()})
        if cfg.at_eps and _has_cvxpy():
            metrics.update(adversarial(ctx, cfg))
    return metrics
