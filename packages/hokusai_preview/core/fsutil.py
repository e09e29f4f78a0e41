"""Atomic file writing and content hashing.

Nothing the tool writes is ever visible half-written: every file goes to a temporary name in
the destination's directory (same filesystem) and is renamed into place only when complete.
"""

import contextlib
import hashlib
import json
import os
import tempfile

from .errors import OutputError

CHUNK = 1 << 20


def sha256_file(path):
    """SHA-256 hex digest of a file's bytes, read in 1 MiB chunks (bounded memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(value):
    """Stable JSON text of a value: sorted keys, no whitespace (used for hashing)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def sha256_json(value):
    return hashlib.sha256(canonical_json(value).encode("ascii")).hexdigest()


@contextlib.contextmanager
def atomic_path(path, mode=0o644):
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary file is removed on any failure (including KeyboardInterrupt), so a
    destination either keeps its old content or gets the complete new content.
    """
    names_directory = str(path).endswith(("/", os.sep))  # abspath would drop the slash and write a file
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if names_directory or os.path.isdir(path):  # isdir follows links: a link to a directory is refused too
        raise OutputError("%s %s a directory" % (path, "is" if os.path.isdir(path) else "names"),
                          "give a file name for the output")
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError("cannot write %s: %s" % (path, exc.strerror or exc),
                          "choose a writable location") from exc
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        try:
            os.replace(tmp, path)  # replaces a link itself, never writes into what it points to
        except OSError as exc:  # e.g. a directory appeared at path meanwhile
            raise OutputError("cannot write %s: %s" % (path, exc.strerror or exc),
                              "give a file name for the output") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


def write_json_atomic(path, value, sort_keys=False):
    write_text_atomic(path, json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n")
