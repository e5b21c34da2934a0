"""Configuration: one TOML file (plus ``SENSORD_*`` variables) -> one frozen, typed tree.

Every section is a frozen dataclass; the loader walks the dataclass fields, so adding a setting is
adding a field with a default. Errors name the key path (``mqtt.url``) and the file's line.
Look-up order: ``--config``, ``$XDG_CONFIG_HOME/sensord/sensord.toml``,
``/etc/sensord/sensord.toml``; with none of them, the defaults.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from sensord.errors import ConfigError
from sensord.model import EXERCISES, Placement, Side
from sensord.routine import DEFAULT_ROUTINE, ExerciseTarget, Routine

ENV_PREFIX: Final = "SENSORD_"
SYSTEM_CONFIG: Final = Path("/etc/sensord/sensord.toml")


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """The broker and how we publish to it (see docs/mqtt.md)."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password_file: str | None = None
    base_topic: str = "sensord"
    discovery: Literal["device", "entity", "off"] = "device"
    discovery_prefix: str = "homeassistant"
    client_id: str | None = None
    keepalive_s: float = 30.0
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_insecure: bool = False
    publish_raw: bool = False
    activity_max_hz: float = 4.0
    #: Reconnects wait between these bounds (doubling, with jitter).
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    #: How often status and bridge state are published (Home Assistant expires status after 3x).
    status_interval_s: float = 10.0


@dataclass(frozen=True, slots=True)
class BleConfig:
    """The Bluetooth adapter and link timing shared by every wearable."""

    adapter: str = "hci0"
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 20.0
    stale_after_s: float = 5.0
    queue_blocks: int = 256


@dataclass(frozen=True, slots=True)
class WearableConfig:
    """One wearable (typically one per foot)."""

    name: str
    address: str | None = None
    profile: str = "auto"
    placement: Placement = "instep"
    side: Side | None = None
    adapter: str | None = None
    rate_hz: float = 100.0


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The SQLite outbox and history. ``path`` defaults to the state directory."""

    path: str | None = None
    max_rows: int = 100_000
    max_age_days: float = 30.0


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """When a workout session starts and ends."""

    idle_end_s: float = 300.0
    auto_start: bool = True


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """Log levels: one default and optional per-subsystem levels (``ble = "debug"``)."""

    level: str = "info"
    levels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration. ``source`` is the file it came from, if any."""

    mqtt: MqttConfig = MqttConfig()
    ble: BleConfig = BleConfig()
    store: StoreConfig = StoreConfig()
    session: SessionConfig = SessionConfig()
    logging: LoggingConfig = LoggingConfig()
    wearables: tuple[WearableConfig, ...] = ()
    routine: Routine = DEFAULT_ROUTINE
    source: str | None = None


# --- locating keys in the file, so errors can name a line -------------------------------------

_TABLE_RE: Final = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_KEY_RE: Final = re.compile(r'^\s*("?)([A-Za-z0-9_\-.]+)\1\s*=')


def _find_line(text: str, key_path: str) -> int | None:
    """The 1-based line where ``key_path`` (``a.b.c`` or ``wearable[1].name``) is set."""
    parts = re.sub(r"\[(\d+)\]", r".\1", key_path).split(".")
    table: list[str] = []
    array_counts: dict[str, int] = {}
    best: int | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        table_match = _TABLE_RE.match(line)
        if table_match:
            table = table_match.group(1).replace('"', "").split(".")
            if line.lstrip().startswith("[["):
                name = ".".join(table)
                array_counts[name] = array_counts.get(name, -1) + 1
                table = [*table, str(array_counts[name])]
            if table == parts[: len(table)] and best is None and len(table) == len(parts):
                best = lineno
            continue
        key_match = _KEY_RE.match(line)
        if key_match:
            full = [*table, *key_match.group(2).split(".")]
            if full == parts:
                return lineno
            if best is None and full == parts[: len(full)] and full:
                best = lineno
    return best


# --- converting TOML values to the dataclass tree ----------------------------------------------

T = TypeVar("T")


class _Converter:
    def __init__(self, source: str | None, text: str) -> None:
        self.source = source
        self.text = text

    def error(self, key: str, message: str) -> ConfigError:
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
                raise self.error(key, f"expected a list, got {type(raw).__name__}")
            return tuple(self.value(item_type, item, f"{key}[{i}]") for i, item in enumerate(raw))
        if origin is dict:
            _key_type, value_type = get_args(tp)
            if not isinstance(raw, dict):
                raise self.error(key, f"expected a table, got {type(raw).__name__}")
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
            return float(raw)
        if tp is str:
            if not isinstance(raw, str):
                raise self.error(key, f"expected a string, got {raw!r}")
            return raw
        raise self.error(key, f"unsupported setting type {tp!r}")  # pragma: no cover

    def dataclass(self, cls: type[T], raw: Any, key: str) -> T:
        if not isinstance(raw, dict):
            raise self.error(key, f"expected a table, got {type(raw).__name__}")
        hints = get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            where = f"{key}.{unknown[0]}" if key else unknown[0]
            known = ", ".join(sorted(n for n in fields if n != "source"))
            raise self.error(where, f"unknown key (known keys here: {known})")
        kwargs: dict[str, Any] = {}
        for name, value in raw.items():
            kwargs[name] = self.value(hints[name], value, f"{key}.{name}" if key else name)
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
        if not isinstance(raw, dict):
            raise self.error("routine", "expected a table")
        name = raw.get("name", "custom" if set(raw) - {"name"} else DEFAULT_ROUTINE.name)
        targets = dict(DEFAULT_ROUTINE.targets)
        for exercise, table in raw.items():
            if exercise == "name":
                continue
            if exercise not in EXERCISES:
                raise self.error(
                    f"routine.{exercise}",
                    f"unknown exercise (known: {', '.join(EXERCISES)})",
                )
            base = dataclasses.asdict(targets[exercise])
            if not isinstance(table, dict):
                raise self.error(f"routine.{exercise}", "expected a table")
            merged = {**base, **table}
            merged["directions"] = list(merged["directions"])
            target = self.dataclass(ExerciseTarget, merged, f"routine.{exercise}")
            if target.reps < 1:
                raise self.error(f"routine.{exercise}.reps", "must be at least 1")
            targets[exercise] = target
        return Routine(
            name=str(name), targets=tuple((e, targets[e]) for e in EXERCISES if e in targets)
        )


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``SENSORD_<SECTION>_<KEY>=value`` -> {section: {key: text}} for known scalar keys."""
    sections = {
        "mqtt": MqttConfig, "ble": BleConfig, "store": StoreConfig,
        "session": SessionConfig, "logging": LoggingConfig,
    }
    out: dict[str, dict[str, Any]] = {}
    for var, text in env.items():
        if not var.startswith(ENV_PREFIX):
            continue
        rest = var[len(ENV_PREFIX):].lower()
        for section, cls in sections.items():
            if not rest.startswith(section + "_"):
                continue
            key = rest[len(section) + 1:]
            names = {f.name for f in dataclasses.fields(cls)}
            if key in names:
                out.setdefault(section, {})[key] = text
    return out


def _coerce_env(tp: Any, text: str) -> Any:
    """Turns an environment string into the TOML value the field expects."""
    args = [a for a in get_args(tp) if a is not type(None)] if get_origin(tp) in (
        Union, types.UnionType) else [tp]
    target = args[0] if args else tp
    if target is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return text
    if target is int:
        try:
            return int(text)
        except ValueError:
            return text
    if target is float:
        try:
            return float(text)
        except ValueError:
            return text
    return text


def parse_config(
    text: str, *, source: str | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Parses TOML text (and environment overrides) into a Config; raises ConfigError."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        message = str(getattr(exc, "msg", exc))
        raise ConfigError(f"not valid TOML: {message}", path=source, line=line) from None
    converter = _Converter(source, text)
    hints = get_type_hints(Config)
    kwargs: dict[str, Any] = {"source": source}
    env_values = _env_overrides(os.environ if env is None else env)
    allowed = {"mqtt", "ble", "store", "session", "logging", "wearable", "routine"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise converter.error(
            unknown[0], f"unknown section (known: {', '.join(sorted(allowed))})"
        )
    for section in ("mqtt", "ble", "store", "session", "logging"):
        table = dict(raw.get(section, {})) if isinstance(raw.get(section, {}), dict) else raw[
            section]
        if isinstance(table, dict):
            section_hints = get_type_hints(hints[section])
            for key, text_value in env_values.get(section, {}).items():
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


def load_config(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Config:
    """Loads the config from ``path`` or the first default location that exists."""
    candidates = [Path(path)] if path is not None else default_config_paths(env)
    for candidate in candidates:
        if path is None and not candidate.exists():
            continue
        try:
            text = candidate.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("config file not found", path=str(candidate)) from None
        except OSError as exc:
            raise ConfigError(f"cannot read config: {exc.strerror}", path=str(candidate)) from None
        return parse_config(text, source=str(candidate), env=env)
    return parse_config("", source=None, env=env)


__all__ = [
    "BleConfig", "Config", "LoggingConfig", "MqttConfig", "SessionConfig", "StoreConfig",
    "WearableConfig", "default_config_paths", "load_config", "parse_config",
]

_ = typing  # keep typing importable for get_type_hints on postponed annotations
