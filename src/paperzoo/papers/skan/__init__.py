"""Activation Space Selectable KANs (Yang et al., 2024): S-KAN and S-ConvKAN.

>>> from paperzoo.papers import skan
>>> layer = skan.KANLayer(2, 5, basis="chebyshev")                      # one basis family
>>> model = skan.SKAN([2, 5, 1])                                        # pool {B-spline, RBF, Chebyshev, wavelet}
>>> skan.train_skan(model, x, y, steps=2000, phases=(0.6, 0.3, 0.1))  # train / select / prune
>>> model.chosen_families()                                             # per layer, per node
"""
from paperzoo.papers.skan.bases import (
    FAMILIES,
    BSplineBasis,
    ChebyshevBasis,
    JacobiBasis,
    RBFBasis,
    ReLUKANBasis,
    RSWAFBasis,
    WaveletBasis,
    make_basis,
)
from paperzoo.papers.skan.data import SUITE, function_fitting_suite
from paperzoo.papers.skan.interop import from_pykan
from paperzoo.papers.skan.layers import DEFAULT_POOL, KANConv2d, KANLayer, SelectableKANConv2d, SelectableKANLayer
from paperzoo.papers.skan.model import (
    KAN,
    SKAN,
    ConvKAN,
    SConvKAN,
    chosen_families,
    kan_bspline,
    kan_chebyshev,
    kan_rbf,
    kan_wavelet,
    prune,
    sconvkan,
    select,
    skan_mlp,
)
from paperzoo.papers.skan.training import rmse, train_skan
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["DEFAULT_POOL", "FAMILIES", "KAN", "PAPER", "SKAN", "SUITE", "BSplineBasis", "ChebyshevBasis", "ConvKAN",
           "JacobiBasis", "KANConv2d", "KANLayer", "RBFBasis", "RSWAFBasis", "ReLUKANBasis", "SConvKAN",
           "SelectableKANConv2d", "SelectableKANLayer", "WaveletBasis", "chosen_families", "from_pykan",
           "function_fitting_suite",
           "kan_bspline", "kan_chebyshev", "kan_rbf", "kan_wavelet", "make_basis", "prune", "rmse", "sconvkan",
           "select", "skan_mlp", "train_skan"]

_ALL = ("smoke", "cpu", "full")
_FIT = ("cpu", "full")
_UNVERIFIED = "abstract (arXiv v1); the table was not retrieved, qualitative"

PAPER = Paper(
    slug="skan", title="Activation Space Selectable Kolmogorov-Arnold Networks", kind="architecture",
    arxiv="2408.08338", authors="Zhuoqin Yang, Jiansong Zhang, Xiaoling Luo, Zheng Lu, Linlin Shen", year=2024,
    code="https://github.com/SeriYann/KANConv2d", main_metric="fit_skan_near_best", data=("mnist", "fashion-mnist"),
    claims=(
        Claim("onehot_identity_err", paper=0.0, source="construction (card smoke a)",
              what="max |SelectableKANLayer with one-hot a - plain KANLayer of that family| (4 families)",
              bands={_ALL: Band(hi=1e-6, reason="card smoke (a): max abs diff < 1e-6")}),
        Claim("prune_identity_err", paper=0.0, source="construction (card smoke a)",
              what="max |output after prune() - output after select()|",
              bands={_ALL: Band(hi=1e-6, reason="card smoke (a): after .prune() the output is unchanged")}),
        Claim("cheb4_rmse", paper="selection finds the right space", source="card smoke (b)",
              what="[1,1] S-KAN {B-spline, Chebyshev, RBF} fitted to T_4(x), 500 Adam steps: median test RMSE of 3 seeds",
              bands={_ALL: Band(hi=0.05, reason="card smoke (b): RMSE < 0.05")}),
        Claim("cheb4_chebyshev_chosen", paper="selection finds the right space", source="card smoke (b)",
              what="fraction of the 3 seeds whose node kept the Chebyshev family", unit="frac",
              bands={_ALL: Band(lo=0.66, reason="card smoke (b): Chebyshev ends with the largest |a|; the card "
                                                "calls one run flaky, so we ask it of a majority of 3 seeds")}),
        Claim("fit_skan_near_best", paper="best or tied-best on 7 tasks", source=_UNVERIFIED,
              what="functions (of 7) where S-KAN's median test RMSE <= 1.1 x the best single-family KAN's",
              bands={_FIT: Band(lo=5, reason="card cpu band: within 1.1 x the best single family on >= 5/7")}),
        Claim("fit_skan_beats_mlp", paper="significantly surpasses MLP at equal parameters", source=_UNVERIFIED,
              what="functions (of 7) where S-KAN's median test RMSE is below the parameter-matched MLP's",
              bands={_FIT: Band(lo=5, reason="card cpu band: below the parameter-matched MLP on >= 5/7")}),
        Claim("fit_distinct_winners", paper="single-activation KANs change rank across tasks", source="discussion (card)",
              what="number of different single families that are best on some function",
              bands={_FIT: Band(lo=2, reason="card: single-activation KANs change rank from task to task")}),
        Claim("mnist_sconvkan_gap", paper="S-ConvKAN leading vs ConvKANs", source=_UNVERIFIED, unit="points",
              what="best single-family ConvKAN accuracy minus S-ConvKAN accuracy on MNIST (%)",
              bands={_FIT: Band(hi=0.5, reason="card cpu band: within 0.5 point of the best single-family ConvKAN")}),
        Claim("mnist_sconvkan_acc", paper="leading (number not retrieved)", source=_UNVERIFIED, unit="%",
              what="S-ConvKAN MNIST test accuracy",
              bands={"full": Band(lo=99.0, reason="card full: expect MNIST >= 99 %")}),
        Claim("fmnist_sconvkan_acc", paper="leading (number not retrieved)", source=_UNVERIFIED, unit="%",
              what="S-ConvKAN Fashion-MNIST test accuracy",
              bands={"full": Band(lo=90.0, reason="card full: expect Fashion-MNIST >= 90 %")}),
    ),
)
