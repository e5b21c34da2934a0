"""Broker URL, credentials and TLS settings: clear errors, and the password never leaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensord.config import MqttConfig
from sensord.errors import ConfigError
from sensord.sinks.broker import BrokerSettings, broker_settings, tls_context


def test_defaults_and_ports() -> None:
    plain = broker_settings(MqttConfig(), env={})
    assert (plain.host, plain.port, plain.tls) == ("127.0.0.1", 1883, False)
    secure = broker_settings(MqttConfig(url="mqtts://broker.lan"), env={})
    assert (secure.host, secure.port, secure.tls) == ("broker.lan", 8883, True)
    assert broker_settings(MqttConfig(), url="mqtt://h:1999", env={}).port == 1999


def test_user_from_url_and_password_from_the_environment() -> None:
    settings = broker_settings(
        MqttConfig(url="mqtt://alice@h"), env={"SENSORD_MQTT_PASSWORD": "s3cret"}
    )
    assert settings.username == "alice"
    assert settings.password == "s3cret"
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in settings.describe()
    assert settings.describe() == "mqtt://alice@h:1883"


def test_password_from_the_file_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    config = MqttConfig(username="bob", password_file=str(secret))
    assert broker_settings(config, env={}).password == "from-file"
    # the variable wins (sensord.config.mqtt_password's order)
    assert broker_settings(config, env={"SENSORD_MQTT_PASSWORD": "env"}).password == "env"


def test_a_password_in_the_url_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.url.*password_file or the SENSORD_MQTT_PASSWORD"):
        broker_settings(MqttConfig(), url="mqtt://alice:pw@h", env={})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (MqttConfig(url="http://h"), "mqtt:// or mqtts://"),
        (MqttConfig(url="mqtt://"), "names no host"),
        (MqttConfig(url="mqtt://h:99999"), "not a broker URL"),
        (MqttConfig(url="mqtt://h/path"), "no path"),
        (MqttConfig(password_file="/nonexistent/pw", username="u"), "cannot read mqtt.password"),
        (MqttConfig(tls_ca_file="/ca.pem"), "use mqtts://"),
    ],
)
def test_config_errors_name_the_key(config: MqttConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        broker_settings(config, env={})


def test_a_password_without_a_user_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.username"):
        broker_settings(MqttConfig(), env={"SENSORD_MQTT_PASSWORD": "x"})


@given(st.text(max_size=60))
def test_any_url_gives_settings_or_a_config_error(url: str) -> None:
    try:
        settings = broker_settings(MqttConfig(), url=url, env={})
    except ConfigError:
        return
    assert isinstance(settings, BrokerSettings)
    assert 0 < settings.port < 65536


def test_tls_context_verifies_unless_told_not_to(tmp_path: Path) -> None:
    assert tls_context(broker_settings(MqttConfig(), env={})) is None
    strict = tls_context(broker_settings(MqttConfig(url="mqtts://h"), env={}))
    assert strict is not None
    assert strict.check_hostname
    loose = tls_context(broker_settings(MqttConfig(url="mqtts://h", tls_insecure=True), env={}))
    assert loose is not None
    assert not loose.check_hostname
    with pytest.raises(ConfigError, match=r"mqtt\.tls_ca_file"):
        tls_context(broker_settings(
            MqttConfig(url="mqtts://h", tls_ca_file=str(tmp_path / "missing.pem")), env={}
        ))
