"""hp-check: know your data before you submit it: contamination, duplicates, label
noise, drift, PII.

Usage:
  hp-check [options] [--] [<record>...]
  hp-check (-h | --help | --version)

Reads `load` records (from hp-load) and writes one `check` record each, for
hp-sample. It compares the contribution with the baseline's benchmark and base
tables and reports:

* benchmark contamination: rows that duplicate benchmark rows, exactly or
  nearly; more of them than chance explains inflate the delta, so they are
  removed before training unless --keep-contaminated is given (as many as
  chance explains are kept, as the main pipeline keeps them); and rows closer
  to the benchmark than chance (their nearest neighbour among benchmark and
  base rows is a benchmark row too often), the mark of altered benchmark rows
  the near rule misses: reported, not removed;
* duplicates within the contribution and against the base training table;
* label noise: rows whose label a cross-validated model confidently disagrees
  with (confident learning), with the estimated noise rate, against the same on
  the baseline's rows; and labels that contradict the baseline's rows throughout
  (flipped, another labelling rule);
* drift of each feature and of the class balance against the benchmark;
* personal data: columns holding e-mail addresses, phone numbers, card numbers,
  IBANs or government ids.

Counts that clean data from the same source reaches by chance are reported but
raise no warning. Warnings go to stderr; everything is in the record and,
through hp-delta, in the output's preview_metadata.diagnostics. The README's
"Data diagnostics" gives every rule.

Options:
  --keep-contaminated     Train with the rows that duplicate benchmark rows
                          (default: remove them when more than chance
                          explains).
  --seed N                Random seed of the label-noise model, the closeness
                          test and the drift tests' permutations [default: 42].
{common_options}

Record written (schema: schemas/check.schema.json): everything in the load
record plus `check`: the table to train with (`table_path`, `rows_used`: the
contribution less removed rows), `rows_removed`, `class_counts` and
`diagnostics` (schemas/diagnostics.schema.json).
"""

from ..core.command import Stage, carry
from ..core.errors import DataError
from ..core.options import seed_option, with_common_options
from ..core.text import plural

__doc__ = with_common_options(__doc__)


class Check(Stage):
    name = "hp-check"
    usage = __doc__
    accepts = ("load",)
    produces = "check"
    prefetch = ("numpy", "pandas", "pyarrow.parquet", "scipy.sparse", "scipy.stats", "sklearn.ensemble",
                "sklearn.compose", "sklearn.feature_extraction.text", "sklearn.impute", "sklearn.preprocessing",
                "sklearn.model_selection", "sklearn.neighbors")

    def setup(self, args):
        self.seed = seed_option(args)
        self.keep = bool(args["--keep-contaminated"])

    def params(self, record):
        from ..core import prefetch

        prefetch.wait()  # core.diagnostics imports numpy: never while the background thread imports it
        from ..core.diagnostics.run import RULES_VERSION, SAMPLE_ROWS, SAMPLE_ROWS_TEXT

        params = {"seed": self.seed, "keep_contaminated": self.keep, "rules": RULES_VERSION}
        if record["contribution"]["rows_used"] > min(SAMPLE_ROWS, SAMPLE_ROWS_TEXT):
            # A larger table may be sampled, and then its findings depend on the caps.
            params["sample_rows"] = [SAMPLE_ROWS, SAMPLE_ROWS_TEXT]
        return params

    def finish(self, record, result):
        # Also on a cache hit: the warnings are the point of this stage.
        for line in result["check"]["diagnostics"]["warnings"]:
            self.warn(line)

    def compute(self, record, entry):
        from ..core.bundle import Bundle
        from ..core.diagnostics.run import diagnose_parquet, file_rows, messages

        bundle = Bundle.for_record(record)
        contribution = record["contribution"]
        label = bundle.label_column
        benchmark = bundle.read_table("benchmark")
        base = bundle.read_table("base") if bundle.has("base") else None
        cleaned = entry.path("check.parquet")
        # Memory is bounded by the sample cap, not the table: a large table is read in batches.
        findings, keep, class_counts = diagnose_parquet(
            contribution["table_path"], benchmark, base, bundle.features, label, bundle.classes, seed=self.seed,
            remove_contaminated=not self.keep, cleaned_path=cleaned)
        if contribution.get("dropped_rows_path"):  # name rows as the file numbers them, past the dropped ones
            import numpy as np

            findings["warnings"], findings["notes"] = messages(
                findings, file_rows(np.load(contribution["dropped_rows_path"])))
        removed = int((~keep).sum())
        artifacts = []
        table_path, rows = contribution["table_path"], contribution["rows_used"]
        if removed:
            if removed == len(keep):
                raise DataError("%s: every row duplicates a benchmark row (%s); nothing is left to train "
                                "with" % (contribution["source_path"], plural(removed, "row")),
                                "contribute rows the benchmark does not hold, or pass --keep-contaminated")
            if len(class_counts) == 1 and base is None:  # as hp-load refuses such a contribution
                raise DataError("%s: without the %s, every row has the label %r, "
                                "and the baseline has no base table to retrain with" % (
                                    contribution["source_path"], "row that duplicates a benchmark row" if removed == 1
                                    else "%s that duplicate benchmark rows" % plural(removed, "row"),
                                    next(iter(class_counts))),
                                "contribute rows of at least two classes, or pass --keep-contaminated")
            table_path = cleaned
            artifacts.append("check.parquet")
            rows = len(keep) - removed
        section = {"table_path": table_path, "rows_used": int(rows), "rows_removed": removed,
                   "contamination_action": findings["contamination"]["action"], "seed": self.seed,
                   "class_counts": class_counts, "diagnostics": findings}
        self.report(findings, removed)
        return carry(record, check=section), artifacts

    def report(self, findings, removed):
        c, ln = findings["contamination"], findings["label_noise"]
        # "name count" pairs read right for any count (no "1 match benchmark rows").
        duplicates = findings["duplicates"]
        parts = ["benchmark matches %d%s" % (c["rows"], " (removed)" if removed else "")]
        close = c["closeness"]
        if close["status"] == "checked":
            parts.append("rows nearest a benchmark row %.0f (%.0f expected)" % (close["benchmark_nearest"],
                                                                               close["expected"]))
        parts.append("repeated rows %d" % duplicates["within"]["rows"])
        if duplicates["base"].get("available"):
            parts.append("copies of base rows %d" % duplicates["base"]["rows"])
        if ln["status"] == "checked" and (ln.get("conflict") or {}).get("conflict"):
            parts.append("labels contradicting the baseline's rows")
        elif ln["status"] == "checked":
            parts.append("label noise %.1f%% (baseline's rows of the same classes %.1f%%)"
                         % (100 * ln["rate"], 100 * ln["reference_rate"]))
        drift = findings["drift"]
        parts.append("drifted features %d of %d" % (len(drift["drifted"]), len(drift["features"])))
        # a column holding two kinds (e-mails and phone numbers) is one column
        parts.append("columns with personal data %d" % len({f["column"] for f in findings["pii"]["columns"]
                                                            if f["flagged"]}))
        self.info("checked %s in %.1fs: %s" % (plural(findings["rows_checked"], "row"),
                                                sum(findings["timings"].values()), ", ".join(parts)))
        for note in findings["notes"]:
            self.info(note)


main = Check.entry_point
