"""`jazzd run`: load the config, start the live daemon, run until a signal or a crash.

Exit statuses: 0 on SIGTERM/SIGINT, 70 (EX_SOFTWARE) after a crash in any thread (the
notes were silenced first) or a stop that did not finish in 5 s (service.signals), 78 on
a bad config (raised as ConfigError before start).
"""

import faulthandler
import logging
import sys

from jazzd.live.daemon import SWITCH_INTERVAL, Daemon
from jazzd.service import config as config_mod
from jazzd.service import logs
from jazzd.service.errors import EX_SOFTWARE, UserError

log = logging.getLogger("jazzd.run")


def main(args):
    faulthandler.enable()            # a fatal signal in a C extension leaves a traceback
    cfg, path = config_mod.load_or_default(args.config)
    logs.setup(cfg["logging"]["level"])
    sys.setswitchinterval(SWITCH_INTERVAL)
    daemon = Daemon(cfg, path, freeze_file=getattr(args, "debug_freeze_file", None))
    daemon.install_signals()
    try:
        daemon.start()
        daemon.loop(crash_file=getattr(args, "debug_crash_file", None),
                    hang_file=getattr(args, "debug_hang_file", None))
    except UserError:
        raise                            # a clear message and its own status (cli.py)
    except Exception as e:               # noqa: BLE001 - a bug: logged, silenced, 70
        log.critical("crash in the main thread: %s: %s", type(e).__name__, e,
                     exc_info=True)
        return EX_SOFTWARE
    finally:
        daemon.shutdown()
        daemon.signals.finished()
    if daemon.fatal is not None:
        return EX_SOFTWARE
    log.info("exiting on %s", daemon.stop_requested)
    return 0
