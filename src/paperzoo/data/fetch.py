"""``paperzoo data fetch NAME``: download a data set from its official source, verified."""
from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from paperzoo.data.datasets import DATASETS
from paperzoo.data.paths import DataError, data_dir, verify_file


def _download(url: str, dest: Path, timeout: float = 60.0) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise DataError(f"cannot download {url} ({e}). Offline? Place the official file at the path "
                        f"`paperzoo data path` prints instead.") from e


def fetch(name: str, root: Path | None = None) -> list[Path]:
    """Download ``name`` into the data root; every file is checked before it is kept."""
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    ds = DATASETS[name]
    if not ds.urls:
        raise DataError(f"{name}: no official download; place the files by hand: "
                        + ", ".join(str((Path(root) if root else data_dir()) / f) for f in ds.files))
    root = Path(root) if root else data_dir()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if ds.archive:  # one official archive, checked by its published md5, then its members
            arc = tmp / "archive.tar.gz"
            _download(ds.urls[0], arc)
            md5 = hashlib.md5(arc.read_bytes()).hexdigest()
            if md5 != ds.archive:
                raise DataError(f"{ds.urls[0]}: md5 {md5} != published {ds.archive}; not kept")
            dest = root / name
            with tarfile.open(arc) as tf:
                for m in tf.getmembers():
                    if not m.isfile() or m.name.startswith("/") or ".." in Path(m.name).parts:
                        continue
                    target = dest / m.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with tf.extractfile(m) as src, open(target, "wb") as f:
                        shutil.copyfileobj(src, f)
                    out.append(target)
            return out
        for rel, url in zip(ds.files, ds.urls):
            part = tmp / Path(rel).name
            _download(url, part)
            verify_file(part, rel)
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(part), target)
            out.append(target)
    return out
