"""Names and label sets of every metric city-vitals exports: the contract between the exporter, the alert
rules and the dashboards. Per-indicator value metrics take their names from the catalog (``Indicator.metric``).

Label conventions (bounded): ``indicator``, ``domain``, ``district``, ``street``, ``scope``
(street|district|city), ``window`` (5m|1h|24h), ``stat``, ``horizon`` (15m|30m|1h: 3, 6, 12 steps of the catalog's
grid), ``reason``, ``family``, ``version``, ``detector``, ``worker``. No per-reading or per-sensor labels.
"""

from __future__ import annotations

# ---- per-series vitals (street level), one family per indicator named by the catalog ---------------------
# <Indicator.metric>{indicator, district, street, stat, window}
#   stat=last   window="now"   latest value
#   stat=mean|min|max|p95|rate|ewma  window=5m|1h|24h
VALUE_STATS: tuple[str, ...] = ("last", "mean", "min", "max", "p95", "rate", "ewma")
WINDOWS: tuple[str, ...] = ("5m", "1h", "24h")

# ---- warning levels and health -----------------------------------------------------------------------------
WARNING_LEVEL = "vitals_warning_level"          # {indicator, domain, district, street} 0..4 per series
AREA_WARNING_LEVEL = "vitals_area_warning_level"  # {scope, district, street} worst level beneath, with hysteresis
HEALTH_INDEX = "vitals_health_index"            # {scope, district, street} 0..100 (street/district/city)
THRESHOLD = "vitals_threshold"                  # {indicator, level} the catalog thresholds, for dashboards/rules

# ---- data quality ---------------------------------------------------------------------------------------------
SECONDS_SINCE_LAST_READING = "vitals_seconds_since_last_reading"  # {indicator, district, street}
SENSOR_STUCK = "vitals_sensor_stuck"            # {indicator, district, street} 1 when no change for N cadences
DROPOUT_RATIO = "vitals_dropout_ratio"          # {indicator, district} share of expected readings missing

# ---- anomaly and early warning ------------------------------------------------------------------------------
ANOMALY_SCORE = "vitals_anomaly_score"          # {indicator, district, street} calibrated to [0, 1]
EXPECTED_VALUE = "vitals_expected_value"        # {indicator, district, street, bound=mid|lower|upper}
FORECAST_VALUE = "vitals_forecast_value"        # {indicator, district, street, horizon}
FORECAST_LEVEL = "vitals_forecast_warning_level"  # {indicator, district, street, horizon} 0..4
SECONDS_TO_THRESHOLD = "vitals_seconds_to_threshold"  # {indicator, district, street, level}
ANOMALY_EXPLANATION = "vitals_anomaly_explanation_info"  # {indicator, district, street, detector, feature}
MODEL_INFO = "vitals_model_info"                # {family, version}
MODEL_LOAD_FAILED = "vitals_model_load_failed"  # {family, version} 1 while the promoted version cannot be loaded

# ---- pipeline health ------------------------------------------------------------------------------------------
READINGS = "vitals_readings_total"              # {worker} accepted readings (counter)
READINGS_REJECTED = "vitals_readings_rejected_total"  # {reason} (counter); reasons in vitals.batches
READINGS_LATE = "vitals_readings_late_total"    # counter
READINGS_DUPLICATE = "vitals_readings_duplicate_total"  # counter
READINGS_PLANNED_WORKS = "vitals_readings_planned_works_total"  # counter: accepted, kept from the detector
PLANNED_WORKS_ACTIVE = "vitals_planned_works_active"  # gauge {works, district}: 1 in progress, 0 still to come
WATERMARK = "vitals_watermark_timestamp_seconds"  # {partition}
LAST_EVENT = "vitals_last_event_timestamp_seconds"  # {worker}
LAG = "vitals_lag_seconds"                      # {worker} now - last event time
BATCH_SECONDS = "vitals_batch_processing_seconds"  # histogram
STATE_SERIES = "vitals_state_series"            # {worker}
STATE_BYTES = "vitals_state_bytes"              # {worker}
UP = "vitals_pipeline_up"                       # 1 while the flow runs

# ---- appended by the exporter (vitals/exporter; reference: docs/metrics.md) -----------------------------------
AREA_INFO = "vitals_area_info"                  # {scope, district, street, name_zh, name_en, lat, lon} value 1
INDICATOR_INFO = "vitals_indicator_info"        # {indicator, domain, name_zh, name_en, unit, metric} value 1
READINGS_IN = "vitals_readings_in_total"        # {partition} readings received (accepted + rejected), counter
READINGS_RATE = "vitals_readings_in_per_second"  # readings received per second (all partitions, recent window)
EXPORT_RENDER_SECONDS = "vitals_exporter_render_seconds"  # duration of the last render of the vitals text
EXPORT_SAMPLES = "vitals_exporter_samples"      # samples in the last render of the vitals text
EXPORT_BYTES = "vitals_exporter_bytes"          # bytes of the last render of the vitals text

# ---- decision thresholds shared by the exporter, the alert rules and the dashboards ---------------------------
# The default detector's decision threshold on the calibrated anomaly score (NAB-tuned, standard profile; see
# docs/detectors.md): series at or above it are exported with their score and explanation and raise VitalsAnomaly.
ANOMALY_THRESHOLD = 0.40
