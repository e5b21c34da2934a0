"""Toe-walking bouts from strides: which landings were on tiptoe, and where bouts begin and end.

A bout is at least ``MIN_BOUT_STRIDES`` consecutive tiptoe strides (the notes' rule: single
forefoot landings happen on stairs and in turns); it ends at a heel-to-toe stride or when no
stride follows within ``BOUT_GAP_S`` (the walker stopped to rest). Landings that do not belong to
a bout are ordinary steps (``walk``), reported when another landing within ``STEP_CONTEXT_S``
shows the foot is walking rather than shuffling once.

One flatter landing amid tiptoe strides (a stride the gait detector judged heel-to-toe by a few
degrees) is held in doubt and decided by the next stride: tiptoe again, and it was part of the
bout (or of the run that becomes one, without counting towards MIN_BOUT_STRIDES); flat again,
and the walker came down off their toes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from sensord.detect.base import Stride

MIN_BOUT_STRIDES: Final = 3
BOUT_GAP_S: Final = 2.5  # one missed landing (a 2 s gap) must not split a bout
#: Time the stream lost (a break: the wearable out of range for a moment) widens the gap a bout
#: may span, up to this much: landings in it happened but could not be seen.
MAX_UNSEEN_S: Final = 2.5
STEP_CONTEXT_S: Final = 2.5
#: A stride is reported up to this long after its landing; timeouts wait for it.
DECISION_MARGIN_S: Final = 2.0


@dataclass(frozen=True, slots=True)
class GaitNews:
    """What the tracker learned: landings (``walk`` or ``toe_walk``), and bout changes."""

    kind: Literal["step", "bout_start", "bout_end"]
    t: float
    exercise: Literal["walk", "toe_walk"] = "walk"
    t_start: float = 0.0
    steps: int = 0


@dataclass(slots=True)
class ToeWalkTracker:
    """Turns strides into steps and bouts (see the module docstring)."""

    _toe_run: list[Stride] = field(default_factory=list)
    _bout: list[Stride] = field(default_factory=list)
    _last_land: float | None = None
    _waiting_walk: Stride | None = None  # a walk landing waiting for a neighbour
    _doubt: Stride | None = None  # a flat landing amid tiptoe ones, decided by the next stride
    _unseen_s: float = 0.0  # stream time lost since the last landing

    @property
    def bout_steps(self) -> int:
        return len(self._bout)

    @property
    def in_bout(self) -> bool:
        return bool(self._bout)

    def deadline(self) -> float | None:
        """The sample time at which ``tick`` has something to do, if any."""
        times = [t for t in self._deadlines() if t is not None]
        return min(times) if times else None

    def _deadlines(self) -> tuple[float | None, float | None, float | None]:
        """When the bout, the tiptoe run and the waiting landing time out (no landing can still
        arrive for them: strides are reported within DECISION_MARGIN_S of landing)."""
        gap = self._gap_s()
        return (
            self._bout_last() + gap + DECISION_MARGIN_S if self._bout else None,
            self._run_last() + gap + DECISION_MARGIN_S if self._toe_run else None,
            self._waiting_walk.t_land + STEP_CONTEXT_S + DECISION_MARGIN_S
            if self._waiting_walk is not None else None,
        )

    def tick(self, now: float) -> list[GaitNews]:
        """Closes what timed out by sample time ``now``."""
        bout, run, waiting = self._deadlines()
        news: list[GaitNews] = []
        if bout is not None and now >= bout:
            news.extend(self._close_bout())
        if run is not None and now >= run:
            news.extend(self._flush_toe_run())
        if waiting is not None and now >= waiting:
            self._waiting_walk = None  # a lone landing: not walking
        return news

    def unseen(self, seconds: float) -> None:
        """The stream lost ``seconds`` (a break): landings may have happened unseen."""
        self._unseen_s += max(0.0, seconds)

    def _gap_s(self) -> float:
        return BOUT_GAP_S + min(self._unseen_s, MAX_UNSEEN_S)

    def _close_gaps(self, land: float) -> list[GaitNews]:
        """Closes what a new landing at ``land`` leaves behind."""
        news: list[GaitNews] = []
        gap = self._gap_s()
        if self._bout and land - self._bout_last() > gap:
            news.extend(self._close_bout())
        if self._toe_run and land - self._run_last() > gap:
            news.extend(self._flush_toe_run())
        if self._waiting_walk is not None and land - self._waiting_walk.t_land > STEP_CONTEXT_S:
            self._waiting_walk = None
        return news

    def add(self, stride: Stride) -> list[GaitNews]:
        news = self._close_gaps(stride.t_land)
        self._unseen_s = 0.0
        if stride.kind == "toe":
            if self._bout:
                if self._doubt is not None:
                    # One flatter landing amid tiptoe strides belongs to the bout.
                    self._bout.append(self._doubt)
                    news.append(GaitNews("step", self._doubt.t_land, "toe_walk"))
                    self._doubt = None
                self._bout.append(stride)
                news.append(GaitNews("step", stride.t_land, "toe_walk"))
            else:
                if self._doubt is not None:
                    self._toe_run.append(self._doubt)
                    self._doubt = None
                self._toe_run.append(stride)
                if self._toe_strides() >= MIN_BOUT_STRIDES:
                    self._bout, self._toe_run = self._toe_run, []
                    news.append(GaitNews("bout_start", self._bout[0].t_land, "toe_walk",
                                         t_start=self._bout[0].t_swing_start))
                    news.extend(GaitNews("step", s.t_land, "toe_walk") for s in self._bout)
        elif self._doubt is None and (self._bout or self._toe_strides() >= 2):
            self._doubt = stride  # wait for the next stride to decide
        else:
            if self._bout:
                news.extend(self._close_bout())
            news.extend(self._flush_toe_run())
            news.extend(self._walk_landing(stride))
        self._last_land = stride.t_land
        return news

    def finish(self) -> list[GaitNews]:
        news: list[GaitNews] = []
        if self._bout:
            news.extend(self._close_bout())
        news.extend(self._flush_toe_run())
        return news

    def _toe_strides(self) -> int:
        return sum(s.kind == "toe" for s in self._toe_run)

    def _run_last(self) -> float:
        """The tiptoe run's last landing, a flatter one in doubt included."""
        last = self._toe_run[-1].t_land
        return max(last, self._doubt.t_land) if self._doubt is not None else last

    def _bout_last(self) -> float:
        """The bout's last landing, a flatter one in doubt included."""
        last = self._bout[-1].t_land
        return max(last, self._doubt.t_land) if self._doubt is not None else last

    def _close_bout(self) -> list[GaitNews]:
        """Ends the bout; a landing in doubt after it was an ordinary one."""
        news = [self._end_bout()]
        doubt, self._doubt = self._doubt, None
        if doubt is not None:
            news.extend(self._walk_landing(doubt))
        return news

    def _end_bout(self) -> GaitNews:
        bout, self._bout = self._bout, []
        return GaitNews("bout_end", bout[-1].t_land, "toe_walk",
                        t_start=bout[0].t_swing_start, steps=len(bout))

    def _flush_toe_run(self) -> list[GaitNews]:
        """The run was too short for a bout: its landings (and one in doubt) were steps."""
        run, self._toe_run = self._toe_run, []
        if self._doubt is not None and not self._bout:
            run.append(self._doubt)
            self._doubt = None
        news: list[GaitNews] = []
        for stride in run:
            news.extend(self._walk_landing(stride))
        return news

    def _walk_landing(self, stride: Stride) -> list[GaitNews]:
        news: list[GaitNews] = []
        recent = self._last_land is not None and stride.t_land - self._last_land <= STEP_CONTEXT_S
        if self._waiting_walk is not None:
            if stride.t_land - self._waiting_walk.t_land <= STEP_CONTEXT_S:
                news.append(GaitNews("step", self._waiting_walk.t_land, "walk"))
            self._waiting_walk = None
        if recent:
            news.append(GaitNews("step", stride.t_land, "walk"))
        else:
            self._waiting_walk = stride
        return news
