"""Device addresses for the virtual radio's hosts.

Apart from ``controller`` so that a central on a transport (``tcp-client:...``, a USB dongle),
which has a real or remote controller, does not load bumble's emulated controller and link
layer (about 1 MB resident in the daemon).
"""

from __future__ import annotations

import random

from bumble import hci


def random_static_address() -> hci.Address:
    """A fresh random static device address (the two top bits set, Vol 6, Part B, 1.3.2.1)."""
    octets = bytearray(random.getrandbits(8) for _ in range(6))
    octets[5] |= 0xC0  # bumble stores addresses little-endian: byte 5 is the most significant
    return hci.Address(bytes(octets), hci.Address.RANDOM_DEVICE_ADDRESS)
