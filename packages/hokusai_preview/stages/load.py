"""hp-load: read contributed data, check it against the baseline, store it as Parquet.

Usage:
  hp-load [options] <data-path>...
  hp-load [options] --data-path PATH
  hp-load (-h | --help | --version)

Reads each contributed data file (CSV/TSV, JSON, JSON Lines or Parquet, each optionally
gzip-compressed; "-" reads stdin), checks it against the baseline bundle's manifest, and
writes one `load` record per file on stdout. The checks: the label column exists and has no
missing values; every feature the baseline uses exists (extra columns are reported and kept
aside); numeric features hold numbers; labels the baseline has never seen are counted and
their rows dropped.

Options:
  --data-path PATH        The contributed data file (same as the positional argument).
  --baseline-model DIR    Baseline bundle directory (default: $HP_BASELINE, else the embedded one).
  --label-column NAME     The contribution's label column (default: the baseline's).
  --format FMT            Read as csv, json, jsonl or parquet instead of detecting it.
{common_options}

Record written (schema: schemas/load.schema.json): `contribution` holds the source path,
format, file SHA-256, the normalised table's path (Parquet, in the cache), `rows_used`, the
`data_manifest` (as the main pipeline writes it) and `validation` (dropped rows, unseen labels,
extra columns, rows with missing features, class counts, warnings).
"""

import os

from ..core.command import Stage, with_common_options
from ..core.errors import DataError, UsageError

__doc__ = with_common_options(__doc__)

MAX_COLUMNS = 4096
MAX_CELL_BYTES = 100 * 1024
ID_COLUMNS = ("query_id",)


class Load(Stage):
    name = "hp-load"
    usage = __doc__
    accepts = ()
    produces = "load"

    def setup(self, args):
        from ..core.bundle import Bundle
        from ..core.dataio import FORMATS

        if args["--format"] and args["--format"] not in FORMATS:
            raise UsageError("--format must be one of %s, not %r" % (", ".join(FORMATS), args["--format"]),
                             "or leave it out to detect the format")
        self.bundle = Bundle.open(args["--baseline-model"])

    def input_records(self, args):
        paths = args["<data-path>"] or [args["--data-path"]]
        for path in paths:
            yield {"source": path}

    def handle(self, record):
        from ..core.fsutil import sha256_file

        source = record["source"]
        spooled = None
        if source == "-":
            from ..core.dataio import spool_stdin

            spooled = path = spool_stdin(os.path.join(self.cache.root, "tmp"))
            label = "<stdin>"
        else:
            path, label = source, source
            _check_readable(path)
        try:
            self.current = {"path": path, "label": label,
                            "sha256": sha256_file(path), "bytes": os.path.getsize(path)}
            return super().handle({"record": "source", "key": self.current["sha256"]})
        finally:
            if spooled:
                os.unlink(spooled)

    def input_key(self, record):
        return {"file_sha256": record["key"], "baseline": self.bundle.fingerprint}

    def params(self, record):
        source = self.current["label"]
        return {"source": source if source == "<stdin>" else os.path.abspath(source),
                "label_column": self.args["--label-column"], "format": self.args["--format"]}

    def compute(self, record, entry):
        from ..core.dataio import BatchReader, Restart

        reader = BatchReader(self.current["path"], self.args["--format"])
        while True:
            loader = ContributionLoader(self.bundle, self.current["label"], self.args["--label-column"])
            try:
                table_path = entry.path("contribution.parquet")
                contribution = loader.run(reader, table_path)
                break
            except Restart:
                continue  # a CSV column needed a wider type: read again from the start
        contribution.update(format=reader.format, compressed=reader.compressed,
                            file_sha256="sha256:" + self.current["sha256"], bytes=self.current["bytes"])
        self.report(contribution)
        out = {"baseline": self.bundle.identity(), "contribution": contribution}
        return out, ["contribution.parquet"]

    def report(self, contribution):
        v = contribution["validation"]
        parts = ["%s: %d rows (%s%s), %d features, %d classes" % (
            contribution["source_path"], contribution["data_manifest"]["row_count"], contribution["format"],
            ", gzip" if contribution["compressed"] else "", len(v["features"]), len(v["class_counts"]))]
        if v["rows_dropped"]:
            parts.append("%d rows with labels the baseline does not know dropped (%s)" % (
                v["rows_dropped"], ", ".join("%r: %d" % kv for kv in sorted(v["unseen_labels"].items())[:5])))
        if v["rows_with_missing_features"]:
            parts.append("%d rows with missing feature values (imputed)" % v["rows_with_missing_features"])
        if v["extra_columns"]:
            parts.append("%d extra columns ignored" % len(v["extra_columns"]))
        self.info("; ".join(parts))
        for warning in v["warnings"]:
            self.warn(warning)


def _check_readable(path):
    if not os.path.exists(path):
        raise DataError("%s does not exist" % path, "check the path")
    if os.path.isdir(path):
        raise DataError("%s is a directory" % path, "give a data file (CSV, JSON, JSON Lines or Parquet)")
    if not os.access(path, os.R_OK):
        raise DataError("%s cannot be read (permission denied)" % path, "fix its permissions")
    if os.path.getsize(path) == 0:
        raise DataError("%s is empty" % path, "give a file with a header row and data rows")


class ContributionLoader:
    """One pass over a contribution: validate, normalise, hash and write it as Parquet.

    The normalised table has the baseline's label column (canonical string labels; rows with
    labels the baseline does not know are dropped), numeric features as float64, other
    features and extra columns as strings.
    """

    def __init__(self, bundle, source_label, label_column=None):
        from ..core.manifest import ManifestBuilder

        self.bundle = bundle
        self.label = source_label
        self.label_column = label_column or bundle.label_column
        self.manifest = ManifestBuilder(source_label)
        self.classes = set(bundle.classes)
        self.class_counts = {}
        self.unseen = {}
        self.missing_feature_rows = 0
        self.missing_by_feature = {}
        self.rows_written = 0
        self.schema = None

    def run(self, reader, table_path):
        import pyarrow.parquet as pq

        from ..core.fsutil import atomic_path

        writer = None
        with atomic_path(table_path) as tmp:
            try:
                for batch in reader.batches():
                    if self.schema is None:
                        self.plan(batch.schema)
                    table = self.normalise(batch)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    if table.num_rows:
                        writer.write_table(table)
                if self.schema is None:
                    raise DataError("%s has no columns" % self.label, "give a table with a header row")
                if writer is None:
                    writer = pq.ParquetWriter(tmp, self.empty_schema())
            finally:
                if writer is not None:
                    writer.close()
            self.finish()
        return self.result(table_path)

    # --- header checks -----------------------------------------------------------------------

    def plan(self, schema):
        import pyarrow as pa

        names = list(schema.names)
        if len(names) > MAX_COLUMNS:
            raise DataError("%s has %d columns; hokusai-preview reads at most %d" % (
                self.label, len(names), MAX_COLUMNS), "keep the baseline's feature columns and the label")
        for field in schema:
            if pa.types.is_nested(field.type):
                raise DataError("%s: column %r holds nested values (lists or objects)" % (self.label, field.name),
                                "flatten it into plain values")
        if self.label_column not in names:
            raise DataError("%s has no label column %r (columns: %s)" % (
                self.label, self.label_column, _preview_list(names)),
                "name the label column with --label-column" + _did_you_mean(self.label_column, names))
        features = self.bundle.feature_names
        present = [f for f in features if f in names]
        missing = [f for f in features if f not in names]
        if not present:
            raise DataError("%s matches none of the baseline's %d feature columns (%s)" % (
                self.label, len(features), _preview_list(features)),
                "use a baseline built for this data (--baseline-model) or rename the columns")
        if missing:
            raise DataError("%s lacks %d of the baseline's feature columns: %s" % (
                self.label, len(missing), _preview_list(missing)),
                "add them (empty cells are allowed)" + _did_you_mean(missing[0], names))
        used = set(features) | {self.label_column}
        self.extra = [n for n in names if n not in used]
        self.schema = schema
        self.missing_by_feature = {f: 0 for f in features}

    def empty_schema(self):
        return self.output_schema()

    def output_schema(self):
        import pyarrow as pa

        fields = [pa.field(self.bundle.label_column, pa.string())]
        for feature in self.bundle.features:
            fields.append(pa.field(feature["name"], pa.float64() if feature["kind"] == "numeric" else pa.string()))
        fields.extend(pa.field(name, pa.string()) for name in self.extra)
        return pa.schema(fields)

    # --- per batch -------------------------------------------------------------------------

    def normalise(self, batch):
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from ..core.recipe import canonical_labels

        frame = batch.to_pandas()
        self.check_cells(batch)
        self.manifest.update(frame)
        offset = self.manifest.rows - len(frame)

        labels = canonical_labels(frame[self.label_column])
        missing_label = labels.isna().to_numpy()
        if missing_label.any():
            first = int(np.flatnonzero(missing_label)[0]) + offset
            raise DataError("%s: %d rows have no value in the label column %r (first: data row %d)" % (
                self.label, int(missing_label.sum()), self.label_column, first + 1),
                "fill in the labels or remove those rows")
        known = labels.isin(self.classes).to_numpy()
        for value, count in labels[~known].value_counts().items():
            self.unseen[value] = self.unseen.get(value, 0) + int(count)

        columns = {self.bundle.label_column: pa.array(labels[known].tolist(), type=pa.string())}
        any_missing = np.zeros(len(frame), dtype=bool)
        for feature in self.bundle.features:
            name = feature["name"]
            array = batch.column(name)
            if feature["kind"] == "numeric":
                values = self.numeric(name, array, offset)
            else:
                values = pc.cast(array, pa.string()) if not pa.types.is_string(array.type) else array
            nulls = np.asarray(values.is_null(), dtype=bool) if len(values) else np.zeros(0, dtype=bool)
            self.missing_by_feature[name] += int(nulls.sum())
            any_missing |= nulls
            columns[name] = values.filter(pa.array(known))
        for name in self.extra:
            array = batch.column(name)
            if not pa.types.is_string(array.type):
                array = pc.cast(array, pa.string()) if not pa.types.is_null(array.type) else \
                    pa.nulls(len(array), pa.string())
            columns[name] = array.filter(pa.array(known))
        self.missing_feature_rows += int(any_missing[known].sum())
        for value, count in labels[known].value_counts().items():
            self.class_counts[value] = self.class_counts.get(value, 0) + int(count)
        self.rows_written += int(known.sum())
        return pa.Table.from_pydict(columns, schema=self.output_schema())

    def numeric(self, name, array, offset):
        """A numeric feature as float64; raises DataError for text or infinite values."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_null(array.type):
            return pa.nulls(len(array), pa.float64())
        if pa.types.is_boolean(array.type):
            return pc.cast(array, pa.float64())
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            trimmed = pc.utf8_trim_whitespace(array)
            trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
            try:
                array = pc.cast(trimmed, pa.float64())
            except pa.ArrowInvalid:
                bad = _first_non_numeric(trimmed.to_pylist())
                raise DataError("%s: column %r should hold numbers but has %r (data row %d)" % (
                    self.label, name, _short(bad[1]), bad[0] + offset + 1),
                    "fix or empty that cell, or give each column one type of value") from None
        elif pa.types.is_binary(array.type):
            raise DataError("%s: column %r is not UTF-8 text" % (self.label, name), "save the file as UTF-8")
        elif not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
                  or pa.types.is_decimal(array.type)):
            raise DataError("%s: column %r holds %s values where the baseline expects numbers" % (
                self.label, name, array.type), "give numbers in that column")
        else:
            array = pc.cast(array, pa.float64())
        values = array.to_numpy(zero_copy_only=False)
        infinite = np.isinf(values)
        if infinite.any():
            first = int(np.flatnonzero(infinite)[0]) + offset
            raise DataError("%s: column %r has %d infinite values (first: data row %d)" % (
                self.label, name, int(infinite.sum()), first + 1),
                "replace them with empty cells or finite numbers")
        return array

    def check_cells(self, batch):
        import pyarrow as pa
        import pyarrow.compute as pc

        for name, array in zip(batch.schema.names, batch.columns):
            if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
                raise DataError("%s: column %r is not UTF-8 text" % (self.label, name),
                                "save the file as UTF-8 and try again")
            if pa.types.is_string(array.type) and len(array):
                longest = pc.max(pc.binary_length(array)).as_py()
                if longest is not None and longest > MAX_CELL_BYTES:
                    raise DataError("%s: column %r has a %d-byte value; cells are limited to %d KB" % (
                        self.label, name, longest, MAX_CELL_BYTES // 1024),
                        "shorten or remove that value")

    # --- results ---------------------------------------------------------------------------

    def finish(self):
        rows = self.manifest.rows
        if rows == 0:
            raise DataError("%s has a header but no data rows" % self.label, "give at least one row of data")
        if self.rows_written == 0:
            raise DataError("%s: none of its labels (%s) is a class of the baseline (%s)" % (
                self.label, _preview_list(sorted(self.unseen)), _preview_list(self.bundle.classes)),
                "use the baseline's class names or a baseline built for these labels")
        features = self.bundle.feature_names
        if all(self.missing_by_feature[f] >= self.rows_written for f in features):
            raise DataError("%s: every feature value is empty" % self.label,
                            "fill in the feature columns")
        if len(self.class_counts) == 1 and not self.bundle.has("base"):
            raise DataError("%s has a single class (%r) and the baseline has no base table to retrain with" % (
                self.label, next(iter(self.class_counts))),
                "contribute rows of at least two classes, or use a bundle with its base table")

    def result(self, table_path):
        warnings = []
        if len(self.class_counts) == 1:
            warnings.append("all used rows have the label %r" % next(iter(self.class_counts)))
        validation = {
            "label_column": self.label_column,
            "features": self.bundle.feature_names,
            "extra_columns": list(self.extra),
            "id_columns": [n for n in self.extra if n in ID_COLUMNS],
            "unseen_labels": dict(sorted(self.unseen.items())),
            "unseen_label_action": "dropped",
            "rows_dropped": int(sum(self.unseen.values())),
            "rows_with_missing_features": self.missing_feature_rows,
            "missing_by_feature": self.missing_by_feature,
            "class_counts": dict(sorted(self.class_counts.items())),
            "warnings": warnings,
        }
        return {"source_path": self.label, "table_path": table_path, "rows_used": self.rows_written,
                "data_manifest": self.manifest.result(), "validation": validation}


def _first_non_numeric(values):
    for index, value in enumerate(values):
        if value is None:
            continue
        try:
            float(value)
        except ValueError:
            return index, value
    return 0, values[0] if values else ""


def _short(text, limit=40):
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _preview_list(names, limit=6):
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


def _did_you_mean(wanted, names):
    key = "".join(str(wanted).split()).casefold()
    for name in names:
        if "".join(str(name).split()).casefold() == key:
            return " (the file has %r: did you mean that column?)" % name
    return ""


main = Load.entry_point
