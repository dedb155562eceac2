"""The card's experiments: exact identities (smoke), capacity P = 2 vs P = 4, learning curves against the
binomial T = 0 value, detection at K = N / 10, and attractor classification on MNIST / Fashion-MNIST.
Each learning run is a ``HebbianLearner.fit`` on its own ``ctx.sub`` (checkpoints, resume, progress)."""
from __future__ import annotations

from typing import Sequence

import torch

from paperzoo.data import load_fashion_mnist, load_mnist
from paperzoo.papers.dense_hebbian import theory
from paperzoo.papers.dense_hebbian.dynamics import monte_carlo
from paperzoo.papers.dense_hebbian.learner import ClassExamples, HebbianLearner, RandomExamples, RetrievalTask
from paperzoo.papers.dense_hebbian.model import (
    DenseHebbian,
    binarize_images,
    hebbian_tensor,
    make_archetypes,
    make_examples,
    tensor_energy,
)


def identity_errors(generator: torch.Generator) -> dict[str, float]:
    """Card smoke (a): exact flip cost from the overlaps vs brute-force H(sigma') - H(sigma), 50 random flips
    (N = 60, P = 4, K = 5, M = 5, r = 0.5); and the overlap form vs the explicit tensor form at N = 8, P = 4
    (energies and every single-site flip cost, supervised and unsupervised). float64."""
    xi = make_archetypes(5, 60, generator=generator)
    net = DenseHebbian(4, make_examples(xi, 5, 0.5, generator=generator))
    sigma = make_archetypes(50, 60, generator=generator)
    i = torch.randint(0, 60, (50,), generator=generator)
    flipped = sigma.clone()
    flipped[torch.arange(50), i] *= -1
    brute = net.energy(flipped) - net.energy(sigma)
    err_flip = max(float((net.delta_energy(sigma, i) - brute).abs().max()),
                   float((net.delta_energy_all(sigma).gather(1, i[:, None])[:, 0] - brute).abs().max()))
    err_tensor = 0.0
    xi8 = make_archetypes(3, 8, generator=generator)
    ex8 = make_examples(xi8, 3, 0.4, generator=generator)
    states = make_archetypes(16, 8, generator=generator)
    eye = 1.0 - 2.0 * torch.eye(8, dtype=states.dtype)  # row j flips site j
    for mode in ("supervised", "unsupervised"):
        small = DenseHebbian(4, ex8, mode=mode)
        J = hebbian_tensor(small)
        e_t = tensor_energy(J, states)
        flips = (states[:, None, :] * eye).reshape(-1, 8)
        d_t = (tensor_energy(J, flips).reshape(16, 8) - e_t[:, None])
        err_tensor = max(err_tensor, float((small.energy(states) - e_t).abs().max()),
                         float((small.delta_energy_all(states) - d_t).abs().max()))
    return {"delta_energy_max_err": err_flip, "overlap_vs_tensor_max_err": err_tensor}


def hopfield_limit(N: int, K: int, generator: torch.Generator) -> dict[str, float]:
    """Card smoke (b): P = 2, M = 1, r = 1 is the Hopfield model; fraction of archetypes that are T = 0 fixed
    points (every flip raises H, and the dynamics leave them unchanged)."""
    xi = make_archetypes(K, N, generator=generator)
    net = DenseHebbian(2, make_examples(xi, 1, 1.0, generator=generator))
    res = monte_carlo(net, xi, sweeps=5, generator=generator)
    fixed = (net.delta_energy_all(xi) > 0).all(1) & (res.sigma == xi).all(1)
    return {"hopfield_limit_fixed_frac": float(fixed.double().mean())}


def low_load(ctx, *, N: int, K: int, P: int, r: float, M: int, seeds: Sequence[int]) -> dict[str, float]:
    """Card smoke (c): T = 0 from each archetype, learned from M examples; final m vs the empirical
    majority-vote overlap (max gap over starts and seeds) and vs the binomial value (gap of the mean)."""
    gaps, ms = [], []
    for s in seeds:
        sub = ctx.sub(f"lowload-s{s}")
        xi = make_archetypes(K, N, generator=torch.Generator().manual_seed(sub.seed))
        learner = HebbianLearner(K, N, P=P, schedule=(M,), eval_seed=sub.seed).to(ctx.device)
        learner.fit(RandomExamples(xi, r), epochs=1, ctx=sub, desc=f"low load s{s}")
        res = monte_carlo(learner.network(), xi.to(ctx.device), generator=torch.Generator().manual_seed(sub.seed))
        m = (res.sigma.cpu() * xi).mean(1)
        gaps.append(float((m - theory.majority_overlap(learner.eta_bar.cpu(), xi)).abs().max()))
        ms.append(float(m.mean()))
    binom = theory.m_T0_low_load(r, M)
    ctx.table("low-load", [{"seed": s, "m (mean over starts)": m, "max |m - majority|": g} for s, m, g in
                           zip(seeds, ms, gaps)], caption=f"N={N}, K={K}, P={P}, r={r}, M={M}; binomial m = {binom:.4f}")
    return {"low_load_gap_majority": max(gaps), "low_load_gap_binomial": abs(sum(ms) / len(ms) - binom),
            "low_load_m": sum(ms) / len(ms)}


def capacity(ctx, *, N: int, Ps: Sequence[int], Ks: Sequence[int], starts: int, threshold: float = 0.95) -> dict:
    """Card CPU (a): r = 1, M = 1 (stored patterns = archetypes); T = 0 from the first ``starts`` patterns;
    success = final m >= ``threshold``. One fresh pattern set per K."""
    rows, out = [], {}
    for K in Ks:
        g = torch.Generator().manual_seed(ctx.seed * 7_919 + K)
        xi = make_archetypes(K, N, generator=g)
        row = {"K": K, "alpha = K/N": K / N}
        for P in Ps:
            res = monte_carlo(DenseHebbian(P, xi.to(ctx.device)), xi[:starts], generator=g, sweeps=50)
            m = (res.sigma.cpu() * xi[:starts]).mean(1)
            frac = float((m >= threshold).double().mean())
            row[f"P={P} success"], row[f"P={P} mean m"] = frac, float(m.mean())
            out[f"capacity_p{P}_success_K{K}"] = frac
        rows.append(row)
        ctx.log(stage="capacity", **row)
    ctx.table("capacity", rows, caption=f"N={N}, r=1, M=1, T=0, {starts} starts (fewer when K is smaller); success = "
              f"m >= {threshold}; estimates: P=2 {theory.capacity_estimate(2, N):.0f}, "
              f"P=4 {theory.capacity_estimate(4, N):.0f} patterns")
    ctx.curve("capacity", x=list(Ks), ys={f"P={P}": [r[f"P={P} success"] for r in rows] for P in Ps}, xlabel="K",
              ylabel="fraction retrieved (m >= 0.95)", logx=True, title=f"capacity at N={N}: P=2 vs P=4")
    return out


def learning_curves(ctx, *, N: int, K: int, Ps: Sequence[int], rs: Sequence[float], Ms: Sequence[int],
                    sweeps: int, snr_min: float) -> dict:
    """Card CPU (b): m(M) from the archetypes after T = 0 dynamics, P x r, against the binomial value;
    the claim is the largest gap over the points with theory.snr >= ``snr_min``."""
    rows, curves, worst = [], {}, 0.0
    for P in Ps:
        for r in rs:
            sub = ctx.sub(f"lc-P{P}-r{r}")
            xi = make_archetypes(K, N, generator=torch.Generator().manual_seed(sub.seed))
            learner = HebbianLearner(K, N, P=P, schedule=Ms, sweeps=sweeps, eval_seed=sub.seed).to(ctx.device)
            hist = learner.fit(RandomExamples(xi, r), epochs=len(Ms), eval_data=RetrievalTask(xi, torch.arange(K), xi),
                               ctx=sub, desc=f"learning curve P={P} r={r}")
            curves[f"P={P} r={r}"] = [h["m"] for h in hist]
            for h in hist:
                M = h["M"]
                b, s = theory.m_T0_low_load(r, M), theory.snr(P, N, K, r, M)
                rows.append({"P": P, "r": r, "M": M, "m": h["m"], "binomial": b, "|m - binomial|": abs(h["m"] - b),
                             "S/N": s, "fixed points": h["stable"]})
                if s >= snr_min:
                    worst = max(worst, abs(h["m"] - b))
    for r in rs:
        curves[f"binomial r={r}"] = [theory.m_T0_low_load(r, M) for M in Ms]
    ctx.table("learning-curves", rows, caption=f"N={N}, K={K}, T=0 from each archetype; S/N = theory.snr (card scaling)")
    ctx.curve("learning-curves", x=list(Ms), ys=curves, xlabel="examples per class M", ylabel="Mattis m with archetype",
              logx=True, title=f"learning curves, N={N}, K={K}")
    return {"lc_max_dev_high_snr": worst}


def detection(ctx, *, N: int, K: int, Ps: Sequence[int], r: float, Ms: Sequence[int], sweeps: int) -> dict:
    """Card CPU (c): K = N / 10, start at sign(eta_bar^mu) of every class, T = 0; overlap with sign(eta_bar^mu)
    (untied sites) and Mattis m with the archetype, per M."""
    rows, out = [], {}
    for P in Ps:
        sub = ctx.sub(f"detect-P{P}")
        xi = make_archetypes(K, N, generator=torch.Generator().manual_seed(ctx.seed * 31 + 7))
        learner = HebbianLearner(K, N, P=P, schedule=Ms, sweeps=sweeps, eval_seed=sub.seed).to(ctx.device)
        hist = learner.fit(RandomExamples(xi, r), epochs=len(Ms), eval_data=RetrievalTask(None, torch.arange(K), xi),
                           ctx=sub, desc=f"detection P={P}")
        for h in hist:
            rows.append({"P": P, "M": h["M"], "rho": theory.rho(r, h["M"]), "overlap with sign(eta_bar)": h["m_example"],
                         "m with archetype": h["m"], "fixed points": h["stable"]})
        out[f"detect_p{P}_min_overlap"] = min(h["m_example"] for h in hist)
    ctx.table("detection", rows, caption=f"N={N}, K={K} (alpha = K/N = {K / N}), r={r}, T=0 from sign(eta_bar)")
    ctx.curve("detection", x=list(Ms), ys={f"P={P}": [r_["overlap with sign(eta_bar)"] for r_ in rows if r_["P"] == P]
                                           for P in Ps}, xlabel="M", ylabel="overlap with sign(eta_bar)",
              title=f"detection at K = N/10 (N={N}, r={r})")
    return out


LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}


def attractors(ctx, *, dataset: str, Ps: Sequence[int], Ms: Sequence[int], n_test: int, sweeps: int,
               center: bool = False) -> dict:
    """Card CPU (d): binarised images (pixel > 0.5 -> +1); the classes are the archetypes; T = 0 from each of the
    first ``n_test`` test images; accuracy = final state's largest overlap is with its own class's sign(eta_bar).
    ``center`` subtracts the class-mean of eta_bar from every stored pattern (the card's pitfall note)."""
    if dataset not in LOADERS:
        raise ValueError(f"dataset must be one of {sorted(LOADERS)}, got {dataset!r}")
    data = LOADERS[dataset]()
    xtr = binarize_images(data.train.x).double()
    task = RetrievalTask(binarize_images(data.test.x[:n_test]).double(), data.test.y[:n_test])
    source = ClassExamples.from_labelled(xtr, data.train.y, max(Ms), 10)
    tag = f"{dataset}{'-centred' if center else ''}"
    rows, out = [], {}
    for P in Ps:
        sub = ctx.sub(f"{tag}-P{P}")
        learner = HebbianLearner(10, xtr.shape[1], P=P, schedule=Ms, sweeps=sweeps, eval_seed=sub.seed,
                                 center=center).to(ctx.device)
        hist = learner.fit(source, epochs=len(Ms), eval_data=task, ctx=sub, desc=f"{tag} P={P}")
        for h in hist:
            rows.append({"P": P, "M": h["M"], "attractor acc": h["acc"], "overlap with own sign(eta_bar)": h["m_example"],
                         "fixed points": h["stable"]})
            out[f"{tag}_acc_p{P}_M{h['M']}"] = h["acc"]
    ctx.table(f"{tag}-attractors", rows, caption=f"{dataset}{' (centred patterns)' if center else ''}: first {n_test} "
              f"test images, T=0, up to {sweeps} sweeps; chance = 0.1")
    ctx.curve(f"{tag}-attractors", x=list(Ms), ys={f"P={P}": [r_["attractor acc"] for r_ in rows if r_["P"] == P]
                                                  for P in Ps}, xlabel="examples per class M", ylabel="attractor accuracy",
              logx=True, title=f"{tag}: attractor classification", hline=0.1)
    return out

