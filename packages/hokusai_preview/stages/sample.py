"""hp-sample: stratified sample of a loaded contribution, down to --sample-size
rows.

Usage:
  hp-sample [options] [--] [<record>...]
  hp-sample (-h | --help | --version)

Reads `load` records (from hp-load) or `check` records (from hp-check, whose
cleaned table it then samples) on stdin or from the named files and writes one
`sample` record each. A contribution larger than --sample-size is sampled by
label: every class keeps at least one row and the class proportions are kept to
within one row per class. Smaller contributions pass through unchanged. The same
seed gives the same sample.

Options:
  --sample-size N         Rows to keep at most, though never fewer than one per
                          class [default: 10000].
  --seed N                Random seed [default: 42].
{common_options}

Record written (schema: schemas/sample.schema.json): everything in the input
record (hp-load's or hp-check's) plus `sample`: the sampled table's path,
`sample_size_used`, `original_data_size`, `sampled` (true when rows were
dropped), the seed and the class counts before and after; when sampled,
`rows_path` (which rows were kept and every row's label, for hp-train to fit on
the rows the full run's train/test split keeps) and `classes`.
"""

from ..core.command import Stage
from ..core.options import int_option, seed_option, with_common_options
from ..core.text import plural, thousands

__doc__ = with_common_options(__doc__)


class Sample(Stage):
    name = "hp-sample"
    usage = __doc__
    accepts = ("load", "check")
    produces = "sample"
    prefetch = ("numpy", "pyarrow.parquet", "pyarrow.compute")

    def setup(self, args):
        self.size = int_option(args, "--sample-size")
        self.seed = seed_option(args)

    def params(self, record):
        from ..core.records import current_table

        if current_table(record)[1] <= self.size:
            return {"passthrough": True}  # the size and seed cannot change the result
        return {"sample_size": self.size, "seed": self.seed}

    def compute(self, record, entry):
        import numpy as np
        import pyarrow.parquet as pq

        from ..core.command import carry
        from ..core.dataio import open_parquet, parquet_batches, take_rows
        from ..core.fsutil import atomic_path
        from ..core.records import current_table
        from ..core.sampling import stratified_indices

        contribution = record["contribution"]
        source, rows = current_table(record)
        stored = pq.read_metadata(source).num_rows
        if stored != rows:  # a record edited by hand (usable() words it)
            raise ValueError("%s holds %d rows, not %d" % (source, stored, rows))
        label = record["baseline"]["label_column"]
        original_counts = (record.get("check") or contribution["validation"])["class_counts"]  # after hp-check
        section = {"sample_size_requested": self.size, "seed": self.seed, "original_data_size": rows,
                   "class_counts_original": original_counts, "method": "stratified_by_label"}
        if rows <= self.size:  # neither size nor seed mattered (nor are they in the cache key): not recorded
            section.update(table_path=source, sample_size_used=rows, sampled=False, class_counts=original_counts,
                           sample_size_requested=None, seed=None)
            return carry(record, sample=section), []

        # Only the label column is read whole (as small integer codes); the rows themselves
        # are streamed batch by batch into the sample, so memory does not grow with the table.
        parquet = open_parquet(source)
        classes = sorted(original_counts)
        codes = label_codes(parquet, label, classes)
        chosen = stratified_indices(codes, self.size, self.seed)
        path = entry.path("sample.parquet")
        with atomic_path(path) as tmp:
            writer = pq.ParquetWriter(tmp, parquet.schema_arrow)
            try:
                start = 0
                for batch in parquet_batches(parquet):
                    taken = take_rows(batch, chosen, start)
                    if taken is not None:
                        writer.write_batch(taken)
                    start += batch.num_rows
            finally:
                writer.close()
        # Which rows were kept, and every row's label: hp-train fits the sample's rows that the full
        # run's train/test split (of all the rows) keeps, so preview and full run agree on the split.
        with atomic_path(entry.path("rows.npz")) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, positions=chosen.astype(np.int64), label_codes=codes)
        counts = np.bincount(codes[chosen], minlength=len(classes))
        section.update(table_path=path, sample_size_used=int(len(chosen)), sampled=True,
                       class_counts={str(c): int(n) for c, n in zip(classes, counts) if n},
                       rows_path=entry.path("rows.npz"), classes=classes)
        self.info("sampled %s of %s, stratified by label (seed %d)" % (thousands(len(chosen)), plural(rows, "row"),
                                                                       self.seed))
        if len(chosen) > self.size:
            self.warn("kept %s, more than --sample-size %d: every one of the %s classes keeps a row" % (
                plural(len(chosen), "row"), self.size, thousands(len(classes))))
        return carry(record, sample=section), ["sample.parquet", "rows.npz"]


def label_codes(parquet, label, classes):
    """Each row's index into ``classes`` (int32), reading the label column batch by batch."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..core.dataio import parquet_batches
    from ..core.recipe import class_codes

    codes = []
    for batch in parquet_batches(parquet, columns=[label]):
        encoded = pc.dictionary_encode(pc.cast(batch.column(0), pa.string()))
        values = encoded.dictionary.to_pylist()  # each distinct value, looked up once
        if encoded.null_count:
            values.append(None)  # a missing label is outside the classes too: refused with them
        lookup = class_codes(values, classes, column=label, dtype=np.int32)
        codes.append(lookup[_numpy_ints(encoded.indices)])
    return np.concatenate(codes) if codes else np.empty(0, dtype=np.int32)


# pyarrow converts between numpy and Arrow through code that imports pandas (about a second of
# start-up); this zero-copy view of plain integer arrays keeps hp-sample free of it.
def _numpy_ints(array):
    """An Arrow integer array without nulls as a read-only numpy view."""
    import numpy as np

    width = array.type.bit_width // 8
    return np.frombuffer(array.buffers()[1], dtype="<i%d" % width, count=len(array), offset=array.offset * width)


main = Sample.entry_point
