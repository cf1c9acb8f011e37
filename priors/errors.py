"""The errors of the prior registry: one line that names the problem and the fix (under `InvertError`)."""
from invert.errors import InvertError, SettingError


class PriorError(InvertError):
    """A prior asked for by a name, preset or setting it does not have."""


class PriorSettingError(PriorError, SettingError):
    """A prior's setting outside what it accepts; `setting` is its keyword-argument name, so that a front end
    can name it in its own words."""
