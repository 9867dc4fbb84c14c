"""Alertmanager receivers (webhook, email, WeCom per tier of centers) and the global section.

Secrets stay out of the generated files: the SMTP password and the optional webhook bearer token are read
by Alertmanager from files in ``secrets_dir``; Alertmanager 0.25 has no file option for the WeCom API
secret, so the config holds the placeholder :data:`WECOM_SECRET_PLACEHOLDER`, which
:func:`vitals.alerting.bundle.render_config_dir` replaces from the environment when it writes a config
for deployment.
"""

from __future__ import annotations

from typing import Any

from vitals.alerting.options import AlertingOptions
from vitals.alerting.routing import CITY_CENTER, DISTRICT_CENTERS, PLATFORM, STREET_CENTERS

WECOM_SECRET_ENV = "VITALS_WECOM_API_SECRET"
WECOM_SECRET_PLACEHOLDER = "${" + WECOM_SECRET_ENV + "}"
SMTP_PASSWORD_FILE = "smtp_password"
WEBHOOK_TOKEN_FILE = "webhook_token"


def _template(name: str) -> str:
    return '{{ template "' + name + '" . }}'


# receiver -> (email address template, WeCom department template or None when the tier has no WeCom)
def _addresses(options: AlertingOptions) -> dict[str, tuple[str, str | None]]:
    r = options.receivers
    return {
        CITY_CENTER: (f"city-center@{r.email_domain}", r.wecom_city_party),
        DISTRICT_CENTERS: (_template("vitals.district.email"), _template("vitals.district.wecom_party")),
        STREET_CENTERS: (_template("vitals.street.email"), None),
        PLATFORM: (f"platform-oncall@{r.email_domain}", r.wecom_platform_party),
    }


def _webhook(name: str, options: AlertingOptions) -> dict[str, Any]:
    r = options.receivers
    config: dict[str, Any] = {"url": f"{r.webhook_url.rstrip('/')}/{name}", "send_resolved": True}
    if r.webhook_token:
        config["http_config"] = {"authorization": {"credentials_file": f"{r.secrets_dir}/{WEBHOOK_TOKEN_FILE}"}}
    return config


def _email(to: str) -> dict[str, Any]:
    return {"to": to, "send_resolved": True, "headers": {"Subject": _template("vitals.email.subject")},
            "html": _template("vitals.email.html"), "text": _template("vitals.text")}


def _wechat(party: str, options: AlertingOptions) -> dict[str, Any]:
    return {"send_resolved": True, "agent_id": options.receivers.wecom_agent_id, "to_party": party,
            "message": _template("vitals.wechat.message")}


def receivers(options: AlertingOptions) -> list[dict[str, Any]]:
    channels = options.receivers.channels
    result = []
    for name, (email, party) in _addresses(options).items():
        receiver: dict[str, Any] = {"name": name}
        if "webhook" in channels:
            receiver["webhook_configs"] = [_webhook(name, options)]
        if "email" in channels:
            receiver["email_configs"] = [_email(email)]
        if "wechat" in channels and party is not None:
            receiver["wechat_configs"] = [_wechat(party, options)]
        result.append(receiver)
    return result


def global_section(options: AlertingOptions) -> dict[str, Any]:
    r = options.receivers
    section: dict[str, Any] = {"resolve_timeout": options.notify.resolve_timeout}
    if "email" in r.channels:
        section.update({
            "smtp_smarthost": r.smtp_smarthost, "smtp_from": r.smtp_from, "smtp_auth_username": r.smtp_username,
            "smtp_auth_password_file": f"{r.secrets_dir}/{SMTP_PASSWORD_FILE}", "smtp_require_tls": True,
        })
    if "wechat" in r.channels:
        section.update({"wechat_api_corp_id": r.wecom_corp_id, "wechat_api_secret": WECOM_SECRET_PLACEHOLDER})
    return section


def count_integrations(receiver_list: list[dict[str, Any]]) -> int:
    """Notification integrations (webhook, email and WeCom configs) over all receivers."""
    return sum(len(v) for r in receiver_list for k, v in r.items() if k.endswith("_configs"))
