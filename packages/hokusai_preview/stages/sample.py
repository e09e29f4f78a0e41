"""hp-sample: stratified sample of a loaded contribution, down to --sample-size rows.

Usage:
  hp-sample [options] [<record>...]
  hp-sample (-h | --help | --version)

Reads `load` records (from hp-load) on stdin or from the named files and writes one `sample`
record each. A contribution larger than --sample-size is sampled by label: every class keeps
at least one row and the class proportions are kept to within one row per class. Smaller
contributions pass through unchanged. The same seed gives the same sample.

Options:
  --sample-size N         Rows to keep at most [default: 10000].
  --seed N                Random seed [default: 42].
{common_options}

Record written (schema: schemas/sample.schema.json): everything in the load record plus
`sample`: the sampled table's path, `sample_size_used`, `original_data_size`, `sampled`
(true when rows were dropped), the seed and the class counts before and after.
"""

from ..core.command import Stage, with_common_options
from ..core.errors import UsageError

__doc__ = with_common_options(__doc__)


def positive_int(args, option, minimum=1):
    """The integer value of a docopt option, or a UsageError naming it."""
    value = args[option]
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError("%s must be a whole number, not %r" % (option, value), None) from None
    if number < minimum:
        raise UsageError("%s must be at least %d, not %d" % (option, minimum, number), None)
    return number


class Sample(Stage):
    name = "hp-sample"
    usage = __doc__
    accepts = ("load",)
    produces = "sample"

    def setup(self, args):
        self.size = positive_int(args, "--sample-size")
        self.seed = positive_int(args, "--seed", minimum=0)

    def params(self, record):
        from ..core.records import current_table

        if current_table(record)[1] <= self.size:
            return {"passthrough": True}  # the size and seed cannot change the result
        return {"sample_size": self.size, "seed": self.seed}

    def compute(self, record, entry):
        import numpy as np
        import pyarrow.parquet as pq

        from ..core.command import carry
        from ..core.fsutil import atomic_path
        from ..core.records import current_table
        from ..core.sampling import stratified_indices

        contribution = record["contribution"]
        source, rows = current_table(record)
        label = record["baseline"].get("label_column") or _label_column(source)
        original_counts = contribution["validation"]["class_counts"]
        section = {"sample_size_requested": self.size, "seed": self.seed, "original_data_size": rows,
                   "class_counts_original": original_counts, "method": "stratified_by_label"}
        if rows <= self.size:
            section.update(table_path=source, sample_size_used=rows, sampled=False, class_counts=original_counts)
            return carry(record, sample=section), []

        parquet = pq.ParquetFile(source)
        labels = parquet.read(columns=[label]).column(0).to_numpy(zero_copy_only=False)
        classes, codes = np.unique(labels.astype(str), return_inverse=True)
        chosen = stratified_indices(codes, self.size, self.seed)
        path = entry.path("sample.parquet")
        with atomic_path(path) as tmp:
            writer = pq.ParquetWriter(tmp, parquet.schema_arrow)
            try:
                start = 0
                for batch in parquet.iter_batches(batch_size=65536):
                    stop = start + batch.num_rows
                    lo, hi = np.searchsorted(chosen, [start, stop])
                    if hi > lo:
                        writer.write_batch(batch.take(chosen[lo:hi] - start))
                    start = stop
            finally:
                writer.close()
        counts = np.bincount(codes[chosen], minlength=len(classes))
        section.update(table_path=path, sample_size_used=int(len(chosen)), sampled=True,
                       class_counts={str(c): int(n) for c, n in zip(classes, counts) if n})
        self.info("sampled %d of %d rows, stratified by label (seed %d)" % (len(chosen), rows, self.seed))
        return carry(record, sample=section), ["sample.parquet"]


def _label_column(path):
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).schema_arrow.names[0]


main = Sample.entry_point
