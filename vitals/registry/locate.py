"""Where a catalog's models live, found the same way by every command, and whether they fit the catalog.

The models directory is, in this order: ``--models-dir``, ``VITALS_MODELS_DIR``, ``models_dir:`` in the
config file (those three arrive as the ``models_dir`` setting), else the default: the ``models/`` directory
next to the catalog file, or for the shipped catalog the repository's ``models/`` (the shipped models).
A model trained for other indicators is an error (:func:`check_fit`), never a silent fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vitals
from vitals.catalog import Catalog, default_catalog_path
from vitals.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

MODELS_DIRNAME = "models"


@dataclass(frozen=True)
class ModelsDir:
    path: Path
    origin: str  # "models_dir setting" or a description of the default

    def describe(self) -> str:
        return f"{self.path} ({self.origin})"


def shipped_models_dir() -> Path:
    """The shipped models: ``models/`` of the repository the package runs from (absent in a plain install)."""
    return Path(vitals.__file__).resolve().parent.parent / MODELS_DIRNAME


def is_shipped_catalog(catalog_path: str | Path | None) -> bool:
    if catalog_path is None:
        return True
    try:
        return Path(catalog_path).resolve() == default_catalog_path().resolve()
    except OSError:
        return False


def models_dir(setting: str | Path | None, catalog_path: str | Path | None, *, must_exist: bool = False) -> ModelsDir:
    """The models directory for a catalog file (None: the shipped catalog); ``setting``: the ``models_dir``
    setting (``--models-dir``, ``VITALS_MODELS_DIR`` or the config file). ``must_exist``: a directory given
    explicitly must exist (for reading; training creates it)."""
    if setting:
        path = Path(setting).expanduser().resolve()
        if path.exists() and not path.is_dir():  # a file given by mistake: reading or training into it
            msg = (f"models directory {path} (the models_dir setting: --models-dir, VITALS_MODELS_DIR or the config "
                   "file) is not a directory; give the directory that holds the model families")
            raise ConfigError(msg)
        if must_exist and not path.is_dir():
            msg = (f"models directory {path} (the models_dir setting: --models-dir, VITALS_MODELS_DIR or the config "
                   "file) does not exist; train models into it with `vitals train --models-dir ...` or leave it out")
            raise ConfigError(msg)
        return ModelsDir(path, "models_dir setting")
    if is_shipped_catalog(catalog_path):
        return ModelsDir(shipped_models_dir(), "default: the shipped models of the shipped catalog")
    return ModelsDir(Path(catalog_path or ".").resolve().parent / MODELS_DIRNAME,
                     "default: models/ next to the catalog")


def indicator_ids(model: Any) -> tuple[str, ...] | None:
    """The indicator ids a trained model was fitted on (None when it does not say)."""
    for attribute in ("indicator_ids_", "indicators_"):
        ids = getattr(model, attribute, None)
        if ids is not None:
            return tuple(str(i) for i in ids)
    return None


def check_fit(family: str, version: str, model: Any, catalog: Catalog, where: ModelsDir) -> None:
    """Raise :class:`ModelError` when ``model`` was trained on other indicators than the catalog's."""
    trained = indicator_ids(model)
    ids = tuple(i.id for i in catalog.indicators)
    if trained is None or trained == ids:
        return
    missing = [i for i in ids if i not in trained]
    extra = [i for i in trained if i not in ids]
    diff = "; ".join(part for part in (
        f"not trained for {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}" if missing else "",
        f"trained for {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''} not in the catalog" if extra else "",
    ) if part) or "same indicators in another order"
    msg = (f"{family} {version} in {where.describe()} was trained for another catalog ({len(trained)} indicators; "
           f"{diff}) than {catalog.source} ({len(ids)} indicators). Train models for this catalog: "
           f"`vitals train --catalog {catalog.source} --history DIR --promote` (into {where.path}), or pass "
           "--models-dir with models trained for it")
    raise ModelError(msg)


def check_all(models: Mapping[str, tuple[str, Any]], catalog: Catalog, where: ModelsDir) -> str:
    """Check every loaded (family -> (version, model)) and return the start-up line that names them."""
    for family, (version, model) in sorted(models.items()):
        check_fit(family, version, model, catalog, where)
    if not models:
        return (f"models: none promoted in {where.describe()}: scoring runs without them (anomaly scores from the "
                "per-reading detector; no forecasts, no window scores); train some with `vitals train --promote`")
    used = ", ".join(f"{family} {version}" for family, (version, _) in sorted(models.items()))
    return f"models: {used} from {where.describe()}"
