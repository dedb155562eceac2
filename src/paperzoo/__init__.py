"""paperzoo: neural-network papers as tested PyTorch modules, each reproducible in one command.

>>> import paperzoo as pz
>>> pz.list_papers()                                   # every paper in the zoo
>>> r = pz.reproduce("gradient-noise", protocol="smoke")  # a Result with computed verdicts
"""
from . import papers, registry, results
from .api import reproduce
from .registry import create_model, get_paper, list_models, list_papers, list_probes
from .results import Band, Claim, Result

__version__ = "0.1.0"
__all__ = ["Band", "Claim", "Result", "create_model", "get_paper", "list_models", "list_papers", "list_probes",
           "papers", "registry", "reproduce", "results"]
