"""The model registry: versioned skops artifacts with model cards, a promoted pointer per family, rollback.

Layout under the registry root (``models/`` in the repository)::

    <family>/v0001/model.skops   the artifact (see vitals.registry.trust)
    <family>/v0001/model.arrays.npz  its array form, loaded without scikit-learn (see vitals.registry.arrays)
    <family>/v0001/card.json     the model card (vitals.registry.card)
    <family>/v0001/card.md
    <family>/promoted.json       {"version": "v0002", "stack": ["v0001", "v0002"], "events": [...]}

A family is a named model slot, e.g. ``forecaster`` (all indicator families' regressors in one artifact, so
that promotion is atomic). ``promoted.json`` is replaced atomically (write, then rename), so a reader never
sees half a pointer; its ``stack`` is the promotion history: ``rollback`` pops to the previous version.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitals.errors import RegistryError
from vitals.registry.arrays import NotArrayable, load_arrays, write_arrays
from vitals.registry.card import ModelCard, utc_now
from vitals.registry.trust import dump_artifact, load_artifact

log = logging.getLogger(__name__)

ARTIFACT = "model.skops"
CARD_JSON = "card.json"
CARD_MD = "card.md"
POINTER = "promoted.json"
_FAMILY = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^v(\d{4,})$")


@dataclass(frozen=True)
class VersionInfo:
    family: str
    version: str
    promoted: bool
    created_at: str
    size_bytes: int
    model_class: str
    metrics: dict[str, Any]   # the card's held-out figures (today's keys: vitals.registry.card.current_metrics)
    headline: str             # the main ones in a line (ModelCard.headline)
    problem: str = ""         # why this row is not a usable version ("" when it is)


class ModelRegistry:
    """Versioned models on disk. Nothing is read at construction; every call looks at the files."""

    def __init__(self, root: str | Path, extra_trusted: Iterable[str] = ()) -> None:
        self.root = Path(root)
        self.extra_trusted = tuple(extra_trusted)

    # ---- paths -----------------------------------------------------------------------------------------
    def family_dir(self, family: str) -> Path:
        if not _FAMILY.match(family):
            msg = f"invalid model family {family!r}: use lower-case letters, digits, '_', '-' or '.'"
            raise RegistryError(msg)
        return self.root / family

    def version_dir(self, family: str, version: str) -> Path:
        if not _VERSION.match(version):
            msg = f"invalid version {version!r}: versions look like v0001"
            raise RegistryError(msg)
        return self.family_dir(family) / version

    def pointer_path(self, family: str) -> Path:
        return self.family_dir(family) / POINTER

    # ---- listing ---------------------------------------------------------------------------------------
    def families(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _FAMILY.match(p.name))

    def versions(self, family: str) -> list[str]:
        d = self.family_dir(family)
        if not d.is_dir():
            return []
        found = [p.name for p in d.iterdir() if p.is_dir() and _VERSION.match(p.name) and (p / ARTIFACT).exists()]
        return sorted(found, key=lambda v: int(v[1:]))

    def missing_promoted(self, family: str) -> str:
        """Why the version ``promoted.json`` names cannot be loaded because it is not there ("" when it is, or none
        is promoted): a deleted or moved version directory or artifact. The pipeline then scores without the
        family (it logs an error and counts ``vitals_model_load_failed``)."""
        current = self.promoted(family)
        if current is None or current in self.versions(family):
            return ""
        where = self.family_dir(family) / current
        what = f"its artifact {where / ARTIFACT} is missing" if where.is_dir() else f"{where} is missing"
        known = ", ".join(self.versions(family)) or "none"
        return (f"{family}: {POINTER} promotes {current}, but {what}: the pipeline scores without {family}; "
                f"promote a version (known: {known}) or roll back")

    def describe(self, family: str | None = None) -> list[VersionInfo]:
        """Every version of ``family`` (default: of every family), and a row for a promoted version that is
        missing (:meth:`missing_promoted`, also logged as a warning): a listing never hides it."""
        out = []
        for fam in [family] if family else self.families():
            current = self.promoted(fam)
            missing = self.missing_promoted(fam)
            if missing:
                log.warning("%s", missing)
                out.append(VersionInfo(family=fam, version=str(current), promoted=True, created_at="?", size_bytes=0,
                                       model_class="?", metrics={}, headline="MISSING: promoted but not found (see "
                                       "the warning)", problem=missing))
            for version in self.versions(fam):
                size = (self.version_dir(fam, version) / ARTIFACT).stat().st_size
                try:
                    card = self.card(fam, version)
                except RegistryError as exc:  # one hand-edited card costs its own row, not the whole listing
                    log.warning("%s", exc)
                    out.append(VersionInfo(family=fam, version=version, promoted=version == current, created_at="?",
                                           size_bytes=size, model_class="?", metrics={},
                                           headline="model card unreadable (see the warning)", problem=str(exc)))
                    continue
                out.append(VersionInfo(
                    family=fam, version=version, promoted=version == current, created_at=card.created_at,
                    size_bytes=size, model_class=card.model_class, metrics=card.metrics, headline=card.headline(),
                ))
        return out

    # ---- saving and loading ----------------------------------------------------------------------------
    def save(self, family: str, model: Any, card: ModelCard) -> str:
        """Store a new version (not promoted) and return its name; the card's version is filled in."""
        fam_dir = self.family_dir(family)
        fam_dir.mkdir(parents=True, exist_ok=True)
        existing = [int(p.name[1:]) for p in fam_dir.iterdir() if _VERSION.match(p.name)]
        number = max(existing, default=0) + 1
        while True:  # another trainer may race us: mkdir is the lock
            version = f"v{number:04d}"
            try:
                (fam_dir / version).mkdir()
                break
            except FileExistsError:
                number += 1
        vdir = fam_dir / version
        dump_artifact(model, vdir / ARTIFACT)
        self._write_arrays(model, vdir / ARTIFACT)
        final = ModelCard.from_dict({**card.to_dict(), "family": family, "version": version})
        (vdir / CARD_JSON).write_text(final.to_json(), encoding="utf-8")
        (vdir / CARD_MD).write_text(final.to_markdown(), encoding="utf-8")
        log.info("saved %s %s (%d bytes)", family, version, (vdir / ARTIFACT).stat().st_size)
        return version

    def card(self, family: str, version: str) -> ModelCard:
        path = self.version_dir(family, version) / CARD_JSON
        if version not in self.versions(family):
            known = ", ".join(self.versions(family)) or "none"
            msg = f"{family} {version} not found in {self.root} (known: {known})"
            raise RegistryError(msg)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            msg = f"cannot read the model card {path}: {exc}"
            raise RegistryError(msg) from exc
        try:
            return ModelCard.from_dict(doc)
        except KeyError as exc:  # a field deleted by hand: say which, not just its quoted name
            msg = f"model card {path} lacks the field {exc}; restore it from card.md or retrain"
            raise RegistryError(msg) from exc
        except (TypeError, ValueError, AttributeError) as exc:
            msg = f"model card {path} is not a model card as `vitals train` writes it: {exc}"
            raise RegistryError(msg) from exc

    def load(self, family: str, version: str | None = None, *, arrays: bool = False) -> Any:
        """Load a version (default: the promoted one) with untrusted types refused. With ``arrays``, from its array
        form when it has a current one (:mod:`vitals.registry.arrays`: no scikit-learn, same predictions; its
        scikit-learn parts are plain arrays, so for scoring only), else from the artifact."""
        version = version or self.promoted(family)
        if version is None:
            msg = f"no promoted version of {family!r} in {self.root}; promote one with `vitals models promote`"
            raise RegistryError(msg)
        path = self.version_dir(family, version) / ARTIFACT
        if not path.exists():
            msg = f"{family} {version} not found in {self.root} (known: {', '.join(self.versions(family)) or 'none'})"
            raise RegistryError(msg)
        if arrays:
            model = load_arrays(path)
            if model is not None:
                return model
        return load_artifact(path, self.extra_trusted)

    def _write_arrays(self, model: Any, artifact: Path) -> None:
        try:
            write_arrays(model, artifact)
        except NotArrayable as exc:
            log.info("%s: no array form (%s): the pipeline loads the artifact", artifact.parent, exc)

    # ---- promotion -------------------------------------------------------------------------------------
    def pointer(self, family: str) -> dict[str, Any]:
        path = self.pointer_path(family)
        if not path.exists():
            return {"version": None, "stack": [], "events": []}
        try:
            doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            msg = f"cannot read {path}: {exc}"
            raise RegistryError(msg) from exc
        return doc

    def promoted(self, family: str) -> str | None:
        version = self.pointer(family).get("version")
        return str(version) if version else None

    def promote(self, family: str, version: str) -> None:
        """Make ``version`` the promoted one, after loading it as the pipeline will (trusted types only): an
        artifact that the pipeline would refuse is never promoted."""
        if version not in self.versions(family):
            known = ", ".join(self.versions(family)) or "none"
            msg = f"cannot promote {family} {version}: no such version (known: {known})"
            raise RegistryError(msg)
        try:
            model = self.load(family, version)
        except RegistryError as exc:
            msg = f"cannot promote {family} {version}: the pipeline could not load it: {exc}"
            raise type(exc)(msg) from exc
        artifact = self.version_dir(family, version) / ARTIFACT
        if load_arrays(artifact) is None:  # none yet (an older registry) or made from another artifact
            self._write_arrays(model, artifact)
        doc = self.pointer(family)
        stack = [v for v in doc["stack"] if v != version] + [version]
        self._write_pointer(family, version, stack, doc["events"], "promote")

    def rollback(self, family: str, to: str | None = None) -> str:
        """Go back to the previously promoted version (or to ``to``, which must be in the history)."""
        doc = self.pointer(family)
        stack = list(doc["stack"])
        if to is None:
            if len(stack) < 2:
                msg = f"nothing to roll back to: {family} has no earlier promoted version"
                raise RegistryError(msg)
            stack.pop()
        else:
            if to not in stack[:-1]:
                msg = f"{family} {to} was never promoted before the current one; history: {', '.join(stack) or 'none'}"
                raise RegistryError(msg)
            stack = stack[: stack.index(to) + 1]
        if stack[-1] not in self.versions(family):  # deleted since: the pipeline would score without the family
            known = ", ".join(self.versions(family)) or "none"
            msg = (f"cannot roll back {family} to {stack[-1]}: {self.family_dir(family) / stack[-1]} (or its "
                   f"artifact) is missing; promote a version instead (known: {known})")
            raise RegistryError(msg)
        self._write_pointer(family, stack[-1], stack, doc["events"], "rollback")
        return str(stack[-1])

    def _write_pointer(self, family: str, version: str, stack: list[str], events: list[Any], action: str) -> None:
        doc = {"version": version, "stack": stack,
               "events": [*events, {"action": action, "version": version, "at": utc_now()}]}
        path = self.pointer_path(family)
        tmp = path.with_name(f".{POINTER}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        log.info("%s %s -> %s", action, family, version)
