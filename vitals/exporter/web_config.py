"""``--web-config FILE``: TLS and basic auth for /metrics, in the Prometheus exporter-toolkit format.

The same file works for node_exporter and friends::

    tls_server_config:
      cert_file: server.crt          # relative paths are relative to this file
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # optional, with client_ca_file: mutual TLS
      client_ca_file: clients-ca.crt
      min_version: TLS12             # TLS10 .. TLS13
    basic_auth_users:
      prometheus: $2y$10$...         # bcrypt hash, e.g. `htpasswd -nBC 10 prometheus`
    http_server_config:
      headers: {Strict-Transport-Security: max-age=31536000}

Supported: the keys above plus ``max_version`` and ``http_server_config.http2`` (accepted, HTTP/1.1 is served).
Any other key is refused by name (a security setting must never be silently ignored).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from vitals.errors import ConfigError

_TOP = {"tls_server_config", "basic_auth_users", "http_server_config"}
_TLS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
_HTTP = {"http2", "headers"}
_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1, "TLS12": ssl.TLSVersion.TLSv1_2,
             "TLS13": ssl.TLSVersion.TLSv1_3}
_CLIENT_AUTH = {"NoClientCert": ssl.CERT_NONE, "RequestClientCert": ssl.CERT_NONE,
                "RequireAnyClientCert": None, "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
                "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}
# compared against when the user is unknown, so that a wrong user name costs as long as a wrong password
_DUMMY_HASH = b"$2b$10$C6UzMDM.H6dfI/f/IKcEeO0c1nt3tYR8L6B3FvZ/yWqaSMHVCJ.3O"
_CACHE_MAX = 64


@dataclass(frozen=True)
class TlsSettings:
    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str | None = None

    def context(self) -> ssl.SSLContext:
        """A server-side SSL context (certificate and key loaded now, so a bad file fails before the run)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _VERSIONS[self.min_version]
        if self.max_version:
            ctx.maximum_version = _VERSIONS[self.max_version]
        try:
            ctx.load_cert_chain(self.cert_file, self.key_file)
            if self.client_ca_file is not None:
                ctx.load_verify_locations(cafile=self.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            msg = (f"web config: cannot load the TLS certificate {self.cert_file} / key {self.key_file}"
                   f"{' / client CA ' + str(self.client_ca_file) if self.client_ca_file else ''}: {exc}")
            raise ConfigError(msg) from exc
        verify = _CLIENT_AUTH[self.client_auth_type]
        ctx.verify_mode = ssl.CERT_REQUIRED if verify is None else verify
        return ctx


@dataclass(frozen=True)
class WebConfig:
    """A loaded web config: TLS (or None: plain HTTP), basic-auth users (empty: no auth) and extra headers."""

    path: Path
    tls: TlsSettings | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def ssl_context(self) -> ssl.SSLContext | None:
        return self.tls.context() if self.tls is not None else None


class BasicAuth:
    """Checks ``Authorization: Basic`` headers against bcrypt hashes; successful checks are cached (a bcrypt
    check costs ~0.1 s, a Prometheus scrape every few seconds would otherwise pay it each time)."""

    def __init__(self, users: dict[str, bytes]) -> None:
        self.users = dict(users)
        self._ok: dict[bytes, None] = {}
        self._lock = threading.Lock()

    def allows(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not sep:
            return False
        hashed = self.users.get(user)
        key = hashlib.sha256(b"\0".join([user.encode(), password.encode(), hashed or b""])).digest()
        with self._lock:
            if key in self._ok:
                return True
        ok = bcrypt.checkpw(password.encode(), hashed or _DUMMY_HASH) and hashed is not None
        if ok:
            with self._lock:
                if len(self._ok) >= _CACHE_MAX:
                    self._ok.pop(next(iter(self._ok)))
                self._ok[key] = None
        return ok


def _mapping(doc: Any, where: str, known: set[str], path: Path) -> dict[str, Any]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        msg = f"web config {path}: {where} must be a mapping"
        raise ConfigError(msg)
    unknown = sorted(set(map(str, doc)) - known)
    if unknown:
        msg = (f"web config {path}: unsupported key(s) {', '.join(unknown)} in {where}; supported: "
               f"{', '.join(sorted(known))}")
        raise ConfigError(msg)
    return doc


def _tls(raw: dict[str, Any], path: Path) -> TlsSettings | None:
    if not raw:
        return None
    if not raw.get("cert_file") or not raw.get("key_file"):
        msg = f"web config {path}: tls_server_config needs cert_file and key_file"
        raise ConfigError(msg)
    for key in ("min_version", "max_version"):
        if raw.get(key) is not None and raw[key] not in _VERSIONS:
            msg = f"web config {path}: {key} {raw[key]!r} must be one of {', '.join(_VERSIONS)}"
            raise ConfigError(msg)
    auth = raw.get("client_auth_type", "NoClientCert")
    if auth not in _CLIENT_AUTH:
        msg = f"web config {path}: client_auth_type {auth!r} must be one of {', '.join(_CLIENT_AUTH)}"
        raise ConfigError(msg)
    if auth not in ("NoClientCert", "RequestClientCert") and not raw.get("client_ca_file"):
        msg = f"web config {path}: client_auth_type {auth} needs client_ca_file"
        raise ConfigError(msg)
    base = path.parent
    ca = raw.get("client_ca_file")
    tls = TlsSettings(cert_file=base / str(raw["cert_file"]), key_file=base / str(raw["key_file"]),
                      client_auth_type=auth, client_ca_file=base / str(ca) if ca else None,
                      min_version=raw.get("min_version") or "TLS12", max_version=raw.get("max_version"))
    tls.context()  # load the files now: a bad certificate is a start-up error
    return tls


def _users(raw: dict[str, Any], path: Path) -> dict[str, bytes]:
    users = {}
    for user, hashed in raw.items():
        text = str(hashed or "")
        if not text.startswith(("$2a$", "$2b$", "$2y$")):
            msg = (f"web config {path}: the password of user {user!r} must be a bcrypt hash ($2y$...), "
                   "e.g. from `htpasswd -nBC 10 USER`")
            raise ConfigError(msg)
        try:
            bcrypt.checkpw(b"", text.encode())
        except ValueError as exc:
            msg = f"web config {path}: the password of user {user!r} is not a valid bcrypt hash ({exc})"
            raise ConfigError(msg) from exc
        users[str(user)] = text.encode()
    return users


def load_web_config(path: str | Path) -> WebConfig:
    """Read and check a web config file; certificate and key files are loaded to check them."""
    file = Path(path)
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"--web-config {file}: cannot read it: {getattr(exc, 'strerror', None) or exc}"
        raise ConfigError(msg) from exc
    except yaml.YAMLError as exc:
        msg = f"--web-config {file}: not valid YAML: {' '.join(str(exc).split())}"
        raise ConfigError(msg) from exc
    top = _mapping(doc, "the file", _TOP, file)
    http = _mapping(top.get("http_server_config"), "http_server_config", _HTTP, file)
    headers = {str(k): str(v) for k, v in (http.get("headers") or {}).items()}
    tls = _tls(_mapping(top.get("tls_server_config"), "tls_server_config", _TLS, file), file)
    users = _users(_user_mapping(top.get("basic_auth_users"), file), file)
    return WebConfig(path=file, tls=tls, users=users, headers=headers)


def _user_mapping(doc: Any, path: Path) -> dict[str, Any]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        msg = f"web config {path}: basic_auth_users must be a mapping of user: bcrypt hash"
        raise ConfigError(msg)
    return doc

