"""``sensord`` with timing probes, for bench_daemon.py ``--trace``: where a rep's latency goes.

    python bench/_daemon_trace.py TRACE.jsonl run --config C

Wraps, in this process only, the link's packet decoding, the pipeline's ``feed`` and the
recogniser's ``add``, then runs the ordinary command line. Each probe writes one JSON line to
TRACE.jsonl (monotonic seconds, the clock sample times are on):

* ``packet``: a notification was placed on the sample clock (its arrival, its last sample's
  time, when it was decoded);
* ``feed``: the worker fed a block (when, its last sample's time, whether the hop ran);
* ``rep``: the recogniser counted a rep (its end, when its own candidate became certain, the
  sample time of the candidate that released it: later when the rep waited for its set).

The product is not changed: this is the bench's instrument, not a mode of the daemon.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import _path  # noqa: F401 (puts the project root on sys.path)

from sensord import pipeline
from sensord.ble import link
from sensord.detect import recognizer
from sensord.model import Event, ImuBlock


def install(out: TextIO) -> None:
    """Wraps the three seams; every record is one line, flushed at once."""

    def write(record: dict[str, Any]) -> None:
        out.write(json.dumps(record) + "\n")
        out.flush()

    decode: Callable[..., ImuBlock | None] = link.WearableLink._decode

    def traced_decode(self: link.WearableLink, decoder: Any, packet: Any, rate_hz: float,
                      ) -> ImuBlock | None:
        block = decode(self, decoder, packet, rate_hz)
        if block is not None and len(block):
            write({"k": "packet", "dev": self.config.name, "arrival": packet.arrival_s,
                   "t_last": float(block.t_s[-1]), "n": len(block), "at": time.monotonic()})
        return block

    link.WearableLink._decode = traced_decode  # type: ignore[method-assign]

    feed = pipeline.Pipeline.feed

    def traced_feed(self: pipeline.Pipeline, block: ImuBlock) -> list[Event]:
        at = time.monotonic()
        events = feed(self, block)
        if len(block):
            write({"k": "feed", "at": at, "t_last": float(block.t_s[-1]), "n": len(block),
                   "ran": not self._pending, "took": time.monotonic() - at,
                   "reps": [e.t_end for e in events if e.type == "rep"]})
        return events

    pipeline.Pipeline.feed = traced_feed  # type: ignore[method-assign]

    add = recognizer.Recognizer.add
    known: dict[float, float] = {}

    def traced_add(self: recognizer.Recognizer, item: Any) -> list[Event]:
        t_known = getattr(item, "t_known", None)
        t_end = getattr(item, "t_end", None)
        if t_known is not None and t_end is not None:
            known[round(t_end, 6)] = t_known
        events = add(self, item)
        for event in events:
            if event.type == "rep" and event.t_end is not None:
                write({"k": "rep", "ex": event.exercise, "t_end": event.t_end,
                       "own_known": known.get(round(event.t_end, 6)),
                       "released": t_known, "at": time.monotonic()})
        return events

    recognizer.Recognizer.add = traced_add  # type: ignore[method-assign]


def main() -> None:
    path = sys.argv.pop(1)
    with open(path, "a", encoding="utf-8") as out:
        install(out)
        from sensord.cli import main as cli  # noqa: PLC0415 - after the probes are in

        cli()


if __name__ == "__main__":
    main()
