"""The outbox under a broker outage and a restart: every event arrives, each seq once, in order,
with its original ts. Uses a Mosquitto of the test's own so it can be stopped and started."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sensord.daemon import Daemon, RecordingSource, mqtt_sink, open_store
from tests.mqtt.conftest import Space
from tests.mqtt.helpers import Collector, PrivateBroker, ScriptedPipeline, synthetic_block

OUTAGE_S = 30.0


def event_seqs(sub: Collector, base: str) -> list[int]:
    return [int(e["seq"]) for e in sub.json_on(f"{base}/left/event")]


@pytest.mark.asyncio
async def test_broker_stopped_for_30_s_mid_session_loses_nothing(
    tmp_path: Path, space: Space
) -> None:
    broker = PrivateBroker(tmp_path)
    broker.start()
    try:
        config = space.config(broker.url, tmp_path / "o.db", reconnect_max_s=2.0)
        store = open_store(config)
        sink = mqtt_sink(config, store)
        daemon = Daemon(config, store, sink,
                        pipeline_factory=lambda w, c: ScriptedPipeline(every_s=0.5))
        source = RecordingSource(synthetic_block(OUTAGE_S + 10.0), speed=1.0)
        async with Collector(broker.port, [f"{space.base}/left/event"], persistent=True,
                             client_id=f"outage-{uuid.uuid4().hex[:8]}") as sub:
            run = asyncio.create_task(daemon.run({"left": source}, connect_wait_s=5,
                                                 drain_timeout_s=20))
            await sub.wait_for(lambda c: len(event_seqs(c, space.base)) >= 4, 10)
            broker.stop()
            stopped_at = datetime.now(UTC)
            await asyncio.sleep(OUTAGE_S)
            pending_during_outage = store.pending_count()
            broker.start()
            restarted_at = datetime.now(UTC)
            async with asyncio.timeout(60):
                summary = await run
            total = summary.events["left"]
            await sub.wait_for(lambda c: len(set(event_seqs(c, space.base))) >= total, 20,
                               "every event after the outage")
            await asyncio.sleep(0.5)  # would a duplicate follow?
        store.close()
    finally:
        broker.stop()

    assert summary.drained
    assert pending_during_outage >= 50  # the events of the outage waited in the outbox
    assert total >= 75
    seqs = event_seqs(sub, space.base)
    assert seqs == list(range(1, total + 1))  # every one, each once, in order
    assert sub.connections >= 2  # the subscriber really was cut off too
    # events counted during the outage left later with the time they were counted
    stamps = [datetime.fromisoformat(e["ts"]) for e in sub.json_on(f"{space.base}/left/event")]
    assert sum(stopped_at <= ts < restarted_at for ts in stamps) >= 50


@pytest.mark.asyncio
async def test_a_backlog_left_by_a_run_without_broker_goes_out_on_the_next_run(
    tmp_path: Path, space: Space
) -> None:
    broker = PrivateBroker(tmp_path)  # configured, not started yet: nobody listens
    config = space.config(broker.url, tmp_path / "o.db")
    store = open_store(config)
    daemon = Daemon(config, store, mqtt_sink(config, store),
                    pipeline_factory=lambda w, c: ScriptedPipeline(every_s=0.25))
    first = await daemon.run({"left": RecordingSource(synthetic_block(3.0), speed=0)},
                             drain_timeout_s=0.5)
    store.close()
    assert not first.drained
    assert first.pending == first.events["left"] == 12
    first_run_ended = datetime.now(UTC)
    await asyncio.sleep(0.05)

    broker.start()
    try:
        store = open_store(config)  # a new process would open it the same way
        async with Collector(broker.port, [f"{space.base}/#"]) as sub:
            second = await Daemon(config, store, mqtt_sink(config, store)).run(
                {}, drain_timeout_s=10)
            await sub.wait_for(lambda c: len(event_seqs(c, space.base)) >= 12, 10)
        store.close()
    finally:
        broker.stop()
    assert second.drained
    assert second.pending == 0
    events = sub.json_on(f"{space.base}/left/event")
    assert [e["seq"] for e in events] == list(range(1, 13))
    assert all(datetime.fromisoformat(e["ts"]) < first_run_ended for e in events)
