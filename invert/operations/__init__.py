"""Every operation a user asks for, registered by name: one typed `run()` per operation that `invert.visualize`,
`invert.preimage`, `invert.restore`, the command line and studies all call, each returning a typed result
(`invert.results`). `get("maximize").run(...)`; `available()` lists them; a new one is one file with `@register`.
"""
from __future__ import annotations

from .base import (Operation, StudyError, available, expand_images, get, judges_for, load_model, register,
                   remember_model, unregister)
from .preimage import PreImage, PreImageOperation  # noqa: E402  (registration, in the order specs list them)
from .maximize import MaximizeOperation, Unit, Visualization, check_unit, first_layer, unit_count  # noqa: E402
from .restore import RestoreOperation, Restored  # noqa: E402
from .atlas import AtlasBatch, AtlasOperation  # noqa: E402

__all__ = ["AtlasBatch", "AtlasOperation", "MaximizeOperation", "Operation", "PreImage", "PreImageOperation",
           "RestoreOperation", "Restored", "StudyError", "Unit", "Visualization", "available", "check_unit",
           "expand_images", "first_layer", "get", "judges_for", "load_model", "register", "remember_model",
           "unit_count", "unregister"]
