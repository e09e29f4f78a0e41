"""`make batch`'s two commands (README: Batch evaluation), run through bin/ by the Makefile.

* :class:`BatchPlan` (bin/hp-batch-plan) checks the settings and lists a folder's contributions
  as make targets for bin/batch.mk.
* :class:`BatchOne` (bin/hp-batch-one) previews one of them, turning a contribution that fails
  on its own into an error record, so that the batch goes on.

Their lines are the batch's (``hp-batch: ...``); errors are one line and exit with the statuses of
:mod:`hokusai_preview.core.errors`, as every command's.
"""

import ast
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

from .. import __version__
from ..core.bundle import MANIFEST, Bundle
from ..core.command import Command
from ..core.dataio import EXTENSIONS
from ..core.errors import INTERNAL, BaselineError, DataError, OutputError, UsageError, error_record, kind_of
from ..core.fsutil import check_output_path, nearest_existing, sha256_file, write_json_atomic, write_text_atomic
from ..core.text import name_list, plural

PLAN_USAGE = """hp-batch-plan: list a folder's contributions as make targets for `make batch`.

Usage:
  bin/hp-batch-plan [options] <contributions> <results>

The Makefile's batch target runs it, then bin/batch.mk, which includes what it
writes in <results>/.batch/: plan.mk, one target <results>/<name>.json per
supported file of <contributions> (not recursing; hidden files skipped; a name
make or the shell cannot carry is cleaned, plus a hash), a stamp per file (its
identity, size and times: a file copied in with an old date is previewed
again) and the settings every result depends on (baseline, options, tool
version). Each is rewritten only when it changes, so make redoes exactly the
results that are out of date. The results of files no longer in the folder,
and damaged ones, are removed; lines on stdout name them, and what the folder
holds besides contributions. The options and the bundle are checked once, on
the command line every preview is given, before any preview starts.

Options:
  --baseline=DIR    The bundle the previews use (default: $HP_BASELINE, else
                    the embedded one).
  --options=TEXT    The hokusai-preview options every preview gets (recorded in
                    the settings).
  --train-jobs=N    The --jobs bin/hp-batch-one gives each preview [default: 1].
  -v --verbose      Show tracebacks on errors.
  -h --help         Show this help and exit.

Exit status: 0 success, 2 usage (the error names the make variable to change:
CONTRIBUTIONS=, RESULTS= or BATCH_OPTIONS=), 4 or 5 baseline bundle
(BASELINE=), 7 cannot write.
"""

ONE_USAGE = """hp-batch-one: preview one contribution of a batch into <result>.

Usage:
  bin/hp-batch-one [options] <source> <result> [--] [<option>...]

bin/batch.mk runs it, one make target each. It runs hokusai-preview on
<source> (plus the <option>s) through the stage cache, writing JSON to
<result>, and prints one line: the estimate, or the error. A contribution that
fails on its own (bad data, exit status 3; an internal error, 1; a preview
killed by a signal, as by the out-of-memory killer) must not stop the batch:
its one-line error becomes an error record in <result>
(schemas/error.schema.json) and this exits 0; so does a <source> that is a
broken symbolic link or has a name no preview can be given. An internal error
may not recur, so its record is dated back: the next make batch tries that file
again. A failure that would fail every contribution alike (usage, baseline,
output; an interrupt) writes nothing and exits with its status, so make stops.

Options:
  --baseline=DIR       The baseline bundle (default: $HP_BASELINE, else the
                       embedded one).
  --train-jobs=N       CPU cores each preview trains on; make runs several at
                       once [default: 1].
  --name-problem=TEXT  Why <source>'s name cannot be given to a preview
                       (<source> is then that name with its odd characters
                       escaped): record the file as failed.
  -v --verbose         Show tracebacks on errors.
  -h --help            Show this help and exit.
"""


class BatchCommand(Command):
    """What the two share: ``hp-batch`` lines, and a usage error's hint naming the script."""

    name = "hp-batch"
    program = ""  # the script as it is typed (bin/hp-batch-one), in the hint of a mistyped command line
    may_be_empty = ()

    def parse(self, argv):
        from ..core.usage import parse

        return parse(self.usage, argv, self.program, may_be_empty=self.may_be_empty)

    def help_hint(self):
        return None  # run's own usage errors say what to change, or are the driver's, passed on as they are

    def signalled(self, what, code):
        return code  # make says it was interrupted, once for every target


# --- bin/hp-batch-plan ----------------------------------------------------------------------------

# hp-load reads these (optionally .gz); .txt is left out because a folder of contributions often
# holds a README.txt or notes.
BATCH_EXTENSIONS = tuple(sorted(set(EXTENSIONS) - {".txt"}))
# What make and the shell take as it is: no = (make reads a line holding one as a variable
# assignment), no : # % $ ; backslash, quotes, wildcards or spaces.
SAFE = re.compile(r"^[A-Za-z0-9._+,@/-]+$")
UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._+,@-]")
# A result's name at most, in bytes: files are written through temporary names beside them,
# which must stay within the 255 bytes a file name may have.
MAX_RESULT_NAME = 200
# What bin/hp-batch-one gives every preview (its options: set_by_batch()), in words.
SET_BY_BATCH_TEXT = ("--data-path and --output-file for each file, --output-format json, --quiet, --jobs from "
                     "JOBS=, --baseline-model from BASELINE=")
RESULTS_HINT = "give RESULTS= a writable folder (it is made if missing), e.g. RESULTS=results"
MOST_NAMED = 3  # files named in the line about removed results; the rest are counted
SUMMARIES = ("summary.jsonl", "summary.md", "summary.csv", "summary.png")  # bin/batch.mk's


class BatchPlan(BatchCommand):
    usage = PLAN_USAGE
    program = "bin/hp-batch-plan"
    may_be_empty = ("--options",)  # the Makefile gives --options=$(BATCH_OPTIONS), most often empty

    def run(self, args):
        try:
            plan(args["<contributions>"], args["<results>"], args["--baseline"], args["--options"] or "",
                 args["--train-jobs"])
        except OSError as exc:  # what the checks could not foresee, e.g. a folder made unreadable meanwhile
            where = exc.filename if exc.filename is not None else "a file"
            raise OutputError("cannot read or write %s: %s" % (where, exc.strerror or exc),
                              "check CONTRIBUTIONS= and RESULTS=") from None


def plan(contributions, results, baseline=None, options="", train_jobs=1):
    """Write ``results``/.batch/plan.mk, the stamps and the settings for the files of
    ``contributions`` (see :data:`PLAN_USAGE`); returns the results' paths.

    A name no preview can be given (not UTF-8, or holding a line break) gets NAME_PROBLEM in the
    plan, for bin/hp-batch-one to record as a failed contribution. ``results``/.batch/folder
    keeps the folder's spelling, which a later batch of the same folder named another way keeps
    (every stage's cache key holds the path). When any result is out of date, the summaries are
    removed until make remakes them."""
    if not contributions:
        raise UsageError("no folder of contributions given", "run make batch CONTRIBUTIONS=dir/")
    if not results:
        raise UsageError("RESULTS is empty", "give RESULTS=dir/ for the results, or leave it out for results/")
    if not SAFE.match(results):
        raise UsageError("RESULTS=%s has characters make cannot carry" % results,
                         "use letters, digits and . _ - / in its path")
    if not os.path.isdir(contributions):
        raise UsageError("%s is not a folder" % contributions, "give CONTRIBUTIONS=dir/ holding the files to preview")
    if os.path.realpath(contributions) == os.path.realpath(results):
        raise UsageError("RESULTS and CONTRIBUTIONS are the same folder (%s)" % results,
                         "write the results elsewhere, e.g. RESULTS=results")
    check_results(results)
    state = os.path.join(results, ".batch")
    typed, before = contributions, folder_before(state, contributions)
    contributions = before or contributions
    # A broken link is listed too: bin/hp-batch-one gives it an error record, as a bad file gets.
    try:
        entries = os.listdir(contributions)
    except OSError as exc:
        raise UsageError("CONTRIBUTIONS=%s cannot be read: %s" % (typed, exc.strerror or exc),
                         "give CONTRIBUTIONS= a folder you can read") from None
    names = sorted(n for n in entries if supported(n) and (
        os.path.isfile(os.path.join(contributions, n)) or broken_link(os.path.join(contributions, n))))
    skips = skipped(contributions, entries, names)  # said once the settings hold: nothing on stdout before an error
    if not names:
        # The files the last batch of this folder previewed are gone: so are their results, and a
        # summary of them. (Another folder, empty or mistyped, leaves the results as they are.)
        removed = forget_removed(results, os.path.join(results, ".batch", "stamps"), set()) if before else []
        if removed:
            for name in SUMMARIES:
                _remove(os.path.join(results, name))
        say_removed(removed, typed)
        raise UsageError("%s holds no file to preview%s" % (
            typed, " (it has %s)" % name_list(skips, MOST_NAMED, str) if skips else ""),
            "put CSV/TSV, JSON, JSON Lines or Parquet files (optionally .gz) in it")

    previews = [(os.path.join(contributions, n), os.path.join(results, output_name(n))) for n in names]
    problems = {source: name_problem(source) for source, _ in previews}
    bundle = check_settings(baseline, options, [p for p in previews if not problems[p[0]]], train_jobs)
    say_skipped(skips, typed)
    stamps = os.path.join(state, "stamps")
    outputs, rules, remade = [], [], []
    changed = False  # whether any result is to be remade or removed: then the summaries are stale
    for source, output in previews:
        stamp = os.path.join(stamps, os.path.basename(output)[:-len(".json")])
        changed |= write_if_changed(stamp, "%s\n%s\n" % (ascii(source), identity(source)))
        if damaged(output):  # edited by hand, say: make, going by dates, would keep it
            _remove(output)
            remade.append(shown_name(source))
        outputs.append(output)
        rule = "%s: %s\n%s: SOURCE := %s\n" % (output, stamp, output, make_quote(shlex.quote(
            shown_name(source) if problems[source] else source)))
        if problems[source]:
            rule += "%s: NAME_PROBLEM := %s\n" % (output, make_quote(shlex.quote(problems[source])))
        rules.append(rule)
    removed = forget_removed(results, stamps, {os.path.basename(o)[:-len(".json")] for o in outputs})
    say_removed(removed, typed)
    say_files("removed the damaged results of", remade, ", to make them again (each was not whole, or "
              "edited since)")
    shutil.rmtree(os.path.join(state, "sources"), ignore_errors=True)  # links made before stamps (0.7.0)
    one = "--train-jobs=%s" % train_jobs + (" " + shlex.quote("--baseline=" + baseline) if baseline else "")
    text = ("# Written by bin/hp-batch-plan for %s; do not edit.\nBATCH_OUTPUTS := %s\nONE_OPTIONS := %s\n"
            "RESULTS_TEXT := %s\n\n%s" % (make_quote(contributions), " \\\n  ".join(outputs), make_quote(one),
                                        plural(len(outputs), "result"), "\n".join(rules)))
    write_if_changed(os.path.join(state, "plan.mk"), text)

    manifest = os.path.join(bundle, MANIFEST)
    digest = sha256_file(manifest)
    changed |= write_if_changed(os.path.join(state, "settings"), "hokusai-preview %s\nbaseline %s\n"
                                "manifest sha256 %s\noptions %s\n" % (__version__, bundle, digest, options))
    write_if_changed(os.path.join(state, "folder"), ascii(contributions) + "\n")
    if changed or removed or remade:
        # Made again once every result is; until then (a batch interrupted, say) no summary can
        # be read as describing results it does not.
        for name in SUMMARIES:
            _remove(os.path.join(results, name))
    return outputs


def supported(name):
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    return not name.startswith(".") and os.path.splitext(lower)[1] in BATCH_EXTENSIONS


def output_name(name):
    """RESULTS file name for a contribution file name: the name plus .json when make can carry
    it, else the name cleaned and cut, plus a hash of the whole name.

    The result depends on the name alone, so a file keeps its result when others come and go.
    Two names cannot share one: plain ones differ as the names do; a hashed one ends in
    "-<hex>.json", and a plain one cannot, as "<something>-<hex>" has no extension that is read."""
    plain = name + ".json"
    # A leading - would make `hp-format --summary RESULTS/*.json` read the result as an option.
    if UNSAFE_IN_NAME.search(name) is None and not name.startswith("-") and len(plain) <= MAX_RESULT_NAME:
        return plain
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
    cleaned = re.sub(r"^-", "_", UNSAFE_IN_NAME.sub("_", name))  # ASCII: its length is its size in bytes
    return "%s-%s.json" % (cleaned[:MAX_RESULT_NAME - len("-.json") - len(digest)], digest)


def broken_link(path):
    return os.path.islink(path) and not os.path.exists(path)


def name_problem(path):
    """Why no preview can be given this file's name (the driver takes UTF-8 text, and the plan
    and the records are lines of it), or None."""
    name = os.path.basename(path)
    if "\n" in name or "\r" in name:
        return "holds a line break"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not UTF-8"
    return None


def shown_name(path):
    """A path as UTF-8 text on one line: bytes that are not UTF-8 as \\xff, line breaks as \\n."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return text.replace("\n", "\\n").replace("\r", "\\r")


def identity(path):
    """What changes when the file does, even when its modification time is set back: device,
    inode, size, modification and change times (a change time cannot be set back). A false
    alarm only costs a preview the stage cache answers."""
    try:
        st = os.stat(path)
    except OSError:  # a broken link: where it points
        return "broken link to %s" % ascii(os.readlink(path))
    return "file %d %d %d %d %d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def forget_removed(results, stamps, planned):
    """Remove the results (and stamps) of files no longer in the folder, so that neither the
    summary nor `hp-format --summary RESULTS/*.json` shows them. Only results a stamp says this
    batch made are touched. Returns the paths of the files whose results were removed."""
    try:
        stamped = os.listdir(stamps)
    except FileNotFoundError:
        return []
    sources = []
    for stem in sorted(set(stamped) - planned):
        sources.append(_stamped_source(os.path.join(stamps, stem)) or stem)
        _remove(os.path.join(results, stem + ".json"))
        _remove(os.path.join(stamps, stem))
        _remove(seal_path(os.path.join(results, stem + ".json")))
    return sources


def _stamped_source(stamp):
    """The contribution's path a stamp names on its first line (written with ascii()), or None."""
    try:
        with open(stamp, encoding="utf-8") as handle:
            return shown_name(ast.literal_eval(handle.readline().strip()))
    except (OSError, ValueError, SyntaxError, TypeError, UnicodeDecodeError):
        return None


def say_removed(sources, contributions):
    """One line on stdout naming the files whose results were removed: a folder's results are
    taken out of RESULTS when its files leave it, or when RESULTS is given another folder."""
    if not sources:
        return
    folder = os.path.realpath(contributions)
    elsewhere = [s for s in sources if os.path.dirname(os.path.realpath(s)) != folder]
    names = [s if s in elsewhere else os.path.basename(s) for s in sources]
    say_files("removed the results of %s not in %s:" % (plural(len(sources), "file"), contributions), names,
              " (a RESULTS folder holds one folder's results: give each folder its own RESULTS= to keep both)"
              if elsewhere else "")


def say_files(what, sources, note=""):
    """One line on stdout, ``hp-batch: <what> <a, b, c and N more><note>``, unless ``sources`` is empty."""
    if sources:
        sys.stdout.write("hp-batch: %s %s%s\n" % (what, name_list(sources, MOST_NAMED, str), note))
        sys.stdout.flush()


# Why a file of a folder of contributions is no contribution, by its extension.
NOT_READ = {".txt": "text: name it .csv or .tsv if it is a table",
            ".xlsx": "a spreadsheet: save it as CSV", ".xls": "a spreadsheet: save it as CSV",
            ".ods": "a spreadsheet: save it as CSV", ".zip": "an archive: unpack it (.gz is read)",
            ".bz2": "compressed: recompress it with gzip", ".xz": "compressed: recompress it with gzip",
            ".zst": "compressed: recompress it with gzip", ".tar": "an archive: unpack it"}


def skipped(folder, entries, names):
    """The folder's entries that are not previewed, each as `name (why)`: folders (not searched),
    files of other kinds, and hidden files whose names are those of data files (other hidden
    entries, .git or .DS_Store, go unsaid)."""
    out = []
    for entry in sorted(set(entries) - set(names)):
        path, shown = os.path.join(folder, entry), shown_name(entry)
        if entry.startswith("."):
            if supported(entry.lstrip(".")):
                out.append("%s (hidden)" % shown)
        elif os.path.isdir(path):
            out.append("%s/ (a folder: not searched)" % shown)
        elif supported(entry):
            out.append("%s (not a regular file)" % shown)
        else:
            extension = os.path.splitext(entry.lower())[1]
            out.append("%s (%s)" % (shown, NOT_READ.get(extension, "not a data file: %s" % (
                "no extension" if not extension else extension))))
    return out


def say_skipped(entries, contributions):
    say_files("skipped %s of %s:" % (plural(len(entries), "entry", "entries"), contributions), entries)


def damaged(result):
    """Whether ``result`` exists and is not a result this batch wrote: not whole (a preview or an
    error record, as hp-format --summary would check on reading it), or not the bytes its seal
    (:func:`seal`) holds the digest of. A number edited within range would pass any check of the
    fields, and the summary and the picture would then say what the preview never did."""
    from ..core.summary import BadField, check_input

    try:
        with open(result, "rb") as handle:
            data = handle.read()
        item = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True
    if not isinstance(item, dict):
        return True
    try:
        check_input(item)
    except BadField:
        return True
    try:
        with open(seal_path(result), encoding="ascii") as handle:
            sealed = handle.read().strip()
    except (OSError, ValueError):
        return True  # unsealed: written by hand, or before the seal was (which a new version remakes anyway)
    return sealed != hashlib.sha256(data).hexdigest()


def seal_path(result):
    """Where the digest of ``result`` is kept: RESULTS/.batch/seals/<its name without .json>."""
    return os.path.join(os.path.dirname(result), ".batch", "seals", os.path.basename(result)[:-len(".json")])


def seal(result):
    """Keep the digest of ``result``, just written by this batch, for :func:`damaged`."""
    os.makedirs(os.path.dirname(seal_path(result)), exist_ok=True)
    write_text_atomic(seal_path(result), sha256_file(result) + "\n")


def folder_before(state, contributions):
    """The spelling the last batch into these results gave the folder, where it names this one
    (``incoming``, ``./incoming/``, ``/home/me/incoming``), else None. Every stage's cache key
    holds the contribution's path: kept, the previews are answered from the cache."""
    try:
        with open(os.path.join(state, "folder"), encoding="utf-8") as handle:
            before = ast.literal_eval(handle.read().strip())
        if isinstance(before, str) and os.path.samefile(before, contributions):
            return before
    except (OSError, ValueError, SyntaxError, TypeError, UnicodeDecodeError):
        pass
    return None


def check_results(results):
    """Refuse a RESULTS that cannot be a folder of results, before anything in it is looked at:
    a file, a place in /dev, /proc or /sys, or a folder that cannot be made or written."""
    real = os.path.realpath(results)
    top = "/" + real.split("/")[1]
    if top in ("/dev", "/proc", "/sys"):
        raise OutputError("RESULTS=%s is in %s, which cannot hold files of results" % (results, top), RESULTS_HINT)
    if os.path.exists(real) and not os.path.isdir(real):
        raise OutputError("RESULTS=%s is a file, not a folder" % results, RESULTS_HINT)
    place = nearest_existing(real)
    if not os.path.isdir(place):
        raise OutputError("RESULTS=%s cannot be made: %s is a file, not a folder" % (results, place), RESULTS_HINT)
    if not os.access(place, os.W_OK | os.X_OK):
        raise OutputError("RESULTS=%s %s" % (results, "is not writable" if place == real else
                                             "cannot be made: %s is not writable" % place), RESULTS_HINT)


def make_quote(text):
    """Text for the right-hand side of a make assignment: $ and # escaped. make reads two
    backslashes and a # as one backslash and a comment, so backslashes before a # are doubled."""
    return re.sub(r"(\\*)#", lambda m: m.group(1) * 2 + "\\#", text.replace("$", "$$"))


def write_if_changed(path, text):
    """Write ``text`` to ``path`` unless it holds it already; returns whether it wrote."""
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    except OSError:
        pass
    write_text_atomic(path, text)
    return True


def check_settings(baseline, options, previews=(), train_jobs=1):
    """Refuse what would fail every preview alike, once, before any starts; returns the bundle path.

    Each preview runs in its own process, so a bad option or bundle found by the previews would
    print the same error once per file, interleaved by make -j. ``previews`` are the (source,
    result) pairs: each preview's whole command line is checked, as the driver will check it."""
    from .args import shell_code

    try:
        words = shlex.split(options)
    except ValueError as exc:
        raise UsageError("BATCH_OPTIONS=%s: %s" % (options, exc), "balance its quotes") from None
    refuse_options_the_batch_sets(words, set_by_batch())
    for number, (source, result) in enumerate(previews):
        try:  # the driver's check of the two the lines differ in (a result in the way: RESULTS= to change)
            check_output_path(result, [source])
        except OutputError as exc:
            raise OutputError(exc.message, "move it out of the way, or give another RESULTS=") from None
        if number:  # (parsing every line would take seconds in a big folder)
            continue
        try:  # the driver's own parser and value checks, on what the preview will be given
            shell_code(preview_arguments(source, result, train_jobs, baseline, words))
        except UsageError as exc:
            raise UsageError("BATCH_OPTIONS: %s" % exc.message, exc.hint) from None
    try:
        return Bundle.open(baseline).path  # verified: its files match the manifest
    except BaselineError as exc:
        if baseline and not os.path.isdir(baseline):  # its hint names the driver's --baseline-model
            exc.hint = "give BASELINE= a bundle directory built by hp-baseline, or leave it out for the embedded one"
        raise


def refuse_options_the_batch_sets(words, batch_options):
    """UsageError for BATCH_OPTIONS that repeat an option every preview is given already (the
    driver refuses an option given twice), that make the driver print instead of preview, or that
    the driver refuses beside one the batch gives (--verbose, with --quiet)."""
    from ..core.usage import parse
    from .args import DRIVER_USAGE

    # The driver's options without their defaults, so that one left out reads None, and without
    # the --data-path it requires: the options alone, read as the driver will read them
    # (abbreviated long options and bundled short ones included).
    usage = "Usage:\n  hokusai-preview [options]\n\nOptions:" + re.sub(
        r"\s*\[default: [^\]]*\]", "", DRIVER_USAGE.split("Options:", 1)[1])
    try:
        given = parse(usage, words, "hokusai-preview", conflicts=False, default_help=False)  # what is given
    except UsageError as exc:
        raise UsageError("BATCH_OPTIONS: %s" % exc.message, exc.hint) from None
    for option, what in (("--help", "its help"), ("--version", "its version")):
        if given.get(option):
            raise UsageError("BATCH_OPTIONS: %s makes each preview print %s instead of previewing" % (option, what),
                             "leave it out")
    repeated = [o for o in batch_options if given.get(o) not in (None, False)]
    if repeated:
        raise UsageError("BATCH_OPTIONS: %s %s the batch sets itself (%s)" % (
            " and ".join(repeated), "is an option" if len(repeated) == 1 else "are options", SET_BY_BATCH_TEXT),
            "leave %s out of BATCH_OPTIONS" % ("it" if len(repeated) == 1 else "them"))
    if given.get("--verbose"):  # the driver refuses it beside the --quiet every preview is given
        raise UsageError("BATCH_OPTIONS: --verbose does not go with the --quiet the batch gives every preview (a "
                         "failed file's record keeps its one-line error)", "leave it out, and run a failing file "
                         "alone with hokusai-preview --verbose to see its traceback")


def set_by_batch():
    """The options bin/hp-batch-one gives every preview: BATCH_OPTIONS repeating one would fail
    every preview (the driver refuses an option given twice)."""
    arguments = preview_arguments("SOURCE", "RESULT", 1, baseline="BASELINE")
    return [word for word in arguments if word.startswith("--")]


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OutputError("cannot remove %s: %s" % (path, exc.strerror or exc), "choose a writable RESULTS") from None


# --- bin/hp-batch-one -----------------------------------------------------------------------------

PER_CONTRIBUTION = (DataError.kind, INTERNAL)  # a preview failing so is recorded; the batch goes on
STOPS = (130, 143)  # Ctrl-C and a kill of the batch: no record, the batch stops


class BatchOne(BatchCommand):
    usage = ONE_USAGE
    program = "bin/hp-batch-one"

    def run(self, args):
        source, result = args["<source>"], args["<result>"]
        record = broken_link_record(source)
        if args["--name-problem"]:
            record = error_record(source, DataError.kind, "%s: the file name %s; rename it to preview it" % (
                source, args["--name-problem"]))
        if record:
            return record_failure(source, result, record)
        driver = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "hokusai-preview")
        command = [driver] + preview_arguments(source, result, args["--train-jobs"], args["--baseline"],
                                               args["<option>"])
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        code = done.returncode if done.returncode >= 0 else 128 - done.returncode  # killed by a signal
        if code == 0 and os.path.isfile(result):
            seal(result)
            sys.stdout.write("hp-batch: %s\n" % describe(result))
            return 0
        if code == 0:
            code = 1  # success without an output is a bug; record it like one
        if error_kind(code) is None:
            sys.stderr.write(done.stderr)  # the driver's own one line: the batch stops on it
            return code
        return record_failure(source, result, failed_preview_record(source, code, done.stderr))


def error_kind(code):
    """The error kind recorded for a preview that exited with ``code``, or None when the batch
    must stop. A preview killed by a signal other than INT and TERM (the out-of-memory killer's
    SIGKILL, a crash) failed on its own, like an internal error: recorded, retried next time."""
    if kind_of(code) in PER_CONTRIBUTION:
        return kind_of(code)
    return INTERNAL if code > 128 and code not in STOPS else None


def preview_arguments(source, result, train_jobs, baseline=None, options=()):
    """The driver's arguments for one preview; :func:`check_settings` checks these very ones."""
    arguments = ["--quiet", "--data-path", source, "--output-format", "json", "--output-file", result,
                 "--jobs", str(train_jobs)]
    if baseline:
        arguments += ["--baseline-model", baseline]
    return arguments + list(options)


def broken_link_record(source):
    """The error record of a SOURCE that is a symbolic link to nothing, or None.

    The driver would call it a path that does not exist, though the folder lists it."""
    if not os.path.islink(source) or os.path.exists(source):
        return None
    try:
        target = os.readlink(source)
    except OSError:
        target = "?"
    return error_record(source, DataError.kind, "%s: is a broken symbolic link (to %s, which does not exist); "
                                                "point it at the contribution or remove it" % (source, target))


def failed_preview_record(source, code, stderr):
    """The error record of a preview that failed with ``code`` (one :func:`error_kind` records),
    from the driver's one-line error on stderr."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    line = next((x for x in reversed(lines) if re.match(r"^[\w.-]+: error: ", x)), lines[-1] if lines else "")
    match = re.match(r"^(?:hp-)?([\w.-]+): error: (.*)$", line)
    message = match.group(2) if match else (line.strip() or "the preview failed with status %d" % code)
    stage = match.group(1) if match and match.group(1) != "hokusai-preview" else None
    return error_record(source, error_kind(code), message + _batch_option_note(message), exit_code=code, stage=stage)


def _batch_option_note(message):
    """Where a preview's hint asks for a label column (--label-column class), how a batch gives
    it: through BATCH_OPTIONS, to every file (a reviewer cannot give it to one file)."""
    asked = re.findall(r"--label-column ([^\s;,()]+)", message.rpartition("; ")[2])
    return " (in a batch, BATCH_OPTIONS='--label-column %s' gives it to every file)" % asked[-1] if asked else ""


def describe(result_path):
    """One line about a finished preview: its estimate and verdict."""
    from ..core.report import percent, points, signed
    from ..core.summary import row_of, verdict

    with open(result_path, encoding="utf-8") as handle:
        row = row_of(json.load(handle))
    return "%s: %s %s pts, delta_one %s, DeltaOne %s, P(pass) %s" % (
        row["contribution"], row["primary_metric"], points(row["primary_delta_pp"]),
        signed(row["delta_one_score"], 4), verdict(row), percent(row["deltaone_probability"]))


def record_failure(source, result, record):
    """Write a failed contribution's error record as its result and say so; the batch goes on."""
    write_json_atomic(result, record)
    seal(result)
    error = record["error"]
    if error["kind"] == INTERNAL:
        os.utime(result, (0, 0))  # older than any stamp: make redoes it next time
    sys.stderr.write("hp-batch: %s failed (%s, exit %d): %s\n" % (
        os.path.basename(source), error["kind"].replace("_", " "), error["exit_code"], error["message"]))
    return 0
