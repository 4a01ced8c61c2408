"""Chord scales: which scale a chord quality implies, as 12-bit masks relative to the root.

A chord's scale decides which non-chord tones are "S" (scale) rather than "A"/"X", so it
is a table, precomputed once; music21's `scale.derive` costs milliseconds a call.

Choices beyond GRAMMAR.md's table (all documented here, in one place):

- plain minor triad, m6, m69, madd9, m11, m13: Dorian, like m7 (GRAMMAR.md's minor choice);
- m7b5: Locrian (the diatonic ii of a minor key, whose b2 melodies use constantly);
  m9b5 has a natural 9, so it gets Locrian natural 2;
- dim triad: Locrian (a diatonic vii / ii of minor); dim7: whole-half diminished;
- 7b9 (and 13b9, 7b9#11, 7#9 with a natural 13): half-whole diminished;
- 7#9, 7alt and any dominant mixing b9/#9 with #5/b13: altered;
- 7#11, 9#11, 13#11: Lydian dominant; 7b13, 9b13: Mixolydian b6 (the 5th stays);
- aug, 7#5 (aug7), 9#5, 7b5, 9b5: whole tone; maj7#5: Lydian augmented;
- sus4, 7sus4, 9sus4, 13sus4, 11: Mixolydian; 7b9sus4: Phrygian;
- sus2, add9, 5 (power chord): Ionian (tonic colours);
- m#5 (minor with raised fifth, the line-cliche chord; "Dmaug"): Aeolian (its #5 is b6).
"""

from jazzd.grammar.pitch import mask_of

SCALES = {
    "ionian": mask_of((0, 2, 4, 5, 7, 9, 11)),
    "dorian": mask_of((0, 2, 3, 5, 7, 9, 10)),
    "phrygian": mask_of((0, 1, 3, 5, 7, 8, 10)),
    "lydian": mask_of((0, 2, 4, 6, 7, 9, 11)),
    "mixolydian": mask_of((0, 2, 4, 5, 7, 9, 10)),
    "aeolian": mask_of((0, 2, 3, 5, 7, 8, 10)),
    "locrian": mask_of((0, 1, 3, 5, 6, 8, 10)),
    "locrian_nat2": mask_of((0, 2, 3, 5, 6, 8, 10)),
    "melodic_minor": mask_of((0, 2, 3, 5, 7, 9, 11)),
    "lydian_augmented": mask_of((0, 2, 4, 6, 8, 9, 11)),
    "lydian_dominant": mask_of((0, 2, 4, 6, 7, 9, 10)),
    "mixolydian_b6": mask_of((0, 2, 4, 5, 7, 8, 10)),
    "altered": mask_of((0, 1, 3, 4, 6, 8, 10)),
    "half_whole": mask_of((0, 1, 3, 4, 6, 7, 9, 10)),
    "whole_half": mask_of((0, 2, 3, 5, 6, 8, 9, 11)),
    "whole_tone": mask_of((0, 2, 4, 6, 8, 10)),
}

# quality -> scale name, for every quality that is not a generated altered dominant
SCALE_OF = {
    "maj": "ionian", "5": "ionian", "6": "ionian", "69": "ionian", "add9": "ionian",
    "sus2": "ionian",
    "maj7": "ionian", "maj9": "ionian", "maj13": "ionian",
    "maj7#11": "lydian", "maj9#11": "lydian", "maj13#11": "lydian",
    "maj7#5": "lydian_augmented",
    "m": "dorian", "m6": "dorian", "m69": "dorian", "madd9": "dorian",
    "m7": "dorian", "m9": "dorian", "m11": "dorian", "m13": "dorian",
    "m#5": "aeolian",
    "mmaj7": "melodic_minor", "mmaj9": "melodic_minor",
    "m7b5": "locrian", "m9b5": "locrian_nat2",
    "dim": "locrian", "dim7": "whole_half",
    "aug": "whole_tone",
    "7": "mixolydian", "9": "mixolydian", "13": "mixolydian", "11": "mixolydian",
    "sus4": "mixolydian", "7sus4": "mixolydian", "9sus4": "mixolydian",
    "13sus4": "mixolydian", "7b9sus4": "phrygian",
    "7alt": "altered", "aug7": "whole_tone",
}


def dominant_scale(top, alterations):
    """Scale name of a dominant chord `top` ("7", "9", "13") with altered tones
    (a set drawn from "b5", "#5", "b9", "#9", "#11", "b13")."""
    flat9, sharp9 = "b9" in alterations, "#9" in alterations
    sharp5, flat13 = "#5" in alterations, "b13" in alterations
    flat5, sharp11 = "b5" in alterations, "#11" in alterations
    if sharp5 or flat13:
        if flat9 or sharp9:
            return "altered"
        if flat5 or sharp11 or sharp5:
            return "whole_tone"
        return "mixolydian_b6"
    if sharp9:
        return "half_whole" if top == "13" else "altered"
    if flat9:
        return "half_whole"
    if flat5:
        return "lydian_dominant" if top == "13" else "whole_tone"
    if sharp11:
        return "lydian_dominant"
    return "mixolydian"
