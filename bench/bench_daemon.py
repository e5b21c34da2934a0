"""The daemon's footprint and latency: two virtual wearables at 100 Hz, real time.

Starts two `sensord wearable` processes (left and right foot, each doing ankle circles and
plantar flexions in a loop), Mosquitto's or any broker on 127.0.0.1:1883, and `sensord run` as
its own process. Over a steady window it measures the daemon process alone (the wearable
processes excluded): resident memory (now and peak, MB), CPU time over wall time (share of one
core), and, at a subscriber in this process, the latency from a rep's last sample to its event
message (the sample clock is the host's monotonic clock, the same in every process), and the
part of it from the event being stored (its ``ts``) to the subscriber.

    python bench/bench_daemon.py [--seconds 60] [--trace] [--profile OUT.prof]

``--trace`` runs the daemon with timing probes (``_daemon_trace.py``) and splits each rep's
latency into its stages: the detector becoming certain, the recogniser holding it for its set,
the pipeline's hop buffer, the link (BLE delivery, sample-time alignment, queues), the
pipeline's own compute, and store -> subscriber. ``--profile`` runs it under cProfile (the
probes and the profiler cost CPU: take memory and CPU figures from a plain run).

Targets (issue 5): under 80 MB, under 5 % of one core, p95 latency under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import _path  # noqa: F401 (puts the project root on sys.path)
import aiomqtt

from sensord.recording import RecordingMeta, write_recording
from sensord.sim import SimSpec, simulate
from sensord.sim.script import Script, Segment

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def motion(directory: Path, side: str) -> Path:
    """A loop of exercises with short rests (about 80 s), so reps come all the time."""
    script = Script("bench", (
        Segment("rest", duration_s=3.0, posture="lying"),
        Segment("ankle_circle", reps=8),
        Segment("rest", duration_s=3.0, posture="seated"),
        Segment("plantar_flexion", reps=4),
    ))
    sim = simulate(SimSpec(routine=script, side=side, seed=5, rate_hz=200.0,  # type: ignore[arg-type]
                           quantize=False))
    path = directory / f"bench-{side}.csv"
    write_recording(path, sim.block, RecordingMeta(rate_hz=200.0, side=side, placement="instep"))
    return path


def start_wearable(name: str, side: str, path: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sensord", "wearable", "--name", name, "--motion", str(path),
         "--side", side, "--listen", "tcp-server:127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
    )
    assert process.stdout is not None
    for _ in range(10):
        match = re.search(r"--adapter (\S+)", process.stdout.readline())
        if match:
            return process, match.group(1)
    process.kill()
    raise SystemExit("sensord wearable did not start")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident now and peak (VmRSS, VmHWM), MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
              for k in ("VmRSS", "VmHWM")}
    return values["VmRSS"], values["VmHWM"]


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p95 (nearest rank), in the values' unit."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def bursts(received: list[tuple[str, float, float]]) -> set[int]:
    """Indices of reps that arrived together with another rep of the same wearable (within
    0.1 s): the reps that left with the recognition of their set (reps of a running set come
    one at a time, a rep's length apart)."""
    together: set[int] = set()
    for i, (device, at, _) in enumerate(received):
        for j in range(i):
            if received[j][0] == device and abs(received[j][1] - at) < 0.1:
                together.update((i, j))
    return together


async def run(seconds: float, trace: Path | None, profile: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="sensord-bench-") as tmp:
        directory = Path(tmp)
        wearables = []
        try:
            for side in ("left", "right"):
                process, adapter = start_wearable(side, side, motion(directory, side))
                wearables.append((side, process, adapter))
            base = f"bench/{uuid.uuid4().hex[:8]}/sensord"
            config = directory / "sensord.toml"
            lines = ["[mqtt]", 'url = "mqtt://127.0.0.1:1883"', f'base_topic = "{base}"',
                     'discovery = "off"', "", "[store]", f'path = "{directory / "db"}"', "",
                     "[logging]", 'level = "warning"', ""]
            for side, _, adapter in wearables:
                lines += ["[[wearable]]", f'name = "{side}"', f'side = "{side}"',
                          f'adapter = "{adapter}"', ""]
            config.write_text("\n".join(lines))
            # Per rep at the subscriber: device, arrival (monotonic), t_end (sample clock).
            received: list[tuple[str, float, float]] = []
            delivery: list[float] = []
            command = ["-m", "sensord"]
            if trace is not None:
                command = [str(ROOT / "bench" / "_daemon_trace.py"), str(trace)]
            if profile is not None:
                command = ["-m", "cProfile", "-o", str(profile), *(
                    command if trace is not None else ["-m", "sensord"])]
            async with aiomqtt.Client("127.0.0.1", 1883) as client:
                await client.subscribe(f"{base}/+/event", qos=1)
                daemon = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
                    [sys.executable, *command, "run", "--config", str(config)],
                    cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                counting = False

                async def listen() -> None:
                    # Reads from the start, so a message is stamped when it arrives (one left
                    # queued until a late listener started would look seconds late), and keeps
                    # those of the measured window.
                    async for message in client.messages:
                        at = time.monotonic()
                        body = message.payload
                        if not counting or not isinstance(body, bytes):
                            continue
                        event = json.loads(body)
                        if event.get("type") == "rep" and event.get("t_end") is not None:
                            received.append((str(event.get("device")), at,
                                             float(event["t_end"])))
                            stored = datetime.fromisoformat(event["ts"])
                            delivery.append(time.time() - stored.timestamp())

                listener = asyncio.create_task(listen())
                try:
                    await asyncio.sleep(8.0)  # start-up, connection and the first samples
                    cpu0, wall0 = cpu_s(daemon.pid), time.monotonic()
                    counting = True
                    await asyncio.sleep(seconds)
                    cpu1, wall1 = cpu_s(daemon.pid), time.monotonic()
                    rss, peak = memory_mb(daemon.pid)
                finally:
                    listener.cancel()
                    daemon.send_signal(signal.SIGTERM)
                    daemon.wait(timeout=15)
        finally:
            for _, process, _ in wearables:
                process.terminate()
                process.wait(timeout=10)
    share = 100.0 * (cpu1 - cpu0) / (wall1 - wall0)
    print(f"daemon over {wall1 - wall0:.0f} s with two wearables at 100 Hz:")
    print(f"  resident memory {rss:.1f} MB (peak {peak:.1f} MB)   target < 80 MB")
    print(f"  CPU {share:.2f} % of one core                     target < 5 %")
    if len(received) < 2:
        print(f"  only {len(received)} reps seen: no latency figure")
        return
    ms = [1000.0 * (at - t_end) for _, at, t_end in received]
    p50, p95 = percentiles(ms)
    print(f"  rep's last sample -> subscriber: p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
          f"max {max(ms):.0f} ms over {len(ms)} reps   target p95 < 300 ms")
    opening = bursts(received)
    later = [x for i, x in enumerate(ms) if i not in opening]
    if len(later) >= 2:
        p50, p95 = percentiles(later)
        print(f"    reps after their set was recognised: p50 {p50:.0f} ms, p95 {p95:.0f} ms "
              f"over {len(later)}; {len(opening)} reps left with the recognition of their set")
    parts = sorted(1000.0 * x for x in delivery)
    print(f"    of which stored -> subscriber (outbox, MQTT): p50 "
          f"{statistics.median(parts):.0f} ms, max {parts[-1]:.0f} ms; the rest is the "
          "engine deciding the rep")
    if trace is not None:
        stages(trace, received)


STAGES = ("certain", "held", "hop", "link", "compute", "deliver")


def stages(path: Path, received: list[tuple[str, float, float]]) -> None:
    """Splits each rep's latency into its stages from the daemon's trace (see the module
    docstring): medians and p95 of each stage over all reps, and per rep in ``--trace`` runs."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    reps = [r for r in records if r["k"] == "rep"]
    feeds = [r for r in records if r["k"] == "feed"]
    packets = {round(r["t_last"], 6): r for r in records if r["k"] == "packet"}
    rows: list[dict[str, float]] = []
    for _, at, t_end in received:
        rep = min(reps, key=lambda r: abs(r["t_end"] - t_end), default=None)
        fed = next((f for f in feeds if any(abs(x - t_end) < 1e-4 for x in f["reps"])), None)
        if rep is None or fed is None or abs(rep["t_end"] - t_end) > 1e-3:
            continue
        own = rep["own_known"] if rep["own_known"] is not None else rep["released"]
        packet = packets.get(round(fed["t_last"], 6))
        row = {
            "certain": own - t_end, "held": rep["released"] - own,
            "hop": fed["t_last"] - rep["released"], "link": fed["at"] - fed["t_last"],
            "compute": fed["took"], "deliver": at - fed["at"] - fed["took"],
        }
        if packet is not None:
            row["arrival-t"] = packet["arrival"] - packet["t_last"]
            row["wake"] = packet["at"] - packet["arrival"]
            row["queue"] = fed["at"] - packet["at"]
        rows.append(row)
    if not rows:
        print("  trace: no reps matched")
        return
    print(f"  stages over {len(rows)} reps (ms; p50 / p95 / max):")
    for name in (*STAGES, "arrival-t", "wake", "queue"):
        values = [1000.0 * r[name] for r in rows if name in r]
        if values:
            p50, p95 = percentiles(values)
            print(f"    {name:>9}: {p50:7.0f} / {p95:7.0f} / {max(values):7.0f}")
    print("  per rep (ms): " + " ".join(f"{n:>8}" for n in STAGES))
    for row in rows:
        print("               " + " ".join(f"{1000.0 * row[n]:8.0f}" for n in STAGES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--trace", action="store_true",
                        help="split each rep's latency into stages (probes in the daemon)")
    parser.add_argument("--profile", type=Path, help="write the daemon's cProfile here")
    args = parser.parse_args()
    if not args.trace:
        asyncio.run(run(args.seconds, None, args.profile))
        return
    with tempfile.TemporaryDirectory(prefix="sensord-trace-") as tmp:
        asyncio.run(run(args.seconds, Path(tmp) / "trace.jsonl", args.profile))


if __name__ == "__main__":
    main()
