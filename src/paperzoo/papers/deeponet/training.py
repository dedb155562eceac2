"""Full-batch Adam on operator data, keeping the checkpoint of least *training* loss (official
``deeponet_pde.py``: evaluate every 1000 steps, report the test error of the best-training-loss state)."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from paperzoo.data.pde import OperatorData


@dataclass
class TrainResult:
    steps: int
    best_step: int
    best_train_mse: float
    history: list[tuple[int, float]]


def predict(model, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Triplets: ``y`` (B, P, d) -> (B, P), each function at its own points (``pointwise`` on the flattened pairs)."""
    B, P, d = y.shape
    return model.pointwise(u.repeat_interleave(P, 0), y.reshape(B * P, d)).view(B, P)


def mse(model, data: OperatorData) -> float:
    with torch.no_grad():
        return float(((predict(model, data.u.float(), data.y.float()) - data.s.float()) ** 2).mean())


def mse_without_outliers(err2: torch.Tensor, frac: float = 0.001) -> float:
    """Mean squared error after dropping the largest ``frac`` of the squared errors (official ``utils.py``)."""
    e = err2.flatten().sort().values
    keep = max(1, int(math.ceil(len(e) * (1 - frac))))
    return float(e[:keep].mean())


def train(model, data: OperatorData, *, steps: int, lr: float = 1e-3, eval_every: int = 1000, progress=None
          ) -> TrainResult:
    """Adam (lr 1e-3, official) on the full training set for ``steps`` steps; loads the best-training-loss state."""
    if steps < 1 or eval_every < 1:
        raise ValueError(f"train: need steps >= 1 and eval_every >= 1, got {steps}, {eval_every}")
    u, y, s = data.u.float(), data.y.float(), data.s.float()
    B, P, d = y.shape
    uu, yy = u.repeat_interleave(P, 0), y.reshape(B * P, d)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    best, best_step, best_state, hist = math.inf, 0, None, []
    for step in range(1, steps + 1):
        loss = ((model.pointwise(uu, yy).view(B, P) - s) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"training diverged by step {step} (loss {loss.item()})")
            cur = mse(model, data)  # after the step, like DeepXDE's periodic evaluation
            hist.append((step, cur))
            if cur < best:
                best, best_step, best_state = cur, step, copy.deepcopy(model.state_dict())
            if progress is not None:
                progress.advance(min(eval_every, step - (hist[-2][0] if len(hist) > 1 else 0)))
    if best_state is not None:
        model.load_state_dict(best_state)
    return TrainResult(steps, best_step, best, hist)
