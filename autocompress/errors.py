"""The one exception type the CLI turns into a single clear line and a non-zero exit."""


class UserError(ValueError):
    """Bad input from the user (a missing file, a wrong flag, a mismatched checkpoint): a
    ValueError, so code that calls the library as a Python API can catch it as one."""


def first_line(error: BaseException) -> str:
    """The first non-empty line of ``error``'s message, else its type's name: how a failure
    deep in torch is said in one line."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
