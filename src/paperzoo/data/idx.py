"""Reader for the IDX format of MNIST and Fashion-MNIST (plain or gzipped)."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from paperzoo.data.paths import DataError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if it ends in ``.gz``; a truncated stream raises ``DataError``."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
        raise DataError(f"{path}: cannot decompress ({e}); the file is truncated or corrupt") from e


def parse_idx(buf: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse an IDX buffer: magic ``00 00 <dtype> <ndim>``, big-endian int32 dims, then data."""
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0:
        raise DataError(f"{name}: not an IDX file (bad magic {buf[:4]!r})")
    code, ndim = buf[2], buf[3]
    if code not in _DTYPES:
        raise DataError(f"{name}: unknown IDX dtype code {code:#x}")
    dims = np.frombuffer(buf, dtype=">i4", count=ndim, offset=4).astype(np.int64)
    dtype = np.dtype(_DTYPES[code])
    need = 4 + 4 * ndim + int(np.prod(dims)) * dtype.itemsize
    if len(buf) != need:
        raise DataError(f"{name}: IDX size mismatch: header says {tuple(dims)} ({need} bytes), file has "
                        f"{len(buf)} bytes (truncated or corrupt)")
    return np.frombuffer(buf, dtype=dtype, offset=4 + 4 * ndim).reshape(tuple(dims))


def read_idx(path: Path) -> np.ndarray:
    return parse_idx(read_bytes(path), str(path))
