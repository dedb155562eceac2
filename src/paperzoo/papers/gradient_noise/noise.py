"""Annealed Gaussian gradient noise (Neelakantan et al. 2015, arXiv 1511.06807, Sec. 2).

At every update step t = 0, 1, 2, ... (global update count, not epoch) each gradient
element gets independent Gaussian noise before the base optimizer sees it:

    g_t <- g_t + N(0, sigma_t^2 I),      sigma_t^2 = eta / (1 + t)^gamma        (paper, Eq. 1)

``sigma_t`` is an absolute scale (not relative to |g|). Defaults eta = 0.3, gamma = 0.55 are
the paper's (gamma = 0.55 for every experiment; eta in {0.01, 0.3, 1.0} chosen per task) and
the defaults of the community port ``keras-gradient-noise``. The noise is drawn from a
dedicated ``torch.Generator``, so enabling it changes neither data order nor initialisation.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable

import torch
from torch import Tensor

__all__ = ["sigma2", "AnnealedGaussianGradientNoise", "NoisyOptimizer"]

# Mixed into torch.initial_seed() when seed=None, so the noise stream never equals the global one.
_SEED_SALT = 0x6E6F697365  # "noise"


def _check_hparams(eta: Any, gamma: Any) -> tuple[float, float]:
    for name, v in (("eta", eta), ("gamma", gamma)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite, got {v}")
    if eta < 0:
        raise ValueError(f"eta is the noise variance at t=0 and must be >= 0, got {eta}")
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0 (gamma > 0 anneals the noise, as in the paper; gamma = 0 is the "
                         f"fixed-variance ablation); a negative gamma would make the noise grow, got {gamma}")
    return float(eta), float(gamma)


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"step must be an int (the global update count), got {type(step).__name__}")
    if step < 0:
        raise ValueError(f"step counts updates from 0 and must be >= 0, got {step}")
    return int(step)


def sigma2(step: int, eta: float = 0.3, gamma: float = 0.55) -> float:
    """Noise variance at update ``step``: ``sigma_t^2 = eta / (1 + t)^gamma`` (paper, Eq. 1).

    ``step`` is the global update count starting at 0, so ``sigma2(0, eta, gamma) == eta``.
    """
    eta, gamma = _check_hparams(eta, gamma)
    return eta / (1.0 + _check_step(step)) ** gamma


def _default_seed() -> int:
    # torch.initial_seed() *reads* the global seed (it draws nothing), so the global stream -- init,
    # dropout, anything else -- is untouched; a run seeded by seed_everything stays reproducible.
    return (torch.initial_seed() * 0x9E3779B1 + _SEED_SALT) % (2**63 - 1)


class AnnealedGaussianGradientNoise:
    """Adds ``N(0, eta / (1 + t)^gamma)`` to every element of every ``p.grad`` (paper, Eq. 1).

    ``params``: tensors (or optimizer-style param-group dicts); ``apply(step)`` adds the noise of
    update ``step`` in place to each ``p.grad`` that is not None (parameters without a gradient
    are skipped and consume no random numbers) and returns ``sigma_t``. Noise is drawn as one flat
    vector per (device, dtype) of gradients, split in parameter order, from a dedicated
    ``torch.Generator`` seeded with ``seed`` (``None``: derived from ``torch.initial_seed()``
    without drawing from the global RNG), created lazily on the
    device of the first gradient. NaN/inf gradient entries stay NaN/inf (noise does not hide a
    divergence). ``eta == 0`` (or ``sigma_t == 0``) leaves gradients bit-identical and draws nothing.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], eta: float = 0.3, gamma: float = 0.55,
                 seed: int | None = None):
        if isinstance(params, Tensor):
            params = [params]
        try:
            items = list(params)
        except TypeError:
            raise TypeError(f"params must be an iterable of tensors or param-group dicts, got "
                            f"{type(params).__name__}") from None
        flat: list[Tensor] = []
        for item in items:
            group = item["params"] if isinstance(item, dict) else [item]
            group = [group] if isinstance(group, Tensor) else list(group)
            for p in group:
                if not isinstance(p, Tensor):
                    raise TypeError(f"params must hold tensors, got {type(p).__name__}")
                flat.append(p)
        if not flat:
            raise ValueError("params is empty: nothing to add gradient noise to")
        self.params = flat
        self.eta, self.gamma = _check_hparams(eta, gamma)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        self.seed = int(seed) if seed is not None else _default_seed()
        self._gen: torch.Generator | None = None
        self._pending: tuple[str, Tensor] | None = None  # RNG state loaded before the generator exists

    def sigma2(self, step: int) -> float:
        """``eta / (1 + step)^gamma`` with this object's ``eta`` and ``gamma``."""
        return sigma2(step, self.eta, self.gamma)

    def generator(self, device: torch.device | str = "cpu") -> torch.Generator:
        """The dedicated noise generator (created on ``device`` at first use, then fixed)."""
        if self._gen is None:
            dev = torch.device(device)
            gen = torch.Generator(device=dev)
            gen.manual_seed(self.seed)
            if self._pending is not None:
                saved_dev, state = self._pending
                if torch.device(saved_dev).type != dev.type:
                    raise RuntimeError(f"gradient-noise RNG state was saved on {saved_dev} but the gradients are "
                                       f"on {dev}; resume on the same device type to continue the noise stream")
                gen.set_state(state)
                self._pending = None
            self._gen = gen
        return self._gen

    @torch.no_grad()
    def apply(self, step: int, params: Iterable[Tensor] | None = None) -> float:
        """Add update ``step``'s noise to every ``p.grad`` in place; return ``sigma_t``."""
        sigma = math.sqrt(self.sigma2(step))
        grads = [p.grad for p in (self.params if params is None else params) if p.grad is not None]
        if sigma == 0.0 or not grads:
            return sigma
        for g in grads:
            if g.is_sparse:
                raise TypeError("gradient noise on sparse gradients is not supported (it would densify them)")
            if not g.is_floating_point():
                raise TypeError(f"gradients must be floating point, got {g.dtype}")
        gen = self.generator(grads[0].device)
        # One flat draw per (device, dtype) group, split in parameter order: fewer RNG calls than
        # one per tensor (the per-step cost is dominated by generating the normals).
        groups: dict[tuple, list[Tensor]] = {}
        for g in grads:
            groups.setdefault((g.device, g.dtype), []).append(g)
        for (dev, dtype), gs in groups.items():
            draw = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
            flat = torch.randn(sum(g.numel() for g in gs), generator=gen, device=gen.device, dtype=draw)
            flat = flat.to(device=dev, dtype=dtype)
            noise = [v.view_as(g) for v, g in zip(flat.split([g.numel() for g in gs]), gs)]
            torch._foreach_add_(gs, noise, alpha=sigma)
        return sigma

    def state_dict(self) -> dict[str, Any]:
        """``eta``, ``gamma``, ``seed`` and the generator state as a uint8 tensor (empty before first use)."""
        if self._gen is not None:
            dev, rng = str(self._gen.device), self._gen.get_state().clone()
        elif self._pending is not None:
            dev, rng = self._pending[0], self._pending[1].clone()
        else:
            dev, rng = "", torch.zeros(0, dtype=torch.uint8)
        return {"eta": self.eta, "gamma": self.gamma, "seed": self.seed, "rng": rng, "rng_device": dev}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = {"eta", "gamma", "seed", "rng", "rng_device"} - set(state)
        if missing:
            raise KeyError(f"gradient-noise state is missing {sorted(missing)}")
        rng = state["rng"]
        if not isinstance(rng, Tensor) or rng.dtype != torch.uint8 or rng.dim() != 1:
            raise TypeError("gradient-noise state 'rng' must be a 1-D uint8 tensor (a torch.Generator state)")
        self.eta, self.gamma = _check_hparams(state["eta"], state["gamma"])
        self.seed = int(state["seed"])
        self._gen = None
        self._pending = (state["rng_device"], rng.clone().cpu()) if rng.numel() else None


class NoisyOptimizer(torch.optim.Optimizer):
    """Wraps any ``torch.optim.Optimizer``: ``step()`` adds annealed Gaussian gradient noise
    ``N(0, eta / (1 + t)^gamma)`` to every parameter's ``.grad`` (paper, Eq. 1), then delegates.

    ``t`` is the wrapper's global update count (from 0; +1 per ``step()``). ``param_groups``,
    ``state``, ``defaults`` and ``zero_grad`` are the base optimizer's, so LR schedulers and
    gradient clipping work unchanged. Order inside a training step: ``backward -> clip ->
    optimizer.step()``, so with ``paperzoo.train.fit(..., clip_grad_norm=c)`` the noise is added
    after clipping and is itself not clipped (the project default; the paper's order is not known).
    ``state_dict()`` is the base's plus ``"gradient_noise"`` (``t``, eta, gamma, seed and the RNG state
    as a uint8 tensor): safetensors + JSON storable, so resuming continues the same noise stream.
    Optimizers that re-evaluate a closure inside ``step`` (LBFGS) are rejected: they would
    recompute the gradient and drop the noise.
    """

    def __init__(self, base_optimizer: torch.optim.Optimizer, eta: float = 0.3, gamma: float = 0.55,
                 seed: int | None = None):
        if not isinstance(base_optimizer, torch.optim.Optimizer):
            raise TypeError(f"base_optimizer must be a torch.optim.Optimizer instance, got "
                            f"{type(base_optimizer).__name__}")
        if isinstance(base_optimizer, NoisyOptimizer):
            raise TypeError("base_optimizer is already a NoisyOptimizer; wrapping twice would add noise twice")
        if isinstance(base_optimizer, torch.optim.LBFGS):
            raise TypeError("LBFGS re-evaluates the closure inside step(), which would discard the gradient "
                            "noise; use a first-order optimizer")
        self.base_optimizer = base_optimizer
        self.noise = AnnealedGaussianGradientNoise(self._params(), eta=eta, gamma=gamma, seed=seed)
        self.t = 0
        # Set up the hook tables exactly as unpickling an Optimizer does, without re-registering
        # the base's parameters (param_groups/state/defaults below *are* the base's).
        torch.optim.Optimizer.__setstate__(self, {})

    # The base's containers, looked up each time: base.load_state_dict() rebinds them.
    @property
    def param_groups(self) -> list[dict]:  # type: ignore[override]
        return self.base_optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value: list[dict]) -> None:
        self.base_optimizer.param_groups = value

    @property
    def state(self):  # type: ignore[override]
        return self.base_optimizer.state

    @state.setter
    def state(self, value) -> None:
        self.base_optimizer.state = value

    @property
    def defaults(self) -> dict:  # type: ignore[override]
        return self.base_optimizer.defaults

    @defaults.setter
    def defaults(self, value: dict) -> None:
        self.base_optimizer.defaults = value

    @property
    def eta(self) -> float:
        return self.noise.eta

    @property
    def gamma(self) -> float:
        return self.noise.gamma

    def _params(self) -> list[Tensor]:
        return [p for g in self.base_optimizer.param_groups for p in g["params"]]

    def sigma2(self) -> float:
        """Variance of the noise the next ``step()`` adds: ``eta / (1 + t)^gamma``."""
        return self.noise.sigma2(self.t)

    def add_param_group(self, param_group: dict) -> None:
        self.base_optimizer.add_param_group(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base_optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Evaluate ``closure`` (if given) once, add step ``t``'s noise to every ``.grad``, run the base step."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.noise.apply(self.t, self._params())
        self.t += 1
        self.base_optimizer.step()
        return loss

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        sd = dict(self.base_optimizer.state_dict())
        sd["gradient_noise"] = {"t": self.t, **self.noise.state_dict()}
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        sd = dict(state_dict)
        noise = sd.pop("gradient_noise", None)
        if noise is None:
            raise KeyError("state_dict has no 'gradient_noise' entry: it was not saved by a NoisyOptimizer "
                           "(load a plain optimizer's state into .base_optimizer instead)")
        noise = dict(noise)
        t = _check_step(noise.pop("t"))
        self.base_optimizer.load_state_dict(sd)
        self.noise.load_state_dict(noise)
        self.t = t

    def __repr__(self) -> str:
        return f"NoisyOptimizer(eta={self.eta:g}, gamma={self.gamma:g}, t={self.t}, base={self.base_optimizer!r})"
