"""ImageNet-1k class names from timm's label data (shipped with timm, read offline, without importing timm or
torch, so that the command line checks a class name at once).

A class is shown by its first WordNet lemma ("tiger cat"); a name given by a user matches any lemma of a
class ("tiger cat", "Panthera tigris" …), case-insensitively.
"""
from __future__ import annotations

import difflib
import functools
import importlib.util
import textwrap
from pathlib import Path

from .errors import ZooError

NUM_CLASSES = 1000


def _synset_table(name: str) -> dict[str, str]:
    """One of timm's tab-separated WordNet files (synset -> lemmas, or -> definition)."""
    return dict(line.split("\t", 1) for line in _timm_info(name).splitlines() if "\t" in line)


def _timm_info(name: str) -> str:
    """A file of timm's label data, found without importing timm (its package imports torch)."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ZooError("timm is not installed; pip install timm")
    return (Path(spec.submodule_search_locations[0]) / "data" / "_info" / name).read_text("utf-8")


@functools.lru_cache(maxsize=1)
def _synsets() -> list[str]:
    """ImageNet-1k's WordNet synsets in class-index order."""
    return _timm_info("imagenet_synsets.txt").split()


@functools.lru_cache(maxsize=1)
def _lemmas() -> list[list[str]]:
    """Per class index, its lemmas in WordNet's order."""
    lemmas = _synset_table("imagenet_synset_to_lemma.txt")
    return [[n.strip() for n in lemmas[s].split(",")] for s in _synsets()]


@functools.lru_cache(maxsize=1)
def _glosses() -> list[str]:
    """Per class index, WordNet's definition: what tells two classes of the same name apart."""
    definitions = _synset_table("imagenet_synset_to_definition.txt")
    return [definitions[s].strip() for s in _synsets()]


def class_name(index: int | None) -> str | None:
    """The short name of ImageNet class `index` ("tiger cat"); None outside 0–999 or for None."""
    if index is None or not 0 <= index < NUM_CLASSES:
        return None
    return _lemmas()[index][0]


def class_index(text: str) -> int:
    """A class index from an index ("130") or an ImageNet name ("flamingo", "tiger cat"); ZooError otherwise.

    An ambiguous name lists its classes with their definitions; an unknown one, the closest names.
    """
    text = str(text).strip()
    if text.isascii() and text.isdigit():  # an index (not "²"); checked against the model's own outputs later
        return int(text)
    wanted = " ".join(text.lower().replace("_", " ").split())
    hits = [i for i, names in enumerate(_lemmas()) if wanted in (n.lower() for n in names)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        choices = "; ".join(f"{i} ({textwrap.shorten(_glosses()[i], 50, placeholder='…')})" for i in hits)
        raise ZooError(f"class name {text!r} is ambiguous: give the index, one of {choices}")
    names = {n.lower(): n for lemmas in _lemmas() for n in lemmas}
    close = [names[n] for n in difflib.get_close_matches(wanted, list(names), n=5, cutoff=0.6)]
    hint = f"closest names: {', '.join(close)}" if close else "give an index 0–999 or an ImageNet class name"
    raise ZooError(f"unknown class {text!r}; {hint}")
