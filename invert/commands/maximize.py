"""`invert maximize`: the image each prior makes that most excites a channel, a neuron or a class."""
from __future__ import annotations

import argparse

from ..errors import InvertError
from . import options
from .output import prepare_output_dir, say
from .fitting import add_common, check_layers, fit_settings, load_judges, write_result


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("maximize", help="activation maximization of a channel, neuron or class",
                       description="Find the image a prior can make that most excites one unit of a classifier.",
                       parents=[options.shared("runs/maximize")],
                       **options.example('invert maximize --class flamingo --prior dip,fourier',
                                         "invert maximize --layer blocks.4 --channel 17 --position 7 7"))
    add_common(p, restarts=False)
    p.add_argument("--layer", default=None, help="layer name (default with --class: the logits)")
    unit = p.add_mutually_exclusive_group(required=True)
    unit.add_argument("--channel", type=options.whole(0), help="channel of --layer (its mean over positions)")
    unit.add_argument("--class", dest="class_index", type=options.Deferred(imagenet_class), metavar="CLASS",
                      help='ImageNet class (a logit): an index or a name, e.g. 130 or "flamingo"')
    p.add_argument("--position", type=options.whole(0), nargs=2, metavar=("Y", "X"), help="one neuron: the channel at Y, X")
    p.add_argument("--prior", "--priors", dest="priors", type=options.prior_names, default="dip,tv",
                   help="a prior or a comma list (default dip,tv)")
    p.add_argument("--batch", type=options.COUNT, default=1, metavar="B",
                   help="B images per prior (seeds SEED … SEED+B−1), fitted together")
    p.add_argument("--diversity", type=options.WEIGHT, default=0.0, metavar="W",
                   help="push the batch's images apart in the layer's Gram space with weight W (lucid's diversity; "
                        "needs --batch 2 or more)")
    p.set_defaults(run=run, flags={"channel": "--channel/--class"})


def imagenet_class(text: str) -> int:
    """--class: an ImageNet index or class name, checked before anything runs."""
    from invert import zoo

    try:
        return zoo.class_index(text)
    except zoo.ZooError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from invert import zoo

    from .. import files, preimages, report
    from ..faithfulness import maximized
    from ..images import save_image, side_by_side
    from ..inversion import ActivationMaximization

    if args.diversity and args.batch < 2:
        raise InvertError("--diversity pushes a batch's images apart: give --batch 2 or more (e.g. --batch 4)")
    judges = load_judges(args)
    layer = args.layer or zoo.default_layers(judges.model.model, judges.model.input_size)[-1]
    check_layers(judges, [layer])
    channel = args.channel if args.channel is not None else args.class_index
    position = tuple(args.position) if args.position else None
    ActivationMaximization(judges.model, layer, channel, position).remove_hooks()  # the unit exists: check first
    out = prepare_output_dir(args.out, args.overwrite)
    settings = fit_settings(args)
    cells, interrupted = preimages.fit_cells(
        args.priors, lambda name: preimages.maximize(judges, layer, channel, name, position=position,
                                                     diversity=args.diversity, batch=args.batch, **settings),
        on_start=lambda name: say(f"maximize {layer}[{channel}] · {name}"),
        on_done=lambda cell: save_image(side_by_side(cell.image), out / f"{cell.key}.png"))
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.maximize_grid(cells, layer, channel, args.priors, out)
        write_result(args, judges, cells, interrupted, out, layer=layer, channel=channel,
                     faithful=lambda cell: maximized(judges.model, judges.transfer, layer, channel, cell.image,
                                                     bool(cell.record.get("class_name"))))
    return 130 if interrupted or held else 0
