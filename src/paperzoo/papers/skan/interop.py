"""Interoperability with pykan (``KAN`` / ``MultKAN`` 0.2.x): start our ``KAN`` from a pykan model's function.

pykan is not imported here: ``from_pykan`` reads the attributes of the model it is given.
"""
from __future__ import annotations

import torch

from paperzoo.papers.skan.model import KAN


def from_pykan(py) -> KAN:
    """Our B-spline ``KAN`` computing the same function as a pykan ``KAN`` (``MultKAN``) in its current state.

    pykan's edge is ``mask (scale_base silu(x) + scale_sp sum_m c_m B_m(x))`` (``KANLayer.forward``), so ours takes
    ``coef[o, i] = mask scale_sp c[i, o]`` and ``base_weight[o, i] = mask scale_base[i, o]``. Raises ValueError for
    what ours cannot represent: a grid that is not the uniform one (pykan's ``update_grid`` makes it data-adaptive),
    multiplication nodes, a base function other than SiLU, non-identity node affines, active symbolic edges."""
    widths = [int(w[0]) if isinstance(w, (list, tuple)) else int(w) for w in py.width]
    if any(isinstance(w, (list, tuple)) and int(w[1]) for w in py.width):
        raise ValueError("from_pykan: multiplication nodes have no counterpart in our KAN")
    first = py.act_fun[0]
    k, knots = int(first.k), first.grid[0].double()
    G = knots.numel() - 2 * k - 1
    lo, hi = float(knots[k]), float(knots[k + G])
    ours = KAN(widths, basis="bspline", grid=G, order=k, range=(lo, hi)).to(first.coef.dtype)
    for l, (layer, mine) in enumerate(zip(py.act_fun, ours)):
        if int(layer.k) != k or not torch.allclose(layer.grid.double(), mine.basis.knots.double().expand_as(layer.grid),
                                                   atol=1e-6, rtol=0):
            raise ValueError(f"from_pykan: layer {l} does not have the uniform grid of layer 0 (grid updated?)")
        if not isinstance(layer.base_fun, torch.nn.SiLU):
            raise ValueError(f"from_pykan: layer {l} has base function {layer.base_fun}, ours is SiLU")
        affine = [py.node_scale[l], py.node_bias[l], py.subnode_scale[l], py.subnode_bias[l]]
        if any(not torch.equal(a, torch.full_like(a, float(one))) for a, one in zip(affine, (1, 0, 1, 0))):
            raise ValueError(f"from_pykan: layer {l} has node scales or biases that are not the identity")
        if getattr(py, "symbolic_enabled", False) and bool(py.symbolic_fun[l].mask.any()):
            raise ValueError(f"from_pykan: layer {l} has symbolic edges")
        with torch.no_grad():
            mine.coef.copy_((layer.mask * layer.scale_sp)[..., None].mul(layer.coef).transpose(0, 1))
            mine.base_weight.copy_((layer.mask * layer.scale_base).T)
    return ours
