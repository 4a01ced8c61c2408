"""Live controls: controller knobs (CCs, mapped in config.yaml's `controls:`) that turn
the improviser's parameters while it plays."""

import logging

log = logging.getLogger("jazzd.run")


def temperature_of_cc(value):
    """CC 0..127 → temperature 0.1..2.0 (64 ≈ 1.05)."""
    return 0.1 + 1.9 * value / 127.0


def rest_probability_of_cc(value):
    """CC 0..127 → rest probability 0.9..0 (turn it up for a denser line)."""
    return 0.9 * (1.0 - value / 127.0)


def apply_cc(controls, performer, ch, cc, value):
    """Apply one CC (0-based channel `ch`) to `performer` if `controls` maps it."""
    chans = controls["channel"]
    if chans != "all" and ch + 1 not in chans:
        return
    if cc == controls["temperature_cc"]:
        performer.temperature = temperature_of_cc(value)
        log.debug("temperature %.2f (CC%d)", performer.temperature, cc)
    if cc == controls["enable_cc"]:
        on = value >= 64
        if on != performer.enabled:
            performer.enabled = on
            log.info("improviser %s (CC%d)", "on" if on else "off", cc)
    if cc == controls["density_cc"]:
        performer.density = rest_probability_of_cc(value)
        log.debug("rest probability %.2f (CC%d)", performer.density, cc)


def interplay_mode_of_cc(value):
    """CC 0..127 → the interplay mode: 0-42 off, 43-85 trade, 86-127 answer (a
    three-way switch; a pedal or a knob turned all the way either side)."""
    return "off" if value < 43 else "trade" if value < 86 else "answer"


def apply_interplay_cc(controls, melody, ch, cc, value):
    """Switch the interplay mode if `controls` maps this CC (0-based channel `ch`) to
    it; the change takes effect at once (see Improviser)."""
    cc_map = controls.get("interplay_cc")
    if cc_map is None or cc != cc_map:
        return
    chans = controls["channel"]
    if chans != "all" and ch + 1 not in chans:
        return
    mode = interplay_mode_of_cc(value)
    if mode != melody.settings.mode:
        melody.set_mode(mode)
        log.info("interplay %s (CC%d)", mode, cc)
