"""The error for a name a registry does not have, with the names close to it (tasks, operations)."""
from __future__ import annotations

import difflib
from typing import Iterable

from .errors import InvertError


def unknown(what: str, name: str, known: Iterable[str]) -> InvertError:
    """The error for a `name` that is not among `known` (a registry's): the close names, then all of them."""
    known = list(known)
    close = difflib.get_close_matches(str(name), known, n=2)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return InvertError(f"unknown {what} {name!r}{hint}; known: {', '.join(known)}")
