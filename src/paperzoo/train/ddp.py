"""torchrun / DistributedDataParallel helpers (gloo on CPU, nccl on CUDA)."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def dist_info() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed(device: torch.device | None = None) -> tuple[int, int]:
    """Join the process group torchrun describes in the environment (no-op when WORLD_SIZE <= 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device is not None and torch.device(device).type == "cuda" else "gloo"
        dist.init_process_group(backend)
    return dist_info()


def all_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over ranks (identity outside a process group)."""
    rank, world = dist_info()
    if world == 1:
        return x
    y = x.detach().clone()
    dist.all_reduce(y)
    return y / world


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
