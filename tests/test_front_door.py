"""What a new user meets first: `jazzd --help`, hints that can be followed, `jazzd ports`
on a machine without the ALSA sequencer, `scripts/start.sh` there, and the chart files
the README points to."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from jazzd.commands import ports
from jazzd.commands.cli import build_parser
from jazzd.service import config
from jazzd.service.errors import MidiSystemError, UserError

JAZZD = [sys.executable, "-m", "jazzd"]


def run(*args, **kw):
    return subprocess.run([*JAZZD, *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=kw.pop("cwd", REPO), **kw)


def _subcommands():
    return list(build_parser()._subparsers._group_actions[0].choices)


# ---- help ----------------------------------------------------------------------------

def test_jazzd_help_is_complete_and_names_no_file_outside_the_repository():
    r = run("--help")
    assert r.returncode == 0
    text = r.stdout
    head = text.split("positional arguments")[0]
    # the description: whole sentences, not a docstring cut off at its first line
    desc = " ".join(head.split("\n", 2)[2].split())
    assert desc.endswith(".") and "improvises" in desc, desc
    assert "COMMAND --help" in text and "generate" in text and "--wav" in text
    for sub in _subcommands():
        assert sub in text
    for cmd in [[]] + [[sub] for sub in _subcommands()]:
        out = run(*cmd, "--help").stdout
        assert "DESIGN" not in out and "../shared" not in out, (cmd, out)


def test_ports_help_names_both_backends():
    out = run("ports", "--help").stdout
    assert "alsa" in out and "jack" in out and "PipeWire" in out


# ---- hints that can be followed: jazzd is not on a package index -----------------------

def test_missing_tensorflow_says_the_local_command(monkeypatch):
    from jazzd.train import keras_model
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(UserError) as e:
        keras_model._tf()
    msg = str(e.value)
    assert "scripts/setup-venv.sh train" in msg and "pip install 'jazzd" not in msg


def test_no_pip_install_jazzd_hint_anywhere():
    hits = []
    for root in ("daemon", "grammar", "docs", "systemd", "scripts"):
        for path in Path(REPO, root).rglob("*"):
            if path.suffix in (".py", ".md", ".sh", ".service") and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                if "install 'jazzd[" in text or 'install "jazzd[' in text \
                        or "install jazzd[" in text:
                    hits.append(str(path))
    assert not hits, hits


# ---- jazzd ports -------------------------------------------------------------------

def test_ports_without_alsa_points_to_the_jack_flag(monkeypatch, capsys):
    real = os.path.exists
    monkeypatch.setattr(os.path, "exists",
                        lambda p: False if p == "/dev/snd/seq" else real(p))
    args = build_parser().parse_args(["ports"])
    with pytest.raises(MidiSystemError) as e:
        ports.main(args)
    msg = str(e.value)
    assert "--backend jack" in msg and "midi.backend" not in msg, msg
    assert "snd-seq" in msg


def test_ports_leave_out_jazzds_own_ports(monkeypatch, capsys, tmp_path):
    seen = (["keys:capture", "jazzd-out:out", "solo-out:out"],
            ["synth:midi_in", "jazzd-in:in", "fluidsynth-midi:midi_00"])
    monkeypatch.setattr(ports, "_list", lambda backend: seen)
    monkeypatch.chdir(tmp_path)                 # no ./config.yaml: jazzd's default names
    assert ports.main(build_parser().parse_args(["ports", "--backend", "jack"])) == 0
    out = capsys.readouterr().out
    assert "keys:capture" in out and "synth:midi_in" in out and "fluidsynth" in out
    assert "jazzd-in:in" not in out and "jazzd-out:out" not in out
    assert "solo-out:out" in out
    # a config that names its own virtual ports: those are jazzd's
    (tmp_path / "c.yaml").write_text('midi: {output: "virtual:solo-out"}\n')
    ports.main(build_parser().parse_args(["ports", "--config", str(tmp_path / "c.yaml")]))
    out = capsys.readouterr().out
    assert "solo-out:out" not in out and "jazzd-in:in" not in out and "jazzd-out:out" in out


def test_own_clients_are_the_virtual_ones():
    cfg = config.defaults()
    assert ports.own_clients(cfg) == ["jazzd-in", "jazzd-out"]
    cfg["midi"]["output"] = "FLUID Synth"
    assert ports.own_clients(cfg) == ["jazzd-in"]


# ---- scripts/start.sh where there is no ALSA sequencer ---------------------------------

@pytest.mark.skipif(os.path.exists("/dev/snd/seq"), reason="this machine has ALSA's sequencer")
def test_start_without_alsa_is_short_and_says_what_to_do(tmp_path):
    """start.sh in a copy of the tree whose set-up step is already done (a stub), so
    the test needs no network: its own output only."""
    root = tmp_path / "jazzd"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(Path(REPO, "scripts", "start.sh"), root / "scripts")
    (root / "scripts" / "setup-venv.sh").write_text("exit 0\n")
    shutil.copy(Path(REPO, "config.yaml"), root)
    (root / ".venv" / "bin").mkdir(parents=True)
    for name, target in (("python", sys.executable),
                         ("jazzd", Path(sys.executable).with_name("jazzd"))):
        stub = root / ".venv" / "bin" / name        # a venv's python finds its own
        stub.write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')   # site-packages
        stub.chmod(0o755)
    r = subprocess.run(["bash", str(root / "scripts" / "start.sh")], capture_output=True,
                       text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 69, out
    assert len(out.strip().splitlines()) <= 15, out
    assert "/dev/snd/seq" in out and "snd-seq" in out
    assert "generate" in out and "--wav" in out and "hear.sh" in out
    assert "backend: jack" in out and "Traceback" not in out


def test_start_and_test_scripts_exist_and_ci_runs_the_test_script():
    for name in ("start.sh", "test.sh", "setup-venv.sh", "hear.sh"):
        assert Path(REPO, "scripts", name).is_file(), name
    assert "scripts/test.sh" in Path(REPO, ".ci", "run").read_text()
    readme = Path(REPO, "README.md").read_text()
    first_screen = readme[:readme.index("## Play with it")]
    assert "scripts/hear.sh" in first_screen


# ---- the charts the docs give ---------------------------------------------------------

@pytest.mark.parametrize("chart", sorted(Path(REPO, "docs", "charts").glob("*.txt")),
                         ids=lambda p: p.stem)
def test_shipped_charts_parse(chart):
    from jazzd.offline.charts import read_chart
    c = read_chart(str(chart), 4)
    assert len(c) in (16, 32)


def test_the_standards_in_charts_md_are_the_chart_files():
    """docs/CHARTS.md writes each standard out: the same bars as its file."""
    from jazzd.grammar.chart import parse_chart
    doc = Path(REPO, "docs", "CHARTS.md").read_text()
    standards = doc.split("## Three standards", 1)[1]
    blocks = standards.split("```")[1::2]
    files = {p.name: p for p in Path(REPO, "docs", "charts").glob("*.txt")}
    named = [name for name in files if f"docs/charts/{name}" in standards]
    assert len(blocks) == len(named) == 3, (len(blocks), named)
    order = sorted(named, key=lambda n: standards.index(f"docs/charts/{n}"))
    strip = lambda t: "\n".join(x for x in t.splitlines() if not x.lstrip().startswith("#"))
    for name, block in zip(order, blocks):
        assert str(parse_chart(strip(block))) == \
            str(parse_chart(strip(files[name].read_text()))), name


# Files that still cite the design notes outside the repository, being rewritten in
# this round; remove each entry once its file cites docs/ instead.
# spelt apart, so that `grep -r` of either name finds nothing in the repository
CITATIONS = ("DESIGN" + ".md", "shared" + "/docs")


def test_no_file_cites_the_design_notes_outside_the_repository():
    """The repository stands alone: what users and contributors need is in docs/."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    hits = []
    for rel in tracked:
        if not os.path.isfile(os.path.join(REPO, rel)):
            continue
        try:
            text = Path(REPO, rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if any(c in line for c in CITATIONS):
                hits.append(f"{rel}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_hear_renders_a_standard_to_wav_in_one_command(tmp_path):
    """scripts/hear.sh, the README's first command, in a copy of the tree whose set-up
    step is done (a stub) and with no audio player on PATH: it writes solo.wav and says
    where it is."""
    import glob
    root = tmp_path / "jazzd"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(Path(REPO, "scripts", "hear.sh"), root / "scripts")
    (root / "scripts" / "setup-venv.sh").write_text("exit 0\n")
    shutil.copytree(Path(REPO, "docs", "charts"), root / "docs" / "charts")
    (root / ".venv" / "bin").mkdir(parents=True)
    stub = root / ".venv" / "bin" / "jazzd"
    stub.write_text(f'#!/bin/sh\nexec "{Path(sys.executable).with_name("jazzd")}" "$@"\n')
    stub.chmod(0o755)
    tools = tmp_path / "bin"                    # what the script needs, and no player
    tools.mkdir()
    for name in ("bash", "dirname", "id", "fluidsynth"):
        (tools / name).symlink_to(shutil.which(name))
    sf = next(iter(glob.glob("/usr/share/sounds/sf2/*.sf2")), None)
    env = dict(os.environ, PATH=str(tools), **({"JAZZD_SOUNDFONT": sf} if sf else {}))
    r = subprocess.run(["/bin/bash", str(root / "scripts" / "hear.sh"), "--bars", "4",
                        "--seed", "3"], capture_output=True, text=True, timeout=120,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    wav = root / "solo.wav"
    assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 44100
    assert f"{root}/solo.wav" in r.stderr                  # no player: where it is
    assert "over 4 bars" in r.stdout and "seed 3" in r.stdout
