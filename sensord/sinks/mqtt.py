"""The MQTT sink: the only module that imports aiomqtt.

One long-lived task (``run``) owns the broker connection:

- connect (with the will ``<base>/bridge/availability`` = offline, retained), subscribe to the
  command topics and Home Assistant's status, publish discovery and ``online``;
- drain the outbox in order (QoS 1, each row marked delivered only after its PUBACK), then publish
  the latest state-like values (availability, activity at most ``activity_max_hz``, status,
  daily totals, bridge state, raw batches);
- on any connection failure, reconnect with a doubling back-off with jitter, logging once per
  change of state, and publish availability and discovery again.

Everything the daemon tells the sink is recorded first (the outbox is SQLite; the rest are
"latest value" slots), so nothing waits on the network and a reconnect resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import aiomqtt

from sensord import __version__
from sensord.config import MqttConfig
from sensord.errors import BrokerError, SensordError, StoreError
from sensord.model import ActivityState, ImuBlock, WearableStatus
from sensord.sinks import discovery, payloads
from sensord.sinks.base import CommandHandler, CommandResult, NoCommands
from sensord.sinks.broker import BrokerSettings, tls_context
from sensord.sinks.topics import COMMANDS, Topics, check_topic_prefix, wearable_id
from sensord.store import DailyTotals, Store, StoredEvent, iso_utc, utc_now

log = logging.getLogger(__name__)

#: Outbox rows published per round trip (kept in flight together, acknowledged one by one).
BATCH_ROWS: Final = 64
#: Raw samples kept per wearable while they cannot be sent (older ones are dropped, counted).
RAW_MAX_SAMPLES: Final = 4096
RAW_INTERVAL_S: Final = 1.0
COMMAND_TIMEOUT_S: Final = 10.0
PUBLISH_TIMEOUT_S: Final = 10.0
#: MQTT CONNACK codes (3.1.1 and 5) that mean "not with these credentials".
_REFUSED_CODES: Final = frozenset({4, 5, 134, 135})


@dataclass(slots=True)
class _Slot:
    """The latest value for one topic, and when it may go out next."""

    payload: bytes
    qos: int
    retain: bool
    min_interval_s: float = 0.0
    dirty: bool = True
    sent_at: float = -1e18
    sent_payload: bytes | None = None


class Backoff:
    """Doubling delays between ``min_s`` and ``max_s``, each drawn from its upper half
    ("equal jitter"): spreads reconnecting clients apart without ever retrying at once."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s = max(min_s, 0.01)
        self.max_s = max(max_s, self.min_s)
        self._attempt = 0
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def next(self) -> float:
        ceiling = min(self.max_s, self.min_s * 2.0 ** self._attempt)
        self._attempt += 1
        return ceiling / 2.0 + self._rng.uniform(0.0, ceiling / 2.0)

    def longest(self) -> float:
        """Jumps to the longest delay (after a refusal, which only a config change fixes)."""
        self._attempt = 64
        return self.next()

    def reset(self) -> None:
        self._attempt = 0


class MqttSink:
    """Publishes the daemon's events and state to one broker (see the module docstring).

    ``wearables`` maps configured names to topic ids. ``prune_discovery`` (the daemon, not
    replay) removes the discovery of wearables that left the config. ``fail_on_refusal`` makes a
    refused login end ``run`` with a BrokerError (one-shot commands); otherwise the daemon keeps
    counting into the outbox and retries at the longest back-off.
    """

    def __init__(
        self, config: MqttConfig, broker: BrokerSettings, store: Store, *,
        wearables: Mapping[str, str], commands: CommandHandler | None = None,
        prune_discovery: bool = False, fail_on_refusal: bool = False,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.broker = broker
        self.store = store
        self.topics = Topics(check_topic_prefix(config.base_topic, "mqtt.base_topic"))
        self.prefix = check_topic_prefix(config.discovery_prefix, "mqtt.discovery_prefix")
        self.wearables = dict(wearables)
        self.commands = commands or NoCommands()
        self.prune_discovery = prune_discovery
        self.fail_on_refusal = fail_on_refusal
        self._clock = clock
        self._tls = tls_context(broker)
        self._client_id = broker.client_id or default_client_id()
        self._started = time.monotonic()
        #: Settings from a reload that need a new session (with their TLS context, built when
        #: they were checked), taken up between two sessions.
        self._next: tuple[MqttConfig, BrokerSettings, ssl.SSLContext | None] | None = None
        self._slots: dict[str, _Slot] = {}
        self._raw: dict[str, list[ImuBlock]] = {}
        self._raw_dropped = 0
        self._raw_sent_at: dict[str, float] = {}
        self._wake = asyncio.Event()
        #: Rows may wait in the outbox: set when events are stored and on each connection, so
        #: the outbox is not queried on every wake (the activity wakes the sink often).
        self._outbox_due = True
        self._stopping = False
        self._connected = False  # True once the session is set up (discovery, online sent)
        self._discovery_due = False
        self._bridge_due_at = 0.0
        self._state = "starting"
        self.published_events = 0
        #: Monotonic seconds of the connection task's last sign of life (for the watchdog).
        self.progress_s = time.monotonic()
        self._discovery = _discovery_context(self.prefix, self.topics, config)

    # --- what the daemon calls (never blocks) -------------------------------------------------

    def events_stored(self) -> None:
        self._outbox_due = True
        self._wake.set()

    def set_availability(self, device: str, online: bool) -> None:
        self._set(self.topics.availability(self._ident(device)),
                  payloads.availability(online), qos=1, retain=True)

    def set_activity(
        self, device: str, state: ActivityState, session: Mapping[str, Any] | None = None
    ) -> None:
        interval = 1.0 / self.config.activity_max_hz if self.config.activity_max_hz > 0 else 0.0
        self._set(self.topics.activity(self._ident(device)),
                  payloads.activity(device, state, session), qos=0, retain=False,
                  min_interval_s=interval)

    def set_status(self, device: str, status: WearableStatus) -> None:
        self._set(self.topics.status(self._ident(device)), payloads.status(device, status),
                  qos=0, retain=False, always=True)

    def set_daily(self, totals: DailyTotals) -> None:
        self._set(self.topics.daily(self._ident(totals.device)), payloads.daily(totals),
                  qos=1, retain=True)

    def add_raw(self, device: str, block: ImuBlock) -> None:
        if not self.config.publish_raw or len(block) == 0:
            return
        ident = self._ident(device)
        buffer = self._raw.setdefault(ident, [])
        buffer.append(block)
        while sum(len(b) for b in buffer) > RAW_MAX_SAMPLES and len(buffer) > 1:
            self._raw_dropped += len(buffer.pop(0))
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    @property
    def connected(self) -> bool:
        return self._connected

    async def wait_connected(self, timeout_s: float) -> bool:
        """Waits up to ``timeout_s`` for the first connection; False if it did not come."""
        deadline = time.monotonic() + timeout_s
        while not self._connected:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def drain(self, timeout_s: float) -> bool:
        """Waits until the outbox is empty and every latest value has gone out."""
        deadline = time.monotonic() + timeout_s
        while True:
            pending = self.store.pending_count()
            if pending == 0 and not self._has_dirty():
                return True
            if time.monotonic() >= deadline:
                return False
            self._outbox_due = self._outbox_due or pending > 0
            self._wake.set()
            await asyncio.sleep(0.05)

    # --- a reloaded config (sensord.runner) ---------------------------------------------------

    def reconfigure(self, config: MqttConfig, broker: BrokerSettings) -> bool:
        """A reloaded ``[mqtt]``. Returns True when it needs a new session (another broker,
        login, TLS, client id, keepalive, base topic or discovery): the current one says
        ``offline`` and ends, and the next connects with the new settings and delivers the
        outbox there. Other keys apply at once. ConfigError, with nothing changed, for a value
        that cannot be used."""
        tls = self.check_settings(config, broker)
        session_keys = ("base_topic", "discovery", "discovery_prefix")
        if broker != self.broker or any(
            getattr(config, key) != getattr(self.config, key) for key in session_keys
        ):
            self._next = (config, broker, tls)
            self._wake.set()
            return True
        expire_before = self._discovery.status_expire_s
        self.config = config
        self._discovery = _discovery_context(self.prefix, self.topics, config)
        if self._discovery.status_expire_s != expire_before:
            self._discovery_due = True
        self._wake.set()
        return False

    @staticmethod
    def check_settings(config: MqttConfig, broker: BrokerSettings) -> ssl.SSLContext | None:
        """ConfigError naming the key when a reloaded ``[mqtt]`` cannot be used (the topic
        prefixes, the TLS files); else the TLS context the settings make."""
        check_topic_prefix(config.base_topic, "mqtt.base_topic")
        check_topic_prefix(config.discovery_prefix, "mqtt.discovery_prefix")
        return tls_context(broker)

    def set_wearables(self, wearables: Mapping[str, str]) -> None:
        """The configured wearables changed: discovery goes out again for the new set (and
        the discovery of a wearable no longer in it is removed, with ``prune_discovery``)."""
        self.wearables = dict(wearables)
        self._discovery_due = True
        self._wake.set()

    def forget(self, device: str) -> None:
        """Drops the latest values of a wearable that left the config, so a reconnect does
        not publish its retained topics again. Call it once ``settle`` has seen them out."""
        ident = self._ident(device)
        own = f"{self.topics.base}/{ident}/"
        for topic in [t for t in self._slots if t.startswith(own)]:
            del self._slots[topic]
        self._raw.pop(ident, None)
        self._raw_sent_at.pop(ident, None)

    async def settle(self, device: str, timeout_s: float) -> bool:
        """Waits up to ``timeout_s`` until ``device``'s stored events are delivered and its
        latest values (its ``offline``) have gone out; False if the broker did not take them."""
        own = f"{self.topics.base}/{self._ident(device)}/"
        deadline = time.monotonic() + timeout_s
        while self.store.pending_count(device) or any(
            slot.dirty for topic, slot in self._slots.items() if topic.startswith(own)
        ):
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            await asyncio.sleep(0.05)
        return True

    def _take_next(self) -> bool:
        """Between two sessions: takes up the settings a reload left, if any."""
        if self._next is None:
            return False
        config, broker, tls = self._next
        self._next = None
        old_base = self.topics.base
        self.config = config
        self.broker = broker
        self.topics = Topics(config.base_topic)
        self.prefix = config.discovery_prefix
        self._tls = tls  # not loaded again: the files were checked at the reload
        self._client_id = broker.client_id or default_client_id()
        self._discovery = _discovery_context(self.prefix, self.topics, config)
        if config.base_topic != old_base:
            # The latest values move with the base topic (they are kept by topic).
            self._slots = {
                f"{config.base_topic}{topic[len(old_base):]}"
                if topic.startswith(old_base + "/") else topic: slot
                for topic, slot in self._slots.items()
            }
        for slot in self._slots.values():
            slot.dirty = True
            slot.sent_payload = None
        self._state = "moving"  # so the next connection is logged
        return True

    # --- the connection loop ------------------------------------------------------------------

    async def run(self) -> None:
        """Connects, publishes and reconnects until ``stop``; see the class docstring."""
        backoff = Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s)
        while not self._stop_requested():
            if self._take_next():
                backoff = Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s)
            self.progress_s = time.monotonic()
            try:
                async with self._client() as client:
                    self._note_state("connected", logging.INFO, "connected to %s",
                                     self.broker.describe())
                    backoff.reset()
                    try:
                        await self._session(client)
                    finally:
                        self._connected = False
            except aiomqtt.MqttError as exc:
                reason = _describe(exc)
                if _is_refusal(exc):
                    message = (
                        f"the broker {self.broker.describe()} refused the connection: {reason}; "
                        "check mqtt.username, the password (mqtt.password_file or "
                        "SENSORD_MQTT_PASSWORD) and the TLS settings"
                    )
                    if self.fail_on_refusal:
                        raise BrokerError(message) from exc
                    self._note_state("refused:" + reason, logging.ERROR, "%s", message)
                    delay = backoff.longest()
                else:
                    self._note_state(
                        "down:" + reason, logging.WARNING,
                        "broker %s unreachable (%s); events wait in the outbox, retrying",
                        self.broker.describe(), reason,
                    )
                    delay = backoff.next()
            else:
                if self._next is None:
                    return  # a session only ends without an error when asked to stop or move
                continue
            if self._stop_requested():
                return
            if self._next is not None:
                continue  # a reload named another broker: try it now
            log.debug("reconnecting in %.1f s", delay)
            await self._sleep_unless_stopped(delay)

    def _stop_requested(self) -> bool:
        return self._stopping

    def _client(self) -> aiomqtt.Client:
        will = aiomqtt.Will(
            self.topics.bridge_availability, payloads.encode(payloads.availability(False)),
            qos=1, retain=True,
        )
        client = aiomqtt.Client(
            self.broker.host, self.broker.port, username=self.broker.username,
            password=self.broker.password, identifier=self._client_id, will=will,
            keepalive=max(5, round(self.broker.keepalive_s)), timeout=PUBLISH_TIMEOUT_S,
            tls_context=self._tls, max_inflight_messages=BATCH_ROWS,
            logger=logging.getLogger(__name__ + ".client"),
        )
        # A batch of the outbox is in flight on purpose: not worth a warning per message.
        client.pending_calls_threshold = BATCH_ROWS + 16
        return client

    async def _session(self, client: aiomqtt.Client) -> None:
        """One connection's life: announce ourselves, then listen and publish side by side."""
        await client.subscribe(self.topics.cmd_filter, qos=1)
        if self.config.discovery != "off":
            await client.subscribe(f"{self.prefix}/status", qos=1)
            await self._publish_discovery(client)
        await self._publish(client, self.topics.bridge_availability,
                            payloads.encode(payloads.availability(True)), qos=1, retain=True)
        for slot in self._slots.values():
            # Retained values may have been lost with a broker restart; status is periodic.
            slot.dirty = slot.dirty or slot.retain or (slot.qos == 0 and slot.min_interval_s == 0)
        self._bridge_due_at = 0.0
        self._outbox_due = True
        self._connected = True
        try:
            async with asyncio.TaskGroup() as group:
                listener = group.create_task(self._listen(client, group), name="mqtt-listen")
                await self._send_loop(client)
                listener.cancel()
        except BaseExceptionGroup as failed:
            mqtt_errors, others = failed.split(aiomqtt.MqttError)
            if others is not None:
                raise others from None
            assert mqtt_errors is not None
            raise mqtt_errors.exceptions[0] from None

    async def _send_loop(self, client: aiomqtt.Client) -> None:
        while True:
            self.progress_s = time.monotonic()
            self._wake.clear()
            if self._next is not None and not self._stop_requested():
                # What the outbox holds now goes to the broker the reload named.
                await self._farewell(client)
                log.info("leaving %s for %s (config reloaded)", self.broker.describe(),
                         self._next[1].describe())
                return
            if self._discovery_due:
                self._discovery_due = False
                await self._publish_discovery(client)
            await self._drain_outbox(client)
            delay = await self._publish_slots(client)
            if self._stop_requested():
                await self._farewell(client)
                log.info("disconnecting from %s", self.broker.describe())
                return
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _farewell(self, client: aiomqtt.Client) -> None:
        """``offline`` for the bridge (the will only covers a lost connection), then the
        subscriptions go."""
        await self._publish(client, self.topics.bridge_availability,
                            payloads.encode(payloads.availability(False)), qos=1, retain=True)
        await client.unsubscribe(self.topics.cmd_filter, timeout=PUBLISH_TIMEOUT_S)
        if self.config.discovery != "off":
            await client.unsubscribe(f"{self.prefix}/status", timeout=PUBLISH_TIMEOUT_S)

    async def _listen(self, client: aiomqtt.Client, group: asyncio.TaskGroup) -> None:
        status_topic = f"{self.prefix}/status"
        async for message in client.messages:
            topic = str(message.topic)
            body = message.payload if isinstance(message.payload, bytes) else b""
            if topic == status_topic:
                if not message.retain and body.strip().lower() == b"online":
                    log.info("Home Assistant is back online: publishing discovery again")
                    self._discovery_due = True
                    self._wake.set()
                continue
            parsed = self.topics.parse_cmd(topic)
            if parsed is None:
                continue
            if message.retain:
                log.warning("ignoring a retained command on %s (commands must not be retained)",
                            topic)
                continue
            if not body:
                continue  # an empty message deletes a retained one; it is not a command
            ident, command = parsed
            group.create_task(self._command(client, ident, command, body),
                              name=f"cmd-{ident}-{command}")

    async def _command(
        self, client: aiomqtt.Client, ident: str, command: str, body: bytes
    ) -> None:
        names = {i: n for n, i in self.wearables.items()}
        device = names.get(ident)
        if device is None:
            log.debug("command for unknown wearable id %r ignored", ident)
            return
        args, request_id, problem = _parse_args(body)
        result: CommandResult
        if problem is not None:
            result = CommandResult(False, problem)
        elif command not in COMMANDS:
            result = CommandResult(False, f"unknown command {command!r} (known: "
                                          f"{', '.join(COMMANDS)})")
        else:
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT_S):
                    result = await self.commands.handle(device, command, args)
            except SensordError as exc:
                result = CommandResult(False, str(exc))
            except TimeoutError:
                result = CommandResult(False, f"{command} took longer than "
                                              f"{COMMAND_TIMEOUT_S:.0f} s")
        log.info("command %s for %s: %s %s", command, device, "ok" if result.ok else "refused",
                 result.message)
        answer = payloads.command_result(
            device, command, ok=result.ok, message=result.message, ts=iso_utc(self._clock()),
            request_id=request_id,
        )
        await self._publish(client, self.topics.cmd_result(ident, command),
                            payloads.encode(answer), qos=1, retain=False)

    # --- publishing ---------------------------------------------------------------------------

    async def _publish(
        self, client: aiomqtt.Client, topic: str, payload: bytes, *, qos: int, retain: bool
    ) -> None:
        await client.publish(topic, payload, qos=qos, retain=retain, timeout=PUBLISH_TIMEOUT_S)

    async def _drain_outbox(self, client: aiomqtt.Client) -> None:
        """Publishes undelivered rows oldest first, a batch in flight at a time; each row is
        marked delivered once its PUBACK is in, even if the batch is cut short."""
        while self._outbox_due:
            self._outbox_due = False
            rows = self.store.pending(BATCH_ROWS)
            if not rows:
                return
            self._outbox_due = True  # look again after this batch: more may wait
            acked: list[int] = []
            try:
                async with asyncio.TaskGroup() as group:
                    for row in rows:
                        group.create_task(self._publish_row(client, row, acked))
            except BaseExceptionGroup as failed:
                mqtt_errors, others = failed.split(aiomqtt.MqttError)
                if others is not None:
                    raise others from None
                assert mqtt_errors is not None
                raise mqtt_errors.exceptions[0] from None
            finally:
                self.store.mark_delivered(acked)
                self.published_events += len(acked)

    async def _publish_row(self, client: aiomqtt.Client, row: StoredEvent,
                           acked: list[int]) -> None:
        topic = self.topics.event(self._ident(row.device))
        await self._publish(client, topic, row.payload.encode(), qos=1, retain=False)
        acked.append(row.row_id)

    async def _publish_slots(self, client: aiomqtt.Client) -> float | None:
        """Publishes the dirty latest values that may go now; returns the seconds until the next
        one may (None when nothing waits)."""
        now = time.monotonic()
        if now >= self._bridge_due_at:
            self._bridge_due_at = now + self.config.status_interval_s
            self._set(self.topics.bridge_state, self._bridge_state(), qos=1, retain=True,
                      always=True)
        wait: float | None = self._bridge_due_at - now
        # Take what is due now in one go: a value set while this pass awaits the network waits
        # for the next pass, which drains the outbox first. So a wearable's "offline" never
        # overtakes the events it stored before going offline.
        due: list[tuple[str, _Slot, bytes]] = []
        for topic, slot in self._slots.items():
            if not slot.dirty:
                continue
            ready_at = slot.sent_at + slot.min_interval_s
            if ready_at > now and not self._stop_requested():
                wait = ready_at - now if wait is None else min(wait, ready_at - now)
                continue
            slot.dirty = False
            slot.sent_at = now
            slot.sent_payload = slot.payload
            due.append((topic, slot, slot.payload))
        for index, (topic, slot, body) in enumerate(due):
            try:
                await self._publish(client, topic, body, qos=slot.qos, retain=slot.retain)
            except BaseException:
                for _, unsent, _ in due[index:]:
                    unsent.dirty = True
                raise
        for ident in list(self._raw):
            if not self._raw[ident]:
                continue
            ready_at = self._raw_sent_at.get(ident, -1e18) + RAW_INTERVAL_S
            if ready_at > now and not self._stop_requested():
                wait = ready_at - now if wait is None else min(wait, ready_at - now)
                continue
            blocks, self._raw[ident] = self._raw[ident], []
            self._raw_sent_at[ident] = now
            names = {i: n for n, i in self.wearables.items()}
            if self._raw_dropped:
                log.warning("dropped %d raw samples that could not be sent in time",
                            self._raw_dropped)
                self._raw_dropped = 0
            batch = payloads.raw_batch(names.get(ident, ident), blocks)
            await self._publish(client, self.topics.raw(ident), payloads.encode(batch), qos=0,
                                retain=False)
        return None if wait is None else max(wait, 0.0)

    async def _publish_discovery(self, client: aiomqtt.Client) -> None:
        if self.config.discovery == "off":
            return
        messages = discovery.all_messages(self._discovery, self.config.discovery, self.wearables)
        remembered = self.store.discovered()
        for node, items in messages.items():
            for item in items:
                await self._publish(client, item.topic, payloads.encode(item.payload), qos=1,
                                    retain=True)
            new_topics = {item.topic for item in items}
            _, old_topics = remembered.get(node, ("", []))
            for stale in sorted(set(old_topics) - new_topics):
                await self._publish(client, stale, b"", qos=1, retain=True)
            device = next((n for n, i in self.wearables.items()
                           if self._discovery.node(i) == node), "bridge")
            self.store.remember_discovery(node, device, sorted(new_topics))
        if not self.prune_discovery:
            return
        for node, (device, old_topics) in remembered.items():
            if node in messages:
                continue
            log.info("wearable %r left the config: removing it from Home Assistant", device)
            ident = wearable_id(device)
            leftovers = [*old_topics, self.topics.availability(ident), self.topics.daily(ident)]
            for topic in leftovers:
                await self._publish(client, topic, b"", qos=1, retain=True)
            self.store.forget_discovery(node)

    # --- helpers ------------------------------------------------------------------------------

    def _ident(self, device: str) -> str:
        return self.wearables.get(device) or wearable_id(device) or "unnamed"

    def _set(
        self, topic: str, payload: dict[str, Any], *, qos: int, retain: bool,
        min_interval_s: float = 0.0, always: bool = False,
    ) -> None:
        body = payloads.encode(payload)
        slot = self._slots.get(topic)
        if slot is None:
            self._slots[topic] = _Slot(body, qos, retain, min_interval_s)
        elif always or body != slot.payload:
            slot.payload = body
            # A value that went A -> B -> A between two sends needs no message.
            slot.dirty = always or body != slot.sent_payload
        else:
            return
        self._wake.set()

    def _has_dirty(self) -> bool:
        return any(slot.dirty for slot in self._slots.values()) or any(self._raw.values())

    def _bridge_state(self) -> dict[str, Any]:
        try:
            stats = self.store.stats()
            pending, dropped = stats.pending, stats.dropped
        except StoreError:
            pending, dropped = -1, -1
        return payloads.BridgeState(
            version=__version__, uptime_s=time.monotonic() - self._started,
            wearables=sorted(self.wearables.values()), outbox_pending=pending,
            outbox_dropped=dropped,
        ).payload()

    def _note_state(self, state: str, level: int, message: str, *args: object) -> None:
        """Logs at ``level`` when the connection state changes, at debug while it stays."""
        if state != self._state:
            self._state = state
            log.log(level, message, *args)
        else:
            log.debug(message, *args)

    async def _sleep_unless_stopped(self, delay_s: float) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(delay_s):
                while not self._stop_requested() and self._next is None:
                    await self._wake.wait()
                    self._wake.clear()
        except TimeoutError:
            pass


def _discovery_context(
    prefix: str, topics: Topics, config: MqttConfig
) -> discovery.DiscoveryContext:
    return discovery.DiscoveryContext(
        prefix=prefix, topics=topics, version=__version__,
        status_expire_s=max(30, round(3 * config.status_interval_s)),
    )


def default_client_id() -> str:
    """``sensord-<host>-<pid>``: readable in the broker's log, and two processes on one host
    (the daemon and a replay) never take each other's connection."""
    host = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname()).strip("-")[:40] or "host"
    return f"sensord-{host}-{os.getpid()}"


def _parse_args(body: bytes) -> tuple[dict[str, Any], str | None, str | None]:
    """A command's payload: ``PRESS`` (Home Assistant's default) or a JSON object."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.upper() == "PRESS":
        return {}, None, None
    try:
        value = json.loads(text)
    except ValueError:
        return {}, None, "the command payload is not JSON (send {} or a JSON object)"
    if not isinstance(value, dict):
        return {}, None, "the command payload must be a JSON object"
    request_id = value.get("request_id")
    return value, None if request_id is None else str(request_id), None


def _is_refusal(exc: aiomqtt.MqttError) -> bool:
    if isinstance(exc, aiomqtt.MqttCodeError):
        code = getattr(exc.rc, "value", exc.rc)
        if code in _REFUSED_CODES:
            return True
    text = str(exc).lower()
    return any(
        marker in text
        for marker in ("certificate verify failed", "bad certificate", "certificate required")
    )


def _describe(exc: aiomqtt.MqttError) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


__all__ = ["BATCH_ROWS", "Backoff", "MqttSink", "default_client_id"]
