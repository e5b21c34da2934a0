"""The daemon's footprint and latency: two virtual wearables at 100 Hz, real time.

Starts two `sensord wearable` processes (left and right foot, each doing ankle circles and
plantar flexions in a loop), Mosquitto's or any broker on 127.0.0.1:1883, and `sensord run` as
its own process. Over a steady window it measures the daemon process alone (the wearable
processes excluded): resident memory (now and peak, MB), CPU time over wall time (share of one
core), and, at a subscriber in this process, the latency from a rep's last sample to its event
message (the sample clock is the host's monotonic clock, the same in every process), and the
part of it from the event being stored (its ``ts``) to the subscriber.

    python bench/bench_daemon.py [--seconds 60]

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


async def run(seconds: float) -> None:
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
            latencies: list[float] = []
            delivery: list[float] = []
            # Reps that left with their set's recognition (the first reps of a set wait until
            # a few in a row say which exercise this is), and the ones after.
            opening: list[float] = []
            opened_at: dict[str, float] = {}
            async with aiomqtt.Client("127.0.0.1", 1883) as client:
                await client.subscribe(f"{base}/+/event", qos=1)
                daemon = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
                    [sys.executable, "-m", "sensord", "run", "--config", str(config)],
                    cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                try:
                    await asyncio.sleep(8.0)  # start-up, connection and the first samples
                    cpu0, wall0 = cpu_s(daemon.pid), time.monotonic()

                    async def listen() -> None:
                        async for message in client.messages:
                            at = time.monotonic()
                            body = message.payload
                            if not isinstance(body, bytes):
                                continue
                            event = json.loads(body)
                            device = str(event.get("device"))
                            if event.get("type") == "exercise":
                                opened_at[device] = at
                            if event.get("type") == "rep" and event.get("t_end") is not None:
                                latency = at - float(event["t_end"])
                                latencies.append(latency)
                                if at - opened_at.get(device, -1e9) < 0.2:
                                    opening.append(latency)
                                stored = datetime.fromisoformat(event["ts"])
                                delivery.append(time.time() - stored.timestamp())

                    listener = asyncio.create_task(listen())
                    await asyncio.sleep(seconds)
                    cpu1, wall1 = cpu_s(daemon.pid), time.monotonic()
                    rss, peak = memory_mb(daemon.pid)
                    listener.cancel()
                finally:
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
    if len(latencies) >= 2:
        ms = sorted(1000.0 * x for x in latencies)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        print(f"  rep's last sample -> subscriber: p50 {statistics.median(ms):.0f} ms, "
              f"p95 {p95:.0f} ms, max {ms[-1]:.0f} ms over {len(ms)} reps   target p95 < 300 ms")
        later = sorted(1000.0 * x for x in latencies if x not in opening)
        if len(later) >= 2:
            p95_later = later[min(len(later) - 1, round(0.95 * (len(later) - 1)))]
            print(f"    reps after their set was recognised: p50 {statistics.median(later):.0f} "
                  f"ms, p95 {p95_later:.0f} ms over {len(later)}; {len(opening)} reps left "
                  "with the recognition of their set")
        parts = sorted(1000.0 * x for x in delivery)
        print(f"    of which stored -> subscriber (outbox, MQTT): p50 "
              f"{statistics.median(parts):.0f} ms, max {parts[-1]:.0f} ms; the rest is the "
              "engine deciding the rep")
    else:
        print(f"  only {len(latencies)} reps seen: no latency figure")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(run(args.seconds))


if __name__ == "__main__":
    main()
