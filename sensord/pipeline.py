"""The analysis pipeline: blocks of samples in, exercise events out. Synchronous and pure.

``wearable samples -> Resampler (50 Hz grid) -> FrontEnd (calibration, segment frame) ->
detectors (gait, excursions, circles) -> ToeWalkTracker -> Recognizer -> events``

The same object runs live (fed 5-20 sample notifications), in replay and in tests (fed one big
block), and gives the same events however the samples are split: every stage carries its state
exactly and decides about a sample only from a fixed window of samples around it, and the
recogniser takes candidates in the order of the sample time at which they became certain. There
is no clock, no I/O and no global state: time is the samples' own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from sensord.detect import plantar_flexion, toe_press
from sensord.detect.ankle_circle import Circle, CircleDetector
from sensord.detect.base import RepCandidate, StreamBreak, Stride
from sensord.detect.excursion import ExcursionDetector, PitchTrack
from sensord.detect.gait import GaitDetector
from sensord.detect.recognizer import Recognizer
from sensord.detect.toe_walk import ToeWalkTracker
from sensord.dsp.frontend import FrontEnd
from sensord.dsp.resample import GridChunk, Resampler, ResamplerStats
from sensord.model import ActivityState, Event, ImuBlock, Placement, Side
from sensord.routine import DEFAULT_ROUTINE, Routine

#: Input is buffered until it spans this much time, then processed at once: small blocks cost
#: one pass per HOP_S instead of one per block. The default for analysis and replay; the daemon
#: sets ``PipelineConfig.hop_s`` to sensord.daemon.LIVE_HOP_S (0.05 s).
HOP_S: Final = 0.3
#: Large inputs are processed this many samples at a time (the result is the same either way):
#: a huge pass is slower (its arrays leave the cache), small ones repeat every detector's fixed
#: cost per pass. Measured on an hour at 100 Hz: 4096 gave 7 % fewer samples/s than 16384,
#: 65536 about the same, a million 7 % fewer.
CHUNK_SAMPLES: Final = 16384

#: What each placement can see (measured on simulated sessions; see the README).
VISIBLE: Final[dict[str, tuple[str, ...]]] = {
    "instep": ("plantar_flexion", "ankle_circle", "toe_press", "toe_walk", "walk"),
    "ankle": ("toe_walk", "walk"),
}


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """What the pipeline needs to know about the wearable and the prescription."""

    placement: Placement = "instep"
    side: Side | None = None
    routine: Routine = DEFAULT_ROUTINE
    #: Buffer input until it spans this long before processing it (s); 0: process every block
    #: as it comes. Events are the same either way, only when they come out changes.
    hop_s: float = HOP_S


@dataclass(frozen=True, slots=True)
class PipelineStats:
    """Counters and calibration facts for the health view and ``analyze``."""

    samples_in: int
    samples_dropped: int
    gaps: int
    gap_s: float
    breaks: int
    mounting_offset_deg: float
    flat_evidence_s: float
    gyro_bias_rad_s: tuple[float, float, float]


@dataclass(slots=True)
class _Item:
    """A detector output waiting for the recogniser, ordered by when it became certain."""

    t_known: float
    order: int
    payload: RepCandidate | Circle | Stride | StreamBreak = field(compare=False)


class Pipeline:
    """Streaming analysis of one wearable's samples (see the module docstring)."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        self._resampler = Resampler()
        self._frontend = FrontEnd(self.config.placement)
        self._gait = GaitDetector(on_shank=self.config.placement == "ankle")
        self._toe_walk = ToeWalkTracker()
        # Point-hold-return movements: toes down for flexion, forefoot up for presses (one
        # pitch track for both).
        pitch = PitchTrack()
        self._flexions = ExcursionDetector(
            start_deg=2.0, end_deg=1.5, min_amplitude_deg=plantar_flexion.MIN_AMPLITUDE_DEG,
            max_amplitude_deg=plantar_flexion.MAX_AMPLITUDE_DEG, direction=-1, track=pitch)
        self._presses = ExcursionDetector(
            start_deg=0.8, end_deg=0.6, min_amplitude_deg=toe_press.MIN_AMPLITUDE_DEG,
            max_amplitude_deg=toe_press.MAX_AMPLITUDE_DEG, direction=1, track=pitch)
        self._circles = CircleDetector()
        self._recognizer = Recognizer(self.config.routine)
        self._visible = VISIBLE[self.config.placement]
        self._pending = 0  # samples staged in the resampler, waiting for a pass
        self._pending_from = 0.0  # the first one's time
        self._horizon_s = float("nan")
        self._state = ActivityState()
        # The state is built when asked for (a live view reads it a few times a second, a
        # batch not at all): set after a pass, it is the state after that pass.
        self._state_stale = False

    # --- public API ----------------------------------------------------------------------

    def feed(self, block: ImuBlock) -> list[Event]:
        """Processes a block and returns the events that became certain."""
        t_s = block.t_s
        n = t_s.shape[0]
        if n == 0:
            return []
        t_last = float(t_s[-1])
        if not self._pending:
            self._pending_from = float(t_s[0])
            if t_last - self._pending_from >= self.config.hop_s:
                # A pass on its own (a recording, or no hop): fed as it is, without staging.
                return self._process(block)
        # Small blocks wait in the resampler's stage (no list of blocks to join later).
        self._resampler.stage(t_s, block.acc_m_s2, block.gyro_rad_s)
        self._pending += n
        if t_last - self._pending_from < self.config.hop_s:
            return []
        return self._process(None)

    def finish(self) -> list[Event]:
        """Ends the stream: processes what is buffered and closes what is open."""
        events = self._process(None) if self._pending else []
        # Landings still waiting for samples that will not come are decided on what there is.
        for stride in self._gait.finish():
            events.extend(self._advance(stride.t_known))
            events.extend(self._dispatch(stride))
        news = self._toe_walk.finish()
        for item in news:
            events.extend(self._recognizer.add(item))
        events.extend(self._recognizer.finish())
        self._state_stale = True
        return events

    @property
    def state(self) -> ActivityState:
        """The live state after the last processed block (exercise, reps, hold timer)."""
        if self._state_stale:
            self._state_stale = False
            self._update_state()
        return self._state

    @property
    def stats(self) -> PipelineStats:
        r: ResamplerStats = self._resampler.stats
        bias = self._frontend.gyro_bias_rad_s
        return PipelineStats(
            samples_in=r.samples_in, samples_dropped=r.samples_dropped, gaps=r.gaps,
            gap_s=r.gap_s, breaks=r.breaks,
            mounting_offset_deg=self._frontend.mounting.offset_deg(),
            flat_evidence_s=self._frontend.mounting.flat_evidence_s,
            gyro_bias_rad_s=(float(bias[0]), float(bias[1]), float(bias[2])),
        )

    # --- internals -----------------------------------------------------------------------

    def _process(self, block: ImuBlock | None) -> list[Event]:
        """One pass over ``block``, else over the samples staged in the resampler."""
        items: list[_Item] = []
        if block is None:
            self._pending = 0
            for chunk in self._resampler.flush(CHUNK_SAMPLES):
                self._run_chunk(chunk, items)
        else:
            t_s, acc, gyro = block.t_s, block.acc_m_s2, block.gyro_rad_s
            for lo in range(0, t_s.shape[0], CHUNK_SAMPLES):
                hi = lo + CHUNK_SAMPLES
                for chunk in self._resampler.feed(t_s[lo:hi], acc[lo:hi], gyro[lo:hi]):
                    self._run_chunk(chunk, items)
        events: list[Event] = []
        if items:
            items.sort(key=lambda item: (item.t_known, item.order))
            for item in items:
                events.extend(self._advance(item.t_known))
                events.extend(self._dispatch(item.payload))
        if not math.isnan(self._horizon_s):
            events.extend(self._advance(self._horizon_s))
        self._state_stale = True
        return events

    def _run_chunk(self, chunk: GridChunk, items: list[_Item]) -> None:
        """Runs the front end and the detectors over one grid chunk, collecting candidates."""
        for features in self._frontend.feed(chunk):
            if features.new_segment and not math.isnan(self._horizon_s):
                # After everything known by the end of the old segment (order 4).
                unseen = float(features.t_s[0]) - self._horizon_s
                items.append(_Item(self._horizon_s, 4, StreamBreak(self._horizon_s, unseen)))
            self._horizon_s = float(features.t_s[-1])
            items.extend([_Item(s.t_known, 0, s) for s in self._gait.update(features)])
            for excursion in self._flexions.update(features):
                flexion = plantar_flexion.classify(excursion)
                if flexion is not None:
                    items.append(_Item(flexion.t_known, 1, flexion))
            for excursion in self._presses.update(features):
                press = toe_press.classify(excursion)
                if press is not None:
                    items.append(_Item(press.t_known, 2, press))
            items.extend([_Item(c.t_known, 3, c) for c in self._circles.update(features)])

    def _dispatch(self, payload: RepCandidate | Circle | Stride | StreamBreak) -> list[Event]:
        if isinstance(payload, StreamBreak):
            self._toe_walk.unseen(payload.unseen_s)
            return []
        if isinstance(payload, Stride):
            events: list[Event] = []
            for news in self._toe_walk.add(payload):
                events.extend(self._recognizer.add(news))
            return [e for e in events if e.exercise in self._visible]
        exercise = "ankle_circle" if isinstance(payload, Circle) else payload.exercise
        if exercise not in self._visible:
            return []
        return self._recognizer.add(payload)

    def _advance(self, now: float) -> list[Event]:
        """Runs the timeouts due up to sample time ``now``, in time order."""
        events: list[Event] = []
        while True:
            deadlines = [
                d for d in (self._toe_walk.deadline(), self._recognizer.deadline())
                if d is not None and d <= now
            ]
            if not deadlines:
                return events
            due = min(deadlines)
            for news in self._toe_walk.tick(due):
                events.extend(self._recognizer.add(news))
            events.extend(self._recognizer.tick(due))

    def _update_state(self) -> None:
        if math.isnan(self._horizon_s):
            return
        hold = self._flexions.running_hold_s()
        if hold is None:
            hold = self._presses.running_hold_s()
        self._state = self._recognizer.state(self._horizon_s, hold)


def analyze(block: ImuBlock, config: PipelineConfig | None = None) -> list[Event]:
    """Runs a whole recording through a fresh pipeline."""
    pipeline = Pipeline(config)
    return [*pipeline.feed(block), *pipeline.finish()]
