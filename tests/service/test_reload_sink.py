"""The MQTT sink taking a reloaded ``[mqtt]`` against the real Mosquitto: a new base topic moves
the latest values and the outbox there (the old one hears the bridge go offline); keys that need
no new session change nothing on the wire; an unusable value changes nothing at all."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest

from sensord.config import MqttConfig
from sensord.daemon import mqtt_sink
from sensord.errors import ConfigError
from sensord.model import Event
from sensord.sinks.broker import broker_settings
from sensord.store import Store
from tests.mqtt.conftest import Space
from tests.mqtt.helpers import Collector
from tests.service import procs

PORT = 1883


@pytest.fixture
def space() -> Space:
    return Space(*procs.unique_space())


def _rep(t_s: float) -> Event:
    return Event(type="rep", exercise="toe_press", t_start=t_s, t_end=t_s + 1.0, hold_s=5.0)


def _states(seen: Collector, topic: str) -> list[str]:
    return [m.json()["state"] for m in seen.on(topic) if m.payload]


@pytest.mark.asyncio
async def test_a_new_base_topic_moves_the_latest_values_and_the_outbox(
    tmp_path: Path, space: Space, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sensord.sinks.mqtt")
    new_base = f"{space.base}-moved"
    config = space.config("mqtt://127.0.0.1", tmp_path / "o.db")
    with Store.open(tmp_path / "o.db") as store:
        sink = mqtt_sink(config, store, prune_discovery=True)
        async with Collector(PORT, [f"{space.base}/#", f"{new_base}/#"]) as seen:
            task = asyncio.create_task(sink.run())
            try:
                sink.set_availability("left", True)
                sink.set_daily(store.daily_totals("left"))
                store.append("left", [_rep(1.0)])
                sink.events_stored()
                await seen.wait_for(lambda c: bool(c.json_on(f"{space.base}/left/event")), 10,
                                    "the first event under the old base")
                # Keys that need no new session: applied in place, nothing said on the wire.
                calmer = dataclasses.replace(config.mqtt, activity_max_hz=1.0)
                assert not sink.reconfigure(calmer, broker_settings(calmer))
                assert sink.config.activity_max_hz == 1.0
                moved = dataclasses.replace(calmer, base_topic=new_base)
                assert sink.reconfigure(moved, broker_settings(moved))
                store.append("left", [_rep(3.0)])  # stored during the move
                sink.events_stored()
                await seen.wait_for(
                    lambda c: bool(c.json_on(f"{new_base}/left/event"))
                    and _states(c, f"{new_base}/left/availability") == ["online"], 10,
                    "the event and the availability under the new base")
            finally:
                sink.stop()
                await asyncio.wait_for(task, 10)
        assert store.pending_count() == 0
    assert [e["seq"] for e in seen.json_on(f"{space.base}/left/event")] == [1]
    assert [e["seq"] for e in seen.json_on(f"{new_base}/left/event")] == [2]
    # The old base heard the bridge go offline once, when the session moved.
    assert _states(seen, f"{space.base}/bridge/availability") == ["online", "offline"]
    assert _states(seen, f"{new_base}/bridge/availability") == ["online", "offline"]
    # The retained daily totals went with the move.
    assert seen.json_on(f"{new_base}/left/daily")
    assert sum("leaving mqtt://127.0.0.1:1883" in r.message for r in caplog.records) == 1


def test_an_unusable_mqtt_section_changes_nothing(tmp_path: Path, space: Space) -> None:
    config = space.config("mqtt://127.0.0.1", tmp_path / "o.db")
    with Store.open(tmp_path / "o.db") as store:
        sink = mqtt_sink(config, store)
        for bad, key in (
            (MqttConfig(base_topic="a/+/b"), "mqtt.base_topic"),
            (MqttConfig(url="mqtts://127.0.0.1", tls_ca_file=str(tmp_path / "missing.pem")),
             "mqtt.tls_ca_file"),
        ):
            with pytest.raises(ConfigError, match=key):
                sink.reconfigure(bad, broker_settings(bad))
        assert sink.config == config.mqtt
        assert sink.topics.base == space.base
