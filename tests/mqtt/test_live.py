"""The sink against the real Mosquitto: every topic, payload, retain flag and QoS as documented."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest

from sensord.config import Config
from sensord.daemon import Daemon, RecordingSource, RunSummary, mqtt_sink, open_store
from sensord.sinks.base import CommandResult
from sensord.sinks.discovery import node_id
from tests.mqtt.conftest import Space
from tests.mqtt.helpers import Collector, ScriptedPipeline, schema, synthetic_block

PORT = 1883


async def replay(
    config: Config, store_path: Path | None = None, *, duration_s: float = 3.0,
    speed: float = 4.0, every_s: float = 0.5, prune: bool = False,
    sources: Mapping[str, RecordingSource] | None = None,
) -> RunSummary:
    store = open_store(config, str(store_path) if store_path else None)
    try:
        sink = mqtt_sink(config, store, prune_discovery=prune)
        daemon = Daemon(config, store, sink,
                        pipeline_factory=lambda w, c: ScriptedPipeline(every_s))
        if sources is None:
            sources = {w.name: RecordingSource(synthetic_block(duration_s), speed=speed)
                       for w in config.wearables}
        async with asyncio.timeout(60):
            return await daemon.run(sources, drain_timeout_s=10, connect_wait_s=5)
    finally:
        store.close()


def offline_seen(base: str) -> Any:
    def check(c: Collector) -> bool:
        return any(m.json()["state"] == "offline" for m in c.on(f"{base}/bridge/availability")
                   if m.payload)
    return check


@pytest.mark.asyncio
async def test_every_topic_payload_retain_flag_and_qos(tmp_path: Path, space: Space) -> None:
    config = space.config("mqtt://127.0.0.1", tmp_path / "o.db", activity_max_hz=2.0)
    base = space.base
    async with Collector(PORT, [f"{base}/#", f"{space.prefix}/#"]) as sub:
        summary = await replay(config, duration_s=3.0, speed=1.5)
        await sub.wait_for(offline_seen(base), 10, "the bridge going offline")
    assert summary.drained
    assert summary.events == {"left": 6}  # reps at 0.5 ... 2.5 s, then the set

    expected = {  # topic -> (schema, qos, retain)
        f"{base}/left/event": ("event", 1, False),
        f"{base}/left/activity": ("activity", 0, False),
        f"{base}/left/status": ("status", 0, False),
        f"{base}/left/daily": ("daily", 1, True),
        f"{base}/left/availability": ("availability", 1, True),
        f"{base}/bridge/availability": ("availability", 1, True),
        f"{base}/bridge/state": ("bridge_state", 1, True),
        f"{space.prefix}/device/{node_id(base, 'bridge')}/config": ("discovery_device", 1, True),
        f"{space.prefix}/device/{node_id(base, 'left')}/config": ("discovery_device", 1, True),
    }
    assert {m.topic for m in sub.messages} == set(expected)
    for message in sub.messages:
        name, qos, retain = expected[message.topic]
        assert (message.qos, message.retain) == (qos, retain), message.topic
        jsonschema.validate(message.json(), schema(name))

    events = sub.json_on(f"{base}/left/event")
    assert [e["seq"] for e in events] == list(range(1, 7))
    assert [e["type"] for e in events] == ["rep"] * 5 + ["set"]
    assert {e["device"] for e in events} == {"left"}
    assert [e["state"] for e in sub.json_on(f"{base}/bridge/availability")] == [
        "online", "offline"]
    wearable = [e["state"] for e in sub.json_on(f"{base}/left/availability")]
    assert wearable[-2:] == ["online", "offline"]
    assert sub.json_on(f"{base}/left/daily")[-1]["reps"]["plantar_flexion"] == 5
    assert sub.json_on(f"{base}/left/daily")[-1]["sets"]["plantar_flexion"] == 1
    # a few activity updates a second at most: 2 Hz over a 2 s replay (plus the final state)
    activity = sub.on(f"{base}/left/activity")
    assert 2 <= len(activity) <= 7
    # (the last one is the final state, flushed at the end without waiting)
    gaps = [b.at - a.at for a, b in itertools.pairwise(activity[:-1])]
    assert all(gap > 0.4 for gap in gaps), gaps

    # What a dashboard that connects afterwards still sees: the retained topics only.
    async with Collector(PORT, [f"{base}/#", f"{space.prefix}/#"]) as late:
        await late.wait_for(lambda c: len({m.topic for m in c.messages}) >= 6, 5)
        await asyncio.sleep(0.3)
    assert {m.topic for m in late.messages} == {t for t, v in expected.items() if v[2]}
    assert all(m.retain for m in late.messages)
    assert late.json_on(f"{base}/left/availability") == [{"v": 1, "state": "offline"}]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def handle(self, device: str, command: str, args: Mapping[str, Any]) -> CommandResult:
        self.calls.append((device, command, dict(args)))
        return CommandResult(True, f"{command} done")


@pytest.mark.asyncio
async def test_commands_are_answered_on_their_result_topic(tmp_path: Path, space: Space) -> None:
    config = space.config("mqtt://127.0.0.1", tmp_path / "o.db", wearables=("Left Foot",))
    base = space.base
    handler = Recorder()
    store = open_store(config)
    sink = mqtt_sink(config, store, commands=handler)
    daemon = Daemon(config, store, sink, pipeline_factory=lambda w, c: ScriptedPipeline())
    source = RecordingSource(synthetic_block(30.0), speed=1.0)
    cmd = f"{base}/left_foot/cmd"
    async with aiomqtt.Client("127.0.0.1", PORT) as client:  # a dashboard
        # A stale retained command: delivered when the daemon subscribes, and ignored.
        await client.publish(f"{cmd}/stop", b"{}", qos=1, retain=True)
        async with Collector(PORT, [f"{base}/#"]) as sub:
            run = asyncio.create_task(daemon.run({"Left Foot": source}, connect_wait_s=5))
            await sub.wait_for(lambda c: bool(c.on(f"{base}/bridge/availability")), 10)
            await client.publish(f"{cmd}/identify", b'{"v":1,"request_id":"r1","blink":3}', qos=1)
            await client.publish(f"{cmd}/start", b"PRESS", qos=1)
            await client.publish(f"{cmd}/dance", b"{}", qos=1)
            await client.publish(f"{cmd}/reset", b"not json", qos=1)
            await client.publish(f"{cmd}/stop", b"", qos=1, retain=True)  # deletes; no command
            await client.publish(f"{base}/nobody/cmd/start", b"{}", qos=1)  # unknown wearable
            await sub.wait_for(lambda c: len([m for m in c.messages
                                              if m.topic.endswith("/result")]) >= 4, 10)
            await asyncio.sleep(0.3)
            daemon.stop()
            async with asyncio.timeout(20):
                await run
    results = {m.topic.removeprefix(f"{base}/left_foot/cmd/"): m for m in sub.messages
               if m.topic.endswith("/result")}
    assert set(results) == {"identify/result", "start/result", "dance/result", "reset/result"}
    for message in results.values():
        assert (message.qos, message.retain) == (1, False)
        jsonschema.validate(message.json(), schema("cmd_result"))
    identify = results["identify/result"].json()
    assert identify["ok"] is True
    assert identify["request_id"] == "r1"
    assert identify["device"] == "Left Foot"
    assert results["dance/result"].json()["ok"] is False
    assert "unknown command" in results["dance/result"].json()["message"]
    assert results["reset/result"].json()["ok"] is False
    assert "not JSON" in results["reset/result"].json()["message"]
    assert handler.calls == [
        ("Left Foot", "identify", {"v": 1, "request_id": "r1", "blink": 3}),
        ("Left Foot", "start", {}),
    ]
    store.close()


@pytest.mark.asyncio
async def test_discovery_is_republished_when_home_assistant_comes_online(
    tmp_path: Path, space: Space
) -> None:
    config = space.config("mqtt://127.0.0.1", tmp_path / "o.db")
    store = open_store(config)
    sink = mqtt_sink(config, store)
    daemon = Daemon(config, store, sink, pipeline_factory=lambda w, c: ScriptedPipeline())
    source = RecordingSource(synthetic_block(30.0), speed=1.0)
    left_config = f"{space.prefix}/device/{node_id(space.base, 'left')}/config"
    async with Collector(PORT, [f"{space.prefix}/device/#"]) as sub:
        run = asyncio.create_task(daemon.run({"left": source}, connect_wait_s=5))
        await sub.wait_for(lambda c: len(c.on(left_config)) == 1, 10)
        async with aiomqtt.Client("127.0.0.1", PORT) as client:
            await client.publish(f"{space.prefix}/status", b"offline", qos=1)
            await client.publish(f"{space.prefix}/status", b"online", qos=1)
        await sub.wait_for(lambda c: len(c.on(left_config)) == 2, 10)
        daemon.stop()
        async with asyncio.timeout(20):
            await run
    first, second = sub.on(left_config)
    assert first.payload == second.payload
    assert second.retain
    store.close()


@pytest.mark.asyncio
async def test_a_wearable_that_leaves_the_config_is_removed(tmp_path: Path, space: Space) -> None:
    store_path = tmp_path / "o.db"
    both = space.config("mqtt://127.0.0.1", store_path, wearables=("left", "right"))
    await replay(both, duration_s=0.5, speed=0, prune=True)
    right_topics = [f"{space.prefix}/device/{node_id(space.base, 'right')}/config",
                    f"{space.base}/right/availability", f"{space.base}/right/daily"]
    async with Collector(PORT, right_topics) as before:
        await before.wait_for(lambda c: len(c.messages) == 3, 5, "right's retained topics")

    only_left = space.config("mqtt://127.0.0.1", store_path, wearables=("left",))
    await replay(only_left, duration_s=0.5, speed=0, prune=True)
    async with Collector(PORT, [f"{space.prefix}/#", f"{space.base}/#"]) as after:
        await after.wait_for(lambda c: len(c.messages) >= 5, 5)
        await asyncio.sleep(0.3)
    topics = {m.topic for m in after.messages}
    assert not topics & set(right_topics)
    assert f"{space.prefix}/device/{node_id(space.base, 'left')}/config" in topics


@pytest.mark.asyncio
async def test_switching_discovery_form_removes_the_old_topics(
    tmp_path: Path, space: Space
) -> None:
    store_path = tmp_path / "o.db"
    await replay(space.config("mqtt://127.0.0.1", store_path, discovery="entity"),
                 duration_s=0.5, speed=0)
    await replay(space.config("mqtt://127.0.0.1", store_path, discovery="device"),
                 duration_s=0.5, speed=0)
    async with Collector(PORT, [f"{space.prefix}/#"]) as sub:
        await sub.wait_for(lambda c: len(c.messages) >= 2, 5)
        await asyncio.sleep(0.3)
    assert sorted(m.topic for m in sub.messages) == [
        f"{space.prefix}/device/{node_id(space.base, 'bridge')}/config",
        f"{space.prefix}/device/{node_id(space.base, 'left')}/config",
    ]


@pytest.mark.asyncio
async def test_entity_discovery_and_no_discovery(tmp_path: Path, space: Space) -> None:
    config = space.config("mqtt://127.0.0.1", tmp_path / "o.db", discovery="entity")
    await replay(config, duration_s=0.5, speed=0)
    async with Collector(PORT, [f"{space.prefix}/#"]) as sub:
        await sub.wait_for(lambda c: len(c.messages) >= 30, 5, "entity discovery")
        await asyncio.sleep(0.3)
    platforms = {m.topic.split("/")[1] for m in sub.messages}
    assert platforms == {"event", "sensor", "button", "device_automation"}
    assert all(m.retain and m.json()["o"]["name"] == "sensord" for m in sub.messages)

    quiet = Space(base=space.base + "q", prefix=space.prefix + "q")
    config = quiet.config("mqtt://127.0.0.1", tmp_path / "q.db", discovery="off")
    async with Collector(PORT, [f"{quiet.prefix}/#", f"{quiet.base}/#"]) as sub:
        await replay(config, duration_s=0.5, speed=0)
        await sub.wait_for(offline_seen(quiet.base), 10)
    assert not [m for m in sub.messages if m.topic.startswith(quiet.prefix + "/")]


@pytest.mark.asyncio
async def test_raw_samples_only_when_enabled_and_batched(tmp_path: Path, space: Space) -> None:
    config = space.config("mqtt://127.0.0.1", tmp_path / "o.db", publish_raw=True)
    async with Collector(PORT, [f"{space.base}/left/raw", f"{space.base}/bridge/#"]) as sub:
        await replay(config, duration_s=2.0, speed=2.0)
        await sub.wait_for(offline_seen(space.base), 10)
    raw = sub.on(f"{space.base}/left/raw")
    assert 1 <= len(raw) <= 3  # about 1 s of replay: at most one batch a second (+ the rest)
    for message in raw:
        assert (message.qos, message.retain) == (0, False)
        jsonschema.validate(message.json(), schema("raw"))
    assert sum(len(m.json()["t_s"]) for m in raw) == len(synthetic_block(2.0))
    assert json.loads(raw[0].payload)["device"] == "left"
