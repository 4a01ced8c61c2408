"""The shipped config.yaml mirrors the schema; bad configs are named and exit 78."""

import os
import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from jazzd.service import config
from jazzd.service.errors import ConfigError

SHIPPED = os.path.join(REPO, "config.yaml")


def test_shipped_config_is_valid_and_equals_the_defaults():
    assert config.load(SHIPPED) == config.defaults()


def test_shipped_config_has_every_key_with_a_comment():
    with open(SHIPPED, encoding="utf-8") as f:
        lines = f.read().splitlines()
    data = yaml.safe_load("\n".join(lines))
    assert set(data) == set(config.SCHEMA)
    for sec, keys in config.SCHEMA.items():
        assert set(data[sec]) == set(keys), sec
        for key in keys:
            i = next(i for i, line in enumerate(lines)
                     if re.match(rf"\s+{key}:", line)
                     and _section_of(lines, i) == sec)
            # a comment right above the key (or above the group it belongs to)
            j = i - 1
            while j >= 0 and re.match(r"\s+\w+:", lines[j]):
                j -= 1
            assert lines[j].strip().startswith("#"), f"{sec}.{key} has no comment"


def _section_of(lines, i):
    for j in range(i, -1, -1):
        m = re.match(r"(\w+):", lines[j])
        if m:
            return m.group(1)
    return None


@pytest.mark.parametrize("text, words", [
    ("midi: {backend: coreaudio}", ["midi.backend", "coreaudio", "alsa, jack"]),
    ("tempo: {bpm: 1000}", ["tempo.bpm", "1000", "from 20 to 400"]),
    ("tempo: {tempo: 100}", ["unknown key", "tempo.tempo"]),
    ("midi: {wait_for_ports: maybe}", ["midi.wait_for_ports", "maybe"]),
    ("improviser: {lowest_note: 80, highest_note: 84}", ["lowest_note", "octave"]),
    ("[1, 2]", ["top level"]),
    ("midi: [", ["not valid YAML"]),
])
def test_bad_configs_name_the_problem(tmp_path, text, words):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        config.load(p)
    for w in words:
        assert w in str(e.value)


def test_check_config_and_run_exit_78_on_a_bad_config(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("tempo:\n  swing: 2\n")
    for cmd in (["check-config", str(p)], ["run", "--config", str(p)]):
        r = subprocess.run([sys.executable, "-m", "jazzd", *cmd], cwd=REPO,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 78, r.stderr
        assert "tempo.swing" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "jazzd", "check-config", SHIPPED], cwd=REPO,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "ok" in r.stdout


def test_missing_config_file_exits_78(tmp_path):
    r = subprocess.run([sys.executable, "-m", "jazzd", "run", "--config",
                        str(tmp_path / "nope.yaml")], cwd=REPO,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 78
    assert "config file not found" in r.stderr
