"""The one exception type a stage turns into a clear message and a non-zero exit."""


class SeqcastError(Exception):
    """Bad input or a failed run that the user can fix: the message says what and how."""
