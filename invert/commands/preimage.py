"""`invert preimage`: what a classifier keeps of an image, layer by layer, under several priors."""
from __future__ import annotations

import argparse
import glob
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvertError
from . import options
from .fitting import (add_common, cell_of, check_layers, fit_settings, load_judges, recipe, warn_if_failed,
                      write_result)
from .model_args import DEFAULT_IMAGE, load_target
from .output import prepare_output_dir, say

if TYPE_CHECKING:
    from ..preimages import Cell

DEFAULT_PRIORS = "dip,tv"
# with no --layer: each cell gets OVERVIEW_STEPS, the logits OVERVIEW_LOGITS_STEPS, so that the whole grid takes
# about 2 minutes on 2 cores (docs/speed.md). DIP's logits pre-image descends slowly: on coffee at 1 thread it
# crossed half a flat image's loss at 350-400 steps (seeds 0 and 2), and 200 steps stalled into restarts
OVERVIEW_STEPS = 200
OVERVIEW_LOGITS_STEPS = 400


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preimage", help="pre-images of a classifier's layers under several priors",
                       description="Invert a pretrained classifier: find images whose features at a layer match "
                                   "the target image's, under each prior.",
                       parents=[options.shared("runs/preimage")],
                       **options.example("invert preimage", "invert preimage photo.jpg --layer blocks.4,classifier "
                                         "--prior dip,deep_decoder --steps 600"))
    options.add_images(p, several=True, default=DEFAULT_IMAGE)
    p.add_argument("--seeds", type=options.seeds, default=None, metavar="S,S,...",
                   help="several seeds; with several images, globs or folders the run is a study (see `invert study`)")
    add_common(p)
    p.add_argument("--layer", "--layers", dest="layers", type=options.names, default=None,
                   help="a layer or a comma list (default: 3 stages and the logits; see `invert layers MODEL`)")
    p.add_argument("--prior", "--priors", dest="priors", type=options.prior_names, default=DEFAULT_PRIORS,
                   help=f"a prior or a comma list (default {DEFAULT_PRIORS})")
    p.add_argument("--attribution", action="store_true",
                   help="add captum Integrated Gradients maps (original's top class) beside every image")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from invert import zoo

    from .. import files, operations, preimages, report
    from ..images import save_image

    given = options.images_of(args, DEFAULT_IMAGE)
    if len(given) > 1 or args.seeds or any(Path(g).is_dir() or glob.has_magic(g) for g in given):
        return run_batch(args, given)
    image = given[0]
    judges = load_judges(args)
    target = load_target(image, judges.model)
    layers = args.layers or zoo.default_layers(judges.model.model, judges.model.input_size)
    check_layers(judges, layers)
    out = prepare_output_dir(args.out, args.overwrite, inputs=[image])
    steps = {layer: args.steps for layer in layers}
    if args.layers is None and args.steps is None:
        steps = overview_steps(layers)
        say(f"an overview: {OVERVIEW_STEPS} steps per pre-image, {OVERVIEW_LOGITS_STEPS} at the logits (about 2 "
            "minutes on 2 CPU cores); name --layer or --steps for the presets' full budgets (deep layers fit "
            "slower and get more steps)")
    (out / "cells").mkdir(exist_ok=True)

    def save(cell: Cell) -> None:
        save_image(cell.image, out / "cells" / f"{cell.key[0]}__{cell.key[1]}.png")
        warn_if_failed(cell)

    settings = fit_settings(args)
    cells, interrupted = preimages.fit_cells(
        [(layer, name) for layer in layers for name in args.priors],
        lambda key: cell_of(operations.get("preimage").run(judges, target, key[0], key[1],
                                                           **{**settings, "steps": steps[key[0]]})),
        on_start=lambda key: say(f"{key[0]} · {key[1]}"), on_done=save)
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.preimage_grid(cells, judges.model, target, layers, args.priors, out, attribution=args.attribution)
        write_result(args, judges, cells, interrupted, out, image=image, layers=layers, priors=args.priors)
    return 130 if interrupted or held else 0


def overview_steps(layers: list[str]) -> dict[str, int]:
    """The overview's budget per layer: the default layers end with the logits, which fit slowest."""
    return {**{layer: OVERVIEW_STEPS for layer in layers[:-1]}, layers[-1]: OVERVIEW_LOGITS_STEPS}


ONE_IMAGE_ONLY = ("weights", "attribution")


def run_batch(args: argparse.Namespace, given: list[str]) -> int:
    """Several images or seeds: the cells run as a study into --out (resumable, with a report)."""
    from invert import zoo

    from .. import studies
    from ..preimages import Judges
    from .batch import run_spec

    for name in ONE_IMAGE_ONLY:
        if getattr(args, name):
            raise InvertError(f"--{name.replace('_', '-')} works on one image and seed; for several, leave it out")
    images = studies.expand_images(given, Path.cwd(), "the images given")
    loaded = zoo.load(args.model)
    layers = args.layers or zoo.default_layers(loaded.model, loaded.input_size)
    check_layers(Judges(loaded), layers)
    steps = args.steps or (OVERVIEW_STEPS if args.layers is None else None)
    spec = studies.Spec("preimage", args.priors, args.seeds or [args.seed], model=args.model, images=images,
                        layers=layers, steps=steps, device=args.device, transfer=not args.no_transfer,
                        recipe=recipe(args).settings())
    return run_spec(spec, args.out, overwrite=args.overwrite,
                    quiet=args.quiet)
