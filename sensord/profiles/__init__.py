"""Wearable protocols: one pure module per device family, and the registry that finds them."""

from sensord.profiles.base import DecodedPacket, Decoder, Emulator, GattWrite, Profile
from sensord.profiles.registry import PROFILES, get_profile, normalise_uuid, recognise

__all__ = [
    "PROFILES",
    "DecodedPacket",
    "Decoder",
    "Emulator",
    "GattWrite",
    "Profile",
    "get_profile",
    "normalise_uuid",
    "recognise",
]
