"""Pipeline throughput on one core: batch vs 10-sample live blocks, beside imufusion's AHRS.

Prints samples per second for a 1-hour 100 Hz session (synthesised by sensord.sim when it is
available, else tiled from the real gaitmap recordings), fed (a) as one batch and (b) in
10-sample blocks like BLE notifications, and x-io's imufusion AHRS alone on the same samples.
Also prints the sample-clock latency from a rep's end to the feed call that produced its event
(fed in 5-sample notifications, with the daemon's hop and with the analysis default; over all
reps and over the reps that left alone, not held back for their set's recognition), and the time
`sensord analyze` takes on the hour written to CSV (parsing included).

Each timing is the best of ``--repeat`` runs (other work on a shared machine only ever slows a
run down). Run: python bench/bench_pipeline.py [--minutes 60] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sensord.daemon import LIVE_HOP_S  # noqa: E402
from sensord.model import Event, ImuBlock  # noqa: E402
from sensord.pipeline import HOP_S, Pipeline, PipelineConfig  # noqa: E402
from sensord.recording import RecordingMeta, read_recording, write_recording  # noqa: E402


def session(minutes: float) -> ImuBlock:
    """A 100 Hz session of the given length."""
    try:
        from sensord.sim import SimSpec, simulate  # noqa: PLC0415

        pieces: list[ImuBlock] = []
        total = 0.0
        seed = 0
        while total < minutes * 60:
            sim = simulate(SimSpec(routine="mixed", rate_hz=100.0, seed=seed))
            block = sim.block
            offset = total - float(block.t_s[0])
            pieces.append(ImuBlock(block.t_s + offset, block.acc_m_s2, block.gyro_rad_s))
            total = float(pieces[-1].t_s[-1]) + 0.01
            seed += 1
        whole = ImuBlock.concat(pieces)
        return whole.slice(0, int(np.searchsorted(whole.t_s, minutes * 60)))
    except ImportError:
        data = ROOT.parent / "shared" / "data" / "gaitmap_walk"
        blocks = [read_recording(p).block for p in sorted(data.glob("*.csv"))]
        n = int(minutes * 60 * 100)
        pieces = []
        count = 0
        while count < n:
            for b in blocks:
                pieces.append(b)
                count += len(b)
        acc = np.concatenate([b.acc_m_s2 for b in pieces])[:n]
        gyro = np.concatenate([b.gyro_rad_s for b in pieces])[:n]
        return ImuBlock.from_arrays(np.arange(n) * 0.01, acc, gyro)


def run_batch(block: ImuBlock) -> tuple[float, list[Event]]:
    start = time.perf_counter()
    pipeline = Pipeline()
    events = [*pipeline.feed(block), *pipeline.finish()]
    return time.perf_counter() - start, events


def run_live(block: ImuBlock, size: int = 10) -> tuple[float, list[Event]]:
    pipeline = Pipeline()
    events: list[Event] = []
    pieces = block.split([size] * (len(block) // size + 1))
    start = time.perf_counter()
    for piece in pieces:
        if len(piece):
            events.extend(pipeline.feed(piece))
    events.extend(pipeline.finish())
    return time.perf_counter() - start, events


def rep_latency(block: ImuBlock, hop_s: float, size: int = 5) -> dict[str, float | None]:
    """p50/p95 of the sample-clock latency from a rep's end to the block whose feed returned
    it: over all reps, and over reps that left alone (not with others, as the first reps of
    a set do when it is recognised)."""
    pipeline = Pipeline(PipelineConfig(hop_s=hop_s))
    every: list[float] = []
    alone: list[float] = []
    for piece in block.split([size] * (len(block) // size + 1)):
        if not len(piece):
            continue
        reps = [e for e in pipeline.feed(piece) if e.type == "rep" and e.t_end is not None]
        now = float(piece.t_s[-1])
        every.extend(now - e.t_end for e in reps if e.t_end is not None)
        if len(reps) == 1 and reps[0].t_end is not None:
            alone.append(now - reps[0].t_end)

    def pct(values: list[float], q: float) -> float | None:
        return round(float(np.percentile(values, q)), 3) if values else None

    return {"p50": pct(every, 50), "p95": pct(every, 95), "alone_p50": pct(alone, 50),
            "alone_p95": pct(alone, 95)}


def run_ahrs(block: ImuBlock) -> float | None:
    try:
        import imufusion  # noqa: PLC0415
    except ImportError:
        return None
    gyro_deg = np.degrees(block.gyro_rad_s)
    acc_g = block.acc_m_s2 / 9.80665
    ahrs = imufusion.Ahrs()
    ahrs.set_sample_period(0.01)
    start = time.perf_counter()
    for i in range(len(block)):
        ahrs.update_no_magnetometer(gyro_deg[i], acc_g[i])
    return time.perf_counter() - start


def run_cli(block: ImuBlock) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hour.csv"
        write_recording(path, block, RecordingMeta(placement="instep", rate_hz=100.0))
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "sensord", "analyze", str(path), "--json"],
            check=True, capture_output=True, cwd=ROOT,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    block = session(args.minutes)
    n = len(block)
    repeat = max(1, args.repeat)
    batch_runs = [run_batch(block) for _ in range(repeat)]
    batch_s, batch_events = min(batch_runs, key=lambda r: r[0])
    live_runs = [run_live(block) for _ in range(repeat)]
    live_s, live_events = min(live_runs, key=lambda r: r[0])
    latency = {hop: rep_latency(block, hop) for hop in (LIVE_HOP_S, HOP_S)}
    ahrs_times = [run_ahrs(block) for _ in range(repeat)]
    ahrs_s = None if ahrs_times[0] is None else min(t for t in ahrs_times if t is not None)
    cli_s = min(run_cli(block) for _ in range(repeat))
    result = {
        "samples": n,
        "batch_samples_per_s": round(n / batch_s),
        "live10_samples_per_s": round(n / live_s),
        "ahrs_samples_per_s": None if ahrs_s is None else round(n / ahrs_s),
        "analyze_cli_s": round(cli_s, 2),
        "events": len(batch_events),
        "live_equals_batch": live_events == batch_events,
        "rep_latency_s": {f"hop_{hop:g}": figures for hop, figures in latency.items()},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"session: {n} samples ({n / 100 / 60:.0f} min at 100 Hz), {len(batch_events)} events")
    print(f"pipeline, one batch      : {result['batch_samples_per_s']:>12,} samples/s")
    print(f"pipeline, 10-sample blocks: {result['live10_samples_per_s']:>12,} samples/s")
    if ahrs_s is not None:
        print(f"imufusion AHRS alone      : {result['ahrs_samples_per_s']:>12,} samples/s")
    print(f"sensord analyze (CSV, 1 process): {cli_s:.2f} s")
    print(f"live events identical to batch: {result['live_equals_batch']}")
    for hop, f in latency.items():
        who = "daemon" if hop == LIVE_HOP_S else "analysis"
        print(f"rep latency (sample clock, 5-sample blocks, hop {hop:g} s: {who}): all reps p50 "
              f"{f['p50']} s, p95 {f['p95']} s; reps that left alone p50 {f['alone_p50']} s, "
              f"p95 {f['alone_p95']} s")


if __name__ == "__main__":
    main()
