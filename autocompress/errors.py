"""The one exception type the CLI turns into a single clear line and a non-zero exit, and how
any error is said in one line."""


class UserError(ValueError):
    """Bad input from the user (a missing file, a wrong flag, a mismatched checkpoint): a
    ValueError, so code that calls the library as a Python API can catch it as one."""


def first_line(error: BaseException, *, otherwise: str | None = None) -> str:
    """The first non-empty line of ``error``'s message: how a failure deep in torch is said in
    one line. An empty message gives ``otherwise``, by default the error type's name."""
    text = str(error).strip()
    if text:
        return text.splitlines()[0]
    return type(error).__name__ if otherwise is None else otherwise


def typed_first_line(error: BaseException) -> str:
    """``Type: first line``, as a failed trial records its reason."""
    return f"{type(error).__name__}: {first_line(error, otherwise='')}"
