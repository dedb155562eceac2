"""Turning ordinary convolutional networks into resolution-agnostic operators (card, recipe piece 2).

``kernel_interpolated(model, base_res)`` copies ``model`` and swaps every ``Conv2d`` / ``ConvTranspose2d`` (at any
depth) for a version that reads the current scale ``s = W_in / base_res`` from the wrapper:

* ``InterpConv2d``: a ``k x k`` kernel learnt at grid spacing ``h0`` is a continuous kernel of fixed physical
  support. At scale ``s`` it is resampled to ``k' = int(s k - s + 1)`` taps (``s (k - 1) + 1``: same extent),
  divided by ``k'^2 / k^2`` so that the weighted sum keeps approximating the same integral, and padded by
  ``int(p s)`` (official ``models/unet_kernel_interp.py``). Strides stay in pixels.
* ``InterpConvTranspose2d``: resample the input to the base grid (``int(H / s)``), apply the learnt transposed
  convolution, centre-pad to exactly ``stride x`` the base size, resample the result up by ``s``.

At ``s = 1`` both are the plain layers, so a model can be trained plainly and converted afterwards (or trained
converted: identical at the base resolution). ``InputOutputInterpolation`` is the paper's baseline: resample the
input to the training grid, run, resample the output back.
"""
from __future__ import annotations

import copy

from torch import nn
from torch.nn import functional as F

from paperzoo.papers.nns_to_nos.resample import MODES, resize


class _Scale:
    """The scale shared by all converted layers of one model (set by ``ResolutionAgnostic.forward``)."""

    def __init__(self) -> None:
        self.value = 1.0


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"interpolation mode must be one of {MODES}, got {mode!r}")
    return mode


class InterpConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose kernel is resampled to the current scale (built by ``from_conv``)."""

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, scale: _Scale, mode: str = "bilinear") -> "InterpConv2d":
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError(f"InterpConv2d: only integer zero padding is supported, got {conv.padding!r} / "
                             f"{conv.padding_mode!r}")
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                  conv.groups, conv.bias is not None, device=conv.weight.device, dtype=conv.weight.dtype)
        new.load_state_dict(conv.state_dict())
        new._scale, new.mode = scale, _check_mode(mode)
        return new

    def scaled_kernel(self, s: float):
        """``(weight', padding')`` at scale ``s``: ``k' = int(s k - s + 1)``, weights / (k'_h k'_w / k_h k_w)."""
        if s == 1.0:
            return self.weight, self.padding
        kh, kw = self.kernel_size
        exact = (s * (kh - 1) + 1, s * (kw - 1) + 1)
        if any(abs(e - round(e)) > 1e-9 for e in exact):
            raise ValueError(f"InterpConv2d: scale {s:g} maps a {kh} x {kw} kernel to {exact[0]:g} x {exact[1]:g} taps; "
                             f"use a resolution whose ratio to the base makes s (k - 1) + 1 an integer")
        k2 = (int(s * kh - s + 1), int(s * kw - s + 1))
        if min(k2) < 1:
            raise ValueError(f"InterpConv2d: scale {s} shrinks a {kh} x {kw} kernel to nothing")
        pad = tuple(int(p * s) for p in self.padding)
        for k, p, st, k_new, p_new in zip(self.kernel_size, self.padding, self.stride, k2, pad):
            if st == 1 and k - 1 == 2 * p and k_new - 1 != 2 * p_new:
                raise ValueError(f"InterpConv2d: at scale {s:g} a size-preserving {k}-tap convolution becomes {k_new} taps "
                                 f"with padding {p_new}, which is not size-preserving; use a resolution ratio that keeps "
                                 f"s (k - 1) + 1 odd")
        w = resize(self.weight, k2, self.mode) / (k2[0] * k2[1] / (kh * kw))
        return w, pad

    def forward(self, x):
        w, pad = self.scaled_kernel(self._scale.value)
        return F.conv2d(x, w, self.bias, self.stride, pad, self.dilation, self.groups)


class InterpConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` applied on the base grid with input/output resampling (built by ``from_conv``)."""

    @classmethod
    def from_conv(cls, conv: nn.ConvTranspose2d, scale: _Scale, mode: str = "bilinear") -> "InterpConvTranspose2d":
        if conv.padding_mode != "zeros":
            raise ValueError(f"InterpConvTranspose2d: only zero padding is supported, got {conv.padding_mode!r}")
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                  conv.output_padding, conv.groups, conv.bias is not None, conv.dilation,
                  device=conv.weight.device, dtype=conv.weight.dtype)
        new.load_state_dict(conv.state_dict())
        new._scale, new.mode = scale, _check_mode(mode)
        return new

    def forward(self, x, output_size=None):
        s = self._scale.value
        base = (int(x.shape[-2] / s), int(x.shape[-1] / s))
        x = resize(x, base, self.mode)
        y = F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups,
                               self.dilation)
        th, tw = base[0] * self.stride[0], base[1] * self.stride[1]
        dh, dw = th - y.shape[-2], tw - y.shape[-1]
        y = F.pad(y, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])  # centre pad (or crop) to stride x base
        return resize(y, (int(th * s), int(tw * s)), self.mode)


def _swap(module: nn.Module, scale: _Scale, mode: str) -> int:
    n = 0
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d) and not isinstance(child, InterpConv2d):
            setattr(module, name, InterpConv2d.from_conv(child, scale, mode))
            n += 1
        elif isinstance(child, nn.ConvTranspose2d) and not isinstance(child, InterpConvTranspose2d):
            setattr(module, name, InterpConvTranspose2d.from_conv(child, scale, mode))
            n += 1
        else:
            n += _swap(child, scale, mode)
    return n


class ResolutionAgnostic(nn.Module):
    """Wrapper returned by ``kernel_interpolated``: sets ``s = W_in / base_res`` before each forward."""

    def __init__(self, model: nn.Module, base_res: int, mode: str = "bilinear"):
        super().__init__()
        if base_res < 1:
            raise ValueError(f"base_res must be positive, got {base_res}")
        model = copy.deepcopy(model)
        if isinstance(model, (nn.Conv2d, nn.ConvTranspose2d)):  # a bare layer: give it a parent to be swapped in
            model = nn.Sequential(model)
        self.model, self.base_res, self.mode = model, int(base_res), _check_mode(mode)
        self._scale = _Scale()
        self.n_converted = _swap(self.model, self._scale, mode)

    def forward(self, x):
        self._scale.value = x.shape[-1] / self.base_res
        return self.model(x)


def kernel_interpolated(model: nn.Module, base_res: int, mode: str = "bilinear") -> ResolutionAgnostic:
    """A copy of ``model`` whose convolutions follow the grid (weights shared by value, not by reference)."""
    return ResolutionAgnostic(model, base_res, mode)


class InputOutputInterpolation(nn.Module):
    """Baseline: ``x (N) -> resize to train_res -> model -> resize back to N``."""

    def __init__(self, model: nn.Module, train_res: int, mode: str = "bilinear"):
        super().__init__()
        self.model, self.train_res, self.mode = model, int(train_res), _check_mode(mode)

    def forward(self, x):
        size = tuple(x.shape[-2:])
        y = self.model(resize(x, self.train_res, self.mode))
        return resize(y, size, self.mode)
