"""Deep Decoder as an image codec (Heckel & Hand 2019, Sec. 3): an image is stored as the weights of an
under-parameterized decoder plus the seed of its fixed input; decoding re-renders it exactly.

File layout: the magic bytes, a little-endian uint32 header length, a JSON header (architecture, size,
seed, precision, parameter shapes), then the parameters in order at the stated precision.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch

import priors as prior_registry

from .errors import UserError

MAGIC = b"INVERTDD"
FORMAT = 1
DTYPES = {"float16": np.float16, "float32": np.float32}


def quantize_(prior: torch.nn.Module, precision: str) -> None:
    """Round the weights to the stored precision in place, so the encoder renders what the decoder will."""
    with torch.no_grad():
        for p in prior.parameters():
            p.copy_(torch.from_numpy(p.detach().cpu().numpy().astype(DTYPES[precision]).astype(np.float32)))


def encode(prior: torch.nn.Module, architecture: dict[str, Any], seed: int, precision: str,
           extra: dict[str, Any] | None = None) -> bytes:
    params = [p.detach().cpu().numpy().astype(DTYPES[precision]) for p in prior.parameters()]
    header = {
        "format": FORMAT,
        "prior": "deep_decoder",
        "architecture": architecture,
        "channels": prior.channels,
        "size": list(prior.size),
        "seed": seed,
        "precision": precision,
        "shapes": [list(p.shape) for p in params],
        **(extra or {}),
    }
    head = json.dumps(header).encode()
    return MAGIC + struct.pack("<I", len(head)) + head + b"".join(p.tobytes() for p in params)


def decode(blob: bytes, source: str = "file") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the fitted decoder from `blob`; a foreign or damaged file is a one-line UserError."""
    if not blob.startswith(MAGIC):
        raise UserError(f"{source} is not an invert compressed image (no {MAGIC.decode()} header)")
    try:
        (length,) = struct.unpack("<I", blob[len(MAGIC) : len(MAGIC) + 4])
        start = len(MAGIC) + 4
        header = json.loads(blob[start : start + length])
        dtype = DTYPES[header["precision"]]
        prior = prior_registry.create("deep_decoder", channels=header["channels"], size=tuple(header["size"]),
                                      seed=header["seed"], **header["architecture"])
        offset = start + length
        with torch.no_grad():
            for p, shape in zip(prior.parameters(), header["shapes"], strict=True):
                count = int(np.prod(shape))
                values = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
                offset += count * np.dtype(dtype).itemsize
                p.copy_(torch.from_numpy(values.astype(np.float32).reshape(shape)))
    except (struct.error, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise UserError(f"{source} is damaged or from another version ({exc.__class__.__name__}); "
                        "compress the image again") from None
    if offset != len(blob):
        raise UserError(f"{source} is damaged: {len(blob) - offset} bytes left over after the weights")
    return prior, header


def read(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    return decode(blob, str(path))


def compression_factor(channels: int, size: tuple[int, int], parameters: int) -> float:
    """Heckel & Hand's definition: image values divided by the numbers stored."""
    return channels * size[0] * size[1] / parameters
