"""Hebbian storage from a stream of examples, as a kernel ``Learner`` (the learning curve of card cpu (c)).

Epoch ``e`` shows the network the examples ``a`` in ``[schedule[e-1], schedule[e])`` of every archetype (all replicas
at once) and adds them to the Hebbian couplings: the supervised rule keeps the per-archetype sums
``sum_a eta^{mu, a}`` (so ``etabar`` is exact at every ``M``), the unsupervised rule keeps every example (rebuilt from
the data, so a checkpoint stays small). ``evaluate`` runs Glauber dynamics from ``xi^1`` (blanks random) with the
couplings learnt so far and reports the Mattis magnetisations: ``m1`` (with the starting archetype) and the sorted
profile of ``|m_mu|``. Hebbian storage minimises nothing step by step; the epoch's ``loss`` (the protocol asks for
one) is the energy per spin of the first example of every archetype under the current couplings, a diagnostic.
"""
from __future__ import annotations

import torch

from paperzoo.papers.multitask_hebbian.couplings import HebbianCouplings
from paperzoo.papers.multitask_hebbian.dynamics import glauber, magnetizations, start_state
from paperzoo.train import Learner


class HebbianLearner(Learner):
    """``HebbianLearner(mode, *, d, r, schedule=(5, 20, 100, 500), beta=10, sweeps=20)``; data =
    ``{"xi": (R, K, N), "examples": (R, K, M_max, N)}``."""

    def __init__(self, mode: str, *, d: float, r: float, schedule: tuple[int, ...] = (5, 20, 100, 500),
                 beta: float = 10.0, sweeps: int = 20, block: int | None = None, seed: int = 0):
        if mode not in ("supervised", "unsupervised"):
            raise ValueError(f"HebbianLearner: mode must be 'supervised' or 'unsupervised', got {mode!r}")
        if not schedule or any(b <= a for a, b in zip(schedule, schedule[1:])) or schedule[0] < 1:
            raise ValueError(f"HebbianLearner: schedule must be increasing positive example counts, got {schedule}")
        self.mode, self.d, self.r, self.schedule = mode, d, r, tuple(schedule)
        self.beta, self.sweeps, self.block, self.seed = beta, sweeps, block, seed
        self.seen, self.sums = 0, None

    def couplings(self, data: dict) -> HebbianCouplings:
        if self.seen == 0:
            raise RuntimeError("HebbianLearner: no examples stored yet; train at least one epoch")
        if self.mode == "supervised":                       # etabar from the running sums
            return HebbianCouplings.supervised_from_sums(self.sums, self.seen, self.d, self.r)
        return HebbianCouplings.of("unsupervised", examples=data["examples"][..., :self.seen, :], d=self.d, r=self.r)

    def train_epoch(self, data: dict, *, epoch: int, generator: torch.Generator, progress) -> dict:
        ex = data["examples"]
        if epoch >= len(self.schedule) or self.schedule[epoch] > ex.shape[-2]:
            raise ValueError(f"HebbianLearner: epoch {epoch + 1} needs {self.schedule[min(epoch, len(self.schedule) - 1)]}"
                             f" examples per archetype; the data hold {ex.shape[-2]}")
        new = ex[..., self.seen:self.schedule[epoch], :]
        part = new.sum(-2)
        self.sums = part if self.sums is None else self.sums + part
        self.seen = self.schedule[epoch]
        probe = ex[..., 0, :]                               # (R, K, N): first example of every archetype
        coup = self.couplings(data)
        energy = torch.stack([coup.energy(probe[..., k, :]) for k in range(probe.shape[-2])], -1)
        progress.advance()
        return {"loss": float(energy.mean()) / coup.N, "M": self.seen}

    def steps_per_epoch(self, data) -> int:
        return 1

    def evaluate(self, data: dict) -> dict:
        xi = data["xi"]
        s0 = start_state(xi, 0, self.seed)
        s, _ = glauber(self.couplings(data), s0, self.beta, self.sweeps, block=self.block, seed=self.seed)
        m = magnetizations(s, xi)                           # (R, K)
        srt = m.abs().sort(-1, descending=True).values.mean(0)   # +-xi^mu: the sign is random
        return {"M": self.seen, "m1": float(m[..., 0].mean()), "m_sorted": [float(x) for x in srt]}

    def state_dict(self) -> dict:
        return {"seen": self.seen, "sums": self.sums}

    def load_state_dict(self, state: dict) -> None:
        self.seen, self.sums = int(state["seen"]), state["sums"]
