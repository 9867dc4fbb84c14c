"""Scale-out: one worker, two worker threads and a two-process cluster (``-i/-a`` on loopback, each process
with its own /metrics port) give identical vitals on the same input; ``vitals run --scrape-config`` lists
every process."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from streaming_support import (
    assert_same_vitals,
    history_keys,
    run_to_end,
    spawn,
    vitals_cmd,
    write_partitioned_readings,
)

from vitals.history import read_readings
from vitals.services import free_port, http_get, wait_for

CHECK_COLUMNS_DROPPED = ["at", "seconds_since_last"]  # relative to each process's own final clock


def _replay_args(data: Path, out: Path, *extra: str) -> list[str]:
    return vitals_cmd("replay", data, "--streets", "76", "--partitions", "2", "--shards", "4", "--batch-size", "500",
                      "--history-dir", out / "history", "--dead-letters", out / "dead.jsonl",
                      "--final-vitals", out / "final.parquet", "--no-progress", *extra)


@pytest.fixture(scope="module")
def data(tmp_path_factory, small_catalog) -> Path:
    root = tmp_path_factory.mktemp("scale-data")
    write_partitioned_readings(small_catalog, root, hours=1.5, seed=8)
    return root


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory, data) -> Path:
    out = tmp_path_factory.mktemp("one-worker")
    run_to_end(_replay_args(data, out, "--metrics-port", "0"), out / "log.txt")
    return out


@pytest.fixture(scope="module")
def one_worker_paced(tmp_path_factory, data) -> Path:
    """One worker at the cluster test's pace: a paced replay hands blocks over in slices of event time, and the
    EWMA's last bits depend on how readings are batched."""
    out = tmp_path_factory.mktemp("one-worker-paced")
    run_to_end(_replay_args(data, out, "--metrics-port", "0", "--speed", "3600"), out / "log.txt")
    return out


def _final(paths: list[Path]) -> pd.DataFrame:
    frames = [pd.read_parquet(p).drop(columns=CHECK_COLUMNS_DROPPED) for p in paths]
    return pd.concat(frames, ignore_index=True)


def test_two_worker_threads_give_the_same_vitals(tmp_path, data, one_worker):
    run_to_end(_replay_args(data, tmp_path, "--metrics-port", "0", "-w", "2"), tmp_path / "log.txt")
    assert_same_vitals(_final([tmp_path / "final.parquet"]), _final([one_worker / "final.parquet"]))
    pd.testing.assert_frame_equal(history_keys(read_readings(tmp_path / "history")),
                                  history_keys(read_readings(one_worker / "history")))


def test_two_processes_give_the_same_vitals_and_serve_their_own_metrics(tmp_path, data, one_worker_paced):
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    metrics = free_port()
    # paced (one event hour per wall second) so that both /metrics servers can be seen while the flow runs
    procs = [spawn(_replay_args(data, tmp_path, "--speed", "3600", "--metrics-port", str(metrics), "-i", str(i),
                                "-a", addresses), tmp_path / f"log{i}.txt") for i in range(2)]
    try:
        for i in range(2):
            body = wait_for(lambda i=i: http_get(f"http://127.0.0.1:{metrics + i}/metrics"), 60,
                            what=f"/metrics of process {i}")
            assert b"vitals_pipeline_up" in body
        for i, proc in enumerate(procs):
            assert proc.wait(120) == 0, (tmp_path / f"log{i}.txt").read_text()[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    finals = sorted(tmp_path.glob("final-p*.parquet"))
    assert [p.name for p in finals] == ["final-p0.parquet", "final-p1.parquet"]
    # balanced routing keys: each process holds two of the four shards (and reads one of the two files)
    assert [len(pd.read_parquet(p)) for p in finals] == pytest.approx([1032, 1032], rel=0.1)
    assert_same_vitals(_final(finals), _final([one_worker_paced / "final.parquet"]))
    pd.testing.assert_frame_equal(history_keys(read_readings(tmp_path / "history")),
                                  history_keys(read_readings(one_worker_paced / "history")))
    dead = sum(len(p.read_text().splitlines()) for p in tmp_path.glob("dead-p*.jsonl"))
    assert dead == len((one_worker_paced / "dead.jsonl").read_text().splitlines()) > 0


def test_scrape_config_lists_every_process(tmp_path):
    out = tmp_path / "scrape.yml"
    addresses = "127.0.0.1:2101;127.0.0.1:2102;10.0.0.7:2101"
    run_to_end(vitals_cmd("run", "-a", addresses, "--metrics-port", "9300", "--scrape-config", out, "--dry-run"),
               tmp_path / "log.txt")
    doc = yaml.safe_load(out.read_text())
    static = doc["scrape_configs"][0]["static_configs"]
    assert [s["targets"] for s in static] == [["127.0.0.1:9300"], ["127.0.0.1:9301"], ["10.0.0.7:9302"]]
    assert [s["labels"]["process"] for s in static] == ["0", "1", "2"]
