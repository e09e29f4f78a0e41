"""Atomic file writing and content hashing.

Nothing the tool writes is ever visible half-written: every file goes to a temporary name in
the destination's directory (same filesystem) and is renamed into place only when complete.
A character device or a named pipe (``/dev/null``, ``/dev/stdout``, ``<(...)``) cannot be
renamed onto without destroying it: the complete content is written into it instead.
"""

import contextlib
import hashlib
import json
import os
import shutil
import stat
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
    check_output_path(path)  # before abspath, which would drop a trailing slash
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    kind = _special_kind(path)
    if kind is not None:
        with _written_into(path, kind) as tmp:
            yield tmp
        return
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


def check_output_path(path, inputs=(), option="--output-file"):
    """Refuse, before any work, an output path that names a directory or one of ``inputs``
    (existing files, or paths other outputs of the same run will be written to)."""
    # isdir follows links: a link to a directory is refused too
    if str(path).endswith(("/", os.sep)) or os.path.isdir(path):
        raise OutputError("%s %s a directory" % (path, "is" if os.path.isdir(path) else "names"),
                          "give a file name for the output")
    if _special_kind(path) is not None:
        return  # a device or pipe is written through, never replaced
    check_writable_place(path)
    for source in inputs:
        with contextlib.suppress(OSError):
            if os.path.abspath(path) == os.path.abspath(source) or os.path.samefile(path, source):
                raise OutputError("%s %s is the input %s: writing it would destroy the data"
                                  % (option, path, source), "give the output another name")


def nearest_existing(path):
    """``path`` made absolute if it exists, else its nearest ancestor that does."""
    place = os.path.abspath(path)
    while not os.path.lexists(place):
        place = os.path.dirname(place)
    return place


def check_writable_place(path):
    """Refuse now a file that could not be created later: its folder (made when missing) must be
    creatable in the nearest existing one, which must be a writable directory."""
    place = nearest_existing(os.path.dirname(os.path.abspath(path)))
    if not os.path.isdir(place):
        raise OutputError("cannot write %s: %s is not a directory" % (path, place), "choose another place")
    if not os.access(place, os.W_OK | os.X_OK):
        raise OutputError("cannot write %s: %s is not writable" % (path, place), "choose a writable place")


def _special_kind(path):
    """None for a regular or missing file, else what ``path`` is (links followed)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, kind in ((stat.S_ISCHR, "device"), (stat.S_ISFIFO, "pipe"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return kind
    return None


@contextlib.contextmanager
def _written_into(path, kind):
    """Yield a temporary path elsewhere; once complete, copy it into the device or pipe ``path``."""
    if kind not in ("device", "pipe"):  # a disk or a socket is no place for a report
        raise OutputError("%s is a %s" % (path, kind), "give a file name for the output")
    fd, tmp = tempfile.mkstemp(prefix="hokusai-preview-output.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as source, open(path, "wb") as target:
            shutil.copyfileobj(source, target)
    except OSError as exc:
        raise OutputError("cannot write %s: %s" % (path, exc.strerror or exc), "choose a writable location") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def write_text_atomic(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


def write_json_atomic(path, value, sort_keys=False):
    write_text_atomic(path, json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n")
