"""Reading the records stages pass, in one place: the sections each kind must hold, the checks
a record read back must pass (depth, files it names, hand edits), the newest table of the
contribution, the prediction arrays, and record lines read with a length limit.

A record accumulates sections as it flows (see core/command.py); when several stages each
produce a table of the contribution, later stages use the newest one.
"""

import contextlib
import datetime
import math
import os

# The sections each kind of record carries, and the fields each section always has: what
# schemas/<kind>.schema.json requires (tests/unit/test_records.py keeps the two equal). A stage
# checks its input against them first, so a hand-edited or cut record is a usage error naming
# what is missing, not an internal error deep inside the stage.
RECORD_SECTIONS = {
    "load": ("baseline", "contribution"),
    "check": ("baseline", "contribution", "check"),
    "sample": ("baseline", "contribution", "sample"),
    "train": ("baseline", "contribution", "training"),
    "eval": ("baseline", "contribution", "training", "evaluation"),
    "delta": ("baseline", "output"),
}
SECTION_FIELDS = {
    "baseline": ("path", "model_id", "model_type", "fingerprint", "label_column", "classes", "has_base_table"),
    "contribution": ("source_path", "table_path", "rows_used", "data_manifest", "validation", "format",
                     "compressed", "file_sha256", "bytes"),
    "check": ("table_path", "rows_used", "rows_removed", "contamination_action", "seed", "class_counts",
              "diagnostics"),
    "sample": ("table_path", "sample_size_used", "original_data_size", "sampled", "seed", "method",
               "class_counts", "class_counts_original", "sample_size_requested"),
    "training": ("mode", "budget", "seed", "round_size", "trees", "full_trees", "baseline_trees", "stop_reason",
                 "convergence", "base_samples", "contributed_samples", "test_size", "split", "fitted_samples",
                 "full_run_fitted", "model_path", "predictions_path", "reference_predictions_path",
                 "learning_curve", "fit_seconds"),
    "evaluation": ("benchmark", "baseline_metrics", "new_metrics", "baseline_full_metrics", "compared_trees",
                   "reference_profile", "learning_curve", "evaluation_timestamp", "evaluation_time_seconds"),
    "output": (),
}


def missing_field(record):
    """The first section or field (dotted) that a record of its kind always has and ``record``
    lacks, or None."""
    for section in RECORD_SECTIONS.get(record.get("record"), ()):
        value = record.get(section)
        if not isinstance(value, dict):
            return section
        for field in SECTION_FIELDS[section]:
            if field not in value:
                return "%s.%s" % (section, field)
    return None


# Fields naming a file a later stage reads (tables, models, predictions), wherever they appear.
FILE_FIELDS = ("table_path", "model_path", "predictions_path", "reference_predictions_path", "rows_path",
               "dropped_rows_path")


MAX_DEPTH = 32  # a stage's record nests about 8 deep; the tool's own walks over records recurse


def too_deep(record):
    """Whether ``record`` nests deeper than :data:`MAX_DEPTH` (found without recursing)."""
    level = [record]
    for _ in range(MAX_DEPTH):
        level = [v for item in level for v in (item.values() if isinstance(item, dict) else item)
                 if isinstance(v, (dict, list))]
        if not level:
            return False
    return True


def first_difference(a, b, where=""):
    """The dotted path of the first field where JSON values ``a`` and ``b`` differ (``where`` when
    they differ as wholes), or None when they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for name in list(a) + [n for n in b if n not in a]:
            found = first_difference(a.get(name, _ABSENT), b.get(name, _ABSENT), where + "." + name if where else name)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, "%s[%d]" % (where, index))
            if found:
                return found
        return None
    return None if type(a) is type(b) and a == b else where or "the record"


_ABSENT = object()


def per_run_problem(record):
    """What is wrong with ``record``'s per-run facts (``timings``: stage -> seconds, ``cache``:
    stage -> hit or miss), or None; they are carried along, so a bad one is refused on input."""
    for name, valid in (("timings", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                         and 0 <= v < math.inf),  # not NaN or Infinity, which JSON out would write as null
                        ("cache", lambda v: v in ("hit", "miss"))):
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(valid(v) for v in value.values()):
            return '"%s" is not an object of stage -> %s' % (name, "seconds" if name == "timings" else "hit or miss")
    return None


def cache_tails(value, depth=4):
    """``value`` (a record) with each file path (:data:`FILE_FIELDS`) cut to its last ``depth``
    parts (stage/ab/key/file): what two caches holding the same result write alike."""
    if isinstance(value, dict):
        return {k: "/".join(v.replace("\\", "/").split("/")[-depth:]) if k in FILE_FIELDS and isinstance(v, str)
                else cache_tails(v, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [cache_tails(v, depth) for v in value]
    return value


def leaves(value, where="", name=None):
    """Yield ``(dotted name, field name, value)`` for every value in ``value`` that is not an
    object or a list, in order (list items are named ``name[i]`` and keep their field's name)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, "%s.%s" % (where, key) if where else key, key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, "%s[%d]" % (where, index), name)
    else:
        yield where, name, value


def missing_file(record):
    """``(field path, file)`` of the first file ``record`` names that is not there, or None.

    Files in cache entries are also verified by their entry (core/cache.damaged_references);
    this catches the rest, e.g. a hand-edited path, as a usage error before a stage reads it.
    """
    import os

    for path, name, value in leaves(record):
        if name in FILE_FIELDS and isinstance(value, str) and not os.path.isfile(value):
            return path, value
    return None


# Sections that may hold the contribution's table, newest first.
TABLE_SECTIONS = ("sample", "check", "contribution")


def whole(value):
    """Whether ``value`` (read from JSON: a record's, a manifest's) is a whole number: an int, not
    a bool (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def current_table(record):
    """(path, rows) of the newest contribution table in ``record``."""
    for name in TABLE_SECTIONS:
        section = record.get(name)
        if section:  # the newest section has the table: an older one would undo what a stage did
            rows = section["sample_size_used"] if name == "sample" else section["rows_used"]
            if not isinstance(section["table_path"], str) or not whole(rows):
                raise TypeError("%s.table_path and its row count are not a path and a number" % name)
            return section["table_path"], rows
    raise KeyError("record has no contribution table")


def utc_now():
    """The time a record is written, as the main pipeline writes its timestamps: ISO 8601, UTC."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class Predictions:
    """A train record's prediction arrays, each read when it is asked for, and no more of it.

    ``training.reference_predictions_path`` (.npy) holds the reference forest's per-tree class
    probabilities on the benchmark (T, n, C); ``training.predictions_path`` (.npz) the new
    forest's, ``new`` (k, n, C), and each learning-curve forest's mean over its k trees (n, C),
    under the point's ``array`` name (older records hold them per tree, (k, n, C)). T: the
    baseline's trees, k: the new forest's, n: benchmark rows, C: classes. Per-tree arrays are
    large with many classes (100 trees of 2,000 rows and 200 classes: 305 MB), so a forest's
    mean is read from its file in parts (core/treearrays.py) and its trees only where an
    estimate uses every tree. The stage protocol has checked that the files exist
    (core/command.py), and says so if they vanish meanwhile.
    """

    def __init__(self, record):
        training = record["training"]
        self.reference_path = training["reference_predictions_path"]
        self.path = training["predictions_path"]
        for path in (self.reference_path, self.path):
            if os.path.getsize(path) == 0:  # numpy says so in words that vary by version (some blame pickles)
                raise EOFError("%s is empty" % path)
        self._reference = None

    def reference(self):
        """The reference forest's estimate.ForestMean (read once)."""
        from .estimate import ForestMean
        from .treearrays import read_mean

        if self._reference is None:
            with open(self.reference_path, "rb") as handle:
                mean, trees = read_mean(handle)
            if trees is None:
                raise ValueError("%s holds no per-tree predictions" % self.reference_path)
            self._reference = ForestMean(mean, trees)
        return self._reference

    def reference_trees(self):
        """The reference forest's per-tree probabilities (T, n, C), memory-mapped: read from
        the file as they are used, never copied."""
        import numpy as np

        return np.load(self.reference_path, mmap_mode="r")

    def new(self):
        """The new forest's estimate.ForestMean."""
        return self.mean("new")

    def new_trees(self):
        """The new forest's per-tree probabilities (k, n, C)."""
        import numpy as np

        with np.load(self.path) as arrays:
            return arrays["new"]

    def mean(self, name):
        """The estimate.ForestMean of the forest stored as ``name`` (``new`` or a learning-curve
        point's ``array``); a curve forest, stored as its mean, has as many trees as the new one."""
        from .estimate import ForestMean
        from .treearrays import read_header, read_mean

        with self._member(name) as handle:
            mean, trees = read_mean(handle)
        if trees is None:
            with self._member("new") as handle:
                trees = read_header(handle)[0][0]
        return ForestMean(mean, trees)

    @contextlib.contextmanager
    def _member(self, name):
        """The .npz's array ``name`` as an open binary stream (KeyError if it has none, as numpy's)."""
        import zipfile

        with zipfile.ZipFile(self.path) as archive, archive.open(name + ".npy") as handle:
            yield handle


def limited_lines(raw, most, too_long):
    """The lines of a binary stream, each read up to ``most`` bytes; ``too_long(line number)`` (an
    exception) is raised for a longer one, not a memory blow-up: iterating a file reads a line
    however long it is (/dev/zero has none)."""
    number = 0
    while True:
        line = raw.readline(most + 2)  # a line of ``most`` bytes and its newline is allowed
        if not line:
            return
        number += 1
        if len(line) - line.endswith(b"\n") > most:
            raise too_long(number)
        yield line
