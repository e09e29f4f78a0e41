"""The stage protocol: how every hp-* command parses arguments, reads, writes and fails.

* Arguments are parsed with docopt from the command's usage text, which is also its ``--help``
  (:mod:`hokusai_preview.core.usage` puts a mistyped command line in words;
  :mod:`hokusai_preview.core.options` lists the shared options in it and reads option values).
* Records are JSON objects, one per line. A stage reads them from the files named on its
  command line or from stdin (``-`` or nothing), and writes one record per input record to
  stdout. Heavy data (tables, models, predictions) travels as file paths inside the records.
* Every record carries ``record`` (its kind: load, check, sample, train, eval, delta), ``key`` (the
  cache key that identifies its content), and the sections of every stage before it, so a stage
  can run alone on a saved record. Records of kind ``error`` pass through every stage unchanged,
  so a batch of records keeps going past a bad one.
* Progress and messages go to stderr, prefixed with the command name. Failures print exactly
  one line there, ``<command>: error: <what is wrong>; <what to do>``, write nothing to stdout,
  and exit with the status documented in :mod:`hokusai_preview.core.errors`.
"""

import contextlib
import errno
import json
import math
import os
import re
import signal
import sys
import time
import traceback
import warnings

from .. import __version__
from .errors import HPError, OutputError, UsageError
from .text import shorten

RECORD_VERSION = 1

# A write that found no room: a full disk, a quota, a file over the size limit (``ulimit -f``;
# Python ignores SIGXFSZ, so the write fails with EFBIG instead of killing the process).
FULL = {errno.ENOSPC, errno.EFBIG} | ({errno.EDQUOT} if hasattr(errno, "EDQUOT") else set())


def to_jsonable(value):
    """Plain JSON types for a record: numpy scalars and arrays unwrapped, NaN/inf as null."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_record(record):
    return json.dumps(to_jsonable(record), separators=(",", ":"), allow_nan=False, ensure_ascii=False)


class _Terminated(BaseException):
    """Raised from the SIGTERM handler so that cleanup (temporary files) runs."""


# Seconds a signalled command has to clean up and end. Python drops an exception raised where it
# cannot propagate (a weakref callback, __del__): the command would then run on with both
# signals ignored, so the kernel ends it after this long however it fares.
CLEANUP_SECONDS = 10


def _on_signal(signum, frame):
    """SIGINT and SIGTERM end the command through its cleanup, once: a second one (the driver
    passes on a signal that may also have reached the stages themselves) must not cut the
    cleanup short."""
    for ignored in (signal.SIGINT, signal.SIGTERM):
        signal.signal(ignored, signal.SIG_IGN)
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the kernel's, which no Python code can miss
        signal.alarm(CLEANUP_SECONDS)
    raise KeyboardInterrupt() if signum == signal.SIGINT else _Terminated()


class Command:
    """Base of every hp-* command.

    Subclasses set :attr:`name` and :attr:`usage` (docopt text) and implement :meth:`run`,
    which receives the parsed arguments and returns nothing (or an exit status to end with, its
    error line said already); failures raise :class:`~hokusai_preview.core.errors.HPError`.
    """

    name = "hp"
    usage = ""

    def __init__(self):
        self.args = {}
        self.quiet = False
        self.verbose = False
        self.prefetching = False  # set by entry_point: see core/prefetch.py
        self.handled_signals = False  # once main's handlers are in, it says any interruption itself

    # --- messages ------------------------------------------------------------------------

    def info(self, message):
        """A progress or status line on stderr (suppressed by --quiet)."""
        if not self.quiet:
            say("%s: %s" % (self.name, message))

    def warn(self, message):
        if not self.quiet:
            say("%s: warning: %s" % (self.name, message))

    def fail_line(self, text, code):
        say("%s: error: %s" % (self.name, text))
        return code

    # --- entry point ---------------------------------------------------------------------

    def parse(self, argv):
        from .usage import parse

        return parse(self.usage, argv, self.name, version="%s %s" % (self.name, __version__))

    def main(self, argv=None):
        """Run the command; returns the exit status (console scripts end with it: ``exit_now``)."""
        argv = sys.argv[1:] if argv is None else list(argv)
        self.verbose = "-v" in argv or "--verbose" in argv
        with warnings.catch_warnings():  # the filters come back after: the tests run commands in-process
            if not self.verbose:  # stderr holds the command's own lines; a library's warnings only with --verbose
                warnings.simplefilter("ignore")
            return self._main(argv)

    def _main(self, argv):
        previous = {}
        for number in (signal.SIGINT, signal.SIGTERM) if _main_thread() else ():
            if signal.getsignal(number) is not signal.SIG_IGN:  # ignored by whoever started it: stays so
                previous[number] = signal.signal(number, _on_signal)
        self.handled_signals = True
        if previous and hasattr(signal, "SIGALRM"):  # _on_signal's watchdog; a caller in-process lives on
            previous[signal.SIGALRM] = signal.getsignal(signal.SIGALRM)
        try:
            self.args = self.parse(argv)
            # The early guess above serves errors in parsing; docopt also knows -qv and --verb.
            self.verbose = self.verbose or bool(self.args.get("--verbose"))
            self.quiet = bool(self.args.get("--quiet"))
            status = self.run(self.args)
            if sys.stdout is not None:
                sys.stdout.flush()
            return status or 0
        except HPError as exc:
            if self.verbose:
                print_traceback()
            if isinstance(exc, UsageError) and not exc.hint:
                exc.hint = self.help_hint()  # every error line says how to go on
            return self.fail_line(exc.line(), exc.exit_code)
        except SystemExit as exc:  # --help / --version from docopt
            return exc.code if isinstance(exc.code, int) else 0
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
            silence_stdout()
            return 128 + signal.SIGPIPE
        except KeyboardInterrupt:
            return self.signalled("interrupted", 130)
        except _Terminated:
            return self.signalled("terminated", 143)
        except MemoryError:
            return self.fail_line("out of memory; try a smaller --sample-size", 1)
        except OSError as exc:
            if exc.errno not in FULL:
                return self.internal_error(exc)
            # Not a bug: a full disk, a quota, a size limit.
            if self.verbose:
                print_traceback()
            return self.fail_line(self.full_line(exc), OutputError.exit_code)
        except Exception as exc:  # a bug: one line unless --verbose
            return self.internal_error(exc)
        finally:
            if hasattr(signal, "SIGALRM") and signal.SIGALRM in previous:
                signal.alarm(0)  # the cleanup ended: no watchdog for whoever called main()
            for number, handler in previous.items():
                signal.signal(number, handler)

    def full_line(self, exc):
        """The error line for a write that found no room (ENOSPC, EDQUOT) or went over the file
        size limit (EFBIG: ``ulimit -f``), with a hint naming the place that was being written:
        the cache, or another file (the --output-file)."""
        from .cache import within

        where = exc.filename if isinstance(exc.filename, str) else None
        cache = self._cache_root()
        in_cache = where is None or (cache is not None and (where == cache or within(cache, where)))
        if exc.errno == errno.EFBIG:
            what = "%s would be larger than the system lets a file be (the file size limit, ulimit -f)" % (
                where or "a file of the results")
            if in_cache:
                return "%s; raise the limit, or point --cache-dir (or HP_CACHE_DIR) at a disk that takes larger " \
                       "files" % what
            return "%s; raise the limit, or write %s elsewhere" % (what, where)
        what = "no space left to write %s" % (where or "the results")
        if in_cache:  # the cache is where most bytes go
            return "%s; free some space or point --cache-dir (or HP_CACHE_DIR) at a disk with room" % what
        return "%s; free some space where %s is written, or write it to a disk with room" % (what, where)

    def _cache_root(self):
        """The cache directory this command uses (None when it cannot be told)."""
        try:
            from .cache import default_cache_dir

            given = self.args.get("--cache-dir") if isinstance(self.args, dict) else None
            return os.path.abspath(given or default_cache_dir())
        except Exception:  # noqa: BLE001 - only for wording an error line
            return None

    def internal_error(self, exc):
        """One line for a bug (with the traceback too under --verbose); returns exit status 1."""
        if self.verbose:
            print_traceback()
            return self.fail_line("internal error: %s: %s" % (type(exc).__name__, exc), 1)
        text = shorten(exc, 300)
        return self.fail_line("internal error: %s: %s; run again with --verbose and report it"
                              % (type(exc).__name__, text), 1)

    def run(self, args):
        raise NotImplementedError

    def help_hint(self):
        """The hint of a usage error raised without one."""
        return "see '%s --help'" % self.name

    def signalled(self, what, code):
        """End on SIGINT/SIGTERM. In the driver's pipe every stage gets the signal, so the
        driver (which sets ``HP_SIGNAL_QUIET``) says it once for all of them."""
        if os.environ.get("HP_SIGNAL_QUIET"):
            return code
        return self.fail_line("%s; nothing was written" % what, code)

    @classmethod
    def entry_point(cls):
        """Console-script entry: ``main = Stage.entry_point``."""
        command = cls()
        _end_on_signal_outside_main(command)
        end_with_driver()
        command.prefetching = True
        exit_now(command.main())


def _end_on_signal_outside_main(command):
    """SIGINT or SIGTERM before ``main`` installs its own handlers, or after it has restored them,
    ends the process with 130 or 143 and one line (none where main has spoken, or in the driver's
    pipe): not a KeyboardInterrupt traceback. The driver passes a signal on to stages that may
    have had it already, so a second one can arrive just as a stage ends; nothing is half-written
    then (main writes nothing before its handlers, and has closed everything when it returns)."""
    def end(signum, _frame):
        code = 130 if signum == signal.SIGINT else 143
        if not command.handled_signals:
            command.signalled("interrupted" if code == 130 else "terminated", code)
        exit_now(code)

    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is not signal.SIG_IGN:  # ignored by whoever started it: stays so
            signal.signal(number, end)


def end_with_driver():
    """A stage the driver started (``HP_DRIVER_PID`` is its parent) is sent SIGTERM when the
    driver dies, so a driver killed with SIGKILL, which runs no trap to stop its stages, leaves
    none running to write its output later (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing). A
    stage whose driver died while it started (its parent is no longer the driver, and the
    driver is gone) ends at once, as it would have been told to."""
    driver = os.environ.get("HP_DRIVER_PID")
    if not driver:
        return  # not started by the driver
    if str(os.getppid()) != driver:
        if _gone(driver):
            os._exit(143)  # as SIGTERM would end it (which a wrapper may have set to be ignored); nothing written yet
        return  # else started by a subshell of the driver: no parent to follow
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != driver:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _gone(pid):
    """Whether process ``pid`` has ended (a zombie, killed but not yet reaped, has ended too)."""
    from .fsutil import process_state

    try:
        return process_state(int(pid)) in (None, "Z")
    except ValueError:
        return False  # no pid: not known to be gone


def exit_now(code):
    """End the process with ``code`` once stdout and stderr are flushed, skipping the
    interpreter's teardown: native threads still at work when the command has finished (Arrow's
    read-ahead of a file the command refused, a prefetch import it abandoned) can abort the
    process there (``terminate called without an active exception``, exit 134) after its last
    line was said. Everything the command writes is closed or renamed into place before
    ``main`` returns."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):  # closed, or the reader has gone
            pass
    os._exit(code if isinstance(code, int) else 0)


def _main_thread():
    import threading

    return threading.current_thread() is threading.main_thread()


def refuse_stdin_twice(sources, what):
    """UsageError when ``-`` (stdin) is among ``sources`` more than once: the second would read nothing."""
    if sources.count("-") > 1:
        raise UsageError("- (stdin) is named %d times; it can be read once" % sources.count("-"),
                         "name it once, or save the %s to files" % what)


def write_stdout(text, utf8=False):
    """Write ``text`` to stdout whole, or raise BrokenPipeError when the reader has gone, and
    OutputError when stdout is closed or cannot take it (a full disk, /dev/full).

    ``utf8``: text for a program (JSON, which is UTF-8 whatever the locale by RFC 8259, or the
    driver's shell code), written as UTF-8; otherwise text for a person, in stdout's encoding, a
    character it cannot carry written as an escape (\\xe9) rather than failing the command.

    Not ``sys.stdout.write``: a large write the reader stops reading part-way is cut short
    silently there (the buffered writer keeps the partial count and drops the error), and the
    command would exit 0 with its output truncated."""
    if sys.stdout is None:  # started with stdout closed (>&-)
        raise OutputError("cannot write to stdout: it is closed", "give it a file or a pipe (e.g. > out.txt)")
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # not a real file (tests capture it)
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    data = text.encode("utf-8") if utf8 else text.encode(sys.stdout.encoding or "utf-8", "backslashreplace")
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # BrokenPipeError: the reader went away, ended quietly in main()
            raise
        raise OutputError("cannot write to stdout: %s" % (exc.strerror or exc),
                          "send it to a file or a pipe that can take it") from None


def say(line):
    """Write one line to stderr. Messages are not the output: a stderr that is closed (2>&-) or
    cannot take them (2>/dev/full) loses them, and the command goes on to its own exit status."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # None when started closed; ValueError once closed
        pass


def print_traceback():
    """--verbose: the current exception's traceback on stderr, as :func:`say` writes lines."""
    say(traceback.format_exc().rstrip("\n"))


def json_loads(text):
    """json.loads, with a document nested past Python's stack as invalid JSON (a ValueError,
    which jsonlines reports with its line number) rather than a RecursionError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def record_loads(text):
    """:func:`json_loads`, with text holding a lone UTF-16 surrogate (valid JSON escaping, but no
    text a stage could write out again) as invalid JSON too."""
    record = json_loads(text)
    escaped = text if isinstance(text, str) else text.decode("utf-8", "replace")
    if "\\ud" in escaped.lower():  # a UTF-16 escape: a lone surrogate in it cannot be written out again
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a lone surrogate escape (text that is not Unicode)") from None
    return record


def silence_stdout():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# The longest record line read (a stage's records are kilobytes): past it the input is no
# records (a file without newlines, /dev/zero), refused before it fills the memory.
MAX_LINE_BYTES = 64 << 20


# What a stage adds to a record after the cache: facts of this run, not of the result.
PER_RUN = ("timings", "cache")
# What a record edited by hand (a field removed, a number made text) raises deep in compute().
# An .npz or .npy file it names that is empty or truncated raises EOFError, or zipfile's
# BadZipFile (see :func:`unusable`).
UNUSABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError, EOFError)


def unusable(exc):
    """Whether ``exc`` is what a record made by hand raises (:data:`UNUSABLE`, or a broken .npz's
    BadZipFile: zipfile is looked up, not imported, as only numpy's reading of an .npz loads it,
    and importing it would cost every stage's start 13 ms)."""
    zipfile = sys.modules.get("zipfile")
    return isinstance(exc, UNUSABLE) or (zipfile is not None and isinstance(exc, zipfile.BadZipFile))


def written_part(record):
    """``record`` without its per-run facts: what the stage that wrote it computed."""
    return {name: value for name, value in record.items() if name not in PER_RUN}


def what_failed(exc):
    """The one-line reason an exception from an unusable record gives: the missing field, or its type and text."""
    if isinstance(exc, KeyError) and exc.args:
        return "no field %s" % json.dumps(exc.args[0]) if isinstance(exc.args[0], str) else "no %r" % exc.args[0]
    text = " ".join(str(exc).split())
    # A cache path alone can fill the line: its folders go, so the reason after it stays in view.
    text = re.sub(r"(?<![\w.])/(?:[^\s/]+/)+(?=[^\s/]+)", ".../", text)
    return "%s: %s" % (type(exc).__name__, shorten(text, 120)) if text else type(exc).__name__


class RecordReader(Command):
    """A command that reads records: JSON lines from the files named on its command line
    (``<record>...``) or stdin, each of a kind in :attr:`accepts` or an error record. The base
    of every stage, and of hp-format, which renders records and caches nothing."""

    accepts = ()
    loads = staticmethod(record_loads)  # a line's JSON

    # --- records in ----------------------------------------------------------------------

    def input_records(self, args):
        """The inputs, one per output: the records read (hp-load: ``{"source": path}`` per data file)."""
        sources = args.get("<record>") or ["-"]
        refuse_stdin_twice(sources, "records")
        for source in sources:
            yield from self.read_source(source)

    # What a record file that cannot be opened gets: the message (with the path and the reason)
    # and the hint.
    unreadable = ("cannot read record file %s: %s", "name a file written by an earlier stage")

    def open_source(self, source):
        """(binary handle, label) of a record source: a file, or stdin for ``-``. Binary: records
        are JSON, UTF-8 whatever the locale's encoding (RFC 8259)."""
        if source == "-":
            if sys.stdin is None or sys.stdin.isatty():
                raise UsageError("%s reads records on stdin, but stdin is %s" % (
                    self.name, "closed" if sys.stdin is None else "a terminal"),
                    "pipe the previous stage into it or name a record file")
            return sys.stdin.buffer, "<stdin>"
        try:
            return open(source, "rb"), source
        except OSError as exc:
            message, hint = self.unreadable
            raise UsageError(message % (source, exc.strerror or exc), hint) from None

    def read_source(self, source):
        handle, label = self.open_source(source)
        try:
            from .records import limited_lines  # not dataio, whose C extensions must not load here (prefetch)

            yield from self.read_lines(limited_lines(handle, MAX_LINE_BYTES, lambda number: UsageError(
                "line %d of %s is longer than %d MB, longer than any record" % (number, label, MAX_LINE_BYTES >> 20),
                "feed %s the output of %s" % (self.name, self.upstream()))), label)
        finally:
            if source != "-":
                handle.close()

    def read_lines(self, lines, label):
        """The checked records of an iterable of JSON lines (bytes in UTF-8, or text), read by
        jsonlines (blank lines skipped, a leading byte-order mark allowed)."""
        import jsonlines

        read = [0]  # the number of the line last read: the record's, blank lines being skipped before it

        def numbered():
            for read[0], line in enumerate(lines, 1):
                yield line

        reader = jsonlines.Reader(numbered(), loads=self.loads)
        try:
            for record in reader.iter(allow_none=True, skip_empty=True):
                yield self.check_record(record, read[0], label)
        except jsonlines.InvalidLineError as exc:
            what = "%s is not UTF-8 text (line %d), so not JSON records" % (label, exc.lineno) \
                if isinstance(exc.__cause__, UnicodeDecodeError) else \
                "line %d of %s is not a JSON record" % (exc.lineno, label)
            raise UsageError(what, "feed %s the output of %s" % (self.name, self.upstream())) from None

    def upstream(self):
        return " or ".join("hp-" + kind for kind in self.accepts)

    def check_record(self, record, number, label):
        kind = record.get("record") if isinstance(record, dict) else None
        if kind == "error" or kind in self.accepts:
            from .records import MAX_DEPTH, too_deep

            if too_deep(record):  # an error record too: it is passed on, written out again
                raise UsageError("line %d of %s nests deeper than %d levels, deeper than any record %s writes" % (
                    number, label, MAX_DEPTH, "a stage" if kind == "error" else "hp-" + kind),
                    "feed it the output of %s, unedited" % self.upstream())
        if kind in self.accepts:
            from .records import missing_field, per_run_problem

            if not isinstance(record.get("key"), str):
                raise UsageError("line %d of %s is a record of kind %r without its key, so not one hp-%s wrote" % (
                    number, label, kind, kind), "feed it the output of %s" % self.upstream())
            missing = missing_field(record)
            if missing:
                raise UsageError("line %d of %s is a record of kind %r without %s, so not one hp-%s wrote whole" % (
                    number, label, kind, missing, kind), "feed it the output of %s" % self.upstream())
            problem = per_run_problem(record)
            if problem:
                raise UsageError("line %d of %s: %s" % (number, label, problem),
                                 "feed it the output of %s, unedited" % self.upstream())
        if kind == "error" or kind in self.accepts:
            return record
        what = "a record of kind %r, not one %s reads" % (kind, self.name) if kind else \
            "not a stage record (it has no \"record\" field)"
        raise UsageError("line %d of %s is %s" % (number, label, what), "feed it the output of %s" % self.upstream())


class Stage(RecordReader):
    """A pipeline stage: reads records, computes (or reuses from the cache), writes records.

    Subclasses set :attr:`accepts` (input record kinds) and :attr:`produces` (output kind), and
    implement :meth:`params` (everything besides the input record that the result depends on)
    and :meth:`compute`, which writes artifacts into a cache entry and returns the output
    record plus the list of artifact names. Two hooks run on every input but error records,
    whether its result is reused from the cache or computed: :meth:`prepared` around the lookup
    and :meth:`finish` after it.
    """

    produces = ""
    prefetch = ()  # heavy modules compute() needs, imported while the stage waits for input

    def run(self, args):
        from . import prefetch
        from .cache import Cache

        self.cache = Cache(args.get("--cache-dir"), enabled=not args.get("--no-cache"), notify=self.info)
        self._recorded = {}  # (kind, key) -> the record cached there: read once per input record
        self.setup(args)
        if self.prefetching:
            import jsonlines  # noqa: F401 - the records' reader, with the C extensions it loads, first: see prefetch.py

            prefetch.start(self.prefetch)
        # Every input is read, and every result made, before the first is written: a bad second
        # input leaves stdout empty rather than holding half of what was asked for.
        records = list(self.input_records(args))
        results = [self.handle(record) for record in records]
        for result in results:
            self.emit(result)

    def setup(self, args):
        """Validate options before any record is read (raise UsageError)."""

    # --- records out ---------------------------------------------------------------------

    def emit(self, record):
        write_stdout(dumps_record(record) + "\n", utf8=True)

    def handle(self, record):
        """Pass error records through; otherwise compute or reuse the stage's output, with the
        stage's hooks around (:meth:`prepared`) and after (:meth:`finish`)."""
        if record.get("record") == "error":
            return record
        with self.prepared(record):
            result = self.result_of(record)
        self.finish(record, result)
        return result

    @contextlib.contextmanager
    def prepared(self, record):
        """Hook: the context the cache lookup of ``record`` (and the compute on a miss) runs in.
        A stage may refuse the input here before the cache is consulted (hp-train), or make ready
        what the lookup needs and clean it up after (hp-load: the data file spooled and hashed)."""
        yield

    def finish(self, record, result):
        """Hook: runs on every result, reused from the cache or computed, once its timings and
        cache status are in: lines on stderr that a cache hit repeats (hp-load's summary, hp-check's
        warnings), or per-run facts in the output (hp-delta)."""

    def result_of(self, record):
        """The stage's output for ``record``, reused from the cache or computed and cached."""
        from .cache import damaged_references, make_key
        from .records import missing_file

        started = time.perf_counter()
        self.refuse_edited(record)
        # hp-load's input, {"source": path}, is no record: its data path is no cached file to verify.
        stage_record = record.get("record") in self.accepts
        # A record this cache cannot vouch for taints what is made from it, all the way down:
        # a field this stage passes on unread may be what a later one cannot use (see usable()).
        unchecked = bool(record.get("unchecked")) or (stage_record and not self.as_written(record))
        with self.usable(record):
            key = make_key(self.produces, self.input_key(record), self.params(record))
        result = self.cache.lookup(self.produces, key)
        status = "hit"
        if result is None:
            # Upstream files are read only while they verify.
            damaged = damaged_references(record) if stage_record else []
            if damaged:
                raise UsageError("the %s record refers to cached files that are gone or damaged (%s)" % (
                    record.get("record"), damaged[0]), "run the pipeline again from hp-load")
            missing = missing_file(record) if stage_record else None
            if missing:
                raise UsageError("the %s record's %s names %s, which is not a file" % (
                    record.get("record"), missing[0], missing[1]),
                    "feed it a record an earlier stage wrote, unedited, or run the pipeline again from hp-load")
            entry = self.cache.create(self.produces, key)  # waits if another run is computing it
            result = entry.reused
        if result is None:
            status = "miss"
            try:
                from . import prefetch

                prefetch.wait()  # never import a library while the background thread is importing it
                try:
                    with self.usable(record):
                        result, artifacts = self.compute(record, entry)
                except FileNotFoundError as exc:
                    gone = (stage_record and (damaged_references(record) or missing_file(record))) or (
                        isinstance(exc.filename, str) and self.cache.holds(exc.filename))
                    if gone:  # e.g. hp-cache --clear while this ran: not a bug, and said so
                        raise UsageError("the %s record's cached files were removed while %s ran" % (
                            record.get("record"), self.name), "run the pipeline again from hp-load") from None
                    raise
                result = dict(result, record=self.produces, key=key, version=RECORD_VERSION)
                if unchecked:
                    result["unchecked"] = True
                result = json.loads(dumps_record(result))  # what is cached is exactly what is emitted
                result = entry.commit(result, artifacts)  # paths now point into the published entry
            except BaseException:
                entry.discard()  # a failed or interrupted run leaves no entry behind
                raise
        else:
            from . import prefetch

            prefetch.cancel()  # a cached result needs none of the heavy libraries
            self.info("reused cached %s result %s" % (self.produces, key[:12]))
        elapsed = time.perf_counter() - started
        # Timings and cache status describe this run, so they are added after the cache.
        result["timings"] = dict(record.get("timings") or {}, **{self.produces: round(elapsed, 4)})
        result["cache"] = dict(record.get("cache") or {}, **{self.produces: status})
        return result

    @contextlib.contextmanager
    def usable(self, record):
        """Turn what a record made by hand raises (a field of the wrong type, a value out of
        range) into a usage error; in a record as its stage wrote it, that is a bug, shown as one."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - only what unusable() names is handled
            if not unusable(exc):
                raise
            kind = record.get("record")
            if kind not in self.accepts or (self.as_written(record) and not record.get("unchecked")):
                raise  # not a record (hp-load's data file), or one as its stage wrote it from sound input
            what = "was made from a record not as its stage wrote it" if self.as_written(record) else \
                "is not as hp-%s wrote it" % kind
            raise UsageError("the %s record %s, and %s cannot use it (%s)" % (
                kind, what, self.name, what_failed(exc)),
                "feed it a record an earlier stage wrote, unedited, or run the pipeline again from hp-load") from None

    def refuse_edited(self, record):
        """UsageError for a record that differs from the one its stage cached under its key: edited
        since, its numbers would no longer say what its files hold. (A record whose key this cache
        does not hold cannot be checked, and one that differs only in where another cache keeps its
        files is that cache's; both are keyed by their content.)"""
        from .records import FILE_FIELDS, cache_tails, first_difference, leaves

        cached = self.cached_record(record)
        field = first_difference(written_part(cached), written_part(record)) if cached is not None else None
        if not field:
            return
        # Keys do not depend on the cache's place: the same result from another cache differs in
        # its file paths alone (with files there), and is keyed by its content, not refused.
        beyond_paths = first_difference(cache_tails(written_part(cached)), cache_tails(written_part(record)))
        if beyond_paths is None and not any(name in FILE_FIELDS and isinstance(value, str) and self.cache.holds(value)
                                            for _, name, value in leaves(record)):
            return
        field = beyond_paths or field
        if field:
            kind = record.get("record")
            raise UsageError("the %s record differs from the one hp-%s cached under its key, at %s (edited, or "
                             "the entry was rebuilt since)" % (kind, kind, field),
                             "feed %s the record hp-%s writes now, unedited: run the pipeline again from hp-%s" % (
                                 self.name, kind, kind))

    def input_key(self, record):
        """What the cache key hashes of the input: the key the record's stage gave it (keys chain,
        whatever the cache's place) when the record is the one cached under that key; otherwise
        (edited since, or from another cache) the record itself, so that it is neither answered
        with the result of the record its key names nor stored in that one's place."""
        if self.as_written(record):
            return record["key"]
        from .fsutil import sha256_json

        return {"record": sha256_json(written_part(record))}

    def as_written(self, record):
        """Whether ``record`` is what its stage cached under its key (per-run facts aside)."""
        cached = self.cached_record(record)
        return cached is not None and written_part(cached) == written_part(record)

    def cached_record(self, record):
        """The record this cache holds under ``record``'s kind and key, or None."""
        kind, key = record.get("record"), record.get("key")
        from .cache import KEY

        if kind not in self.accepts or not (isinstance(key, str) and KEY.match(key)):
            return None  # not a stage record (hp-load's data file), or not a key this tool made
        if (kind, key) not in self._recorded:
            self._recorded[kind, key] = self.cache.recorded(kind, key)
        return self._recorded[kind, key]

    def params(self, record):
        return {}

    def compute(self, record, entry):
        raise NotImplementedError


def carry(record, **sections):
    """A copy of ``record`` without per-run fields, plus new sections."""
    out = {k: v for k, v in record.items() if k not in ("timings", "cache", "record", "key", "version")}
    out.update(sections)
    return out
