"""The error of the model zoo: one line that says what to do (under `InvertError`)."""
import difflib
from typing import Iterable

from invert.errors import InvertError


class ZooError(InvertError):
    """A model cannot be loaded or inspected. `setting` names the argument at fault, when one is (`weights`),
    so that a front end can say it in its own words; `cli` is the message as the command line says it, where
    its fix is a command rather than a call."""

    def __init__(self, message: str, setting: str | None = None, cli: str | None = None):
        super().__init__(message)
        self.setting, self.cli = setting, cli


def did_you_mean(word: str, choices: Iterable[str], n: int = 5) -> str:
    """"did you mean a, b? " for the names closest to `word`, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=n)
    return f"did you mean {', '.join(close)}? " if close else ""
