"""The running daemon never imports TensorFlow (5 s and 530 MB), not even indirectly."""

import importlib.util
import subprocess
import sys

MODULES = ["jazzd.model.network", "jazzd.model.store", "jazzd.model.performer",
           "jazzd.live.daemon", "jazzd.commands.run", "jazzd.offline.solo",
           "jazzd.grammar.features"]

SCRIPT = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.model.performer import load_performer
from jazzd.service.config import defaults
perf = load_performer(defaults(), seed=1)
c7 = parse_symbol("C7")
tick = 0
for i in range(40):
    v = perf.next_value(tick % 48, c7)
    perf.realize(v, c7, tick % 48)
    tick += v.ticks
bad = sorted(k for k in sys.modules if k.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print("LOADED:" + ",".join(bad))
"""


def test_runtime_modules_do_not_import_tensorflow():
    present = [m for m in MODULES if importlib.util.find_spec(m) is not None]
    assert "jazzd.model.network" in present and "jazzd.model.store" in present
    out = subprocess.run([sys.executable, "-c", SCRIPT, *present], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED:")][-1]
    assert line == "LOADED:", f"{line} after importing {present}"


def test_the_probe_detects_a_loaded_tensorflow():
    """The probe can fail: a module named tensorflow in sys.modules is reported."""
    script = "import sys, types; sys.modules['tensorflow'] = types.ModuleType('tensorflow')\n"
    out = subprocess.run([sys.executable, "-c", script + SCRIPT, "jazzd.model.network"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "LOADED:tensorflow" in out.stdout
