"""Fixtures of the MQTT area: a unique topic space per test on the shared broker."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from sensord.config import Config, MqttConfig, StoreConfig, WearableConfig


@dataclass(frozen=True)
class Space:
    """A base topic and a discovery prefix no other test uses."""

    base: str
    prefix: str

    def config(
        self, url: str, store: Path, *, wearables: tuple[str, ...] = ("left",),
        **mqtt: object,
    ) -> Config:
        settings = {
            "url": url, "base_topic": self.base, "discovery_prefix": self.prefix,
            "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "status_interval_s": 0.5,
            **mqtt,
        }
        return Config(
            mqtt=MqttConfig(**settings),  # type: ignore[arg-type]
            store=StoreConfig(path=str(store)),
            wearables=tuple(WearableConfig(name=n, rate_hz=50.0) for n in wearables),
        )


@pytest.fixture
def space() -> Space:
    tag = uuid.uuid4().hex[:10]
    return Space(base=f"test/{tag}/sensord", prefix=f"ha{tag}")
