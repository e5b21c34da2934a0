"""The project's error types.

Third-party errors (bleak, aiomqtt, sqlite3, tomllib) are translated into these at the edge
where they occur, with ``raise ... from exc``, so the CLI can map every failure to one line on
stderr and an exit code: 2 for bad input or configuration, 1 for a runtime failure.
"""

from __future__ import annotations


class SensordError(Exception):
    """Base of every error sensord raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1


class InputError(SensordError):
    """The user gave us something unusable: a bad argument, file or value (exit code 2)."""

    exit_code = 2


class RecordingError(InputError):
    """A recording file is malformed. ``line`` is the 1-based line number, when known."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:"
            if line is not None:
                where += f"{line}:"
            where += " "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class ConfigError(InputError):
    """The configuration is invalid. The message names the key path (and the file's line)."""

    def __init__(
        self, message: str, *, key: str | None = None, path: str | None = None,
        line: int | None = None,
    ) -> None:
        parts = []
        if path is not None:
            parts.append(f"{path}:{line}" if line is not None else path)
        if key is not None:
            parts.append(key)
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.key = key
        self.path = path
        self.line = line


class DecodeError(SensordError):
    """A wearable sent bytes that its profile cannot decode (counted and skipped by the link)."""


class LinkError(SensordError):
    """The BLE link failed: adapter missing, wearable not found, connection lost or refused."""


class BrokerError(SensordError):
    """The MQTT broker could not be reached, refused us, or dropped the connection."""


class StoreError(SensordError):
    """The local SQLite store (outbox, history) could not be opened or written."""
