"""`jazzd check-config FILE`: validate a config file without starting: its keys and
values, and the model it names, loaded as `jazzd run` loads it. Exit 0, or 78
(EX_CONFIG) with a one-line message naming what is wrong."""

from jazzd.model.store import load_model
from jazzd.service.config import load
from jazzd.service.errors import ConfigError, ModelError


def main(args):
    cfg = load(args.file)
    name = cfg["improviser"]["model"]
    try:
        model = load_model(name)
    except ModelError as e:
        raise ConfigError(f"{args.file}: 'improviser.model' ({name!r}) cannot be loaded: "
                          f"{e}") from None
    print(f"{args.file}: ok (model {model.path})")
    return 0
