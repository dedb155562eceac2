"""The zoo: one package per paper (imports the kernel only, never another paper).

Packages are discovered by ``paperzoo.registry``; ``paperzoo.papers.<pkg>`` imports lazily.
"""
import importlib as _importlib


def __getattr__(name: str):
    try:
        return _importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        raise AttributeError(f"paperzoo.papers has no paper package {name!r}") from e
