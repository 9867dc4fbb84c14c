"""Value formatting, label escaping and district aggregation against their references (Hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.utils import floatToGoString

from vitals.catalog import Catalog
from vitals.exporter.aggregate import DistrictGroups
from vitals.exporter.lines import LineTable
from vitals.exporter.textformat import family_header, format_values, label_block
from vitals.state.view import VitalsView

any_float = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)


@given(hnp.arrays(np.float64, st.integers(0, 60), elements=any_float))
def test_format_values_equals_float_to_go_string(values: np.ndarray) -> None:
    assert format_values(values) == [floatToGoString(v) for v in values.tolist()]


@given(hnp.arrays(np.float64, st.integers(1, 40), elements=st.integers(0, 70).map(float)))
def test_small_integers_take_the_table_path_and_stay_identical(values: np.ndarray) -> None:
    assert format_values(values) == [floatToGoString(v) for v in values.tolist()]


def test_edge_values_round_trip_through_float() -> None:
    edges = np.array([0.0, -0.0, 1e6, 999999.9999, 1234567.0, 1e16 - 2, 1e16, 5e-324, -1e300, 1e-5,
                      math.nan, math.inf, -math.inf, 0.1 + 0.2])
    texts = format_values(edges)
    assert texts == [floatToGoString(v) for v in edges.tolist()]
    back = np.array([float(t) for t in texts])
    np.testing.assert_array_equal(back, edges)  # NaN == NaN for assert_array_equal


label_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@given(st.dictionaries(st.sampled_from(["district", "street", "name_zh", "a", "z_b"]), label_text, min_size=1),
       st.text(max_size=30))
def test_labels_and_help_render_like_prometheus_client(labels: dict[str, str], help_text: str) -> None:
    family = GaugeMetricFamily("vitals_x", help_text, labels=list(labels))
    family.add_metric(list(labels.values()), 1.5)
    registry = CollectorRegistry()
    registry.register(_Fixed(family))
    expected = generate_latest(registry).decode()
    ours = family_header("vitals_x", help_text) + f"vitals_x{label_block(list(labels.items()))} 1.5\n"
    assert ours == expected


class _Fixed:
    def __init__(self, family: GaugeMetricFamily) -> None:
        self.family = family

    def collect(self) -> list[GaugeMetricFamily]:
        return [self.family]


@given(st.data())
def test_line_table_renders_the_latest_values(data: st.DataObject) -> None:
    size = 50
    table = LineTable(size, lambda keys: [f"m{{k=\"{k}\"}} " for k in keys.tolist()])
    for _ in range(3):
        keys = np.array(data.draw(st.lists(st.integers(0, size - 1), unique=True, max_size=20)), dtype=np.int64)
        values = data.draw(hnp.arrays(np.float64, keys.shape[0], elements=any_float))
        expected = "".join(f'm{{k="{k}"}} {floatToGoString(v)}\n' for k, v in zip(keys.tolist(), values.tolist(),
                                                                                 strict=True))
        assert table.render(keys, values).decode() == expected


@given(st.data())
def test_district_groups_equal_pandas_groupby(small_catalog: Catalog, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 300))
    series = np.array(sorted(data.draw(st.lists(st.integers(0, small_catalog.n_series - 1), min_size=n, max_size=n,
                                                unique=True))), dtype=np.int64)
    ind, street = small_catalog.split_series_id(series)
    values = data.draw(hnp.arrays(np.float64, series.shape[0],
                                  elements=st.one_of(st.just(math.nan), st.floats(-1e6, 1e6))))
    weights = data.draw(hnp.arrays(np.float64, series.shape[0], elements=st.integers(0, 20).map(float)))
    view = VitalsView(series, ind.astype(np.int16), street.astype(np.int32), {"x": values, "w": weights})
    groups = DistrictGroups(small_catalog, view)
    df = pd.DataFrame({"g": ind * len(small_catalog.districts) + small_catalog.street_district_array[street],
                       "x": values, "w": weights})
    grouped = df.groupby("g", sort=True)["x"]
    np.testing.assert_array_equal(groups.keys, np.array(sorted(df["g"].unique())))
    np.testing.assert_allclose(groups.reduce(values, "max"), grouped.max().to_numpy(), rtol=0)
    np.testing.assert_allclose(groups.reduce(values, "min"), grouped.min().to_numpy(), rtol=0)
    np.testing.assert_allclose(groups.reduce(values, "mean"), grouped.mean().to_numpy(), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(groups.reduce(values, "sum"), grouped.sum(min_count=1).to_numpy(), rtol=1e-9,
                               atol=1e-6)
    ok = df["x"].notna() & (df["w"] > 0)
    pooled = ((df["x"] * df["w"]).where(ok, 0).groupby(df["g"]).sum()
              / df["w"].where(ok, 0).groupby(df["g"]).sum())
    np.testing.assert_allclose(groups.reduce(values, "weighted_mean", weights), pooled.to_numpy(),
                               rtol=1e-9, atol=1e-6)
