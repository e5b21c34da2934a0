"""The virtual wearable on a real Bluetooth stack in Python (bumble), and the bumble backend
that gives bleak's API on it. See docs/ble.md.

``VirtualWearable`` (one peripheral on a ``bumble.link.LocalLink``), ``BumbleCentral`` (an
adapter on the same link, or on any bumble transport), ``BumbleScanner``/``BumbleClient`` (the
bleak backend classes), ``HciServer`` (the link served over TCP to other processes).
Import the submodules directly; this package does not import bumble by itself.
"""
