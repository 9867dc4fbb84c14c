"""`vitals simulate`: files, ground truth, reproducibility, option errors; real-time pacing."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals.cli import main
from vitals.cli.simulate_cmd import parse_faults, parse_incident, parse_start
from vitals.errors import ConfigError
from vitals.simulator import FaultRates
from vitals.simulator.pacing import Pacer

BASE = ["simulate", "--hours", "1", "--streets", "76", "--start", "2025-06-02T08:00:00+08:00", "--no-progress"]


def test_same_options_same_bytes_and_truth_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        args = [*BASE, "--out", str(out), "--labels", str(tmp_path / f"{name}_labels.json"),
                "--incidents", str(tmp_path / f"{name}_truth.json"), "--incident", "gas_leak@yuzhong@+5m@3.6",
                "--garbage", "0.001", "--seed", "5"]
        assert main(args) == 0
        runs.append(out.read_bytes())
    assert runs[0] == runs[1] and len(runs[0]) > 1_000_000
    labels = json.loads((tmp_path / "a_labels.json").read_text())
    assert any(key.startswith("gas_concentration/yuzhong_") for key in labels)
    truth = json.loads((tmp_path / "a_truth.json").read_text())
    (incident,) = truth["incidents"]
    assert incident["kind"] == "gas_leak" and incident["start"] == "2025-06-02T00:05:00Z"
    assert truth["readings"] > 30_000 and truth["garbage_lines"] > 0
    report = capsys.readouterr().err.strip().splitlines()[-1]
    assert json.loads(report)["readings"] == truth["readings"]


def test_parquet_output_and_other_seed(tmp_path: Path) -> None:
    assert main([*BASE, "--out", str(tmp_path / "a.parquet"), "--seed", "1", "--faults", "none"]) == 0
    assert main([*BASE, "--out", str(tmp_path / "b.parquet"), "--seed", "2", "--faults", "none"]) == 0
    assert (tmp_path / "a.parquet").read_bytes() != (tmp_path / "b.parquet").read_bytes()


@pytest.mark.parametrize(("extra", "message"), [
    (["--out", "x.csv"], ".jsonl or .parquet"),
    (["--out", "x.jsonl", "--faults", "wobble=1"], "unknown fault"),
    (["--out", "x.jsonl", "--incident", "rainstorm"], "KIND@DISTRICT"),
    (["--out", "x.jsonl", "--incident", "rainstorm@gotham"], "unknown district"),
    (["--out", "x.jsonl", "--indicators", "traffic_index,nope"], "unknown indicator"),
])
def test_bad_options_are_explained(extra: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*BASE, *extra]) == 1
    assert message in capsys.readouterr().err


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "--labels" in text and "--speed" in text


def test_option_parsers() -> None:
    start = datetime(2025, 6, 2, tzinfo=UTC)
    assert parse_start("2025-06-02T08:00:00+08:00") == start
    with pytest.raises(ConfigError, match="timezone"):
        parse_start("2025-06-02T08:00:00")
    with pytest.raises(ConfigError, match="out of range"):
        parse_start("0001-01-01T00:00:00+01:00")
    spec = parse_incident("crowd_surge@yuzhong@+90m@3.9", start)
    assert (spec.kind, spec.district, spec.start, spec.severity) == (
        "crowd_surge", "yuzhong", start + timedelta(minutes=90), 3.9)
    assert parse_incident("gas_leak@nanan@2025-06-02T03:00:00Z", start).start == start + timedelta(hours=3)
    assert parse_faults("none") == FaultRates.none()
    rates = parse_faults("stuck=0.5,late=0.01")
    assert (rates.stuck, rates.late, rates.spike) == (0.5, 0.01, FaultRates().spike)


def test_pacer_spaces_steps_by_speed() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(speed=20.0, step_s=10, clock=lambda: now[0], sleep=sleep)
    for steps_done in range(1, 6):
        pacer.wait(steps_done)
    assert slept == pytest.approx([0.5] * 4)  # 10 s steps at 20x: one every 0.5 s, the first at once
    assert Pacer(speed=0, step_s=10).due_at(5) is None


@given(st.text(max_size=60))
def test_option_parsers_never_raise_anything_but_config_errors(text: str) -> None:
    start = datetime(2025, 6, 2, tzinfo=UTC)
    for parse in (lambda t: parse_incident(t, start), parse_faults, parse_start):
        with contextlib.suppress(ConfigError):
            parse(text)


@pytest.mark.parametrize(("args", "message"), [
    (["--days", "0"], "invalid simulator configuration: duration must be positive, not 0:00:00"),  # was a day
    (["--hours", "1", "--labels", "{tmp}"], "--labels {tmp}: is a directory; the labels file needs a file name"),
    (["--hours", "1", "--incidents", "{tmp}"], "--incidents {tmp}: is a directory; the incidents file needs a file"),
    (["--hours", "nan"], "--hours must be a finite number >= 0, got nan"),  # a traceback
    (["--days", "inf"], "--days must be a finite number >= 0, got inf"),  # a traceback
    (["--hours", "1", "--speed", "-1"], "--speed must be a finite number >= 0, got -1.0"),  # ran unpaced
    (["--hours", "1", "--faults", "late=nan"],  # no fault at all
     "invalid simulator configuration: fault rate late must be a number >= 0, not nan"),
    (["--hours", "1", "--incidents-per-day", "nan"],
     "invalid simulator configuration: incidents_per_day must be a number >= 0, not nan"),
    (["--hours", "1", "--start", "2026-03-02T00:00:00Z", "--incident", "rainstorm@yuzhong@+5h",
      "--no-auto-incidents"],
     "invalid simulator configuration: incident rainstorm in yuzhong at 2026-03-02T05:00:00+00:00 is over before "
     "or starts after the simulated 2026-03-02T00:00:00+00:00 + 1:00:00"),  # silently no incident
])
def test_misuse_is_one_line_before_simulating(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                              message: str) -> None:
    """Before: --days 0 simulated a whole day (0 was taken for 'not given'); a directory as --labels or
    --incidents was a traceback after the simulation had run and written --out; the other cases as commented."""
    out = tmp_path / "out" / "r.jsonl"
    code = main(["simulate", "--streets", "38", "--no-progress", "--out", str(out),
                 *[a.format(tmp=tmp_path) for a in args]])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(f"vitals simulate: error: {message.format(tmp=tmp_path)}"), err
    assert err.count("\n") == 1 and not out.exists()


def test_a_simulation_that_cannot_end_or_fit_is_refused_before_it_is_built(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `--hours 1e9` (a typo) set up for days without a word (the set-up grows with the duration), and a
    duration that fits in nanosecond times would then write until the disk was full."""
    out = tmp_path / "out" / "r.jsonl"
    base = ["simulate", "--streets", "38", "--no-progress", "--out", str(out), "--start", "2026-03-02T00:00:00Z"]
    assert main([*base, "--hours", "1e9"]) == 1
    err = capsys.readouterr().err
    assert err == ("vitals simulate: error: the simulation would end after 2262-04-11 (2026-03-02 + 1,000,000,000 h): "
                   "readings carry nanosecond times; simulate less\n"), err
    assert main([*base, "--hours", "1e6"]) == 1  # ~18,500 readings an hour x 136 bytes: ~2.5 TB of JSON lines
    err = capsys.readouterr().err
    assert err.startswith(f"vitals simulate: error: --out {out}: 1,000,000 simulated hours are ~"), err
    assert " GB as jsonl, more than the " in err and err.count("\n") == 1 and not out.exists()


def test_an_incident_without_a_start_happens_within_a_short_run() -> None:
    """Its default start was +1 h whatever the run's length: `--hours 1 --incident rainstorm@yuzhong` started it as
    the run ended (no incident, no word)."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    assert parse_incident("rainstorm@yuzhong", start, timedelta(hours=1)).start == start + timedelta(minutes=15)
    assert parse_incident("rainstorm@yuzhong", start).start == start + timedelta(hours=1)
