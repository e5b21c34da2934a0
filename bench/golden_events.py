"""Golden events: speed work must leave every event byte-identical, for any block split.

For a fixed set of simulated sessions (routine, mixed and everyday scripts; instep and ankle;
50, 100 and 200 Hz; with and without packet loss) the pipeline runs on the whole session and on
blocks of 1, 7, 10 and 333 samples. Each run's events (JSON lines) are compared with the golden
file bench/golden/events.json, and every block size with the whole-session run. Any difference
is printed (session, block size, first differing event) and the exit code is 1.

Run: python bench/golden_events.py [--write] [--only NAME ...] [--sizes whole,1,7,10,333]

``--write`` regenerates the golden file from the whole-session runs, after checking that every
block size agrees with them (a block-split dependence is a bug, not a new golden).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import _path  # noqa: F401 - puts the project root on sys.path

from sensord.model import Event, ImuBlock, Placement, Side
from sensord.pipeline import Pipeline, PipelineConfig
from sensord.sim import SimSpec, simulate

GOLDEN = Path(__file__).resolve().parent / "golden" / "events.json"
WHOLE = 0  # block size meaning "the whole session at once"
SIZES = (WHOLE, 1, 7, 10, 333)


@dataclass(frozen=True, slots=True)
class Case:
    """One simulated session of the golden set."""

    name: str
    routine: str
    placement: Placement
    side: Side
    rate_hz: float
    seed: int
    loss: float

    def spec(self) -> SimSpec:
        return SimSpec(
            routine=self.routine, placement=self.placement, side=self.side,
            rate_hz=self.rate_hz, seed=self.seed, loss=self.loss,
        )


CASES = (
    Case("routine-instep-100-loss", "default", "instep", "right", 100.0, 1, 0.02),
    Case("routine-instep-50-left", "default", "instep", "left", 50.0, 7, 0.0),
    Case("routine-ankle-200-loss", "default", "ankle", "left", 200.0, 3, 0.02),
    Case("mixed-instep-200-loss", "mixed", "instep", "left", 200.0, 2, 0.02),
    Case("mixed-ankle-50", "mixed", "ankle", "right", 50.0, 4, 0.0),
    Case("everyday-instep-50-loss", "everyday", "instep", "right", 50.0, 5, 0.02),
    Case("everyday-ankle-100-loss", "everyday", "ankle", "left", 100.0, 6, 0.02),
)


def run(block: ImuBlock, config: PipelineConfig, size: int) -> list[str]:
    """The events of one run as canonical JSON lines."""
    pipeline = Pipeline(config)
    events: list[Event] = []
    if size == WHOLE:
        events.extend(pipeline.feed(block))
    else:
        for start in range(0, len(block), size):
            events.extend(pipeline.feed(block.slice(start, start + size)))
    events.extend(pipeline.finish())
    return [json.dumps(e.to_dict(), sort_keys=True) for e in events]


def first_difference(expected: list[str], got: list[str]) -> str:
    """A one-line description of where two event lists first differ."""
    for index, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return f"event {index}: expected {a}\n{' ' * 8}got      {b}"
    if len(expected) != len(got):
        shorter = min(len(expected), len(got))
        extra = (got if len(got) > len(expected) else expected)[shorter]
        which = "extra" if len(got) > len(expected) else "missing"
        return f"{len(got)} events instead of {len(expected)}; first {which}: {extra}"
    return "identical"


def size_name(size: int) -> str:
    return "whole" if size == WHOLE else str(size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="regenerate the golden file")
    parser.add_argument("--only", nargs="*", default=None, help="case names to run")
    parser.add_argument(
        "--sizes", default=",".join(size_name(s) for s in SIZES),
        help="block sizes, comma-separated ('whole' for one block)")
    args = parser.parse_args()
    sizes = [WHOLE if s == "whole" else int(s) for s in args.sizes.split(",")]
    if WHOLE not in sizes:
        sizes.insert(0, WHOLE)
    golden: dict[str, list[str]] = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    cases = [c for c in CASES if args.only is None or c.name in args.only]
    differences = 0
    result = dict(golden)
    for case in cases:
        sim = simulate(case.spec())
        config = PipelineConfig(placement=case.placement, side=case.side)
        runs: dict[int, list[str]] = {}
        times: list[str] = []
        for size in sizes:
            start = time.perf_counter()
            runs[size] = run(sim.block, config, size)
            times.append(f"{size_name(size)} {time.perf_counter() - start:.1f}s")
        whole = runs[WHOLE]
        print(f"{case.name}: {len(sim.block)} samples, {len(whole)} events ({', '.join(times)})")
        for size in sizes:
            if size != WHOLE and runs[size] != whole:
                differences += 1
                print(f"  SPLIT  blocks of {size}: {first_difference(whole, runs[size])}")
        if args.write:
            result[case.name] = whole
            continue
        if case.name not in golden:
            differences += 1
            print("  GOLDEN no golden events for this case (run with --write)")
        elif golden[case.name] != whole:
            differences += 1
            print(f"  GOLDEN whole session: {first_difference(golden[case.name], whole)}")
    if args.write:
        if differences:
            print(f"{differences} block-split difference(s): golden file not written")
            return 1
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN.name} ({len(result)} sessions)")
        return 0
    print("all identical" if not differences else f"{differences} difference(s)")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
