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
