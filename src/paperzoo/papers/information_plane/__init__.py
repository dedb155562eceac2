"""Opening the Black Box of Deep Neural Networks via Information (Shwartz-Ziv & Tishby, 2017).

>>> from paperzoo.papers.information_plane import sphere12, train_infoplane, binned_mi
>>> x, y = sphere12()                                    # the 12-bit task (card's substitute generator)
>>> traj = train_infoplane(x, y, repeats=2, epochs=500, n_info=30)   # I(X;T), I(T;Y) per layer over training
>>> binned_mi(x, y)                                      # (12.0, H(Y)): the input layer's point
"""
from paperzoo.papers.information_plane.data import icosahedron, sphere12, split
from paperzoo.papers.information_plane.estimators import (
    bin_codes,
    binned_mi,
    discrete_mi,
    entropy_bits,
    kde_mi,
    knn_mi_discrete,
    ksg_mi,
)
from paperzoo.papers.information_plane.experiment import (
    dpi_violation,
    grad_stats,
    info_epochs,
    layer_information,
    train_infoplane,
)
from paperzoo.papers.information_plane.network import BatchedMLP, InfoMLP, ib_mlp
from paperzoo.papers.information_plane.probe import information_plane, layer_information_of
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["PAPER", "BatchedMLP", "InfoMLP", "bin_codes", "binned_mi", "discrete_mi", "dpi_violation", "entropy_bits",
           "grad_stats", "ib_bound_deterministic", "ib_mlp", "icosahedron", "info_epochs", "information_plane",
           "kde_mi", "knn_mi_discrete", "ksg_mi", "layer_information", "layer_information_of", "sphere12", "split",
           "train_infoplane"]


def ib_bound_deterministic(i_xt: float, h_y: float) -> float:
    """The IB curve for a deterministic label Y = f(X): I(T;Y) <= min(I(X;T), H(Y)) (Kolchinsky et al. 2019; card)."""
    return min(i_xt, h_y)


_FIG = "Fig. 2-3 information-plane trajectories (figure numbers unverified: card)"
_UNV = "card cpu rung (our generator; the paper's own values were not retrieved)"

PAPER = Paper(
    slug="information-plane",
    title="Opening the Black Box of Deep Neural Networks via Information",
    kind="probe",
    arxiv="1703.00810",
    authors="Ravid Shwartz-Ziv, Naftali Tishby",
    year=2017,
    code="https://github.com/ravidziv/IDNNs",
    main_metric="compression_bits",
    data=(),
    claims=(
        Claim("generator_positives", paper=2098, source="card 'Project generator' (substitute for var_u.mat)",
              what="positives among the 4,096 patterns of the card's icosahedron generator",
              bands={("smoke", "cpu", "full"): Band(2098, 2098, reason="card regression anchor: exactly 2,098")}),
        Claim("identity_err", paper=0.0, source="binning estimator definition (card 'Information estimate')",
              what="max |error| (bits) of T = X -> (12, H(Y)), T = const -> (0, 0), T = tanh(50(2y-1)) -> (H(Y), H(Y))",
              bands={("smoke", "cpu", "full"): Band(hi=1e-9, reason="card smoke (b): exact to 1e-9")}),
        Claim("dpi_violation_max", paper=0.0, source="data-processing inequality; card smoke (c)",
              what="largest rise of binned I(X;T_l) from a hidden layer to the next, 20 random tanh nets",
              bands={("smoke", "cpu", "full"): Band(hi=0.05, reason="card smoke (c): within 0.05 bits binning noise")}),
        Claim("train_acc", paper="fits (train error -> 0)", source=_FIG, unit="%",
              what="final train accuracy of the tanh nets (mean over repeats)",
              bands={("cpu", "full"): Band(lo=95.0, reason="card cpu band (i): > 95 %")}),
        Claim("last_hidden_I_TY", paper="~ H(Y) (about 1 bit)", source=_FIG, unit="bits",
              what="final binned I(T;Y) of the last hidden layer (3 tanh units), mean over repeats",
              bands={("cpu", "full"): Band(lo=0.9, reason="card cpu band (ii): > 0.9 bits")}),
        Claim("compression_bits", paper="compression phase: I(X;T) falls for the deeper layers", source=_FIG,
              unit="bits", what="min over the last two hidden layers of max_t I(X;T) - final I(X;T) (repeat means)",
              bands={("cpu", "full"): Band(lo=3.0, reason="card cpu band (iii): >= 3 bits (card's seeds: 6-8)")}),
        Claim("peak_epoch_frac", paper="short fitting phase, most epochs spent compressing", source=_FIG,
              what="epoch of the I(X;T) maximum (latest of the last two hidden layers) / total epochs",
              bands={("cpu", "full"): Band(hi=0.5, reason="paper (card claim row 1): most epochs are spent compressing, "
                                                         "so the maximum comes before half of training")}),
        Claim("grad_snr_drop", paper="high-SNR drift -> low-SNR diffusion", source="gradient figure (card claim row 2)",
              what="gradient SNR ||mean||/std in the first quarter of the logged epochs over that in the last quarter "
                   "(geometric mean over weight matrices; project definition of the SNR, card)",
              bands={("cpu", "full"): Band(lo=1.0, reason="paper (card row 2): the SNR falls from the drift to the "
                                                         "diffusion phase; direction only, values not retrieved")}),
        Claim("ib_gap_last", paper="layers end on or near the IB bound", source="IB-bound figure (card row 3)",
              unit="bits", what="min(I(X;T), H(Y)) - I(T;Y) of the last hidden layer at the end (the deterministic-Y "
                                "bound is trivial: card pitfalls; reported)"),
        Claim("relu_compression_last", paper="(not in the paper; Saxe et al. 2018: ReLU nets do not compress)",
              source="card cpu rung (iv), ReLU control", unit="bits",
              what="max - final binned I(X;T) of the last hidden layer of the ReLU nets, bins on [0, layer max] "
                   "(reported; card: ReLU also compressed, less)"),
        Claim("kde_compression_last", paper="(KDE upper bound, Saxe et al. 2018)", source="issue: a second estimator",
              unit="bits", what="max - final KDE-upper-bound I(X;T) of the last hidden tanh layer (reported)"),
        Claim("depth_speedup", paper="more hidden layers: far fewer epochs", source="depth figure (card row 4)",
              what="epochs to fit with 1 hidden layer / with 6 (full only)",
              bands={"full": Band(lo=1.0, reason="paper (card row 4): deeper nets converge in fewer epochs; direction "
                                                 "only")}),
        Claim("small_data_I_TY_drop", paper="5 % data: I(T;Y) drops (overfitting)", unit="bits",
              source="training-size figure (card row 5; 5/45/85 % unverified)",
              what="max - final I(T;Y) of the last hidden layer with the smallest training fraction (full only)",
              bands={"full": Band(lo=0.05, reason="paper (card row 5): I(T;Y) falls with 5 % data; 0.05 bits = 5 % "
                                                  "of H(Y), the smallest drop readable off such a figure")}),
    ),
)
