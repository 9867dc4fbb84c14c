"""scikit-learn's parameter rules without importing scikit-learn (which costs ~1.2 CPU s per process).

The detectors and models of city-vitals follow scikit-learn's conventions: ``__init__`` only stores its keyword
parameters, learned state ends in ``_``, ``get_params``/``set_params`` read and write the parameters (``a__b``
for a nested one). :class:`Parameters` gives them those methods the way :class:`sklearn.base.BaseEstimator` does,
so :func:`sklearn.base.clone`, grids and pipelines work on them (``clone`` needs only ``get_params``), while the
flow, which only scores, never imports scikit-learn. Models still fit with scikit-learn estimators inside
(``Ridge``, ``IsolationForest``), imported where they are fitted.
"""

from __future__ import annotations

import inspect
from typing import Any, Self

import numpy as np


class Parameters:
    """``get_params``, ``set_params`` and a ``repr`` of the parameters that differ from their defaults."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        names = []
        for p in inspect.signature(init).parameters.values():
            if p.name == "self" or p.kind == p.VAR_KEYWORD:
                continue
            if p.kind == p.VAR_POSITIONAL:
                msg = f"{cls.__name__}.__init__ takes *args: its parameters cannot be listed"
                raise RuntimeError(msg)
            names.append(p.name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters by name (with ``deep``, also ``name__sub`` of parameters that have parameters)."""
        out: dict[str, Any] = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params: Any) -> Self:
        """Set parameters (``name__sub`` sets a nested one); an unknown name is a ValueError."""
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, delim, sub = key.partition("__")
            if name not in valid:
                msg = (f"Invalid parameter {name!r} for estimator {self}. Valid parameters are: "
                       f"{self._get_param_names()!r}.")
                raise ValueError(msg)
            if delim:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        shown = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items() if _changed(v, defaults.get(k))]
        return f"{type(self).__name__}({', '.join(shown)})"


def _changed(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty or type(value) is not type(default):
        return True
    try:
        return not bool(np.array_equal(value, default, equal_nan=True))
    except TypeError:
        return bool(value != default)
