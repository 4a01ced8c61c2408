"""`jazzd chord`: the real command in a subprocess, plus the batch protocol in-process."""

import io
import subprocess
import sys

import pytest

from jazzd.commands.cli import build_parser
from jazzd.commands.chord import main


def jazzd(*argv, stdin=None):
    return subprocess.run([sys.executable, "-m", "jazzd", "chord", *argv], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_names_the_issue_voicing():
    r = jazzd("43", "53", "59", "64")
    assert (r.returncode, r.stdout, r.stderr) == (0, "G13\n", "")


def test_spells_a_symbol():
    r = jazzd("--symbol", "Bbmaj7")
    assert (r.returncode, r.stdout) == (0, "Bb D F A\n")


def test_batch_answers_every_line_and_keeps_going():
    queries = "43 53 59 64\n--symbol Bbmaj7\n\n60,64,67\nfoo\n--symbol Q7\n52 55 60\n60 64\n"
    r = jazzd("--batch", stdin=queries)
    assert r.stdout.splitlines() == [
        "G13", "Bb D F A", "", "C", "error: not a MIDI note number: 'foo'",
        "error: unknown chord symbol 'Q7': it does not start with a note name A-G",
        "C/E", "N.C."]
    assert r.returncode == 65 and "Traceback" not in r.stderr


@pytest.mark.parametrize("argv,status,message", [
    (["60", "200"], 65, "MIDI note out of range 0-127: 200"),
    (["60", "x", "64"], 65, "not a MIDI note number: 'x'"),
    (["60", "64.5", "67"], 65, "not a MIDI note number: '64.5'"),
    (["--symbol", "H7"], 65, "unknown chord symbol 'H7'"),
    (["--symbol", ""], 65, "empty chord symbol"),
    ([], 64, "give MIDI note numbers"),
    (["60", "--symbol", "C"], 64, "not both"),
    (["--batch", "60"], 64, "--batch reads its queries from stdin"),
])
def test_bad_input_is_one_clear_line(argv, status, message):
    r = jazzd(*argv)
    assert r.returncode == status
    assert message in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and r.stdout == ""


def run(argv, stdin=""):
    parser = build_parser()
    out = io.StringIO()
    status = main(parser.parse_args(["chord", *argv]), stdin=io.StringIO(stdin), stdout=out)
    return status, out.getvalue()


def test_in_process_answers():
    assert run(["60", "64", "67"]) == (0, "C\n")
    assert run(["--symbol", "N.C."]) == (0, "N.C.\n")
    assert run(["--symbol", "Cm7/Bb"]) == (0, "Bb C Eb G\n")
    assert run(["--symbol", "Bo7"]) == (0, "B D F Ab\n")
    assert run(["60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "70", "71"]) == \
        (0, "N.C.\n")
    assert run(["--batch"], "--symbol=G7\n 47 50 53 56 \n") == (0, "G B D F\nBdim7\n")
    status, out = run(["--batch"], "--frob\n-5 60 64\n")
    assert status == 65
    assert out.splitlines() == [
        "error: unknown query '--frob' (expected note numbers or --symbol FIG)",
        "error: MIDI note out of range 0-127: -5"]
