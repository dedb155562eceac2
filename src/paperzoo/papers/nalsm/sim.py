"""The clock-driven LIF liquid with astrocyte-modulated STDP, one batch of samples as one tensor program.

Every step (dt = 1 ms) in the official order (``NALSM_LIF_v1.py``, ``NALSM_STDP.py``, ``NALSM_ASTRO.py``; card
"Neuron model", "Astrocyte-modulated STDP", "Astrocyte"):

1. S_i = [V_i >= theta and ref_i <= 0];   2. V_i <- 0 where S_i;   3. s_j <- 0 where S_j (timer of pre j);
4. V_i <- V_i + sum_j W_ij exp(-s_j / tau_u) / tau_u + I_i + b - V_i / tau_v,  I_i = 100 * Bernoulli(p_i) for inputs;
5. s_j <- min(s_j + 1, 100);   6. ref_i <- 2 where S_i else ref_i - 1;
7. STDP with the traces x from before this step: pre j excitatory or input:
   dW_ij = eta+ x_j S_i - A x_i S_j;  pre j inhibitory: dW_ij = -A x_j S_i + eta+ x_i S_j; clip per kind;
8. x <- gamma (x + a S);   9. astrocyte (paper eq. 7): A <- A + (w_astro (sum_res S - sum_inp S) + b_A - A) / tau_A;
10. eta+, A, w_astro, b_A <- decay * (.)  (decay = 0.99 during feature extraction, 1 during initialisation).

The timer s_ij depends only on the presynaptic neuron, so it is kept per neuron. State is (B, n_all) per
quantity; plastic weights are (B, S) (each sample its own transient copy, card pitfall 2) and the synaptic
current is one block-diagonal CSR mat-vec over the batch (values = the weights, no copy). Without plasticity the
weights are shared and the current is one sparse (or dense) matmul for the whole batch. STDP (step 7) has two
kernels: ``"event"`` touches only the synapses whose pre or post neuron spiked (the others get dW = 0 exactly;
fast on CPU) and ``"dense"`` evaluates the rule on every synapse (simple; for GPUs and as a cross-check).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch

from paperzoo.papers.nalsm.liquid import Liquid


@dataclass(frozen=True)
class AstroSTDP:
    """Astrocyte-modulated STDP (``NALSM_STDP.STDP_w_astro_depression`` + ``NALSM_ASTRO``; official defaults).

    ``eta_plus`` potentiation rate (0.15), depression rate A(0) = b_A = eta_plus (bias offset 0), ``w_astro``
    (0.015 for 1000 neurons, 0.0075 for 8000), ``tau_astro`` 100 ms, trace jump ``trace_a`` 0.1 and time
    constant ``trace_tau`` 10 ms (gamma = exp(-1/10)), ``decay`` the per-ms factor on eta+, A, w_astro, b_A.
    ``w_astro = 0`` keeps A = b_A = eta_plus: plain STDP (``STDP_PURE``, the LSM+STDP baseline).
    """

    eta_plus: float = 0.15
    w_astro: float = 0.015
    tau_astro: float = 100.0
    trace_a: float = 0.1
    trace_tau: float = 10.0
    decay: float = 1.0

    def __post_init__(self) -> None:
        if self.eta_plus < 0 or self.tau_astro <= 0 or self.trace_tau <= 0 or not 0 < self.decay <= 1:
            raise ValueError(f"AstroSTDP: need eta_plus >= 0, tau_astro > 0, trace_tau > 0, 0 < decay <= 1; got {self}")

    @property
    def gamma(self) -> float:
        return math.exp(-1.0 / self.trace_tau)


def PlainSTDP(eta_plus: float = 0.15, **kw) -> AstroSTDP:
    """Plain STDP (LSM+STDP): depression rate fixed at eta_plus (``w_astro = 0``)."""
    return AstroSTDP(eta_plus=eta_plus, w_astro=0.0, **kw)


def astro_step(a: torch.Tensor, n_res: torch.Tensor, n_inp: torch.Tensor, *, w_astro: float, b_a: float,
               tau_astro: float) -> torch.Tensor:
    """One step of the astrocyte (paper eq. 7): A + (w_astro (res - inp) + b_A - A) / tau_A. Not clipped."""
    return a + (w_astro * (n_res - n_inp) + b_a - a) / tau_astro


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A CSR matrix sharing ``values``' memory (torch's "beta" notice silenced; indices are built here, valid)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


class LIFLiquidSim:
    """Simulates a :class:`Liquid` (``NALSM_LIF_v1.py`` defaults: tau_v 64, tau_u 1, theta 20, refractory 2,
    input current 100, bias 0). ``matmul`` ("sparse" | "dense"): the shared-weight current kernel;
    ``stdp`` ("event" | "dense"): the plasticity kernel (identical results up to float rounding)."""

    def __init__(self, liquid: Liquid, *, tau_v: float = 64.0, tau_u: float = 1.0, v_th: float = 20.0,
                 t_ref: int = 2, input_current: float = 100.0, bias: float = 0.0, timer_max: float = 100.0,
                 matmul: str = "sparse", stdp: str = "event", device: str | torch.device = "cpu"):
        if matmul not in ("sparse", "dense") or stdp not in ("event", "dense"):
            raise ValueError(f"matmul must be 'sparse'|'dense' and stdp 'event'|'dense', got {matmul!r}, {stdp!r}")
        if tau_v <= 0 or tau_u <= 0 or t_ref < 0:
            raise ValueError(f"need tau_v > 0, tau_u > 0, t_ref >= 0; got {tau_v}, {tau_u}, {t_ref}")
        self.liquid, self.device, self.matmul, self.stdp = liquid, torch.device(device), matmul, stdp
        self.tau_v, self.tau_u, self.v_th, self.t_ref = float(tau_v), float(tau_u), float(v_th), float(t_ref)
        self.input_current, self.bias, self.timer_max = float(input_current), float(bias), float(timer_max)
        dev, n_all = self.device, liquid.n_all
        self.pre, self.post = liquid.pre.to(dev), liquid.post.to(dev)
        self.inh = (liquid.kind == 2).to(dev)
        lo, hi = liquid.bounds()
        self.lo, self.hi = lo.to(dev), hi.to(dev)
        self.in_ptr = torch.zeros(n_all + 1, dtype=torch.long, device=dev)  # synapses of post i: in_ptr[i]..[i+1]
        self.in_ptr[1:] = torch.bincount(self.post, minlength=n_all).cumsum(0)
        self.out_syn = torch.argsort(self.pre, stable=True)  # synapses grouped by pre
        self.out_ptr = torch.zeros(n_all + 1, dtype=torch.long, device=dev)
        self.out_ptr[1:] = torch.bincount(self.pre, minlength=n_all).cumsum(0)

    def _shared_matrix(self, w: torch.Tensor) -> torch.Tensor:
        """W (N, n_all) as a CSR (or dense) matrix for the no-plasticity current."""
        lq = self.liquid
        crow = self.in_ptr[lq.n_inputs:].to(torch.int32)
        m = _csr(crow, self.pre.to(torch.int32), w, (lq.n_res, lq.n_all))
        return m if self.matmul == "sparse" else m.to_dense()

    def _batch_csr(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """crow / col of the block-diagonal (B N, B n_all) matrix whose values are the (B, S) weights."""
        lq, dev = self.liquid, self.device
        crow = self.in_ptr[lq.n_inputs:]
        offs = torch.arange(b, device=dev)[:, None]
        crow_b = torch.cat([(crow[:-1][None, :] + lq.n_syn * offs).reshape(-1), crow.new_tensor([b * lq.n_syn])])
        col_b = (self.pre[None, :] + lq.n_all * offs).reshape(-1)
        dt = torch.int32 if b * max(lq.n_syn, lq.n_all) < 2**31 else torch.long
        return crow_b.to(dt), col_b.to(dt)

    @staticmethod
    def _expand(spk: torch.Tensor, ptr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sample, position) of every entry ptr[n]..ptr[n+1]-1 listed under a spiking neuron n."""
        bi, ni = spk.nonzero(as_tuple=True)
        start = ptr.index_select(0, ni)
        lens = ptr.index_select(0, ni + 1) - start
        first = lens.cumsum(0) - lens  # where each spike's run begins in the output
        total = int(lens.sum())
        pos = torch.arange(total, device=spk.device) + torch.repeat_interleave(start - first, lens, output_size=total)
        return torch.repeat_interleave(bi, lens, output_size=total), pos

    def _stdp_event(self, w, x, spk, a, eta):
        """Step 7 on the synapses whose post (x_pre S_post term) or pre (x_post S_pre term) neuron spiked; every
        other synapse has dW = 0 exactly. Clipping is idempotent, so clipping only the touched ones is exact."""
        s_n, n_all = w.shape[1], x.shape[1]
        flat, xf, na = w.view(-1), x.view(-1), -a
        b1, s1 = self._expand(spk, self.in_ptr)  # post spiked (synapses in CSR order)
        b2, pos = self._expand(spk, self.out_ptr)  # pre spiked
        s2 = self.out_syn.index_select(0, pos)
        inh1, inh2 = self.inh.index_select(0, s1), self.inh.index_select(0, s2)
        v1 = xf.index_select(0, b1 * n_all + self.pre.index_select(0, s1)) * torch.where(inh1, na.index_select(0, b1), eta)
        v2 = xf.index_select(0, b2 * n_all + self.post.index_select(0, s2)) * torch.where(inh2, eta, na.index_select(0, b2))
        i1, i2 = b1 * s_n + s1, b2 * s_n + s2
        flat.index_add_(0, i1, v1)
        flat.index_add_(0, i2, v2)
        for i, s in ((i1, s1), (i2, s2)):
            clipped = torch.minimum(torch.maximum(flat.index_select(0, i), self.lo.index_select(0, s)),
                                    self.hi.index_select(0, s))
            flat.index_copy_(0, i, clipped)

    def _stdp_dense(self, w, x, sf, a, eta):
        """Step 7 evaluated on every synapse."""
        tpp = x[:, self.pre] * sf[:, self.post]  # x_pre S_post
        tqp = x[:, self.post] * sf[:, self.pre]  # x_post S_pre
        na = -a[:, None]
        w += torch.where(self.inh, na, eta) * tpp + torch.where(self.inh, eta, na) * tqp
        w.clamp_(min=self.lo, max=self.hi)

    def run(self, p: torch.Tensor, steps: int, *, weights: torch.Tensor | None = None,
            plasticity: AstroSTDP | None = None, events: torch.Tensor | None = None,
            generator: torch.Generator | None = None, record: bool = False) -> dict:
        """Simulate ``steps`` ms from the reset state for a batch of input rates ``p`` (B, n_inputs).

        ``weights`` (S,) (default ``liquid.w0``) start every sample; with ``plasticity`` each sample gets its own
        copy, updated by STDP and returned as ``out["weights"]`` (B, S). ``events`` (steps, B, n_inputs) bool
        replaces the Bernoulli(p) draws (for cross-checks). Returns ``counts`` (B, N) reservoir spike counts,
        ``input_counts`` (B, n_inputs), ``astro`` (steps, B) the depression rate A after each step (with
        plasticity) and, if ``record``, ``raster`` (B, steps, N) bool.
        """
        lq, dev = self.liquid, self.device
        if p.ndim != 2 or p.shape[1] != lq.n_inputs:
            raise ValueError(f"p must be (B, {lq.n_inputs}) rates, got {tuple(p.shape)}")
        if events is None and (p.min() < 0 or p.max() > 1):
            raise ValueError("p must hold probabilities in [0, 1]")
        if events is not None and tuple(events.shape) != (steps, p.shape[0], lq.n_inputs):
            raise ValueError(f"events must be (steps, B, n_inputs) = {(steps, p.shape[0], lq.n_inputs)}, got "
                             f"{tuple(events.shape)}")
        b, n_in, n_all = p.shape[0], lq.n_inputs, lq.n_all
        p = p.to(dev, torch.float32)
        w = (lq.w0 if weights is None else weights).to(dev, torch.float32)
        if w.shape != (lq.n_syn,):
            raise ValueError(f"weights must be ({lq.n_syn},), got {tuple(w.shape)}")
        if plasticity is None:
            mat = self._shared_matrix(w)
        else:
            w = w.expand(b, -1).clone()
            crow_b, col_b = self._batch_csr(b)
            mat = _csr(crow_b, col_b, w.view(-1), (b * lq.n_res, b * n_all))  # shares w's memory
            x = torch.zeros(b, n_all, device=dev)
            a = torch.full((b,), plasticity.eta_plus, device=dev)
            eta, w_astro, b_a = plasticity.eta_plus, plasticity.w_astro, plasticity.eta_plus
            astro = torch.empty(steps, b, device=dev)
        v = torch.zeros(b, n_all, device=dev)
        ref = torch.zeros(b, n_all, device=dev)
        timer = torch.full((b, n_all), self.timer_max, device=dev)
        counts = torch.zeros(b, n_all, device=dev)
        raster = torch.zeros(b, steps, lq.n_res, dtype=torch.bool, device=dev) if record else None
        inp = torch.zeros(b, n_all, device=dev)
        for t in range(steps):
            spk = (v >= self.v_th) & (ref <= 0)  # 1
            sf = spk.float()
            v = v.masked_fill(spk, 0.0)  # 2
            timer = timer.masked_fill(spk, 0.0)  # 3
            r = torch.exp(-timer / self.tau_u) / self.tau_u
            if plasticity is None:  # 4: shared weights, one matmul for the batch
                inp[:, n_in:] = (mat @ r.T).T
            else:  # per-sample weights: one block-diagonal mat-vec
                inp[:, n_in:] = (mat @ r.view(-1, 1)).view(b, lq.n_res)
            ev = events[t].to(dev) if events is not None else \
                torch.rand(b, n_in, device=dev, generator=generator) < p
            inp[:, :n_in] = ev.float() * self.input_current
            v = v + inp + self.bias - v / self.tau_v
            timer = (timer + 1.0).clamp_(max=self.timer_max)  # 5
            ref = torch.where(spk, self.t_ref, ref - 1.0)  # 6
            counts += sf
            if record:
                raster[:, t] = spk[:, n_in:]
            if plasticity is not None:
                if self.stdp == "event":  # 7: traces from before this step
                    self._stdp_event(w, x, spk, a, eta)
                else:
                    self._stdp_dense(w, x, sf, a, eta)
                x = plasticity.gamma * (x + plasticity.trace_a * sf)  # 8
                a = astro_step(a, sf[:, n_in:].sum(1), sf[:, :n_in].sum(1), w_astro=w_astro, b_a=b_a,  # 9
                               tau_astro=plasticity.tau_astro)
                astro[t] = a
                d = plasticity.decay  # 10
                eta, w_astro, b_a, a = eta * d, w_astro * d, b_a * d, a * d
        out = {"counts": counts[:, n_in:], "input_counts": counts[:, :n_in]}
        if plasticity is not None:
            out.update(weights=w, astro=astro)
        if record:
            out["raster"] = raster
        return out
