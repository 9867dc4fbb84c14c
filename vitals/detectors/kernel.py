"""The default detector's per-reading recurrences as one compiled loop (numba), state in per-series arrays.

Every recurrence of the default detector (seasonal baseline, data-quality checks, calibrations, run score,
onset suppression, new extreme, regime change) depends on the previous reading of the *same* series only, so a
batch is scored by one pass over its readings in batch order, each reading reading and writing its own series'
row of the state.
The cost per reading is therefore the same whether a batch holds 28,868 series x 1 timestamp or 4 series x
10,000 timestamps, and the scores are bit-identical whatever the batch split (the state after a reading is
the state before the next, in memory or after a pickle round trip).

State layout (all numpy, so it pickles with the detector):

* ``f``: float64 ``(n, F_COLUMNS)``, one column per scalar (``F_*`` below);
* ``i``: int64 ``(n, I_COLUMNS)`` (``I_*``);
* ``mid``, ``dev`` float32 and ``slot_count`` int16 ``(n, day_slots + week_slots)``: the seasonal profiles;
* ``hist`` float32 ``(n, 2, bins)``: the decaying histogram of the signed residual's position (drops and rises);
* ``run_hist`` float32 ``(n, 1, 2 * bins)``: the histogram of the run statistic;
* ``blocks`` float64 ``(n, refractory_blocks)``: maxima of the last completed onset blocks of the seasonal score;
* ``rec_blocks`` float64 ``(n, refractory_blocks)``: the same for the new-extreme (record) score;
* ``regime_blocks`` float64 ``(n, refractory_blocks)``: the same for the regime-change score.

The parameters travel as one float64 vector (``P_*``), built by :func:`parameters`.

The helpers are inlined into :func:`score_batch` (numba ``inline="always"``), except :func:`_baseline`: a call
passes every array as its scalars and checks a status (inlining them took 10-17 % off a reading's cost in
``benchmarks/bench_detectors.py``); inlining ``_baseline`` too was slower at the city shape.
"""

# ruff: noqa: PLR0917, PLW3301  (numba kernels take positional arrays; nested max keeps numba typing simple)
from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt

from vitals.units import DAY_S, NS_PER_S, WEEK_S

# ---- parameter vector ------------------------------------------------------------------------------------
(P_WARMUP, P_CAL_START, P_POWER, P_CAL_RATE, P_HALF, P_Z_CAP, P_S_RATE, P_BINS_PER_OCTAVE, P_S_Z0, P_S_HALF,
 P_RUN_LENGTH, P_RUN_CAP, P_QUALITY_WEIGHT, P_DAY_SLOTS, P_WEEK_SLOTS, P_SLOT_RATE, P_LEVEL_RATE, P_ERROR_RATE,
 P_CLIP, P_MIN_SLOT_COUNT, P_REFRACTORY, P_STUCK_MIN_RUN, P_SPIKE_Z, P_STEP_RATE, P_PRIOR, P_SEASONAL_WEIGHT,
 P_RECORD_HALF, P_RECORD_REFRACTORY, P_ONSET_MARGIN, P_DECISION_POINT, P_DECISION_SCORE, P_RECORD_WARMUP,
 P_RECORD_WARMUP_S, P_REGIME_SHORT, P_REGIME_LONG, P_REGIME_WARMUP, P_REGIME_HALF, P_REGIME_WEIGHT,
 P_REGIME_REFRACTORY, P_REGIME_FLOOR, P_REST, P_ROUTINE_TOLERANCE, P_RECORD_MIN_Z, P_RECORD_RATE_LIMIT,
 P_RECORD_RATE_READINGS, P_RECORD_CLIP, P_REGIME_STEP_CLIP, P_PHASE_TOLERANCE, P_REGIME_BY_SIDE,
 P_PHASE_MIN_SLOT_COUNT, P_PHASE_YOUNG_SCALE) = range(51)
P_COUNT = 51

# ---- float state columns ---------------------------------------------------------------------------------
(F_LEVEL, F_LEVEL_DEV, F_LEVEL_ERR, F_ERR_DAY, F_ERR_WEEK, F_EXPECTED, F_SCALE, F_Z, F_C_CENTRE, F_C_SPREAD,
 F_S_TOTAL, F_RUN_MEAN, F_RC_CENTRE, F_RC_SPREAD, F_RS_TOTAL, F_BLOCK_MAX, F_LEVEL_SCORE, F_SCORE, F_VALUE,
 F_Q_LAST_VALUE, F_Q_LAST_STEP, F_Q_STEP_SCALE, F_Q_SPACING, F_VMIN, F_VMAX, F_IMPOSSIBLE, F_STUCK,
 F_SPIKE, F_HIGH, F_LOW, F_REC_BLOCK_MAX, F_RECORD, F_REGIME_LAST, F_REGIME_SHORT, F_REGIME_LONG, F_REGIME_RATIO,
 F_REGIME_HIGH, F_REGIME_LOW, F_REGIME_BLOCK_MAX, F_RECORD_RATE_HIGH, F_RECORD_RATE_LOW, F_Z_NEAR) = range(42)
F_COLUMNS = 42

# ---- int state columns -----------------------------------------------------------------------------------
(I_COUNT, I_C_COUNT, I_S_SEEN, I_RC_COUNT, I_RS_SEEN, I_BLOCK_FILL, I_Q_COUNT, I_Q_LAST_TS, I_Q_RUN, I_Q_LONGEST,
 I_MODEL, I_DRIVER, I_RUN_DRIVEN, I_REC_BLOCK_FILL, I_FIRST_TS, I_REGIME_COUNT, I_REGIME_BLOCK_FILL,
 I_REST_LEFT, I_SPIKE_LAST, I_ROUTINE, I_ONSETS, I_ONSET_1, I_ONSET_2, I_ONSET_3, I_ONSET_N) = range(25)
I_COLUMNS = 25
ROUTINE_INTERVALS = 3     # intervals between spike onsets that must agree before a spike counts as routine
ROUTINE_MIN_TOLERANCE = 2  # readings: the tolerance of a short period
PHASE_MIN_Z = 3.0  # phase_tolerance: a reading inside the expected band (3 scales: band_z) is judged as it is;
# the neighbouring slot counts once learned (1 / slot_rate readings: before, its centre and scale are still the
# running mean of its first readings, its scale near the flat level's, wide enough to explain any deviation),
# or from phase_min_slot_count readings where that is > 0 (tried: docs/detectors.md). phase_young_scale (0 = off):
# a young neighbour (from phase_min_slot_count readings, not yet learned) is judged at its location (the mean of
# its readings) with a scale no wider than the reading's own slot's (1: the smaller of the two; 2: the own
# slot's; 3: the smaller, and only where the reading then lies inside its band): its own scale is still mostly
# the flat level's swing, which explains away any spike (tried, off: docs/detectors.md)

# drivers of a score (I_DRIVER)
DRIVER_SEASONAL, DRIVER_QUALITY, DRIVER_RECORD, DRIVER_REGIME = 0, 1, 2, 3

COUNT_MAX = 30_000


@nb.njit(cache=True, inline="always", error_model="numpy")
def _squash(u: float, half: float) -> float:
    if not u > 0.0:  # NaN and negatives -> 0
        return 0.0
    u = min(u, 1e12)
    return u / (u + half)


@nb.njit(cache=True, inline="always", error_model="numpy")
def _powered(raw: float, power: float) -> float:
    """``|raw| ** power``, without the ``pow`` call for power 1 (see :func:`_tail`)."""
    return abs(raw) if power == 1.0 else abs(raw) ** power


@nb.njit(cache=True, inline="always", error_model="numpy")
def _tail_u(x: float, centre: float, spread: float) -> float:
    """The tail statistic of ``x`` against a calibration's centre and spread (nothing learned)."""
    return (x - centre) / max(spread, 1e-6 * abs(centre) + 1e-12)


@nb.njit(cache=True, inline="always", error_model="numpy")
def _surprise_of(counts: np.ndarray, side: int, x: float, tail: float, prior: float, total: float) -> float:
    """``-log10 P(X >= x)`` against the histogram ``counts`` of ``total`` decayed values (nothing learned)."""
    bins = counts.shape[1]
    b = min(int(x), bins - 1)
    above = np.float32(0.0)  # float32, summed from the open end: as numpy's reversed float32 cumsum
    for j in range(bins - 1, b - 1, -1):
        above += counts[side, j]
    mass = above - min(x - b, 1.0) * counts[side, b]
    p = (mass + prior * 2.0 ** (-x / tail)) / (total + prior)
    p = min(max(p, 1e-300), 1.0)
    return -math.log10(p)


@nb.njit(cache=True, inline="always", error_model="numpy")
def _tail(f: np.ndarray, ic: np.ndarray, row: int, c_centre: int, c_spread: int, c_count: int, raw: float,
          power: float, rate_min: float, start: float, active: bool) -> float:
    """Online tail statistic of ``|raw| ** power`` against the series' past (0 until ``start`` values).

    Not ``active`` (the series' warm-up): 0, nothing learned, nothing computed. ``power == 1`` skips the ``pow``
    call: ``|raw| ** 1.0`` is ``|raw|`` exactly (libm's ``pow`` errs by less than 1 ulp, so an exactly
    representable result comes out exact; ``tests/detectors/test_kernel_shortcuts.py``). Not so for 0.5:
    ``pow(x, 0.5)`` differs from ``sqrt(x)`` in the last bit for ~0.08 % of doubles, so that power keeps ``pow``.
    """
    if not active:
        return 0.0
    x = _powered(raw, power)
    k = ic[row, c_count]
    centre = f[row, c_centre]
    spread = f[row, c_spread]
    u = _tail_u(x, centre, spread)
    rate = max(1.0 / (k + 1.0), rate_min)
    d = x - centre
    f[row, c_centre] = centre + rate * d
    f[row, c_spread] = 0.0 if k == 0 else spread + rate * (abs(d) - spread)
    ic[row, c_count] = k + 1
    return u if k >= start else 0.0


@nb.njit(cache=True, inline="always", error_model="numpy")
def _surprise(counts: np.ndarray, side: int, f: np.ndarray, ic: np.ndarray, row: int, c_total: int,
              c_seen: int, x: float, tail: float, rate: float, prior: float, start: float, active: bool) -> float:
    """``-log10 P(X >= x)`` against a decaying histogram (unit bins, last one open), geometric prior tail.

    ``counts`` is the series' ``(sides, bins)`` histogram; ``x`` is judged against its ``side``; all sides decay.
    Not ``active``: 0, nothing learned; active but before ``start`` values: learned, the surprise (a bin scan,
    ``exp2`` and ``log10``) not computed, as it would be returned as 0.
    """
    if not active:
        return 0.0
    bins = counts.shape[1]
    b = min(int(x), bins - 1)
    seen = ic[row, c_seen]
    total = f[row, c_total]
    surprise = _surprise_of(counts, side, x, tail, prior, total) if seen >= start else 0.0
    keep = np.float32(1.0 - rate)
    for h in range(counts.shape[0]):
        for j in range(bins):
            counts[h, j] = counts[h, j] * keep
    counts[side, b] += np.float32(1.0)
    f[row, c_total] = total * (1.0 - rate) + 1.0
    ic[row, c_seen] = seen + 1
    return surprise


@nb.njit(cache=True, inline="always", error_model="numpy")
def _near(sec: int, day_slots: int) -> int:
    """The daily profile's slot next to the reading's own, on the side of the reading's place in its slot (the
    slot before in the first half of the slot, the one after in the second half).

    A profile is constant over a slot, so it cannot place a routine closer than a slot: a reading in the first
    half of its slot lies as close in time to the previous slot as to the end of its own. A daily job, a rush
    hour, a working day that starts a few minutes early or late is the routine, not a deviation.
    """
    into = (sec % DAY_S) * day_slots
    step = -1 if 2 * (into % DAY_S) < DAY_S else 1
    return (into // DAY_S + step) % day_slots


@nb.njit(cache=True, error_model="numpy")
def _baseline(p: np.ndarray, f: np.ndarray, ic: np.ndarray, mid: np.ndarray, dev: np.ndarray,
              slot_count: np.ndarray, row: int, t: int, v: float) -> float:
    """Seasonal robust baseline: z of the best of flat level, daily and weekly profile; learn; |z| after warm-up."""
    day_slots = int(p[P_DAY_SLOTS])
    week_slots = int(p[P_WEEK_SLOTS])
    clip = p[P_CLIP]
    count = ic[row, I_COUNT]
    first = count == 0
    level = v if first else f[row, F_LEVEL]
    floor = 1e-9 + 1e-3 * abs(level)
    level_scale = max(f[row, F_LEVEL_DEV], floor)
    z_flat = (v - level) / level_scale
    sec = t // NS_PER_S
    cols = ((sec % DAY_S) * day_slots // DAY_S, day_slots + (sec % WEEK_S) * week_slots // WEEK_S)
    best = f[row, F_LEVEL_ERR]
    model = 0
    z = z_flat
    scale = level_scale
    expected = level
    z_near = z_flat
    phase = p[P_PHASE_TOLERANCE]
    for k in range(2):
        c = cols[k]
        m = np.float64(mid[row, c])
        s = max(max(np.float64(dev[row, c]), 0.2 * level_scale), floor)
        if slot_count[row, c] >= p[P_MIN_SLOT_COUNT]:
            err = f[row, F_ERR_DAY + k]
            if err < best:
                zk = (v - m) / s
                zn = zk
                if k == 0 and phase > 0.0 and abs(zk) > PHASE_MIN_Z:  # the profile's phase resolution: see _near
                    n = _near(sec, day_slots)
                    need = p[P_PHASE_MIN_SLOT_COUNT]  # 0: a learned slot (its rate at the floor)
                    cn = slot_count[row, n]
                    if (cn >= need) if need > 0.0 else (cn * p[P_SLOT_RATE] >= 1.0):
                        sn = max(max(np.float64(dev[row, n]), 0.2 * level_scale), floor)
                        young = p[P_PHASE_YOUNG_SCALE] if cn * p[P_SLOT_RATE] < 1.0 else 0.0
                        if young > 0.0:  # a young neighbour: its location, a scale no wider than a trusted one
                            sn = s if young == 2.0 else min(sn, s)
                        zn = (v - np.float64(mid[row, n])) / sn
                        if young == 3.0 and abs(zn) > PHASE_MIN_Z:  # ... and only where it explains the reading
                            zn = zk
                best, model, z, scale, expected, z_near = err, k + 1, zk, s, m, zn
    # learn: flat level
    rate = max(1.0 / (count + 1.0), p[P_LEVEL_RATE])
    err = f[row, F_LEVEL_ERR]
    if not first:
        f[row, F_LEVEL_ERR] = err + p[P_ERROR_RATE] * (min(abs(z_flat), clip) - err)
    resid = v - level
    bound = clip * level_scale
    f[row, F_LEVEL] = level + rate * min(max(resid, -bound), bound)
    f[row, F_LEVEL_DEV] = 0.0 if first else f[row, F_LEVEL_DEV] + rate * (abs(resid) - f[row, F_LEVEL_DEV])
    # learn: profiles (each slot's scale and z from its values before this reading, as above; no per-reading
    # scratch arrays on the hot path)
    for k in range(2):
        c = cols[k]
        cnt = slot_count[row, c]
        m = np.float64(mid[row, c])
        d = np.float64(dev[row, c])
        s = max(max(d, 0.2 * level_scale), floor)
        if cnt >= p[P_MIN_SLOT_COUNT]:
            e = f[row, F_ERR_DAY + k]
            f[row, F_ERR_DAY + k] = e + p[P_ERROR_RATE] * (min(abs((v - m) / s), clip) - e)
        elif cnt == 0:
            f[row, F_ERR_DAY + k] = f[row, F_LEVEL_ERR] + 1.0
        step = max(1.0 / (cnt + 1.0), p[P_SLOT_RATE])
        r = v - m
        sb = clip * s
        if cnt == 0:
            mid[row, c] = np.float32(v)
            dev[row, c] = np.float32(level_scale)
        else:
            mid[row, c] = np.float32(m + step * min(max(r, -sb), sb))
            dev[row, c] = np.float32(d + step * (abs(r) - d))
        slot_count[row, c] = min(cnt + 1, COUNT_MAX)
    ic[row, I_COUNT] = count + 1
    f[row, F_EXPECTED] = expected
    f[row, F_SCALE] = scale
    f[row, F_Z] = z
    f[row, F_Z_NEAR] = z_near
    ic[row, I_MODEL] = model
    return abs(z) if count + 1 > p[P_WARMUP] else 0.0


@nb.njit(cache=True, inline="always", error_model="numpy")
def _quality(p: np.ndarray, f: np.ndarray, ic: np.ndarray, row: int, t: int, v: float) -> float:
    """Impossible (outside the valid range, non-finite), stuck (record run of one value) and spike checks."""
    count = ic[row, I_Q_COUNT]
    warm = count > p[P_WARMUP]
    impossible = 1.0 if (v < f[row, F_VMIN] or v > f[row, F_VMAX] or not math.isfinite(v)) else 0.0
    last = f[row, F_Q_LAST_VALUE]
    run = ic[row, I_Q_RUN] + 1 if v == last else 1
    longest = ic[row, I_Q_LONGEST]
    min_run = p[P_STUCK_MIN_RUN]
    stuck = 0.0
    if warm and run >= min_run and run > longest:
        stuck = 1.0 - max(longest, min_run - 1.0) / max(run, 1)
    step = v - last
    last_step = f[row, F_Q_LAST_STEP]
    scale = max(f[row, F_Q_STEP_SCALE], 1e-9)
    prev_jump = abs(last_step) / scale
    spike = 0.0
    if warm and np.sign(step) == -np.sign(last_step) and prev_jump > p[P_SPIKE_Z] and abs(step) > 0.5 * abs(last_step):
        spike = 1.0 - p[P_SPIKE_Z] / max(prev_jump, p[P_SPIKE_Z])
    finite = math.isfinite(step)
    rate = max(1.0 / (count + 1.0), p[P_STEP_RATE])
    f[row, F_Q_STEP_SCALE] += rate * ((abs(step) if finite else 0.0) - f[row, F_Q_STEP_SCALE])
    gap = (t - ic[row, I_Q_LAST_TS]) / NS_PER_S
    spacing = f[row, F_Q_SPACING]
    f[row, F_Q_SPACING] = 0.0 if count == 0 else (gap if spacing == 0 else spacing + 0.05 * (gap - spacing))
    if run == 1 and count > 0:
        ic[row, I_Q_LONGEST] = max(longest, ic[row, I_Q_RUN])
    ic[row, I_Q_RUN] = run
    f[row, F_Q_LAST_STEP] = step if finite else 0.0
    f[row, F_Q_LAST_VALUE] = v
    ic[row, I_Q_LAST_TS] = t
    ic[row, I_Q_COUNT] = count + 1
    f[row, F_IMPOSSIBLE] = impossible
    f[row, F_STUCK] = stuck
    f[row, F_SPIKE] = spike
    return max(max(impossible, stuck), spike)


@nb.njit(cache=True, inline="always", error_model="numpy")
def _onset(f: np.ndarray, ic: np.ndarray, blocks: np.ndarray, row: int, u: float, window: float, c_max: int,
           c_fill: int, margin: float) -> float:
    """``u`` where it beats every score of the last ``window`` readings (kept as block maxima) by more than
    ``margin``, else 0: a score that creeps up reading by reading is one detection, not one per reading."""
    n_blocks = blocks.shape[1]
    peak = f[row, c_max]
    for j in range(n_blocks):
        peak = max(peak, blocks[row, j])
    onset = u if u > peak + margin else 0.0
    block_len = max(int(window) // n_blocks, 1)
    current = max(f[row, c_max], u)
    fill = ic[row, c_fill] + 1
    if fill >= block_len:
        for j in range(n_blocks - 1, 0, -1):
            blocks[row, j] = blocks[row, j - 1]
        blocks[row, 0] = current
        f[row, c_max] = 0.0
        ic[row, c_fill] = 0
    else:
        f[row, c_max] = current
        ic[row, c_fill] = fill
    return onset


@nb.njit(cache=True, inline="always", error_model="numpy")
def _calibrate(u: float, point: float, target: float) -> float:
    """Monotone map of [0, 1] onto itself taking ``point`` to ``target`` (linear on each side)."""
    if point <= 0.0 or point >= 1.0 or point == target:
        return u
    if u <= point:
        return u * target / point
    return target + (u - point) * (1.0 - target) / (1.0 - point)


@nb.njit(cache=True, inline="always", error_model="numpy")
def _rest(p: np.ndarray, ic: np.ndarray, row: int, u: float) -> float:
    """Rest after a detection: the (uncalibrated) combined score ``u`` of the ``rest`` readings after a
    detection is halved where it reaches the detection point again; a detection (calibrated score at or above
    the decision threshold, i.e. ``u >= decision_point``) outside a rest starts one. Repeats a few readings
    apart (a score creeping past an onset rule's margin, or two mechanisms in turn) are one event."""
    detected = _calibrate(u, p[P_DECISION_POINT], p[P_DECISION_SCORE]) >= p[P_DECISION_SCORE]
    left = ic[row, I_REST_LEFT]
    if left > 0:
        ic[row, I_REST_LEFT] = left - 1
        return 0.5 * u if detected else u
    if detected and p[P_REST] >= 1.0:
        ic[row, I_REST_LEFT] = int(p[P_REST])
    return u


@nb.njit(cache=True, inline="always", error_model="numpy")
def _routine(p: np.ndarray, ic: np.ndarray, row: int, z: float) -> bool:
    """Whether this reading belongs to a *routine spike*: a spike (``z > spike_z``) whose onset came on the
    schedule of the last ones (the last ``ROUTINE_INTERVALS`` intervals between spike onsets agree within
    ``max(routine_tolerance * median, 2)`` readings of their median, and so does the interval to this onset).
    A spike that recurs on its period is the series' routine, even a little higher than before; one off its
    schedule is not. Positions are the series' reading count (``I_COUNT``, this reading included)."""
    c = ic[row, I_COUNT]
    last = ic[row, I_SPIKE_LAST]
    if not z > p[P_SPIKE_Z]:
        ic[row, I_ROUTINE] = 0
        return False
    if last == 0 or c - last > 2:  # the onset of a new spike
        m = ic[row, I_ONSET_N]
        ok = False
        if m >= ROUTINE_INTERVALS + 1:
            a = ic[row, I_ONSETS] - ic[row, I_ONSET_1]
            b = ic[row, I_ONSET_1] - ic[row, I_ONSET_2]
            d = ic[row, I_ONSET_2] - ic[row, I_ONSET_3]
            med = max(min(a, b), min(max(a, b), d))
            tol = max(p[P_ROUTINE_TOLERANCE] * med, ROUTINE_MIN_TOLERANCE)
            ok = (abs(a - med) <= tol and abs(b - med) <= tol and abs(d - med) <= tol
                  and abs(c - ic[row, I_ONSETS] - med) <= tol)
        ic[row, I_ROUTINE] = 1 if ok else 0
        for j in range(I_ONSET_3, I_ONSETS, -1):
            ic[row, j] = ic[row, j - 1]
        ic[row, I_ONSETS] = c
        ic[row, I_ONSET_N] = min(m + 1, ROUTINE_INTERVALS + 1)
    ic[row, I_SPIKE_LAST] = c
    return ic[row, I_ROUTINE] == 1


@nb.njit(cache=True, inline="always", error_model="numpy")
def _record(p: np.ndarray, f: np.ndarray, ic: np.ndarray, row: int, t: int, v: float) -> float:
    """How far ``v`` lies beyond the series' whole past range, in units of that range (0 inside it).

    A new extreme is what many real incidents look like in a series that has a routine of bursts: the burst
    is normal, one higher than any before is not. Scored after ``record_warmup`` readings and
    ``record_warmup_s`` seconds of event time (before that the range is still being learned: a daily cycle
    sets a new extreme every hour of its first day, and in plain noise new extremes come 2 in n at reading n).
    The caller counts it only where the seasonal residual is at least ``record_min_z`` (a new extreme where the
    baseline expects the reading is a level that moved and took the range along: no news).
    Once scored, the range learns like the baseline, clipped: a reading extends it by at most ``record_clip``
    times its width (0: no limit), so one wild reading (an anomaly, a glitch) does not widen the range for the
    rest of the series' life and hide every later, smaller new extreme; a lasting new level still walks the
    range out, the width growing by up to ``1 + record_clip`` times per reading.
    """
    seen = ic[row, I_COUNT]  # readings learned by the baseline, this one included
    if seen <= 1:
        f[row, F_HIGH] = v
        f[row, F_LOW] = v
        ic[row, I_FIRST_TS] = t
        return 0.0
    high = f[row, F_HIGH]
    low = f[row, F_LOW]
    novelty = 0.0
    learned = seen > p[P_RECORD_WARMUP] and (t - ic[row, I_FIRST_TS]) >= p[P_RECORD_WARMUP_S] * NS_PER_S
    span = max(high - low, 1e-9 * max(abs(high), 1.0))
    if learned:
        if p[P_RECORD_RATE_LIMIT] > 0.0:
            novelty = _routine_records(p, f, row, (v - high) / span, (low - v) / span)
        else:
            novelty = max((v - high) / span, (low - v) / span, 0.0)
    if p[P_RECORD_RATE_LIMIT] > 0.0:  # the rates are learned only with the rule on (off: no cost per reading)
        rate = 1.0 / p[P_RECORD_RATE_READINGS]
        f[row, F_RECORD_RATE_HIGH] += rate * ((1.0 if v > high else 0.0) - f[row, F_RECORD_RATE_HIGH])
        f[row, F_RECORD_RATE_LOW] += rate * ((1.0 if v < low else 0.0) - f[row, F_RECORD_RATE_LOW])
    clip = p[P_RECORD_CLIP]
    if learned and clip > 0.0:  # a reading extends the learned range by at most ``record_clip`` widths
        f[row, F_HIGH] = max(high, min(v, high + clip * span))
        f[row, F_LOW] = min(low, max(v, low - clip * span))
    else:
        f[row, F_HIGH] = max(high, v)
        f[row, F_LOW] = min(low, v)
    return novelty


@nb.njit(cache=True, inline="always", error_model="numpy")
def _routine_records(p: np.ndarray, f: np.ndarray, row: int, above: float, below: float) -> float:
    """The new extreme's novelty (``above`` the past high, ``below`` the past low, in units of the range) with
    each side counted only while new extremes on that side are rare for the series: its running rate of
    records (the share of readings that set one, over about ``record_rate_readings`` readings, before this
    reading) at most ``record_rate_limit``. In a stationary series records thin out (~1/n per side at reading
    n); on a trend or a random walk they come at a steady rate, and one more is the series' routine, not news.
    """
    limit = p[P_RECORD_RATE_LIMIT]
    if f[row, F_RECORD_RATE_HIGH] > limit:
        above = 0.0
    if f[row, F_RECORD_RATE_LOW] > limit:
        below = 0.0
    return max(above, below, 0.0)


@nb.njit(cache=True, inline="always", error_model="numpy")
def _regime(p: np.ndarray, f: np.ndarray, ic: np.ndarray, row: int, t: int, v: float) -> float:
    """How far the series' volatility regime lies beyond every regime of its past, in units of their range.

    The regime is ``log((short + e) / (long + e))``, ``short`` and ``long`` running means of the absolute step
    ``|v - previous v|`` over about ``regime_short`` and ``regime_long`` readings (``e = 1e-3 long``): 0 while
    the series moves as it usually does, up when it turns jumpy (bursts come denser), down when it goes quiet
    (a feed that stops varying, a stuck process). Like the new extreme, only a regime beyond all earlier
    ones scores: a series that alternates between calm and busy learns both. Its range is learned from
    ``regime_warmup / 2`` readings on and scored from ``regime_warmup`` readings and ``record_warmup_s`` of event
    time on. Own count (``I_REGIME_COUNT``: finite readings seen), so the state starts fresh per series.
    Once the ratio is computed (past ``regime_short`` readings), a step counts at most ``regime_step_clip``
    times the long mean step (0: no limit): one wild reading (a glitch, a spike a hundred times the usual
    step) would otherwise lift the short mean alone, set a regime beyond every earlier one, and widen the
    regimes' range so that a later real change of volatility lies inside it. Routine bursts, well below the
    clip, count in full.
    """
    k = ic[row, I_REGIME_COUNT]  # finite readings before this one
    ic[row, I_REGIME_COUNT] = k + 1
    last = f[row, F_REGIME_LAST]
    f[row, F_REGIME_LAST] = v
    if k == 0:
        return 0.0
    step = abs(v - last)
    short = f[row, F_REGIME_SHORT]
    long = f[row, F_REGIME_LONG]
    if p[P_REGIME_STEP_CLIP] > 0.0 and k > p[P_REGIME_SHORT]:  # one wild step does not make a regime
        step = min(step, p[P_REGIME_STEP_CLIP] * long)
    short += max(1.0 / k, 1.0 / p[P_REGIME_SHORT]) * (step - short)
    long += max(1.0 / k, 1.0 / p[P_REGIME_LONG]) * (step - long)
    f[row, F_REGIME_SHORT] = short
    f[row, F_REGIME_LONG] = long
    if k <= p[P_REGIME_SHORT]:
        return 0.0
    eps = 1e-3 * long + 1e-12
    ratio = math.log((short + eps) / (long + eps))
    f[row, F_REGIME_RATIO] = ratio
    if abs(ratio) < p[P_REGIME_FLOOR]:  # a change of volatility by less than e^floor is no new regime
        ratio = 0.0
    high = f[row, F_REGIME_HIGH]
    low = f[row, F_REGIME_LOW]
    learn_from = int(p[P_REGIME_WARMUP]) // 2
    novelty = 0.0
    span = max(high - low, p[P_REGIME_FLOOR])  # a calm series' range is ~0: judged in units of the floor
    if k >= p[P_REGIME_WARMUP] and span > 0.0 and (t - ic[row, I_FIRST_TS]) >= p[P_RECORD_WARMUP_S] * NS_PER_S:
        if p[P_REGIME_BY_SIDE] > 0.0:
            floor_ = p[P_REGIME_FLOOR]
            novelty = max((ratio - high) / max(high, floor_), (low - ratio) / max(-low, floor_), 0.0)
        else:
            novelty = max((ratio - high) / span, (low - ratio) / span, 0.0)
    if k == learn_from:
        f[row, F_REGIME_HIGH] = ratio
        f[row, F_REGIME_LOW] = ratio
    elif k > learn_from:
        f[row, F_REGIME_HIGH] = max(high, ratio)
        f[row, F_REGIME_LOW] = min(low, ratio)
    return novelty


@nb.njit(cache=True, inline="always", error_model="numpy")
def _peek(p: np.ndarray, f: np.ndarray, ic: np.ndarray, hist: np.ndarray, row: int, raw: float,
          z: float) -> float:
    """The point score a residual ``z`` (``raw = |z|``) would get against the series' calibrations now, nothing
    learned (the judging parts of :func:`_tail` and :func:`_surprise`)."""
    start = p[P_CAL_START]
    u = _tail_u(_powered(raw, p[P_POWER]), f[row, F_C_CENTRE], f[row, F_C_SPREAD])
    tail = _squash(u if ic[row, I_C_COUNT] >= start else 0.0, p[P_HALF])
    bpo = p[P_BINS_PER_OCTAVE]
    z0 = p[P_S_Z0]
    position = math.log2(max(abs(z), z0) / z0) * bpo
    surprise = 0.0
    if ic[row, I_S_SEEN] >= start:
        surprise = _surprise_of(hist[row], 1 if z < 0 else 0, position, 2.0 * bpo, p[P_PRIOR], f[row, F_S_TOTAL])
    return math.sqrt(tail * _squash(surprise, p[P_S_HALF]))


@nb.njit(cache=True, inline="always", error_model="numpy")
def _seasonal(p: np.ndarray, f: np.ndarray, ic: np.ndarray, hist: np.ndarray, run_hist: np.ndarray, row: int,
              raw: float, z: float) -> tuple[float, float]:
    """The point and the run score of the residual of a series past its warm-up (both calibrations).

    Run only past the warm-up (before it both are 0 and nothing is learned); one guarded block in the loop
    instead of a guard in each step compiles to a faster warm-up path (city shape of
    ``benchmarks/bench_detectors.py``, mostly warm-up readings: ~15 % more readings per CPU s)."""
    start = p[P_CAL_START]
    bpo = p[P_BINS_PER_OCTAVE]
    z0 = p[P_S_Z0]
    judged = -1.0
    if p[P_PHASE_TOLERANCE] > 0.0:
        zn = min(max(f[row, F_Z_NEAR], -p[P_Z_CAP]), p[P_Z_CAP])
        if abs(zn) < abs(z):  # the reading judged at the neighbouring phase, before the calibrations learn it
            judged = _peek(p, f, ic, hist, row, abs(zn), zn)
    tail = _squash(_tail(f, ic, row, F_C_CENTRE, F_C_SPREAD, I_C_COUNT, raw, p[P_POWER], p[P_CAL_RATE],
                         start, True), p[P_HALF])
    position = math.log2(max(abs(z), z0) / z0) * bpo
    side = 1 if z < 0 else 0
    surprise = _surprise(hist[row], side, f, ic, row, F_S_TOTAL, I_S_SEEN, position, 2.0 * bpo,
                         p[P_S_RATE], p[P_PRIOR], start, True)
    point = math.sqrt(tail * _squash(surprise, p[P_S_HALF]))
    if judged >= 0.0:  # a residual the neighbouring phase explains: the smaller of the two point scores
        point = min(point, judged)
    # the run: running mean of the (capped) surprise, calibrated like the point score
    ready = ic[row, I_S_SEEN] > start
    mean = f[row, F_RUN_MEAN]
    if ready:
        mean = mean + (min(surprise, p[P_RUN_CAP]) - mean) / p[P_RUN_LENGTH]
        f[row, F_RUN_MEAN] = mean
    run_tail = _squash(_tail(f, ic, row, F_RC_CENTRE, F_RC_SPREAD, I_RC_COUNT, mean, 1.0, p[P_CAL_RATE],
                             start, ready), p[P_HALF])
    run_rank = _surprise(run_hist[row], 0, f, ic, row, F_RS_TOTAL, I_RS_SEEN, 4.0 * mean, 4.0, p[P_S_RATE],
                         p[P_PRIOR], start, ready)
    run = math.sqrt(run_tail * _squash(run_rank, p[P_S_HALF]))
    return point, run


@nb.njit(cache=True, nogil=True, error_model="numpy")
def score_batch(p: np.ndarray, series: np.ndarray, ts: np.ndarray, values: np.ndarray, f: np.ndarray,
                ic: np.ndarray, mid: np.ndarray, dev: np.ndarray, slot_count: np.ndarray, hist: np.ndarray,
                run_hist: np.ndarray, blocks: np.ndarray, rec_blocks: np.ndarray,
                regime_blocks: np.ndarray) -> np.ndarray:
    """Score every reading in batch order (causal per series), updating the state in place."""
    out = np.empty(series.shape[0])
    warmup = p[P_WARMUP]
    z_cap = p[P_Z_CAP]
    for k in range(series.shape[0]):
        row = series[k]
        t = ts[k]
        v = values[k]
        if not math.isfinite(v):  # impossible: scored by the quality checks, never learned by the baseline
            quality = _calibrate(_rest(p, ic, row, p[P_QUALITY_WEIGHT] * _quality(p, f, ic, row, t, v)),
                                 p[P_DECISION_POINT], p[P_DECISION_SCORE])
            f[row, F_LEVEL_SCORE] = 0.0
            f[row, F_SCORE] = quality
            ic[row, I_DRIVER] = DRIVER_QUALITY
            f[row, F_VALUE] = v
            out[k] = quality
            continue
        raw = min(_baseline(p, f, ic, mid, dev, slot_count, row, t, v), z_cap)
        z = min(max(f[row, F_Z], -z_cap), z_cap)
        point, run = 0.0, 0.0  # in the warm-up both calibrations are 0 and learn nothing: not computed
        if ic[row, I_COUNT] > warmup + 1:
            point, run = _seasonal(p, f, ic, hist, run_hist, row, raw, z)
        seasonal = max(point, run)
        quality = p[P_QUALITY_WEIGHT] * _quality(p, f, ic, row, t, v)
        # one onset rule for the seasonal and the data-quality score: a stuck run that keeps growing, like a
        # lasting deviation, is one detection, not one per reading
        weighted = p[P_SEASONAL_WEIGHT] * seasonal
        onset = _onset(f, ic, blocks, row, max(weighted, quality), p[P_REFRACTORY], F_BLOCK_MAX, I_BLOCK_FILL,
                       p[P_ONSET_MARGIN])
        record = _squash(_record(p, f, ic, row, t, v), p[P_RECORD_HALF])
        if abs(z) < p[P_RECORD_MIN_Z]:  # a new extreme the seasonal baseline expects (the level moved and took
            record = 0.0                 # the range along: a trend, a higher daily peak) is no news
        record_onset = _onset(f, ic, rec_blocks, row, record, p[P_RECORD_REFRACTORY], F_REC_BLOCK_MAX,
                              I_REC_BLOCK_FILL, p[P_ONSET_MARGIN])
        regime = _squash(_regime(p, f, ic, row, t, v), p[P_REGIME_HALF])
        if f[row, F_STUCK] > 0.0:  # a record run of one value is the data-quality check's (a sensor fault alone
            regime = 0.0           # never makes an anomaly), not a quiet regime
        regime_onset = p[P_REGIME_WEIGHT] * _onset(f, ic, regime_blocks, row, regime, p[P_REGIME_REFRACTORY],
                                                   F_REGIME_BLOCK_MAX, I_REGIME_BLOCK_FILL, p[P_ONSET_MARGIN])
        point_at, target = p[P_DECISION_POINT], p[P_DECISION_SCORE]
        combined = max(max(onset, record_onset), regime_onset)
        level = max(max(weighted, record), p[P_REGIME_WEIGHT] * regime)
        if p[P_ROUTINE_TOLERANCE] > 0.0 and _routine(p, ic, row, f[row, F_Z]):
            combined = 0.0  # a spike on its schedule is the routine: scored by no mechanism
            level = 0.0
        score = _calibrate(_rest(p, ic, row, combined), point_at, target)
        f[row, F_LEVEL_SCORE] = _calibrate(level, point_at, target)
        f[row, F_RECORD] = record
        f[row, F_SCORE] = score
        if regime_onset > max(onset, record_onset):
            ic[row, I_DRIVER] = DRIVER_REGIME
        elif record_onset > onset:
            ic[row, I_DRIVER] = DRIVER_RECORD
        elif quality > weighted:
            ic[row, I_DRIVER] = DRIVER_QUALITY
        else:
            ic[row, I_DRIVER] = DRIVER_SEASONAL
        ic[row, I_RUN_DRIVEN] = 1 if run > point else 0
        f[row, F_VALUE] = v
        out[k] = score
    return out


def parameters(**values: float) -> npt.NDArray[np.float64]:
    """The parameter vector from keyword values named like the ``P_*`` constants (lower case, no prefix)."""
    p = np.zeros(P_COUNT)
    names = {name[2:].lower(): idx for name, idx in globals().items()
             if name.startswith("P_") and name != "P_COUNT" and isinstance(idx, int)}
    for key, value in values.items():
        p[names[key]] = value
    return p
