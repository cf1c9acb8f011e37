"""`invert compare`: several priors, one layer, equal budgets — which gives the most natural pre-images?"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from . import options
from .model_args import DEFAULT_IMAGE, load_target
from .output import prepare_output_dir, say
from .fitting import add_common, cell_of, check_layers, fit_settings, load_judges, warn_if_failed, write_result

if TYPE_CHECKING:
    from ..preimages import Cell


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare priors on one layer with equal budgets (table + grid)",
                       description="Invert one layer with several priors and the same number of steps; report "
                                   "feature loss, SSIM, top-1 agreement, transfer to an independent model, time.",
                       parents=[options.shared("runs/compare")],
                       **options.example("invert compare skimage:coffee skimage:chelsea --prior dip,tv,deep_decoder "
                                         "--steps 300"))
    options.add_images(p, several=True, default=DEFAULT_IMAGE)
    add_common(p)
    p.add_argument("--layer", default=None, help="layer to invert (default: the logits)")
    p.add_argument("--prior", "--priors", dest="priors", type=options.prior_names, default="dip,tv,deep_decoder",
                   help="a prior or a comma list (default dip,tv,deep_decoder)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from invert import zoo

    from .. import files, operations, preimages, report
    from ..images import save_image

    image_specs = options.images_of(args, DEFAULT_IMAGE)
    judges = load_judges(args)
    layer = args.layer or zoo.default_layers(judges.model.model, judges.model.input_size)[-1]
    check_layers(judges, [layer])
    targets = [load_target(spec, judges.model) for spec in image_specs]  # a bad image fails before any fit
    out = prepare_output_dir(args.out, args.overwrite, inputs=image_specs)
    settings = fit_settings(args)

    def fit_key(key: tuple[int, str]):
        image, record, result = cell_of(operations.get("preimage").run(judges, targets[key[0]], layer, key[1],
                                                                       **settings))
        return image, {**record, "image": image_specs[key[0]]}, result

    def save(cell: Cell) -> None:
        save_image(cell.image, out / f"{cell.key[0]}__{cell.key[1]}.png")
        warn_if_failed(cell)

    cells, interrupted = preimages.fit_cells(
        [(i, name) for i in range(len(targets)) for name in args.priors], fit_key,
        on_start=lambda key: say(f"{image_specs[key[0]]} · {layer} · {key[1]}"), on_done=save)
    table = report.summarize_comparison([cell.record for cell in cells])
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.comparison(cells, judges.model, targets, args.priors, table, out)
        write_result(args, judges, cells, interrupted, out, layer=layer, priors=args.priors, images=image_specs,
                     summary=table)
    try:  # after the files: a terminal that went away costs the table, not them (a closed pipe ends quietly)
        print(report.markdown_table(table))
    except BrokenPipeError:
        raise
    except OSError:
        pass
    return 130 if interrupted or held else 0
