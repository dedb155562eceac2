"""Generated data sets on disk: keyed by generator, parameters and seed; atomic writes; checksummed reads.

``generated(name, params, make)`` returns ``make()``'s dict of tensors, computing it once: the tensors are stored
as ``<cache>/pde/<name>-<key>.safetensors`` (no pickle) next to a JSON sidecar with the parameters, the file's
SHA-256 and the creation time; ``key`` hashes ``(name, params, GENERATOR_VERSION)``. A file whose digest does not
match its sidecar is an error, never silently reused; ``regenerate=True`` rebuilds it.
``.mat`` files of the standard benchmarks (FNO Darcy / Navier-Stokes) are read by ``read_mat``.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import torch

from paperzoo.data.paths import DataError, cache_dir, file_digest

GENERATOR_VERSION = 1  # bump when a generator's output changes for the same parameters


def pde_dir() -> Path:
    return cache_dir() / "pde"


def _key(name: str, params: dict) -> str:
    blob = json.dumps({"name": name, "params": params, "version": GENERATOR_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _atomic_write_bytes(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def generated(name: str, params: dict, make: Callable[[], dict[str, torch.Tensor]], *, regenerate: bool = False,
              root: Path | None = None) -> dict[str, torch.Tensor]:
    """The data set ``name`` with ``params`` (JSON-able, include the seed): from the cache, or made and stored."""
    from safetensors.torch import load_file, save_file

    root = Path(root) if root is not None else pde_dir()
    stem = f"{name}-{_key(name, params)}"
    data_path, meta_path = root / f"{stem}.safetensors", root / f"{stem}.json"
    if data_path.is_file() and meta_path.is_file() and not regenerate:
        meta = json.loads(meta_path.read_text())
        if file_digest(data_path) != meta.get("sha256"):
            raise DataError(f"{data_path}: checksum does not match {meta_path.name}; delete it or pass regenerate=True")
        return load_file(data_path)
    tensors = make()
    if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        raise TypeError(f"generated({name!r}): make() must return a dict of tensors")
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    _atomic_write_bytes(data_path, lambda tmp: save_file(tensors, tmp))
    meta = {"name": name, "params": params, "version": GENERATOR_VERSION, "sha256": file_digest(data_path),
            "shapes": {k: list(v.shape) for k, v in tensors.items()},
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    _atomic_write_bytes(meta_path, lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=1, default=str)))
    return tensors


def list_generated(root: Path | None = None) -> list[dict]:
    """Sidecars of every cached generated set (for ``paperzoo data``), with the file size in bytes."""
    root = Path(root) if root is not None else pde_dir()
    out = []
    for meta_path in sorted(root.glob("*.json")) if root.is_dir() else []:
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError:
            continue
        data = meta_path.with_suffix(".safetensors")
        meta["path"], meta["bytes"] = str(data), data.stat().st_size if data.is_file() else 0
        out.append(meta)
    return out


def read_mat(path: str | Path, keys: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
    """Arrays of a MATLAB file as tensors: v4-v7.2 through ``scipy.io.loadmat``, v7.3 (HDF5) through ``h5py``
    with the axes reversed (MATLAB stores column-major; this is what FNO's ``MatReader`` does)."""
    import numpy as np
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_mat: no file {path}")
    try:
        raw = scipy.io.loadmat(path)
        arrays = {k: v for k, v in raw.items() if not k.startswith("__")}
    except (NotImplementedError, ValueError) as err:  # v7.3 is HDF5 (scipy: NotImplementedError, or ValueError)
        try:
            import h5py
        except ImportError as e:
            raise ImportError(f"read_mat: {path.name} is not a MATLAB v4-v7.2 file ({err}); if it is v7.3 (HDF5), "
                              "pip install h5py") from e
        if not h5py.is_hdf5(path):
            raise ValueError(f"read_mat: {path.name} is neither a MATLAB v4-v7.2 nor an HDF5 (v7.3) file: {err}") from err
        with h5py.File(path, "r") as f:
            arrays = {k: np.transpose(f[k][()]) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    if keys is not None:
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise KeyError(f"read_mat: {path.name} has no {missing}; it has {sorted(arrays)}")
        arrays = {k: arrays[k] for k in keys}
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items() if np.issubdtype(v.dtype, np.number)}
