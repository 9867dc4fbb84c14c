"""Planned works: Alertmanager silences for places, indicators and domains named by catalog ids.

A city's operations center knows in advance of much that will trip its alerts: a water main shut for repairs (停水
施工), a road closed for works, a substation in maintenance. Alertmanager silences mute matching alerts for a time;
``vitals alerts silence`` builds one from the catalog's ids (each checked, with the nearest ids on a typo) and the
city's clock, so an operator writes ``--district yubei --indicator water_pressure --for 4h --comment ...`` instead
of label matchers by hand, and cannot silence the whole city by leaving the filters out (``--everything`` says so
on purpose). ``silences`` lists them in city time; ``unsilence`` expires one (by id or a unique prefix of it).

The labels matched are the generated alerts' own (:mod:`vitals.alerting.alert_rules`): ``district``, ``street``,
``indicator``, ``domain``, ``severity`` (blue, yellow, orange, red; ``warning`` for anomalies and data quality)
and ``kind`` (level, early_warning, anomaly, data_quality, pipeline). Several values of one label match any of
them (an anchored regex of the escaped ids); different labels must all match. A district silence also mutes the
district-wide alerts of that district (they carry its ``district`` label) and a domain silence the city-wide ones
of that domain.

Talks to Alertmanager's API v2 (``POST /api/v2/silences``, ``GET /api/v2/silences``, ``DELETE
/api/v2/silence/{id}``) with the standard library, over http or https (a private CA's certificate with
``ca_file``), with basic auth when Alertmanager's ``--web.config.file`` asks for it; any failure is one line.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vitals.alerting import names
from vitals.catalog.model import LEVEL_NAMES
from vitals.errors import ConfigError, ServiceError
from vitals.planned_works import Works
from vitals.units import NS_PER_S, utc_iso

DEFAULT_URL = "http://127.0.0.1:9093"
URL_ENV = "VITALS_ALERTMANAGER_URL"
PASSWORD_ENV = "VITALS_ALERTMANAGER_PASSWORD"
SEVERITIES: tuple[str, ...] = (*LEVEL_NAMES[1:], "warning")  # blue..red; anomaly and data-quality alerts: warning
KINDS: tuple[str, ...] = (names.KIND_LEVEL, names.KIND_EARLY, names.KIND_ANOMALY, names.KIND_DATA_QUALITY,
                          names.KIND_PIPELINE)
LABELS: tuple[str, ...] = ("district", "street", "indicator", "domain", "severity", "kind")  # in this order
MAX_DAYS = 31  # a longer silence is more likely a typo (--for 4d for 4h) than planned works: give several
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Alertmanager:
    """Where Alertmanager listens and how to log in: basic auth (``user``, ``password``) and, for an https URL
    signed by a private CA, that CA's certificate (``ca_file``), as Alertmanager's ``--web.config.file`` asks."""

    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None


@dataclass(frozen=True)
class Silence:
    """What a silence mutes (label -> any of the values) from ``starts_ns`` to ``ends_ns`` (UTC), and why."""

    matchers: Mapping[str, Sequence[str]]
    starts_ns: int
    ends_ns: int
    comment: str
    created_by: str

    def payload(self) -> dict[str, Any]:
        """The body of ``POST /api/v2/silences``."""
        return {"matchers": matchers(self.matchers), "startsAt": utc_iso(self.starts_ns),
                "endsAt": utc_iso(self.ends_ns), "comment": self.comment, "createdBy": self.created_by}


def parse_duration(text: str) -> int:
    """``4h``, ``90m``, ``1h30m``, ``2d``, ``45s`` -> seconds (> 0); one line on anything else."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        msg = f"--for {text!r}: give a duration such as 4h, 90m, 1h30m or 2d"
        raise ConfigError(msg)
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        msg = f"--for {text!r}: a silence must last longer than 0 s"
        raise ConfigError(msg)
    return total


def silence(selection: Mapping[str, Sequence[str]], starts_ns: int, ends_ns: int, comment: str, created_by: str, *,
            now_ns: int, everything: bool = False) -> Silence:
    """A checked silence: some label to match (unless ``everything``), values known to Alertmanager's labels,
    an end after the start, after ``now_ns`` and within :data:`MAX_DAYS`, a comment (Alertmanager needs one). A
    start in the past is now (Alertmanager's own rule)."""
    chosen = {label: list(dict.fromkeys(selection.get(label, ()))) for label in LABELS if selection.get(label)}
    if not chosen and not everything:
        msg = ("a silence needs something to match: --district, --street, --indicator, --domain, --severity or "
               "--kind (--everything mutes every alert of the city, on purpose only)")
        raise ConfigError(msg)
    for label, allowed in (("severity", SEVERITIES), ("kind", KINDS)):
        for value in chosen.get(label, ()):
            if value not in allowed:
                msg = f"--{label} {value!r}: one of {', '.join(allowed)}"
                raise ConfigError(msg)
    if ends_ns <= starts_ns:
        msg = f"the silence ends ({utc_iso(ends_ns)}) before it starts ({utc_iso(starts_ns)})"
        raise ConfigError(msg)
    if ends_ns <= now_ns:
        msg = f"the silence would end ({utc_iso(ends_ns)}) before now ({utc_iso(now_ns)}): nothing to mute"
        raise ConfigError(msg)
    starts_ns = max(starts_ns, now_ns)
    if ends_ns - starts_ns > MAX_DAYS * 86_400 * NS_PER_S:
        msg = f"a silence of more than {MAX_DAYS} days is refused (a typo is likelier than such works); give several"
        raise ConfigError(msg)
    if not comment.strip():
        msg = "--comment: say why (the works, a ticket number): Alertmanager keeps it with the silence"
        raise ConfigError(msg)
    if everything and not chosen:
        chosen = {"alertname": ["Vitals.*"]}
    return Silence(chosen, starts_ns, ends_ns, comment.strip(), created_by)


WORKS_TAG = "[planned works {}]"  # ends the comment of a silence made from a works: found again by it


def works_silences(works: Sequence[Works], created_by: str, *, now_ns: int) -> tuple[list[Silence], list[str]]:
    """One silence per works of a planned-works file (the same places, indicators and domains, its period, its
    comment tagged with its id), and the ids of the works already over (no silence)."""
    made, over = [], []
    for w in works:
        if w.end_ns <= now_ns:
            over.append(w.id)
            continue
        comment = f"{w.comment} {WORKS_TAG.format(w.id)}".strip()
        try:
            made.append(silence(dict(w.selection), w.start_ns, w.end_ns, comment, created_by, now_ns=now_ns))
        except ConfigError as exc:
            msg = f"planned works {w.id!r}: {exc}"
            raise ConfigError(msg) from exc
    return made, over


def sync_works(am: Alertmanager, wanted: Sequence[Silence]) -> tuple[list[str], list[str], list[str]]:
    """Make Alertmanager's planned-works silences (those whose comment carries a :data:`WORKS_TAG`) those of
    ``wanted``: create the ones it does not hold (the same comment, matchers and end), keep the ones it does, and
    expire the others, a works edited (another period or place) or taken out of the file. Returns (created, kept,
    expired) silence ids; run twice, the second run changes nothing."""
    tag = re.compile(re.escape(WORKS_TAG).replace(r"\{\}", r".+") + "$")
    live = [s for s in list_silences(am) if tag.search(str(s.get("comment", "")))]
    created, kept = [], []
    for request in wanted:
        same = next((s["id"] for s in live if s.get("comment") == request.comment
                     and parse_time(s["endsAt"]) // NS_PER_S == request.ends_ns // NS_PER_S
                     and _matcher_set(s["matchers"]) == _matcher_set(matchers(request.matchers))), None)
        if same is None:
            created.append(create(am, request))
        else:
            kept.append(str(same))
    expired = [str(s["id"]) for s in live if s["id"] not in kept]
    for ident in expired:
        _call(am, "DELETE", f"/api/v2/silence/{ident}")
    return created, kept, expired


def _matcher_set(found: Sequence[Mapping[str, Any]]) -> set[tuple[str, str, bool]]:
    return {(str(m["name"]), str(m["value"]), bool(m.get("isRegex"))) for m in found}


def matchers(selection: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """Alertmanager matchers: one value is an equality, several an anchored regex of the escaped values (the
    ``alertname`` of ``--everything`` is already a regex)."""
    out = []
    for label, values in selection.items():
        regex = len(values) > 1 or label == "alertname"
        value = "|".join(re.escape(v) for v in values) if len(values) > 1 else values[0]
        out.append({"name": label, "value": value, "isRegex": regex, "isEqual": True})
    return out


def create(am: Alertmanager, request: Silence) -> str:
    """Post the silence; its id."""
    reply = _call(am, "POST", "/api/v2/silences", request.payload())
    return str(reply["silenceID"])


def list_silences(am: Alertmanager, *, expired: bool = False) -> list[dict[str, Any]]:
    """The silences Alertmanager holds (active and pending; with ``expired`` those too): active ones first, each
    group by end time."""
    found = [s for s in _call(am, "GET", "/api/v2/silences") if expired or s["status"]["state"] != "expired"]
    return sorted(found, key=lambda s: (s["status"]["state"] != "active", s["endsAt"]), reverse=False)


def expire(am: Alertmanager, ident: str) -> str:
    """Expire the silence whose id is ``ident`` or starts with it (unique among the silences not expired); its full
    id."""
    live = list_silences(am)
    matches = [s["id"] for s in live if s["id"] == ident] or [s["id"] for s in live if s["id"].startswith(ident)]
    if not matches:
        msg = f"no active or pending silence with id {ident!r} at {am.url} (`vitals alerts silences` lists them)"
        raise ConfigError(msg)
    if len(matches) > 1:
        msg = f"{ident!r} starts {len(matches)} silence ids ({', '.join(m[:13] for m in matches)}...): give more of it"
        raise ConfigError(msg)
    _call(am, "DELETE", f"/api/v2/silence/{matches[0]}")
    return str(matches[0])


def describe(entry: Mapping[str, Any]) -> str:
    """``district="yubei", indicator=~"a|b"`` of a silence as Alertmanager returns it."""
    parts = []
    for m in entry["matchers"]:
        op = ("=~" if m.get("isRegex") else "=") if m.get("isEqual", True) else ("!~" if m.get("isRegex") else "!=")
        parts.append(f'{m["name"]}{op}"{m["value"]}"')
    return ", ".join(parts)


def parse_time(text: str) -> int:
    """Alertmanager's RFC 3339 time -> UTC nanoseconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000


def _call(am: Alertmanager, method: str, path: str, body: object = None) -> Any:
    base = am.url.rstrip("/")
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if am.user is not None:
        token = base64.b64encode(f"{am.user}:{am.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers=headers)
    context = None
    if base.startswith("https:"):
        try:
            context = ssl.create_default_context(cafile=am.ca_file)
        except (OSError, ssl.SSLError) as exc:
            msg = f"--alertmanager-ca-file {am.ca_file}: not a readable CA certificate ({exc})"
            raise ConfigError(msg) from exc
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as response:
            text = response.read().decode() or "null"
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip().splitlines()
        hint = "; give --alertmanager-user and its password" if exc.code == 401 else ""
        msg = (f"Alertmanager at {base} refused {method} {path}: HTTP {exc.code} "
               f"{detail[0] if detail else exc.reason}{hint}")
        raise ServiceError(msg) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        msg = (f"cannot reach Alertmanager at {base} ({reason}); is it running? give its URL with --alertmanager "
               f"or {URL_ENV}")
        raise ServiceError(msg) from exc
    return json.loads(text)
