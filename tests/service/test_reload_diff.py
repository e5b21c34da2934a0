"""What a reload changes (``sensord.config.diff_configs``): which wearables start, stop, restart
their link only (the session goes on) or restart alone (the session ends), and when the MQTT
session or the store would have to change."""

from __future__ import annotations

from pathlib import Path

from sensord.config import ConfigChanges, diff_configs, parse_config

BASE = """
[mqtt]
url = "mqtt://127.0.0.1:1883"

[ble]
adapter = "hci0"

[[wearable]]
name = "left"
side = "left"

[[wearable]]
name = "right"
side = "right"
adapter = "hci1"
"""


def _diff(old: str, new: str, env: dict[str, str] | None = None) -> ConfigChanges:
    env = env if env is not None else {"STATE_DIRECTORY": "/var/lib/sensord"}
    return diff_configs(parse_config(old, env=env), parse_config(new, env=env), env)


def test_the_same_config_changes_nothing() -> None:
    changes = _diff(BASE, BASE)
    assert changes == ConfigChanges()
    assert not changes.any


def test_wearables_are_matched_by_name() -> None:
    new = BASE.replace('name = "right"', 'name = "right2"') + '\n[[wearable]]\nname = "third"\n'
    changes = _diff(BASE, new)
    assert changes.added == ("right2", "third")
    assert changes.removed == ("right",)
    assert changes.relinked == changes.restarted == ()
    assert changes.sections == ("wearables",)


def test_link_settings_restart_the_link_and_analysis_settings_the_wearable() -> None:
    new = BASE.replace('side = "left"', 'side = "left"\naddress = "AA:BB:CC:DD:EE:FF"')
    assert _diff(BASE, new).relinked == ("left",)
    new = BASE.replace('side = "left"', 'side = "left"\nprofile = "thingy52"\nrate_hz = 50.0')
    assert _diff(BASE, new).relinked == ("left",)
    new = BASE.replace('side = "left"', 'side = "left"\nplacement = "ankle"')
    changes = _diff(BASE, new)
    assert changes.restarted == ("left",)
    assert changes.relinked == ()
    new = BASE.replace('side = "right"', 'side = "left"')
    assert _diff(BASE, new).restarted == ("right",)


def test_a_ble_change_relinks_only_the_wearables_it_reaches() -> None:
    # The default adapter is used by "left" only ("right" names its own).
    changes = _diff(BASE, BASE.replace('adapter = "hci0"', 'adapter = "hci2"'))
    assert changes.relinked == ("left",)
    assert changes.sections == ("ble",)
    # Link timing is every link's.
    changes = _diff(BASE, BASE.replace('adapter = "hci0"', 'adapter = "hci0"\nstale_after_s = 9.0'))
    assert changes.relinked == ("left", "right")
    # Naming the default adapter explicitly is no change.
    same = BASE.replace('side = "left"', 'side = "left"\nadapter = "hci0"')
    assert _diff(BASE, same).relinked == ()


def _with_mqtt(line: str) -> str:
    if line.startswith("url"):
        return BASE.replace('url = "mqtt://127.0.0.1:1883"', line)
    return BASE.replace("[mqtt]\n", f"[mqtt]\n{line}\n")


def test_mqtt_keys_that_need_a_new_session_and_those_that_do_not() -> None:
    for line in ('url = "mqtt://10.0.0.2:1883"', 'base_topic = "feet"', 'username = "me"',
                 'discovery = "off"', "keepalive_s = 60.0", 'client_id = "x"'):
        changes = _diff(BASE, _with_mqtt(line))
        assert changes.mqtt_session, line
        assert changes.sections == ("mqtt",)
    for line in ("activity_max_hz = 2.0", "status_interval_s = 5.0", "publish_raw = true",
                 "reconnect_max_s = 5.0"):
        changes = _diff(BASE, _with_mqtt(line))
        assert not changes.mqtt_session, line
        assert changes.sections == ("mqtt",)


def test_the_store_path_compares_the_file_it_resolves_to(tmp_path: Path) -> None:
    env = {"STATE_DIRECTORY": str(tmp_path)}
    explicit = BASE + f'\n[store]\npath = "{tmp_path / "sensord.db"}"\n'
    changes = _diff(BASE, explicit, env)
    assert not changes.store_path  # the default path, written out
    assert changes.sections == ("store",)
    moved = BASE + f'\n[store]\npath = "{tmp_path / "other.db"}"\n'
    assert _diff(BASE, moved, env).store_path
    assert not _diff(BASE, BASE + "\n[store]\nmax_rows = 10\n", env).store_path


def test_routine_session_and_logging_changes_touch_no_wearable() -> None:
    new = BASE + '\n[session]\nidle_end_s = 60.0\n\n[logging]\nlevel = "debug"\n'
    changes = _diff(BASE, new)
    assert changes.sections == ("session", "logging")
    assert (changes.added, changes.removed, changes.relinked, changes.restarted) == (
        (), (), (), ())
    assert not changes.mqtt_session
