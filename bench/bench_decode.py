"""Decode cost per notification for every profile, and what it means at the stream's rate.

For each profile the device emulator packs a few thousand notifications of smooth motion at the
profile's rate nearest 100 Hz and an ATT MTU of 247 (what BlueZ and bumble negotiate), exactly as
the virtual wearable sends them; a fresh decoder then decodes them one by one, timed with
``perf_counter_ns``. Printed per profile: samples per notification, the median and p99 cost of
one ``decode`` call in microseconds, the samples decoded per second of CPU, and the share of one
core the decoder needs at that rate.

Run: python bench/bench_decode.py [--notifications N]
"""

from __future__ import annotations

import argparse
import gc
import platform
import time

import _path  # noqa: F401 (puts the project root on sys.path)
import numpy as np

from sensord.profiles import PROFILES, Profile
from sensord.profiles.base import Notification

MTU = 247


def motion(n: int, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Smooth foot-like motion: gravity plus slow swings, shape (n, 3) each."""
    t = np.arange(n) / rate_hz
    acc = np.column_stack((2 * np.sin(2 * np.pi * 0.5 * t), np.cos(t), 9.81 + np.sin(3 * t)))
    gyro = np.column_stack((np.sin(2 * np.pi * 0.5 * t), 0.3 * np.cos(t), 2 * np.sin(t)))
    return acc, gyro


def notifications(profile: Profile, count: int) -> tuple[float, int, list[Notification]]:
    rate = profile.nearest_rate(100.0)
    emulator = profile.emulator()
    for write in profile.start(rate):
        emulator.on_write(write.char_uuid, write.data)
    spn = emulator.samples_per_notification(MTU)
    acc, gyro = motion(spn * count, rate)
    notes: list[Notification] = []
    for start in range(0, spn * count, spn):
        notes.extend(emulator.encode(acc[start : start + spn], gyro[start : start + spn]))
    return rate, spn, notes


def bench(profile: Profile, count: int) -> dict[str, float]:
    rate, spn, notes = notifications(profile, count)
    decoder = profile.decoder(rate)
    costs_ns = np.empty(len(notes), dtype=np.int64)
    samples = 0
    gc.disable()
    try:
        for i, note in enumerate(notes):
            start = time.perf_counter_ns()
            packet = decoder.decode(note.char_uuid, note.data)
            costs_ns[i] = time.perf_counter_ns() - start
            if packet is not None:
                samples += len(packet)
    finally:
        gc.enable()
    total_s = costs_ns.sum() / 1e9
    notes_per_s = len(notes) / (samples / rate)
    return {
        "rate_hz": rate,
        "spn": spn,
        "bytes": float(np.mean([len(n.data) for n in notes])),
        "median_us": float(np.median(costs_ns)) / 1e3,
        "p99_us": float(np.percentile(costs_ns, 99)) / 1e3,
        "samples_per_s": samples / total_s,
        "cpu_percent": notes_per_s * float(np.mean(costs_ns)) / 1e9 * 100,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=5000)
    args = parser.parse_args()
    print(f"decode cost per notification, MTU {MTU}, python {platform.python_version()}, "
          f"numpy {np.__version__}, {platform.machine()}")
    header = (
        f"{'profile':<10} {'rate Hz':>8} {'samp/notif':>10} {'bytes':>6} {'median us':>10} "
        f"{'p99 us':>8} {'samples/s':>11} {'CPU % at rate':>14}"
    )
    print(header)
    print("-" * len(header))
    for profile_id, profile in PROFILES.items():
        bench(profile, 200)  # warm-up
        r = bench(profile, args.notifications)
        print(
            f"{profile_id:<10} {r['rate_hz']:>8g} {r['spn']:>10.0f} {r['bytes']:>6.0f} "
            f"{r['median_us']:>10.1f} {r['p99_us']:>8.1f} {r['samples_per_s']:>11,.0f} "
            f"{r['cpu_percent']:>14.3f}"
        )


if __name__ == "__main__":
    main()
