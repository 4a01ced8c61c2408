"""The unit files in systemd/: `systemd-analyze verify`, and the settings issue 5 requires.

`systemd-analyze verify` exits 0 on unknown keys and unparsable values (it only warns,
"ignoring"), so a unit passes here only when the exit status is 0 AND no line of its
output names the unit. The negative tests check that this catches real mistakes.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jazzd.service import errors
from jazzd.commands.cli import build_parser

SYSTEMD_DIR = Path(__file__).resolve().parent.parent / "systemd"
SYSTEM_UNIT = SYSTEMD_DIR / "jazzd-system.service"
USER_UNIT = SYSTEMD_DIR / "jazzd.service"
UNITS = {"system": SYSTEM_UNIT, "user": USER_UNIT}

REQUIRED = bool(os.environ.get("JAZZD_REQUIRE_JACK"))


# -- a small unit-file reader (repeated keys are normal in units, so no configparser) --


def parse_unit(text):
    """{section: [(key, value, comment_lines_above)]}, in file order."""
    sections, current, comments = {}, None, []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            comments = []
        elif line.startswith(("#", ";")):
            comments.append(line)
        elif line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            comments = []
        else:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip(), list(comments)))
    return sections


def values(unit, key, section="Service"):
    return [v for k, v, _ in parse_unit(unit.read_text())[section] if k == key]


def value(unit, key, section="Service"):
    found = values(unit, key, section)
    assert len(found) == 1, f"{unit.name}: expected one {key}=, found {found}"
    return found[0]


def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|min)?", text)
    assert m, text
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "min": 60, None: 1}[m.group(2)]


# -- static checks -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", UNITS)
def test_notify_watchdog_restart(kind):
    unit = UNITS[kind]
    assert value(unit, "Type") == "notify"
    assert 2 <= seconds(value(unit, "WatchdogSec")) <= 60
    assert value(unit, "Restart") == "on-failure"
    prevent = value(unit, "RestartPreventExitStatus").split()
    assert str(errors.EX_CONFIG) == "78" and "78" in prevent
    assert str(errors.ModelError.status) in prevent          # a missing model stays missing
    # ...but "no JACK server yet" (69) must be retried until the server is up
    assert str(errors.EX_UNAVAILABLE) not in prevent
    assert value(unit, "StartLimitIntervalSec", "Unit") == "0"


@pytest.mark.parametrize("kind", UNITS)
def test_reload_sends_sighup_to_the_main_process(kind):
    argv = shlex.split(value(UNITS[kind], "ExecReload"))
    assert argv[0] == "/bin/kill" and argv[1:] == ["-HUP", "$MAINPID"]


@pytest.mark.parametrize("kind,config", [("system", "/etc/jazzd/config.yaml"),
                                         ("user", "%E/jazzd/config.yaml")])
def test_execstart_is_a_valid_jazzd_run_command_line(kind, config):
    argv = shlex.split(value(UNITS[kind], "ExecStart"))
    assert argv[0].endswith("/bin/jazzd")
    parser = build_parser()
    args = parser.parse_args(argv[1:])       # the real CLI accepts exactly this
    assert args.command == "run"
    assert args.config == config


def test_system_unit_runs_as_a_dedicated_user_with_realtime_limits():
    assert value(SYSTEM_UNIT, "User") == "jazzd"
    assert value(SYSTEM_UNIT, "SupplementaryGroups") == "audio"
    assert int(value(SYSTEM_UNIT, "LimitRTPRIO")) >= 50
    assert value(SYSTEM_UNIT, "ExecStart").startswith("/opt/jazzd/.venv/bin/jazzd ")
    assert "modprobe@snd_seq.service" in value(SYSTEM_UNIT, "After", "Unit").split()


def test_user_unit_has_no_user_and_no_raised_limits():
    """A user manager cannot switch users or raise limits above its own."""
    settings = [k for k, _, _ in parse_unit(USER_UNIT.read_text())["Service"]]
    assert not [k for k in settings if k in ("User", "Group", "Nice")
                or k.startswith("Limit")]
    assert value(USER_UNIT, "ExecStart").startswith("%h/.local/share/jazzd/venv/bin/jazzd ")
    # without it a user manager cannot build the file-system sandbox (systemd.exec(5))
    assert value(USER_UNIT, "PrivateUsers") == "yes"


@pytest.mark.parametrize("kind", UNITS)
def test_hardening_that_keeps_alsa_and_jack(kind):
    unit = UNITS[kind]
    assert value(unit, "NoNewPrivileges") == "yes"
    assert value(unit, "ProtectSystem") == "strict"
    assert value(unit, "ProtectHome") in ("yes", "read-only")
    assert value(unit, "PrivateTmp") == "yes"
    assert value(unit, "DevicePolicy") == "closed"
    assert value(unit, "DeviceAllow") == "char-alsa rw"
    assert value(unit, "RestrictAddressFamilies") == "AF_UNIX"
    assert value(unit, "MemoryMax").endswith(("M", "G"))
    assert "JACK_NO_START_SERVER=1" in " ".join(values(unit, "Environment")).split()


FORBIDDEN = {
    "PrivateDevices": "hides /dev/snd",
    "RestrictRealtime": "forbids SCHED_FIFO for the scheduler and JACK threads",
    "PrivateIPC": "jack2 locks its shared-memory registry with a System V semaphore",
    "RemoveIPC": "deletes the shared memory of a jackd running as the same user",
    "DynamicUser": "implies RemoveIPC=yes",
    "ProcSubset": "hides /proc/asound",
}


@pytest.mark.parametrize("kind", UNITS)
def test_nothing_that_breaks_alsa_or_jack(kind):
    sections = parse_unit(UNITS[kind].read_text())
    for key, val, _ in sections["Service"]:
        if key in FORBIDDEN:
            assert val.lower() in ("no", "false", "0", "off"), f"{key}=: {FORBIDDEN[key]}"
        if key in ("InaccessiblePaths", "TemporaryFileSystem", "TemporaryFileSystems"):
            assert "/dev/shm" not in val and "/dev" not in val.split(), \
                "JACK keeps its sockets and shared memory in /dev/shm"
        if key == "SystemCallFilter" and val.startswith("~"):
            assert "@resources" not in val, "realtime threads need sched_setscheduler"


@pytest.mark.parametrize("kind", UNITS)
def test_every_setting_says_why_it_is_there(kind):
    """Each group of settings in [Service] has a comment right above it."""
    text = UNITS[kind].read_text()
    in_service, previous = False, ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            in_service = line == "[Service]"
        elif in_service and line and not line.startswith("#"):
            assert previous.startswith("#") or (previous and not previous.startswith("[")), \
                f"{UNITS[kind].name}: no comment above {line!r}"
        previous = line


# -- systemd-analyze ---------------------------------------------------------------------


def _tool():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if REQUIRED:
            pytest.fail("systemd-analyze is missing (JAZZD_REQUIRE_JACK is set: install systemd)")
        pytest.skip("systemd-analyze is not installed")
    return tool


def _jazzd_binary():
    """An executable jazzd to stand in for the installed one."""
    for candidate in (Path(sys.executable).parent / "jazzd", shutil.which("jazzd")):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    return sys.executable


def verify(tmp_path, text, name, user=False):
    """Run `systemd-analyze verify` on `text` saved as `name`; return (status, problems)."""
    unit_dir = tmp_path / "units"
    unit_dir.mkdir(exist_ok=True)
    path = unit_dir / name
    path.write_text(text)
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True, mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), HOME=str(tmp_path / "home"),
               SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="")
    env.pop("XDG_CONFIG_HOME", None)
    cmd = [_tool()] + (["--user"] if user else []) + ["verify", "--man=no", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    output = proc.stdout + proc.stderr
    problems = [line for line in output.splitlines() if name in line]
    return proc.returncode, problems, output


def system_unit_for_test():
    """The system unit with ExecStart pointing at a jazzd that exists here."""
    text = SYSTEM_UNIT.read_text()
    assert "ExecStart=/opt/jazzd/.venv/bin/jazzd " in text
    return text.replace("ExecStart=/opt/jazzd/.venv/bin/jazzd ",
                        f"ExecStart={_jazzd_binary()} ")


def user_home_for_test(tmp_path):
    """A home directory with jazzd where the user unit expects it (%h/.local/share/...)."""
    bin_dir = tmp_path / "home" / ".local" / "share" / "jazzd" / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "jazzd").symlink_to(_jazzd_binary())


def test_verify_system_unit(tmp_path):
    status, problems, output = verify(tmp_path, system_unit_for_test(), "jazzd.service")
    assert status == 0 and not problems, output


def test_verify_user_unit_as_shipped(tmp_path):
    """Unmodified: %h must expand to a home where the documented venv path exists."""
    user_home_for_test(tmp_path)
    status, problems, output = verify(tmp_path, USER_UNIT.read_text(), "jazzd.service",
                                      user=True)
    assert status == 0 and not problems, output


def test_verify_user_unit_fails_without_the_venv(tmp_path):
    status, problems, output = verify(tmp_path, USER_UNIT.read_text(), "jazzd.service",
                                      user=True)
    assert status != 0 and any("not executable" in p for p in problems), output


@pytest.mark.parametrize("old,new,why", [
    ("Restart=on-failure", "Restart=on-failur", "a misspelt value"),
    ("WatchdogSec=10s", "WatchdogSec=ten seconds", "an unparsable time"),
    ("NoNewPrivileges=yes", "NoNewPrivilege=yes", "a misspelt key"),
    ("DeviceAllow=char-alsa rw", "DeviceAllow=char-alsa rwx", "bad access flags"),
    ("ExecReload=/bin/kill", "ExecReload=/bin/no-such-kill", "a missing program"),
])
def test_verify_catches_a_broken_copy(tmp_path, old, new, why):
    text = system_unit_for_test()
    assert old in text
    status, problems, output = verify(tmp_path, text.replace(old, new, 1), "jazzd.service")
    assert status != 0 or problems, f"{why} went unnoticed:\n{output}"


def _exposure(tmp_path, text, user=False):
    unit_dir = tmp_path / "sec"
    unit_dir.mkdir()
    (unit_dir / "jazzd.service").write_text(text)
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), HOME=str(tmp_path / "home"),
               SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="")
    cmd = [_tool()] + (["--user"] if user else []) + [
        "security", "--offline=yes", "--no-pager", str(unit_dir / "jazzd.service")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    m = re.search(r"Overall exposure level for jazzd\.service: (\d+\.\d)", proc.stdout)
    if m is None and "offline" in proc.stderr:
        pytest.skip(f"this systemd-analyze has no offline security analysis: {proc.stderr}")
    assert m, proc.stdout + proc.stderr
    return float(m.group(1))


def test_system_unit_exposure_is_low(tmp_path):
    """`systemd-analyze security` scores 0 (locked down) to 10 (exposed); it said 0.8."""
    assert _exposure(tmp_path, system_unit_for_test()) <= 1.5


def test_exposure_score_notices_lost_hardening(tmp_path):
    text = system_unit_for_test()
    weakened = "\n".join(line for line in text.splitlines()
                         if not line.startswith(("Protect", "Private", "Restrict",
                                                 "SystemCall", "CapabilityBoundingSet")))
    assert _exposure(tmp_path, weakened) > 5.0
