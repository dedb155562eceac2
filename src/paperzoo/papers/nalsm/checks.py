"""The card's smoke checks (ladder step 1), each failing when the rule is wrong.

- :func:`astro_ode_error`: the astrocyte (paper eq. 7) driven by constant counts (res 50, inp 10, w_astro 0.01,
  b_A 0.15, tau 100) must follow A_t - b_A = 0.4 (1 - 0.99^t) (0.55 after 1000 steps).
- :func:`stdp_pair_errors`: hand-timed spikes on a tiny liquid (pre at t0, post at t0 + 3 and reversed, for an
  excitatory-type and an inhibitory presynapse): dW must be +eta a gamma^3 / -A a gamma^3 (signs swapped for an
  inhibitory presynapse), through the full simulator.
- :func:`regulation_check`: a 5x5x5 liquid initialised with astro-STDP (w_astro 0.05) and with plain STDP from the
  same seed: the mean E -> reservoir weight must move opposite to D = mean(sum_res S - sum_inp S).
"""
from __future__ import annotations

import math

import torch

from paperzoo.papers.nalsm.learner import LiquidInitLearner
from paperzoo.papers.nalsm.liquid import Liquid, build_liquid
from paperzoo.papers.nalsm.sim import AstroSTDP, LIFLiquidSim, PlainSTDP, astro_step


def astro_ode_error(steps: tuple[int, int] = (100, 1000)) -> dict:
    """Max |A_t - (0.15 + 0.4 (1 - 0.99^t))| at t = 100 and |A_1000 - 0.55| (card smoke test)."""
    a = torch.tensor([0.15], dtype=torch.float64)
    res, inp = torch.tensor([50.0], dtype=torch.float64), torch.tensor([10.0], dtype=torch.float64)
    at = {}
    for t in range(1, max(steps) + 1):
        a = astro_step(a, res, inp, w_astro=0.01, b_a=0.15, tau_astro=100.0)
        at[t] = float(a)
    exact = abs(at[steps[0]] - 0.15 - 0.4 * (1 - 0.99 ** steps[0]))
    return {"astro_ode_err_100": exact, "astro_fixed_point_err": abs(at[steps[1]] - 0.55)}


def pair_liquid(w_syn: float = 0.5, drive: float = 25.0) -> Liquid:
    """3 inputs, 3 reservoir neurons: input k drives reservoir k (weight ``drive``), reservoir 0 (excitatory) and
    1 (inhibitory) project onto reservoir 2 with |w| = ``w_syn`` (too weak to make it fire). w_max = 30."""
    pre = torch.tensor([0, 1, 2, 3, 4])
    post = torch.tensor([3, 4, 5, 5, 5])
    kind = torch.tensor([0, 0, 0, 1, 2], dtype=torch.int8)
    w0 = torch.tensor([drive, drive, drive, w_syn, -w_syn])
    order = torch.argsort(post * 6 + pre)
    return Liquid(n_inputs=3, n_res=3, pre=pre[order], post=post[order], kind=kind[order], w0=w0[order],
                  positions=torch.zeros(3, 3), is_exc=torch.tensor([True, False, True]), w_max=30.0)


def stdp_pair_errors(stdp: str = "event") -> dict:
    """Run the pair liquid with input events timed so the presynapse fires at t0 and the post at t0 + 3 (and
    reversed); compare dW on the E and I synapses with the card's values. Returns the max abs error and dWs."""
    lq = pair_liquid()
    sim = LIFLiquidSim(lq, stdp=stdp)
    rule = PlainSTDP()
    g, a, eta = rule.gamma, rule.trace_a, rule.eta_plus
    want = {("exc", "pre_first"): eta * a * g**3, ("exc", "post_first"): -eta * a * g**3,  # A = eta (plain)
            ("inh", "pre_first"): -eta * a * g**3, ("inh", "post_first"): eta * a * g**3}
    syn = {"exc": int(((lq.pre == 3) & (lq.post == 5)).nonzero()), "inh": int(((lq.pre == 4) & (lq.post == 5)).nonzero())}
    errs, got = [], {}
    for kind, src in (("exc", 0), ("inh", 1)):
        for order, (t_pre, t_post) in (("pre_first", (5, 8)), ("post_first", (8, 5))):
            ev = torch.zeros(20, 1, 3, dtype=torch.bool)
            ev[t_pre - 2, 0, src] = True  # event at t -> input spikes t + 1 -> driven neuron spikes t + 2
            ev[t_post - 2, 0, 2] = True
            out = sim.run(torch.zeros(1, 3), 20, plasticity=rule, events=ev, record=True)
            r = out["raster"][0]
            if r[:, src].nonzero().flatten().tolist() != [t_pre] or r[:, 2].nonzero().flatten().tolist() != [t_post]:
                raise RuntimeError(f"pair check: spikes not at the planned times: {r.nonzero().tolist()}")
            dw = float(out["weights"][0, syn[kind]] - lq.w0[syn[kind]])
            got[f"{kind}_{order}"] = dw
            errs.append(abs(dw - want[(kind, order)]))
    return {"stdp_pair_err": max(errs), **{f"dw_{k}": v for k, v in got.items()}}


def regulation_check(*, n_init: int = 200, ms: int = 20, w_astro: float = 0.05, seed: int = 0) -> dict:
    """Card smoke test 3 (125 neurons, 100 inputs at p = 0.05, all input weights +3, 200 x 20 ms, same seed).
    ``sign_ok`` = 1 when sign(mean E weight astro - plain) = -sign(D)."""
    lq = build_liquid((5, 5, 5), 100, seed=seed)
    lq.w0 = lq.w0.abs().where(lq.kind == 0, lq.w0)  # all-positive input weights (card)
    rates = torch.full((n_init, 100), 0.05)
    res = {}
    for name, rule in (("astro", AstroSTDP(w_astro=w_astro)), ("plain", PlainSTDP())):
        lrn = LiquidInitLearner(LIFLiquidSim(lq), rule, ms_per_image=ms)
        row = lrn.fit(rates, epochs=1, seed=seed, progress=False)[0]
        res[name] = (row, lrn.w[lq.kind == 1].mean().item())
    row = res["astro"][0]
    d = (row["res_rate_hz"] * lq.n_res - row["inp_rate_hz"] * lq.n_inputs) / 1000.0  # per ms
    diff = res["astro"][1] - res["plain"][1]
    ok = float(d != 0 and diff != 0 and math.copysign(1, diff) == -math.copysign(1, d))
    return {"regulation_sign_ok": ok, "regulation_D": d, "regulation_dw_exc": diff}
