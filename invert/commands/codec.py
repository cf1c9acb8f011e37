"""`invert compress` / `invert decompress`: store an image as a fitted Deep Decoder."""
from __future__ import annotations

import argparse
import io
from typing import TYPE_CHECKING

from ..defaults import CODEC_LIMITS, PRECISIONS
from . import options
from .output import prepare_output_file, say

if TYPE_CHECKING:
    import torch


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compress", help="store an image as the weights of a small Deep Decoder",
                       parents=[options.shared(device_default="cpu")],
                       **options.example("invert compress skimage:astronaut astronaut.ddc --crop 256",
                                         "invert decompress astronaut.ddc astronaut.png"))
    p.add_argument("image", help="image file or skimage:NAME")
    p.add_argument("output", help="compressed file to write (e.g. image.ddc)")
    p.add_argument("--width", type=options.whole(1, CODEC_LIMITS["width"]), default=32,
                   help="channels per layer k (fewer: smaller file)")
    p.add_argument("--depth", type=options.COUNT, default=None, help="layers (default: 6, fewer on small images)")
    p.add_argument("--steps", type=options.COUNT, default=2000)
    p.add_argument("--lr", type=options.LEARNING_RATE, default=0.01)
    p.add_argument("--precision", choices=PRECISIONS, default="float16")
    p.add_argument("--crop", type=options.COUNT, default=None, help="centre-crop the image to N×N first")
    p.set_defaults(run=run_compress)  # --device cpu (the default) keeps decoding bit-exact across machines of one kind

    d = sub.add_parser("decompress", help="re-render an image stored by `invert compress`",
                       **options.example("invert decompress astronaut.ddc astronaut.png"))
    d.add_argument("input", help="compressed file")
    d.add_argument("output", help="PNG to write")
    d.add_argument("--overwrite", action="store_true", help="write over an existing file")
    d.set_defaults(run=run_decompress)


def png_bytes(x: torch.Tensor) -> int:
    from PIL import Image

    from .. import images

    buffer = io.BytesIO()
    Image.fromarray(images.to_uint8(x)).save(buffer, format="PNG", optimize=True)
    return buffer.tell()


def run_compress(args: argparse.Namespace) -> int:
    from .. import codec, files, images

    out = prepare_output_file(args.output, args.overwrite, inputs=[args.image])
    image, notes = images.load_image(args.image)
    if args.crop:
        image = images.center_crop(image, args.crop)
    say(*notes)
    blob, _, stats, fitted = codec.compress(image, width=args.width, depth=args.depth, steps=args.steps, lr=args.lr,
                                            precision=args.precision, seed=args.seed, device=args.device,
                                            progress=not args.quiet)
    files.write_bytes(out, blob)
    png = png_bytes(image)
    ratio = (f"{png / len(blob):.1f}× smaller than PNG's {png:,}" if len(blob) < png else
             f"{len(blob) / png:.1f}× larger than PNG's {png:,}: a narrower --width or fewer --depth makes it smaller")
    say(f"{out}: {len(blob):,} bytes ({ratio}), "
        f"{stats['parameters']:,} weights (compression factor {stats['compression_factor']:.1f}), "
        f"PSNR {stats['psnr']:.2f} dB")
    if fitted.interrupted:  # the weights so far are stored, but the run did not finish: not a 0
        say(f"interrupted after {stats['steps']} of {args.steps} steps; {out} holds the fit so far")
        return 130
    return 0


def run_decompress(args: argparse.Namespace) -> int:
    from .. import codec, images

    out = prepare_output_file(images.check_image_path(args.output), args.overwrite, inputs=[args.input])
    image = codec.decompress(args.input)
    images.save_image(image, out)
    say(f"wrote {out} ({image.shape[-1]}×{image.shape[-2]})")
    return 0
