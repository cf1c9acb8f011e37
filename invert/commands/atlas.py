"""`invert atlas`: every unit of a layer rendered under several priors, beside the real images that drive it."""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from ..defaults import DEFAULT_MODEL, EXECUTORS, PACKAGED_PHOTOS
from ..errors import InvertError
from . import options
from .output import say

# with no arguments: a small atlas from the photos scikit-image ships (offline), in under 3 minutes on 2 cores
DEFAULT_LAYER = "blocks.4"
DEFAULT_UNITS = "0:8"
DEFAULT_PRIORS = "fourier,maco"
DEFAULT_STEPS = 128



def units(text: str) -> list[int]:
    """--units: "0:32" (a range, end excluded), "3,7,9", or both mixed ("0:4,9")."""
    chosen: list[int] = []
    for part in text.split(","):
        start, colon, end = part.strip().partition(":")
        try:
            chosen += list(range(int(start), int(end))) if colon else [int(start)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give a range START:END, numbers like 3,7,9, or both") from None
    if not chosen or min(chosen) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least one unit, numbered from 0")
    return list(dict.fromkeys(chosen))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("atlas", help="every unit of a layer: visualizations under several priors beside the photos "
                                     "that excite it, in one page",
                       description="Render units of a layer (B per fit) under each prior, find the photos that drive "
                                   "each unit most, and write atlas.html and atlas.json. Rerun into the same --out "
                                   "to resume; the photos' index is cached there.",
                       parents=[options.shared("runs/atlas")],
                       **options.example("invert atlas",
                                         "invert atlas efficientnet_lite0 --layer blocks.5 --units 0:32 "
                                         "--prior fourier,maco,dip --images photos/ --top 6 --batch 8"))
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL, help=f"timm name or tv:NAME (default {DEFAULT_MODEL})")
    p.add_argument("--layer", default=None, help=f"the layer (default {DEFAULT_LAYER}; see `invert layers MODEL`)")
    p.add_argument("--units", type=units, default=None, metavar="0:32|3,7,9",
                   help=f"channels of the layer, or classes at the logits (default {DEFAULT_UNITS})")
    p.add_argument("--prior", "--priors", dest="priors", type=options.prior_names, default=DEFAULT_PRIORS,
                   help=f"a prior or a comma list (default {DEFAULT_PRIORS})")
    p.add_argument("--images", type=options.names, default=None, metavar="DIR|GLOB",
                   help="photos for the dataset examples: folders, globs or skimage:NAME, comma-separated "
                        "(default: the photos scikit-image ships)")
    p.add_argument("--top", type=options.whole(1, 100), default=6, metavar="K", help="examples per unit (default 6)")
    p.add_argument("--batch", type=options.whole(1, 256), default=8, metavar="B", help="units per fit (default 8)")
    p.add_argument("--steps", type=options.COUNT, default=None,
                   help=f"steps per fit (default {DEFAULT_STEPS} for the default atlas, else the presets')")
    p.add_argument("--no-transfer", action="store_true", help="skip the independent model's verdict on class units")
    p.add_argument("--workers", type=options.whole(1, 64), default=1, help="worker processes (default 1)")
    p.add_argument("--accentuate", action="store_true",
                   help="also each unit's top photo accentuated (grown towards the unit: what in the photo it "
                        "responds to), a column beside each prior's")
    p.add_argument("--executor", choices=EXECUTORS, default="local", help="local processes, or Ray tasks")
    p.add_argument("--address", default=None, help="with --executor ray: a cluster to join (auto, or HOST:PORT)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .. import studies
    from ..operations import atlas as atlas_operation
    from .batch import claim_study, run_claimed

    if args.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise InvertError("--executor ray needs Ray: pip install 'invert[ray]'")
    default = args.layer is None and args.units is None and args.steps is None
    raw = {"task": "atlas", "model": args.model, "layers": [args.layer or DEFAULT_LAYER],
           "channels": args.units or units(DEFAULT_UNITS), "batch": args.batch, "top": args.top,
           "images": args.images or list(PACKAGED_PHOTOS), "priors": args.priors, "seeds": [args.seed],
           "device": args.device, "transfer": not args.no_transfer, "accentuate": args.accentuate}
    if args.steps or default:
        raw["steps"] = args.steps or DEFAULT_STEPS
    spec = studies.spec_of(raw, Path.cwd(), "invert atlas")  # units and layer checked before any work
    out = claim_study(args.out, args.overwrite)
    if default:
        say(f"a small atlas: {args.model} {DEFAULT_LAYER}, units {DEFAULT_UNITS}, {DEFAULT_PRIORS}, {DEFAULT_STEPS} "
            f"steps per fit, examples from {len(PACKAGED_PHOTOS)} photos scikit-image ships (2–3 minutes on 2 cores)")
    bar = tqdm(total=len(spec.images), unit="image", desc="examples", disable=True if args.quiet else None)

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    atlas_operation.prepare_examples(spec, out, progress=progress, skipped=lambda _path, why: say(f"skipped: {why}"))
    bar.close()
    return run_claimed(spec, out, workers=args.workers, threads=args.threads, quiet=args.quiet,
                       executor=args.executor, address=args.address)
