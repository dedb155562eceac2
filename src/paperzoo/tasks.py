"""The task vocabulary models are registered under, so the arena and the probes can rely on shapes.

A ``Task`` names what goes in and what comes out. Fixed-shape tasks (``mnist``, ``cifar10`` ...)
make their own example inputs; tasks whose shapes depend on the model (``regression``,
``operator-1d`` ...) take the example from the model's registration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from paperzoo.names import unknown


@dataclass(frozen=True)
class Task:
    """``kind`` is one of classification | regression | operator | mil | graph-node.

    ``in_shape`` is the per-sample input shape (``None`` when the model decides), ``out_dim`` the
    number of classes or outputs, ``dataset`` the ``paperzoo.data`` set the arena trains on.
    """

    name: str
    kind: str
    description: str
    in_shape: tuple[int, ...] | None = None
    out_dim: int | None = None
    dataset: str | None = None

    def example(self, batch: int = 4, *, seed: int = 0) -> torch.Tensor:
        """A random input batch of the task's shape (only for fixed-shape tasks)."""
        if self.in_shape is None:
            raise ValueError(f"task {self.name!r} has no fixed input shape; the model's registration must give "
                             f"example=... (a function returning an input batch)")
        g = torch.Generator().manual_seed(seed)
        return torch.rand(batch, *self.in_shape, generator=g)

    def example_batch(self, batch: int = 64, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, labels) for a classification task: random inputs, every class present."""
        if self.kind != "classification" or self.out_dim is None:
            raise ValueError(f"task {self.name!r} is not a classification task")
        return self.example(batch, seed=seed), torch.arange(batch) % self.out_dim


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("mnist", "classification", "MNIST digits, 1x28x28 in [0, 1], 10 classes", (1, 28, 28), 10, "mnist"),
    Task("fashion-mnist", "classification", "Fashion-MNIST, 1x28x28 in [0, 1], 10 classes", (1, 28, 28), 10,
         "fashion-mnist"),
    Task("cifar10", "classification", "CIFAR-10, 3x32x32 in [0, 1], 10 classes", (3, 32, 32), 10, "cifar10"),
    Task("mil", "mil", "multiple-instance bags (B, N, d) -> one logit per bag"),
    Task("regression", "regression", "vector in -> vector out; shapes set by the model"),
    Task("operator-1d", "operator", "functions on a 1-D grid -> functions (B, C, N) or branch/trunk pairs"),
    Task("operator-2d", "operator", "fields on a 2-D grid (B, C, H, W) -> fields (B, C', H, W)"),
    Task("graph-node", "graph-node", "node features + graph -> per-node class logits"),
    Task("sequence", "sequence", "token or vector sequences (B, T, ...) -> outputs; shapes set by the model"),
)}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise unknown("task", name, TASKS, "paperzoo.tasks.TASKS lists them")
    return TASKS[name]


def call_model(model: torch.nn.Module, example: Any) -> Any:
    """Run ``model`` on an example: a tensor, a tuple of positional inputs, or a dict of keywords."""
    if isinstance(example, dict):
        return model(**example)
    if isinstance(example, (tuple, list)):
        return model(*example)
    return model(example)
