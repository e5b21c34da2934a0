"""CPU share of the sensord side of the BLE link: two wearables at 100 Hz.

Starts `sensord wearable` (two virtual wearables) as its own process and, in this process, two
WearableLinks on one `bumble:tcp-client` adapter consuming the blocks, as the daemon would.
Measures this process's CPU time over a steady window. On this adapter the Bluetooth host stack
(bumble) runs inside sensord, so the figure includes it; with BlueZ (hci0) the host stack is
bluetoothd's and sensord's own share is smaller.

    python bench/bench_link.py [--seconds 20] [--profiles sensord,witmotion]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import _path  # noqa: F401 (puts the project root on sys.path)

from sensord.ble.adapter import parse_adapter
from sensord.ble.link import LinkConfig, WearableLink
from sensord.profiles import PROFILES

NAMES = ("bench-L", "bench-R")


def start_wearables(profile: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sensord", "wearable", "--profile", profile,
         "--listen", "tcp-server:127.0.0.1:0", *(a for n in NAMES for a in ("--name", n))],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert process.stdout is not None
    for _ in range(10):
        line = process.stdout.readline()
        match = re.search(r"--adapter (\S+)", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise SystemExit("sensord wearable did not start")


async def measure(adapter_name: str, profile: str, seconds: float) -> dict[str, float]:
    adapter = parse_adapter(adapter_name)
    rate = PROFILES[profile].nearest_rate(100.0)
    links = [
        WearableLink(LinkConfig(name=n, profile=profile, rate_hz=rate, scan_timeout_s=5.0),
                     adapter)
        for n in NAMES
    ]
    blocks = [0, 0]

    async def consume(index: int) -> None:
        async for _block in links[index]:
            blocks[index] += 1

    async with adapter, asyncio.TaskGroup() as group:
        for index, link in enumerate(links):
            group.create_task(link.run())
            group.create_task(consume(index))
        async with asyncio.timeout(30):
            while min(link.health().samples for link in links) < 2 * rate:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        start_samples = [link.health().samples for link in links]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        healths = [link.health() for link in links]
        for link in links:
            link.stop()
    wall = wall1 - wall0
    return {
        "rate_hz": rate,
        "cpu_pct": 100.0 * (cpu1 - cpu0) / wall,
        "samples_per_s": sum(h.samples - s for h, s in zip(healths, start_samples,
                                                          strict=True)) / wall,
        "lost": sum(h.lost_samples for h in healths),
        "blocks_per_s": sum(blocks) / wall,
    }


async def measure_recovery(drops: int) -> list[float]:
    """Seconds from a dropped link to the next block, in process (LocalLink), ``drops`` times."""
    from bumble.link import LocalLink  # noqa: PLC0415

    from sensord.ble.adapter import BumbleAdapter  # noqa: PLC0415
    from sensord.virtual.central import BumbleCentral  # noqa: PLC0415
    from sensord.virtual.wearable import VirtualWearable  # noqa: PLC0415

    link = LocalLink()  # type: ignore[no-untyped-call]
    delays: list[float] = []
    async with VirtualWearable(link, PROFILES["sensord"], name="bench-L") as wearable:
        central = await BumbleCentral.on_link(link)
        wearable_link = WearableLink(LinkConfig(name="bench-L"), BumbleAdapter.from_central(
            central))
        arrived = asyncio.Event()

        async def consume() -> None:
            async for _block in wearable_link:
                arrived.set()

        async with asyncio.TaskGroup() as group:
            group.create_task(wearable_link.run())
            group.create_task(consume())
            await asyncio.wait_for(arrived.wait(), 10)
            for _ in range(drops):
                await asyncio.sleep(0.5)
                await wearable.drop_link()
                dropped = time.perf_counter()
                arrived.clear()
                await asyncio.wait_for(arrived.wait(), 10)
                delays.append(time.perf_counter() - dropped)
            wearable_link.stop()
        await central.close()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--profiles", default=",".join(PROFILES))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bumble").setLevel(logging.ERROR)
    print(f"two wearables at ~100 Hz over bumble:tcp-client, {args.seconds:g} s each")
    print(f"{'profile':<10} {'rate':>6} {'cpu % of one core':>18} {'samples/s':>10} "
          f"{'blocks/s':>9} {'lost':>5}")
    for profile in args.profiles.split(","):
        process, adapter = start_wearables(profile)
        try:
            result = asyncio.run(measure(adapter, profile, args.seconds))
        finally:
            process.terminate()
            process.wait(timeout=10)
        print(f"{profile:<10} {result['rate_hz']:>6.0f} {result['cpu_pct']:>18.1f} "
              f"{result['samples_per_s']:>10.1f} {result['blocks_per_s']:>9.1f} "
              f"{result['lost']:>5.0f}")
    delays = sorted(asyncio.run(measure_recovery(20)))
    print(f"link dropped -> next block (in process, 20 drops): median "
          f"{1e3 * delays[len(delays) // 2]:.0f} ms, max {1e3 * delays[-1]:.0f} ms")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the measuring process: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
