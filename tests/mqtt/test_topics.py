"""Topic ids: nothing a user names a wearable can change what a topic means."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensord.errors import ConfigError
from sensord.sinks.topics import Topics, check_topic_prefix, wearable_id, wearable_ids


@given(st.text())
def test_any_name_gives_a_topic_safe_id(name: str) -> None:
    ident = wearable_id(name)
    assert re.fullmatch(r"[a-z0-9_-]*", ident)
    assert not ident.startswith("_")
    assert not ident.endswith("_")


@pytest.mark.parametrize(
    ("name", "ident"),
    [("left", "left"), ("Left Foot", "left_foot"), ("a/b+c#d", "a_b_c_d"),
     ("x\x00\ny", "x_y"), ("  Ré-1 ", "r_-1")],
)
def test_names_map_to_readable_ids(name: str, ident: str) -> None:
    assert wearable_id(name) == ident


def test_two_names_with_one_id_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"wearable\[1\]\.name.*both become the topic id 'left'"):
        wearable_ids(["left", "LEFT"])


@pytest.mark.parametrize("name", ["///", "bridge", "   "])
def test_unusable_and_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError):
        wearable_ids([name])


@pytest.mark.parametrize("prefix", ["", "a/", "/a", "a//b", "a/+/b", "a#", "a\nb"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.base_topic"):
        check_topic_prefix(prefix, "mqtt.base_topic")


def test_command_topics_parse_back_and_results_do_not_match_the_filter() -> None:
    topics = Topics("home/sensord")
    assert topics.parse_cmd(topics.cmd("left", "identify")) == ("left", "identify")
    assert topics.parse_cmd(topics.cmd_result("left", "identify")) is None
    assert topics.parse_cmd("other/left/cmd/start") is None
    assert topics.cmd_filter == "home/sensord/+/cmd/+"
