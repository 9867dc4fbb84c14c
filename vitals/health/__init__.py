"""The level and health stage: from a series' values to warning levels, data quality and area health.

- :mod:`vitals.health.levels`: the one home of level semantics (bad direction, badness, oriented thresholds,
  the value edges and condition of each level); names and codes are in :mod:`vitals.catalog.model`.
- :mod:`vitals.health.hysteresis`: series levels that go up at once and come down after quiet intervals.
- :mod:`vitals.health.series_quality`: staleness, stuck sensors and dropout per series.
- :mod:`vitals.health.rollup`: health index and worst level per street, district and city (reads a view).
- :mod:`vitals.health.area_quality`: data quality rolled up per indicator x district (reads a view).

The first three are plain array arithmetic below the state (``vitals.state`` uses them); the last two read a
:class:`~vitals.state.view.VitalsView`, above it. Nothing is imported here, so importing one module does not
load the others.
"""
