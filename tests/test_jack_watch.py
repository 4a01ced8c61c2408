"""jazzd.live.jack_watch: the stale-futex reading, and the watch client on a real server."""

import pytest

from conftest import Keyboard, Recorder, unique
from jazzd.live.jack_watch import JackWatch, stale_futexes

MAPS = """\
7f0000000000-7f0000001000 rw-s 00000000 00:1a 101 /dev/shm/jack_sem.0_srv_jazzd-out
7f0000002000-7f0000003000 rw-s 00000000 00:1a 102 /dev/shm/jack_sem.0_srv_lsp (deleted)
7f0000004000-7f0000005000 rw-s 00000000 00:1a 103 /dev/shm/jack-0-7 (deleted)
7f0000006000-7f0000007000 rw-s 00000000 00:1a 102 /dev/shm/jack_sem.0_srv_lsp (deleted)
7f0000008000-7f0000009000 r-xp 00000000 08:01 104 /usr/lib/libjack.so.0.1.0
"""


def test_stale_futexes_are_the_deleted_wake_up_futexes(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(MAPS)
    # JACK's other shared memory is deleted by design; only jack_sem counts
    assert stale_futexes(str(maps)) == {("0_srv_lsp", "102")}
    assert stale_futexes(str(tmp_path / "none")) == set()
    maps.write_text(MAPS.replace(" (deleted)", ""))
    assert stale_futexes(str(maps)) == set()


@pytest.mark.jack
def test_the_watch_reads_the_period_ports_and_connections(jack_server):
    watch = JackWatch.open(unique("watch"))
    assert watch is not None
    names = [unique("ear"), unique("ear")]
    ears = [Recorder(n, virtual="in") for n in names]
    ports = [f"{n}:in" for n in names]
    kb = None
    try:
        kb = Keyboard(unique("kb"), connect_to=ports[0])
        assert watch.period() == pytest.approx(64 / 48000)
        assert watch.missing([ports[0], "nobody:in"]) == ["nobody:in"]
        (kb_port,) = watch.connections(ports[0])
        assert watch.connections(kb_port) == [ports[0]]
        assert watch.connect(kb_port, ports[1])
        assert sorted(watch.connections(kb_port)) == sorted(ports)
        assert not watch.server_gone
    finally:
        for peer in [kb] + ears:
            if peer is not None:
                peer.close()
        watch.close()


# A process with our JACK clients whose server goes away (tests/test_jack_async.py does
# it to a whole daemon). argv[1]: what happens before the ports are closed.
DEAD_SERVER_CHILD = '''
import sys, time
from jazzd.live.jack_watch import open_watch
from jazzd.live.midi_io import open_port
watch = open_watch()
cfg = {"backend": "jack", "input": "virtual:jzdead-in", "output": "virtual:jzdead-out"}
inp = open_port("in", cfg)
out = open_port("out", cfg)
print("ready", flush=True)
sys.stdin.readline()                        # the parent has stopped the server
deadline = time.monotonic() + 5
while not watch.server_gone and time.monotonic() < deadline:
    time.sleep(0.01)
print("server gone:", watch.server_gone, flush=True)
if sys.argv[1] == "drain":
    # the dispatcher reads on through the outage until the main thread notices, and
    # the scheduler sends; then the ports are closed the ordinary way
    for k in range(5):
        inp.drain()
        out.send([0x90, 60, 1], time.monotonic() + 0.01)
        time.sleep(0.02)
    inp.close()
    out.close()
    watch.close()
else:
    # the daemon's reopening: a new client while the server is down makes libjack
    # free every other client of this process; ours must not be touched after that,
    # not even by the interpreter's exit
    again = open_watch()
    print("reopened while down:", again is not None, flush=True)
    inp.close(bury_clients=watch.server_gone)
    out.close(bury_clients=watch.server_gone)
    watch.close()
print("closed", flush=True)
'''


@pytest.mark.jack
@pytest.mark.parametrize("before_close", ["drain", "open"])
def test_clients_of_a_server_that_went_away_never_crash_the_process(tmp_path, before_close):
    """The JACK server stops under our clients. `drain`: reads and sends during the
    outage, then closing the ports, must not crash (a client opened there would make
    libjack free every other client of the process, and the next close crashed with
    SIGSEGV, as test_jack_async's restart test did in CI).
    `open`: after a client is opened while the server is down (the daemon's reopening
    does that), the old clients are buried, not closed, and the process still exits
    cleanly (their destructors would call libjack on freed clients)."""
    import subprocess
    import sys

    from conftest import REPO
    from jazzd.bench.jack_server import JackServer, JackUnavailable
    try:
        server = JackServer(tmp_path / "jackd.log", prefix="jazzd-dead", set_env=False)
    except JackUnavailable as e:
        pytest.skip(str(e))
    script = tmp_path / "child.py"
    script.write_text(DEAD_SERVER_CHILD)
    try:
        child = subprocess.Popen(
            [sys.executable, str(script), before_close], cwd=REPO, env=server.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            server.stop()
            out, _ = child.communicate("go\n", timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    finally:
        server.close()
    assert "server gone: True" in out, out[-2000:]
    assert child.returncode == 0, f"exit status {child.returncode}:\n{out[-2000:]}"
    assert out.rstrip().endswith("closed"), out[-2000:]
