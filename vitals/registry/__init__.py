"""The model registry: versioned skops artifacts with model cards, promotion, rollback and hot reload."""

from vitals.registry.card import ModelCard, TrainingData, hash_arrays, library_versions
from vitals.registry.store import ModelRegistry, VersionInfo
from vitals.registry.trust import TRUSTED_TYPES, dump_artifact, load_artifact, untrusted_types
from vitals.registry.watcher import ModelInfoCollector, RegistryWatcher

__all__ = [
    "TRUSTED_TYPES", "ModelCard", "ModelInfoCollector", "ModelRegistry", "RegistryWatcher", "TrainingData",
    "VersionInfo", "dump_artifact", "hash_arrays", "library_versions", "load_artifact", "untrusted_types",
]
