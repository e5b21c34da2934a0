"""What every registered profile promises the link and the virtual wearable.

Parametrised over ``PROFILES``, so a new profile is held to the same contract the moment it is
registered: any bytes decode to a packet, None or DecodeError; the emulator's packets decode back
to the input within the profile's quantisation; the start and stop writes drive the emulator.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sensord.errors import DecodeError
from sensord.profiles import PROFILES, DecodedPacket, Profile
from sensord.profiles.base import Decoder, Emulator

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PROFILE_IDS = sorted(PROFILES)


@pytest.fixture(params=PROFILE_IDS)
def profile(request: pytest.FixtureRequest) -> Profile:
    return PROFILES[request.param]


def started(profile: Profile, rate_hz: float) -> Emulator:
    """An emulator after the central's start writes (their responses ignored)."""
    emulator = profile.emulator()
    for write in profile.start(rate_hz):
        emulator.on_write(write.char_uuid, write.data)
    return emulator


def decode_all(decoder: Decoder, emulator: Emulator, acc: np.ndarray, gyro: np.ndarray) -> (
    list[DecodedPacket]
):
    packets = []
    for note in emulator.encode(acc, gyro):
        packet = decoder.decode(note.char_uuid, note.data)
        if packet is not None:
            packets.append(packet)
    return packets


def test_gatt_table_is_consistent(profile: Profile) -> None:
    services = profile.gatt()
    chars = {c.uuid: c for s in services for c in s.characteristics}
    assert profile.service_uuid in {s.uuid for s in services}
    for uuid in [s.uuid for s in services] + list(chars):
        assert UUID_RE.match(uuid), uuid
    for uuid in profile.notify_uuids:
        assert "notify" in chars[uuid].properties
    for write in [*profile.start(profile.default_rate_hz), *profile.stop()]:
        props = chars[write.char_uuid].properties
        assert ("write" if write.response else "write-without-response") in props
    assert list(profile.rates_hz) == sorted(profile.rates_hz)
    assert profile.default_rate_hz in profile.rates_hz


def test_start_and_stop_drive_the_emulator(profile: Profile) -> None:
    """Devices with a stop command stream only between start and stop; the others stream
    whenever subscribed (the link's unsubscribe is their stop), at the rate start set."""
    has_stop = bool(profile.stop())
    for rate in profile.rates_hz:
        emulator = profile.emulator()
        assert emulator.streaming is not has_stop
        for write in profile.start(rate):
            emulator.on_write(write.char_uuid, write.data)
        assert emulator.streaming
        assert emulator.rate_hz == pytest.approx(rate)
        for write in profile.stop():
            emulator.on_write(write.char_uuid, write.data)
        assert emulator.streaming is not has_stop
        assert emulator.rate_hz == pytest.approx(rate) or has_stop
    # An unsupported rate is mapped to the nearest supported one on both sides.
    emulator = started(profile, profile.rates_hz[0] * 1.1)
    assert emulator.rate_hz == pytest.approx(profile.nearest_rate(profile.rates_hz[0] * 1.1))


def test_a_reconnect_starts_again(profile: Profile) -> None:
    emulator = started(profile, profile.default_rate_hz)
    emulator.on_disconnect()
    for write in profile.start(profile.default_rate_hz):
        emulator.on_write(write.char_uuid, write.data)
    assert emulator.streaming


def test_notifications_fit_the_mtu(profile: Profile) -> None:
    emulator = started(profile, profile.default_rate_hz)
    for mtu in (23, 100, 185, 247, 517):
        n = emulator.samples_per_notification(mtu)
        assert n >= 1
        notes = emulator.encode(np.zeros((n, 3)), np.zeros((n, 3)))
        assert notes
        assert all(len(note.data) <= mtu - 3 for note in notes)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_round_trip_within_quantisation(profile: Profile, data: st.DataObject) -> None:
    q = profile.quantisation()
    rate = data.draw(st.sampled_from(profile.rates_hz))
    emulator = started(profile, rate)
    mtu = data.draw(st.sampled_from([23, 64, 100, 161, 185, 247, 517]))
    spn = emulator.samples_per_notification(mtu)
    n = spn if emulator.fixed_batch else data.draw(st.integers(1, spn))
    acc_limit = q.acc_full_scale_m_s2 - q.acc_step_m_s2
    gyro_limit = q.gyro_full_scale_rad_s - q.gyro_step_rad_s
    acc = data.draw(hnp.arrays(np.float64, (n, 3), elements=st.floats(-acc_limit, acc_limit)))
    gyro = data.draw(hnp.arrays(np.float64, (n, 3), elements=st.floats(-gyro_limit, gyro_limit)))
    packets = decode_all(profile.decoder(rate), emulator, acc, gyro)
    assert sum(len(p) for p in packets) == n
    got_acc = np.concatenate([p.acc_m_s2 for p in packets])
    got_gyro = np.concatenate([p.gyro_rad_s for p in packets])
    np.testing.assert_allclose(got_acc, acc, rtol=0, atol=q.acc_step_m_s2 * (1 + 1e-9))
    np.testing.assert_allclose(got_gyro, gyro, rtol=0, atol=q.gyro_step_rad_s * (1 + 1e-9))
    for packet in packets:
        assert packet.acc_m_s2.dtype == np.float64
        assert packet.acc_m_s2.shape == packet.gyro_rad_s.shape == (len(packet), 3)


def test_consecutive_packets_carry_consecutive_counters(profile: Profile) -> None:
    """Where the protocol numbers samples or stamps them, the numbers advance by the samples sent
    (the link rebuilds times from them)."""
    rate = profile.default_rate_hz
    emulator = started(profile, rate)
    decoder = profile.decoder(rate)
    n = emulator.samples_per_notification(247)
    ones = np.ones((n, 3))
    packets = [p for _ in range(20) for p in decode_all(decoder, emulator, ones, ones)]
    counters = [p.counter for p in packets]
    times = [p.device_time_s for p in packets]
    # A protocol either numbers (or stamps) every packet or none: the link relies on that.
    assert len({c is None for c in counters}) == 1
    assert len({t is None for t in times}) == 1
    if counters[0] is not None:
        assert np.all(np.diff(np.asarray(counters)) == [len(p) for p in packets[:-1]])
    if times[0] is not None:
        steps = np.diff(np.asarray(times, dtype=np.float64))
        expected = np.asarray([len(p) for p in packets[:-1]]) / rate
        np.testing.assert_allclose(steps, expected, atol=1.5e-3)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=4))
def test_any_bytes_give_a_packet_none_or_decode_error(
    profile: Profile, payloads: list[bytes]
) -> None:
    decoder = profile.decoder(profile.default_rate_hz)
    for uuid in profile.notify_uuids:
        for payload in payloads:
            try:
                packet = decoder.decode(uuid, payload)
            except DecodeError:
                continue
            if packet is not None:
                assert packet.acc_m_s2.shape == packet.gyro_rad_s.shape == (len(packet), 3)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_real_packets_give_a_packet_none_or_decode_error(
    profile: Profile, data: st.DataObject
) -> None:
    """Random bytes rarely pass a header check; flipping, cutting and gluing real packets reaches
    the deeper branches of each decoder."""
    emulator = started(profile, profile.default_rate_hz)
    n = emulator.samples_per_notification(247)
    notes = emulator.encode(np.full((n, 3), 3.0), np.full((n, 3), 0.5))
    decoder = profile.decoder(profile.default_rate_hz)
    for note in notes:
        raw = bytearray(note.data)
        for _ in range(data.draw(st.integers(0, 4))):
            if raw:
                raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(raw)))
        tail = data.draw(st.sampled_from([b"", bytes(raw[:cut])]))
        for payload in (bytes(raw[:cut]), bytes(raw) + tail):
            try:
                packet = decoder.decode(note.char_uuid, payload)
            except DecodeError:
                continue
            if packet is not None:
                assert packet.acc_m_s2.shape == packet.gyro_rad_s.shape == (len(packet), 3)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(st.binary(max_size=40), min_size=1, max_size=6))
def test_any_write_gives_answers_or_decode_error(profile: Profile, writes: list[bytes]) -> None:
    """A central may write anything: the virtual wearable must answer, never crash."""
    writable = [
        c.uuid
        for s in profile.gatt()
        for c in s.characteristics
        if {"write", "write-without-response"} & set(c.properties)
    ]
    emulator = profile.emulator()
    for uuid in writable:
        for data in writes:
            try:
                answers = emulator.on_write(uuid, data)
            except DecodeError:
                continue
            assert all(a.char_uuid in profile.notify_uuids for a in answers)
    emulator.samples_per_notification(247)
    assert emulator.rate_hz > 0
