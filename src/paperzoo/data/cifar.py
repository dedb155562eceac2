"""CIFAR readers: the official *binary version* and the python-pickle version.

Binary records are 1 label byte + 3072 pixel bytes (R, G, B planes, 32x32 row-major).
The pickle version is read only after its checksum matches the table, and then with
a restricted unpickler that can build nothing but dicts, lists, strings, bytes and
numpy arrays.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from paperzoo.data.idx import read_bytes
from paperzoo.data.paths import DataError

RECORD = 1 + 3 * 32 * 32


def parse_cifar_binary(buf: bytes, name: str = "<bytes>", label_bytes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Binary-version records -> images uint8 (N, 3, 32, 32) and labels int64 (N,)."""
    rec = label_bytes + 3072
    if len(buf) == 0 or len(buf) % rec:
        raise DataError(f"{name}: {len(buf)} bytes is not a whole number of {rec}-byte CIFAR records "
                        f"(truncated or corrupt)")
    arr = np.frombuffer(buf, dtype=np.uint8).reshape(-1, rec)
    labels = arr[:, label_bytes - 1].astype(np.int64)
    images = arr[:, label_bytes:].reshape(-1, 3, 32, 32)
    if labels.max() > (9 if label_bytes == 1 else 99):
        raise DataError(f"{name}: label {labels.max()} out of range; not a CIFAR binary file")
    return images, labels


def read_cifar_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    return parse_cifar_binary(read_bytes(path), str(path))


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows only what a CIFAR batch needs: numpy array reconstruction and dtypes."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise DataError(f"refusing to unpickle {module}.{name}: not part of a CIFAR batch")


def parse_cifar_pickle(buf: bytes, name: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """A python-version batch (dict with b"data" (N, 3072) uint8 and b"labels"/b"fine_labels")."""
    try:
        d = _RestrictedUnpickler(io.BytesIO(buf), encoding="bytes").load()
    except DataError:
        raise
    except Exception as e:  # malformed pickle
        raise DataError(f"{name}: not a CIFAR python batch ({e})") from e
    if not isinstance(d, dict):
        raise DataError(f"{name}: expected a dict, got {type(d).__name__}")
    d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}
    labels = d.get("labels", d.get("fine_labels"))
    if "data" not in d or labels is None:
        raise DataError(f"{name}: missing 'data' or 'labels' keys ({sorted(d)})")
    data = np.asarray(d["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{name}: data shape {data.shape} / {len(labels)} labels is not a CIFAR batch")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)
