"""Principled approaches for extending neural architectures to function spaces (Berner et al., 2025).

An ordinary network becomes a neural operator when every layer converges under mesh refinement: pointwise layers
already do; local convolutions must keep a fixed physical support (kernel interpolation, ``kernel_interpolated``);
spectral layers keep physical frequencies; sums over the grid carry quadrature weights (``QuadratureL2Loss``);
positions enter as coordinates (``GridEmbedding2D``); resampling happens in function space (``fourier_resize``).
Here: those conversions, the input-output interpolation baseline, a PDEArena U-Net and an FNO, Navier-Stokes data
simulated at high resolution and strided down, and ``resolution_sweep``: one trained model at several resolutions.
"""
from paperzoo.papers.nns_to_nos.convert import (
           InputOutputInterpolation,
           InterpConv2d,
           InterpConvTranspose2d,
           ResolutionAgnostic,
           kernel_interpolated,
)
from paperzoo.papers.nns_to_nos.data import ns_torus_pairs, simulate
from paperzoo.papers.nns_to_nos.losses import QuadratureL2Loss, relative_l2
from paperzoo.papers.nns_to_nos.models import FNO, ResidualBlock, UNetPDE
from paperzoo.papers.nns_to_nos.registered import unet_pdearena
from paperzoo.papers.nns_to_nos.resample import GridEmbedding2D, bilinear_resize, fourier_resize, resize, subsample
from paperzoo.papers.nns_to_nos.sweep import InputNormalizer, evaluate, resolution_sweep, train_operator
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

__all__ = ["FNO", "GridEmbedding2D", "InputNormalizer", "InputOutputInterpolation", "InterpConv2d",
           "InterpConvTranspose2d", "PAPER", "QuadratureL2Loss", "ResidualBlock", "ResolutionAgnostic", "UNetPDE",
           "bilinear_resize", "evaluate", "fourier_resize", "kernel_interpolated", "ns_torus_pairs", "relative_l2",
           "resize", "resolution_sweep", "simulate", "subsample", "train_operator", "unet_pdearena"]

_ALL = ("smoke", "cpu", "full")
_BIG = ("cpu", "full")
_SMOKE = "card smoke rung (the card simulated it in numpy: interpolated 2-9 %, plain 22-64 %)"
_CPU = "card cpu rung (Fig. 5's pattern at CPU scale; the paper's values were not retrieved)"

PAPER = Paper(
    slug="nns-to-nos",
    title="Principled Approaches for Extending Neural Architectures to Function Spaces for Operator Learning",
    kind="theory",
    arxiv="2506.10973",
    authors="Julius Berner, Miguel Liu-Schiaffini, Jean Kossaifi, Valentin Duruisseaux, Boris Bonev, "
            "Kamyar Azizzadenesheli, Anima Anandkumar",
    year=2025,
    main_metric="unet_interp_worst_above",
    data=(),
    claims=(
        Claim("interp_64_vs_32", paper="< 0.15", source=_SMOKE,
              what="kernel-interpolated 9 x 9 conv: output at 64 strided to the 32 grid vs output at 32, rel. diff. on "
                   "interior pixels 6..25, worst of the random kernels",
              bands={_ALL: Band(hi=0.15, reason="card smoke: < 0.15")}),
        Claim("interp_128_vs_32", paper="< 0.15", source=_SMOKE, what="the same at 128 vs 32",
              bands={_ALL: Band(hi=0.15, reason="card smoke: < 0.15")}),
        Claim("interp_128_vs_64", paper="< 0.06", source=_SMOKE, what="the same at 128 vs 64 (convergence)",
              bands={_ALL: Band(hi=0.06, reason="card smoke: < 0.06")}),
        Claim("plain_over_interp_64", paper=">= 3", source=_SMOKE,
              what="plain conv's 64-vs-32 difference / the interpolated one's, worst (smallest) over the kernels",
              bands={_ALL: Band(lo=3.0, reason="card smoke: each at least 3x smaller than the plain conv's")}),
        Claim("plain_over_interp_128", paper=">= 3", source=_SMOKE, what="the same at 128",
              bands={_ALL: Band(lo=3.0, reason="card smoke: each at least 3x smaller than the plain conv's")}),
        Claim("fourier_roundtrip_err", paper="< 1e-6", source="card smoke; recipe piece 7 (Fourier resize)",
              what="max |resize(resize(x, 128), 32) - x| for a band-limited 32 x 32 field (float64)",
              bands={_ALL: Band(hi=1e-6, reason="card smoke: returns the input to 1e-6")}),
        Claim("converted_identity_err", paper=0.0, source="card pitfall: at the base resolution the wrapper is an identity",
              what="max |converted U-Net - U-Net| at the base resolution (float64)",
              bands={_ALL: Band(hi=1e-12, reason="identity up to float64 round-off (same kernels, same padding)")}),
        Claim("unet_naive_top_over_train", paper=">= 3 (errors grow sharply)", source=f"Fig. 5; {_CPU}",
              what="plain U-Net rel. L2 at the highest test resolution / at the training resolution",
              bands={_BIG: Band(lo=3.0, reason="card cpu rung: naive U-Net error at 128 >= 3x its error at 32")}),
        Claim("unet_interp_worst_above", paper="~1 (flat)", source=f"Fig. 5; {_CPU}",
              what="kernel-interpolated U-Net: worst rel. L2 above the training resolution / at it",
              bands={_BIG: Band(hi=1.5, reason="card cpu rung: within 1.5x of the training-resolution error")}),
        Claim("unet_io_worst_above", paper="reasonable baseline", source=f"evaluate_input_output_interpolation.py; {_CPU}",
              what="input-output-interpolated U-Net: worst rel. L2 above the training resolution / at it",
              bands={_BIG: Band(hi=1.5, reason="card cpu rung: within 1.5x of the training-resolution error")}),
        Claim("fno_worst_above", paper="~1 (flat)", source=f"Fig. 5; {_CPU}",
              what="FNO: worst rel. L2 above the training resolution / at it",
              bands={_BIG: Band(hi=1.3, reason="card cpu rung: FNO within 1.3x")}),
        Claim("unet_l2_train_res", paper="5-20 % (card estimate)", source=_CPU,
              what="plain U-Net rel. L2 at the training resolution",
              bands={"cpu": Band(0.05, 0.20, reason="card cpu rung: absolute rel. L2 at 32^2 of 5-20 % depending on T")}),
    ),
)
