"""paperzoo: neural-network papers as tested PyTorch modules, each reproducible in one command.

>>> import paperzoo as pz
>>> pz.list_papers()                                   # every paper in the zoo
>>> r = pz.reproduce("gradient-noise", protocol="smoke")  # a Result with computed verdicts
"""
from paperzoo import papers, registry, results
from paperzoo.api import reproduce
from paperzoo.registry import create_model, get_paper, list_models, list_papers, list_probes
from paperzoo.results import Band, Claim, Result

__version__ = "0.1.0"
__all__ = ["Band", "Claim", "Result", "create_model", "get_paper", "list_models", "list_papers", "list_probes",
           "papers", "registry", "reproduce", "results"]
