"""`invert maximize`: the image each prior makes that most excites a channel, a neuron or a class."""
from __future__ import annotations

import argparse
import math

from ..errors import InvertError
from . import options
from .output import prepare_output_dir, say
from .fitting import add_common, cell_of, check_layers, fit_settings, load_judges, write_result
from .model_args import load_target


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("maximize", help="activation maximization of a channel, neuron or class",
                       description="Find the image a prior can make that most excites one unit of a classifier.",
                       parents=[options.shared("runs/maximize")],
                       **options.example('invert maximize --class flamingo --prior dip,fourier',
                                         "invert maximize --layer blocks.4 --channel 17 --position 7 7",
                                         "invert maximize --layer blocks.5 --direction 3=1,7=-0.5 --prior fourier",
                                         "invert maximize --objective \"unit('blocks.5:3') - 50 * diversity()\" --batch 4",
                                         "invert maximize --layer blocks.5 --channel 3 --from photo.jpg"))
    add_common(p, restarts=False)
    p.add_argument("--layer", default=None, help="layer name (default with --class: the logits)")
    unit = p.add_mutually_exclusive_group(required=True)
    unit.add_argument("--channel", type=options.whole(0), help="channel of --layer (its mean over positions)")
    unit.add_argument("--class", dest="class_index", type=options.Deferred(imagenet_class), metavar="CLASS",
                      help='ImageNet class (a logit): an index or a name, e.g. 130 or "flamingo"')
    unit.add_argument("--direction", type=direction, metavar="C=W,...",
                      help="a direction in --layer's channel space (lucid's direction): channel=weight terms, e.g. "
                           "3=1,7=-0.5 (channels not named weigh 0)")
    unit.add_argument("--objective", metavar="EXPR",
                      help="an objective written as lucent writes it, over named terms: e.g. "
                           "\"unit('blocks.5:3') - 50 * diversity() + 0.01 * tv()\" (it names its own layers)")
    p.add_argument("--position", type=options.whole(0), nargs=2, metavar=("Y", "X"), help="one neuron: the channel at Y, X")
    p.add_argument("--prior", "--priors", dest="priors", type=options.prior_names, default="dip,tv",
                   help="a prior or a comma list (default dip,tv)")
    p.add_argument("--batch", type=options.COUNT, default=1, metavar="B",
                   help="B images per prior (seeds SEED … SEED+B−1), fitted together")
    p.add_argument("--from", dest="from_image", metavar="PHOTO",
                   help="grow the picture from PHOTO instead (feature accentuation): what in the photo the unit "
                        "responds to, the photo's and the picture's activations and their SSIM in result.json")
    p.add_argument("--diversity", type=options.WEIGHT, default=0.0, metavar="W",
                   help="push the batch's images apart in the layer's Gram space with weight W (lucid's diversity; "
                        "needs --batch 2 or more)")
    p.set_defaults(run=run, flags={"channel": "--channel/--class"})


def direction(text: str) -> dict[int, float]:
    """--direction: channel=weight terms, each channel once, finite weights, not all 0."""
    weights: dict[int, float] = {}
    for term in text.split(","):
        channel, _, weight = term.partition("=")
        try:
            c, w = int(channel), float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{term!r}: give channel=weight terms, e.g. 3=1,7=-0.5") from None
        if c < 0 or c in weights or not math.isfinite(w):
            raise argparse.ArgumentTypeError(f"{term!r}: each channel (0 or more) once, with a finite weight")
        weights[c] = w
    if not any(weights.values()):
        raise argparse.ArgumentTypeError(f"{text!r}: every weight is 0; give one that is not")
    return dict(sorted(weights.items()))


def imagenet_class(text: str) -> int:
    """--class: an ImageNet index or class name, checked before anything runs."""
    from invert import zoo

    try:
        return zoo.class_index(text)
    except zoo.ZooError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from invert import zoo

    from .. import files, objectives, operations, preimages, report
    from ..direction import Direction, weights_label, weights_vector
    from ..images import save_image, side_by_side

    if args.diversity and args.batch < 2:
        raise InvertError("--diversity pushes a batch's images apart: give --batch 2 or more (e.g. --batch 4)")
    if args.direction and args.position:
        raise InvertError("--position is for --channel or --class; a --direction is taken over every position")
    if args.from_image and (args.batch > 1 or args.diversity):
        raise InvertError("--from grows one image from the photo: leave --batch and --diversity out")
    if args.objective and (args.layer or args.position):
        raise InvertError("--layer and --position are for --channel, --class or --direction; an --objective names "
                          "its own layers and positions (unit('blocks.5:3@4,4'))")
    judges = load_judges(args)
    layer = args.layer or zoo.default_layers(judges.model.model, judges.model.input_size)[-1]
    check_layers(judges, [layer])
    if args.objective:
        unit = objectives.parse(args.objective)
        operations.check_unit(judges.model, unit)  # every term checked on the model before any fit
        layer = operations.first_layer(unit)
        label, given = args.objective, {"objective": args.objective}
    elif args.direction:
        count = operations.unit_count(judges.model, layer)
        outside = [c for c in args.direction if c >= count]
        if outside:
            raise InvertError(f"--direction: channel {outside[0]} is out of range: layer {layer!r} has {count} "
                              f"(0–{count - 1})")
        label = weights_label(args.direction)
        unit = Direction(layer, weights_vector(args.direction, count))
        given = {"direction": {str(c): w for c, w in args.direction.items()}}
    else:
        channel = args.channel if args.channel is not None else args.class_index
        unit = operations.Unit(layer, channel, tuple(args.position) if args.position else None)
        operations.check_unit(judges.model, unit)  # the unit exists: checked before any fit
        label, given = str(channel), {"channel": channel}
    settings = {**fit_settings(args), "diversity": args.diversity, "batch": args.batch}
    if args.from_image:
        settings.update(from_image=load_target(args.from_image, judges.model), from_image_name=args.from_image)
    out = prepare_output_dir(args.out, args.overwrite, inputs=[args.from_image])
    cells, interrupted = preimages.fit_cells(
        args.priors, lambda name: cell_of(operations.get("maximize").run(
            judges, unit, name, **settings, label=label if args.objective else f"{layer}:{label}")),
        on_start=lambda name: say(f"maximize {layer}[{label}] · {name}"),
        on_done=lambda cell: save_image(side_by_side(cell.image), out / f"{cell.key}.png"))
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.maximize_grid(cells, layer, label, args.priors, out)
        write_result(args, judges, cells, interrupted, out, layer=layer, **given)
    return 130 if interrupted or held else 0
