"""The running daemon never imports TensorFlow (5 s and 530 MB), not even indirectly."""

import importlib.util
import subprocess
import sys

MODULES = ["jazzd.model.lstm", "jazzd.model.store", "jazzd.model.performer", "jazzd.live.daemon",
           "jazzd.offline.solo", "jazzd.grammar.features"]

SCRIPT = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
import numpy as np
from jazzd.model.store import load_model
from jazzd.model.lstm import LSTMRuntime
m = load_model("default")
rt = LSTMRuntime(m)
cond = np.zeros(m.C, np.float32)
for i in range(20):
    if m.C:
        cond[:] = 0; cond[[0, 12, 20]] = 1
    tok = int(np.argmax(rt.step(0 if i == 0 else tok, cond if m.C else None)[1:])) + 1
bad = sorted(k for k in sys.modules if k.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print("LOADED:" + ",".join(bad))
"""


def test_runtime_modules_do_not_import_tensorflow():
    present = [m for m in MODULES if importlib.util.find_spec(m) is not None]
    assert "jazzd.model.lstm" in present and "jazzd.model.store" in present
    out = subprocess.run([sys.executable, "-c", SCRIPT, *present], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED:")][-1]
    assert line == "LOADED:", f"{line} after importing {present}"


def test_the_probe_detects_a_loaded_tensorflow():
    """The probe can fail: a module named tensorflow in sys.modules is reported."""
    script = "import sys, types; sys.modules['tensorflow'] = types.ModuleType('tensorflow')\n"
    out = subprocess.run([sys.executable, "-c", script + SCRIPT, "jazzd.model.lstm"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "LOADED:tensorflow" in out.stdout
