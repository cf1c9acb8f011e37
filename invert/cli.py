"""The `invert` command line. Errors the user can fix are one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import sys

from .commands import codec, compare, curves, layers_list, maximize, preimage, priors_list, restore
from zoo import ZooError

from .errors import UserError

COMMANDS = (preimage, maximize, compare, layers_list, restore, curves, codec, priors_list)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="invert",
        description="Fit image priors (Deep Image Prior, Deep Decoder, TV) to restore images or invert classifiers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (UserError, ZooError, FloatingPointError) as exc:
        print(f"invert: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a bad setting caught by a library layer (prior, engine)
        print(f"invert: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
