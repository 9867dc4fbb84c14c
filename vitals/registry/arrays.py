"""The array form of a saved model: the same model as numpy arrays, loaded without scikit-learn, scipy or skops.

Loading a skops artifact imports scikit-learn, scipy and skops (~1.8 CPU s) and rebuilds the object graph
(~1.4 CPU s for the shipped window model): a fixed cost every pipeline process paid. Next to ``model.skops`` the
registry writes ``model.arrays.npz`` (:data:`ARRAYS`) when it saves or promotes a version: the model's attributes
with each scikit-learn part replaced by its plain form (a ``Ridge`` by
:class:`~vitals.forecasting.linear.LinearRegressor`, an ``IsolationForest`` by
:class:`~vitals.detectors.forest_arrays.ForestArrays`), which predict the same values.

The file is data only: an ``.npz`` read with ``allow_pickle=False`` (numbers, no objects) and a JSON header that
describes the object graph. The header may name only the classes of :data:`CLASSES` (vitals model classes whose
modules import no scikit-learn, and the plain forms); any other name, a malformed tree or link, or an unexpected
value refuses the file. It records the sha256 of the ``model.skops`` it was made from, and it is used only while
that artifact is unchanged: it is written after that artifact passed the trusted loader
(:func:`vitals.registry.trust.load_artifact`), so it never stands for an artifact the registry would refuse.
Without a (current) array form the registry loads the skops artifact as before.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from vitals.errors import ModelError

log = logging.getLogger(__name__)

ARRAYS = "model.arrays.npz"
FORMAT = 1

# what a header may name -> (module, attribute); nothing else is ever imported or built
CLASSES: dict[str, tuple[str, str]] = {
    "EarlyWarningForecaster": ("vitals.forecasting.model", "EarlyWarningForecaster"),
    "CityWindowModel": ("vitals.scoring.city_window_model", "CityWindowModel"),
    "WindowFeatureModel": ("vitals.detectors.window_forest", "WindowFeatureModel"),
    "QuantileCalibrator": ("vitals.detectors.calibration", "QuantileCalibrator"),
    "LinearRegressor": ("vitals.forecasting.linear", "LinearRegressor"),
    "ForestArrays": ("vitals.detectors.forest_arrays", "ForestArrays"),
}
_NUMBER_KINDS = "biuf"


class NotArrayable(ModelError):
    """The model holds a part with no array form (e.g. a custom regressor): it is loaded from skops."""


def artifact_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- writing -----------------------------------------------------------------------------------------------------
def write_arrays(model: Any, artifact: Path) -> Path:
    """Write the array form of ``model`` (loaded from, or just saved to, ``artifact``) next to it; raises
    :class:`NotArrayable` for a model with a part that has none."""
    arrays: dict[str, np.ndarray] = {}
    header = {"format": FORMAT, "artifact_sha256": artifact_sha256(artifact), "model": _encode(model, arrays)}
    path = artifact.with_name(ARRAYS)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, __header__=np.array(json.dumps(header)), **arrays)  # type: ignore[arg-type]
    tmp.replace(path)
    return path


def _plain_part(obj: Any) -> Any:
    """The plain form of a scikit-learn part (None: not one)."""
    module = type(obj).__module__
    if module.startswith("sklearn.linear_model") and hasattr(obj, "coef_"):
        from vitals.forecasting.linear import LinearRegressor

        return LinearRegressor(np.ravel(np.asarray(obj.coef_, dtype=np.float64)).copy(),
                               float(np.ravel(getattr(obj, "intercept_", 0.0))[0])).check()
    if module.startswith("sklearn.ensemble") and type(obj).__name__ == "IsolationForest":
        from vitals.detectors.window_forest import forest_arrays

        return forest_arrays(obj)
    if module.startswith("sklearn"):
        msg = f"no array form for {module}.{type(obj).__name__}"
        raise NotArrayable(msg)
    return None


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, np.generic):  # before float: np.float64 is one
        if obj.dtype.kind not in _NUMBER_KINDS:
            msg = f"no array form for a {obj.dtype} value"
            raise NotArrayable(msg)
        return {"number": obj.dtype.str, "value": obj.item()}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _NUMBER_KINDS:
            msg = f"no array form for an array of {obj.dtype}"
            raise NotArrayable(msg)
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"array": key}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, tuple):
        return {"tuple": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, dict):
        return {"dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    plain = _plain_part(obj)
    if plain is not None:
        return _encode(plain, arrays)
    name = type(obj).__name__
    if CLASSES.get(name) != (type(obj).__module__, name):
        msg = f"no array form for {type(obj).__module__}.{name}"
        raise NotArrayable(msg)
    return {"object": name, "state": _encode(dict(vars(obj)), arrays)}


# ---- reading -----------------------------------------------------------------------------------------------------
def load_arrays(artifact: Path) -> Any | None:
    """The model from the array form next to ``artifact``; None (load the skops artifact) when there is none, it
    was made from another artifact than the one there now, or it does not read (logged)."""
    path = artifact.with_name(ARRAYS)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            header = json.loads(str(npz["__header__"][()]))
            if header.get("format") != FORMAT:
                log.info("%s: array form format %s unknown here, loading the skops artifact", path,
                         header.get("format"))
                return None
            if header.get("artifact_sha256") != artifact_sha256(artifact):
                log.warning("%s was made from another %s: loading the artifact (promote the version again to "
                            "refresh it)", path, artifact.name)
                return None
            return _decode(header["model"], {k: npz[k] for k in npz.files if k != "__header__"})
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, zipfile.BadZipFile,
            ModelError) as exc:
        log.warning("%s does not read (%s): loading the skops artifact", path, exc)
        return None


def _decode(doc: Any, arrays: dict[str, np.ndarray]) -> Any:
    if doc is None or isinstance(doc, bool | int | float | str):
        return doc
    if isinstance(doc, list):
        return [_decode(v, arrays) for v in doc]
    if not isinstance(doc, dict) or len(doc) not in (1, 2):
        msg = f"unexpected entry {str(doc)[:80]}"
        raise ModelError(msg)
    if "array" in doc:
        return arrays[doc["array"]]
    if "number" in doc:
        dtype = np.dtype(doc["number"])
        if dtype.kind not in _NUMBER_KINDS:
            msg = f"unexpected number type {dtype}"
            raise ModelError(msg)
        return dtype.type(doc["value"])
    if "tuple" in doc:
        return tuple(_decode(v, arrays) for v in doc["tuple"])
    if "dict" in doc:
        return {_decode(k, arrays): _decode(v, arrays) for k, v in doc["dict"]}
    if "object" in doc and doc["object"] in CLASSES:
        module, name = CLASSES[doc["object"]]
        cls = getattr(importlib.import_module(module), name)
        state = _decode(doc["state"], arrays)
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            msg = f"unexpected state of {name}"
            raise ModelError(msg)
        obj = cls.__new__(cls)
        obj.__dict__.update(state)
        check = getattr(obj, "check", None)
        return check() if check is not None else obj
    msg = f"unexpected entry {str(doc)[:80]}"
    raise ModelError(msg)
