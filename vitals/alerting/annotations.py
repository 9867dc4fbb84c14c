"""Annotation templates (Go text/template, expanded by Prometheus for each alert). Names, units and
thresholds come from the constant catalog series (see :mod:`vitals.alerting.catalog_rules`) through the
``query`` template function; current values, forecasts and explanations from the exporter's series. Each
lookup falls back to the raw label or ``n/a``, so a missing series never hides an alert.

The notification templates (Alertmanager) build Chinese and English messages from these atomic annotations.
"""

from __future__ import annotations

from vitals import metric_names as m
from vitals.alerting import names

NA = "n/a"
VALUE_FORMAT = "%.4g"  # measured values, forecasts, thresholds from the exporter


def go_string(text: str) -> str:
    """A Go double-quoted string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lookup(selector_format: str, args: str, then: str, fallback: str) -> str:
    """``then`` with the query result as dot, or ``fallback`` when the query returns nothing."""
    source = f"printf {go_string(selector_format)} {args}" if args else go_string(selector_format)
    return "{{ with " + source + " | query }}" + then + "{{ else }}" + fallback + "{{ end }}"


def first_label(label: str) -> str:
    return "{{ . | first | label " + go_string(label) + " }}"


def first_value(fmt: str = VALUE_FORMAT) -> str:
    return "{{ . | first | value | printf " + go_string(fmt) + " }}"


def value_of_alert(fmt: str) -> str:
    return "{{ printf " + go_string(fmt) + " $value }}"


def label(name: str) -> str:
    return "{{ $labels." + name + " }}"


# ---- places -------------------------------------------------------------------------------------------------
def street_place(lang: str) -> str:
    return lookup(names.AREA_INFO + "{street=%q}", "$labels.street", first_label(f"place_{lang}"),
                  label("district") + "/" + label("street"))


def district_place(lang: str) -> str:
    return lookup(names.AREA_INFO + '{scope="district",district=%q}', "$labels.district",
                  first_label(f"place_{lang}"), label("district"))


def city_place(lang: str) -> str:
    return lookup(names.AREA_INFO + '{scope="city"}', "", first_label(f"place_{lang}"), "city")


# ---- indicator facts from the catalog ----------------------------------------------------------------------
def indicator_fact(fact: str, fallback: str) -> str:
    return lookup(names.INDICATOR_INFO + "{indicator=%q}", "$labels.indicator", first_label(fact), fallback)


def indicator_names() -> dict[str, str]:
    return {"indicator_zh": indicator_fact("name_zh", label("indicator")),
            "indicator_en": indicator_fact("name_en", label("indicator"))}


def threshold(level: str) -> str:
    return indicator_fact(f"condition_{level}", NA)


# ---- series of the exporter -------------------------------------------------------------------------------
def current_value() -> str:
    """The latest reading of the alert's series: the metric name is the indicator's, from the catalog."""
    inner = lookup('%s{street=%q,stat="last"}', '(. | first | label "metric") $labels.street', first_value(), NA)
    return indicator_fact_raw(inner)


def indicator_fact_raw(then: str) -> str:
    return lookup(names.INDICATOR_INFO + "{indicator=%q}", "$labels.indicator", then, NA)


def street_series(metric: str, matchers: str, then: str, fallback: str = NA) -> str:
    """``then`` on ``metric{indicator, street, <matchers>}`` of the alert's series, else ``fallback``."""
    extra = f",{matchers}" if matchers else ""
    return lookup(metric + "{indicator=%q,street=%q" + extra + "}", "$labels.indicator $labels.street", then,
                  fallback)


def street_or_district(metric: str, matchers: str) -> str:
    """The street's value of ``metric``, else the district's (the exporter may export a family per
    indicator and district only, without a street label), marked "(district)"."""
    extra = f",{matchers}" if matchers else ""
    district = lookup(metric + '{indicator=%q,district=%q,street=""' + extra + "}",
                      "$labels.indicator $labels.district", first_value() + " (district)", NA)
    return street_series(metric, matchers, first_value(), district)


def forecast(horizon: str) -> str:
    return street_or_district(m.FORECAST_VALUE, f'horizon="{horizon}"')


def expected_value() -> str:
    return street_or_district(m.EXPECTED_VALUE, 'bound="mid"')


def explanation() -> str:
    return street_series(m.ANOMALY_EXPLANATION, "", first_label("detector") + "/" + first_label("feature"))


def area_health(scope: str) -> str:
    """The health index (0..100) of the alert's district, or of the city, as the pipeline exports it."""
    if scope == "city":
        return lookup(m.HEALTH_INDEX + '{scope="city"}', "", first_value("%.0f"), NA)
    return lookup(m.HEALTH_INDEX + '{scope="district",district=%q}', "$labels.district", first_value("%.0f"), NA)


def streets_at_level(level: str) -> str:
    return lookup(names.STREETS_AT_OR_ABOVE + '{indicator=%q,district=%q,severity="' + level + '"}',
                  "$labels.indicator $labels.district", first_value("%.0f"), NA)


# ---- dashboard links ----------------------------------------------------------------------------------------
def dashboard_link(grafana_url: str, uid: str, variables: tuple[tuple[str, str], ...] = ()) -> str:
    """A Grafana link setting each dashboard variable from an alert label."""
    query = "&".join(f"var-{variable}={label(name)}" for variable, name in variables)
    return f"{grafana_url.rstrip('/')}/d/{uid}" + (f"?{query}" if query else "")


def street_annotations(grafana_url: str) -> dict[str, str]:
    """Place, indicator and link annotations shared by every per-series alert."""
    return {
        "place_zh": street_place("zh"), "place_en": street_place("en"), **indicator_names(),
        "dashboard": dashboard_link(grafana_url, names.DASHBOARD_INDICATOR, names.INDICATOR_DASHBOARD_VARIABLES),
    }
