"""Configuration: one TOML file (plus ``SENSORD_*`` variables) -> one frozen, typed tree.

Every section is a frozen dataclass; the loader walks the dataclass fields, so adding a setting is
adding a field with a default (and a line in config/sensord.toml, which a test checks). A field's
``metadata["check"]`` validates its value. Errors name the key path (``mqtt.url``) and the file's
line, or the environment variable that set it.

Look-up order: ``--config``, ``$XDG_CONFIG_HOME/sensord/sensord.toml``,
``/etc/sensord/sensord.toml``; with none of them, the defaults. ``SENSORD_<SECTION>_<KEY>``
overrides a scalar key of a section (``SENSORD_MQTT_URL``, ``SENSORD_SESSION_IDLE_END_S``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from sensord.errors import ConfigError
from sensord.model import DIRECTIONS, EXERCISES, Placement, Side
from sensord.routine import DEFAULT_ROUTINE, ROUTINES, ExerciseTarget, Routine

ENV_PREFIX: Final = "SENSORD_"
SYSTEM_CONFIG: Final = Path("/etc/sensord/sensord.toml")
#: Variables with the prefix that are not config keys (read by the code that needs them).
NON_KEY_VARIABLES: Final = frozenset({"SENSORD_MQTT_PASSWORD"})
#: The name of the systemd credential that holds the MQTT password (LoadCredential=).
PASSWORD_CREDENTIAL: Final = "mqtt-password"  # noqa: S105 (a file name, not a secret)
DATABASE_NAME: Final = "sensord.db"
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")

#: A check takes a converted value and returns an error message, or None when the value is fine.
Check = Callable[[Any], str | None]


def _check(function: Check) -> dict[str, Check]:
    return {"check": function}


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _log_level(value: Any) -> str | None:
    if value.lower() in LOG_LEVELS:
        return None
    return f"{value!r} is not a log level (use {', '.join(LOG_LEVELS)})"


def _log_levels(value: Any) -> str | None:
    for name, level in value.items():
        problem = _log_level(level)
        if problem:
            return f"{name}: {problem}"
    return None


def _non_empty(value: Any) -> str | None:
    if not value.strip():
        return "must not be empty"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "must not contain control characters"
    return None


_ADAPTER_RE: Final = re.compile(r"^(hci\d+|bumble:.+)$")
_MAC_RE: Final = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}(/[PR])?$")


def _adapter(value: Any) -> str | None:
    if value is None or _ADAPTER_RE.match(value):
        return None
    return f"{value!r} is not an adapter (use hci0-style names or bumble:TRANSPORT)"


def _address(value: Any) -> str | None:
    if value is None or _MAC_RE.match(value):
        return None
    try:
        uuid.UUID(value)
    except ValueError:
        return f"{value!r} is not a Bluetooth address (AA:BB:CC:DD:EE:FF) or a device UUID"
    return None


def _url(value: Any) -> str | None:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"{value!r} is not a broker URL ({exc})"
    if parts.scheme not in ("mqtt", "mqtts"):
        return f"{value!r} is not a broker URL (use mqtt://host[:port] or mqtts://...)"
    if not parts.hostname:
        return f"{value!r} names no host"
    if parts.password is not None:
        return "put the password in mqtt.password_file or SENSORD_MQTT_PASSWORD, not in the URL"
    if port == 0:
        return f"{value!r}: port 0 is not a broker port"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{value!r}: a broker URL has no path, query or fragment"
    return None


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """The broker and how we publish to it (see docs/mqtt.md)."""

    url: str = field(default="mqtt://127.0.0.1:1883", metadata=_check(_url))
    username: str | None = None
    password_file: str | None = None
    base_topic: str = field(default="sensord", metadata=_check(_non_empty))
    discovery: Literal["device", "entity", "off"] = "device"
    discovery_prefix: str = field(default="homeassistant", metadata=_check(_non_empty))
    client_id: str | None = None
    keepalive_s: float = field(default=30.0, metadata=_check(_positive))
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_insecure: bool = False
    publish_raw: bool = False
    activity_max_hz: float = field(default=4.0, metadata=_check(_positive))
    #: Reconnects wait between these bounds (doubling, with jitter).
    reconnect_min_s: float = field(default=1.0, metadata=_check(_positive))
    reconnect_max_s: float = field(default=30.0, metadata=_check(_positive))
    #: How often status and bridge state are published (Home Assistant expires status after 3x).
    status_interval_s: float = field(default=10.0, metadata=_check(_positive))


@dataclass(frozen=True, slots=True)
class BleConfig:
    """The Bluetooth adapter and link timing shared by every wearable."""

    adapter: str = field(default="hci0", metadata=_check(_adapter))
    scan_timeout_s: float = field(default=10.0, metadata=_check(_positive))
    connect_timeout_s: float = field(default=20.0, metadata=_check(_positive))
    stale_after_s: float = field(default=5.0, metadata=_check(_positive))
    queue_blocks: int = field(default=256, metadata=_check(_positive))


@dataclass(frozen=True, slots=True)
class WearableConfig:
    """One wearable (typically one per foot)."""

    name: str = field(metadata=_check(_non_empty))
    address: str | None = field(default=None, metadata=_check(_address))
    profile: str = field(default="auto", metadata=_check(_non_empty))
    placement: Placement = "instep"
    side: Side | None = None
    adapter: str | None = field(default=None, metadata=_check(_adapter))
    rate_hz: float = field(default=100.0, metadata=_check(_positive))


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The SQLite outbox and history. ``path`` defaults to the state directory."""

    path: str | None = None
    max_rows: int = field(default=100_000, metadata=_check(_positive))
    max_age_days: float = field(default=30.0, metadata=_check(_positive))


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """When a workout session starts and ends, and how strictly holds, bouts and rests count.

    Tolerances are seconds a measured duration may fall short of the prescription and still
    count as full. Holds: 0.5 s, the margin the engine uses for its ``short_hold`` flag, so the
    two agree. Bouts: 1 s, because a bout is measured from its first to its last landing, about
    a stride shorter than the walk itself.
    """

    idle_end_s: float = field(default=300.0, metadata=_check(_positive))
    auto_start: bool = True
    hold_tolerance_s: float = field(default=0.5, metadata=_check(_non_negative))
    bout_tolerance_s: float = field(default=1.0, metadata=_check(_non_negative))
    rest_tolerance_s: float = field(default=0.5, metadata=_check(_non_negative))


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The daemon's health rules: when it stops pinging systemd's watchdog (see sensord.notify).

    ``stall_s``: a wearable that claims to stream but sent no sample for this long during a
    session is stuck (the silent BLE stall users report). ``reconnect_s``: a wearable that has
    been reconnecting this long during a session is not coming back by itself. ``hung_s``: a
    link or broker task that showed no sign of life for this long is hung.
    """

    stall_s: float = field(default=30.0, metadata=_check(_positive))
    reconnect_s: float = field(default=300.0, metadata=_check(_positive))
    hung_s: float = field(default=120.0, metadata=_check(_positive))


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """Log levels: one default and optional per-subsystem levels (``ble = "debug"``).

    ``repeat_burst`` identical warnings or errors may pass per ``repeat_window_s``; the rest are
    counted and summarised, so a flapping link cannot flood the journal.
    """

    level: str = field(default="info", metadata=_check(_log_level))
    levels: dict[str, str] = field(default_factory=dict, metadata=_check(_log_levels))
    repeat_window_s: float = field(default=60.0, metadata=_check(_positive))
    repeat_burst: int = field(default=3, metadata=_check(_positive))


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration.

    ``source`` is the file it came from, if any; ``env_keys`` lists the key paths that
    ``SENSORD_*`` variables set. Neither is a key of the file.
    """

    mqtt: MqttConfig = MqttConfig()
    ble: BleConfig = BleConfig()
    store: StoreConfig = StoreConfig()
    session: SessionConfig = SessionConfig()
    service: ServiceConfig = ServiceConfig()
    logging: LoggingConfig = LoggingConfig()
    wearables: tuple[WearableConfig, ...] = ()
    routine: Routine = DEFAULT_ROUTINE
    source: str | None = None
    env_keys: tuple[str, ...] = ()


#: The scalar-table sections, by their name in the file.
SECTIONS: Final[dict[str, type[Any]]] = {
    "mqtt": MqttConfig, "ble": BleConfig, "store": StoreConfig, "session": SessionConfig,
    "service": ServiceConfig, "logging": LoggingConfig,
}
#: Fields of Config that are not keys of the file.
NOT_KEYS: Final = frozenset({"source", "env_keys"})


# --- locating keys in the file, so errors can name a line -------------------------------------

_TABLE_RE: Final = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_KEY_RE: Final = re.compile(r'^\s*("?)([A-Za-z0-9_\-.]+)\1\s*=')
_TOML_AT_RE: Final = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")


def _find_line(text: str, key_path: str) -> int | None:
    """The 1-based line where ``key_path`` (``a.b.c`` or ``wearable[1].name``) is set.

    Falls back to the line of the nearest enclosing table or key (for a missing key, the table
    that lacks it).
    """
    parts = re.sub(r"\[(\d+)\]", r".\1", key_path).split(".")
    table: list[str] = []
    array_counts: dict[str, int] = {}
    best: tuple[int, int] | None = None  # (matched depth, line)
    for lineno, line in enumerate(text.splitlines(), start=1):
        table_match = _TABLE_RE.match(line)
        if table_match:
            table = [p.strip() for p in table_match.group(1).replace('"', "").split(".")]
            if line.lstrip().startswith("[["):
                name = ".".join(table)
                array_counts[name] = array_counts.get(name, -1) + 1
                table = [*table, str(array_counts[name])]
            if table == parts[: len(table)] and (best is None or len(table) > best[0]):
                best = (len(table), lineno)
            continue
        key_match = _KEY_RE.match(line)
        if key_match:
            full = [*table, *key_match.group(2).split(".")]
            if full == parts:
                return lineno
            if full == parts[: len(full)] and (best is None or len(full) > best[0]):
                best = (len(full), lineno)
    return None if best is None else best[1]


# --- converting TOML values to the dataclass tree ----------------------------------------------

T = TypeVar("T")


class _Converter:
    def __init__(self, source: str | None, text: str, env_keys: Mapping[str, str]) -> None:
        self.source = source
        self.text = text
        self.env_keys = env_keys  # key path -> the variable that set it

    def error(self, key: str, message: str) -> ConfigError:
        variable = self.env_keys.get(key)
        if variable is not None:
            return ConfigError(f"{message} (set by ${variable})", key=key)
        line = _find_line(self.text, key) if self.text else None
        return ConfigError(message, key=key, path=self.source, line=line)

    def value(self, tp: Any, raw: Any, key: str) -> Any:
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            options = get_args(tp)
            if raw is None and type(None) in options:
                return None
            errors = []
            for option in options:
                if option is type(None):
                    continue
                try:
                    return self.value(option, raw, key)
                except ConfigError as exc:
                    errors.append(exc)
            raise errors[0]
        if origin is Literal:
            allowed = get_args(tp)
            if raw not in allowed:
                choices = ", ".join(repr(a) for a in allowed)
                raise self.error(key, f"{raw!r} is not one of {choices}")
            return raw
        if origin is tuple:
            (item_type, _ellipsis) = get_args(tp)
            if not isinstance(raw, list):
                raise self.error(key, f"expected a list, got {_kind(raw)}")
            return tuple(self.value(item_type, item, f"{key}[{i}]") for i, item in enumerate(raw))
        if origin is dict:
            _key_type, value_type = get_args(tp)
            if not isinstance(raw, dict):
                raise self.error(key, f"expected a table, got {_kind(raw)}")
            return {str(k): self.value(value_type, v, f"{key}.{k}") for k, v in raw.items()}
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.dataclass(tp, raw, key)
        if tp is bool:
            if not isinstance(raw, bool):
                raise self.error(key, f"expected true or false, got {raw!r}")
            return raw
        if tp is int:
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise self.error(key, f"expected a whole number, got {raw!r}")
            return raw
        if tp is float:
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise self.error(key, f"expected a number, got {raw!r}")
            if not math.isfinite(raw):
                raise self.error(key, f"expected a finite number, got {raw!r}")
            return float(raw)
        if tp is str:
            if not isinstance(raw, str):
                raise self.error(key, f"expected a string, got {raw!r}")
            return raw
        raise self.error(key, f"unsupported setting type {tp!r}")  # pragma: no cover

    def dataclass(self, cls: type[T], raw: Any, key: str) -> T:
        if not isinstance(raw, dict):
            raise self.error(key, f"expected a table, got {_kind(raw)}")
        hints = get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            where = f"{key}.{unknown[0]}" if key else unknown[0]
            known = ", ".join(sorted(n for n in fields if n not in NOT_KEYS))
            raise self.error(where, f"unknown key (known keys here: {known})")
        kwargs: dict[str, Any] = {}
        for name, value in raw.items():
            path = f"{key}.{name}" if key else name
            converted = self.value(hints[name], value, path)
            check: Check | None = fields[name].metadata.get("check")
            problem = check(converted) if check is not None and converted is not None else None
            if problem:
                raise self.error(path, problem)
            kwargs[name] = converted
        missing = [
            name for name, f in fields.items()
            if name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise self.error(key, f"missing required key {missing[0]!r}")
        return cls(**kwargs)

    def routine(self, raw: Any) -> Routine:
        """``[routine]``: ``name`` picks a built-in routine, ``exercises`` its order and subset,
        and ``[routine.<exercise>]`` tables override single targets."""
        if not isinstance(raw, dict):
            raise self.error("routine", f"expected a table, got {_kind(raw)}")
        name = raw.get("name", DEFAULT_ROUTINE.name)
        if not isinstance(name, str):
            raise self.error("routine.name", f"expected a string, got {name!r}")
        base_routine = ROUTINES.get(name, DEFAULT_ROUTINE)
        targets = dict(base_routine.targets)
        order = list(base_routine.exercises)
        if "exercises" in raw:
            listed = raw["exercises"]
            if not isinstance(listed, list) or not listed:
                raise self.error("routine.exercises", "expected a non-empty list of exercise ids")
            for index, exercise in enumerate(listed):
                if exercise not in EXERCISES:
                    raise self.error(
                        f"routine.exercises[{index}]",
                        f"{exercise!r} is not an exercise (known: {', '.join(EXERCISES)})",
                    )
            if len(set(listed)) != len(listed):
                raise self.error("routine.exercises", "an exercise is listed twice")
            order = list(listed)
        for exercise, table in raw.items():
            if exercise in ("name", "exercises"):
                continue
            key = f"routine.{exercise}"
            if exercise not in EXERCISES:
                raise self.error(
                    key, f"unknown key (known: name, exercises, {', '.join(EXERCISES)})"
                )
            if not isinstance(table, dict):
                raise self.error(key, f"expected a table, got {_kind(table)}")
            merged = {**dataclasses.asdict(targets[exercise]), **table}
            if isinstance(merged["directions"], tuple):
                merged["directions"] = list(merged["directions"])
            target = self.dataclass(ExerciseTarget, merged, key)
            self._check_target(key, target)
            targets[exercise] = target
        if name not in ROUTINES and set(raw) <= {"name"}:
            raise self.error(
                "routine.name",
                f"unknown routine {name!r} (built in: {', '.join(ROUTINES)}); "
                "describe a custom one with [routine.<exercise>] tables",
            )
        routine = Routine(name=name, targets=tuple((e, targets[e]) for e in order))
        if "name" not in raw and routine != base_routine:
            routine = Routine(name="custom", targets=routine.targets)
        return routine

    def _check_target(self, key: str, target: ExerciseTarget) -> None:
        if target.reps < 1:
            raise self.error(f"{key}.reps", "must be at least 1")
        for name in ("hold_s", "bout_min_s", "bout_max_s"):
            value = getattr(target, name)
            if value is not None and value <= 0:
                raise self.error(f"{key}.{name}", "must be greater than 0")
        if target.rest_s is not None and target.rest_s < 0:
            raise self.error(f"{key}.rest_s", "must be 0 or more")
        for index, direction in enumerate(target.directions):
            if direction not in DIRECTIONS:
                raise self.error(
                    f"{key}.directions[{index}]",
                    f"{direction!r} is not one of {', '.join(DIRECTIONS)}",
                )
        if len(set(target.directions)) != len(target.directions):
            raise self.error(f"{key}.directions", "a direction is listed twice")
        if (
            target.bout_min_s is not None and target.bout_max_s is not None
            and target.bout_min_s > target.bout_max_s
        ):
            raise self.error(f"{key}.bout_max_s", "must not be shorter than bout_min_s")


def _kind(raw: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(raw), type(raw).__name__
    )


# --- environment overrides ---------------------------------------------------------------


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, tuple[str, str]]]:
    """``SENSORD_<SECTION>_<KEY>=value`` -> {section: {key: (variable, text)}} for scalar keys."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for var, text in env.items():
        match = _env_key(var)
        if match is not None:
            section, key = match
            out.setdefault(section, {})[key] = (var, text)
    return out


def _env_key(var: str) -> tuple[str, str] | None:
    if not var.startswith(ENV_PREFIX) or var in NON_KEY_VARIABLES:
        return None
    rest = var[len(ENV_PREFIX):].lower()
    for section, cls in SECTIONS.items():
        if not rest.startswith(section + "_"):
            continue
        key = rest[len(section) + 1:]
        hints = get_type_hints(cls)
        if key in hints and get_origin(hints[key]) is not dict:
            return section, key
    return None


def unknown_env_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """``SENSORD_*`` variables that set nothing (likely typos), for ``check-config`` to show."""
    env = os.environ if env is None else env
    return sorted(
        var for var in env
        if var.startswith(ENV_PREFIX) and var not in NON_KEY_VARIABLES and _env_key(var) is None
    )


def _coerce_env(tp: Any, text: str) -> Any:
    """Turns an environment string into the TOML value the field expects.

    Text that does not fit is passed through unchanged, so the converter reports it with the
    expected type. An empty string means "unset" for optional keys.
    """
    options = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    if type(None) in options and text == "":
        return None
    target = next((a for a in options if a is not type(None)), tp)
    converters: dict[Any, Callable[[str], Any]] = {int: int, float: float}
    if target is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return text
    if target in converters:
        try:
            return converters[target](text.strip())
        except ValueError:
            return text
    return text


# --- parsing and loading -------------------------------------------------------------------


def parse_config(
    text: str, *, source: str | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Parses TOML text (and environment overrides) into a Config; raises ConfigError."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_AT_RE.search(message)
        line = int(at.group(1)) if at else None
        message = _TOML_AT_RE.sub("", message)
        raise ConfigError(f"not valid TOML: {message}", path=source, line=line) from None
    env_values = _env_overrides(os.environ if env is None else env)
    env_keys = {
        f"{section}.{key}": var
        for section, values in env_values.items() for key, (var, _text) in values.items()
    }
    converter = _Converter(source, text, env_keys)
    hints = get_type_hints(Config)
    kwargs: dict[str, Any] = {"source": source, "env_keys": tuple(sorted(env_keys))}
    allowed = {*SECTIONS, "wearable", "routine"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise converter.error(
            unknown[0], f"unknown section (known: {', '.join(sorted(allowed))})"
        )
    for section in SECTIONS:
        table = raw.get(section, {})
        if isinstance(table, dict):
            table = dict(table)
            section_hints = get_type_hints(hints[section])
            for key, (_var, text_value) in env_values.get(section, {}).items():
                table[key] = _coerce_env(section_hints[key], text_value)
        kwargs[section] = converter.value(hints[section], table, section)
    wearables = raw.get("wearable", [])
    if isinstance(wearables, dict):
        wearables = [wearables]
    kwargs["wearables"] = converter.value(tuple[WearableConfig, ...], wearables, "wearable")
    names = [w.name for w in kwargs["wearables"]]
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise converter.error(f"wearable[{index}].name", f"name {name!r} is used twice")
    if "routine" in raw:
        kwargs["routine"] = converter.routine(raw["routine"])
    return Config(**kwargs)


def default_config_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """Where the config is looked for, in order, when ``--config`` is not given."""
    env = os.environ if env is None else env
    xdg = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path(xdg) / "sensord" / "sensord.toml", SYSTEM_CONFIG]


def find_config(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Path | None:
    """The file ``load_config`` would read: ``path`` itself, else the first that exists."""
    if path is not None:
        return Path(path)
    return next((p for p in default_config_paths(env) if p.is_file()), None)


def load_config(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Config:
    """Loads the config from ``path`` or the first default location that exists."""
    candidate = find_config(path, env=env)
    if candidate is None:
        return parse_config("", source=None, env=env)
    try:
        text = candidate.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", path=str(candidate)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start} cannot be decoded)", path=str(candidate)
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", path=str(candidate)) from None
    return parse_config(text, source=str(candidate), env=env)


# --- what a reload changes ------------------------------------------------------------------

#: ``[mqtt]`` keys that need a new broker session when they change (the rest apply as they are).
MQTT_SESSION_KEYS: Final = (
    "url", "username", "password_file", "base_topic", "discovery", "discovery_prefix",
    "client_id", "keepalive_s", "tls_ca_file", "tls_cert_file", "tls_key_file", "tls_insecure",
)


def _link_key(wearable: WearableConfig, ble: BleConfig) -> tuple[Any, ...]:
    """What a wearable's BLE link is built from: a change here restarts the link alone."""
    return (
        wearable.address, wearable.profile, wearable.rate_hz, wearable.adapter or ble.adapter,
        ble.scan_timeout_s, ble.connect_timeout_s, ble.stale_after_s, ble.queue_blocks,
    )


@dataclass(frozen=True, slots=True)
class ConfigChanges:
    """What differs between the running config and a reloaded one, by consequence.

    Wearables are matched by name (a renamed wearable is one removed and one added).
    ``relinked``: only the link changed (address, profile, rate, adapter, ``[ble]`` timing), so
    the link restarts and the analysis and the open session go on, as after a reconnect.
    ``restarted``: the analysis changed (placement, side), so the wearable restarts alone and
    its open session ends. ``sections`` names every top-level part that changed, for the log.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    relinked: tuple[str, ...] = ()
    restarted: tuple[str, ...] = ()
    mqtt_session: bool = False
    store_path: bool = False
    sections: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.sections)


def diff_configs(
    old: Config, new: Config, env: Mapping[str, str] | None = None
) -> ConfigChanges:
    """Compares two configs (pure, apart from resolving the default database path in ``env``)."""
    before = {w.name: w for w in old.wearables}
    after = {w.name: w for w in new.wearables}
    relinked: list[str] = []
    restarted: list[str] = []
    for name in before.keys() & after.keys():
        was, now = before[name], after[name]
        if (was.placement, was.side) != (now.placement, now.side):
            restarted.append(name)
        elif _link_key(was, old.ble) != _link_key(now, new.ble):
            relinked.append(name)
    sections = [
        f.name for f in dataclasses.fields(Config)
        if f.name not in NOT_KEYS and getattr(old, f.name) != getattr(new, f.name)
    ]
    return ConfigChanges(
        added=tuple(n for n in after if n not in before),
        removed=tuple(n for n in before if n not in after),
        relinked=tuple(n for n in after if n in relinked),
        restarted=tuple(n for n in after if n in restarted),
        mqtt_session=any(
            getattr(old.mqtt, key) != getattr(new.mqtt, key) for key in MQTT_SESSION_KEYS
        ),
        store_path=database_path(old.store, env) != database_path(new.store, env),
        sections=tuple(sections),
    )


# --- paths and secrets the config points to ----------------------------------------------------


def state_directory(env: Mapping[str, str] | None = None) -> Path:
    """Where sensord keeps its state: ``$STATE_DIRECTORY`` (systemd's StateDirectory=, first of a
    colon-separated list), else ``$XDG_STATE_HOME/sensord``, else ``~/.local/state/sensord``."""
    env = os.environ if env is None else env
    systemd_dirs = env.get("STATE_DIRECTORY", "")
    if systemd_dirs:
        return Path(systemd_dirs.split(":")[0])
    xdg = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "sensord"


def database_path(store: StoreConfig, env: Mapping[str, str] | None = None) -> Path:
    """The SQLite file shared by the outbox and the history: ``store.path`` (``~`` expanded)
    or ``sensord.db`` in the state directory."""
    if store.path:
        return Path(store.path).expanduser()
    return state_directory(env) / DATABASE_NAME


def mqtt_password(mqtt: MqttConfig, env: Mapping[str, str] | None = None) -> str | None:
    """The broker password, never from argv: ``$SENSORD_MQTT_PASSWORD``, else
    ``mqtt.password_file``, else the systemd credential ``mqtt-password`` in
    ``$CREDENTIALS_DIRECTORY``. Trailing newlines are dropped; an empty file means none."""
    env = os.environ if env is None else env
    if "SENSORD_MQTT_PASSWORD" in env:
        return env["SENSORD_MQTT_PASSWORD"] or None
    candidates: list[tuple[Path, str]] = []
    if mqtt.password_file:
        candidates.append((Path(mqtt.password_file).expanduser(), "mqtt.password_file"))
    elif env.get("CREDENTIALS_DIRECTORY"):
        credential = Path(env["CREDENTIALS_DIRECTORY"]) / PASSWORD_CREDENTIAL
        if credential.exists():
            candidates.append((credential, "the systemd credential mqtt-password"))
    for path, what in candidates:
        try:
            secret = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read {what} {path}: {reason}", key="mqtt.password_file") \
                from None
        return secret or None
    return None


__all__ = [
    "MQTT_SESSION_KEYS", "SECTIONS", "BleConfig", "Config", "ConfigChanges", "LoggingConfig",
    "MqttConfig", "ServiceConfig", "SessionConfig", "StoreConfig", "WearableConfig",
    "database_path", "default_config_paths", "diff_configs", "find_config", "load_config",
    "mqtt_password", "parse_config", "state_directory", "unknown_env_variables",
]
