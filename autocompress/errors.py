"""The one exception type the CLI turns into a single clear line and a non-zero exit."""


class UserError(Exception):
    """Bad input from the user (a missing file, a wrong flag, a mismatched checkpoint)."""
