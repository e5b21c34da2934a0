"""What the bumble backend brings into the daemon's memory: a central on a transport loads
neither bumble's emulated controller nor the cryptography package (bumble takes its built-in
primitives; the backend never pairs). Checked in a fresh interpreter, as the daemon starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import sys
import sensord.virtual.backend, sensord.virtual.central
import bumble.crypto
print(sorted(m for m in ("cryptography", "bumble.controller", "bumble.link",
                         "sensord.virtual.controller") if m in sys.modules))
print(bumble.crypto.EccKey.__module__)
"""


def test_the_bumble_central_leaves_cryptography_and_the_emulated_controller_out() -> None:
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                            check=True, timeout=60, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    loaded, crypto = result.stdout.split("\n")[:2]
    assert loaded == "[]"
    assert crypto == "bumble.crypto.builtin"


def test_bumble_builtin_primitives_match_the_specification() -> None:
    """The primitives bumble falls back to, against RFC 4493's AES-CMAC examples (the Core
    spec repeats them, Vol 3, Part H, D.1): pairing would still be right if a peer asked."""
    from bumble.crypto import builtin  # noqa: PLC0415

    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    assert builtin.aes_cmac(b"", key) == bytes.fromhex("bb1d6929e95937287fa37d129b756746")
    message = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert builtin.aes_cmac(message, key) == bytes.fromhex("070a16b46b4d4144f79bdd9dd04a287c")
