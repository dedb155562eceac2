"""Data sets in their standard formats, verified by checksum, cached as tensors.

>>> from paperzoo.data import load_mnist
>>> mnist = load_mnist()              # Splits(train=60k, test=10k), x float in [0, 1], (N, 1, 28, 28)
"""
from paperzoo.data.cifar import parse_cifar_binary, parse_cifar_pickle
from paperzoo.data.datasets import (
    DATASETS,
    Dataset,
    load,
    load_cifar10,
    load_cifar10_python,
    load_fashion_mnist,
    load_mnist,
)
from paperzoo.data.idx import parse_idx, read_idx
from paperzoo.data.paths import DataError, cache_dir, checksum_table, data_dir, verify_file
from paperzoo.data.sets import Splits, TensorSet

__all__ = [
    "DATASETS", "DataError", "Dataset", "Splits", "TensorSet", "cache_dir", "checksum_table", "data_dir",
    "load", "load_cifar10", "load_cifar10_python", "load_fashion_mnist", "load_mnist", "parse_cifar_binary",
    "parse_cifar_pickle", "parse_idx", "read_idx", "verify_file",
]
