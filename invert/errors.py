"""The error users see: one line that names the problem and the fix."""


class UserError(Exception):
    """Bad input from the user. The CLI prints the message on one line and exits non-zero."""
