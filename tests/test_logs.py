"""jazzd.service.logs: journald prefixes, terminal format, broken streams, the rate limiter."""

import io
import logging
import os
import re
import subprocess
import sys

import pytest

from jazzd.service import logs


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture(autouse=True)
def _reset_logger():
    yield
    logger = logging.getLogger(logs.LOGGER_NAME)
    for h in list(logger.handlers):
        logger.removeHandler(h)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def _journal_env(f):
    st = os.fstat(f.fileno())
    return {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


def test_journal_stream_gives_priority_prefixes(tmp_path):
    with open(tmp_path / "log", "w") as f:
        log = logs.setup("debug", stream=f, environ=_journal_env(f))
        log.error("bad %s", "thing")
        log.warning("port gone")
        log.info("ready")
        log.debug("detail")
        log.critical("dying")
    lines = (tmp_path / "log").read_text().splitlines()
    assert lines == ["<3>bad thing", "<4>port gone", "<6>ready", "<7>detail", "<2>dying"]


def test_journal_stream_of_another_file_is_ignored(tmp_path):
    """JOURNAL_STREAM inherited, but stderr redirected elsewhere: terminal format."""
    other = tmp_path / "other"
    other.write_text("")
    st = os.stat(other)
    with open(tmp_path / "log", "w") as f:
        log = logs.setup("info", stream=f,
                         environ={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        log.warning("port gone")
    (line,) = (tmp_path / "log").read_text().splitlines()
    assert not line.startswith("<")
    assert line.endswith(" WARNING port gone")


def test_journal_from_the_real_environment(tmp_path):
    """A child with JOURNAL_STREAM naming its own stderr, as systemd starts it."""
    code = ("import os, sys\n"
            "st = os.fstat(2)\n"
            "os.environ['JOURNAL_STREAM'] = f'{st.st_dev}:{st.st_ino}'\n"
            "from jazzd.service import logs\n"
            "log = logs.setup('info')\n"
            "log.warning('keyboard unplugged')\n"
            "log.debug('not shown at info')\n")
    with open(tmp_path / "err", "w") as err:
        subprocess.run([sys.executable, "-c", code], stderr=err, check=True, timeout=60)
    assert (tmp_path / "err").read_text() == "<4>keyboard unplugged\n"


def test_terminal_format_has_a_millisecond_timestamp():
    out = io.StringIO()
    log = logs.setup("info", stream=out, environ={})
    log.warning("port %s gone", "Keystation")
    log.debug("hidden")
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} WARNING port Keystation gone\n",
                        out.getvalue())


def test_traceback_lines_all_carry_the_prefix():
    out = io.StringIO()
    log = logs.setup("info", stream=out, journal=True)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("scheduler crashed")
    lines = out.getvalue().splitlines()
    assert lines[0] == "<3>scheduler crashed"
    assert len(lines) > 2 and all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>RuntimeError: boom"


def test_levels_and_setup_again_replaces_the_handler():
    out = io.StringIO()
    log = logs.setup("warning", stream=out, journal=True)
    log.info("quiet")
    log = logs.setup("INFO", stream=out, journal=True)      # a reload
    log.info("heard")
    assert out.getvalue() == "<6>heard\n"                     # once, not twice
    logging.getLogger("jazzd.midi").info("child logger")
    assert out.getvalue().endswith("<6>child logger\n")
    with pytest.raises(ValueError, match="verbose"):
        logs.setup("verbose")


def test_dev_full_does_not_raise():
    full = open("/dev/full", "w")
    log = logs.setup("info", stream=full, journal=True)
    for i in range(10_000):
        log.warning("line %d", i)
    assert logs.dropped() == 10_000
    try:
        full.close()                  # the file object, not the handler, complains here
    except OSError:
        pass


def test_closed_stream_does_not_raise():
    f = io.StringIO()
    log = logs.setup("info", stream=f)
    f.close()
    log.error("nobody listens")
    log.exception("still nobody")
    assert logs.dropped() == 2


def test_broken_pipe_does_not_raise():
    r, w = os.pipe()
    os.close(r)
    with open(w, "w") as f:
        log = logs.setup("info", stream=f, journal=True)
        log.warning("into the void")
        log.warning("again")
        assert logs.dropped() == 2
        try:
            f.close()
        except BrokenPipeError:
            pass


def test_stderr_is_looked_up_at_write_time(monkeypatch):
    log = logs.setup("info", journal=True)
    swapped = io.StringIO()                       # stderr replaced after setup
    monkeypatch.setattr(sys, "stderr", swapped)
    log.info("to whatever stderr is now")
    assert swapped.getvalue() == "<6>to whatever stderr is now\n"


# -- RateLimiter -------------------------------------------------------------------


def _limited(interval=1.0):
    out = io.StringIO()
    log = logs.setup("info", stream=out, journal=True)
    clock = FakeClock()
    return logs.RateLimiter(log, interval=interval, clock=clock), clock, out


def test_flood_gives_one_line_then_one_summary():
    rl, clock, out = _limited()
    for i in range(10_000):
        rl.warn("bad-sysex", "malformed message %d", i)
        clock.t += 0.00009                                 # 10 000 inside 0.9 s
    assert out.getvalue() == "<4>malformed message 0\n"
    clock.t += 0.2
    rl.warn("bad-sysex", "malformed message %d", 10_000)
    assert out.getvalue().splitlines() == [
        "<4>malformed message 0",
        "<4>malformed message 10000 (9999 more like this in the last 1.1 s)",
    ]


def test_flood_then_silence_is_summarised_by_flush():
    rl, clock, out = _limited()
    for i in range(10_000):
        rl.warn("flood", "note_off without note_on: %d", i)
    assert rl.flush() == 1
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1] == ("<4>flood: 9999 more like this in the last 0.0 s "
                        "(latest: note_off without note_on: 9999)")
    assert rl.flush() == 0                                 # nothing pending any more


def test_flush_due_only_waits_for_the_interval():
    rl, clock, out = _limited()
    for _ in range(50):
        rl.warn("k", "x")
    clock.t += 0.5
    assert rl.flush(due_only=True) == 0
    clock.t += 0.5
    assert rl.flush(due_only=True) == 1
    assert out.getvalue().splitlines()[-1] == \
        "<4>k: 49 more like this in the last 1.0 s (latest: x)"


def test_kinds_are_independent():
    rl, clock, out = _limited()
    for _ in range(100):
        rl.warn("a", "alpha")
        rl.warn("b", "beta")
    assert out.getvalue().splitlines() == ["<4>alpha", "<4>beta"]
    clock.t += 1.0
    rl.warn("a", "alpha")
    assert out.getvalue().splitlines()[-1] == "<4>alpha (99 more like this in the last 1.0 s)"
    rl.flush()
    assert out.getvalue().splitlines()[-1] == \
        "<4>b: 99 more like this in the last 1.0 s (latest: beta)"


def test_sustained_flood_logs_once_per_interval():
    rl, clock, out = _limited()
    for _ in range(50_000):                     # 5 s at 10 000 messages per second
        rl.warn("flood", "bad byte")
        clock.t += 0.0001
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    assert all("more like this" in line for line in lines[1:])


def test_a_quiet_kind_logs_every_time():
    rl, clock, out = _limited()
    for _ in range(3):
        rl.warn("rare", "device gone")
        clock.t += 2.0
    assert out.getvalue().splitlines() == ["<4>device gone"] * 3


def test_suppressed_calls_do_not_format():
    class Loud:
        formatted = 0

        def __str__(self):
            Loud.formatted += 1
            return "loud"

    rl, clock, out = _limited()
    for _ in range(1000):
        rl.warn("k", "value %s", Loud())
    assert Loud.formatted == 1


def test_many_kinds_stay_bounded():
    rl, clock, out = _limited()
    rl.max_kinds = 10
    for i in range(1000):
        rl.warn(f"kind-{i}", "x")
    assert len(rl._kinds) <= 10
