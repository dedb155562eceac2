"""The two phases of NALSM (card "Two phases"; ``NALSM_CONSTRUCTOR_MNIST.py``) and the linear readout.

1. Liquid initialisation (:class:`LiquidInitLearner`, a kernel ``Learner``): batch 1, images in random order,
   ``ms_per_image`` (20) ms each; before each image every state (V, spikes, refractory, timers, traces, A,
   eta+) is reset, the weights carry over; no rate decay. The weights it ends with are W_init.
2. Feature extraction (:func:`extract_features`): every image starts from W_init and the reset state, runs
   ``steps`` ms (250 in the paper) with astro-STDP still on and eta+, A, w_astro, b_A decaying x0.99 per ms,
   weight changes discarded afterwards; feature = spike count of each reservoir neuron.

Readout (:class:`LinearReadout`, ``NALSM_OUTPUT_LAYER.py``): counts / ||counts||_1, then / max over the
mini-batch; one zero-initialised linear layer N -> 10; softmax cross-entropy against softmax(one-hot) targets
(a quirk of the official code, ``soft_targets=False`` switches it off) + 5e-10 * 1/2 ||W||^2; Adadelta lr 0.1;
the test accuracy reported is the one at the epoch of best validation accuracy.
"""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from paperzoo.papers.nalsm.sim import AstroSTDP, LIFLiquidSim
from paperzoo.train import Learner
from paperzoo.train.log import Progress


def _device_generator(generator: torch.Generator, device: torch.device) -> torch.Generator:
    """A generator on ``device`` seeded from the CPU ``generator`` (deterministic; device-agnostic draws)."""
    return torch.Generator(device=device).manual_seed(int(torch.randint(2**62, (1,), generator=generator)))


class LiquidInitLearner(Learner):
    """Phase 1 (liquid initialisation) as a kernel ``Learner``: ``fit(rates, epochs=E, ctx=...)`` shows every
    row of ``rates`` (n, n_inputs) once per epoch, or, for ``rates`` (C, k, n_inputs), chunk ``epoch mod C`` (so
    one pass over n images can be split into checkpointed epochs), in a fresh random order, ``ms_per_image`` ms
    each at batch 1, the weights carrying over (official: 50 000 training images x 20 ms, no decay). ``state_dict`` is the
    weight vector, so checkpoint/resume is bit-identical. ``evaluate(rates)`` runs those images through the
    current (frozen) liquid and reports the reservoir rate and the mean weight per synapse kind."""

    def __init__(self, sim: LIFLiquidSim, plasticity: AstroSTDP, *, ms_per_image: int = 20,
                 weights: torch.Tensor | None = None):
        if not isinstance(plasticity, AstroSTDP):
            raise TypeError(f"plasticity must be an AstroSTDP (PlainSTDP for the baseline), got {type(plasticity).__name__}")
        if int(ms_per_image) < 1:
            raise ValueError(f"ms_per_image must be >= 1, got {ms_per_image!r}")
        self.sim, self.ms = sim, int(ms_per_image)
        self.plasticity = replace(plasticity, decay=1.0)  # no decay in the initialisation phase (card)
        w = sim.liquid.w0 if weights is None else weights
        self.w = w.detach().to(sim.device, torch.float32).clone()

    def steps_per_epoch(self, data: torch.Tensor) -> int:
        return data.shape[-2]

    def train_epoch(self, data: torch.Tensor, *, epoch: int, generator: torch.Generator, progress: Progress) -> dict:
        if data.ndim not in (2, 3) or data.shape[-1] != self.sim.liquid.n_inputs or data.shape[-2] == 0:
            raise ValueError(f"rates must be (n, {self.sim.liquid.n_inputs}) or (chunks, k, {self.sim.liquid.n_inputs}), "
                             f"got {tuple(data.shape)}")
        data = data if data.ndim == 2 else data[epoch % data.shape[0]]
        order = torch.randperm(len(data), generator=generator)
        g = _device_generator(generator, self.sim.device)
        spikes, inp = 0.0, 0.0
        for k in order.tolist():
            out = self.sim.run(data[k:k + 1], self.ms, weights=self.w, plasticity=self.plasticity, generator=g)
            self.w = out["weights"][0]
            spikes += float(out["counts"].sum())
            inp += float(out["input_counts"].sum())
            progress.advance()
        ms, lq = len(data) * self.ms, self.sim.liquid
        return {"loss": 0.0, "res_rate_hz": 1000.0 * spikes / (ms * lq.n_res),
                "inp_rate_hz": 1000.0 * inp / (ms * lq.n_inputs), **self.weight_stats()}

    def weight_stats(self) -> dict:
        kind = self.sim.liquid.kind.to(self.w.device)
        return {f"w_mean_{k}": float(self.w[kind == i].mean()) for i, k in enumerate(("input", "exc", "inh"))
                if bool((kind == i).any())}

    def evaluate(self, data: torch.Tensor) -> dict:
        out = self.sim.run(data, self.ms, weights=self.w, generator=torch.Generator(self.sim.device).manual_seed(0))
        return {"eval_res_rate_hz": 1000.0 * float(out["counts"].mean()) / self.ms}

    def state_dict(self) -> dict:
        return {"w": self.w.detach().cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        w = state["w"]
        if tuple(w.shape) != (self.sim.liquid.n_syn,):
            raise ValueError(f"checkpoint weights have shape {tuple(w.shape)}, liquid has {self.sim.liquid.n_syn} synapses")
        self.w = w.to(self.sim.device, torch.float32).clone()


def extract_features(sim: LIFLiquidSim, w_init: torch.Tensor, rates: torch.Tensor, *, steps: int = 250,
                     plasticity: AstroSTDP | None = None, batch_size: int = 100, generator: torch.Generator,
                     record: int = 0) -> dict:
    """Phase 2: spike counts (n, N) of every image, each starting from ``w_init`` and the reset state.
    ``plasticity`` (with ``decay`` = 0.99 in the paper) keeps the transient per-sample STDP; None freezes the
    liquid. ``record`` > 0 also returns the rasters (record, steps, N) of the first ``record`` images."""
    if rates.ndim != 2 or len(rates) == 0:
        raise ValueError(f"rates must be a non-empty (n, n_inputs) tensor, got {tuple(rates.shape)}")
    if batch_size < 1 or steps < 1:
        raise ValueError(f"batch_size and steps must be >= 1, got {batch_size}, {steps}")
    g = _device_generator(generator, sim.device)
    counts, rasters = [], []
    for i in range(0, len(rates), batch_size):
        rec = i < record
        out = sim.run(rates[i:i + batch_size], steps, weights=w_init, plasticity=plasticity, generator=g, record=rec)
        counts.append(out["counts"].cpu())
        if rec:
            rasters.append(out["raster"][: record - i].cpu())
    res = {"counts": torch.cat(counts)}
    if record:
        res["raster"] = torch.cat(rasters)
    return res


def readout_features(counts: torch.Tensor) -> torch.Tensor:
    """counts / ||counts||_1 per sample (official readout input; the per-mini-batch max is applied by the
    trainer). A silent sample stays all-zero."""
    return counts / counts.sum(1, keepdim=True).clamp_min(1e-12)


class LinearReadout:
    """The official readout trainer (``NALSM_OUTPUT_LAYER.py``): zero-initialised linear layer, Adadelta (lr 0.1 from
    the run files; the code passes only lr, so rho 0.95 and eps 1e-8 are TF1's defaults), soft targets
    softmax(one-hot), 5e-10 * l2_loss(W), best-validation epoch."""

    def __init__(self, n_features: int, n_classes: int = 10, *, lr: float = 0.1, batch_size: int = 250,
                 l2: float = 5e-10, soft_targets: bool = True, rho: float = 0.95, eps: float = 1e-8):
        self.lin = torch.nn.Linear(n_features, n_classes)
        torch.nn.init.zeros_(self.lin.weight)
        torch.nn.init.zeros_(self.lin.bias)
        self.n_classes, self.batch_size, self.l2, self.soft = n_classes, batch_size, l2, soft_targets
        self.opt = torch.optim.Adadelta(self.lin.parameters(), lr=lr, rho=rho, eps=eps)

    def _x(self, feats: torch.Tensor) -> torch.Tensor:
        return feats / feats.max().clamp_min(1e-12)  # per mini-batch max (official quirk)

    def loss(self, feats: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(y, self.n_classes).float()
        target = onehot.softmax(1) if self.soft else onehot
        ce = -(target * self.lin(self._x(feats)).log_softmax(1)).sum(1).mean()
        return ce + self.l2 * 0.5 * self.lin.weight.square().sum()

    @torch.no_grad()
    def accuracy(self, feats: torch.Tensor, y: torch.Tensor) -> float:
        pred = torch.cat([self.lin(self._x(feats[i:i + self.batch_size])).argmax(1)
                          for i in range(0, len(feats), self.batch_size)])
        return 100.0 * float((pred == y).float().mean())

    def fit(self, train, val, test, *, epochs: int, generator: torch.Generator) -> dict:
        """Train ``epochs`` epochs on ``train = (feats, y)``; return the curves and the test accuracy at the
        epoch of best validation accuracy (first such epoch)."""
        (xtr, ytr), (xva, yva), (xte, yte) = train, val, test
        best, hist = (-1.0, 0, 0.0), {"val_acc": [], "test_acc_curve": [], "loss": []}
        for ep in range(epochs):
            perm, tot = torch.randperm(len(xtr), generator=generator), 0.0
            for i in range(0, len(xtr), self.batch_size):
                idx = perm[i:i + self.batch_size]
                loss = self.loss(xtr[idx], ytr[idx])
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                tot += loss.item() * len(idx)
            va, te = self.accuracy(xva, yva), self.accuracy(xte, yte)
            hist["val_acc"].append(va)
            hist["test_acc_curve"].append(te)
            hist["loss"].append(tot / len(xtr))
            if va > best[0]:
                best = (va, ep + 1, te)
        return {**hist, "best_val_acc": best[0], "best_epoch": best[1], "test_acc": best[2]}
