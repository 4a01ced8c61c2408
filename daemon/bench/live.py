"""The live sections of `jazzd bench`: `jazzd run` under a private JACK server.

Everything here is measured from outside, as a user or systemd would see the daemon:

- start to ready: spawn → READY=1 on a NOTIFY_SOCKET datagram socket we bind;
- RSS and CPU: /proc/PID/status VmRSS and /proc/PID/stat utime+stime, in 1-s windows,
  idle (no chord held) and then playing (a chord held from a JACK port we open);
- onset error: note_on arrival times at a JACK input port we open, against the grid
  of the internal clock (tempo known, phase fitted), next to the floor of the same
  path with no daemon in it (our own process scheduling into our own port).

The JACK server uses the dummy driver (no sound card needed), so its 64-frame period
(1.33 ms) is the floor of any onset error measured through it.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from jazzd.bench.report import Bar, Figure, NotMeasured, missing
from jazzd.model.style import only_length
from jazzd.bench.jack_peers import Keyboard, PortNotFound, Recorder
from jazzd.bench.jack_server import JackServer, JackUnavailable

READY_BAR = Bar("p99", 1.5, "s")
RSS_BAR = Bar("max", 120, "MB")
CPU_BAR = Bar("value", 5, "%")         # playing 16ths at 120 bpm, % of one core
IDLE_CPU_BAR = Bar("value", 1, "%")    # idle: a Raspberry Pi beside a stage piano
LATE_CYCLES_BAR = Bar("value", 1, "cycles")   # per 10 minutes, at 64 frames
STUCK_BAR = Bar("value", 0, "notes")

BPM = 120
CHORD = (48, 52, 55, 58)          # C7, held by the "keyboard"
# The style's duration weights: sixteenths only (weight 0 forbids a duration), no rests.
SIXTEENTHS = only_length(3)


def _jack(ctx):
    """The run's JACK server, started on first use and stopped when the bench ends."""
    if "jack" not in ctx.shared:
        workdir = tempfile.mkdtemp(prefix="jazzd-bench-")
        ctx.shared["workdir"] = workdir
        try:
            server = JackServer(os.path.join(workdir, "jackd.log"), prefix="jazzd-bench")
        except JackUnavailable as e:
            ctx.shared["jack"] = NotMeasured(str(e)[-300:].replace("\n", " | "))
            raise ctx.shared["jack"] from None
        ctx.shared["jack"] = server
        ctx.closers.append(server.close)
        ctx.closers.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    if isinstance(ctx.shared["jack"], NotMeasured):
        raise ctx.shared["jack"]
    return ctx.shared["jack"]


# -- MIDI peers: jazzd.bench.jack_peers (shared with the tests) ------------------------

def _peer(cls, *args, **kw):
    """A jack_peers Recorder or Keyboard; a missing port means the figure is not measured."""
    try:
        return cls(*args, **kw)
    except PortNotFound as e:
        raise NotMeasured(str(e)) from None


# -- the daemon ---------------------------------------------------------------------------

class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, f"notify-{uuid.uuid4().hex[:8]}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def wait_ready(self, proc, timeout):
        """Monotonic time of the first READY=1, or None (timeout, or the process died)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return None
            self.sock.settimeout(0.05)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            now = time.monotonic()
            if b"READY=1" in data.split(b"\n"):
                return now
        return None

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def _model_setting(model):
    return model if model == "default" else os.path.abspath(model)


def write_config(path, tag, model, style=None, extra=None):
    """The daemon's config: JACK, virtual ports named after `tag`, straight 120 bpm;
    `extra` sections update it."""
    import yaml
    cfg = {
        "midi": {"backend": "jack", "input": f"virtual:{tag}-in",
                 "output": f"virtual:{tag}-out", "debounce_ms": 20},
        "tempo": {"source": "internal", "bpm": BPM, "swing": 0.5},
        "improviser": {"model": _model_setting(model), "seed": 1},
        "logging": {"level": "warning"},
    }
    if style:
        cfg["style"] = style
    for sec, keys in (extra or {}).items():
        cfg.setdefault(sec, {}).update(keys)
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return path


class DaemonRun:
    """`jazzd run --config FILE` spawned with NOTIFY_SOCKET; `ready_s` is spawn → READY=1."""

    def __init__(self, ctx, jack, style=None, timeout=30.0, extra=None):
        workdir = ctx.shared["workdir"]
        self.tag = f"jzb{uuid.uuid4().hex[:6]}"
        cfg = write_config(os.path.join(workdir, f"{self.tag}.yaml"), self.tag, ctx.model,
                           style, extra)
        self.logpath = os.path.join(workdir, f"{self.tag}.log")
        self.notify = NotifySocket(workdir)
        env = dict(jack.env, NOTIFY_SOCKET=self.notify.path)
        with open(self.logpath, "wb") as log:
            t0 = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jazzd", "run", "--config", cfg],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        ready = self.notify.wait_ready(self.proc, timeout)
        if ready is None:
            rc = self.stop()
            raise NotMeasured(f"jazzd run did not become ready (exit status {rc}): "
                              f"{self.log_tail()}")
        self.ready_s = ready - t0

    def log_tail(self):
        try:
            with open(self.logpath, errors="replace") as f:
                lines = [ln.strip() for ln in f if ln.strip()]
        except OSError:
            return ""
        return lines[-1] if lines else "(no output)"

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal the daemon and wait; its exit status (killed after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.notify.close()
        return self.proc.returncode

    def close(self, *peers):
        """After a measurement, whatever happened: the daemon stopped and the JACK
        peers (None for one never opened) closed."""
        if self.proc.poll() is None:
            self.stop()
        for peer in peers:
            if peer is not None:
                peer.close()


# -- /proc ---------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def family(pid):
    """The daemon's pid and its children's: its JACK ports run in processes of their
    own (jazzd.live.jack_bridge), and their memory and CPU are the daemon's too."""
    pids = [pid]
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        pids.append(int(p))
            except (OSError, ValueError, IndexError):
                pass
    return pids


def memory_mb(pid):
    """VmRSS and its parts (RssAnon, RssFile, RssShmem) in MB, from /proc/PID/status,
    summed over the daemon and its JACK processes.

    A JACK client maps the server's shared segments (about 105 MB with jackd's default
    port-max), and they count in its VmRSS: RssShmem separates them from the daemon's own.
    """
    out = {}
    for p in family(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                        out[key] = out.get(key, 0.0) + int(line.split()[1]) / 1024
        except OSError:
            pass
    if "VmRSS" not in out:
        raise NotMeasured(f"no VmRSS in /proc/{pid}/status")
    return out


def cpu_seconds(pid):
    """utime + stime of the daemon and its JACK processes."""
    total = 0.0
    for p in family(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except OSError:
            pass
    return total


def sample(pid, seconds, window=1.0):
    """RSS (MB) and CPU (% of one core) in `window`-second slices for `seconds`.

    Returns (memory samples (dicts of memory_mb), cpu samples, total cpu %)."""
    rss, cpu = [], []
    t_start = t = time.monotonic()
    c_start = c = cpu_seconds(pid)
    end = t_start + seconds
    while t < end - 1e-3:
        time.sleep(min(window, end - t))
        t2, c2 = time.monotonic(), cpu_seconds(pid)
        rss.append(memory_mb(pid))
        cpu.append(100 * (c2 - c) / (t2 - t))
        t, c = t2, c2
    return rss, cpu, 100 * (c - c_start) / (t - t_start)


# -- onset error ----------------------------------------------------------------------------

def onset_errors(times, period):
    """|onset − grid| in ms: the grid has a known `period` (s); its phase is fitted
    as the median offset, so a constant latency is not counted as error.

    Also returns the tempo error in ppm from a least-squares fit of the grid index."""
    if len(times) < 3:
        raise NotMeasured(f"only {len(times)} onsets were recorded")
    t0 = times[0]
    k = [round((t - t0) / period) for t in times]
    off = [(t - t0) - i * period for t, i in zip(times, k)]
    phase = sorted(off)[len(off) // 2]
    errors = [abs(o - phase) * 1e3 for o in off]
    n = len(k)
    mk, mt = sum(k) / n, sum(times) / n
    var = sum((i - mk) ** 2 for i in k)
    slope = sum((i - mk) * (t - mt) for i, t in zip(k, times)) / var if var else period
    return errors, (slope / period - 1) * 1e6


def note_ons(events, since=None, until=None):
    return [t for t, m in events
            if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2] > 0
            and (since is None or t >= since) and (until is None or t <= until)]


def stuck_notes(events):
    """note_ons still sounding at the end of the stream (CC123 does not count: a
    receiver that ignores it would keep them)."""
    sounding = {}
    for _, m in events:
        if len(m) != 3:
            continue
        kind, key = m[0] & 0xF0, (m[0] & 0x0F, m[1])
        if kind == 0x90 and m[2] > 0:
            sounding[key] = sounding.get(key, 0) + 1
        elif kind == 0x80 or (kind == 0x90 and m[2] == 0):
            sounding.pop(key, None)
    return sum(sounding.values())


def loopback_floor(ctx, seconds, period):
    """Our own process sends note_ons at absolute deadlines (jazzd.live.scheduler) into our
    own JACK input: the onset error of the path with no daemon in it."""
    from jazzd.live.scheduler import Scheduler
    tag = f"jzf{uuid.uuid4().hex[:6]}"
    listener = _peer(Recorder, f"{tag}-listen", virtual=f"{tag}-floor-in")
    kbd = _peer(Keyboard, f"{tag}-play", connect_to=f"{tag}-floor-in")
    sched = Scheduler(kbd.send_message, channel=1, lead=kbd.lead)   # as the daemon's
    try:
        time.sleep(0.2)
        sched.start()
        t0 = time.monotonic() + 0.1
        n = int(seconds / period)
        for i in range(n):
            on = t0 + i * period
            sched.note(on, on + period / 2, 60 + i % 12, 90)
        time.sleep(n * period + 0.3)
        times = note_ons(listener.snapshot())
    finally:
        sched.stop()
        kbd.close()
        listener.close()
    return onset_errors(times, period)


# -- one performance, shared by the playing and onset sections ------------------------------

def perform(ctx):
    """Start the daemon, measure it idle, hold a chord, measure it playing, SIGTERM it."""
    if "performance" in ctx.shared:
        got = ctx.shared["performance"]
        if isinstance(got, NotMeasured):
            raise got
        return got
    try:
        got = _perform(ctx)
    except NotMeasured as e:
        ctx.shared["performance"] = e
        raise
    ctx.shared["performance"] = got
    return got


def _perform(ctx):
    jack = _jack(ctx)
    idle_s, play_s = (3.0, 5.0) if ctx.quick else (10.0, 10.0)
    d = DaemonRun(ctx, jack, style={"duration_weights": SIXTEENTHS, "rest_probability": 0.0},
                  extra={"logging": {"level": "info"}})      # its stop line: late cycles
    listener = kbd = None
    try:
        listener = _peer(Recorder, f"{d.tag}-listen", connect_to=f"{d.tag}-out")
        kbd = _peer(Keyboard, f"{d.tag}-kbd", connect_to=f"{d.tag}-in")
        time.sleep(0.3)
        pid = d.proc.pid
        idle_rss, idle_cpu, idle_total = sample(pid, idle_s)
        for n in CHORD:
            kbd.send(0x90, n, 80)
        t_chord = time.monotonic()
        play_rss, play_cpu, play_total = sample(pid, play_s)
        t_end = time.monotonic()
        rc = d.stop()
        time.sleep(0.3)             # the last note_offs and CC123 on their way
        events = listener.snapshot()
        late = jack_timing(d.logpath)
    finally:
        d.close(kbd, listener)
    onsets = note_ons(events, since=t_chord, until=t_end)
    if not onsets:
        raise NotMeasured(f"jazzd run played no note in {play_s:.0f} s with {CHORD} held "
                          f"({d.log_tail()})")
    return {"ready_s": d.ready_s, "idle": (idle_rss, idle_cpu, idle_total),
            "play": (play_rss, play_cpu, play_total), "onsets": onsets,
            "notes_per_s": len(onsets) / (t_end - t_chord), "exit": rc,
            "stuck": stuck_notes(events), "seconds": (idle_s, play_s), "late": late,
            "run_s": t_end - t_chord + idle_s}


def jack_timing(logpath):
    """(JACK cycles the daemon's clients finished late, messages played after their
    frame) from its stop line, or None."""
    import re
    try:
        with open(logpath, errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r"JACK: (\d+) cycles our clients finished late, (\d+) messages", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


# -- sections --------------------------------------------------------------------------------

def section_ready(ctx):
    """Spawn → READY=1, several times, vs spawn → exit of `python -c 'import numpy, mido,
    yaml'` (what any Python program with the daemon's light imports pays)."""
    jack = _jack(ctx)
    n = 3 if ctx.quick else 7
    ready, base = [], []
    for _ in range(n):
        d = DaemonRun(ctx, jack)
        ready.append(d.ready_s)
        d.stop()
        t = time.monotonic()
        subprocess.run([sys.executable, "-c", "import numpy, mido, yaml"], check=True)
        base.append(time.monotonic() - t)
    return [
        Figure("ready.run", "jazzd run: spawn to READY=1", "s", ready,
               baseline="ready.imports", bar=READY_BAR,
               note="JACK backend, virtual ports, model loaded, threads started"),
        Figure("ready.imports", "python -c 'import numpy, mido, yaml'", "s", base,
               role="baseline", short="python imports"),
    ]


def section_playing(ctx):
    """RSS and CPU of `jazzd run` playing over a held chord, vs the same daemon idle."""
    p = perform(ctx)
    idle_rss, idle_cpu, idle_total = p["idle"]
    play_rss, play_cpu, play_total = p["play"]
    idle_s, play_s = p["seconds"]
    def own(samples):
        return [m.get("RssAnon", 0) + m.get("RssFile", 0) for m in samples]

    shm = play_rss[-1].get("RssShmem")
    return [
        Figure("playing.rss", "RSS while playing (VmRSS)", "MB",
               [m["VmRSS"] for m in play_rss], baseline="playing.rss_idle",
               bar=None if shm else RSS_BAR,
               note=f"VmRSS includes {shm:.0f} MB of the JACK server's shared memory "
                    f"(RssShmem), mapped by every JACK client and counted in jackd's "
                    f"own RSS too; the bar applies to the daemon's own memory below"
                    if shm else None),
        Figure("playing.rss_idle", "RSS idle, no chord held (VmRSS)", "MB",
               [m["VmRSS"] for m in idle_rss], role="baseline", short="RSS idle"),
        Figure("playing.rss_own", "RSS while playing, own (RssAnon+RssFile)", "MB",
               own(play_rss), baseline="playing.rss_own_idle", bar=RSS_BAR),
        Figure("playing.rss_own_idle", "RSS idle, own (RssAnon+RssFile)", "MB",
               own(idle_rss), role="baseline", short="own RSS idle"),
        Figure("playing.cpu_window", "CPU while playing, 1-s windows", "%", play_cpu,
               baseline="playing.cpu_idle_window"),
        Figure("playing.cpu_idle_window", "CPU idle, 1-s windows", "%", idle_cpu,
               role="baseline", short="CPU idle"),
        Figure("playing.cpu", f"CPU while playing, whole {play_s:.0f} s", "%",
               value=play_total, baseline="playing.cpu_idle", bar=CPU_BAR,
               note=f"{p['notes_per_s']:.2f} notes/s at {BPM} bpm over {CHORD} "
                    f"(16ths = {BPM / 60 * 4:.0f}/s); % of one core"),
        Figure("playing.cpu_idle", f"CPU idle, whole {idle_s:.0f} s", "%", value=idle_total,
               role="baseline", short="CPU idle", bar=IDLE_CPU_BAR,
               note="the daemon and its two JACK bridge processes, no chord held"),
        Figure("playing.notes", "notes per second", "1/s", value=p["notes_per_s"]),
        Figure("playing.stuck", "notes left sounding after SIGTERM", "notes",
               value=p["stuck"], bar=STUCK_BAR, note=f"exit status {p['exit']}"),
    ] + late_cycle_figures(p)


def late_cycles_per_10_min(late, seconds):
    return late * 600.0 / seconds


def late_cycle_figures(p):
    """The daemon's JACK clients' cycles that finished after their period, scaled to
    10 minutes, and the messages played after their frame."""
    if p.get("late") is None:
        return [missing("playing.late_cycles", "JACK cycles finished late, per 10 min",
                        "no JACK line in the daemon's stop log", bar=LATE_CYCLES_BAR)]
    late, behind = p["late"]
    return [
        Figure("playing.late_cycles", "JACK cycles our clients finished late, per 10 min",
               "cycles", value=late_cycles_per_10_min(late, p["run_s"]),
               bar=LATE_CYCLES_BAR,
               note=f"{late} in {p['run_s']:.0f} s, both bridges; a cycle can finish late "
                    f"through no fault of ours (a late driver, a slow client before us)"),
        Figure("playing.late_writes", "messages played after their frame", "messages",
               value=behind),
    ]


def section_onset(ctx):
    """Note_on arrival at our JACK port vs the clock's grid, vs the no-daemon floor."""
    p = perform(ctx)
    errors, ppm = onset_errors(p["onsets"], 60 / BPM / 12)
    floor, floor_ppm = loopback_floor(ctx, 2.0 if ctx.quick else 8.0, 60 / BPM / 4)
    return [
        Figure("onset.daemon", "onset error, jazzd run → JACK → us", "ms", errors,
               baseline="onset.floor",
               note=f"grid 1/12 beat at {BPM} bpm, phase fitted (median); JACK period "
                    f"1.33 ms"),
        Figure("onset.floor", "onset error, scheduler in-process → JACK → us (floor)", "ms",
               floor, role="baseline", short="JACK floor"),
        Figure("onset.tempo", "tempo error (fitted period vs 120 bpm)", "ppm", value=ppm,
               signed=True, note="signed; the floor run's own figure is the next row"),
        Figure("onset.tempo_floor", "tempo error of the floor run", "ppm", value=floor_ppm,
               signed=True, role="baseline"),
    ]
