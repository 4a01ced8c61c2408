"""`jazzd generate`: the MIDI file, reproducibility, the chord track, WAV rendering and
clear errors. Run through the real console script where the CLI is the point."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from jazzd.service import config
from jazzd.offline.charts import read_chart
from jazzd.offline.solo import chord_track, generate, play, voicing
from jazzd.offline.midi_file import read_info, read_notes
from conftest import save_random_model, small_vocab
from jazzd.model.store import load_model
from jazzd.model.performer import Performer
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.evaluate import evaluate
from jazzd.grammar.values import Value, classify, format_value

JAZZD = str(Path(sys.executable).with_name("jazzd"))
CHARTS = Path(__file__).parent / "charts"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A small real model directory (random weights) so these tests do not depend on
    what the shipped model learned."""
    vocab = small_vocab(durations=(3, 4, 6, 8, 12, 24), steps=range(-7, 8))
    return save_random_model(tmp_path_factory.mktemp("model"), vocab, seed=1)


def jazzd(*args, env=None):
    return subprocess.run([JAZZD, *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=env)


def gen(model_dir, out, *extra, chords="Dm7 G7 | Cmaj7 | Cm7 F7 | Bbmaj7 |", bars=8,
        seed=1):
    return jazzd("generate", "--chords", chords, "--bars", bars, "--bpm", 130, "--seed",
                 seed, "--model", model_dir, "--out", out, *extra)


def test_same_seed_same_bytes_other_seed_other_file(model_dir, tmp_path):
    a, b, c = tmp_path / "a.mid", tmp_path / "b.mid", tmp_path / "c.mid"
    r = gen(model_dir, a)
    assert r.returncode == 0, r.stderr
    assert "notes over 8 bars" in r.stdout and "seed 1" in r.stdout
    assert gen(model_dir, b).returncode == 0
    assert gen(model_dir, c, seed=2).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_the_file_has_a_tempo_a_solo_track_and_a_chord_track(model_dir, tmp_path):
    out = tmp_path / "solo.mid"
    assert gen(model_dir, out, "--swing", 0.6).returncode == 0
    mid = mido.MidiFile(out)
    assert mid.type == 1 and len(mid.tracks) == 2
    names = [next(m.name for m in t if m.type == "track_name") for t in mid.tracks]
    assert names == ["solo", "chords"]
    tempos = [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(130)]
    solo_ch = {m.channel for m in mid.tracks[0] if m.type == "note_on"}
    chord_ch = {m.channel for m in mid.tracks[1] if m.type == "note_on"}
    assert solo_ch == {0} and chord_ch == {1}
    assert read_info(mid)["swing"] == "0.6"
    # the chord track strikes Dm7 then G7 on beat 3, Cmaj7 in bar 2, ...
    ons = {}
    now = 0
    for m in mid.tracks[1]:
        now += m.time
        if m.type == "note_on" and m.velocity:
            ons.setdefault(now, set()).add(m.note % 12)
    assert sorted(ons)[:3] == [0, 2 * 480, 4 * 480]
    assert ons[0] == {2, 5, 9, 0}          # Dm7: D F A C
    assert ons[2 * 480] == {7, 11, 2, 5}   # G7


def test_the_solo_is_clean_swung_and_in_the_register(model_dir, tmp_path):
    out = tmp_path / "solo.mid"
    r = gen(model_dir, out, "--swing", 0.62, "--lowest-note", 60, "--highest-note", 76,
            bars=16)
    assert r.returncode == 0, r.stderr
    notes, bpm, track = read_notes(mido.MidiFile(out))
    assert track == 0 and bpm == pytest.approx(130, rel=1e-5)
    chart = read_chart("Dm7 G7 | Cmaj7 | Cm7 F7 | Bbmaj7 |", 4)
    s = evaluate(notes, chart.timeline(16), swing=0.62, low=60, high=76)
    assert s["notes"] > 16
    assert s["overlaps"] == 0 and s["off_grid"] == 0 and s["out_of_register"] == 0
    assert max(o + d for o, d, _ in notes) <= 16 * 4


def test_pitches_are_realised_against_the_chord_at_each_onset(model_dir):
    cfg = config.defaults()
    cfg["style"]["kind_weights"] = {"S": 0, "A": 0, "X": 0}
    cfg["style"]["rest_probability"] = 0.1
    chart = read_chart("Dm7 G7 Cmaj7 Fmaj7 | Bm7b5 E7 Am7 D7 | Ebmaj7 | Abmaj7 Db7 |", 4)
    solo, _, _ = generate(config.validate(cfg), chart, 16, seed=3,
                          model=load_model(model_dir))
    tl = chart.timeline(16)
    from jazzd.grammar.swing import unswung_ticks
    for o, d, p, v in solo:
        chord = tl.at(round(unswung_ticks(o, 0.6)))
        assert classify(p, chord) == "C", (o, p, chord)


def test_play_is_the_performer_loop(model_dir):
    """play() gives what stepping a Performer by hand gives (no reset between bars)."""
    cfg = config.validate({})
    chart = read_chart("C7 | F7 |", 4)
    tl = chart.timeline(8)
    notes = play(Performer(load_model(model_dir), cfg, seed=4), tl, 8, 0.5, gate=1.0)
    perf = Performer(load_model(model_dir), cfg, seed=4)
    by_hand, tick = [], 0
    while tick < 8 * 48:
        v = perf.next_value(tick % 48, tl.at(tick))
        p = perf.realize(v, tl.at(tick), tick % 48)
        if p is not None:
            by_hand.append((tick / 12, (min(tick + v.ticks, 8 * 48) - tick) / 12, p))
        tick += v.ticks
    assert len(notes) == len(by_hand) > 8
    assert np.allclose([n[:3] for n in notes], by_hand)


def test_voicings():
    assert voicing(parse_symbol("C7")) == [36, 52, 55, 58, 60]
    assert voicing(parse_symbol("Am7/G"))[0] % 12 == 7
    tl = read_chart("C7 | % | F7 G7 |", 4).timeline(3)
    events = chord_track(tl, 3, 48, 0.5)
    assert [o for o, *_ in events] == [0, 4, 8, 10]      # the repeated bar is restruck


def test_a_chart_file_with_comments(model_dir, tmp_path):
    out = tmp_path / "blues.mid"
    r = jazzd("generate", "--chords", CHARTS / "blues_f.txt", "--seed", 1, "--model",
              model_dir, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "over 12 bars" in r.stdout           # one chorus by default


@pytest.mark.parametrize("args, status, words", [
    (["--chords", "Dm7 G7 | Hmaj7 |"], 65, ["bar 2", "Hmaj7"]),
    (["--chords", "| |"], 65, ["empty"]),
    (["--swing", "0.9"], 64, ["--swing", "0.5", "0.75"]),
    (["--bpm", "0"], 64, ["--bpm"]),
    (["--temperature", "-1"], 64, ["--temperature"]),
    (["--lowest-note", "80", "--highest-note", "84"], 64, ["octave"]),
    (["--highest-note", "200"], 64, ["--highest-note", "127"]),
    (["--bars", "0"], 64, ["--bars"]),
    (["--model", "/nonexistent/model"], 66, ["/nonexistent/model"]),
    (["--out", "/nonexistent/dir/x.mid"], 65, ["/nonexistent/dir"]),
    (["--config", "/nonexistent.yaml"], 78, ["/nonexistent.yaml"]),
])
def test_clear_errors(model_dir, tmp_path, args, status, words):
    base = {"--chords": "Dm7 G7 | Cmaj7 |", "--out": str(tmp_path / "x.mid"),
            "--model": model_dir, "--bars": "4"}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v
    r = jazzd("generate", *[x for kv in base.items() for x in kv])
    assert r.returncode == status, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_wav_through_fluidsynth(model_dir, tmp_path):
    out, wav = tmp_path / "s.mid", tmp_path / "s.wav"
    r = gen(model_dir, out, "--wav", wav, bars=2)
    assert r.returncode == 0, r.stderr
    data = wav.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) > 44100


def test_wav_without_fluidsynth_says_so(model_dir, tmp_path):
    out, wav = tmp_path / "s.mid", tmp_path / "s.wav"
    env = dict(os.environ, PATH=str(tmp_path))          # nothing to find on PATH
    r = subprocess.run([sys.executable, "-m", "jazzd", "generate", "--chords", "C7 |",
                        "--bars", "2", "--model", model_dir, "--out", str(out),
                        "--wav", str(wav)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 69
    assert "fluidsynth" in r.stderr and "not installed" in r.stderr
    assert out.exists() and "was written" in r.stderr


# ---- flags that go together, and nothing written before a bad one ---------------------

@pytest.mark.parametrize("extra, words", [
    (["--first", "jazzd"], ["--first", "--trade"]),
    (["--echo", "0.2"], ["--echo", "--trade"]),
    (["--first", "player", "--echo", "0.9"], ["--first and --echo", "--trade"]),
    (["--call-track", "solo"], ["--call-track", "--trade"]),
])
def test_trade_flags_without_trade_are_an_error(model_dir, tmp_path, extra, words):
    out = tmp_path / "x.mid"
    r = gen(model_dir, out, *extra, bars=2)
    assert r.returncode == 64, (r.returncode, r.stderr)
    assert all(w in r.stderr for w in words), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_wav_to_a_missing_folder_fails_before_writing_anything(model_dir, tmp_path):
    out = tmp_path / "x.mid"
    r = gen(model_dir, out, "--wav", tmp_path / "no" / "such" / "x.wav", bars=2)
    assert r.returncode == 65, (r.returncode, r.stderr)      # as --out to a missing folder
    assert "--wav" in r.stderr and str(tmp_path / "no" / "such") in r.stderr
    assert not out.exists()


def test_soundfont_is_checked_first_and_needs_wav(model_dir, tmp_path):
    out = tmp_path / "x.mid"
    r = gen(model_dir, out, "--wav", tmp_path / "x.wav", "--soundfont",
            tmp_path / "none.sf2", bars=2)
    assert r.returncode == 66 and "--soundfont" in r.stderr and "none.sf2" in r.stderr
    assert not out.exists()
    sf = tmp_path / "some.sf2"
    sf.write_bytes(b"")
    r = gen(model_dir, out, "--soundfont", sf, bars=2)
    assert r.returncode == 64 and "--wav" in r.stderr and not out.exists()


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_soundfont_is_the_one_rendered_with(model_dir, tmp_path):
    out, wav = tmp_path / "x.mid", tmp_path / "x.wav"
    bogus = tmp_path / "bogus.sf2"
    bogus.write_bytes(b"RIFF0000sfbk not really a soundfont")
    r = gen(model_dir, out, "--wav", wav, "--soundfont", bogus, bars=2)
    # fluidsynth was given this file, not the system's soundfont: it cannot load it,
    # and says so instead of leaving a silent WAV
    assert r.returncode == 65, (r.returncode, r.stderr)
    assert "soundfont" in r.stderr and str(bogus) in r.stderr and "was written" in r.stderr
    assert out.exists() and not wav.exists()


def test_beats_per_bar_sets_the_metre(model_dir, tmp_path):
    out = tmp_path / "w.mid"
    r = gen(model_dir, out, "--beats-per-bar", 3, chords="Cmaj7 | Dm7 G7 |", bars=4)
    assert r.returncode == 0, r.stderr
    assert "12 beats" in r.stdout
    sig = [m for m in mido.MidiFile(out).tracks[0] if m.type == "time_signature"]
    assert (sig[0].numerator, sig[0].denominator) == (3, 4)
    r = gen(model_dir, out, "--beats-per-bar", 13, bars=4)
    assert r.returncode == 64 and "--beats-per-bar" in r.stderr and "1 to 12" in r.stderr


def _solo_programs(path):
    mid = mido.MidiFile(path)
    return [m.program for m in mid.tracks[0] if m.type == "program_change"]


@pytest.mark.parametrize("text, want", [(None, [66]), ("midi: {program: 0}", [0]),
                                        ("midi: {program: 56}", [56]),
                                        ("midi: {program: null}", [])])
def test_the_solo_track_plays_midi_program(model_dir, tmp_path, text, want):
    out = tmp_path / "p.mid"
    extra = []
    if text is not None:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(text)
        extra = ["--config", cfg]
    r = gen(model_dir, out, *extra, bars=2)
    assert r.returncode == 0, r.stderr
    assert _solo_programs(out) == want


def test_help_explains_every_musical_flag():
    r = jazzd("generate", "--help")
    assert r.returncode == 0
    from jazzd.commands.cli import build_parser
    gen_parser = build_parser()._subparsers._group_actions[0].choices["generate"]
    helps = {a.option_strings[0]: a.help for a in gen_parser._actions if a.option_strings}
    for flag in ("--bpm", "--seed", "--swing", "--temperature", "--lowest-note",
                 "--highest-note", "--beats-per-bar", "--soundfont", "--wav", "--out"):
        assert helps.get(flag) and len(helps[flag]) > 20, flag
        assert flag in r.stdout
    # the defaults it quotes are the config's
    d = config.defaults()
    for flag, value in (("--bpm", d["tempo"]["bpm"]), ("--swing", d["tempo"]["swing"]),
                        ("--temperature", d["improviser"]["temperature"]),
                        ("--lowest-note", d["improviser"]["lowest_note"]),
                        ("--highest-note", d["improviser"]["highest_note"]),
                        ("--beats-per-bar", d["tempo"]["beats_per_bar"])):
        assert f"{value:g}" in helps[flag], (flag, value)


def test_a_call_with_tempo_changes_stays_on_its_bars(tmp_path):
    """A call file whose tempo changes (120, then 60 from bar 2, then 90) is read on its
    own bars: a note on each beat stays on each beat (read through seconds at the
    first tempo, bar 3 would start at beat 12, not 8)."""
    ppq = 480
    mid = mido.MidiFile(type=1, ticks_per_beat=ppq)
    tr = mido.MidiTrack([mido.MetaMessage("track_name", name="solo", time=0),
                         mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=0)])
    for beat in range(12):
        if beat == 4:
            tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60), time=0))
        if beat == 8:
            tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90), time=0))
        tr.append(mido.Message("note_on", note=60 + beat, velocity=90, time=0))
        tr.append(mido.Message("note_off", note=60 + beat, velocity=0, time=ppq))
    mid.tracks.append(tr)
    path = tmp_path / "call.mid"
    mid.save(path)
    notes, bpm, _ = read_notes(mido.MidiFile(path))
    assert [o for o, _, _ in notes] == [float(b) for b in range(12)]
    assert all(d == 1.0 for _, d, _ in notes) and bpm == 120
    # an explicit tempo still reads the file's seconds at that tempo (live recordings)
    notes, bpm, _ = read_notes(mido.MidiFile(path), bpm=120)
    assert bpm == 120 and [o for o, _, _ in notes][4:6] == [4.0, 6.0]


def test_bpm_is_the_tempo_the_network_plays_at(tmp_path):
    """`--bpm` is fed to the network (issue 19): with the shipped model the same seed
    and changes give a denser line at a ballad tempo than at an up-tempo one."""
    counts = {}
    for bpm in (70, 290):
        total = 0
        for seed in (1, 2, 3):
            r = jazzd("generate", "--chords", "Dm7 G7 | Cmaj7 | Cm7 F7 | Bbmaj7 |",
                      "--bars", 16, "--bpm", bpm, "--seed", seed,
                      "--out", tmp_path / f"{bpm}-{seed}.mid")
            assert r.returncode == 0, r.stderr
            total += int(r.stdout.split(": ", 1)[1].split(" notes")[0])
        counts[bpm] = total
    assert counts[70] > 1.15 * counts[290], counts
