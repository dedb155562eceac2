"""The card's experiments: learning the antiderivative / nonlinear-ODE operators, DeepONet vs the FNN baseline,
test error vs the number of sensors m and vs the number of training functions."""
from __future__ import annotations

import math

import torch

from paperzoo.data.pde import OperatorData, antiderivative_data, generated, nonlinear_ode_data
from paperzoo.papers.deeponet.model import DeepONet, FNNOperator
from paperzoo.papers.deeponet.training import mse, predict, train

PROBLEMS = {"antiderivative": antiderivative_data, "nonlinear_ode": nonlinear_ode_data}


def operator_data(problem: str, n: int, m: int = 100, *, points: int = 1, seed: int = 0, cache: bool = True
                  ) -> OperatorData:
    """``n`` functions (``points`` query points each) for ``problem``; cached on disk under ``paperzoo.data.pde``."""
    if problem not in PROBLEMS:
        raise ValueError(f"unknown problem {problem!r}; problems: {', '.join(PROBLEMS)}")

    def make():
        d = PROBLEMS[problem](n, m, points=points, seed=seed)
        return {"u": d.u, "y": d.y, "s": d.s}

    params = {"n": n, "m": m, "points": points, "seed": seed, "length_scale": 0.2, "n_grid": 1000}
    t = generated(f"deeponet-{problem}", params, make) if cache else make()
    return OperatorData(t["u"], t["y"], t["s"])


def subsample_sensors(data: OperatorData, m: int) -> OperatorData:
    """The same functions seen through ``m`` of the 100 sensors (equispaced indices, both ends kept)."""
    idx = torch.linspace(0, data.u.shape[1] - 1, m).round().long()
    return OperatorData(data.u[:, idx], data.y, data.s)


def fit_and_test(model, train_data: OperatorData, test_data: OperatorData, *, steps: int, lr: float = 1e-3,
                 seed: int = 0, progress=None) -> dict[str, float]:
    res = train(model, train_data, steps=steps, lr=lr, eval_every=min(1000, steps), progress=progress)
    return {"test_mse": mse(model, test_data), "train_mse": res.best_train_mse, "best_step": float(res.best_step)}


def zero_mse(data: OperatorData) -> float:
    return float((data.s.double() ** 2).mean())


def make_deeponet(m: int, seed: int, **kw) -> DeepONet:
    torch.manual_seed(seed)
    return DeepONet(m, **kw)


def make_fnn(m: int, seed: int) -> FNNOperator:
    torch.manual_seed(seed)
    return FNNOperator(m)


def power_law_slope(xs, ys) -> float:
    """Least-squares slope of log y on log x."""
    lx = torch.tensor([math.log(x) for x in xs], dtype=torch.float64)
    ly = torch.tensor([math.log(y) for y in ys], dtype=torch.float64)
    lx = lx - lx.mean()
    return float((lx * (ly - ly.mean())).sum() / (lx * lx).sum())


def scaling_invariant_error(model: DeepONet, u: torch.Tensor, y: torch.Tensor, c: float = 3.0) -> float:
    """Card smoke (b): scaling the last branch layer (weights and bias) by ``c`` scales ``G - b_0`` by exactly ``c``;
    returns max |G_c - b_0 - c (G - b_0)| / max |G - b_0|."""
    with torch.no_grad():
        b0 = float(model.b0) if model.b0 is not None else 0.0
        g = model(u, y) - b0
        model.branch.weights[-1].mul_(c)
        model.branch.biases[-1].mul_(c)
        gc = model(u, y) - b0
        model.branch.weights[-1].div_(c)
        model.branch.biases[-1].div_(c)
    return float((gc - c * g).abs().max() / g.abs().max().clamp_min(1e-30))


__all__ = ["PROBLEMS", "fit_and_test", "make_deeponet", "make_fnn", "operator_data", "power_law_slope", "predict",
           "scaling_invariant_error", "subsample_sensors", "zero_mse"]
