"""The `invert` command line: parse → call → write.

Errors the user can fix are one line on stderr and exit 2; anything unexpected is one line too, with how to
see the traceback. Ctrl-C, SIGTERM and SIGHUP end a run keeping what it has (exit 130), even during start-up.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import TYPE_CHECKING

from . import files, threads

if TYPE_CHECKING:
    from .commands.options import Parser

DEBUG_VARIABLE = "INVERT_DEBUG"


def build_parser() -> Parser:
    from .commands import atlas, codec, compare, curves, layers_list, maximize, preimage, priors_list, restore, study
    from .commands.options import Parser

    from .commands.options import example

    parser = Parser(
        prog="invert",
        description="Fit image priors (Deep Image Prior, Deep Decoder, TV) to restore images or invert classifiers.",
        **example("invert preimage", "invert maximize --class flamingo --prior fourier,dip", "invert atlas",
                  "invert restore denoise photo.jpg", "invert study run study.toml --out runs/study",
                  "invert COMMAND --help"),
    )
    parser.add_argument("--debug", action="store_true", help=f"show tracebacks (or set {DEBUG_VARIABLE}=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (preimage, maximize, compare, atlas, study, layers_list, restore, curves, codec, priors_list):
        command.add_parser(sub)
    return parser


def _flag(setting: str, args: argparse.Namespace) -> str:
    """The command's flag for a library setting: its own name for it (`sigma` is --add-noise), else --setting;
    "a or b" (settings that exclude each other) is said as "--a or --b"."""
    flags = getattr(args, "flags", {})
    return " or ".join(flags.get(name, "--" + name.replace("_", "-")) for name in setting.split(" or "))


def explain(error: Exception, args: argparse.Namespace) -> str:
    """A library error in the CLI's words: the setting at fault named by its flag."""
    setting, problem = getattr(error, "setting", None), getattr(error, "problem", None)
    if setting and problem:  # a SettingError, or the priors' own
        return f"{_flag(setting, args)} {problem}"
    said = getattr(error, "cli", None) or str(error)  # where the fix is a command, the command
    return f"{_flag(setting, args)}: {said}" if setting else said


# a disk that is full, over quota, read-only or failing: the user's to fix, said in one line
WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}


def _run(args: argparse.Namespace, debug: bool) -> int:
    from .commands import output
    from .errors import InvertError

    status = 1
    if hasattr(args, "threads"):  # the same seed and thread count give the same numbers
        threads.set_threads(args.threads)
    try:
        status = args.run(args)
    except InvertError as error:
        print(f"invert: error: {explain(error, args)}", file=sys.stderr)
        status = 2
    except BrokenPipeError:  # `invert priors | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    except OSError as error:
        if error.errno not in WRITE_ERRORS:
            raise
        where = f" {error.filename}" if error.filename else ""
        print(f"invert: error: cannot write{where}: {error.strerror}; free some space or choose another output",
              file=sys.stderr)
        status = 2
    except Exception as error:
        if debug:
            raise
        text = " ".join(str(error).split())[:300]
        print(f"invert: internal error: {type(error).__name__}: {text} (add --debug or set {DEBUG_VARIABLE}=1 for "
              "the traceback)", file=sys.stderr)
    finally:
        # a run that ends with a result (130: interrupted, the best so far saved) keeps its outputs
        output.release(failed=status not in (0, 130))
    return status


def main(argv: list[str] | None = None) -> int:
    threads.prepare()  # before torch loads: how its threads wait, and the window that measures the machine's load
    files.honour_interrupts()  # SIGTERM and SIGHUP end a run as Ctrl-C does
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)  # torch-free: --help and a mistyped option answer at once
        parser.check_deferred(args)  # the checks that need torch, before anything loads or is written
        return _run(args, args.debug or bool(os.environ.get(DEBUG_VARIABLE)))
    except KeyboardInterrupt:
        print("invert: interrupted before there was a result to keep", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
