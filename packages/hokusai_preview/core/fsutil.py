"""Files and paths: atomic writing, content hashing, the checks an output path or a place to
write must pass before any work (a directory, a link out, a name too long), and, for the
cache's locks and leftovers, whether a process still runs.

Nothing the tool writes is ever visible half-written: every file goes to a temporary name in
the destination's directory (same filesystem) and is renamed into place only when complete.
A character device or a named pipe (``/dev/null``, ``<(...)``) cannot be renamed onto without
destroying it: the complete content is written into it instead. So is an open file named by
descriptor (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``, or a link leading to one),
whatever it is open on: this process's own is written at its offset, as a shell redirection
would, so ``> out`` and ``>> log`` both work. A link into /dev or /proc is never replaced.
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile

from .errors import OutputError, UsageError
from .text import shorten

CHUNK = 1 << 20


def inside(path, folder):
    """Whether ``path``, with every link resolved, is ``folder`` or lies inside it."""
    real = os.path.realpath(folder)
    return os.path.commonpath([os.path.realpath(path), real]) == real


def refuse_undecodable(name, what):
    """UsageError when ``name`` (an argument, a path) is not UTF-8 text: a file name in another
    encoding reaches Python as lone surrogates, which no record, output or message can carry."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UsageError("%s %s is not UTF-8 text" % (what, shown),
                         "rename it in UTF-8 (e.g. convmv -f latin1 -t utf8 --notest NAME)") from None


def tidy_path(path):
    """``path`` without the parts that cannot change the file it names: ``./``, repeated and
    trailing slashes (``./examples//a.csv`` is ``examples/a.csv``). ``..`` stays: through a
    link, ``a/../b`` need not be ``b``. Records and cache keys use it, so two such spellings of
    one file are one input."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    return ("/" if path.startswith("/") else "") + "/".join(parts) or path


def regular_file_opener(path, flags):
    """os.open that refuses anything but a regular file (a FIFO would block the open forever)."""
    fd = os.open(path, flags | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(0, "not a regular file")
    return fd


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
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary file is removed on any failure (including KeyboardInterrupt), so a
    destination either keeps its old content or gets the complete new content.
    """
    check_output_path(path)  # before abspath, which would drop a trailing slash
    how, what = _destination(path)
    if how != "replace":
        with _written_into(path, what if how == "fd" else None) as tmp:
            yield tmp
        return
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        # A fixed short name: ".<name>.XXXX.tmp" would pass the 255-byte limit on a name near it.
        fd, tmp = tempfile.mkstemp(prefix=".hp-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError("cannot write %s: %s" % (path, exc.strerror or exc),
                          "choose a writable location") from exc
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp made it 0o600: outputs are readable like any other file
        try:
            os.replace(tmp, path)  # replaces a link itself, never writes into what it points to
        except OSError as exc:  # e.g. a directory appeared at path meanwhile
            raise OutputError("cannot write %s: %s" % (path, exc.strerror or exc),
                              "give a file name for the output") from exc
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):
            exc.filename = path  # a full disk while writing: say where (core/command.py names the place)
        raise


def check_output_path(path, inputs=(), option="--output-file"):
    """Refuse, before any work, an output path that names a directory or one of ``inputs``
    (existing files, or paths other outputs of the same run will be written to; ``-`` is stdin)."""
    if str(path) == "-":  # taken literally it would be a file named "-", which nobody means
        raise UsageError('%s - would write a file named "-", not stdout' % option,
                         "leave %s out to write to stdout, or give ./- for a file of that name" % option
                         if option == "--output-file" else "give ./- for a file of that name")
    # isdir follows links: a link to a directory is refused too
    if str(path).endswith(("/", os.sep)) or os.path.isdir(path):
        raise OutputError("%s %s a directory" % (path, "is" if os.path.isdir(path) else "names"),
                          "give a file name for the output")
    replaced = _destination(path)[0] == "replace"  # else a device, pipe or open file, written through
    if replaced:
        check_writable_place(path)
    # Also through an open file (/dev/fd/5 opened on the data): written through, it is the data.
    for source in inputs:
        with contextlib.suppress(OSError):
            if source == "-":
                same = _same_file(os.fstat(0), os.stat(path))
                source = "on stdin"
            else:
                same = same_path(path, source)
            if same:
                raise OutputError("%s %s is the input %s: writing it would destroy the data"
                                  % (option, path, source), "give the output another name")


def same_path(path, other):
    """Whether two paths name one file: the same name, or links to one file (which may not exist yet)."""
    if os.path.abspath(path) == os.path.abspath(other):
        return True
    with contextlib.suppress(OSError):
        return os.path.samefile(path, other)
    return False


def _same_file(one, other):
    """Whether two stat results are one file or pipe (the data on stdin, written to as output:
    a file destroyed, a pipe not open for writing, which would fail only after every stage ran)."""
    return (stat.S_ISREG(other.st_mode) or stat.S_ISFIFO(other.st_mode)) and \
        (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def nearest_existing(path):
    """``path`` made absolute if it exists, else its nearest ancestor that does."""
    place = os.path.abspath(path)
    while not os.path.lexists(place):
        place = os.path.dirname(place)
    return place


def missing_folder(path):
    """The outermost folder of file ``path`` that does not exist yet (atomic_path makes it), or None."""
    folder = os.path.dirname(os.path.abspath(path))
    existing = nearest_existing(folder)
    if existing == folder:
        return None
    return os.path.join(existing, os.path.relpath(folder, existing).split(os.sep)[0])


def check_writable_place(path):
    """Refuse now a file that could not be created later: its folder (made when missing) must be
    creatable in the nearest existing one, which must be a writable directory."""
    place = nearest_existing(os.path.dirname(os.path.abspath(path)))
    if not os.path.isdir(place):
        raise OutputError("cannot write %s: %s is not a directory" % (path, place), "choose another place")
    if not os.access(place, os.W_OK | os.X_OK):
        raise OutputError("cannot write %s: %s is not writable" % (path, place), "choose a writable place")
    try:
        longest = os.pathconf(place, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not every system says
        longest = 255
    for name in os.path.abspath(path)[len(place):].split(os.sep):
        if len(os.fsencode(name)) > longest:
            raise OutputError("cannot write %s: a name in it is %d bytes long, more than the %d this file system "
                              "allows" % (shorten(path, 77, middle=True, one_line=False), len(os.fsencode(name)),
                                          longest), "choose a shorter name")


# An open file named by descriptor: /proc/self and /proc/thread-self resolve to the pid (below);
# the std* and fd names are matched too in case the system's links to /proc are gone.
_OPEN_FILE = re.compile(r"/proc/(?P<pid>\d+)(?:/task/\d+)?/fd/(?P<fd>\d+)\Z"
                        r"|/dev/fd/(?P<devfd>\d+)\Z|/dev/(?P<std>stdin|stdout|stderr)\Z")
_STD_FDS = {"stdin": 0, "stdout": 1, "stderr": 2}
_MAX_LINKS = 40  # as the kernel (ELOOP)


def _in_system_tree(where):
    return any(where == top or where.startswith(top + "/") for top in ("/dev", "/proc"))


def _hops(path):
    """Where ``path`` is, then where each link leads in turn (each folder's links resolved), up to
    a place that is not a link or is in /dev or /proc, whose links are the system's to follow:
    /proc/<pid>/fd/1 "leads to" ``pipe:[1234]``, or to a file of another mount namespace."""
    hops = []
    place = os.path.abspath(path)
    while len(hops) < _MAX_LINKS:
        name = os.path.basename(place)
        if name in (".", ".."):
            where = os.path.realpath(place)
        else:
            where = os.path.join(os.path.realpath(os.path.dirname(place)), name)
        hops.append(where)
        if _in_system_tree(where) or not os.path.islink(where):
            break
        try:
            place = os.path.join(os.path.dirname(where), os.readlink(where))
        except OSError:
            break
    return hops


def written_through(path):
    """Whether atomic_path writes ``path`` in place (a device, pipe or open file, which can fail
    late) rather than renaming a complete temporary file onto it."""
    try:
        return _destination(path)[0] != "replace"
    except OutputError:  # refused: atomic_path will say so before anything is written
        return False


def _destination(path):
    """How the output ``path`` is written.

    ("replace", None): to a temporary file beside it, renamed onto it (a link there is replaced);
    ("fd", N): into this process's open file descriptor N, at its offset;
    ("open", kind): into a device, pipe or another process's open file, opened and truncated.
    A block device, a socket, another file in /proc, or a link into /dev or /proc that leads to none
    of these is refused (OutputError): the link is the system's (replacing /dev/stdout would break
    every later program that writes to it), and what it leads to is no place for a report.
    """
    hops = _hops(path)
    last = hops[-1]
    match = _OPEN_FILE.match(last)
    if match:
        if match.group("std"):
            return "fd", _STD_FDS[match.group("std")]
        if match.group("devfd"):
            return "fd", int(match.group("devfd"))
        if int(match.group("pid")) == os.getpid():
            return "fd", int(match.group("fd"))
        return "open", "open file"
    kind = _special_kind(path)
    if kind in ("device", "pipe"):
        return "open", kind
    if kind is not None:  # a disk or a socket is no place for a report
        raise OutputError("%s is a %s" % (path, kind), "give a file name for the output")
    if len(hops) > 1 and _in_system_tree(last):
        raise OutputError("%s is a link to %s, which is neither a device, a pipe nor an open file"
                          % (path, last), "give a file name for the output")
    if last == "/proc" or last.startswith("/proc/"):  # the kernel's settings, no place for a report
        raise OutputError("%s is in /proc but is not an open file" % path, "give a file name for the output")
    return "replace", None


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
def _written_into(path, fd=None):
    """Yield a temporary path elsewhere; once complete, copy it into ``path`` (opened and
    truncated) or into this process's open descriptor ``fd`` (at its offset)."""
    handle, tmp = tempfile.mkstemp(prefix="hokusai-preview-output.", suffix=".tmp")
    os.close(handle)
    try:
        yield tmp
        with open(tmp, "rb") as source, _opened(path, fd) as target:
            shutil.copyfileobj(source, target)
    except OSError as exc:
        if fd is not None and exc.errno == errno.EBADF:  # e.g. /dev/fd/9 unopened, or stdin read-only
            raise OutputError("cannot write %s: descriptor %d is not open for writing" % (path, fd),
                              "give a file name for the output") from exc
        raise OutputError("cannot write %s: %s" % (path, exc.strerror or exc), "choose a writable location") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _opened(path, fd):
    if fd is None:
        return open(path, "wb")
    for stream in (sys.stdout, sys.stderr):  # what they hold comes first
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    # A copy of the descriptor, not /proc/self/fd/N opened anew: that would truncate a ">> log"
    # and could open for writing a file given read-only (stdin).
    return open(os.dup(fd), "wb")


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path``, on disk before this returns (for a temporary file
    about to be renamed into place)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_text_atomic(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        write_text(tmp, text)


def write_json_atomic(path, value, sort_keys=False):
    write_text_atomic(path, json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n")


def process_state(pid):
    """The state of process ``pid`` as Linux's /proc gives it ('R', 'S', 'T' stopped, 'Z' ended
    but not yet reaped, ...), '?' when it exists but its state cannot be read (another system,
    another user's), None when there is no such process."""
    if pid <= 0:  # 0 and below name process groups, not a process
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass  # exists, owned by another user
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0].decode("ascii", "replace")
    except (OSError, IndexError):
        return "?"
