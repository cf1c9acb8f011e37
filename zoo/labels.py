"""ImageNet-1k class names from timm's label data (shipped with timm, read offline).

A class is shown by its first WordNet lemma ("tiger cat"); a name given by a user matches any lemma of a
class ("tiger cat", "Panthera tigris" …), case-insensitively.
"""
from __future__ import annotations

import difflib
import functools
import textwrap

from .errors import ZooError

NUM_CLASSES = 1000


@functools.lru_cache(maxsize=1)
def _lemmas() -> list[list[str]]:
    """Per class index, its lemmas in WordNet's order."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [[n.strip() for n in info.index_to_description(i).split(",")] for i in range(NUM_CLASSES)]


@functools.lru_cache(maxsize=1)
def _glosses() -> list[str]:
    """Per class index, WordNet's definition: what tells two classes of the same name apart."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i, detailed=True).partition(": ")[2] for i in range(NUM_CLASSES)]


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
    if text.isdigit():  # an index is checked against the model's own outputs, which may be more than 1000
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
