"""hp-eval: score the baseline and the new model on the same benchmark rows.

Usage:
  hp-eval [options] [--] [<record>...]
  hp-eval (-h | --help | --version)

Reads `train` records and writes one `eval` record each, with accuracy,
precision, recall, f1 (weighted over classes) and auroc (one-vs-rest weighted
for more than two classes) of:

* the new model as the preview grew it (retrain: its k trees; fine_tune: the
  baseline with its k added trees weighted as the full budget's);
* the baseline compared like with like: the expected score of a k-tree forest of
  the reference (the recipe on the base table, same seed), from the score of its
  k-tree subsets;
* the baseline at its full budget: the shipped model, or (retrain, with
  another --seed given to hp-train) the recipe retrained on the base table with
  that seed;
* each learning-curve point, when the contribution was sampled.

The reference's tree-count profile (how its score and its spread depend on the
number of trees; see core/estimate.py) is taken from the train record, or
measured when missing; the full computation (every tree, every row) needs none.

Options:
{common_options}

Record written (schema: schemas/eval.schema.json): everything in the train
record plus `evaluation`: the benchmark (rows, features, classes, data hash),
the metrics above, the timestamp and the time the evaluation took.
"""

import time

from ..core.command import Stage, carry
from ..core.options import with_common_options
from ..core.records import utc_now
from ..core.text import plural

__doc__ = with_common_options(__doc__)


class Eval(Stage):
    name = "hp-eval"
    usage = __doc__
    accepts = ("train",)
    produces = "eval"
    prefetch = ("numpy", "pyarrow.parquet")

    def compute(self, record, entry):
        from ..core.bundle import Bundle
        from ..core.deltaone import delta_one
        from ..core.estimate import Profile, like_for_like
        from ..core.metrics import score
        from ..core.records import Predictions

        started = time.perf_counter()
        bundle = Bundle.for_record(record)
        training = record["training"]
        mode, full = training["mode"], int(training["full_trees"])
        y = bundle.benchmark_labels()
        # Means over the trees are all that is compared (the profile aside): read as such.
        predictions = Predictions(record)
        reference, new = predictions.reference(), predictions.new()
        profile = None
        if new.trees < full or (record.get("sample") or {}).get("sampled"):
            stored = training.get("reference_profile")
            profile = Profile.from_json(stored) if stored else \
                Profile.measure(y, predictions.reference_trees(), mode, full, seed=training["seed"])
        baseline_metrics, new_metrics, deltas = like_for_like(y, reference, new, mode, full, profile)
        curve = []
        for point in training["learning_curve"]:
            # The last point is the whole sample: the new forest just compared.
            point_deltas = deltas if point["array"] == "new" else \
                like_for_like(y, reference, predictions.mean(point["array"]), mode, full, profile)[2]
            curve.append({"rows": point["rows"], "fitted_rows": point["fitted_rows"],
                          "complement": point.get("complement", False),  # none before 0.9.0
                          "metric_deltas": point_deltas, "delta_one": delta_one(point_deltas)})
        benchmark = bundle.manifest["files"]["benchmark"]
        section = {
            "benchmark": {"size": int(len(y)), "features": bundle.feature_names, "classes": bundle.classes,
                          "type": "classification", "data_hash": benchmark.get("data_hash"),
                          "path": bundle.file_path("benchmark")},
            "baseline_metrics": baseline_metrics,
            "new_metrics": new_metrics,
            "baseline_full_metrics": score(y, reference.mean),
            "compared_trees": new.trees,
            "reference_profile": profile.to_json() if profile is not None else None,
            "learning_curve": curve,
            "evaluation_timestamp": utc_now(),
            "evaluation_time_seconds": round(time.perf_counter() - started, 4),
        }
        # These are the forests as grown here; the report's numbers are hp-delta's estimate of the
        # full run, which differ whenever fewer trees or rows were used: said so, as users read two
        # different baseline accuracies on one screen as a contradiction.
        estimated = new.trees < full or (record.get("sample") or {}).get("sampled")
        self.info("scored both models on %s: accuracy %.4f -> %.4f (%d trees each%s)" % (
            plural(len(y), "benchmark row"), baseline_metrics["accuracy"], new_metrics["accuracy"], new.trees,
            ", as grown here; hp-delta estimates the full run from them" if estimated else ""))
        return carry(record, evaluation=section), []


main = Eval.entry_point
