"""jazzd.live.dispatcher without JACK: what its thread does while the daemon plays."""

import subprocess
import sys

from conftest import REPO

# A fresh interpreter (this one has imported everything already): the dispatcher as
# the daemon starts it, then a sysex cut short by a note, which it splits.
CHILD = '''
import sys
from types import SimpleNamespace
from jazzd.live.dispatcher import Dispatcher
heard = []
listener = SimpleNamespace(note_on=lambda t, ch, n, v: heard.append((ch, n, v)) or True,
                           counts=lambda ch, n: True, poll=lambda now: None, fresh=None)
melody = SimpleNamespace(counts=lambda ch, n: False,    # no melody: trading off
                         settings=SimpleNamespace(mode="off"))
cfg = {"midi": {"realtime_priority": 0}, "controls": {"interplay_cc": None}}
clock = SimpleNamespace(source="internal")
d = Dispatcher(lambda: None, lambda: clock, lambda: cfg, lambda: None, listener, melody,
               scheduler=None)
before = set(sys.modules)
d.handle(0.0, [0xF0, 0x01, 0x02, 0x91, 60, 100, 0xF7])
print("heard", heard)
print("imported", sorted(set(sys.modules) - before))
'''


def test_splitting_a_cut_short_sysex_imports_nothing():
    """The first sysex cut short by another message used to import mido on the
    dispatcher thread, in the middle of a performance: 50-160 ms of that thread's time,
    much of it holding the interpreter and import locks (CI saw an onset 27.5 ms late
    in test_bad_input's random bytes, the one test that sends such sysex). Everything
    the dispatcher needs is imported when the daemon starts."""
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "heard [(1, 60, 100)]" in r.stdout, r.stdout
    assert "imported []" in r.stdout, r.stdout
