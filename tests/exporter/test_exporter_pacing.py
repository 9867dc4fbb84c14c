"""Scrape pacing (fresh views within a budget while the flow is saturated) and the cached gzip body."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from vitals.catalog import Catalog
from vitals.exporter import ExportHub
from vitals.exporter.hub import ScrapeBody
from vitals.exporter.pacing import ScrapePacer
from vitals.exporter.testing import synthetic_view


def _busy_clock(busy_share: float) -> Callable[[], float]:
    """A fake cumulative busy clock: the flow is busy ``busy_share`` of the wall time."""
    started = time.monotonic()
    return lambda: busy_share * (time.monotonic() - started)


def _pacer_with_busy(busy_share: float) -> ScrapePacer:
    return ScrapePacer(budget=0.1, min_interval_s=0.05, busy=_busy_clock(busy_share))


def test_an_idle_flow_gets_fresh_views_at_every_scrape() -> None:
    pacer = _pacer_with_busy(0.05)
    assert pacer.due()
    pacer.charge(0.2)  # expensive scrapes, but the flow has idle time to pay for them
    time.sleep(0.01)
    assert all(pacer.due() for _ in range(5))
    assert pacer.served_cached == 0


def test_a_saturated_flow_gets_fresh_views_within_the_budget() -> None:
    pacer = _pacer_with_busy(0.9)
    assert pacer.due()  # the first scrape is always fresh
    pacer.charge(0.1)  # a fresh scrape cost 0.1 s: at a 10 % budget the next one is due 0.9 s later
    assert abs(pacer.interval_s() - 0.9) < 1e-9
    time.sleep(0.02)
    assert not pacer.due() and pacer.served_cached == 1
    time.sleep(0.9)
    assert pacer.due() and pacer.fresh == 2


def test_without_a_busy_signal_every_scrape_is_fresh() -> None:
    pacer = ScrapePacer()
    pacer.due()
    pacer.charge(10.0)
    assert pacer.due() and pacer.due()


def test_hub_serves_current_views_when_the_pacer_says_so(small_catalog: Catalog) -> None:
    calls: list[float] = []
    views = iter([synthetic_view(small_catalog, seed) for seed in range(3)])

    class Flow:  # a Freshener: fresh views on demand, busy 90 % of the time
        busy_seconds = staticmethod(_busy_clock(0.9))

        def freshen(self) -> None:
            calls.append(time.monotonic())
            hub.publish(0, next(views))

    hub = ExportHub(small_catalog, registry=CollectorRegistry(), pacer=ScrapePacer(budget=0.1, min_interval_s=0.05),
                    freshener=Flow())
    first = hub.scrape()
    hub.pacer.charge(1.0)  # pretend that scrape was expensive: no fresh views for 9 s
    second = hub.scrape()
    assert len(calls) == 1 and second == first
    hub.pacer.watch(lambda: 0.0)  # the flow went idle: scrapes are fresh again
    third = hub.scrape()
    assert len(calls) == 2 and third != first


def test_gzip_body_is_the_vitals_member_then_the_registry_member(small_catalog: Catalog) -> None:
    hub = ExportHub(small_catalog, registry=CollectorRegistry())
    hub.publish(0, synthetic_view(small_catalog, 7))
    body = hub.scrape()
    assert isinstance(body, ScrapeBody) and 0 < body.head_len < len(body)
    zipped = body.gzip()
    assert gzip.decompress(zipped) == bytes(body)
    again = hub.scrape()
    assert again.gzip().startswith(hub._gzip_of(hub.render()))  # the vitals member is compressed once per render
    assert gzip.decompress(ScrapeBody(b"plain").gzip()) == b"plain"
