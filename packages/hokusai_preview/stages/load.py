"""hp-load: read contributed data, check it against the baseline, store it as
Parquet.

Usage:
  hp-load [options] [--] <data-path>...
  hp-load [options] --data-path PATH
  hp-load (-h | --help | --version)

Reads each contributed data file (CSV/TSV, JSON, JSON Lines or Parquet, each
optionally gzip-compressed; "-" reads stdin), checks it against the baseline
bundle's manifest, and writes one `load` record per file on stdout. The checks:
the label column exists and has no missing values; every feature the baseline
uses exists (extra columns are reported and kept aside); numeric features hold
numbers; labels the baseline has never seen are counted and their rows dropped.

Options:
  --data-path PATH        The contributed data file (same as the positional
                          argument).
  --baseline-model DIR    Baseline bundle directory (default: $HP_BASELINE, else
                          the embedded one).
  --label-column NAME     The contribution's label column (default: the
                          baseline's).
  --format FMT            Read as csv, tsv, json, jsonl or parquet instead of
                          detecting it.
  --trust-model           Accept a baseline whose model is a pickle or joblib
                          file, which runs any code it contains when hp-train
                          loads it (README: Trust and safety).
{common_options}

Record written (schema: schemas/load.schema.json): `contribution` holds the
source path, format, file SHA-256, the normalised table's path (Parquet, in the
cache), `rows_used`, the `data_manifest` (as the main pipeline writes it) and
`validation` (dropped rows, unseen labels, extra columns, rows with missing
features, class counts, warnings).
"""

import contextlib
import os

from ..core.cells import numeric_feature
from ..core.command import Stage, refuse_stdin_twice
from ..core.errors import DataError, OutputError
from ..core.options import choice_option, with_common_options
from ..core.recipe import canonical_label_array
from ..core.text import class_hint, did_you_mean, name_key, name_list, plural, same_but_case, thousands

__doc__ = with_common_options(__doc__)

MAX_COLUMNS = 4096
MAX_CELL_BYTES = 100 * 1024
# The reader's batches (1 MB CSV blocks) are checked, hashed and written in groups of about this
# size: per-batch overhead fell from most of the time to little, for about 50 MB more memory.
GROUP_BYTES = 16 << 20


class Load(Stage):
    name = "hp-load"
    usage = __doc__
    accepts = ()
    produces = "load"

    def setup(self, args):
        from ..core.bundle import Bundle
        from ..core.dataio import FORMAT_CHOICES

        choice_option(args, "--format", FORMAT_CHOICES, "or leave it out to detect the format")
        self.bundle = Bundle.open(args["--baseline-model"])
        self.bundle.check_model(args["--trust-model"])  # the thorough checks come in compute
        if self.bundle.runs_model_code:
            self.warn(self.bundle.trust_warning("accepting"))

    def input_records(self, args):
        paths = args["<data-path>"] or [args["--data-path"]]
        refuse_stdin_twice(paths, "data")
        for path in paths:
            yield {"source": path}

    @contextlib.contextmanager
    def prepared(self, record):
        """The data file spooled (stdin, a pipe) and hashed for the lookup; the copy removed after."""
        from ..core.cache import SPOOL
        from ..core.dataio import check_readable, printable, refuse_early, spool_stdin, spool_stream
        from ..core.fsutil import sha256_file, tidy_path

        source = record["source"]
        spooled = None
        label = "<stdin>" if source == "-" else printable(tidy_path(source))  # the one name messages use
        spool_dir = os.path.join(self.cache.root, SPOOL)
        try:
            if source == "-":
                spooled = path = spool_stdin(spool_dir)
            elif check_readable(source) == "stream":
                # A pipe (e.g. bash's <(zcat ...)) can be read once only: copy it first.
                with open(source, "rb") as stream:
                    spooled = path = spool_stream(stream, spool_dir, label)
            else:
                path = source
                if not self.args["--format"]:
                    refuse_early(path, label)  # before the hash: a 4 GB sparse file is refused at once
        except OSError as exc:
            raise OutputError("cannot copy %s to %s: %s" % (label, spool_dir, exc.strerror or exc),
                              "give --cache-dir (or HP_CACHE_DIR) a writable directory with free space") from None
        try:
            if spooled and os.path.getsize(spooled) == 0:
                raise DataError("%s: is empty" % label, "give a file with a header row and data rows")
            before = _identity(path)  # before the hash: a change while hashing is caught too
            self.current = {"path": path, "label": label, "identity": before,
                            "sha256": sha256_file(path), "bytes": os.path.getsize(path)}
            yield
        finally:
            if spooled:
                os.unlink(spooled)

    def finish(self, record, result):
        self.report(result["contribution"])  # also on a cache hit: the warnings still hold

    def input_key(self, record):
        return {"file_sha256": self.current["sha256"], "baseline": self.bundle.fingerprint}

    def params(self, record):
        # The path as typed (tidied), not the file it names: the record reports it (source_path), so
        # the same file named another way (/abs/x.csv) is another entry, not the first spelling.
        # The bundle's directory too: the record names it for the later stages, and a copy of the
        # same bundle elsewhere (the first one moved or deleted since) must not be answered with it.
        return {"source": self.current["label"], "label_column": self.args["--label-column"],
                "format": self.args["--format"], "bundle_path": self.bundle.path}

    def compute(self, record, entry):
        from ..core.dataio import BatchReader, read_with_restarts

        reader = BatchReader(self.current["path"], self.args["--format"], label=self.current["label"],
                             expected=[self.args["--label-column"] or self.bundle.label_column]
                             + list(self.bundle.feature_names))
        table_path = entry.path("contribution.parquet")
        loaders = []

        def load():  # a fresh loader per read: a restart discards what the last one counted
            loaders[:] = [ContributionLoader(self.bundle, self.current["label"], self.args["--label-column"])]
            return loaders[0].run(reader, table_path)

        try:
            contribution = read_with_restarts(load, self.current["label"])
        except DataError as exc:
            if reader.note:  # e.g. text named .parquet: the name may say more than the content's error
                exc.message = "%s (%s)" % (exc.message, reader.note.replace("; read as", ", read as"))
            raise
        if _identity(self.current["path"]) != self.current["identity"]:
            # Hashed, then parsed: a file written meanwhile would be stored under a hash of other content.
            raise DataError("%s: changed while it was read" % self.current["label"],
                            "run again once whatever writes it has finished (or preview a copy)")
        # After the data, which fails faster when bad; the verdict is cached per bundle, so only a
        # bundle's first run pays for the model scan's imports.
        self.bundle.check_contents(self.args["--trust-model"], cache=self.cache)  # cached load implies checked
        if reader.note:
            contribution["validation"]["warnings"].insert(0, reader.note)
        contribution.update(format=reader.format, delimiter=reader.delimiter, compressed=reader.compressed,
                            file_sha256="sha256:" + self.current["sha256"], bytes=self.current["bytes"])
        artifacts = ["contribution.parquet"]
        if loaders[0].dropped_rows:
            import io

            import numpy as np

            from ..core.fsutil import atomic_path

            buffer = io.BytesIO()  # as hp-train saves arrays: a full disk then fails with its errno
            np.save(buffer, np.concatenate(loaders[0].dropped_rows).astype(np.int64))
            with atomic_path(entry.path("dropped_rows.npy")) as tmp:
                with open(tmp, "wb") as handle:
                    handle.write(buffer.getbuffer())
            contribution["dropped_rows_path"] = entry.path("dropped_rows.npy")
            artifacts.append("dropped_rows.npy")
        out = {"baseline": self.bundle.identity(), "contribution": contribution}
        return out, artifacts

    def report(self, contribution):
        """The short summary on stderr: one line, then one line per warning."""
        v = contribution["validation"]
        counts = ", ".join("%s %s" % (k, thousands(n)) for k, n in sorted(v["class_counts"].items())[:8])
        parts = ["%s: %s (%s%s), %s, %s (%s)" % (
            contribution["source_path"], plural(contribution["data_manifest"]["row_count"], "row"),
            _format_name(contribution),
            ", gzip" if contribution["compressed"] else "", plural(len(v["features"]), "feature"),
            plural(len(v["class_counts"]), "class", "classes"), counts)]
        if v["rows_dropped"]:
            parts.append("%s with unknown labels dropped (the class counts are of the %s kept)" % (
                plural(v["rows_dropped"], "row"), thousands(sum(v["class_counts"].values()))))
        if v["rows_with_missing_features"]:
            parts.append("%s with missing feature values (imputed)" % plural(v["rows_with_missing_features"], "row"))
        if v["extra_columns"]:
            parts.append("%s ignored" % plural(len(v["extra_columns"]), "extra column"))
        self.info("; ".join(parts))
        for warning in v["warnings"]:
            self.warn(warning)


def _identity(path):
    """What changes when a file is written: its inode, size and modification time."""
    st = os.stat(path)
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _format_name(contribution):
    """csv, json, jsonl or parquet, and how a CSV file that is not comma-delimited is: "csv, tab-delimited"."""
    delimiter = contribution.get("delimiter")
    if contribution["format"] != "csv" or delimiter in (None, ","):
        return contribution["format"]
    return "csv, %s-delimited" % {"\t": "tab", ";": "semicolon", "|": "pipe"}.get(delimiter, repr(delimiter))


class ContributionLoader:
    """One pass over a contribution: validate, normalise, hash and write it as Parquet.

    The normalised table has the baseline's label column (canonical string labels; rows with
    labels the baseline does not know are dropped and counted), numeric features as float64
    (NaN read as missing), other features and extra columns as strings.

    Integer columns are hashed as pandas would type them when reading the whole file: an integer
    column with a missing value anywhere is float everywhere. When a missing value first shows
    up in a later batch, the reader restarts with that column as float.

    The reader's batches are typed one by one, then joined into groups of about
    :data:`GROUP_BYTES` that are checked, hashed and written together.
    """

    def __init__(self, bundle, source_label, label_column=None):
        from ..core.manifest import ManifestBuilder

        self.bundle = bundle
        self.label = source_label
        self.label_column = label_column or bundle.label_column
        self.manifest = ManifestBuilder(source_label)
        self.class_counts = {}
        self.unseen = {}
        self.dropped_rows = []  # data-row numbers (from 1) of rows dropped for unknown labels, per batch
        self.missing_feature_rows = 0
        self.missing_by_feature = {}
        self.rows_written = 0
        self.schema = None
        self.extra = []
        self.int_columns_hashed = set()  # integer columns already hashed as integers
        self.int_columns_as_float = set()  # integer columns already hashed as floats (a missing value)

    def run(self, reader, table_path):
        from ..core.dataio import ParquetSink
        from ..core.fsutil import atomic_path

        writer = None
        with atomic_path(table_path) as tmp:
            try:
                for batch in self.groups(reader):
                    table = self.normalise(batch)
                    if writer is None:
                        writer = ParquetSink(tmp, self.output_schema())
                    if table.num_rows:
                        writer.write(table)
                if self.schema is None:
                    raise DataError("%s: has no columns" % self.label, "give a table with a header row")
                if writer is None:
                    writer = ParquetSink(tmp, self.output_schema())
            finally:
                if writer is not None:
                    writer.close()
            self.finish()
        return self.result(table_path)

    def groups(self, reader):
        """The reader's batches, typed as pandas types the whole file, in groups of about GROUP_BYTES."""
        from ..core.dataio import Restart

        pending, size = [], 0
        batches = reader.batches()
        try:
            for batch in batches:
                if self.schema is None:
                    self.plan(batch.schema, batch, reader.delimiter_given)
                batch = self.pandas_types(batch, reader)
                if pending and (size + batch.nbytes > GROUP_BYTES or not batch.schema.equals(pending[0].schema)):
                    yield _concat(pending)
                    pending, size = [], 0
                pending.append(batch)
                size += batch.nbytes
        except (DataError, Restart):
            if pending:
                yield _concat(pending)  # the rows before the problem come first, with their own problems
            raise
        finally:
            batches.close()  # now, not when collected: the reader's threads end with it
        if pending:
            yield _concat(pending)

    # --- header checks -----------------------------------------------------------------------

    def plan(self, schema, first=None, delimiter_given=None):
        """Check the columns against the baseline (``first``: the first batch, which hints read)."""
        import pyarrow as pa

        names = list(schema.names)
        if len(names) > MAX_COLUMNS:
            raise DataError("%s: has %s columns; hokusai-preview reads at most %s" % (
                self.label, thousands(len(names)), thousands(MAX_COLUMNS)),
                "keep the baseline's feature columns and the label")
        for field in schema:
            if pa.types.is_nested(field.type):
                raise DataError("%s: column %r holds nested values (%s)" % (self.label, field.name, field.type),
                                "flatten it into plain values")
            if _is_binary_type(field.type):
                raise DataError("%s: column %r holds binary values, not text" % (self.label, field.name),
                                "store text as UTF-8 strings")
        features = self.bundle.feature_names
        header_hint = _header_hint(names, first)
        if delimiter_given and len(names) == 1 and any(d in names[0] for d in ",;|" if d != delimiter_given):
            header_hint = ("read with the delimiter --format gave (%r), its header is one column (%r): leave "
                           "--format out, or give the format the file has" % (delimiter_given, names[0][:60]))
        # Columns named as the baseline's but for letter case or spaces ('seniority', ' Home '): the
        # main pipeline matches names exactly, so they are refused, with the renames that fix them.
        wanted = features + ([self.label_column] if self.label_column not in features else [])
        renames = _near_matches([w for w in wanted if w not in names], names)
        # First: with none of the features, it is data for another baseline, whatever its label is.
        if not any(f in names for f in features):
            near = [f for f in features if f in renames]
            if near and not header_hint:
                raise DataError("%s: matches none of the baseline's %s (%s) exactly, but %s when letter case and "
                                "spaces are ignored" % (
                                    self.label, plural(len(features), "feature column"), name_list(features),
                                    "all match" if len(near) == len(features) else "%d match" % len(near)),
                                _rename_hint(renames, len(near) < len(features)))
            raise DataError("%s: matches none of the baseline's %s (%s)" % (
                self.label, plural(len(features), "feature column"), name_list(features)),
                header_hint or "use a baseline built for this data (--baseline-model) or rename the columns")
        missing = [f for f in features if f not in names]
        if missing and all(f in renames for f in missing) and not header_hint:
            raise DataError("%s: lacks %d of the baseline's feature columns as spelled (%s), which the file has "
                            "when letter case and spaces are ignored" % (self.label, len(missing), name_list(missing)),
                            _rename_hint(renames))
        if self.label_column not in names:
            # The label is most likely among the columns that are not the baseline's features.
            others = [n for n in names if n not in features]
            raise DataError("%s: has no label column %r (%s: %s)" % (
                self.label, self.label_column, "columns besides the baseline's features" if others else "columns",
                name_list(others or names)),
                header_hint or "name the label column with --label-column"
                + (did_you_mean(self.label_column, names) or
                   (" (e.g. --label-column %s)" % others[0] if len(others) == 1 else "")))
        if self.label_column in features:  # it cannot be both what is predicted and what predicts
            raise DataError("%s: --label-column %r is one of the baseline's feature columns" % (
                self.label, self.label_column), "name the column that holds the labels (the baseline's is %r)"
                % self.bundle.label_column)
        if missing:
            add = "add %s (empty cells are allowed)" % ("it" if len(missing) == 1 else "them")
            unmatched = [n for n in names if n not in features and n != self.label_column]
            near = [f for f in missing if f in renames]
            if near:  # some near matches, some columns absent: rename those, add the others
                add = _rename_hint({f: renames[f] for f in near}, others=True)
            elif len(missing) == 1 and len(unmatched) == 1:
                add = "rename the file's column %r to %r if that is it, or %s" % (unmatched[0], missing[0], add)
            raise DataError("%s: lacks %d of the baseline's feature columns: %s" % (
                self.label, len(missing), name_list(missing)), header_hint or add)
        used = set(features) | {self.label_column}
        self.extra = [n for n in names if n not in used]
        # An extra column named like the baseline's label would collide with the label written
        # under that name (when --label-column picks another column): it is reported, not kept.
        self.kept_extra = [n for n in self.extra if n != self.bundle.label_column]
        self.schema = schema
        self.missing_by_feature = {f: 0 for f in features}

    def output_schema(self):
        import pyarrow as pa

        fields = [pa.field(self.bundle.label_column, pa.string())]
        for feature in self.bundle.features:
            fields.append(pa.field(feature["name"], pa.float64() if feature["kind"] == "numeric" else pa.string()))
        fields.extend(pa.field(name, pa.string()) for name in self.kept_extra)
        return pa.schema(fields)

    # --- per batch -------------------------------------------------------------------------

    def pandas_types(self, batch, reader):
        """``batch`` typed as pandas types the whole file: missing integers make a float column."""
        import pyarrow as pa

        from ..core.dataio import cast_batch

        casts = {}
        for field, array in zip(batch.schema, batch.columns):
            if pa.types.is_integer(field.type):
                if array.null_count or field.name in self.int_columns_as_float:
                    if field.name in self.int_columns_hashed:
                        reader.widen(field.name, pa.float64())  # raises Restart
                    casts[field.name] = pa.float64()
                    self.int_columns_as_float.add(field.name)  # and so in every later batch
                elif len(array):
                    self.int_columns_hashed.add(field.name)
            elif pa.types.is_null(field.type):
                casts[field.name] = pa.float64()  # pandas reads an empty column as float64
        return cast_batch(batch, casts) if casts else batch

    def normalise(self, batch):
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        offset = self.manifest.rows  # rows before this batch
        self.check_cells(batch, offset)
        try:
            self.manifest.update_arrow(batch)
        except OverflowError:
            raise self.out_of_range(batch) from None

        labels = canonical_label_array(batch.column(self.label_column))
        if labels.null_count:
            missing = np.asarray(labels.is_null(), dtype=bool)
            raise DataError("%s: %s no value in the label column %r (first: data row %d)" % (
                self.label, plural(int(missing.sum()), "row") + (" has" if missing.sum() == 1 else " have"),
                self.label_column,
                int(np.flatnonzero(missing)[0]) + offset + 1),
                "fill in the labels or remove those rows")
        known = pc.is_in(labels, value_set=pa.array(self.bundle.classes, type=pa.string()))
        _add_counts(self.unseen, labels.filter(pc.invert(known)))
        unknown = np.flatnonzero(~np.asarray(known, dtype=bool))
        if len(unknown):  # for hp-check's messages, which name rows as this file numbers them
            self.dropped_rows.append(unknown + offset + 1)
        kept = labels.filter(known)
        _add_counts(self.class_counts, kept)

        columns = {self.bundle.label_column: kept}
        known_rows = np.asarray(known, dtype=bool)  # the rows kept: counts are of them
        any_missing = np.zeros(batch.num_rows, dtype=bool)
        for feature in self.bundle.features:
            name = feature["name"]
            array = batch.column(name)
            if feature["kind"] == "numeric":
                values = numeric_feature(array, name, offset, self.label)
            elif pa.types.is_string(array.type) and feature["kind"] == "text":
                values = array
            elif pa.types.is_null(array.type) or pa.types.is_floating(array.type) and array.null_count == len(array):
                values = pa.nulls(len(array), pa.string())
            else:
                values = canonical_label_array(array, trim=False)  # 1.0, "01" and 1 are the same category
            nulls = np.asarray(values.is_null(), dtype=bool)
            self.missing_by_feature[name] += int(nulls[known_rows].sum())
            any_missing |= nulls
            columns[name] = values.filter(known)
        for name in self.kept_extra:
            array = batch.column(name)
            if not pa.types.is_string(array.type):
                array = pa.nulls(len(array), pa.string()) if array.null_count == len(array) else \
                    pc.cast(array, pa.string())
            columns[name] = array.filter(known)
        self.missing_feature_rows += int(any_missing[known_rows].sum())
        self.rows_written += len(kept)
        return pa.Table.from_pydict(columns, schema=self.output_schema())

    def out_of_range(self, batch):
        """The DataError for a batch whose JSON pandas cannot write: a date or time beyond the years
        1677 to 2262 (pandas' nanosecond timestamps), as the main pipeline could not hash it either."""
        for name in batch.schema.names:
            try:
                batch.select([name]).to_pandas().to_json(orient="records")
            except OverflowError:
                return DataError("%s: column %r holds dates or times outside 1677-09-21 to 2262-04-11, which pandas "
                                 "cannot write as JSON (the data hash)" % (self.label, name),
                                 "store them as text (e.g. '9999-12-31'), or leave the column out")
        return DataError("%s: has values pandas cannot write as JSON (the data hash)" % self.label,
                         "store dates and times as text")

    def check_cells(self, batch, offset):
        import pyarrow as pa
        import pyarrow.compute as pc

        for name, array in zip(batch.schema.names, batch.columns):
            if _is_binary_type(array.type):
                raise DataError("%s: column %r holds binary values, not text" % (self.label, name),
                                "store text as UTF-8 strings")
            row = _outside_pandas_time(array)
            if row is not None:  # checked here, not left to pandas: its versions read such dates differently
                raise DataError("%s: column %r holds a date or time outside 1677-09-21 to 2262-04-11 (data row %d), "
                                "which pandas cannot hold as a timestamp (the data hash)" % (
                                    self.label, name, row + offset + 1),
                                "store dates as text (e.g. '9999-12-31'), or leave the column out")
            if pa.types.is_string(array.type) and len(array) and array.null_count < len(array):
                lengths = pc.binary_length(array)
                longest = pc.max(lengths).as_py()
                if longest is not None and longest > MAX_CELL_BYTES:
                    row = pc.index(lengths, longest).as_py() + offset
                    raise DataError("%s: column %r has a %s-byte value in data row %d; cells are limited to %d KB"
                                    % (self.label, name, thousands(longest), row + 1, MAX_CELL_BYTES // 1024),
                                    "shorten or remove that value")

    # --- results ---------------------------------------------------------------------------

    def finish(self):
        rows = self.manifest.rows
        if rows == 0:
            raise DataError("%s: has a header but no data rows" % self.label, "give at least one row of data")
        if self.rows_written == 0:
            cased = [(value, same_but_case(value, self.bundle.classes)) for value in sorted(self.unseen)]
            hint = "use the baseline's class names or a baseline built for these labels"
            if all(match for _, match in cased):  # yes/no against Yes/No: say so, not "another baseline"
                hint = "its labels differ from the baseline's classes only in letter case or spaces: write %s" % (
                    ", ".join("%r as %r" % pair for pair in cased[:5])) + (" and so on" if len(cased) > 5 else "")
            raise DataError("%s: none of its labels (%s) is a class of the baseline (%s)" % (
                self.label, name_list(sorted(self.unseen)), name_list(self.bundle.classes)), hint)
        features = self.bundle.feature_names
        if all(self.missing_by_feature[f] >= self.rows_written for f in features):  # counted on the rows kept
            raise DataError("%s: every feature value is empty (%s)" % (self.label, name_list(features)),
                            "fill in the feature columns")
        if len(self.class_counts) == 1 and not self.bundle.has("base"):
            raise DataError("%s: every used row has the label %r, and the baseline has no base table to "
                            "retrain with" % (self.label, next(iter(self.class_counts))),
                            "contribute rows of at least two classes, or use a bundle with its base table")

    def result(self, table_path):
        from ..core.recipe import ID_COLUMNS

        warnings = []
        if self.unseen:
            shown = name_list(["%r: %s%s" % (value, thousands(count), class_hint(value, self.bundle.classes))
                               for value, count in sorted(self.unseen.items())], 5, quote=str)
            warnings.append("dropped %s whose label%s the baseline does not know (%s)" % (
                plural(sum(self.unseen.values()), "row"), "" if sum(self.unseen.values()) == 1 else "s", shown))
        if len(self.class_counts) == 1:
            warnings.append("every used row has the label %r: the estimate shows what adding only that class "
                            "does" % next(iter(self.class_counts)))
        empty = [f for f in self.bundle.feature_names if self.missing_by_feature[f] >= self.rows_written]
        if empty:
            warnings.append("feature columns with no values at all (imputed): %s" % name_list(empty))
        estimated = self.manifest.estimated_columns()
        validation = {
            "label_column": self.label_column,
            "features": self.bundle.feature_names,
            "extra_columns": list(self.extra),
            "id_columns": [n for n in self.extra if n in ID_COLUMNS],
            "rows_read": self.manifest.rows,
            "unseen_labels": dict(sorted(self.unseen.items())),
            "unseen_label_action": "dropped",
            "rows_dropped": int(sum(self.unseen.values())),
            "rows_with_missing_features": self.missing_feature_rows,
            "missing_by_feature": self.missing_by_feature,
            "class_counts": dict(sorted(self.class_counts.items())),
            "unique_counts_estimated": estimated,
            "warnings": warnings,
        }
        return {"source_path": self.label, "table_path": table_path, "rows_used": self.rows_written,
                "data_manifest": self.manifest.result(), "validation": validation}


# pandas' timestamps: int64 nanoseconds (its smallest value is NaT's), 1677-09-21 to 2262-04-11.
_PANDAS_NS = (-(2 ** 63) + 1, 2 ** 63 - 1)
_NS_PER = {"s": 10 ** 9, "ms": 10 ** 6, "us": 10 ** 3, "ns": 1}


def _outside_pandas_time(array):
    """The index of the first date or time in ``array`` outside pandas' timestamp range, or None
    (also for a column of another type)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_date32(kind):
        per, values = 86400 * 10 ** 9, array.cast(pa.int32()).cast(pa.int64())
    elif pa.types.is_date64(kind):
        per, values = 10 ** 6, array.cast(pa.int64())
    elif pa.types.is_timestamp(kind) and kind.unit != "ns":
        per, values = _NS_PER[kind.unit], array.cast(pa.int64())
    else:
        return None
    low, high = -(-_PANDAS_NS[0] // per), _PANDAS_NS[1] // per
    outside = pc.fill_null(pc.or_(pc.less(values, low), pc.greater(values, high)), False)
    if not pc.any(outside).as_py():
        return None
    return pc.index(outside, True).as_py()


def _is_binary_type(arrow_type):
    """Whether a column holds bytes: binary of any layout (fixed-size, large, view), also as the
    storage of an extension type (a UUID) or as the values of a dictionary."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    storage = getattr(arrow_type, "storage_type", None)  # extension types (arrow.uuid, ...)
    if storage is not None:
        arrow_type = storage
    return (pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type)
            or pa.types.is_fixed_size_binary(arrow_type)
            or getattr(pa.types, "is_binary_view", lambda t: False)(arrow_type))


def _concat(batches):
    """One record batch of ``batches`` (which share a schema)."""
    import pyarrow as pa

    if len(batches) == 1:
        return batches[0]
    columns = [pa.concat_arrays([b.column(i) for b in batches]) for i in range(batches[0].num_columns)]
    return pa.RecordBatch.from_arrays(columns, schema=batches[0].schema)


def _add_counts(counts, array):
    import pyarrow.compute as pc

    if len(array):
        for item in pc.value_counts(array).to_pylist():
            counts[item["values"]] = counts.get(item["values"], 0) + int(item["counts"])


def _header_hint(names, first=None):
    """A hint when the header row looks like data (a file without a header), or when its names
    after the first start with a space and so do the text values of the first batch ``first``
    (fields separated by ", ")."""
    from ..core.dataio import is_float

    numeric = sum(is_float(name) for name in names)
    if names and numeric * 2 >= len(names):
        return "the first row looks like data: add a header row naming the columns"
    if len(names) > 1 and all(name[:1].isspace() and name.strip() for name in names[1:]) \
            and _values_start_with_space(first):
        return "its column names after the first start with a space: separate the fields with the delimiter " \
               "alone, without a space after it"
    return ""


def _values_start_with_space(batch):
    """Whether a text column after the first of ``batch`` has a value starting with a space, as
    every value does when fields are separated by ", " (numbers are read trimmed: they cannot tell)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if batch is None:
        return False
    for array in batch.columns[1:]:
        if pa.types.is_string(array.type) and pc.any(pc.match_substring_regex(array, r"^\s")).as_py():
            return True
    return False


def _near_matches(wanted, names):
    """{wanted name: the one column of ``names`` that spells it but for letter case and spaces}."""
    found = {}
    for name in wanted:
        matches = [n for n in names if name_key(n) == name_key(name) and n not in wanted]
        if len(matches) == 1:
            found[name] = matches[0]
    return found


def _rename_hint(renames, others=False):
    """'rename 'seniority' → 'Seniority', 'home' → 'Home' (column names must match exactly)'."""
    pairs = ["%r \u2192 %r" % (have, want) for want, have in renames.items()]
    return "rename %s (column names must match exactly)%s" % (
        name_list(pairs, 3, quote=str), " and add the others (empty cells are allowed)" if others else "")


main = Load.entry_point
