"""Reading and writing images as 1×C×H×W float tensors in [0, 1]."""
from __future__ import annotations

import io
import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps

from . import files
from .errors import InvertError

SAMPLE_PREFIX = "skimage:"
ORIENTATION = 0x0112  # the EXIF tag


def _from_array(a: np.ndarray) -> torch.Tensor:
    a = a.astype(np.float32)
    if a.ndim == 2:
        a = a[..., None]
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]


# the images scikit-image ships in its wheel: skimage.data's other functions return no image (a face detector's
# file name, stereo pairs) or download one (brain, download_all)
SAMPLES = ("astronaut", "binary_blobs", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock", "coffee",
           "coins", "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
           "moon", "page", "retina", "rocket", "shepp_logan_phantom", "text")


def _sample(name: str) -> np.ndarray:
    from skimage import data

    if name not in SAMPLES:
        raise InvertError(f"unknown sample image {SAMPLE_PREFIX}{name}; give one of {', '.join(SAMPLES)}")
    return np.asarray(getattr(data, name)())


def _normalise_mode(img: Image.Image, notes: list[str]) -> np.ndarray:
    """Bring any PIL mode to 8-bit-range RGB or L as floats in [0, 1], saying what was converted."""
    mode = img.mode
    if mode in ("RGB", "L"):
        return np.asarray(img, dtype=np.float32) / 255
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float32)
        scale = 65535.0 if mode != "F" else max(float(a.max()), 1.0)
        notes.append(f"{mode} image ({'16-bit' if mode != 'F' else 'float'}) scaled to [0, 1] as grayscale")
        return np.clip(a / scale, 0, 1)
    if mode in ("LA", "La"):
        notes.append("dropped the alpha channel of a grayscale+alpha image")
        return np.asarray(img.convert("L"), dtype=np.float32) / 255
    if mode == "P":
        rgb = img.convert("RGBA" if "transparency" in img.info else "RGB").convert("RGB")
        a = np.asarray(rgb, dtype=np.float32) / 255
        if np.allclose(a[..., 0], a[..., 1]) and np.allclose(a[..., 1], a[..., 2]):
            notes.append("converted a palette image with grey colours to grayscale")
            return a[..., 0]
        notes.append("converted a palette image to RGB")
        return a
    if mode == "1":
        notes.append("converted a 1-bit image to grayscale")
        return np.asarray(img.convert("L"), dtype=np.float32) / 255
    if mode in ("RGBA", "RGBa", "PA"):
        notes.append("dropped the alpha channel (RGBA → RGB)")
    else:
        notes.append(f"converted {mode} to RGB")
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255


def _upright(img: Image.Image, notes: list[str]) -> Image.Image:
    """The image as viewers show it: a phone photo's EXIF orientation applied to its pixels."""
    orientation = img.getexif().get(ORIENTATION, 1)
    if orientation in (1, None):
        return img
    notes.append(f"turned upright by its EXIF orientation ({orientation})")
    return ImageOps.exif_transpose(img)


@contextmanager
def _truncated_refused() -> Iterator[None]:
    """A cut-off file is an error, whatever PIL's process-wide setting (other libraries turn it on)."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def load_image(spec: str | os.PathLike) -> tuple[torch.Tensor, list[str]]:
    """Read a file (or `skimage:NAME`, a sample image shipped with scikit-image).

    Returns the 1×C×H×W tensor (C = 1 or 3) and notes on any conversion made.
    """
    notes: list[str] = []
    spec = str(spec)
    if spec.startswith(SAMPLE_PREFIX):
        a = _sample(spec[len(SAMPLE_PREFIX) :])
        if a.ndim == 3 and a.shape[2] == 4:
            a, notes = a[..., :3], ["dropped the alpha channel (RGBA → RGB)"]
        scale = {np.dtype(np.uint16): 65535.0, np.dtype(np.uint8): 255.0}.get(a.dtype, 1.0)  # bool, float: as is
        return _from_array(np.clip(a.astype(np.float32) / scale, 0, 1)), notes
    path = Path(spec)
    if not path.exists():
        raise InvertError(f"image not found: {path}; check the path")
    if path.is_dir():
        raise InvertError(f"{path} is a folder, not an image file")
    try:
        with warnings.catch_warnings(), _truncated_refused():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return _from_array(_normalise_mode(_upright(img, notes), notes)), notes
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvertError(f"image {path} is too large to open safely ({exc}); downscale or crop it first") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvertError(f"cannot read image {path}: {exc.__class__.__name__}: {exc}; is it a PNG/JPEG/TIFF file?") from None


def load_mask(path: str | os.PathLike, size: tuple[int, int], crop: int | None = None) -> torch.Tensor:
    """A 1×1×H×W mask: 1 where the pixel is known (white), 0 where it is missing (black), of the image's
    `size`; with `crop`, a mask of the whole image is centre-cropped as the image is, and one of the crop's
    size is taken as it is."""
    m, _ = load_image(path)
    m = m.mean(dim=1, keepdim=True)
    if float(((m > 0.1) & (m < 0.9)).float().mean()) > 0.5:  # anti-aliased edges are grey; a grey mask is not
        raise InvertError(f"mask {path} is mostly grey, neither black nor white; white marks the known pixels, "
                          "black the ones to fill")
    m = (m > 0.5).float()
    if tuple(m.shape[-2:]) == tuple(size):
        return center_crop(m, crop) if crop else m
    side = min(crop, *size) if crop else None
    if side and tuple(m.shape[-2:]) == (side, side):
        return m
    also = f" or the crop's {side}×{side}" if side else ""
    raise InvertError(f"mask {path} is {m.shape[-1]}×{m.shape[-2]} but the image is {size[1]}×{size[0]}; "
                      f"give a mask of the image's size{also}")


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Centre square crop of side min(size, H, W)."""
    h, w = x.shape[-2:]
    s = min(size, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return x[..., top : top + s, left : left + s]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    a = x.detach().float().cpu().clamp(0, 1)[0].permute(1, 2, 0).numpy()
    a = (a * 255 + 0.5).astype(np.uint8)
    return a[..., 0] if a.shape[2] == 1 else a


def check_image_path(path: str | os.PathLike) -> str:
    """`path` if its extension names an image format that can be written (.png, .jpg, .tif, ...)."""
    suffix = Path(path).suffix.lower()
    if suffix not in Image.registered_extensions():
        raise InvertError(f"{path}: {suffix or 'no extension'} is not an image format; end the name in .png")
    return str(path)


def side_by_side(batch: torch.Tensor) -> torch.Tensor:
    """A batch of images (N×C×H×W) as one 1×C×H×(N·W) strip, left to right."""
    return torch.cat(list(batch), dim=-1)[None]


def png_bytes(x: torch.Tensor) -> bytes:
    """An image (1×C×H×W, or a batch shown side by side) as PNG bytes: what a notebook displays inline."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(side_by_side(x))).save(buffer, format="PNG")
    return buffer.getvalue()


def save_image(x: torch.Tensor, path: str | os.PathLike) -> None:
    """Written atomically: the file at `path` is the old one or the whole new one, never a part."""
    with files.atomic(path) as temporary:
        Image.fromarray(to_uint8(x)).save(temporary)
