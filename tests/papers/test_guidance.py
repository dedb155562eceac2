"""Guidance: CKA parity with a float64 reference, the official layer map and hook semantics, the frozen
guide, the copy-paste generator, the learner (losses, init-only switch, bit-identical resume), the probe."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import paperzoo as pz
from paperzoo.data import TensorSet
from paperzoo.papers.guidance import (
    ActivationTap,
    CausalTransformer,
    ConvGuide,
    DeepFCN,
    GuidanceLearner,
    GuidanceLoss,
    StackedRNNLM,
    copy_paste_dataset,
    guidance_cka,
    layer_map,
    linear_cka,
    supervised_pairs,
    trim_batch,
)
from paperzoo.papers.guidance.reproduce import PROTOCOLS, _upturn, identities
from paperzoo.train.checkpoint import load_checkpoint


def _ref_cka(x, y):
    """Reference: explicit Gram matrices and centring matrix H (official rep_sims.py), float64."""
    x, y = x.reshape(len(x), -1).double(), y.reshape(len(y), -1).double()
    n = len(x)
    h = torch.eye(n, dtype=torch.float64) - torch.ones(n, n, dtype=torch.float64) / n

    def hsic(a, b):
        return ((h @ (a @ a.T) @ h) * (h @ (b @ b.T) @ h)).sum()

    return hsic(x, y) / torch.sqrt(hsic(x, x) * hsic(y, y))


# ---------------------------------------------------------------- CKA
def test_linear_cka_matches_the_float64_reference_on_uncentred_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 7, 3, generator=g, dtype=torch.float64) + 3.0
    y = torch.randn(50, 11, generator=g, dtype=torch.float64) * torch.arange(1, 12) - 2.0
    y = y + 0.5 * x.reshape(50, -1)[:, :11]
    ours, ref = linear_cka(x, y), _ref_cka(x, y)
    assert abs(float(ours) - float(ref)) < 1e-12 and 0.05 < float(ref) < 0.95
    assert abs(float(linear_cka(y, x)) - float(ref)) < 1e-12  # symmetric


def test_cka_invariances_and_independence():
    m = identities(torch.Generator().manual_seed(3))
    assert m["cka_identity_err"] < 1e-12 and 0.1 < m["cka_independent"] < 0.3
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 8, generator=g, dtype=torch.float64)
    a = torch.randn(8, 8, generator=g, dtype=torch.float64)  # not orthogonal: CKA is not invariant to it
    assert abs(float(linear_cka(x, x @ a)) - 1.0) > 1e-3
    assert abs(float(linear_cka(x, x * 4.0 + 7.0)) - 1.0) < 1e-12


def test_cka_gradient_flows_and_bad_input_raises():
    x = torch.randn(16, 5, requires_grad=True)
    (1 - linear_cka(x, torch.randn(16, 9))).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same n"):
        linear_cka(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="at least 2"):
        linear_cka(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(TypeError):
        linear_cka([[1.0]], torch.randn(1, 1))


# ---------------------------------------------------------------- layer map
def test_layer_map_is_the_official_rounding():
    assert layer_map(17, 3) == [0] * 5 + [1] * 7 + [2] * 5
    assert layer_map(3, 2) == [0, 0, 1]  # round(0.5) = 0: halves to even
    assert layer_map(5, 4) == [0, 1, 2, 2, 3]  # round(1.5) = 2
    assert layer_map(4, 10) == [0, 3, 6, 9]
    assert layer_map(1, 5) == [0] and layer_map(3, 1) == [0, 0, 0]
    assert supervised_pairs(16, 2) == [(7, 0), (15, 1)]  # last writer wins, per target layer
    assert supervised_pairs(32, 4) == [(5, 0), (15, 1), (25, 2), (31, 3)]
    assert supervised_pairs(3, 20) == [(0, 0), (1, 10), (2, 19)]
    with pytest.raises(ValueError):
        layer_map(0, 3)


# ---------------------------------------------------------------- hooks
def test_tap_on_the_official_transformer_guide():
    torch.manual_seed(0)
    m = CausalTransformer(width=16, depth=2, nhead=4, dim_feedforward=24).eval()
    x = copy_paste_dataset(3, lmin=2, lmax=5).x
    out, acts = ActivationTap(m, drop_last=False).run(x)
    assert len(acts) == 17 and torch.equal(acts[-1], out)  # 2 calls x 8 taps + logits
    assert [a.shape[-1] for a in acts[:8]] == [16, 16, 16, 16, 24, 16, 16, 16]  # MHA,LN,MHA,LN,lin1,lin2,LN,layer
    h = m.pos(m.embed(x) * 4.0)
    mask = torch.triu(torch.full((x.shape[1],) * 2, float("-inf")), 1)
    h1 = m.decoder[0](h, h, tgt_mask=mask)
    assert torch.allclose(acts[7], h1, atol=1e-6) and torch.allclose(acts[15], m.decoder[1](h1, h1, tgt_mask=mask),
                                                                     atol=1e-6)
    assert len(ActivationTap(m).run(x)[1]) == 16  # official drop_last


def test_tap_on_rnn_keeps_sequence_output_and_fixes_the_batch_axis():
    torch.manual_seed(0)
    m = StackedRNNLM(width=6, depth=2, embedding_dim=4)
    x = torch.randint(0, 13, (3, 5))
    out, acts = ActivationTap(m, drop_last=False).run(x)
    assert [tuple(a.shape) for a in acts] == [(3, 5, 6), (3, 5, 6), (3, 5, 13)]

    class SeqFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.sq = nn.RNN(4, 7), nn.Linear(3, 3)

        def forward(self, x):  # x (B, T, 4) -> rnn sees (T, B, 4)
            self.sq(torch.zeros(2, 3, 3))  # (2, 3, 3): batch not first, two batch-sized axes -> skipped
            return self.rnn(x.transpose(0, 1))[0]

    s = SeqFirst()
    out, acts = ActivationTap(s, drop_last=False).run(torch.randn(3, 5, 4))
    assert len(acts) == 1 and torch.equal(acts[0], out.transpose(0, 1))


def test_models_follow_the_official_code():
    torch.manual_seed(0)
    t = CausalTransformer(width=16, depth=3, nhead=4)
    assert t.decoder[0] is t.decoder[2]  # shared layer (official ModuleList([layer for _ in range(n)]))
    assert CausalTransformer(width=16, depth=3, nhead=4, share_layers=False).decoder[0] is not \
        CausalTransformer(width=16, depth=3, nhead=4, share_layers=False).decoder[1]
    t.eval()
    x = torch.randint(1, 13, (2, 6))
    x2 = x.clone()
    x2[:, -1] = (x[:, -1] % 12) + 1
    assert not torch.allclose(t(x)[:, 0], t(x2)[:, 0])  # memory = own input, unmasked: not causal (official)
    r = StackedRNNLM(width=5, depth=2, embedding_dim=3)
    h1, hn = r.rnn[0](r.embedding(x))
    assert torch.allclose(r(x), r.fc(r.rnn[1](h1, hn)[0]))  # layer 2 starts from layer 1's final state
    assert not torch.allclose(r(x), r.fc(r.rnn[1](h1)[0]))
    assert torch.allclose(StackedRNNLM(width=5, depth=2, embedding_dim=3, chain_hidden=False)(x).shape and r(x),
                          r(x))
    f = DeepFCN(784, 10, width=8, depth=4, first_width=12)
    lin = [m for m in f.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(784, 12), (12, 8), (8, 8), (8, 8), (8, 10)]
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.1 for m in f.modules()) == 4
    c = ConvGuide(1, 10, width=4, depth=3)
    assert len(ActivationTap(c).run(torch.rand(2, 1, 28, 28))[1]) == 4  # 3 convs + pool (fc dropped)
    with pytest.raises(ValueError, match="divisible"):
        CausalTransformer(width=10, nhead=4)
    with pytest.raises(ValueError, match="int64"):
        r(torch.randn(2, 3))


# ---------------------------------------------------------------- data
def test_copy_paste_rows_match_a_loop_reference():
    d = copy_paste_dataset(40, lmin=3, lmax=7, vocab=10, generator=torch.Generator().manual_seed(1))
    assert d.x.shape == (40, 16) and d.y.shape == (40, 16) and d.x.dtype == torch.long
    lengths = set()
    for xr, yr in zip(d.x.tolist(), d.y.tolist()):
        length = xr.index(11)
        lengths.add(length)
        s = xr[:length]
        assert xr == s + [11] + [0] * length + [12] + [0] * (16 - 2 * length - 2)
        assert yr == [0] * (length + 1) + s + [12] + [0] * (16 - 2 * length - 2)
        assert all(0 <= v < 10 for v in s)
    assert lengths == set(range(3, 8))
    short = [i for i, r in enumerate(d.x.tolist()) if r.index(11) <= 5][:6]  # longest of them: 5 < lmax = 7
    xb, yb = trim_batch(d.x[short], d.y[short])
    width = 2 * max(d.x[i].tolist().index(11) for i in short) + 2
    assert width < 16 and xb.shape[1] == width and torch.equal(xb, d.x[short, :width]) and torch.equal(yb, d.y[short, :width])
    assert len(copy_paste_dataset(1)) == 1 and copy_paste_dataset(2, lmin=1, lmax=1).x.shape == (2, 4)
    assert int(copy_paste_dataset(200, vocab=3).x.max()) == 5  # EOS = vocab + 2
    dflt = copy_paste_dataset(300)  # paper defaults: lengths 20..40, digits 0..9, fixed seed 0
    lens = (dflt.x == 11).float().argmax(1)
    assert dflt.x.shape == (300, 82) and int(lens.min()) == 20 and int(lens.max()) == 40
    assert torch.equal(dflt.x, copy_paste_dataset(300, generator=torch.Generator().manual_seed(0)).x)
    assert int(dflt.y.max()) == 12 and int(dflt.x[:, :20].max()) == 9 and int(dflt.x[:, :20].min()) == 0
    assert not torch.equal(dflt.x, copy_paste_dataset(300, generator=torch.Generator().manual_seed(1)).x)
    assert copy_paste_dataset(3, vocab=1).x.max() == 3
    for bad in ({"n": 0}, {"n": 2.0}, {"n": 4, "lmin": 5, "lmax": 3}, {"n": 4, "lmin": 0}, {"n": 4, "lmin": 2.0},
                {"n": 4, "lmax": 40.0}, {"n": 4, "vocab": 0}, {"n": 4, "vocab": 2.0}):
        with pytest.raises(ValueError):
            copy_paste_dataset(**bad)


# ---------------------------------------------------------------- loss and learner
def _pair(seed=0, dropout=0.1):
    torch.manual_seed(seed)
    target = StackedRNNLM(width=8, depth=2, embedding_dim=4)
    guide = CausalTransformer(width=8, depth=2, nhead=2, dim_feedforward=16)
    for mod in guide.modules():
        if isinstance(mod, nn.Dropout):
            mod.p = dropout
    return target, guide


def test_guidance_loss_is_alpha_times_the_sum_of_one_minus_cka():
    target, guide = _pair(dropout=0.0)
    x = copy_paste_dataset(32, lmin=3, lmax=6).x
    gl = GuidanceLoss(target, guide, alpha=0.7)
    out, loss, cka = gl(x)
    t = ActivationTap(target).run(x)[1]
    g = ActivationTap(guide.eval()).run(x)[1]
    assert list(cka) == [(7, 0), (15, 1)]
    ref = 0.7 * sum(1 - _ref_cka(t[ti], g[gi]) for gi, ti in [(7, 0), (15, 1)])
    assert abs(float(loss.detach()) - float(ref.detach())) < 1e-5 and torch.allclose(out, target(x))
    loss.backward()
    assert all(p.grad is not None for p in target.rnn.parameters())
    assert all(p.grad is None and not p.requires_grad for p in guide.parameters())
    assert list(gl.parameters()) == list(target.parameters())  # the guide is no submodule: never optimised
    with pytest.raises(ValueError, match="out of range"):
        GuidanceLoss(target, guide, mapping=[(20, 0)])(x)
    with pytest.raises(ValueError):
        GuidanceLoss(target, target)
    with pytest.raises(ValueError):
        GuidanceLoss(target, guide, alpha=-1)


def test_guide_mode_eval_by_default_and_train_when_asked():
    target, guide = _pair(dropout=0.5)
    guide.train()
    x = copy_paste_dataset(16, lmin=3, lmax=6).x
    ev = GuidanceLoss(target, guide)
    assert all(torch.equal(a, b) for a, b in zip(ev.guide_activations(x), ev.guide_activations(x)))
    assert guide.training  # mode restored
    tr = GuidanceLoss(target, guide, guide_eval=False)
    assert not torch.equal(tr.guide_activations(x)[7], tr.guide_activations(x)[7])
    guide.eval()
    tr.guide_activations(x)
    assert not guide.training


def test_learner_losses_and_init_only_switch():
    target, guide = _pair()
    data = copy_paste_dataset(64, lmin=3, lmax=6)
    gl = GuidanceLoss(target, guide, steps=2)
    assert gl.active(1) and not gl.active(2) and GuidanceLoss(target, guide).active(10 ** 6)
    ln = GuidanceLearner(target, gl, task="copy-paste", batch_size=16, optimizer="adamw")
    row = ln.train_epoch(data, epoch=0, generator=torch.Generator().manual_seed(0), progress=_NoBar())
    assert row["guided_steps"] == 2 and ln.step == 4 and len(row["cka"]) == 2
    assert row["loss"] == pytest.approx(row["task_loss"] + row["align_loss"], rel=1e-6) and row["align_loss"] > 0
    with torch.no_grad():
        out = target(data.x[:16])
    mask = data.y[:16] != 0
    assert float(ln.task_loss(out, data.y[:16])) == pytest.approx(float(F.cross_entropy(out[mask], data.y[:16][mask])))
    ev = ln.evaluate(data)
    with torch.no_grad():
        target.eval()
        o = target(data.x)
    m = data.y != 0
    assert ev["acc"] == pytest.approx(100 * float((o.argmax(-1)[m] == data.y[m]).double().mean()))
    assert type(ln.opt) is torch.optim.AdamW and type(GuidanceLearner(target).opt) is torch.optim.Adam


def test_learner_bad_input():
    target, guide = _pair()
    with pytest.raises(ValueError, match="task"):
        GuidanceLearner(target, task="nope")
    with pytest.raises(ValueError, match="align"):
        GuidanceLearner(target, task="align")
    with pytest.raises(ValueError, match="this target"):
        GuidanceLearner(StackedRNNLM(width=4, depth=1), GuidanceLoss(target, guide))
    with pytest.raises(ValueError, match="full batch"):
        GuidanceLearner(target, batch_size=64).steps_per_epoch(copy_paste_dataset(10))
    with pytest.raises(TypeError):
        GuidanceLearner(target).steps_per_epoch(torch.zeros(3))


class _NoBar:
    def advance(self, *a, **k):
        pass


def test_classification_learner_learns_and_lr_decays():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (512,), generator=g)
    x = torch.randn(512, 1, 4, 4, generator=g) + (2 * y - 1).view(-1, 1, 1, 1) * 1.5
    data = TensorSet(x, y)
    torch.manual_seed(0)
    fcn = DeepFCN(16, 2, width=16, depth=3)
    ln = GuidanceLearner(fcn, batch_size=64, lr_decay_every=2)  # the baseline: same loop, no guide
    hist = ln.fit(data, epochs=3, eval_data=data, progress=False)
    assert hist[-1]["acc"] > 95 and hist[-1]["val_loss"] < hist[0]["val_loss"]
    assert ln.opt.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert _upturn([{"val_loss": v} for v in (1.0, 0.5, 0.8, 0.7)]) == pytest.approx(0.2)


def test_resume_through_learner_fit_is_bit_identical(tmp_path):
    data, test = copy_paste_dataset(96, lmin=3, lmax=6), copy_paste_dataset(32, lmin=3, lmax=6)

    def learner():
        target, guide = _pair(seed=4)
        return GuidanceLearner(target, GuidanceLoss(target, guide, guide_eval=False), task="copy-paste",
                               batch_size=16, optimizer="adamw")

    full = learner()
    h_full = full.fit(data, epochs=3, eval_data=test, run_dir=tmp_path / "a", seed=5, progress=False)
    torch.manual_seed(123)  # a different global RNG state before the resume: the checkpoint restores it
    learner().fit(data, epochs=1, eval_data=test, run_dir=tmp_path / "b", seed=5, progress=False)
    resumed = learner()
    h_res = resumed.fit(data, epochs=3, eval_data=test, run_dir=tmp_path / "b", resume=True, seed=5, progress=False)
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a["target"][k], b["target"][k]) for k in a["target"])
    assert a["step"] == b["step"] == 18
    assert [r["loss"] for r in h_full] == [r["loss"] for r in h_res] and h_full[-1]["acc"] == h_res[-1]["acc"]
    step, state = load_checkpoint(tmp_path / "b")
    assert step == 3 and set(state["learner"]) == {"target", "opt", "step", "guide"}


# ---------------------------------------------------------------- probe and protocols
def test_probe_pairs_layers_and_is_one_on_itself():
    torch.manual_seed(0)
    a, b = DeepFCN(784, 10, width=16, depth=4), ConvGuide(1, 10, width=4, depth=2)
    x = torch.rand(64, 1, 28, 28)
    same = guidance_cka(a, x, other=a)
    assert same["cka_mean"] == pytest.approx(1.0, abs=1e-12)
    out = guidance_cka(a, (x, None), other=b)
    assert list(out)[1:] == ["cka/blocks.1.0<-features.0.0", "cka/blocks.3.0<-features.1.0", "cka/blocks.4.0<-pool"]
    assert 0 < out["cka_mean"] < 1
    with pytest.raises(ValueError, match="other"):
        guidance_cka(a, x)


def test_protocols_and_tiny_full(tmp_path, monkeypatch):
    assert PROTOCOLS["full"].rnn_width == 512 and PROTOCOLS["full"].guide_heads == 16
    assert PROTOCOLS["full"].fcn_depth == 48 and PROTOCOLS["full"].fcn_first_width == 2048
    assert PROTOCOLS["cpu"].init_only_steps == 150 and PROTOCOLS["cpu"].alpha == 1.0
    r = pz.reproduce("guidance", "full", seed=0, out=tmp_path / "r", progress=False,
                     overrides={"parts": ("copy-paste",), "cp_n_train": 128, "cp_n_test": 64, "cp_epochs": 1,
                                "cp_batch": 32, "rnn_width": 8, "rnn_embedding": 4, "guide_width": 16,
                                "guide_depth": 4, "guide_heads": 16, "guide_ff": 8, "rnn_depth": 4})
    assert r.metrics["guide_max_change"] == 0.0 and 0 <= r.metrics["cp_guided_acc"] <= 100
    with pytest.raises(ValueError, match="parts"):
        pz.reproduce("guidance", "smoke", out=tmp_path / "x", progress=False, overrides={"parts": ("nope",)})


def test_positional_encoding_conv_guide_and_fcn_details():
    from paperzoo.papers.guidance import models

    pe = models.PositionalEncoding(6, dropout=0.0).eval()
    p = torch.arange(5.0).unsqueeze(1)
    i = torch.arange(3.0)
    ref = torch.stack([torch.sin(p / 10000 ** (2 * i / 6)), torch.cos(p / 10000 ** (2 * i / 6))], -1).reshape(5, 6)
    assert torch.allclose(pe(torch.zeros(1, 5, 6))[0], ref, atol=1e-6)
    assert models.PositionalEncoding(4, dropout=0.3).dropout.p == 0.3
    c = ConvGuide(3, 7, width=5, depth=3)
    convs = [m for m in c.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.padding) for m in convs] == \
        [(3, 5, (3, 3), (1, 1)), (5, 10, (3, 3), (1, 1)), (10, 20, (3, 3), (1, 1))]
    assert c(torch.rand(2, 3, 9, 9)).shape == (2, 7) and c.fc.in_features == 20
    assert sum(isinstance(m, nn.BatchNorm2d) for m in c.modules()) == 3
    assert sum(isinstance(m, nn.MaxPool2d) for m in c.modules()) == 3
    f = DeepFCN(12, 3, width=6, depth=2)
    assert [type(m) for m in f.blocks[1]] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout]
    assert f(torch.rand(4, 3, 2, 2)).shape == (4, 3)
    t = CausalTransformer(width=8, depth=1, nhead=2, dim_feedforward=5, dropout=0.2)
    layer = t.decoder[0]
    assert layer.linear1.out_features == 5 and layer.self_attn.num_heads == 2 and layer.dropout.p == 0.2
    assert t.pos.dropout.p == 0.2 and t.final_layer.out_features == 13
    r = StackedRNNLM(width=6, depth=3, embedding_dim=4)
    assert [m.input_size for m in r.rnn] == [4, 6, 6] and all(m.nonlinearity == "tanh" for m in r.rnn)
    assert r.embedding.num_embeddings == 13 and r.fc.out_features == 13


def test_evaluate_pools_over_batches_and_clip_is_applied(monkeypatch):
    target, guide = _pair()
    data = copy_paste_dataset(50, lmin=3, lmax=9)
    a = GuidanceLearner(target, task="copy-paste", eval_batch=7).evaluate(data)
    b = GuidanceLearner(target, task="copy-paste", eval_batch=1000).evaluate(data)
    assert a["acc"] == pytest.approx(b["acc"]) and a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)
    calls = []
    real = nn.utils.clip_grad_norm_
    monkeypatch.setattr(nn.utils, "clip_grad_norm_", lambda params, c: calls.append(c) or real(params, c))
    ln = GuidanceLearner(target, task="copy-paste", batch_size=25, clip=0.25)
    row = ln.train_epoch(data, epoch=0, generator=torch.Generator().manual_seed(0), progress=_NoBar())
    assert calls == [0.25, 0.25] and row["guided_steps"] == 0 and row["align_loss"] == 0 and "cka" not in row
    gl = GuidanceLoss(target, guide, mapping=[(0, 0), (7, 1)])
    ev = GuidanceLearner(target, gl, task="align", batch_size=25).evaluate(data)
    assert len(ev["cka"]) == 2 and ev["cka_mean"] == pytest.approx(sum(ev["cka"]) / 2)


def test_cka_and_map_input_checks():
    for a, b in ((torch.randn(5), torch.randn(5, 2)), (torch.randn(5, 2), torch.randn(5))):
        with pytest.raises(ValueError, match="same n"):
            linear_cka(a, b)
    assert float(linear_cka(torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0], [5.0]]))) == pytest.approx(1.0)
    for bad in ((3, 0), (2.0, 3), (3, 2.0), (-1, 2)):
        with pytest.raises(ValueError):
            layer_map(*bad)


def test_guidance_loss_repeated_calls_guide_input_alpha_zero_and_steps():
    target, guide = _pair(dropout=0.0)
    x = copy_paste_dataset(32, lmin=3, lmax=6).x
    gl = GuidanceLoss(target, guide)
    first, second = gl(x), gl(x)
    assert float(first.loss.detach()) == float(second.loss.detach()) and list(second.cka) == [(7, 0), (15, 1)]
    assert not target._forward_hooks and not any(m._forward_hooks for m in guide.modules())  # hooks removed
    other = copy_paste_dataset(32, lmin=3, lmax=6, generator=torch.Generator().manual_seed(9)).x
    assert float(gl(x, guide_x=other).loss.detach()) != pytest.approx(float(first.loss.detach()))
    assert float(gl(x, guide_x=x).loss.detach()) == pytest.approx(float(first.loss.detach()))
    assert float(GuidanceLoss(target, guide, alpha=0)(x).loss.detach()) == 0.0
    assert not GuidanceLoss(target, guide, steps=0).active(0)
    for kw in ({"steps": -1}, {"steps": 1.5}, {"mapping": "nearest"}):
        with pytest.raises(ValueError):
            GuidanceLoss(target, guide, **kw)
    with pytest.raises(TypeError):
        GuidanceLoss(target, lambda z: z)
    emb = nn.Sequential(nn.Embedding(13, 4))
    with pytest.raises(ValueError, match="no activations"):
        GuidanceLoss(emb, guide)(x)


def test_guidance_loss_custom_types_pair_ranges_and_error_messages():
    target, guide = _pair(dropout=0.0)
    x = copy_paste_dataset(16, lmin=3, lmax=6).x
    gl = GuidanceLoss(target, guide, types=(nn.Linear,), drop_last=False)  # taps: RNN logits | lin1, lin2 x 2, logits
    assert list(gl(x).cka) == [(4, 0)]
    assert len(gl.guide_activations(x)) == 5
    for pairs in ([(16, 0)], [(0, 2)], [(-1, 0)]):
        with pytest.raises(ValueError, match="out of range"):
            GuidanceLoss(target, guide, mapping=pairs)(x)
    with pytest.raises(TypeError, match="nn.Modules"):
        GuidanceLoss(target, "guide")
    with pytest.raises(ValueError, match="different modules"):
        GuidanceLoss(target, target)
    with pytest.raises(TypeError, match="must be tensors"):
        linear_cka(torch.randn(3, 2), [[1.0, 2.0]] * 3)
    with pytest.raises(ValueError, match="at least 2 examples"):
        linear_cka(torch.randn(1, 2), torch.randn(1, 2))
    with pytest.raises(TypeError, match="must be an nn.Module, got str"):
        ActivationTap("model")
    assert ActivationTap(target).batch_size is None


def test_epoch_rows_are_means_and_edge_sizes():
    target, guide = _pair(dropout=0.0)
    data = copy_paste_dataset(64, lmin=3, lmax=6)
    ln = GuidanceLearner(target, GuidanceLoss(target, guide), task="copy-paste", batch_size=16, optimizer="adamw")
    row = ln.train_epoch(data, epoch=0, generator=torch.Generator().manual_seed(0), progress=_NoBar())
    assert 1.5 < row["task_loss"] < 3.0 and row["guided_steps"] == 4  # mean CE per step, ~ln 13 at the start
    assert all(0.2 < c <= 1.0 for c in row["cka"]) and row["align_loss"] == pytest.approx(sum(1 - c for c in row["cka"]),
                                                                                          abs=0.05)
    al = GuidanceLearner(target, GuidanceLoss(target, guide), task="align", batch_size=16)
    r2 = al.train_epoch(data, epoch=0, generator=torch.Generator().manual_seed(0), progress=_NoBar())
    assert r2["task_loss"] == 0.0 and r2["loss"] == pytest.approx(r2["align_loss"])
    assert GuidanceLearner(target, batch_size=2).steps_per_epoch(data) == 32
    assert GuidanceLearner(target, batch_size=64).steps_per_epoch(data) == 1
    for kw in ({"clip": 0.0}, {"batch_size": 1}, {"optimizer": "sgd"}):
        with pytest.raises(ValueError):
            GuidanceLearner(target, **kw)
    assert ln.batch_size == 16 and GuidanceLearner(target).batch_size == 256  # paper batch 256
    assert GuidanceLearner(target).opt.param_groups[0]["lr"] == 1e-3 and GuidanceLearner(target).eval_batch == 1000
