"""``paperzoo bench mgno --against neuraloperator``: neuraloperator's FNO next to our MgNO and our FNO2d on the
same generated Darcy data at MgNO's parameter count (issue 8; card "Anchor").

Darcy 64 x 64 (FNO recipe, ``paperzoo.data.pde``), 400 train / 100 val / 100 test, the official MgNO Darcy recipe
for every model (Adam lr 5e-4, weight decay 1e-4, OneCycle, batch 8, H1 loss, pointwise input / output
normalisation, test error at the best-validation epoch), ``epochs`` epochs, one thread each. neuraloperator's
``FNO(n_modes=(12, 12))`` gets the ``hidden_channels`` that lands nearest MgNO's parameter count. Reported:
parameters, seconds per epoch (training + validation), test rel. L2 and rel. H1.
Needs the optional extra ``neuraloperator`` (imported only here).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from paperzoo.bench import bench_csv_path, bench_start, write_csv
from paperzoo.nn import count_params
from paperzoo.papers.mgno.layers import MgNO, set_normalizers
from paperzoo.papers.mgno.models import CPU_LEVELS
from paperzoo.papers.mgno.training import darcy_splits, fit
from paperzoo.registry import create_model


class _Normalised(nn.Module):
    """A third-party operator with our pointwise normalisers around it."""

    set_normalizers = set_normalizers

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        for k, v in (("x_mean", 0.0), ("x_std", 1.0), ("y_mean", 0.0), ("y_std", 1.0)):
            self.register_buffer(k, torch.tensor(v))

    def forward(self, a):
        return self.inner((a - self.x_mean) / self.x_std) * self.y_std + self.y_mean

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        # neuraloperator adds a non-tensor "_metadata" entry to its state dicts; it is not a parameter
        return super().load_state_dict({k: v for k, v in state_dict.items() if not k.endswith("_metadata")},
                                       strict=strict, assign=assign)


def _neuralop_fno(budget: int) -> nn.Module:
    from neuralop.models import FNO

    best = min(range(2, 65), key=lambda w: abs(count_params(FNO(n_modes=(12, 12), hidden_channels=w, in_channels=1,
                                                                   out_channels=1)) - budget))
    torch.manual_seed(0)
    return _Normalised(FNO(n_modes=(12, 12), hidden_channels=best, in_channels=1, out_channels=1))


def run(*, against: str | None = None, root: str | Path | None = None, epochs: int = 10, res: int = 64,
        threads: int = 1, seed: int = 0) -> Path:
    """Train the three models; write ``results/bench/mgno_vs_neuraloperator-cpu.csv`` under ``root``."""
    root = bench_start("mgno", against, "neuraloperator", root, module="neuralop", install="neuraloperator==2.0.0")
    import neuralop
    data = darcy_splits(400, 100, 100, res, seed=seed)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        torch.manual_seed(seed)
        budget = count_params(MgNO(ch=16, n_layers=4, levels=CPU_LEVELS))
        makers = {"paperzoo MgNO": lambda: MgNO(ch=16, n_layers=4, levels=CPU_LEVELS),
                  "paperzoo FNO2d": lambda: create_model("fno2d", params=budget),
                  f"neuraloperator FNO {neuralop.__version__}": lambda: _neuralop_fno(budget)}
        for name, make in makers.items():
            torch.manual_seed(seed)
            model = make()
            t0 = time.perf_counter()
            r = fit(model, data, epochs=epochs, seed=seed)
            secs = time.perf_counter() - t0
            rows.append({"model": name, "params": count_params(model), "res": res, "n_train": 400, "epochs": epochs,
                         "threads": threads, "s_per_epoch": round(secs / epochs, 3), "test_rel_l2": round(r.test_l2, 5),
                         "test_rel_h1": round(r.test_h1, 5), "best_epoch": r.best_epoch})
    finally:
        torch.set_num_threads(old)
    return write_csv(bench_csv_path(root, "mgno_vs_neuraloperator", "cpu"), rows)
