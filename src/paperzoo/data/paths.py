"""Where data lives, and checksum verification against the table shipped in the package.

Data is looked up in ``$PAPERZOO_DATA`` (developers and CI: ``../shared/data``), else in
``~/.cache/paperzoo/data``. Nothing here downloads; ``paperzoo data fetch`` does.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import resources
from pathlib import Path


class DataError(RuntimeError):
    """A data file is missing, truncated or does not match its checksum."""


def data_dir() -> Path:
    """The data root: ``$PAPERZOO_DATA`` if set, else ``~/.cache/paperzoo/data``."""
    env = os.environ.get("PAPERZOO_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "paperzoo" / "data"


def cache_dir() -> Path:
    """Where decoded tensors are cached (``$PAPERZOO_CACHE`` or ``~/.cache/paperzoo/tensors``)."""
    env = os.environ.get("PAPERZOO_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "paperzoo" / "tensors"


@functools.lru_cache(maxsize=1)
def checksum_table() -> dict[str, dict[str, str]]:
    """``relative path -> {"sha256"|"md5": hex}``, shipped as ``checksums.json``."""
    return json.loads(resources.files(__package__).joinpath("checksums.json").read_text())


def file_digest(path: Path, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_VERIFIED: dict[tuple[str, float, int], str] = {}


def verify_file(path: Path, rel: str, expected: dict[str, str] | None = None) -> str:
    """Check ``path`` against the table entry for ``rel``; return the digest or raise ``DataError``."""
    expected = expected or checksum_table().get(rel)
    if expected is None:
        raise DataError(f"{rel}: no checksum in paperzoo's table; refusing to read an unverified file")
    algo, want = next(iter(expected.items()))
    st = path.stat()
    key = (str(path), st.st_mtime, st.st_size)
    if _VERIFIED.get(key) == want:
        return want
    got = file_digest(path, algo)
    if got != want:
        raise DataError(f"{path}: {algo} mismatch (got {got[:16]}…, expected {want[:16]}…). The file is "
                        f"corrupt or not the official one; replace it (`paperzoo data fetch` or copy a "
                        f"verified file to {data_dir() / rel}).")
    _VERIFIED[key] = want
    return want


def locate(rel: str, *, dataset: str, alternatives: tuple[str, ...] = ()) -> tuple[Path, str]:
    """Find ``rel`` (or an alternative spelling, e.g. without ``.gz``) under the data root."""
    root = data_dir()
    for cand in (rel, *alternatives):
        p = root / cand
        if p.is_file():
            return p, cand
    raise DataError(
        f"{dataset}: missing file {rel!r}. Expected it at {root / rel} (data root from "
        f"{'$PAPERZOO_DATA' if os.environ.get('PAPERZOO_DATA') else 'the default cache; set PAPERZOO_DATA'}). "
        f"Place the official file there, or run `paperzoo data fetch {dataset}` on a machine with internet.")
