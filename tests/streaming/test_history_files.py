"""The history's file format across versions (docs/history.md, "Encodings"): files written now hold exactly what
main's writer wrote for the same stream (``data/history_main``, see ``history_fixture.py``), in cheaper
encodings, and every reader (pandas, ``read_vitals``/``read_readings``, ``vitals checkup``'s snapshots,
``vitals train``'s history) reads old files, new files and a directory mixing both alike."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from history_fixture import fixture_catalog, write_history

from vitals.checkup.load import read_snapshots
from vitals.history import read_readings, read_vitals
from vitals.training import from_history

MAIN = Path(__file__).parent / "data" / "history_main"
LOCAL_DAY = date(2026, 3, 3)  # the fixture's 40 minutes, in the catalog city's time zone
RUN_ID = "20261203T131539Z-4951aa15"


@pytest.fixture(scope="module")
def catalog():
    return fixture_catalog()


@pytest.fixture(scope="module")
def new(tmp_path_factory, catalog) -> Path:
    root = tmp_path_factory.mktemp("history-new")
    write_history(root, catalog)
    return root


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, new) -> Path:
    """shard 0's files as main wrote them, shard 1's as written now and named as a run now names them (with a run
    id in front: docs/history.md, "Runs into one directory"), in one history."""
    root = tmp_path_factory.mktemp("history-mixed")
    for src in (MAIN, new):
        for f in src.rglob("*.parquet"):
            if f.name.startswith("shard000" if src is MAIN else "shard001"):
                rel = f.relative_to(src)
                to = root / (rel if src is MAIN else rel.with_name(f"{RUN_ID}-{f.name}"))
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, to)
    assert len(_files(root)) == len(_files(MAIN))
    assert sum(f.name.startswith(RUN_ID) for f in _files(root)) == len(_files(root)) // 2
    return root


def _files(root: Path) -> list[Path]:
    return sorted(f.relative_to(root) for f in root.rglob("*.parquet"))


def test_the_files_hold_what_main_wrote(new) -> None:
    """Same files, same schema, same values (NaN where NaN, bit for bit), each file compared whole. A failure
    after a deliberate change of the vitals or the simulator: rewrite data/history_main (history_fixture.py)."""
    assert _files(new) == _files(MAIN) and len(_files(MAIN)) == 24
    for rel in _files(MAIN):
        old, now = pq.read_table(MAIN / rel), pq.read_table(new / rel)
        if "peak_level" in now.column_names and "peak_level" not in old.column_names:
            # the one column added since (2026-12-04): the worst level since the previous snapshot, never below
            # the snapshot's level
            peak = now.column("peak_level").to_numpy()
            assert (peak >= now.column("level").to_numpy()).all() and (peak <= 4).all(), rel
            now = now.drop_columns(["peak_level"])
        assert now.schema.remove_metadata().equals(old.schema.remove_metadata()), rel
        pd.testing.assert_frame_equal(now.to_pandas(), old.to_pandas(), check_exact=True)


def test_new_vitals_files_use_the_cheap_encodings(new) -> None:
    meta = pq.ParquetFile(next((new / "vitals").rglob("*.parquet"))).metadata
    group = meta.row_group(0)
    encodings = {group.column(i).path_in_schema: set(group.column(i).encodings) for i in range(meta.num_columns)}
    assert "RLE_DICTIONARY" in encodings["area"] and "RLE_DICTIONARY" in encodings["level"]
    assert "BYTE_STREAM_SPLIT" in encodings["mean_5m"] and "RLE_DICTIONARY" not in encodings["mean_5m"]
    assert "DELTA_BINARY_PACKED" in encodings["series"]
    stats = {group.column(i).path_in_schema: group.column(i).is_stats_set for i in range(meta.num_columns)}
    assert stats["at"] and stats["area"] and not stats["mean_5m"]
    codecs = {group.column(i).path_in_schema: group.column(i).compression for i in range(meta.num_columns)}
    assert codecs["area"] == codecs["district"] == codecs["mean_5m"] == "SNAPPY"
    assert codecs["at"] == codecs["level"] == "UNCOMPRESSED"  # dictionaries of few values


def test_new_readings_files_store_the_times_as_deltas(new) -> None:
    """``ts`` (sorted within each series) as deltas, the other columns as dictionaries (Arrow's default)."""
    meta = pq.ParquetFile(next((new / "readings").rglob("*.parquet"))).metadata
    group = meta.row_group(0)
    encodings = {group.column(i).path_in_schema: set(group.column(i).encodings) for i in range(meta.num_columns)}
    assert "DELTA_BINARY_PACKED" in encodings["ts"] and "RLE_DICTIONARY" not in encodings["ts"]
    assert all("RLE_DICTIONARY" in encodings[name] for name in ("indicator", "area", "district", "sensor", "value"))


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("which", ["new", "mixed"])
def test_readers_read_old_new_and_mixed_directories_alike(request, which, catalog) -> None:
    root = request.getfixturevalue(which)
    keys = ["at", "series"]
    vitals = _sorted(read_vitals(root), keys)
    # peak_level, added since main's files were written: in every new file's rows (NaN in old files' rows)
    known = int(vitals["peak_level"].notna().sum())
    assert known == len(vitals) if which == "new" else 0 < known < len(vitals)
    pd.testing.assert_frame_equal(vitals.drop(columns="peak_level"), _sorted(read_vitals(MAIN), keys),
                                  check_exact=True)
    pd.testing.assert_frame_equal(_sorted(pd.read_parquet(root / "vitals"), keys).drop(columns="peak_level"),
                                  _sorted(pd.read_parquet(MAIN / "vitals"), keys), check_exact=True)
    pd.testing.assert_frame_equal(read_readings(root), read_readings(MAIN), check_exact=True)
    a, b = read_snapshots(root, catalog, LOCAL_DAY, LOCAL_DAY), read_snapshots(MAIN, catalog, LOCAL_DAY, LOCAL_DAY)
    assert len(a.at_ns) == 7  # 23:45 .. 00:15 UTC: every 5 minutes with readings but the last
    for field in dataclasses.fields(a):
        if field.name != "peak":  # main's snapshots have none: their peak is the level
            np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name), err_msg=field.name)
    np.testing.assert_array_equal(b.peak, b.level)
    assert (a.peak >= a.level).all()
    t_new, t_main = from_history(catalog, root), from_history(catalog, MAIN)
    assert t_new.rows == t_main.rows > 0 and t_new.sha256 == t_main.sha256
