"""`jazzd check-config FILE`: validate a config file without starting (exit 0 or 78)."""

from jazzd.service.config import load


def main(args):
    load(args.file)
    print(f"{args.file}: ok")
    return 0
