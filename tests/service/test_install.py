"""The systemd units and ``sensord install-service``, checked by systemd's own tools."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sensord.cli import app
from sensord.config import load_config
from sensord.install import SYSUSERS, plan_install, render_unit

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
needs_systemd_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("systemd-analyze", "systemd-sysusers", "systemctl")),
    reason="systemd's tools are not installed here",
)


def verify(unit: Path, *, user: bool = False, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    argv = ["systemd-analyze", *(["--user"] if user else []), "verify", str(unit)]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )


def test_shipped_files_are_the_renderings() -> None:
    assert (ROOT / "systemd" / "sensord.service").read_text() == render_unit()
    assert (ROOT / "systemd" / "user" / "sensord.service").read_text() == render_unit(user=True)
    assert (ROOT / "systemd" / "sysusers.d" / "sensord.conf").read_text() == SYSUSERS


def test_system_unit_has_what_the_service_needs() -> None:
    unit = render_unit().splitlines()
    for line in (
        "Type=notify", "WatchdogSec=30s", "User=sensord", "SupplementaryGroups=bluetooth",
        "StateDirectory=sensord", "ConfigurationDirectory=sensord",
        "LoadCredential=mqtt-password:/etc/sensord/mqtt-password", "ProtectSystem=strict",
        "ProtectHome=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_BLUETOOTH AF_NETLINK",
        "SystemCallFilter=@system-service",
        "ExecStart=/usr/local/bin/sensord run --config %E/sensord/sensord.toml",
        "WantedBy=multi-user.target",
    ):
        assert line in unit, line
    user_unit = render_unit(user=True).splitlines()
    assert "WantedBy=default.target" in user_unit
    assert not any(line.startswith(("User=", "LoadCredential=")) for line in user_unit)


def test_home_installs_keep_home_readable() -> None:
    assert "ProtectHome=read-only" in render_unit(("/home/me/venv/bin/sensord",))
    assert "ProtectHome=read-only" in render_unit(
        ("/usr/bin/python3", "-m", "sensord"), pythonpath="/root/src/sensord")


@needs_systemd_tools
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    command = (sys.executable, "-m", "sensord")
    for user in (False, True):
        unit = tmp_path / f"{'user' if user else 'system'}" / "sensord.service"
        unit.parent.mkdir()
        unit.write_text(render_unit(command, user=user, pythonpath=str(ROOT)))
        result = verify(unit, user=user, tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip() == "", result.stderr


@needs_systemd_tools
def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    unit = tmp_path / "sensord.service"
    unit.write_text(render_unit(("/nonexistent/sensord",)))
    result = verify(unit, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "/nonexistent/sensord" in result.stderr


@needs_systemd_tools
def test_odd_paths_are_quoted_for_systemd(tmp_path: Path) -> None:
    folder = tmp_path / "my 100% $tools"
    folder.mkdir()
    script = folder / "sensord"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    text = render_unit((str(script),))
    assert f'ExecStart="{str(script).replace("%", "%%")}" run' in text
    unit = tmp_path / "sensord.service"
    unit.write_text(text)
    result = verify(unit, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_dry_run_prints_the_plan_and_the_unit(tmp_path: Path) -> None:
    result = runner.invoke(app, ["install-service", "--dry-run"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "write /etc/sysusers.d/sensord.conf" in out
    assert "run systemd-sysusers /etc/sysusers.d/sensord.conf" in out
    assert "run systemctl enable sensord.service" in out
    assert "--- /etc/systemd/system/sensord.service" in out
    assert "Type=notify" in out
    into_root = runner.invoke(app, ["install-service", "--dry-run", "--root", str(tmp_path)])
    assert into_root.exit_code == 0, into_root.output
    assert f"run systemctl --root={tmp_path} enable sensord.service" in into_root.output
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_user_dry_run_uses_the_user_config_home(tmp_path: Path) -> None:
    result = runner.invoke(app, ["install-service", "--user", "--dry-run"],
                           env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert f"write {tmp_path}/systemd/user/sensord.service" in result.output
    assert "run systemctl --user enable sensord.service" in result.output
    assert list(tmp_path.iterdir()) == []


def test_root_and_user_do_not_mix(tmp_path: Path) -> None:
    result = runner.invoke(app, ["install-service", "--user", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert "--root" in result.output


@needs_systemd_tools
def test_install_into_a_root_creates_user_config_unit_and_enables(tmp_path: Path) -> None:
    root = tmp_path / "image"
    result = subprocess.run(
        [sys.executable, "-m", "sensord", "install-service", "--root", str(root)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stderr
    passwd = (root / "etc" / "passwd").read_text()
    group = (root / "etc" / "group").read_text()
    assert any(line.startswith("sensord:") and "/var/lib/sensord" in line
               for line in passwd.splitlines())
    bluetooth = next(line for line in group.splitlines() if line.startswith("bluetooth:"))
    assert "sensord" in bluetooth.split(":")[3].split(",")
    unit = root / "etc" / "systemd" / "system" / "sensord.service"
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "sensord.service"
    assert wants.is_symlink()
    assert os.readlink(wants) == "/etc/systemd/system/sensord.service"
    assert verify(unit, tmp_path=tmp_path).returncode == 0
    password = root / "etc" / "sensord" / "mqtt-password"
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    config = root / "etc" / "sensord" / "sensord.toml"
    assert load_config(config, env={}).wearables == ()
    assert "next: add your wearables" in result.stdout
    # A second run keeps the edited config and the password.
    config.write_text(config.read_text() + '\n[[wearable]]\nname = "left"\n')
    password.write_text("s3cret\n")
    again = subprocess.run(
        [sys.executable, "-m", "sensord", "install-service", "--root", str(root)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert again.returncode == 0, again.stderr
    assert f"kept {config}" in again.stdout
    assert load_config(config, env={}).wearables[0].name == "left"
    assert password.read_text() == "s3cret\n"


@needs_systemd_tools
def test_user_install_without_enabling(tmp_path: Path) -> None:
    home = tmp_path / "config"
    result = runner.invoke(app, ["install-service", "--user", "--no-enable"],
                           env={"XDG_CONFIG_HOME": str(home)})
    assert result.exit_code == 0, result.output
    unit = home / "systemd" / "user" / "sensord.service"
    assert unit.read_text().startswith("# sensord")
    assert verify(unit, user=True, tmp_path=tmp_path).returncode == 0
    config = home / "sensord" / "sensord.toml"
    assert load_config(config, env={}).mqtt.url == "mqtt://127.0.0.1:1883"
    assert "systemctl --user start sensord" in result.output


def test_a_failing_step_is_one_line_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "etc"
    blocker.write_text("a file where a directory should be")
    result = runner.invoke(app, ["install-service", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"sensord: error: cannot write {tmp_path}/etc/")
    assert len(result.output.strip().splitlines()) == 1


def test_plan_without_enable_runs_only_sysusers() -> None:
    plan = plan_install(root=Path("/img"), enable=False, command=("/usr/bin/sensord",))
    commands = [a.argv for a in plan if hasattr(a, "argv")]
    assert commands == [("systemd-sysusers", "--root=/img", "/img/etc/sysusers.d/sensord.conf")]
