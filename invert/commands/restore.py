"""`invert restore TASK`: restore one image with a prior and no training data. The tasks, their flags and
their checks come from the task registry (`invert.tasks`): a new task is a file there, not an edit here."""
from __future__ import annotations

import argparse
import glob
from pathlib import Path
from typing import TYPE_CHECKING

from .. import tasks
from ..errors import InvertError
from . import options
from .output import prepare_output_dir, say

if TYPE_CHECKING:
    from ..engine import FitResult
    from ..restoration import Problem

# Used when IMAGE is left out: a sample photo shipped with scikit-image, degraded as each task's `sample` says
SAMPLE = {"image": "skimage:chelsea", "crop": 128}


def task_flags() -> dict[str, str]:
    """Every task setting's flag by library name, with the names a task's errors use for it (`sigma`)."""
    flags = {}
    for task in map(tasks.get, tasks.available()):
        settings = tasks.settings_of(task)
        flags.update({name: options.flag_of(name, spec) for name, spec in settings.items()})
        flags.update({alias: options.flag_of(name, settings[name]) for alias, name in task.aliases.items()})
    return flags


EXAMPLES = ("invert restore denoise", "invert restore denoise photo.png --add-noise 25 --prior deep_decoder",
            "invert restore denoise photo.png --add-noise camera:0.0025", "invert restore sr photo.png --factor 4 --from-hr",
            "invert restore inpaint photo.png --mask mask.png", "invert restore deblur photo.png --blur 2")
DESCRIPTION = "Restore an image by fitting a prior to it (no training data)."


class TaskHelp(argparse.Action):
    """-h/--help after a task's name (`invert restore denoise --help`) shows that task's options and examples
    only; before it (`invert restore --help`), every task's."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0,
                         help="show this help message and exit (after TASK: that task's options only)")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        name = getattr(namespace, "task", None)
        if name in tasks.available():
            examples = [e for e in EXAMPLES if e.split()[2] == name]
            parser = options.Parser(prog=f"{parser.prog} {name}", description=DESCRIPTION,
                                    parents=[options.shared("runs/<task>")], **options.example(*examples))
            add_arguments(parser, [name])
        parser.print_help()
        parser.exit()


def add_parser(sub: argparse._SubParsersAction) -> None:
    names = tasks.available()
    p = sub.add_parser("restore", help=f"{', '.join(names)}: restore an image with a prior", description=DESCRIPTION,
                       parents=[options.shared("runs/<task>")], add_help=False, **options.example(*EXAMPLES))
    p.add_argument("-h", "--help", action=TaskHelp)
    p.add_argument("task", choices=names)
    add_arguments(p, names)
    p.set_defaults(run=run, flags=task_flags())


def add_arguments(p: argparse.ArgumentParser, names: list[str]) -> None:
    """The options of `restore` for the tasks `names` (all of them, or the one whose --help is asked for)."""
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image file or skimage:NAME; left out: a sample image "
                   f"({SAMPLE['image']}, {SAMPLE['crop']}² crop) with a synthetic degradation; several images, a "
                   "glob or a folder run as a study (see `invert study`)")
    p.add_argument("--seeds", type=options.seeds, default=None, metavar="S,S,...",
                   help="several seeds (the run is then a study)")
    p.add_argument("--prior", default=None, help="prior name (see `invert priors`); default: "
                   + ", ".join(f"{tasks.get(name).default_prior} for {name}" for name in names))
    p.add_argument("--preset", default=None, help="prior preset; default: the prior's preset for the task, if any")
    p.add_argument("--steps", type=options.COUNT, default=None, help="optimization steps (default: the preset's)")
    p.add_argument("--lr", type=options.LEARNING_RATE, default=None, help="learning rate (default: the preset's)")
    p.add_argument("--no-auto-stop", dest="auto_stop", action="store_false",
                   help="run every step instead of stopping by itself (denoising: once the residual reaches the "
                        "noise level estimated from the input; otherwise: near the output-variance minimum)")
    p.add_argument("--crop", type=options.COUNT, default=None, help="centre-crop the image to N×N first")
    synthesized = [options.flag_of(task.synthesized_by, tasks.settings_of(task)[task.synthesized_by])
                   for task in map(tasks.get, names) if task.synthesized_by]
    p.add_argument("--reference", default=None, metavar="FILE",
                   help="the clean image to score against (cropped as IMAGE is); without it, scores only when the "
                        f"degradation was synthesized ({', '.join(synthesized)})")
    for name in names:
        task = tasks.get(name)
        options.add_settings(p.add_argument_group(name, task.summary), task)


def task_of(args: argparse.Namespace, sample: bool = False) -> tasks.RestorationTask:
    """The task the arguments name, with the settings given; a setting of another task is refused. On the
    sample photo the task's sample degradation fills in what was not given."""
    task = tasks.get(args.task)
    own = tasks.settings_of(task)
    for other in tasks.available():
        for name, spec in tasks.settings_of(tasks.get(other)).items():
            if name not in own and getattr(args, name, None) not in (None, False):
                raise InvertError(f"{options.flag_of(name, spec)} is for {other}; leave it out for {args.task}")
    given = options.given_settings(task, args)
    return task(**({**task.sample, **task.from_clean, **given} if sample else given))


def stop_reason(result: FitResult) -> str:
    """Why the fit ended and which step's output is shown, in words (result.json's `stop_reason`, the terminal)."""
    cfg = result.config
    if result.stopped_by != "auto":
        why = {"steps": "ran all steps", "callback": "a callback asked to stop",
               "interrupt": "interrupted (Ctrl-C)"}[result.stopped_by]
        if cfg is not None and cfg.auto_stop and not result.watched and result.stopped_by == "steps":
            why += " (this prior's answer is its energy's minimum: it does not stop early)"
        if result.noise_level_step is not None:
            return (f"{why}; the residual reached the noise level at step {result.noise_level_step}, and the "
                    f"run on to {cfg.stop_extend:g}× that step was cut short")
    elif cfg.stop_residual is not None:
        run_on = (f", and the fit ran on to {cfg.stop_extend:g}× that step as the shown average lags it"
                  if cfg.stop_extend > 1 else "")
        of, its = ("of the luminance ", "the luminance's") if cfg.stop_luminance else ("", "the")
        return (f"the mean squared residual {of}fell to {cfg.stop_residual:.4g}, just under {its} noise variance "
                f"estimated from the input (discrepancy principle){run_on}; the output is from step "
                f"{result.chosen_step}")
    else:
        why = (f"the variance of the last {cfg.stop_window} outputs stayed above its minimum"
               + (f" (+{cfg.stop_tolerance:.0%})" if cfg.stop_tolerance else "") + f" for {cfg.stop_patience} steps")
    if result.chosen is not None:
        why += f"; the output is from step {result.chosen_step}, the last near the variance minimum"
    return why


def build_problem(args: argparse.Namespace, task: tasks.RestorationTask) -> tuple[Problem, list[str]]:
    from .. import images, restoration

    image, notes = images.load_image(args.image)
    uncropped = tuple(image.shape[-2:])
    if args.crop:
        image = images.center_crop(image, args.crop)
    problem = task.problem(image, args.seed, tasks.Source(uncropped, args.crop))
    if args.reference:
        reference, _ = images.load_image(args.reference)
        problem = restoration.with_reference(problem, images.center_crop(reference, args.crop) if args.crop else reference)
    elif problem.reference is None:
        notes.append("no clean reference: no PSNR or SSIM (give --reference FILE to score against one)")
    return problem, notes + problem.notes


def run(args: argparse.Namespace) -> int:
    from invert import priors as prior_registry

    from .. import files, operations, report

    args.prior = args.prior or tasks.get(args.task).default_prior
    if len(args.images) > 1 or args.seeds or any(Path(i).is_dir() or glob.has_magic(i) for i in args.images):
        return run_batch(args)
    task = task_of(args, sample=not args.images)
    notes = []
    if args.images:
        args.image = args.images[0]
    else:
        args.image, args.crop = SAMPLE["image"], task.sample_crop(args.crop or SAMPLE["crop"])
        notes.append(f"no IMAGE given: using {args.image} ({args.crop}² crop) as the clean reference")
    preset = prior_registry.preset_for(args.prior, args.task, args.preset)
    prior_registry.preset(args.prior, preset)  # unknown prior/preset: fail before reading anything
    out = prepare_output_dir(args.out.replace("<task>", args.task), args.overwrite,
                             inputs=[args.image, args.reference, getattr(task, "mask", None)])
    problem, more = build_problem(args, task)
    say(*notes, *more)
    done = operations.get("restore").solve(problem, args.prior, preset=args.preset, steps=args.steps, lr=args.lr,
                                           seed=args.seed, device=args.device, auto_stop=args.auto_stop,
                                           progress=not args.quiet)
    result = done.fit
    if result.config.stop_residual is not None:  # the discrepancy rule: say which noise level it stopped at
        say(f"noise level σ {done.record['noise_sigma']:.3g}/255 ({done.record['noise_sigma_source']})"
            + ("" if done.record["noise_sigma_source"] == "given" else "; --noise-level S gives it by hand"))
    if result.interrupted:
        say(f"interrupted at step {result.steps_run}; saving the result so far")
    elif result.stopped_by == "auto":
        say(f"auto-stop after {result.steps_run} steps: {stop_reason(result)} (--no-auto-stop runs them all)")
    elif result.watched:  # the budget ran out first: say so, and why
        why = ("the residual never fell to that noise level; give --noise-level or more --steps"
               if result.config.stop_residual is not None and result.noise_level_step is None else stop_reason(result))
        say(f"auto-stop did not fire in {result.steps_run} steps: {why}")
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.write_restoration(done, out, {"image": args.image, "notes": notes + more,
                                             "stop_reason": stop_reason(result)})
    scores = done.record
    summary = f"{scores['psnr_input']:.2f} → {scores['psnr']:.2f} dB, " if "psnr" in scores else ""
    ended = f"interrupted after {result.seconds:.1f} s" if result.interrupted else f"done in {result.seconds:.1f} s"
    say(f"{args.task} {ended} ({result.steps_run} steps), {summary}results in {out}/")
    return 130 if result.interrupted or held else 0


def run_batch(args: argparse.Namespace) -> int:
    """Several images or seeds: one study (a clean reference per image, the degradation synthesized)."""
    from .. import studies
    from .batch import run_spec

    given = studies.expand_images(args.images or [SAMPLE["image"]], Path.cwd(), "the images given")
    task = task_of(args)
    if not task.synthesizes:
        need = " ".join(options.flag_of(name, spec) + ("" if spec.kind is bool else f" {spec.metavar or name.upper()}")
                        for name, spec in tasks.settings_of(type(task)).items() if name in {**task.sample, **task.from_clean})
        raise InvertError(f"several images or seeds are scored against clean references: give {need}")
    for flag, value in (("--preset", args.preset), ("--lr", args.lr), ("--no-auto-stop", not args.auto_stop),
                        ("--reference", args.reference)):
        if value:
            raise InvertError(f"{flag} works on one image and seed; for several, leave it out")
    clean = type(task).from_clean
    spec = studies.Spec("restore", [args.prior], args.seeds or [args.seed], images=given, steps=args.steps,
                        restore=args.task, restoration={k: v for k, v in task.settings().items() if k not in clean},
                        crop=args.crop, device=args.device)
    folder = args.out.replace("<task>", args.task)
    return run_spec(spec, folder, overwrite=args.overwrite,
                    quiet=args.quiet)
