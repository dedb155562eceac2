"""The frozen NALSM liquid in brian2 (cython target), for ``paperzoo bench nalsm --against brian2``.

NOT imported by the package: ``bench.py`` runs it with the interpreter of brian2's own environment
(brian2 does not import with numpy >= 2.4):

    python brian2_liquid.py NET.npz OUT.json

``NET.npz`` (read with ``allow_pickle=False``): ``pre``, ``post`` (S,) int, ``w`` (S,) float, ``events``
(T, n_inputs) bool input events, scalars ``n_inputs``, ``n_all``, ``tau_v``, ``tau_u``, ``v_th``, ``t_ref``,
``input_current``, ``timer_max``, ``warmup_ms``. Writes JSON: per-neuron spike counts, run seconds (after a
warm-up run that compiles the code), brian2 version, target.

The discrete-time model is written step for step in the order of ``NALSM_LIF_v1.py`` (card "Neuron model"),
using brian2's schedule: thresholds (S = v >= theta and ref <= 0) -> resets (v = 0, timer = 0, ref = t_ref + 1)
-> groups (summed synaptic current from the reset timers, then v += I_syn + I_in - v / tau_v, timer + 1 capped,
ref - 1). dt = 1 ms.
"""
import json
import sys
import time

import numpy as np


def main(net_path: str, out_path: str) -> None:
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    b2.prefs.core.default_float_dtype = np.float64
    d = np.load(net_path, allow_pickle=False)
    n_in, n_all = int(d["n_inputs"]), int(d["n_all"])
    events = d["events"].astype(np.float64)
    steps, warm = events.shape[0], int(d["warmup_ms"])
    drive = np.zeros((steps + warm + 1, n_all))
    drive[warm:warm + steps, :n_in] = events * float(d["input_current"])
    b2.defaultclock.dt = 1 * b2.ms
    ext = b2.TimedArray(drive, dt=1 * b2.ms)
    ns = {"tau_v": float(d["tau_v"]), "tau_u": float(d["tau_u"]), "theta": float(d["v_th"]),
          "t_ref": float(d["t_ref"]), "timer_max": float(d["timer_max"]), "ext": ext}
    g = b2.NeuronGroup(n_all, """v : 1
                                 ref : 1
                                 timer : 1
                                 I_syn : 1""",
                       threshold="v >= theta and ref <= 0", reset="v = 0\ntimer = 0\nref = t_ref + 1",
                       namespace=ns)
    g.timer = ns["timer_max"]
    syn = b2.Synapses(g, g, model="""w : 1
                                    I_syn_post = w * exp(-timer_pre / tau_u) / tau_u : 1 (summed)""", namespace=ns)
    syn.connect(i=d["pre"].astype(np.int64), j=d["post"].astype(np.int64))
    syn.w = d["w"].astype(np.float64)
    g.run_regularly("v = v + I_syn + ext(t, i) - v / tau_v\ntimer = clip(timer + 1, 0, timer_max)\nref = ref - 1",
                    when="groups", order=10)
    mon = b2.SpikeMonitor(g[n_in:])
    net = b2.Network(g, syn, mon)
    net.schedule = ["start", "thresholds", "resets", "groups", "synapses", "end"]
    t0 = time.perf_counter()
    net.run(warm * b2.ms)  # compiles the code; its input is zero and its spikes are subtracted below
    compile_s = time.perf_counter() - t0
    warm_counts = np.array(mon.count[:], dtype=np.int64)
    g.v, g.ref, g.timer = 0, 0, ns["timer_max"]  # the reset state, as at the start of a sample
    t0 = time.perf_counter()
    net.run(steps * b2.ms)
    run_s = time.perf_counter() - t0
    counts = np.array(mon.count[:], dtype=np.int64) - warm_counts
    with open(out_path, "w") as f:
        json.dump({"counts": counts.tolist(), "run_seconds": run_s, "warmup_seconds": compile_s, "sim_ms": steps,
                   "brian2": b2.__version__, "numpy": np.__version__, "target": "cython"}, f)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python brian2_liquid.py NET.npz OUT.json")
    main(sys.argv[1], sys.argv[2])
