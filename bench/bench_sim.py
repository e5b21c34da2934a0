"""Synthesis speed of the motion simulator.

Prints, per script and output rate, the session length, the CPU time to synthesise it (one
core, process time) and the speed-up over real time.
Run: python bench/bench_sim.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sensord.sim import SimSpec, simulate


def _run(routine: str, rate: float, seed: int, placement: str) -> tuple[float, float, int]:
    """CPU seconds (process time: robust when other work shares the machine), session
    seconds, samples."""
    start = time.process_time()
    sim = simulate(SimSpec(routine=routine, rate_hz=rate, seed=seed, placement=placement,
                           loss=0.02))
    return time.process_time() - start, sim.truth.duration_s, len(sim.block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run per case")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    _run("ankle_circle", 100.0, 0, "instep")  # warm-up: imports, FFT plans
    cases = [("default", 50.0), ("default", 100.0), ("default", 200.0), ("everyday", 100.0),
             ("walk", 200.0), ("plantar_flexion", 100.0), ("ankle_circle", 100.0),
             ("toe_press", 100.0), ("toe_walk", 100.0)]
    print(f"{'script':16s} {'rate':>6s} {'place':>6s} {'session':>9s} {'samples':>8s} "
          f"{'cpu s':>7s} {'x real':>7s} {'samples/s':>10s}")
    for routine, rate in cases:
        for placement in ("instep", "ankle") if routine == "default" and rate == 100.0 else (
                "instep",):
            best = None
            for seed in range(repeats):
                wall, duration, samples = _run(routine, rate, seed, placement)
                if best is None or wall < best[0]:
                    best = (wall, duration, samples)
            assert best is not None
            wall, duration, samples = best
            print(f"{routine:16s} {rate:6.0f} {placement:>6s} {duration / 60:7.1f} m "
                  f"{samples:8d} {wall:6.2f}s {duration / wall:7.0f} {samples / wall:10.0f}")
    # 15 minutes at 200 Hz: a long session at the highest tested rate
    start = time.process_time()
    sim = simulate(SimSpec(routine="mixed", rate_hz=200.0, seed=1))
    extra = simulate(SimSpec(routine="walk", rate_hz=200.0, seed=2))
    wall = time.process_time() - start
    minutes = (sim.truth.duration_s + extra.truth.duration_s) / 60.0
    print(f"mixed + walk at 200 Hz: {minutes:.1f} min of sessions in {wall:.2f} s "
          f"({minutes * 60 / wall:.0f} x real time; 15 min would take "
          f"{15 * 60 * wall / (minutes * 60):.1f} s)")


if __name__ == "__main__":
    main()
