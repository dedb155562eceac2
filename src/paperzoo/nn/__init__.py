"""Generic blocks used by two or more papers, and feature hooks."""
from .blocks import MLP
from .hooks import collect_features

__all__ = ["MLP", "collect_features"]
