"""Representational alignment of a target network to a frozen guide (Subramaniam et al. 2024, Sec. 3).

``linear_cka`` is linear centred kernel alignment exactly as the official ``rep_sim/rep_sims.py`` codes it
(HSIC without the 1/(n-1)^2 factor, which cancels); ``layer_map`` the guide -> target layer mapping of
``rep_sim/layer_sim.py``; ``ActivationTap`` the forward-hook extraction of ``rep_sim/layer_extract.py``;
``GuidanceLoss`` the auxiliary loss  alpha * sum_{(g, t)} [1 - CKA(A^T_t(x), A^G_g(x))]  over the mapped pairs.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn

__all__ = ["DEFAULT_TYPES", "ActivationTap", "GuidanceLoss", "GuidanceOutput", "layer_map", "linear_cka",
           "supervised_pairs"]

# official layer_extract.py `layers_to_retain`; matched by exact type (a subclass such as MHA's out_proj is not)
DEFAULT_TYPES: tuple[type, ...] = (nn.Conv2d, nn.Linear, nn.AdaptiveAvgPool2d, nn.LSTM, nn.RNN,
                                   nn.TransformerDecoderLayer, nn.LayerNorm, nn.MultiheadAttention)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Linear CKA of two representations of the same n examples (differentiable).

    ``x``: (n, ...), ``y``: (n, ...), each flattened to (n, features). With K = X X^T, L = Y Y^T and
    H = I - 11^T / n: HSIC(K, L) = sum_ij (HKH)_ij (HLH)_ij and CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))
    (official ``linear_CKA``). HKH = Xc Xc^T with Xc the column-centred X, which is what is computed here.
    Returns a 0-d tensor in [0, 1]; NaN when either representation is constant over the batch.
    """
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError("linear_cka: x and y must be tensors")
    if x.ndim < 2 or y.ndim < 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"linear_cka: x and y need shape (n, ...) with the same n, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if x.shape[0] < 2:
        raise ValueError("linear_cka: needs at least 2 examples")
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    xc, yc = x - x.mean(0, keepdim=True), y - y.mean(0, keepdim=True)
    k, lm = xc @ xc.T, yc @ yc.T
    return (k * lm).sum() / torch.sqrt((k * k).sum() * (lm * lm).sum())


def layer_map(n_guide: int, n_target: int) -> list[int]:
    """Target layer index for each guide layer i: min(round(i * (n_T - 1) / (n_G - 1)), n_T - 1)
    (official ``layer_supervision``; Python's ``round``, so halves go to the even integer)."""
    if not (isinstance(n_guide, int) and isinstance(n_target, int)) or n_guide < 1 or n_target < 1:
        raise ValueError(f"layer_map: need positive layer counts, got n_guide={n_guide!r}, n_target={n_target!r}")
    step = (n_target - 1) / (n_guide - 1) if n_guide > 1 else 1
    return [min(round(i * step), n_target - 1) for i in range(n_guide)]


def supervised_pairs(n_guide: int, n_target: int) -> list[tuple[int, int]]:
    """The (guide, target) pairs that enter the loss, in target order: scores are stored per target layer,
    so when several guide layers map to one target layer only the last of them counts (official code)."""
    last = {t: g for g, t in enumerate(layer_map(n_guide, n_target))}
    return sorted(((g, t) for t, g in last.items()), key=lambda p: p[1])


class ActivationTap:
    """Records, in call order, the outputs of every module whose exact type is in ``types`` (official
    ``FeatureMapExtractor``): a module called k times gives k entries; tuple outputs give one entry per
    tensor (for RNN/LSTM the hidden state is dropped, keeping the sequence output); an output whose first
    axis is not the batch has its unique batch-sized axis moved first, else it is skipped; with
    ``drop_last`` (official) the last entry (usually the logits) is removed.

    >>> with ActivationTap(model) as tap:
    ...     out = model(x)
    >>> tap.activations        # list of (B, ...) tensors, graph attached
    """

    def __init__(self, model: nn.Module, types: Sequence[type] = DEFAULT_TYPES, *, drop_last: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"ActivationTap: model must be an nn.Module, got {type(model).__name__}")
        self.model, self.types, self.drop_last = model, tuple(types), drop_last
        self.batch_size: int | None = None
        self._raw: list[torch.Tensor | None] = []
        self._handles: list = []

    def _hook(self, module: nn.Module, _args, output) -> None:
        if isinstance(output, (tuple, list)):
            outs = list(output[:-1]) if type(module) in (nn.RNN, nn.LSTM) else list(output)
        else:
            outs = [output]
        for o in outs:
            if isinstance(o, nn.utils.rnn.PackedSequence):
                o = nn.utils.rnn.pad_packed_sequence(o, batch_first=True)[0]
            if isinstance(o, torch.Tensor):
                self._raw.append(self._batch_first(o))

    def _batch_first(self, o: torch.Tensor) -> torch.Tensor | None:
        b = self.batch_size
        if b is None or (o.ndim > 0 and o.shape[0] == b):
            return o
        axes = [i for i, s in enumerate(o.shape) if s == b]
        return o.movedim(axes[0], 0) if len(axes) == 1 else None

    def __enter__(self) -> "ActivationTap":
        self._raw = []
        self._handles = [m.register_forward_hook(self._hook) for m in self.model.modules() if type(m) in self.types]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    @property
    def activations(self) -> list[torch.Tensor]:
        raw = self._raw[:-1] if self.drop_last else self._raw
        return [a for a in raw if a is not None]

    def run(self, x, *args, batch_size: int | None = None, **kw) -> tuple[object, list[torch.Tensor]]:
        """``model(x, ...)`` with the tap on; returns ``(output, activations)``."""
        self.batch_size = batch_size if batch_size is not None else len(x)
        with self:
            out = self.model(x, *args, **kw)
        return out, self.activations


class GuidanceOutput(NamedTuple):
    output: object  # the target's output on x
    loss: torch.Tensor  # alpha * sum over pairs of (1 - CKA)
    cka: dict[tuple[int, int], torch.Tensor]  # (guide tap, target tap) -> CKA


class GuidanceLoss(nn.Module):
    """Guidance (Sec. 3): L = L_task + alpha * sum_{(g,t) in I} [1 - CKA(A^T_t(x), A^G_g(x))].

    The guide is frozen here: its parameters get ``requires_grad=False`` and are in no optimizer; it runs
    under ``no_grad`` on the same batch. ``guide_eval=True`` puts it in eval mode (card; official image
    code); the official copy-paste code leaves the guide in train mode (dropout on): ``guide_eval=False``.
    ``mapping="uniform"`` is the official ``layer_map``; or give explicit (guide, target) tap pairs.
    ``steps``: apply the term only for the first ``steps`` optimizer steps (init-only ablation; project
    page: 150). Defaults: alpha = 1.0 (official ``--alpha``), official hook types and ``drop_last``.
    """

    def __init__(self, target: nn.Module, guide: nn.Module, *, alpha: float = 1.0,
                 mapping: str | Sequence[tuple[int, int]] = "uniform", steps: int | None = None,
                 types: Sequence[type] = DEFAULT_TYPES, drop_last: bool = True, guide_eval: bool = True):
        super().__init__()
        if not isinstance(target, nn.Module) or not isinstance(guide, nn.Module):
            raise TypeError("GuidanceLoss: target and guide must be nn.Modules")
        if target is guide:
            raise ValueError("GuidanceLoss: target and guide must be different modules")
        if not (isinstance(alpha, (int, float)) and alpha >= 0):
            raise ValueError(f"GuidanceLoss: alpha must be a number >= 0, got {alpha!r}")
        if steps is not None and (not isinstance(steps, int) or steps < 0):
            raise ValueError(f"GuidanceLoss: steps must be None or an int >= 0, got {steps!r}")
        if isinstance(mapping, str) and mapping != "uniform":
            raise ValueError(f"GuidanceLoss: mapping must be 'uniform' or a list of (guide, target) pairs, "
                             f"got {mapping!r}")
        self.target, self.alpha, self.steps, self.guide_eval = target, float(alpha), steps, guide_eval
        self.mapping = mapping if isinstance(mapping, str) else [(int(g), int(t)) for g, t in mapping]
        object.__setattr__(self, "guide", guide)  # not a submodule: stays out of .parameters() and optimizers
        guide.requires_grad_(False)
        self._ttap = ActivationTap(target, types, drop_last=drop_last)
        self._gtap = ActivationTap(guide, types, drop_last=drop_last)

    def active(self, step: int) -> bool:
        """Whether the alignment term applies at optimizer step ``step`` (0-based)."""
        return self.steps is None or step < self.steps

    def pairs(self, n_guide: int, n_target: int) -> list[tuple[int, int]]:
        if self.mapping == "uniform":
            return supervised_pairs(n_guide, n_target)
        bad = [(g, t) for g, t in self.mapping if not (0 <= g < n_guide and 0 <= t < n_target)]
        if bad:
            raise ValueError(f"GuidanceLoss: pairs {bad} out of range ({n_guide} guide, {n_target} target taps)")
        return list(self.mapping)

    def guide_activations(self, x, *args, **kw) -> list[torch.Tensor]:
        was = self.guide.training
        self.guide.train(not self.guide_eval)
        try:
            with torch.no_grad():
                return self._gtap.run(x, *args, **kw)[1]
        finally:
            self.guide.train(was)

    def forward(self, x, *args, guide_x=None, **kw) -> GuidanceOutput:
        """Run the target on ``x`` (graph kept) and the guide on ``guide_x`` (default ``x``); return the
        target's output, the alignment loss and the CKA of every supervised pair."""
        out, t_acts = self._ttap.run(x, *args, **kw)
        g_acts = self.guide_activations(x if guide_x is None else guide_x, *args, batch_size=len(x), **kw)
        if not t_acts or not g_acts:
            raise ValueError(f"GuidanceLoss: no activations tapped (target {len(t_acts)}, guide {len(g_acts)}); "
                             f"do the models contain modules of the tapped types?")
        cka = {(g, t): linear_cka(t_acts[t].float(), g_acts[g].float()) for g, t in self.pairs(len(g_acts), len(t_acts))}
        loss = self.alpha * sum(1.0 - c for c in cka.values())
        return GuidanceOutput(out, loss, cka)
