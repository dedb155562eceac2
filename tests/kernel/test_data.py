"""Data readers: exact parsing, checksum and truncation errors, the restricted unpickler, real-data stats."""
import gzip
import hashlib
import io
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from paperzoo import data as pzd
from paperzoo.data import DataError, TensorSet, parse_cifar_binary, parse_cifar_pickle, parse_idx, read_idx


def _idx(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}i", *arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_idx_roundtrip_exact(tmp_path, dtype):
    arr = (np.arange(2 * 3 * 4) * 7 - 20).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        arr = (np.arange(24) * 11 % 256).astype(np.uint8).reshape(2, 3, 4)
    p = tmp_path / "a.idx.gz"
    p.write_bytes(gzip.compress(_idx(arr)))
    np.testing.assert_array_equal(read_idx(p), arr)


def test_idx_bad_magic_and_size():
    good = _idx(np.zeros((3, 2), np.uint8))
    with pytest.raises(DataError, match="bad magic"):
        parse_idx(b"\x01" + good[1:])
    with pytest.raises(DataError, match="size mismatch"):
        parse_idx(good[:-1])


def test_truncated_gz_is_a_clear_error(tmp_path):
    blob = gzip.compress(_idx(np.arange(5000, dtype=np.uint8).reshape(50, 100)))
    p = tmp_path / "t.gz"
    p.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="t.gz: cannot decompress.*truncated"):
        read_idx(p)


def _fake_root(tmp_path, monkeypatch, mutate=None):
    """A data root whose mnist/ files are tiny IDX files, with a checksum table to match."""
    rng = np.random.default_rng(0)
    files = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
             "train-labels-idx1-ubyte.gz": (np.arange(20) % 10).astype(np.uint8),
             "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
             "t10k-labels-idx1-ubyte.gz": (np.arange(10) % 10).astype(np.uint8)}
    table = {}
    for name, arr in files.items():
        blob = gzip.compress(_idx(arr), mtime=0)
        table[f"mnist/{name}"] = {"sha256": hashlib.sha256(blob).hexdigest()}
        if mutate == name:
            blob = blob[:-8] + bytes(8)
        (tmp_path / "mnist").mkdir(exist_ok=True)
        (tmp_path / "mnist" / name).write_bytes(blob)
    monkeypatch.setenv("PAPERZOO_DATA", str(tmp_path))
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("paperzoo.data.paths.checksum_table", lambda: table)
    return files


def test_loader_reads_verified_files(tmp_path, monkeypatch):
    files = _fake_root(tmp_path, monkeypatch)
    s = pzd.load_mnist()
    assert s.train.x.shape == (20, 1, 28, 28) and s.train.x.dtype == torch.float32
    np.testing.assert_allclose(s.train.x[:, 0].numpy() * 255, files["train-images-idx3-ubyte.gz"], atol=1e-4)
    assert s.test.y.tolist() == list(range(10))
    again = pzd.load_mnist()  # from the tensor cache
    assert torch.equal(again.train.x, s.train.x)


def test_wrong_checksum_names_the_file(tmp_path, monkeypatch):
    _fake_root(tmp_path, monkeypatch, mutate="t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: sha256 mismatch"):
        pzd.load_mnist()


def test_missing_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERZOO_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"missing file 'mnist/train-images-idx3-ubyte.gz'.*paperzoo data fetch mnist"):
        pzd.load_mnist()


def test_cifar_binary_records():
    labels = np.array([3, 9], np.uint8)
    pix = np.arange(2 * 3072, dtype=np.int64).reshape(2, 3072) % 256
    buf = np.concatenate([labels[:, None], pix.astype(np.uint8)], 1).tobytes()
    x, y = parse_cifar_binary(buf)
    assert y.tolist() == [3, 9] and x.shape == (2, 3, 32, 32)
    assert x[1, 2, 31, 31] == pix[1, 3071] and x[0, 1, 0, 0] == pix[0, 1024]
    with pytest.raises(DataError, match="not a whole number"):
        parse_cifar_binary(buf[:-5])


def test_cifar_python_pickle_written_by_the_test(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    sums, expect = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 4).tolist()
        blob = pickle.dumps({b"batch_label": name.encode(), b"labels": labels, b"data": data}, protocol=2)
        (root / name).write_bytes(blob)
        sums[name] = {"sha256": hashlib.sha256(blob).hexdigest()}
        expect[name] = (data, labels)
    s = pzd.load_cifar10_python(root, checksums=sums)
    assert len(s.train) == 20 and len(s.test) == 4
    np.testing.assert_allclose(s.test.x.reshape(4, -1).numpy() * 255, expect["test_batch"][0], atol=1e-3)
    assert s.train.y[4:8].tolist() == expect["data_batch_2"][1]
    with pytest.raises(DataError, match="sha256 mismatch"):
        pzd.load_cifar10_python(root, checksums={**sums, "test_batch": {"sha256": "0" * 64}})


def test_restricted_unpickler_refuses_code():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(DataError, match="refusing to unpickle"):
        parse_cifar_pickle(pickle.dumps({b"data": Evil()}))


def test_tensorset_rejects_nan_and_mismatch():
    with pytest.raises(ValueError, match="NaN/inf.*first bad samples \\[1\\]"):
        TensorSet(torch.tensor([[0.0], [float("nan")]]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="x has 2 samples but y has 3"):
        TensorSet(torch.zeros(2, 1), torch.zeros(3))


def test_unknown_dataset_did_you_mean():
    with pytest.raises(KeyError, match="did you mean 'mnist'"):
        pzd.load("mnsit")


def test_real_mnist_statistics(require_data):
    require_data("mnist")
    s = pzd.load_mnist()
    assert torch.bincount(s.train.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert abs(s.train.x.mean().item() - 0.1307) < 1e-4 and abs(s.train.x.std().item() - 0.3081) < 1e-4


def test_real_cifar10_partial(require_data):
    require_data("cifar10")
    s = pzd.load_cifar10()
    assert s.train.y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert s.test.y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1] and len(s.test) == 1000
    assert "first 1,000" in s.note
    assert torch.allclose(s.train.x[0, :, 0, 0] * 255, torch.tensor([59.0, 62.0, 63.0]))


def test_fetch_offline_says_where_to_put_files(tmp_path, monkeypatch):
    import urllib.error

    from paperzoo.data import fetch as fetch_mod

    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match=r"cannot download https://.*train-images-idx3-ubyte.gz.*Offline\?"):
        fetch_mod.fetch("mnist", root=tmp_path)
    assert not list(tmp_path.rglob("*.gz"))  # nothing half-downloaded is kept
    with pytest.raises(DataError, match="no official download; place the files by hand"):
        fetch_mod.fetch("mil", root=tmp_path)


def test_fetch_rejects_a_corrupt_download(tmp_path, monkeypatch):
    from paperzoo.data import fetch as fetch_mod

    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(b"not mnist"))
    with pytest.raises(DataError, match="sha256 mismatch"):
        fetch_mod.fetch("mnist", root=tmp_path)
    assert not (tmp_path / "mnist").exists()
