"""The work the default detector's kernel skips (issue 10) changes no bit: what each shortcut relies on."""

from __future__ import annotations

import numba as nb
import numpy as np

from vitals.detectors import DefaultDetector, kernel

T0 = 1_700_000_000 * 1_000_000_000
STEP = 300 * 1_000_000_000


@nb.njit(error_model="numpy")
def _pow_one_differs(x: np.ndarray, power: float) -> int:
    """How many ``|x| ** power`` differ from ``|x|`` in any bit (``power`` at run time, as in the kernel)."""
    n = 0
    for i in range(x.size):
        a = np.array([abs(x[i]) ** power])
        b = np.array([abs(x[i])])
        if a.view(np.int64)[0] != b.view(np.int64)[0]:
            n += 1
    return n


def test_a_power_of_one_is_the_identity_the_run_calibration_skips() -> None:
    rng = np.random.default_rng(10)
    bits = rng.integers(0, 0x7FF0_0000_0000_0000, 200_000, dtype=np.int64).view(np.float64)
    edges = np.array([0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.0, 2.0, 1.7976931348623157e308, np.inf])
    sample = np.concatenate([bits, -bits, rng.uniform(0.0, 2.0, 200_000), edges])
    assert _pow_one_differs(sample, 1.0) == 0


def test_the_calibrations_learn_nothing_in_the_warm_up_and_start_after_it() -> None:
    det = DefaultDetector().fit([], [], [], n_series=2)
    warm = int(det.warmup) + 1  # the calibrations are active from the reading after count warmup + 1
    rng = np.random.default_rng(4)
    values = 20.0 + rng.normal(0.0, 1.0, (warm + 2, 2))
    calibration_f = [kernel.F_C_CENTRE, kernel.F_C_SPREAD, kernel.F_S_TOTAL, kernel.F_RUN_MEAN, kernel.F_RC_CENTRE,
                     kernel.F_RC_SPREAD, kernel.F_RS_TOTAL]
    calibration_i = [kernel.I_C_COUNT, kernel.I_S_SEEN, kernel.I_RC_COUNT, kernel.I_RS_SEEN]
    for step in range(warm):
        scores = det.update_score([0, 1], [T0 + step * STEP] * 2, values[step])
        assert not scores.any()
    assert not det.f_[:, calibration_f].any() and not det.i_[:, calibration_i].any()
    assert not det.hist_.any() and not det.run_hist_.any()
    det.update_score([0, 1], [T0 + warm * STEP] * 2, values[warm])
    np.testing.assert_array_equal(det.i_[:, [kernel.I_C_COUNT, kernel.I_S_SEEN]], 1)
    np.testing.assert_array_equal(det.hist_.sum(axis=(1, 2)), 1.0)  # one reading in a bin, nothing to decay yet
