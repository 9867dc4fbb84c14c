"""The vectorized renderer against the generic prometheus_client rendering (byte for byte), and the numbers it
exports parsed back with prometheus_client's parser."""

from __future__ import annotations

import math

import numpy as np
import pytest
from exporter_oracle import assert_same_exposition, oracle_text
from prometheus_client.parser import text_string_to_metric_families

from vitals import metric_names as mn
from vitals.catalog import Catalog
from vitals.exporter import ExportPolicy, VitalsRenderer
from vitals.exporter.testing import synthetic_health, synthetic_view
from vitals.state.view import VitalsView


def _text_lines(text: bytes) -> list[str]:
    return text.decode("utf-8").splitlines()


@pytest.mark.parametrize("policy", [
    ExportPolicy(),
    ExportPolicy.everything_per_street(),
    ExportPolicy(street_indicators=("traffic_index", "water_pressure"), static_info=False),
], ids=["default", "everything", "restricted"])
def test_fast_text_equals_generic_prometheus_client_text(small_catalog: Catalog, policy: ExportPolicy) -> None:
    view = synthetic_view(small_catalog, seed=3, share=0.4)
    health = synthetic_health(small_catalog, seed=3)
    fast = VitalsRenderer(small_catalog, policy).render(view, health)
    generic = oracle_text(small_catalog, policy, view, health)
    assert_same_exposition(fast.text, generic)
    assert fast.samples == sum(1 for line in _text_lines(generic) if not line.startswith("#"))


def test_line_cache_never_shows_an_older_value(small_catalog: Catalog) -> None:
    renderer = VitalsRenderer(small_catalog)
    health = synthetic_health(small_catalog, seed=1)
    first = synthetic_view(small_catalog, seed=1, share=0.5)
    renderer.render(first, health)
    # the same series with partly changed values, then a different set of series
    changed_cols = {k: v.copy() for k, v in first.columns.items()}
    changed_cols["last"][::3] += 1.25
    changed_cols["level"][::7] = 4.0
    changed = VitalsView(first.series, first.indicator, first.street, changed_cols, first.now_s)
    for view in (changed, synthetic_view(small_catalog, seed=2, share=0.5), first):
        cached = renderer.render(view, health)
        assert cached.text == VitalsRenderer(small_catalog).render(view, health).text
    assert renderer.render(first, health).formatted == 0  # nothing changed: every line from the cache


def test_rendered_numbers_parse_back_exactly(small_catalog: Catalog) -> None:
    """Every exported street value equals the view's value after a parse round trip."""
    catalog = small_catalog
    view = synthetic_view(catalog, seed=5)
    rendered = VitalsRenderer(catalog).render(view, synthetic_health(catalog, seed=5))
    families = {f.name: f for f in text_string_to_metric_families(rendered.text.decode("utf-8"))}
    street_index = catalog.street_index
    parsed_level = np.full(catalog.n_series, np.nan)
    for sample in families[mn.WARNING_LEVEL].samples:
        ind = catalog.indicator_index[sample.labels["indicator"]]
        parsed_level[ind * catalog.n_streets + street_index[sample.labels["street"]]] = sample.value
    np.testing.assert_array_equal(parsed_level[view.series], view.columns["level"])
    speed = catalog.indicator("expressway_speed")
    code = catalog.indicator_index[speed.id]
    expected = dict(zip(view.street[view.indicator == code].tolist(),
                        view.columns["last"][view.indicator == code].tolist(), strict=True))
    got = {street_index[s.labels["street"]]: s.value for s in families[speed.metric].samples
           if s.labels["stat"] == "last"}
    assert got == expected  # exact float equality: repr round-trips
    assert rendered.samples == sum(len(f.samples) for f in families.values())


def test_nan_values_and_missing_columns_are_left_out(small_catalog: Catalog) -> None:
    view = synthetic_view(small_catalog, seed=7, share=0.3, models=False)
    cols = dict(view.columns)
    cols["last"] = np.where(np.arange(len(view)) % 2 == 0, np.nan, cols["last"])
    del cols["seconds_since_last"]
    view = VitalsView(view.series, view.indicator, view.street, cols, view.now_s)
    text = VitalsRenderer(small_catalog).render(view).text.decode()
    assert "NaN" not in text
    assert mn.SECONDS_SINCE_LAST_READING not in text
    assert mn.ANOMALY_SCORE not in text and mn.HEALTH_INDEX not in text  # no model columns, no health published
    last_lines = [line for line in text.splitlines() if 'stat="last"' in line]
    assert len(last_lines) == int(np.isfinite(cols["last"]).sum())


def test_sparse_families_export_only_exceptional_series(small_catalog: Catalog) -> None:
    view = synthetic_view(small_catalog, seed=11)
    text = VitalsRenderer(small_catalog).render(view).text.decode()
    stuck = [line for line in text.splitlines() if line.startswith(mn.SENSOR_STUCK + "{")]
    assert len(stuck) == int(view.columns["stuck"].sum()) > 0
    assert all(line.endswith(" 1.0") for line in stuck)
    scores = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(mn.ANOMALY_SCORE + "{")]
    assert len(scores) == int((view.columns["anomaly_score"] >= mn.ANOMALY_THRESHOLD).sum())


def test_empty_view_renders_static_families_only(small_catalog: Catalog) -> None:
    rendered = VitalsRenderer(small_catalog).render(VitalsView.concat([]))
    names = {f.name for f in text_string_to_metric_families(rendered.text.decode())}
    assert names == {mn.AREA_INFO, mn.INDICATOR_INFO, mn.THRESHOLD}
    assert rendered.samples == 1 + len(small_catalog.districts) + small_catalog.n_streets + 5 * 28


def test_area_levels_and_health_follow_the_health_view(small_catalog: Catalog) -> None:
    health = synthetic_health(small_catalog, seed=4, no_data_share=0.2)
    text = VitalsRenderer(small_catalog).render(VitalsView.concat([]), health).text.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    city = [s for s in families[mn.HEALTH_INDEX].samples if s.labels["scope"] == "city"]
    assert [s.value for s in city] == [health.city_health]
    streets = {s.labels["street"]: s.value for s in families[mn.AREA_WARNING_LEVEL].samples
               if s.labels["scope"] == "street"}
    expected = {st.id: float(level) for st, level, h in
                zip(small_catalog.streets, health.street_level, health.street_health, strict=True) if not math.isnan(h)}
    assert streets == expected
