"""Is the picture faithful? Scores of a visualization or pre-image beside the judges' verdicts, computed apart
from fitting (as captum keeps evaluation apart), each defined in docs/faithfulness.md.

- `path_similarity`: does the network process the picture along the path of the natural images that drive
  the same unit? Per layer below the unit's, the mean Spearman correlation of the picture's channel means
  with those of the unit's top natural images, minus the same with its bottom ones (Geirhos et al. 2024
  found visualizations take another path than photos until the last layers).
- `spectrum`: the distance of the picture's radially averaged log power spectrum from natural photos' mean,
  in dB, and its spectral slope (natural photos: about −2).
- `seed_agreement`: over seeds of the same unit and prior, how many the judge recognizes and how far apart
  the judge's embeddings lie (diversity or instability: reported, not judged).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Sequence

import torch

from .defaults import PACKAGED_PHOTOS
from .inversion import classify
from .zoo import FeatureExtractor, LoadedModel, stages


def _device(loaded: LoadedModel) -> torch.device:
    return next(loaded.model.parameters()).device


def probe_layers(loaded: LoadedModel, layer: str) -> list[str]:
    """The stages of the model that come before `layer` (all spatial stages for a layer that is not one, such
    as the logits): where the path of a picture is compared with natural images'."""
    names = [s for s in stages(loaded.model, loaded.input_size) if "pool" not in s]
    return names[: names.index(layer)] if layer in names else names


@torch.no_grad()
def channel_means(loaded: LoadedModel, layers: Sequence[str], images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each layer's channel means (N×C) for images in [0, 1] at the model's input size, in one forward."""
    with FeatureExtractor(loaded.model, list(layers), loaded.name) as extractor:
        feats = extractor(loaded.preprocess(images.to(_device(loaded))))
    return {name: (f.float().mean(dim=(2, 3)) if f.dim() == 4 else f.float()).cpu() for name, f in feats.items()}


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation of the rows of `a` (N×C) with those of `b` (M×C): N×M."""
    def ranks(x: torch.Tensor) -> torch.Tensor:
        r = x.argsort(dim=1).argsort(dim=1).float()
        r = r - r.mean(dim=1, keepdim=True)
        return r / r.norm(dim=1, keepdim=True).clamp_min(1e-12)

    return ranks(a) @ ranks(b).T


@dataclass(frozen=True)
class Path:
    """The picture's path similarity: per layer (shallow to deep) and its mean over layers."""

    layers: dict[str, float]
    summary: float


def path_similarity(loaded: LoadedModel, layer: str, picture: torch.Tensor, drivers: torch.Tensor,
                    others: torch.Tensor) -> Path:
    """Per probe layer below `layer`: mean ρ(picture, drivers) − mean ρ(picture, others), where ρ is Spearman's
    correlation of channel means. `drivers` are natural images that drive the unit (its top dataset examples;
    for a pre-image, its photo), `others` natural images that do not (the bottom of the ranking; other photos).
    Near 0: the picture is no closer to the unit's natural drivers than to any photo; positive: it travels their
    path. All images N×3×H×W in [0, 1] at the model's input size."""
    return path_similarities(loaded, layer, picture[:1], drivers, others)[0]


def path_similarities(loaded: LoadedModel, layer: str, pictures: torch.Tensor, drivers: torch.Tensor,
                      others: torch.Tensor) -> list[Path]:
    """`path_similarity` of each of `pictures` (N×3×H×W) against the same drivers and others, in one forward."""
    names = probe_layers(loaded, layer)
    n, k = len(pictures), len(drivers)
    means = channel_means(loaded, names, torch.cat([pictures, drivers, others]))
    per_layer: list[dict[str, float]] = [{} for _ in range(n)]
    for name in names:
        rho = spearman(means[name][:n], means[name][n:])
        for i in range(n):
            per_layer[i][name] = round(float(rho[i, :k].mean() - rho[i, k:].mean()), 4)
    return [Path(p, round(sum(p.values()) / len(p), 4) if p else math.nan) for p in per_layer]


def radial_log_power(image: torch.Tensor) -> torch.Tensor:
    """The radially averaged power spectrum of the image's luminance (mean removed, Hann window), log10, at
    integer radii 1 … min(H, W)/2 − 1."""
    x = image[0].float().cpu()
    grey = x.mean(dim=0) if x.shape[0] == 3 else x[0]
    h, w = grey.shape
    window = torch.outer(torch.hann_window(h, periodic=False), torch.hann_window(w, periodic=False))
    power = torch.fft.fftshift(torch.fft.fft2((grey - grey.mean()) * window)).abs().pow(2)
    fy = torch.arange(h) - h // 2
    fx = torch.arange(w) - w // 2
    radius = (fy[:, None] ** 2 + fx[None, :] ** 2).float().sqrt().round().long()
    bins = min(h, w) // 2
    totals = torch.zeros(bins).index_add_(0, radius.clamp(max=bins - 1).flatten(), power.flatten())
    counts = torch.zeros(bins).index_add_(0, radius.clamp(max=bins - 1).flatten(), torch.ones(h * w))
    return (totals / counts.clamp_min(1))[1:-1].clamp_min(1e-20).log10()


@dataclass(frozen=True)
class Spectrum:
    distance_db: float  # RMS over radii of 10·(log10 P − the natural mean's), in dB
    slope: float  # of log10 P against log10 radius (natural photos: about −2)


def spectrum(image: torch.Tensor, natural: torch.Tensor) -> Spectrum:
    """How far the image's spectrum is from `natural` (`natural_log_power` of photos at the same size)."""
    curve = radial_log_power(image)
    radii = torch.arange(1, len(curve) + 1).float().log10()
    slope = float(torch.linalg.lstsq(torch.stack([radii, torch.ones_like(radii)], dim=1), curve[:, None]).solution[0])
    return Spectrum(round(float((10 * (curve - natural)).pow(2).mean().sqrt()), 3), round(slope, 3))


def natural_log_power(photos: torch.Tensor) -> torch.Tensor:
    """The mean radial log10 power spectrum of natural photos (N×3×H×W in [0, 1]): the reference of `spectrum`."""
    return torch.stack([radial_log_power(p[None]) for p in photos]).mean(dim=0)


@dataclass(frozen=True)
class Agreement:
    recognized: int | None  # seeds whose judge top-1 is the wanted class (None without one)
    seeds: int
    spread: float  # mean pairwise cosine distance of the judge's embeddings, 0 (same) to 1 or more


@torch.no_grad()
def embeddings(judge: LoadedModel, images: torch.Tensor) -> torch.Tensor:
    """The judge's embedding of each image: its pooled features before the classifier (timm), else its logits."""
    model = judge.model
    if hasattr(model, "forward_features") and hasattr(model, "forward_head"):
        x = judge.preprocess(images.to(_device(judge)))
        return model.forward_head(model.forward_features(x), pre_logits=True).float().cpu()
    return classify(judge, images).float().cpu()


def seed_agreement(judge: LoadedModel, images: torch.Tensor, wanted: int | None = None) -> Agreement:
    """Over `images` (one per seed, same unit and prior): how many the judge recognizes as `wanted`, and the
    spread of its embeddings."""
    e = torch.nn.functional.normalize(embeddings(judge, images), dim=1)
    n = len(e)
    distance = 1 - e @ e.T
    spread = float((distance.sum() - distance.diagonal().sum()) / (n * (n - 1))) if n > 1 else 0.0
    recognized = None if wanted is None else int((classify(judge, images).argmax(dim=1) == wanted).sum())
    return Agreement(recognized, n, round(spread, 4))


@dataclass(frozen=True)
class Faithfulness:
    """The scores of one picture: its path (None when there is nothing to compare it with) and its spectrum."""

    path: Path | None
    spectrum: Spectrum

    def as_record(self) -> dict:
        """What result.json and atlas.json hold: the summary numbers, and the path per layer."""
        return {"path_similarity": None if self.path is None else self.path.summary,
                "path_by_layer": None if self.path is None else self.path.layers,
                "spectrum_distance_db": self.spectrum.distance_db, "spectral_slope": self.spectrum.slope}


@dataclass(frozen=True)
class FaithfulnessScores:
    """A picture's faithfulness as a result holds it (`Faithfulness.as_record`'s numbers, typed), with a batch's
    seed agreement where there is one; read back from a record with `from_record`."""

    path_similarity: float | None = None
    path_by_layer: dict[str, float] | None = None
    spectrum_distance_db: float | None = None
    spectral_slope: float | None = None
    seed_agreement: dict[str, Any] | None = None  # recognized, seeds, spread (maximize batches)

    @classmethod
    def from_record(cls, record: dict[str, Any] | FaithfulnessScores | None) -> FaithfulnessScores | None:
        if record is None or isinstance(record, cls):
            return record
        return cls(**{f.name: record.get(f.name) for f in fields(cls)})

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        if self.seed_agreement is None:  # as records wrote it: only batches have one
            del record["seed_agreement"]
        return record


_pools: dict[tuple[str, tuple[int, ...]], tuple[torch.Tensor, torch.Tensor]] = {}


def natural_pool(loaded: LoadedModel) -> tuple[torch.Tensor, torch.Tensor]:
    """The packaged photos as the model sees them, and their mean radial log spectrum (once per model)."""
    from .preimages import prepare_target

    key = (loaded.name, tuple(loaded.input_size))
    if key not in _pools:
        photos = torch.cat([prepare_target(p, loaded)[0] for p in PACKAGED_PHOTOS])
        _pools[key] = photos, natural_log_power(photos)
    return _pools[key]


@torch.no_grad()
def unit_ranking(loaded: LoadedModel, layer: str, unit: int, photos: torch.Tensor) -> torch.Tensor:
    """`photos` ordered by the unit's activation (channel mean, or logit), highest first."""
    return channel_means(loaded, [layer], photos)[layer][:, unit].argsort(descending=True)


def score_picture(loaded: LoadedModel, layer: str, picture: torch.Tensor, *, unit: int | None = None,
                  photo: torch.Tensor | None = None, drivers: torch.Tensor | None = None,
                  others: torch.Tensor | None = None, k: int = 3) -> Faithfulness:
    """The faithfulness scores of `picture` (1×3×H×W at the model's size): for a pre-image, its `photo` against
    the packaged photos; for a unit, its `drivers` and `others` (a dataset's top and bottom examples) or else
    the packaged photos' top and bottom `k` by the unit."""
    return score_pictures(loaded, layer, picture[:1], unit=unit, photo=photo, drivers=drivers, others=others, k=k)[0]


def score_pictures(loaded: LoadedModel, layer: str, pictures: torch.Tensor, *, unit: int | None = None,
                   photo: torch.Tensor | None = None, drivers: torch.Tensor | None = None,
                   others: torch.Tensor | None = None, k: int = 3) -> list[Faithfulness]:
    """`score_picture` of each of `pictures` (N×3×H×W: one unit's pictures under several priors and seeds),
    the drivers found and run through the network once for all of them."""
    photos, natural = natural_pool(loaded)
    pictures = pictures.float().cpu()
    if photo is not None:
        drivers, others = photo[:1].cpu(), photos
    elif drivers is None and unit is not None:
        order = unit_ranking(loaded, layer, unit, photos)
        drivers, others = photos[order[:k]], photos[order[-k:]]
    paths = [None] * len(pictures) if drivers is None else path_similarities(loaded, layer, pictures, drivers, others)
    return [Faithfulness(path, spectrum(picture[None], natural)) for picture, path in zip(pictures, paths)]


def maximized(model: LoadedModel, judge: LoadedModel | None, layer: str, unit: int, images: torch.Tensor,
              is_class: bool) -> dict:
    """The faithfulness record of a maximize cell: its first image's scores; for a batch (seeds or a diverse
    set), also how many of them the independent `judge` recognizes as the class and how far apart they lie."""
    scores = score_picture(model, layer, images, unit=unit).as_record()
    if len(images) > 1 and judge is not None:
        agreement = seed_agreement(judge, images, unit if is_class else None)
        scores["seed_agreement"] = {"recognized": agreement.recognized, "seeds": agreement.seeds,
                                    "spread": agreement.spread}
    return scores
