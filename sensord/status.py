"""The live status view: a picture of the daemon built only from its MQTT topics.

Because it reads the broker, not the daemon, it works against a daemon on another host.
``StatusModel`` is pure (topic + payload in, snapshot and rich renderable out); ``watch``
subscribes to ``<base>/#`` and keeps a model up to date. The view shows per wearable the link
state, battery, rate and loss, the current exercise, reps against the target with a progress
bar, the hold timer, the last events and the session's progress through the routine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import aiomqtt
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from sensord.errors import BrokerError
from sensord.session import SessionSummary
from sensord.sinks.broker import BrokerSettings

log = logging.getLogger(__name__)

LAST_EVENTS: Final = 6
_SHORT: Final = {
    "plantar_flexion": "plantar flexion", "ankle_circle": "ankle circles",
    "toe_press": "toe presses", "toe_walk": "toe walking", "walk": "walking",
}


def _name(exercise: str | None) -> str:
    return "-" if exercise is None else _SHORT.get(exercise, exercise)


@dataclass(slots=True)
class WearableView:
    """What the topics said about one wearable (the latest payload of each)."""

    ident: str
    availability: str | None = None
    status: dict[str, Any] = field(default_factory=dict)
    activity: dict[str, Any] = field(default_factory=dict)
    daily: dict[str, Any] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LAST_EVENTS))
    last_summary: dict[str, Any] | None = None
    activity_at_s: float | None = None

    @property
    def device(self) -> str:
        for source in (self.status, self.activity, self.daily):
            if "device" in source:
                return str(source["device"])
        return self.ident

    def snapshot(self) -> dict[str, Any]:
        session = self.activity.get("session") or {}
        active = bool(session.get("active"))
        reps = session.get("set_reps") if active else self.activity.get("reps")
        target = session.get("target") if active else self.activity.get("target")
        return {
            "device": self.device,
            "availability": self.availability,
            "link": self.status.get("link"),
            "battery_pct": self.status.get("battery_pct"),
            "rate_hz": self.status.get("rate_hz"),
            "loss_pct": self.status.get("loss_pct"),
            "exercise": (session.get("exercise") if active else None)
            or self.activity.get("exercise"),
            "reps": reps or 0,
            "target": target,
            "hold_s": self.activity.get("hold_s"),
            "hold_target_s": session.get("hold_target_s") if active else None,
            "direction": self.activity.get("direction"),
            "session": session or None,
            "daily": self.daily or None,
            "last_events": list(self.events),
            "last_summary": self.last_summary,
        }


class StatusModel:
    """The daemon as its topics under ``base`` describe it."""

    def __init__(self, base: str = "sensord") -> None:
        self.base = base
        self.bridge: str | None = None  # online / offline / None: never heard
        self.bridge_state: dict[str, Any] = {}
        self.wearables: dict[str, WearableView] = {}
        self.messages = 0

    @property
    def daemon_online(self) -> bool:
        return self.bridge == "online"

    def update(self, topic: str, payload: bytes, now_s: float | None = None) -> None:
        """Takes one message; unknown topics and payloads that are not JSON are ignored."""
        prefix = self.base + "/"
        if not topic.startswith(prefix) or not payload:
            return
        parts = topic[len(prefix):].split("/")
        try:
            value = json.loads(payload)
        except ValueError:
            return
        if not isinstance(value, dict):
            return
        self.messages += 1
        if parts[0] == "bridge":
            if parts[1:] == ["availability"]:
                self.bridge = str(value.get("state"))
            elif parts[1:] == ["state"]:
                self.bridge_state = value
                for ident in value.get("wearables", []):
                    self.wearables.setdefault(str(ident), WearableView(str(ident)))
            return
        if len(parts) != 2:
            return
        view = self.wearables.setdefault(parts[0], WearableView(parts[0]))
        kind = parts[1]
        if kind == "availability":
            view.availability = str(value.get("state"))
        elif kind == "status":
            view.status = value
        elif kind == "activity":
            view.activity = value
            view.activity_at_s = time.monotonic() if now_s is None else now_s
        elif kind == "daily":
            view.daily = value
        elif kind == "event":
            view.events.append(value)
            if value.get("type") == "session":
                view.last_summary = value

    def snapshot(self) -> dict[str, Any]:
        """The ``--once --json`` object."""
        return {
            "v": 1,
            "base_topic": self.base,
            "daemon": self.bridge,
            "bridge": self.bridge_state or None,
            "wearables": {ident: view.snapshot() for ident, view in sorted(self.wearables.items())},
        }

    # --- rendering ----------------------------------------------------------------------------

    def render(self) -> RenderableType:
        daemon = {"online": "[green]online[/]", "offline": "[red]offline[/]"}.get(
            self.bridge or "", "[yellow]not heard from[/]")
        header = Text.from_markup(f"[bold]sensord[/] under [cyan]{self.base}/[/]: daemon {daemon}")
        state = self.bridge_state
        if state:
            header.append(f"  (version {state.get('version')}, up {state.get('uptime_s', 0):.0f} s,"
                          f" outbox {state.get('outbox_pending', 0)} pending)")
        panels: list[RenderableType] = [header]
        if not self.wearables:
            panels.append(Text("no wearables seen yet"))
        panels.extend(_wearable_panel(self.wearables[i]) for i in sorted(self.wearables))
        return Group(*panels)


def _wearable_panel(view: WearableView) -> Panel:
    snap = view.snapshot()
    link = snap["link"] or "?"
    colour = {"streaming": "green", "stopped": "red"}.get(link, "yellow")
    parts = [f"[{colour}]{link}[/]"]
    if snap["battery_pct"] is not None:
        parts.append(f"battery {snap['battery_pct']:.0f} %")
    if snap["rate_hz"] is not None:
        parts.append(f"{snap['rate_hz']:.1f} Hz")
    if snap["loss_pct"] is not None:
        parts.append(f"loss {snap['loss_pct']:.1f} %")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("link", Text.from_markup("  ".join(parts)))
    grid.add_row("exercise", _name(snap["exercise"]) + (
        f" ({snap['direction']})" if snap["direction"] else ""))
    target = snap["target"]
    reps = int(snap["reps"] or 0)
    if target:
        bar = Table.grid(padding=(0, 1))
        bar.add_row(f"reps {reps}/{target}", ProgressBar(total=float(target),
                                                          completed=float(min(reps, target)),
                                                          width=30))
        grid.add_row("set", bar)
    else:
        grid.add_row("set", f"reps {reps}")
    hold = snap["hold_s"]
    if hold is not None:
        hold_target = snap["hold_target_s"]
        text = f"hold {hold:.1f} s" + (f" of {hold_target:g} s" if hold_target else "")
        grid.add_row("hold", Text(text, style="bold magenta"))
    else:
        grid.add_row("hold", "-")
    session = snap["session"]
    if session and session.get("active"):
        grid.add_row("routine", _routine_progress(session))
        if session.get("next"):
            grid.add_row("next", _name(session["next"]) + (
                f" ({session['next_direction']})" if session.get("next_direction") else ""))
    elif view.last_summary:
        summary = view.last_summary
        grid.add_row("session", f"ended: {summary.get('reps', 0)} reps, "
                                f"{100 * float(summary.get('progress', 0)):.0f} % of the routine")
    else:
        grid.add_row("session", "none running")
    events = Text()
    for event in list(view.events)[-LAST_EVENTS:]:
        events.append(_event_line(event) + "\n")
    grid.add_row("events", events if events.plain else Text("-"))
    title = f"{view.device}"
    availability = view.availability or "?"
    return Panel(grid, title=title, subtitle=availability, title_align="left")


def _routine_progress(session: dict[str, Any]) -> RenderableType:
    table = Table.grid(padding=(0, 1))
    progress = float(session.get("progress") or 0.0)
    table.add_row(f"{100 * progress:3.0f} %",
                  ProgressBar(total=1.0, completed=min(progress, 1.0), width=30))
    cells = []
    for exercise, item in (session.get("exercises") or {}).items():
        mark = {"done": "✓", "in_progress": "…", "todo": " "}.get(item.get("status", ""), " ")
        cells.append(f"{mark} {_name(exercise)} {item.get('done', 0)}/{item.get('units', 0)}")
    table.add_row("", "  ".join(cells))
    return table


def _event_line(event: dict[str, Any]) -> str:
    kind = event.get("type")
    exercise = _name(event.get("exercise"))
    if kind == "rep":
        extra = ""
        if event.get("hold_s") is not None:
            extra = f" hold {float(event['hold_s']):.1f} s"
            if event.get("short_hold"):
                extra += " (short)"
        if event.get("direction"):
            extra = f" {event['direction']}"
        if event.get("steps"):
            extra = f" {event['steps']} steps"
        return f"#{event.get('seq')} rep {exercise}{extra}"
    if kind == "set":
        return f"#{event.get('seq')} set of {exercise}: {event.get('reps')} reps"
    if kind == "step":
        return f"#{event.get('seq')} step ({exercise})"
    if kind == "exercise":
        return f"#{event.get('seq')} now {exercise}"
    if kind == "session_start":
        return f"#{event.get('seq')} session started"
    if kind == "session":
        return f"#{event.get('seq')} session ended: {event.get('reps')} reps"
    return f"#{event.get('seq')} {kind}"


def summary_table(summary: SessionSummary) -> Table:
    """A finished session, per exercise against the routine (the demo ends with it)."""
    minutes, seconds = divmod(round(summary.duration_s), 60)
    table = Table(
        title=f"Session {summary.session_id}: {summary.reps} reps in {minutes}:{seconds:02d} "
              f"(sample clock), {100 * summary.progress:.0f} % of the routine",
        title_justify="left",
    )
    table.add_column("exercise")
    table.add_column("full reps", justify="right")
    table.add_column("target", justify="right")
    table.add_column("short", justify="right")
    table.add_column("details")
    table.add_column("status")
    for item in summary.exercises:
        details = []
        if item.directions:
            details.append(" ".join(f"{d} {n}" for d, n in item.directions.items()))
        if item.hold_mean_s is not None:
            details.append(f"hold mean {item.hold_mean_s:.1f} s")
        if item.steps is not None:
            details.append(f"{item.steps} tiptoe steps")
        table.add_row(
            _name(item.exercise), str(item.full),
            "-" if item.target_reps is None else str(item.units), str(item.short),
            ", ".join(details) or "-", item.status,
        )
    return table


class StatusFeed:
    """Subscribes to ``<base>/#`` on a broker and feeds a ``StatusModel`` until cancelled."""

    def __init__(self, broker: BrokerSettings, model: StatusModel,
                 on_change: Callable[[], None] | None = None) -> None:
        self.broker = broker
        self.model = model
        self.on_change = on_change
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        from sensord.sinks.broker import tls_context  # noqa: PLC0415

        client = aiomqtt.Client(
            self.broker.host, self.broker.port, username=self.broker.username,
            password=self.broker.password, tls_context=tls_context(self.broker), timeout=5,
        )
        try:
            async with client:
                await client.subscribe(f"{self.model.base}/#", qos=1)
                self.subscribed.set()
                async for message in client.messages:
                    body = message.payload if isinstance(message.payload, bytes) else b""
                    self.model.update(str(message.topic), body)
                    if self.on_change is not None:
                        self.on_change()
        except aiomqtt.MqttError as exc:
            raise BrokerError(
                f"cannot read the broker {self.broker.describe()}: {exc}; is the broker "
                "running (sensord diagnose checks it)?"
            ) from exc


def _unwrapped(failed: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first of our own errors in a task group's failure (else the group itself)."""
    ours, _ = failed.split(BrokerError)
    if ours is None:
        return failed
    first: BaseException = ours
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


async def gather_snapshot(
    broker: BrokerSettings, base: str, *, wait_s: float = 3.0
) -> StatusModel:
    """Connects, collects the retained topics and the next status round (up to ``wait_s``),
    and returns the model; ``BrokerError`` when the broker or the daemon does not answer."""
    try:
        return await _gather(broker, base, wait_s)
    except BaseExceptionGroup as failed:
        raise _unwrapped(failed) from None


async def _gather(broker: BrokerSettings, base: str, wait_s: float) -> StatusModel:
    model = StatusModel(base)
    feed = StatusFeed(broker, model)
    async with asyncio.TaskGroup() as group:
        task = group.create_task(feed.run(), name="status-feed")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not task.done():
            views = model.wearables.values()
            if model.daemon_online and views and all(v.status for v in views):
                break
            await asyncio.sleep(0.05)
        task.cancel()
    check_daemon(model, broker)
    return model


def check_daemon(model: StatusModel, broker: BrokerSettings) -> None:
    """``BrokerError`` unless a daemon says it is online under the model's base topic."""
    if model.daemon_online:
        return
    if model.bridge == "offline":
        raise BrokerError(
            f"the sensord daemon publishing under {model.base}/ on {broker.describe()} is "
            "offline (stopped or lost); start it with `sensord run` or `systemctl start sensord`"
        )
    raise BrokerError(
        f"no sensord daemon answers under {model.base}/ on {broker.describe()}; check "
        "mqtt.base_topic and that `sensord run` is running"
    )


async def live(
    broker: BrokerSettings, base: str, *, wait_s: float = 5.0, refresh_hz: float = 4.0,
    duration_s: float | None = None, stop: asyncio.Event | None = None,
) -> StatusModel:
    """The live view until ``stop`` (or ``duration_s``); ``BrokerError`` if no daemon answers
    within ``wait_s`` (the view keeps running if the daemon goes away later)."""
    try:
        return await _live(broker, base, wait_s=wait_s, refresh_hz=refresh_hz,
                           duration_s=duration_s, stop=stop)
    except BaseExceptionGroup as failed:
        raise _unwrapped(failed) from None


async def _live(
    broker: BrokerSettings, base: str, *, wait_s: float, refresh_hz: float,
    duration_s: float | None, stop: asyncio.Event | None,
) -> StatusModel:
    from rich.live import Live  # noqa: PLC0415

    model = StatusModel(base)
    feed = StatusFeed(broker, model)
    stop = stop or asyncio.Event()
    async with asyncio.TaskGroup() as group:
        task = group.create_task(feed.run(), name="status-feed")
        deadline = time.monotonic() + wait_s
        while (  # noqa: ASYNC110 - the model is filled by the feed task
            not model.daemon_online and time.monotonic() < deadline and not task.done()
        ):
            await asyncio.sleep(0.05)
        if task.done():
            await task
        try:
            check_daemon(model, broker)
        except BrokerError:
            task.cancel()
            raise
        ends = None if duration_s is None else time.monotonic() + duration_s
        with Live(model.render(), refresh_per_second=refresh_hz, transient=False) as screen:
            while not stop.is_set() and (ends is None or time.monotonic() < ends):
                screen.update(model.render())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0 / refresh_hz):
                        await stop.wait()
                if task.done():
                    break
            screen.update(model.render())
        task.cancel()
    return model


__all__ = [
    "StatusFeed", "StatusModel", "WearableView", "check_daemon", "gather_snapshot", "live",
    "summary_table",
]
