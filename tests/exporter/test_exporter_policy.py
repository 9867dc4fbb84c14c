"""The export policy: validation and the sizes it implies at full scale."""

from __future__ import annotations

import pytest

from vitals import metric_names as mn
from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.exporter import ExportPolicy, estimate_samples


def test_default_policy_keeps_the_full_scale_city_near_120k_samples(catalog: Catalog) -> None:
    sizes = estimate_samples(catalog, ExportPolicy())
    # per street: last value, level and staleness of every series, plus 2% sparse exceptions
    assert sizes["street"] == pytest.approx(3 * catalog.n_series, rel=0.1)
    assert sizes["district"] == 28 * 38 * (16 + 7)
    assert sizes["total"] < 130_000
    everything = estimate_samples(catalog, ExportPolicy.everything_per_street(), sparse_share=1.0)
    assert everything["total"] > 5 * sizes["total"]


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"street_families": ("vitals_nonsense",)}, "unknown family"),
    ({"district_families": (mn.WARNING_LEVEL,)}, "both street and district"),
    ({"street_value_stats": ("last", "mean_5m")}, "both scopes"),
    ({"district_value_stats": ("median_5m",)}, "not last, ewma"),
])
def test_invalid_policies_are_config_errors(kwargs: dict[str, tuple[str, ...]], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        ExportPolicy(**kwargs)  # type: ignore[arg-type]
