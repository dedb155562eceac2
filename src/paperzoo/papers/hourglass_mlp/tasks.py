"""The card's tasks on flattened images: denoising, super-resolution, classification; PSNR.

The paper evaluates on "generative tasks over popular image datasets" (abstract, source-checked);
the task names (generative classification, denoising, super-resolution) come from secondary
summaries, and their exact definitions were not retrieved (**reconstructed** from the card):

- ``DenoiseTask(sigma)``: input x + N(0, sigma^2) noise (pixels in [0, 1], not clipped), target x,
  MSE loss, PSNR metric. The noise is drawn once per image from the task's seed (fixed pairs).
- ``SuperResTask(factor)``: input = the ``factor`` x average-pooled image, nearest-upsampled back to
  the full grid (so both families see d_x = H W C inputs), target the full image, MSE, PSNR.
- ``ClassifyTask()``: plain classification (cross-entropy, accuracy) as a stand-in for the paper's
  "generative classification", which we could not read (labelled so in the README).

Every task maps a labelled ``TensorSet`` (x: (N, C, H, W) in [0, 1]) to a ``TensorSet`` of flat
inputs and targets that ``paperzoo.train.fit`` trains on with ``task.loss``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from paperzoo.data.sets import TensorSet


def psnr(pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Per-sample PSNR in dB: 10 log10(R^2 / MSE_b), MSE over all non-batch dims; shape (B,)."""
    if pred.shape != target.shape:
        raise ValueError(f"psnr: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    mse = (pred - target).flatten(1).square().mean(1)
    return 10.0 * torch.log10(data_range ** 2 / mse.clamp_min(1e-20))


def mse_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(model(x), y)


@torch.no_grad()
def _batched(model: torch.nn.Module, x: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    was = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])
    model.train(was)
    return out


def _images(data: TensorSet, who: str) -> torch.Tensor:
    x = data.x
    if x.dim() != 4:
        raise ValueError(f"{who}: expected images (N, C, H, W), got shape {tuple(x.shape)}")
    return x.float()


@dataclass(frozen=True)
class DenoiseTask:
    """Additive Gaussian noise of std ``sigma`` on [0, 1] pixels -> clean image (card: sigma = 0.5)."""

    sigma: float = 0.5
    name = "denoise"
    metric = "psnr_db"
    loss = staticmethod(mse_loss)

    def __post_init__(self):
        if not self.sigma > 0:
            raise ValueError(f"DenoiseTask: sigma must be > 0, got {self.sigma}")

    def out_dim(self, data: TensorSet) -> int:
        return data.x[0].numel()

    def prepare(self, data: TensorSet, seed: int) -> TensorSet:
        """(noisy flat image, clean flat image) pairs; the noise is a pure function of ``seed``."""
        clean = _images(data, "DenoiseTask").flatten(1)
        g = torch.Generator().manual_seed(int(seed))
        noisy = clean + self.sigma * torch.randn(clean.shape, generator=g)
        return TensorSet(noisy, clean, data.name)

    def evaluate(self, model: torch.nn.Module, data: TensorSet, *, device="cpu", batch_size: int = 1000) -> float:
        """Mean per-image PSNR (dB) of the model's reconstructions."""
        return float(psnr(_batched(model, data.x, batch_size, torch.device(device)), data.y).mean())


@dataclass(frozen=True)
class SuperResTask:
    """``factor`` x average-pool, nearest-upsampled back -> full image (card: 4x; input form reconstructed)."""

    factor: int = 4
    name = "superres"
    metric = "psnr_db"
    loss = staticmethod(mse_loss)

    def __post_init__(self):
        if self.factor < 2:
            raise ValueError(f"SuperResTask: factor must be >= 2, got {self.factor}")

    def out_dim(self, data: TensorSet) -> int:
        return data.x[0].numel()

    def low_res(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> the pooled image repeated back on the full grid, (N, C, H, W)."""
        h, w = x.shape[-2:]
        if h % self.factor or w % self.factor:
            raise ValueError(f"SuperResTask: image {h}x{w} is not divisible by factor {self.factor}")
        small = F.avg_pool2d(x, self.factor)
        return small.repeat_interleave(self.factor, -2).repeat_interleave(self.factor, -1)

    def prepare(self, data: TensorSet, seed: int) -> TensorSet:
        x = _images(data, "SuperResTask")
        return TensorSet(self.low_res(x).flatten(1), x.flatten(1), data.name)

    def evaluate(self, model: torch.nn.Module, data: TensorSet, *, device="cpu", batch_size: int = 1000) -> float:
        return float(psnr(_batched(model, data.x, batch_size, torch.device(device)), data.y).mean())


@dataclass(frozen=True)
class ClassifyTask:
    """Plain classification (stand-in for the paper's "generative classification"): accuracy in %."""

    name = "classify"
    metric = "acc_pct"
    loss = staticmethod(lambda model, x, y: F.cross_entropy(model(x), y))

    def out_dim(self, data: TensorSet) -> int:
        return data.num_classes

    def prepare(self, data: TensorSet, seed: int) -> TensorSet:
        return TensorSet(_images(data, "ClassifyTask").flatten(1), data.y, data.name)

    def evaluate(self, model: torch.nn.Module, data: TensorSet, *, device="cpu", batch_size: int = 1000) -> float:
        pred = _batched(model, data.x, batch_size, torch.device(device)).argmax(-1)
        return 100.0 * float((pred == data.y).float().mean())


def make_task(name: str, *, sigma: float = 0.5, factor: int = 4):
    """``denoise`` | ``superres`` | ``classify`` -> the task object."""
    if name == "denoise":
        return DenoiseTask(sigma)
    if name == "superres":
        return SuperResTask(factor)
    if name == "classify":
        return ClassifyTask()
    raise ValueError(f"unknown task {name!r}; have 'denoise', 'superres', 'classify'")


def noisy_psnr(sigma: float) -> float:
    """PSNR of the unprocessed noisy input for unclipped Gaussian noise: 10 log10(1 / sigma^2) (about 6.02 dB at 0.5)."""
    return -20.0 * math.log10(sigma)
