"""Advertising data: what the virtual wearable advertises parses back to its name and service,
fits legacy advertising, and the parser survives any bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensord.profiles.sensord_gatt import SERVICE_UUID
from sensord.virtual.advertising import (
    LEGACY_PAYLOAD_BYTES,
    build_advertising,
    parse_advertising_data,
)

names = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=29
)


@given(names)
def test_built_advertising_fits_legacy_payloads_and_parses_back(name: str) -> None:
    advertising, scan_response = build_advertising(name, SERVICE_UUID)
    assert len(advertising) <= LEGACY_PAYLOAD_BYTES
    assert len(scan_response) <= LEGACY_PAYLOAD_BYTES
    parsed = parse_advertising_data(advertising + scan_response)
    assert parsed.local_name == name
    assert parsed.name_complete
    assert SERVICE_UUID in parsed.service_uuids


def test_a_short_name_needs_no_scan_response_and_a_long_one_is_shortened() -> None:
    advertising, scan_response = build_advertising("sensord", SERVICE_UUID)
    assert scan_response == b""
    advertising, scan_response = build_advertising("sensord-left-foot", SERVICE_UUID)
    alone = parse_advertising_data(advertising)
    assert alone.local_name == "sensord-"
    assert not alone.name_complete
    assert parse_advertising_data(scan_response).local_name == "sensord-left-foot"


def test_names_longer_than_a_scan_response_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 29"):
        build_advertising("x" * 30, SERVICE_UUID)


def test_golden_advertisement_with_16_bit_uuids_service_and_manufacturer_data() -> None:
    data = bytes.fromhex(
        "020106"  # flags
        "05030f180a18"  # 16-bit UUIDs 180F, 180A
        "0416d2fc41"  # service data for FCD2 (BTHome-like)
        "05ff5900aabb"  # manufacturer 0x0059 (Nordic)
        "020af4"  # tx power -12 dBm
        "0508666f6f"  # shortened name "foo" (length byte is wrong: 5 claims 4 bytes of body)
    )
    parsed = parse_advertising_data(data)
    assert parsed.service_uuids == (
        "0000180f-0000-1000-8000-00805f9b34fb",
        "0000180a-0000-1000-8000-00805f9b34fb",
    )
    assert parsed.service_data == {"0000fcd2-0000-1000-8000-00805f9b34fb": b"\x41"}
    assert parsed.manufacturer_data == {0x0059: b"\xaa\xbb"}
    assert parsed.tx_power_dbm == -12
    assert parsed.local_name is None  # the truncated last structure is dropped


@given(st.binary(max_size=80))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    parsed = parse_advertising_data(data)
    assert all(len(u) == 36 for u in parsed.service_uuids)
