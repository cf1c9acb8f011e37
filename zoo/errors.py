"""The error of the model zoo: one line that says what to do."""


class ZooError(ValueError):
    """A model cannot be loaded or inspected. `setting` names the argument at fault, when one is (`weights`),
    so that a front end can say it in its own words."""

    def __init__(self, message: str, setting: str | None = None):
        super().__init__(message)
        self.setting = setting
