"""Deep Decoder as an image codec (Heckel & Hand 2019, Sec. 3): an image is stored as the weights of an
under-parameterized decoder plus the seed of its fixed input; decoding re-renders it exactly.

File layout: the magic bytes, a little-endian uint32 header length, a JSON header (architecture, size,
seed, precision, parameter shapes), then the parameters in order at the stated precision.
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from invert import priors as prior_registry

from . import memory, metrics
from .defaults import CODEC_LIMITS as LIMITS, PRECISIONS
from .energies import reconstruction
from .engine import FitConfig, FitResult, fit, resolve_device
from .errors import InvertError

MAGIC = b"INVERTDD"
FORMAT = 1
DTYPES = {name: np.dtype(name).type for name in PRECISIONS}


def quantize_(prior: torch.nn.Module, precision: str) -> None:
    """Round the weights to the stored precision in place, so the encoder renders what the decoder will."""
    with torch.no_grad():
        for p in prior.parameters():
            p.copy_(torch.from_numpy(p.detach().cpu().numpy().astype(DTYPES[precision]).astype(np.float32)))


def encode(prior: torch.nn.Module, architecture: dict[str, Any], seed: int, precision: str,
           extra: dict[str, Any] | None = None) -> bytes:
    params = [p.detach().cpu().numpy().astype(DTYPES[precision]) for p in prior.parameters()]
    weights = b"".join(p.tobytes() for p in params)
    header = {
        "format": FORMAT,
        "prior": "deep_decoder",
        "architecture": architecture,
        "channels": prior.channels,
        "size": list(prior.size),
        "seed": seed,
        "precision": precision,
        "shapes": [list(p.shape) for p in params],
        "crc32": zlib.crc32(weights),  # a file damaged after writing is refused, not decoded into another image
        **(extra or {}),
    }
    head = json.dumps(header).encode()
    return MAGIC + struct.pack("<I", len(head)) + head + weights


def _whole(value: Any, least: int, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


def _check_header(header: Any, payload: int) -> None:
    """Refuse a header that would build something unbounded or that does not match the `payload` bytes after it."""
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    size, architecture = header.get("size"), header.get("architecture")
    if not (isinstance(size, list) and len(size) == 2 and all(_whole(v, 1, LIMITS["side"]) for v in size)
            and size[0] * size[1] <= LIMITS["pixels"]):
        raise ValueError(f"size {size!r} is not 1 to {LIMITS['side']} pixels a side, {LIMITS['pixels']:,} in all")
    if header.get("channels") not in (1, 3) or header.get("precision") not in DTYPES:
        raise ValueError("channels or precision is not one this format has")
    if not (isinstance(architecture, dict) and _whole(architecture.get("width"), 1, LIMITS["width"])):
        raise ValueError(f"the decoder width is not 1 to {LIMITS['width']}")
    shapes = header.get("shapes")
    if not (isinstance(shapes, list) and all(isinstance(s, list) and all(_whole(v, 1, 2**31) for v in s) for s in shapes)):
        raise ValueError("the parameter shapes are not lists of positive whole numbers")
    stored = sum(int(np.prod(s)) for s in shapes) * np.dtype(DTYPES[header["precision"]]).itemsize
    if stored != payload:
        raise ValueError(f"the header declares {stored:,} bytes of weights but the file holds {payload:,}")


def decode(blob: bytes, source: str = "file") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the fitted decoder from `blob`; a foreign, damaged or hostile file is a one-line InvertError.

    The header is checked against fixed bounds and the file's length before anything is built from it.
    """
    if not blob.startswith(MAGIC):
        raise InvertError(f"{source} is not an invert compressed image (no {MAGIC.decode()} header)")
    try:
        (length,) = struct.unpack("<I", blob[len(MAGIC) : len(MAGIC) + 4])
        start = len(MAGIC) + 4
        if start + length > len(blob):
            raise ValueError("the header runs past the end of the file")
        header = json.loads(blob[start : start + length])
        offset = start + length
        _check_header(header, len(blob) - offset)
        if "crc32" in header and header["crc32"] != zlib.crc32(blob[offset:]):  # files before it had none
            raise ValueError("the weights do not match their checksum")
        dtype = DTYPES[header["precision"]]

        def build() -> torch.nn.Module:
            return prior_registry.create("deep_decoder", channels=header["channels"], size=tuple(header["size"]),
                                         seed=header["seed"], **header["architecture"])

        memory.ensure_fit_fits(build, "cpu", f"decoding {source}", "decode it on a machine with more memory")
        prior = build()
        with torch.no_grad():
            for p, shape in zip(prior.parameters(), header["shapes"], strict=True):
                count = int(np.prod(shape))
                values = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
                if not np.isfinite(values).all():
                    raise ValueError("the weights hold NaN or infinite values")
                offset += count * np.dtype(dtype).itemsize
                p.copy_(torch.from_numpy(values.astype(np.float32).reshape(shape)))
    except prior_registry.PriorError as exc:  # the header asks for an architecture the prior refuses
        raise InvertError(f"{source} is damaged or from another version ({exc}); compress the image again") from None
    except InvertError:
        raise
    except (struct.error, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise InvertError(f"{source} is damaged or from another version ({exc}); compress the image again") from None
    return prior, header


def read(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise InvertError(f"cannot read {path}: {exc.strerror}") from None
    return decode(blob, str(path))


def compression_factor(channels: int, size: tuple[int, int], parameters: int) -> float:
    """Heckel & Hand's definition: image values divided by the numbers stored."""
    return channels * size[0] * size[1] / parameters


def compress(image: torch.Tensor, *, width: int = 32, depth: int | None = None, steps: int = 2000, lr: float = 0.01,
             precision: str = "float16", seed: int = 0, device: str = "cpu",
             progress: bool = False) -> tuple[bytes, torch.Tensor, dict[str, Any], FitResult]:
    """Fit a Deep Decoder to `image` and store it: returns the file's bytes, the image they decode to, its stats
    (PSNR, weights, compression factor, steps) and the fit. On the CPU decoding is bit-exact across machines of
    one kind."""
    size = tuple(image.shape[-2:])

    def build() -> torch.nn.Module:
        return prior_registry.create("deep_decoder", channels=image.shape[1], size=size, seed=seed, width=width,
                                     depth=depth)

    memory.ensure_fit_fits(build, resolve_device(device), f"compressing a {size[1]}×{size[0]} image",
                           "crop or downscale it, or lower the width")
    prior = build()
    result = fit(prior, reconstruction(image), FitConfig(steps=steps, lr=lr, seed=seed, device=device,
                                                         progress=progress))
    prior = prior.cpu()
    quantize_(prior, precision)
    with torch.no_grad():
        decoded = prior().clamp(0, 1)
    stats = {
        "psnr": metrics.psnr(decoded, image),
        "parameters": prior.num_parameters(),
        "compression_factor": compression_factor(image.shape[1], size, prior.num_parameters()),
        "steps": result.steps_run,
    }
    return encode(prior, prior.architecture, seed, precision, {"stats": stats}), decoded, stats, result


def decompress(path: str | Path) -> torch.Tensor:
    """The image stored in the file at `path` (1×C×H×W in [0, 1])."""
    prior, _ = read(path)
    with torch.no_grad():
        return prior().clamp(0, 1)
