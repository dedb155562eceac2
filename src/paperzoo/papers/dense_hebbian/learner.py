"""Supervised Hebbian learning as a kernel ``Learner``: the examples stream in, the network stores their
class-wise running sums, and each epoch ends with T = 0 retrieval (or attractor classification).

Supervised Hebbian storage is one-shot and order-free: after M examples per class the stored pattern is
eta_bar^mu = (1/M) sum_a eta^{mu,a} (card: supervised cost), whatever the order or chunking. So an
"epoch" here is one rung of a ladder ``schedule = (M_1 < M_2 < ...)``: epoch e adds M_e - M_(e-1)
examples per class, and ``evaluate`` measures the network that M_e examples per class built. That
makes the learning curve m(M) a ``Learner.fit`` run, with the kernel's progress bar, JSONL log,
per-epoch checkpoints and bit-identical resume.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from paperzoo.papers.dense_hebbian.dynamics import monte_carlo
from paperzoo.papers.dense_hebbian.model import DenseHebbian, make_examples, mattis
from paperzoo.train import Learner
from paperzoo.train.log import Progress


class RandomExamples:
    """Stream of fresh random examples of fixed archetypes ``xi`` (K, N) at quality ``r`` (card: data model)."""

    def __init__(self, xi: torch.Tensor, r: float):
        if xi.ndim != 2:
            raise ValueError(f"xi must be (K, N), got shape {tuple(xi.shape)}")
        self.xi, self.r = xi, float(r)
        make_examples(xi[:, :1], 0, self.r)  # validates r

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.xi.shape)

    def take(self, start: int, count: int, generator: torch.Generator) -> torch.Tensor:
        return make_examples(self.xi, count, self.r, generator=generator)


class ClassExamples:
    """Labelled +-1 examples grouped by class, ``x`` (K, M_max, N): examples start..start+count of each class."""

    def __init__(self, x: torch.Tensor):
        if x.ndim != 3:
            raise ValueError(f"x must be (K, M_max, N), got shape {tuple(x.shape)}")
        self.x = x

    @property
    def shape(self) -> tuple[int, int]:
        return (self.x.shape[0], self.x.shape[2])

    def take(self, start: int, count: int, generator: torch.Generator) -> torch.Tensor:
        if start + count > self.x.shape[1]:
            raise ValueError(f"asked for examples {start}..{start + count} per class; only {self.x.shape[1]} held")
        return self.x[:, start:start + count]

    @staticmethod
    def from_labelled(x: torch.Tensor, y: torch.Tensor, per_class: int, num_classes: int) -> "ClassExamples":
        """The first ``per_class`` examples of each class from (x (n, N), y (n,)), in data order."""
        idx = []
        for k in range(num_classes):  # over the K classes (10), to group the rows
            rows = (y == k).nonzero().flatten()[:per_class]
            if len(rows) < per_class:
                raise ValueError(f"class {k} has only {len(rows)} examples, {per_class} asked for")
            idx.append(rows)
        return ClassExamples(x[torch.stack(idx)])


@dataclass
class RetrievalTask:
    """Starting states (B, N) (``None``: sign(eta_bar) of each label's class, ties +1), the class of each
    (B,), and optionally the archetypes (K, N) to measure the Mattis magnetisation against (random theory)."""

    starts: torch.Tensor | None
    labels: torch.Tensor
    archetypes: torch.Tensor | None = None


class HebbianLearner(Learner):
    """Supervised dense Hebbian storage from a stream of examples; T = 0 (or finite beta) retrieval to evaluate.

    ``K, N``: classes and neurons; ``P``: the interaction order; ``schedule``: examples per class after each
    epoch (strictly increasing); ``R``: overlap normaliser (None: the empirical mean of eta_bar^2);
    ``beta``/``sweeps``: the evaluation dynamics; ``eval_seed`` fixes its site orders; ``center``: store
    eta_bar^mu - (1/K) sum_nu eta_bar^nu (for correlated classes such as MNIST; card pitfalls).
    """

    def __init__(self, K: int, N: int, *, P: int = 4, schedule: Sequence[int] = (1, 10, 100), R: float | None = None,
                 beta: float = math.inf, sweeps: int = 30, eval_seed: int = 0, center: bool = False,
                 dtype: torch.dtype = torch.float64):
        sched = tuple(int(m) for m in schedule)
        if not sched or sched[0] < 1 or any(b <= a for a, b in zip(sched, sched[1:])):
            raise ValueError(f"schedule must be a strictly increasing tuple of positive ints, got {schedule!r}")
        if P < 2 or P % 2:
            raise ValueError(f"P must be an even integer >= 2, got {P!r}")
        self.K, self.N, self.P, self.schedule, self.R = K, N, P, sched, R
        self.beta, self.sweeps, self.eval_seed, self.center = beta, sweeps, eval_seed, center
        self.sums = torch.zeros(K, N, dtype=dtype)
        self.count = 0

    def steps_per_epoch(self, data) -> int | None:
        return None

    @property
    def eta_bar(self) -> torch.Tensor:
        if self.count == 0:
            raise RuntimeError("no example stored yet: call fit first")
        return self.sums / self.count

    def network(self) -> DenseHebbian:
        """The network the stored examples define (supervised form, Eq. of the card)."""
        eta = self.eta_bar
        return DenseHebbian(self.P, eta - eta.mean(0) if self.center else eta, R=self.R)

    def to(self, device) -> "HebbianLearner":
        self.sums = self.sums.to(device)
        return self

    def train_epoch(self, data, *, epoch: int, generator: torch.Generator, progress: Progress) -> dict:
        if tuple(data.shape) != (self.K, self.N):
            raise ValueError(f"data holds (K, N) = {tuple(data.shape)}, the learner (K, N) = {(self.K, self.N)}")
        if epoch >= len(self.schedule):
            raise ValueError(f"epoch {epoch} is beyond the schedule {self.schedule}")
        add = self.schedule[epoch] - self.count
        ex = data.take(self.count, add, generator).to(self.sums)
        self.sums = self.sums + ex.sum(1)  # the Hebbian storage: sum_a eta^{mu,a}, per class
        self.count = self.schedule[epoch]
        net = self.network()
        e = net.energy(torch.sign(net.patterns) + (net.patterns == 0))  # H at sign(eta_bar^mu): mean per neuron
        return {"loss": float(e.mean()) / self.N, "M": self.count}

    def evaluate(self, data: RetrievalTask) -> dict:
        """T = 0 dynamics from ``data.starts``; ``m``: mean Mattis overlap of the final state with the start's
        archetype (when given), ``m_example``: with sign(eta_bar) of its class, ``acc``: fraction whose
        final state overlaps its own class's sign(eta_bar) most, ``stable``: fraction of fixed points."""
        net = self.network()
        g = torch.Generator().manual_seed(self.eval_seed)
        starts = data.starts if data.starts is not None else torch.where(self.eta_bar[data.labels] >= 0, 1.0, -1.0)
        res = monte_carlo(net, starts.to(self.sums), beta=self.beta, sweeps=self.sweeps, generator=g)
        ov = net.example_overlaps(res.sigma)
        lab = data.labels.to(ov.device)
        out = {"m_example": float(ov.gather(1, lab[:, None]).mean()),
               "acc": float((ov.argmax(1) == lab).double().mean()),
               "stable": float(res.stable.double().mean()), "sweeps": res.sweeps}
        if data.archetypes is not None:
            out["m"] = float(mattis(res.sigma, data.archetypes.to(self.sums)).gather(1, lab[:, None]).mean())
        return out

    def state_dict(self) -> dict:
        return {"sums": self.sums.clone(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        if tuple(state["sums"].shape) != (self.K, self.N):
            raise ValueError(f"state holds sums of shape {tuple(state['sums'].shape)}, expected {(self.K, self.N)}")
        self.sums = state["sums"].to(self.sums)
        self.count = int(state["count"])
