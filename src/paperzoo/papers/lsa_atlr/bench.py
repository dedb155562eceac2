"""Side-by-side with the card's anchors (``paperzoo bench lsa-atlr``): the official LSA package and torchattacks.

(1) ``layerssustainabilityanalysis`` (PyPI 1.0.4, same code as ``khalooei/LSA``):
``LayerSustainabilityAnalysis(model).representation_comparisons(clean, perturbed)`` vs our
``relative_error_profile`` (batch Frobenius) on the same models and inputs; the card asks for equality to 1e-6.
A fresh model copy per official call (its hooks are never removed, card pitfall).
(2) ``torchattacks`` (3.5.1): ``FGSM`` and ``PGD(random_start=False)`` vs our ``fgsm`` / ``pgd`` (same eps,
step, steps): the fraction of identical adversarial inputs, the largest difference and robust accuracy (%).
Wall times (median ms) of both sides. Writes ``results/bench/lsa_atlr_anchors-<device>.csv``.
Both anchors are optional extras, imported lazily (``pip install layerssustainabilityanalysis torchattacks``).
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch

from paperzoo.bench import bench_csv_path, time_fn, write_csv
from paperzoo.papers.lsa_atlr.attacks import fgsm, pgd
from paperzoo.papers.lsa_atlr.lsa import relative_error_profile
from paperzoo.papers.lsa_atlr.models import lsa_cnn, moon_mlp

ANCHORS = ("layerssustainabilityanalysis", "torchattacks")


def _inputs(name: str, n: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if name == "moon_mlp":
        return moon_mlp().eval(), torch.rand(n, 2, generator=g), torch.randint(0, 2, (n,), generator=g)
    return lsa_cnn().eval(), torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def _lsa_rows(n: int, repeats: int) -> list[dict]:
    from LayerSustainabilityAnalysis import LayerSustainabilityAnalysis

    rows = []
    for name in ("moon_mlp", "lsa_cnn"):
        model, x, y = _inputs(name, n)
        x_adv = fgsm(model, x, y, 0.1)

        def official():
            with torch.no_grad():
                return LayerSustainabilityAnalysis(copy.deepcopy(model)).representation_comparisons(x, x_adv, verbose=False)

        theirs = torch.tensor([float(v) for v in official()], dtype=torch.float64)
        ours = relative_error_profile(model, x, x_adv)
        rows.append({"anchor": "layerssustainabilityanalysis", "model": name, "what": "relative error per probe",
                     "n": n, "probes": len(ours), "max_abs_diff": float((ours - theirs).abs().max()),
                     "identical_frac": "", "acc_ours": "", "acc_theirs": "",
                     "ours_ms": time_fn(lambda: relative_error_profile(model, x, x_adv), repeats=repeats)["median_ms"],
                     "theirs_ms": time_fn(official, repeats=repeats)["median_ms"]})
    return rows


def _attack_rows(n: int, repeats: int) -> list[dict]:
    import torchattacks

    model, x, y = _inputs("lsa_cnn", n)
    eps, steps = 0.3, 10
    alpha = 2.5 * eps / steps
    pairs = {"fgsm": (lambda: fgsm(model, x, y, eps), torchattacks.FGSM(model, eps=eps)),
             "pgd10 (no random start)": (lambda: pgd(model, x, y, eps, steps, alpha, rand_init=False),
                                         torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False))}
    rows = []
    for what, (ours_fn, atk) in pairs.items():
        a, b = ours_fn(), atk(x, y)
        with torch.no_grad():
            acc = [100.0 * float((model(z).argmax(1) == y).double().mean()) for z in (a, b)]
        same = (a == b).flatten(1).all(1).double().mean()
        rows.append({"anchor": "torchattacks", "model": "lsa_cnn", "what": what, "n": n, "probes": "",
                     "max_abs_diff": float((a - b).abs().max()), "identical_frac": float(same),
                     "acc_ours": acc[0], "acc_theirs": acc[1],
                     "ours_ms": time_fn(ours_fn, repeats=repeats)["median_ms"],
                     "theirs_ms": time_fn(lambda atk=atk: atk(x, y), repeats=repeats)["median_ms"]})
    return rows


def run(*, against: str | None = None, root: str | Path | None = None, n: int = 256, repeats: int = 5,
        threads: int = 1) -> Path:
    """Compare with ``against`` (one of ``ANCHORS``; None: both) and write the CSV under ``root/results/bench``."""
    if against is not None and against not in ANCHORS:
        raise ValueError(f"lsa-atlr bench compares with {ANCHORS}, got {against!r}")
    if root is None:
        from paperzoo.api import project_root

        root = project_root()
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = []
        if against in (None, "layerssustainabilityanalysis"):
            rows += _lsa_rows(n, repeats)
        if against in (None, "torchattacks"):
            rows += _attack_rows(n, repeats)
    finally:
        torch.set_num_threads(old)
    return write_csv(bench_csv_path(root, "lsa_atlr_anchors"), rows)
