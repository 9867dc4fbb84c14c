"""The pipeline commands' malloc policy (vitals.memory_policy): when it stands aside, and that a real
``vitals replay`` process runs with it (a 40 MiB block then comes from the heap and stays there after ``free``;
with the C library's defaults it is mmapped and unmapped)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from vitals.cli import main
from vitals.errors import ConfigError
from vitals.memory_policy import apply_malloc_policy

REPO = Path(__file__).resolve().parent.parent
GLIBC = platform.libc_ver()[0] == "glibc"
BLOCK = 40 << 20  # above glibc's largest dynamic mmap threshold (32 MiB), below the policy's 64 MiB

# runs `vitals replay ARGS` in this process, then asks glibc where a 40 MiB block goes
PROBE = f"""
import ctypes, json, sys
from vitals.cli import main
rc = main(sys.argv[1:])
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
before = libc.mallinfo2()
block = libc.malloc({BLOCK})
during = libc.mallinfo2()
libc.free(block)
after = libc.mallinfo2()
print(json.dumps({{"rc": rc, "mmapped": during.hblks - before.hblks, "kept": after.arena - before.arena}}))
"""


@pytest.mark.parametrize("env", [
    {"VITALS_MALLOC": "system"},
    {"VITALS_MALLOC": " System "},
    {"MALLOC_TRIM_THRESHOLD_": "1000000"},
    {"MALLOC_MMAP_THRESHOLD_": "1000000", "VITALS_MALLOC": "retain"},
    {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000000"},
])
def test_the_user_setting_wins(env: dict[str, str]) -> None:
    policy = apply_malloc_policy(env)
    assert not policy.applied
    assert policy.reason in {"VITALS_MALLOC=system", f"{next(iter(env))} is set"}


def test_an_unknown_choice_is_a_config_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    with pytest.raises(ConfigError, match="VITALS_MALLOC='lots'"):
        apply_malloc_policy({"VITALS_MALLOC": "lots"})
    monkeypatch.setenv("VITALS_MALLOC", "lots")
    assert main(["replay", "nowhere.parquet", "--dry-run"]) == 1
    assert "vitals replay: error: VITALS_MALLOC='lots'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def readings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("malloc") / "r.parquet"
    assert main(["simulate", "--hours", "1", "--streets", "38", "--seed", "3", "--start", "2026-03-01T00:00:00Z",
                 "--indicators", "water_pressure,substation_load", "--no-progress", "--out", str(out)]) == 0
    return out


def _probe(readings: Path, **env: str) -> dict[str, int]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k not in {"GLIBC_TUNABLES", "VITALS_MALLOC"}}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "replay", str(readings), "--streets", "38", "--metrics-port", "0",
         "--dead-letters", str(readings.with_suffix(".dead.jsonl")), "--no-progress"],
        cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=240, check=True)
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, done.stderr[-2000:]
    return result


@pytest.mark.skipif(not GLIBC, reason="the policy is glibc's mallopt")
def test_a_replay_runs_with_the_policy(readings: Path) -> None:
    applied = _probe(readings)
    assert applied["mmapped"] == 0  # from the heap
    assert applied["kept"] >= BLOCK  # and not trimmed after free
    for env in ({"VITALS_MALLOC": "system"}, {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}):
        system = _probe(readings, **env)
        assert system["mmapped"] == 1, env
        assert system["kept"] < BLOCK, env


def test_the_checkup_applies_the_policy_and_an_unknown_choice_stops_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``vitals checkup`` applies the policy first (a wrong VITALS_MALLOC is its one-line error before anything
    is read)."""
    monkeypatch.setenv("VITALS_MALLOC", "lots")
    assert main(["checkup", "--history", str(tmp_path), "--days", "1"]) == 1
    assert "vitals checkup: error: VITALS_MALLOC='lots'" in capsys.readouterr().err
