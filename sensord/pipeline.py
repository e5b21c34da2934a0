"""The analysis pipeline: blocks of samples in, exercise events out. Synchronous and pure.

The same object runs live (fed 5-20 sample notifications), in replay and in tests (fed one big
block), and gives the same events whichever way the samples are split.
"""

from __future__ import annotations

from dataclasses import dataclass

from sensord.model import ActivityState, Event, ImuBlock, Placement, Side
from sensord.routine import DEFAULT_ROUTINE, Routine


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """What the pipeline needs to know about the wearable and the prescription."""

    placement: Placement = "instep"
    side: Side | None = None
    routine: Routine = DEFAULT_ROUTINE


class Pipeline:
    """Streaming analysis of one wearable's samples (under construction)."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        self._state = ActivityState()

    def feed(self, block: ImuBlock) -> list[Event]:
        """Processes a block and returns the events that became certain."""
        del block
        return []

    def finish(self) -> list[Event]:
        """Ends the stream: returns the events still pending (an open set is closed)."""
        return []

    @property
    def state(self) -> ActivityState:
        """The live state after the last block (exercise, reps, running hold timer)."""
        return self._state


def analyze(block: ImuBlock, config: PipelineConfig | None = None) -> list[Event]:
    """Runs a whole recording through a fresh pipeline."""
    pipeline = Pipeline(config)
    return [*pipeline.feed(block), *pipeline.finish()]
