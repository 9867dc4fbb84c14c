# ruff: noqa: E501  (Go templates: one line per message variant reads better than split strings)
"""Notification templates for Alertmanager (Go text/template), Chinese first, then English.

Messages are assembled from the atomic annotations of :mod:`vitals.alerting.annotations`: place, indicator,
value vs threshold, forecast, start (and end) time in the city's local time, and a dashboard link. The
per-district lookups (names, e-mail addresses, WeCom departments) are generated from the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping

from vitals.alerting.options import AlertingOptions
from vitals.catalog import Catalog
from vitals.units import NS_PER_S, duration_words

SEVERITY_ZH = {"red": "红色预警", "orange": "橙色预警", "yellow": "黄色预警", "blue": "蓝色预警",
               "critical": "严重", "warning": "注意"}
SEVERITY_EN = {"red": "RED (I)", "orange": "ORANGE (II)", "yellow": "YELLOW (III)", "blue": "BLUE (IV)",
               "critical": "CRITICAL", "warning": "WARNING"}
KIND_ZH = {"level": "预警", "early_warning": "提前预警", "anomaly": "异常", "data_quality": "数据中断",
           "pipeline": "系统"}
KIND_EN = {"level": "warning level", "early_warning": "early warning", "anomaly": "anomaly",
           "data_quality": "data quality", "pipeline": "pipeline"}
DOMAIN_ZH = {"traffic": "交通", "rail": "轨道", "water": "供水", "drainage": "排水", "flood": "防汛",
             "power": "电力", "gas": "燃气", "telecom": "通信", "bridge": "桥梁", "tunnel": "隧道",
             "air": "空气", "weather": "气象", "hotline": "热线", "emergency": "应急", "crowds": "人群"}


def lookup_template(name: str, table: Mapping[str, str]) -> str:
    """A template mapping its dot (a string) through ``table``; unknown values print as they are."""
    lines = ["{{ define \"" + name + "\" -}}"]
    for i, (key, value) in enumerate(table.items()):
        keyword = "if" if i == 0 else "else if"
        lines.append("{{- " + keyword + ' eq . "' + key + '" }}' + value)
    lines += ["{{- else }}{{ . }}", "{{- end }}" if table else "", "{{- end }}"]
    return "\n".join(line for line in lines if line) + "\n"


def catalog_lookups(catalog: Catalog, options: AlertingOptions) -> str:
    parties = {d.id: options.receivers.wecom_parties.get(d.id, str(100 + i)) for i, d in enumerate(catalog.districts)}
    domain = options.receivers.email_domain
    return "".join([
        lookup_template("vitals.district_zh", {d.id: d.name_zh for d in catalog.districts}),
        lookup_template("vitals.district_en", {d.id: d.name_en for d in catalog.districts}),
        lookup_template("vitals.party_of", parties),
        lookup_template("vitals.domain_zh", DOMAIN_ZH),
        lookup_template("vitals.severity_zh", SEVERITY_ZH),
        lookup_template("vitals.severity_en", SEVERITY_EN),
        lookup_template("vitals.kind_zh", KIND_ZH),
        lookup_template("vitals.kind_en", KIND_EN),
        '{{ define "vitals.district.wecom_party" }}{{ template "vitals.party_of" .GroupLabels.district }}{{ end }}\n',
        '{{ define "vitals.district.email" }}district-{{ .GroupLabels.district }}@' + domain + "{{ end }}\n",
        '{{ define "vitals.street.email" }}street-{{ .GroupLabels.street }}@' + domain + "{{ end }}\n",
    ])


def time_template(offset_hours: float) -> str:
    """Times in the city's local time (Alertmanager's templates know only UTC and the server's zone)."""
    nanos = round(offset_hours * 3600) * NS_PER_S
    zone = f"UTC{offset_hours:+g}"
    return ('{{ define "vitals.time" }}{{ (.Add ' + str(nanos) + ').Format "2006-01-02 15:04" }} '
            + zone + "{{ end }}\n")


ALERT_ZH = """\
{{ define "vitals.alert_zh" -}}
{{ if eq .Status "resolved" }}[已恢复] {{ end -}}
{{ if eq .Labels.kind "level" -}}
【{{ template "vitals.severity_zh" .Labels.severity }}】{{ .Annotations.place_zh }} {{ .Annotations.indicator_zh }}
{{- if eq .Labels.scope "street" }}：当前 {{ .Annotations.value }} {{ .Annotations.unit }}，阈值 {{ .Annotations.threshold }}，HORIZON_ZH预测 {{ .Annotations.forecast }}
{{- else if eq .Labels.scope "district" }}：{{ .Annotations.share }}% 的街道（{{ .Annotations.streets }} 个）达到阈值 {{ .Annotations.threshold }}
{{- else }}：{{ .Annotations.districts }} 个区县大范围达到阈值 {{ .Annotations.threshold }}{{ end }}
{{- with .Annotations.health }}，{{ if eq $.Labels.scope "city" }}城市{{ else }}区县{{ end }}健康指数 {{ . }}{{ end }}
{{- else if eq .Labels.kind "early_warning" -}}
【提前预警】{{ .Annotations.place_zh }} {{ .Annotations.indicator_zh }} 预计 {{ .Annotations.minutes }} 分钟内达到{{ template "vitals.severity_zh" .Labels.severity }}阈值 {{ .Annotations.threshold }}：当前 {{ .Annotations.value }}，HORIZON_ZH预测 {{ .Annotations.forecast }} {{ .Annotations.unit }}
{{- else if eq .Labels.kind "anomaly" -}}
【异常】{{ .Annotations.place_zh }} {{ .Annotations.indicator_zh }}：当前 {{ .Annotations.value }} {{ .Annotations.unit }}，预期 {{ .Annotations.expected }}，异常分 {{ .Annotations.score }}（{{ .Annotations.explanation }}）
{{- else if eq .Labels.kind "data_quality" -}}
【数据中断】{{ .Annotations.place_zh }} {{ .Annotations.indicator_zh }}：已 {{ .Annotations.silent_s }} 秒无数据（采集周期 {{ .Annotations.cadence_s }} 秒）
{{- else -}}
【系统】{{ .Annotations.summary_zh }}
{{- end }}（开始 {{ template "vitals.time" .StartsAt }}{{ if eq .Status "resolved" }}，结束 {{ template "vitals.time" .EndsAt }}{{ end }}）
{{- with .Annotations.dashboard }} {{ . }}{{ end }}
{{ end }}
"""

ALERT_EN = """\
{{ define "vitals.alert_en" -}}
{{ if eq .Status "resolved" }}[RESOLVED] {{ end -}}
{{ if eq .Labels.kind "level" -}}
[{{ template "vitals.severity_en" .Labels.severity }}] {{ .Annotations.indicator_en }} at {{ .Annotations.place_en }}
{{- if eq .Labels.scope "street" }}: now {{ .Annotations.value }} {{ .Annotations.unit }}, threshold {{ .Annotations.threshold }}, forecast HORIZON_EN {{ .Annotations.forecast }}
{{- else if eq .Labels.scope "district" }}: {{ .Annotations.share }}% of streets ({{ .Annotations.streets }}) at threshold {{ .Annotations.threshold }}
{{- else }}: district-wide in {{ .Annotations.districts }} districts, threshold {{ .Annotations.threshold }}{{ end }}
{{- with .Annotations.health }}; {{ if eq $.Labels.scope "city" }}city{{ else }}district{{ end }} health {{ . }}/100{{ end }}
{{- else if eq .Labels.kind "early_warning" -}}
[EARLY WARNING] {{ .Annotations.indicator_en }} at {{ .Annotations.place_en }} predicted to reach {{ .Labels.severity }} ({{ .Annotations.threshold }}) within {{ .Annotations.minutes }} min: now {{ .Annotations.value }}, forecast HORIZON_EN {{ .Annotations.forecast }} {{ .Annotations.unit }}
{{- else if eq .Labels.kind "anomaly" -}}
[ANOMALY] {{ .Annotations.indicator_en }} at {{ .Annotations.place_en }}: now {{ .Annotations.value }} {{ .Annotations.unit }}, expected {{ .Annotations.expected }}, score {{ .Annotations.score }} ({{ .Annotations.explanation }})
{{- else if eq .Labels.kind "data_quality" -}}
[NO DATA] {{ .Annotations.indicator_en }} at {{ .Annotations.place_en }}: silent for {{ .Annotations.silent_s }} s (cadence {{ .Annotations.cadence_s }} s)
{{- else -}}
[PIPELINE] {{ .Annotations.summary }}
{{- end }} (since {{ template "vitals.time" .StartsAt }}{{ if eq .Status "resolved" }}, ended {{ template "vitals.time" .EndsAt }}{{ end }})
{{- with .Annotations.dashboard }} {{ . }}{{ end }}
{{ end }}
"""

MESSAGES = """\
{{ define "vitals.area_zh" }}{{ with .GroupLabels.district }}{{ template "vitals.district_zh" . }} {{ end }}\
{{ with .GroupLabels.domain }}{{ template "vitals.domain_zh" . }}{{ end }}{{ end }}
{{ define "vitals.area_en" }}{{ with .GroupLabels.district }}{{ template "vitals.district_en" . }} {{ end }}\
{{ .GroupLabels.domain }}{{ end }}
{{ define "vitals.title" -}}
[{{ if eq .Status "firing" }}告警 FIRING:{{ .Alerts.Firing | len }}{{ else }}恢复 RESOLVED{{ end }}] \
{{ template "vitals.severity_zh" .CommonLabels.severity }} \
{{ if ne .CommonLabels.kind "level" }}{{ template "vitals.kind_zh" .CommonLabels.kind }} {{ end }}\
{{ template "vitals.area_zh" . }} / {{ template "vitals.severity_en" .CommonLabels.severity }} \
{{ if ne .CommonLabels.kind "level" }}{{ template "vitals.kind_en" .CommonLabels.kind }} {{ end }}\
{{ template "vitals.area_en" . }}
{{- end }}
{{ define "vitals.text" }}{{ template "vitals.title" . }}
{{ range .Alerts }}{{ template "vitals.alert_zh" . }}{{ end }}
{{ range .Alerts }}{{ template "vitals.alert_en" . }}{{ end }}{{ end }}
{{ define "vitals.email.subject" }}{{ template "vitals.title" . }}{{ end }}
{{ define "vitals.email.html" -}}
<h3>{{ template "vitals.title" . }}</h3>
<ul>{{ range .Alerts }}<li>{{ template "vitals.alert_zh" . }}</li>{{ end }}</ul>
<hr>
<ul>{{ range .Alerts }}<li>{{ template "vitals.alert_en" . }}</li>{{ end }}</ul>
{{- end }}
{{ define "vitals.wechat.message" }}{{ template "vitals.title" . }}
{{ range $i, $alert := .Alerts }}{{ if lt $i 8 }}{{ template "vitals.alert_zh" $alert }}{{ end }}{{ end }}
{{- if gt (len .Alerts) 8 }}……另有 {{ len .Alerts }} 条中的其余告警见看板 (more on the dashboard)
{{ end }}{{ end }}
"""


def notification_templates(catalog: Catalog, options: AlertingOptions) -> str:
    header = "{{/* city-vitals notification templates: generated by `vitals alerts build`; do not edit. */}}\n"
    alerts = (ALERT_ZH.replace("HORIZON_ZH", duration_words(options.early_warning_horizon_s, "zh"))
              + ALERT_EN.replace("HORIZON_EN", options.early_warning_horizon))
    return header + catalog_lookups(catalog, options) + time_template(catalog.city.timezone_offset_hours) \
        + alerts + MESSAGES
