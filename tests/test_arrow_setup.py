"""pyarrow's numpy conversions without pandas (vitals.arrow_setup): the same arrays as pyarrow's own path with
pandas, pandas never imported by them, pandas still importable; and a replay process imports no pandas.

Each case runs in a fresh interpreter (pyarrow remembers its one try at importing pandas per process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent

# conversions the flow makes (readings parsers, history, final vitals): to_numpy of ints, floats with nulls,
# booleans, UTC timestamps with nulls, strings with nulls, dictionary indices; pa.array / pa.table of numpy
CONVERSIONS = r"""
import json, sys
import numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
{setup}
rng = np.random.default_rng(7)
ints = rng.integers(-10**15, 10**15, 1000)
floats = rng.normal(size=1000)
floats[::7] = np.nan
mask = rng.random(1000) < 0.1
words = np.array([f"s{{i}}" for i in rng.integers(0, 50, 1000)], dtype=object)
out = {{}}
out["ints"] = pa.array(ints).to_numpy().tolist()
fl = pa.array(floats, mask=mask)
out["floats_nulls"] = [None if np.isnan(x) else x for x in fl.to_numpy(zero_copy_only=False).tolist()]
out["is_null"] = fl.is_null().to_numpy(zero_copy_only=False).tolist()
ts = pa.array(ints, mask=mask).cast(pa.timestamp("ns", tz="UTC"))
out["ts"] = [str(x) for x in ts.to_numpy(zero_copy_only=False)]
out["ts_int"] = ts.cast(pa.int64()).fill_null(0).to_numpy().tolist()
st = pa.array(words, type=pa.string(), mask=mask)
out["strings"] = st.to_numpy(zero_copy_only=False).tolist()
out["lengths"] = pc.fill_null(pc.utf8_length(st), 0).to_numpy(zero_copy_only=False).tolist()
out["dict_idx"] = st.dictionary_encode().indices.fill_null(-1).to_numpy(zero_copy_only=False).tolist()
chunked = pa.chunked_array([pa.array(ints[:500]), pa.array(ints[500:])])
out["chunked"] = chunked.to_numpy().tolist()
table = pa.table({{"a": ints, "b": floats, "c": pa.array(words, type=pa.string())}})
pq.write_table(table, sys.argv[1])
back = pq.read_table(sys.argv[1])
out["roundtrip"] = [back.column("a").to_numpy().tolist(), back.column("c").to_numpy().tolist()]
out["pandas_loaded"] = "pandas" in sys.modules
{after}
print(json.dumps(out))
"""


def _run(tmp_path: Path, setup: str, after: str = "") -> dict[str, object]:
    code = CONVERSIONS.format(setup=setup, after=after)
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.parquet")], capture_output=True, text=True,
                         check=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    out: dict[str, object] = json.loads(res.stdout)
    return out


def test_conversions_without_pandas_equal_pyarrows_own(tmp_path: Path) -> None:
    reference = _run(tmp_path, setup="")
    assert reference.pop("pandas_loaded") is True  # the oracle: pyarrow 26 imports pandas in these conversions
    after = ("import pandas as pd\n"
             "out['pandas_after'] = [pd.__name__, int(back.to_pandas()['a'].sum() == ints.sum())]")
    skipped = _run(tmp_path, setup="from vitals.arrow_setup import convert_without_pandas\n"
                                   "assert convert_without_pandas()", after=after)
    assert skipped.pop("pandas_loaded") is False
    assert skipped.pop("pandas_after") == ["pandas", 1]  # pandas itself still imports, and to_pandas works
    assert skipped == reference


def test_nothing_to_save_once_pandas_is_imported() -> None:
    code = ("import pandas, pyarrow as pa, numpy as np\n"
            "from vitals.arrow_setup import convert_without_pandas\n"
            "print(convert_without_pandas(), pa.array(np.arange(3)).to_numpy().tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}).stdout
    assert out.split() == ["False", "[0,", "1,", "2]"]


def test_a_replay_process_imports_no_pandas(tmp_path: Path) -> None:
    """A whole `vitals replay` (Parquet input, scoring on, final vitals and history written) without pandas."""
    ts = pa.array(np.arange(60, dtype=np.int64) * 60_000_000_000 + 1_748_822_400_000_000_000)
    table = pa.table({"ts": ts.cast(pa.timestamp("ns", tz="UTC")),
                      "indicator": pa.array(["water_pressure"] * 60, type=pa.string()),
                      "area": pa.array(["yuzhong_s001"] * 60, type=pa.string()),
                      "value": pa.array(np.linspace(0.2, 0.4, 60))})
    pq.write_table(table, tmp_path / "in.parquet")
    code = ("import sys\nfrom vitals.cli import main\n"
            "rc = main(sys.argv[1:])\nprint('pandas' in sys.modules)\nsys.exit(rc)")
    args = ["replay", str(tmp_path / "in.parquet"), "--final-vitals", str(tmp_path / "final.parquet"),
            "--history-dir", str(tmp_path / "history"), "--dead-letters", str(tmp_path / "dead.jsonl"),
            "--metrics-port", "0", "--no-progress"]
    res = subprocess.run([sys.executable, "-c", code, *args], check=False, capture_output=True, text=True,
                         cwd=tmp_path,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "VITALS_SCORING": "1"}, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.splitlines()[-1] == "False"
    assert pq.read_table(tmp_path / "final.parquet").num_rows >= 1
    assert any((tmp_path / "history").rglob("*.parquet"))
