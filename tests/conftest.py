"""Shared test helpers: data availability, float64 where it matters, quiet progress bars."""
import os

import pytest
import torch

os.environ.setdefault("PAPERZOO_PROGRESS", "0")
# Tests use small tensors: one thread is faster and immune to a busy machine.
torch.set_num_threads(1)


def _have(name: str) -> bool:
    from paperzoo.data import DATASETS

    return all(p is not None for _, p in DATASETS[name].paths())


@pytest.fixture
def require_data():
    """``require_data("mnist")`` skips the test when the data set is not under PAPERZOO_DATA."""

    def need(name: str) -> None:
        if not _have(name):
            pytest.skip(f"{name} not found under PAPERZOO_DATA={os.environ.get('PAPERZOO_DATA')}")

    return need


@pytest.fixture(autouse=True)
def _torch_state():
    """Each test starts from torch's default dtype and a fixed seed."""
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(torch.float32)
