"""Issue 12, finding 5: every output path, port and numeric setting is checked before the first reading, with
one-line errors; ``--dry-run`` catches everything the run would reject, and a failed check writes nothing."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.preflight import preflight
from vitals.config import load_settings
from vitals.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def readings(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("preflight") / "r.jsonl"
    path.write_text('{"ts": "2026-03-02T00:00:00Z", "indicator": "water_pressure", "area": "yuzhong-s01", '
                    '"value": 0.3}\n')
    return path


def _vitals(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vitals", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_lateness_is_refused(value):
    with pytest.raises(ConfigError, match="allowed_lateness_s must be a finite number"):
        load_settings(None, {}, allowed_lateness_s=value)


@pytest.mark.parametrize("value", [-1.0, 0.0, math.nan])
def test_snapshot_interval_must_be_positive(value):
    with pytest.raises(ConfigError, match="snapshot_interval_s must be"):
        load_settings(None, {}, snapshot_interval_s=value)


@pytest.mark.parametrize("name", ["partitions", "shards"])
def test_absurd_partition_and_shard_counts_are_refused(name):
    """Before: --partitions 100000 ran for minutes before its first reading (a Bytewax partition each)."""
    with pytest.raises(ConfigError, match=f"{name} must be <= 4,096, got 100,000"):
        load_settings(None, {}, **{name: 100_000})
    assert getattr(load_settings(None, {}, **{name: 4096}), name) == 4096


def test_process_id_outside_the_cluster_is_refused():
    with pytest.raises(ConfigError, match="process_id must be between 0 and 1"):
        load_settings(None, {}, addresses="a:1;b:2", process_id=2)


def _file_settings(readings: Path, tmp_path: Path, **changes: object):
    values = {"source": "file", "path": str(readings), "dead_letter_path": str(tmp_path / "out" / "dead.jsonl"),
              "metrics_port": 0, **changes}
    return load_settings(None, {}, **values)


def test_paths_under_a_file_are_refused(readings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = {"--history-dir": {"history_dir": str(blocker / "history")},
             "--dead-letters": {"dead_letter_path": str(blocker / "dead.jsonl")},
             "--recovery-dir": {"recovery_dir": str(blocker)}}
    for option, change in cases.items():
        settings = _file_settings(readings, tmp_path).replace(**change)
        with pytest.raises(ConfigError, match=option):
            preflight(settings)
    with pytest.raises(ConfigError, match=r"--final-vitals .* is a directory"):
        preflight(_file_settings(readings, tmp_path), final_vitals=tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_read_only_place_is_refused(readings, tmp_path):
    with pytest.raises(ConfigError, match="--history-dir /proc/vitals-history: cannot create"):
        preflight(_file_settings(readings, tmp_path, history_dir="/proc/vitals-history"))


def test_a_busy_metrics_port_is_refused(readings, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = _file_settings(readings, tmp_path, metrics_port=busy.getsockname()[1])
        with pytest.raises(ConfigError, match=r"--metrics-port: cannot listen on 127\.0\.0\.1:.*in use"):
            preflight(settings)


@pytest.mark.parametrize(("args", "message"), [
    (["--lateness", "inf"], "allowed_lateness_s must be a finite number"),
    (["--lateness", "nan"], "allowed_lateness_s must be a finite number"),
    (["--snapshot-interval", "-1"], "snapshot_interval_s must be > 0"),
    (["--history-dir", "/proc/history"], "--history-dir /proc/history: cannot create the history"),
    (["--web-config", "/nonexistent/web.yml"], "--web-config /nonexistent/web.yml: cannot read it"),
])
def test_dry_run_catches_what_the_run_rejects_in_one_line(readings, tmp_path, args, message):
    out = tmp_path / "out"
    done = _vitals("replay", readings, "--dry-run", "--metrics-port", "0", "--dead-letters", out / "dead.jsonl",
                   *args)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("vitals replay: error:"), done.stderr
    assert message in done.stderr
    assert not out.exists()


def test_the_run_fails_before_writing_anything(readings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = tmp_path / "out"
    done = _vitals("replay", readings, "--metrics-port", "0", "--dead-letters", out / "dead.jsonl",
                   "--final-vitals", out / "final.parquet", "--history-dir", blocker / "h", "--no-progress")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"vitals replay: error: --history-dir {blocker / 'h'}: cannot create the "
                                        f"history: {blocker} is not a directory"]
    assert not out.exists()


def test_dry_run_passes_good_settings(readings, tmp_path):
    done = _vitals("replay", readings, "--dry-run", "--metrics-port", "0", "--dead-letters", tmp_path / "d.jsonl",
                   "--recovery-dir", tmp_path / "rec")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("settings OK; recovery dir: new")
    assert not (tmp_path / "rec").exists() and not (tmp_path / "d.jsonl").exists()


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_dead_letter_file_of_another_kind_is_refused_and_kept(readings, tmp_path, dry_run):
    """`--dead-letters` naming the readings file (or a CSV) by mistake: one line, nothing written, and the file
    as it was (before, the run took its first line for a torn write and cut the file to nothing)."""
    given = tmp_path / "readings-copy.jsonl"
    given.write_bytes(b"ts,indicator,area,value\n2025-06-02T00:00:00Z,pm25,a,1\n")
    out = tmp_path / "out"
    done = _vitals("replay", readings, "--metrics-port", "0", "--dead-letters", given, "--history-dir", out,
                   "--no-progress", *(["--dry-run"] if dry_run else []))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"vitals replay: error: dead-letter file {given}: line 1 (byte 0) is not a "
                                        "dead-letter line: another kind of file, or a corrupt one; the run appends "
                                        "to this file and would cut it there: give --dead-letters a new file name, "
                                        "or move this file aside"]
    assert given.read_bytes().startswith(b"ts,indicator") and not out.exists()


def test_addresses_without_a_process_id_are_refused_unless_writing_a_scrape_config(readings, tmp_path):
    """Before: a run with -a and no -i waited for ever in Bytewax (neither Ctrl-C nor SIGTERM ended it)."""
    settings = _file_settings(readings, tmp_path, addresses="127.0.0.1:5001;127.0.0.1:5002")
    with pytest.raises(ConfigError, match=r"addresses \(2 processes\) need process_id \(-i I\): this process's index"):
        preflight(settings, probe=False)
    preflight(settings, probe=False, scrape_config=tmp_path / "scrape.yml")  # `vitals run -a ... --scrape-config`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("process_id", [0, 1])
def test_a_busy_cluster_address_is_one_line(readings, tmp_path, process_id):
    """Before: the process's own cluster address held by another program ended in a Bytewax traceback ("error
    building timely communication pipeline ... Address already in use"), after the flow was built."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = [_free_port(), _free_port()]
        ports[process_id] = busy.getsockname()[1]
        own = f"127.0.0.1:{ports[process_id]}"
        done = _vitals("replay", readings, "-a", ";".join(f"127.0.0.1:{p}" for p in ports), "-i", process_id,
                       "--metrics-port", "0", "--dead-letters", tmp_path / "out" / "dead.jsonl", "--no-progress")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"vitals replay: error: --addresses (process {process_id}'s own address): "
                                        f"cannot listen on {own}: it is in use; choose another port or stop what "
                                        "uses it"], done.stderr
    assert not (tmp_path / "out").exists()


def test_a_free_cluster_address_passes(readings, tmp_path):
    settings = _file_settings(readings, tmp_path, addresses=f"127.0.0.1:{_free_port()};127.0.0.1:{_free_port()}",
                              process_id=1)
    preflight(settings)


def test_a_metrics_port_on_a_cluster_port_is_refused(readings, tmp_path):
    """-a "h:P;h:P+1" --metrics-port P: process 0's /metrics took its own cluster port, and Timely failed with a
    traceback (--dry-run said the settings were fine). Process 1's /metrics on process 0's port likewise."""
    port = _free_port()
    addresses = f"127.0.0.1:{port + 1};127.0.0.1:{port + 2}"
    done = _vitals("replay", readings, "--dry-run", "-a", addresses, "-i", "0", "--metrics-port", port,
                   "--dead-letters", tmp_path / "dead.jsonl")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"vitals replay: error: invalid settings: metrics_port {port}: process 1 "
                                        f"serves /metrics on port {port + 1}, the port of process 0's cluster address "
                                        f"127.0.0.1:{port + 1}; choose a metrics port outside the cluster's ports"]
    load_settings(None, {}, addresses=addresses, process_id=0, metrics_port=port + 10)
    load_settings(None, {}, addresses=f"10.0.0.1:{port};10.0.0.2:{port}", process_id=0, metrics_port=port)


def test_fifos_and_a_file_for_a_directory_are_one_line(readings, tmp_path):
    """Before: a FIFO as --dead-letters (or --final-vitals) hung for ever opening it for a reader; a FIFO as the
    replay's input said it "does not exist"; a file as --models-dir said it "does not exist"."""
    import os

    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    cases = {
        ("--dead-letters", fifo): f"--dead-letters {fifo}: is a FIFO; the dead-letter file needs a regular file",
        ("--final-vitals", fifo): f"--final-vitals {fifo}: is a FIFO; the final vitals needs a regular file",
        ("--models-dir", readings): f"models directory {readings} (the models_dir setting: --models-dir, "
                                   "VITALS_MODELS_DIR or the config file) is not a directory",
    }
    for (option, path), message in cases.items():
        dead = [] if option == "--dead-letters" else ["--dead-letters", out / "dead.jsonl"]
        done = _vitals("replay", readings, "--metrics-port", "0", "--no-progress", *dead, option, path)
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        assert message in done.stderr, done.stderr
    done = _vitals("replay", fifo, "--metrics-port", "0", "--no-progress", "--dead-letters", out / "dead.jsonl")
    assert done.stderr == (f"vitals replay: error: {fifo} is not a regular file (a FIFO, socket or device): a replay "
                           "reads files it can seek in; write the readings to a file, or send a stream through MQTT "
                           "or Kafka\n")
    assert not out.exists()
    done = _vitals("replay", readings, "--metrics-port", "0", "--no-progress", "--dead-letters", os.devnull)
    assert done.returncode == 0, done.stderr  # a device that takes writes at once (/dev/null) stays allowed


def test_an_output_naming_an_input_or_another_output_is_refused(readings, tmp_path):
    """Before: `vitals replay r.parquet --final-vitals r.parquet` replaced the readings with the final vitals
    (exit 0), and `vitals simulate --out x --labels x` kept only the labels."""
    copy = tmp_path / "in" / "r.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(readings.read_bytes())
    done = _vitals("replay", copy.parent, "--metrics-port", "0", "--no-progress", "--dead-letters",
                   tmp_path / "dead.jsonl", "--final-vitals", copy)
    assert done.returncode == 1
    assert done.stderr == (f"vitals replay: error: --final-vitals {copy} is also an input file of the replay: give "
                           "each output its own file\n")
    assert copy.read_bytes() == readings.read_bytes()
    # a dead-letter file left in the replayed directory by an earlier run: read as readings while appended to
    dead = copy.parent / "dead_letters.jsonl"
    assert _vitals("replay", copy, "--metrics-port", "0", "--no-progress", "--dead-letters", dead).returncode == 0
    assert dead.stat().st_size > 0
    done = _vitals("replay", copy.parent, "--metrics-port", "0", "--no-progress", "--dead-letters", dead)
    assert done.stderr == (f"vitals replay: error: --dead-letters {dead} is also an input file of the replay: give "
                           "each output its own file\n")
    same = tmp_path / "same.json"
    done = _vitals("simulate", "--hours", "1", "--streets", "38", "--no-progress", "--out", same, "--labels", same)
    assert done.stderr == (f"vitals simulate: error: --labels {same} is also given to --out: give each output its "
                           "own file\n")
    assert not same.exists()


def test_final_vitals_are_written_in_the_format_their_name_says(readings, tmp_path):
    """Before: `--final-vitals x.csv` wrote Parquet under a .csv name, and `x.json` too (exit 0)."""
    import pandas as pd

    readings = tmp_path / "city.jsonl"  # a fixed start: readings of the current hour can lie ahead of the wall clock,
    # and the two runs below would then reject a different number of them as from the future
    assert _vitals("simulate", "--hours", "0.1", "--start", "2025-06-02T00:00:00Z", "--indicators", "water_pressure",
                   "--out", readings, "--no-progress").returncode == 0
    out = tmp_path / "final.csv"
    done = _vitals("replay", readings, "--metrics-port", "0", "--no-progress", "--dead-letters",
                   tmp_path / "dead.jsonl", "--final-vitals", out)
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(out)
    parquet = tmp_path / "final.parquet"
    assert _vitals("replay", readings, "--metrics-port", "0", "--no-progress", "--dead-letters",
                   tmp_path / "dead2.jsonl", "--final-vitals", parquet).returncode == 0
    expected = pd.read_parquet(parquet)
    assert list(frame.columns) == list(expected.columns) and len(frame) == len(expected) > 0
    assert frame["series"].tolist() == expected["series"].tolist()
    pd.testing.assert_series_equal(frame["last"], expected["last"], check_dtype=False)
    wrong = tmp_path / "final.json"
    done = _vitals("replay", readings, "--metrics-port", "0", "--no-progress", "--dead-letters",
                   tmp_path / "dead3.jsonl", "--final-vitals", wrong)
    assert done.returncode == 1
    assert done.stderr == (f"vitals replay: error: --final-vitals {wrong}: writes Parquet (.parquet) or CSV (.csv), "
                           "not .json files; name the file FILE.parquet or FILE.csv\n")
    assert not wrong.exists() and not (tmp_path / "dead3.jsonl").exists()
