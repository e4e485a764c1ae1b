"""Extensions written as a user would: each is one file that registers itself, and no file of
the package changes for it (tests/test_extensions.py)."""
