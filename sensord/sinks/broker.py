"""Where the broker is and how to log in: URL, credentials and TLS (no MQTT client here).

``mqtt://[user@]host[:port]`` or ``mqtts://[user@]host[:port]`` (ports 1883 and 8883 by
default). The password never comes from the URL or the command line, where other users of the
machine could read it: it comes from ``SENSORD_MQTT_PASSWORD``, ``mqtt.password_file`` or the
systemd credential ``mqtt-password`` (``sensord.config.mqtt_password``), and is kept out of every
``repr`` and log line.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import SplitResult, unquote, urlsplit

from sensord.config import MqttConfig, mqtt_password
from sensord.errors import ConfigError

PASSWORD_ENV: Final = "SENSORD_MQTT_PASSWORD"  # noqa: S105 - a variable's name, not a secret
_DEFAULT_PORTS: Final = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """A resolved broker address and login. ``password`` never appears in ``repr``."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = False
    client_id: str | None = None
    keepalive_s: float = 30.0

    def describe(self) -> str:
        """The URL for messages: scheme, user, host and port; never the password."""
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{host}:{self.port}"


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ConfigError(f"{url!r} is not a broker URL: {exc}", key="mqtt.url") from None
    return parts


def broker_settings(
    config: MqttConfig, *, url: str | None = None, env: Mapping[str, str] | None = None
) -> BrokerSettings:
    """Resolves ``mqtt.*`` (``url`` overrides ``mqtt.url``, as ``--broker`` does)."""
    env = os.environ if env is None else env
    text = url if url is not None else config.url
    parts = _split(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ConfigError(
            f"{text!r}: the scheme must be mqtt:// or mqtts://", key="mqtt.url"
        )
    if not parts.hostname:
        raise ConfigError(f"{text!r} names no host", key="mqtt.url")
    if parts.password is not None:
        raise ConfigError(
            "the broker URL contains a password; put it in mqtt.password_file or the "
            f"{PASSWORD_ENV} variable instead, where other users cannot read it",
            key="mqtt.url",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{text!r}: a broker URL has no path or query", key="mqtt.url")
    username = unquote(parts.username) if parts.username else config.username
    password = mqtt_password(config, env)
    if password is not None and not username:
        raise ConfigError(
            "a broker password is set but no user name; set mqtt.username or put the user in "
            "the URL (mqtt://user@host)", key="mqtt.username",
        )
    tls = scheme == "mqtts"
    if not tls and (config.tls_ca_file or config.tls_cert_file):
        raise ConfigError(
            "TLS files are set but the URL is mqtt://; use mqtts:// to connect with TLS",
            key="mqtt.url",
        )
    if config.tls_key_file and not config.tls_cert_file:
        raise ConfigError("mqtt.tls_key_file needs mqtt.tls_cert_file", key="mqtt.tls_key_file")
    return BrokerSettings(
        host=parts.hostname, port=parts.port or _DEFAULT_PORTS[scheme], tls=tls,
        username=username, password=password, ca_file=config.tls_ca_file,
        cert_file=config.tls_cert_file, key_file=config.tls_key_file,
        tls_insecure=config.tls_insecure, client_id=config.client_id,
        keepalive_s=config.keepalive_s,
    )


def tls_context(settings: BrokerSettings) -> ssl.SSLContext | None:
    """The TLS context for ``mqtts://`` (None for plain MQTT). Files are checked here, so a wrong
    path is a config error at start, not a reconnect loop."""
    if not settings.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.ca_file:
        try:
            context.load_verify_locations(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the CA file {settings.ca_file}: {exc}", key="mqtt.tls_ca_file"
            ) from None
    if settings.cert_file:
        try:
            context.load_cert_chain(settings.cert_file, settings.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the client certificate {settings.cert_file}: {exc}",
                key="mqtt.tls_cert_file",
            ) from None
    if settings.tls_insecure:
        # Only by explicit request (mqtt.tls_insecure = true): encrypts, but proves nothing
        # about who answers.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


__all__ = ["PASSWORD_ENV", "BrokerSettings", "broker_settings", "tls_context"]
