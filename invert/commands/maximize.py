"""`invert maximize`: the image each prior makes that most excites a channel, a neuron or a class."""
from __future__ import annotations

import argparse

import zoo

from .. import files, report
from ..engine import FitResult
from ..images import save_image
from ..inversion import ActivationMaximization
from ..report import labelled
from ..preimages import maximize
from .preimage import add_common, check_layers, load_judges, objective, run_cells, write_result
from . import options
from .output import prepare_output_dir, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("maximize", help="activation maximization of a channel, neuron or class",
                       description="Find the image a prior can make that most excites one unit of a classifier.")
    add_common(p, "runs/maximize", image=False)
    p.add_argument("--layer", default=None, help="layer name (default with --class: the logits)")
    unit = p.add_mutually_exclusive_group(required=True)
    unit.add_argument("--channel", type=options.whole(0), help="channel of --layer (its mean over positions)")
    unit.add_argument("--class", dest="class_index", type=imagenet_class, metavar="CLASS",
                      help='ImageNet class (a logit): an index or a name, e.g. 130 or "flamingo"')
    p.add_argument("--position", type=options.whole(0), nargs=2, metavar=("Y", "X"), help="one neuron: the channel at Y, X")
    p.add_argument("--priors", type=options.prior_names, default="dip,tv", help="comma-separated priors (default dip,tv)")
    p.set_defaults(run=run, image=None, flags={"channel": "--channel/--class"})


def imagenet_class(text: str) -> int:
    """--class: an ImageNet index or class name, checked while parsing."""
    try:
        return zoo.class_index(text)
    except zoo.ZooError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    judges = load_judges(args)
    layer = args.layer or zoo.default_layers(judges.model.model, judges.model.input_size)[-1]
    check_layers(judges, [layer])
    channel = args.channel if args.channel is not None else args.class_index
    position = tuple(args.position) if args.position else None
    ActivationMaximization(judges.model, layer, channel, position).remove_hooks()  # the unit exists: check first
    out = prepare_output_dir(args.out, args.overwrite)
    records, panels, histories = [], [], {}

    def fit_one(name: str) -> FitResult:
        say(f"maximize {layer}[{channel}] · {name}")
        image, record, result = maximize(judges, layer, channel, name, position=position, steps=args.steps,
                                         seed=args.seed, device=args.device, progress=not args.quiet,
                                         objective=objective(args))
        save_image(image, out / f"{name}.png")
        records.append(record)
        histories[name] = result.history
        panels.append((f"{name}: act {record['activation']:.2f}\n"
                       f"top1 {labelled(record['top1'], record['top1_name'])}", image))
        return result

    interrupted = run_cells(args.priors, fit_one)
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.grid(panels, out / "grid.png")
        unit = labelled(channel, records[0]["class_name"])
        report.curves_by_run(histories, out / "curves.png", f"maximize {layer}[{unit}]")
        write_result(args, judges, records, {"interrupted": interrupted}, out, layer=layer, channel=channel)
    return 130 if interrupted or held else 0
