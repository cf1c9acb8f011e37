"""The errors users see: one line that names the problem and the fix, in the library's own words.

The library names its settings as Python does (`sigma`, `factor`); a front end says them in its own words
(the CLI maps a `SettingError`'s `setting` to its flag).
"""


class InvertError(ValueError):
    """Bad input (a file, an image, a setting) that the caller can fix."""


class SettingError(InvertError):
    """A setting outside what it accepts; `setting` is its keyword-argument name."""

    def __init__(self, setting: str, problem: str):
        super().__init__(f"{setting} {problem}")
        self.setting, self.problem = setting, problem
