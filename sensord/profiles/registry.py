"""Every known profile by id, and recognising a wearable's profile from what a scan sees.

``recognise`` is what ``profile = "auto"`` and ``sensord scan`` use: a scan gives the advertised
local name and service UUIDs (either may be missing), and the first profile whose service UUID
(or one of its ``scan_uuids``) is advertised wins, else the first whose name prefix matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from sensord.errors import InputError
from sensord.profiles.base import Profile
from sensord.profiles.movesense import MovesenseProfile
from sensord.profiles.sensord_gatt import SensordProfile
from sensord.profiles.thingy52 import Thingy52Profile
from sensord.profiles.witmotion import WitmotionProfile

#: The Bluetooth base UUID: 16- and 32-bit UUIDs are short forms of it.
_BASE_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"
_SHORT_RE: Final = re.compile(r"^(?:0x)?([0-9a-f]{4}|[0-9a-f]{8})$")


def _all_profiles() -> tuple[Profile, ...]:
    return (SensordProfile(), WitmotionProfile(), Thingy52Profile(), MovesenseProfile())


#: One default-configured instance of each profile, by id.
PROFILES: Final[Mapping[str, Profile]] = MappingProxyType({p.id: p for p in _all_profiles()})


def normalise_uuid(uuid: str) -> str:
    """A UUID in the lower-case 128-bit form bleak reports (``"FFE5"`` -> ``0000ffe5-...``)."""
    text = uuid.strip().lower()
    short = _SHORT_RE.match(text)
    if short:
        return short.group(1).rjust(8, "0") + _BASE_SUFFIX
    return text


def get_profile(profile_id: str) -> Profile:
    """The profile registered as ``profile_id``, or ``InputError`` listing the known ids."""
    try:
        return PROFILES[profile_id]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise InputError(f"unknown profile {profile_id!r}; known profiles: {known}") from None


def recognise(name: str | None, service_uuids: Iterable[str]) -> Profile | None:
    """The profile a scanned wearable speaks, judged by its service UUIDs, then its name."""
    advertised = {normalise_uuid(u) for u in service_uuids}
    for profile in PROFILES.values():
        if advertised & {profile.service_uuid, *profile.scan_uuids}:
            return profile
    if name:
        lowered = name.lower()
        for profile in PROFILES.values():
            if any(lowered.startswith(p.lower()) for p in profile.name_prefixes):
                return profile
    return None
