"""The errors users see: one line that names the problem and the fix, in the library's own words.

`InvertError` is the one root: the priors' and the zoo's errors derive from it too, so that `except
InvertError` catches every error a caller can fix. This module imports nothing of invert's (the sibling
packages `priors/` and `zoo/` import it, and may import nothing else of invert's).

The library names its settings as Python does (`sigma`, `factor`); a front end says them in its own words
(the CLI maps a `SettingError`'s `setting` to its flag).
"""


class InvertError(ValueError):
    """Bad input (a file, an image, a setting) that the caller can fix."""


class NotFiniteError(InvertError, FloatingPointError):
    """A fit whose energy is not a number (NaN or infinite): its inputs or settings are at fault."""


class SettingError(InvertError):
    """A setting outside what it accepts; `setting` is its keyword-argument name."""

    def __init__(self, setting: str, problem: str):
        super().__init__(f"{setting} {problem}")
        self.setting, self.problem = setting, problem
