"""Saving and loading model artifacts with skops, refusing anything not on an explicit trusted-types list.

skops stores an object graph as data (a zip of a JSON schema and numpy arrays) and rebuilds it without
unpickling, so loading cannot run arbitrary code; types it does not know are refused unless trusted by name.
city-vitals trusts skops' defaults (scikit-learn estimators, numpy, builtins) plus the types named in
:data:`TRUSTED_TYPES`. Anything else (a function such as ``os.system``, a class from another package) makes
:func:`load_artifact` raise :class:`~vitals.errors.UntrustedModelError` before any object is built.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vitals.errors import RegistryError, UntrustedModelError

log = logging.getLogger(__name__)

# Types beyond skops' defaults that city-vitals artifacts may contain. Append (never remove) when a new model
# class is registered; each entry is a fully qualified name as skops reports it.
TRUSTED_TYPES: tuple[str, ...] = (
    "vitals.forecasting.model.EarlyWarningForecaster",
    "sklearn.tree._tree.Tree",  # the trees inside IsolationForest / ExtraTrees (plain arrays)
    "vitals.scoring.window_model.CityWindowModel",  # the window_model family, as saved before issue 13's rename
    "vitals.detectors.window_model.WindowFeatureModel",  # (the old modules re-export the classes)
    "vitals.detectors.calibration.QuantileCalibrator",
    "vitals.scoring.city_window_model.CityWindowModel",  # the window_model family
    "vitals.detectors.window_forest.WindowFeatureModel",
)


def dump_artifact(model: Any, path: Path) -> int:
    """Write ``model`` to ``path`` (a ``.skops`` file, deflate-compressed); returns its size in bytes."""
    import skops.io as sio  # here, not at import: skops brings scikit-learn and scipy (~3 CPU s)

    # serialized once: the bytes checked are the bytes written (``sio.dump`` writes the same buffer to a file)
    # deflate level 6 (zlib's default): the shipped window model 3.39 MB in 2.9 CPU s against 3.31 MB in 4.2 at level 9
    data = sio.dumps(model, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in TRUSTED_TYPES]
    if untrusted:
        msg = (f"refusing to save a model holding untrusted types {untrusted}: they could not be loaded back; "
               "add them to vitals.registry.trust.TRUSTED_TYPES if they are plain data")
        raise UntrustedModelError(msg)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path.stat().st_size


def untrusted_types(path: Path, extra_trusted: Iterable[str] = ()) -> list[str]:
    """Types in the artifact that neither skops nor city-vitals trusts (empty: safe to load)."""
    return _refused(_types_in(path), extra_trusted)


def _types_in(path: Path) -> list[str]:
    """The types skops does not trust by default in the artifact (reading its schema costs about a third of a
    load: do it once per load)."""
    import skops.io as sio

    try:
        found: list[str] = sio.get_untrusted_types(file=path)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        msg = f"{path} is not a readable skops artifact ({exc}); re-save it with `vitals train`"
        raise RegistryError(msg) from exc
    return found


def _refused(found: Iterable[str], extra_trusted: Iterable[str]) -> list[str]:
    allowed = set(TRUSTED_TYPES) | set(extra_trusted)
    return sorted(t for t in found if t not in allowed)


def load_artifact(path: Path, extra_trusted: Iterable[str] = ()) -> Any:
    """Load a skops artifact, refusing it (before building any object) if it holds an untrusted type.

    skops audits the artifact's types against the trusted list before it builds anything, so one pass over the
    schema does both (the types are listed separately only to explain a refusal)."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return sio.load(path, trusted=sorted(set(TRUSTED_TYPES) | set(extra_trusted)))
    except UntrustedTypesFoundException:
        refused = _refused(_types_in(path), extra_trusted)
        msg = (f"refusing to load {path}: it contains types that are not trusted: {', '.join(refused)}. "
               "A city-vitals model holds only scikit-learn, numpy and vitals model types; if you made this "
               "artifact yourself and trust it, add the types to vitals.registry.trust.TRUSTED_TYPES")
        raise UntrustedModelError(msg) from None
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as exc:
        msg = f"cannot load {path}: {exc}; re-save it with `vitals train`"
        raise RegistryError(msg) from exc
