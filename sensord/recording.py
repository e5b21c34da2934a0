"""The CSV recording format of CONTRACTS.md section 2: read (strict or lenient) and write.

Strict reading takes a fast path (numpy's C parser) and, only when that finds a problem, re-reads
the file line by line to name the first bad line; so good files parse quickly and bad files get a
precise error. Lenient reading skips bad lines and counts them by reason.
"""

from __future__ import annotations

import io
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Self, TextIO

import numpy as np

from sensord.errors import RecordingError
from sensord.model import PLACEMENTS, SIDES, FloatArray, ImuBlock

REQUIRED_COLUMNS: Final = ("t", "ax", "ay", "az", "gx", "gy", "gz")
KNOWN_META_KEYS: Final = ("placement", "side", "rate_hz", "device", "started_at")


@dataclass(frozen=True, slots=True)
class RecordingMeta:
    """The ``# key: value`` lines of a recording. Unknown keys are kept in ``extra``."""

    placement: str | None = None
    side: str | None = None
    rate_hz: float | None = None
    device: str | None = None
    started_at: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def lines(self) -> list[str]:
        out = []
        for key in KNOWN_META_KEYS:
            value = getattr(self, key)
            if value is not None:
                out.append(f"# {key}: {value}")
        out.extend(f"# {key}: {value}" for key, value in self.extra)
        return out


@dataclass(frozen=True, slots=True)
class Recording:
    """A parsed recording: its metadata, all samples as one block, and what was skipped."""

    meta: RecordingMeta
    block: ImuBlock
    skipped: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)

    def blocks(self, size: int) -> Iterator[ImuBlock]:
        """Yields the samples in consecutive blocks of ``size`` (the last may be shorter)."""
        for start in range(0, len(self.block), size):
            yield self.block.slice(start, start + size)


def _parse_meta(lines: list[tuple[int, str]], path: str) -> RecordingMeta:
    values: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for _lineno, text in lines:
        body = text.lstrip("#").strip()
        if ":" not in body:
            continue  # a free comment, not a key
        key, _, value = body.partition(":")
        key, value = key.strip(), value.strip()
        if key in KNOWN_META_KEYS:
            values[key] = value
        elif key:
            extra.append((key, value))
    rate: float | None = None
    for key, allowed in (("placement", PLACEMENTS), ("side", SIDES)):
        given = values.get(key)
        if given is not None and given not in allowed:
            line = next(n for n, t in lines if t.lstrip("#").strip().startswith(key))
            raise RecordingError(
                f"metadata {key} is {given!r}; expected one of {', '.join(allowed)}",
                path=path, line=line,
            )
    if "rate_hz" in values:
        try:
            rate = float(values["rate_hz"])
        except ValueError:
            line = next(n for n, t in lines if "rate_hz" in t)
            raise RecordingError(
                f"metadata rate_hz is {values['rate_hz']!r}, not a number", path=path, line=line
            ) from None
    return RecordingMeta(
        placement=values.get("placement"), side=values.get("side"), rate_hz=rate,
        device=values.get("device"), started_at=values.get("started_at"), extra=tuple(extra),
    )


def _split_header(text: str, path: str) -> tuple[RecordingMeta, list[str], int, str]:
    """Returns metadata, column names, the header's line number and the text after it."""
    meta_lines: list[tuple[int, str]] = []
    pos = 0
    lineno = 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end].rstrip("\r")
        lineno += 1
        pos = end + 1
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            meta_lines.append((lineno, line))
            continue
        names = [name.strip() for name in line.split(",")]
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise RecordingError(
                f"header lacks column(s) {', '.join(missing)}; a recording needs at least "
                f"{','.join(REQUIRED_COLUMNS)}",
                path=path, line=lineno,
            )
        if len(set(names)) != len(names):
            raise RecordingError("header repeats a column name", path=path, line=lineno)
        return _parse_meta(meta_lines, path), names, lineno, text[pos:]
    raise RecordingError("no header line found (expected t,ax,ay,az,gx,gy,gz)", path=path)


def _columns(names: list[str]) -> list[int]:
    return [names.index(c) for c in REQUIRED_COLUMNS]


def _fast_parse(body: str, names: list[str]) -> FloatArray | None:
    """numpy's C parser; ``None`` when anything is off, so the careful parser can say what."""
    if not body.strip():
        return np.empty((0, len(REQUIRED_COLUMNS)))
    try:
        data = np.loadtxt(
            io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2, comments=None,
            usecols=_columns(names),
        )
    except ValueError:
        return None
    if data.shape[1] != len(REQUIRED_COLUMNS):
        return None
    # loadtxt with usecols does not notice lines with extra or missing trailing columns
    # when the used columns parse; count the commas to be sure every line is well-formed.
    if body.count(",") != (len(names) - 1) * data.shape[0]:
        return None
    if not np.isfinite(data).all():
        return None
    t = data[:, 0]
    if t.shape[0] > 1 and (np.diff(t) < 0).any():
        return None
    return data


def _careful_parse(
    body: str, names: list[str], first_lineno: int, path: str, *, lenient: bool
) -> tuple[FloatArray, Counter[str]]:
    cols = _columns(names)
    ncols = len(names)
    rows: list[list[float]] = []
    skipped: Counter[str] = Counter()
    last_t = -math.inf
    for offset, raw in enumerate(body.split("\n")):
        lineno = first_lineno + offset
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        problem: str | None = None
        reason = ""
        fields = line.split(",")
        values: list[float] = []
        if len(fields) != ncols:
            problem = f"expected {ncols} columns, found {len(fields)}"
            reason = "wrong column count"
        else:
            for index in cols:
                text = fields[index].strip()
                try:
                    value = float(text)
                except ValueError:
                    problem = f"column {names[index]!r}: {text!r} is not a number"
                    reason = "not a number"
                    break
                if not math.isfinite(value):
                    problem = f"column {names[index]!r}: {text!r} is not a finite number"
                    reason = "not finite"
                    break
                values.append(value)
            if problem is None and values[0] < last_t:
                problem = f"t goes backwards ({values[0]:g} after {last_t:g})"
                reason = "t backwards"
        if problem is not None:
            if not lenient:
                raise RecordingError(problem, path=path, line=lineno)
            skipped[reason] += 1
            continue
        last_t = values[0]
        rows.append(values)
    data = np.array(rows, dtype=np.float64).reshape(-1, len(REQUIRED_COLUMNS))
    return data, skipped


def parse_recording(text: str, *, path: str = "<recording>", lenient: bool = False) -> Recording:
    """Parses recording text. Raises RecordingError naming the line, unless ``lenient``."""
    meta, names, header_line, body = _split_header(text, path)
    data = _fast_parse(body, names)
    skipped: Counter[str] = Counter()
    if data is None:
        data, skipped = _careful_parse(body, names, header_line + 1, path, lenient=lenient)
    block = ImuBlock.from_arrays(data[:, 0], data[:, 1:4], data[:, 4:7])
    return Recording(meta, block, sum(skipped.values()), dict(skipped))


def read_recording(path: str | os.PathLike[str], *, lenient: bool = False) -> Recording:
    """Reads a recording file; see ``parse_recording``."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordingError("no such file", path=name) from None
    except UnicodeDecodeError as exc:
        raise RecordingError(f"not a text file ({exc.reason})", path=name) from None
    except OSError as exc:
        raise RecordingError(f"cannot read: {exc.strerror}", path=name) from None
    return parse_recording(text, path=name, lenient=lenient)


class RecordingWriter:
    """Writes a recording incrementally: metadata and header first, then blocks as they come.

    Each block is flushed, so a recording interrupted by Ctrl-C or a crash keeps every sample
    written so far and stays a valid file.
    """

    def __init__(self, path: str | os.PathLike[str], meta: RecordingMeta) -> None:
        self.path = Path(path)
        self.samples = 0
        self._file: TextIO = self.path.open("w", encoding="utf-8", newline="\n")
        for line in meta.lines():
            self._file.write(line + "\n")
        self._file.write(",".join(REQUIRED_COLUMNS) + "\n")
        self._file.flush()

    def write(self, block: ImuBlock) -> None:
        if len(block) == 0:
            return
        data = np.column_stack((block.t_s, block.acc_m_s2, block.gyro_rad_s))
        np.savetxt(self._file, data, fmt=("%.6f", *(["%.6f"] * 6)), delimiter=",")
        self._file.flush()
        self.samples += len(block)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def write_recording(
    path: str | os.PathLike[str], block: ImuBlock, meta: RecordingMeta | None = None
) -> None:
    """Writes a whole recording at once."""
    with RecordingWriter(path, meta or RecordingMeta()) as writer:
        writer.write(block)
