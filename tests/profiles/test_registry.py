"""The profile registry and scan recognition."""

from __future__ import annotations

import pytest

from sensord.errors import InputError
from sensord.profiles import PROFILES, get_profile, normalise_uuid, recognise


def test_every_profile_is_registered_under_its_id() -> None:
    assert "sensord" in PROFILES
    for profile_id, profile in PROFILES.items():
        assert profile.id == profile_id
        assert get_profile(profile_id) is profile


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"known profiles: .*sensord"):
        get_profile("fitbit")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("FFE5", "0000ffe5-0000-1000-8000-00805f9b34fb"),
        ("0x180f", "0000180f-0000-1000-8000-00805f9b34fb"),
        ("0000FFE5", "0000ffe5-0000-1000-8000-00805f9b34fb"),
        (" 42D90001-B725-4996-AA77-3D9249FD24AB ", "42d90001-b725-4996-aa77-3d9249fd24ab"),
    ],
)
def test_normalise_uuid(given: str, expected: str) -> None:
    assert normalise_uuid(given) == expected


def test_recognise_by_service_uuid_then_name() -> None:
    sensord = PROFILES["sensord"]
    assert recognise(None, ["42D90001-B725-4996-AA77-3D9249FD24AB"]) is sensord
    assert recognise("sensord-left", []) is sensord
    assert recognise("SENSORD R", ["0000180f-0000-1000-8000-00805f9b34fb"]) is sensord
    assert recognise("Mi Band", ["180f"]) is None
    assert recognise(None, []) is None
    assert recognise("", []) is None


def test_every_profile_is_recognised_by_its_own_service_and_names() -> None:
    for profile in PROFILES.values():
        assert recognise(None, [profile.service_uuid.upper()]) is profile
        for prefix in profile.name_prefixes:
            assert recognise(prefix + "01", []) is profile


def test_thingy_is_recognised_by_the_service_it_advertises() -> None:
    thingy = PROFILES["thingy52"]
    assert recognise("", ["EF680100-9B35-4933-9B10-52FFA9740042"]) is thingy
    assert recognise("Thingy", []) is thingy


def test_real_device_names() -> None:
    assert recognise("WT901BLE68", []) is PROFILES["witmotion"]
    assert recognise("Movesense 174630000192", []) is PROFILES["movesense"]
