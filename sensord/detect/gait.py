"""Strides and landings of the instrumented foot, and whether they were on tiptoe.

Method: the swing phase is a long lobe of the medio-lateral angular rate (the foot pitching
toes-up through the swing, after Rampp et al. 2015 and the gyroscope gait-event literature it
builds on); initial contact is the first zero crossing of that rate after the lobe, where the
foot stops pitching up and starts to roll onto the ground, confirmed by a stance (a short
interval of little rotation) right after. On the gaitmap recordings this lands within a few
milliseconds of motion-capture contacts. Each stride is then classified by the foot's pitch while
it bears weight: heel-to-toe gait has a flat mid-stance; toe walking stays plantarflexed
(15-40 degrees) and never reaches flat (Chalmers 2014: pitch is the feature).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

import numpy as np

from sensord.detect.base import Stride, StrideKind
from sensord.dsp.frontend import Features
from sensord.dsp.history import (
    History,
    RotationLog,
    median,
    pitch_deg,
    runs,
    sum3,
    where_true,
)
from sensord.dsp.resample import GRID_DT_S
from sensord.model import FloatArray

#: The swing lobe: medio-lateral rate below -SWING_ON (toes pitching up) for MIN_LOBE samples
#: while the foot turns faster than SWING_PEAK in all (a turning step swings partly in yaw).
SWING_ON_RAD_S: Final = 0.8
SWING_PEAK_RAD_S: Final = 1.3
MIN_LOBE: Final = 3
MAX_LOBE: Final = 100  # 2 s: a longer "swing" is not a step
LOOK_BACK: Final = MAX_LOBE + 50  # swings are sought this far before the decided point
#: Contact follows the lobe within this many samples (0.5 s: after a forefoot landing the
#: ringing of the impact can hold the pitch rate below zero for 0.4 s).
CONTACT_SEARCH: Final = 25
#: Stance: |gyro| below STANCE_RAD_S for STANCE_MIN samples within STANCE_SEARCH after contact.
STANCE_RAD_S: Final = 1.0
STANCE_MIN: Final = 3
STANCE_SEARCH: Final = 20
#: A stride is decided this many samples after its swing lobe ends (0.8 s): contact search,
#: stance search and the stance pitch window all fit inside.
DECIDE_AFTER: Final = 40
STANCE_PITCH_WINDOW: Final = 10
#: Stance pitch below this (toes down, degrees) means the foot stayed on tiptoe.
TOE_STANCE_PITCH_DEG: Final = -7.0
#: A heel strike rocks the foot down onto its sole by this much or more after contact.
HEEL_ROCK_DEG: Final = 10.0
#: Seen from the shank (measured on simulated sessions, medians): after a heel strike the
#: shank rolls forward at 1.6 rad/s over the next 0.3 s, on tiptoe at 0.8; it swings into a
#: heel strike at 4 rad/s over the 0.3 s before, into a tiptoe landing at 2.5. With these
#: bounds 94 % of tiptoe strides and 1 % of heel-to-toe ones pass.
SHANK_WINDOW: Final = 15
SHANK_MAX_ROLL_ON_RAD_S: Final = 1.1
SHANK_MAX_SWING_IN_RAD_S: Final = 3.0
#: A tiptoe stride that rises or drops more than this is a stair (toe walking stays within a
#: few centimetres; a stair is 15-20 cm).
MAX_TIPTOE_CLIMB_M: Final = 0.15
#: On the shank the stillest stance sample is not at rest (the shank pivots over the ankle), so
#: the integration drifts more: measured on simulated sessions, tiptoe strides there read
#: 0.1 m (median; 0.22 m at the 75th percentile), stair strides 0.4-1 m.
SHANK_MAX_TIPTOE_CLIMB_M: Final = 0.3
MIN_CLIMB_SAMPLES: Final = 5  # a shorter span is too short to integrate: no climb
REST_SEARCH: Final = 25  # the stance's stillest sample is looked for in 0.5 s after contact
MAX_STRIDE_SAMPLES: Final = 125  # 2.5 s: a longer gap is not one stride
MIN_STRIDE: Final = 30  # 0.6 s: the same foot cannot land twice sooner
#: A landing is decided once the other cue of the same landing would have been decided too.
PARTNER_HORIZON: Final = MIN_STRIDE + CONTACT_SEARCH + DECIDE_AFTER
#: A forefoot landing: a swing faster than FAST_SWING (any axis) slowing below REST_SPEED.
FAST_SWING_RAD_S: Final = 2.5
REST_SPEED_RAD_S: Final = 1.2
IMPACT_SEARCH: Final = 8  # samples (0.16 s) in which a forefoot landing's impact is sought
IMPACT_BEFORE: Final = 8
TOE_CONTACT_LEAD: Final = 16  # samples (0.32 s) before a crossing a forefoot may have touched
#: Specific force a landing reaches around contact (m/s^2): about 1.5 g. A seated leg swinging
#: freely reaches 1.4 g at the end of its arc, so the bar sits above that.
MIN_IMPACT_M_S2: Final = 15.0
GRAVITY_M_S2: Final = 9.81


class GaitDetector:
    """Streaming stride detection (see the module docstring)."""

    def __init__(self, *, on_shank: bool = False) -> None:
        #: Worn on the shank (ankle placement) the foot's own pitch is not seen; the shank's
        #: swing into the landing and its roll over the heel after it tell tiptoe strides there
        #: (``_shank_tiptoe``).
        self.on_shank = on_shank
        self._history = History(keep=200)
        self._decided = 0
        self._rotations = RotationLog()
        # The stillest sample of the last stride's stance (absolute), where the next stride's
        # strapdown integration starts.
        self._last_rest: int | None = None
        self._last_contact: int | None = None
        # The last sample turning as fast as any swing cue needs (absolute): a window with
        # none has no candidate, so the scan can be skipped (much of a day is still, and the
        # slow movements of the routine stay below a swing lobe's peak).
        self._last_motion = -(10**9)
        self._motion_seen = -(10**9)  # samples before this absolute index are in _last_motion
        # No scan can decide a landing before the samples reach this absolute index (see
        # ``_scan``): scans before it are skipped.
        self._next_decision = -(10**9)

    def reset(self) -> None:
        self._history = History(keep=200)
        self._decided = 0
        self._motion_seen = -(10**9)
        self._next_decision = -(10**9)
        self._rotations.reset()
        self._last_rest = None
        self._last_contact = None

    def finish(self) -> list[Stride]:
        """Decides the landings still pending when the stream ends or breaks.

        Without this, the last strides before a break (or the end of a recording) would wait
        for samples that never come. Each is decided on what there is: a cue that has no partner
        yet has none, and a stance cut short is judged on the samples it has.
        """
        if self._history.k_end <= self._history.k_start:
            return []
        return self._scan(final=True)

    def update(self, features: Features) -> list[Stride]:
        strides: list[Stride] = []
        if features.new_segment or self._history.k_end != features.k0:
            strides = self.finish()
            self._history.reset(features.k0)
            self._motion_seen = features.k0
            self._decided = features.k0
            self._next_decision = -(10**9)
        gyro = features.gyro_rad_s
        speed = np.sqrt(np.einsum("ij,ij->i", gyro, gyro))
        self._history.append(
            features.k0,
            speed=speed,
            up_sensor=features.up_sensor,
            pitch=features.pitch_deg,
            acc=features.acc_m_s2,
            gyro=gyro,
            force=features.acc_norm_m_s2,
            valid=features.valid,  # stored as 0.0 and 1.0
        )
        self._rotations.extend(features.rotations)
        if self._history.k_end >= self._next_decision:
            # Scanning earlier would decide nothing (and a later scan decides the same).
            strides.extend(self._scan())
        # Keep a margin before the scan point: impacts are sought a few samples before contact.
        keep = min(self._decided - LOOK_BACK - 2 * IMPACT_SEARCH, self._history.k_end - 100)
        if self._last_rest is not None:
            keep = min(keep, self._last_rest)
        self._history.trim(keep)
        self._rotations.forget_before(self._history.k_start)
        return strides

    def _scan(self, *, final: bool = False) -> list[Stride]:
        """Decides every landing that has DECIDE_AFTER samples after its swing, all at once.

        Two contact cues, merged: the medio-lateral rate's upward zero crossing after its swing
        lobe (a heel strike: the foot stops pitching up), and the moment a fast swing comes to
        rest (a forefoot landing, where the sagittal lobe can be weak). A swing split by a brief
        slowdown shares one contact; contacts closer than MIN_STRIDE are one landing.

        ``_decided`` is the absolute index before which every contact has been decided. Swings
        are found over a window reaching LOOK_BACK before it, so a swing is always seen whole
        (a run touching the window's first sample is one too long to matter, or one cut by a
        break in the stream, the same in any case): every choice depends only on the samples,
        not on how they arrived. ``final`` (the stream ends or breaks) decides everything left
        on the samples there are.
        """
        h = self._history
        lo = max(h.k_start, self._decided - LOOK_BACK)
        n = h.k_end - lo
        if n < (MIN_LOBE + 2 if final else DECIDE_AFTER + MIN_LOBE):
            return []
        self._note_motion()
        if self._last_motion < lo:
            # Nothing in the window turns fast enough for a swing lobe (its peak reaches
            # SWING_PEAK) or a fast swing (faster still): no candidate, so decide it all as the
            # scan below would.
            first_new = self._decided - lo
            decided = h.k_end - lo if final else max(first_new, n - PARTNER_HORIZON)
            self._decided = max(self._decided, lo + decided)
            self._next_decision = h.k_end - DECIDE_AFTER + PARTNER_HORIZON
            return []
        ml = h.get("gyro", lo, h.k_end)[:, 1]  # the medio-lateral rate (a view)
        speed = h.get("speed", lo, h.k_end)
        low = speed < STANCE_RAD_S
        calm_runs = where_true(low[:-2] & low[1:-1] & low[2:])
        lobe, lobe_runs = self._lobe_contacts(ml, speed, n, final=final)
        rest = self._rest_contacts(speed, n, final=final)
        first_new = self._decided - lo
        # One candidate per contact sample, in time order: the zero crossing's, else the
        # earliest fast swing's. (Fast swings are listed by start and their contacts never
        # decrease: listed last to first, the earliest is written last. Crossings are each
        # one swing's.)
        by_contact = {c[0]: c for c in reversed(rest) if c[0] >= first_new}
        by_contact.update((c[0], c) for c in lobe if c[0] >= first_new)
        candidates = [by_contact[i] for i in sorted(by_contact)]
        # Samples of the history with a jolt (not below MIN_IMPACT: a NaN counts, as it makes
        # a window's maximum fail the test) and samples not valid (absolute indices), looked
        # up for each candidate by bisection rather than with numpy calls on its window.
        jolts: list[int] = (
            where_true(~(h.get("force") < MIN_IMPACT_M_S2)) + h.k_start).tolist()
        invalid: list[int] = (where_true(h.get("valid", lo, h.k_end) < 0.5) + lo).tolist()
        landings: list[_Landing] = []
        waiting = n  # the first contact left waiting for its partner horizon (none: n)
        used = -1
        # Everything before ``decided`` is final: processed, or consumed as a partner.
        consumed = first_new
        decided = max(first_new, n - PARTNER_HORIZON)
        for n_cand, candidate in enumerate(candidates):
            if n_cand <= used:
                continue
            i, swing_start, own_horizon, cue = candidate
            first_cue = last_cue = i
            if not final and i + PARTNER_HORIZON > n:
                # A swing not yet decided (or not yet begun) could still be this landing's
                # other cue: wait until any such partner would be known. (Contacts before
                # n - PARTNER_HORIZON are all listed by now; later ones may not be yet.)
                decided = max(consumed, min(i, n - PARTNER_HORIZON))
                waiting = i
                break
            if self._last_contact is not None and lo + i - self._last_contact < MIN_STRIDE:
                continue  # the landing's own aftershock, not another stride
            horizon = own_horizon
            # The other cue of the same landing, if it follows within a stride.
            if n_cand + 1 < len(candidates) and candidates[n_cand + 1][0] - i < MIN_STRIDE:
                partner = candidates[n_cand + 1]
                used = n_cand + 1
                consumed = max(consumed, partner[0] + 1)
                decided = max(decided, consumed)
                horizon = max(horizon, partner[2])
                last_cue = partner[0]
                if partner[3] == "lobe" and cue != "lobe":
                    # The zero crossing is the sharper anchor of the two.
                    i, swing_start, cue = partner[0], min(swing_start, partner[1]), partner[3]
            horizon = min(horizon, n)
            k = int(calm_runs.searchsorted(i))
            if k >= calm_runs.shape[0]:
                continue
            stance_start = int(calm_runs[k])
            if stance_start > min(i + STANCE_SEARCH, horizon) - STANCE_MIN:
                continue
            # A landing hits the ground: a dangling, swinging foot turns around without a jolt.
            # Both cues of a merged landing bound the window: the jolt may follow either.
            # After a swing lobe the forefoot may touch before the crossing (``_contact_lead``).
            lead = _contact_lead(lobe_runs, swing_start, i) if cue == "lobe" else None
            window_lo = first_cue - IMPACT_BEFORE if lead is None else min(
                first_cue - IMPACT_BEFORE, lead)
            jolt = bisect_left(jolts, lo + window_lo)  # (the history's samples are all listed)
            if jolt == len(jolts) or jolts[jolt] >= lo + last_cue + IMPACT_SEARCH:
                continue  # no jolt in the window
            # Known once the first cue's partner horizon has passed (when this scan can first
            # decide it), or at the end of the samples when the stream ends or breaks.
            t_known = min(lo + first_cue + PARTNER_HORIZON, h.k_end) - 1
            # Valid if every sample from the swing start to the stance start is.
            gap = bisect_left(invalid, lo + swing_start)
            valid = gap == len(invalid) or invalid[gap] > lo + stance_start
            landings.append(self._landing(lo, ml, speed, swing_start, i, stance_start, horizon,
                                          t_known * GRID_DT_S, lead, valid))
            self._last_contact = lo + i
        self._decided = h.k_end if final else max(self._decided, lo + decided)
        if not final:
            # Every landing left is a contact waiting here, or one of a swing not decidable
            # yet, whose contact comes DECIDE_AFTER or less before the end of the samples (a
            # swing in progress or still to come, later). None is decided before its partner
            # horizon has passed, so scans until then decide nothing: skipping them changes
            # nothing, as a larger block of samples would not.
            self._next_decision = lo + min(waiting, n - DECIDE_AFTER) + PARTNER_HORIZON
        return self._strides(landings) if landings else []

    def _strides(self, landings: list[_Landing]) -> list[Stride]:
        """The strides of measured landings, once the stair test has been run on all at once.

        Stairs land on the forefoot too: a tiptoe landing whose stride climbs or descends is
        a stair, taken as a step of ordinary walking.
        """
        heights = iter(self._climbs_m([x.climb_span for x in landings if x.climb_span]))
        limit = SHANK_MAX_TIPTOE_CLIMB_M if self.on_shank else MAX_TIPTOE_CLIMB_M
        strides: list[Stride] = []
        kind: StrideKind
        for x in landings:
            t_land, kind = x.t_crossing, "walk"
            if x.t_impact is not None and (x.climb_span is None or abs(next(heights)) < limit):
                t_land, kind = x.t_impact, "toe"
            strides.append(Stride(
                t_land=t_land,
                t_swing_start=x.t_swing_start,
                t_known=x.t_known,
                kind=kind,
                stance_pitch_deg=x.stance_pitch_deg,
                landing_pitch_deg=x.landing_pitch_deg,
                valid=x.valid,
            ))
        return strides

    def _note_motion(self) -> None:
        """Brings ``_last_motion`` up to the end of the samples (looked at once, when a scan
        needs it: most passes do not scan)."""
        h = self._history
        first = max(self._motion_seen, h.k_start)
        if first < h.k_end:
            moving = where_true(h.get("speed", first, h.k_end) >= SWING_PEAK_RAD_S)
            if moving.size:
                self._last_motion = first + int(moving[-1])
            self._motion_seen = h.k_end

    def _lobe_contacts(
        self, ml: FloatArray, speed: FloatArray, n: int, *, final: bool
    ) -> tuple[list[tuple[int, int, int, str]], tuple[list[int], list[int]]]:
        """Heel-strike contacts: (sample before contact, swing start, horizon, "lobe"), up to
        the first swing that cannot be decided yet (``final``: on whatever samples follow);
        and the starts and ends of the runs of swing rate in the window (``_contact_lead``)."""
        run_starts, run_ends = runs(ml < -SWING_ON_RAD_S)  # an end n: the lobe is still running
        crossing_at = where_true((ml[:-1] < 0.0) & (ml[1:] >= 0.0))
        # Plain lists: the loop reads them element by element.
        at: list[int] = crossing_at.searchsorted(run_ends - 1).tolist()
        starts: list[int] = run_starts.tolist()
        ends: list[int] = run_ends.tolist()
        crossings: list[int] = crossing_at.tolist()
        # The runs before one crossing are one swing: (first start, last end, crossing).
        groups: list[tuple[int, int, int]] = []
        first = 0
        while first < len(starts):
            last = first
            while last + 1 < len(starts) and at[last + 1] == at[first]:
                last += 1
            groups.append((starts[first], ends[last], at[first]))
            first = last + 1
        # Each swing's peak speed, all in one call: the maxima over [start, end) of every swing
        # and of the stretch after it (swings neither touch nor overlap: a crossing separates
        # them; the last stretch runs to the end of the window, so an end n is left out).
        bounds = [bound for group in groups for bound in group[:2]]
        if bounds and bounds[-1] == n:
            bounds.pop()
        peaks: list[float] = (
            np.maximum.reduceat(speed, bounds)[0::2].tolist() if bounds else [])
        out: list[tuple[int, int, int, str]] = []
        for (first_start, last_end, j), peak in zip(groups, peaks, strict=True):
            if first_start == 0 or last_end - first_start > MAX_LOBE:
                continue  # cut by the window (or too long to be a swing): not a step
            if not final and (j >= len(crossings) or last_end + DECIDE_AFTER > n):
                return out, (starts, ends)  # not decidable yet: come back for it
            if j >= len(crossings) or crossings[j] > last_end - 1 + CONTACT_SEARCH:
                continue
            length = last_end - first_start
            if length < MIN_LOBE or length > MAX_LOBE:
                continue
            if peak < SWING_PEAK_RAD_S:
                continue
            out.append((crossings[j], first_start, last_end + DECIDE_AFTER, "lobe"))
        return out, (starts, ends)

    @staticmethod
    def _rest_contacts(
        speed: FloatArray, n: int, *, final: bool
    ) -> list[tuple[int, int, int, str]]:
        """Forefoot contacts: a fast swing (any axis) that comes to rest. Same shape as
        ``_lobe_contacts``; the contact sample is the one before the speed drops below
        REST_SPEED_RAD_S."""
        starts, ends = runs(speed > FAST_SWING_RAD_S)
        # Coming to rest means staying slow: three slow samples in a row.
        below = speed < REST_SPEED_RAD_S
        slow = where_true(below[:-2] & below[1:-1] & below[2:])
        out: list[tuple[int, int, int, str]] = []
        # The first slow stretch at or after each run's end, found for all runs at once.
        after: list[int] = slow.searchsorted(ends).tolist()
        for start, end, k in zip(starts.tolist(), ends.tolist(), after, strict=True):
            if start == 0 or end - start > MAX_LOBE:
                continue  # cut by the window (or too long to be a swing): not a step
            if not final and end + DECIDE_AFTER > n:
                return out
            if end >= n or end - start < MIN_LOBE or k >= slow.shape[0]:
                continue
            contact = int(slow[k]) - 1
            if contact >= end + CONTACT_SEARCH:
                continue
            out.append((contact, start, end + DECIDE_AFTER, "rest"))
        return out

    def _impact_time(self, lo: int, i: int, lead: int | None) -> float:
        """The moment of a forefoot landing's impact near its contact cue.

        The impact is the sharpest spike of specific force (a jolt one or two grid samples
        wide, unlike the broad rise of the foot braking before it touches). After a swing lobe
        it is sought from the end of the lobe's longest run (a forefoot may touch before the
        zero crossing: the ringing after the impact can delay it; the toe-off jolt before the
        lobe stays out: ``lead``, from ``_contact_lead``); after a fast swing (``lead`` None),
        around the moment it came to rest.
        """
        h = self._history
        a, b = (i - IMPACT_SEARCH, i + 2) if lead is None else (lead, i + IMPACT_SEARCH)
        first = max(h.k_start + 1, lo + a)
        force = h.get("force", first - 1, min(h.k_end, lo + b + 1))
        if force.shape[0] < 3:
            return max(first, min(lo + i, h.k_end - 1)) * GRID_DT_S
        sharpness = force[1:-1] - 0.5 * (force[:-2] + force[2:])
        return (first + int(sharpness.argmax())) * GRID_DT_S

    @staticmethod
    def _shank_tiptoe(ml: FloatArray, i: int) -> bool:
        """Whether a landing seen from the shank was on tiptoe (``i``: the sample before it).

        The shank cannot see the foot's pitch, but it feels the ankle: a heel strike comes from
        a fast swing and rolls the shank forward over the heel right after; on tiptoe the swing
        is gentler and the plantarflexed ankle holds the shank back.
        """
        before = ml[max(0, i - SHANK_WINDOW):i]
        after = ml[i + 1:i + 1 + SHANK_WINDOW]
        if not before.size or not after.size:
            return False
        return bool(float(after.mean()) < SHANK_MAX_ROLL_ON_RAD_S
                    and float(before.mean()) > -SHANK_MAX_SWING_IN_RAD_S)

    def _climbs_m(self, spans: list[tuple[int, int]]) -> list[float]:
        """Heights the foot gained over spans ``[first, last)`` between zero-velocity samples
        (absolute indices); see ``_climb``.

        The step rotations of all spans are computed in one pass: each step's matrix is a
        function of its own gyro sample alone (elementwise numpy), so they are the same numbers
        as span by span, for a fraction of the numpy calls (a batch scan has dozens of spans).
        """
        h = self._history
        accs = [h.get("acc", first, last) for first, last in spans]
        # The last sample's step is not needed: the integration ends on it.
        gyros = [h.get("gyro", first, last)[:-1] for first, last in spans]
        long = [g for a, g in zip(accs, gyros, strict=True) if a.shape[0] >= MIN_CLIMB_SAMPLES]
        if not long:
            return [0.0] * len(spans)
        # One iterator per matrix entry: each span's climb reads its own steps off them.
        steps = [iter(row) for row in _rotations(np.concatenate(long) * GRID_DT_S).tolist()]
        return [_climb(acc, steps) if acc.shape[0] >= MIN_CLIMB_SAMPLES else 0.0
                for acc in accs]

    def _landing(  # noqa: PLR0917 - indices of one stride, all needed
        self, lo: int, ml: FloatArray, speed: FloatArray, lobe_start: int, i: int,
        stance_start: int, horizon: int, t_known: float, lead: int | None, valid: bool,
    ) -> _Landing:
        """Measures one landing (indices relative to ``lo``; ``i`` is the sample before contact;
        ``lead`` from ``_contact_lead``, None after a fast swing; ``valid``: every sample from
        the swing start to the stance start is)."""
        a, b = ml[i:i + 2].tolist()
        t_land = (lo + i + (-a) / (b - a)) * GRID_DT_S
        # Pitch in stance, seen through the mounting estimate in force when deciding (it may
        # have just learned the flat pose from the standing before this walk).
        end = min(stance_start + STANCE_PITCH_WINDOW, horizon)
        rotation = self._rotations.at(lo + horizon - 1)
        if self._rotations.only(lo + stance_start, lo + end) is rotation:
            # The estimate the front end used throughout: its own pitch is these numbers.
            pitch = self._history.get("pitch", lo + stance_start, lo + end)
        else:
            pitch = pitch_deg(
                self._history.get("up_sensor", lo + stance_start, lo + end), rotation)
        # A handful of samples: plain lists (fewer numpy calls).
        pitches: list[float] = pitch.tolist()
        calm = [p for p, v in zip(pitches, speed[stance_start:end].tolist(), strict=True)
                if v < STANCE_RAD_S]
        stance_pitch = _median(calm or pitches)
        # Pitch at contact: the stance pitch minus the rotation between contact and stance.
        # (The sum is numpy's, pairwise; degrees on a float are numpy's: x * (180 / pi).)
        landing_pitch = stance_pitch + math.degrees(
            float(np.add.reduce(ml[i:stance_start])) * GRID_DT_S)
        # On tiptoe the foot stays plantarflexed through stance and lands without the heel
        # strike's toes-up rocking onto a flat foot. The second test needs no flat reference,
        # so a strap pitched on the foot cannot turn heel-to-toe walking into toe walking.
        heel_rock = landing_pitch - stance_pitch
        if self.on_shank:
            tiptoe = self._shank_tiptoe(ml, i)
        else:
            tiptoe = heel_rock < HEEL_ROCK_DEG and stance_pitch < TOE_STANCE_PITCH_DEG
        # The stillest sample of this stance: a zero-velocity point for the next stride.
        window = speed[i:min(i + REST_SEARCH, horizon)]
        rest = lo + i + int(window.argmin())
        previous, self._last_rest = self._last_rest, rest
        return _Landing(
            t_crossing=round(t_land, 4),
            # A forefoot landing: the foot starts pitching down before it touches, so the
            # crossing comes early; the impact marks the contact.
            t_impact=round(self._impact_time(lo, i, lead), 4) if tiptoe else None,
            # The stair test (``_strides``) integrates from the last stride's stillest sample.
            climb_span=(previous, rest) if (
                tiptoe and previous is not None and rest - previous <= MAX_STRIDE_SAMPLES)
            else None,
            t_swing_start=(lo + lobe_start) * GRID_DT_S,
            t_known=t_known,
            stance_pitch_deg=stance_pitch,
            landing_pitch_deg=landing_pitch,
            valid=valid,
        )


class _Landing(NamedTuple):
    """A measured landing, before the stair test decides its kind (``_strides``).

    ``t_impact`` is set for a landing that looks tiptoe (its time if it stays one);
    ``climb_span`` is the stretch (absolute indices) whose climb decides whether it does.
    """

    t_crossing: float
    t_impact: float | None
    climb_span: tuple[int, int] | None
    t_swing_start: float
    t_known: float
    stance_pitch_deg: float
    landing_pitch_deg: float
    valid: bool


def _contact_lead(lobe_runs: tuple[list[int], list[int]], swing_start: int, i: int) -> int:
    """The earliest sample a landing whose pitch rate crosses zero at ``i`` may have touched: a
    few samples before the end of its swing lobe's longest run (not sooner than
    TOE_CONTACT_LEAD before the crossing, nor in the toe-off jolt).

    ``lobe_runs``: the starts and ends of the runs of swing rate (``_lobe_contacts``) over the
    scan window, whose indices these are. The runs from ``swing_start`` to the crossing are
    those runs clipped to ``[swing_start, i + 1)``: the same as finding runs in that stretch
    alone, without numpy calls. The first of the longest wins, as ``argmax`` picks.
    """
    starts, ends = lobe_runs
    lobe_end, longest = i, 0
    for r in range(bisect_right(ends, swing_start), bisect_right(starts, i)):
        end = min(ends[r], i + 1)
        if end - max(starts[r], swing_start) > longest:
            lobe_end, longest = end, end - max(starts[r], swing_start)
    return max(lobe_end - 4, i - TOE_CONTACT_LEAD, swing_start + 2)


def _median(values: list[float]) -> float:
    """The median of a short list, as ``median`` (sensord.dsp.history) computes it: the middle
    order statistic, or the mean of the middle two (sorting a handful of floats beats numpy's
    call overhead).

    Two cases are left to numpy: a NaN, which sorting would misplace; and a zero median, whose
    sign depends on which of equal zeros numpy's partition picks (any other equal values are
    the same bits).
    """
    if math.isnan(sum(values)):  # (also infinities of both signs: numpy's answer stands)
        return median(np.array(values))
    ordered = sorted(values)
    middle = len(values) // 2
    result = ordered[middle] if len(values) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0
    return result if result != 0.0 else median(np.array(values))


def _level_row(ux: float, uy: float, uz: float) -> tuple[float, float, float]:
    """The world-vertical row of the rotation that levels specific force ``(ux, uy, uz)`` onto
    +z.

    That rotation (about ``up x z``) maps ``up`` to z, so its z row is ``up`` normalised. When
    ``up x z`` is too short to give an axis the rotation is taken as the identity.
    """
    norm = math.sqrt(ux * ux + uy * uy + uz * uz)
    ux, uy, uz = ux / norm, uy / norm, uz / norm
    if math.sqrt(ux * ux + uy * uy) <= 1e-9:
        return 0.0, 0.0, 1.0
    return ux, uy, uz


#: Sample indices as floats, for the drift ramp of ``_climb`` (strides are far shorter).
_RAMP: Final = np.arange(4 * MAX_STRIDE_SAMPLES, dtype=np.float64)


def _climb(acc: FloatArray, steps: Sequence[Iterable[float]]) -> float:
    """Height (m) gained over the samples of ``acc`` (n, 3), from zero velocity to zero velocity.

    Strapdown integration with zero-velocity updates (after Foxlin 2005): orientation levelled
    on the first sample's gravity and carried by the gyro step by step (``steps``: the nine
    entries of the step rotations between the samples, as the rows of ``_rotations``, of which
    the first n - 1 are read: iterators are left at the next span's first step), specific force
    rotated to the world and gravity removed, velocity integrated and its drift removed so it
    ends at zero, then height. Only the world-vertical row of the orientation is needed.

    A Python loop on plain floats (a numpy call per step would cost several times more than its
    dozen products): each sample's vertical force and the running sum of them are taken in the
    loop, with the same operations in the same order as numpy's ``(row * acc).sum(axis=1) - g``
    and ``cumsum`` (left to right), so the numbers are the same bits.
    """
    n = acc.shape[0]
    ax, ay, az = acc.T.tolist()
    x, y, z = _level_row(ax[0], ay[0], az[0])
    total = 0.0  # the running sum of vertical acceleration (0.0 + v is v: v is never -0.0)
    cumulative: list[float] = []
    put = cumulative.append
    # The steps are one fewer than the samples. zip reads its arguments left to right and
    # stops at the first one exhausted: the range, so no step past the n - 1th is taken.
    for _, a, e, i, d, c, h, b, g, f, p, q, r in zip(
            range(n - 1), *steps, ax, ay, az, strict=False):
        total += x * p + y * q + z * r - GRAVITY_M_S2
        put(total)
        # The row times the step's matrix [[a, b, c], [d, e, f], [g, h, i]] (STEP_ENTRIES).
        x, y, z = x * a + y * d + z * g, x * b + y * e + z * h, x * c + y * f + z * i
    total += x * ax[-1] + y * ay[-1] + z * az[-1] - GRAVITY_M_S2
    put(total)
    velocity = np.array(cumulative) * GRID_DT_S
    velocity -= _RAMP[:n] * (total * GRID_DT_S / (n - 1))
    return float(np.add.reduce(velocity)) * GRID_DT_S


def _rotations(vectors: FloatArray) -> FloatArray:
    """Rotation matrices of rotation vectors (n, 3) (Rodrigues: ``cos I + sin K + (1 - cos)
    k k^T`` for the unit axis ``k``), channel-major (9, n) with the entries in the order of
    ``STEP_ENTRIES``: the diagonal, then the three products plus their sine terms, then minus
    them, so each three are one numpy call on slices (the same products and sums as entry by
    entry, in a fraction of the calls)."""
    n = vectors.shape[0]
    angle = np.sqrt(sum3(vectors * vectors))
    k = vectors.T / np.where(angle > 1e-12, angle, 1.0)
    s, c = np.sin(angle), np.cos(angle)
    tk = (1.0 - c) * k  # (1 - cos) kx, ky, kz
    sk = (s * k)[::-1]  # sin kz, ky, kx
    outer = np.empty((3, n))  # (1 - cos) kx ky, kx kz, ky kz
    np.multiply(tk[0], k[1:], out=outer[:2])
    np.multiply(tk[1], k[2], out=outer[2])
    m = np.empty((9, n))
    np.add(c, tk * k, out=m[:3])
    np.add(outer, sk, out=m[3:6])
    np.subtract(outer, sk, out=m[6:])
    return m


#: The row-major entries (3 i + j) of a rotation in the rows of ``_rotations``.
STEP_ENTRIES: Final = (0, 4, 8, 3, 2, 7, 1, 6, 5)
