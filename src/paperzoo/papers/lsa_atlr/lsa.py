"""Layer Sustainability Analysis (LSA) and the AT-LR loss (Khalooei et al. 2022, arXiv 2202.02626).

Comparison measure (official ``LayerSustainabilityAnalysis/layersustainabilityanalysis.py``, card
"source-checked"): for a probe l with output phi_l,
    CM_l = ||phi_l(x) - phi_l(x_hat)||_F / ||phi_l(x)||_F,
one Frobenius norm over the whole batch tensor (batch x channels x positions). Probes are the outputs of the
activation modules whose type name is in ``PROBE_TYPES`` (official ``selected_probs``), in module order.
MVL (most vulnerable layers): probes whose mean CM over batches is above the mean over probes (card project
default; the paper's rule was not retrieved) or the ``k`` largest.
AT-LR objective (card, from the official README):
    min_theta E[ J(theta, x_hat, y) + sum_{l in MVL} gamma_l CM_l(phi_l(x), phi_l(x_hat)) ],
differentiated through phi_l(x) and phi_l(x_hat); x_hat is a constant once generated.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ATLRLoss", "PROBE_TYPES", "capture", "lsa_profile", "most_vulnerable_layers", "probe_activations",
           "probe_modules", "relative_error", "relative_error_profile"]

PROBE_TYPES = ("ReLU", "ELU", "LeakyReLU")  # official selected_probs


def probe_modules(model: nn.Module, types: Sequence[str] = PROBE_TYPES) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every submodule whose class name is in ``types``, in ``named_modules`` order.
    Functional activations (``F.relu``) are invisible, as in the official code (card pitfall)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(types, str):
        types = (types,)
    return [(k, m) for k, m in model.named_modules() if type(m).__name__ in types]


@contextlib.contextmanager
def capture(modules: Sequence[nn.Module]) -> Iterator[list[list[torch.Tensor]]]:
    """Forward hooks that append each module's output (with its graph) to ``store[i]``; removed on exit,
    so repeated use never duplicates hooks (the official code's trap, card pitfall)."""
    store: list[list[torch.Tensor]] = [[] for _ in modules]
    handles = [m.register_forward_hook(lambda _m, _a, out, i=i: store[i].append(out)) for i, m in enumerate(modules)]
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


def _joined(outs: list[torch.Tensor]) -> torch.Tensor:
    """All outputs of one probe in one forward pass (a module called twice contributes both)."""
    if not outs:
        raise RuntimeError("a probe module was not called in the forward pass")
    return outs[0] if len(outs) == 1 else torch.cat([o.flatten(1) for o in outs], 1)


def probe_activations(model: nn.Module, x: torch.Tensor, types: Sequence[str] = PROBE_TYPES) -> list[torch.Tensor]:
    """Outputs of the probe modules on ``x`` (eval mode, no grad), one tensor per probe, module order."""
    mods = [m for _, m in probe_modules(model, types)]
    was = model.training
    model.eval()
    try:
        with torch.no_grad(), capture(mods) as store:
            model(x)
    finally:
        model.train(was)
    return [_joined(s).detach() for s in store]


def relative_error(clean: torch.Tensor, pert: torch.Tensor, reduce: str = "batch_frobenius") -> torch.Tensor:
    """CM = ||clean - pert||_F / ||clean||_F over the whole tensor (``"batch_frobenius"``, official) or the
    mean over examples of the per-example ratio (``"per_example_mean"``; examples with a zero clean
    representation are left out). 0 when the two are identical (also when both are 0), inf when only the
    clean one is 0. Differentiable."""
    if clean.shape != pert.shape:
        raise ValueError(f"clean and perturbed representations differ in shape: {tuple(clean.shape)} vs "
                         f"{tuple(pert.shape)}")
    if reduce == "batch_frobenius":
        num, den = torch.linalg.vector_norm(clean - pert), torch.linalg.vector_norm(clean)
    elif reduce == "per_example_mean":
        num = torch.linalg.vector_norm((clean - pert).flatten(1), dim=1)
        den = torch.linalg.vector_norm(clean.flatten(1), dim=1)
        keep = den > 0
        if not keep.any():
            return clean.new_tensor(0.0 if bool((num == 0).all()) else math.inf)
        return (num[keep] / den[keep]).mean()
    else:
        raise ValueError(f"reduce must be 'batch_frobenius' or 'per_example_mean', got {reduce!r}")
    if den == 0:
        return num * 0 if num == 0 else num / den
    return num / den


@torch.no_grad()
def relative_error_profile(model: nn.Module, x_clean: torch.Tensor, x_pert: torch.Tensor, *,
                           types: Sequence[str] = PROBE_TYPES, reduce: str = "batch_frobenius") -> torch.Tensor:
    """The LSA profile: CM_l for every probe l (float64 tensor of length L), model in eval mode (official)."""
    if x_clean.shape != x_pert.shape:
        raise ValueError(f"x_clean {tuple(x_clean.shape)} and x_pert {tuple(x_pert.shape)} must have the same shape")
    a = probe_activations(model, x_clean, types)
    b = probe_activations(model, x_pert, types)
    if not a:
        raise ValueError(f"{type(model).__name__} has no probe module of types {tuple(types)} (functional "
                         f"activations are invisible to LSA)")
    return torch.stack([relative_error(p.double(), q.double(), reduce) for p, q in zip(a, b)])


def lsa_profile(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: Callable, *, n_batches: int = 10,
                batch_size: int = 128, types: Sequence[str] = PROBE_TYPES, reduce: str = "batch_frobenius",
                ) -> torch.Tensor:
    """CM per batch and probe, (n_batches, L): ``attack(model, xb, yb)`` on consecutive batches of ``x``
    (the card's MVL recipe: 10 batches of the base attack against the base-AT model). The attack runs in
    eval mode, like the profile."""
    n = min(n_batches, len(x) // batch_size)
    if n < 1:
        raise ValueError(f"need at least one batch of {batch_size} samples, got {len(x)}")
    was = model.training
    model.eval()
    try:
        rows = []
        for i in range(n):
            xb, yb = x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]
            rows.append(relative_error_profile(model, xb, attack(model, xb, yb), types=types, reduce=reduce))
    finally:
        model.train(was)
    return torch.stack(rows)


def most_vulnerable_layers(profile_batches: torch.Tensor, rule: str = "above_mean", k: int | None = None) -> list[int]:
    """MVL: indices of the probes whose mean CM over batches (rows) is strictly above the mean over
    probes (``"above_mean"``, card project default) or the ``k`` largest (``"top_k"``), by decreasing CM."""
    p = torch.as_tensor(profile_batches, dtype=torch.float64)
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"profile_batches must be (batches, probes) with at least one probe, got {tuple(p.shape)}")
    cm = p.mean(0)
    order = sorted(range(len(cm)), key=lambda i: -float(cm[i]))
    if rule == "above_mean":
        if k is not None:
            raise ValueError("k is only used with rule='top_k'")
        return [i for i in order if cm[i] > cm.mean()]
    if rule == "top_k":
        if not (isinstance(k, int) and 1 <= k <= len(cm)):
            raise ValueError(f"top_k needs an int k in [1, {len(cm)}], got {k!r}")
        return order[:k]
    raise ValueError(f"rule must be 'above_mean' or 'top_k', got {rule!r}")


class ATLRLoss:
    """``loss(model, x, y)``: cross-entropy on x_hat = ``attack(model, x, y)`` plus sum_{l in mvl} gamma_l CM_l
    (AT-LR; ``mvl=[]`` or ``gamma=0`` is the base AT). ``mvl``: probe indices into
    ``probe_modules(model, types)``; ``gamma``: one value or one per MVL probe (card project default 1.0).
    The regulariser uses the model's current (train) mode; ``last`` holds the last CE and LR values.
    """

    def __init__(self, model: nn.Module, attack: Callable, mvl: Sequence[int] = (), gamma: float | Sequence[float] = 1.0,
                 *, types: Sequence[str] = PROBE_TYPES, reduce: str = "batch_frobenius"):
        probes = probe_modules(model, types)
        bad = [i for i in mvl if not (isinstance(i, int) and 0 <= i < len(probes))]
        if bad:
            raise ValueError(f"mvl indices {bad} out of range: the model has {len(probes)} probes")
        g = [float(gamma)] * len(mvl) if isinstance(gamma, (int, float)) else [float(v) for v in gamma]
        if len(g) != len(mvl):
            raise ValueError(f"gamma has {len(g)} values for {len(mvl)} MVL probes")
        self.attack, self.mvl, self.gamma, self.reduce = attack, list(mvl), g, reduce
        self.modules = [probes[i][1] for i in self.mvl]
        self.last: dict[str, float] = {}

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_hat = self.attack(model, x, y).detach()
        if not self.modules:
            ce = F.cross_entropy(model(x_hat), y)
            self.last = {"ce": float(ce.detach()), "lr": 0.0}
            return ce
        with capture(self.modules) as adv:
            ce = F.cross_entropy(model(x_hat), y)
        with capture(self.modules) as clean:
            model(x)
        lr = sum(g * relative_error(_joined(c), _joined(a), self.reduce) for g, c, a in zip(self.gamma, clean, adv))
        self.last = {"ce": float(ce.detach()), "lr": float(lr.detach())}
        return ce + lr
