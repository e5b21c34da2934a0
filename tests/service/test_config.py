"""The config loader: the example file, look-up order, overrides, and errors that name the key."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sensord import config as config_module
from sensord.cli import app
from sensord.config import (
    SECTIONS,
    Config,
    MqttConfig,
    SessionConfig,
    WearableConfig,
    database_path,
    default_config_paths,
    find_config,
    load_config,
    mqtt_password,
    parse_config,
    state_directory,
    unknown_env_variables,
)
from sensord.errors import ConfigError
from sensord.routine import DEFAULT_ROUTINE, ExerciseTarget

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "sensord.toml"
NO_ENV: dict[str, str] = {}


def _mentioned_keys(text: str) -> set[str]:
    """Keys set or shown commented-out (``# key = ...``), as ``table.key`` paths."""
    keys: set[str] = set()
    table = ""
    for line in text.splitlines():
        header = re.match(r"^\s*\[\[?([^\]]+)\]\]?", line)
        if header:
            table = header.group(1).strip()
            continue
        key = re.match(r"^\s*#?\s*([a-z_]+)\s*=", line)
        if key:
            keys.add(f"{table}.{key.group(1)}")
    return keys


def test_example_config_documents_every_field() -> None:
    keys = _mentioned_keys(EXAMPLE.read_text(encoding="utf-8"))
    expected = {
        f"{section}.{f.name}" for section, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
    }
    expected |= {f"wearable.{f.name}" for f in dataclasses.fields(WearableConfig)}
    expected |= {f"routine.plantar_flexion.{f.name}" for f in dataclasses.fields(ExerciseTarget)}
    expected |= {"routine.name", "routine.exercises"}
    assert expected - keys == set()
    # Every Config field is a section above, the wearables or the routine.
    top = {f.name for f in dataclasses.fields(Config)} - config_module.NOT_KEYS
    assert top == {*SECTIONS, "wearables", "routine"}


def test_example_config_parses_and_shows_the_defaults() -> None:
    config = load_config(EXAMPLE, env=NO_ENV)
    assert config.source == str(EXAMPLE)
    for section, cls in SECTIONS.items():
        assert getattr(config, section) == dataclasses.replace(
            cls(), **({"levels": config.logging.levels} if section == "logging" else {})
        ), section
    assert config.routine == DEFAULT_ROUTINE
    assert [w.name for w in config.wearables] == ["left", "right"]
    assert [w.side for w in config.wearables] == ["left", "right"]


def test_no_file_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_module, "SYSTEM_CONFIG", tmp_path / "etc" / "sensord.toml")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert find_config(env=env) is None
    config = load_config(env=env)
    assert config == Config()


def test_lookup_order_prefers_xdg_then_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "etc" / "sensord.toml"
    monkeypatch.setattr(config_module, "SYSTEM_CONFIG", system)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    user = tmp_path / "xdg" / "sensord" / "sensord.toml"
    assert default_config_paths(env) == [user, system]
    system.parent.mkdir(parents=True)
    system.write_text('[mqtt]\nbase_topic = "system"\n', encoding="utf-8")
    assert load_config(env=env).mqtt.base_topic == "system"
    user.parent.mkdir(parents=True)
    user.write_text('[mqtt]\nbase_topic = "user"\n', encoding="utf-8")
    assert load_config(env=env).mqtt.base_topic == "user"
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('[mqtt]\nbase_topic = "explicit"\n', encoding="utf-8")
    assert load_config(explicit, env=env).mqtt.base_topic == "explicit"


def test_home_config_is_the_xdg_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_config_paths({})[0] == tmp_path / ".config" / "sensord" / "sensord.toml"


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env=NO_ENV)


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b'[mqtt]\nbase_topic = "\xff"\n')
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(path, env=NO_ENV)


def test_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path, env=NO_ENV)


# --- errors name the key and the line ------------------------------------------------------------

BAD_CONFIGS = [
    ('[mqtt]\nurl = "http://x"\n', "mqtt.url", 2),
    ('[mqtt]\nurl = "mqtt://u:secret@host"\n', "mqtt.url", 2),
    ('[mqtt]\n\nkeepalive_s = -1\n', "mqtt.keepalive_s", 3),
    ('[mqtt]\nkeepalive_s = "x"\n', "mqtt.keepalive_s", 2),
    ('[mqtt]\ndiscovery = "yes"\n', "mqtt.discovery", 2),
    ('[mqtt]\nbogus = 1\n', "mqtt.bogus", 2),
    ("[mqttt]\nurl = 1\n", "mqttt", 1),
    ('mqtt = "x"\n', "mqtt", 1),
    ('[ble]\nadapter = "eth0"\n', "ble.adapter", 2),
    ("[ble]\nqueue_blocks = 1.5\n", "ble.queue_blocks", 2),
    ("[ble]\nqueue_blocks = true\n", "ble.queue_blocks", 2),
    ("[session]\nauto_start = 1\n", "session.auto_start", 2),
    ("[session]\nidle_end_s = 0\n", "session.idle_end_s", 2),
    ("[session]\nidle_end_s = nan\n", "session.idle_end_s", 2),
    ("[service]\nstall_s = inf\n", "service.stall_s", 2),
    ('[logging]\nlevel = "loud"\n', "logging.level", 2),
    ('[logging]\nlevels = { ble = "loud" }\n', "logging.levels", 2),
    ('[[wearable]]\nname = "a"\n[[wearable]]\nplacement = "instep"\n', "wearable[1]", 3),
    ('[[wearable]]\nname = "a"\n\n[[wearable]]\nname = "a"\n', "wearable[1].name", 5),
    ('[[wearable]]\nname = "a"\nside = "middle"\n', "wearable[0].side", 3),
    ('[[wearable]]\nname = "a"\naddress = "nope"\n', "wearable[0].address", 3),
    ('[[wearable]]\nname = ""\n', "wearable[0].name", 2),
    ('[[wearable]]\nname = "a"\nrate_hz = 0\n', "wearable[0].rate_hz", 3),
    ("[routine.toe_walk]\nreps = 0\n", "routine.toe_walk.reps", 2),
    ("[routine.skipping]\nreps = 3\n", "routine.skipping", 1),
    ('[routine.ankle_circle]\ndirections = "cw"\n', "routine.ankle_circle.directions", 2),
    ('[routine.ankle_circle]\ndirections = ["cw", "up"]\n',
     "routine.ankle_circle.directions[1]", 2),
    ("[routine.toe_walk]\nbout_min_s = 30.0\n", "routine.toe_walk.bout_max_s", 1),
    ("[routine.plantar_flexion]\nhold_s = -5.0\n", "routine.plantar_flexion.hold_s", 2),
    ('[routine]\nexercises = ["toe_walk", "jumping"]\n', "routine.exercises[1]", 2),
    ('[routine]\nname = "nonexistent"\n', "routine.name", 2),
]


@pytest.mark.parametrize(("text", "key", "line"), BAD_CONFIGS)
def test_errors_name_the_key_and_line(text: str, key: str, line: int) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.toml", env=NO_ENV)
    error = info.value
    assert error.key == key
    assert error.line == line
    assert str(error).startswith(f"c.toml:{line}: {key}: ")
    assert "\n" not in str(error)


def test_invalid_toml_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[mqtt]\nurl = "a"\nurl = = 3\n', source="c.toml", env=NO_ENV)
    assert info.value.line == 3
    assert str(info.value).startswith("c.toml:3: not valid TOML: ")


def test_password_in_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[mqtt]\nurl = "mqtt://u:hunter2@host"\n', env=NO_ENV)
    assert "hunter2" not in str(info.value)


def test_routine_edits_merge_with_the_default() -> None:
    config = parse_config(
        '[routine]\nexercises = ["toe_walk", "plantar_flexion"]\n'
        "[routine.plantar_flexion]\nreps = 12\nhold_s = 6.0\n",
        env=NO_ENV,
    )
    assert config.routine.exercises == ("toe_walk", "plantar_flexion")
    assert config.routine.name == "custom"
    target = config.routine.target("plantar_flexion")
    assert target == ExerciseTarget(reps=12, hold_s=6.0)
    assert config.routine.target("toe_walk") == DEFAULT_ROUTINE.target("toe_walk")


def test_single_wearable_table_is_accepted() -> None:
    config = parse_config('[wearable]\nname = "solo"\nadapter = "bumble:tcp-client:h:1"\n',
                          env=NO_ENV)
    assert config.wearables == (WearableConfig(name="solo", adapter="bumble:tcp-client:h:1"),)


# --- environment overrides ---------------------------------------------------------------------


def test_environment_overrides_the_file() -> None:
    env = {
        "SENSORD_MQTT_URL": "mqtts://broker.example:8883",
        "SENSORD_MQTT_KEEPALIVE_S": "12",
        "SENSORD_MQTT_TLS_INSECURE": "yes",
        "SENSORD_MQTT_USERNAME": "",
        "SENSORD_SESSION_IDLE_END_S": "600",
        "SENSORD_SESSION_AUTO_START": "off",
        "SENSORD_BLE_QUEUE_BLOCKS": "64",
        "SENSORD_MQTT_PASSWORD": "not-a-key",
    }
    config = parse_config('[mqtt]\nurl = "mqtt://file"\nusername = "u"\n', env=env)
    assert config.mqtt == MqttConfig(
        url="mqtts://broker.example:8883", keepalive_s=12.0, tls_insecure=True, username=None
    )
    assert config.session == SessionConfig(idle_end_s=600.0, auto_start=False)
    assert config.ble.queue_blocks == 64
    assert "mqtt.url" in config.env_keys
    assert "mqtt.password" not in config.env_keys


def test_environment_error_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[session]\nidle_end_s = 5.0\n", source="c.toml",
                     env={"SENSORD_SESSION_IDLE_END_S": "soon"})
    message = str(info.value)
    assert message.startswith("session.idle_end_s: ")
    assert "$SENSORD_SESSION_IDLE_END_S" in message
    assert info.value.line is None


def test_unknown_variables_are_reported() -> None:
    env = {
        "SENSORD_MQTT_URLL": "x", "SENSORD_MQTT_URL": "mqtt://h", "SENSORD_MQTT_PASSWORD": "p",
        "SENSORD_LOGGING_LEVELS": "x", "OTHER": "1",
    }
    assert unknown_env_variables(env) == ["SENSORD_LOGGING_LEVELS", "SENSORD_MQTT_URLL"]


# --- paths and secrets ---------------------------------------------------------------------------


def test_state_directory_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert state_directory({"STATE_DIRECTORY": "/var/lib/sensord:/var/lib/other"}) == Path(
        "/var/lib/sensord")
    assert state_directory({"XDG_STATE_HOME": "/xdg"}) == Path("/xdg/sensord")
    assert state_directory({}) == tmp_path / ".local" / "state" / "sensord"
    store = parse_config("", env=NO_ENV).store
    assert database_path(store, {"STATE_DIRECTORY": "/s"}) == Path("/s/sensord.db")
    explicit = parse_config('[store]\npath = "~/x.db"\n', env=NO_ENV).store
    assert database_path(explicit, {"STATE_DIRECTORY": "/s"}) == tmp_path / "x.db"


def test_password_sources_in_order(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n", encoding="utf-8")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text("from-credential", encoding="utf-8")
    with_file = MqttConfig(password_file=str(secret))
    assert mqtt_password(with_file, {"SENSORD_MQTT_PASSWORD": "from-env"}) == "from-env"
    assert mqtt_password(with_file, {"CREDENTIALS_DIRECTORY": str(creds)}) == "from-file"
    assert mqtt_password(MqttConfig(), {"CREDENTIALS_DIRECTORY": str(creds)}) == (
        "from-credential")
    assert mqtt_password(MqttConfig(), {}) is None
    (creds / "mqtt-password").write_text("\n", encoding="utf-8")
    assert mqtt_password(MqttConfig(), {"CREDENTIALS_DIRECTORY": str(creds)}) is None
    with pytest.raises(ConfigError, match=r"mqtt\.password_file"):
        mqtt_password(MqttConfig(password_file=str(tmp_path / "missing")), {})


# --- the parser never fails with anything but ConfigError --------------------------------------


def _outcome(text: str, env: dict[str, str], source: str | None = None) -> Config | ConfigError:
    """The parsed config, or the ConfigError it raised (anything else propagates)."""
    try:
        return parse_config(text, source=source, env=env)
    except ConfigError as exc:
        return exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = "".join(
            f"\\u{ord(ch):04x}" if ord(ch) < 32 or ord(ch) == 127 or ch in '"\\' else ch
            for ch in value
        )
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


scalars = st.one_of(
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(-1e3, 1e6, allow_nan=False),
    st.sampled_from(["", "x", "hci0", "bumble:tcp-client:h:1", "mqtt://h", "mqtts://h:1",
                     "http://h", "debug", "loud", "cw", "left", "device", "ankle",
                     "AA:BB:CC:DD:EE:FF"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(
    st.sampled_from(["ble", "a", "reps"]), scalars, max_size=2))
KEYS = {
    section: [f.name for f in dataclasses.fields(cls)] + ["bogus"]
    for section, cls in {**SECTIONS, "wearable": WearableConfig,
                         "routine.toe_walk": ExerciseTarget}.items()
}


@st.composite
def config_documents(draw: st.DrawFn) -> tuple[str, dict[str, dict[str, Any]]]:
    tables = draw(st.lists(st.sampled_from(sorted(KEYS)), unique=True, max_size=4))
    content: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    for table in tables:
        keys = draw(st.lists(st.sampled_from(KEYS[table]), unique=True, max_size=4))
        if table == "wearable" and "name" not in keys and draw(st.booleans()):
            keys.append("name")
        content[table] = {}
        lines.append(f"[[{table}]]" if table == "wearable" else f"[{table}]")
        for key in keys:
            value = draw(values)
            content[table][key] = value
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines), content


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_documents())
def test_generated_documents_parse_or_name_the_bad_key(
    document: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    text, _content = document
    exc = _outcome(text, NO_ENV, "gen.toml")
    if isinstance(exc, ConfigError):
        assert exc.key is not None
        assert exc.line is not None
        assert "\n" not in str(exc)
        line = text.splitlines()[exc.line - 1]
        last = re.sub(r"\[\d+\]$", "", exc.key).split(".")[-1]
        table = exc.key.split(".")[0].split("[")[0]
        # The named line sets the key (maybe inside an inline table), or opens its table.
        assert f"{last} =" in line or table in line, (exc.key, line)
    else:
        assert isinstance(exc, Config)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_raises_config_error(text: str) -> None:
    outcome = _outcome(text, NO_ENV)
    if isinstance(outcome, ConfigError):
        assert "\n" not in str(outcome)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(
    st.sampled_from([
        "SENSORD_MQTT_KEEPALIVE_S", "SENSORD_MQTT_TLS_INSECURE", "SENSORD_BLE_QUEUE_BLOCKS",
        "SENSORD_MQTT_URL", "SENSORD_SESSION_IDLE_END_S", "SENSORD_MQTT_CLIENT_ID",
        "SENSORD_MQTT_DISCOVERY", "SENSORD_LOGGING_LEVEL", "SENSORD_BLE_ADAPTER",
    ]),
    st.text(max_size=12),
))
def test_any_environment_parses_or_names_the_variable(env: dict[str, str]) -> None:
    outcome = _outcome("", env)
    if isinstance(outcome, ConfigError):
        assert outcome.key is not None
        variable = "SENSORD_" + outcome.key.replace(".", "_").upper()
        assert f"${variable}" in str(outcome)


# --- sensord check-config ----------------------------------------------------------------------

runner = CliRunner()


def test_check_config_prints_a_summary() -> None:
    result = runner.invoke(app, ["check-config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert f"config: {EXAMPLE}" in result.output
    assert "wearable left:" in result.output
    assert "routine default: plantar_flexion 10 hold 5 s" in result.output
    assert result.output.rstrip().endswith("config is valid")


def test_check_config_error_is_one_line_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[mqtt]\nurl = "mqtt://h"\n\n[ble]\nadapter = "wlan0"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "sensord", "check-config", str(bad)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"sensord: error: {bad}:5: ble.adapter: ")


def test_check_config_without_argument_reads_the_lookup_order(tmp_path: Path) -> None:
    user = tmp_path / "xdg" / "sensord" / "sensord.toml"
    user.parent.mkdir(parents=True)
    user.write_text('[mqtt]\nbase_topic = "home"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "sensord", "check-config"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "SENSORD_MQTT_URLL": "typo",
             "SENSORD_SESSION_IDLE_END_S": "90"},
    )
    assert result.returncode == 0, result.stderr
    assert f"config: {user}" in result.stdout
    assert "topics under home/" in result.stdout
    assert "set by SENSORD_* variables: session.idle_end_s" in result.stdout
    assert "ends after 90 s idle" in result.stdout
    assert result.stderr.strip() == "warning: SENSORD_MQTT_URLL is set but names no config key"
