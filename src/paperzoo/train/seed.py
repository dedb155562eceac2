"""Seeding and device choice."""
from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (CPU and CUDA); return a fresh ``torch.Generator`` seeded alike."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def choose_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available else CPU; ``"cuda"`` without a GPU is an error."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA device "
                           f"(torch {torch.__version__}, CUDA build: {torch.version.cuda is not None}); "
                           "use --device cpu or auto")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    return dev


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator that fixes epoch ``epoch``'s data order: a pure function of (seed, epoch),
    so a resumed run sees the same order as an uninterrupted one."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7919 + 12345) % (2**63 - 1))


def default_threads() -> int:
    return int(os.environ.get("OMP_NUM_THREADS", 0)) or torch.get_num_threads()
