"""The virtual wearable on a real Bluetooth stack in Python (bumble), and the bumble backend
that gives bleak's API on it. See docs/ble.md.

``VirtualWearable`` (one peripheral on a ``bumble.link.LocalLink``), ``BumbleCentral`` (an
adapter on the same link, or on any bumble transport), ``BumbleScanner``/``BumbleClient`` (the
bleak backend classes), ``HciServer`` (the link served over TCP to other processes).
Import the submodules directly; this package imports only bumble's crypto primitives by itself
(below).
"""

from __future__ import annotations

import sys


def _bumble_crypto_without_cryptography() -> None:
    """Imports ``bumble.crypto`` with the cryptography package hidden, so that bumble takes its
    built-in primitives (it falls back to them when cryptography cannot be imported).

    bumble needs them only for pairing (SMP) and resolvable private addresses, and neither the
    bumble backend nor the virtual wearable pairs or resolves; cryptography's Rust extension
    would cost the daemon about 6 MB resident for nothing. Runs once, before any submodule
    imports bumble; cryptography stays importable for everything else.
    """
    if "bumble.crypto" in sys.modules or "cryptography" in sys.modules:
        return
    sys.modules["cryptography"] = None  # type: ignore[assignment]  # its import now fails
    try:
        import bumble.crypto  # noqa: F401, PLC0415
    except ImportError:
        pass  # a bumble without the fallback: the next import of bumble loads cryptography
    finally:
        del sys.modules["cryptography"]


_bumble_crypto_without_cryptography()
