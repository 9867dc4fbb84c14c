"""numba's registries without scipy (vitals.numba_setup): the BLAS probe finds no scipy, every other import of
scipy works (other threads, numba's own ensure_blas when it compiles np.dot), nothing changes once scipy.linalg
is imported, and a replay process imports no scipy.linalg with the same final vitals.

Each case runs in a fresh interpreter (numba probes once per process, at its first registry load)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
ENV = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}


def _run(code: str, *args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> list[str]:
    res = subprocess.run([sys.executable, "-c", code, *args], check=False, capture_output=True, text=True,
                         cwd=cwd, env=env or ENV, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.split()


def test_the_probe_finds_no_scipy_and_scipy_still_imports() -> None:
    code = ("import sys, threading\n"
            "from vitals.numba_setup import skip_blas_probe\n"
            "ahead = skip_blas_probe()\n"
            "import numba, numpy as np\n"
            "@numba.njit\n"
            "def add(a):\n    return a + 1.0\n"
            "add(np.zeros(3))\n"  # the first call loads the registries: the probe
            "import numba.np.arraymath as am\n"
            "after_probe = 'scipy.linalg' in sys.modules\n"
            "box = []\n"
            "t = threading.Thread(target=lambda: box.append(__import__('scipy.linalg').linalg.norm([3.0, 4.0])))\n"
            "t.start(); t.join()\n"
            "@numba.njit\n"
            "def dot(a, b):\n    return np.dot(a, b)\n"  # numba's own ensure_blas imports scipy: works
            "a = np.arange(12.0).reshape(3, 4); b = np.arange(8.0).reshape(4, 2)\n"
            "print(ahead, am._HAVE_BLAS, after_probe, box[0], np.array_equal(dot(a, b), a @ b))")
    assert _run(code) == ["True", "False", "False", "5.0", "True"]


def test_nothing_to_save_once_scipy_linalg_is_imported() -> None:
    code = ("import scipy.linalg, numba, numpy as np\n"
            "from vitals.numba_setup import skip_blas_probe\n"
            "ahead = skip_blas_probe()\n"
            "numba.njit(lambda a: a + 1.0)(np.zeros(3))\n"
            "import numba.np.arraymath as am\n"
            "print(ahead, am._HAVE_BLAS)")
    assert _run(code) == ["False", "True"]


def test_a_replay_process_imports_no_scipy_same_final_vitals(tmp_path: Path) -> None:
    """A whole `vitals replay` (scoring on) without scipy.linalg; its final vitals equal those of a replay whose
    process imported scipy.linalg first (numba's probe as before)."""
    ts = pa.array(np.arange(120, dtype=np.int64) * 30_000_000_000 + 1_748_822_400_000_000_000)
    rng = np.random.default_rng(11)
    table = pa.table({"ts": ts.cast(pa.timestamp("ns", tz="UTC")),
                      "indicator": pa.array(["water_pressure"] * 120, type=pa.string()),
                      "area": pa.array(["yuzhong_s001"] * 120, type=pa.string()),
                      "value": pa.array(0.3 + 0.02 * rng.normal(size=120))})
    pq.write_table(table, tmp_path / "in.parquet")
    env = {**ENV, "VITALS_SCORING": "1"}
    finals = []
    for first in ("", "import scipy.linalg\n"):
        out = tmp_path / f"final{len(finals)}.parquet"
        code = (f"import sys\n{first}from vitals.cli import main\n"
                "rc = main(sys.argv[1:])\nprint('scipy.linalg' in sys.modules)\nsys.exit(rc)")
        lines = _run(code, "replay", str(tmp_path / "in.parquet"), "--final-vitals", str(out),
                     "--dead-letters", str(tmp_path / "dead.jsonl"), "--metrics-port", "0", "--no-progress",
                     cwd=tmp_path, env=env)
        assert lines[-1] == ("True" if first else "False")
        finals.append(pq.read_table(out).drop_columns(["at", "seconds_since_last"]))
    assert finals[0].num_rows >= 1
    assert finals[0].schema.equals(finals[1].schema)
    for name in finals[0].column_names:  # exact, NaN = NaN
        a, b = (f[name].to_numpy(zero_copy_only=False) for f in finals)
        if a.dtype.kind == "f":
            assert np.array_equal(a, b, equal_nan=True), name
        else:
            assert a.tolist() == b.tolist(), name
