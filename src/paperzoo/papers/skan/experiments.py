"""The card's experiments: identity checks, the T_4 selection check, the function-fitting grid
(S-KAN vs single-family KANs vs a parameter-matched MLP) and S-ConvKAN vs ConvKANs on images."""
from __future__ import annotations

import statistics

import torch
from torch import nn

from paperzoo.nn import MLP, at_budget, count_params
from paperzoo.papers.skan.data import FUNCTIONS, function_fitting_suite
from paperzoo.papers.skan.layers import KANLayer, SelectableKANLayer
from paperzoo.papers.skan.model import KAN, SKAN, ConvKAN, SConvKAN
from paperzoo.papers.skan.training import rmse, train_skan


def identity_errors(seed: int = 0, families: tuple[str, ...] = ("bspline", "rbf", "chebyshev", "wavelet")) -> dict:
    """Card smoke (a): with ``a`` one-hot on family m a ``SelectableKANLayer`` equals the plain
    ``KANLayer`` of m holding the same coefficients; after ``select`` + ``prune`` the output is unchanged."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = torch.rand(64, 6, generator=g) * 2.4 - 1.2
    with torch.no_grad():
        return _identity_errors(x, g, families)


def _identity_errors(x: torch.Tensor, g: torch.Generator, families: tuple[str, ...]) -> dict:
    onehot = 0.0
    for m, fam in enumerate(families):
        sel = SelectableKANLayer(6, 5, families=families)
        sel.selection_weights.copy_(torch.nn.functional.one_hot(torch.full((5,), m), len(families)).float())
        plain = KANLayer(6, 5, basis=fam)
        plain.load_state_dict(sel.experts[m].state_dict())
        onehot = max(onehot, float((sel(x) - plain(x)).abs().max()))
    sel = SelectableKANLayer(6, 7, families=families)
    sel.selection_weights.uniform_(-1, 1, generator=g)
    sel.select(1)
    before = sel(x)
    sel.prune()
    return {"onehot_identity_err": onehot, "prune_identity_err": float((sel(x) - before).abs().max())}


def chebyshev_check(seeds: int, steps: int, *, base_seed: int = 0, phases=(0.6, 0.3, 0.1)) -> dict:
    """Card smoke (b): [1, 1] S-KAN over {B-spline, Chebyshev, RBF} fitted to T_4(x) (500 points, Adam
    1e-2, ``steps`` steps): median test RMSE and the fraction of seeds whose node chose Chebyshev."""
    errs, chose = [], []
    for s in range(seeds):
        x_tr, y_tr, x_te, y_te = function_fitting_suite("cheb4", 500, 500, seed=base_seed + s)
        torch.manual_seed(base_seed + s)
        model = SKAN([1, 1], families=("bspline", "chebyshev", "rbf"))
        train_skan(model, x_tr, y_tr, steps=steps, lr=1e-2, phases=phases)
        errs.append(rmse(model, x_te, y_te))
        chose.append(model.chosen_families()[0][0] == ("chebyshev",))
    return {"cheb4_rmse": statistics.median(errs), "cheb4_chebyshev_chosen": sum(chose) / len(chose)}


def matched_mlp(d: int, n_params: int) -> nn.Module:
    """MLP [d, h, h, 1] (SiLU) with h chosen so its parameter count is closest to ``n_params``."""
    return at_budget(lambda width: MLP([d, width, width, 1], act=nn.SiLU, flatten=False), n_params, knob="width",
                     tol=0.5)


def fit_one(name: str, seed: int, *, families, hidden: int, steps: int, lr: float, phases, n_train: int,
            n_test: int) -> dict:
    """One function, one seed: test RMSE of S-KAN, every single-family KAN and the matched MLP."""
    x_tr, y_tr, x_te, y_te = function_fitting_suite(name, n_train, n_test, seed=seed)
    d = FUNCTIONS[name][0]
    out: dict = {}
    torch.manual_seed(seed)
    skan = SKAN([d, hidden, 1], families=families)
    hist = train_skan(skan, x_tr, y_tr, steps=steps, lr=lr, phases=phases)
    out["skan"] = rmse(skan, x_te, y_te)
    out["skan_params"] = count_params(skan)
    out["skan_families"] = hist["families"]
    for fam in families:
        torch.manual_seed(seed)
        kan = KAN([d, hidden, 1], basis=fam)
        train_skan(kan, x_tr, y_tr, steps=steps, lr=lr, phases=(1.0,))
        out[fam] = rmse(kan, x_te, y_te)
    torch.manual_seed(seed)
    mlp = matched_mlp(d, out["skan_params"])
    train_skan(mlp, x_tr, y_tr, steps=steps, lr=lr, phases=(1.0,))
    out["mlp"], out["mlp_params"] = rmse(mlp, x_te, y_te), count_params(mlp)
    return out


def summarise_fitting(per_fn: dict[str, list[dict]], families) -> tuple[dict, list[dict]]:
    """Median over seeds per function; the card's counts: S-KAN within 1.1x of the best single family,
    S-KAN below the matched MLP, and how many different families win a function."""
    rows, near, beats, winners = [], 0, 0, set()
    for name, runs in per_fn.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("skan", "mlp", *families)}
        best = min(families, key=lambda f: med[f])
        winners.add(best)
        near += med["skan"] <= 1.1 * med[best]
        beats += med["skan"] < med["mlp"]
        rows.append({"function": name, "skan": med["skan"], **{f: med[f] for f in families}, "mlp": med["mlp"],
                     "best_single": best, "skan_params": int(statistics.median(r["skan_params"] for r in runs)),
                     "mlp_params": int(statistics.median(r["mlp_params"] for r in runs))})
    metrics = {"fit_skan_near_best": float(near), "fit_skan_beats_mlp": float(beats),
               "fit_distinct_winners": float(len(winners)), "fit_functions": float(len(per_fn))}
    return metrics, rows


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    was = model.training
    model.eval()
    correct = sum(int((model(x[i:i + batch]).argmax(-1) == y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    model.train(was)
    return 100.0 * correct / len(x)


def image_one(kind: str, train, test, *, seed: int, epochs: int, batch: int, lr: float, families, phases) -> dict:
    """Train S-ConvKAN (``kind='skan'``, three phases) or a single-family ConvKAN (``kind`` = family)
    with Adam on mini-batches; returns test accuracy (%) and parameter count."""
    torch.manual_seed(seed)
    in_chans, size = train.x.shape[1], train.x.shape[-1]
    if kind == "skan":
        model = SConvKAN(in_chans, 10, families=families, image_size=size)
    else:
        model = ConvKAN(in_chans, 10, basis=kind, image_size=size)
        phases = (1.0,)
    steps = epochs * (len(train) // batch)
    hist = train_skan(model, train.x, train.y, steps=steps, lr=lr, phases=phases, batch_size=batch, loss="ce",
                      generator=torch.Generator().manual_seed(seed))
    return {"acc": _accuracy(model, test.x, test.y), "params": count_params(model), "families": hist["families"]}
