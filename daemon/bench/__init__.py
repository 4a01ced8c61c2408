"""`jazzd bench`: the report, its offline and live sections, and the JACK server and
MIDI peers that the live sections (and the test suite) play against."""
