"""One message for a file that one stage wrote and a later stage cannot read back (a
saved model, a window file): the file, what went wrong in a few words, and the stage to
rerun. Such a file is truncated or corrupt (a full disk, a killed copy, a bad checkout),
so rewriting it is the fix."""

from pathlib import Path

from seqcast.errors import SeqcastError


def reason(exc: Exception) -> str:
    """The first sentence of an exception's message, which names what failed; the rest of
    a torch or zipfile message is advice for other situations. Its type when it has none."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc.args[0]) if exc.args else ""
    first = text.split(". ")[0].strip().rstrip(".")
    if not first:
        return "unexpected end of file" if isinstance(exc, EOFError) else type(exc).__name__
    if isinstance(exc, KeyError) and not isinstance(exc.args[0], str):
        return f"KeyError: {first}"  # a bare key (torch's pickle opcode), meaningless alone
    return first


def unreadable(path: Path, exc: Exception, remedy: str) -> SeqcastError:
    """The error for a file that is missing, truncated or corrupt."""
    if isinstance(exc, FileNotFoundError):
        return SeqcastError(f"{path}: not found; {remedy}")
    return SeqcastError(
        f"{path}: cannot be read ({reason(exc)}); it is truncated or corrupt: {remedy}"
    )


REWINDOW = "rerun the window stage (`dvc repro -f window`)"
