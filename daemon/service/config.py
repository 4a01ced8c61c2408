"""Load and validate config.yaml.

Every key has a default (the `SCHEMA` below, mirrored by the commented `config.yaml`
at the repository root). Unknown keys are errors. An error names the key, the bad
value and what is allowed, and exits 78 (EX_CONFIG) so systemd does not restart-loop.
"""

import copy
import math
import os
from fractions import Fraction

import yaml

from jazzd.grammar.pitch import TPQ
from jazzd.grammar.values import (DURATION_KEYS, INTERVAL_KEYS, KINDS, ONSET_KEYS,
                                  RESERVED_KINDS)
from jazzd.service.errors import ConfigError


class _Spec:
    """One config key: its default and a check that returns the normalised value."""

    def __init__(self, default, check, allowed):
        self.default = default
        self.check = check
        self.allowed = allowed


def _number(lo, hi, integer=False, nullable=False):
    kind = "an integer" if integer else "a number"
    allowed = f"{kind} from {lo} to {hi}" + (", or null" if nullable else "")

    def check(v):
        if v is None and nullable:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError
        if integer and not (isinstance(v, int) or float(v).is_integer()):
            raise ValueError
        if not (lo <= v <= hi) or (isinstance(v, float) and math.isnan(v)):
            raise ValueError
        return int(v) if integer else float(v)

    return check, allowed


def _choice(*options):
    def check(v):
        if v not in options:
            raise ValueError
        return v

    return check, "one of " + ", ".join(str(o) for o in options)


def _text():
    def check(v):
        if not isinstance(v, str) or not v.strip():
            raise ValueError
        return v

    return check, "a non-empty text"


def _channels():
    def check(v):
        if v == "all":
            return "all"
        if isinstance(v, int) and not isinstance(v, bool):
            v = [v]
        if (not isinstance(v, list) or not v
                or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 16
                           for c in v)):
            raise ValueError
        return sorted(set(v))

    return check, "'all' or a list of MIDI channels 1-16"


def _channel_list():
    def check(v):
        if v is None:
            return []
        if isinstance(v, int) and not isinstance(v, bool):
            v = [v]
        if (not isinstance(v, list)
                or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 16
                           for c in v)):
            raise ValueError
        return sorted(set(v))

    return check, "a list of MIDI channels 1-16 (empty for none)"


def _whole(*options):
    """One of some integers (not a bool, not a fraction)."""
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v not in options \
                or not float(v).is_integer():
            raise ValueError
        return int(v)

    return check, "one of " + ", ".join(str(o) for o in options)


def _mode():
    """off | trade | answer. YAML 1.1 reads a bare `off` as false: that is off too."""
    def check(v):
        if v is False:
            return "off"
        if v not in MODES:
            raise ValueError
        return v

    return check, "one of " + ", ".join(MODES)


MODES = ("off", "trade", "answer")


def _seed():
    def check(v):
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError
        return v

    return check, "an integer, or null for a different performance each run"


def _weights(keys=None, key_ok=None, what=None):
    """A mapping of keys (from `keys`, or any `key_ok` accepts) to weights 0-100."""
    ok = key_ok or (lambda k: k in keys)

    def check(v):
        if not isinstance(v, dict):
            raise ValueError
        out = {}
        for k, w in v.items():
            k = str(k)
            if not ok(k) or isinstance(w, bool) or not isinstance(w, (int, float)) \
                    or not (0 <= w <= 100):
                raise ValueError
            out[k] = float(w)
        return out

    return check, f"a mapping from {what or ', '.join(keys)} to weights from 0 to 100"


def _length_key(k):
    """A note length in quarters on the 1/12 grid, up to 8 quarters ("1/2", "5/12")."""
    try:
        q = Fraction(k)
    except (ValueError, ZeroDivisionError):
        return False
    return 0 < q <= 8 and (q * TPQ).denominator == 1


def _duration_weights():
    """Weights per note length: the standard keys, or any length in quarters on the
    1/12 grid up to 8 quarters ("5/12", "7/12") to weigh that exact length alone."""
    return _weights(key_ok=_length_key,
                    what=f"lengths in quarters ({', '.join(DURATION_KEYS)}, or any n/12 "
                         f"up to 8)")


def _auto_or_number(lo, hi):
    check_number, allowed = _number(lo, hi)

    def check(v):
        return "auto" if v == "auto" else check_number(v)

    return check, "'auto' or " + allowed


def _program():
    """A MIDI program number as the program-change message carries it, 0-127 (0-based:
    General MIDI's 1-based list is one higher), or null for none."""
    check, _ = _number(0, 127, integer=True, nullable=True)
    return check, ("a program number from 0 to 127 as sent in the program-change message "
                   "(0-based: General MIDI's 67 Tenor Sax is 66), or null to send none")


def _cc(nullable=True):
    return _number(0, 127, integer=True, nullable=nullable)


def S(default, checker):
    check, allowed = checker
    return _Spec(default, check, allowed)



SCHEMA = {
    "midi": {
        "backend": S("alsa", _choice("alsa", "jack")),
        "input": S("virtual:jazzd-in", _text()),
        "output": S("virtual:jazzd-out", _text()),
        "chord_channels": S("all", _channels()),
        "output_channel": S(1, _number(1, 16, integer=True)),
        "program": S(66, _program()),
        "split_note": S(None, _number(0, 127, integer=True, nullable=True)),
        "debounce_ms": S(40, _number(0, 1000)),
        "hold_beats": S(8, _number(0, 64)),
        "reconnect_interval_s": S(1.0, _number(0.1, 60)),
        "wait_for_ports": S(True, _choice(True, False)),
        "realtime_priority": S(20, _number(0, 98, integer=True)),
        "latency_compensation_ms": S("auto", _auto_or_number(0, 50)),
    },
    "tempo": {
        "source": S("internal", _choice("internal", "clock")),
        "bpm": S(120, _number(20, 400)),
        "swing": S(0.6, _number(0.5, 0.75)),
        "beats_per_bar": S(4, _number(1, 12, integer=True)),
    },
    "improviser": {
        "model": S("default", _text()),
        "temperature": S(0.9, _number(0.05, 5)),
        "seed": S(None, _seed()),
        "lowest_note": S(55, _number(0, 127, integer=True)),
        "highest_note": S(84, _number(0, 127, integer=True)),
        "realize_ahead_ms": S(5, _number(0, 100)),
        "plan_ahead_beats": S(1, _number(0.25, 4)),
        "velocity_low": S(64, _number(1, 127, integer=True)),
        "velocity_high": S(100, _number(1, 127, integer=True)),
        "gate": S(0.9, _number(0.1, 1.0)),
        "max_repeats": S(3, _number(1, 16, integer=True)),
        "resolve_on_change": S(False, _choice(True, False)),
        "anticipate_changes": S(True, _choice(True, False)),
        "change_grace_ms": S(8, _number(0, 50)),
    },
    # Measured against held-out players of the Weimar Jazz Database (docs/MUSIC.md):
    # a little more rest and colour, the motif memory, a little more on the beat and
    # the off-beat, fewer repeated notes, approach tones that resolve, a warmer rhythm.
    "style": {
        "kind_weights": S({"R": 1.5, "A": 1.2, "X": 1.15}, _weights(KINDS + RESERVED_KINDS)),
        "strong_beat_chord_weight": S(1.0, _number(0, 100)),
        "duration_weights": S({}, _duration_weights()),
        "onset_weights": S({"0": 1.25, "1/2": 1.1}, _weights(ONSET_KEYS)),
        "interval_weights": S({"0": 0.7, "1": 1.15, "2": 0.85}, _weights(INTERVAL_KEYS)),
        "resolve_approach": S(1.5, _number(0, 100)),
        "rest_probability": S(None, _number(0, 1, nullable=True)),
        "motif": S(0.6, _number(0, 1)),
        "rhythm_temperature": S(1.1, _number(0.1, 2)),
    },
    "controls": {
        "channel": S("all", _channels()),
        "temperature_cc": S(None, _cc()),
        "enable_cc": S(None, _cc()),
        "density_cc": S(None, _cc()),
        "interplay_cc": S(None, _cc()),
    },
    # Trading fours and call-and-response (docs/LIVE.md, "Trading").
    "interplay": {
        "mode": S("off", _mode()),
        "trade_bars": S(4, _whole(1, 2, 4, 8)),
        "first": S("player", _choice("player", "jazzd")),
        "answer_after_beats": S(1, _number(0.25, 16)),
        "echo": S(0.5, _number(0, 1)),
        "melody_channels": S([], _channel_list()),
    },
    "logging": {
        "level": S("info", _choice("debug", "info", "warning", "error")),
    },
}


def defaults():
    """The full default configuration as a nested dict."""
    return {sec: {k: copy.deepcopy(spec.default) for k, spec in keys.items()}
            for sec, keys in SCHEMA.items()}


def validate(data, source="config"):
    """Check a parsed YAML mapping against SCHEMA; return the full config with defaults."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections "
                          f"({', '.join(SCHEMA)}), not {type(data).__name__}")
    cfg = defaults()
    for sec, values in data.items():
        if sec not in SCHEMA:
            raise ConfigError(f"{source}: unknown section '{sec}'; allowed: "
                              f"{', '.join(SCHEMA)}")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section '{sec}' must be a mapping of keys")
        for key, value in values.items():
            spec = SCHEMA[sec].get(key)
            if spec is None:
                raise ConfigError(f"{source}: unknown key '{sec}.{key}'; allowed: "
                                  f"{', '.join(SCHEMA[sec])}")
            try:
                cfg[sec][key] = spec.check(value)
            except (ValueError, TypeError):
                raise ConfigError(f"{source}: bad value for '{sec}.{key}': {value!r}; "
                                  f"allowed: {spec.allowed}") from None
    imp = cfg["improviser"]
    if imp["lowest_note"] + 12 > imp["highest_note"]:
        raise ConfigError(f"{source}: 'improviser.lowest_note' ({imp['lowest_note']}) must "
                          f"be at least an octave below 'improviser.highest_note' "
                          f"({imp['highest_note']})")
    if imp["velocity_low"] > imp["velocity_high"]:
        raise ConfigError(f"{source}: 'improviser.velocity_low' ({imp['velocity_low']}) "
                          f"must not exceed 'improviser.velocity_high' "
                          f"({imp['velocity_high']})")
    _check_interplay(cfg, source)
    _check_ccs(cfg, source)
    return cfg


# CCs that already mean something on the input: the sustain pedal, and the panic CCs
# the chord listener obeys.
RESERVED_CCS = {64: "the sustain pedal", 120: "all sound off",
                121: "reset all controllers", 123: "all notes off"}


def _check_interplay(cfg, source):
    """What the interplay keys need of the other sections: a melody to listen to, and
    channels that are chords or melody, not both."""
    inter, midi, ctl = cfg["interplay"], cfg["midi"], cfg["controls"]
    melody = midi["split_note"] is not None or inter["melody_channels"]
    if not melody:
        need = ("'interplay.mode' is " + repr(inter["mode"])) if inter["mode"] != "off" \
            else ("'controls.interplay_cc' is set" if ctl["interplay_cc"] is not None
                  else None)
        if need:
            raise ConfigError(f"{source}: {need}, but jazzd has no melody of the player's "
                              f"to listen to: set 'midi.split_note' (notes at or above it "
                              f"are the melody) or 'interplay.melody_channels'")
    chans = midi["chord_channels"]
    both = sorted(set(inter["melody_channels"]) & set(range(1, 17) if chans == "all"
                                                       else chans))
    if chans != "all" and both:
        raise ConfigError(f"{source}: channel(s) {', '.join(map(str, both))} are in both "
                          f"'midi.chord_channels' and 'interplay.melody_channels': a "
                          f"channel's notes are chords or melody, not both")
    if chans == "all" and len(both) == 16:
        raise ConfigError(f"{source}: 'interplay.melody_channels' takes all 16 channels: "
                          f"none is left for the chords")


# The controls that take a CC number, in the order their clashes are reported.
CC_KEYS = ("interplay_cc", "temperature_cc", "enable_cc", "density_cc")


def _check_ccs(cfg, source):
    """Each mapped CC is free on the input (not the pedal, not a panic CC) and turns
    one thing: with `enable_cc: 64` every pedal lift would switch jazzd off."""
    ctl = cfg["controls"]
    for key in CC_KEYS:
        cc = ctl[key]
        if cc in RESERVED_CCS:
            raise ConfigError(f"{source}: 'controls.{key}' is {cc}, which is "
                              f"{RESERVED_CCS[cc]} on the input; choose another CC (not "
                              f"64, 120, 121 or 123)")
    for i, key in enumerate(CC_KEYS):
        for other in CC_KEYS[i + 1:]:
            if ctl[key] is not None and ctl[key] == ctl[other]:
                raise ConfigError(f"{source}: 'controls.{key}' and 'controls.{other}' are "
                                  f"both CC{ctl[key]}; one CC turns one thing")


def load(path):
    """Read and validate a YAML config file; a missing or unreadable file is a ConfigError."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    return validate(parse_yaml(text, path), source=str(path))


def parse_yaml(text, source="config"):
    """The data of a YAML document, with a key given twice in one mapping an error
    (plain YAML keeps the last one silently: a second `bpm:` further down would win
    over the one being edited)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        twice = _key_given_twice(node)
        if twice:
            key, first, again = twice
            raise ConfigError(f"{source}: duplicate key '{key}' at line {again} (first "
                              f"given at line {first}); give each key once")
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(e, "problem", None) or " ".join(str(e).split())
        raise ConfigError(f"{source}: not valid YAML: {where}{what}") from None
    finally:
        loader.dispose()


def _key_given_twice(node, path=""):
    """(dotted key, first line, second line) of the first key that appears twice in
    one mapping of the composed YAML `node`, or None. Keys compare as written, as
    validate() reads them (str); merge keys (`<<`) may override."""
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            dotted = f"{path}.{name}" if path else str(name)
            if name is not None and key.tag != "tag:yaml.org,2002:merge":
                line = key.start_mark.line + 1
                if name in seen:
                    return dotted, seen[name], line
                seen[name] = line
            found = _key_given_twice(value, dotted)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _key_given_twice(item, path)
            if found:
                return found
    return None


def default_path():
    """The config used when none is named: ./config.yaml if present, else None."""
    return "config.yaml" if os.path.exists("config.yaml") else None


def load_or_default(path):
    if path is None:
        path = default_path()
    return (load(path), path) if path else (defaults(), None)
