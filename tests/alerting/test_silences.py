"""Planned works (`vitals alerts silence|silences|unsilence`): matchers built from catalog ids, durations parsed
(Hypothesis against the sum of their parts), misuse in one line; and against a real Alertmanager with the generated
configuration, a silence mutes exactly the alerts it matches (no notification, ``silencedBy`` its id) until it is
expired, when the muted alert is notified."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vitals_testing import need_binary

from vitals.alerting import AlertingOptions, WebhookRecorder, build_alerting, render_config_dir
from vitals.alerting.silences import MAX_DAYS, matchers, parse_duration, silence
from vitals.catalog import Catalog
from vitals.cli import main
from vitals.errors import ConfigError
from vitals.services import free_port, http_get, start_alertmanager, wait_for

NOW = 1_780_000_000 * 10**9
HOUR = 3600 * 10**9


@given(st.integers(0, 40), st.integers(0, 48), st.integers(0, 120), st.integers(0, 120))
def test_durations_are_the_sum_of_their_parts(days: int, hours: int, minutes: int, seconds: int) -> None:
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total == 0:
        with pytest.raises(ConfigError):
            parse_duration(text or "0s")
    else:
        assert parse_duration(text) == total


@pytest.mark.parametrize("text", ["4", "h", "4x", "1h 30m", "30m1h", "-2h", "1.5h", ""])
def test_a_duration_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="give a duration such as 4h"):
        parse_duration(text)


def test_matchers_one_value_is_equal_several_an_escaped_regex() -> None:
    got = matchers({"district": ["yubei", "jiang.bei"], "indicator": ["water_pressure"]})
    assert got == [{"name": "district", "value": r"yubei|jiang\.bei", "isRegex": True, "isEqual": True},
                   {"name": "indicator", "value": "water_pressure", "isRegex": False, "isEqual": True}]
    assert re.fullmatch(got[0]["value"], "jiang.bei") and not re.fullmatch(got[0]["value"], "jiangXbei")


def test_a_silence_is_checked() -> None:
    ok = silence({"street": ["yubei_s001"], "district": []}, NOW - HOUR, NOW + HOUR, " works ", "me", now_ns=NOW)
    assert ok.matchers == {"street": ["yubei_s001"]} and ok.starts_ns == NOW and ok.comment == "works"
    payload = ok.payload()
    assert payload["startsAt"].endswith("Z") and payload["createdBy"] == "me"
    everything = silence({}, NOW, NOW + HOUR, "drill", "me", now_ns=NOW, everything=True)
    assert everything.matchers == {"alertname": ["Vitals.*"]}
    for kwargs, message in (
            ({"selection": {}}, "needs something to match"),
            ({"selection": {"severity": ["purple"]}}, "--severity 'purple': one of blue, yellow, orange, red"),
            ({"selection": {"kind": ["levels"]}}, "--kind 'levels'"),
            ({"ends": NOW - 2 * HOUR}, "ends .* before it starts"),
            ({"starts": NOW - 3 * HOUR, "ends": NOW - 2 * HOUR}, "before now"),
            ({"ends": NOW + (MAX_DAYS + 1) * 24 * HOUR}, f"more than {MAX_DAYS} days"),
            ({"comment": "  "}, "--comment: say why")):
        args = {"selection": {"district": ["yubei"]}, "starts": NOW - HOUR, "ends": NOW + HOUR, "comment": "x",
                **kwargs}
        with pytest.raises(ConfigError, match=message):
            silence(args["selection"], args["starts"], args["ends"], args["comment"], "me", now_ns=NOW)


def test_misuse_on_the_command_line_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    for args, message in (
            (["silence", "--district", "yubie", "--for", "1h", "--comment", "x"], "did you mean yubei?"),
            (["silence", "--indicator", "water_pressure", "--for", "1h", "--from", "2026-03-01T08:00", "--comment",
              "x"], "--from '2026-03-01T08:00': give a local day"),
            (["silence", "--domain", "watr", "--for", "1h", "--comment", "x"], "did you mean water, weather?"),
            (["silence", "--district", "yubei", "--for", "1h", "--comment", "x", "--alertmanager", "notaurl"],
             "is not an http(s) URL"),
            (["silence", "--district", "yubei", "--for", "1h", "--comment", "x", "--alertmanager", unreachable],
             "cannot reach Alertmanager"),
            (["silences", "--alertmanager", unreachable], "cannot reach Alertmanager"),
            (["unsilence", "abc", "--alertmanager", unreachable], "cannot reach Alertmanager")):
        assert main(["alerts", *args]) == 1, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (args, err)


def test_dry_run_prints_the_silence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "silence", "--street", "yubei_s001,yubei_s002", "--kind", "level,anomaly", "--from",
                 "2030-06-03", "--until", "2030-06-03", "--comment", "road works", "--by", "ops", "--dry-run"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["startsAt"] == "2030-06-02T16:00:00Z" and doc["endsAt"] == "2030-06-03T16:00:00Z"  # a local day
    assert {m["name"]: m["value"] for m in doc["matchers"]} == {"street": "yubei_s001|yubei_s002",
                                                                "kind": "level|anomaly"}


def _post(base: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(f"{base}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _alert(district: str, street: str, indicator: str, domain: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"labels": {"alertname": "VitalsWarningLevel", "kind": "level", "scope": "street", "severity": "orange",
                       "indicator": indicator, "domain": domain, "district": district, "street": street},
            "annotations": {"summary": "test"}, "startsAt": (now - timedelta(minutes=1)).isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat()}


@pytest.mark.integration
def test_a_silence_mutes_what_it_matches_until_it_is_expired(small_catalog: Catalog, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    need_binary("alertmanager")
    district = small_catalog.districts[0].id
    s1, s2 = (s.id for s in small_catalog.streets_of(district)[:2])
    water = next(i for i in small_catalog.indicators if i.domain == "water")
    power = next(i for i in small_catalog.indicators if i.domain == "power")
    with WebhookRecorder() as recorder:
        bundle = build_alerting(small_catalog, AlertingOptions.quick(recorder.url))
        rendered = render_config_dir(bundle, tmp_path, environ={})
        service = start_alertmanager(rendered.alertmanager_config.read_text(), rendered.alertmanager_dir)
        try:
            am = ["--alertmanager", service.url, "--streets", "76"]
            assert main(["alerts", "silence", "--street", s1, "--domain", "water", "--for", "2h", "--comment",
                         "main repair", "--by", "ops", *am]) == 0
            said = capsys.readouterr().out
            ident = said.strip().rsplit("id ", 1)[1]
            assert f'street="{s1}", domain="water"' in said and "UTC+8" in said
            muted = _alert(district, s1, water.id, "water")
            others = [_alert(district, s2, water.id, "water"), _alert(district, s1, power.id, "power")]
            _post(service.url, [muted, *others])

            def states() -> dict[tuple[str, str], tuple[str, list[str]]]:
                alerts = json.loads(http_get(f"{service.url}/api/v2/alerts"))
                return {(a["labels"]["street"], a["labels"]["indicator"]): (a["status"]["state"],
                                                                             a["status"]["silencedBy"])
                        for a in alerts}

            wait_for(lambda: len(states()) == 3 and states()[(s1, water.id)][0] == "suppressed", deadline_s=20,
                     what="the silenced alert")
            got = states()
            assert got[(s1, water.id)] == ("suppressed", [ident])
            assert got[(s2, water.id)] == ("active", []) and got[(s1, power.id)] == ("active", [])

            def notified() -> set[tuple[str, str]]:
                return {(a["labels"]["street"], a["labels"]["indicator"]) for n in recorder.notifications
                        for a in n.alerts}

            wait_for(lambda: notified() >= {(s2, water.id), (s1, power.id)}, deadline_s=20, what="the others")
            assert (s1, water.id) not in notified()

            assert main(["alerts", "silences", *am[:2]]) == 0
            listing = capsys.readouterr().out
            assert ident in listing and "active" in listing and "(ops: main repair)" in listing
            assert main(["alerts", "unsilence", ident[:8], *am[:2]]) == 0
            assert f"expired silence {ident}" in capsys.readouterr().out
            wait_for(lambda: states()[(s1, water.id)][0] == "active", deadline_s=20, what="unmuted")
            wait_for(lambda: (s1, water.id) in notified(), deadline_s=30, what="the alert notified once unmuted")
            assert main(["alerts", "silences", *am[:2]]) == 0
            assert capsys.readouterr().out == "no silences\n"
            assert main(["alerts", "unsilence", ident, *am[:2]]) == 1  # already expired
            assert "no active or pending silence" in capsys.readouterr().err
        finally:
            service.stop()


@pytest.mark.integration
def test_an_alertmanager_behind_tls_and_basic_auth(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Alertmanager's own ``--web.config.file`` (TLS with a private CA, a bcrypt login): the right login and CA
    work; a wrong password, no login, and no CA are each one line."""
    import bcrypt
    import yaml
    from vitals_testing import self_signed_cert

    need_binary("alertmanager")
    crt, key = self_signed_cert(tmp_path / "tls")
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": str(crt), "key_file": str(key)},
        "basic_auth_users": {"ops": bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()}}))
    (tmp_path / "pw").write_text("s3cret\n")
    (tmp_path / "bad").write_text("guess\n")
    config = "route:\n  receiver: none\nreceivers:\n  - name: none\n"
    service = start_alertmanager(config, tmp_path / "am", web_config=web)
    try:
        url = f"https://127.0.0.1:{service.port}"
        login = ["--alertmanager", url, "--alertmanager-user", "ops", "--alertmanager-ca-file", str(crt)]
        what = ["--district", "yubei", "--for", "1h", "--comment", "works"]
        assert main(["alerts", "silence", *what, *login, "--alertmanager-password-file", str(tmp_path / "pw")]) == 0
        assert "silenced district=\"yubei\"" in capsys.readouterr().out
        monkeypatch.setenv("VITALS_ALERTMANAGER_PASSWORD", "s3cret")
        assert main(["alerts", "silences", *login]) == 0
        assert 'district="yubei"' in capsys.readouterr().out
        for args, message in (
                ([*login, "--alertmanager-password-file", str(tmp_path / "bad")], "HTTP 401"),
                (["--alertmanager", url, "--alertmanager-ca-file", str(crt)], "HTTP 401"),
                (login[:4], "CERTIFICATE_VERIFY_FAILED"),
                ([*login[:4], "--alertmanager-ca-file", str(tmp_path / "nope.crt")], "no such file")):
            assert main(["alerts", "silences", *args]) == 1, args
            err = capsys.readouterr().err
            assert message in err and err.count("\n") == 1, (args, err)
        monkeypatch.delenv("VITALS_ALERTMANAGER_PASSWORD")
        assert main(["alerts", "silences", *login]) == 1
        assert "give the password with --alertmanager-password-file" in capsys.readouterr().err
    finally:
        service.stop()


@pytest.mark.integration
def test_silences_from_a_planned_works_file_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--works FILE``: a silence per works not over yet, with the works' matchers and period and its id in the
    comment; run again, it changes nothing; a works edited gets a new silence and its old one expires, a works
    taken out of the file has its silence expired, a silence made by hand is left alone; mixed with the options
    of a single silence, one line."""
    need_binary("alertmanager")
    now = datetime.now(UTC)
    works = tmp_path / "works.yaml"
    works.write_text(
        f"- {{id: main-2291, from: '{(now - timedelta(hours=1)).isoformat()}', "
        f"to: '{(now + timedelta(hours=3)).isoformat()}', street: [yubei_s001, yubei_s002], domain: water, "
        "comment: main repair}\n"
        f"- {{id: done-1, from: '{(now - timedelta(days=3)).isoformat()}', "
        f"to: '{(now - timedelta(days=2)).isoformat()}', district: jiangbei}}\n")
    config = "route:\n  receiver: none\nreceivers:\n  - name: none\n"
    service = start_alertmanager(config, tmp_path / "am")
    try:
        am = ["--alertmanager", service.url]
        assert main(["alerts", "silence", "--works", str(works), "--by", "ops", *am]) == 0
        assert "2 planned works in" in capsys.readouterr().out
        assert main(["alerts", "silences", "--json", *am]) == 0
        found = json.loads(capsys.readouterr().out)
        assert len(found) == 1 and found[0]["comment"] == "main repair [planned works main-2291]"
        assert {m["name"]: m["value"] for m in found[0]["matchers"]} == {"street": "yubei_s001|yubei_s002",
                                                                        "domain": "water"}
        assert abs(datetime.fromisoformat(found[0]["endsAt"].replace("Z", "+00:00"))
                   - (now + timedelta(hours=3))) < timedelta(seconds=1)
        assert main(["alerts", "silence", "--works", str(works), "--json", *am]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again == {"created": [], "kept": [found[0]["id"]], "expired": [], "over": ["done-1"]}
        assert main(["alerts", "silence", "--district", "yubei", "--for", "1h", "--comment", "by hand", *am]) == 0
        capsys.readouterr()
        works.write_text(works.read_text().replace(f"to: '{(now + timedelta(hours=3)).isoformat()}'",
                                                   f"to: '{(now + timedelta(hours=5)).isoformat()}'"))
        assert main(["alerts", "silence", "--works", str(works), "--json", *am]) == 0
        edited = json.loads(capsys.readouterr().out)
        assert len(edited["created"]) == 1 and edited["expired"] == [found[0]["id"]] and edited["kept"] == []
        works.write_text("[]\n")  # the works called off
        assert main(["alerts", "silence", "--works", str(works), "--json", *am]) == 0
        assert json.loads(capsys.readouterr().out)["expired"] == edited["created"]
        assert main(["alerts", "silences", "--json", *am]) == 0
        assert [s["comment"] for s in json.loads(capsys.readouterr().out)] == ["by hand"]
        assert main(["alerts", "silence", "--works", str(works), "--district", "yubei", "--for", "1h", *am]) == 1
        err = capsys.readouterr().err
        assert "--works takes what, when and why from the file; leave out --district, --for" in err
        assert err.count("\n") == 1
        assert main(["alerts", "silence", "--district", "yubei", "--comment", "x", *am]) == 1
        assert "give how long: --for DURATION or --until" in capsys.readouterr().err
    finally:
        service.stop()
