"""Restoration tasks by name: `tasks.create("deblur", blur=2.0)`, `tasks.get("sr")`, `tasks.available()`.

A task is one file: a frozen dataclass whose fields are its settings, registered with `@tasks.register`.
The command line (`invert restore NAME` and its flags), study specs (`restore = "NAME"` and its keys) and
the facade (`invert.restore(image, invert.tasks.Deblur(blur=2.0))`) are made from the registry. Importing
this package registers the built-in tasks and imports no torch.
"""
from .base import RestorationTask, Setting, Settings, Source, setting, settings_of
from .recipe import Recipe
from .registry import available, create, get, register
from .denoise import Denoise  # noqa: E402  (registration side effect, in the order the CLI lists them)
from .super_resolve import SuperResolve  # noqa: E402
from .inpaint import Inpaint  # noqa: E402
from .deblur import Deblur  # noqa: E402

__all__ = ["Deblur", "Denoise", "Inpaint", "Recipe", "RestorationTask", "Setting", "Settings", "Source", "SuperResolve",
           "available",
           "create", "get", "register", "setting", "settings_of"]
