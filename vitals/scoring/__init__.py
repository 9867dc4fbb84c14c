"""Scores, expected bands, forecasts and explanations computed in the streaming flow (see shard_scorer)."""

from vitals.scoring.explain_codes import DETECTORS, FEATURES
from vitals.scoring.models import RegistryModels
from vitals.scoring.shard_scorer import ModelSource, ShardScorer

__all__ = ["DETECTORS", "FEATURES", "ModelSource", "RegistryModels", "ShardScorer"]
