"""The recording format (CONTRACTS.md section 2): parsing, errors with line numbers, writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.errors import RecordingError
from sensord.model import ImuBlock
from sensord.recording import (
    RecordingMeta,
    parse_recording,
    read_recording,
    write_recording,
)

GOOD = """# placement: ankle
# side: right
# rate_hz: 100
# device: test
# colour: blue
t,ax,ay,az,gx,gy,gz
0.00,0.1,0.2,9.8,0.01,0.02,0.03
0.01,0.1,0.2,9.8,0.01,0.02,0.03
0.02,0.1,0.2,9.8,0.01,0.02,0.03
"""


def test_parses_metadata_and_samples() -> None:
    rec = parse_recording(GOOD)
    assert rec.meta.placement == "ankle"
    assert rec.meta.side == "right"
    assert rec.meta.rate_hz == 100.0
    assert rec.meta.device == "test"
    assert ("colour", "blue") in rec.meta.extra
    assert len(rec.block) == 3
    np.testing.assert_allclose(rec.block.acc_m_s2[0], [0.1, 0.2, 9.8])
    np.testing.assert_allclose(rec.block.gyro_rad_s[2], [0.01, 0.02, 0.03])
    assert rec.skipped == 0


def test_extra_columns_in_any_order_are_found_by_name() -> None:
    text = "temp,gz,gy,gx,az,ay,ax,t\n20,3,2,1,9.8,0.2,0.1,0.5\n"
    rec = parse_recording(text)
    np.testing.assert_allclose(rec.block.t_s, [0.5])
    np.testing.assert_allclose(rec.block.acc_m_s2[0], [0.1, 0.2, 9.8])
    np.testing.assert_allclose(rec.block.gyro_rad_s[0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("0.03,0.1,0.2,9.8,0.01,0.02", "expected 7 columns, found 6"),
        ("0.03,0.1,abc,9.8,0.01,0.02,0.03", "'ay': 'abc' is not a number"),
        ("0.03,0.1,0.2,nan,0.01,0.02,0.03", "'az': 'nan' is not a finite number"),
        ("0.005,0.1,0.2,9.8,0.01,0.02,0.03", "t goes backwards"),
        ("# a comment in the data", "expected 7 columns, found 1"),
    ],
)
def test_malformed_line_is_named(bad_line: str, message: str) -> None:
    text = GOOD + bad_line + "\n0.05,0,0,9.8,0,0,0\n"
    with pytest.raises(RecordingError) as info:
        parse_recording(text, path="s.csv")
    assert str(info.value).startswith("s.csv:10: ")
    assert message in str(info.value)
    assert info.value.line == 10


def test_lenient_skips_and_counts() -> None:
    text = GOOD + "0.03,x,0,0,0,0,0\n0.04,1\n0.001,0,0,9.8,0,0,0\n0.05,0,0,9.8,0,0,0\n"
    rec = parse_recording(text, lenient=True)
    assert len(rec.block) == 4
    assert rec.skipped == 3
    assert rec.skipped_reasons == {"not a number": 1, "wrong column count": 1, "t backwards": 1}


def test_missing_header_columns_and_bad_metadata() -> None:
    with pytest.raises(RecordingError, match="header lacks column"):
        parse_recording("t,ax,ay\n1,2,3\n")
    with pytest.raises(RecordingError, match="placement is 'knee'"):
        parse_recording("# placement: knee\n" + GOOD.split("\n", 5)[5])
    with pytest.raises(RecordingError, match="no header"):
        parse_recording("# only: metadata\n")


def test_missing_file_is_a_recording_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "absent.csv")


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    block = ImuBlock.from_arrays(
        np.arange(50) * 0.01, rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    )
    meta = RecordingMeta(placement="instep", side="left", rate_hz=100.0, device="x")
    path = tmp_path / "r.csv"
    write_recording(path, block, meta)
    rec = read_recording(path)
    assert rec.meta.placement == "instep"
    assert rec.meta.side == "left"
    np.testing.assert_allclose(rec.block.t_s, block.t_s, atol=1e-6)
    np.testing.assert_allclose(rec.block.acc_m_s2, block.acc_m_s2, atol=1e-6)
    np.testing.assert_allclose(rec.block.gyro_rad_s, block.gyro_rad_s, atol=1e-6)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.,-e\n #:abtxyzgn")), max_size=300))
def test_any_text_parses_or_raises_recording_error(text: str) -> None:
    header = "t,ax,ay,az,gx,gy,gz\n"
    for candidate in (text, header + text):
        try:
            rec = parse_recording(candidate)
        except RecordingError:
            continue
        assert rec.block.t_s.shape[0] == rec.block.acc_m_s2.shape[0]
        assert np.all(np.diff(rec.block.t_s) >= 0)
        assert np.isfinite(rec.block.acc_m_s2).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(
    st.tuples(*[st.floats(-1e3, 1e3, allow_nan=False, width=32)] * 6),
    min_size=1, max_size=40,
))
def test_fast_and_careful_parsers_agree(rows: list[tuple[float, ...]]) -> None:
    lines = ["t,ax,ay,az,gx,gy,gz"]
    lines += [f"{i * 0.01:.2f}," + ",".join(repr(v) for v in row) for i, row in enumerate(rows)]
    strict = parse_recording("\n".join(lines) + "\n")
    # A trailing blank line and a bad line force the careful parser in lenient mode.
    lenient = parse_recording("\n".join([*lines, "bad"]) + "\n", lenient=True)
    assert lenient.skipped == 1
    np.testing.assert_array_equal(strict.block.acc_m_s2, lenient.block.acc_m_s2)
    np.testing.assert_array_equal(strict.block.t_s, lenient.block.t_s)
