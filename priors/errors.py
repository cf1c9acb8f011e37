"""The errors of the prior registry: one line that names the problem and the fix."""


class PriorError(ValueError):
    """A prior asked for by a name, preset or setting it does not have."""


class PriorSettingError(PriorError):
    """A prior's setting outside what it accepts; `setting` is its keyword-argument name, so that a front end
    can name it in its own words."""

    def __init__(self, setting: str, problem: str):
        super().__init__(f"{setting} {problem}")
        self.setting, self.problem = setting, problem
