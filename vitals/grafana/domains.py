"""The second screen (uid ``city-domains``): each indicator's worst current value in the city, one row per domain
(water, power, gas, telecom, roads, bridges, tunnels, rail first, then the rest of the catalog), coloured by its
catalog thresholds in the unit people read; the top anomalies and the warnings over time on top.

The city wall (``city-wall``) stays on one screen; this is where the domain detail lives (a second kiosk
screen, or the next dashboard of a playlist, see docs/dashboards.md).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as dm

from vitals.catalog.model import Catalog
from vitals.grafana import panels as p
from vitals.grafana.wall import DOMAINS_UID, UID, anomalies_and_trend, indicator_panel


def domain_order(catalog: Catalog) -> list[str]:
    present = catalog.domain_names
    return [d for d in p.WALL_DOMAIN_ORDER if d in present] + [d for d in present if d not in p.WALL_DOMAIN_ORDER]


def build_domains(catalog: Catalog) -> dash.Dashboard:
    board = (dash.Dashboard(p.title("分领域生命体征", "City vitals by domain")).uid(DOMAINS_UID)
             .description("Second screen of the wall: every indicator's worst value in the city, by domain.")
             .tags(["city-vitals", "wall"]).refresh("10s").time("now-1h", "now").timezone("browser").readonly()
             .tooltip(dm.DashboardCursorSync.CROSSHAIR).timepicker(dash.TimePicker().hidden(True))
             .link(p.link(p.title("城市总览", "City wall"), f"/d/{UID}"))
             .link(p.link(p.title("区县详情", "District"), "/d/district")))
    for panel in anomalies_and_trend():
        board = board.with_panel(panel)
    for domain in domain_order(catalog):
        indicators = [i for i in catalog.indicators if i.domain == domain]
        board = board.with_row(dash.Row(p.domain_title(domain)))
        width = max(4, min(8, 24 // len(indicators)))
        for ind in indicators:
            board = board.with_panel(indicator_panel(ind, width))
    return board
