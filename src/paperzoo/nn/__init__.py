"""Generic blocks used by two or more papers, feature hooks, and the parameter-budget search."""
from paperzoo.nn.blocks import MLP
from paperzoo.nn.budget import BudgetError, at_budget, budget_kwargs, count_params
from paperzoo.nn.hooks import as_xy, collect_features, last_linear
from paperzoo.nn.ridge import DEFAULT_LAMS, RELATIVE_LAMS, RidgeFit, ridge_loo, ridge_solve
from paperzoo.nn.spectral import SpectralConv2d

__all__ = ["DEFAULT_LAMS", "MLP", "RELATIVE_LAMS", "BudgetError", "RidgeFit", "SpectralConv2d", "as_xy", "at_budget",
           "budget_kwargs", "collect_features", "count_params", "last_linear", "ridge_loo", "ridge_solve"]
