"""``sensord install-service``: the systemd units, the service user and a starter config.

The units are rendered here (so an installed package carries them) and systemd/ holds the
rendering for the default command, which a test keeps identical. Installing is a plan of plain
actions (write a file, run a command) that ``--dry-run`` prints and ``apply`` carries out, so what
is shown is exactly what is done.

System service: a dedicated ``sensord`` user in the ``bluetooth`` group (BlueZ only talks to that
group over D-Bus, and ``DynamicUser=`` does not work with it), made by systemd-sysusers;
StateDirectory for the database; the MQTT password as the credential ``mqtt-password``; and
hardening in the manner of BlueZ's own bluetooth.service. User service: the same daemon in a
desktop session, with the hardening that needs no privileges.
"""

from __future__ import annotations

import logging
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import sensord
from sensord.errors import InputError, SensordError

log = logging.getLogger(__name__)

UNIT_NAME: Final = "sensord.service"
DEFAULT_COMMAND: Final = ("/usr/local/bin/sensord",)
SYSTEM_UNIT_DIR: Final = Path("/etc/systemd/system")
SYSUSERS_FILE: Final = Path("/etc/sysusers.d/sensord.conf")
SYSTEM_CONFIG_DIR: Final = Path("/etc/sensord")
_COMMAND_TIMEOUT_S: Final = 60.0

_HEADER: Final = """\
# sensord: counts foot exercises from a foot-worn IMU and publishes them over MQTT.
# Written by `sensord install-service`; keep local changes in `systemctl {flag}edit sensord`.
"""

_SYSTEM_SERVICE: Final = """\
[Unit]
Description=sensord foot-exercise tracker (BLE IMU to MQTT)
After=bluetooth.service network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={command} run --config %E/sensord/sensord.toml
ExecReload=kill -HUP $MAINPID
{environment}Restart=on-failure
RestartSec=5s
# The daemon pings only while samples flow in a session and its tasks are alive.
WatchdogSec=30s
TimeoutStopSec=15s

# A dedicated user: BlueZ grants the bluetooth group its D-Bus API (DynamicUser= cannot join it).
User=sensord
Group=sensord
SupplementaryGroups=bluetooth
StateDirectory=sensord
StateDirectoryMode=0700
ConfigurationDirectory=sensord
ConfigurationDirectoryMode=0755
# The broker password, readable only by this service as $CREDENTIALS_DIRECTORY/mqtt-password.
LoadCredential=mqtt-password:/etc/sensord/mqtt-password

# Hardening, in the manner of BlueZ's bluetooth.service.
CapabilityBoundingSet=
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome={protect_home}
PrivateTmp=yes
PrivateMounts=yes
# A bumble:usb adapter (a dongle driven without BlueZ) needs PrivateDevices=no in an override.
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
UMask=0077
# AF_UNIX: D-Bus to BlueZ, the journal, sd_notify. AF_INET/AF_INET6: the broker.
# AF_BLUETOOTH: HCI sockets (bumble's hci-socket transport). AF_NETLINK: getaddrinfo's checks.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_BLUETOOTH AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
# MemoryDenyWriteExecute= is left off: libffi closures (ctypes callbacks, used by USB
# transports) need writable executable memory.

[Install]
WantedBy=multi-user.target
"""

_USER_SERVICE: Final = """\
[Unit]
Description=sensord foot-exercise tracker (BLE IMU to MQTT), in the user session

[Service]
Type=notify
NotifyAccess=main
ExecStart={command} run --config %E/sensord/sensord.toml
ExecReload=kill -HUP $MAINPID
{environment}Restart=on-failure
RestartSec=5s
WatchdogSec=30s
TimeoutStopSec=15s

# The hardening a user manager can apply without privileges.
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_BLUETOOTH AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM

[Install]
WantedBy=default.target
"""

SYSUSERS: Final = """\
# sensord's service user (systemd-sysusers): no login, home in its state directory, and a
# member of the bluetooth group so BlueZ lets it use the adapter.
u sensord - "sensord exercise tracker" /var/lib/sensord /usr/sbin/nologin
m sensord bluetooth
"""

STARTER_CONFIG: Final = """\
# sensord configuration, written by `sensord install-service`.
# Every key is described in the documented example (config/sensord.toml in the sources) and in
# docs/service.md. Check your edits with: sensord check-config {path}

[mqtt]
url = "mqtt://127.0.0.1:1883"
# username = "sensord"
# The password never goes here: {password_hint}

# One table per wearable (typically one per foot). Uncomment and set yours;
# `sensord scan` lists the wearables in range.
# [[wearable]]
# name = "left"
# address = "AA:BB:CC:DD:EE:FF"
# side = "left"
"""


def _unit_word(arg: str, *, executable: bool = False) -> str:
    """Quotes one ExecStart word: systemd expands ``%`` specifiers everywhere and ``$``
    variables in the arguments (not in the executable's path)."""
    escaped = arg.replace("%", "%%")
    if not executable:
        escaped = escaped.replace("$", "$$")
    if any(ch.isspace() for ch in escaped) or '"' in escaped or "\\" in escaped:
        escaped = '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def render_unit(
    command: Sequence[str] = DEFAULT_COMMAND, *, user: bool = False,
    pythonpath: str | None = None,
) -> str:
    """The unit file text for running ``command`` (the sensord executable, or python -m).

    ``ProtectHome`` becomes ``read-only`` when the command lives under /home or /root (a
    virtualenv there must stay readable). ``pythonpath`` is set when sensord runs from a
    source tree rather than an installed package.
    """
    environment = (
        f"Environment={_unit_word('PYTHONPATH=' + pythonpath, executable=True)}\n"
        if pythonpath else ""
    )
    executable = Path(command[0])
    in_home = any(executable.is_relative_to(p) for p in (Path("/home"), Path("/root")))
    if pythonpath:
        in_home = in_home or any(
            Path(pythonpath).is_relative_to(p) for p in (Path("/home"), Path("/root")))
    template = _USER_SERVICE if user else _SYSTEM_SERVICE
    body = template.format(
        command=" ".join(
            _unit_word(a, executable=index == 0) for index, a in enumerate(command)),
        environment=environment,
        protect_home="read-only" if in_home else "yes",
    )
    return _HEADER.format(flag="--user " if user else "") + body


def sensord_command() -> tuple[tuple[str, ...], str | None]:
    """How systemd should start this sensord: (command, PYTHONPATH or None).

    The ``sensord`` script beside the running interpreter (a virtualenv's bin/) if there is one,
    else on PATH, else ``python -m sensord`` with the source tree on PYTHONPATH when the package
    is not installed.
    """
    beside = Path(sys.executable).parent / "sensord"
    if beside.is_file() and os.access(beside, os.X_OK):
        return (str(beside),), None
    found = shutil.which("sensord")
    if found:
        return (found,), None
    package_root = Path(sensord.__file__).resolve().parents[1]
    installed = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    return (sys.executable, "-m", "sensord"), (
        None if package_root in installed else str(package_root))


@dataclass(frozen=True, slots=True)
class WriteFile:
    """Write ``content`` to ``path`` with ``mode``; ``keep`` leaves an existing file alone."""

    path: Path
    content: str
    mode: int
    why: str
    keep: bool = False


@dataclass(frozen=True, slots=True)
class RunCommand:
    """Run a program (never through a shell)."""

    argv: tuple[str, ...]
    why: str


Action = WriteFile | RunCommand


def _under(root: Path | None, path: Path) -> Path:
    return path if root is None else root / path.relative_to("/")


def plan_install(
    *, user: bool = False, root: Path | None = None, enable: bool = True,
    command: Sequence[str] | None = None, pythonpath: str | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Action]:
    """What ``install-service`` does, in order. ``root`` installs into another file system
    tree (an image being built, or a test), as ``systemctl --root`` does."""
    env = os.environ if env is None else env
    if command is None:
        command, pythonpath = sensord_command()
    if user and root is not None:
        raise InputError("--root installs the system service; it does not go with --user")
    unit = render_unit(command, user=user, pythonpath=pythonpath)
    if user:
        config_home = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        config_path = config_home / "sensord" / "sensord.toml"
        hint = "set mqtt.password_file, or SENSORD_MQTT_PASSWORD with `systemctl --user edit`."
        actions: list[Action] = [
            WriteFile(config_path, STARTER_CONFIG.format(path=config_path, password_hint=hint),
                      0o644, "a starter config (an existing one is kept)", keep=True),
            WriteFile(config_home / "systemd" / "user" / UNIT_NAME, unit, 0o644,
                      "the user unit"),
        ]
        if enable:
            actions += [
                RunCommand(("systemctl", "--user", "daemon-reload"), "load the unit"),
                RunCommand(("systemctl", "--user", "enable", UNIT_NAME),
                           "start it with the session"),
            ]
        return actions
    sysusers = _under(root, SYSUSERS_FILE)
    config_path = SYSTEM_CONFIG_DIR / "sensord.toml"
    hint = (f"put it in {SYSTEM_CONFIG_DIR / 'mqtt-password'} (mode 0600), which systemd "
            "hands to the service as a credential.")
    root_args = () if root is None else (f"--root={root}",)
    actions = [
        WriteFile(sysusers, SYSUSERS, 0o644, "the sensord user, in the bluetooth group"),
        RunCommand(("systemd-sysusers", *root_args, str(sysusers)), "create the user"),
        WriteFile(_under(root, config_path),
                  STARTER_CONFIG.format(path=config_path, password_hint=hint), 0o644,
                  "a starter config (an existing one is kept)", keep=True),
        WriteFile(_under(root, SYSTEM_CONFIG_DIR / "mqtt-password"), "", 0o600,
                  "the broker password, empty for none (an existing one is kept)", keep=True),
        WriteFile(_under(root, SYSTEM_UNIT_DIR / UNIT_NAME), unit, 0o644, "the system unit"),
    ]
    if enable:
        if root is None:
            actions.append(RunCommand(("systemctl", "daemon-reload"), "load the unit"))
        actions.append(RunCommand(("systemctl", *root_args, "enable", UNIT_NAME),
                                  "start it at boot"))
    return actions


def describe(actions: Sequence[Action]) -> list[str]:
    """The plan in words, then the unit text (for ``--dry-run``)."""
    lines: list[str] = []
    for action in actions:
        if isinstance(action, WriteFile):
            lines.append(f"write {action.path} (mode {action.mode:04o}): {action.why}")
        else:
            lines.append(f"run {' '.join(action.argv)}: {action.why}")
    for action in actions:
        if isinstance(action, WriteFile) and action.path.suffix == ".service":
            lines += ["", f"--- {action.path}", *action.content.splitlines()]
    return lines


def apply(actions: Sequence[Action]) -> list[str]:
    """Carries the plan out; returns what was done, one line each. Stops at the first failure
    with a SensordError saying which step failed and why."""
    done: list[str] = []
    for action in actions:
        if isinstance(action, WriteFile):
            if action.keep and action.path.exists():
                done.append(f"kept {action.path}")
                continue
            try:
                action.path.parent.mkdir(parents=True, exist_ok=True)
                temporary = action.path.with_name(action.path.name + ".tmp")
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, action.mode)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(action.content)
                os.chmod(temporary, action.mode)
                temporary.replace(action.path)
            except OSError as exc:
                raise SensordError(f"cannot write {action.path}: {exc.strerror}") from exc
            done.append(f"wrote {action.path}")
            continue
        try:
            result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                action.argv, capture_output=True, text=True, check=False,
                timeout=_COMMAND_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SensordError(f"cannot run {action.argv[0]}: {exc}") from exc
        if result.returncode != 0:
            detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
            reason = detail[-1] if detail else f"exit code {result.returncode}"
            raise SensordError(f"{' '.join(action.argv)} failed: {reason}")
        done.append(f"ran {' '.join(action.argv)}")
    return done


__all__ = [
    "DEFAULT_COMMAND", "SYSUSERS", "Action", "RunCommand", "WriteFile", "apply", "describe",
    "plan_install", "render_unit", "sensord_command",
]
