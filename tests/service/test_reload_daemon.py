"""A reloaded config in the daemon core, without a broker: what applies to the running
wearables at once."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from sensord.config import Config, MqttConfig, StoreConfig, WearableConfig
from sensord.daemon import Daemon, RecordingSource
from sensord.model import ActivityState
from sensord.store import Store
from tests.mqtt.helpers import synthetic_block
from tests.service.test_daemon_isolation import QuietSink


class TimedSink(QuietSink):
    """Notes when each activity update was handed over."""

    def __init__(self) -> None:
        super().__init__()
        self.activity_at: list[float] = []

    def set_activity(self, device: str, state: ActivityState,
                     session: dict[str, Any] | None = None) -> None:
        self.activity_at.append(time.monotonic())


@pytest.mark.asyncio
async def test_a_reloaded_activity_max_hz_applies_to_the_running_wearables(
    tmp_path: Path,
) -> None:
    config = Config(store=StoreConfig(path=str(tmp_path / "sensord.db")),
                    mqtt=MqttConfig(activity_max_hz=2.0),
                    wearables=(WearableConfig(name="left", rate_hz=50.0),))
    store = Store.open(tmp_path / "sensord.db")
    sink = TimedSink()
    daemon = Daemon(config, store, sink)
    # A still foot for 3 s, a block each 0.05 s: no events, so only the limit spaces updates.
    source = RecordingSource(synthetic_block(3.0), speed=1.0, block_s=0.05)
    run = asyncio.create_task(daemon.run({"left": source}))
    try:
        await asyncio.sleep(1.0)
        daemon.reconfigure(dataclasses.replace(config, mqtt=MqttConfig(activity_max_hz=50.0)))
        reloaded = time.monotonic()
        await asyncio.wait_for(run, 10)
    finally:
        store.close()
    window = [t for t in sink.activity_at if reloaded + 0.2 <= t <= reloaded + 1.2]
    # At 2 Hz one second holds 2 or 3; at 50 Hz every block (20 a second) may go.
    assert len(window) >= 10, len(window)
