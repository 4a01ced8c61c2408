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


# ---- midi.program ------------------------------------------------------------------

def test_program_defaults_to_the_offline_tenor_sax_and_may_be_null(tmp_path):
    assert config.defaults()["midi"]["program"] == 66
    p = tmp_path / "c.yaml"
    for text, want in (("midi: {program: null}", None), ("midi: {program: 0}", 0),
                       ("midi: {program: 127}", 127)):
        p.write_text(text)
        assert config.load(p)["midi"]["program"] == want


@pytest.mark.parametrize("value", ["-1", "128", "tenor", "true", "65.5", "[66]"])
def test_a_bad_program_names_the_key_and_the_range(tmp_path, value):
    p = tmp_path / "c.yaml"
    p.write_text(f"midi: {{program: {value}}}")
    with pytest.raises(ConfigError) as e:
        config.load(p)
    assert "midi.program" in str(e.value) and "0 to 127" in str(e.value)
    assert "0-based" in str(e.value) and "null" in str(e.value)


# ---- control CCs: free on the input, one thing each ----------------------------------

@pytest.mark.parametrize("key", ["temperature_cc", "enable_cc", "density_cc",
                                 "interplay_cc"])
@pytest.mark.parametrize("cc, meaning", [(64, "sustain"), (120, "all sound off"),
                                         (121, "reset all controllers"),
                                         (123, "all notes off")])
def test_a_control_cc_may_not_be_the_pedal_or_a_panic_cc(tmp_path, key, cc, meaning):
    p = tmp_path / "c.yaml"
    p.write_text(f"midi: {{split_note: 60}}\ncontrols: {{{key}: {cc}}}\n")
    with pytest.raises(ConfigError) as e:
        config.load(p)
    msg = str(e.value)
    assert f"controls.{key}" in msg and str(cc) in msg and meaning in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("a, b", [("temperature_cc", "enable_cc"),
                                  ("enable_cc", "density_cc"),
                                  ("temperature_cc", "density_cc")])
def test_two_controls_on_one_cc_are_an_error(tmp_path, a, b):
    p = tmp_path / "c.yaml"
    p.write_text(f"controls: {{{a}: 20, {b}: 20}}\n")
    with pytest.raises(ConfigError) as e:
        config.load(p)
    assert f"controls.{a}" in str(e.value) and f"controls.{b}" in str(e.value)
    assert "CC20" in str(e.value)


def test_free_ccs_pass(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("controls: {temperature_cc: 1, enable_cc: 65, density_cc: 122}\n")
    ctl = config.load(p)["controls"]
    assert (ctl["temperature_cc"], ctl["enable_cc"], ctl["density_cc"]) == (1, 65, 122)


# ---- a key given twice ---------------------------------------------------------------

@pytest.mark.parametrize("text, key, first, again", [
    ("tempo:\n  bpm: 100\n  swing: 0.6\n  bpm: 140\n", "tempo.bpm", 2, 4),
    ("midi: {backend: jack}\ntempo: {bpm: 100}\nmidi:\n  output_channel: 2\n", "midi", 1, 3),
    ('style:\n  onset_weights:\n    "1/2": 2\n    1/2: 3\n', "style.onset_weights.1/2", 3, 4),
])
def test_a_key_given_twice_is_an_error_naming_it_and_its_lines(tmp_path, text, key, first,
                                                               again):
    p = tmp_path / "dup.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        config.load(p)
    msg = str(e.value)
    assert f"duplicate key '{key}'" in msg, msg
    assert f"line {again}" in msg and f"line {first}" in msg and "\n" not in msg
    r = subprocess.run([sys.executable, "-m", "jazzd", "check-config", str(p)], cwd=REPO,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 78 and f"duplicate key '{key}'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_the_same_key_in_two_mappings_and_a_merge_key_override_are_fine(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text('style:\n  duration_weights: &d {"1/2": 2}\n'
                 '  onset_weights: {<<: *d, "1/2": 1.5}\n')
    style = config.load(p)["style"]
    assert style["duration_weights"] == {"1/2": 2.0}
    assert style["onset_weights"] == {"1/2": 1.5}


# ---- check-config loads the model ----------------------------------------------------

def test_check_config_loads_the_model_it_names(tmp_path):
    bad = tmp_path / "weights"
    bad.mkdir()
    (bad / "weights.npz").write_bytes(b"not a zip file")
    for model, words in ((tmp_path / "nowhere", ["improviser.model", "nowhere",
                                                 "does not exist"]),
                         (bad, ["improviser.model", "weights.npz", "corrupt"])):
        p = tmp_path / "c.yaml"
        p.write_text(f"improviser: {{model: '{model}'}}\n")
        r = subprocess.run([sys.executable, "-m", "jazzd", "check-config", str(p)],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
        assert r.returncode == 78, r.stderr
        assert all(w in r.stderr for w in words), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    p = tmp_path / "c.yaml"
    p.write_text("improviser: {model: bach}\n")
    r = subprocess.run([sys.executable, "-m", "jazzd", "check-config", str(p)], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "ok" in r.stdout and "bach" in r.stdout, r.stderr
