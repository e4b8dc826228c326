"""Names of a package imported from their modules on first read (PEP 562), so that a function
creates only the classes it uses: each dataclass or model created at import costs cold start."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module


def lazy_names(package: str, module_of: Mapping[str, str]) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: ``name`` read from its module ``module_of[name]``."""

    def __getattr__(name: str) -> object:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # read once: the next reads find it without this
        return value

    return __getattr__
