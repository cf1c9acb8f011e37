"""`invert compress` / `invert decompress`: store an image as a fitted Deep Decoder."""
from __future__ import annotations

import argparse
import io

import torch
from PIL import Image

import priors as prior_registry

from .. import codec, files, images, memory, metrics
from ..energies import reconstruction
from ..engine import FitConfig, fit, resolve_device
from . import options
from .output import prepare_output_file, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compress", help="store an image as the weights of a small Deep Decoder")
    p.add_argument("image", help="image file or skimage:NAME")
    p.add_argument("output", help="compressed file to write (e.g. image.ddc)")
    p.add_argument("--width", type=options.whole(1, codec.LIMITS["width"]), default=32,
                   help="channels per layer k (fewer: smaller file)")
    p.add_argument("--depth", type=options.COUNT, default=None, help="layers (default: 6, fewer on small images)")
    p.add_argument("--steps", type=options.COUNT, default=2000)
    p.add_argument("--lr", type=options.LEARNING_RATE, default=0.01)
    p.add_argument("--precision", choices=list(codec.DTYPES), default="float16")
    p.add_argument("--crop", type=options.COUNT, default=None, help="centre-crop the image to N×N first")
    p.add_argument("--seed", type=options.SEED, default=0)
    p.add_argument("--device", type=options.device, default="cpu",
                   help="cpu keeps decoding bit-exact across machines of one kind")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=run_compress)

    d = sub.add_parser("decompress", help="re-render an image stored by `invert compress`")
    d.add_argument("input", help="compressed file")
    d.add_argument("output", help="PNG to write")
    d.add_argument("--overwrite", action="store_true")
    d.set_defaults(run=run_decompress)


def png_bytes(x: torch.Tensor) -> int:
    buffer = io.BytesIO()
    Image.fromarray(images.to_uint8(x)).save(buffer, format="PNG", optimize=True)
    return buffer.tell()


def run_compress(args: argparse.Namespace) -> int:
    out = prepare_output_file(args.output, args.overwrite)
    image, notes = images.load_image(args.image)
    if args.crop:
        image = images.center_crop(image, args.crop)
    say(*notes)

    def build() -> torch.nn.Module:
        return prior_registry.create("deep_decoder", channels=image.shape[1], size=tuple(image.shape[-2:]),
                                     seed=args.seed, width=args.width, depth=args.depth)

    h, w = image.shape[-2:]
    memory.ensure_fit_fits(build, resolve_device(args.device), f"compressing a {w}×{h} image",
                           "crop or downscale it (--crop), or lower --width")
    prior = build()
    config = FitConfig(steps=args.steps, lr=args.lr, seed=args.seed, device=args.device, progress=not args.quiet)
    result = fit(prior, reconstruction(image), config)
    prior = prior.cpu()
    codec.quantize_(prior, args.precision)
    with torch.no_grad():
        decoded = prior().clamp(0, 1)
    stats = {
        "psnr": metrics.psnr(decoded, image),
        "parameters": prior.num_parameters(),
        "compression_factor": codec.compression_factor(image.shape[1], tuple(image.shape[-2:]), prior.num_parameters()),
        "steps": result.steps_run,
    }
    blob = codec.encode(prior, prior.architecture, args.seed, args.precision, {"stats": stats})
    files.write_bytes(out, blob)
    png = png_bytes(image)
    say(f"{out}: {len(blob):,} bytes ({png / len(blob):.1f}× smaller than PNG's {png:,}), "
          f"{stats['parameters']:,} weights (compression factor {stats['compression_factor']:.1f}), "
          f"PSNR {stats['psnr']:.2f} dB")
    return 0


def run_decompress(args: argparse.Namespace) -> int:
    out = prepare_output_file(images.check_image_path(args.output), args.overwrite)
    prior, header = codec.read(args.input)
    with torch.no_grad():
        images.save_image(prior().clamp(0, 1), out)
    say(f"wrote {out} ({header['size'][1]}×{header['size'][0]})")
    return 0
