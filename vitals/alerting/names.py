"""Names the generated rules define: alert names, the labels alerts carry, and recording-rule names
(``level:metric:operations``). Dashboards may use the recording rules; the exporter's raw names are in
:mod:`vitals.metric_names`.
"""

from __future__ import annotations

# ---- alert names (alertname label) ---------------------------------------------------------------------------
WARNING_LEVEL = "VitalsWarningLevel"            # one series (indicator x street) at a level; severity=blue..red
DISTRICT_WARNING_LEVEL = "VitalsDistrictWarningLevel"  # an indicator at a level across much of a district
CITY_WARNING_LEVEL = "VitalsCityWarningLevel"   # an indicator at a level district-wide in several districts
EARLY_WARNING = "VitalsEarlyWarning"            # a series predicted to reach a level soon
ANOMALY = "VitalsAnomaly"                       # a series' calibrated anomaly score is high
STALE_DATA = "VitalsStaleData"                  # a series has no reading for several cadences
PIPELINE_DOWN = "VitalsPipelineDown"
PIPELINE_ABSENT = "VitalsPipelineAbsent"
PIPELINE_LAGGING = "VitalsPipelineLagging"
MODEL_NOT_LOADED = "VitalsModelNotLoaded"      # the promoted version of a model family cannot be loaded
CATALOG_MISMATCH = "VitalsCatalogMismatch"      # the pipeline exports indicators or streets the rules do not know

LEVEL_ALERTS: tuple[str, ...] = (WARNING_LEVEL, DISTRICT_WARNING_LEVEL, CITY_WARNING_LEVEL)

# ---- labels every generated alert carries ---------------------------------------------------------------------
# kind: level | early_warning | anomaly | data_quality | pipeline
# scope: street | district | city (for area alerts; absent on pipeline alerts)
# severity: blue | yellow | orange | red (levels, and the predicted level of an early warning)
#           warning | critical (anomalies, data quality, pipeline)
KIND_LEVEL = "level"
KIND_EARLY = "early_warning"
KIND_ANOMALY = "anomaly"
KIND_DATA_QUALITY = "data_quality"
KIND_PIPELINE = "pipeline"

# ---- constant series holding the catalog (generated recording rules) --------------------------------------
# {scope, district, street, name_zh, name_en, place_zh, place_en}
AREA_INFO = "catalog:vitals_area_info:static"
INDICATOR_INFO = "catalog:vitals_indicator_info:static"  # {indicator, domain, metric, name_zh, name_en, unit, ...}
STALE_AFTER = "catalog:vitals_stale_after_seconds:static"  # {indicator, domain} seconds without reading -> stale

# ---- roll-ups street -> district -> city -------------------------------------------------------------------
INDICATOR_DISTRICT_LEVEL_MAX = "indicator_district:vitals_warning_level:max"
DOMAIN_DISTRICT_LEVEL_MAX = "domain_district:vitals_warning_level:max"
DISTRICT_LEVEL_MAX = "district:vitals_warning_level:max"
INDICATOR_LEVEL_MAX = "indicator:vitals_warning_level:max"
DOMAIN_LEVEL_MAX = "domain:vitals_warning_level:max"
CITY_LEVEL_MAX = "city:vitals_warning_level:max"
DISTRICT_SERIES_AT_LEVEL = "district:vitals_warning_level:count_at"  # {district, severity} series exactly at it
CITY_SERIES_AT_LEVEL = "city:vitals_warning_level:count_at"          # {severity}
# {indicator, domain, district, severity}: streets at or above the level, and their share of the district's
STREETS_AT_OR_ABOVE = "indicator_district:vitals_streets_at_or_above_level:count"
STREETS_AT_OR_ABOVE_RATIO = "indicator_district:vitals_streets_at_or_above_level:ratio"
DISTRICT_AREA_LEVEL_MAX = "district:vitals_area_warning_level:max"
CITY_AREA_LEVEL_MAX = "city:vitals_area_warning_level:max"
DISTRICT_HEALTH_MIN = "district:vitals_health_index:min"
CITY_HEALTH_MIN = "city:vitals_health_index:min"
DISTRICT_ANOMALY_MAX = "district:vitals_anomaly_score:max"
INDICATOR_DISTRICT_ANOMALY_MAX = "indicator_district:vitals_anomaly_score:max"
DISTRICT_FORECAST_LEVEL_MAX = "district:vitals_forecast_warning_level:max"  # {district, horizon}
CITY_FORECAST_LEVEL_MAX = "city:vitals_forecast_warning_level:max"          # {horizon}
INDICATOR_DISTRICT_STALE = "indicator_district:vitals_stale_series:count"
JOB_READINGS_RATE = "job:vitals_readings:rate1m"
JOB_REJECTED_RATE = "job_reason:vitals_readings_rejected:rate5m"
JOB_LATE_RATE = "job:vitals_readings_late:rate5m"
JOB_LAG_MAX = "job:vitals_lag_seconds:max"
JOB_BATCH_P99 = "job:vitals_batch_processing_seconds:p99_5m"

# ---- dashboards the annotations link to (uids shared with vitals dashboards build) -----------------------
DASHBOARD_CITY = "city-wall"
DASHBOARD_DISTRICT = "district"
DASHBOARD_INDICATOR = "indicator-detail"
DASHBOARD_PIPELINE = "pipeline-health"
# dashboard variable -> alert label, for the links (indicator detail names the street variable "area")
INDICATOR_DASHBOARD_VARIABLES: tuple[tuple[str, str], ...] = (
    ("indicator", "indicator"), ("district", "district"), ("area", "street"))
DISTRICT_DASHBOARD_VARIABLES: tuple[tuple[str, str], ...] = (("district", "district"),)
