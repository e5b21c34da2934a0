"""Topic names and the ids that go into them (pure: no MQTT here).

A configured wearable name is free text; what reaches a topic or a Home Assistant id is its
sanitised id: lower case, only ``[a-z0-9_-]``, so no ``+``, ``#``, ``/`` or control character can
ever change the meaning of a topic or a subscription.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sensord.errors import ConfigError

#: Commands a wearable accepts on ``<base>/<id>/cmd/<command>``.
COMMANDS: Final = ("start", "stop", "reset", "identify")
#: Ids that would collide with the daemon's own topics.
RESERVED_IDS: Final = ("bridge",)

_UNSAFE_RE: Final = re.compile(r"[^a-z0-9_-]+")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")


def wearable_id(name: str) -> str:
    """``"Left Foot/2"`` -> ``"left_foot_2"``; empty when nothing usable is left."""
    return _UNSAFE_RE.sub("_", name.strip().lower()).strip("_")


def wearable_ids(names: Iterable[str]) -> dict[str, str]:
    """Maps every configured name to its id; ConfigError when two names share an id."""
    ids: dict[str, str] = {}
    owners: dict[str, str] = {}
    for index, name in enumerate(names):
        ident = wearable_id(name)
        key = f"wearable[{index}].name"
        if not ident:
            raise ConfigError(f"{name!r} has no letter or digit to build a topic id from", key=key)
        if ident in RESERVED_IDS:
            raise ConfigError(f"{name!r} is reserved for the daemon's own topics", key=key)
        if ident in owners and owners[ident] != name:
            raise ConfigError(
                f"{name!r} and {owners[ident]!r} both become the topic id {ident!r}; rename one",
                key=key,
            )
        owners[ident] = name
        ids[name] = ident
    return ids


def check_topic_prefix(value: str, key: str) -> str:
    """Validates a configured topic prefix (base topic, discovery prefix)."""
    if not value or value.startswith("/") or value.endswith("/") or "//" in value:
        raise ConfigError(f"{value!r} is not a topic prefix (no empty levels)", key=key)
    if "+" in value or "#" in value or _CONTROL_RE.search(value):
        raise ConfigError(f"{value!r} may not contain '+', '#' or control characters", key=key)
    return value


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic the daemon publishes or subscribes to, under one base topic."""

    base: str = "sensord"

    @property
    def bridge_availability(self) -> str:
        return f"{self.base}/bridge/availability"

    @property
    def bridge_state(self) -> str:
        return f"{self.base}/bridge/state"

    def availability(self, ident: str) -> str:
        return f"{self.base}/{ident}/availability"

    def status(self, ident: str) -> str:
        return f"{self.base}/{ident}/status"

    def activity(self, ident: str) -> str:
        return f"{self.base}/{ident}/activity"

    def event(self, ident: str) -> str:
        return f"{self.base}/{ident}/event"

    def daily(self, ident: str) -> str:
        return f"{self.base}/{ident}/daily"

    def raw(self, ident: str) -> str:
        return f"{self.base}/{ident}/raw"

    def cmd(self, ident: str, command: str) -> str:
        return f"{self.base}/{ident}/cmd/{command}"

    def cmd_result(self, ident: str, command: str) -> str:
        return f"{self.base}/{ident}/cmd/{command}/result"

    @property
    def cmd_filter(self) -> str:
        """One subscription for every wearable's commands (results are one level deeper)."""
        return f"{self.base}/+/cmd/+"

    def parse_cmd(self, topic: str) -> tuple[str, str] | None:
        """``<base>/<id>/cmd/<command>`` -> (id, command); None for any other topic."""
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix):].split("/")
        if len(parts) != 3 or parts[1] != "cmd":
            return None
        return parts[0], parts[2]


__all__ = [
    "COMMANDS", "RESERVED_IDS", "Topics", "check_topic_prefix", "wearable_id", "wearable_ids",
]
