"""The card's binary tasks, as float64 tensors with labels in {-1, +1}: sklearn's bundled breast-cancer set
(standardised with training statistics, random 80/20 split), ``make_moons`` (noise 0.1) and MNIST pairs
(``mnist-a-b``: digits a -> -1, b -> +1, PCA to 50 dimensions fitted on the training images)."""
from __future__ import annotations

import torch

TASKS = ("breast_cancer", "moons", "mnist-a-b")


def _sklearn():
    try:
        import sklearn.datasets as skd
    except ImportError as e:
        raise ImportError("convex-relu's breast_cancer / moons tasks need scikit-learn (pip install scikit-learn)") from e
    return skd


def _split(x: torch.Tensor, y: torch.Tensor, frac: float, generator: torch.Generator | None):
    perm = torch.randperm(len(x), generator=generator)
    k = int(round(frac * len(x)))
    return x[perm[:k]], y[perm[:k]], x[perm[k:]], y[perm[k:]]


def pca(train: torch.Tensor, test: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Project both onto the top-k principal directions of the (centred) training set."""
    mean = train.mean(0)
    _, _, Vh = torch.linalg.svd(train - mean, full_matrices=False)
    return (train - mean) @ Vh[:k].T, (test - mean) @ Vh[:k].T


def load_task(name: str, *, n_train: int | None = None, generator: torch.Generator | None = None, pca_dim: int = 50
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(X_train, y_train, X_test, y_test), X float64 without the bias column, y in {-1, +1}.

    breast_cancer: 569 x 30, 80/20 split drawn from ``generator``, features standardised with the training
    mean / std (card cpu rung). moons: ``make_moons(2 n_train, noise=0.1)`` (seed drawn from ``generator``),
    first half train. mnist-a-b: first ``n_train`` training images of the two digits, the full test images of
    both, PCA-``pca_dim`` (card full rung); features scaled by the training projections' overall std."""
    if name == "breast_cancer":
        bc = _sklearn().load_breast_cancer()
        x, y = torch.tensor(bc.data, dtype=torch.float64), torch.tensor(2.0 * bc.target - 1)
        xtr, ytr, xte, yte = _split(x, y, 0.8, generator)
        if n_train is not None:
            xtr, ytr = xtr[:n_train], ytr[:n_train]
        mean, std = xtr.mean(0), xtr.std(0)
        return (xtr - mean) / std, ytr, (xte - mean) / std, yte
    if name == "moons":
        n = n_train or 100
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        x, y = _sklearn().make_moons(2 * n, noise=0.1, random_state=seed)
        x, y = torch.tensor(x, dtype=torch.float64), torch.tensor(2.0 * y - 1)
        return x[:n], y[:n], x[n:], y[n:]
    if name.startswith("mnist-"):
        try:
            a, b = (int(c) for c in name.split("-")[1:])
        except ValueError as e:
            raise ValueError(f"MNIST pair must be named 'mnist-a-b' with digits a, b; got {name!r}") from e
        from paperzoo.data import load_mnist

        data = load_mnist()

        def pick(s, n):
            keep = (s.y == a) | (s.y == b)
            x, y = s.x[keep].flatten(1).double()[:n], s.y[keep][:n]
            return x, torch.where(y == b, 1.0, -1.0).double()

        xtr, ytr = pick(data.train, n_train)
        xte, yte = pick(data.test, None)
        ptr, pte = pca(xtr, xte, pca_dim)
        scale = ptr.std()
        return ptr / scale, ytr, pte / scale, yte
    raise ValueError(f"unknown convex-relu task {name!r}; have {TASKS}")
